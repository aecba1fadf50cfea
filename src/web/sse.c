/*
 * sse.c - answers streamed as Server-Sent Events from a running generation
 * (libmicrohttpd content-reader callback on the connection's own thread).
 *
 * The reader waits up to 250 ms at a time for new text; while waiting it
 * checks whether the client has closed the connection (a zero-byte peek on
 * the socket) and then cancels the generation at once. Two formats: the
 * portal's (event: start/delta/done/error) and OpenAI's (data: chunks,
 * data: [DONE]).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "web/web_int.h"

enum { PH_START = 0, PH_STREAM = 1, PH_END = 2 };

typedef struct sse_ctx {
    web_server *srv;
    web_req *req; /* valid while the reader runs (before completion) */
    chat_gen *g;
    int mode;
    int phase;
    int fd;
    int cancelled_for_stop;
    json_t *start;
    json_t *sources; /* grounded answers: the numbered passages */
    char model[128];
    char id[48];
    int64_t created;
    size_t off;   /* how much of the generation's text was sent */
    rh_buf text;  /* new text of one poll */
    rh_buf out;   /* formatted bytes waiting to be sent */
    size_t out_pos;
    time_t last_send;
} sse_ctx;

static void put_event(sse_ctx *c, const char *event, json_t *data)
{
    char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!s)
        return;
    if (event)
        rh_buf_appendf(&c->out, "event: %s\n", event);
    rh_buf_appendf(&c->out, "data: %s\n\n", s);
    free(s);
}

static json_t *oa_chunk(sse_ctx *c, json_t *choice)
{
    json_object_set_new(choice, "index", json_integer(0));
    return json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", c->id, "object",
                     c->mode == SSE_OPENAI_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                     (json_int_t)c->created, "model", c->model, "choices", choice);
}

static void format_start(sse_ctx *c)
{
    if (c->mode == SSE_PORTAL) {
        put_event(c, "start", c->start);
        c->start = NULL;
        if (c->sources)
            put_event(c, "sources", c->sources);
        c->sources = NULL;
    } else if (c->mode == SSE_OPENAI_CHAT) {
        put_event(c, NULL, oa_chunk(c, json_pack("{s:{s:s, s:s}, s:n}", "delta", "role", "assistant", "content",
                                                 "", "finish_reason")));
    }
}

static void format_delta(sse_ctx *c, const char *text, size_t len)
{
    json_t *t = json_stringn(text, len);
    if (!t)
        return; /* not UTF-8: never forward */
    if (c->mode == SSE_PORTAL)
        put_event(c, "delta", json_pack("{s:o}", "text", t));
    else if (c->mode == SSE_OPENAI_CHAT)
        put_event(c, NULL, oa_chunk(c, json_pack("{s:{s:o}, s:n}", "delta", "content", t, "finish_reason")));
    else
        put_event(c, NULL, oa_chunk(c, json_pack("{s:o, s:n}", "text", t, "finish_reason")));
}

static void format_end(sse_ctx *c)
{
    backend_result res;
    rh_error err;
    int rc = chat_gen_result(c->g, &res, &err);
    if (rc != RH_OK) {
        const char *code = rc == RH_ENOTFOUND ? "model_not_found"
                           : rc == RH_EIO       ? "upstream_unavailable"
                                                : "generation_failed";
        const char *msg = web_msg(c->req, code);
        if (rc != RH_ENOTFOUND && rc != RH_EIO && err.msg[0] && strcmp(c->req->lang, "en"))
            msg = err.msg; /* the backend's own (German) explanation */
        if (c->mode == SSE_PORTAL) {
            put_event(c, "error", json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
        } else {
            put_event(c, NULL, json_pack("{s:{s:s, s:s, s:s}}", "error", "message", msg, "type", "server_error",
                                         "code", code));
            rh_buf_appends(&c->out, "data: [DONE]\n\n");
        }
        return;
    }
    if (c->mode == SSE_PORTAL) {
        put_event(c, "done", json_pack("{s:s, s:{s:I, s:I}}", "finish_reason", res.finish_reason, "tokens", "prompt",
                                       (json_int_t)res.prompt_tokens, "completion",
                                       (json_int_t)res.completion_tokens));
        return;
    }
    const char *fr = !strcmp(res.finish_reason, "length") ? "length" : "stop";
    json_t *choice = c->mode == SSE_OPENAI_CHAT ? json_pack("{s:{}, s:s}", "delta", "finish_reason", fr)
                                                : json_pack("{s:s, s:s}", "text", "", "finish_reason", fr);
    json_t *chunk = oa_chunk(c, choice);
    json_object_set_new(chunk, "usage",
                        json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)res.prompt_tokens,
                                  "completion_tokens", (json_int_t)res.completion_tokens, "total_tokens",
                                  (json_int_t)(res.prompt_tokens + res.completion_tokens)));
    put_event(c, NULL, chunk);
    rh_buf_appends(&c->out, "data: [DONE]\n\n");
}

