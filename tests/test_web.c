/*
 * test_web.c - end-to-end tests of the portal server: the real server runs
 * in-process on an ephemeral loopback port, libcurl is the client, and a
 * tiny libmicrohttpd server plays an OpenAI-compatible upstream.
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chat/chat.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "test.h"
#include "cli/cli.h"
#include "store/astore.h"
#include "web/auth.h"
#include "web/web.h"
#include "web_client.h"

/* ------------------------------------------------------------ fake upstream */

typedef struct fake_up {
    struct MHD_Daemon *d;
    int port;
    int mode;           /* 0 normal, 1 slow (100 chunks, 50 ms apart), 2 HTTP 500 */
    atomic_int requests;
    atomic_int chunks_sent;
    atomic_int closed_early;
    char last_body[8192];
    pthread_mutex_t lock;
} fake_up;

typedef struct fake_stream {
    fake_up *f;
    int i;
    int n;
    int done;
} fake_stream;

static ssize_t fake_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    fake_stream *s = cls;
    (void)pos;
    if (s->i >= s->n + 1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->f->mode == 1)
        usleep(50 * 1000);
    int n;
    if (s->i < s->n) {
        const char *word = s->f->mode == 1 ? "x" : (s->i == 0 ? "Hallo" : " Welt");
        n = snprintf(buf, max,
                     "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
                     "\"delta\":{\"content\":\"%s\"},\"finish_reason\":%s}]}\n\n",
                     word, s->i == s->n - 1 ? "\"stop\"" : "null");
        atomic_fetch_add(&s->f->chunks_sent, 1);
    } else {
        n = snprintf(buf, max, "data: [DONE]\n\n");
        s->done = 1;
    }
    s->i++;
    return n;
}

static void fake_free(void *cls)
{
    fake_stream *s = cls;
    if (!s->done)
        atomic_store(&s->f->closed_early, 1);
    rh_free(s);
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                    const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    fake_up *f = cls;
    (void)version;
    rh_buf *body = wc_mhd_body(ctx, upload, upload_size);
    if (!body)
        return MHD_YES;
    struct MHD_Response *r;
    enum MHD_Result ret;
    if (!strcmp(method, "GET") && !strcmp(url, "/v1/models")) {
        static const char m[] = "{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\"}]}";
        r = MHD_create_response_from_buffer(sizeof m - 1, (void *)m, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/json");
        ret = MHD_queue_response(conn, 200, r);
    } else if (f->mode == 2) {
        static const char e[] = "{\"error\":{\"message\":\"kaputt\"}}";
        atomic_fetch_add(&f->requests, 1);
        r = MHD_create_response_from_buffer(sizeof e - 1, (void *)e, MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(conn, 500, r);
    } else {
        atomic_fetch_add(&f->requests, 1);
        pthread_mutex_lock(&f->lock);
        snprintf(f->last_body, sizeof f->last_body, "%s", body->data ? body->data : "");
        pthread_mutex_unlock(&f->lock);
        fake_stream *s = rh_calloc(1, sizeof *s);
        s->f = f;
        s->n = f->mode == 1 ? 100 : 2;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, fake_read, s, fake_free);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        ret = MHD_queue_response(conn, 200, r);
    }
    MHD_destroy_response(r);
    return ret;
}

static void fake_start(fake_up *f, int mode)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    pthread_mutex_init(&f->lock, NULL);
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0,
                            NULL, NULL, fake_handler, f, MHD_OPTION_NOTIFY_COMPLETED, wc_mhd_done, f,
                            MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    if (!f->d)
        FAIL("fake upstream did not start");
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    f->port = di->port;
}

/* ------------------------------------------------------------ portal */

/* the portal in-process (web_client.h) */
typedef wc_server tsrv;

/* ------------------------------------------------------------ client */

typedef struct client {
    CURL *h;
    char csrf[128];
    const char *iface;
} client;

typedef struct resp {
    long status;
    rh_buf body;
    rh_buf hdr;
    int abort_after_delta; /* stop reading after the first delta event */
} resp;

static size_t on_body(char *d, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    rh_buf_append(&r->body, d, s * n);
    if (r->abort_after_delta && r->body.data && strstr(r->body.data, "event: delta"))
        return 0;
    return s * n;
}

static void client_init(client *c)
{
    memset(c, 0, sizeof *c);
    c->h = curl_easy_init();
    curl_easy_setopt(c->h, CURLOPT_COOKIEFILE, "");
}

static void client_free(client *c) { curl_easy_cleanup(c->h); }

static void resp_free(resp *r)
{
    rh_buf_free(&r->body);
    rh_buf_free(&r->hdr);
}

/* One request; `hdrs` extra header lines (NULL-terminated); csrf sent when set. */
static long call(tsrv *t, client *c, const char *method, const char *path, const char *body, const char **hdrs,
                 resp *r)
{
    int abort_after_delta = r->abort_after_delta;
    memset(r, 0, sizeof *r);
    r->abort_after_delta = abort_after_delta;
    rh_buf_init(&r->body, 1 << 22);
    rh_buf_init(&r->hdr, 1 << 16);
    wc_req rq = {.base = t->base, .method = method, .path = path, .body = body, .csrf = c->csrf, .hdrs = hdrs,
                 .iface = c->iface, .on_body = on_body, .body_ud = r, .hdr_out = &r->hdr};
    r->status = wc_perform(c->h, &rq);
    return r->status;
}

static const char *body_of(resp *r) { return r->body.data ? r->body.data : ""; }

