/*
 * engine_args.c - shared parts of the CLI's engine commands (see
 * engine_args.h).
 */
#include "cli/engine_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/buf.h"

int cli_parse_int(const char *s, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

char *cli_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    rh_buf b;
    rh_buf_init(&b, max);
    char chunk[8192];
    size_t got;
    int ok = 1;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (rh_buf_append(&b, chunk, got) != RH_OK) {
            ok = 0;
            break;
        }
    if (ferror(f))
        ok = 0;
    fclose(f);
    if (!ok) {
        rh_buf_free(&b);
        return NULL;
    }
    if (!b.data && rh_buf_append(&b, "", 0) != RH_OK)
        return NULL;
    return rh_buf_take(&b, len);
}

int cli_engine_open(const char *cmd, const char *path, int n_ctx, int n_threads, int need_causal, rh_model **m,
                    rh_pool **pool, rh_ctx **c)
{
    rh_error err = {0};
    if (rh_model_load(path, m, &err) != RH_OK) {
        fprintf(stderr, "rathaus %s: %s\n", cmd, err.msg);
        return -1;
    }
    if (need_causal && !rh_model_get_info(*m)->causal) {
        fprintf(stderr, "rathaus %s: %s is an encoder (embedding) model; use rathaus embed\n", cmd, path);
        return -1;
    }
    *pool = rh_pool_new(n_threads);
    if (!*pool) {
        fprintf(stderr, "rathaus %s: cannot start the thread pool\n", cmd);
        return -1;
    }
    if (rh_ctx_new(*m, n_ctx, 1, *pool, c, &err) != RH_OK) {
        fprintf(stderr, "rathaus %s: %s\n", cmd, err.msg);
        return -1;
    }
    return 0;
}
