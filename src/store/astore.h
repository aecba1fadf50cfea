/*
 * astore.h - the academy's persistent data (KI-Schwimmabzeichen): levels
 * held and their history, completed lessons, quiz attempts, lessons edited
 * by trainers, feedback on answers, and the figures of the dashboard. ALL
 * academy SQL is behind this interface (store_academy.c, on the portal's
 * database; the tables come from migration 2 in store_sqlite.c).
 *
 * Every table has tenant_id. Functions taking a user id filter by it in
 * SQL: someone else's attempt or message is RH_ENOTFOUND. Strings in
 * returned structs are owned by them; free with the *_clear / *_free.
 */
#ifndef RH_STORE_ASTORE_H
#define RH_STORE_ASTORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- the level a user holds ---- */
typedef struct astore_level {
    char *level;      /* level id */
    int64_t awarded_at;
    char *awarded_by; /* user name of the trainer, or NULL (quiz) */
    char *via;        /* "quiz" or "trainer" */
} astore_level;

/* RH_ENOTFOUND when the user holds no level. */
int astore_level_get(store *s, int64_t user_id, astore_level *out);
/* Set the user's level (NULL: none) and append the change, with the level
 * before it, to the history - in one transaction. action: "award" or
 * "revoke"; via: "quiz" or "trainer"; actor/reason may be NULL. */
int astore_level_set(store *s, int64_t tenant, int64_t user_id, const char *level, const char *action,
                     const char *via, const char *actor, const char *reason, int64_t now);
void astore_level_clear(astore_level *l);

typedef struct astore_event {
    int64_t id;
    char *action;   /* "award" / "revoke" */
    char *level;    /* the level afterwards (NULL: none) */
    char *previous; /* the level before (NULL: none) */
    char *via, *actor, *reason;
    int64_t at;
} astore_event;
typedef STORE_LIST(astore_event) astore_events;
/* Oldest first. */
int astore_level_log(store *s, int64_t user_id, astore_events *out);
void astore_events_free(astore_events *l);

/* ---- lessons completed ---- */
typedef struct astore_done {
    char *lesson_id;
    int64_t at;
} astore_done;
typedef STORE_LIST(astore_done) astore_dones;
int astore_lesson_complete(store *s, int64_t tenant, int64_t user_id, const char *lesson_id, int64_t now);
int astore_lessons_done(store *s, int64_t user_id, astore_dones *out);
void astore_dones_free(astore_dones *l);

/* ---- quiz attempts ---- */
typedef struct astore_attempt {
    int64_t id;
    char *level;
    char *plan; /* academy_quiz_encode() */
    int64_t started_at, finished_at; /* finished_at 0: open */
    int correct, total, percent, passed;
} astore_attempt;
typedef STORE_LIST(astore_attempt) astore_attempts;
int astore_attempt_start(store *s, int64_t tenant, int64_t user_id, const char *level, const char *plan,
                         int64_t now, int64_t *id);
/* The user's newest open attempt for the level (RH_ENOTFOUND: none). */
int astore_attempt_open(store *s, int64_t user_id, const char *level, astore_attempt *out);
/* The user's newest finished attempt for the level (RH_ENOTFOUND: none). */
int astore_attempt_last(store *s, int64_t user_id, const char *level, astore_attempt *out);
/* Record the result; RH_ENOTFOUND when not the user's or already finished. */
int astore_attempt_finish(store *s, int64_t user_id, int64_t id, int correct, int total, int percent, int passed,
                          int64_t now);
/* Finished attempts, newest first. */
int astore_attempt_list(store *s, int64_t user_id, astore_attempts *out);
void astore_attempt_clear(astore_attempt *a);
void astore_attempts_free(astore_attempts *l);

/* ---- lessons edited by trainers (override the built-in ones) ---- */
typedef struct astore_lesson {
    char *lesson_id, *level, *title, *markdown, *updated_by;
    int order, minutes;
    int64_t updated_at;
} astore_lesson;
typedef STORE_LIST(astore_lesson) astore_lessons;
int astore_lesson_put(store *s, int64_t tenant, const astore_lesson *l);
int astore_lesson_delete(store *s, int64_t tenant, const char *lesson_id); /* RH_ENOTFOUND */
int astore_lesson_list(store *s, int64_t tenant, astore_lessons *out);
void astore_lessons_free(astore_lessons *l);

