/*
 * content.c - the academy's content: the built-in files compiled into the
 * binary (build/gen/academy_content.c from content/academy/), optionally
 * replaced by the files of the configured academy_dir; parsing of
 * levels.json, quiz.json and the lessons' front matter.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "academy/academy.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "web/assets.h"

/* generated from content/academy/ (see the Makefile) */
extern const rh_asset rh_academy_files[];
extern const size_t rh_academy_files_count;

#define FILE_MAX (4u * 1024 * 1024)
#define MAX_LEVELS 32
#define MAX_LESSONS 1000
#define MAX_QUESTIONS 5000

int academy_id_ok(const char *id)
{
    size_t n = 0;
    if (!id)
        return 0;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return n >= 1 && n <= ACADEMY_ID_MAX;
}

int academy_level_index(const academy *a, const char *level_id)
{
    for (size_t i = 0; a && level_id && i < a->n_levels; i++)
        if (!strcmp(a->levels[i].id, level_id))
            return (int)i;
    return -1;
}

int academy_lesson_index(const academy *a, const char *lesson_id)
{
    for (size_t i = 0; a && lesson_id && i < a->n_lessons; i++)
        if (!strcmp(a->lessons[i].id, lesson_id))
            return (int)i;
    return -1;
}

void academy_lesson_clear(academy_lesson *l)
{
    if (!l)
        return;
    rh_free(l->id);
    rh_free(l->level);
    rh_free(l->title);
    rh_free(l->markdown);
    memset(l, 0, sizeof *l);
}

void academy_question_clear(academy_question *q)
{
    rh_free(q->id);
    rh_free(q->level);
    rh_free(q->lesson);
    rh_free(q->question);
    rh_free(q->explanation);
    for (size_t i = 0; i < q->n_options; i++)
        rh_free(q->options[i].text);
    memset(q, 0, sizeof *q);
}

static void levels_free(academy_level *lv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rh_free(lv[i].id);
        rh_free(lv[i].name);
        rh_free(lv[i].description);
    }
    rh_free(lv);
}

static void questions_free(academy_question *q, size_t n)
{
    if (!q)
        return;
    for (size_t i = 0; i < n; i++)
        academy_question_clear(&q[i]);
    rh_free(q);
}

void academy_free(academy *a)
{
    if (!a)
        return;
    levels_free(a->levels, a->n_levels);
    for (size_t i = 0; i < a->n_lessons; i++)
        academy_lesson_clear(&a->lessons[i]);
    rh_free(a->lessons);
    questions_free(a->questions, a->n_questions);
    rh_free(a);
}

/* ------------------------------------------------------------ lessons */

