/*
 * api_v1.c - the OpenAI-compatible API for automation: GET /v1/models,
 * POST /v1/chat/completions and POST /v1/completions (streamed or not),
 * POST /v1/embeddings, authenticated with API keys (Authorization: Bearer
 * rh_... or x-api-key) and rate limited per key. With pii_check = block,
 * prompts that look like personal data are refused (422, pii_blocked).
 */
#include <stdlib.h>
#include <string.h>

#include "academy/academy.h"
#include "core/alloc.h"
#include "core/log.h"
#include "web/web_int.h"

#define V1_CONTENT_MAX (512u * 1024)
#define V1_MAX_MESSAGES 500

/* Authenticate the key; on failure an answer has been queued (*ret). */
static int v1_auth(web_req *r, enum MHD_Result *ret)
{
    web_server *w = r->srv;
    const char *key = NULL;
    const char *h = web_header(r, "Authorization");
    if (h && !strncasecmp(h, "Bearer ", 7))
        key = h + 7;
    if (!key)
        key = web_header(r, "x-api-key");
    if (!key || strncmp(key, "rh_", 3) || strlen(key) > AUTH_APIKEY_MAX) {
        *ret = web_error_msg(r, 401, "invalid_api_key", "Missing or invalid API key.");
        return 0;
    }
    char hash[AUTH_TOKEN_HEX];
    auth_sha256_hex(key, strlen(key), hash);
    store_apikey k;
    int64_t now = web_now();
    if (store_apikey_lookup(w->st, hash, now, &k)) {
        *ret = web_error_msg(r, 401, "invalid_api_key", "Missing or invalid API key.");
        return 0;
    }
    char lk[48];
    snprintf(lk, sizeof lk, "key:%lld", (long long)k.id);
    int64_t uid = k.user_id;
    store_apikey_free(&k);
    if (auth_limiter_blocked(w->key_limiter, lk, w->cfg->apikey_rate_per_min, 60, now)) {
        const char *hdr[] = {"Retry-After", "60", NULL};
        static const char body[] =
            "{\"error\":{\"message\":\"Rate limit reached for this API key.\",\"type\":\"rate_limit_error\","
            "\"code\":\"rate_limited\"}}";
        *ret = web_send(r, 429, "application/json", body, sizeof body - 1, hdr);
        return 0;
    }
    auth_limiter_add(w->key_limiter, lk, 60, now);
    if (store_user_get(w->st, STORE_TENANT_DEFAULT, uid, &r->user) || r->user.disabled) {
        if (r->user.username)
            store_user_free(&r->user);
        *ret = web_error_msg(r, 401, "invalid_api_key", "Missing or invalid API key.");
        return 0;
    }
    r->has_user = 1;
    if (!web_capability_ok(r, "api_keys")) { /* the academy's level matrix */
        *ret = web_capability_denied(r, "api_keys");
        return 0;
    }
    return 1;
}

enum MHD_Result v1_models(web_req *r)
{
    enum MHD_Result ret;
    if (!v1_auth(r, &ret))
        return ret;
    json_t *models = web_models_json(r->srv);
    json_t *data = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        json_t *o = json_pack("{s:O, s:s, s:i, s:s}", "id", json_object_get(m, "id"), "object", "model", "created", 0,
                              "owned_by", "rathaus");
        /* rathaus' own additions (clients ignore unknown fields) */
        json_t *q = json_object_get(m, "quantization");
        json_t *cl = json_object_get(m, "context_length");
        if (json_is_string(q))
            json_object_set(o, "quantization", q);
        if (json_is_integer(cl) && json_integer_value(cl) > 0)
            json_object_set(o, "context_length", cl);
        json_array_append_new(data, o);
    }
    json_decref(models);
    return web_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

/* Message content: a string or an array of {type:"text", text}. */
static char *content_text(json_t *c)
{
    if (json_is_string(c))
        return rh_strdup(json_string_value(c));
    if (!json_is_array(c))
        return NULL;
    rh_buf b;
    rh_buf_init(&b, V1_CONTENT_MAX);
    size_t i;
    json_t *part;
    json_array_foreach(c, i, part) {
        json_t *t = json_object_get(part, "text");
        if (json_is_string(t) && rh_buf_appends(&b, json_string_value(t)) != RH_OK) {
            rh_buf_free(&b);
            return NULL;
        }
    }
    char *s = rh_buf_take(&b, NULL);
    return s ? s : rh_strdup("");
}

