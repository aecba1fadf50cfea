/*
 * api_trainer.c - the academy for trainers and admins: participants and
 * their progress, awarding and revoking levels (with a reason and an
 * audit entry), records as CSV and as a printable page per person,
 * editing lessons (stored in the database, DELETE restores the built-in
 * text), editing the quiz bank (the same way), and the beta dashboard's
 * figures as JSON for charts.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "web/api_academy.h"

#define REASON_MAX 500
#define TITLE_MAX 200
#define DASH_WEEKS 12

/* ------------------------------------------------------------ helpers */

static const char *level_name(const academy *a, const char *id)
{
    int i = id ? academy_level_index(a, id) : -1;
    return i >= 0 ? a->levels[i].name : id;
}

static void fmt_date(int64_t t, char *buf, size_t cap)
{
    if (t <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%d.%m.%Y", &tm);
}

static json_t *participant_json(const academy *a, const astore_participant *p, size_t lessons_total)
{
    json_t *quiz = json_null();
    if (p->quiz_level)
        quiz = json_pack("{s:s, s:s?, s:i, s:b, s:o}", "level", p->quiz_level, "level_name",
                         level_name(a, p->quiz_level), "percent", p->quiz_percent, "passed", p->quiz_passed, "at",
                         web_time(p->quiz_at));
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:s?, s:s?, s:o, s:s?, s:s?, s:I, s:I, s:o}", "id",
                     (json_int_t)p->user_id, "username", p->username, "display_name", p->display_name, "role",
                     p->role, "groups", p->groups, "disabled", p->disabled, "level", p->level, "level_name",
                     level_name(a, p->level), "level_at", web_time(p->level_at), "level_by", p->level_by,
                     "level_via", p->level_via, "lessons_done", (json_int_t)p->lessons_done, "lessons_total",
                     (json_int_t)lessons_total, "last_quiz", quiz);
}

static size_t lessons_total(web_req *r, const academy *a)
{
    acad_lessons v;
    if (acad_lessons_load(r, a, &v))
        return a->n_lessons;
    size_t n = v.n;
    acad_lessons_free(&v);
    return n;
}

/* ------------------------------------------------------------ participants */

static enum MHD_Result api_participants(web_req *r)
{
    const academy *a = academy_get(r->srv->cfg);
    astore_participants l;
    if (!a || astore_participants_list(r->srv->st, STORE_TENANT_DEFAULT, 0, &l))
        return web_error(r, 500, "internal");
    size_t total = lessons_total(r, a);
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, participant_json(a, &l.items[i], total));
    astore_participants_free(&l);
    return web_json(r, 200, json_pack("{s:o}", "participants", arr));
}

/* Everything about one person: progress, attempts, level history. */
typedef struct person {
    astore_participants p;
    astore_dones done;
    astore_attempts attempts;
    astore_events history;
    acad_lessons lessons;
} person;

static void person_free(person *x)
{
    astore_participants_free(&x->p);
    astore_dones_free(&x->done);
    astore_attempts_free(&x->attempts);
    astore_events_free(&x->history);
    acad_lessons_free(&x->lessons);
}

static int person_load(web_req *r, const academy *a, int64_t id, person *x)
{
    memset(x, 0, sizeof *x);
    int rc = astore_participants_list(r->srv->st, STORE_TENANT_DEFAULT, id, &x->p);
    if (rc)
        return rc;
    if ((rc = astore_lessons_done(r->srv->st, id, &x->done)) ||
        (rc = astore_attempt_list(r->srv->st, id, &x->attempts)) ||
        (rc = astore_level_log(r->srv->st, id, &x->history)) || (rc = acad_lessons_load(r, a, &x->lessons))) {
        person_free(x);
        return rc ? rc : RH_EIO;
    }
    return RH_OK;
}

static const char *lesson_title(const person *x, const char *id)
{
    const acad_lesson *l = acad_lesson_find(&x->lessons, id);
    return l ? l->title : id;
}

static enum MHD_Result api_participant_get(web_req *r)
{
    const academy *a = academy_get(r->srv->cfg);
    person x;
    if (!a)
        return web_error(r, 500, "internal");
    int rc = person_load(r, a, r->id[0], &x);
    if (rc)
        return web_error(r, rc == RH_ENOTFOUND ? 404 : 500, rc == RH_ENOTFOUND ? "not_found" : "internal");
    json_t *o = participant_json(a, &x.p.items[0], x.lessons.n);
    json_t *lessons = json_array(), *attempts = json_array(), *history = json_array();
    for (size_t i = 0; i < x.done.n; i++)
        json_array_append_new(lessons, json_pack("{s:s, s:s, s:o}", "id", x.done.items[i].lesson_id, "title",
                                                 lesson_title(&x, x.done.items[i].lesson_id), "completed_at",
                                                 web_time(x.done.items[i].at)));
    for (size_t i = 0; i < x.attempts.n; i++) {
        const astore_attempt *t = &x.attempts.items[i];
        json_array_append_new(attempts, json_pack("{s:s, s:s?, s:i, s:i, s:i, s:b, s:o}", "level", t->level,
                                                  "level_name", level_name(a, t->level), "score", t->correct,
                                                  "total", t->total, "percent", t->percent, "passed", t->passed,
                                                  "at", web_time(t->finished_at)));
    }
    for (size_t i = 0; i < x.history.n; i++) {
        const astore_event *e = &x.history.items[i];
        json_array_append_new(history, json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "action", e->action,
                                                 "level", e->level, "previous", e->previous, "via", e->via, "by",
                                                 e->actor, "reason", e->reason, "at", web_time(e->at)));
    }
    json_object_set_new(o, "lessons", lessons);
    json_object_set_new(o, "attempts", attempts);
    json_object_set_new(o, "history", history);
    person_free(&x);
    return web_json(r, 200, o);
}