/* Parse an integer 0..100000 (front matter). */
static int small_int(const char *s, size_t n, int *out)
{
    long v = 0;
    if (n == 0 || n > 6)
        return RH_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return RH_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = (int)v;
    return RH_OK;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = rh_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static int utf8_ok(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (n == 9 || i + n >= len + (n == 0))
            return 0;
        unsigned cp = n == 0 ? c : c & (0x3Fu >> n);
        for (size_t k = 1; k <= n; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

int academy_lesson_parse(const char *text, size_t len, const char *name, academy_lesson *out, rh_error *err)
{
    int rc = RH_OK;
    memset(out, 0, sizeof *out);
    if (len > ACADEMY_LESSON_MAX)
        return rh_error_set(err, RH_ELIMIT, "%s: the lesson is larger than %u bytes", name, ACADEMY_LESSON_MAX);
    if (memchr(text, '\0', len))
        return rh_error_set(err, RH_EFORMAT, "%s: contains NUL bytes", name);
    if (!utf8_ok(text, len))
        return rh_error_set(err, RH_EFORMAT, "%s: is not valid UTF-8", name);
    const char *p = text, *end = text + len;
    if (len < 4 || strncmp(p, "---", 3) || (p[3] != '\n' && p[3] != '\r'))
        return rh_error_set(err, RH_EFORMAT, "%s: the lesson must start with a front matter block (---)", name);
    p += 3;
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    out->order = 0;
    out->minutes = 5;
    int closed = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *le = eol;
        while (le > p && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
            le--;
        const char *next = eol < end ? eol + 1 : end;
        if (le - p == 3 && !strncmp(p, "---", 3)) {
            closed = 1;
            p = next;
            break;
        }
        if (le > p) {
            const char *colon = memchr(p, ':', (size_t)(le - p));
            if (!colon) {
                rc = rh_error_set(err, RH_EFORMAT, "%s: front matter line without 'key: value'", name);
                goto fail;
            }
            const char *k = p, *ke = colon, *v = colon + 1;
            while (ke > k && ke[-1] == ' ')
                ke--;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            size_t kl = (size_t)(ke - k), vl = (size_t)(le - v);
            if (vl >= 2 && ((v[0] == '"' && v[vl - 1] == '"') || (v[0] == '\'' && v[vl - 1] == '\''))) {
                v++;
                vl -= 2;
            }
            char **slot = NULL;
            if (kl == 2 && !strncmp(k, "id", 2))
                slot = &out->id;
            else if (kl == 5 && !strncmp(k, "level", 5))
                slot = &out->level;
            else if (kl == 5 && !strncmp(k, "title", 5))
                slot = &out->title;
            else if (kl == 5 && !strncmp(k, "order", 5)) {
                if (small_int(v, vl, &out->order)) {
                    rc = rh_error_set(err, RH_EFORMAT, "%s: order must be a number", name);
                    goto fail;
                }
            } else if (kl == 7 && !strncmp(k, "minutes", 7)) {
                if (small_int(v, vl, &out->minutes)) {
                    rc = rh_error_set(err, RH_EFORMAT, "%s: minutes must be a number", name);
                    goto fail;
                }
            } /* unknown keys are ignored */
            if (slot) {
                rh_free(*slot);
                if (!(*slot = dup_n(v, vl))) {
                    rc = rh_error_set(err, RH_ENOMEM, "out of memory");
                    goto fail;
                }
            }
        }
        p = next;
    }
    if (!closed) {
        rc = rh_error_set(err, RH_EFORMAT, "%s: the front matter block is not closed with ---", name);
        goto fail;
    }
    if (!academy_id_ok(out->id) || !academy_id_ok(out->level) || !out->title || !*out->title) {
        rc = rh_error_set(err, RH_EFORMAT, "%s: the front matter needs id, level (a-z, 0-9, -, _) and title", name);
        goto fail;
    }
    while (p < end && (*p == '\n' || *p == '\r'))
        p++;
    if (!(out->markdown = dup_n(p, (size_t)(end - p)))) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto fail;
    }
    return RH_OK;
fail:
    academy_lesson_clear(out);
    return rc;
}

/* ------------------------------------------------------------ JSON files */

static char *json_dup(json_t *o, const char *key, int required)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return required ? NULL : rh_strdup("");
    return rh_strdup(json_string_value(v));
}

static int parse_levels(const char *text, size_t len, const char *name, academy *a, rh_error *err)
{
    json_error_t je;
    int rc = RH_OK;
    json_t *root = json_loadb(text, len, 0, &je);
    json_t *arr = root ? json_object_get(root, "levels") : NULL;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > MAX_LEVELS) {
        rc = rh_error_set(err, RH_EFORMAT, "%s: expected {\"levels\": [1..%d levels]}%s%s", name, MAX_LEVELS,
                          root ? "" : ": ", root ? "" : je.text);
        goto out;
    }
    size_t n = json_array_size(arr);
    academy_level *lv = rh_calloc(n, sizeof *lv);
    if (!lv) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        json_t *ord = json_object_get(o, "order");
        lv[i].id = json_dup(o, "id", 1);
        lv[i].name = json_dup(o, "name", 1);
        lv[i].description = json_dup(o, "description", 0);
        lv[i].order = json_is_integer(ord) ? (int)json_integer_value(ord) : (int)i + 1;
        if (!academy_id_ok(lv[i].id) || !lv[i].name || !*lv[i].name || !lv[i].description) {
            levels_free(lv, n);
            rc = rh_error_set(err, RH_EFORMAT, "%s: level %zu needs an id (a-z, 0-9, -, _) and a name", name, i + 1);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(lv[j].id, lv[i].id)) {
                levels_free(lv, n);
                rc = rh_error_set(err, RH_EFORMAT, "%s: level id '%s' appears twice", name, lv[i].id);
                goto out;
            }
    }
    /* sort by order (insertion sort, stable) */
    for (size_t i = 1; i < n; i++) {
        academy_level t = lv[i];
        size_t j = i;
        while (j > 0 && lv[j - 1].order > t.order) {
            lv[j] = lv[j - 1];
            j--;
        }
        lv[j] = t;
    }
    levels_free(a->levels, a->n_levels);
    a->levels = lv;
    a->n_levels = n;
