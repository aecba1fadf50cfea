/*
 * api_conv.c - conversations and their messages (/api/conversations...):
 * list/search, create, read, rename, delete, send a message (answered as
 * a Server-Sent Events stream), stop. Every query is scoped to the
 * session's user in the store, so someone else's conversation is 404.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "knowledge/grounding.h"
#include "web/web_int.h"

#define CONTENT_MAX (256u * 1024)
#define TITLE_MAX 200
#define SYSTEM_MAX (32u * 1024)

static json_t *conv_json(const store_conv *c)
{
    return json_pack("{s:I, s:s, s:s?, s:s?, s:o, s:o}", "id", (json_int_t)c->id, "title", c->title, "model",
                     c->model, "system_prompt", c->system_prompt, "created_at", web_time(c->created_at),
                     "updated_at", web_time(c->updated_at));
}

enum MHD_Result api_conv_list(web_req *r)
{
    const char *q = web_query(r, "q");
    if (q && strlen(q) > TITLE_MAX)
        return web_error(r, 400, "bad_request");
    store_convs l;
    if (store_conv_list(r->srv->st, r->user.id, q, 1000, &l))
        return web_error(r, 500, "internal");
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s?, s:o}", "id", (json_int_t)l.items[i].id, "title",
                                             l.items[i].title, "model", l.items[i].model, "updated_at",
                                             web_time(l.items[i].updated_at)));
    store_conv_list_free(&l);
    return web_json(r, 200, json_pack("{s:o}", "conversations", arr));
}

static int read_fields(json_t *b, const char **title, const char **model, const char **sys)
{
    if (web_str(b, "title", TITLE_MAX, title) == RH_EINVAL || web_str(b, "model", 127, model) == RH_EINVAL ||
        web_str(b, "system_prompt", SYSTEM_MAX, sys) == RH_EINVAL)
        return RH_EINVAL;
    return RH_OK;
}

enum MHD_Result api_conv_create(web_req *r)
{
    const char *title = NULL, *model = NULL, *sys = NULL;
    enum MHD_Result ret;
    json_t *b = r->body.len ? web_body_object(r) : json_object();
    if (!b)
        return web_error(r, 400, "bad_json");
    if (read_fields(b, &title, &model, &sys)) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    int64_t id;
    store_conv c;
    if (store_conv_create(r->srv->st, STORE_TENANT_DEFAULT, r->user.id, title, model && *model ? model : NULL,
                          sys, web_now(), &id) ||
        store_conv_get(r->srv->st, r->user.id, id, &c)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    ret = web_json(r, 200, conv_json(&c));
    store_conv_free(&c);
out:
    json_decref(b);
    return ret;
}

enum MHD_Result api_conv_get(web_req *r)
{
    store_conv c;
    store_msgs ml;
    if (store_conv_get(r->srv->st, r->user.id, r->id[0], &c))
        return web_error(r, 404, "not_found");
    if (store_msg_list(r->srv->st, c.id, &ml)) {
        store_conv_free(&c);
        return web_error(r, 500, "internal");
    }
    json_t *o = conv_json(&c);
    json_t *arr = json_array();
    for (size_t i = 0; i < ml.n; i++) {
        store_msg *m = &ml.items[i];
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s?, s:o, s:{s:I, s:I}, s:s?}", "id",
                                             (json_int_t)m->id, "role", m->role, "content", m->content, "model",
                                             m->model, "created_at", web_time(m->created_at), "tokens", "prompt",
                                             (json_int_t)m->prompt_tokens, "completion",
                                             (json_int_t)m->completion_tokens, "finish_reason", m->finish_reason));
        char *src = NULL; /* a grounded answer's sources (api_knowledge.c) */
        if (!strcmp(m->role, "assistant") && store_msg_sources(r->srv->st, m->id, &src) == RH_OK) {
            json_t *sj = json_loads(src, 0, NULL);
            if (sj)
                json_object_update(json_array_get(arr, json_array_size(arr) - 1), sj);
            json_decref(sj);
        }
        rh_free(src);
    }
    json_object_set_new(o, "messages", arr);
    json_object_set_new(o, "running", json_boolean(chat_conv_busy(r->srv->chat, c.id)));
    store_msg_list_free(&ml);
    store_conv_free(&c);
    return web_json(r, 200, o);
}

