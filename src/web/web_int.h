/*
 * web_int.h - internals shared by the files of the web module (server
 * state, the request, response helpers, route handlers). Not an API for
 * other modules: see web.h.
 */
#ifndef RH_WEB_INT_H
#define RH_WEB_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/buf.h"
#include "web/auth.h"
#include "web/web.h"

#define WEB_MAX_COOKIES 3

enum { ROLE_NONE = 0, ROLE_USER = 1, ROLE_TRAINER = 2, ROLE_ADMIN = 3 };

typedef struct web_metrics web_metrics;
typedef struct web_knowledge web_knowledge;

struct web_server {
    const rh_config *cfg;
    store *st;
    chat_service *chat;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int port;
    int tls;
    char *tls_cert_pem, *tls_key_pem;
    FILE *access_log;
    int access_log_owned;
    pthread_mutex_t access_lock;
    unsigned char csrf_secret[32];
    auth_limiter *login_limiter;
    auth_limiter *key_limiter;
    pthread_mutex_t limiter_lock;
    web_metrics *metrics;
    atomic_int streams;
    atomic_int stopping;
    web_knowledge *kn; /* api_knowledge.c; NULL when the knowledge store is unavailable */
};

typedef struct web_req web_req;
typedef enum MHD_Result (*web_handler)(web_req *r);

typedef struct web_route {
    const char *method;
    const char *pattern; /* "/api/conversations/:id" */
    web_handler fn;
    int min_role;        /* ROLE_NONE: no session needed */
    int csrf;            /* state-changing: check X-CSRF-Token */
} web_route;

/* Pattern segments: ":id" a positive integer (r->id[]), "*" a name of
 * a-z 0-9 - _ (web_path_segment). The capability a route needs (the
 * academy's level matrix) is looked up by pattern in one data table,
 * src/academy/capability.c (route_caps): add new routes there. */

/* Routes of other modules (knowledge, academy, ...) live in their own
 * src/web/api_<module>.c and register themselves at start-up:
 *
 *     static const web_route my_routes[] = {
 *         {"GET", "/api/collections", api_collections, ROLE_USER, 0},
 *         {"POST", "/api/collections", api_collection_create, ROLE_ADMIN, 1},
 *     };
 *     WEB_ROUTES(my_routes)
 *
 * They are matched after the built-in table, with the same role and CSRF
 * checks, and appear in /metrics under their pattern. At most 32 tables. */
void web_add_routes(const web_route *routes, size_t n);
#define WEB_ROUTES(table)                                                      \
    __attribute__((constructor)) static void web_routes_##table(void)          \
    {                                                                          \
        web_add_routes(table, sizeof table / sizeof table[0]);                 \
    }

struct web_req {
    web_server *srv;
    struct MHD_Connection *conn;
    char method[16];
    char *path;
    const web_route *route;
    const char *route_name;
    int64_t id[2];
    int n_id;
    rh_buf body;
    int too_large;
    int started;
    double t0;
    unsigned status;
    size_t bytes;
    char ip[64];
    int https;
    const char *lang;
    /* authentication */
    int has_user;
    store_session sess;
    store_user user;
    char token_hash[AUTH_TOKEN_HEX];
    char *cookies[WEB_MAX_COOKIES];
    int n_cookies;
    int is_stream;
};

/* ---- http.c: responses ---- */
enum MHD_Result web_send(web_req *r, unsigned status, const char *ctype, const void *data,
                         size_t len, const char *const *headers);
enum MHD_Result web_queue(web_req *r, unsigned status, struct MHD_Response *resp);
/* Takes ownership of `obj`. */
enum MHD_Result web_json(web_req *r, unsigned status, json_t *obj);
enum MHD_Result web_no_content(web_req *r);
/* Error with the message for `code` in the request's language. */
enum MHD_Result web_error(web_req *r, unsigned status, const char *code);
enum MHD_Result web_error_msg(web_req *r, unsigned status, const char *code, const char *msg);
const char *web_msg(const web_req *r, const char *code);
/* Add a Set-Cookie header to the response (copied). */
void web_add_cookie(web_req *r, const char *name, const char *value, long max_age);
const char *web_header(web_req *r, const char *name);
const char *web_query(web_req *r, const char *name);
void web_audit(web_req *r, const char *action, const char *target, const char *detail);
const char *web_cookie_name(const web_req *r, const char *base, char *buf, size_t cap);

/* ---- json helpers (http.c) ---- */
/* Parse the body as a JSON object; NULL when it is not one. */
json_t *web_body_object(web_req *r);
/* Optional/required string field: RH_OK, RH_ENOTFOUND (absent/null),
 * RH_EINVAL (wrong type, too long, or not UTF-8). */
int web_str(json_t *o, const char *key, size_t max_len, const char **out);
json_t *web_time(int64_t t);
int64_t web_now(void);

