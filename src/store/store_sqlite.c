/*
 * store_sqlite.c - the SQLite implementation of store.h.
 *
 * One connection, guarded by a mutex (libmicrohttpd calls us from many
 * threads; SQLite work per request is short). WAL journal, foreign keys
 * on, busy timeout so that a CLI command (`rathaus user add`) can write
 * while the server runs. Migrations are numbered SQL scripts; each runs in
 * its own transaction and bumps schema_version.
 */
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "store/sqlite_util.h"

struct store {
    sqlite3 *db;
    pthread_mutex_t lock;
    int version;
};

/* ---- migrations: append only, never edit an applied one ---- */
static const char *const migrations[] = {
    /* 1: the portal's base schema */
    "CREATE TABLE tenants(id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "INSERT INTO tenants(id, name, created_at) VALUES(1, 'default', CAST(strftime('%s','now') AS INTEGER));"
    "CREATE TABLE users(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " username TEXT NOT NULL, display_name TEXT NOT NULL DEFAULT '',"
    " password_hash TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK(role IN ('admin','trainer','user')),"
    " disabled INTEGER NOT NULL DEFAULT 0, lang TEXT,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_login_at INTEGER,"
    " UNIQUE(tenant_id, username));"
    "CREATE TABLE groups(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id), name TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, UNIQUE(tenant_id, name));"
    "CREATE TABLE user_groups(tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    " PRIMARY KEY(user_id, group_id));"
    "CREATE TABLE sessions(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " token_hash TEXT NOT NULL UNIQUE, csrf TEXT NOT NULL,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, ip TEXT);"
    "CREATE INDEX sessions_user ON sessions(user_id);"
    "CREATE TABLE api_keys(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, last_used_at INTEGER, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE conversations(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " title TEXT NOT NULL DEFAULT '', model TEXT, system_prompt TEXT,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX conversations_user ON conversations(user_id, updated_at);"
    "CREATE TABLE messages(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    " role TEXT NOT NULL CHECK(role IN ('system','user','assistant')),"
    " content TEXT NOT NULL, model TEXT,"
    " prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,"
    " finish_reason TEXT, created_at INTEGER NOT NULL);"
    "CREATE INDEX messages_conv ON messages(conversation_id, id);"
    "CREATE TABLE audit(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " time INTEGER NOT NULL, actor TEXT, action TEXT NOT NULL, target TEXT, detail TEXT, ip TEXT);"
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    /* 2: the academy (KI-Schwimmabzeichen, store_academy.c) and answer feedback */
    "CREATE TABLE academy_levels(user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id), level TEXT NOT NULL,"
    " awarded_at INTEGER NOT NULL, awarded_by TEXT, via TEXT NOT NULL);"
    "CREATE TABLE academy_level_log(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " action TEXT NOT NULL CHECK(action IN ('award','revoke')), level TEXT, previous TEXT,"
    " via TEXT NOT NULL, actor TEXT, reason TEXT, created_at INTEGER NOT NULL);"
    "CREATE INDEX academy_level_log_user ON academy_level_log(user_id, id);"
    "CREATE TABLE academy_progress(tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " lesson_id TEXT NOT NULL, completed_at INTEGER NOT NULL, PRIMARY KEY(user_id, lesson_id));"
    "CREATE TABLE academy_attempts(id INTEGER PRIMARY KEY,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " level TEXT NOT NULL, plan TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER,"
    " correct INTEGER, total INTEGER, percent INTEGER, passed INTEGER);"
    "CREATE INDEX academy_attempts_user ON academy_attempts(user_id, level, id);"
    "CREATE TABLE academy_lessons(tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " lesson_id TEXT NOT NULL, level TEXT NOT NULL, ord INTEGER NOT NULL, title TEXT NOT NULL,"
    " minutes INTEGER NOT NULL, markdown TEXT NOT NULL, updated_by TEXT, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(tenant_id, lesson_id));"
    "CREATE TABLE message_feedback(message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " rating TEXT NOT NULL CHECK(rating IN ('up','down')), comment TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX message_feedback_time ON message_feedback(tenant_id, created_at);"
    "CREATE INDEX messages_created ON messages(tenant_id, created_at);",
    /* 3: the sources (numbered passages) of grounded answers, kept with the message */
    "CREATE TABLE message_sources(message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,"
    " sources TEXT NOT NULL);",
    /* 4: the academy's quiz bank as edited by trainers (body: the question
     * as JSON in quiz.json's format; NULL hides a built-in question) */
    "CREATE TABLE academy_questions(tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " question_id TEXT NOT NULL, level TEXT NOT NULL, body TEXT, updated_by TEXT, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(tenant_id, question_id));",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int store_latest_version(void) { return N_MIGRATIONS; }

static int exec(store *s, const char *sql, rh_error *err)
{
    char *msg = NULL;
    int src = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (src != SQLITE_OK) {
        int rc = rh_error_set(err, store__map_rc(src), "database: %s", msg ? msg : sqlite3_errstr(src));
        sqlite3_free(msg);
        return rc;
    }
    return RH_OK;
}

