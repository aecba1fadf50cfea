/*
 * api_academy.c - the academy's API for participants (KI-Schwimmabzeichen):
 * overview with levels, lessons and the user's status, lesson texts,
 * marking lessons done, quiz attempts and their scoring; feedback on
 * answers; the personal-data check; and the hooks the rest of the web
 * module calls: the capability check for every route and the pii_check =
 * block guard before a message is sent. Trainer and dashboard routes are
 * in api_trainer.c. See docs/academy.md and docs/api.md ("Academy").
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "academy/academy.h"
#include "core/alloc.h"
#include "core/log.h"
#include "store/astore.h"
#include "web/api_academy.h"
#include "web/web_int.h"

#define LESSON_NO_SOURCES "halluzinationen"
#define LESSON_PII "datenschutz"
#define COMMENT_MAX 2000
#define PII_TEXT_MAX (256u * 1024)
#define PII_FINDINGS_MAX 100

/* ------------------------------------------------------------ messages */

typedef struct acad_msg {
    const char *code, *de, *en;
} acad_msg;

static const acad_msg acad_messages[] = {
    {"level_required", "Dafür brauchen Sie eine höhere Stufe des KI-Schwimmabzeichens. Die Lektionen und das Quiz finden Sie in der Akademie.",
     "You need a higher level of the AI swimming badge for this. Lessons and quiz are in the academy."},
    {"lessons_incomplete", "Bitte schließen Sie zuerst alle Lektionen dieser Stufe ab.",
     "Please complete all lessons of this level first."},
    {"previous_level_required", "Bitte legen Sie zuerst die vorherige Stufe ab.",
     "Please pass the previous level first."},
    {"quiz_wait", "Sie können das Quiz erst nach einer Wartezeit wiederholen.",
     "You can retake the quiz after a waiting time."},
    {"no_questions", "Für diese Stufe gibt es noch keine Quizfragen.", "There are no quiz questions for this level yet."},
    {"no_attempt", "Bitte starten Sie das Quiz zuerst.", "Please start the quiz first."},
    {"attempt_invalid", "Dieser Quizversuch ist nicht mehr gültig. Bitte starten Sie das Quiz neu.",
     "This quiz attempt is no longer valid. Please start the quiz again."},
    {"pii_blocked",
     "Ihre Nachricht enthält vermutlich personenbezogene Daten (z. B. IBAN, Steuer-ID, Telefonnummer, E-Mail, "
     "Geburtsdatum oder Anschrift) und wurde nicht gesendet. Bitte entfernen oder ersetzen Sie diese Angaben. "
     "Mehr dazu in der Lektion „Datenschutz“.",
     "Your message seems to contain personal data (e.g. IBAN, tax id, phone number, e-mail, date of birth or "
     "address) and was not sent. Please remove or replace it. See the lesson \"Datenschutz\"."},
    {"pii_warning",
     "Ihre Nachricht enthält vermutlich personenbezogene Daten. Geben Sie nur ein, was für die Aufgabe nötig ist "
     "(Lektion „Datenschutz“).",
     "Your message seems to contain personal data. Enter only what the task needs (lesson \"Datenschutz\")."},
    {"no_sources_hint",
     "Diese Antwort nennt keine Quellen. Sprachmodelle können Fakten erfinden – bitte prüfen Sie die Angaben "
     "(Lektion „Halluzinationen erkennen“).",
     "This answer cites no sources. Language models can make up facts - please check it (lesson \"Halluzinationen "
     "erkennen\")."},
    {"no_level", "Diese Person hat diese Stufe nicht.", "This person does not hold this level."},
    {"reason_required", "Bitte geben Sie eine Begründung an.", "Please give a reason."},
    {"bad_level", "Diese Stufe gibt es nicht.", "This level does not exist."},
    {"bad_lesson", "Diese Lektion gibt es nicht.", "This lesson does not exist."},
    {"bad_question",
     "Die Frage ist unvollständig: Sie braucht einen Fragetext, 2 bis 16 Antworten mit Text und mindestens eine "
     "richtige Antwort (bei Einfachauswahl genau eine).",
     "The question is incomplete: it needs a text, 2 to 16 answers with text and at least one correct answer "
     "(exactly one for single choice)."},
};

const char *acad_msg_text(const web_req *r, const char *code)
{
    int en = r && r->lang && !strcmp(r->lang, "en");
    for (size_t i = 0; i < sizeof acad_messages / sizeof acad_messages[0]; i++)
        if (!strcmp(acad_messages[i].code, code))
            return en ? acad_messages[i].en : acad_messages[i].de;
    return web_msg(r, code);
}

enum MHD_Result acad_error(web_req *r, unsigned status, const char *code, json_t *extra)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", acad_msg_text(r, code));
    if (e && extra)
        json_object_update(e, extra);
    json_decref(extra);
    return web_json(r, status, json_pack("{s:o}", "error", e));
}