out:
    json_decref(root);
    return rc;
}

/* One question object of quiz.json (or of the trainers' bank) into `q`;
 * on an error `q` holds what was read so far (free it either way). */
static int question_from_json(json_t *o, const char *name, size_t nr, academy_question *q, rh_error *err)
{
    json_t *type = json_object_get(o, "type"), *opts = json_object_get(o, "options");
    if (!json_is_object(o))
        return rh_error_set(err, RH_EFORMAT, "%s: question %zu is not an object", name, nr);
    q->id = json_dup(o, "id", 1);
    q->level = json_dup(o, "level", 1);
    q->lesson = json_dup(o, "lesson", 0);
    q->question = json_dup(o, "question", 1);
    q->explanation = json_dup(o, "explanation", 0);
    if (!academy_id_ok(q->id) || !academy_id_ok(q->level) || !q->lesson || !q->question || !*q->question ||
        !q->explanation)
        return rh_error_set(err, RH_EFORMAT, "%s: question %zu needs id, level and question", name, nr);
    if (*q->lesson && !academy_id_ok(q->lesson))
        return rh_error_set(err, RH_EFORMAT, "%s: question %s: the lesson is not a lesson id", name, q->id);
    if (!json_is_string(type) ||
        (strcmp(json_string_value(type), "single") && strcmp(json_string_value(type), "multiple")))
        return rh_error_set(err, RH_EFORMAT, "%s: question %s: type must be single or multiple", name, q->id);
    q->multiple = !strcmp(json_string_value(type), "multiple");
    if (!json_is_array(opts) || json_array_size(opts) < 2 || json_array_size(opts) > ACADEMY_MAX_OPTIONS)
        return rh_error_set(err, RH_EFORMAT, "%s: question %s needs 2..%d options", name, q->id,
                            ACADEMY_MAX_OPTIONS);
    size_t n_correct = 0;
    for (size_t k = 0; k < json_array_size(opts); k++) {
        json_t *op = json_array_get(opts, k);
        q->options[k].text = json_dup(op, "text", 1);
        q->options[k].correct = json_is_true(json_object_get(op, "correct"));
        q->n_options = k + 1;
        n_correct += (size_t)q->options[k].correct;
        if (!q->options[k].text || !*q->options[k].text)
            return rh_error_set(err, RH_EFORMAT, "%s: question %s: every option needs a text", name, q->id);
    }
    if (n_correct == 0 || (!q->multiple && n_correct != 1))
        return rh_error_set(err, RH_EFORMAT, "%s: question %s: %s", name, q->id,
                            q->multiple ? "at least one option must be correct"
                                        : "a single choice question needs exactly one correct option");
    return RH_OK;
}

int academy_question_parse(const char *text, size_t len, academy_question *out, rh_error *err)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o)
        return rh_error_set(err, RH_EFORMAT, "question: %s", je.text);
    int rc = question_from_json(o, "question", 1, out, err);
    json_decref(o);
    if (rc)
        academy_question_clear(out);
    return rc;
}

static int parse_quiz(const char *text, size_t len, const char *name, academy *a, rh_error *err)
{
    json_error_t je;
    int rc = RH_OK;
    academy_question *qs = NULL;
    size_t n = 0;
    json_t *root = json_loadb(text, len, 0, &je);
    json_t *arr = root ? json_object_get(root, "questions") : NULL;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_QUESTIONS) {
        rc = rh_error_set(err, RH_EFORMAT, "%s: expected {\"questions\": [...]}%s%s", name, root ? "" : ": ",
                          root ? "" : je.text);
        goto out;
    }
    json_t *pp = json_object_get(root, "pass_percent");
    int pass = json_is_integer(pp) ? (int)json_integer_value(pp) : 80;
    if (pass < 1 || pass > 100) {
        rc = rh_error_set(err, RH_EFORMAT, "%s: pass_percent must be 1..100", name);
        goto out;
    }
    size_t cap = json_array_size(arr);
    qs = rh_calloc(cap ? cap : 1, sizeof *qs);
    if (!qs) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    for (n = 0; n < cap; n++) {
        academy_question *q = &qs[n];
        if ((rc = question_from_json(json_array_get(arr, n), name, n + 1, q, err))) {
            n++;
            goto out;
        }
        for (size_t j = 0; j < n; j++)
            if (!strcmp(qs[j].id, q->id)) {
                n++;
                rc = rh_error_set(err, RH_EFORMAT, "%s: question id '%s' appears twice", name, q->id);
                goto out;
            }
    }
    questions_free(a->questions, a->n_questions);
    a->questions = qs;
    a->n_questions = n;
    a->pass_percent = pass;
    qs = NULL;