/* The rows of st into a list of items (store__collect), and emptying a list. */
#define COLLECT(st, list, read)                                                                \
    store__collect(st, (void **)&(list)->items, &(list)->n, sizeof *(list)->items, read)
#define LIST_RESET(list) store__list_reset((void **)&(list)->items, &(list)->n)

static sqlite3_stmt *prep(store *s, const char *sql) { return store__prep(s->db, sql); }

/* Run a statement that returns no rows; RH_ENOTFOUND when it changed none
 * and `need_change` is set. */
static int run(store *s, sqlite3_stmt *st, int need_change) { return store__run(s->db, st, need_change); }

#define LOCK(s) pthread_mutex_lock(&(s)->lock)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->lock)

/* Run `sql` with two integer parameters under the lock (see run()). */
static int run_ids(store *s, const char *sql, int64_t a, int64_t b, int need_change)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, sql);
    if (st) {
        sqlite3_bind_int64(st, 1, a);
        sqlite3_bind_int64(st, 2, b);
    }
    int rc = run(s, st, need_change);
    UNLOCK(s);
    return rc;
}

/* The integer result of `sql` with one integer parameter, under the lock;
 * RH_EIO when the query fails or gives no row. */
static int query_int(store *s, const char *sql, int64_t a, int64_t *out)
{
    int rc = RH_EIO;
    LOCK(s);
    sqlite3_stmt *st = prep(s, sql);
    if (st) {
        sqlite3_bind_int64(st, 1, a);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = RH_OK;
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return rc;
}

static int read_version(store *s, int *v)
{
    sqlite3_stmt *st = prep(s, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!st)
        return RH_EIO;
    int rc = RH_EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        rc = RH_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int migrate(store *s, rh_error *err)
{
    int rc;
    if ((rc = exec(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY,"
                      " applied_at INTEGER NOT NULL)", err)))
        return rc;
    for (;;) {
        int v = 0;
        if ((rc = exec(s, "BEGIN IMMEDIATE", err)))
            return rc;
        if ((rc = read_version(s, &v))) {
            exec(s, "ROLLBACK", NULL);
            return rh_error_set(err, rc, "database: cannot read schema_version");
        }
        if (v > N_MIGRATIONS) {
            exec(s, "ROLLBACK", NULL);
            return rh_error_set(err, RH_EUNSUPPORTED,
                                "the database has schema version %d, newer than this program (%d); "
                                "please update rathaus", v, N_MIGRATIONS);
        }
        if (v == N_MIGRATIONS) {
            s->version = v;
            return exec(s, "COMMIT", err);
        }
        if ((rc = exec(s, migrations[v], err))) {
            exec(s, "ROLLBACK", NULL);
            return rh_error_set(err, rc, "migration %d failed: %s", v + 1, err ? err->msg : "");
        }
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_version(version, applied_at) VALUES(%d, CAST(strftime('%%s','now') AS INTEGER))",
                 v + 1);
        if ((rc = exec(s, sql, err)) || (rc = exec(s, "COMMIT", err))) {
            exec(s, "ROLLBACK", NULL);
            return rc;
        }
    }
}

int store_open(const char *path, store **out, rh_error *err)
{
    int rc = RH_OK;
    store *s = rh_calloc(1, sizeof *s);
    if (!s)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    int src = sqlite3_open_v2(path, &s->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = rh_error_set(err, RH_EIO, "cannot open database %s: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (strcmp(path, ":memory:") && (rc = exec(s, "PRAGMA journal_mode=WAL", err)))
        goto fail;
    if ((rc = exec(s, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", err)))
        goto fail;
    if ((rc = migrate(s, err)))
        goto fail;
    *out = s;
    return RH_OK;
fail:
    store_close(s);
    return rc;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    rh_free(s);
}

int store_schema_version(store *s) { return s->version; }

/* For the other SQL files of this module (store_academy.c). */
struct sqlite3 *store__db(store *s) { return s->db; }
void store__lock(store *s) { pthread_mutex_lock(&s->lock); }
void store__unlock(store *s) { pthread_mutex_unlock(&s->lock); }

int store_ping(store *s)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT 1");
    int rc = st && sqlite3_step(st) == SQLITE_ROW ? RH_OK : RH_EIO;
    sqlite3_finalize(st);
    UNLOCK(s);
    return rc;
}

int store_has_column(store *s, const char *table, const char *column)
{
    int found = 0;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
    if (st) {
        store__bind_text(st, 1, table);
        store__bind_text(st, 2, column);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return found;
}

/* ---------------------------------------------------------------- users */

#define USER_COLS "id, tenant_id, username, display_name, role, lang, disabled, created_at, " \
                  "COALESCE(last_login_at, 0)"

static void read_user(sqlite3_stmt *st, store_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, 0);
    u->tenant_id = sqlite3_column_int64(st, 1);
    u->username = store__col_str(st, 2);
    u->display_name = store__col_str(st, 3);
    u->role = store__col_str(st, 4);
    u->lang = store__col_str(st, 5);
    u->disabled = sqlite3_column_int(st, 6);
    u->created_at = sqlite3_column_int64(st, 7);
    u->last_login_at = sqlite3_column_int64(st, 8);
}

static int user_ok(const store_user *u)
{
    return u->username && u->display_name && u->role;
}

static int load_groups(store *s, store_user *u)
{
    sqlite3_stmt *st = prep(s, "SELECT group_id FROM user_groups WHERE user_id = ? ORDER BY group_id");
    if (!st)
        return RH_EIO;
    sqlite3_bind_int64(st, 1, u->id);
    int rc = RH_OK;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t *g = store__list_push((void **)&u->groups, &u->n_groups, sizeof *g);
        if (!g) {
            rc = RH_ENOMEM;
            break;
        }
        *g = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc;
}

void store_user_free(store_user *u)
{
    if (!u)
        return;
    rh_free(u->username);
    rh_free(u->display_name);
    rh_free(u->role);
    rh_free(u->lang);
    rh_free(u->groups);
    memset(u, 0, sizeof *u);
}

void store_user_list_free(store_users *l)
{
    for (size_t i = 0; i < l->n; i++)
        store_user_free(&l->items[i]);
    LIST_RESET(l);
}

int store_user_count(store *s, int64_t tenant, int64_t *count)
{
    return query_int(s, "SELECT COUNT(*) FROM users WHERE tenant_id = ?", tenant, count);
}

int store_admin_count(store *s, int64_t tenant, int64_t *count)
{
    return query_int(s, "SELECT COUNT(*) FROM users WHERE tenant_id = ? AND role = 'admin' AND disabled = 0",
                     tenant, count);
}

static int insert_user(store *s, int64_t tenant, const char *username, const char *display_name,
                       const char *hash, const char *role, int64_t *id, rh_error *err)
{
    sqlite3_stmt *st = prep(s, "INSERT INTO users(tenant_id, username, display_name, password_hash, role,"
                               " created_at, updated_at) VALUES(?,?,?,?,?, CAST(strftime('%s','now') AS INTEGER),"
                               " CAST(strftime('%s','now') AS INTEGER))");
    if (!st)
        return rh_error_set(err, RH_EIO, "database: %s", sqlite3_errmsg(s->db));
    sqlite3_bind_int64(st, 1, tenant);
    store__bind_text(st, 2, username);
    store__bind_text(st, 3, display_name ? display_name : "");
    store__bind_text(st, 4, hash);
    store__bind_text(st, 5, role);
    int src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        if ((src & 0xff) == SQLITE_CONSTRAINT)
            return rh_error_set(err, RH_EEXIST, "user '%s' exists already or the role is invalid", username);
        return rh_error_set(err, store__map_rc(src), "database: %s", sqlite3_errmsg(s->db));
    }
    if (id)
        *id = sqlite3_last_insert_rowid(s->db);
    return RH_OK;
}

int store_user_create(store *s, int64_t tenant, const char *username, const char *display_name,
                      const char *password_hash, const char *role, int64_t *id, rh_error *err)
{
    LOCK(s);
    int rc = insert_user(s, tenant, username, display_name, password_hash, role, id, err);
    UNLOCK(s);
    return rc;
}

int store_user_create_first(store *s, int64_t tenant, const char *username,
                            const char *display_name, const char *password_hash, int64_t *id,
                            rh_error *err)
{
    int rc;
    LOCK(s);
    if ((rc = exec(s, "BEGIN IMMEDIATE", err)))
        goto out;
    sqlite3_stmt *st = prep(s, "SELECT COUNT(*) FROM users WHERE tenant_id = ?");
    int64_t n = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (n != 0) {
        exec(s, "ROLLBACK", NULL);
        rc = n < 0 ? rh_error_set(err, RH_EIO, "database: cannot count users")
                   : rh_error_set(err, RH_EEXIST, "set-up is already done");
        goto out;
    }
    if ((rc = insert_user(s, tenant, username, display_name, password_hash, "admin", id, err))) {
        exec(s, "ROLLBACK", NULL);
        goto out;
    }
    if ((rc = exec(s, "COMMIT", err)))
        exec(s, "ROLLBACK", NULL);
out:
    UNLOCK(s);
    return rc;
}

int store_user_get(store *s, int64_t tenant, int64_t id, store_user *out)
{
    int rc = RH_ENOTFOUND;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT " USER_COLS " FROM users WHERE tenant_id = ? AND id = ?");
    if (!st) {
        rc = RH_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        read_user(st, out);
        rc = user_ok(out) ? load_groups(s, out) : RH_ENOMEM;
        if (rc)
            store_user_free(out);
    }
    sqlite3_finalize(st);
out:
    UNLOCK(s);
    return rc;
}

int store_user_by_name(store *s, int64_t tenant, const char *username, store_user *out,
                       char **password_hash)
{
    int rc = RH_ENOTFOUND;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT " USER_COLS ", password_hash FROM users WHERE tenant_id = ? AND username = ?");
    if (!st) {
        rc = RH_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, tenant);
    store__bind_text(st, 2, username);
    if (sqlite3_step(st) == SQLITE_ROW) {
        read_user(st, out);
        rc = user_ok(out) ? load_groups(s, out) : RH_ENOMEM;
        if (!rc && password_hash && !(*password_hash = store__col_str(st, 9)))
            rc = RH_ENOMEM;
        if (rc)
            store_user_free(out);
    }
    sqlite3_finalize(st);
out:
    UNLOCK(s);
    return rc;
}

int store_user_password_hash(store *s, int64_t id, char **password_hash)
{
    int rc = RH_ENOTFOUND;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT password_hash FROM users WHERE id = ?");
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            rc = (*password_hash = store__col_str(st, 0)) ? RH_OK : RH_ENOMEM;
        sqlite3_finalize(st);
    } else {
        rc = RH_EIO;
    }
    UNLOCK(s);
    return rc;
}

int store_user_list_all(store *s, int64_t tenant, store_users *out)
{
    int rc = RH_OK;
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT " USER_COLS " FROM users WHERE tenant_id = ? ORDER BY username");
    if (!st) {
        rc = RH_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, tenant);
    while (sqlite3_step(st) == SQLITE_ROW) {
        store_user *u = store__list_push((void **)&out->items, &out->n, sizeof *u);
        if (!u) {
            rc = RH_ENOMEM;
            break;
        }
        read_user(st, u);
        if (!user_ok(u) || (rc = load_groups(s, u))) {
            rc = RH_ENOMEM;
            break;
        }
    }
    sqlite3_finalize(st);
out:
    UNLOCK(s);
    if (rc)
        store_user_list_free(out);
    return rc;
}

int store_user_update(store *s, int64_t tenant, int64_t id, const char *display_name,
                      const char *role, const char *lang, int disabled)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "UPDATE users SET display_name = COALESCE(?, display_name),"
                               " role = COALESCE(?, role), lang = CASE WHEN ? IS NULL THEN lang ELSE NULLIF(?, '') END,"
                               " disabled = CASE WHEN ? < 0 THEN disabled ELSE ? END,"
                               " updated_at = CAST(strftime('%s','now') AS INTEGER)"
                               " WHERE tenant_id = ? AND id = ?");
    if (st) {
        store__bind_text(st, 1, display_name);
        store__bind_text(st, 2, role);
        store__bind_text(st, 3, lang);
        store__bind_text(st, 4, lang);
        sqlite3_bind_int(st, 5, disabled);
        sqlite3_bind_int(st, 6, disabled);
        sqlite3_bind_int64(st, 7, tenant);
        sqlite3_bind_int64(st, 8, id);
    }
    int rc = run(s, st, 1);
    UNLOCK(s);
    return rc == RH_EEXIST ? RH_EINVAL : rc;
}

int store_user_set_password(store *s, int64_t id, const char *password_hash)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "UPDATE users SET password_hash = ?, updated_at = CAST(strftime('%s','now') AS INTEGER) WHERE id = ?");
    if (st) {
        store__bind_text(st, 1, password_hash);
        sqlite3_bind_int64(st, 2, id);
    }
    int rc = run(s, st, 1);
    UNLOCK(s);
    return rc;
}

