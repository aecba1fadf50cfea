/*
 * engine.h - THE public API of the rathaus inference engine.
 *
 * This is the only engine header the portal (web server, CLI) includes. An
 * engine owns one loaded model, one inference context with n_slots sequence
 * slots (each with its own KV cache of n_ctx positions), a scheduler thread
 * and a bounded queue of waiting requests.
 *
 *     rh_engine_opts o;
 *     engine_opts_default(&o);
 *     o.n_slots = 4;
 *     rh_engine *e;
 *     if (engine_new("model.gguf", &o, &e, &err) != RH_OK) ...
 *
 *     rh_engine_request r;
 *     engine_request_init(&r);
 *     r.messages = msgs; r.n_messages = 2;     (or r.prompt = "...")
 *     r.sampling.temperature = 0.7f;
 *     r.on_event = my_callback; r.user = my_state;
 *     uint64_t id;
 *     rc = engine_submit(e, &r, &id, &err);   RH_EBUSY: queue full (HTTP 503)
 *     ...
 *     engine_cancel(e, id);                   any time, e.g. client went away
 *     engine_free(e);
 *
 * Scheduling (continuous batching): the scheduler admits queued requests
 * into free slots in arrival order, each into the slot whose cache shares
 * the longest prefix with its prompt (a follow-up turn of a conversation
 * reuses the KV cache of the previous one: only the new part is processed). Every step it builds ONE batch with the
 * next token of every generating sequence plus chunks of the prompts of
 * sequences still in prompt processing (bounded by a per-step token budget,
 * so a long prompt never stalls the others), runs one forward pass, samples
 * each sequence with its own sampler and streams the new text.
 *
 * CALLBACKS run on the scheduler thread. They must be quick (copy the text,
 * write to a pipe or queue, signal a condition) and must not block: while a
 * callback runs, no sequence advances. A callback may call engine_cancel()
 * and engine_stats(), but not engine_free() or engine_embed().
 *
 * Thread safety: engine_submit, engine_cancel, engine_stats, engine_info,
 * engine_count_tokens and engine_embed may be called from any thread at the
 * same time. engine_free must be called once, when no other call is running.
 */
#ifndef RH_ENGINE_ENGINE_H
#define RH_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/chat.h"
#include "engine/sampler.h"

typedef struct rh_engine rh_engine;

/* ---- creation -------------------------------------------------------------- */

typedef struct rh_engine_opts {
    int n_ctx;          /* positions per sequence; <= 0: the model's training
                           context, at most 4096 (default 0) */
    int n_slots;        /* sequences processed in parallel (default 4) */
    int queue_max;      /* requests that may wait for a slot (default 32) */
    int n_threads;      /* compute threads; <= 0: one per core (default 0) */
    int batch_tokens;   /* token budget of one scheduler step (default 256);
                           generating sequences always get their token, the
                           rest goes to prompt chunks */
    const char *chat_template; /* NULL or "": detect from the model's
                           tokenizer.chat_template; else a family name such
                           as "llama3", "chatml", "mistral-v3", "gemma" */
} rh_engine_opts;

void engine_opts_default(rh_engine_opts *o);

/* Load the model at `path` (GGUF), create the context and start the
 * scheduler thread. Errors: RH_EIO/RH_EFORMAT/RH_EUNSUPPORTED for the file,
 * RH_EINVAL for bad options (e.g. an unknown template name), RH_ENOMEM,
 * RH_ELIMIT (KV cache too large). `err` explains what to do. */
int engine_new(const char *path, const rh_engine_opts *o, rh_engine **out, rh_error *err);

/* Stop the scheduler: every queued or running request is finished with
 * RH_FINISH_CANCELLED (its callback is called), then everything is freed.
 * NULL is allowed. */
void engine_free(rh_engine *e);

/* ---- requests -------------------------------------------------------------- */

typedef enum rh_finish {
    RH_FINISH_NONE = 0,  /* not finished (never reported) */
    RH_FINISH_STOP,      /* end of turn, end-of-generation token or stop string */
    RH_FINISH_LENGTH,    /* max_tokens reached or the context is full */
    RH_FINISH_CANCELLED, /* engine_cancel() or engine_free() */
    RH_FINISH_ERROR,     /* the forward pass or sampling failed (see error) */
} rh_finish;

/* "stop", "length", "cancelled", "error" (the API's finish_reason values). */
const char *engine_finish_name(rh_finish f);

typedef struct rh_engine_result {
    rh_finish finish;
    int32_t n_prompt;    /* prompt tokens (incl. BOS) */
    int32_t n_gen;       /* generated tokens (incl. a final end-of-turn token) */
    int32_t n_cached;    /* prompt tokens taken from the prefix cache */
    double ms_queued;    /* time waiting for a slot */
    double ms_prompt;    /* time from admission to the first generated token */
    double ms_gen;       /* time from the first to the last generated token */
    int error;           /* RH_OK, or the error code for RH_FINISH_ERROR */
    const char *error_msg; /* "" unless RH_FINISH_ERROR; valid during the call */
} rh_engine_result;