/* ------------------------------------------------------------ hooks */

const char *web_path_segment(const web_req *r, int n, char *buf, size_t cap)
{
    const char *p = r->path;
    if (!p || *p != '/')
        return NULL;
    p++;
    for (int i = 0; i < n; i++) {
        p = strchr(p, '/');
        if (!p)
            return NULL;
        p++;
    }
    size_t len = strcspn(p, "/?");
    if (len == 0 || len >= cap)
        return NULL;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

int web_capability_ok(web_req *r, const char *cap)
{
    return r->has_user && academy_capability_allowed(r->srv->cfg, r->srv->st, &r->user, cap);
}

enum MHD_Result web_capability_denied(web_req *r, const char *cap)
{
    const academy *a = academy_get(r->srv->cfg);
    int rank = a ? academy_cap_min_rank(r->srv->cfg, a, cap) : -1;
    const academy_level *lv = rank > 0 ? &a->levels[rank - 1] : NULL;
    if (r->path && !strncmp(r->path, "/v1/", 4)) {
        char msg[256];
        snprintf(msg, sizeof msg, "This API key's owner needs the academy level '%s' for the API.",
                 lv ? lv->name : "?");
        return web_error_msg(r, 403, "level_required", msg);
    }
    return acad_error(r, 403, "level_required",
                      json_pack("{s:s, s:s?, s:s?}", "capability", cap, "level", lv ? lv->id : NULL, "level_name",
                                lv ? lv->name : NULL));
}

int web_pii_blocked(web_req *r, const char *text, enum MHD_Result *ret)
{
    if (!text || r->srv->cfg->pii_check != RH_PII_BLOCK)
        return 0;
    pii_finding f[PII_FINDINGS_MAX];
    size_t n = pii_scan(text, strlen(text), f, PII_FINDINGS_MAX);
    if (n == 0)
        return 0;
    json_t *kinds = json_array();
    for (size_t i = 0; i < n && i < PII_FINDINGS_MAX; i++) {
        json_t *k = json_string(pii_kind_name(f[i].kind));
        size_t j;
        json_t *v;
        int dup = 0;
        json_array_foreach(kinds, j, v) dup |= json_equal(v, k);
        if (dup)
            json_decref(k);
        else
            json_array_append_new(kinds, k);
    }
    *ret = acad_error(r, 422, "pii_blocked", json_pack("{s:s, s:o}", "lesson", LESSON_PII, "kinds", kinds));
    return 1;
}

/* ------------------------------------------------------------ lessons view */

void acad_lessons_free(acad_lessons *v)
{
    rh_free(v->items);
    astore_lessons_free(&v->edits);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------------ quiz bank view */

void acad_bank_free(acad_bank *b)
{
    for (size_t i = 0; i < b->n_owned; i++)
        academy_question_clear(&b->owned[i]);
    rh_free(b->owned);
    rh_free(b->a.questions);
    astore_questions_free(&b->rows);
    memset(b, 0, sizeof *b);
}

const astore_question *acad_bank_row(const acad_bank *b, const char *id)
{
    for (size_t i = 0; i < b->rows.n; i++)
        if (!strcmp(b->rows.items[i].question_id, id))
            return &b->rows.items[i];
    return NULL;
}

int acad_bank_load(web_req *r, const academy *a, acad_bank *b)
{
    memset(b, 0, sizeof *b);
    if (!a)
        return RH_EINVAL;
    b->a = *a;
    b->a.questions = NULL;
    b->a.n_questions = 0;
    if (astore_question_list(r->srv->st, STORE_TENANT_DEFAULT, &b->rows))
        return RH_EIO;
    b->owned = rh_calloc(b->rows.n + 1, sizeof *b->owned);
    academy_question *qs = rh_calloc(a->n_questions + b->rows.n + 1, sizeof *qs);
    if (!b->owned || !qs) {
        rh_free(qs);
        acad_bank_free(b);
        return RH_ENOMEM;
    }
    b->a.questions = qs;
    /* the trainers' versions, parsed (a row that no longer parses or whose
     * level is gone is left out rather than breaking the quiz) */
    for (size_t i = 0; i < b->rows.n; i++) {
        const astore_question *row = &b->rows.items[i];
        rh_error e;
        if (!row->body || academy_level_index(a, row->level) < 0)
            continue;
        if (academy_question_parse(row->body, strlen(row->body), &b->owned[b->n_owned], &e) == RH_OK) {
            if (!strcmp(b->owned[b->n_owned].id, row->question_id))
                b->n_owned++;
            else
                academy_question_clear(&b->owned[b->n_owned]);
        } else {
            rh_log(RH_LOG_WARN, "academy: question %s in the database: %s", row->question_id, e.msg);
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < a->n_questions; i++) {
        const academy_question *q = &a->questions[i];
        const astore_question *row = acad_bank_row(b, q->id);
        if (!row) {
            qs[n++] = *q;
            continue;
        }
        for (size_t k = 0; k < b->n_owned; k++)
            if (!strcmp(b->owned[k].id, q->id))
                qs[n++] = b->owned[k];
    }
    for (size_t k = 0; k < b->n_owned; k++) {
        int builtin = 0;
        for (size_t i = 0; i < a->n_questions && !builtin; i++)
            builtin = !strcmp(a->questions[i].id, b->owned[k].id);
        if (!builtin)
            qs[n++] = b->owned[k];
    }
    b->a.n_questions = n;
    return RH_OK;
}

/* The handler with the academy whose questions are the merged bank. */
static enum MHD_Result with_bank(web_req *r, enum MHD_Result (*fn)(web_req *, const academy *))
{
    acad_bank b;
    const academy *a = academy_get(r->srv->cfg);
    if (!a)
        return web_error(r, 500, "internal");
    if (acad_bank_load(r, a, &b))
        return web_error(r, 500, "internal");
    enum MHD_Result ret = fn(r, &b.a);
    acad_bank_free(&b);
    return ret;
}

static int lesson_cmp(const academy *a, const acad_lesson *x, const acad_lesson *y)
{
    int lx = academy_level_index(a, x->level), ly = academy_level_index(a, y->level);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return strcmp(x->id, y->id);
}

int acad_lessons_load(web_req *r, const academy *a, acad_lessons *v)
{
    memset(v, 0, sizeof *v);
    if (astore_lesson_list(r->srv->st, STORE_TENANT_DEFAULT, &v->edits))
        return RH_EIO;
    v->items = rh_calloc(a->n_lessons + v->edits.n + 1, sizeof *v->items);
    if (!v->items) {
        astore_lessons_free(&v->edits);
        return RH_ENOMEM;
    }
    for (size_t i = 0; i < a->n_lessons; i++) {
        const academy_lesson *l = &a->lessons[i];
        v->items[v->n++] = (acad_lesson){l->id, l->level, l->title, l->markdown, l->order, l->minutes, 0, 1, NULL, 0};
    }
    for (size_t i = 0; i < v->edits.n; i++) {
        const astore_lesson *e = &v->edits.items[i];
        if (academy_level_index(a, e->level) < 0)
            continue; /* its level was removed from the configuration */
        acad_lesson *slot = NULL;
        for (size_t k = 0; k < v->n && !slot; k++)
            if (!strcmp(v->items[k].id, e->lesson_id))
                slot = &v->items[k];
        int builtin = slot != NULL;
        if (!slot)
            slot = &v->items[v->n++];
        *slot = (acad_lesson){e->lesson_id, e->level, e->title, e->markdown, e->order, e->minutes, 1, builtin,
                              e->updated_by, e->updated_at};
    }
    for (size_t i = 1; i < v->n; i++) {
        acad_lesson t = v->items[i];
        size_t j = i;
        while (j > 0 && lesson_cmp(a, &v->items[j - 1], &t) > 0) {
            v->items[j] = v->items[j - 1];
            j--;
        }
        v->items[j] = t;
    }
    return RH_OK;
}

const acad_lesson *acad_lesson_find(const acad_lessons *v, const char *id)
{
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->items[i].id, id))
            return &v->items[i];
    return NULL;
}

static int64_t done_at(const astore_dones *d, const char *lesson_id)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->items[i].lesson_id, lesson_id))
            return d->items[i].at;
    return 0;
}

