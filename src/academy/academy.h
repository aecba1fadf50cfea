/*
 * academy.h - the rathaus Academy ("KI-Schwimmabzeichen"): its content
 * (levels, lessons, quiz bank), the level -> capability matrix, the quiz
 * engine and the personal-data detector. Everything here is pure logic
 * without HTTP; the academy's persistent data is behind store/astore.h and
 * its routes are in src/web/api_academy.c. See docs/academy.md.
 *
 * Content: content/academy/ is compiled into the binary (levels.json,
 * lessons/NAME.md with a front matter block, quiz.json). The configuration key
 * academy_dir names a folder with the same layout whose files replace the
 * built-in ones (levels.json and quiz.json as a whole; lessons by id).
 *
 * Levels are ordered; a user's "rank" is 0 without a level and i+1 when
 * holding levels[i]. Holding a level means holding every lower one, so the
 * capabilities of a rank are the union of those of all levels up to it.
 */
#ifndef RH_ACADEMY_H
#define RH_ACADEMY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/error.h"
#include "store/store.h"

#define ACADEMY_ID_MAX 64        /* level, lesson and question ids */
#define ACADEMY_MAX_OPTIONS 16   /* answer options per question */
#define ACADEMY_LESSON_MAX (256u * 1024) /* Markdown of one lesson */

typedef struct academy_level {
    char *id;   /* "seepferdchen" */
    char *name; /* "Seepferdchen" */
    char *description;
    int order;
} academy_level;

typedef struct academy_lesson {
    char *id;    /* "datenschutz" */
    char *level; /* level id */
    char *title;
    int order;   /* within the level */
    int minutes;
    char *markdown; /* the text after the front matter */
} academy_lesson;

typedef struct academy_option {
    char *text;
    int correct;
} academy_option;

typedef struct academy_question {
    char *id, *level, *lesson, *question, *explanation;
    int multiple; /* 0: single choice (exactly one correct option) */
    academy_option options[ACADEMY_MAX_OPTIONS];
    size_t n_options;
} academy_question;

typedef struct academy {
    academy_level *levels; /* sorted by order */
    size_t n_levels;
    academy_lesson *lessons; /* sorted by level, then order */
    size_t n_lessons;
    academy_question *questions;
    size_t n_questions;
    int pass_percent; /* from quiz.json (the configuration wins) */
} academy;

/* ---- content (content.c) ---- */
/* Load the built-in content, with the files of `dir` (may be NULL)
 * replacing built-in ones. Malformed content is an error naming the file. */
int academy_load(const char *dir, academy **out, rh_error *err);
void academy_free(academy *a);
/* The content for this configuration, loaded once and kept for the life of
 * the process (thread-safe). Falls back to the built-in content (and logs
 * the error) when academy_dir is broken; NULL only when out of memory. */
const academy *academy_get(const rh_config *cfg);
/* Parse one lesson file (front matter + Markdown) into `out`. */
int academy_lesson_parse(const char *text, size_t len, const char *name, academy_lesson *out, rh_error *err);
void academy_lesson_clear(academy_lesson *l);
/* Parse one question in quiz.json's format (a JSON object: id, level,
 * lesson, type, question, options [{text, correct}], explanation) with the
 * same rules as the file; free with academy_question_clear(). */
int academy_question_parse(const char *text, size_t len, academy_question *out, rh_error *err);
void academy_question_clear(academy_question *q);
/* Index into levels/lessons, or -1. */
int academy_level_index(const academy *a, const char *level_id);
int academy_lesson_index(const academy *a, const char *lesson_id);
/* 1 when `id` is a valid level/lesson id: 1..64 of a-z 0-9 - _ */
int academy_id_ok(const char *id);

/* ---- capabilities (capability.c) ---- */
/* Every capability the matrix knows (also those whose features are still
 * to come); NULL-terminated. */
extern const char *const academy_capability_names[];
/* Does rank `rank` (0 = no level) grant `cap` under this configuration? */
int academy_rank_has(const rh_config *cfg, const academy *a, int rank, const char *cap);
/* The capabilities of a level alone (configured or default), comma
 * separated, never NULL. */
const char *academy_level_caps(const rh_config *cfg, const char *level_id);
/* The lowest rank that grants `cap`, or -1 when no level does. */
int academy_cap_min_rank(const rh_config *cfg, const academy *a, const char *cap);
/* The user's rank from the store (0 without a level or for a level id the
 * content no longer knows). */
int academy_user_rank(const academy *a, store *st, int64_t user_id);
/* THE check: admins always, everybody when academy_gating is off, else the
 * matrix for the user's level. */
int academy_capability_allowed(const rh_config *cfg, store *st, const store_user *u, const char *cap);
/* The capability an HTTP route needs (by method and route pattern), or
 * NULL: the route -> capability table, data in capability.c. */
const char *academy_route_capability(const char *method, const char *pattern);

/* ---- quiz (quiz.c) ---- */
typedef struct academy_quiz_item {
    const academy_question *q;
    int perm[ACADEMY_MAX_OPTIONS]; /* shown position p is option perm[p] */
} academy_quiz_item;

typedef struct academy_quiz {
    academy_quiz_item *items;
    size_t n;
} academy_quiz;

/* Random numbers in [0, upper) for shuffling. */
typedef uint32_t (*academy_rng)(uint32_t upper, void *ud);

/* Pick up to max_questions (0 = all) questions of the level in random
 * order, each with its options shuffled. RH_ENOTFOUND: no questions. */
int academy_quiz_new(const academy *a, const char *level_id, size_t max_questions, academy_rng rng, void *ud,
                     academy_quiz *out);
/* The attempt as a compact string for the store ("s1:2.0.1;s2:1.0.3.2")
 * and back; decoding fails (RH_EFORMAT) when the bank changed. */
int academy_quiz_encode(const academy_quiz *qz, char **out);
int academy_quiz_decode(const academy *a, const char *plan, academy_quiz *out);
/* Score: chosen[i] is a bit mask of the shown positions picked for item
 * i. A question counts only when exactly the correct options are picked
 * (all or nothing for multiple choice). right[i] (may be NULL) receives
 * 0/1 per item. Returns the number of correct items. */
size_t academy_quiz_score(const academy_quiz *qz, const uint32_t *chosen, int *right);
/* passed: correct/total >= pass_percent/100 (exact, no rounding). */
int academy_quiz_passed(size_t correct, size_t total, int pass_percent);
void academy_quiz_free(academy_quiz *qz);

/* ---- personal data in prompts (pii.c) ---- */
typedef enum pii_kind {
    PII_IBAN = 0,
    PII_TAX_ID,
    PII_PHONE,
    PII_EMAIL,
    PII_BIRTH_DATE,
    PII_ADDRESS,
} pii_kind;

typedef struct pii_finding {
    pii_kind kind;
    size_t start, end; /* byte offsets into the text, end exclusive */
} pii_finding;

/* Find what looks like personal data. Writes at most `cap` findings
 * (sorted by start, not overlapping) and returns how many there are in
 * total (may exceed cap). */
size_t pii_scan(const char *text, size_t len, pii_finding *out, size_t cap);
/* "iban", "tax_id", "phone", "email", "birth_date", "address" */
const char *pii_kind_name(pii_kind k);
/* Check helpers, exposed for tests: IBAN mod-97 (spaces allowed) and
 * the German tax id's check digit (11 digits). */
int pii_iban_valid(const char *s, size_t len);
int pii_taxid_valid(const char *digits11);

#endif