/* GET /api/session and remember the CSRF token. */
static void refresh_csrf(tsrv *t, client *c)
{
    resp r;
    c->csrf[0] = '\0';
    ASSERT_EQ(call(t, c, "GET", "/api/session", NULL, NULL, &r), 200);
    wc_csrf_parse(body_of(&r), c->csrf, sizeof c->csrf);
    resp_free(&r);
}

static void setup_admin(tsrv *t, client *c)
{
    resp r;
    refresh_csrf(t, c);
    ASSERT_EQ(call(t, c, "POST", "/api/setup", "{\"username\":\"admin\",\"password\":\"geheim123\"}", NULL, &r), 200);
    resp_free(&r);
    refresh_csrf(t, c);
}

static void login(tsrv *t, client *c, const char *user, const char *pw, long want)
{
    char body[256];
    resp r;
    refresh_csrf(t, c);
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
    long got = call(t, c, "POST", "/api/login", body, NULL, &r);
    if (got != want)
        FAIL("login %s: %ld (want %ld): %s", user, got, want, body_of(&r));
    resp_free(&r);
    if (want == 200)
        refresh_csrf(t, c);
}

static int64_t json_id(resp *r)
{
    const char *p = strstr(body_of(r), "\"id\":");
    return p ? strtoll(p + 5, NULL, 10) : -1;
}

static void create_user(tsrv *t, client *admin, const char *name, const char *role)
{
    char body[256];
    resp r;
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"passwort1\",\"role\":\"%s\"}", name, role);
    if (call(t, admin, "POST", "/api/admin/users", body, NULL, &r) != 200)
        FAIL("create user: %ld %s", r.status, body_of(&r));
    /* the academy gates chat and API keys by level: these tests' users hold them all */
    wc_award(t->st, json_id(&r), "gold", "test");
    resp_free(&r);
}

/* ------------------------------------------------------------ tests */

TEST(web_security_headers_static_health)
{
    tsrv t;
    client c;
    resp r;
    wc_server_start(&t, NULL);
    client_init(&c);
    ASSERT_EQ(call(&t, &c, "GET", "/", NULL, NULL, &r), 200);
    const char *h = r.hdr.data;
    ASSERT(strstr(h, "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
                     "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                     "form-action 'self'"));
    ASSERT(strstr(h, "X-Content-Type-Options: nosniff"));
    ASSERT(strstr(h, "Referrer-Policy: no-referrer"));
    ASSERT(strstr(h, "X-Frame-Options: DENY"));
    ASSERT(!strstr(h, "Strict-Transport-Security")); /* plain http */
    ASSERT(strstr(h, "Content-Type: text/html"));
    ASSERT(strstr(h, "ETag: \""));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/chat/12", NULL, NULL, &r), 200); /* UI route -> index.html */
    ASSERT(strstr(r.hdr.data, "text/html"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/nope.js", NULL, NULL, &r), 404);
    ASSERT(strstr(r.hdr.data, "X-Frame-Options: DENY"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/api/nothing", NULL, NULL, &r), 404);
    ASSERT(strstr(body_of(&r), "\"code\":\"not_found\""));
    ASSERT(strstr(r.hdr.data, "Content-Security-Policy"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/healthz", NULL, NULL, &r), 200);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/readyz", NULL, NULL, &r), 200);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/metrics", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "rathaus_http_requests_total{route=\"/healthz\",status=\"200\"} 1"));
    ASSERT(strstr(body_of(&r), "rathaus_http_request_duration_seconds_bucket"));
    ASSERT(strstr(body_of(&r), "rathaus_queue_length 0"));
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
}

typedef struct race_arg {
    tsrv *t;
    const char *name;
    long status;
} race_arg;

static void *race_setup(void *p)
{
    race_arg *a = p;
    client c;
    resp r;
    char body[256];
    client_init(&c);
    refresh_csrf(a->t, &c);
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"geheim123\"}", a->name);
    a->status = call(a->t, &c, "POST", "/api/setup", body, NULL, &r);
    resp_free(&r);
    client_free(&c);
    return NULL;
}

TEST(web_setup_only_once_even_racing)
{
    tsrv t;
    wc_server_start(&t, NULL);
    for (int round = 0; round < 1; round++) {
        race_arg a[4] = {{&t, "anna", 0}, {&t, "bert", 0}, {&t, "carl", 0}, {&t, "dora", 0}};
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, race_setup, &a[i]);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        int ok = 0, conflict = 0;
        for (int i = 0; i < 4; i++) {
            ok += a[i].status == 200;
            conflict += a[i].status == 409;
        }
        ASSERT_EQ(ok, 1);
        ASSERT_EQ(conflict, 3);
    }
    int64_t n = 0;
    store_user_count(t.st, STORE_TENANT_DEFAULT, &n);
    ASSERT_EQ(n, 1);
    client c;
    resp r;
    client_init(&c);
    refresh_csrf(&t, &c);
    ASSERT_EQ(call(&t, &c, "POST", "/api/setup", "{\"username\":\"eve\",\"password\":\"geheim123\"}", NULL, &r), 409);
    ASSERT(strstr(body_of(&r), "setup_done"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/api/session", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"setup_required\":false"));
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
}

TEST(web_login_logout_and_cookie_flags)
{
    tsrv t;
    client a, c;
    resp r;
    wc_server_start(&t, NULL);
    client_init(&a);
    client_init(&c);
    setup_admin(&t, &a);
    login(&t, &c, "admin", "falsch!!", 401);
    refresh_csrf(&t, &c);
    ASSERT_EQ(call(&t, &c, "POST", "/api/login", "{\"username\":\"admin\",\"password\":\"geheim123\"}", NULL, &r), 200);
    ASSERT(strstr(r.hdr.data, "Set-Cookie: rathaus_session="));
    ASSERT(strstr(r.hdr.data, "HttpOnly"));
    ASSERT(strstr(r.hdr.data, "SameSite=Strict"));
    ASSERT(!strstr(r.hdr.data, "Secure"));
    ASSERT(strstr(body_of(&r), "\"username\":\"admin\""));
    resp_free(&r);
    refresh_csrf(&t, &c);
    ASSERT_EQ(call(&t, &c, "GET", "/api/session", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"role\":\"admin\""));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "POST", "/api/logout", NULL, NULL, &r), 204);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/api/session", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"user\":null"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/api/conversations", NULL, NULL, &r), 401);
    resp_free(&r);
    /* English on request */
    const char *en[] = {"Accept-Language: en-GB,en;q=0.8", NULL};
    ASSERT_EQ(call(&t, &c, "GET", "/api/conversations", NULL, en, &r), 401);
    ASSERT(strstr(body_of(&r), "Please log in."));
    resp_free(&r);
    client_free(&a);
    client_free(&c);
    wc_server_stop(&t);

    /* behind a trusted proxy that says https: __Host- cookies, Secure, HSTS */
    wc_server_start(&t, "trusted_proxy = 127.0.0.1\n");
    client_init(&c);
    const char *https[] = {"X-Forwarded-Proto: https", "X-Forwarded-For: 203.0.113.9", NULL};
    ASSERT_EQ(call(&t, &c, "GET", "/api/session", NULL, https, &r), 200);
    ASSERT(strstr(r.hdr.data, "Set-Cookie: __Host-rathaus_pre="));
    ASSERT(strstr(r.hdr.data, "; Secure"));
    ASSERT(strstr(r.hdr.data, "Strict-Transport-Security: max-age="));
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
}

TEST(web_csrf_required)
{
    tsrv t;
    client c;
    resp r;
    wc_server_start(&t, NULL);
    client_init(&c);
    /* login without the pre-session token */
    ASSERT_EQ(call(&t, &c, "POST", "/api/setup", "{\"username\":\"admin\",\"password\":\"geheim123\"}", NULL, &r), 403);
    ASSERT(strstr(body_of(&r), "\"code\":\"csrf\""));
    resp_free(&r);
    setup_admin(&t, &c);
    char good[128];
    snprintf(good, sizeof good, "%s", c.csrf);
    c.csrf[0] = '\0';
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", "{}", NULL, &r), 403);
    resp_free(&r);
    snprintf(c.csrf, sizeof c.csrf, "%064d", 0);
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", "{}", NULL, &r), 403);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "DELETE", "/api/conversations/1", NULL, NULL, &r), 403);
    resp_free(&r);
    snprintf(c.csrf, sizeof c.csrf, "%s", good);
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", "{\"title\":\"Test\"}", NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"title\":\"Test\""));
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
}

