/*
 * upstream.c - the backend that forwards chats to OpenAI-compatible
 * servers ([upstream NAME] in rathaus.conf) with libcurl.
 *
 * Each generation runs a curl easy handle inside a private multi handle on
 * the calling worker thread, polling every 100 ms so a cancel takes effect
 * at once. The upstream's Server-Sent Events (`data: {...}` lines, ending
 * with `data: [DONE]`) are parsed with jansson; a server that answers with
 * plain JSON instead is understood too. When an upstream fails before the
 * first token, the next upstream serving the same model is tried.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chat/backend.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/list.h"
#include "core/buf.h"
#include "core/log.h"

#define LINE_MAX_BYTES (1u << 20)
#define ERRBODY_MAX 2048
#define MODELS_CACHE_S 60

typedef struct upstream {
    rh_upstream_conf conf; /* strings borrowed from the config */
    pthread_mutex_t lock;
    int healthy;
    char last_error[256];
    char **cached;     /* model ids from GET /models (models = *) */
    size_t n_cached;
    time_t cached_at;
} upstream;

typedef struct upstream_be {
    backend base;
    upstream *ups;
    size_t n;
} upstream_be;

static void set_health(upstream *u, int ok, const char *msg)
{
    pthread_mutex_lock(&u->lock);
    u->healthy = ok;
    if (msg)
        snprintf(u->last_error, sizeof u->last_error, "%s", msg);
    else if (ok)
        u->last_error[0] = '\0';
    pthread_mutex_unlock(&u->lock);
}

static struct curl_slist *make_headers(const upstream *u, int sse)
{
    struct curl_slist *h = NULL, *t;
    if (!(t = curl_slist_append(h, "Content-Type: application/json")))
        goto fail;
    h = t;
    if (!(t = curl_slist_append(h, sse ? "Accept: text/event-stream" : "Accept: application/json")))
        goto fail;
    h = t;
    if (u->conf.api_key && *u->conf.api_key) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", u->conf.api_key);
        if (!(t = curl_slist_append(h, auth)))
            goto fail;
        h = t;
    }
    return h;
fail:
    curl_slist_free_all(h);
    return NULL;
}

/* ---------------------------------------------------------------- stream */

typedef struct stream_ctx {
    CURL *easy;
    rh_buf line;       /* partial SSE line */
    rh_buf errbody;    /* body of a non-200 answer */
    rh_buf jsonbody;   /* body of a non-SSE 200 answer */
    int is_sse;        /* decided from Content-Type on the first data */
    int decided;
    long status;
    int got_token;
    int saw_done;
    int stopped;       /* delta callback asked to stop */
    int bad;           /* malformed data */
    int completion_mode;
    backend_delta_fn cb;
    void *ud;
    backend_result *res;
} stream_ctx;

static void take_usage(stream_ctx *c, json_t *root)
{
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        json_t *p = json_object_get(usage, "prompt_tokens");
        json_t *q = json_object_get(usage, "completion_tokens");
        if (json_is_integer(p))
            c->res->prompt_tokens = json_integer_value(p);
        if (json_is_integer(q))
            c->res->completion_tokens = json_integer_value(q);
    }
}

static void emit(stream_ctx *c, const char *text, size_t len)
{
    if (!len || c->stopped)
        return;
    c->got_token = 1;
    if (c->cb(c->ud, text, len))
        c->stopped = 1;
}

/* One JSON chunk (streamed) or whole answer (not streamed). */
static void handle_json(stream_ctx *c, json_t *root, int whole)
{
    take_usage(c, root);
    json_t *choices = json_object_get(root, "choices");
    json_t *ch = json_array_get(choices, 0);
    if (!json_is_object(ch))
        return;
    json_t *text = NULL;
    if (c->completion_mode) {
        text = json_object_get(ch, "text");
    } else {
        json_t *d = json_object_get(ch, whole ? "message" : "delta");
        text = json_object_get(d, "content");
    }
    if (json_is_string(text)) {
        size_t n = json_string_length(text);
        emit(c, json_string_value(text), n);
        if (!whole && n)
            c->res->completion_tokens++; /* replaced by usage if the server sends it */
    }
    json_t *fr = json_object_get(ch, "finish_reason");
    if (json_is_string(fr))
        snprintf(c->res->finish_reason, sizeof c->res->finish_reason, "%s",
                 strcmp(json_string_value(fr), "length") == 0 ? "length" : "stop");
}

