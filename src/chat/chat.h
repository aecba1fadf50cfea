/*
 * chat.h - the generation service: a bounded queue of chat generations run
 * by worker threads against a backend, with cancellation.
 *
 * A request handler reserves a slot (chat_reserve: RH_EBUSY when the queue
 * is full, so the handler can answer 503 before touching anything), then
 * submits a job and gets a chat_gen handle. Readers (the SSE stream, a
 * blocking /v1 call) poll the handle for new text until it is done.
 * Generations are reference counted: the service holds one reference, the
 * submitter another. chat_gen_cancel / chat_cancel_conv / chat_cancel_user
 * stop generations at once (the backend checks the flag while waiting).
 */
#ifndef RH_CHAT_H
#define RH_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "chat/backend.h"
#include "core/buf.h"
#include "core/error.h"

typedef struct chat_service chat_service;
typedef struct chat_gen chat_gen;

/* Called on the worker thread when a generation has ended (any reason),
 * before readers see it as done. `text` is the whole answer. */
typedef void (*chat_done_fn)(void *ud, const char *text, size_t len, int rc,
                             const backend_result *res, const rh_error *err);

typedef struct chat_job {
    backend_req req;  /* copied by chat_submit */
    int64_t user_id;  /* for chat_cancel_user */
    int64_t conv_id;  /* for chat_cancel_conv; 0 = none */
    chat_done_fn done;
    void *done_ud;
    int cite_max;     /* > 0: a grounded answer with passages 1..cite_max;
                         citations of other numbers are removed from the
                         text as it streams (knowledge/cite.h) */
} chat_job;

enum { CHAT_GEN_WAITING = 0, CHAT_GEN_RUNNING = 1, CHAT_GEN_DONE = 2 };

int chat_service_create(backend *be, int workers, int queue_max, chat_service **out, rh_error *err);
/* Cancels everything, joins the workers. The backend is not destroyed. */
void chat_service_destroy(chat_service *s);
backend *chat_backend(chat_service *s);

/* Reserve a place in the queue (RH_EBUSY when full). */
int chat_reserve(chat_service *s);
void chat_unreserve(chat_service *s);
/* Submit a job into a reserved place; on error the reservation is released.
 * *out gets a reference the caller must chat_gen_unref. RH_EBUSY if this
 * conversation already has a running generation. */
int chat_submit(chat_service *s, const chat_job *job, chat_gen **out);

/* Wait up to timeout_ms for text beyond *offset; appends it to `out` and
 * advances *offset. Returns the state (CHAT_GEN_*). */
int chat_gen_poll(chat_gen *g, size_t *offset, rh_buf *out, int timeout_ms);
/* After CHAT_GEN_DONE: the result code, result and error. */
int chat_gen_result(chat_gen *g, backend_result *res, rh_error *err);
void chat_gen_cancel(chat_gen *g);
void chat_gen_unref(chat_gen *g);

/* Cancel by conversation / user; returns how many were cancelled. */
int chat_cancel_conv(chat_service *s, int64_t conv_id);
int chat_cancel_user(chat_service *s, int64_t user_id);
/* Is a generation for this conversation waiting or running? */
int chat_conv_busy(chat_service *s, int64_t conv_id);

/* Figures for /metrics and the status page. */
int chat_queue_length(chat_service *s); /* waiting + running */
int chat_queue_max(chat_service *s);
int chat_running(chat_service *s);
void chat_tokens(chat_service *s, int64_t *prompt, int64_t *completion);

#endif