out:
    questions_free(qs, n);
    json_decref(root);
    return rc;
}

/* Add or replace a lesson (takes over `l`'s strings). */
static int put_lesson(academy *a, academy_lesson *l, rh_error *err)
{
    int i = academy_lesson_index(a, l->id);
    if (i >= 0) {
        academy_lesson_clear(&a->lessons[i]);
        a->lessons[i] = *l;
        memset(l, 0, sizeof *l);
        return RH_OK;
    }
    if (a->n_lessons >= MAX_LESSONS)
        return rh_error_set(err, RH_ELIMIT, "more than %d lessons", MAX_LESSONS);
    academy_lesson *nl = rh_realloc_array(a->lessons, a->n_lessons + 1, sizeof *nl);
    if (!nl)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    a->lessons = nl;
    a->lessons[a->n_lessons++] = *l;
    memset(l, 0, sizeof *l);
    return RH_OK;
}

static int add_lesson_text(academy *a, const char *text, size_t len, const char *name, rh_error *err)
{
    academy_lesson l;
    int rc = academy_lesson_parse(text, len, name, &l, err);
    if (rc)
        return rc;
    rc = put_lesson(a, &l, err);
    academy_lesson_clear(&l);
    return rc;
}

/* Read a file of the override folder; RH_ENOTFOUND when it does not exist. */
static int read_file(const char *path, char **out, size_t *len, rh_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return RH_ENOTFOUND;
        return rh_error_set(err, RH_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    rh_buf b;
    rh_buf_init(&b, FILE_MAX);
    char chunk[8192];
    size_t n;
    int rc = RH_OK;
    while (rc == RH_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = rh_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (rc || bad) {
        rh_buf_free(&b);
        return rh_error_set(err, rc ? rc : RH_EIO, "cannot read %s (larger than 4 MiB?)", path);
    }
    *out = rh_buf_take(&b, len);
    if (!*out && !(*out = rh_strdup("")))
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    return RH_OK;
}

static int cmp_lessons(const void *x, const void *y, const academy *a)
{
    const academy_lesson *p = x, *q = y;
    int lp = academy_level_index(a, p->level), lq = academy_level_index(a, q->level);
    if (lp != lq)
        return lp < lq ? -1 : 1;
    if (p->order != q->order)
        return p->order < q->order ? -1 : 1;
    return strcmp(p->id, q->id);
}

static void sort_lessons(academy *a)
{
    for (size_t i = 1; i < a->n_lessons; i++) {
        academy_lesson t = a->lessons[i];
        size_t j = i;
        while (j > 0 && cmp_lessons(&a->lessons[j - 1], &t, a) > 0) {
            a->lessons[j] = a->lessons[j - 1];
            j--;
        }
        a->lessons[j] = t;
    }
}

static int load_dir(academy *a, const char *dir, rh_error *err)
{
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    int rc;
    snprintf(path, sizeof path, "%s/levels.json", dir);
    if ((rc = read_file(path, &text, &len, err)) == RH_OK) {
        rc = parse_levels(text, len, path, a, err);
        rh_free(text);
        text = NULL;
    }
    if (rc && rc != RH_ENOTFOUND)
        return rc;
    snprintf(path, sizeof path, "%s/quiz.json", dir);
    if ((rc = read_file(path, &text, &len, err)) == RH_OK) {
        rc = parse_quiz(text, len, path, a, err);
        rh_free(text);
        text = NULL;
    }
    if (rc && rc != RH_ENOTFOUND)
        return rc;
    snprintf(path, sizeof path, "%s/lessons", dir);
    DIR *d = opendir(path);
    if (!d)
        return RH_OK;
    struct dirent *e;
    rc = RH_OK;
    while (rc == RH_OK && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 4 || strcmp(e->d_name + n - 3, ".md"))
            continue;
        snprintf(path, sizeof path, "%s/lessons/%s", dir, e->d_name);
        if ((rc = read_file(path, &text, &len, err)) == RH_OK) {
            rc = add_lesson_text(a, text, len, path, err);
            rh_free(text);
            text = NULL;
        } else if (rc == RH_ENOTFOUND) {
            rc = RH_OK;
        }
    }
    closedir(d);
    return rc;
}

int academy_load(const char *dir, academy **out, rh_error *err)
{
    int rc = RH_OK;
    *out = NULL;
    academy *a = rh_calloc(1, sizeof *a);
    if (!a)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    a->pass_percent = 80;
    for (size_t i = 0; i < rh_academy_files_count; i++) {
        const rh_asset *f = &rh_academy_files[i];
        const char *txt = (const char *)f->data;
        if (!strcmp(f->path, "/levels.json"))
            rc = parse_levels(txt, f->len, "built-in levels.json", a, err);
        else if (!strcmp(f->path, "/quiz.json"))
            rc = parse_quiz(txt, f->len, "built-in quiz.json", a, err);
        else if (!strncmp(f->path, "/lessons/", 9) && strlen(f->path) > 12 &&
                 !strcmp(f->path + strlen(f->path) - 3, ".md"))
            rc = add_lesson_text(a, txt, f->len, f->path + 1, err);
        if (rc)
            goto fail;
    }
    if (dir && *dir && (rc = load_dir(a, dir, err)))
        goto fail;
    if (!a->n_levels) {
        rc = rh_error_set(err, RH_EFORMAT, "the academy has no levels (levels.json is missing)");
        goto fail;
    }
    for (size_t i = 0; i < a->n_lessons; i++)
        if (academy_level_index(a, a->lessons[i].level) < 0) {
            rc = rh_error_set(err, RH_EFORMAT, "lesson '%s' names the unknown level '%s'", a->lessons[i].id,
                              a->lessons[i].level);
            goto fail;
        }
    for (size_t i = 0; i < a->n_questions; i++)
        if (academy_level_index(a, a->questions[i].level) < 0) {
            rc = rh_error_set(err, RH_EFORMAT, "question '%s' names the unknown level '%s'", a->questions[i].id,
                              a->questions[i].level);
            goto fail;
        }
    sort_lessons(a);
    *out = a;
    return RH_OK;
fail:
    academy_free(a);
    return rc;
}

/* ------------------------------------------------------------ cache */

typedef struct cached {
    char *dir; /* NULL: built-in only */
    academy *a;
} cached;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cached cache[16];
static size_t n_cache;

const academy *academy_get(const rh_config *cfg)
{
    const char *dir = cfg && cfg->academy_dir && *cfg->academy_dir ? cfg->academy_dir : NULL;
    academy *found = NULL;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < n_cache && !found; i++)
        if ((!dir && !cache[i].dir) || (dir && cache[i].dir && !strcmp(dir, cache[i].dir)))
            found = cache[i].a;
    if (!found) {
        rh_error e;
        rh_error_clear(&e);
        if (academy_load(dir, &found, &e) != RH_OK) {
            rh_error e2;
            rh_error_clear(&e2);
            rh_errorf("academy: %s - using the built-in content", e.msg);
            if (!dir || academy_load(NULL, &found, &e2) != RH_OK)
                found = NULL;
        }
        char *copy = found && dir ? rh_strdup(dir) : NULL;
        if (found && dir && !copy) {
            academy_free(found); /* out of memory */
            found = NULL;
        } else if (found && n_cache < sizeof cache / sizeof cache[0]) {
            cache[n_cache].dir = copy;
            cache[n_cache].a = found;
            n_cache++;
        } else if (found) {
            rh_free(copy);
            /* more distinct configurations than slots (never in one
             * server): answer with the first one; others may use it */
            rh_errorf("academy: too many content folders in one process; using the first");
            academy_free(found);
            found = cache[0].a;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return found;
}
