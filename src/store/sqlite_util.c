/*
 * sqlite_util.c - the small SQLite helpers shared by the files of
 * src/store/ (see sqlite_util.h).
 */
#include "store/sqlite_util.h"

#include <string.h>

#include "core/alloc.h"

sqlite3_stmt *store__prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    return st;
}

void store__bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

char *store__col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? rh_strdup((const char *)t) : NULL;
}

int store__map_rc(int src)
{
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return RH_OK;
    case SQLITE_NOMEM:
        return RH_ENOMEM;
    case SQLITE_CONSTRAINT:
        return RH_EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return RH_EBUSY;
    default:
        return RH_EIO;
    }
}

int store__run(sqlite3 *db, sqlite3_stmt *st, int need_change)
{
    if (!st)
        return RH_EIO;
    int src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        return store__map_rc(src);
    if (need_change && sqlite3_changes(db) == 0)
        return RH_ENOTFOUND;
    return RH_OK;
}

void *store__list_push(void **items, size_t *n, size_t size)
{
    void *ni = rh_realloc_array(*items, *n + 1, size);
    if (!ni)
        return NULL;
    *items = ni;
    void *slot = (char *)ni + *n * size;
    memset(slot, 0, size);
    (*n)++;
    return slot;
}

int store__collect(sqlite3_stmt *st, void **items, size_t *n, size_t size,
                   int (*read)(sqlite3_stmt *st, void *item))
{
    if (!st)
        return RH_EIO;
    int rc = RH_OK;
    while (rc == RH_OK && sqlite3_step(st) == SQLITE_ROW) {
        void *item = store__list_push(items, n, size);
        rc = item ? read(st, item) : RH_ENOMEM;
    }
    sqlite3_finalize(st);
    return rc;
}

void store__list_reset(void **items, size_t *n)
{
    rh_free(*items);
    *items = NULL;
    *n = 0;
}

int store__kerr(sqlite3 *db, rh_error *err, const char *what)
{
    return rh_error_set(err, RH_EIO, "knowledge store: %s: %s", what, sqlite3_errmsg(db));
}

int store__kprep(sqlite3 *db, const char *sql, sqlite3_stmt **st, rh_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return store__kerr(db, err, "prepare");
    return RH_OK;
}

int store__kexec(sqlite3 *db, const char *sql, rh_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = rh_error_set(err, RH_EIO, "knowledge store: %s", msg ? msg : "SQL failed");
        sqlite3_free(msg);
        return rc;
    }
    return RH_OK;
}