TEST(web_body_limit_and_bad_json)
{
    tsrv t;
    client c;
    resp r;
    wc_server_start(&t, "max_body_bytes = 1024\n");
    client_init(&c);
    setup_admin(&t, &c);
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[0] = '"';
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", big, NULL, &r), 413);
    ASSERT(strstr(body_of(&r), "too_large"));
    resp_free(&r);
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL}; /* no Content-Length to check */
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", big, chunked, &r), 413);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", "{\"title\":\"klein\"}", chunked, &r), 200);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", "{\"title\": ", NULL, &r), 400);
    ASSERT(strstr(body_of(&r), "\"code\":\"bad_json\""));
    ASSERT(strstr(body_of(&r), "JSON"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", "[1,2]", NULL, &r), 400);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", "{\"title\": 5}", NULL, &r), 400);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "PATCH", "/api/me", "{\"lang\":\"en\"}", NULL, &r), 200);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "POST", "/api/conversations", "{", NULL, &r), 400);
    ASSERT(strstr(body_of(&r), "not a valid JSON object")); /* the user's language now */
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
}

TEST(web_authorization_between_users)
{
    tsrv t;
    client admin, a, b;
    resp r;
    wc_server_start(&t, NULL);
    client_init(&admin);
    client_init(&a);
    client_init(&b);
    setup_admin(&t, &admin);
    create_user(&t, &admin, "anna", "user");
    create_user(&t, &admin, "bert", "user");
    login(&t, &a, "anna", "passwort1", 200);
    login(&t, &b, "bert", "passwort1", 200);
    ASSERT_EQ(call(&t, &a, "POST", "/api/conversations", "{\"title\":\"Annas Gespräch\"}", NULL, &r), 200);
    int64_t id = json_id(&r);
    resp_free(&r);
    ASSERT(id > 0);
    char path[64];
    snprintf(path, sizeof path, "/api/conversations/%lld", (long long)id);
    ASSERT_EQ(call(&t, &b, "GET", path, NULL, NULL, &r), 404);
    resp_free(&r);
    ASSERT_EQ(call(&t, &b, "PATCH", path, "{\"title\":\"mine\"}", NULL, &r), 404);
    resp_free(&r);
    ASSERT_EQ(call(&t, &b, "DELETE", path, NULL, NULL, &r), 404);
    resp_free(&r);
    ASSERT_EQ(call(&t, &b, "GET", "/api/conversations", NULL, NULL, &r), 200);
    ASSERT(!strstr(body_of(&r), "Annas"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &a, "GET", path, NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "Annas Gespr"));
    resp_free(&r);
    /* non-admins: 403 on every admin route */
    const char *admin_gets[] = {"/api/admin/users", "/api/admin/groups", "/api/admin/audit", "/api/admin/status"};
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(call(&t, &b, "GET", admin_gets[i], NULL, NULL, &r), 403);
        resp_free(&r);
    }
    ASSERT_EQ(call(&t, &b, "POST", "/api/admin/users", "{\"username\":\"x\",\"password\":\"passwort1\"}", NULL, &r), 403);
    resp_free(&r);
    ASSERT_EQ(call(&t, &admin, "GET", "/api/admin/users", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"username\":\"bert\""));
    resp_free(&r);
    /* disabling bert ends his session at once */
    ASSERT_EQ(call(&t, &admin, "GET", "/api/admin/users", NULL, NULL, &r), 200);
    const char *p = strstr(body_of(&r), "\"username\":\"bert\"");
    ASSERT(p);
    resp_free(&r);
    int64_t bert = 0;
    store_user u;
    ASSERT_EQ(store_user_by_name(t.st, STORE_TENANT_DEFAULT, "bert", &u, NULL), RH_OK);
    bert = u.id;
    store_user_free(&u);
    snprintf(path, sizeof path, "/api/admin/users/%lld", (long long)bert);
    ASSERT_EQ(call(&t, &admin, "PATCH", path, "{\"disabled\":true}", NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"disabled\":true"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &b, "GET", "/api/conversations", NULL, NULL, &r), 401);
    resp_free(&r);
    login(&t, &b, "bert", "passwort1", 401);
    /* the last admin cannot demote itself */
    ASSERT_EQ(call(&t, &admin, "PATCH", "/api/admin/users/1", "{\"role\":\"user\"}", NULL, &r), 409);
    resp_free(&r);
    /* audit trail */
    ASSERT_EQ(call(&t, &admin, "GET", "/api/admin/audit?limit=50", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"action\":\"user_create\""));
    ASSERT(strstr(body_of(&r), "\"action\":\"user_update\""));
    ASSERT(strstr(body_of(&r), "\"action\":\"login_failed\""));
    ASSERT(strstr(body_of(&r), "\"action\":\"login\""));
    resp_free(&r);
    client_free(&admin);
    client_free(&a);
    client_free(&b);
    wc_server_stop(&t);
}