/* Lessons of level `level_id` not yet done; returns how many, fills `missing`. */
static size_t lessons_missing(const acad_lessons *v, const astore_dones *d, const char *level_id, json_t *missing)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->items[i].level, level_id) && !done_at(d, v->items[i].id)) {
            n++;
            if (missing)
                json_array_append_new(missing, json_string(v->items[i].id));
        }
    return n;
}

json_t *acad_caps_json(const rh_config *cfg, const char *list)
{
    json_t *arr = json_array();
    for (size_t i = 0; academy_capability_names[i]; i++) {
        const char *c = academy_capability_names[i];
        /* keep the canonical order; only names that are in the list */
        size_t cl = strlen(c);
        const char *p = list;
        while (p && *p) {
            while (*p == ' ' || *p == ',')
                p++;
            size_t n = strcspn(p, ",");
            size_t t = n;
            while (t && p[t - 1] == ' ')
                t--;
            if (t == cl && !memcmp(p, c, cl)) {
                json_array_append_new(arr, json_string(c));
                break;
            }
            p += n;
        }
    }
    (void)cfg;
    return arr;
}

/* ------------------------------------------------------------ overview */

typedef struct quiz_state {
    const char *reason; /* NULL: available */
    int64_t next_at;    /* waiting period end, 0 none */
} quiz_state;