/* award {level, reason} / revoke {reason, level?} */
static enum MHD_Result change_level(web_req *r, int award)
{
    const academy *a = academy_get(r->srv->cfg);
    const char *level = NULL, *reason = NULL;
    enum MHD_Result ret;
    astore_participants l = {0};
    astore_level cur;
    int have_cur = 0;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (!a) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (web_str(b, "level", ACADEMY_ID_MAX, &level) == RH_EINVAL ||
        web_str(b, "reason", REASON_MAX, &reason) == RH_EINVAL) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (!reason || !*reason) {
        ret = acad_error(r, 400, "reason_required", NULL);
        goto out;
    }
    int li = -1;
    if (level && (li = academy_level_index(a, level)) < 0) {
        ret = acad_error(r, 400, "bad_level", NULL);
        goto out;
    }
    if (award && !level) {
        ret = acad_error(r, 400, "bad_level", NULL);
        goto out;
    }
    int rc = astore_participants_list(r->srv->st, STORE_TENANT_DEFAULT, r->id[0], &l);
    if (rc) {
        ret = web_error(r, rc == RH_ENOTFOUND ? 404 : 500, rc == RH_ENOTFOUND ? "not_found" : "internal");
        goto out;
    }
    have_cur = astore_level_get(r->srv->st, r->id[0], &cur) == RH_OK;
    int cur_i = have_cur ? academy_level_index(a, cur.level) : -1;
    const char *new_level;
    if (award) {
        new_level = a->levels[li].id;
    } else {
        int drop = level ? li : cur_i; /* revoke this level (and those above it) */
        if (!have_cur || drop < 0 || (cur_i >= 0 && cur_i < drop)) {
            ret = acad_error(r, 409, "no_level", NULL);
            goto out;
        }
        new_level = drop > 0 ? a->levels[drop - 1].id : NULL;
    }
    if (astore_level_set(r->srv->st, STORE_TENANT_DEFAULT, r->id[0], new_level, award ? "award" : "revoke",
                         "trainer", r->user.username, reason, web_now())) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    rh_buf d;
    rh_buf_init(&d, 2048);
    rh_buf_appendf(&d, "level=%s previous=%s reason=%s", new_level ? new_level : "-",
                   have_cur ? cur.level : "-", reason);
    web_audit(r, award ? "academy_award" : "academy_revoke", l.items[0].username, d.data);
    rh_buf_free(&d);
    astore_participants_free(&l);
    if (astore_participants_list(r->srv->st, STORE_TENANT_DEFAULT, r->id[0], &l)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    ret = web_json(r, 200, participant_json(a, &l.items[0], lessons_total(r, a)));
out:
    if (have_cur)
        astore_level_clear(&cur);
    astore_participants_free(&l);
    json_decref(b);
    return ret;
}

static enum MHD_Result api_award(web_req *r) { return change_level(r, 1); }
static enum MHD_Result api_revoke(web_req *r) { return change_level(r, 0); }

/* ------------------------------------------------------------ CSV */

/* One CSV field (RFC 4180 quoting, ';' separated). Cells that a
 * spreadsheet would run as a formula get a leading apostrophe. */
static void csv_field(rh_buf *b, const char *s, int last)
{
    s = s ? s : "";
    rh_buf_appends(b, "\"");
    if (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' || *s == '\r')
        rh_buf_appends(b, "'");
    for (; *s; s++) {
        if (*s == '"')
            rh_buf_appends(b, "\"\"");
        else
            rh_buf_append(b, s, 1);
    }
    rh_buf_appends(b, last ? "\"\r\n" : "\";");
}

static enum MHD_Result api_export_csv(web_req *r)
{
    const academy *a = academy_get(r->srv->cfg);
    astore_participants l;
    if (!a || astore_participants_list(r->srv->st, STORE_TENANT_DEFAULT, 0, &l))
        return web_error(r, 500, "internal");
    size_t total = lessons_total(r, a);
    rh_buf b;
    rh_buf_init(&b, 64u * 1024 * 1024);
    rh_buf_appends(&b, "\xEF\xBB\xBF"); /* BOM: spreadsheets then read UTF-8 */
    static const char *const head[] = {"Benutzername", "Name", "Abteilung", "Stufe", "Datum der Stufe",
                                       "Verliehen durch", "Lektionen abgeschlossen", "Lektionen gesamt",
                                       "Quizergebnisse"};
    for (size_t i = 0; i < 9; i++)
        csv_field(&b, head[i], i == 8);
    int rc = RH_OK;
    for (size_t i = 0; i < l.n && rc == RH_OK; i++) {
        const astore_participant *p = &l.items[i];
        char date[32], num[32], num2[32];
        astore_attempts at;
        rh_buf q;
        rh_buf_init(&q, 64 * 1024);
        if (astore_attempt_list(r->srv->st, p->user_id, &at) == RH_OK) {
            /* the newest result per level */
            for (size_t k = 0; k < at.n; k++) {
                int seen = 0;
                for (size_t j = 0; j < k; j++)
                    seen |= !strcmp(at.items[j].level, at.items[k].level);
                if (!seen) {
                    fmt_date(at.items[k].finished_at, date, sizeof date);
                    rh_buf_appendf(&q, "%s%s: %d %% (%s, %s)", q.len ? ", " : "", level_name(a, at.items[k].level),
                                   at.items[k].percent, at.items[k].passed ? "bestanden" : "nicht bestanden", date);
                }
            }
            astore_attempts_free(&at);
        }
        fmt_date(p->level_at, date, sizeof date);
        snprintf(num, sizeof num, "%lld", (long long)p->lessons_done);
        snprintf(num2, sizeof num2, "%zu", total);
        const char *by = p->level_by ? p->level_by : (p->level_via && !strcmp(p->level_via, "quiz") ? "Quiz" : "");
        csv_field(&b, p->username, 0);
        csv_field(&b, p->display_name && *p->display_name ? p->display_name : p->username, 0);
        csv_field(&b, p->groups, 0);
        csv_field(&b, p->level ? level_name(a, p->level) : "", 0);
        csv_field(&b, p->level ? date : "", 0);
        csv_field(&b, p->level ? by : "", 0);
        csv_field(&b, num, 0);
        csv_field(&b, num2, 0);
        csv_field(&b, q.data, 1);
        rh_buf_free(&q);
    }
    astore_participants_free(&l);
    web_audit(r, "academy_export", NULL, "csv");
    const char *hdr[] = {"Content-Disposition", "attachment; filename=\"schwimmabzeichen.csv\"", NULL};
    enum MHD_Result ret = web_send(r, 200, "text/csv; charset=utf-8", b.data ? b.data : "", b.len, hdr);
    rh_buf_free(&b);
    return ret;
}

/* ------------------------------------------------------------ record page */

static void html(rh_buf *b, const char *s)
{
    for (s = s ? s : ""; *s; s++) {
        switch (*s) {
        case '&': rh_buf_appends(b, "&amp;"); break;
        case '<': rh_buf_appends(b, "&lt;"); break;
        case '>': rh_buf_appends(b, "&gt;"); break;
        case '"': rh_buf_appends(b, "&quot;"); break;
        case '\'': rh_buf_appends(b, "&#39;"); break;
        default: rh_buf_append(b, s, 1);
        }
    }
}

static void row(rh_buf *b, const char *const *cells, size_t n)
{
    rh_buf_appends(b, "<tr>");
    for (size_t i = 0; i < n; i++) {
        rh_buf_appends(b, "<td>");
        html(b, cells[i]);
        rh_buf_appends(b, "</td>");
    }
    rh_buf_appends(b, "</tr>\n");
}

static void dl(rh_buf *b, const char *k, const char *v)
{
    rh_buf_appends(b, "<dt>");
    html(b, k);
    rh_buf_appends(b, "</dt><dd>");
    html(b, v && *v ? v : "-");
    rh_buf_appends(b, "</dd>\n");
}

static enum MHD_Result api_record(web_req *r)
{
    const academy *a = academy_get(r->srv->cfg);
    person x;
    char date[32], buf[64];
    if (!a)
        return web_error(r, 500, "internal");
    int rc = person_load(r, a, r->id[0], &x);
    if (rc)
        return web_error(r, rc == RH_ENOTFOUND ? 404 : 500, rc == RH_ENOTFOUND ? "not_found" : "internal");
    const astore_participant *p = &x.p.items[0];
    const char *name = p->display_name && *p->display_name ? p->display_name : p->username;
    rh_buf b;
    rh_buf_init(&b, 16u * 1024 * 1024);
    rh_buf_appends(&b, "<!DOCTYPE html>\n<html lang=\"de\">\n<head>\n<meta charset=\"utf-8\">\n<title>Nachweis "
                       "KI-Schwimmabzeichen – ");
    html(&b, name);
    rh_buf_appends(&b, "</title>\n<link rel=\"stylesheet\" href=\"/record.css\">\n</head>\n<body>\n"
                       "<main class=\"record\">\n<h1>Nachweis KI-Schwimmabzeichen</h1>\n<dl>\n");
    dl(&b, "Name", name);
    dl(&b, "Benutzername", p->username);
    dl(&b, "Abteilung", p->groups);
    dl(&b, "Stufe", p->level ? level_name(a, p->level) : "keine");
    fmt_date(p->level_at, date, sizeof date);
    dl(&b, "Seit", p->level ? date : NULL);
    dl(&b, "Verliehen durch",
       p->level ? (p->level_by ? p->level_by : (p->level_via && !strcmp(p->level_via, "quiz") ? "Quiz" : NULL)) : NULL);
    snprintf(buf, sizeof buf, "%zu von %zu", x.done.n, x.lessons.n);
    dl(&b, "Lektionen abgeschlossen", buf);
    rh_buf_appends(&b, "</dl>\n<h2>Abgeschlossene Lektionen</h2>\n");
    if (x.done.n) {
        rh_buf_appends(&b, "<table>\n<thead><tr><th>Lektion</th><th>Stufe</th><th>Datum</th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < x.done.n; i++) {
            const acad_lesson *l = acad_lesson_find(&x.lessons, x.done.items[i].lesson_id);
            fmt_date(x.done.items[i].at, date, sizeof date);
            const char *cells[] = {l ? l->title : x.done.items[i].lesson_id, l ? level_name(a, l->level) : "-",
                                   date};
            row(&b, cells, 3);
        }
        rh_buf_appends(&b, "</tbody>\n</table>\n");
    } else {
        rh_buf_appends(&b, "<p>Noch keine.</p>\n");
    }
    rh_buf_appends(&b, "<h2>Quizergebnisse</h2>\n");
    if (x.attempts.n) {
        rh_buf_appends(&b, "<table>\n<thead><tr><th>Stufe</th><th>Ergebnis</th><th>Bestanden</th><th>Datum</th>"
                           "</tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < x.attempts.n; i++) {
            const astore_attempt *t = &x.attempts.items[i];
            fmt_date(t->finished_at, date, sizeof date);
            snprintf(buf, sizeof buf, "%d von %d (%d %%)", t->correct, t->total, t->percent);
            const char *cells[] = {level_name(a, t->level), buf, t->passed ? "ja" : "nein", date};
            row(&b, cells, 4);
        }
        rh_buf_appends(&b, "</tbody>\n</table>\n");
    } else {
        rh_buf_appends(&b, "<p>Noch keine.</p>\n");
    }
    rh_buf_appends(&b, "<h2>Verlauf der Stufen</h2>\n");
    if (x.history.n) {
        rh_buf_appends(&b, "<table>\n<thead><tr><th>Datum</th><th>Vorgang</th><th>Stufe</th><th>durch</th>"
                           "<th>Begründung</th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < x.history.n; i++) {
            const astore_event *e = &x.history.items[i];
            fmt_date(e->at, date, sizeof date);
            const char *cells[] = {date, !strcmp(e->action, "award") ? "verliehen" : "entzogen",
                                   e->level ? level_name(a, e->level) : "keine",
                                   e->actor ? e->actor : (e->via && !strcmp(e->via, "quiz") ? "Quiz" : "-"),
                                   e->reason ? e->reason : ""};
            row(&b, cells, 5);
        }
        rh_buf_appends(&b, "</tbody>\n</table>\n");
    } else {
        rh_buf_appends(&b, "<p>Noch keine.</p>\n");
    }
    fmt_date(web_now(), date, sizeof date);
    rh_buf_appends(&b, "<p class=\"printed\">Erstellt am ");
    html(&b, date);
    rh_buf_appends(&b, " von ");
    html(&b, r->user.username);
    rh_buf_appends(&b, ".</p>\n</main>\n</body>\n</html>\n");
    person_free(&x);
    enum MHD_Result ret = web_send(r, 200, "text/html; charset=utf-8", b.data ? b.data : "", b.len, NULL);
    rh_buf_free(&b);
    return ret;
}

/* ------------------------------------------------------------ lessons */

static enum MHD_Result api_lesson_put(web_req *r)
{
    char id[ACADEMY_ID_MAX + 1];
    const academy *a = academy_get(r->srv->cfg);
    const char *title = NULL, *markdown = NULL, *level = NULL;
    acad_lessons v = {0};
    enum MHD_Result ret;
    if (!a || !web_path_segment(r, 3, id, sizeof id))
        return web_error(r, 404, "not_found");
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    json_t *ord = json_object_get(b, "order"), *min = json_object_get(b, "minutes");
    if (web_str(b, "title", TITLE_MAX, &title) || !*title || web_str(b, "markdown", ACADEMY_LESSON_MAX, &markdown) ||
        web_str(b, "level", ACADEMY_ID_MAX, &level) == RH_EINVAL || (ord && !json_is_integer(ord)) ||
        (min && !json_is_integer(min))) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (acad_lessons_load(r, a, &v)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    const acad_lesson *cur = acad_lesson_find(&v, id);
    if (!level)
        level = cur ? cur->level : NULL;
    if (!level || academy_level_index(a, level) < 0) {
        ret = acad_error(r, 400, "bad_level", NULL);
        goto out;
    }
    json_int_t o = ord ? json_integer_value(ord) : cur ? cur->order : 99;
    json_int_t m = min ? json_integer_value(min) : cur ? cur->minutes : 5;
    if (o < 0 || o > 100000 || m < 0 || m > 1000) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    astore_lesson l = {.lesson_id = id, .level = (char *)level, .title = (char *)title,
                       .markdown = (char *)markdown, .updated_by = r->user.username, .order = (int)o,
                       .minutes = (int)m, .updated_at = web_now()};
    if (astore_lesson_put(r->srv->st, STORE_TENANT_DEFAULT, &l)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    web_audit(r, "academy_lesson_edit", id, title);
    ret = web_json(r, 200, json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:b, s:b, s:s, s:o}", "id", id, "level", level,
                                     "title", title, "order", (int)o, "minutes", (int)m, "markdown", markdown,
                                     "edited", 1, "builtin", academy_lesson_index(a, id) >= 0, "updated_by",
                                     r->user.username, "updated_at", web_time(l.updated_at)));
out:
    acad_lessons_free(&v);
    json_decref(b);
    return ret;
}

static enum MHD_Result api_lesson_restore(web_req *r)
{
    char id[ACADEMY_ID_MAX + 1];
    if (!web_path_segment(r, 3, id, sizeof id))
        return web_error(r, 404, "not_found");
    int rc = astore_lesson_delete(r->srv->st, STORE_TENANT_DEFAULT, id);
    if (rc)
        return web_error(r, rc == RH_ENOTFOUND ? 404 : 500, rc == RH_ENOTFOUND ? "not_found" : "internal");
    web_audit(r, "academy_lesson_restore", id, NULL);
    return web_no_content(r);
}

/* ------------------------------------------------------------ quiz bank */

#define QUESTION_TEXT_MAX 1000
#define OPTION_TEXT_MAX 500
#define EXPLANATION_MAX 2000
#define BANK_ROWS_MAX 2000

static json_t *question_json(const academy *a, const academy_question *q, int builtin, const astore_question *row)
{
    json_t *opts = json_array();
    for (size_t k = 0; k < q->n_options; k++)
        json_array_append_new(opts, json_pack("{s:s, s:b}", "text", q->options[k].text, "correct",
                                              q->options[k].correct));
    return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:o, s:s, s:b, s:b, s:b, s:s?, s:o}", "id", q->id, "level",
                     q->level, "level_name", level_name(a, q->level), "lesson", q->lesson, "type",
                     q->multiple ? "multiple" : "single", "question", q->question, "options", opts, "explanation",
                     q->explanation, "builtin", builtin, "edited", row != NULL, "hidden", 0, "updated_by",
                     row ? row->updated_by : NULL, "updated_at", web_time(row ? row->updated_at : 0));
}

