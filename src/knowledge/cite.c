/*
 * cite.c - removing citations of passage numbers that were not given
 * (see cite.h), incrementally over a stream of text pieces.
 */
#include "knowledge/cite.h"

#include <string.h>

#include "core/alloc.h"

void rh_cite_init(rh_cite_filter *f, int max)
{
    memset(f, 0, sizeof *f);
    f->max = max;
}

/* The held "[...]" is complete: append it, or its valid numbers, or
 * nothing. Content is digits, commas and spaces only (checked on entry). */
static int release_bracket(rh_cite_filter *f, rh_buf *out)
{
    char keep[RH_CITE_HOLD_MAX + 8];
    size_t kn = 0;
    int digits = 0;
    const char *p = f->hold + 1, *end = f->hold + f->n_hold - 1; /* inside [ ] */
    while (p < end) {
        if (*p >= '0' && *p <= '9') {
            long v = 0;
            const char *s = p;
            while (p < end && *p >= '0' && *p <= '9')
                v = v * 10 + (*p++ - '0');
            digits = 1;
            if (p - s <= 3 && v >= 1 && v <= f->max) {
                if (kn)
                    keep[kn++] = ',', keep[kn++] = ' ';
                memcpy(keep + kn, s, (size_t)(p - s));
                kn += (size_t)(p - s);
            }
        } else {
            p++;
        }
    }
    int rc = RH_OK;
    if (!digits) /* "[ ]", "[,]": not a citation */
        rc = rh_buf_append(out, f->hold, f->n_hold);
    else if (kn) {
        rc = rh_buf_append(out, "[", 1);
        if (!rc)
            rc = rh_buf_append(out, keep, kn);
        if (!rc)
            rc = rh_buf_append(out, "]", 1);
    }
    f->n_hold = 0;
    return rc;
}

int rh_cite_feed(rh_cite_filter *f, const char *text, size_t len, rh_buf *out)
{
    size_t i = 0, plain = 0; /* text[plain..i) is plain text not yet appended */
    int rc = RH_OK;
    while (i < len && rc == RH_OK) {
        char c = text[i];
        if (!f->n_hold) {
            if (c == '[') {
                if (i > plain && (rc = rh_buf_append(out, text + plain, i - plain)))
                    break;
                f->hold[f->n_hold++] = c;
                plain = ++i;
            } else {
                i++;
            }
            continue;
        }
        /* inside a held bracket */
        if (c == ']') {
            f->hold[f->n_hold++] = c;
            rc = release_bracket(f, out);
            plain = ++i;
        } else if (((c >= '0' && c <= '9') || c == ',' || c == ' ') && f->n_hold < RH_CITE_HOLD_MAX - 1) {
            f->hold[f->n_hold++] = c;
            plain = ++i;
        } else {
            /* no citation: the held text is plain; c is looked at again */
            rc = rh_buf_append(out, f->hold, f->n_hold);
            f->n_hold = 0;
            plain = i;
        }
    }
    if (rc == RH_OK && !f->n_hold && i > plain)
        rc = rh_buf_append(out, text + plain, i - plain);
    return rc;
}

int rh_cite_flush(rh_cite_filter *f, rh_buf *out)
{
    int rc = f->n_hold ? rh_buf_append(out, f->hold, f->n_hold) : RH_OK;
    f->n_hold = 0;
    return rc;
}

char *rh_cite_clean(const char *text, int max)
{
    rh_cite_filter f;
    rh_buf b;
    rh_cite_init(&f, max);
    rh_buf_init(&b, 64u << 20);
    if (rh_cite_feed(&f, text, strlen(text), &b) || rh_cite_flush(&f, &b) || rh_buf_append(&b, "", 0)) {
        rh_buf_free(&b);
        return NULL;
    }
    size_t n;
    return rh_buf_take(&b, &n);
}