int store_user_set_groups(store *s, int64_t tenant, int64_t id, const int64_t *groups, size_t n)
{
    int rc;
    LOCK(s);
    if ((rc = exec(s, "BEGIN IMMEDIATE", NULL)))
        goto out;
    sqlite3_stmt *st = prep(s, "DELETE FROM user_groups WHERE user_id = ?");
    if (st)
        sqlite3_bind_int64(st, 1, id);
    if ((rc = run(s, st, 0)))
        goto rollback;
    for (size_t i = 0; i < n; i++) {
        /* only groups of the same tenant */
        st = prep(s, "INSERT OR IGNORE INTO user_groups(tenant_id, user_id, group_id)"
                     " SELECT ?, ?, id FROM groups WHERE id = ? AND tenant_id = ?");
        if (st) {
            sqlite3_bind_int64(st, 1, tenant);
            sqlite3_bind_int64(st, 2, id);
            sqlite3_bind_int64(st, 3, groups[i]);
            sqlite3_bind_int64(st, 4, tenant);
        }
        if ((rc = run(s, st, 1))) {
            if (rc == RH_ENOTFOUND)
                rc = RH_EINVAL;
            goto rollback;
        }
    }
    rc = exec(s, "COMMIT", NULL);
    if (!rc)
        goto out;
rollback:
    exec(s, "ROLLBACK", NULL);
out:
    UNLOCK(s);
    return rc;
}