static void handle_line(stream_ctx *c, char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len < 5 || strncmp(line, "data:", 5) != 0)
        return; /* comments, event names, ids, blank lines */
    const char *p = line + 5;
    while (*p == ' ')
        p++;
    if (strcmp(p, "[DONE]") == 0) {
        c->saw_done = 1;
        return;
    }
    json_error_t je;
    json_t *root = json_loads(p, 0, &je);
    if (!root) {
        c->bad = 1;
        return;
    }
    int64_t before = c->res->completion_tokens;
    json_t *usage = json_object_get(root, "usage");
    handle_json(c, root, 0);
    if (json_is_object(usage) && c->res->completion_tokens < before)
        c->res->completion_tokens = before;
    json_decref(root);
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    stream_ctx *c = ud;
    size_t n = size * nmemb;
    if (!c->decided) {
        c->decided = 1;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
        char *ct = NULL;
        curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct);
        c->is_sse = ct && strstr(ct, "text/event-stream") != NULL;
    }
    if (c->status != 200) {
        size_t room = ERRBODY_MAX - c->errbody.len;
        rh_buf_append(&c->errbody, data, n < room ? n : room);
        return n;
    }
    if (!c->is_sse) {
        if (rh_buf_append(&c->jsonbody, data, n) != RH_OK)
            return 0;
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            handle_line(c, c->line.data ? c->line.data : (char *)"", c->line.len);
            rh_buf_reset(&c->line);
        } else if (rh_buf_append(&c->line, data + i, 1) != RH_OK) {
            return 0; /* absurd line: abort */
        }
        if (c->stopped)
            return 0;
    }
    return n;
}

