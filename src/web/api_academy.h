/*
 * api_academy.h - internals shared by api_academy.c (participants) and
 * api_trainer.c (trainers, dashboard): the merged view of built-in and
 * trainer-edited lessons, academy error answers. Not an API for others.
 */
#ifndef RH_WEB_API_ACADEMY_H
#define RH_WEB_API_ACADEMY_H

#include "academy/academy.h"
#include "store/astore.h"
#include "web/web_int.h"

/* A lesson as participants see it: built-in, or edited by a trainer. The
 * strings point into the academy or into `edits` of the view. */
typedef struct acad_lesson {
    const char *id, *level, *title, *markdown;
    int order, minutes;
    int edited;  /* a trainer's version is in the database */
    int builtin; /* ships with the binary (DELETE restores it) */
    const char *updated_by;
    int64_t updated_at;
} acad_lesson;

typedef struct acad_lessons {
    acad_lesson *items; /* sorted by level, then order */
    size_t n;
    astore_lessons edits;
} acad_lessons;

int acad_lessons_load(web_req *r, const academy *a, acad_lessons *v);
void acad_lessons_free(acad_lessons *v);
const acad_lesson *acad_lesson_find(const acad_lessons *v, const char *id);

/* The quiz bank: the built-in questions with the trainers' changes from
 * the database (edited ones replaced, hidden ones left out, added ones
 * appended). `a` is a shallow copy of the content with that bank as its
 * questions: use it like the content, never academy_free() it. */
typedef struct acad_bank {
    academy a;
    academy_question *owned; /* parsed from rows */
    size_t n_owned;
    astore_questions rows;
} acad_bank;

int acad_bank_load(web_req *r, const academy *a, acad_bank *b);
void acad_bank_free(acad_bank *b);
/* The database row of a question, or NULL. */
const astore_question *acad_bank_row(const acad_bank *b, const char *id);

/* The message for an academy error code in the request's language. */
const char *acad_msg_text(const web_req *r, const char *code);
/* Error answer {"error": {code, message, ...extra}} (takes `extra`). */
enum MHD_Result acad_error(web_req *r, unsigned status, const char *code, json_t *extra);
/* A comma separated capability list as a JSON array (canonical order). */
json_t *acad_caps_json(const rh_config *cfg, const char *list);

#endif