TEST(web_login_rate_limit_per_user_and_address)
{
    tsrv t;
    client admin, c, other;
    wc_server_start(&t, "login_max_failures = 3\n");
    client_init(&admin);
    client_init(&c);
    client_init(&other);
    setup_admin(&t, &admin);
    for (int i = 0; i < 3; i++)
        login(&t, &c, "admin", "falsch!!", 401);
    login(&t, &c, "admin", "falsch!!", 429);
    login(&t, &c, "admin", "geheim123", 429); /* even the right password */
    /* from another address the real admin still gets in */
    other.iface = "host!127.0.0.2";
    login(&t, &other, "admin", "geheim123", 200);
    client_free(&admin);
    client_free(&c);
    client_free(&other);
    wc_server_stop(&t);
}

static char conf_buf[1024];

static const char *up_conf(const char *extra, int port1, int port2)
{
    int n = snprintf(conf_buf, sizeof conf_buf, "%s\n", extra ? extra : "");
    if (port1)
        n += snprintf(conf_buf + n, sizeof conf_buf - (size_t)n,
                      "[upstream first]\nurl = http://127.0.0.1:%d/v1\nmodels = fake-model\ntimeout = 10\n", port1);
    if (port2)
        snprintf(conf_buf + n, sizeof conf_buf - (size_t)n,
                 "[upstream second]\nurl = http://127.0.0.1:%d/v1\nmodels = fake-model\ntimeout = 10\n", port2);
    return conf_buf;
}

static int64_t new_conv(tsrv *t, client *c, const char *body)
{
    resp r;
    ASSERT_EQ(call(t, c, "POST", "/api/conversations", body, NULL, &r), 200);
    int64_t id = json_id(&r);
    resp_free(&r);
    return id;
}