/* Turn the first bit of an error body into a short readable note. */
static void error_note(const rh_buf *body, char *out, size_t cap)
{
    out[0] = '\0';
    if (!body->len)
        return;
    json_error_t je;
    json_t *root = json_loadb(body->data, body->len, 0, &je);
    json_t *msg = json_object_get(json_object_get(root, "error"), "message");
    if (!json_is_string(msg))
        msg = json_object_get(root, "error");
    if (json_is_string(msg))
        snprintf(out, cap, "%s", json_string_value(msg));
    else
        snprintf(out, cap, "%.*s", (int)(body->len < 160 ? body->len : 160), body->data);
    json_decref(root);
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

enum { TRY_OK = 0, TRY_FAILED_EARLY = 1, TRY_FAILED_LATE = 2, TRY_CANCELLED = 3 };

static char *request_body(const backend_req *req, const char *model)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "stream", json_true());
    if (req->prompt) {
        json_object_set_new(o, "prompt", json_string(req->prompt));
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < req->n_msgs; i++) {
            json_t *m = json_object();
            json_object_set_new(m, "role", json_string(req->msgs[i].role));
            json_object_set_new(m, "content", json_string(req->msgs[i].content));
            json_array_append_new(arr, m);
        }
        json_object_set_new(o, "messages", arr);
    }
    if (req->max_tokens > 0)
        json_object_set_new(o, "max_tokens", json_integer(req->max_tokens));
    if (req->temperature >= 0)
        json_object_set_new(o, "temperature", json_real(req->temperature));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int try_upstream(upstream *u, const backend_req *req, backend_delta_fn cb, void *ud,
                        const atomic_int *cancel, backend_result *res, char *why, size_t why_cap)
{
    int outcome = TRY_FAILED_EARLY;
    char url[2048];
    char *body = NULL;
    struct curl_slist *hdr = NULL;
    CURLM *multi = NULL;
    stream_ctx c;
    memset(&c, 0, sizeof c);
    rh_buf_init(&c.line, LINE_MAX_BYTES);
    rh_buf_init(&c.errbody, ERRBODY_MAX + 1);
    rh_buf_init(&c.jsonbody, 16u * 1024 * 1024);
    c.cb = cb;
    c.ud = ud;
    c.res = res;
    c.completion_mode = req->prompt != NULL;
    why[0] = '\0';

    snprintf(url, sizeof url, "%s/%s", u->conf.url, req->prompt ? "completions" : "chat/completions");
    body = request_body(req, req->model);
    hdr = make_headers(u, 1);
    c.easy = curl_easy_init();
    multi = curl_multi_init();
    if (!body || !hdr || !c.easy || !multi) {
        snprintf(why, why_cap, "out of memory");
        goto out;
    }
    curl_easy_setopt(c.easy, CURLOPT_URL, url);
    curl_easy_setopt(c.easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c.easy, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c.easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c.easy, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(c.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c.easy, CURLOPT_CONNECTTIMEOUT, u->conf.timeout_s < 10 ? (long)u->conf.timeout_s : 10L);
    /* timeout = longest silence: before the first token and between tokens
     * (a long answer that keeps streaming is never cut off) */
    curl_easy_setopt(c.easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c.easy, CURLOPT_LOW_SPEED_TIME, (long)u->conf.timeout_s);
    curl_easy_setopt(c.easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c.easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c.easy, CURLOPT_USERAGENT, "rathaus");
    curl_multi_add_handle(multi, c.easy);

    int running = 1;
    while (running) {
        if (atomic_load(cancel) || c.stopped) {
            outcome = TRY_CANCELLED;
            goto out_remove;
        }
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            snprintf(why, why_cap, "curl: %s", curl_multi_strerror(mc));
            goto out_remove;
        }
        if (running)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    if (c.stopped || atomic_load(cancel)) {
        outcome = TRY_CANCELLED;
        goto out_remove;
    }
    CURLcode result = CURLE_OK;
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(multi, &left)))
        if (m->msg == CURLMSG_DONE)
            result = m->data.result;
    curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &c.status);
    if (result != CURLE_OK) {
        snprintf(why, why_cap, "%s", curl_easy_strerror(result));
        outcome = c.got_token ? TRY_FAILED_LATE : TRY_FAILED_EARLY;
        goto out_remove;
    }
    if (c.status != 200) {
        char note[200];
        error_note(&c.errbody, note, sizeof note);
        snprintf(why, why_cap, "HTTP %ld%s%s", c.status, note[0] ? ": " : "", note);
        outcome = TRY_FAILED_EARLY;
        goto out_remove;
    }
    if (!c.is_sse) {
        json_error_t je;
        json_t *root = c.jsonbody.len ? json_loadb(c.jsonbody.data, c.jsonbody.len, 0, &je) : NULL;
        if (!root) {
            snprintf(why, why_cap, "answer is neither an event stream nor JSON");
            goto out_remove;
        }
        handle_json(&c, root, 1);
        json_decref(root);
    } else if (c.line.len) {
        handle_line(&c, c.line.data, c.line.len);
    }
    if (!c.got_token && !c.saw_done && !res->finish_reason[0]) {
        snprintf(why, why_cap, "%s", c.bad ? "malformed answer" : "empty answer");
        goto out_remove;
    }
    outcome = TRY_OK;
out_remove:
    curl_multi_remove_handle(multi, c.easy);
out:
    if (c.easy)
        curl_easy_cleanup(c.easy);
    if (multi)
        curl_multi_cleanup(multi);
    curl_slist_free_all(hdr);
    free(body); /* allocated by jansson */
    rh_buf_free(&c.line);
    rh_buf_free(&c.errbody);
    rh_buf_free(&c.jsonbody);
    if (outcome == TRY_FAILED_EARLY && c.got_token)
        outcome = TRY_FAILED_LATE;
    return outcome;
}

