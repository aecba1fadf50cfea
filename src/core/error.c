/* error.c - filling rh_error values and naming error codes. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

int rh_error_set(rh_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void rh_error_clear(rh_error *err)
{
    if (err) {
        err->code = RH_OK;
        err->msg[0] = '\0';
    }
}

const char *rh_strerror(int code)
{
    switch (code) {
    case RH_OK: return "ok";
    case RH_ENOMEM: return "out of memory";
    case RH_EIO: return "input/output error";
    case RH_EFORMAT: return "malformed input";
    case RH_EINVAL: return "invalid argument";
    case RH_ERANGE: return "value out of range";
    case RH_EUNSUPPORTED: return "not supported";
    case RH_EBUSY: return "busy, try again later";
    case RH_ECANCELED: return "cancelled";
    case RH_ENOTFOUND: return "not found";
    case RH_ELIMIT: return "limit reached";
    case RH_EDENIED: return "permission denied";
    case RH_EEXIST: return "already exists";
    case RH_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}