/* ---- the quiz bank edited by trainers (overrides quiz.json) ---- */
typedef struct astore_question {
    char *question_id, *level;
    char *body; /* the question as JSON (quiz.json's format); NULL: a hidden built-in question */
    char *updated_by;
    int64_t updated_at;
} astore_question;
typedef STORE_LIST(astore_question) astore_questions;
/* Insert or replace the row of a question (body NULL hides it). */
int astore_question_put(store *s, int64_t tenant, const astore_question *q);
/* Remove the row: a built-in question is back, an added one gone (RH_ENOTFOUND). */
int astore_question_delete(store *s, int64_t tenant, const char *question_id);
int astore_question_list(store *s, int64_t tenant, astore_questions *out);
void astore_questions_free(astore_questions *l);

/* ---- feedback on answers ---- */
typedef struct astore_feedback {
    int64_t message_id;
    char *rating; /* "up" / "down" */
    char *comment;
    int64_t at;
} astore_feedback;
typedef STORE_LIST(astore_feedback) astore_feedbacks;
/* Set (replace) the feedback on an assistant message in one of the user's
 * conversations; RH_ENOTFOUND for anything else. */
int astore_feedback_set(store *s, int64_t tenant, int64_t user_id, int64_t message_id, const char *rating,
                        const char *comment, int64_t now);
/* Feedback on the messages of one of the user's conversations. */
int astore_feedback_conv(store *s, int64_t user_id, int64_t conv_id, astore_feedbacks *out);
void astore_feedbacks_free(astore_feedbacks *l);

/* ---- participants (trainer view) ---- */
typedef struct astore_participant {
    int64_t user_id;
    char *username, *display_name, *role;
    char *groups; /* group names joined with ", " ("" for none) */
    int disabled;
    char *level;  /* NULL: none */
    int64_t level_at;
    char *level_by, *level_via;
    int64_t lessons_done;
    char *quiz_level; /* newest finished attempt, NULL: none */
    int quiz_percent, quiz_passed;
    int64_t quiz_at;
} astore_participant;
typedef STORE_LIST(astore_participant) astore_participants;
/* user_id 0: all users of the tenant (by name); else just that one
 * (RH_ENOTFOUND when there is no such user). */
int astore_participants_list(store *s, int64_t tenant, int64_t user_id, astore_participants *out);
void astore_participants_free(astore_participants *l);

/* ---- dashboard ---- */
/* Weeks are numbered from Monday 1970-01-05: (t - 345600) / 604800. */
#define ASTORE_WEEK_OFFSET 345600
#define ASTORE_WEEK 604800
typedef struct astore_row {
    char *label;
    int64_t week;
    int64_t value;
} astore_row;
typedef STORE_LIST(astore_row) astore_rows;
/* Users who asked a question, per group ("" for users without a group)
 * and week, since `since`. */
int astore_dash_active(store *s, int64_t tenant, int64_t since, astore_rows *out);
/* Per week since `since`: label "conversations" (started), "messages"
 * and "active_users" (distinct users who asked). */
int astore_dash_weekly(store *s, int64_t tenant, int64_t since, astore_rows *out);
/* Answers since `since`, and how many of them got feedback up / down. */
int astore_dash_feedback(store *s, int64_t tenant, int64_t since, int64_t *answers, int64_t *up, int64_t *down);
/* The newest negative feedback with a comment. */
int astore_dash_negative(store *s, int64_t tenant, size_t limit, astore_feedbacks *out);
/* The collections grounded answers drew on since `since`, most used first
 * (at most 10): label = the collection's name as stored with the sources
 * ("#ID" when unknown), week = the collection id, value = answers. */
int astore_dash_collections(store *s, int64_t tenant, int64_t since, astore_rows *out);
/* Enabled users per level (label NULL: no level). */
int astore_dash_levels(store *s, int64_t tenant, astore_rows *out);
void astore_rows_free(astore_rows *l);

#endif