static int up_generate(backend *b, const backend_req *req, backend_delta_fn cb, void *ud,
                       const atomic_int *cancel, backend_result *res, rh_error *err)
{
    upstream_be *ub = (upstream_be *)b;
    int tried = 0;
    memset(res, 0, sizeof *res);
    for (size_t i = 0; i < ub->n; i++) {
        upstream *u = &ub->ups[i];
        if (!req->model || !config_upstream_serves(&u->conf, req->model))
            continue;
        tried++;
        char why[256];
        memset(res, 0, sizeof *res);
        int o = try_upstream(u, req, cb, ud, cancel, res, why, sizeof why);
        if (o == TRY_OK) {
            set_health(u, 1, NULL);
            snprintf(res->served_by, sizeof res->served_by, "%s", u->conf.name);
            return RH_OK;
        }
        if (o == TRY_CANCELLED) {
            snprintf(res->served_by, sizeof res->served_by, "%s", u->conf.name);
            return RH_ECANCELED;
        }
        set_health(u, 0, why);
        rh_warn("upstream %s failed for model %s: %s", u->conf.name, req->model, why);
        if (o == TRY_FAILED_LATE)
            return rh_error_set(err, RH_EIO,
                                "Die Verbindung zum KI-Dienst ist während der Antwort abgebrochen. "
                                "Bitte versuchen Sie es erneut.");
    }
    if (!tried)
        return rh_error_set(err, RH_ENOTFOUND,
                            "Das Modell \"%s\" ist nicht verfügbar. Bitte wählen Sie ein anderes Modell.",
                            req->model ? req->model : "");
    return rh_error_set(err, RH_EIO,
                        "Der KI-Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen "
                        "Minuten erneut oder wenden Sie sich an die IT.");
}

/* ---------------------------------------------------------------- models */

static size_t on_models_data(char *data, size_t size, size_t nmemb, void *ud)
{
    size_t n = size * nmemb;
    return rh_buf_append(ud, data, n) == RH_OK ? n : 0;
}

static void free_cached(upstream *u)
{
    for (size_t i = 0; i < u->n_cached; i++)
        rh_free(u->cached[i]);
    rh_free(u->cached);
    u->cached = NULL;
    u->n_cached = 0;
}

/* GET {url}/models for an upstream configured with models = *. */
static void refresh_models(upstream *u)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&u->lock);
    int fresh = u->cached_at && now - u->cached_at < MODELS_CACHE_S;
    pthread_mutex_unlock(&u->lock);
    if (fresh)
        return;
    char url[2048];
    rh_buf body;
    rh_buf_init(&body, 4u * 1024 * 1024);
    snprintf(url, sizeof url, "%s/models", u->conf.url);
    struct curl_slist *hdr = make_headers(u, 0);
    CURL *e = curl_easy_init();
    char why[256] = "";
    long status = 0;
    json_t *root = NULL;
    if (!e || !hdr)
        goto out;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_models_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 3L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cr = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cr != CURLE_OK) {
        snprintf(why, sizeof why, "%s", curl_easy_strerror(cr));
        goto out;
    }
    if (status != 200) {
        snprintf(why, sizeof why, "GET /models: HTTP %ld", status);
        goto out;
    }
    json_error_t je;
    root = json_loadb(body.data ? body.data : "", body.len, 0, &je);
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data)) {
        snprintf(why, sizeof why, "GET /models: unexpected answer");
        goto out;
    }
    pthread_mutex_lock(&u->lock);
    free_cached(u);
    size_t n = json_array_size(data);
    u->cached = rh_calloc(n ? n : 1, sizeof *u->cached);
    for (size_t i = 0; u->cached && i < n; i++) {
        json_t *id = json_object_get(json_array_get(data, i), "id");
        if (json_is_string(id) && (u->cached[u->n_cached] = rh_strdup(json_string_value(id))))
            u->n_cached++;
    }
    u->cached_at = now;
    pthread_mutex_unlock(&u->lock);
out:
    if (why[0]) {
        set_health(u, 0, why);
        pthread_mutex_lock(&u->lock);
        u->cached_at = now; /* do not hammer a dead upstream */
        pthread_mutex_unlock(&u->lock);
    }
    json_decref(root);
    if (e)
        curl_easy_cleanup(e);
    curl_slist_free_all(hdr);
    rh_buf_free(&body);
}