static int client_gone(sse_ctx *c)
{
    if (c->fd < 0)
        return 0;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return 1;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return 1;
    return 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse_ctx *c = cls;
    (void)pos;
    for (;;) {
        if (c->out_pos < c->out.len) {
            size_t n = c->out.len - c->out_pos;
            if (n > max)
                n = max;
            memcpy(buf, c->out.data + c->out_pos, n);
            c->out_pos += n;
            if (c->out_pos == c->out.len) {
                rh_buf_reset(&c->out);
                c->out_pos = 0;
            }
            c->req->bytes += n;
            c->last_send = time(NULL);
            return (ssize_t)n;
        }
        if (c->phase == PH_END)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (c->phase == PH_START) {
            format_start(c);
            c->phase = PH_STREAM;
            continue;
        }
        if (atomic_load(&c->srv->stopping) && !c->cancelled_for_stop) {
            c->cancelled_for_stop = 1; /* finish with a "cancelled" done event */
            chat_gen_cancel(c->g);
        }
        rh_buf_reset(&c->text);
        int st = chat_gen_poll(c->g, &c->off, &c->text, 250);
        if (c->text.len)
            format_delta(c, c->text.data, c->text.len);
        if (st == CHAT_GEN_DONE) {
            format_end(c);
            c->phase = PH_END;
            continue;
        }
        if (c->text.len)
            continue;
        if (client_gone(c)) {
            chat_gen_cancel(c->g);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (time(NULL) - c->last_send >= 15)
            rh_buf_appends(&c->out, ": keepalive\n\n");
    }
}

static void sse_free(void *cls)
{
    sse_ctx *c = cls;
    rh_debug("sse: stream closed (phase %d)", c->phase);
    chat_gen_cancel(c->g); /* no-op when it has ended */
    chat_gen_unref(c->g);
    json_decref(c->start);
    json_decref(c->sources);
    rh_buf_free(&c->text);
    rh_buf_free(&c->out);
    atomic_fetch_sub(&c->srv->streams, 1);
    rh_free(c);
}

enum MHD_Result web_stream(web_req *r, chat_gen *g, int mode, json_t *start_json, const char *model)
{
    return web_stream_sources(r, g, mode, start_json, model, NULL);
}

enum MHD_Result web_stream_sources(web_req *r, chat_gen *g, int mode, json_t *start_json, const char *model,
                                   json_t *sources)
{
    sse_ctx *c = rh_calloc(1, sizeof *c);
    if (!c) {
        chat_gen_cancel(g);
        chat_gen_unref(g);
        json_decref(start_json);
        json_decref(sources);
        return web_error(r, 500, "internal");
    }
    c->sources = sources;
    c->srv = r->srv;
    c->req = r;
    c->g = g;
    c->mode = mode;
    c->start = start_json;
    c->created = web_now();
    c->last_send = time(NULL);
    snprintf(c->model, sizeof c->model, "%s", model ? model : "");
    char rnd[AUTH_TOKEN_HEX];
    auth_random_hex(rnd);
    snprintf(c->id, sizeof c->id, "%s-%.24s", mode == SSE_OPENAI_CHAT ? "chatcmpl" : "cmpl", rnd);
    rh_buf_init(&c->text, 16u * 1024 * 1024);
    rh_buf_init(&c->out, 32u * 1024 * 1024);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci ? (int)ci->connect_fd : -1;
    atomic_fetch_add(&r->srv->streams, 1);
    r->is_stream = 1;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, c, sse_free);
    if (!resp) {
        sse_free(c);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return web_queue(r, 200, resp);
}
