/*
 * store.h - the portal's persistent data: the ONLY module that speaks SQL.
 *
 * Everything the server keeps (tenants, users, groups, sessions, API keys,
 * conversations, messages, audit log, settings) goes through these
 * functions, so a different database (e.g. PostgreSQL) can be added behind
 * the same interface without touching the rest. The SQLite implementation
 * (store_sqlite.c) runs versioned migrations on open (schema_version table,
 * one transaction per migration), uses WAL, foreign keys and a busy
 * timeout, and serialises access with a mutex, so a store handle may be
 * shared by all threads.
 *
 * Every table holding users' data has a tenant_id; for now there is one
 * tenant, STORE_TENANT_DEFAULT. Times are Unix seconds (UTC). Strings
 * returned inside structs are owned by the struct; free with the matching
 * *_free / *_list_free function.
 */
#ifndef RH_STORE_H
#define RH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define STORE_TENANT_DEFAULT 1

typedef struct store store;

typedef struct store_user {
    int64_t id;
    int64_t tenant_id;
    char *username;
    char *display_name;
    char *role; /* "admin", "trainer" or "user" */
    char *lang; /* "de", "en" or NULL (default) */
    int disabled;
    int64_t created_at;
    int64_t last_login_at; /* 0 = never */
    int64_t *groups;       /* group ids */
    size_t n_groups;
} store_user;

typedef struct store_group {
    int64_t id;
    char *name;
    int64_t members;
} store_group;

typedef struct store_session {
    int64_t id;
    int64_t user_id;
    char csrf[80];
    int64_t created_at;
    int64_t last_seen;
} store_session;

typedef struct store_apikey {
    int64_t id;
    int64_t user_id;
    char *name;
    char *prefix;
    int64_t created_at;
    int64_t last_used_at;
    int revoked;
} store_apikey;

typedef struct store_conv {
    int64_t id;
    int64_t user_id;
    char *title;
    char *model;
    char *system_prompt;
    int64_t created_at;
    int64_t updated_at;
} store_conv;

typedef struct store_msg {
    int64_t id;
    char *role; /* "user", "assistant" */
    char *content;
    char *model;
    int64_t prompt_tokens;
    int64_t completion_tokens;
    char *finish_reason;
    int64_t created_at;
} store_msg;

typedef struct store_audit {
    int64_t id;
    int64_t time;
    char *actor;
    char *action;
    char *target;
    char *detail;
    char *ip;
} store_audit;

/* Lists: an array plus its length. */
#define STORE_LIST(T) struct { T *items; size_t n; }
typedef STORE_LIST(store_user) store_users;
typedef STORE_LIST(store_group) store_groups;
typedef STORE_LIST(store_apikey) store_apikeys;
typedef STORE_LIST(store_conv) store_convs;
typedef STORE_LIST(store_msg) store_msgs;
typedef STORE_LIST(store_audit) store_audits;

/* ---- lifetime ---- */
/* Open (creating) the database file and run the migrations. path
 * ":memory:" gives a private in-memory database (tests). */
int store_open(const char *path, store **out, rh_error *err);
void store_close(store *s);
int store_schema_version(store *s);   /* the applied migration number */
int store_latest_version(void);       /* number of migrations this build knows */
int store_ping(store *s);             /* RH_OK when the database answers */
/* 1 when `table` has a column `column` (tests check tenant_id). */
int store_has_column(store *s, const char *table, const char *column);

/* ---- users ---- */
int store_user_count(store *s, int64_t tenant, int64_t *count);
/* Creates a user; RH_EEXIST if the name is taken in the tenant. */
int store_user_create(store *s, int64_t tenant, const char *username, const char *display_name,
                      const char *password_hash, const char *role, int64_t *id, rh_error *err);
/* Creates the first admin only if the tenant has no user yet (one
 * transaction); RH_EEXIST when somebody was first. */
int store_user_create_first(store *s, int64_t tenant, const char *username,
                            const char *display_name, const char *password_hash, int64_t *id,
                            rh_error *err);
int store_user_get(store *s, int64_t tenant, int64_t id, store_user *out);
/* By name; password_hash (may be NULL) receives an rh_malloc'ed copy. */
int store_user_by_name(store *s, int64_t tenant, const char *username, store_user *out,
                       char **password_hash);
int store_user_password_hash(store *s, int64_t id, char **password_hash);
int store_user_list_all(store *s, int64_t tenant, store_users *out);
/* Update fields: NULL / negative means "leave as is". */
int store_user_update(store *s, int64_t tenant, int64_t id, const char *display_name,
                      const char *role, const char *lang, int disabled);
int store_user_set_password(store *s, int64_t id, const char *password_hash);
int store_user_set_groups(store *s, int64_t tenant, int64_t id, const int64_t *groups, size_t n);
int store_user_touch_login(store *s, int64_t id, int64_t now);
int store_user_delete(store *s, int64_t tenant, int64_t id);
int store_admin_count(store *s, int64_t tenant, int64_t *count); /* enabled admins */
void store_user_free(store_user *u);
void store_user_list_free(store_users *l);

