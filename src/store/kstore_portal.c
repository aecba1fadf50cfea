/*
 * kstore_portal.c - SQL of the portal's knowledge tables (kportal.h):
 * collection rights, folder binding, the ingestion job queue and dense
 * vectors. The tables are created by kstore_open (kstore_sqlite.c).
 */
#include "store/kportal.h"

#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "store/sqlite_util.h"

static int db_err(kstore *ks, rh_error *err, const char *what)
{
    return store__kerr(kstore__db(ks), err, what);
}

static int prep(kstore *ks, const char *sql, sqlite3_stmt **st, rh_error *err)
{
    return store__kprep(kstore__db(ks), sql, st, err);
}

static int ids_push(kp_ids *ids, int64_t v)
{
    int64_t *nv = rh_realloc(ids->v, (ids->n + 1) * sizeof *nv);
    if (!nv)
        return RH_ENOMEM;
    ids->v = nv;
    ids->v[ids->n++] = v;
    return RH_OK;
}

/* ------------------------------------------------------------ collections */

#define COLL_SQL                                                                               \
    "SELECT c.id, c.name, c.description, m.folder, c.created_at, coalesce(m.created_by, 0),"   \
    " (SELECT count(*) FROM kdocuments d WHERE d.collection_id=c.id),"                         \
    " (SELECT count(*) FROM kdocuments d WHERE d.collection_id=c.id AND d.status='error'),"    \
    " (SELECT coalesce(sum(n_chunks), 0) FROM kdocuments d WHERE d.collection_id=c.id)"        \
    " FROM kcollections c LEFT JOIN kcoll_meta m ON m.collection_id=c.id WHERE c.tenant_id=?1"

static int load_access(kstore *ks, kp_collection *c, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "SELECT group_id, right FROM kcoll_access WHERE collection_id=? ORDER BY group_id",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, c->id);
    int s;
    while (rc == RH_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 1);
        kp_ids *l = !strcmp(r, "owner") ? &c->owners : !strcmp(r, "writer") ? &c->writers : &c->readers;
        if (ids_push(l, sqlite3_column_int64(st, 0)))
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    return rc;
}

static int coll_from_row(kstore *ks, sqlite3_stmt *st, kp_collection *c, rh_error *err)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    c->name = store__col_str(st, 1);
    c->description = store__col_str(st, 2);
    c->folder = store__col_str(st, 3);
    c->created_at = sqlite3_column_int64(st, 4);
    c->created_by = sqlite3_column_int64(st, 5);
    c->documents = sqlite3_column_int64(st, 6);
    c->documents_error = sqlite3_column_int64(st, 7);
    c->chunks = sqlite3_column_int64(st, 8);
    if (!c->name || !c->description)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    return load_access(ks, c, err);
}

void kp_collection_clear(kp_collection *c)
{
    if (!c)
        return;
    rh_free(c->name);
    rh_free(c->description);
    rh_free(c->folder);
    rh_free(c->owners.v);
    rh_free(c->writers.v);
    rh_free(c->readers.v);
    memset(c, 0, sizeof *c);
}

void kp_collection_list_free(kp_collection *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kp_collection_clear(&v[i]);
    rh_free(v);
}

int kp_collection_list(kstore *ks, int64_t tenant, kp_collection **out, size_t *n, rh_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    kp_collection *v = NULL;
    size_t cnt = 0;
    int rc = prep(ks, COLL_SQL " ORDER BY c.name", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        kp_collection *nv = rh_realloc(v, (cnt + 1) * sizeof *nv);
        if (!nv) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            goto out;
        }
        v = nv;
        rc = coll_from_row(ks, st, &v[cnt], err);
        cnt++;
        if (rc)
            goto out;
    }
    if (s != SQLITE_DONE)
        rc = db_err(ks, err, "list collections");
out:
    sqlite3_finalize(st);
    if (rc) {
        kp_collection_list_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return RH_OK;
}

int kp_collection_get(kstore *ks, int64_t tenant, int64_t id, kp_collection *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, COLL_SQL " AND c.id=?2", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, id);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        rc = coll_from_row(ks, st, out, err);
    else if (s == SQLITE_DONE)
        rc = rh_error_set(err, RH_ENOTFOUND, "no such collection");
    else
        rc = db_err(ks, err, "read collection");
    sqlite3_finalize(st);
    if (rc)
        kp_collection_clear(out);
    return rc;
}