int store_user_touch_login(store *s, int64_t id, int64_t now)
{
    return run_ids(s, "UPDATE users SET last_login_at = ? WHERE id = ?", now, id, 1);
}

int store_user_delete(store *s, int64_t tenant, int64_t id)
{
    return run_ids(s, "DELETE FROM users WHERE tenant_id = ? AND id = ?", tenant, id, 1);
}

/* --------------------------------------------------------------- groups */

void store_group_free(store_group *g)
{
    if (g) {
        rh_free(g->name);
        g->name = NULL;
    }
}

void store_group_list_free(store_groups *l)
{
    for (size_t i = 0; i < l->n; i++)
        store_group_free(&l->items[i]);
    LIST_RESET(l);
}

int store_group_create(store *s, int64_t tenant, const char *name, int64_t *id)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO groups(tenant_id, name, created_at) VALUES(?, ?, CAST(strftime('%s','now') AS INTEGER))");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        store__bind_text(st, 2, name);
    }
    int rc = run(s, st, 0);
    if (!rc && id)
        *id = sqlite3_last_insert_rowid(s->db);
    UNLOCK(s);
    return rc;
}

#define GROUP_SQL "SELECT g.id, g.name, (SELECT COUNT(*) FROM user_groups ug WHERE ug.group_id = g.id) FROM groups g"