/* pii_check = block: refuse text that looks like personal data (422, in
 * the OpenAI error shape). Returns 1 when an answer was queued. */
static int v1_pii_blocked(web_req *r, const char *text, enum MHD_Result *ret)
{
    if (!text || r->srv->cfg->pii_check != RH_PII_BLOCK)
        return 0;
    pii_finding f[8];
    size_t n = pii_scan(text, strlen(text), f, 8);
    if (n == 0)
        return 0;
    char kinds[256] = "";
    size_t kl = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        const char *k = pii_kind_name(f[i].kind);
        if (strstr(kinds, k))
            continue;
        int w = snprintf(kinds + kl, sizeof kinds - kl, "%s%s", kl ? ", " : "", k);
        if (w < 0 || (size_t)w >= sizeof kinds - kl)
            break;
        kl += (size_t)w;
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "The request looks like it contains personal data (%s) and was not sent to the model "
             "(pii_check = block). Remove or pseudonymise it and try again.", kinds);
    *ret = web_error_msg(r, 422, "pii_blocked", msg);
    return 1;
}

static enum MHD_Result v1_generate(web_req *r, int chat_mode)
{
    web_server *w = r->srv;
    enum MHD_Result ret;
    if (!v1_auth(r, &ret))
        return ret;
    json_t *b = web_body_object(r);
    backend_msg *msgs = NULL;
    size_t n_msgs = 0;
    char *prompt = NULL;
    const char *model = NULL;
    int reserved = 0;
    rh_buf text;
    rh_buf_init(&text, 16u * 1024 * 1024);
    if (!b)
        return web_error_msg(r, 400, "bad_json", "The body must be a JSON object.");
    if (web_str(b, "model", 127, &model) || !*model) {
        ret = web_error_msg(r, 400, "invalid_request", "'model' is required.");
        goto out;
    }
    json_t *jmax = json_object_get(b, "max_tokens");
    json_t *jtemp = json_object_get(b, "temperature");
    json_t *jstream = json_object_get(b, "stream");
    if ((jmax && !json_is_null(jmax) && (!json_is_integer(jmax) || json_integer_value(jmax) < 1)) ||
        (jtemp && !json_is_null(jtemp) && (!json_is_number(jtemp) || json_number_value(jtemp) < 0 ||
                                           json_number_value(jtemp) > 2)) ||
        (jstream && !json_is_null(jstream) && !json_is_boolean(jstream))) {
        ret = web_error_msg(r, 400, "invalid_request", "max_tokens, temperature or stream has a wrong value.");
        goto out;
    }
    int max_tokens = json_is_integer(jmax) ? (int)(json_integer_value(jmax) > w->cfg->max_tokens * 8
                                                       ? w->cfg->max_tokens * 8
                                                       : json_integer_value(jmax))
                                           : w->cfg->max_tokens;
    int stream = json_is_true(jstream);
    if (chat_mode) {
        json_t *jm = json_object_get(b, "messages");
        if (!json_is_array(jm) || json_array_size(jm) == 0 || json_array_size(jm) > V1_MAX_MESSAGES) {
            ret = web_error_msg(r, 400, "invalid_request", "'messages' must be a non-empty array.");
            goto out;
        }
        msgs = rh_calloc(json_array_size(jm), sizeof *msgs);
        if (!msgs) {
            ret = web_error(r, 500, "internal");
            goto out;
        }
        size_t i;
        json_t *m;
        json_array_foreach(jm, i, m) {
            const char *role = NULL;
            if (web_str(m, "role", 16, &role) ||
                (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") &&
                 strcmp(role, "developer"))) {
                ret = web_error_msg(r, 400, "invalid_request", "Each message needs a role: system, user or assistant.");
                goto out;
            }
            char *c = content_text(json_object_get(m, "content"));
            if (!c) {
                ret = web_error_msg(r, 400, "invalid_request", "Each message needs text content.");
                goto out;
            }
            msgs[n_msgs].role = !strcmp(role, "developer") ? "system" : role;
            msgs[n_msgs++].content = c;
            if (!strcmp(role, "user") && v1_pii_blocked(r, c, &ret))
                goto out;
        }
    } else {
        json_t *jp = json_object_get(b, "prompt");
        if (json_is_array(jp) && json_array_size(jp) == 1)
            jp = json_array_get(jp, 0);
        if (!json_is_string(jp) || !(prompt = rh_strdup(json_string_value(jp)))) {
            ret = web_error_msg(r, 400, "invalid_request", "'prompt' must be a string.");
            goto out;
        }
        if (v1_pii_blocked(r, prompt, &ret))
            goto out;
    }
    if (chat_reserve(w->chat) != RH_OK) {
        const char *hdr[] = {"Retry-After", "5", NULL};
        static const char body[] = "{\"error\":{\"message\":\"All generation slots are busy, retry later.\","
                                   "\"type\":\"server_error\",\"code\":\"queue_full\"}}";
        ret = web_send(r, 503, "application/json", body, sizeof body - 1, hdr);
        goto out;
    }
    reserved = 1;
    chat_job job = {.req = {.model = model, .msgs = msgs, .n_msgs = n_msgs, .prompt = prompt,
                            .max_tokens = max_tokens,
                            .temperature = json_is_number(jtemp) ? json_number_value(jtemp) : -1},
                    .user_id = r->user.id};
    chat_gen *g = NULL;
    reserved = 0;
    if (chat_submit(w->chat, &job, &g) != RH_OK) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (stream) {
        ret = web_stream(r, g, chat_mode ? SSE_OPENAI_CHAT : SSE_OPENAI_COMPLETION, NULL, model);
        goto out;
    }
    size_t off = 0;
    int st;
    int cancelled = 0;
    while ((st = chat_gen_poll(g, &off, &text, 250)) != CHAT_GEN_DONE) {
        if (atomic_load(&w->stopping) && !cancelled) {
            chat_gen_cancel(g);
            cancelled = 1;
        }
    }
    backend_result res;
    rh_error err;
    int rc = chat_gen_result(g, &res, &err);
    chat_gen_unref(g);
    if (rc != RH_OK) {
        const char *code = rc == RH_ENOTFOUND ? "model_not_found" : "upstream_unavailable";
        if ((rc == RH_ELIMIT || rc == RH_EBUSY || rc == RH_EINVAL) && err.msg[0]) /* the backend's explanation
                                         (prompt too long, model_memory_budget, engine queue full) */
            ret = web_error_msg(r, rc == RH_EBUSY ? 503 : 400, "generation_failed", err.msg);
        else
            ret = web_error_msg(r, rc == RH_ENOTFOUND ? 404 : 502, code, web_msg(r, code));
        goto out;
    }
    json_t *t = json_stringn(text.data ? text.data : "", text.len);
    if (!t)
        t = json_string("");
    char rnd[AUTH_TOKEN_HEX], id[48];
    auth_random_hex(rnd);
    snprintf(id, sizeof id, "%s-%.24s", chat_mode ? "chatcmpl" : "cmpl", rnd);
    const char *fr = !strcmp(res.finish_reason, "length") ? "length" : "stop";
    json_t *choice = chat_mode ? json_pack("{s:i, s:{s:s, s:o}, s:s}", "index", 0, "message", "role", "assistant",
                                           "content", t, "finish_reason", fr)
                               : json_pack("{s:i, s:o, s:s}", "index", 0, "text", t, "finish_reason", fr);
    ret = web_json(r, 200,
                   json_pack("{s:s, s:s, s:I, s:s, s:[o], s:{s:I, s:I, s:I}}", "id", id, "object",
                             chat_mode ? "chat.completion" : "text_completion", "created", (json_int_t)web_now(),
                             "model", model, "choices", choice, "usage", "prompt_tokens",
                             (json_int_t)res.prompt_tokens, "completion_tokens", (json_int_t)res.completion_tokens,
                             "total_tokens", (json_int_t)(res.prompt_tokens + res.completion_tokens)));
out:
    if (reserved)
        chat_unreserve(w->chat);
    for (size_t i = 0; i < n_msgs; i++)
        rh_free((char *)msgs[i].content);
    rh_free(msgs);
    rh_free(prompt);
    rh_buf_free(&text);
    json_decref(b);
    return ret;
}