static int is_builtin_question(const academy *a, const char *id)
{
    for (size_t i = 0; i < a->n_questions; i++)
        if (!strcmp(a->questions[i].id, id))
            return 1;
    return 0;
}

/* GET: the whole bank as trainers see it, with the right answers; hidden
 * built-in questions are listed too (to bring them back). */
static enum MHD_Result api_questions(web_req *r)
{
    const academy *a = academy_get(r->srv->cfg);
    acad_bank b;
    if (!a || acad_bank_load(r, a, &b))
        return web_error(r, 500, "internal");
    json_t *arr = json_array();
    for (size_t li = 0; li < a->n_levels; li++) {
        for (size_t i = 0; i < b.a.n_questions; i++) {
            const academy_question *q = &b.a.questions[i];
            if (!strcmp(q->level, a->levels[li].id))
                json_array_append_new(arr, question_json(a, q, is_builtin_question(a, q->id), acad_bank_row(&b, q->id)));
        }
        for (size_t i = 0; i < a->n_questions; i++) {
            const academy_question *q = &a->questions[i];
            const astore_question *row = acad_bank_row(&b, q->id);
            if (row && !row->body && !strcmp(q->level, a->levels[li].id)) {
                json_t *o = question_json(a, q, 1, row);
                json_object_set_new(o, "hidden", json_true());
                json_array_append_new(arr, o);
            }
        }
    }
    acad_bank_free(&b);
    return web_json(r, 200, json_pack("{s:o}", "questions", arr));
}

