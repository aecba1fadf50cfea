/*
 * store_academy.c - the SQLite implementation of astore.h: the academy's
 * levels, lesson progress, quiz attempts, trainer-edited lessons, answer
 * feedback and the dashboard queries. Runs on the portal's connection
 * (store__db) under its lock; the tables are created by migration 2 in
 * store_sqlite.c.
 */
#include "store/astore.h"

#include <sqlite3.h>
#include <string.h>

#include "core/alloc.h"
#include "store/sqlite_util.h"

#define LOCK(s) store__lock(s)
#define UNLOCK(s) store__unlock(s)

static sqlite3_stmt *prep(store *s, const char *sql) { return store__prep(store__db(s), sql); }

/* Step a statement without rows and finalize it; need_change: RH_ENOTFOUND
 * when no row changed. Caller holds the lock. */
static int run(store *s, sqlite3_stmt *st, int need_change)
{
    return store__run(store__db(s), st, need_change);
}

static int exec(store *s, const char *sql)
{
    return sqlite3_exec(store__db(s), sql, NULL, NULL, NULL) == SQLITE_OK ? RH_OK : RH_EIO;
}

/* The rows of st into a list of items (store__collect), and emptying a list. */
#define COLLECT(st, list, read)                                                                \
    store__collect(st, (void **)&(list)->items, &(list)->n, sizeof *(list)->items, read)
#define LIST_RESET(list) store__list_reset((void **)&(list)->items, &(list)->n)

/* Run a DELETE of one row keyed by (tenant, text key) under the lock;
 * RH_ENOTFOUND when there was none. */
static int delete_key(store *s, const char *sql, int64_t tenant, const char *key)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, sql);
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        store__bind_text(st, 2, key);
    }
    int rc = run(s, st, 1);
    UNLOCK(s);
    return rc;
}

/* ------------------------------------------------------------ levels */

void astore_level_clear(astore_level *l)
{
    if (!l)
        return;
    rh_free(l->level);
    rh_free(l->awarded_by);
    rh_free(l->via);
    memset(l, 0, sizeof *l);
}

static int level_get_locked(store *s, int64_t user_id, astore_level *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = prep(s, "SELECT level, awarded_at, awarded_by, via FROM academy_levels WHERE user_id = ?");
    if (!st)
        return RH_EIO;
    sqlite3_bind_int64(st, 1, user_id);
    int rc = RH_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->level = store__col_str(st, 0);
        out->awarded_at = sqlite3_column_int64(st, 1);
        out->awarded_by = store__col_str(st, 2);
        out->via = store__col_str(st, 3);
        rc = out->level && out->via ? RH_OK : RH_ENOMEM;
        if (rc)
            astore_level_clear(out);
    }
    sqlite3_finalize(st);
    return rc;
}

int astore_level_get(store *s, int64_t user_id, astore_level *out)
{
    LOCK(s);
    int rc = level_get_locked(s, user_id, out);
    UNLOCK(s);
    return rc;
}

