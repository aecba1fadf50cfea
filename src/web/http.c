/*
 * http.c - the HTTP server: libmicrohttpd set-up, request bodies with a
 * size limit, the routing table, security headers on every response,
 * access log, static assets, health and metrics endpoints.
 *
 * Threads: libmicrohttpd runs one thread per connection (so an open chat
 * stream can wait for the next piece of text without blocking others);
 * max_connections bounds them. Generation runs on the chat service's
 * worker threads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "academy/academy.h"
#include "core/alloc.h"
#include "core/log.h"
#include "web/assets.h"
#include "web/web_int.h"

/* ------------------------------------------------------------ messages */

typedef struct msg_entry {
    const char *code, *de, *en;
} msg_entry;

static const msg_entry messages[] = {
    {"not_found", "Das gesuchte Objekt wurde nicht gefunden.", "The requested item was not found."},
    {"method_not_allowed", "Diese Aktion ist hier nicht möglich.", "This method is not allowed here."},
    {"unauthenticated", "Bitte melden Sie sich an.", "Please log in."},
    {"forbidden", "Dafür fehlt Ihnen die Berechtigung.", "You are not allowed to do this."},
    {"csrf", "Die Sicherheitsprüfung der Anfrage ist fehlgeschlagen. Bitte laden Sie die Seite neu.",
     "The request's security check failed. Please reload the page."},
    {"bad_json", "Die Anfrage ist kein gültiges JSON-Objekt.", "The request is not a valid JSON object."},
    {"bad_request", "Die Anfrage ist unvollständig oder fehlerhaft.", "The request is incomplete or malformed."},
    {"too_large", "Die Anfrage ist zu groß.", "The request is too large."},
    {"invalid_credentials", "Benutzername oder Passwort ist falsch.", "Wrong user name or password."},
    {"rate_limited", "Zu viele Versuche. Bitte warten Sie einige Minuten.",
     "Too many attempts. Please wait a few minutes."},
    {"setup_done", "Die Einrichtung ist bereits abgeschlossen.", "Set-up has already been completed."},
    {"weak_password", "Das Passwort muss mindestens 8 Zeichen lang sein.",
     "The password must be at least 8 characters long."},
    {"wrong_password", "Das bisherige Passwort ist falsch.", "The current password is wrong."},
    {"username_taken", "Dieser Benutzername ist bereits vergeben.", "This user name is already taken."},
    {"bad_username", "Benutzernamen bestehen aus 1 bis 64 Buchstaben, Ziffern, Punkt, Bindestrich oder Unterstrich.",
     "User names have 1 to 64 letters, digits, dots, hyphens or underscores."},
    {"bad_role", "Unbekannte Rolle (admin, trainer oder user).", "Unknown role (admin, trainer or user)."},
    {"bad_group", "Eine der Gruppen gibt es nicht.", "One of the groups does not exist."},
    {"group_taken", "Eine Gruppe mit diesem Namen gibt es schon.", "A group with this name exists already."},
    {"last_admin", "Die letzte Administratorin bzw. der letzte Administrator kann nicht entfernt werden.",
     "The last administrator cannot be removed."},
    {"queue_full", "Gerade sind alle KI-Plätze belegt. Bitte versuchen Sie es gleich noch einmal.",
     "All AI slots are busy. Please try again shortly."},
    {"busy", "Für dieses Gespräch läuft bereits eine Antwort.", "An answer is already running for this conversation."},
    {"no_model", "Es ist kein Sprachmodell verfügbar. Bitte wenden Sie sich an die Administration.",
     "No language model is available. Please contact your administrator."},
    {"upstream_unavailable", "Der KI-Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut.",
     "The AI service is not reachable right now. Please try again in a few minutes."},
    {"model_not_found", "Dieses Sprachmodell ist nicht verfügbar.", "This language model is not available."},
    {"nothing_to_regenerate", "Es gibt keine Nachricht, auf die neu geantwortet werden kann.",
     "There is no message to answer again."},
    {"unavailable", "Der Dienst wird gerade beendet.", "The service is shutting down."},
    {"generation_failed", "Die Antwort konnte nicht erzeugt werden.", "The answer could not be generated."},
    {"internal", "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es erneut.",
     "An internal error occurred. Please try again."},
};

