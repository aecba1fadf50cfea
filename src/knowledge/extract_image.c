/*
 * extract_image.c - images (PNG, JPEG, TIFF incl. multi-page) read with
 * OCR: decoded with MuPDF's image loaders (capped allocator, see ocr.h),
 * then recognised by Tesseract (ocr.c). Each TIFF page is a page of the
 * document; dimensions are checked before decoding where the format tells
 * them.
 */
#include <mupdf/fitz.h>
#include <string.h>

#include "core/alloc.h"
#include "knowledge/extract.h"
#include "knowledge/ocr.h"

#define MAX_TIFF_PAGES 200

static int tiff_count(fz_context *ctx, const char *data, size_t len)
{
    volatile int n = 0;
    fz_try(ctx)
    {
        n = fz_load_tiff_subimage_count(ctx, (const unsigned char *)data, len);
    }
    fz_catch(ctx)
    {
        n = -1;
    }
    return n;
}

static fz_pixmap *tiff_page(fz_context *ctx, const char *data, size_t len, int i)
{
    fz_pixmap *pix = NULL;
    fz_var(pix);
    fz_try(ctx)
    {
        pix = fz_load_tiff_subimage(ctx, (const unsigned char *)data, len, i);
    }
    fz_catch(ctx)
    {
        pix = NULL;
    }
    return pix;
}

/* Decode PNG/JPEG/...; *too_big when the header announces more pixels than
 * OCR takes. */
static fz_pixmap *decode_image(fz_context *ctx, const char *data, size_t len, int *too_big)
{
    fz_buffer *buf = NULL;
    fz_image *img = NULL;
    fz_pixmap *pix = NULL;
    fz_var(buf);
    fz_var(img);
    fz_var(pix);
    *too_big = 0;
    fz_try(ctx)
    {
        buf = fz_new_buffer_from_shared_data(ctx, (const unsigned char *)data, len);
        img = fz_new_image_from_buffer(ctx, buf);
        if (img->w <= 0 || img->h <= 0 ||
            (size_t)img->w * (size_t)img->h > RH_OCR_MAX_PIXELS) {
            *too_big = 1;
        } else {
            pix = fz_get_pixmap_from_image(ctx, img, NULL, NULL, NULL, NULL);
        }
    }
    fz_always(ctx)
    {
        fz_drop_image(ctx, img);
        fz_drop_buffer(ctx, buf);
    }
    fz_catch(ctx)
    {
        pix = NULL;
    }
    return pix;
}

static int dpi_of(fz_context *ctx, fz_pixmap *pix)
{
    (void)ctx;
    int d = pix->xres;
    return d < 70 || d > 1200 ? 300 : d;
}

int rh_extract_image(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    const unsigned char *u = (const unsigned char *)data;
    int tiff = len >= 4 && ((u[0] == 'I' && u[1] == 'I' && u[2] == 42 && u[3] == 0) ||
                            (u[0] == 'M' && u[1] == 'M' && u[2] == 0 && u[3] == 42));
    int png = len >= 8 && memcmp(u, "\x89PNG\r\n\x1a\n", 8) == 0;
    int jpeg = len >= 3 && u[0] == 0xFF && u[1] == 0xD8 && u[2] == 0xFF;
    if (!tiff && !png && !jpeg)
        return rh_error_set(err, RH_EFORMAT,
                            "Die Datei ist kein unterstütztes Bild (PNG, JPEG oder TIFF).");
    if (!rh_ocr_available())
        return rh_error_set(err, RH_EUNSUPPORTED,
                            "Bilder werden per Texterkennung gelesen, aber Tesseract mit "
                            "deutschen Sprachdaten (Paket tesseract-ocr-deu) ist nicht "
                            "installiert.");
    fz_context *ctx = rh_mupdf_new();
    if (!ctx)
        return rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher für das Bild.");
    int rc = RH_OK;
    if (tiff) {
        int n = tiff_count(ctx, data, len);
        if (n <= 0) {
            rc = rh_error_set(err, RH_EFORMAT, "Die TIFF-Datei ist beschädigt.");
            goto out;
        }
        int done = 0;
        for (int i = 0; i < n && i < MAX_TIFF_PAGES && !rc; i++) {
            if ((rc = rh_kdoc_check_time(doc, err)))
                break;
            fz_pixmap *pix = tiff_page(ctx, data, len, i);
            if (!pix)
                continue;
            rc = rh_ocr_pixmap(ctx, pix, dpi_of(ctx, pix), n > 1 ? i + 1 : 0, doc, err);
            fz_drop_pixmap(ctx, pix);
            done++;
        }
        if (!rc && !done)
            rc = rh_error_set(err, RH_EFORMAT, "Die TIFF-Datei ist beschädigt.");
        goto out;
    }
    int too_big = 0;
    fz_pixmap *pix = decode_image(ctx, data, len, &too_big);
    if (!pix) {
        rc = too_big ? rh_error_set(err, RH_ELIMIT,
                                    "Das Bild ist für die Texterkennung zu groß (höchstens "
                                    "%zu Megapixel).",
                                    RH_OCR_MAX_PIXELS >> 20)
                     : rh_error_set(err, RH_EFORMAT, "Das Bild ist beschädigt.");
        goto out;
    }
    rc = rh_ocr_pixmap(ctx, pix, dpi_of(ctx, pix), 0, doc, err);
    fz_drop_pixmap(ctx, pix);
out:
    rh_mupdf_drop(ctx);
    return rc;
}