int astore_level_set(store *s, int64_t tenant, int64_t user_id, const char *level, const char *action,
                     const char *via, const char *actor, const char *reason, int64_t now)
{
    int rc;
    astore_level cur;
    LOCK(s);
    if ((rc = exec(s, "BEGIN IMMEDIATE")))
        goto out_unlock;
    int have = level_get_locked(s, user_id, &cur) == RH_OK;
    sqlite3_stmt *st;
    if (level) {
        st = prep(s, "INSERT INTO academy_levels(user_id, tenant_id, level, awarded_at, awarded_by, via)"
                     " SELECT id, tenant_id, ?, ?, ?, ? FROM users WHERE id = ? AND tenant_id = ?"
                     " ON CONFLICT(user_id) DO UPDATE SET level = excluded.level,"
                     " awarded_at = excluded.awarded_at, awarded_by = excluded.awarded_by, via = excluded.via");
        if (st) {
            store__bind_text(st, 1, level);
            sqlite3_bind_int64(st, 2, now);
            store__bind_text(st, 3, actor);
            store__bind_text(st, 4, via);
            sqlite3_bind_int64(st, 5, user_id);
            sqlite3_bind_int64(st, 6, tenant);
        }
        rc = run(s, st, 1);
    } else {
        st = prep(s, "DELETE FROM academy_levels WHERE user_id = ? AND tenant_id = ?");
        if (st) {
            sqlite3_bind_int64(st, 1, user_id);
            sqlite3_bind_int64(st, 2, tenant);
        }
        rc = run(s, st, 0);
    }
    if (rc == RH_OK) {
        st = prep(s, "INSERT INTO academy_level_log(tenant_id, user_id, action, level, previous, via, actor,"
                     " reason, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
        if (st) {
            sqlite3_bind_int64(st, 1, tenant);
            sqlite3_bind_int64(st, 2, user_id);
            store__bind_text(st, 3, action);
            store__bind_text(st, 4, level);
            store__bind_text(st, 5, have ? cur.level : NULL);
            store__bind_text(st, 6, via);
            store__bind_text(st, 7, actor);
            store__bind_text(st, 8, reason);
            sqlite3_bind_int64(st, 9, now);
        }
        rc = run(s, st, 0);
    }
    if (have)
        astore_level_clear(&cur);
    if (rc == RH_OK && (rc = exec(s, "COMMIT")) == RH_OK)
        goto out_unlock;
    exec(s, "ROLLBACK");
out_unlock:
    UNLOCK(s);
    return rc;
}

void astore_events_free(astore_events *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        astore_event *e = &l->items[i];
        rh_free(e->action);
        rh_free(e->level);
        rh_free(e->previous);
        rh_free(e->via);
        rh_free(e->actor);
        rh_free(e->reason);
    }
    if (l)
        LIST_RESET(l);
}

static int read_event(sqlite3_stmt *st, void *item)
{
    astore_event *e = item;
    e->id = sqlite3_column_int64(st, 0);
    e->action = store__col_str(st, 1);
    e->level = store__col_str(st, 2);
    e->previous = store__col_str(st, 3);
    e->via = store__col_str(st, 4);
    e->actor = store__col_str(st, 5);
    e->reason = store__col_str(st, 6);
    e->at = sqlite3_column_int64(st, 7);
    return RH_OK;
}

int astore_level_log(store *s, int64_t user_id, astore_events *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT id, action, level, previous, via, actor, reason, created_at"
                               " FROM academy_level_log WHERE user_id = ? ORDER BY id");
    if (st)
        sqlite3_bind_int64(st, 1, user_id);
    int rc = COLLECT(st, out, read_event);
    UNLOCK(s);
    if (rc)
        astore_events_free(out);
    return rc;
}

/* ------------------------------------------------------------ lessons done */

int astore_lesson_complete(store *s, int64_t tenant, int64_t user_id, const char *lesson_id, int64_t now)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO academy_progress(tenant_id, user_id, lesson_id, completed_at)"
                               " VALUES(?, ?, ?, ?) ON CONFLICT(user_id, lesson_id) DO NOTHING");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, user_id);
        store__bind_text(st, 3, lesson_id);
        sqlite3_bind_int64(st, 4, now);
    }
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

void astore_dones_free(astore_dones *l)
{
    for (size_t i = 0; l && i < l->n; i++)
        rh_free(l->items[i].lesson_id);
    if (l)
        LIST_RESET(l);
}

static int read_done(sqlite3_stmt *st, void *item)
{
    astore_done *d = item;
    if (!(d->lesson_id = store__col_str(st, 0)))
        return RH_ENOMEM;
    d->at = sqlite3_column_int64(st, 1);
    return RH_OK;
}

int astore_lessons_done(store *s, int64_t user_id, astore_dones *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT lesson_id, completed_at FROM academy_progress WHERE user_id = ?"
                               " ORDER BY completed_at, lesson_id");
    if (st)
        sqlite3_bind_int64(st, 1, user_id);
    int rc = COLLECT(st, out, read_done);
    UNLOCK(s);
    if (rc)
        astore_dones_free(out);
    return rc;
}