TEST(web_chat_streams_from_upstream)
{
    fake_up f;
    tsrv t;
    client c;
    resp r;
    fake_start(&f, 0);
    wc_server_start(&t, up_conf(NULL, f.port, 0));
    client_init(&c);
    setup_admin(&t, &c);
    ASSERT_EQ(call(&t, &c, "GET", "/api/models", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"id\":\"fake-model\""));
    ASSERT(strstr(body_of(&r), "\"source\":\"upstream\""));
    resp_free(&r);
    int64_t id = new_conv(&t, &c, "{\"system_prompt\":\"Sie sind die Stadtverwaltung.\"}");
    char path[96];
    snprintf(path, sizeof path, "/api/conversations/%lld/messages", (long long)id);
    ASSERT_EQ(call(&t, &c, "POST", path, "{\"content\":\"Wie beantrage ich einen Ausweis?\"}", NULL, &r), 200);
    const char *b = body_of(&r);
    ASSERT(strstr(r.hdr.data, "Content-Type: text/event-stream"));
    ASSERT(strstr(b, "event: start\ndata: {\"user_message_id\":"));
    ASSERT(strstr(b, "\"model\":\"fake-model\""));
    /* deltas may arrive merged: "Hallo" + " Welt" or "Hallo Welt" */
    ASSERT(strstr(b, "event: delta\ndata: {\"text\":\"Hallo"));
    ASSERT(strstr(b, " Welt\"}"));
    ASSERT(strstr(b, "event: done\ndata: {\"finish_reason\":\"stop\""));
    resp_free(&r);
    pthread_mutex_lock(&f.lock);
    ASSERT(strstr(f.last_body, "\"role\":\"system\""));
    ASSERT(strstr(f.last_body, "Wie beantrage ich einen Ausweis?"));
    ASSERT(strstr(f.last_body, "\"stream\":true"));
    pthread_mutex_unlock(&f.lock);
    snprintf(path, sizeof path, "/api/conversations/%lld", (long long)id);
    ASSERT_EQ(call(&t, &c, "GET", path, NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"content\":\"Hallo Welt\""));
    ASSERT(strstr(body_of(&r), "\"title\":\"Wie beantrage ich einen Ausweis?\""));
    resp_free(&r);
    /* regenerate keeps two messages; edit_last replaces the question */
    snprintf(path, sizeof path, "/api/conversations/%lld/messages", (long long)id);
    ASSERT_EQ(call(&t, &c, "POST", path, "{\"mode\":\"regenerate\"}", NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "event: done"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "POST", path, "{\"mode\":\"edit_last\",\"content\":\"Und einen Reisepass?\"}", NULL, &r), 200);
    resp_free(&r);
    store_msgs ml;
    ASSERT_EQ(store_msg_list(t.st, id, &ml), RH_OK);
    ASSERT_EQ(ml.n, 2);
    ASSERT_STREQ(ml.items[0].content, "Und einen Reisepass?");
    ASSERT_STREQ(ml.items[1].content, "Hallo Welt");
    ASSERT_STREQ(ml.items[1].finish_reason, "stop");
    store_msg_list_free(&ml);
    ASSERT_EQ(atomic_load(&f.requests), 3);
    ASSERT_EQ(call(&t, &c, "GET", "/metrics", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "rathaus_tokens_total{kind=\"completion\"} 6")); /* 3 answers x 2 chunks */
    ASSERT(strstr(body_of(&r), "route=\"/api/conversations/:id/messages\",status=\"200\"} 3"));
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
    MHD_stop_daemon(f.d);
}

TEST(web_chat_fails_over_to_second_upstream)
{
    fake_up bad, good;
    tsrv t;
    client c;
    resp r;
    fake_start(&bad, 2); /* answers 500 */
    fake_start(&good, 0);
    wc_server_start(&t, up_conf(NULL, bad.port, good.port));
    client_init(&c);
    setup_admin(&t, &c);
    int64_t id = new_conv(&t, &c, "{\"model\":\"fake-model\"}");
    char path[96];
    snprintf(path, sizeof path, "/api/conversations/%lld/messages", (long long)id);
    ASSERT_EQ(call(&t, &c, "POST", path, "{\"content\":\"Hallo?\"}", NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "event: done"));
    ASSERT(strstr(body_of(&r), "Hallo"));
    resp_free(&r);
    ASSERT_EQ(atomic_load(&bad.requests), 1);
    ASSERT_EQ(atomic_load(&good.requests), 1);
    ASSERT_EQ(call(&t, &c, "GET", "/api/admin/status", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"name\":\"first\""));
    ASSERT(strstr(body_of(&r), "\"healthy\":false"));
    ASSERT(strstr(body_of(&r), "kaputt"));
    resp_free(&r);
    /* a dead address first, too */
    MHD_stop_daemon(bad.d);
    ASSERT_EQ(call(&t, &c, "POST", path, "{\"content\":\"Noch einmal\"}", NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "event: done"));
    resp_free(&r);
    ASSERT_EQ(atomic_load(&good.requests), 2);
    /* all down: a clear German error event */
    MHD_stop_daemon(good.d);
    ASSERT_EQ(call(&t, &c, "POST", path, "{\"content\":\"Und jetzt?\"}", NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "event: error"));
    ASSERT(strstr(body_of(&r), "upstream_unavailable"));
    ASSERT(strstr(body_of(&r), "nicht erreichbar"));
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
}

static int wait_for(atomic_int *v, int want, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (atomic_load(v) == want)
            return 1;
        usleep(10 * 1000);
    }
    return atomic_load(v) == want;
}

TEST(web_chat_cancel_on_disconnect_and_stop)
{
    fake_up f;
    tsrv t;
    client c;
    resp r;
    fake_start(&f, 1); /* slow: 100 chunks, 5 s */
    wc_server_start(&t, up_conf(NULL, f.port, 0));
    client_init(&c);
    setup_admin(&t, &c);
    int64_t id = new_conv(&t, &c, "{}");
    char path[96];
    snprintf(path, sizeof path, "/api/conversations/%lld/messages", (long long)id);
    r.abort_after_delta = 1;
    call(&t, &c, "POST", path, "{\"content\":\"Erzähl viel\"}", NULL, &r);
    resp_free(&r);
    /* the server notices the closed connection and stops the upstream */
    ASSERT(wait_for(&f.closed_early, 1, 3000));
    ASSERT(atomic_load(&f.chunks_sent) < 60);
    store_msgs ml;
    int ok = 0;
    for (int i = 0; i < 200 && !ok; i++) {
        ASSERT_EQ(store_msg_list(t.st, id, &ml), RH_OK);
        ok = ml.n == 2 && ml.items[1].finish_reason && !strcmp(ml.items[1].finish_reason, "cancelled");
        if (ok)
            ASSERT(ml.items[1].content[0] == 'x'); /* the part that came is kept */
        store_msg_list_free(&ml);
        usleep(10 * 1000);
    }
    ASSERT(ok);
    client_free(&c);
    wc_server_stop(&t);
    MHD_stop_daemon(f.d);
}

typedef struct bg_call {
    tsrv *t;
    client *c;
    const char *path, *body;
    resp r;
    long status;
} bg_call;

