/*
 * capability.c - rights that follow training: the level -> capability
 * matrix (defaults here, `capabilities.LEVEL = ...` in rathaus.conf wins),
 * the route -> capability table the HTTP dispatcher consults for every
 * request, and the one check academy_capability_allowed().
 *
 * Both tables are data: a new feature adds its capability name to
 * academy_capability_names, to the default matrix, and its routes to
 * route_caps - no checks sprinkled through handlers.
 */
#include <string.h>

#include "academy/academy.h"
#include "core/alloc.h"
#include "core/list.h"
#include "store/astore.h"

const char *const academy_capability_names[] = {
    "chat",             /* conversations with the AI */
    "knowledge",        /* use the knowledge collections */
    "assistants",       /* use assistants */
    "uploads",          /* upload own documents */
    "own_assistants",   /* create own assistants */
    "attachments",      /* attach documents to a chat */
    "api_keys",         /* API keys and the /v1 API */
    "share_assistants", /* share assistants with others */
    "batch",            /* batch jobs */
    NULL,
};

/* The default matrix (docs/academy.md): what each built-in level adds. */
static const struct {
    const char *level, *caps;
} default_matrix[] = {
    {"seepferdchen", "chat"},
    {"bronze", "knowledge, assistants"},
    {"silber", "uploads, own_assistants, attachments"},
    {"gold", "api_keys, share_assistants, batch"},
};

/* Which routes need which capability. method NULL = every method;
 * pattern is the route's pattern, a trailing '*' matches any rest. */
static const struct {
    const char *method, *pattern, *cap;
} route_caps[] = {
    {NULL, "/api/conversations", "chat"},
    {NULL, "/api/conversations/*", "chat"},
    {NULL, "/api/messages/*", "chat"},
    /* knowledge (api_knowledge.c): changing documents needs "uploads",
     * using collections and search "knowledge" (first match wins) */
    {"POST", "/api/collections/:id/documents", "uploads"},
    {"POST", "/api/collections/:id/sync", "uploads"},
    {"DELETE", "/api/documents/:id", "uploads"},
    {"POST", "/api/documents/:id/reindex", "uploads"},
    {"GET", "/api/knowledge/jobs/:id", "uploads"},
    {NULL, "/api/collections*", "knowledge"},
    {NULL, "/api/documents/*", "knowledge"},
    {"GET", "/api/search", "knowledge"},
    {"GET", "/api/keys", "api_keys"},
    {"POST", "/api/keys", "api_keys"},
    /* DELETE /api/keys/:id stays open: anyone may revoke their own key.
     * /v1 checks "api_keys" after authenticating the key (api_v1.c). */
};

const char *academy_route_capability(const char *method, const char *pattern)
{
    if (!pattern)
        return NULL;
    for (size_t i = 0; i < sizeof route_caps / sizeof route_caps[0]; i++) {
        if (route_caps[i].method && (!method || strcmp(route_caps[i].method, method)))
            continue;
        const char *p = route_caps[i].pattern;
        size_t n = strlen(p);
        if (n && p[n - 1] == '*' ? !strncmp(p, pattern, n - 1) : !strcmp(p, pattern))
            return route_caps[i].cap;
    }
    return NULL;
}

/* Is `cap` in the comma separated list? */
static int list_has(const char *list, const char *cap)
{
    size_t cl = strlen(cap), n;
    const char *p = list, *item;
    while ((item = rh_list_next(&p, &n)))
        if (n == cl && !memcmp(item, cap, cl))
            return 1;
    return 0;
}

const char *academy_level_caps(const rh_config *cfg, const char *level_id)
{
    for (size_t i = 0; cfg && i < cfg->n_capabilities; i++)
        if (!strcmp(cfg->capabilities[i].level, level_id))
            return cfg->capabilities[i].caps ? cfg->capabilities[i].caps : "";
    for (size_t i = 0; i < sizeof default_matrix / sizeof default_matrix[0]; i++)
        if (!strcmp(default_matrix[i].level, level_id))
            return default_matrix[i].caps;
    return "";
}

int academy_rank_has(const rh_config *cfg, const academy *a, int rank, const char *cap)
{
    if (!a || !cap)
        return 0;
    for (int i = 0; i < rank && (size_t)i < a->n_levels; i++)
        if (list_has(academy_level_caps(cfg, a->levels[i].id), cap))
            return 1;
    return 0;
}

int academy_cap_min_rank(const rh_config *cfg, const academy *a, const char *cap)
{
    for (size_t i = 0; a && i < a->n_levels; i++)
        if (list_has(academy_level_caps(cfg, a->levels[i].id), cap))
            return (int)i + 1;
    return -1;
}

int academy_user_rank(const academy *a, store *st, int64_t user_id)
{
    astore_level lv;
    if (astore_level_get(st, user_id, &lv) != RH_OK)
        return 0;
    int i = academy_level_index(a, lv.level);
    astore_level_clear(&lv);
    return i < 0 ? 0 : i + 1;
}

int academy_capability_allowed(const rh_config *cfg, store *st, const store_user *u, const char *cap)
{
    if (!cfg->academy_gating)
        return 1;
    if (!u)
        return 0;
    if (u->role && !strcmp(u->role, "admin"))
        return 1;
    const academy *a = academy_get(cfg);
    if (!a)
        return 0;
    return academy_rank_has(cfg, a, academy_user_rank(a, st, u->id), cap);
}
