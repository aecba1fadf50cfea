/*
 * kstore_sqlite.c - the knowledge store on SQLite with FTS5: schema,
 * document replacement in one transaction, BM25 search. All SQL of the
 * knowledge subsystem lives here (see kstore.h).
 */
#include "store/kstore.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "store/sqlite_util.h"
#include "knowledge/fts_tokenizer.h"

#define KSTORE_SCHEMA 1
#define KSTORE_SCHEMA_STR "1"

struct kstore {
    sqlite3 *db;
};

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS kcollections(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL, UNIQUE(tenant_id, name));"
    "CREATE TABLE IF NOT EXISTS kdocuments(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL,"
    " collection_id INTEGER NOT NULL REFERENCES kcollections(id) ON DELETE CASCADE,"
    " title TEXT NOT NULL DEFAULT '', path TEXT NOT NULL, type TEXT NOT NULL DEFAULT '',"
    " size INTEGER NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT '',"
    " mtime INTEGER NOT NULL DEFAULT 0, ingested_at INTEGER NOT NULL DEFAULT 0,"
    " status TEXT NOT NULL, error TEXT, n_chunks INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(collection_id, path));"
    "CREATE TABLE IF NOT EXISTS kchunks(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL,"
    " document_id INTEGER NOT NULL REFERENCES kdocuments(id) ON DELETE CASCADE,"
    " collection_id INTEGER NOT NULL, ordinal INTEGER NOT NULL,"
    " title TEXT NOT NULL, heading TEXT NOT NULL, heading_path TEXT NOT NULL, page_from INTEGER NOT NULL DEFAULT 0,"
    " page_to INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS kchunks_doc ON kchunks(document_id);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS kchunks_fts USING fts5(title, heading, body,"
    " tenant_id UNINDEXED, content='kchunks', content_rowid='id', tokenize='rathaus_de');"
    "CREATE TRIGGER IF NOT EXISTS kchunks_ai AFTER INSERT ON kchunks BEGIN"
    " INSERT INTO kchunks_fts(rowid, title, heading, body, tenant_id)"
    " VALUES(new.id, new.title, new.heading, new.body, new.tenant_id); END;"
    "CREATE TRIGGER IF NOT EXISTS kchunks_ad AFTER DELETE ON kchunks BEGIN"
    " INSERT INTO kchunks_fts(kchunks_fts, rowid, title, heading, body, tenant_id)"
    " VALUES('delete', old.id, old.title, old.heading, old.body, old.tenant_id); END;"
    "CREATE VIRTUAL TABLE IF NOT EXISTS kchunks_vocab USING fts5vocab(kchunks_fts, 'row');"
    /* the portal's tables (kstore_portal.c) */
    "CREATE TABLE IF NOT EXISTS kcoll_meta(collection_id INTEGER PRIMARY KEY"
    " REFERENCES kcollections(id) ON DELETE CASCADE, folder TEXT, created_by INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS kcoll_access(collection_id INTEGER NOT NULL"
    " REFERENCES kcollections(id) ON DELETE CASCADE, group_id INTEGER NOT NULL,"
    " right TEXT NOT NULL, PRIMARY KEY(collection_id, group_id));"
    "CREATE TABLE IF NOT EXISTS kjobs(id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL,"
    " collection_id INTEGER NOT NULL REFERENCES kcollections(id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL, path TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL, message TEXT, n_chunks INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    " finished_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS kjobs_status ON kjobs(status, id);"
    "CREATE TABLE IF NOT EXISTS kvectors(chunk_id INTEGER PRIMARY KEY"
    " REFERENCES kchunks(id) ON DELETE CASCADE, collection_id INTEGER NOT NULL,"
    " model TEXT NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS kvectors_coll ON kvectors(collection_id, model);";

static int db_err(kstore *ks, rh_error *err, const char *what) { return store__kerr(ks->db, err, what); }

static int exec(kstore *ks, const char *sql, rh_error *err) { return store__kexec(ks->db, sql, err); }

static int prep(kstore *ks, const char *sql, sqlite3_stmt **st, rh_error *err)
{
    return store__kprep(ks->db, sql, st, err);
}