static void *bg_run(void *p)
{
    bg_call *b = p;
    b->status = call(b->t, b->c, "POST", b->path, b->body, NULL, &b->r);
    return NULL;
}

TEST(web_chat_queue_full_and_stop_endpoint)
{
    fake_up f;
    tsrv t;
    client c, c2;
    resp r;
    fake_start(&f, 1);
    wc_server_start(&t, up_conf("queue_max = 1\nworkers = 1\n", f.port, 0));
    client_init(&c);
    client_init(&c2);
    setup_admin(&t, &c);
    login(&t, &c2, "admin", "geheim123", 200);
    int64_t id1 = new_conv(&t, &c, "{}");
    int64_t id2 = new_conv(&t, &c, "{}");
    char p1[96], p2[96], stop[96];
    snprintf(p1, sizeof p1, "/api/conversations/%lld/messages", (long long)id1);
    snprintf(p2, sizeof p2, "/api/conversations/%lld/messages", (long long)id2);
    snprintf(stop, sizeof stop, "/api/conversations/%lld/stop", (long long)id1);
    bg_call bg = {&t, &c, p1, "{\"content\":\"lang\"}", {0}, 0};
    pthread_t th;
    pthread_create(&th, NULL, bg_run, &bg);
    ASSERT(wait_for(&f.requests, 1, 3000));
    ASSERT_EQ(call(&t, &c2, "POST", p2, "{\"content\":\"auch\"}", NULL, &r), 503);
    ASSERT(strstr(r.hdr.data, "Retry-After:"));
    ASSERT(strstr(body_of(&r), "queue_full"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c2, "GET", "/metrics", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "rathaus_streams_active 1"));
    ASSERT(strstr(body_of(&r), "rathaus_queue_length 1"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c2, "POST", stop, NULL, NULL, &r), 204);
    resp_free(&r);
    pthread_join(th, NULL);
    ASSERT_EQ(bg.status, 200);
    ASSERT(strstr(body_of(&bg.r), "\"finish_reason\":\"cancelled\""));
    ASSERT(atomic_load(&f.chunks_sent) < 60);
    resp_free(&bg.r);
    /* the place is free again */
    ASSERT_EQ(call(&t, &c2, "POST", "/api/admin/groups", "{\"name\":\"Bauamt\"}", NULL, &r), 200);
    resp_free(&r);
    client_free(&c);
    client_free(&c2);
    wc_server_stop(&t);
    MHD_stop_daemon(f.d);
}

TEST(web_v1_openai_api_with_keys)
{
    fake_up f;
    tsrv t;
    client c, k;
    resp r;
    fake_start(&f, 0);
    wc_server_start(&t, up_conf("apikey_rate_per_min = 5\n", f.port, 0));
    client_init(&c);
    client_init(&k);
    setup_admin(&t, &c);
    ASSERT_EQ(call(&t, &c, "POST", "/api/keys", "{\"name\":\"Fachverfahren\"}", NULL, &r), 200);
    const char *p = strstr(body_of(&r), "\"key\":\"rh_");
    ASSERT(p);
    char key[128], auth[160];
    size_t n = strcspn(p + 7, "\"");
    memcpy(key, p + 7, n);
    key[n] = '\0';
    int64_t key_id = json_id(&r);
    resp_free(&r);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    const char *h[] = {auth, NULL};
    ASSERT_EQ(call(&t, &k, "GET", "/v1/models", NULL, NULL, &r), 401);
    ASSERT(strstr(body_of(&r), "\"type\":\"authentication_error\""));
    resp_free(&r);
    ASSERT_EQ(call(&t, &k, "GET", "/v1/models", NULL, h, &r), 200);
    if (!strstr(body_of(&r), "\"id\":\"fake-model\""))
        FAIL("models: %s", body_of(&r));
    resp_free(&r);
    ASSERT_EQ(call(&t, &k, "POST", "/v1/chat/completions",
                   "{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", h, &r), 200);
    ASSERT(strstr(body_of(&r), "\"object\":\"chat.completion\""));
    ASSERT(strstr(body_of(&r), "\"content\":\"Hallo Welt\""));
    ASSERT(strstr(body_of(&r), "\"finish_reason\":\"stop\""));
    resp_free(&r);
    ASSERT_EQ(call(&t, &k, "POST", "/v1/chat/completions",
                   "{\"model\":\"fake-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
                   h, &r), 200);
    ASSERT(strstr(body_of(&r), "data: {\"id\":\"chatcmpl-"));
    ASSERT(strstr(body_of(&r), "\"delta\":{\"content\":\"Hallo"));
    ASSERT(strstr(body_of(&r), " Welt\"}"));
    ASSERT(strstr(body_of(&r), "data: [DONE]"));
    resp_free(&r);
    ASSERT_EQ(call(&t, &k, "POST", "/v1/chat/completions", "{\"model\":\"fake-model\"}", h, &r), 400);
    ASSERT(strstr(body_of(&r), "invalid_request_error"));
    resp_free(&r);
    /* rate limit: 5 per minute per key */
    ASSERT_EQ(call(&t, &k, "GET", "/v1/models", NULL, h, &r), 200);
    resp_free(&r);
    ASSERT_EQ(call(&t, &k, "GET", "/v1/models", NULL, h, &r), 429);
    ASSERT(strstr(r.hdr.data, "Retry-After"));
    resp_free(&r);
    /* revoked keys stop working */
    char path[64];
    snprintf(path, sizeof path, "/api/keys/%lld", (long long)key_id);
    ASSERT_EQ(call(&t, &c, "DELETE", path, NULL, NULL, &r), 204);
    resp_free(&r);
    ASSERT_EQ(call(&t, &k, "GET", "/v1/models", NULL, h, &r), 401);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/api/keys", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"keys\":[]"));
    resp_free(&r);
    client_free(&c);
    client_free(&k);
    wc_server_stop(&t);
    MHD_stop_daemon(f.d);
}

