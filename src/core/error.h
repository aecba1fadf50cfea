/*
 * error.h - the one error convention of rathaus.
 *
 * Every fallible function returns an int: RH_OK (0) on success, a negative
 * RH_E* code on failure (as libuv does). Where a caller needs to tell a human
 * what went wrong, the function also takes an `rh_error *` and fills it with a
 * sentence; `err` may be NULL when the caller only wants the code.
 *
 * Pattern inside a function (one cleanup label):
 *
 *     int rc = RH_OK;
 *     ...
 *     if ((rc = step(..., err)) != RH_OK) goto out;
 *     ...
 *   out:
 *     free what was taken;
 *     return rc;
 */
#ifndef RH_CORE_ERROR_H
#define RH_CORE_ERROR_H

#include <stddef.h>

enum {
    RH_OK = 0,
    RH_ENOMEM = -1,       /* allocation failed */
    RH_EIO = -2,          /* reading or writing a file or socket failed */
    RH_EFORMAT = -3,      /* input is malformed (file format, JSON, ...) */
    RH_EINVAL = -4,       /* bad argument or option */
    RH_ERANGE = -5,       /* a number or size is out of the allowed range */
    RH_EUNSUPPORTED = -6, /* well-formed but not supported (type, arch) */
    RH_EBUSY = -7,        /* queue full, try later */
    RH_ECANCELED = -8,    /* the operation was cancelled */
    RH_ENOTFOUND = -9,    /* key, file, tensor, user ... does not exist */
    RH_ELIMIT = -10,      /* a configured or built-in limit was reached */
    RH_EDENIED = -11,     /* not allowed */
    RH_EEXIST = -12,      /* already exists */
    RH_EINTERNAL = -13,   /* a bug: an invariant did not hold */
};

#define RH_ERROR_MSG_MAX 512

typedef struct rh_error {
    int code;
    char msg[RH_ERROR_MSG_MAX];
} rh_error;

/* Record `code` and a formatted message in `err` (if non-NULL); returns code,
 * so that `return rh_error_set(err, RH_EFORMAT, "...")` reads naturally. */
int rh_error_set(rh_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset to RH_OK with an empty message. */
void rh_error_clear(rh_error *err);

/* A short generic text for a code, for when no message was recorded. */
const char *rh_strerror(int code);

#endif