/* Can the user start the quiz of level index li now? */
static quiz_state quiz_check(web_req *r, const academy *a, const acad_lessons *v, const astore_dones *d, int rank,
                             int li, json_t *missing)
{
    quiz_state q = {NULL, 0};
    const char *lid = a->levels[li].id;
    size_t nq = 0;
    for (size_t i = 0; i < a->n_questions; i++)
        nq += !strcmp(a->questions[i].level, lid);
    if (rank < li) {
        q.reason = "previous_level_required";
        return q;
    }
    if (lessons_missing(v, d, lid, missing)) {
        q.reason = "lessons_incomplete";
        return q;
    }
    if (nq == 0) {
        q.reason = "no_questions";
        return q;
    }
    astore_attempt last;
    if (astore_attempt_last(r->srv->st, r->user.id, lid, &last) == RH_OK) {
        int64_t until = last.finished_at + (int64_t)r->srv->cfg->quiz_retry_minutes * 60;
        if (!last.passed && web_now() < until) {
            q.reason = "quiz_wait";
            q.next_at = until;
        }
        astore_attempt_clear(&last);
    }
    return q;
}

static enum MHD_Result api_academy_in(web_req *r, const academy *a)
{
    const rh_config *cfg = r->srv->cfg;
    acad_lessons v;
    astore_dones d;
    astore_attempts at;
    astore_level lv;
    if (!a)
        return web_error(r, 500, "internal");
    if (acad_lessons_load(r, a, &v))
        return web_error(r, 500, "internal");
    if (astore_lessons_done(r->srv->st, r->user.id, &d)) {
        acad_lessons_free(&v);
        return web_error(r, 500, "internal");
    }
    if (astore_attempt_list(r->srv->st, r->user.id, &at)) {
        astore_dones_free(&d);
        acad_lessons_free(&v);
        return web_error(r, 500, "internal");
    }
    int have_level = astore_level_get(r->srv->st, r->user.id, &lv) == RH_OK;
    int li_user = have_level ? academy_level_index(a, lv.level) : -1;
    int rank = li_user + 1;
    json_t *levels = json_array();
    for (size_t li = 0; li < a->n_levels; li++) {
        const academy_level *L = &a->levels[li];
        json_t *lessons = json_array();
        size_t total = 0, done = 0;
        for (size_t i = 0; i < v.n; i++) {
            const acad_lesson *l = &v.items[i];
            if (strcmp(l->level, L->id))
                continue;
            int64_t t = done_at(&d, l->id);
            total++;
            done += t != 0;
            json_array_append_new(lessons, json_pack("{s:s, s:s, s:i, s:i, s:b, s:o, s:b}", "id", l->id, "title",
                                                     l->title, "order", l->order, "minutes", l->minutes, "completed",
                                                     t != 0, "completed_at", web_time(t), "edited", l->edited));
        }
        size_t nq = 0;
        for (size_t i = 0; i < a->n_questions; i++)
            nq += !strcmp(a->questions[i].level, L->id);
        quiz_state qs = quiz_check(r, a, &v, &d, rank, (int)li, NULL);
        json_t *last = json_null();
        for (size_t i = 0; i < at.n; i++)
            if (!strcmp(at.items[i].level, L->id)) {
                json_decref(last);
                last = json_pack("{s:i, s:i, s:i, s:b, s:o}", "score", at.items[i].correct, "total",
                                 at.items[i].total, "percent", at.items[i].percent, "passed", at.items[i].passed,
                                 "at", web_time(at.items[i].finished_at));
                break; /* newest first */
            }
        json_array_append_new(
            levels,
            json_pack("{s:s, s:s, s:s, s:i, s:b, s:o, s:o, s:I, s:I, s:I, s:{s:b, s:s?, s:o, s:o}}", "id", L->id,
                      "name", L->name, "description", L->description, "order", L->order, "held",
                      (int)li < rank, "capabilities", acad_caps_json(cfg, academy_level_caps(cfg, L->id)),
                      "lessons", lessons, "lessons_total", (json_int_t)total, "lessons_completed",
                      (json_int_t)done, "questions", (json_int_t)nq, "quiz", "available", qs.reason == NULL,
                      "reason", qs.reason, "next_attempt_at", web_time(qs.next_at), "last", last));
    }
    /* the user's effective capabilities */
    json_t *caps = json_array();
    for (size_t i = 0; academy_capability_names[i]; i++)
        if (academy_capability_allowed(cfg, r->srv->st, &r->user, academy_capability_names[i]))
            json_array_append_new(caps, json_string(academy_capability_names[i]));
    const char *pii = cfg->pii_check == RH_PII_BLOCK ? "block" : cfg->pii_check == RH_PII_WARN ? "warn" : "off";
    json_t *o = json_pack(
        "{s:b, s:i, s:i, s:s, s:{s:s?, s:s?, s:i, s:o, s:s?, s:s?}, s:o, s:o, s:{s:s, s:s, s:s, s:s}}", "gating",
        cfg->academy_gating, "pass_percent", cfg->quiz_pass_percent, "retry_minutes", cfg->quiz_retry_minutes,
        "pii_check", pii, "user", "level", li_user >= 0 ? a->levels[li_user].id : NULL, "level_name",
        li_user >= 0 ? a->levels[li_user].name : NULL, "rank", rank, "awarded_at",
        web_time(li_user >= 0 ? lv.awarded_at : 0), "awarded_by", li_user >= 0 ? lv.awarded_by : NULL, "via",
        li_user >= 0 ? lv.via : NULL, "capabilities", caps, "levels", levels, "reminders", "no_sources_lesson",
        LESSON_NO_SOURCES, "no_sources_message", acad_msg_text(r, "no_sources_hint"), "pii_lesson", LESSON_PII,
        "pii_message", acad_msg_text(r, "pii_warning"));
    if (have_level)
        astore_level_clear(&lv);
    astore_attempts_free(&at);
    astore_dones_free(&d);
    acad_lessons_free(&v);
    return web_json(r, 200, o);
}