static int add_model(backend_models *out, const char *id, int available)
{
    for (size_t i = 0; i < out->n; i++)
        if (!strcmp(out->items[i].id, id)) {
            out->items[i].available |= available;
            return RH_OK;
        }
    backend_model *ni = rh_realloc_array(out->items, out->n + 1, sizeof *ni);
    if (!ni)
        return RH_ENOMEM;
    out->items = ni;
    backend_model *m = &ni[out->n++];
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", id);
    snprintf(m->name, sizeof m->name, "%s", id);
    m->source = "upstream";
    m->available = available;
    return RH_OK;
}

static int up_list_models(backend *b, backend_models *out, rh_error *err)
{
    upstream_be *ub = (upstream_be *)b;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < ub->n; i++) {
        upstream *u = &ub->ups[i];
        pthread_mutex_lock(&u->lock);
        int healthy = u->healthy;
        pthread_mutex_unlock(&u->lock);
        if (!strcmp(u->conf.models, "*")) {
            refresh_models(u);
            pthread_mutex_lock(&u->lock);
            for (size_t k = 0; k < u->n_cached; k++)
                if (add_model(out, u->cached[k], 1)) {
                    pthread_mutex_unlock(&u->lock);
                    goto oom;
                }
            pthread_mutex_unlock(&u->lock);
            continue;
        }
        const char *p = u->conf.models, *item;
        size_t len;
        while ((item = rh_list_next(&p, &len))) {
            if (len > 0) {
                char id[128];
                snprintf(id, sizeof id, "%.*s", (int)len, item);
                if (add_model(out, id, healthy))
                    goto oom;
            }
        }
    }
    return RH_OK;
oom:
    backend_models_free(out);
    return rh_error_set(err, RH_ENOMEM, "out of memory");
}

static json_t *up_status(backend *b)
{
    upstream_be *ub = (upstream_be *)b;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < ub->n; i++) {
        upstream *u = &ub->ups[i];
        json_t *models = json_array();
        pthread_mutex_lock(&u->lock);
        if (!strcmp(u->conf.models, "*")) {
            for (size_t k = 0; k < u->n_cached; k++)
                json_array_append_new(models, json_string(u->cached[k]));
        } else {
            const char *p = u->conf.models;
            while (*p) {
                while (*p == ' ' || *p == ',')
                    p++;
                size_t n = strcspn(p, ",");
                size_t t = n;
                while (t && p[t - 1] == ' ')
                    t--;
                if (t)
                    json_array_append_new(models, json_stringn(p, t));
                p += n;
            }
        }
        json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:s?, s:o}", "name", u->conf.name,
                                             "url", u->conf.url, "healthy", u->healthy,
                                             "last_error", u->last_error[0] ? u->last_error : NULL,
                                             "models", models));
        pthread_mutex_unlock(&u->lock);
    }
    return arr;
}

static void up_destroy(backend *b)
{
    upstream_be *ub = (upstream_be *)b;
    for (size_t i = 0; i < ub->n; i++) {
        free_cached(&ub->ups[i]);
        pthread_mutex_destroy(&ub->ups[i].lock);
    }
    rh_free(ub->ups);
    rh_free(ub);
}

/* POST {url}/embeddings on the first upstream serving `model` that answers
 * (OpenAI shape: {"data":[{"index":i,"embedding":[...]}]}). */