TEST_TIMEOUT(web_local_model_answers, 120)
{
    const char *model = test_data_path("models/tiny-qwen2-q4_0.gguf");
    char dir[512], link[600], conf[700];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    mkdir(dir, 0700);
    snprintf(link, sizeof link, "%s/tiny-qwen2-q4_0.gguf", dir);
    char abs[PATH_MAX];
    ASSERT(realpath(model, abs) != NULL);
    ASSERT_EQ(symlink(abs, link), 0);
    snprintf(conf, sizeof conf, "models_dir = %s\nmax_tokens = 6\n", dir);
    tsrv t;
    client c;
    resp r;
    wc_server_start(&t, conf);
    client_init(&c);
    setup_admin(&t, &c);
    ASSERT_EQ(call(&t, &c, "GET", "/api/models", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"id\":\"tiny-qwen2-q4_0\""));
    ASSERT(strstr(body_of(&r), "\"source\":\"local\""));
    resp_free(&r);
    int64_t id = new_conv(&t, &c, "{}");
    char path[96];
    snprintf(path, sizeof path, "/api/conversations/%lld/messages", (long long)id);
    ASSERT_EQ(call(&t, &c, "POST", path, "{\"content\":\"Guten Tag\"}", NULL, &r), 200);
    if (!strstr(body_of(&r), "event: done"))
        FAIL("no done event: %s", body_of(&r));
    ASSERT(strstr(body_of(&r), "\"model\":\"tiny-qwen2-q4_0\""));
    resp_free(&r);
    store_msgs ml;
    ASSERT_EQ(store_msg_list(t.st, id, &ml), RH_OK);
    ASSERT_EQ(ml.n, 2);
    ASSERT(ml.items[1].completion_tokens > 0);
    ASSERT(ml.items[1].completion_tokens <= 6);
    store_msg_list_free(&ml);
    client_free(&c);
    wc_server_stop(&t);
}

TEST(web_builtin_tls)
{
    char cmd[1024], conf[1200];
    const char *d = test_tmpdir();
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        SKIP("openssl is not installed (needed to make a test certificate)");
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=127.0.0.1 -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1", d, d);
    ASSERT_EQ(system(cmd), 0);
    snprintf(conf, sizeof conf, "tls_cert = %s/cert.pem\ntls_key = %s/key.pem\n", d, d);
    tsrv t;
    client c;
    resp r;
    wc_server_start(&t, conf);
    ASSERT(!strncmp(t.base, "https://", 8));
    client_init(&c);
    ASSERT_EQ(call(&t, &c, "GET", "/api/session", NULL, NULL, &r), 200);
    ASSERT(strstr(r.hdr.data, "Set-Cookie: __Host-rathaus_pre="));
    ASSERT(strstr(r.hdr.data, "; Secure"));
    ASSERT(strstr(r.hdr.data, "Strict-Transport-Security: max-age="));
    resp_free(&r);
    setup_admin(&t, &c);
    ASSERT_EQ(call(&t, &c, "GET", "/api/session", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"username\":\"admin\"")); /* the __Host- session cookie works */
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
}

TEST(web_shutdown_ends_running_streams)
{
    fake_up f;
    tsrv t;
    client c;
    fake_start(&f, 1);
    wc_server_start(&t, up_conf(NULL, f.port, 0));
    client_init(&c);
    setup_admin(&t, &c);
    int64_t id = new_conv(&t, &c, "{}");
    char p[96];
    snprintf(p, sizeof p, "/api/conversations/%lld/messages", (long long)id);
    bg_call bg = {&t, &c, p, "{\"content\":\"lang\"}", {0}, 0};
    pthread_t th;
    pthread_create(&th, NULL, bg_run, &bg);
    ASSERT(wait_for(&f.requests, 1, 3000));
    usleep(100 * 1000);
    web_stop(t.web); /* what SIGTERM does first */
    pthread_join(th, NULL);
    ASSERT_EQ(bg.status, 200);
    if (!strstr(body_of(&bg.r), "\"finish_reason\":\"cancelled\""))
        FAIL("stream: %s", body_of(&bg.r));
    ASSERT(atomic_load(&f.chunks_sent) < 60);
    resp_free(&bg.r);
    client_free(&c);
    chat_service_destroy(t.chat);
    backend_destroy(t.be);
    store_close(t.st);
    config_free(&t.cfg);
    MHD_stop_daemon(f.d);
}