/* ------------------------------------------------------------ lessons */

static enum MHD_Result api_lesson_get(web_req *r)
{
    char id[ACADEMY_ID_MAX + 1];
    const academy *a = academy_get(r->srv->cfg);
    acad_lessons v;
    astore_dones d;
    if (!a || !web_path_segment(r, 3, id, sizeof id))
        return web_error(r, 404, "not_found");
    if (acad_lessons_load(r, a, &v))
        return web_error(r, 500, "internal");
    const acad_lesson *l = acad_lesson_find(&v, id);
    if (!l) {
        acad_lessons_free(&v);
        return web_error(r, 404, "not_found");
    }
    if (astore_lessons_done(r->srv->st, r->user.id, &d)) {
        acad_lessons_free(&v);
        return web_error(r, 500, "internal");
    }
    int64_t t = done_at(&d, l->id);
    int li = academy_level_index(a, l->level);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:b, s:o, s:b, s:b, s:s?, s:o}", "id", l->id, "level",
                          l->level, "level_name", a->levels[li].name, "title", l->title, "order", l->order, "minutes",
                          l->minutes, "markdown", l->markdown, "completed", t != 0, "completed_at", web_time(t),
                          "edited", l->edited, "builtin", l->builtin, "updated_by", l->updated_by, "updated_at",
                          web_time(l->updated_at));
    astore_dones_free(&d);
    acad_lessons_free(&v);
    return web_json(r, 200, o);
}

static enum MHD_Result api_lesson_complete(web_req *r)
{
    char id[ACADEMY_ID_MAX + 1];
    const academy *a = academy_get(r->srv->cfg);
    acad_lessons v;
    if (!a || !web_path_segment(r, 3, id, sizeof id))
        return web_error(r, 404, "not_found");
    if (acad_lessons_load(r, a, &v))
        return web_error(r, 500, "internal");
    int found = acad_lesson_find(&v, id) != NULL;
    acad_lessons_free(&v);
    if (!found)
        return web_error(r, 404, "not_found");
    if (astore_lesson_complete(r->srv->st, STORE_TENANT_DEFAULT, r->user.id, id, web_now()))
        return web_error(r, 500, "internal");
    return web_json(r, 200, json_pack("{s:s, s:b}", "id", id, "completed", 1));
}

/* ------------------------------------------------------------ quiz */

static uint32_t sodium_rng(uint32_t upper, void *ud)
{
    (void)ud;
    return upper ? randombytes_uniform(upper) : 0;
}

/* Level index from the path, or -1. */
static int path_level(web_req *r, const academy *a)
{
    char id[ACADEMY_ID_MAX + 1];
    if (!a || !web_path_segment(r, 3, id, sizeof id))
        return -1;
    return academy_level_index(a, id);
}

static enum MHD_Result quiz_refuse(web_req *r, quiz_state qs, json_t *missing)
{
    if (!strcmp(qs.reason, "quiz_wait")) {
        char ra[32];
        int64_t wait = qs.next_at - web_now();
        snprintf(ra, sizeof ra, "%lld", (long long)(wait > 0 ? wait : 1));
        json_t *e = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", "quiz_wait", "message",
                              acad_msg_text(r, "quiz_wait"), "next_attempt_at", web_time(qs.next_at));
        char *s = json_dumps(e, JSON_COMPACT);
        json_decref(e);
        json_decref(missing);
        const char *hdr[] = {"Retry-After", ra, NULL};
        enum MHD_Result ret =
            web_send(r, 429, "application/json; charset=utf-8", s ? s : "{}", s ? strlen(s) : 2, hdr);
        free(s); /* jansson */
        return ret;
    }
    if (!strcmp(qs.reason, "lessons_incomplete"))
        return acad_error(r, 409, qs.reason, json_pack("{s:o}", "missing_lessons", missing));
    json_decref(missing);
    return acad_error(r, 409, qs.reason, NULL);
}

/* The quiz state of level `li` for the user (lessons and ranks read):
 * missing lessons appended to `missing`, the user's rank in *rank.
 * -1 when the lessons or the progress cannot be read. */
