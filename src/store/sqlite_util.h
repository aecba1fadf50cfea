/*
 * sqlite_util.h - private helpers shared by the SQLite files of src/store/
 * (store_sqlite.c, store_academy.c, kstore_sqlite.c, kstore_portal.c):
 * statement preparation, binding, column reading, SQLite result codes to
 * RH_E* codes, and growing result lists. Not an API outside src/store/.
 */
#ifndef RH_STORE_SQLITE_UTIL_H
#define RH_STORE_SQLITE_UTIL_H

#include <sqlite3.h>
#include <stddef.h>

#include "core/error.h"

/* Prepare `sql` on `db`; NULL on failure. */
sqlite3_stmt *store__prep(sqlite3 *db, const char *sql);

/* Bind a text parameter (copied); NULL binds SQL NULL. */
void store__bind_text(sqlite3_stmt *st, int i, const char *v);

/* A copy (rh_strdup) of a text column; NULL for SQL NULL or out of memory. */
char *store__col_str(sqlite3_stmt *st, int i);

/* An SQLite result code as RH_OK or a negative RH_E* code. */
int store__map_rc(int src);

/* Step a statement that returns no rows and finalize it (st may be NULL:
 * RH_EIO); need_change: RH_ENOTFOUND when no row changed. */
int store__run(sqlite3 *db, sqlite3_stmt *st, int need_change);

/* Append one zeroed item of `size` bytes to the array *items of *n;
 * NULL on out of memory (the list is unchanged). */
void *store__list_push(void **items, size_t *n, size_t size);

/* The rows of a prepared query (st NULL: RH_EIO) as a list: per row one
 * zeroed item of `size` bytes is appended to *items (*n) and filled by
 * read(st, item), which returns RH_OK or an error code. Stops at the first
 * error (out of memory: RH_ENOMEM); finalizes st. Items filled so far stay
 * in the list for the caller to free. */
int store__collect(sqlite3_stmt *st, void **items, size_t *n, size_t size,
                   int (*read)(sqlite3_stmt *st, void *item));

/* Free the array of a list whose items' own memory is already freed; the
 * list is empty afterwards. */
void store__list_reset(void **items, size_t *n);

/* The knowledge store's error reporting (kstore_sqlite.c, kstore_portal.c):
 * RH_EIO with "knowledge store: <what>: <sqlite message>". */
int store__kerr(sqlite3 *db, rh_error *err, const char *what);

/* Prepare into *st; on failure RH_EIO and err filled. */
int store__kprep(sqlite3 *db, const char *sql, sqlite3_stmt **st, rh_error *err);

/* Run SQL without results; on failure RH_EIO and err filled. */
int store__kexec(sqlite3 *db, const char *sql, rh_error *err);

#endif
