/*
 * extract.c - the extractor registry (format by file extension, weak
 * plug-ins) and the block list of an extracted document.
 */
#include "knowledge/extract.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"

#pragma weak rh_extract_pdf
#pragma weak rh_extract_docx
#pragma weak rh_extract_odt
#pragma weak rh_extract_eml
#pragma weak rh_extract_xlsx
#pragma weak rh_extract_ods
#pragma weak rh_extract_csv
#pragma weak rh_extract_image

#define MAX_EXTRA 16

static rh_extractor extra[MAX_EXTRA];
static size_t n_extra;

double rh_monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void rh_kdoc_init(rh_kdoc *d, size_t max_bytes, double deadline)
{
    memset(d, 0, sizeof *d);
    d->max_bytes = max_bytes;
    d->deadline = deadline;
}

void rh_kdoc_free(rh_kdoc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        rh_free(d->blocks[i].text);
    rh_free(d->blocks);
    rh_free(d->title);
    rh_free(d->abbrev);
    memset(d, 0, sizeof *d);
}

int rh_kdoc_check_time(const rh_kdoc *d, rh_error *err)
{
    if (d->deadline > 0 && rh_monotonic_seconds() > d->deadline)
        return rh_error_set(err, RH_ELIMIT, "the time limit for one file was exceeded");
    return RH_OK;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Copy with white space collapsed and trimmed; returns the new length. */
static size_t collapse(const char *s, size_t n, char *o)
{
    size_t k = 0;
    int sp = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* U+00A0 no-break space */
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) {
            sp = 1;
            i++;
            continue;
        }
        if (is_space(c) || c < 0x20) {
            sp = 1;
            continue;
        }
        if (sp && k)
            o[k++] = ' ';
        sp = 0;
        o[k++] = (char)c;
    }
    o[k] = '\0';
    return k;
}

int rh_kdoc_set(char **field, const char *text, size_t len)
{
    char *t = rh_malloc(len + 1);
    if (!t)
        return RH_ENOMEM;
    collapse(text, len, t);
    rh_free(*field);
    *field = t;
    return RH_OK;
}

int rh_kdoc_add(rh_kdoc *d, int kind, int level, int page, const char *text, size_t len,
                rh_error *err)
{
    int rc = rh_kdoc_check_time(d, err);
    if (rc)
        return rc;
    char *t = rh_malloc(len + 1);
    if (!t)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    size_t k = collapse(text, len, t);
    if (k == 0) {
        rh_free(t);
        return RH_OK;
    }
    if (d->max_bytes && d->text_bytes + k > d->max_bytes) {
        rh_free(t);
        return rh_error_set(err, RH_ELIMIT, "the file holds more than %zu bytes of text",
                            d->max_bytes);
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 64;
        rh_kblock *nb = rh_realloc_array(d->blocks, nc, sizeof *nb);
        if (!nb) {
            rh_free(t);
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        }
        d->blocks = nb;
        d->cap = nc;
    }
    d->blocks[d->n++] = (rh_kblock){kind, level < 1 ? 1 : level > 6 ? 6 : level, page, t, k};
    d->text_bytes += k;
    return RH_OK;
}

int rh_extract_register(const rh_extractor *ex)
{
    if (!ex || !ex->fn || !ex->exts || !ex->type)
        return RH_EINVAL;
    if (n_extra == MAX_EXTRA)
        return RH_ELIMIT;
    extra[n_extra++] = *ex;
    return RH_OK;
}

static rh_extractor weak[8];
static size_t n_weak;
static pthread_once_t weak_once = PTHREAD_ONCE_INIT;

static void weak_init(void)
{
    static const char *const wtypes[] = {"pdf", "docx", "odt", "eml", "xlsx", "ods", "csv",
                                         "image"};
    static const char *const wexts[] = {"pdf", "docx", "odt", "eml msg", "xlsx", "ods", "csv",
                                        "png jpg jpeg tif tiff"};
    rh_extract_fn fns[8] = {rh_extract_pdf,  rh_extract_docx, rh_extract_odt, rh_extract_eml,
                            rh_extract_xlsx, rh_extract_ods,  rh_extract_csv, rh_extract_image};
    for (size_t i = 0; i < 8; i++)
        if (fns[i])
            weak[n_weak++] = (rh_extractor){wtypes[i], wexts[i], fns[i]};
}

static int ext_in(const char *exts, const char *ext)
{
    size_t el = strlen(ext);
    const char *p = exts;
    while (*p) {
        size_t l = strcspn(p, " ");
        if (l == el && strncasecmp(p, ext, l) == 0)
            return 1;
        p += l;
        while (*p == ' ')
            p++;
    }
    return 0;
}

const rh_extractor *rh_extract_for_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || !dot[1])
        return NULL;
    const char *ext = dot + 1;
    for (size_t i = 0; i < n_extra; i++)
        if (ext_in(extra[i].exts, ext))
            return &extra[i];
    static const rh_extractor builtin[] = {
        {"txt", "txt text", rh_extract_txt},
        {"md", "md markdown", rh_extract_md},
        {"html", "html htm xhtml", rh_extract_html},
    };
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (ext_in(builtin[i].exts, ext))
            return &builtin[i];
    /* plug-ins present in this build */
    pthread_once(&weak_once, weak_init);
    for (size_t i = 0; i < n_weak; i++)
        if (ext_in(weak[i].exts, ext))
            return &weak[i];
    return NULL;
}