static int quiz_eval(web_req *r, const academy *a, int li, json_t *missing, int *rank, quiz_state *qs)
{
    acad_lessons v;
    astore_dones d;
    if (acad_lessons_load(r, a, &v))
        return -1;
    if (astore_lessons_done(r->srv->st, r->user.id, &d)) {
        acad_lessons_free(&v);
        return -1;
    }
    *rank = academy_user_rank(a, r->srv->st, r->user.id);
    *qs = quiz_check(r, a, &v, &d, *rank, li, missing);
    astore_dones_free(&d);
    acad_lessons_free(&v);
    return 0;
}

/* GET: the quiz's status for the user, without changing anything. */
static enum MHD_Result api_quiz_status_in(web_req *r, const academy *a)
{
    const rh_config *cfg = r->srv->cfg;
    int li = path_level(r, a);
    if (li < 0)
        return web_error(r, 404, "not_found");
    const char *lid = a->levels[li].id;
    astore_attempt att;
    json_t *missing = json_array();
    int rank;
    quiz_state qs;
    if (quiz_eval(r, a, li, missing, &rank, &qs)) {
        json_decref(missing);
        return web_error(r, 500, "internal");
    }
    json_t *last = json_null();
    if (astore_attempt_last(r->srv->st, r->user.id, lid, &att) == RH_OK) {
        last = json_pack("{s:i, s:i, s:i, s:b, s:o}", "score", att.correct, "total", att.total, "percent",
                         att.percent, "passed", att.passed, "at", web_time(att.finished_at));
        astore_attempt_clear(&att);
    }
    int open = astore_attempt_open(r->srv->st, r->user.id, lid, &att) == RH_OK;
    if (open)
        astore_attempt_clear(&att);
    return web_json(r, 200,
                    json_pack("{s:s, s:s, s:i, s:b, s:b, s:s?, s:o, s:o, s:o, s:b}", "level", lid, "level_name",
                              a->levels[li].name, "pass_percent", cfg->quiz_pass_percent, "held", li < rank,
                              "available", qs.reason == NULL, "reason", qs.reason, "next_attempt_at",
                              web_time(qs.next_at), "missing_lessons", missing, "last", last, "open_attempt",
                              open));
}

/* POST .../start: draws a new attempt (replacing an unfinished one). */
static enum MHD_Result api_quiz_start_in(web_req *r, const academy *a)
{
    const rh_config *cfg = r->srv->cfg;
    int li = path_level(r, a);
    if (li < 0)
        return web_error(r, 404, "not_found");
    const char *lid = a->levels[li].id;
    json_t *missing = json_array();
    int rank;
    quiz_state qs;
    if (quiz_eval(r, a, li, missing, &rank, &qs)) {
        json_decref(missing);
        return web_error(r, 500, "internal");
    }
    if (qs.reason)
        return quiz_refuse(r, qs, missing);
    json_decref(missing);
    academy_quiz qz;
    char *plan = NULL;
    int64_t id = 0;
    if (academy_quiz_new(a, lid, (size_t)cfg->quiz_questions, sodium_rng, NULL, &qz))
        return acad_error(r, 409, "no_questions", NULL);
    if (academy_quiz_encode(&qz, &plan) ||
        astore_attempt_start(r->srv->st, STORE_TENANT_DEFAULT, r->user.id, lid, plan, web_now(), &id)) {
        rh_free(plan);
        academy_quiz_free(&qz);
        return web_error(r, 500, "internal");
    }
    rh_free(plan);
    json_t *qs_json = json_array();
    for (size_t i = 0; i < qz.n; i++) {
        const academy_question *q = qz.items[i].q;
        json_t *opts = json_array();
        for (size_t p = 0; p < q->n_options; p++)
            json_array_append_new(opts, json_pack("{s:i, s:s}", "id", (int)p, "text",
                                                  q->options[qz.items[i].perm[p]].text));
        json_array_append_new(qs_json, json_pack("{s:s, s:s, s:s, s:o}", "id", q->id, "type",
                                                 q->multiple ? "multiple" : "single", "question", q->question,
                                                 "options", opts));
    }
    academy_quiz_free(&qz);
    return web_json(r, 200, json_pack("{s:I, s:s, s:s, s:i, s:o}", "attempt_id", (json_int_t)id, "level", lid,
                                      "level_name", a->levels[li].name, "pass_percent", cfg->quiz_pass_percent,
                                      "questions", qs_json));
}