enum MHD_Result api_conv_patch(web_req *r)
{
    const char *title = NULL, *model = NULL, *sys = NULL;
    enum MHD_Result ret;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (read_fields(b, &title, &model, &sys)) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (store_conv_update(r->srv->st, r->user.id, r->id[0], title, sys, model, web_now())) {
        ret = web_error(r, 404, "not_found");
        goto out;
    }
    store_conv c;
    if (store_conv_get(r->srv->st, r->user.id, r->id[0], &c)) {
        ret = web_error(r, 404, "not_found");
        goto out;
    }
    ret = web_json(r, 200, conv_json(&c));
    store_conv_free(&c);
out:
    json_decref(b);
    return ret;
}

enum MHD_Result api_conv_delete(web_req *r)
{
    store_conv c;
    if (store_conv_get(r->srv->st, r->user.id, r->id[0], &c))
        return web_error(r, 404, "not_found");
    store_conv_free(&c);
    chat_cancel_conv(r->srv->chat, r->id[0]);
    if (store_conv_delete(r->srv->st, r->user.id, r->id[0]))
        return web_error(r, 404, "not_found");
    return web_no_content(r);
}

enum MHD_Result api_conv_stop(web_req *r)
{
    store_conv c;
    if (store_conv_get(r->srv->st, r->user.id, r->id[0], &c))
        return web_error(r, 404, "not_found");
    store_conv_free(&c);
    chat_cancel_conv(r->srv->chat, r->id[0]);
    return web_no_content(r);
}

/* ------------------------------------------------------------ answer */

typedef struct persist_ctx {
    store *st;
    int64_t msg_id;
} persist_ctx;

/* Worker thread: write the final answer into the assistant message. */
static void persist_done(void *ud, const char *text, size_t len, int rc, const backend_result *res,
                         const rh_error *err)
{
    persist_ctx *p = ud;
    (void)len;
    (void)err;
    if (store_msg_finish(p->st, p->msg_id, text, res->prompt_tokens, res->completion_tokens,
                         rc == RH_OK ? res->finish_reason : "error"))
        rh_warn("could not store answer %lld", (long long)p->msg_id);
    rh_free(p);
}

/* A title from the first words of the first question (UTF-8 safe). */
static void make_title(const char *content, char *out, size_t cap)
{
    size_t n = 0, i = 0;
    while (content[i] == ' ' || content[i] == '\n')
        i++;
    for (; content[i] && n + 5 < cap && n < 60; i++) {
        char ch = content[i];
        out[n++] = (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : ch;
    }
    /* do not cut a multi-byte character */
    while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80)
        n--;
    if (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0xC0)
        n--;
    out[n] = '\0';
    if (content[i] && n)
        snprintf(out + n, cap - n, "…");
}

static char *pick_model(web_req *r, const store_conv *c)
{
    if (c->model && *c->model)
        return rh_strdup(c->model);
    json_t *models = web_models_json(r->srv);
    char *m = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(models, i, v) {
        if (json_is_true(json_object_get(v, "available"))) {
            m = rh_strdup(json_string_value(json_object_get(v, "id")));
            break;
        }
    }
    json_decref(models);
    return m;
}