static int read_group(sqlite3_stmt *st, void *item)
{
    store_group *g = item;
    g->id = sqlite3_column_int64(st, 0);
    g->members = sqlite3_column_int64(st, 2);
    return (g->name = store__col_str(st, 1)) ? RH_OK : RH_ENOMEM;
}

int store_group_list_all(store *s, int64_t tenant, store_groups *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, GROUP_SQL " WHERE g.tenant_id = ? ORDER BY g.name");
    if (st)
        sqlite3_bind_int64(st, 1, tenant);
    int rc = COLLECT(st, out, read_group);
    UNLOCK(s);
    if (rc)
        store_group_list_free(out);
    return rc;
}

int store_group_get(store *s, int64_t tenant, int64_t id, store_group *out)
{
    int rc = RH_ENOTFOUND;
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, GROUP_SQL " WHERE g.tenant_id = ? AND g.id = ?");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            rc = read_group(st, out);
        sqlite3_finalize(st);
    } else {
        rc = RH_EIO;
    }
    UNLOCK(s);
    return rc;
}

int store_group_rename(store *s, int64_t tenant, int64_t id, const char *name)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "UPDATE groups SET name = ? WHERE tenant_id = ? AND id = ?");
    if (st) {
        store__bind_text(st, 1, name);
        sqlite3_bind_int64(st, 2, tenant);
        sqlite3_bind_int64(st, 3, id);
    }
    int rc = run(s, st, 1);
    UNLOCK(s);
    return rc;
}

int store_group_delete(store *s, int64_t tenant, int64_t id)
{
    return run_ids(s, "DELETE FROM groups WHERE tenant_id = ? AND id = ?", tenant, id, 1);
}

/* ------------------------------------------------------------- sessions */

int store_session_create(store *s, int64_t tenant, const char *token_hash, const char *csrf,
                         int64_t user_id, const char *ip, int64_t now)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO sessions(tenant_id, token_hash, csrf, user_id, created_at, last_seen, ip)"
                               " VALUES(?,?,?,?,?,?,?)");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        store__bind_text(st, 2, token_hash);
        store__bind_text(st, 3, csrf);
        sqlite3_bind_int64(st, 4, user_id);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, now);
        store__bind_text(st, 7, ip);
    }
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

int store_session_lookup(store *s, const char *token_hash, int64_t now, long idle_s,
                         long absolute_s, store_session *out)
{
    int rc = RH_ENOTFOUND, expired = 0;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT id, user_id, csrf, created_at, last_seen FROM sessions WHERE token_hash = ?");
    if (!st) {
        rc = RH_EIO;
        goto out;
    }
    store__bind_text(st, 1, token_hash);
    if (sqlite3_step(st) == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        out->user_id = sqlite3_column_int64(st, 1);
        const unsigned char *c = sqlite3_column_text(st, 2);
        snprintf(out->csrf, sizeof out->csrf, "%s", c ? (const char *)c : "");
        out->created_at = sqlite3_column_int64(st, 3);
        out->last_seen = sqlite3_column_int64(st, 4);
        if (now - out->last_seen > idle_s || now - out->created_at > absolute_s)
            expired = 1;
        else
            rc = RH_OK;
    }
    sqlite3_finalize(st);
    if (expired) {
        st = prep(s, "DELETE FROM sessions WHERE id = ?");
        if (st)
            sqlite3_bind_int64(st, 1, out->id);
        run(s, st, 0);
    } else if (rc == RH_OK && now - out->last_seen >= 10) {
        /* only write when something changes enough to matter */
        st = prep(s, "UPDATE sessions SET last_seen = ? WHERE id = ?");
        if (st) {
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_int64(st, 2, out->id);
        }
        run(s, st, 0);
    }
out:
    UNLOCK(s);
    return rc;
}

int store_session_delete(store *s, const char *token_hash)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "DELETE FROM sessions WHERE token_hash = ?");
    if (st)
        store__bind_text(st, 1, token_hash);
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

int store_session_delete_user(store *s, int64_t user_id)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "DELETE FROM sessions WHERE user_id = ?");
    if (st)
        sqlite3_bind_int64(st, 1, user_id);
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