/* answers: {"QUESTION_ID": [option ids]} -> bit masks per item. */
static int read_answers(json_t *answers, const academy_quiz *qz, uint32_t *chosen)
{
    if (!json_is_object(answers))
        return RH_EINVAL;
    for (size_t i = 0; i < qz->n; i++) {
        json_t *arr = json_object_get(answers, qz->items[i].q->id);
        chosen[i] = 0;
        if (!arr || json_is_null(arr))
            continue;
        if (json_is_integer(arr)) { /* a single id is fine too */
            json_int_t k = json_integer_value(arr);
            if (k < 0 || (size_t)k >= qz->items[i].q->n_options)
                return RH_EINVAL;
            chosen[i] = 1u << k;
            continue;
        }
        if (!json_is_array(arr) || json_array_size(arr) > ACADEMY_MAX_OPTIONS)
            return RH_EINVAL;
        size_t j;
        json_t *x;
        json_array_foreach(arr, j, x) {
            if (!json_is_integer(x))
                return RH_EINVAL;
            json_int_t k = json_integer_value(x);
            if (k < 0 || (size_t)k >= qz->items[i].q->n_options)
                return RH_EINVAL;
            chosen[i] |= 1u << k;
        }
    }
    return RH_OK;
}

static json_t *mask_json(uint32_t m, size_t n)
{
    json_t *a = json_array();
    for (size_t p = 0; p < n; p++)
        if (m & (1u << p))
            json_array_append_new(a, json_integer((json_int_t)p));
    return a;
}

static enum MHD_Result api_quiz_submit_in(web_req *r, const academy *a)
{
    const rh_config *cfg = r->srv->cfg;
    int li = path_level(r, a);
    if (li < 0)
        return web_error(r, 404, "not_found");
    const char *lid = a->levels[li].id;
    enum MHD_Result ret;
    astore_attempt att;
    academy_quiz qz = {0};
    uint32_t *chosen = NULL;
    int *right = NULL;
    int have_att = 0;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    json_t *aid = json_object_get(b, "attempt_id");
    if (aid && !json_is_integer(aid)) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    have_att = astore_attempt_open(r->srv->st, r->user.id, lid, &att) == RH_OK;
    if (!have_att || (aid && json_integer_value(aid) != att.id)) {
        ret = acad_error(r, 409, "no_attempt", NULL);
        goto out;
    }
    if (academy_quiz_decode(a, att.plan, &qz)) {
        ret = acad_error(r, 409, "attempt_invalid", NULL);
        goto out;
    }
    chosen = rh_calloc(qz.n, sizeof *chosen);
    right = rh_calloc(qz.n, sizeof *right);
    if (!chosen || !right) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (read_answers(json_object_get(b, "answers"), &qz, chosen)) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    size_t correct = academy_quiz_score(&qz, chosen, right);
    int passed = academy_quiz_passed(correct, qz.n, cfg->quiz_pass_percent);
    int percent = (int)(correct * 100 / qz.n);
    int64_t now = web_now();
    if (astore_attempt_finish(r->srv->st, r->user.id, att.id, (int)correct, (int)qz.n, percent, passed, now)) {
        ret = acad_error(r, 409, "no_attempt", NULL);
        goto out;
    }
    const char *awarded = NULL;
    char detail[256];
    snprintf(detail, sizeof detail, "level=%s score=%zu/%zu percent=%d passed=%s", lid, correct, qz.n, percent,
             passed ? "yes" : "no");
    web_audit(r, "academy_quiz", r->user.username, detail);
    if (passed && academy_user_rank(a, r->srv->st, r->user.id) < li + 1) {
        char reason[64];
        snprintf(reason, sizeof reason, "Quiz %d %%", percent);
        if (astore_level_set(r->srv->st, STORE_TENANT_DEFAULT, r->user.id, lid, "award", "quiz", NULL, reason,
                             now)) {
            ret = web_error(r, 500, "internal");
            goto out;
        }
        snprintf(detail, sizeof detail, "level=%s via=quiz", lid);
        web_audit(r, "academy_award", r->user.username, detail);
        awarded = lid;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < qz.n; i++) {
        const academy_question *q = qz.items[i].q;
        uint32_t want = 0;
        for (size_t p = 0; p < q->n_options; p++)
            if (q->options[qz.items[i].perm[p]].correct)
                want |= 1u << p;
        json_array_append_new(results, json_pack("{s:s, s:b, s:o, s:o, s:s, s:s}", "id", q->id, "correct",
                                                 right[i], "chosen", mask_json(chosen[i], q->n_options),
                                                 "correct_options", mask_json(want, q->n_options), "explanation",
                                                 q->explanation, "lesson", q->lesson));
    }
    int64_t next = passed ? 0 : now + (int64_t)cfg->quiz_retry_minutes * 60;
    ret = web_json(r, 200,
                   json_pack("{s:I, s:I, s:i, s:b, s:i, s:s?, s:o, s:o}", "score", (json_int_t)correct, "total",
                             (json_int_t)qz.n, "percent", percent, "passed", passed, "pass_percent",
                             cfg->quiz_pass_percent, "level_awarded", awarded, "next_attempt_at", web_time(next),
                             "results", results));
out:
    rh_free(chosen);
    rh_free(right);
    academy_quiz_free(&qz);
    if (have_att)
        astore_attempt_clear(&att);
    json_decref(b);
    return ret;
}