/* ---- groups ---- */
int store_group_create(store *s, int64_t tenant, const char *name, int64_t *id);
int store_group_list_all(store *s, int64_t tenant, store_groups *out);
int store_group_get(store *s, int64_t tenant, int64_t id, store_group *out);
int store_group_rename(store *s, int64_t tenant, int64_t id, const char *name);
int store_group_delete(store *s, int64_t tenant, int64_t id);
void store_group_free(store_group *g);
void store_group_list_free(store_groups *l);

/* ---- sessions (token_hash: hex sha256 of the secret token) ---- */
int store_session_create(store *s, int64_t tenant, const char *token_hash, const char *csrf,
                         int64_t user_id, const char *ip, int64_t now);
/* Finds a session whose idle and absolute age are within limits and marks
 * it seen; expired sessions are deleted and give RH_ENOTFOUND. */
int store_session_lookup(store *s, const char *token_hash, int64_t now, long idle_s,
                         long absolute_s, store_session *out);
int store_session_delete(store *s, const char *token_hash);
int store_session_delete_user(store *s, int64_t user_id);
/* All of the user's sessions except the one with `keep_hash`. */
int store_session_delete_others(store *s, int64_t user_id, const char *keep_hash);
int store_session_purge(store *s, int64_t now, long idle_s, long absolute_s);

/* ---- API keys ---- */
int store_apikey_create(store *s, int64_t tenant, int64_t user_id, const char *name,
                        const char *key_hash, const char *prefix, int64_t now, int64_t *id);
int store_apikey_list_user(store *s, int64_t user_id, store_apikeys *out);
/* Revoke one of the user's keys; RH_ENOTFOUND if not theirs. */
int store_apikey_revoke(store *s, int64_t user_id, int64_t id);
/* Find an unrevoked key by hash, mark it used. */
int store_apikey_lookup(store *s, const char *key_hash, int64_t now, store_apikey *out);
void store_apikey_list_free(store_apikeys *l);
void store_apikey_free(store_apikey *k);

/* ---- conversations (all scoped to the owner: someone else's is NOTFOUND) ---- */
int store_conv_create(store *s, int64_t tenant, int64_t user_id, const char *title,
                      const char *model, const char *system_prompt, int64_t now, int64_t *id);
int store_conv_list(store *s, int64_t user_id, const char *q, size_t limit, store_convs *out);
int store_conv_get(store *s, int64_t user_id, int64_t id, store_conv *out);
int store_conv_update(store *s, int64_t user_id, int64_t id, const char *title,
                      const char *system_prompt, const char *model, int64_t now);
int store_conv_delete(store *s, int64_t user_id, int64_t id);
void store_conv_free(store_conv *c);
void store_conv_list_free(store_convs *l);

/* ---- messages ---- */
int store_msg_add(store *s, int64_t conv_id, const char *role, const char *content,
                  const char *model, int64_t now, int64_t *id);
/* Set the final content, tokens and finish reason of a message. */
int store_msg_finish(store *s, int64_t id, const char *content, int64_t prompt_tokens,
                     int64_t completion_tokens, const char *finish_reason);
int store_msg_list(store *s, int64_t conv_id, store_msgs *out);
/* The sources of a grounded answer (a JSON text, knowledge module);
 * store_msg_sources gives RH_ENOTFOUND when the answer has none. */
int store_msg_set_sources(store *s, int64_t msg_id, const char *json);
int store_msg_sources(store *s, int64_t msg_id, char **json);
/* Delete messages of the conversation with id >= from_id. */
int store_msg_delete_from(store *s, int64_t conv_id, int64_t from_id);
void store_msg_list_free(store_msgs *l);

/* ---- audit ---- */
int store_audit_add(store *s, int64_t tenant, const char *actor, const char *action,
                    const char *target, const char *detail, const char *ip, int64_t now);
/* Newest first; before <= 0 means from the newest. */
int store_audit_list(store *s, int64_t tenant, int64_t before, size_t limit, store_audits *out);
void store_audit_list_free(store_audits *l);

/* ---- settings (key/value; e.g. the CSRF secret) ---- */
int store_setting_get(store *s, const char *key, char **value); /* RH_ENOTFOUND */
int store_setting_set(store *s, const char *key, const char *value);

/* ---- internal: for the other SQL files of src/store/ only (store_academy.c
 * adds the academy's queries on the same connection; see astore.h) ---- */
struct sqlite3;
struct sqlite3 *store__db(store *s);
void store__lock(store *s);
void store__unlock(store *s);

/* ---- statistics ---- */
int store_tokens_total(store *s, int64_t *prompt, int64_t *completion);

#endif