int store_session_delete_others(store *s, int64_t user_id, const char *keep_hash)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?");
    if (st) {
        sqlite3_bind_int64(st, 1, user_id);
        store__bind_text(st, 2, keep_hash ? keep_hash : "");
    }
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

int store_session_purge(store *s, int64_t now, long idle_s, long absolute_s)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?");
    if (st) {
        sqlite3_bind_int64(st, 1, now - idle_s);
        sqlite3_bind_int64(st, 2, now - absolute_s);
    }
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

/* ------------------------------------------------------------- API keys */

void store_apikey_free(store_apikey *k)
{
    if (!k)
        return;
    rh_free(k->name);
    rh_free(k->prefix);
    k->name = k->prefix = NULL;
}

void store_apikey_list_free(store_apikeys *l)
{
    for (size_t i = 0; i < l->n; i++)
        store_apikey_free(&l->items[i]);
    LIST_RESET(l);
}

int store_apikey_create(store *s, int64_t tenant, int64_t user_id, const char *name,
                        const char *key_hash, const char *prefix, int64_t now, int64_t *id)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO api_keys(tenant_id, user_id, name, key_hash, prefix, created_at)"
                               " VALUES(?,?,?,?,?,?)");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, user_id);
        store__bind_text(st, 3, name);
        store__bind_text(st, 4, key_hash);
        store__bind_text(st, 5, prefix);
        sqlite3_bind_int64(st, 6, now);
    }
    int rc = run(s, st, 0);
    if (!rc && id)
        *id = sqlite3_last_insert_rowid(s->db);
    UNLOCK(s);
    return rc;
}

static int read_key(sqlite3_stmt *st, void *item)
{
    store_apikey *k = item;
    k->id = sqlite3_column_int64(st, 0);
    k->user_id = sqlite3_column_int64(st, 1);
    k->name = store__col_str(st, 2);
    k->prefix = store__col_str(st, 3);
    k->created_at = sqlite3_column_int64(st, 4);
    k->last_used_at = sqlite3_column_int64(st, 5);
    k->revoked = sqlite3_column_int(st, 6);
    return k->name && k->prefix ? RH_OK : RH_ENOMEM;
}

#define KEY_COLS "id, user_id, name, prefix, created_at, COALESCE(last_used_at, 0), revoked"

int store_apikey_list_user(store *s, int64_t user_id, store_apikeys *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT " KEY_COLS " FROM api_keys WHERE user_id = ? AND revoked = 0 ORDER BY id");
    if (st)
        sqlite3_bind_int64(st, 1, user_id);
    int rc = COLLECT(st, out, read_key);
    UNLOCK(s);
    if (rc)
        store_apikey_list_free(out);
    return rc;
}

int store_apikey_revoke(store *s, int64_t user_id, int64_t id)
{
    return run_ids(s, "UPDATE api_keys SET revoked = 1 WHERE user_id = ? AND id = ? AND revoked = 0",
                   user_id, id, 1);
}

int store_apikey_lookup(store *s, const char *key_hash, int64_t now, store_apikey *out)
{
    int rc = RH_ENOTFOUND;
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = ? AND revoked = 0");
    if (!st) {
        rc = RH_EIO;
        goto out;
    }
    store__bind_text(st, 1, key_hash);
    if (sqlite3_step(st) == SQLITE_ROW) {
        rc = read_key(st, out);
        if (rc)
            store_apikey_free(out);
    }
    sqlite3_finalize(st);
    if (!rc) {
        st = prep(s, "UPDATE api_keys SET last_used_at = ? WHERE id = ?");
        if (st) {
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_int64(st, 2, out->id);
        }
        run(s, st, 0);
    }
out:
    UNLOCK(s);
    return rc;
}

/* -------------------------------------------------------- conversations */

void store_conv_free(store_conv *c)
{
    if (!c)
        return;
    rh_free(c->title);
    rh_free(c->model);
    rh_free(c->system_prompt);
    c->title = c->model = c->system_prompt = NULL;
}

void store_conv_list_free(store_convs *l)
{
    for (size_t i = 0; i < l->n; i++)
        store_conv_free(&l->items[i]);
    LIST_RESET(l);
}

#define CONV_COLS "id, user_id, title, model, system_prompt, created_at, updated_at"

static int read_conv(sqlite3_stmt *st, void *item)
{
    store_conv *c = item;
    c->id = sqlite3_column_int64(st, 0);
    c->user_id = sqlite3_column_int64(st, 1);
    c->title = store__col_str(st, 2);
    c->model = store__col_str(st, 3);
    c->system_prompt = store__col_str(st, 4);
    c->created_at = sqlite3_column_int64(st, 5);
    c->updated_at = sqlite3_column_int64(st, 6);
    return c->title ? RH_OK : RH_ENOMEM;
}