const char *web_msg(const web_req *r, const char *code)
{
    int en = r && r->lang && !strcmp(r->lang, "en");
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
        if (!strcmp(messages[i].code, code))
            return en ? messages[i].en : messages[i].de;
    return en ? "An error occurred." : "Ein Fehler ist aufgetreten.";
}

/* ------------------------------------------------------------ helpers */

int64_t web_now(void) { return (int64_t)time(NULL); }

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

json_t *web_time(int64_t t)
{
    if (t <= 0)
        return json_null();
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

const char *web_header(web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *web_query(web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

json_t *web_body_object(web_req *r)
{
    json_error_t je;
    if (!r->body.len)
        return NULL;
    json_t *o = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (o && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int web_str(json_t *o, const char *key, size_t max_len, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return RH_ENOTFOUND;
    if (!json_is_string(v) || json_string_length(v) > max_len ||
        strlen(json_string_value(v)) != json_string_length(v))
        return RH_EINVAL;
    *out = json_string_value(v);
    return RH_OK;
}

static const char *security_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
};

enum MHD_Result web_queue(web_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
        MHD_add_response_header(resp, security_headers[i][0], security_headers[i][1]);
    if (r->https)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    for (int i = 0; i < r->n_cookies; i++)
        MHD_add_response_header(resp, "Set-Cookie", r->cookies[i]);
    if (!strncmp(r->path, "/api/", 5) || !strncmp(r->path, "/v1/", 4))
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result web_send(web_req *r, unsigned status, const char *ctype, const void *data,
                         size_t len, const char *const *headers)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    r->bytes += len;
    return web_queue(r, status, resp);
}

enum MHD_Result web_json(web_req *r, unsigned status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!s) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        return web_send(r, 500, "application/json", oom, sizeof oom - 1, NULL);
    }
    enum MHD_Result ret = web_send(r, status, "application/json; charset=utf-8", s, strlen(s), NULL);
    free(s); /* from jansson */
    return ret;
}

enum MHD_Result web_no_content(web_req *r)
{
    return web_send(r, 204, NULL, "", 0, NULL);
}

enum MHD_Result web_error_msg(web_req *r, unsigned status, const char *code, const char *msg)
{
    json_t *o;
    if (r->path && !strncmp(r->path, "/v1/", 4)) {
        const char *type = status == 401 ? "authentication_error"
                           : status == 429 ? "rate_limit_error"
                           : status >= 500 ? "server_error"
                                           : "invalid_request_error";
        o = json_pack("{s:{s:s, s:s, s:s}}", "error", "message", msg, "type", type, "code", code);
    } else {
        o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    }
    return web_json(r, status, o);
}

enum MHD_Result web_error(web_req *r, unsigned status, const char *code)
{
    return web_error_msg(r, status, code, web_msg(r, code));
}

void web_add_cookie(web_req *r, const char *name, const char *value, long max_age)
{
    if (r->n_cookies >= WEB_MAX_COOKIES)
        return;
    rh_buf b;
    rh_buf_init(&b, 1024);
    rh_buf_appendf(&b, "%s=%s; Path=/; HttpOnly; SameSite=Strict", name, value);
    if (max_age >= 0)
        rh_buf_appendf(&b, "; Max-Age=%ld", max_age);
    if (r->https)
        rh_buf_appends(&b, "; Secure");
    char *c = rh_buf_take(&b, NULL);
    if (c)
        r->cookies[r->n_cookies++] = c;
}

const char *web_cookie_name(const web_req *r, const char *base, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s", r->https ? "__Host-" : "", base);
    return buf;
}

void web_audit(web_req *r, const char *action, const char *target, const char *detail)
{
    store_audit_add(r->srv->st, STORE_TENANT_DEFAULT, r->has_user ? r->user.username : NULL, action,
                    target, detail, r->ip, web_now());
}

/* ------------------------------------------------------------ static */

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json; charset=utf-8"}, {".svg", "image/svg+xml"},
        {".png", "image/png"}, {".jpg", "image/jpeg"}, {".ico", "image/x-icon"},
        {".woff2", "font/woff2"}, {".woff", "font/woff"}, {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcmp(dot, types[i][0]))
                return types[i][1];
    return "application/octet-stream";
}

static const rh_asset *find_asset(const char *path)
{
    for (size_t i = 0; i < rh_assets_count; i++)
        if (!strcmp(rh_assets[i].path, path))
            return &rh_assets[i];
    return NULL;
}

static enum MHD_Result serve_static(web_req *r)
{
    const char *path = r->path;
    if (!strcmp(path, "/"))
        path = "/index.html";
    const rh_asset *a = find_asset(path);
    if (!a) {
        /* UI routes (no file extension in the last segment) get the app */
        const char *last = strrchr(path, '/');
        if (last && !strchr(last, '.'))
            a = find_asset("/index.html");
        path = "/index.html";
    }
    if (!a) {
        static const char nf[] = "Not found\n";
        return web_send(r, 404, "text/plain; charset=utf-8", nf, sizeof nf - 1, NULL);
    }
    const char *inm = web_header(r, "If-None-Match");
    const char *hdrs[] = {"ETag", a->etag, "Cache-Control", "no-cache", NULL};
    if (inm && !strcmp(inm, a->etag))
        return web_send(r, 304, NULL, "", 0, hdrs);
    if (!strcmp(r->method, "HEAD"))
        return web_send(r, 200, content_type(a->path), "", 0, hdrs);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", content_type(a->path));
    MHD_add_response_header(resp, "ETag", a->etag);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    r->bytes += a->len;
    return web_queue(r, 200, resp);
}

/* ------------------------------------------------------------ health */

static enum MHD_Result h_healthz(web_req *r)
{
    return web_send(r, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
}

static enum MHD_Result h_readyz(web_req *r)
{
    int ok = store_ping(r->srv->st) == RH_OK &&
             store_schema_version(r->srv->st) == store_latest_version() && !atomic_load(&r->srv->stopping);
    return ok ? web_send(r, 200, "text/plain; charset=utf-8", "ready\n", 6, NULL)
              : web_send(r, 503, "text/plain; charset=utf-8", "not ready\n", 10, NULL);
}

static enum MHD_Result h_metrics(web_req *r)
{
    rh_buf b;
    rh_buf_init(&b, 1u << 20);
    web_metrics_render(r->srv, &b);
    enum MHD_Result ret = web_send(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                                   b.data ? b.data : "", b.len, NULL);
    rh_buf_free(&b);
    return ret;
}

/* ------------------------------------------------------------ routing */

static const web_route routes[] = {
    {"GET", "/healthz", h_healthz, ROLE_NONE, 0},
    {"GET", "/readyz", h_readyz, ROLE_NONE, 0},
    {"GET", "/metrics", h_metrics, ROLE_NONE, 0},
    {"GET", "/api/session", api_session_get, ROLE_NONE, 0},
    {"POST", "/api/setup", api_setup, ROLE_NONE, 1},
    {"POST", "/api/login", api_login, ROLE_NONE, 1},
    {"POST", "/api/logout", api_logout, ROLE_USER, 1},
    {"POST", "/api/password", api_password, ROLE_USER, 1},
    {"PATCH", "/api/me", api_me, ROLE_USER, 1},
    {"GET", "/api/models", api_models, ROLE_USER, 0},
    {"GET", "/api/conversations", api_conv_list, ROLE_USER, 0},
    {"POST", "/api/conversations", api_conv_create, ROLE_USER, 1},
    {"GET", "/api/conversations/:id", api_conv_get, ROLE_USER, 0},
    {"PATCH", "/api/conversations/:id", api_conv_patch, ROLE_USER, 1},
    {"DELETE", "/api/conversations/:id", api_conv_delete, ROLE_USER, 1},
    {"POST", "/api/conversations/:id/messages", api_conv_message, ROLE_USER, 1},
    {"POST", "/api/conversations/:id/stop", api_conv_stop, ROLE_USER, 1},
    {"GET", "/api/keys", api_keys_list, ROLE_USER, 0},
    {"POST", "/api/keys", api_keys_create, ROLE_USER, 1},
    {"DELETE", "/api/keys/:id", api_keys_delete, ROLE_USER, 1},
    {"GET", "/api/admin/users", api_admin_users, ROLE_ADMIN, 0},
    {"POST", "/api/admin/users", api_admin_user_create, ROLE_ADMIN, 1},
    {"PATCH", "/api/admin/users/:id", api_admin_user_patch, ROLE_ADMIN, 1},
    {"DELETE", "/api/admin/users/:id", api_admin_user_delete, ROLE_ADMIN, 1},
    {"GET", "/api/admin/groups", api_admin_groups, ROLE_ADMIN, 0},
    {"POST", "/api/admin/groups", api_admin_group_create, ROLE_ADMIN, 1},
    {"PATCH", "/api/admin/groups/:id", api_admin_group_patch, ROLE_ADMIN, 1},
    {"DELETE", "/api/admin/groups/:id", api_admin_group_delete, ROLE_ADMIN, 1},
    {"GET", "/api/admin/audit", api_admin_audit, ROLE_ADMIN, 0},
    {"GET", "/api/admin/status", api_admin_status, ROLE_ADMIN, 0},
    {"GET", "/v1/models", v1_models, ROLE_NONE, 0},
    {"POST", "/v1/chat/completions", v1_chat, ROLE_NONE, 0},
    {"POST", "/v1/completions", v1_completions, ROLE_NONE, 0},
};

typedef struct route_table {
    const web_route *routes;
    size_t n;
} route_table;

#define MAX_EXTRA_TABLES 32
static route_table extra_tables[MAX_EXTRA_TABLES];
static size_t n_extra_tables;

/* Called from constructors before main: no locking needed. */
void web_add_routes(const web_route *table, size_t n)
{
    if (n_extra_tables < MAX_EXTRA_TABLES)
        extra_tables[n_extra_tables++] = (route_table){table, n};
}

/* Match `path` against `pattern`; ":id" segments must be positive
 * integers and are stored in r->id; a "*" segment matches a name of 1..64
 * characters a-z 0-9 - _ (read it with web_path_segment). */
static int match(const char *pattern, const char *path, int64_t *ids, int *n_ids)
{
    *n_ids = 0;
    while (*pattern && *path) {
        if (*pattern == '*') {
            pattern++;
            size_t n = 0;
            while ((*path >= 'a' && *path <= 'z') || (*path >= '0' && *path <= '9') || *path == '-' ||
                   *path == '_') {
                path++;
                n++;
            }
            if (n == 0 || n > 64 || (*path && *path != '/'))
                return 0;
            continue;
        }
        if (*pattern == ':') {
            while (*pattern && *pattern != '/')
                pattern++;
            if (*path < '1' || *path > '9')
                return 0;
            int64_t v = 0;
            while (*path >= '0' && *path <= '9') {
                if (v > (INT64_MAX - 9) / 10)
                    return 0;
                v = v * 10 + (*path++ - '0');
            }
            if (*path && *path != '/')
                return 0;
            if (*n_ids < 2)
                ids[(*n_ids)++] = v;
            continue;
        }
        if (*pattern++ != *path++)
            return 0;
    }
    return !*pattern && !*path;
}

static void client_ip(web_req *r)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    r->ip[0] = '\0';
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->ip, sizeof r->ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->ip, sizeof r->ip);
    }
    r->https = r->srv->tls;
    const char *tp = r->srv->cfg->trusted_proxy;
    if (!tp || !r->ip[0])
        return;
    /* is the peer one of the trusted proxies? */
    size_t il = strlen(r->ip);
    const char *p = tp;
    int trusted = 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        if ((size_t)(e - p) == il && !memcmp(p, r->ip, il))
            trusted = 1;
        p = e;
    }
    if (!trusted)
        return;
    const char *proto = web_header(r, "X-Forwarded-Proto");
    if (proto && !strcasecmp(proto, "https"))
        r->https = 1;
    const char *xff = web_header(r, "X-Forwarded-For");
    if (xff && *xff) {
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
            last++;
        size_t n = strcspn(last, " ");
        if (n > 0 && n < sizeof r->ip) {
            char tmp[64];
            memcpy(tmp, last, n);
            tmp[n] = '\0';
            unsigned char bin[16];
            if (inet_pton(AF_INET, tmp, bin) == 1 || inet_pton(AF_INET6, tmp, bin) == 1)
                memcpy(r->ip, tmp, n + 1);
        }
    }
}