/* ------------------------------------------------------------ attempts */

void astore_attempt_clear(astore_attempt *a)
{
    if (!a)
        return;
    rh_free(a->level);
    rh_free(a->plan);
    memset(a, 0, sizeof *a);
}

void astore_attempts_free(astore_attempts *l)
{
    for (size_t i = 0; l && i < l->n; i++)
        astore_attempt_clear(&l->items[i]);
    if (l)
        LIST_RESET(l);
}

#define ATTEMPT_COLS "id, level, plan, started_at, COALESCE(finished_at, 0), COALESCE(correct, 0)," \
                     " COALESCE(total, 0), COALESCE(percent, 0), COALESCE(passed, 0)"

static int read_attempt(sqlite3_stmt *st, void *item)
{
    astore_attempt *a = item;
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    a->level = store__col_str(st, 1);
    a->plan = store__col_str(st, 2);
    a->started_at = sqlite3_column_int64(st, 3);
    a->finished_at = sqlite3_column_int64(st, 4);
    a->correct = sqlite3_column_int(st, 5);
    a->total = sqlite3_column_int(st, 6);
    a->percent = sqlite3_column_int(st, 7);
    a->passed = sqlite3_column_int(st, 8);
    if (!a->level || !a->plan) {
        astore_attempt_clear(a);
        return RH_ENOMEM;
    }
    return RH_OK;
}

int astore_attempt_start(store *s, int64_t tenant, int64_t user_id, const char *level, const char *plan,
                         int64_t now, int64_t *id)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO academy_attempts(tenant_id, user_id, level, plan, started_at)"
                               " VALUES(?, ?, ?, ?, ?)");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, user_id);
        store__bind_text(st, 3, level);
        store__bind_text(st, 4, plan);
        sqlite3_bind_int64(st, 5, now);
    }
    int rc = run(s, st, 0);
    if (rc == RH_OK && id)
        *id = sqlite3_last_insert_rowid(store__db(s));
    UNLOCK(s);
    return rc;
}

static int attempt_one(store *s, const char *sql, int64_t user_id, const char *level, astore_attempt *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, sql);
    int rc = RH_EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, user_id);
        store__bind_text(st, 2, level);
        rc = sqlite3_step(st) == SQLITE_ROW ? read_attempt(st, out) : RH_ENOTFOUND;
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return rc;
}

int astore_attempt_open(store *s, int64_t user_id, const char *level, astore_attempt *out)
{
    return attempt_one(s,
                       "SELECT " ATTEMPT_COLS " FROM academy_attempts WHERE user_id = ? AND level = ?"
                       " AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
                       user_id, level, out);
}

int astore_attempt_last(store *s, int64_t user_id, const char *level, astore_attempt *out)
{
    return attempt_one(s,
                       "SELECT " ATTEMPT_COLS " FROM academy_attempts WHERE user_id = ? AND level = ?"
                       " AND finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1",
                       user_id, level, out);
}

int astore_attempt_finish(store *s, int64_t user_id, int64_t id, int correct, int total, int percent, int passed,
                          int64_t now)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "UPDATE academy_attempts SET finished_at = ?, correct = ?, total = ?, percent = ?,"
                               " passed = ? WHERE id = ? AND user_id = ? AND finished_at IS NULL");
    if (st) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int(st, 2, correct);
        sqlite3_bind_int(st, 3, total);
        sqlite3_bind_int(st, 4, percent);
        sqlite3_bind_int(st, 5, passed ? 1 : 0);
        sqlite3_bind_int64(st, 6, id);
        sqlite3_bind_int64(st, 7, user_id);
    }
    int rc = run(s, st, 1);
    UNLOCK(s);
    return rc;
}

