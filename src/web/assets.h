/*
 * assets.h - the web UI's files, embedded into the binary at build time
 * (scripts/embed_assets.c generates build/gen/assets.c from web/).
 */
#ifndef RH_WEB_ASSETS_H
#define RH_WEB_ASSETS_H

#include <stddef.h>

typedef struct rh_asset {
    const char *path; /* "/index.html" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted, e.g. "\"9f2c...\"" */
} rh_asset;

extern const rh_asset rh_assets[];
extern const size_t rh_assets_count;

#endif