int store_conv_create(store *s, int64_t tenant, int64_t user_id, const char *title,
                      const char *model, const char *system_prompt, int64_t now, int64_t *id)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO conversations(tenant_id, user_id, title, model, system_prompt,"
                               " created_at, updated_at) VALUES(?,?,?,?,?,?,?)");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, user_id);
        store__bind_text(st, 3, title ? title : "");
        store__bind_text(st, 4, model);
        store__bind_text(st, 5, system_prompt);
        sqlite3_bind_int64(st, 6, now);
        sqlite3_bind_int64(st, 7, now);
    }
    int rc = run(s, st, 0);
    if (!rc && id)
        *id = sqlite3_last_insert_rowid(s->db);
    UNLOCK(s);
    return rc;
}

int store_conv_list(store *s, int64_t user_id, const char *q, size_t limit, store_convs *out)
{
    char *pat = NULL;
    memset(out, 0, sizeof *out);
    if (q && *q) {
        /* escape LIKE wildcards so the search is for the literal text */
        size_t n = strlen(q);
        pat = rh_malloc(n * 2 + 3);
        if (!pat)
            return RH_ENOMEM;
        size_t j = 0;
        pat[j++] = '%';
        for (size_t i = 0; i < n; i++) {
            if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
                pat[j++] = '\\';
            pat[j++] = q[i];
        }
        pat[j++] = '%';
        pat[j] = '\0';
    }
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT " CONV_COLS " FROM conversations WHERE user_id = ?"
                               " AND (? IS NULL OR title LIKE ? ESCAPE '\\')"
                               " ORDER BY updated_at DESC, id DESC LIMIT ?");
    if (st) {
        sqlite3_bind_int64(st, 1, user_id);
        store__bind_text(st, 2, pat);
        store__bind_text(st, 3, pat);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)(limit ? limit : 1000));
    }
    int rc = COLLECT(st, out, read_conv);
    UNLOCK(s);
    rh_free(pat);
    if (rc)
        store_conv_list_free(out);
    return rc;
}

int store_conv_get(store *s, int64_t user_id, int64_t id, store_conv *out)
{
    int rc = RH_ENOTFOUND;
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT " CONV_COLS " FROM conversations WHERE user_id = ? AND id = ?");
    if (st) {
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            rc = read_conv(st, out);
            if (rc)
                store_conv_free(out);
        }
        sqlite3_finalize(st);
    } else {
        rc = RH_EIO;
    }
    UNLOCK(s);
    return rc;
}

int store_conv_update(store *s, int64_t user_id, int64_t id, const char *title,
                      const char *system_prompt, const char *model, int64_t now)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "UPDATE conversations SET title = COALESCE(?, title),"
                               " system_prompt = COALESCE(?, system_prompt), model = COALESCE(?, model),"
                               " updated_at = ? WHERE user_id = ? AND id = ?");
    if (st) {
        store__bind_text(st, 1, title);
        store__bind_text(st, 2, system_prompt);
        store__bind_text(st, 3, model);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, user_id);
        sqlite3_bind_int64(st, 6, id);
    }
    int rc = run(s, st, 1);
    UNLOCK(s);
    return rc;
}

int store_conv_delete(store *s, int64_t user_id, int64_t id)
{
    return run_ids(s, "DELETE FROM conversations WHERE user_id = ? AND id = ?", user_id, id, 1);
}

/* ------------------------------------------------------------- messages */

void store_msg_list_free(store_msgs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        store_msg *m = &l->items[i];
        rh_free(m->role);
        rh_free(m->content);
        rh_free(m->model);
        rh_free(m->finish_reason);
    }
    LIST_RESET(l);
}

int store_msg_add(store *s, int64_t conv_id, const char *role, const char *content,
                  const char *model, int64_t now, int64_t *id)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO messages(tenant_id, conversation_id, role, content, model, created_at)"
                               " SELECT tenant_id, id, ?, ?, ?, ? FROM conversations WHERE id = ?");
    if (st) {
        store__bind_text(st, 1, role);
        store__bind_text(st, 2, content ? content : "");
        store__bind_text(st, 3, model);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, conv_id);
    }
    int rc = run(s, st, 1);
    if (!rc) {
        if (id)
            *id = sqlite3_last_insert_rowid(s->db);
        st = prep(s, "UPDATE conversations SET updated_at = ? WHERE id = ?");
        if (st) {
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_int64(st, 2, conv_id);
        }
        run(s, st, 0);
    }
    UNLOCK(s);
    return rc;
}

int store_msg_finish(store *s, int64_t id, const char *content, int64_t prompt_tokens,
                     int64_t completion_tokens, const char *finish_reason)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "UPDATE messages SET content = ?, prompt_tokens = ?, completion_tokens = ?,"
                               " finish_reason = ? WHERE id = ?");
    if (st) {
        store__bind_text(st, 1, content ? content : "");
        sqlite3_bind_int64(st, 2, prompt_tokens);
        sqlite3_bind_int64(st, 3, completion_tokens);
        store__bind_text(st, 4, finish_reason);
        sqlite3_bind_int64(st, 5, id);
    }
    int rc = run(s, st, 1);
    UNLOCK(s);
    return rc;
}