int astore_attempt_list(store *s, int64_t user_id, astore_attempts *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT " ATTEMPT_COLS " FROM academy_attempts WHERE user_id = ?"
                               " AND finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC");
    if (st)
        sqlite3_bind_int64(st, 1, user_id);
    int rc = COLLECT(st, out, read_attempt);
    UNLOCK(s);
    if (rc)
        astore_attempts_free(out);
    return rc;
}

/* ------------------------------------------------------------ edited lessons */

int astore_lesson_put(store *s, int64_t tenant, const astore_lesson *l)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO academy_lessons(tenant_id, lesson_id, level, ord, title, minutes,"
                               " markdown, updated_by, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"
                               " ON CONFLICT(tenant_id, lesson_id) DO UPDATE SET level = excluded.level,"
                               " ord = excluded.ord, title = excluded.title, minutes = excluded.minutes,"
                               " markdown = excluded.markdown, updated_by = excluded.updated_by,"
                               " updated_at = excluded.updated_at");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        store__bind_text(st, 2, l->lesson_id);
        store__bind_text(st, 3, l->level);
        sqlite3_bind_int(st, 4, l->order);
        store__bind_text(st, 5, l->title);
        sqlite3_bind_int(st, 6, l->minutes);
        store__bind_text(st, 7, l->markdown);
        store__bind_text(st, 8, l->updated_by);
        sqlite3_bind_int64(st, 9, l->updated_at);
    }
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

int astore_lesson_delete(store *s, int64_t tenant, const char *lesson_id)
{
    return delete_key(s, "DELETE FROM academy_lessons WHERE tenant_id = ? AND lesson_id = ?",
                      tenant, lesson_id);
}

void astore_lessons_free(astore_lessons *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        astore_lesson *x = &l->items[i];
        rh_free(x->lesson_id);
        rh_free(x->level);
        rh_free(x->title);
        rh_free(x->markdown);
        rh_free(x->updated_by);
    }
    if (l)
        LIST_RESET(l);
}

static int read_lesson(sqlite3_stmt *st, void *item)
{
    astore_lesson *x = item;
    x->lesson_id = store__col_str(st, 0);
    x->level = store__col_str(st, 1);
    x->order = sqlite3_column_int(st, 2);
    x->title = store__col_str(st, 3);
    x->minutes = sqlite3_column_int(st, 4);
    x->markdown = store__col_str(st, 5);
    x->updated_by = store__col_str(st, 6);
    x->updated_at = sqlite3_column_int64(st, 7);
    return x->lesson_id && x->level && x->title && x->markdown ? RH_OK : RH_ENOMEM;
}

int astore_lesson_list(store *s, int64_t tenant, astore_lessons *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT lesson_id, level, ord, title, minutes, markdown, updated_by, updated_at"
                               " FROM academy_lessons WHERE tenant_id = ? ORDER BY lesson_id");
    if (st)
        sqlite3_bind_int64(st, 1, tenant);
    int rc = COLLECT(st, out, read_lesson);
    UNLOCK(s);
    if (rc)
        astore_lessons_free(out);
    return rc;
}

/* ------------------------------------------------------------ quiz bank */

int astore_question_put(store *s, int64_t tenant, const astore_question *q)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO academy_questions(tenant_id, question_id, level, body, updated_by,"
                               " updated_at) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(tenant_id, question_id) DO"
                               " UPDATE SET level = excluded.level, body = excluded.body,"
                               " updated_by = excluded.updated_by, updated_at = excluded.updated_at");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        store__bind_text(st, 2, q->question_id);
        store__bind_text(st, 3, q->level);
        store__bind_text(st, 4, q->body);
        store__bind_text(st, 5, q->updated_by);
        sqlite3_bind_int64(st, 6, q->updated_at);
    }
    int rc = run(s, st, 0);
    UNLOCK(s);
    return rc;
}

int astore_question_delete(store *s, int64_t tenant, const char *question_id)
{
    return delete_key(s, "DELETE FROM academy_questions WHERE tenant_id = ? AND question_id = ?",
                      tenant, question_id);
}