static int up_embed(backend *b, const char *model, const char *const *texts, size_t n, float **out, int *dim,
                    rh_error *err)
{
    upstream_be *ub = (upstream_be *)b;
    int tried = 0, rc = RH_OK;
    *out = NULL;
    *dim = 0;
    for (size_t i = 0; i < ub->n; i++) {
        upstream *u = &ub->ups[i];
        if (!model || !config_upstream_serves(&u->conf, model))
            continue;
        tried++;
        char url[2048];
        rh_buf body;
        rh_buf_init(&body, 64u * 1024 * 1024);
        json_t *in = json_array(), *root = NULL;
        for (size_t k = 0; k < n; k++)
            json_array_append_new(in, json_string(texts[k]));
        json_t *rq = json_pack("{s:s, s:o}", "model", model, "input", in);
        char *req = rq ? json_dumps(rq, JSON_COMPACT) : NULL;
        json_decref(rq);
        size_t d = 0;
        struct curl_slist *hdr = make_headers(u, 0);
        CURL *e = curl_easy_init();
        long status = 0;
        char why[256] = "";
        float *v = NULL;
        snprintf(url, sizeof url, "%s/embeddings", u->conf.url);
        if (!e || !hdr || !req) {
            snprintf(why, sizeof why, "out of memory");
            goto next;
        }
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_models_data);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)u->conf.timeout_s);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        CURLcode cr = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (cr != CURLE_OK || status != 200) {
            snprintf(why, sizeof why, "POST /embeddings: %s", cr != CURLE_OK ? curl_easy_strerror(cr) : "HTTP error");
            if (cr == CURLE_OK)
                snprintf(why, sizeof why, "POST /embeddings: HTTP %ld", status);
            goto next;
        }
        json_error_t je;
        root = json_loadb(body.data ? body.data : "", body.len, 0, &je);
        json_t *data = json_object_get(root, "data");
        if (!json_is_array(data) || json_array_size(data) != n) {
            snprintf(why, sizeof why, "POST /embeddings: unexpected answer");
            goto next;
        }
        d = json_array_size(json_object_get(json_array_get(data, 0), "embedding"));
        if (d == 0 || d > 65536 || !(v = rh_calloc(n * d, sizeof *v))) {
            snprintf(why, sizeof why, "POST /embeddings: unexpected answer");
            goto next;
        }
        for (size_t k = 0; k < n && !why[0]; k++) {
            json_t *item = json_array_get(data, k);
            json_t *ix = json_object_get(item, "index");
            size_t at = json_is_integer(ix) ? (size_t)json_integer_value(ix) : k;
            json_t *emb = json_object_get(item, "embedding");
            if (at >= n || json_array_size(emb) != d) {
                snprintf(why, sizeof why, "POST /embeddings: unexpected answer");
                break;
            }
            for (size_t j = 0; j < d; j++)
                v[at * d + j] = (float)json_number_value(json_array_get(emb, j));
        }
    next:
        json_decref(root);
        free(req);
        curl_slist_free_all(hdr);
        if (e)
            curl_easy_cleanup(e);
        rh_buf_free(&body);
        if (!why[0]) {
            *out = v;
            *dim = (int)d;
            return RH_OK;
        }
        rh_free(v);
        rh_warn("upstream %s: embeddings for model %s failed: %s", u->conf.name, model, why);
        rc = rh_error_set(err, RH_EIO, "Der KI-Dienst hat keine Embeddings geliefert (%s).", why);
    }
    if (!tried)
        return rh_error_set(err, RH_ENOTFOUND, "Das Modell \"%s\" ist nicht verfügbar.", model ? model : "");
    return rc;
}

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static const backend_vtbl upstream_vtbl = {
    .list_models = up_list_models,
    .generate = up_generate,
    .status = up_status,
    .destroy = up_destroy,
    .embed = up_embed,
};

int upstream_backend_create(const rh_config *cfg, backend **out, rh_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    upstream_be *ub = rh_calloc(1, sizeof *ub);
    if (!ub)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    ub->base.vt = &upstream_vtbl;
    ub->base.impl = ub;
    if (cfg->n_upstreams) {
        ub->ups = rh_calloc(cfg->n_upstreams, sizeof *ub->ups);
        if (!ub->ups) {
            rh_free(ub);
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        ub->ups[i].conf = cfg->upstreams[i];
        ub->ups[i].healthy = 1;
        pthread_mutex_init(&ub->ups[i].lock, NULL);
        ub->n++;
    }
    *out = &ub->base;
    return RH_OK;
}