enum MHD_Result api_conv_message(web_req *r)
{
    web_server *w = r->srv;
    const char *content = NULL, *mode = "new";
    enum MHD_Result ret;
    store_conv c;
    store_msgs ml = {0};
    backend_msg *hist = NULL;
    char *model = NULL;
    int have_conv = 0, reserved = 0;
    web_ground gr = {0}; /* grounding in knowledge collections (api_knowledge.c) */
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    int rc_c = web_str(b, "content", CONTENT_MAX, &content);
    if (rc_c == RH_EINVAL || web_str(b, "mode", 16, &mode) == RH_EINVAL ||
        (strcmp(mode, "new") && strcmp(mode, "regenerate") && strcmp(mode, "edit_last"))) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    int is_regen = !strcmp(mode, "regenerate");
    if (!is_regen && (!content || !*content)) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (store_conv_get(w->st, r->user.id, r->id[0], &c)) {
        ret = web_error(r, 404, "not_found");
        goto out;
    }
    have_conv = 1;
    if (!is_regen && web_pii_blocked(r, content, &ret)) /* pii_check = block */
        goto out;
    if (chat_conv_busy(w->chat, c.id)) {
        ret = web_error(r, 409, "busy");
        goto out;
    }
    if (!(model = pick_model(r, &c))) {
        ret = web_error(r, 409, "no_model");
        goto out;
    }
    if (chat_reserve(w->chat) != RH_OK) {
        const char *hdr[] = {"Retry-After", "5", NULL};
        json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", "queue_full", "message", web_msg(r, "queue_full"));
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        ret = web_send(r, 503, "application/json; charset=utf-8", s ? s : "{}", s ? strlen(s) : 2, hdr);
        free(s);
        goto out;
    }
    reserved = 1;
    if (store_msg_list(w->st, c.id, &ml)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    /* decide which stored messages stay */
    size_t keep = ml.n;
    int64_t user_msg_id = 0;
    if (is_regen) {
        if (keep && !strcmp(ml.items[keep - 1].role, "assistant"))
            keep--;
        if (!keep || strcmp(ml.items[keep - 1].role, "user")) {
            ret = web_error(r, 409, "nothing_to_regenerate");
            goto out;
        }
        user_msg_id = ml.items[keep - 1].id;
    } else if (!strcmp(mode, "edit_last")) {
        size_t k = keep;
        while (k && strcmp(ml.items[k - 1].role, "user"))
            k--;
        if (k)
            keep = k - 1;
    }
    /* passages of the chosen collections, before anything changes */
    if (web_ground_prepare(r, b, is_regen ? ml.items[keep - 1].content : content, c.system_prompt, &gr, &ret))
        goto out;
    int grounded = gr.active && !gr.nothing;
    if (keep < ml.n && store_msg_delete_from(w->st, c.id, ml.items[keep].id)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    int64_t now = web_now();
    if (!is_regen && store_msg_add(w->st, c.id, "user", content, NULL, now, &user_msg_id)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (!c.title[0] && content) {
        char title[TITLE_MAX];
        make_title(content, title, sizeof title);
        store_conv_update(w->st, r->user.id, c.id, title, NULL, NULL, now);
    }
    /* history for the model: system prompt, kept messages, the question */
    size_t n = 0;
    hist = rh_calloc(keep + 2, sizeof *hist);
    if (!hist) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (grounded)
        hist[n++] = (backend_msg){"system", gr.system};
    else if (c.system_prompt && *c.system_prompt)
        hist[n++] = (backend_msg){"system", c.system_prompt};
    for (size_t i = 0; i < keep; i++) {
        if (!strcmp(ml.items[i].role, "assistant") && !ml.items[i].content[0])
            continue; /* an empty (failed) answer */
        hist[n++] = (backend_msg){ml.items[i].role, ml.items[i].content};
    }
    if (!is_regen)
        hist[n++] = (backend_msg){"user", content};
    if (grounded) /* the question with its numbered passages (data, not instructions) */
        hist[n - 1].content = gr.user_turn;
    int64_t asst_id = 0;
    persist_ctx *p = rh_calloc(1, sizeof *p);
    if (!p || store_msg_add(w->st, c.id, "assistant", "", model, now, &asst_id)) {
        rh_free(p);
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (gr.active) {
        char *sj = json_dumps(gr.sources, JSON_COMPACT);
        if (!sj || store_msg_set_sources(w->st, asst_id, sj))
            rh_warn("could not store the sources of answer %lld", (long long)asst_id);
        free(sj);
    }
    if (gr.nothing) { /* nothing relevant: say so plainly, no model */
        rh_free(p);
        store_msg_finish(w->st, asst_id, RH_NOTHING_FOUND, 0, 0, "stop");
        ret = web_ground_nothing(r, user_msg_id, asst_id, model, &gr);
        goto out;
    }
    p->st = w->st;
    p->msg_id = asst_id;
    chat_job job = {.req = {.model = model, .msgs = hist, .n_msgs = n, .max_tokens = w->cfg->max_tokens,
                            .temperature = -1},
                    .user_id = r->user.id, .conv_id = c.id, .done = persist_done, .done_ud = p,
                    .cite_max = grounded ? gr.n : 0};
    chat_gen *g = NULL;
    reserved = 0; /* chat_submit releases the place on failure */
    int src = chat_submit(w->chat, &job, &g);
    if (src != RH_OK) {
        rh_free(p);
        store_msg_delete_from(w->st, c.id, asst_id);
        ret = web_error(r, src == RH_EBUSY ? 409 : 500, src == RH_EBUSY ? "busy" : "internal");
        goto out;
    }
    json_t *start = json_pack("{s:I, s:I, s:s}", "user_message_id", (json_int_t)user_msg_id,
                              "assistant_message_id", (json_int_t)asst_id, "model", model);
    ret = web_stream_sources(r, g, SSE_PORTAL, start, model, gr.active ? json_incref(gr.sources) : NULL);
out:
    web_ground_free(&gr);
    if (reserved)
        chat_unreserve(w->chat);
    rh_free(hist);
    rh_free(model);
    store_msg_list_free(&ml);
    if (have_conv)
        store_conv_free(&c);
    json_decref(b);
    return ret;
}