static const char *pick_lang(web_req *r)
{
    if (r->has_user && r->user.lang && (!strcmp(r->user.lang, "en") || !strcmp(r->user.lang, "de")))
        return !strcmp(r->user.lang, "en") ? "en" : "de";
    const char *al = web_header(r, "Accept-Language");
    if (al) {
        while (*al == ' ')
            al++;
        if (!strncasecmp(al, "en", 2))
            return "en";
        if (!strncasecmp(al, "de", 2))
            return "de";
    }
    return !strcmp(r->srv->cfg->default_lang, "en") ? "en" : "de";
}

static enum MHD_Result dispatch(web_req *r)
{
    int is_api = !strncmp(r->path, "/api/", 5) || !strcmp(r->path, "/api") || !strncmp(r->path, "/v1/", 4);
    const web_route *found = NULL;
    int path_known = 0;
    for (size_t t = 0; t <= n_extra_tables && !found; t++) {
        const web_route *tab = t == 0 ? routes : extra_tables[t - 1].routes;
        size_t n_tab = t == 0 ? sizeof routes / sizeof routes[0] : extra_tables[t - 1].n;
        for (size_t i = 0; i < n_tab; i++) {
            int64_t ids[2];
            int n = 0;
            if (!match(tab[i].pattern, r->path, ids, &n))
                continue;
            path_known = 1;
            if (strcmp(tab[i].method, r->method) &&
                !(strcmp(r->method, "HEAD") == 0 && strcmp(tab[i].method, "GET") == 0))
                continue;
            found = &tab[i];
            memcpy(r->id, ids, sizeof ids);
            r->n_id = n;
            break;
        }
    }
    if (!strncmp(r->path, "/api/", 5))
        web_auth_load(r); /* /v1 authenticates with API keys only */
    r->lang = pick_lang(r);
    if (r->too_large)
        return web_error(r, 413, "too_large");
    if (!found) {
        if (path_known)
            return web_error(r, 405, "method_not_allowed");
        if (is_api) {
            r->route_name = "not_found";
            return web_error(r, 404, "not_found");
        }
        r->route_name = "static";
        if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
            return web_send(r, 405, "text/plain; charset=utf-8", "Method not allowed\n", 19, NULL);
        return serve_static(r);
    }
    r->route = found;
    r->route_name = found->pattern;
    if (atomic_load(&r->srv->stopping) && strncmp(r->path, "/healthz", 8))
        return web_error(r, 503, "unavailable");
    if (found->min_role > ROLE_NONE) {
        if (!r->has_user)
            return web_error(r, 401, "unauthenticated");
        if (web_role_level(r->user.role) < found->min_role)
            return web_error(r, 403, "forbidden");
    }
    if (found->csrf && !web_csrf_ok(r))
        return web_error(r, 403, "csrf");
    /* rights that follow training (the academy's capability matrix) */
    const char *cap = academy_route_capability(found->method, found->pattern);
    if (cap && r->has_user && !web_capability_ok(r, cap))
        return web_capability_denied(r, cap);
    return found->fn(r);
}

