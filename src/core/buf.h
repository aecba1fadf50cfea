/*
 * buf.h - growable byte buffer with a maximum size (like curl's dynbuf).
 *
 * The content is always NUL-terminated (the terminator is not counted in
 * len). Appending beyond `max` fails with RH_ELIMIT and leaves the buffer as
 * it was; failed allocation gives RH_ENOMEM.
 */
#ifndef RH_CORE_BUF_H
#define RH_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct rh_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} rh_buf;

void rh_buf_init(rh_buf *b, size_t max);
void rh_buf_free(rh_buf *b);
void rh_buf_reset(rh_buf *b); /* len = 0, keeps memory */
int rh_buf_append(rh_buf *b, const void *data, size_t len);
int rh_buf_appends(rh_buf *b, const char *s);
int rh_buf_appendf(rh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rh_buf_vappendf(rh_buf *b, const char *fmt, va_list ap);
/* Take ownership of the data (caller frees with rh_free); buffer is reset. */
char *rh_buf_take(rh_buf *b, size_t *len);

#endif