int kstore_open(const char *path, kstore **out, rh_error *err)
{
    *out = NULL;
    int rc = RH_OK;
    kstore *ks = rh_calloc(1, sizeof *ks);
    if (!ks)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    if (sqlite3_open_v2(path, &ks->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = rh_error_set(err, RH_EIO, "cannot open the knowledge database %s: %s", path,
                          ks->db ? sqlite3_errmsg(ks->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(ks->db, 10000);
    if ((rc = rh_fts_register(ks->db, err)) != RH_OK)
        goto out;
    if (strcmp(path, ":memory:") != 0 && (rc = exec(ks, "PRAGMA journal_mode=WAL", err)) != RH_OK)
        goto out;
    if ((rc = exec(ks,
                   "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"
                   " PRAGMA cache_size=-32768; PRAGMA mmap_size=1073741824;",
                   err)) != RH_OK)
        goto out;
    /* schema version in PRAGMA user_version (the file is ours alone) */
    sqlite3_stmt *st = NULL;
    int version = -1, tables = 0;
    if (sqlite3_prepare_v2(ks->db,
                           "SELECT (SELECT user_version FROM pragma_user_version),"
                           " (SELECT count(*) FROM sqlite_master WHERE name='kchunks')",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        version = sqlite3_column_int(st, 0);
        tables = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (version < 0) {
        rc = db_err(ks, err, "read the schema version");
        goto out;
    }
    if (version > KSTORE_SCHEMA || (version < KSTORE_SCHEMA && tables)) {
        rc = rh_error_set(err, RH_EUNSUPPORTED,
                          "the knowledge database %s has schema version %d, this rathaus "
                          "needs %d: move it away and ingest the documents again",
                          path, version, KSTORE_SCHEMA);
        goto out;
    }
    if ((rc = exec(ks, schema, err)) != RH_OK)
        goto out;
    if (version != KSTORE_SCHEMA &&
        (rc = exec(ks, "PRAGMA user_version=" KSTORE_SCHEMA_STR, err)) != RH_OK)
        goto out;
    *out = ks;
    return RH_OK;
out:
    kstore_close(ks);
    return rc;
}

struct sqlite3 *kstore__db(kstore *ks)
{
    return ks->db;
}

void kstore_close(kstore *ks)
{
    if (!ks)
        return;
    sqlite3_close(ks->db);
    rh_free(ks);
}

int kstore_collection_find(kstore *ks, int64_t tenant, const char *name, int64_t *id,
                           rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "SELECT id FROM kcollections WHERE tenant_id=? AND name=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else if (s == SQLITE_DONE)
        rc = rh_error_set(err, RH_ENOTFOUND, "there is no collection '%s'", name);
    else
        rc = db_err(ks, err, "find collection");
    sqlite3_finalize(st);
    return rc;
}

int kstore_collection_ensure(kstore *ks, int64_t tenant, const char *name, const char *description,
                             int64_t *id, rh_error *err)
{
    int rc = kstore_collection_find(ks, tenant, name, id, NULL);
    if (rc != RH_ENOTFOUND)
        return rc == RH_OK ? RH_OK : kstore_collection_find(ks, tenant, name, id, err);
    sqlite3_stmt *st = NULL;
    if ((rc = prep(ks,
                   "INSERT INTO kcollections(tenant_id, name, description, created_at)"
                   " VALUES(?,?,?,?)",
                   &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, description ? description : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "create collection");
    else
        *id = sqlite3_last_insert_rowid(ks->db);
    sqlite3_finalize(st);
    return rc;
}

#define DOC_COLS                                                                               \
    "id, collection_id, title, path, type, sha256, status, error, size, mtime, ingested_at,"   \
    " n_chunks"

static void doc_from_row(sqlite3_stmt *st, kstore_doc *d)
{
    d->id = sqlite3_column_int64(st, 0);
    d->collection_id = sqlite3_column_int64(st, 1);
    d->title = store__col_str(st, 2);
    d->path = store__col_str(st, 3);
    d->type = store__col_str(st, 4);
    d->sha256 = store__col_str(st, 5);
    d->status = store__col_str(st, 6);
    d->error = store__col_str(st, 7);
    d->size = sqlite3_column_int64(st, 8);
    d->mtime = sqlite3_column_int64(st, 9);
    d->ingested_at = sqlite3_column_int64(st, 10);
    d->n_chunks = sqlite3_column_int64(st, 11);
}

void kstore_doc_clear(kstore_doc *d)
{
    if (!d)
        return;
    rh_free(d->title);
    rh_free(d->path);
    rh_free(d->type);
    rh_free(d->sha256);
    rh_free(d->status);
    rh_free(d->error);
    memset(d, 0, sizeof *d);
}

int kstore_document_get(kstore *ks, int64_t tenant, int64_t coll, const char *path,
                        kstore_doc *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "SELECT " DOC_COLS " FROM kdocuments WHERE tenant_id=? AND collection_id=?"
                  " AND path=?",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        doc_from_row(st, out);
        if (!out->path)
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
    } else if (s == SQLITE_DONE) {
        rc = rh_error_set(err, RH_ENOTFOUND, "document not in the collection");
    } else {
        rc = db_err(ks, err, "read document");
    }
    sqlite3_finalize(st);
    return rc;
}

int kstore_document_list(kstore *ks, int64_t tenant, int64_t coll, kstore_doc **docs, size_t *n,
                         rh_error *err)
{
    *docs = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    kstore_doc *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = prep(ks,
                  "SELECT " DOC_COLS " FROM kdocuments WHERE tenant_id=? AND collection_id=?"
                  " ORDER BY path",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 64;
            kstore_doc *nv = rh_realloc_array(v, nc, sizeof *nv);
            if (!nv) {
                rc = rh_error_set(err, RH_ENOMEM, "out of memory");
                goto out;
            }
            v = nv;
            cap = nc;
        }
        memset(&v[cnt], 0, sizeof v[cnt]);
        doc_from_row(st, &v[cnt++]);
    }
    if (s != SQLITE_DONE)
        rc = db_err(ks, err, "list documents");
out:
    sqlite3_finalize(st);
    if (rc) {
        kstore_doc_list_free(v, cnt);
        return rc;
    }
    *docs = v;
    *n = cnt;
    return RH_OK;
}

void kstore_doc_list_free(kstore_doc *docs, size_t n)
{
    for (size_t i = 0; docs && i < n; i++)
        kstore_doc_clear(&docs[i]);
    rh_free(docs);
}

/* The indexed heading of a chunk: the last element of its heading path
 * (the upper levels are shared by many chunks and would only blur BM25). */
static const char *last_heading(const char *path)
{
    const char *last = path;
    for (const char *p = strstr(path, " \xE2\x80\xBA "); p; p = strstr(p + 1, " \xE2\x80\xBA "))
        last = p + 5;
    return last;
}

static int drop_alt(kstore *ks, rh_error *err)
{
    return exec(ks, "DROP TABLE IF EXISTS kchunks_alt", err);
}

int kstore_document_put(kstore *ks, int64_t tenant, int64_t coll, const kstore_doc *meta,
                        const kstore_chunk_in *chunks, size_t n, int64_t *doc_id, rh_error *err)
{
    sqlite3_stmt *st = NULL, *ins = NULL;
    int rc = exec(ks, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if ((rc = drop_alt(ks, err)))
        goto out;
    if ((rc = prep(ks,
                   "INSERT INTO kdocuments(tenant_id, collection_id, title, path, type, size,"
                   " sha256, mtime, ingested_at, status, error, n_chunks)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,'ok',NULL,?10)"
                   " ON CONFLICT(collection_id, path) DO UPDATE SET title=?3, type=?5, size=?6,"
                   " sha256=?7, mtime=?8, ingested_at=?9, status='ok', error=NULL, n_chunks=?10"
                   " RETURNING id",
                   &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_text(st, 3, meta->title ? meta->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, meta->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, meta->type ? meta->type : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, meta->size);
    sqlite3_bind_text(st, 7, meta->sha256 ? meta->sha256 : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, meta->mtime);
    sqlite3_bind_int64(st, 9, (int64_t)time(NULL));
    sqlite3_bind_int64(st, 10, (int64_t)n);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = db_err(ks, err, "store document");
        goto out;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = prep(ks, "DELETE FROM kchunks WHERE document_id=?", &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_err(ks, err, "remove old chunks");
        goto out;
    }
    if ((rc = prep(ks,
                   "INSERT INTO kchunks(tenant_id, document_id, collection_id, ordinal, title,"
                   " heading, heading_path, page_from, page_to, body)"
                   " VALUES(?,?,?,?,?,?,?,?,?,?)",
                   &ins, err)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, tenant);
        sqlite3_bind_int64(ins, 2, id);
        sqlite3_bind_int64(ins, 3, coll);
        sqlite3_bind_int64(ins, 4, (int64_t)i);
        sqlite3_bind_text(ins, 5, meta->title ? meta->title : "", -1, SQLITE_STATIC);
        const char *hp = chunks[i].heading ? chunks[i].heading : "";
        sqlite3_bind_text(ins, 6, last_heading(hp), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 7, hp, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 8, chunks[i].page_from);
        sqlite3_bind_int(ins, 9, chunks[i].page_to);
        sqlite3_bind_text(ins, 10, chunks[i].text ? chunks[i].text : "", -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = db_err(ks, err, "store chunk");
            goto out;
        }
    }
    if (doc_id)
        *doc_id = id;
out:
    sqlite3_finalize(st);
    sqlite3_finalize(ins);
    if (rc == RH_OK)
        rc = exec(ks, "COMMIT", err);
    if (rc != RH_OK)
        (void)exec(ks, "ROLLBACK", NULL);
    return rc;
}

int kstore_document_fail(kstore *ks, int64_t tenant, int64_t coll, const kstore_doc *meta,
                         const char *msg, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "INSERT INTO kdocuments(tenant_id, collection_id, title, path, type, size,"
                  " sha256, mtime, ingested_at, status, error, n_chunks)"
                  " VALUES(?1,?2,?3,?4,?5,?6,'',?7,?8,'error',?9,0)"
                  " ON CONFLICT(collection_id, path) DO UPDATE SET status='error', error=?9,"
                  " ingested_at=?8",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_text(st, 3, meta->title ? meta->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, meta->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, meta->type ? meta->type : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, meta->size);
    sqlite3_bind_int64(st, 7, meta->mtime);
    sqlite3_bind_int64(st, 8, (int64_t)time(NULL));
    sqlite3_bind_text(st, 9, msg ? msg : "error", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "record error");
    sqlite3_finalize(st);
    return rc;
}

int kstore_document_delete(kstore *ks, int64_t tenant, int64_t doc_id, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(ks, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if ((rc = drop_alt(ks, err)))
        goto out;
    if ((rc = prep(ks, "DELETE FROM kchunks WHERE tenant_id=?1 AND document_id=?2", &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, doc_id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_err(ks, err, "delete chunks");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = prep(ks, "DELETE FROM kdocuments WHERE tenant_id=?1 AND id=?2", &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, doc_id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "delete document");
out:
    sqlite3_finalize(st);
    if (rc == RH_OK)
        rc = exec(ks, "COMMIT", err);
    if (rc != RH_OK)
        (void)exec(ks, "ROLLBACK", NULL);
    return rc;
}

int kstore_stats_get(kstore *ks, int64_t tenant, int64_t coll, kstore_stats *s, rh_error *err)
{
    memset(s, 0, sizeof *s);
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "SELECT (SELECT count(*) FROM kdocuments WHERE tenant_id=?1 AND"
                  " collection_id=?2),"
                  " (SELECT count(*) FROM kdocuments WHERE tenant_id=?1 AND collection_id=?2"
                  " AND status='error'),"
                  " (SELECT count(*) FROM kchunks WHERE tenant_id=?1 AND collection_id=?2),"
                  " (SELECT coalesce(sum(length(CAST(body AS BLOB))),0) FROM kchunks WHERE"
                  " tenant_id=?1 AND collection_id=?2)",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    if (sqlite3_step(st) == SQLITE_ROW) {
        s->documents = sqlite3_column_int64(st, 0);
        s->documents_error = sqlite3_column_int64(st, 1);
        s->chunks = sqlite3_column_int64(st, 2);
        s->text_bytes = sqlite3_column_int64(st, 3);
    } else {
        rc = db_err(ks, err, "statistics");
    }
    sqlite3_finalize(st);
    return rc;
}

int kstore_alt_index_build(kstore *ks, const char *tokenize, rh_error *err)
{
    static const char *const allowed[] = {"unicode61", "rathaus_de stem",
                                          "rathaus_de stem compound", "rathaus_de"};
    int ok = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strcmp(tokenize, allowed[i]) == 0)
            ok = 1;
    if (!ok)
        return rh_error_set(err, RH_EINVAL, "unknown tokenizer configuration '%s'", tokenize);
    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS kchunks_alt;"
             "CREATE VIRTUAL TABLE kchunks_alt USING fts5(title, heading, body,"
             " tenant_id UNINDEXED, content='kchunks', content_rowid='id', tokenize='%s');"
             "INSERT INTO kchunks_alt(kchunks_alt) VALUES('rebuild');",
             tokenize);
    return exec(ks, sql, err);
}

/* Rank with FTS5 alone (no per-row join), then keep the rows of the
 * tenant and collection; only when other collections crowd the top is the
 * slower joined query run. */
int kstore_search(kstore *ks, int64_t tenant, int64_t coll, int index, const char *match,
                  const double w[3], kstore_hit *hits, size_t cap, size_t *n, rh_error *err)
{
    *n = 0;
    const int alt = index == KSTORE_INDEX_ALT;
    const char *fast = alt ? "SELECT rowid, bm25(kchunks_alt, ?1, ?2, ?3, 0) AS r FROM kchunks_alt"
                             " WHERE kchunks_alt MATCH ?4 ORDER BY r LIMIT ?5"
                           : "SELECT rowid, bm25(kchunks_fts, ?1, ?2, ?3, 0) AS r FROM kchunks_fts"
                             " WHERE kchunks_fts MATCH ?4 ORDER BY r LIMIT ?5";
    const char *joined =
        alt ? "SELECT f.rowid, bm25(kchunks_alt, ?1, ?2, ?3, 0) AS r"
              " FROM kchunks_alt f JOIN kchunks c ON c.id = f.rowid"
              " WHERE kchunks_alt MATCH ?4 AND c.tenant_id=?6 AND c.collection_id=?7"
              " ORDER BY r LIMIT ?5"
            : "SELECT f.rowid, bm25(kchunks_fts, ?1, ?2, ?3, 0) AS r"
              " FROM kchunks_fts f JOIN kchunks c ON c.id = f.rowid"
              " WHERE kchunks_fts MATCH ?4 AND c.tenant_id=?6 AND c.collection_id=?7"
              " ORDER BY r LIMIT ?5";
    sqlite3_stmt *st = NULL, *chk = NULL;
    int rc = prep(ks, "SELECT document_id FROM kchunks WHERE id=? AND tenant_id=? AND"
                      " collection_id=?",
                  &chk, err);
    if (rc)
        return rc;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        *n = 0;
        size_t rows = 0;
        if ((rc = prep(ks, pass ? joined : fast, &st, err)))
            break;
        for (int i = 0; i < 3; i++)
            sqlite3_bind_double(st, i + 1, w[i]);
        sqlite3_bind_text(st, 4, match, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (int64_t)cap);
        if (pass) {
            sqlite3_bind_int64(st, 6, tenant);
            sqlite3_bind_int64(st, 7, coll);
        }
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW && *n < cap) {
            rows++;
            int64_t id = sqlite3_column_int64(st, 0);
            sqlite3_reset(chk);
            sqlite3_bind_int64(chk, 1, id);
            sqlite3_bind_int64(chk, 2, tenant);
            sqlite3_bind_int64(chk, 3, coll);
            if (sqlite3_step(chk) != SQLITE_ROW)
                continue;
            kstore_hit *h = &hits[(*n)++];
            memset(h, 0, sizeof *h);
            h->chunk_id = id;
            h->document_id = sqlite3_column_int64(chk, 0);
            h->score = -sqlite3_column_double(st, 1);
        }
        if (s != SQLITE_DONE && s != SQLITE_ROW)
            rc = db_err(ks, err, "search");
        sqlite3_finalize(st);
        st = NULL;
        if (*n == rows || rows < cap)
            break; /* nothing filtered away, or all matches seen */
    }
    sqlite3_finalize(chk);
    return rc;
}

int kstore_chunk_get(kstore *ks, int64_t tenant, kstore_hit *h, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "SELECT d.path, c.title, c.heading_path, c.body, c.page_from, c.page_to, c.ordinal"
                  " FROM kchunks c JOIN kdocuments d ON d.id = c.document_id"
                  " WHERE c.tenant_id=? AND c.id=?",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, h->chunk_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        h->path = store__col_str(st, 0);
        h->title = store__col_str(st, 1);
        h->heading = store__col_str(st, 2);
        h->text = store__col_str(st, 3);
        h->page_from = sqlite3_column_int(st, 4);
        h->page_to = sqlite3_column_int(st, 5);
        h->ordinal = sqlite3_column_int(st, 6);
        if (!h->path || !h->title || !h->heading || !h->text)
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
    } else {
        rc = rh_error_set(err, RH_ENOTFOUND, "chunk %lld not found", (long long)h->chunk_id);
    }
    sqlite3_finalize(st);
    return rc;
}

void kstore_hit_clear(kstore_hit *h)
{
    if (!h)
        return;
    rh_free(h->path);
    rh_free(h->title);
    rh_free(h->heading);
    rh_free(h->text);
    h->path = h->title = h->heading = h->text = NULL;
}

int kstore_chunk_count(kstore *ks, int64_t *n, rh_error *err)
{
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "SELECT count(*) FROM kchunks", &st, err);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = db_err(ks, err, "count chunks");
    sqlite3_finalize(st);
    return rc;
}

int kstore_term_docs(kstore *ks, const char *term, int64_t *ndocs, rh_error *err)
{
    *ndocs = 0;
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "SELECT doc FROM kchunks_vocab WHERE term=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, term, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *ndocs = sqlite3_column_int64(st, 0);
    else if (s != SQLITE_DONE)
        rc = db_err(ks, err, "term statistics");
    sqlite3_finalize(st);
    return rc;
}