void astore_questions_free(astore_questions *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        astore_question *x = &l->items[i];
        rh_free(x->question_id);
        rh_free(x->level);
        rh_free(x->body);
        rh_free(x->updated_by);
    }
    if (l)
        LIST_RESET(l);
}

static int read_question(sqlite3_stmt *st, void *item)
{
    astore_question *x = item;
    x->question_id = store__col_str(st, 0);
    x->level = store__col_str(st, 1);
    x->body = store__col_str(st, 2);
    x->updated_by = store__col_str(st, 3);
    x->updated_at = sqlite3_column_int64(st, 4);
    if (!x->question_id || !x->level || (sqlite3_column_type(st, 2) != SQLITE_NULL && !x->body))
        return RH_ENOMEM;
    return RH_OK;
}

int astore_question_list(store *s, int64_t tenant, astore_questions *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT question_id, level, body, updated_by, updated_at FROM academy_questions"
                               " WHERE tenant_id = ? ORDER BY question_id");
    if (st)
        sqlite3_bind_int64(st, 1, tenant);
    int rc = COLLECT(st, out, read_question);
    UNLOCK(s);
    if (rc)
        astore_questions_free(out);
    return rc;
}

/* ------------------------------------------------------------ feedback */

int astore_feedback_set(store *s, int64_t tenant, int64_t user_id, int64_t message_id, const char *rating,
                        const char *comment, int64_t now)
{
    LOCK(s);
    sqlite3_stmt *st = prep(s, "INSERT INTO message_feedback(message_id, tenant_id, user_id, rating, comment,"
                               " created_at) SELECT m.id, ?, ?, ?, ?, ? FROM messages m"
                               " JOIN conversations c ON c.id = m.conversation_id"
                               " WHERE m.id = ? AND c.user_id = ? AND c.tenant_id = ? AND m.role = 'assistant'"
                               " ON CONFLICT(message_id) DO UPDATE SET rating = excluded.rating,"
                               " comment = excluded.comment, created_at = excluded.created_at");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, user_id);
        store__bind_text(st, 3, rating);
        store__bind_text(st, 4, comment ? comment : "");
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, message_id);
        sqlite3_bind_int64(st, 7, user_id);
        sqlite3_bind_int64(st, 8, tenant);
    }
    int rc = run(s, st, 1);
    UNLOCK(s);
    return rc;
}

void astore_feedbacks_free(astore_feedbacks *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        rh_free(l->items[i].rating);
        rh_free(l->items[i].comment);
    }
    if (l)
        LIST_RESET(l);
}

static int read_feedback(sqlite3_stmt *st, void *item)
{
    astore_feedback *f = item;
    f->message_id = sqlite3_column_int64(st, 0);
    f->rating = store__col_str(st, 1);
    f->comment = store__col_str(st, 2);
    f->at = sqlite3_column_int64(st, 3);
    return f->rating && f->comment ? RH_OK : RH_ENOMEM;
}

int astore_feedback_conv(store *s, int64_t user_id, int64_t conv_id, astore_feedbacks *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT f.message_id, f.rating, f.comment, f.created_at FROM message_feedback f"
                               " JOIN messages m ON m.id = f.message_id"
                               " JOIN conversations c ON c.id = m.conversation_id"
                               " WHERE c.id = ? AND c.user_id = ? ORDER BY f.message_id");
    if (st) {
        sqlite3_bind_int64(st, 1, conv_id);
        sqlite3_bind_int64(st, 2, user_id);
    }
    int rc = COLLECT(st, out, read_feedback);
    UNLOCK(s);
    if (rc)
        astore_feedbacks_free(out);
    return rc;
}

/* ------------------------------------------------------------ participants */

void astore_participants_free(astore_participants *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        astore_participant *p = &l->items[i];
        rh_free(p->username);
        rh_free(p->display_name);
        rh_free(p->role);
        rh_free(p->groups);
        rh_free(p->level);
        rh_free(p->level_by);
        rh_free(p->level_via);
        rh_free(p->quiz_level);
    }
    if (l)
        LIST_RESET(l);
}