enum MHD_Result v1_chat(web_req *r) { return v1_generate(r, 1); }
enum MHD_Result v1_completions(web_req *r) { return v1_generate(r, 0); }

/* POST /v1/embeddings {"model", "input": string | [strings],
 * "encoding_format": "float"} -> {"object":"list","data":[{"object":
 * "embedding","index":i,"embedding":[...]}],"model","usage"}. Local
 * embedding models run on the engine; upstreams serving the model get the
 * request forwarded. */
#define V1_EMBED_MAX_INPUTS 256
static enum MHD_Result v1_embeddings(web_req *r)
{
    web_server *w = r->srv;
    enum MHD_Result ret;
    if (!v1_auth(r, &ret))
        return ret;
    json_t *b = web_body_object(r);
    const char *texts[V1_EMBED_MAX_INPUTS];
    size_t n = 0;
    float *vec = NULL;
    int dim = 0;
    const char *model = NULL;
    if (!b)
        return web_error_msg(r, 400, "bad_json", "The body must be a JSON object.");
    if (web_str(b, "model", 127, &model) || !*model) {
        ret = web_error_msg(r, 400, "invalid_request", "'model' is required.");
        goto out;
    }
    json_t *fmt = json_object_get(b, "encoding_format");
    if (fmt && !json_is_null(fmt) && (!json_is_string(fmt) || strcmp(json_string_value(fmt), "float"))) {
        ret = web_error_msg(r, 400, "invalid_request", "Only encoding_format \"float\" is supported.");
        goto out;
    }
    json_t *in = json_object_get(b, "input");
    if (json_is_string(in)) {
        texts[n++] = json_string_value(in);
    } else if (json_is_array(in) && json_array_size(in) > 0 && json_array_size(in) <= V1_EMBED_MAX_INPUTS) {
        size_t i;
        json_t *t;
        json_array_foreach(in, i, t) {
            if (!json_is_string(t)) {
                ret = web_error_msg(r, 400, "invalid_request", "'input' must be a string or an array of strings.");
                goto out;
            }
            texts[n++] = json_string_value(t);
        }
    } else {
        ret = web_error_msg(r, 400, "invalid_request",
                            "'input' must be a string or an array of 1 to 256 strings.");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (v1_pii_blocked(r, texts[i], &ret))
            goto out;
    backend *be = chat_backend(w->chat);
    rh_error err;
    rh_error_clear(&err);
    int rc = be->vt->embed ? be->vt->embed(be, model, texts, n, &vec, &dim, &err)
                           : rh_error_set(&err, RH_ENOTFOUND, "no embeddings");
    if (rc != RH_OK) {
        if (rc == RH_ENOTFOUND)
            ret = web_error_msg(r, 404, "model_not_found", web_msg(r, "model_not_found"));
        else if (rc == RH_EUNSUPPORTED || rc == RH_ELIMIT || rc == RH_EINVAL)
            ret = web_error_msg(r, 400, "invalid_request", err.msg);
        else
            ret = web_error_msg(r, 502, "upstream_unavailable", err.msg[0] ? err.msg : web_msg(r, "upstream_unavailable"));
        goto out;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array();
        for (int j = 0; j < dim; j++)
            json_array_append_new(e, json_real((double)vec[i * (size_t)dim + (size_t)j]));
        json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index", (json_int_t)i,
                                              "embedding", e));
    }
    ret = web_json(r, 200, json_pack("{s:s, s:o, s:s, s:{s:i, s:i}}", "object", "list", "data", data, "model", model,
                                     "usage", "prompt_tokens", 0, "total_tokens", 0));
out:
    rh_free(vec);
    json_decref(b);
    return ret;
}

static const web_route v1_extra_routes[] = {
    {"POST", "/v1/embeddings", v1_embeddings, ROLE_NONE, 0},
};
WEB_ROUTES(v1_extra_routes)
