/* buf.c - bounded growable byte buffer (see buf.h). */
#include "core/buf.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

void rh_buf_init(rh_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void rh_buf_free(rh_buf *b)
{
    rh_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void rh_buf_reset(rh_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int buf_reserve(rh_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return RH_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return RH_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    char *p = rh_realloc(b->data, cap);
    if (!p)
        return RH_ENOMEM;
    b->data = p;
    b->cap = cap;
    return RH_OK;
}

int rh_buf_append(rh_buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);
    if (rc != RH_OK)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return RH_OK;
}

int rh_buf_appends(rh_buf *b, const char *s) { return rh_buf_append(b, s, strlen(s)); }

int rh_buf_vappendf(rh_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return RH_EINVAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc != RH_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return RH_OK;
}

int rh_buf_appendf(rh_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rh_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *rh_buf_take(rh_buf *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
