/*
 * ocr.c - the Tesseract wrapper: one engine per call (Tesseract handles are
 * not shared between threads), language data checked once, recognition
 * cancelled at the caller's deadline.
 */
#include "knowledge/ocr.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>

#include "core/alloc.h"
#include "knowledge/extract.h"

static pthread_once_t avail_once = PTHREAD_ONCE_INIT;
static int avail;

static const char *ocr_lang(void)
{
    const char *l = getenv("RATHAUS_OCR_LANG");
    return l && *l && strlen(l) < 64 ? l : "deu";
}

static TessBaseAPI *engine_new(void)
{
    TessBaseAPI *api = TessBaseAPICreate();
    if (!api)
        return NULL;
    if (TessBaseAPIInit3(api, NULL, ocr_lang()) != 0) {
        TessBaseAPIDelete(api);
        return NULL;
    }
    /* quiet: no debug output on stderr */
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    return api;
}

static void check_avail(void)
{
    TessBaseAPI *api = engine_new();
    avail = api != NULL;
    if (api) {
        TessBaseAPIEnd(api);
        TessBaseAPIDelete(api);
    }
}

int rh_ocr_available(void)
{
    pthread_once(&avail_once, check_avail);
    return avail;
}

static bool cancel_cb(void *arg, int words)
{
    (void)words;
    double deadline = *(const double *)arg;
    return deadline > 0 && rh_monotonic_seconds() > deadline;
}

int rh_ocr_gray(const unsigned char *pix, int w, int h, int stride, int dpi, double deadline,
                char **out, size_t *out_len, rh_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (w <= 0 || h <= 0 || stride < w || (size_t)w * (size_t)h > RH_OCR_MAX_PIXELS)
        return rh_error_set(err, RH_ELIMIT, "Das Bild ist für die Texterkennung zu groß.");
    if (!rh_ocr_available())
        return rh_error_set(err, RH_EUNSUPPORTED,
                            "Texterkennung (OCR) ist nicht verfügbar: Tesseract mit den "
                            "Sprachdaten \"%s\" fehlt (Debian-Paket tesseract-ocr-deu).",
                            ocr_lang());
    TessBaseAPI *api = engine_new();
    if (!api)
        return rh_error_set(err, RH_EUNSUPPORTED, "Tesseract konnte nicht gestartet werden.");
    int rc = RH_OK;
    ETEXT_DESC *mon = TessMonitorCreate();
    char *text = NULL;
    if (!mon) {
        rc = rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher für die Texterkennung.");
        goto out;
    }
    TessMonitorSetCancelFunc(mon, cancel_cb);
    TessMonitorSetCancelThis(mon, &deadline);
    TessBaseAPISetPageSegMode(api, PSM_AUTO);
    TessBaseAPISetImage(api, pix, w, h, 1, stride);
    TessBaseAPISetSourceResolution(api, dpi > 0 ? dpi : 300);
    if (TessBaseAPIRecognize(api, mon) != 0) {
        rc = deadline > 0 && rh_monotonic_seconds() > deadline
                 ? rh_error_set(err, RH_ELIMIT, "the time limit for one file was exceeded")
                 : rh_error_set(err, RH_EFORMAT, "Die Texterkennung ist fehlgeschlagen.");
        goto out;
    }
    text = TessBaseAPIGetUTF8Text(api);
    if (!text) {
        rc = rh_error_set(err, RH_EFORMAT, "Die Texterkennung ist fehlgeschlagen.");
        goto out;
    }
    size_t n = strlen(text);
    char *t = rh_malloc(n + 1);
    if (!t) {
        rc = rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher für die Texterkennung.");
        goto out;
    }
    memcpy(t, text, n + 1);
    *out = t;
    *out_len = n;
out:
    if (text)
        TessDeleteText(text);
    if (mon)
        TessMonitorDelete(mon);
    TessBaseAPIEnd(api);
    TessBaseAPIDelete(api);
    return rc;
}