static int text_ok(json_t *o, const char *key, size_t max, int required)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return !required;
    return json_is_string(v) && json_string_length(v) <= max && (!required || json_string_length(v) > 0);
}

/* PUT {level, lesson?, type, question, options: [{text, correct}], explanation?}:
 * replaces a built-in question or adds one; validated like quiz.json. */
static enum MHD_Result api_question_put(web_req *r)
{
    char id[ACADEMY_ID_MAX + 1];
    const academy *a = academy_get(r->srv->cfg);
    acad_bank bank;
    acad_lessons lessons = {0};
    academy_question q = {0};
    int have_bank = 0;
    char *body = NULL;
    rh_error e;
    enum MHD_Result ret;
    if (!a || !web_path_segment(r, 3, id, sizeof id) || !academy_id_ok(id))
        return web_error(r, 404, "not_found");
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    json_t *opts = json_object_get(b, "options");
    int opts_ok = json_is_array(opts);
    for (size_t k = 0; opts_ok && k < json_array_size(opts); k++) {
        json_t *op = json_array_get(opts, k), *c = json_object_get(op, "correct");
        opts_ok = json_is_object(op) && text_ok(op, "text", OPTION_TEXT_MAX, 1) && (!c || json_is_boolean(c));
    }
    if (!text_ok(b, "level", ACADEMY_ID_MAX, 1) || !text_ok(b, "lesson", ACADEMY_ID_MAX, 0) ||
        !text_ok(b, "type", 16, 1) || !text_ok(b, "question", QUESTION_TEXT_MAX, 1) ||
        !text_ok(b, "explanation", EXPLANATION_MAX, 0) || !opts_ok) {
        ret = acad_error(r, 400, "bad_question", json_pack("{s:s}", "detail", "fields"));
        goto out;
    }
    json_t *c = json_pack("{s:s, s:O, s:O, s:O, s:O}", "id", id, "level", json_object_get(b, "level"), "type",
                          json_object_get(b, "type"), "question", json_object_get(b, "question"), "options", opts);
    if (c && json_is_string(json_object_get(b, "lesson")))
        json_object_set(c, "lesson", json_object_get(b, "lesson"));
    if (c && json_is_string(json_object_get(b, "explanation")))
        json_object_set(c, "explanation", json_object_get(b, "explanation"));
    body = c ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    if (!body) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (academy_question_parse(body, strlen(body), &q, &e)) {
        ret = acad_error(r, 400, "bad_question", json_pack("{s:s}", "detail", e.msg));
        goto out;
    }
    if (academy_level_index(a, q.level) < 0) {
        ret = acad_error(r, 400, "bad_level", NULL);
        goto out;
    }
    if (acad_lessons_load(r, a, &lessons) || acad_bank_load(r, a, &bank)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    have_bank = 1;
    if (*q.lesson && !acad_lesson_find(&lessons, q.lesson)) {
        ret = acad_error(r, 400, "bad_lesson", NULL);
        goto out;
    }
    if (!acad_bank_row(&bank, id) && bank.rows.n >= BANK_ROWS_MAX) {
        ret = acad_error(r, 400, "bad_question", json_pack("{s:s}", "detail", "too many questions"));
        goto out;
    }
    astore_question row = {.question_id = id, .level = q.level, .body = body, .updated_by = r->user.username,
                           .updated_at = web_now()};
    if (astore_question_put(r->srv->st, STORE_TENANT_DEFAULT, &row)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    web_audit(r, "academy_question_edit", id, q.question);
    ret = web_json(r, 200, question_json(a, &q, is_builtin_question(a, id), &row));
out:
    if (have_bank)
        acad_bank_free(&bank);
    acad_lessons_free(&lessons);
    academy_question_clear(&q);
    free(body); /* jansson */
    json_decref(b);
    return ret;
}

/* DELETE: an added question is removed, a built-in one hidden from the
 * quiz (POST .../restore brings it back). */
static enum MHD_Result api_question_delete(web_req *r)
{
    char id[ACADEMY_ID_MAX + 1];
    const academy *a = academy_get(r->srv->cfg);
    if (!a || !web_path_segment(r, 3, id, sizeof id))
        return web_error(r, 404, "not_found");
    int rc;
    int builtin = is_builtin_question(a, id);
    if (builtin) {
        int li = -1;
        for (size_t i = 0; i < a->n_questions; i++)
            if (!strcmp(a->questions[i].id, id))
                li = academy_level_index(a, a->questions[i].level);
        astore_question row = {.question_id = id, .level = li >= 0 ? a->levels[li].id : "", .body = NULL,
                               .updated_by = r->user.username, .updated_at = web_now()};
        rc = astore_question_put(r->srv->st, STORE_TENANT_DEFAULT, &row);
    } else {
        rc = astore_question_delete(r->srv->st, STORE_TENANT_DEFAULT, id);
    }
    if (rc)
        return web_error(r, rc == RH_ENOTFOUND ? 404 : 500, rc == RH_ENOTFOUND ? "not_found" : "internal");
    web_audit(r, builtin ? "academy_question_hide" : "academy_question_delete", id, NULL);
    return web_no_content(r);
}

/* POST .../restore: the built-in version is back (edit or hiding undone). */
static enum MHD_Result api_question_restore(web_req *r)
{
    char id[ACADEMY_ID_MAX + 1];
    const academy *a = academy_get(r->srv->cfg);
    if (!a || !web_path_segment(r, 3, id, sizeof id) || !is_builtin_question(a, id))
        return web_error(r, 404, "not_found");
    int rc = astore_question_delete(r->srv->st, STORE_TENANT_DEFAULT, id);
    if (rc)
        return web_error(r, rc == RH_ENOTFOUND ? 404 : 500, rc == RH_ENOTFOUND ? "not_found" : "internal");
    web_audit(r, "academy_question_restore", id, NULL);
    return web_no_content(r);
}

/* ------------------------------------------------------------ dashboard */

static json_t *zeros(size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(0));
    return a;
}

static void put_week(json_t *arr, int64_t first_week, int64_t week, int64_t v)
{
    int64_t i = week - first_week;
    if (i >= 0 && i < DASH_WEEKS)
        json_array_set_new(arr, (size_t)i, json_integer(json_integer_value(json_array_get(arr, (size_t)i)) + v));
}

static enum MHD_Result api_dashboard(web_req *r)
{
    const academy *a = academy_get(r->srv->cfg);
    int en = r->lang && !strcmp(r->lang, "en");
    int64_t now = web_now();
    int64_t this_week = (now - ASTORE_WEEK_OFFSET) / ASTORE_WEEK;
    int64_t first = this_week - (DASH_WEEKS - 1);
    int64_t since = first * ASTORE_WEEK + ASTORE_WEEK_OFFSET;
    astore_rows active = {0}, weekly = {0}, levels = {0}, colls = {0};
    astore_feedbacks neg = {0};
    int64_t answers = 0, up = 0, down = 0;
    if (!a || astore_dash_active(r->srv->st, STORE_TENANT_DEFAULT, since, &active) ||
        astore_dash_weekly(r->srv->st, STORE_TENANT_DEFAULT, since, &weekly) ||
        astore_dash_levels(r->srv->st, STORE_TENANT_DEFAULT, &levels) ||
        astore_dash_feedback(r->srv->st, STORE_TENANT_DEFAULT, since, &answers, &up, &down) ||
        astore_dash_negative(r->srv->st, STORE_TENANT_DEFAULT, 10, &neg) ||
        astore_dash_collections(r->srv->st, STORE_TENANT_DEFAULT, since, &colls)) {
        astore_rows_free(&colls);
        astore_rows_free(&active);
        astore_rows_free(&weekly);
        astore_rows_free(&levels);
        astore_feedbacks_free(&neg);
        return web_error(r, 500, "internal");
    }
    json_t *weeks = json_array();
    for (int64_t w = first; w <= this_week; w++) {
        char d[16];
        time_t t = (time_t)(w * ASTORE_WEEK + ASTORE_WEEK_OFFSET);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(d, sizeof d, "%Y-%m-%d", &tm);
        json_array_append_new(weeks, json_string(d));
    }
    /* active users: one series per department (group) */
    json_t *series = json_array(), *active_total = zeros(DASH_WEEKS);
    json_t *cur = NULL;
    const char *cur_label = NULL;
    for (size_t i = 0; i < active.n; i++) {
        const char *lab = active.items[i].label ? active.items[i].label : "";
        if (!cur || strcmp(cur_label, lab)) {
            cur = zeros(DASH_WEEKS);
            cur_label = lab;
            json_array_append_new(series, json_pack("{s:s, s:o}", "name",
                                                    *lab ? lab : (en ? "(no department)" : "(ohne Abteilung)"),
                                                    "values", cur));
        }
        put_week(cur, first, active.items[i].week, active.items[i].value);
    }
    json_t *convs = zeros(DASH_WEEKS), *msgs = zeros(DASH_WEEKS);
    for (size_t i = 0; i < weekly.n; i++) {
        const char *lab = weekly.items[i].label ? weekly.items[i].label : "";
        put_week(!strcmp(lab, "conversations") ? convs : !strcmp(lab, "messages") ? msgs : active_total, first,
                 weekly.items[i].week, weekly.items[i].value);
    }
    /* levels: none first, then in level order */
    json_t *lv_labels = json_array(), *lv_values = json_array(), *lv_list = json_array();
    int64_t none = 0;
    for (size_t i = 0; i < levels.n; i++)
        if (!levels.items[i].label || academy_level_index(a, levels.items[i].label) < 0)
            none += levels.items[i].value;
    json_array_append_new(lv_labels, json_string(en ? "no level" : "ohne Stufe"));
    json_array_append_new(lv_values, json_integer(none));
    json_array_append_new(lv_list, json_pack("{s:n, s:s, s:I}", "id", "name", en ? "no level" : "ohne Stufe",
                                             "count", (json_int_t)none));
    for (size_t li = 0; li < a->n_levels; li++) {
        int64_t c = 0;
        for (size_t i = 0; i < levels.n; i++)
            if (levels.items[i].label && !strcmp(levels.items[i].label, a->levels[li].id))
                c += levels.items[i].value;
        json_array_append_new(lv_labels, json_string(a->levels[li].name));
        json_array_append_new(lv_values, json_integer(c));
        json_array_append_new(lv_list, json_pack("{s:s, s:s, s:I}", "id", a->levels[li].id, "name",
                                                 a->levels[li].name, "count", (json_int_t)c));
    }
    json_t *negs = json_array();
    for (size_t i = 0; i < neg.n; i++)
        json_array_append_new(negs, json_pack("{s:I, s:s, s:o}", "message_id", (json_int_t)neg.items[i].message_id,
                                              "comment", neg.items[i].comment, "at", web_time(neg.items[i].at)));
    double rate = answers ? (double)(up + down) / (double)answers : 0.0;
    json_t *charts = json_pack(
        "[{s:s, s:s, s:s, s:O, s:O}, {s:s, s:s, s:s, s:O, s:[{s:s, s:O}, {s:s, s:O}]},"
        " {s:s, s:s, s:s, s:O, s:[{s:s, s:O}]}, {s:s, s:s, s:s, s:[s, s, s], s:[{s:s, s:[I, I, I]}]}]",
        "id", "active_users", "type", "stacked_bar", "title",
        en ? "Active users per department and week" : "Aktive Nutzende je Abteilung und Woche", "labels", weeks,
        "series", series, "id", "activity", "type", "line", "title",
        en ? "Conversations and messages per week" : "Unterhaltungen und Nachrichten je Woche", "labels", weeks,
        "series", "name", en ? "Conversations" : "Unterhaltungen", "values", convs, "name",
        en ? "Messages" : "Nachrichten", "values", msgs, "id", "levels", "type", "bar", "title",
        en ? "Levels of the AI swimming badge" : "Stufen des KI-Schwimmabzeichens", "labels", lv_labels, "series",
        "name", en ? "People" : "Personen", "values", lv_values, "id", "feedback", "type", "pie", "title",
        en ? "Feedback on answers" : "Rückmeldungen zu Antworten", "labels", en ? "helpful" : "hilfreich",
        en ? "not helpful" : "nicht hilfreich", en ? "no feedback" : "ohne Rückmeldung", "series", "name",
        en ? "Answers" : "Antworten", "values", (json_int_t)up, (json_int_t)down, (json_int_t)(answers - up - down));
    /* the collections grounded answers used (a bar chart when there are any) */
    json_t *coll_list = json_array(), *coll_labels = json_array(), *coll_values = json_array();
    for (size_t i = 0; i < colls.n; i++) {
        const char *nm = colls.items[i].label ? colls.items[i].label : "?";
        json_array_append_new(coll_list, json_pack("{s:I, s:s, s:I}", "id", (json_int_t)colls.items[i].week, "name",
                                                   nm, "count", (json_int_t)colls.items[i].value));
        json_array_append_new(coll_labels, json_string(nm));
        json_array_append_new(coll_values, json_integer(colls.items[i].value));
    }
    if (colls.n)
        json_array_append_new(charts, json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:o}]}", "id", "collections", "type",
                                                "bar", "title",
                                                en ? "Most used collections (answers with sources)"
                                                   : "Meistgenutzte Wissenssammlungen (Antworten mit Quellen)",
                                                "labels", coll_labels, "series", "name",
                                                en ? "Answers" : "Antworten", "values", coll_values));
    else {
        json_decref(coll_labels);
        json_decref(coll_values);
    }
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:f, s:o}, s:o, s:[], s:o, s:o}",
                          "weeks", weeks, "active_users", series, "active_users_total", active_total,
                          "conversations", convs, "messages", msgs, "feedback", "answers", (json_int_t)answers,
                          "rated", (json_int_t)(up + down), "up", (json_int_t)up, "down", (json_int_t)down, "rate",
                          rate, "latest_negative", negs, "levels", lv_list, "assistants", "collections", coll_list,
                          "charts", charts);
    json_decref(lv_labels);
    json_decref(lv_values);
    astore_rows_free(&active);
    astore_rows_free(&weekly);
    astore_rows_free(&levels);
    astore_feedbacks_free(&neg);
    astore_rows_free(&colls);
    return web_json(r, 200, o);
}

