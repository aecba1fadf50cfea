/*
 * fts_tokenizer.c - the FTS5 tokenizer "rathaus_de": German analysis for
 * documents, pass-through of pre-analysed terms for queries.
 */
#include "knowledge/fts_tokenizer.h"

#include <string.h>

#include "core/alloc.h"
#include "knowledge/analyzer.h"

typedef struct tok {
    rh_kan *kan;
} tok;

typedef struct emit_ctx {
    void *ctx;
    int (*x_token)(void *, int, const char *, int, int, int);
} emit_ctx;

static int tok_create(void *user, const char **az, int n, Fts5Tokenizer **out)
{
    (void)user;
    unsigned flags = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(az[i], "stem") == 0)
            flags |= RH_KAN_STEM;
        else if (strcmp(az[i], "compound") == 0)
            flags |= RH_KAN_COMPOUND | RH_KAN_STEM;
        else
            return SQLITE_ERROR;
    }
    if (n == 0)
        flags = RH_KAN_STEM | RH_KAN_COMPOUND;
    tok *t = rh_calloc(1, sizeof *t);
    if (!t)
        return SQLITE_NOMEM;
    if (rh_kan_new(flags, &t->kan, NULL) != RH_OK) {
        rh_free(t);
        return SQLITE_ERROR;
    }
    *out = (Fts5Tokenizer *)t;
    return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *p)
{
    tok *t = (tok *)p;
    if (!t)
        return;
    rh_kan_free(t->kan);
    rh_free(t);
}

static int on_term(void *c, const char *s, size_t n, size_t start, size_t end, int colocated)
{
    emit_ctx *e = c;
    return e->x_token(e->ctx, colocated ? FTS5_TOKEN_COLOCATED : 0, s, (int)n, (int)start,
                      (int)end);
}

static int tok_tokenize(Fts5Tokenizer *p, void *ctx, int flags, const char *text, int n,
                        int (*x_token)(void *, int, const char *, int, int, int))
{
    tok *t = (tok *)p;
    if (n <= 0)
        return SQLITE_OK;
    if (flags & FTS5_TOKENIZE_QUERY) {
        /* terms are already analysed: split on white space, cut overlong */
        int i = 0;
        while (i < n) {
            while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n'))
                i++;
            int s = i;
            while (i < n && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n'))
                i++;
            if (i > s) {
                int len = i - s > RH_KAN_TERM_MAX ? RH_KAN_TERM_MAX : i - s;
                int rc = x_token(ctx, 0, text + s, len, s, i);
                if (rc != SQLITE_OK)
                    return rc;
            }
        }
        return SQLITE_OK;
    }
    emit_ctx e = {ctx, x_token};
    return rh_kan_run(t->kan, text, (size_t)n, on_term, &e);
}

static fts5_api *get_api(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api;
}

int rh_fts_register(sqlite3 *db, rh_error *err)
{
    fts5_api *api = get_api(db);
    if (!api || api->iVersion < 2)
        return rh_error_set(err, RH_EUNSUPPORTED, "this SQLite has no FTS5 full-text search");
    static fts5_tokenizer t = {tok_create, tok_delete, tok_tokenize};
    if (api->xCreateTokenizer(api, "rathaus_de", NULL, &t, NULL) != SQLITE_OK)
        return rh_error_set(err, RH_EINTERNAL, "cannot register the FTS5 tokenizer: %s",
                            sqlite3_errmsg(db));
    return RH_OK;
}