static int read_participant(sqlite3_stmt *st, void *item)
{
    astore_participant *p = item;
    p->user_id = sqlite3_column_int64(st, 0);
    p->username = store__col_str(st, 1);
    p->display_name = store__col_str(st, 2);
    p->role = store__col_str(st, 3);
    p->disabled = sqlite3_column_int(st, 4);
    p->groups = store__col_str(st, 5);
    p->level = store__col_str(st, 6);
    p->level_at = sqlite3_column_int64(st, 7);
    p->level_by = store__col_str(st, 8);
    p->level_via = store__col_str(st, 9);
    p->lessons_done = sqlite3_column_int64(st, 10);
    p->quiz_level = store__col_str(st, 11);
    p->quiz_percent = sqlite3_column_int(st, 12);
    p->quiz_passed = sqlite3_column_int(st, 13);
    p->quiz_at = sqlite3_column_int64(st, 14);
    return p->username && p->display_name && p->role && p->groups ? RH_OK : RH_ENOMEM;
}

int astore_participants_list(store *s, int64_t tenant, int64_t user_id, astore_participants *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(
        s, "SELECT u.id, u.username, u.display_name, u.role, u.disabled,"
           " COALESCE((SELECT group_concat(name, ', ') FROM (SELECT g.name FROM user_groups ug"
           "   JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = u.id ORDER BY g.name)), ''),"
           " l.level, COALESCE(l.awarded_at, 0), l.awarded_by, l.via,"
           " (SELECT COUNT(*) FROM academy_progress p WHERE p.user_id = u.id),"
           " a.level, COALESCE(a.percent, 0), COALESCE(a.passed, 0), COALESCE(a.finished_at, 0)"
           " FROM users u LEFT JOIN academy_levels l ON l.user_id = u.id"
           " LEFT JOIN academy_attempts a ON a.id = (SELECT id FROM academy_attempts x WHERE x.user_id = u.id"
           "   AND x.finished_at IS NOT NULL ORDER BY x.finished_at DESC, x.id DESC LIMIT 1)"
           " WHERE u.tenant_id = ? AND (? = 0 OR u.id = ?) ORDER BY u.username");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, user_id);
        sqlite3_bind_int64(st, 3, user_id);
    }
    int rc = COLLECT(st, out, read_participant);
    if (rc == RH_OK && user_id && out->n == 0)
        rc = RH_ENOTFOUND;
    UNLOCK(s);
    if (rc)
        astore_participants_free(out);
    return rc;
}

/* ------------------------------------------------------------ dashboard */

void astore_rows_free(astore_rows *l)
{
    for (size_t i = 0; l && i < l->n; i++)
        rh_free(l->items[i].label);
    if (l)
        LIST_RESET(l);
}

/* Rows of (label, week, value); a NULL label stays NULL. */
static int read_row(sqlite3_stmt *st, void *item)
{
    astore_row *r = item;
    r->label = store__col_str(st, 0);
    r->week = sqlite3_column_int64(st, 1);
    r->value = sqlite3_column_int64(st, 2);
    return RH_OK;
}

static int rows_query(store *s, const char *sql, int64_t tenant, int64_t since, astore_rows *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, sql);
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, since);
    }
    int rc = COLLECT(st, out, read_row);
    UNLOCK(s);
    if (rc)
        astore_rows_free(out);
    return rc;
}

#define WEEK_OF(col) "((" col " - 345600) / 604800)"

int astore_dash_active(store *s, int64_t tenant, int64_t since, astore_rows *out)
{
    return rows_query(s,
                      "SELECT COALESCE(g.name, ''), w, COUNT(DISTINCT x.uid) FROM"
                      " (SELECT DISTINCT c.user_id AS uid, " WEEK_OF("m.created_at") " AS w FROM messages m"
                      "  JOIN conversations c ON c.id = m.conversation_id"
                      "  WHERE m.tenant_id = ?1 AND m.role = 'user' AND m.created_at >= ?2) x"
                      " LEFT JOIN user_groups ug ON ug.user_id = x.uid LEFT JOIN groups g ON g.id = ug.group_id"
                      " GROUP BY 1, 2 ORDER BY 1, 2",
                      tenant, since, out);
}