static int exec1(kstore *ks, const char *sql, rh_error *err)
{
    return store__kexec(kstore__db(ks), sql, err);
}

int kp_collection_create(kstore *ks, int64_t tenant, const char *name, const char *description,
                         int64_t created_by, int64_t *id, rh_error *err)
{
    int64_t existing;
    if (kstore_collection_find(ks, tenant, name, &existing, NULL) == RH_OK)
        return rh_error_set(err, RH_EEXIST, "a collection '%s' exists", name);
    int rc = kstore_collection_ensure(ks, tenant, name, description, id, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if ((rc = prep(ks, "INSERT OR REPLACE INTO kcoll_meta(collection_id, folder, created_by) VALUES(?,NULL,?)",
                   &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, *id);
    sqlite3_bind_int64(st, 2, created_by);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "create collection");
    sqlite3_finalize(st);
    return rc;
}

static int exists(kstore *ks, int64_t tenant, int64_t id, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "SELECT 1 FROM kcollections WHERE tenant_id=? AND id=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, id);
    int s = sqlite3_step(st);
    rc = s == SQLITE_ROW    ? RH_OK
         : s == SQLITE_DONE ? rh_error_set(err, RH_ENOTFOUND, "no such collection")
                            : db_err(ks, err, "read collection");
    sqlite3_finalize(st);
    return rc;
}

int kp_collection_update(kstore *ks, int64_t tenant, int64_t id, const char *name,
                         const char *description, rh_error *err)
{
    int rc = exists(ks, tenant, id, err);
    if (rc)
        return rc;
    if (name) {
        int64_t other;
        if (kstore_collection_find(ks, tenant, name, &other, NULL) == RH_OK && other != id)
            return rh_error_set(err, RH_EEXIST, "a collection '%s' exists", name);
    }
    sqlite3_stmt *st = NULL;
    if ((rc = prep(ks,
                   "UPDATE kcollections SET name=coalesce(?1, name), description=coalesce(?2, description)"
                   " WHERE tenant_id=?3 AND id=?4",
                   &st, err)))
        return rc;
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (description)
        sqlite3_bind_text(st, 2, description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tenant);
    sqlite3_bind_int64(st, 4, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "update collection");
    sqlite3_finalize(st);
    return rc;
}

static int put_list(kstore *ks, int64_t id, const char *right, const kp_ids *l, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "DELETE FROM kcoll_access WHERE collection_id=? AND right=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, right, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "set rights");
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if ((rc = prep(ks, "INSERT OR REPLACE INTO kcoll_access(collection_id, group_id, right) VALUES(?,?,?)",
                   &st, err)))
        return rc;
    for (size_t i = 0; i < l->n && rc == RH_OK; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, l->v[i]);
        sqlite3_bind_text(st, 3, right, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(ks, err, "set rights");
    }
    sqlite3_finalize(st);
    return rc;
}

int kp_collection_set_access(kstore *ks, int64_t tenant, int64_t id, const kp_ids *owners,
                             const kp_ids *writers, const kp_ids *readers, rh_error *err)
{
    int rc = exists(ks, tenant, id, err);
    if (rc)
        return rc;
    if ((rc = exec1(ks, "BEGIN IMMEDIATE", err)))
        return rc;
    /* a group has one right: readers first, so a higher right wins */
    if (readers && (rc = put_list(ks, id, "reader", readers, err)))
        goto out;
    if (writers && (rc = put_list(ks, id, "writer", writers, err)))
        goto out;
    if (owners && (rc = put_list(ks, id, "owner", owners, err)))
        goto out;
out:
    exec1(ks, rc ? "ROLLBACK" : "COMMIT", rc ? NULL : err);
    return rc;
}

int kp_collection_set_folder(kstore *ks, int64_t tenant, int64_t id, const char *folder,
                             rh_error *err)
{
    int rc = exists(ks, tenant, id, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if ((rc = prep(ks,
                   "INSERT INTO kcoll_meta(collection_id, folder) VALUES(?1, ?2)"
                   " ON CONFLICT(collection_id) DO UPDATE SET folder=?2",
                   &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (folder && *folder)
        sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "bind folder");
    sqlite3_finalize(st);
    return rc;
}

int kp_collection_delete(kstore *ks, int64_t tenant, int64_t id, rh_error *err)
{
    int rc = exists(ks, tenant, id, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if ((rc = exec1(ks, "BEGIN IMMEDIATE", err)))
        return rc;
    /* chunks first, one statement (the FTS triggers run per row) */
    if ((rc = prep(ks, "DELETE FROM kchunks WHERE collection_id=?", &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "delete collection");
    sqlite3_finalize(st);
    if (rc)
        goto out;
    if ((rc = prep(ks, "DELETE FROM kcollections WHERE tenant_id=? AND id=?", &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "delete collection");
    sqlite3_finalize(st);
out:
    exec1(ks, rc ? "ROLLBACK" : "COMMIT", rc ? NULL : err);
    return rc;
}

static int in_ids(const kp_ids *l, const int64_t *groups, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        for (size_t j = 0; j < n; j++)
            if (l->v[i] == groups[j])
                return 1;
    return 0;
}

int kp_right(const kp_collection *c, const int64_t *groups, size_t n_groups, int admin)
{
    if (admin)
        return KP_OWN;
    if (in_ids(&c->owners, groups, n_groups))
        return KP_OWN;
    if (in_ids(&c->writers, groups, n_groups))
        return KP_WRITE;
    if (in_ids(&c->readers, groups, n_groups))
        return KP_READ;
    return KP_NONE;
}

int kp_document_by_id(kstore *ks, int64_t tenant, int64_t id, kstore_doc *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "SELECT id, collection_id, title, path, type, sha256, status, error, size, mtime,"
                  " ingested_at, n_chunks FROM kdocuments WHERE tenant_id=? AND id=?",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, id);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->collection_id = sqlite3_column_int64(st, 1);
        out->title = store__col_str(st, 2);
        out->path = store__col_str(st, 3);
        out->type = store__col_str(st, 4);
        out->sha256 = store__col_str(st, 5);
        out->status = store__col_str(st, 6);
        out->error = store__col_str(st, 7);
        out->size = sqlite3_column_int64(st, 8);
        out->mtime = sqlite3_column_int64(st, 9);
        out->ingested_at = sqlite3_column_int64(st, 10);
        out->n_chunks = sqlite3_column_int64(st, 11);
        if (!out->path)
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
    } else if (s == SQLITE_DONE) {
        rc = rh_error_set(err, RH_ENOTFOUND, "no such document");
    } else {
        rc = db_err(ks, err, "read document");
    }
    sqlite3_finalize(st);
    return rc;
}

int kp_document_forget_checksum(kstore *ks, int64_t tenant, int64_t coll, const char *path,
                                rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "UPDATE kdocuments SET sha256='' WHERE tenant_id=? AND collection_id=? AND path=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "re-index");
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------ jobs */

#define JOB_COLS                                                                               \
    "id, tenant_id, collection_id, kind, path, name, status, message, n_chunks, attempts,"     \
    " created_at, finished_at"

static int job_from_row(sqlite3_stmt *st, kp_job *j, rh_error *err)
{
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    j->tenant = sqlite3_column_int64(st, 1);
    j->collection_id = sqlite3_column_int64(st, 2);
    j->kind = store__col_str(st, 3);
    j->path = store__col_str(st, 4);
    j->name = store__col_str(st, 5);
    j->status = store__col_str(st, 6);
    j->message = store__col_str(st, 7);
    j->n_chunks = sqlite3_column_int64(st, 8);
    j->attempts = sqlite3_column_int64(st, 9);
    j->created_at = sqlite3_column_int64(st, 10);
    j->finished_at = sqlite3_column_int64(st, 11);
    if (!j->kind || !j->path || !j->name || !j->status)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    return RH_OK;
}

void kp_job_clear(kp_job *j)
{
    if (!j)
        return;
    rh_free(j->kind);
    rh_free(j->path);
    rh_free(j->name);
    rh_free(j->status);
    rh_free(j->message);
    memset(j, 0, sizeof *j);
}

void kp_job_list_free(kp_job *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kp_job_clear(&v[i]);
    rh_free(v);
}

int kp_job_add(kstore *ks, int64_t tenant, int64_t coll, const char *kind, const char *path,
               const char *name, int64_t *id, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "INSERT INTO kjobs(tenant_id, collection_id, kind, path, name, status, created_at)"
                  " VALUES(?,?,?,?,?,'queued',?)",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "add job");
    else if (id)
        *id = sqlite3_last_insert_rowid(kstore__db(ks));
    sqlite3_finalize(st);
    return rc;
}

int kp_job_claim(kstore *ks, kp_job *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = exec1(ks, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if ((rc = prep(ks, "SELECT " JOB_COLS " FROM kjobs WHERE status='queued' ORDER BY id LIMIT 1", &st, err)))
        goto out;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        rc = job_from_row(st, out, err);
    else if (s == SQLITE_DONE)
        rc = RH_ENOTFOUND;
    else
        rc = db_err(ks, err, "claim job");
    sqlite3_finalize(st);
    st = NULL;
    if (rc)
        goto out;
    if ((rc = prep(ks, "UPDATE kjobs SET status='running', attempts=attempts+1 WHERE id=?", &st, err)))
        goto out;
    sqlite3_bind_int64(st, 1, out->id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "claim job");
    sqlite3_finalize(st);
    out->attempts++;
out:
    exec1(ks, rc ? "ROLLBACK" : "COMMIT", rc ? NULL : err);
    if (rc)
        kp_job_clear(out);
    return rc;
}

int kp_job_finish(kstore *ks, int64_t id, const char *status, const char *message,
                  int64_t n_chunks, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "UPDATE kjobs SET status=?, message=?, n_chunks=?, finished_at=? WHERE id=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    if (message)
        sqlite3_bind_text(st, 2, message, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, n_chunks);
    sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
    sqlite3_bind_int64(st, 5, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "finish job");
    sqlite3_finalize(st);
    return rc;
}

int kp_job_recover(kstore *ks, int max_attempts, int64_t *requeued, int64_t *failed,
                   rh_error *err)
{
    sqlite3_stmt *st = NULL;
    *requeued = *failed = 0;
    int rc = prep(ks,
                  "UPDATE kjobs SET status='error', finished_at=?1, message="
                  "'Verarbeitung wurde mehrfach unterbrochen (Neustart während der Indexierung)'"
                  " WHERE status='running' AND attempts>=?2",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
    sqlite3_bind_int(st, 2, max_attempts);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "recover jobs");
    *failed = sqlite3_changes(kstore__db(ks));
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if ((rc = prep(ks, "UPDATE kjobs SET status='queued' WHERE status='running'", &st, err)))
        return rc;
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "recover jobs");
    *requeued = sqlite3_changes(kstore__db(ks));
    sqlite3_finalize(st);
    return rc;
}

int kp_job_list(kstore *ks, int64_t tenant, int64_t coll, size_t limit, kp_job **out, size_t *n,
                rh_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    kp_job *v = NULL;
    size_t cnt = 0;
    int rc = prep(ks,
                  "SELECT " JOB_COLS " FROM kjobs WHERE tenant_id=?1 AND (?2=0 OR collection_id=?2)"
                  " ORDER BY id DESC LIMIT ?3",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_int64(st, 3, (int64_t)limit);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        kp_job *nv = rh_realloc(v, (cnt + 1) * sizeof *nv);
        if (!nv) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            goto out;
        }
        v = nv;
        rc = job_from_row(st, &v[cnt], err);
        cnt++;
        if (rc)
            goto out;
    }
    if (s != SQLITE_DONE)
        rc = db_err(ks, err, "list jobs");
out:
    sqlite3_finalize(st);
    if (rc) {
        kp_job_list_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return RH_OK;
}

int kp_job_get(kstore *ks, int64_t tenant, int64_t id, kp_job *out, rh_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = prep(ks, "SELECT " JOB_COLS " FROM kjobs WHERE tenant_id=? AND id=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, id);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        rc = job_from_row(st, out, err);
    else if (s == SQLITE_DONE)
        rc = rh_error_set(err, RH_ENOTFOUND, "no such job");
    else
        rc = db_err(ks, err, "read job");
    sqlite3_finalize(st);
    if (rc)
        kp_job_clear(out);
    return rc;
}

/* ------------------------------------------------------------ vectors */

int kp_vector_put(kstore *ks, int64_t chunk_id, int64_t coll, const char *model, const float *v,
                  int dim, rh_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "INSERT OR REPLACE INTO kvectors(chunk_id, collection_id, model, dim, vec)"
                  " VALUES(?,?,?,?,?)",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, chunk_id);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, dim);
    sqlite3_bind_blob(st, 5, v, (int)((size_t)dim * sizeof(float)), SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(ks, err, "store vector");
    sqlite3_finalize(st);
    return rc;
}

void kp_texts_free(int64_t *ids, char **texts, size_t n)
{
    for (size_t i = 0; texts && i < n; i++)
        rh_free(texts[i]);
    rh_free(texts);
    rh_free(ids);
}

int kp_vector_missing(kstore *ks, int64_t tenant, int64_t coll, const char *model, size_t limit,
                      int64_t **ids, char ***texts, size_t *n, rh_error *err)
{
    *ids = NULL;
    *texts = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "SELECT c.id, c.heading_path || char(10) || c.body FROM kchunks c"
                  " LEFT JOIN kvectors v ON v.chunk_id=c.id AND v.model=?3"
                  " WHERE c.tenant_id=?1 AND c.collection_id=?2 AND v.chunk_id IS NULL"
                  " ORDER BY c.id LIMIT ?4",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)limit);
    int64_t *iv = rh_calloc(limit ? limit : 1, sizeof *iv);
    char **tv = rh_calloc(limit ? limit : 1, sizeof *tv);
    size_t cnt = 0;
    int s;
    if (!iv || !tv) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    while (cnt < limit && (s = sqlite3_step(st)) == SQLITE_ROW) {
        iv[cnt] = sqlite3_column_int64(st, 0);
        if (!(tv[cnt] = store__col_str(st, 1))) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            goto out;
        }
        cnt++;
    }
out:
    sqlite3_finalize(st);
    if (rc) {
        kp_texts_free(iv, tv, cnt);
        return rc;
    }
    *ids = iv;
    *texts = tv;
    *n = cnt;
    return RH_OK;
}

int kp_vector_search(kstore *ks, int64_t tenant, int64_t coll, const char *model, const float *q,
                     int dim, kstore_hit *hits, size_t cap, size_t *n, rh_error *err)
{
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = prep(ks,
                  "SELECT v.chunk_id, c.document_id, v.vec FROM kvectors v JOIN kchunks c ON c.id=v.chunk_id"
                  " WHERE c.tenant_id=?1 AND v.collection_id=?2 AND v.model=?3 AND v.dim=?4",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, coll);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, dim);
    size_t cnt = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const float *v = sqlite3_column_blob(st, 2);
        if (!v || sqlite3_column_bytes(st, 2) != (int)((size_t)dim * sizeof(float)))
            continue;
        double dot = 0;
        for (int i = 0; i < dim; i++)
            dot += (double)v[i] * q[i];
        if (!isfinite(dot))
            continue;
        /* keep the best cap, sorted (insertion; cap is small) */
        size_t pos = cnt;
        while (pos > 0 && hits[pos - 1].score < dot)
            pos--;
        if (pos >= cap)
            continue;
        size_t last = cnt < cap ? cnt : cap - 1;
        memmove(&hits[pos + 1], &hits[pos], (last - pos) * sizeof *hits);
        memset(&hits[pos], 0, sizeof *hits);
        hits[pos].chunk_id = sqlite3_column_int64(st, 0);
        hits[pos].document_id = sqlite3_column_int64(st, 1);
        hits[pos].score = dot;
        if (cnt < cap)
            cnt++;
    }
    if (s != SQLITE_DONE)
        rc = db_err(ks, err, "vector search");
    sqlite3_finalize(st);
    *n = cnt;
    return rc;
}