/* ---- auth.c: sessions ---- */
void web_auth_load(web_req *r);  /* sets has_user, user, sess */
int web_csrf_ok(web_req *r);
/* The CSRF token for a request without a session (sets a cookie). */
void web_pre_csrf(web_req *r, char out[AUTH_TOKEN_HEX]);
int web_session_start(web_req *r, int64_t user_id);
void web_session_end(web_req *r);
int web_role_level(const char *role);
/* A username: 1 to 64 of a-z A-Z 0-9 . - _ @ (api_session.c). */
int web_username_ok(const char *u);
/* End every session and stream of a user (disable, demote, delete). */
void web_kick_user(web_server *w, int64_t user_id);
json_t *web_user_json(const store_user *u, int admin_view);

/* ---- api_academy.c: rights that follow training, personal data ---- */
/* academy_capability_allowed() for the request's user. */
int web_capability_ok(web_req *r, const char *cap);
/* 403 level_required, naming the level that grants `cap`. */
enum MHD_Result web_capability_denied(web_req *r, const char *cap);
/* With pii_check = block: 1 and a 422 answer queued (*ret) when `text`
 * looks like it contains personal data; else 0. */
int web_pii_blocked(web_req *r, const char *text, enum MHD_Result *ret);
/* Segment `n` of the path (0 = the part after the first '/') into buf;
 * NULL when absent or too long. For "*" route segments. */
const char *web_path_segment(const web_req *r, int n, char *buf, size_t cap);

/* ---- handlers ---- */
enum MHD_Result api_session_get(web_req *r);
enum MHD_Result api_setup(web_req *r);
enum MHD_Result api_login(web_req *r);
enum MHD_Result api_logout(web_req *r);
enum MHD_Result api_password(web_req *r);
enum MHD_Result api_me(web_req *r);
enum MHD_Result api_models(web_req *r);
enum MHD_Result api_keys_list(web_req *r);
enum MHD_Result api_keys_create(web_req *r);
enum MHD_Result api_keys_delete(web_req *r);
enum MHD_Result api_conv_list(web_req *r);
enum MHD_Result api_conv_create(web_req *r);
enum MHD_Result api_conv_get(web_req *r);
enum MHD_Result api_conv_patch(web_req *r);
enum MHD_Result api_conv_delete(web_req *r);
enum MHD_Result api_conv_message(web_req *r);
enum MHD_Result api_conv_stop(web_req *r);
enum MHD_Result api_admin_users(web_req *r);
enum MHD_Result api_admin_user_create(web_req *r);
enum MHD_Result api_admin_user_patch(web_req *r);
enum MHD_Result api_admin_user_delete(web_req *r);
enum MHD_Result api_admin_groups(web_req *r);
enum MHD_Result api_admin_group_create(web_req *r);
enum MHD_Result api_admin_group_patch(web_req *r);
enum MHD_Result api_admin_group_delete(web_req *r);
enum MHD_Result api_admin_audit(web_req *r);
enum MHD_Result api_admin_status(web_req *r);
enum MHD_Result v1_models(web_req *r);
enum MHD_Result v1_chat(web_req *r);
enum MHD_Result v1_completions(web_req *r);

/* Models as JSON array (api_session.c; used by status too). */
json_t *web_models_json(web_server *w);

/* ---- api_knowledge.c: collections, search, grounded answers ---- */
/* Open the knowledge store and start the ingestion worker. */
int web_knowledge_start(web_server *w, rh_error *err);
void web_knowledge_stop(web_server *w);
/* Body size allowed for this request (uploads may be larger). */
size_t web_body_limit(const web_server *w, const char *method, const char *url);

typedef struct web_ground {
    int active;      /* the message asked for collections */
    int nothing;     /* nothing relevant enough found: the fixed answer */
    int n;           /* passages in the prompt */
    double best;     /* best relevance */
    char *system;    /* the conversation's system prompt + the grounding instruction */
    char *user_turn; /* the passages' data block + the question */
    json_t *sources; /* {"sources": [...], "no_sources": bool, "collections": [...], "hint"?} */
} web_ground;
/* Reads body["collections"]; 0 = go on (g->active tells whether grounded),
 * -1 = an error answer was queued into *ret. */
int web_ground_prepare(web_req *r, json_t *body, const char *question, const char *conv_system,
                       web_ground *g, enum MHD_Result *ret);
void web_ground_free(web_ground *g);
/* The "nothing found" answer as a complete event stream. */
enum MHD_Result web_ground_nothing(web_req *r, int64_t user_msg_id, int64_t asst_id, const char *model,
                                   const web_ground *g);

/* ---- sse.c ---- */
enum { SSE_PORTAL = 0, SSE_OPENAI_CHAT = 1, SSE_OPENAI_COMPLETION = 2 };
/* Answer with an event stream fed by `g` (takes over the reference). For
 * SSE_PORTAL, `start_json` (taken over) is sent as the start event. */
enum MHD_Result web_stream(web_req *r, chat_gen *g, int mode, json_t *start_json, const char *model);
/* web_stream that sends `sources` (taken over) as an event right after start. */
enum MHD_Result web_stream_sources(web_req *r, chat_gen *g, int mode, json_t *start_json, const char *model,
                                   json_t *sources);

/* ---- metrics.c ---- */
web_metrics *web_metrics_create(void);
void web_metrics_free(web_metrics *m);
void web_metrics_request(web_metrics *m, const char *route, unsigned status, double ms);
/* Prometheus text into `out`. */
int web_metrics_render(web_server *w, rh_buf *out);

#endif