/* ------------------------------------------------------------ routes */

static const web_route trainer_routes[] = {
    {"GET", "/api/trainer/participants", api_participants, ROLE_TRAINER, 0},
    {"GET", "/api/trainer/participants/:id", api_participant_get, ROLE_TRAINER, 0},
    {"POST", "/api/trainer/participants/:id/award", api_award, ROLE_TRAINER, 1},
    {"POST", "/api/trainer/participants/:id/revoke", api_revoke, ROLE_TRAINER, 1},
    {"GET", "/api/trainer/participants/:id/record", api_record, ROLE_TRAINER, 0},
    {"GET", "/api/trainer/export.csv", api_export_csv, ROLE_TRAINER, 0},
    {"PUT", "/api/trainer/lessons/*", api_lesson_put, ROLE_TRAINER, 1},
    {"DELETE", "/api/trainer/lessons/*", api_lesson_restore, ROLE_TRAINER, 1},
    {"GET", "/api/trainer/questions", api_questions, ROLE_TRAINER, 0},
    {"PUT", "/api/trainer/questions/*", api_question_put, ROLE_TRAINER, 1},
    {"DELETE", "/api/trainer/questions/*", api_question_delete, ROLE_TRAINER, 1},
    {"POST", "/api/trainer/questions/*/restore", api_question_restore, ROLE_TRAINER, 1},
    {"GET", "/api/dashboard", api_dashboard, ROLE_TRAINER, 0},
};
WEB_ROUTES(trainer_routes)