/* ------------------------------------------------------------ MHD glue */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    web_server *w = cls;
    (void)version;
    web_req *r = *con_cls;
    if (!r) {
        r = rh_calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->srv = w;
        r->conn = conn;
        r->t0 = mono_ms();
        snprintf(r->method, sizeof r->method, "%s", method);
        r->path = rh_strdup(url && *url ? url : "/");
        r->route_name = "other";
        size_t body_max = web_body_limit(w, method, r->path);
        rh_buf_init(&r->body, body_max);
        *con_cls = r;
        if (!r->path)
            return MHD_NO;
        client_ip(r);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || n > body_max) {
                r->too_large = 1;
                r->started = 1;
                r->lang = pick_lang(r);
                return web_error(r, 413, "too_large");
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_large && !r->started && rh_buf_append(&r->body, upload_data, *upload_data_size) != RH_OK)
            r->too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->started)
        return MHD_YES;
    r->started = 1;
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    web_server *w = cls;
    (void)conn;
    web_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    double ms = mono_ms() - r->t0;
    unsigned status = r->status ? r->status : 499;
    web_metrics_request(w->metrics, r->route_name, status, ms);
    if (w->access_log) {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        pthread_mutex_lock(&w->access_lock);
        fprintf(w->access_log, "%s %s %s %s %u %zu %.1fms%s\n", ts, r->ip[0] ? r->ip : "-", r->method,
                r->path ? r->path : "-", status, r->bytes, ms,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
        fflush(w->access_log);
        pthread_mutex_unlock(&w->access_lock);
    }
    for (int i = 0; i < r->n_cookies; i++)
        rh_free(r->cookies[i]);
    if (r->has_user)
        store_user_free(&r->user);
    rh_buf_free(&r->body);
    rh_free(r->path);
    rh_free(r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    rh_debug("http: %s", buf);
}

static int open_listener(const rh_config *cfg, int *port, rh_error *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", cfg->listen_port);
    int g = getaddrinfo(cfg->listen_host, ps, &hints, &res);
    if (g != 0)
        return rh_error_set(err, RH_EINVAL, "listen address %s: %s", cfg->listen_host, gai_strerror(g));
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0) {
        freeaddrinfo(res);
        return rh_error_set(err, RH_EIO, "socket: %s", strerror(errno));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* A backlog of at least max_connections: a burst of clients (200 chat
     * streams opened at once) must not overflow it - dropped SYNs cost the
     * client a 1 s retransmission. The kernel caps it at net.core.somaxconn. */
    int backlog = cfg->max_connections > 1024 ? cfg->max_connections : 1024;
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        freeaddrinfo(res);
        close(fd);
        return rh_error_set(err, RH_EIO, "cannot listen on %s:%d: %s%s", cfg->listen_host, cfg->listen_port,
                            strerror(e), e == EADDRINUSE ? " (is another rathaus running?)" : "");
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static char *read_pem(const char *path, rh_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rh_error_set(err, RH_EIO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    rh_buf b;
    rh_buf_init(&b, 1u << 20);
    char chunk[4096];
    size_t n;
    int rc = RH_OK;
    while (rc == RH_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = rh_buf_append(&b, chunk, n);
    fclose(f);
    if (rc != RH_OK || !b.len) {
        rh_buf_free(&b);
        rh_error_set(err, RH_EFORMAT, "%s is empty or too large", path);
        return NULL;
    }
    return rh_buf_take(&b, NULL);
}

static int load_csrf_secret(web_server *w, rh_error *err)
{
    char *hex = NULL;
    int rc = store_setting_get(w->st, "csrf_secret", &hex);
    if (rc == RH_OK && strlen(hex) == 64) {
        for (int i = 0; i < 32; i++) {
            unsigned v;
            if (sscanf(hex + 2 * i, "%2x", &v) != 1)
                break;
            w->csrf_secret[i] = (unsigned char)v;
        }
        rh_free(hex);
        return RH_OK;
    }
    rh_free(hex);
    char fresh[AUTH_TOKEN_HEX];
    auth_random_hex(fresh);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(fresh + 2 * i, "%2x", &v);
        w->csrf_secret[i] = (unsigned char)v;
    }
    if ((rc = store_setting_set(w->st, "csrf_secret", fresh)))
        return rh_error_set(err, rc, "cannot store the CSRF secret");
    return RH_OK;
}

int web_start(const rh_config *cfg, store *st, chat_service *chat, web_server **out, rh_error *err)
{
    int rc = RH_OK;
    if (auth_init() != RH_OK)
        return rh_error_set(err, RH_EINTERNAL, "libsodium could not be initialised");
    web_server *w = rh_calloc(1, sizeof *w);
    if (!w)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    w->cfg = cfg;
    w->st = st;
    w->chat = chat;
    w->listen_fd = -1;
    pthread_mutex_init(&w->access_lock, NULL);
    pthread_mutex_init(&w->limiter_lock, NULL);
    w->login_limiter = auth_limiter_create(4096);
    w->key_limiter = auth_limiter_create(4096);
    w->metrics = web_metrics_create();
    if (!w->login_limiter || !w->key_limiter || !w->metrics) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = load_csrf_secret(w, err)))
        goto fail;
    if (cfg->access_log) {
        if (!strcmp(cfg->access_log, "-")) {
            w->access_log = stderr;
        } else {
            w->access_log = fopen(cfg->access_log, "a");
            if (!w->access_log) {
                rc = rh_error_set(err, RH_EIO, "cannot open access log %s: %s", cfg->access_log, strerror(errno));
                goto fail;
            }
            w->access_log_owned = 1;
        }
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (cfg->tls_cert) {
        if (!(w->tls_cert_pem = read_pem(cfg->tls_cert, err)) || !(w->tls_key_pem = read_pem(cfg->tls_key, err))) {
            rc = err ? err->code : RH_EIO;
            goto fail;
        }
        flags |= MHD_USE_TLS;
        w->tls = 1;
    }
    int fd = open_listener(cfg, &w->port, err);
    if (fd < 0) {
        rc = fd;
        goto fail;
    }
    w->listen_fd = fd;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, w->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, w->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    w->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                                 MHD_OPTION_ARRAY, w->tls ? tls_opts : tls_opts + 2,
                                 MHD_OPTION_END);
    if (!w->daemon) {
        rc = rh_error_set(err, RH_EIO, "the HTTP server could not start%s",
                          w->tls ? " (check tls_cert and tls_key)" : "");
        goto fail;
    }
    {
        rh_error ke; /* the knowledge store is optional: chat works without it */
        rh_error_clear(&ke);
        if (web_knowledge_start(w, &ke))
            rh_warn("knowledge: not available: %s", ke.msg);
    }
    *out = w;
    return RH_OK;
fail:
    web_stop(w);
    return rc;
}

int web_port(const web_server *w) { return w->port; }

void web_stop(web_server *w)
{
    if (!w)
        return;
    atomic_store(&w->stopping, 1);
    if (w->daemon) {
        /* stop accepting at once; running streams see `stopping` */
        MHD_socket s = MHD_quiesce_daemon(w->daemon);
        if (s != MHD_INVALID_SOCKET)
            close(s);
        /* let open streams end properly (their readers see `stopping`,
         * cancel and send the final event), at most a few seconds */
        for (int i = 0; i < 250 && atomic_load(&w->streams) > 0; i++)
            usleep(20 * 1000);
        MHD_stop_daemon(w->daemon);
        w->listen_fd = -1; /* owned by the daemon once it started */
    }
    if (w->listen_fd >= 0)
        close(w->listen_fd);
    web_knowledge_stop(w);
    if (w->access_log_owned)
        fclose(w->access_log);
    auth_limiter_free(w->login_limiter);
    auth_limiter_free(w->key_limiter);
    web_metrics_free(w->metrics);
    rh_free(w->tls_cert_pem);
    rh_free(w->tls_key_pem);
    pthread_mutex_destroy(&w->access_lock);
    pthread_mutex_destroy(&w->limiter_lock);
    rh_free(w);
}