/* Event callback of a request, called on the scheduler thread:
 *   text != NULL, result == NULL: a piece of generated text, `len` bytes of
 *     complete UTF-8 (also NUL-terminated), never part of a stop string;
 *   text == NULL, result != NULL: the request is finished; this is the
 *     last call for `id`, exactly once per accepted request.
 * Pointers are valid only during the call. */
typedef void (*rh_engine_cb)(void *user, uint64_t id, const char *text, size_t len,
                             const rh_engine_result *result);

typedef struct rh_engine_request {
    /* Either a conversation, rendered with the model's chat template plus
     * the assistant header (the end-of-turn marker then stops generation);
     * control-token text typed inside a message stays plain text ... */
    const rh_chat_msg *messages;
    size_t n_messages;
    /* ... or, if messages is NULL, a raw prompt (control-token text such as
     * "<|im_start|>" is parsed as control tokens; BOS is added if the model
     * wants one). */
    const char *prompt;
    rh_sampling sampling; /* rh_sampling_default() by engine_request_init */
    bool ignore_eog;      /* benchmarks/tests: do not stop at end-of-generation
                             tokens (max_tokens then ends the request) */
    rh_engine_cb on_event;
    void *user;
} rh_engine_request;

/* Defaults: no messages, no prompt, rh_sampling_default(), no callback. */
void engine_request_init(rh_engine_request *r);

/* Queue a request. Everything in *r (messages, prompt, stop strings) is
 * copied or tokenized before the call returns. On RH_OK, *id identifies the
 * request (ids start at 1 and are never reused) and its callback will be
 * called, finally with a result. Errors (no callback is made):
 *   RH_EBUSY        no free slot and queue_max requests already waiting:
 *                   try again later (HTTP 503 with Retry-After)
 *   RH_EINVAL       bad sampling parameters, no prompt, bad message
 *   RH_ELIMIT       the prompt does not fit into the context
 *   RH_EUNSUPPORTED the model cannot generate (an embedding model)
 *   RH_ENOMEM, RH_ECANCELED (the engine is shutting down) */
int engine_submit(rh_engine *e, const rh_engine_request *r, uint64_t *id, rh_error *err);

/* Cancel a request wherever it is (queued, processing its prompt or
 * generating). Its slot and cache are freed before the next scheduler step
 * (a step in progress is finished first, typically milliseconds), its cache
 * is dropped, and its callback reports RH_FINISH_CANCELLED. RH_OK, or RH_ENOTFOUND if the id is
 * unknown or the request already finished. */
int engine_cancel(rh_engine *e, uint64_t id);

/* ---- information --------------------------------------------------------- */

typedef struct rh_engine_stats {
    int n_slots;        /* sequence slots */
    int active;         /* requests in a slot (prompt processing or generating) */
    int queued;         /* requests waiting for a slot */
    int queue_max;
    uint64_t requests_done;     /* finished requests (any reason) */
    uint64_t tokens_prompt;     /* prompt tokens processed */
    uint64_t tokens_cached;     /* prompt tokens taken from the prefix cache */
    uint64_t tokens_generated;  /* tokens generated */
    uint64_t steps;             /* forward passes run by the scheduler */
} rh_engine_stats;

void engine_stats(rh_engine *e, rh_engine_stats *out);

typedef struct rh_engine_info {
    const char *arch;        /* "llama", "qwen2", "qwen3", "bert" */
    const char *name;        /* general.name of the model, or the file name */
    const char *chat_family; /* rh_chat_family_name() of the template used */
    bool template_fallback;  /* the model's template was not recognised:
                                ChatML is used (worth a warning) */
    bool can_generate;       /* false for embedding models */
    int n_ctx;               /* positions per sequence */
    int n_slots;
    int32_t n_vocab;
    int32_t n_embd;          /* length of engine_embed vectors */
    uint64_t n_params;
    uint64_t weight_bytes;
} rh_engine_info;

/* Strings stay valid until engine_free. */
void engine_info(const rh_engine *e, rh_engine_info *out);

/* The exact prompt tokens engine_submit would use for `r` (chat template
 * and BOS applied; in conversations, control-token text inside messages is
 * NOT parsed as control tokens, only the template's own markers are).
 * *tok is rh_malloc'ed (caller rh_free's). For context budgeting and tests. */
int engine_tokenize_prompt(rh_engine *e, const rh_engine_request *r, int32_t **tok, size_t *n,
                           rh_error *err);

/* Number of tokens `text` becomes (without BOS), for context budgeting;
 * negative error code on failure. */
int64_t engine_count_tokens(rh_engine *e, const char *text, size_t len);

/* ---- embeddings ------------------------------------------------------------ */

/* Sentence embeddings of texts[0..n): out receives n * n_embd floats
 * (engine_info().n_embd), each vector L2-normalized when `normalize`.
 * Synchronous: runs on the calling thread between scheduler steps (the
 * compute threads are shared). Embedding models (bert) pool as the model
 * says; decoder models use their own pooling on a separate context, so
 * running generations are not disturbed. RH_ELIMIT if a text is longer
 * than the context. */
int engine_embed(rh_engine *e, const char *const *texts, size_t n, bool normalize, float *out,
                 rh_error *err);

#endif