TEST(web_cli_user_and_apikey)
{
    char conf[512], dbpath[512], out[1024];
    const char *d = test_tmpdir();
    auth_set_fast_hashing(1);
    snprintf(conf, sizeof conf, "%s/r.conf", d);
    FILE *f = fopen(conf, "w");
    ASSERT(f);
    fprintf(f, "data_dir = %s\n", d);
    fclose(f);
    char *add[] = {"user", "add", "--admin", "--config", conf, "anna", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, add, "sehrgeheim\n", out, sizeof out), 0);
    ASSERT(strstr(out, "user 'anna' created"));
    char *dup_add[] = {"user", "add", "--config", conf, "anna", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, dup_add, "sehrgeheim\n", out, sizeof out), 1);
    char *weak[] = {"user", "add", "--config", conf, "bert", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, weak, "kurz\n", out, sizeof out), 1);
    char *list[] = {"user", "list", "--config", conf, NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, list, "", out, sizeof out), 0);
    ASSERT(strstr(out, "anna"));
    ASSERT(strstr(out, "admin"));
    ASSERT(!strstr(out, "bert"));
    char *key[] = {"apikey", "create", "anna", "--name", "test", "--config", conf, NULL};
    ASSERT_EQ(wc_run_cli(cmd_apikey, key, "", out, sizeof out), 0);
    ASSERT(!strncmp(out, "rh_", 3));
    out[strcspn(out, "\n")] = '\0';
    /* the stored hash matches the printed key; the password works */
    store *st;
    rh_error e;
    snprintf(dbpath, sizeof dbpath, "%s/rathaus.db", d);
    ASSERT_EQ(store_open(dbpath, &st, &e), RH_OK);
    char hash[AUTH_TOKEN_HEX];
    auth_sha256_hex(out, strlen(out), hash);
    store_apikey k;
    ASSERT_EQ(store_apikey_lookup(st, hash, 1, &k), RH_OK);
    store_apikey_free(&k);
    store_user u;
    char *ph = NULL;
    ASSERT_EQ(store_user_by_name(st, STORE_TENANT_DEFAULT, "anna", &u, &ph), RH_OK);
    ASSERT_STREQ(u.role, "admin");
    ASSERT_EQ(auth_password_verify(ph, "sehrgeheim"), RH_OK);
    ASSERT_NE(auth_password_verify(ph, "falsch"), RH_OK);
    store_user_free(&u);
    rh_free(ph);
    store_close(st);
}

TEST(web_upstream_model_list_from_upstream)
{
    fake_up f;
    tsrv t;
    client c;
    resp r;
    char conf[256];
    fake_start(&f, 0);
    snprintf(conf, sizeof conf, "[upstream any]\nurl = http://127.0.0.1:%d/v1\nmodels = *\n", f.port);
    wc_server_start(&t, conf);
    client_init(&c);
    setup_admin(&t, &c);
    ASSERT_EQ(call(&t, &c, "GET", "/api/models", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"id\":\"fake-model\""));
    ASSERT(strstr(body_of(&r), "\"hint\":\"\""));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "GET", "/api/admin/status", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"models\":[\"fake-model\"]"));
    ASSERT(strstr(body_of(&r), "\"queue\":{\"length\":0,\"max\":16}"));
    resp_free(&r);
    /* conversation without a model: the first available one is used */
    int64_t id = new_conv(&t, &c, "{}");
    char path[96];
    snprintf(path, sizeof path, "/api/conversations/%lld/messages", (long long)id);
    ASSERT_EQ(call(&t, &c, "POST", path, "{\"content\":\"Hallo\"}", NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"model\":\"fake-model\""));
    ASSERT(strstr(body_of(&r), "event: done"));
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
    MHD_stop_daemon(f.d);
}

/* A route table of "another module", registered like theirs would be. */
#include "web/web_int.h"

static enum MHD_Result test_ext_handler(web_req *r)
{
    return web_json(r, 200, json_pack("{s:I, s:s}", "id", (json_int_t)r->id[0], "user", r->user.username));
}

static const web_route test_ext_routes[] = {
    {"GET", "/api/test-ext/:id", test_ext_handler, ROLE_ADMIN, 0},
    {"POST", "/api/test-ext/:id", test_ext_handler, ROLE_USER, 1},
};
WEB_ROUTES(test_ext_routes)

TEST(web_modules_can_add_routes)
{
    tsrv t;
    client c;
    resp r;
    wc_server_start(&t, NULL);
    client_init(&c);
    ASSERT_EQ(call(&t, &c, "GET", "/api/test-ext/7", NULL, NULL, &r), 401);
    resp_free(&r);
    setup_admin(&t, &c);
    ASSERT_EQ(call(&t, &c, "GET", "/api/test-ext/7", NULL, NULL, &r), 200);
    ASSERT(strstr(body_of(&r), "\"id\":7"));
    ASSERT(strstr(body_of(&r), "\"user\":\"admin\""));
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "POST", "/api/test-ext/8", "{}", NULL, &r), 200);
    resp_free(&r);
    c.csrf[0] = '\0';
    ASSERT_EQ(call(&t, &c, "POST", "/api/test-ext/8", "{}", NULL, &r), 403);
    resp_free(&r);
    ASSERT_EQ(call(&t, &c, "DELETE", "/api/test-ext/8", NULL, NULL, &r), 405);
    resp_free(&r);
    client_free(&c);
    wc_server_stop(&t);
}

TEST(web_limiter_keeps_blocking_counters_under_a_flood)
{
    auth_limiter *l = auth_limiter_create(8);
    ASSERT(l);
    for (int i = 0; i < 3; i++)
        auth_limiter_add(l, "admin\n10.0.0.1", 900, 1000);
    ASSERT(auth_limiter_blocked(l, "admin\n10.0.0.1", 3, 900, 1001));
    char key[64];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "user%d\n10.0.0.2", i);
        auth_limiter_add(l, key, 900, 1002);
    }
    ASSERT(auth_limiter_blocked(l, "admin\n10.0.0.1", 3, 900, 1003));
    ASSERT(!auth_limiter_blocked(l, "admin\n10.0.0.1", 3, 900, 1000 + 901)); /* the window passed */
    ASSERT(!auth_limiter_blocked(l, "admin\n10.0.0.9", 3, 900, 1003));
    auth_limiter_reset(l, "admin\n10.0.0.1");
    ASSERT(!auth_limiter_blocked(l, "admin\n10.0.0.1", 3, 900, 1003));
    auth_limiter_free(l);
}