/* ------------------------------------------------------------ feedback */

static enum MHD_Result api_feedback(web_req *r)
{
    const char *rating = NULL, *comment = "";
    enum MHD_Result ret;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "rating", 8, &rating) || (strcmp(rating, "up") && strcmp(rating, "down")) ||
        web_str(b, "comment", COMMENT_MAX, &comment) == RH_EINVAL) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    int rc = astore_feedback_set(r->srv->st, STORE_TENANT_DEFAULT, r->user.id, r->id[0], rating, comment,
                                 web_now());
    if (rc == RH_ENOTFOUND)
        ret = web_error(r, 404, "not_found");
    else if (rc)
        ret = web_error(r, 500, "internal");
    else
        ret = web_json(r, 200, json_pack("{s:I, s:s, s:s}", "message_id", (json_int_t)r->id[0], "rating", rating,
                                         "comment", comment));
out:
    json_decref(b);
    return ret;
}

static enum MHD_Result api_conv_feedback(web_req *r)
{
    store_conv c;
    astore_feedbacks l;
    if (store_conv_get(r->srv->st, r->user.id, r->id[0], &c))
        return web_error(r, 404, "not_found");
    store_conv_free(&c);
    if (astore_feedback_conv(r->srv->st, r->user.id, r->id[0], &l))
        return web_error(r, 500, "internal");
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:o}", "message_id", (json_int_t)l.items[i].message_id,
                                             "rating", l.items[i].rating, "comment", l.items[i].comment, "at",
                                             web_time(l.items[i].at)));
    astore_feedbacks_free(&l);
    return web_json(r, 200, json_pack("{s:o}", "feedback", arr));
}

/* ------------------------------------------------------------ personal data */

/* Byte offset -> UTF-16 code units (what JavaScript strings count). */
static size_t utf16_offset(const char *s, size_t byte_off)
{
    size_t u = 0;
    for (size_t i = 0; i < byte_off; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) == 0x80)
            continue;
        u += c >= 0xF0 ? 2 : 1;
    }
    return u;
}

static enum MHD_Result api_pii_check(web_req *r)
{
    const char *text = NULL;
    const rh_config *cfg = r->srv->cfg;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "text", PII_TEXT_MAX, &text)) {
        json_decref(b);
        return web_error(r, 400, "bad_request");
    }
    const char *mode = cfg->pii_check == RH_PII_BLOCK ? "block" : cfg->pii_check == RH_PII_WARN ? "warn" : "off";
    json_t *arr = json_array();
    size_t n = 0;
    if (cfg->pii_check != RH_PII_OFF) {
        pii_finding f[PII_FINDINGS_MAX];
        n = pii_scan(text, strlen(text), f, PII_FINDINGS_MAX);
        for (size_t i = 0; i < n && i < PII_FINDINGS_MAX; i++)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "kind", pii_kind_name(f[i].kind), "start",
                                                 (json_int_t)utf16_offset(text, f[i].start), "end",
                                                 (json_int_t)utf16_offset(text, f[i].end)));
    }
    json_t *o = json_pack("{s:s, s:o, s:s, s:s?}", "mode", mode, "findings", arr, "lesson", LESSON_PII, "message",
                          n ? acad_msg_text(r, cfg->pii_check == RH_PII_BLOCK ? "pii_blocked" : "pii_warning")
                            : NULL);
    json_decref(b);
    return web_json(r, 200, o);
}

/* ------------------------------------------------------------ routes */

static enum MHD_Result api_academy(web_req *r) { return with_bank(r, api_academy_in); }
static enum MHD_Result api_quiz_status(web_req *r) { return with_bank(r, api_quiz_status_in); }
static enum MHD_Result api_quiz_start(web_req *r) { return with_bank(r, api_quiz_start_in); }
static enum MHD_Result api_quiz_submit(web_req *r) { return with_bank(r, api_quiz_submit_in); }


static const web_route academy_routes[] = {
    {"GET", "/api/academy", api_academy, ROLE_USER, 0},
    {"GET", "/api/academy/lessons/*", api_lesson_get, ROLE_USER, 0},
    {"POST", "/api/academy/lessons/*/complete", api_lesson_complete, ROLE_USER, 1},
    {"GET", "/api/academy/quiz/*", api_quiz_status, ROLE_USER, 0},
    {"POST", "/api/academy/quiz/*/start", api_quiz_start, ROLE_USER, 1},
    {"POST", "/api/academy/quiz/*", api_quiz_submit, ROLE_USER, 1},
    {"POST", "/api/messages/:id/feedback", api_feedback, ROLE_USER, 1},
    {"GET", "/api/conversations/:id/feedback", api_conv_feedback, ROLE_USER, 0},
    {"POST", "/api/pii-check", api_pii_check, ROLE_USER, 1},
};
WEB_ROUTES(academy_routes)
