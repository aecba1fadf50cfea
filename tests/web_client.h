/*
 * web_client.h - shared helpers of the portal tests (test_web.c,
 * test_kportal.c, test_academy.c, test_portal_extra.c): start the real
 * portal in-process on an ephemeral loopback port, do one HTTP request with
 * libcurl, read the CSRF token, give a user a level or an API key straight
 * in the store, collect request bodies in a fake upstream (libmicrohttpd),
 * run a CLI command with its output captured. No TEST()s here.
 */
#ifndef RH_TESTS_WEB_CLIENT_H
#define RH_TESTS_WEB_CLIENT_H

#include <curl/curl.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/backend.h"
#include "chat/chat.h"
#include "config/config.h"
#include "core/buf.h"
#include "store/store.h"
#include "web/auth.h"
#include "web/web.h"

/* The portal running in the test process. */
typedef struct wc_server {
    rh_config cfg;
    store *st; /* ":memory:" */
    backend *be;
    chat_service *chat;
    web_server *web;
    char base[64]; /* "http://127.0.0.1:<port>" (https with tls_cert) */
} wc_server;

/* Start with "listen = 127.0.0.1:0", data_dir = the test's tmpdir and then
 * `conf` (may be NULL). FAILs the test on error. */
void wc_server_start(wc_server *s, const char *conf);
/* Start with the whole configuration text `text`. */
void wc_server_start_text(wc_server *s, const char *text);
void wc_server_stop(wc_server *s);

/* One HTTP request. */
typedef struct wc_req {
    const char *base;         /* wc_server.base */
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* appended to base */
    const void *body;         /* NULL: none */
    size_t body_len;          /* with has_len; else body is a C string */
    int has_len;
    const char *content_type; /* NULL: application/json */
    const char *csrf;         /* sent as X-CSRF-Token when non-empty */
    const char *const *hdrs;  /* more header lines, NULL-terminated, or NULL */
    const char *hdr;          /* one more header line, or NULL */
    const char *iface;        /* CURLOPT_INTERFACE, or NULL */
    long timeout;             /* seconds; 0: 20 */
    /* the body goes to on_body(body_ud) when set, else appended to body_out */
    size_t (*on_body)(char *d, size_t s, size_t n, void *ud);
    void *body_ud;
    rh_buf *body_out;
    rh_buf *hdr_out; /* response header lines, or NULL */
} wc_req;

/* Perform `rq` on handle h (reset first; the cookie engine stays on, so a
 * client keeps its session). Returns the HTTP status (0: no response). */
long wc_perform(CURL *h, const wc_req *rq);

/* curl write callback: append to the rh_buf `ud`. */
size_t wc_append(char *d, size_t s, size_t n, void *ud);

/* Copy the "csrf" string of a /api/session body into out; FAILs the test
 * when there is none or it does not fit. */
void wc_csrf_parse(const char *body, char *out, size_t cap);

/* Give user `uid` the academy level `level` (the chat and API keys are gated
 * by level); `reason` is logged. FAILs the test on error. */
void wc_award(store *st, int64_t uid, const char *level, const char *reason);

/* A new API key for user `uid` straight in the store; its text in `key`. */
void wc_apikey(store *st, int64_t uid, char key[AUTH_APIKEY_MAX]);

/* For the handler of a fake upstream (libmicrohttpd): collects the request
 * body in an rh_buf kept in *ctx (at most 1 MiB). NULL while the request
 * is still arriving (the handler returns MHD_YES), then the whole body.
 * Give wc_mhd_done as MHD_OPTION_NOTIFY_COMPLETED to free it. */
rh_buf *wc_mhd_body(void **ctx, const char *upload, size_t *upload_size);
void wc_mhd_done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode t);

/* Run a CLI command fn(argc, argv) (argv NULL-terminated) in the test
 * process with stdout captured into out (cut at cap) and, when `input` is
 * not NULL, stdin reading `input`. Returns fn's exit code. */
int wc_run_cli(int (*fn)(int, char **), char **argv, const char *input, char *out, size_t cap);

#endif