int astore_dash_weekly(store *s, int64_t tenant, int64_t since, astore_rows *out)
{
    return rows_query(s,
                      "SELECT 'conversations', " WEEK_OF("created_at") ", COUNT(*) FROM conversations"
                      " WHERE tenant_id = ?1 AND created_at >= ?2 GROUP BY 2"
                      " UNION ALL SELECT 'messages', " WEEK_OF("created_at") ", COUNT(*) FROM messages"
                      " WHERE tenant_id = ?1 AND created_at >= ?2 GROUP BY 2"
                      " UNION ALL SELECT 'active_users', " WEEK_OF("m.created_at") ", COUNT(DISTINCT c.user_id)"
                      " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                      " WHERE m.tenant_id = ?1 AND m.role = 'user' AND m.created_at >= ?2 GROUP BY 2 ORDER BY 1, 2",
                      tenant, since, out);
}

int astore_dash_feedback(store *s, int64_t tenant, int64_t since, int64_t *answers, int64_t *up, int64_t *down)
{
    *answers = *up = *down = 0;
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT COUNT(*), COUNT(f.message_id) FILTER (WHERE f.rating = 'up'),"
                               " COUNT(f.message_id) FILTER (WHERE f.rating = 'down')"
                               " FROM messages m LEFT JOIN message_feedback f ON f.message_id = m.id"
                               " WHERE m.tenant_id = ? AND m.role = 'assistant' AND m.created_at >= ?");
    int rc = RH_EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, since);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *answers = sqlite3_column_int64(st, 0);
            *up = sqlite3_column_int64(st, 1);
            *down = sqlite3_column_int64(st, 2);
            rc = RH_OK;
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return rc;
}

int astore_dash_negative(store *s, int64_t tenant, size_t limit, astore_feedbacks *out)
{
    memset(out, 0, sizeof *out);
    LOCK(s);
    sqlite3_stmt *st = prep(s, "SELECT message_id, rating, comment, created_at FROM message_feedback"
                               " WHERE tenant_id = ? AND rating = 'down' AND comment <> ''"
                               " ORDER BY created_at DESC, message_id DESC LIMIT ?");
    if (st) {
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, (int64_t)limit);
    }
    int rc = COLLECT(st, out, read_feedback);
    UNLOCK(s);
    if (rc)
        astore_feedbacks_free(out);
    return rc;
}

int astore_dash_collections(store *s, int64_t tenant, int64_t since, astore_rows *out)
{
    /* message_sources (migration 3) keeps a grounded answer's sources as
     * JSON: {"sources": [{"collection_id", "collection", ...}], "collections": [ids]} */
    return rows_query(s,
                      "SELECT COALESCE(MAX((SELECT json_extract(p.value, '$.collection') FROM"
                      " json_each(ms.sources, '$.sources') p WHERE json_extract(p.value, '$.collection_id') ="
                      " c.value AND json_extract(p.value, '$.collection') <> '' LIMIT 1)), '#' || c.value),"
                      " c.value, COUNT(*) FROM message_sources ms JOIN messages m ON m.id = ms.message_id,"
                      " json_each(ms.sources, '$.collections') c WHERE m.tenant_id = ?1 AND m.created_at >= ?2"
                      " AND json_valid(ms.sources) GROUP BY c.value ORDER BY 3 DESC, 2 LIMIT 10",
                      tenant, since, out);
}

int astore_dash_levels(store *s, int64_t tenant, astore_rows *out)
{
    return rows_query(s,
                      "SELECT l.level, 0, COUNT(*) FROM users u LEFT JOIN academy_levels l ON l.user_id = u.id"
                      " WHERE u.tenant_id = ?1 AND u.disabled = 0 AND ?2 >= 0 GROUP BY l.level ORDER BY 1",
                      tenant, 0, out);
}