static int read_msg(sqlite3_stmt *st, void *item)
{
    store_msg *m = item;
    m->id = sqlite3_column_int64(st, 0);
    m->role = store__col_str(st, 1);
    m->content = store__col_str(st, 2);
    m->model = store__col_str(st, 3);
    m->prompt_tokens = sqlite3_column_int64(st, 4);
    m->completion_tokens = sqlite3_column_int64(st, 5);
    m->finish_reason = store__col_str(st, 6);
    m->created_at = sqlite3_column_int64(st, 7);
    return m->role && m->content ? RH_OK : RH_ENOMEM;
}

int store_msg_list(store *s, int64_t conv_id, store_msgs *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT id, role, content, model, prompt_tokens, completion_tokens, finish_reason,"
                               " created_at FROM messages WHERE conversation_id = ? ORDER BY id");
    if (st)
        sqlite3_bind_int64(st, 1, conv_id);
    int rc = COLLECT(st, out, read_msg);
    UNLOCK(s);
    if (rc)
        store_msg_list_free(out);
    return rc;
}

int store_msg_set_sources(store *s, int64_t msg_id, const char *json)
{
    int rc = RH_OK;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT OR REPLACE INTO message_sources(message_id, sources) VALUES(?, ?)");
    if (!st) {
        rc = RH_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, msg_id);
    sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = RH_EIO;
    sqlite3_finalize(st);
out:
    UNLOCK(s);
    return rc;
}

int store_msg_sources(store *s, int64_t msg_id, char **json)
{
    int rc = RH_ENOTFOUND;
    *json = NULL;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT sources FROM message_sources WHERE message_id = ?");
    if (!st) {
        rc = RH_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, msg_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *json = store__col_str(st, 0);
        rc = *json ? RH_OK : RH_ENOMEM;
    }
    sqlite3_finalize(st);
out:
    UNLOCK(s);
    return rc;
}

int store_msg_delete_from(store *s, int64_t conv_id, int64_t from_id)
{
    return run_ids(s, "DELETE FROM messages WHERE conversation_id = ? AND id >= ?", conv_id, from_id, 0);
}

/* ---------------------------------------------------------------- audit */

int store_audit_add(store *s, int64_t tenant, const char *actor, const char *action,
                    const char *target, const char *detail, const char *ip, int64_t now)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO audit(tenant_id, time, actor, action, target, detail, ip)"
                               " VALUES(?,?,?,?,?,?,?)");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, now);
        store__bind_text(st, 3, actor);
        store__bind_text(st, 4, action);
        store__bind_text(st, 5, target);
        store__bind_text(st, 6, detail);
        store__bind_text(st, 7, ip);
    }
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

void store_audit_list_free(store_audits *l)
{
    for (size_t i = 0; i < l->n; i++) {
        store_audit *a = &l->items[i];
        rh_free(a->actor);
        rh_free(a->action);
        rh_free(a->target);
        rh_free(a->detail);
        rh_free(a->ip);
    }
    LIST_RESET(l);
}

static int read_audit(sqlite3_stmt *st, void *item)
{
    store_audit *a = item;
    a->id = sqlite3_column_int64(st, 0);
    a->time = sqlite3_column_int64(st, 1);
    a->actor = store__col_str(st, 2);
    a->action = store__col_str(st, 3);
    a->target = store__col_str(st, 4);
    a->detail = store__col_str(st, 5);
    a->ip = store__col_str(st, 6);
    return a->action ? RH_OK : RH_ENOMEM;
}

int store_audit_list(store *s, int64_t tenant, int64_t before, size_t limit, store_audits *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT id, time, actor, action, target, detail, ip FROM audit"
                               " WHERE tenant_id = ? AND (? <= 0 OR id < ?) ORDER BY id DESC LIMIT ?");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, before);
        sqlite3_bind_int64(st, 3, before);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
    }
    int rc = COLLECT(st, out, read_audit);
    UNLOCK(s);
    if (rc)
        store_audit_list_free(out);
    return rc;
}

/* ------------------------------------------------------------- settings */

int store_setting_get(store *s, const char *key, char **value)
{
    int rc = RH_ENOTFOUND;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT value FROM settings WHERE key = ?");
    if (st) {
        store__bind_text(st, 1, key);
        if (sqlite3_step(st) == SQLITE_ROW)
            rc = (*value = store__col_str(st, 0)) ? RH_OK : RH_ENOMEM;
        sqlite3_finalize(st);
    } else {
        rc = RH_EIO;
    }
    UNLOCK(s);
    return rc;
}

int store_setting_set(store *s, const char *key, const char *value)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO settings(key, value) VALUES(?, ?)"
                               " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (st) {
        store__bind_text(st, 1, key);
        store__bind_text(st, 2, value);
    }
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

int store_tokens_total(store *s, int64_t *prompt, int64_t *completion)
{
    int rc = RH_EIO;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0) FROM messages");
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *prompt = sqlite3_column_int64(st, 0);
            *completion = sqlite3_column_int64(st, 1);
            rc = RH_OK;
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return rc;
}
