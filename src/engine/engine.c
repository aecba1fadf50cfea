/*
 * engine.c - the engine: model + context + continuous-batching scheduler.
 *
 * Threads and locks:
 *   - callers of engine_submit/cancel/stats (any thread) take `mu` briefly;
 *   - the scheduler thread owns the requests in slots; it takes `mu` only to
 *     admit, to remove a finished request and to read cancellation flags;
 *   - `compute_mu` serialises use of the compute pool (rh_decode on the
 *     scheduler thread, rh_embed from engine_embed callers);
 *   - callbacks are made on the scheduler thread with no lock held.
 *
 * A request's life: tokenized on the submitting thread, waits in a FIFO
 * queue, gets a slot (sequence id of the rh_ctx), is prefilled in chunks,
 * generates one token per step, and is finished (callback, slot cleared,
 * freed) by the scheduler thread - also when cancelled.
 */
#include "engine/engine.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/tokenizer.h"

#define PIECE_MAX 4096          /* bytes of text from one token */
#define OUT_MAX (1u << 20)      /* bytes of text emitted in one callback */
#define PROMPT_TEXT_MAX (64u << 20)
#define MIN_PREFILL_CHUNK 16

typedef enum { REQ_QUEUED, REQ_PREFILL, REQ_GEN } req_state;

typedef struct req {
    struct req *next; /* queue link */
    uint64_t id;
    uint64_t admit_no; /* admission order: earlier prompts are prefilled first */
    req_state state;
    atomic_bool cancel;
    int slot;
    int32_t *tok;      /* prompt tokens */
    int32_t n_prompt;
    int32_t n_done;    /* prompt tokens decoded */
    int32_t n_past;    /* positions in the cache */
    int32_t last_tok;  /* sampled, to be decoded next step */
    int32_t n_gen;
    int32_t n_cached;  /* prompt tokens found in the slot's cache */
    int32_t max_tokens;
    int32_t end_tok;   /* chat end-of-turn token, -1 if none */
    bool ignore_eog;
    int32_t chunk;     /* prompt tokens in the current batch */
    int out_idx;       /* logits row in the current batch, -1 if none */
    bool in_batch;
    rh_sampler *smp;
    rh_stop stop;
    rh_detok dt;
    rh_engine_cb cb;
    void *user;
    double t_submit, t_admit, t_first, t_last;
} req;

struct rh_engine {
    rh_model *model;
    const rh_vocab *vocab;
    rh_pool *pool;
    rh_ctx *ctx;
    rh_ctx *embed_ctx; /* decoder models: separate context for engine_embed */
    rh_engine_opts opts;
    rh_chat_family family;
    bool fallback;
    bool can_generate;
    int n_ctx;
    int32_t n_vocab, n_embd;
    char name[256];

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t compute_mu;
    bool stopping;

    /* under mu */
    req *q_head, *q_tail;
    int n_queued;
    req **slots;
    int n_active;
    /* prefix cache: the tokens whose KV entries are valid in each slot; a
     * finished request leaves them for the next one with the same prefix */
    int32_t *slot_tok;   /* n_slots x n_ctx */
    int32_t *slot_n;     /* valid tokens per slot */
    uint64_t *slot_used; /* when the slot was last released (LRU) */
    uint64_t use_clock;
    uint64_t st_cached;
    uint64_t next_id, next_admit;
    uint64_t st_done, st_prompt, st_gen, st_steps;

    /* scheduler thread only */
    int32_t *b_tok, *b_pos, *b_seq;
    uint8_t *b_logits;
    int b_cap;
    float *logits; /* n_slots x n_vocab */
    rh_buf out;
    char piece[PIECE_MAX];
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *engine_finish_name(rh_finish f)
{
    switch (f) {
    case RH_FINISH_STOP: return "stop";
    case RH_FINISH_LENGTH: return "length";
    case RH_FINISH_CANCELLED: return "cancelled";
    case RH_FINISH_ERROR: return "error";
    case RH_FINISH_NONE: break;
    }
    return "none";
}

void engine_opts_default(rh_engine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_ctx = 0;
    o->n_slots = 4;
    o->queue_max = 32;
    o->n_threads = 0;
    o->batch_tokens = 256;
    o->chat_template = NULL;
}

void engine_request_init(rh_engine_request *r)
{
    memset(r, 0, sizeof *r);
    rh_sampling_default(&r->sampling);
}

static void req_free(req *r)
{
    if (!r)
        return;
    rh_free(r->tok);
    rh_sampler_free(r->smp);
    rh_stop_free(&r->stop);
    rh_free(r);
}

/* ---- the scheduler -------------------------------------------------------- */

static void emit(rh_engine *e, req *r)
{
    if (e->out.len && r->cb)
        r->cb(r->user, r->id, e->out.data, e->out.len, NULL);
    rh_buf_reset(&e->out);
}

/* Remove r from its slot (or the queue has already dropped it), report the
 * result, free it. `flush`: release held-back text first. */
static void finish(rh_engine *e, req *r, rh_finish why, int error, const char *msg, bool flush)
{
    if (flush) {
        int n = rh_detok_flush(&r->dt, e->piece, sizeof e->piece);
        if (n > 0 && rh_stop_push(&r->stop, e->piece, (size_t)n, &e->out) == 1)
            why = RH_FINISH_STOP;
        rh_stop_flush(&r->stop, &e->out);
        emit(e, r);
    }
    rh_buf_reset(&e->out);

    pthread_mutex_lock(&e->mu);
    if (r->state != REQ_QUEUED && r->slot >= 0 && e->slots[r->slot] == r) {
        int s = r->slot;
        e->slots[s] = NULL;
        e->n_active--;
        e->slot_used[s] = ++e->use_clock;
        if (why == RH_FINISH_STOP || why == RH_FINISH_LENGTH) {
            e->slot_n[s] = r->n_past; /* kept for a follow-up with this prefix */
        } else {
            e->slot_n[s] = 0; /* cancelled or failed: the cache goes at once */
            rh_ctx_seq_clear(e->ctx, s);
        }
    }
    e->st_done++;
    pthread_mutex_unlock(&e->mu);

    double t = now_ms();
    rh_engine_result res = {
        .finish = why,
        .n_prompt = r->n_prompt,
        .n_gen = r->n_gen,
        .n_cached = r->n_cached,
        .ms_queued = (r->state == REQ_QUEUED ? t : r->t_admit) - r->t_submit,
        .ms_prompt = r->n_gen > 0 ? r->t_first - r->t_admit
                                  : (r->state == REQ_QUEUED ? 0.0 : t - r->t_admit),
        .ms_gen = r->n_gen > 1 ? r->t_last - r->t_first : 0.0,
        .error = error,
        .error_msg = msg ? msg : "",
    };
    if (r->cb)
        r->cb(r->user, r->id, NULL, 0, &res);
    req_free(r);
}

/* Length of the common prefix of a[0..na) and b[0..nb). */
static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    int32_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Under mu: move queued requests into free slots, each into the free slot
 * whose cache shares the longest prefix with its prompt (ties: the slot
 * released longest ago), and skip the shared part of the prompt. */
static void admit_locked(rh_engine *e)
{
    while (e->q_head) {
        req *r = e->q_head;
        int best = -1;
        int32_t best_len = -1;
        for (int s = 0; s < e->opts.n_slots; s++) {
            if (e->slots[s])
                continue;
            int32_t l = common_prefix(e->slot_tok + (size_t)s * (size_t)e->n_ctx, e->slot_n[s],
                                      r->tok, r->n_prompt);
            if (l > best_len || (l == best_len && e->slot_used[s] < e->slot_used[best])) {
                best = s;
                best_len = l;
            }
        }
        if (best < 0)
            break;
        e->q_head = r->next;
        if (!e->q_head)
            e->q_tail = NULL;
        e->n_queued--;
        r->next = NULL;
        r->slot = best;
        r->state = REQ_PREFILL;
        r->admit_no = e->next_admit++;
        r->t_admit = now_ms();
        e->slots[best] = r;
        e->n_active++;
        /* at least the last prompt token is decoded again: its logits are needed */
        if (best_len > r->n_prompt - 1)
            best_len = r->n_prompt - 1;
        r->n_cached = r->n_done = r->n_past = best_len;
        e->slot_n[best] = best_len;
        e->st_cached += (uint64_t)best_len;
        if (best_len == 0)
            rh_ctx_seq_clear(e->ctx, best);
    }
}

/* Under mu: unlink cancelled queued requests into *list. */
static void take_cancelled_queued_locked(rh_engine *e, req **list)
{
    req **pp = &e->q_head;
    e->q_tail = NULL;
    while (*pp) {
        req *r = *pp;
        if (atomic_load(&r->cancel) || e->stopping) {
            *pp = r->next;
            e->n_queued--;
            r->next = *list;
            *list = r;
        } else {
            e->q_tail = r;
            pp = &r->next;
        }
    }
}

static void batch_add(rh_engine *e, int *n, int32_t tok, int32_t pos, int32_t seq, bool logits)
{
    e->slot_tok[(size_t)seq * (size_t)e->n_ctx + (size_t)pos] = tok;
    e->b_tok[*n] = tok;
    e->b_pos[*n] = pos;
    e->b_seq[*n] = seq;
    e->b_logits[*n] = logits ? 1 : 0;
    (*n)++;
}

/* A new token for r: stream its text, decide whether r is finished.
 * Returns true if r was finished (and freed). */
static bool take_token(rh_engine *e, req *r, const float *logits)
{
    int32_t tok = rh_sampler_sample(r->smp, logits);
    if (tok < 0) {
        finish(e, r, RH_FINISH_ERROR, tok, "out of memory while sampling", false);
        return true;
    }
    double t = now_ms();
    if (r->state == REQ_PREFILL) {
        r->state = REQ_GEN;
        r->t_first = t;
    }
    r->t_last = t;
    r->n_gen++;
    pthread_mutex_lock(&e->mu);
    e->st_gen++;
    pthread_mutex_unlock(&e->mu);
    rh_sampler_accept(r->smp, tok);

    if (!r->ignore_eog && (rh_vocab_is_eog(e->vocab, tok) || tok == r->end_tok)) {
        finish(e, r, RH_FINISH_STOP, RH_OK, NULL, true);
        return true;
    }
    int n = rh_detok_push(&r->dt, tok, e->piece, sizeof e->piece);
    if (n > (int)sizeof e->piece)
        n = (int)sizeof e->piece;
    if (n > 0) {
        int rc = rh_stop_push(&r->stop, e->piece, (size_t)n, &e->out);
        if (rc < 0) {
            finish(e, r, RH_FINISH_ERROR, rc, "could not buffer the generated text", false);
            return true;
        }
        emit(e, r);
        if (rc == 1) {
            finish(e, r, RH_FINISH_STOP, RH_OK, NULL, false);
            return true;
        }
    }
    if ((r->max_tokens > 0 && r->n_gen >= r->max_tokens) || r->n_past >= e->n_ctx) {
        finish(e, r, RH_FINISH_LENGTH, RH_OK, NULL, true);
        return true;
    }
    r->last_tok = tok;
    return false;
}

/* One scheduler step: one batch, one forward pass, sampling. */
static void step(rh_engine *e)
{
    int n_slots = e->opts.n_slots;
    /* cancelled requests in slots leave first */
    for (int s = 0; s < n_slots; s++) {
        req *r = e->slots[s];
        if (r && atomic_load(&r->cancel))
            finish(e, r, RH_FINISH_CANCELLED, RH_OK, NULL, false);
    }

    int n = 0, n_out = 0;
    for (int s = 0; s < n_slots; s++) {
        req *r = e->slots[s];
        if (!r)
            continue;
        r->in_batch = false;
        r->out_idx = -1;
        r->chunk = 0;
        if (r->state == REQ_GEN) {
            batch_add(e, &n, r->last_tok, r->n_past, s, true);
            r->out_idx = n_out++;
            r->in_batch = true;
        }
    }
    int budget = e->opts.batch_tokens - n;
    if (budget < MIN_PREFILL_CHUNK)
        budget = MIN_PREFILL_CHUNK;
    /* prompt chunks, earliest admitted first */
    for (;;) {
        req *best = NULL;
        for (int s = 0; s < n_slots; s++) {
            req *r = e->slots[s];
            if (r && r->state == REQ_PREFILL && !r->in_batch &&
                (!best || r->admit_no < best->admit_no))
                best = r;
        }
        if (!best || budget <= 0)
            break;
        int32_t left = best->n_prompt - best->n_done;
        int32_t chunk = left < budget ? left : budget;
        for (int32_t i = 0; i < chunk; i++) {
            int32_t p = best->n_done + i;
            bool last = p == best->n_prompt - 1;
            batch_add(e, &n, best->tok[p], p, best->slot, last);
        }
        best->chunk = chunk;
        best->in_batch = true;
        if (best->n_done + chunk == best->n_prompt)
            best->out_idx = n_out++;
        budget -= chunk;
    }
    if (n == 0)
        return;

    rh_batch b = {n, e->b_tok, e->b_pos, e->b_seq, e->b_logits};
    rh_error err;
    rh_error_clear(&err);
    pthread_mutex_lock(&e->compute_mu);
    int rc = rh_decode(e->ctx, &b, e->logits, &err);
    pthread_mutex_unlock(&e->compute_mu);

    int32_t n_prompt_tokens = 0;
    for (int s = 0; s < n_slots; s++) {
        req *r = e->slots[s];
        if (r && r->in_batch)
            n_prompt_tokens += r->chunk;
    }
    pthread_mutex_lock(&e->mu);
    e->st_steps++;
    if (rc == RH_OK)
        e->st_prompt += (uint64_t)n_prompt_tokens;
    pthread_mutex_unlock(&e->mu);

    if (rc != RH_OK) {
        rh_errorf("engine: forward pass failed: %s", err.msg);
        /* finish() clears the caches of the failed requests */
        for (int s = 0; s < n_slots; s++) {
            req *r = e->slots[s];
            if (r && r->in_batch)
                finish(e, r, RH_FINISH_ERROR, rc, err.msg, false);
        }
        return;
    }
    for (int s = 0; s < n_slots; s++) {
        req *r = e->slots[s];
        if (!r || !r->in_batch)
            continue;
        if (r->state == REQ_GEN) {
            r->n_past++;
        } else {
            r->n_done += r->chunk;
            r->n_past += r->chunk;
        }
        e->slot_n[s] = r->n_past;
        if (r->out_idx >= 0)
            take_token(e, r, e->logits + (size_t)r->out_idx * (size_t)e->n_vocab);
    }
}

static void *sched_main(void *arg)
{
    rh_engine *e = arg;
    for (;;) {
        req *done = NULL;
        bool stop_now = false;
        pthread_mutex_lock(&e->mu);
        for (;;) {
            take_cancelled_queued_locked(e, &done);
            if (!e->stopping)
                admit_locked(e);
            if (done || e->n_active > 0 || e->stopping)
                break;
            pthread_cond_wait(&e->cv, &e->mu);
        }
        stop_now = e->stopping;
        pthread_mutex_unlock(&e->mu);

        while (done) {
            req *r = done;
            done = r->next;
            finish(e, r, RH_FINISH_CANCELLED, RH_OK, NULL, false);
        }
        if (stop_now) {
            for (int s = 0; s < e->opts.n_slots; s++)
                if (e->slots[s])
                    finish(e, e->slots[s], RH_FINISH_CANCELLED, RH_OK, NULL, false);
            break;
        }
        step(e);
    }
    return NULL;
}

/* ---- creation and teardown ------------------------------------------------ */

static void engine_destroy(rh_engine *e)
{
    if (!e)
        return;
    rh_ctx_free(e->embed_ctx);
    rh_ctx_free(e->ctx);
    rh_pool_free(e->pool);
    rh_model_free(e->model);
    rh_free(e->slots);
    rh_free(e->slot_tok);
    rh_free(e->slot_n);
    rh_free(e->slot_used);
    rh_free(e->b_tok);
    rh_free(e->b_pos);
    rh_free(e->b_seq);
    rh_free(e->b_logits);
    rh_free(e->logits);
    rh_buf_free(&e->out);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->compute_mu);
    pthread_cond_destroy(&e->cv);
    rh_free(e);
}

static void set_name(rh_engine *e, const char *path)
{
    gguf_str s;
    const gguf_file *gf = rh_model_gguf(e->model);
    if (gf && gguf_get_str(gf, "general.name", &s) == RH_OK && s.len > 0) {
        size_t n = s.len < sizeof e->name - 1 ? (size_t)s.len : sizeof e->name - 1;
        memcpy(e->name, s.ptr, n);
        e->name[n] = '\0';
    } else {
        const char *base = strrchr(path, '/');
        snprintf(e->name, sizeof e->name, "%s", base ? base + 1 : path);
    }
    /* keep it printable */
    for (char *p = e->name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

int engine_new(const char *path, const rh_engine_opts *o, rh_engine **out, rh_error *err)
{
    int rc = RH_OK;
    rh_engine *e = NULL;
    rh_engine_opts def;
    *out = NULL;
    if (!o) {
        engine_opts_default(&def);
        o = &def;
    }
    if (!path || !*path)
        return rh_error_set(err, RH_EINVAL, "no model file given");
    if (o->n_slots < 1 || o->n_slots > 256)
        return rh_error_set(err, RH_EINVAL, "n_slots must be between 1 and 256 (got %d)",
                            o->n_slots);
    if (o->queue_max < 0 || o->queue_max > 100000)
        return rh_error_set(err, RH_EINVAL, "queue_max must be between 0 and 100000 (got %d)",
                            o->queue_max);
    if (o->n_threads > 1024)
        return rh_error_set(err, RH_EINVAL, "n_threads %d is too large", o->n_threads);
    if (o->batch_tokens > 65536)
        return rh_error_set(err, RH_EINVAL, "batch_tokens %d is too large (at most 65536)",
                            o->batch_tokens);
    int forced = -1;
    if (o->chat_template && *o->chat_template) {
        forced = rh_chat_family_from_name(o->chat_template);
        if (forced < 0)
            return rh_error_set(err, RH_EINVAL,
                                "unknown chat template '%.64s': use one of chatml, llama3, "
                                "llama2, mistral-v1, mistral-v3, mistral-v3-tekken, gemma, phi3",
                                o->chat_template);
    }

    e = rh_calloc(1, sizeof *e);
    if (!e)
        return rh_error_set(err, RH_ENOMEM, "out of memory creating the engine");
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->compute_mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    rh_buf_init(&e->out, OUT_MAX);
    e->opts = *o;
    e->opts.chat_template = NULL;
    if (e->opts.batch_tokens < e->opts.n_slots + MIN_PREFILL_CHUNK)
        e->opts.batch_tokens = e->opts.n_slots + MIN_PREFILL_CHUNK;
    e->next_id = 1;

    if ((rc = rh_model_load(path, &e->model, err)) != RH_OK)
        goto out;
    const rh_model_info *mi = rh_model_get_info(e->model);
    e->vocab = rh_model_vocab(e->model);
    e->n_vocab = mi->n_vocab;
    e->n_embd = mi->n_embd;
    e->can_generate = mi->causal && mi->arch != RH_ARCH_BERT;
    set_name(e, path);

    e->pool = rh_pool_new(o->n_threads);
    if (!e->pool) {
        rc = rh_error_set(err, RH_ENOMEM, "could not start the compute threads");
        goto out;
    }
    if ((rc = rh_ctx_new(e->model, o->n_ctx, e->can_generate ? o->n_slots : 1, e->pool, &e->ctx,
                         err)) != RH_OK)
        goto out;
    e->n_ctx = rh_ctx_n_ctx(e->ctx);

    /* chat template */
    if (forced >= 0) {
        e->family = (rh_chat_family)forced;
    } else {
        gguf_str t = {NULL, 0};
        const gguf_file *gf = rh_model_gguf(e->model);
        if (gf)
            gguf_get_str(gf, "tokenizer.chat_template", &t);
        e->family = rh_chat_detect(t.ptr, (size_t)t.len, &e->fallback);
        if (e->fallback && e->can_generate)
            rh_warn("engine: chat template of '%s' not recognised; using ChatML (set the "
                    "template by name in the configuration if answers look wrong)", e->name);
    }

    size_t ns = (size_t)o->n_slots;
    e->b_cap = e->opts.batch_tokens + (int)ns;
    e->slots = rh_calloc(ns, sizeof *e->slots);
    e->slot_tok = rh_malloc_array(ns * (size_t)e->n_ctx, sizeof *e->slot_tok);
    e->slot_n = rh_calloc(ns, sizeof *e->slot_n);
    e->slot_used = rh_calloc(ns, sizeof *e->slot_used);
    e->b_tok = rh_malloc_array((size_t)e->b_cap, sizeof *e->b_tok);
    e->b_pos = rh_malloc_array((size_t)e->b_cap, sizeof *e->b_pos);
    e->b_seq = rh_malloc_array((size_t)e->b_cap, sizeof *e->b_seq);
    e->b_logits = rh_malloc_array((size_t)e->b_cap, sizeof *e->b_logits);
    e->logits = e->can_generate ? rh_malloc_array(ns * (size_t)e->n_vocab, sizeof(float)) : NULL;
    if (!e->slots || !e->slot_tok || !e->slot_n || !e->slot_used || !e->b_tok || !e->b_pos || !e->b_seq || !e->b_logits ||
        (e->can_generate && !e->logits)) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory allocating the scheduler buffers");
        goto out;
    }
    if (pthread_create(&e->thread, NULL, sched_main, e) != 0) {
        rc = rh_error_set(err, RH_ENOMEM, "could not start the scheduler thread");
        goto out;
    }
    e->thread_started = true;
    *out = e;
    e = NULL;
out:
    engine_destroy(e);
    return rc;
}

void engine_free(rh_engine *e)
{
    if (!e)
        return;
    if (e->thread_started) {
        pthread_mutex_lock(&e->mu);
        e->stopping = true;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
    }
    engine_destroy(e);
}

/* ---- requests ------------------------------------------------------------- */

/* Append the tokens of text[0..len) (no BOS/EOS, control tokens not parsed). */
static int tok_append(rh_engine *e, const char *text, size_t len, int32_t **v, size_t *n,
                      size_t *cap, rh_error *err)
{
    int32_t *t = NULL;
    size_t nt = 0;
    if (len == 0)
        return RH_OK;
    int rc = rh_tokenize(e->vocab, text, len, false, false, &t, &nt, err);
    if (rc != RH_OK)
        return rc;
    if (*n + nt > *cap) {
        size_t nc = (*n + nt) * 2 + 16;
        int32_t *g = rh_realloc_array(*v, nc, sizeof *g);
        if (!g) {
            rh_free(t);
            return rh_error_set(err, RH_ENOMEM, "out of memory while tokenizing");
        }
        *v = g;
        *cap = nc;
    }
    memcpy(*v + *n, t, nt * sizeof *t);
    *n += nt;
    rh_free(t);
    return RH_OK;
}

static int tok_push(int32_t tok, int32_t **v, size_t *n, size_t *cap, rh_error *err)
{
    if (*n + 1 > *cap) {
        size_t nc = *cap * 2 + 16;
        int32_t *g = rh_realloc_array(*v, nc, sizeof *g);
        if (!g)
            return rh_error_set(err, RH_ENOMEM, "out of memory while tokenizing");
        *v = g;
        *cap = nc;
    }
    (*v)[(*n)++] = tok;
    return RH_OK;
}

/* Tokenize a rendered conversation: the template's markers become their
 * control tokens, everything between them (role names, message text) is
 * tokenized with control tokens NOT parsed - a user cannot fake a turn by
 * typing "<|im_start|>system". For benign text the result equals
 * tokenizing the whole text with parse_special. */
static int tokenize_marked(rh_engine *e, const rh_buf *text, const rh_chat_mark *marks,
                           size_t n_marks, int32_t **out, size_t *n_out, rh_error *err)
{
    int rc = RH_OK;
    int32_t *v = NULL;
    size_t n = 0, cap = 0, run = 0;
    const char *t = text->data ? text->data : "";
    if (rh_vocab_add_bos(e->vocab) && rh_vocab_bos(e->vocab) >= 0 &&
        (rc = tok_push(rh_vocab_bos(e->vocab), &v, &n, &cap, err)) != RH_OK)
        goto out;
    for (size_t i = 0; i < n_marks; i++) {
        char m[64];
        if (marks[i].len == 0 || marks[i].len >= sizeof m || marks[i].off < run ||
            marks[i].off + marks[i].len > text->len)
            continue;
        memcpy(m, t + marks[i].off, marks[i].len);
        m[marks[i].len] = '\0';
        int32_t id = rh_vocab_find(e->vocab, m);
        if (id < 0 || !rh_vocab_is_control(e->vocab, id))
            continue; /* not a control token here: it stays part of the text */
        if ((rc = tok_append(e, t + run, marks[i].off - run, &v, &n, &cap, err)) != RH_OK ||
            (rc = tok_push(id, &v, &n, &cap, err)) != RH_OK)
            goto out;
        run = marks[i].off + marks[i].len;
    }
    if ((rc = tok_append(e, t + run, text->len - run, &v, &n, &cap, err)) != RH_OK)
        goto out;
    if (rh_vocab_add_eos(e->vocab) && rh_vocab_eos(e->vocab) >= 0 &&
        (rc = tok_push(rh_vocab_eos(e->vocab), &v, &n, &cap, err)) != RH_OK)
        goto out;
    if (!v && (rc = tok_push(0, &v, &n, &cap, err)) == RH_OK)
        n = 0; /* a valid empty array */
out:
    if (rc != RH_OK) {
        rh_free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return RH_OK;
}

/* The prompt tokens of a request; *end_tok: the chat end-of-turn token or
 * -1; *end_marker: the end-of-turn text when it is not a single token. */
static int prompt_tokens(rh_engine *e, const rh_engine_request *rq, int32_t **tok, size_t *n,
                         int32_t *end_tok, const char **end_marker, rh_error *err)
{
    int rc = RH_OK;
    rh_buf text;
    rh_chat_mark *marks = NULL;
    rh_buf_init(&text, PROMPT_TEXT_MAX);
    *tok = NULL;
    *n = 0;
    *end_tok = -1;
    *end_marker = NULL;
    if (rq->messages) {
        if (rq->n_messages == 0 || rq->n_messages > 100000) {
            rc = rh_error_set(err, RH_EINVAL, "the conversation must have 1 to 100000 messages");
            goto out;
        }
        size_t max_marks = RH_CHAT_MAX_MARKS(rq->n_messages), n_marks = 0;
        if (!(marks = rh_malloc_array(max_marks, sizeof *marks))) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = rh_chat_render_marked(e->family, rq->messages, rq->n_messages, true, &text,
                                        marks, max_marks, &n_marks, err)) != RH_OK)
            goto out;
        if ((rc = tokenize_marked(e, &text, marks, n_marks, tok, n, err)) != RH_OK)
            goto out;
        const char *marker = rh_chat_end_marker(e->family);
        *end_tok = rh_vocab_find(e->vocab, marker);
        if (*end_tok < 0)
            *end_marker = marker;
    } else if (rq->prompt) {
        size_t len = strnlen(rq->prompt, PROMPT_TEXT_MAX + 1);
        if (len > PROMPT_TEXT_MAX) {
            rc = rh_error_set(err, RH_ELIMIT, "the prompt is too long");
            goto out;
        }
        if ((rc = rh_tokenize(e->vocab, rq->prompt, len, true, true, tok, n, err)) != RH_OK)
            goto out;
    } else {
        rc = rh_error_set(err, RH_EINVAL, "the request has neither messages nor a prompt");
    }
out:
    rh_buf_free(&text);
    rh_free(marks);
    return rc;
}

int engine_tokenize_prompt(rh_engine *e, const rh_engine_request *rq, int32_t **tok, size_t *n,
                           rh_error *err)
{
    int32_t end_tok;
    const char *end_marker;
    if (!e || !rq || !tok || !n)
        return rh_error_set(err, RH_EINVAL, "engine_tokenize_prompt: missing arguments");
    return prompt_tokens(e, rq, tok, n, &end_tok, &end_marker, err);
}

int engine_submit(rh_engine *e, const rh_engine_request *rq, uint64_t *id, rh_error *err)
{
    int rc = RH_OK;
    req *r = NULL;
    if (id)
        *id = 0;
    if (!e || !rq) {
        rc = rh_error_set(err, RH_EINVAL, "engine_submit: no engine or request");
        goto out;
    }
    if (!e->can_generate) {
        rc = rh_error_set(err, RH_EUNSUPPORTED,
                          "'%s' is an embedding model and cannot generate text", e->name);
        goto out;
    }
    if ((rc = rh_sampling_validate(&rq->sampling, err)) != RH_OK)
        goto out;
    /* a full queue is refused before the work of tokenizing (checked again below) */
    pthread_mutex_lock(&e->mu);
    bool full = e->n_queued >= e->opts.queue_max + (e->opts.n_slots - e->n_active);
    pthread_mutex_unlock(&e->mu);
    if (full) {
        rc = rh_error_set(err, RH_EBUSY, "all %d slots are busy and the queue is full: try "
                          "again later", e->opts.n_slots);
        goto out;
    }

    r = rh_calloc(1, sizeof *r);
    if (!r) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    atomic_init(&r->cancel, false);
    r->slot = -1;
    r->end_tok = -1;
    r->state = REQ_QUEUED;
    r->cb = rq->on_event;
    r->user = rq->user;
    r->max_tokens = rq->sampling.max_tokens;
    r->ignore_eog = rq->ignore_eog;
    if ((rc = rh_stop_init(&r->stop, rq->sampling.stop, rq->sampling.n_stop, err)) != RH_OK)
        goto out;

    /* the prompt tokens */
    size_t n_tok = 0;
    const char *end_marker = NULL;
    if ((rc = prompt_tokens(e, rq, &r->tok, &n_tok, &r->end_tok, &end_marker, err)) != RH_OK)
        goto out;
    if (end_marker)
        (void)rh_stop_add(&r->stop, end_marker); /* full stop list: EOG tokens still apply */
    if (n_tok == 0) {
        rc = rh_error_set(err, RH_EINVAL, "the prompt is empty");
        goto out;
    }
    if (n_tok >= (size_t)e->n_ctx) {
        rc = rh_error_set(err, RH_ELIMIT,
                          "the prompt has %zu tokens but the context holds %d: shorten the "
                          "conversation or the documents",
                          n_tok, e->n_ctx);
        goto out;
    }
    r->n_prompt = (int32_t)n_tok;
    if ((rc = rh_sampler_new(&rq->sampling, e->n_vocab, &r->smp, err)) != RH_OK)
        goto out;
    /* the penalty window sees the end of the prompt too */
    int32_t w = rq->sampling.repeat_last_n;
    for (int32_t i = r->n_prompt > w ? r->n_prompt - w : 0; i < r->n_prompt; i++)
        rh_sampler_accept(r->smp, r->tok[i]);
    rh_detok_init(&r->dt, e->vocab, false);
    r->t_submit = now_ms();

    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        rc = rh_error_set(err, RH_ECANCELED, "the engine is shutting down");
    } else if (e->n_queued >= e->opts.queue_max + (e->opts.n_slots - e->n_active)) {
        rc = rh_error_set(err, RH_EBUSY,
                          "all %d slots are busy and %d requests are waiting: try again later",
                          e->opts.n_slots, e->n_queued);
    } else {
        r->id = e->next_id++;
        if (e->q_tail)
            e->q_tail->next = r;
        else
            e->q_head = r;
        e->q_tail = r;
        e->n_queued++;
        if (id)
            *id = r->id;
        pthread_cond_signal(&e->cv);
        r = NULL; /* owned by the scheduler now */
    }
    pthread_mutex_unlock(&e->mu);
out:
    req_free(r);
    return rc;
}

int engine_cancel(rh_engine *e, uint64_t id)
{
    int rc = RH_ENOTFOUND;
    if (!e || id == 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    for (req *r = e->q_head; r && rc != RH_OK; r = r->next) {
        if (r->id == id) {
            atomic_store(&r->cancel, true);
            rc = RH_OK;
        }
    }
    for (int s = 0; s < e->opts.n_slots && rc != RH_OK; s++) {
        req *r = e->slots[s];
        if (r && r->id == id) {
            atomic_store(&r->cancel, true);
            rc = RH_OK;
        }
    }
    if (rc == RH_OK)
        pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- information ---------------------------------------------------------- */

void engine_stats(rh_engine *e, rh_engine_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    out->n_slots = e->opts.n_slots;
    out->active = e->n_active;
    out->queued = e->n_queued;
    out->queue_max = e->opts.queue_max;
    out->requests_done = e->st_done;
    out->tokens_prompt = e->st_prompt;
    out->tokens_generated = e->st_gen;
    out->tokens_cached = e->st_cached;
    out->steps = e->st_steps;
    pthread_mutex_unlock(&e->mu);
}

void engine_info(const rh_engine *e, rh_engine_info *out)
{
    memset(out, 0, sizeof *out);
    if (!e)
        return;
    const rh_model_info *mi = rh_model_get_info(e->model);
    out->arch = mi->arch_name;
    out->name = e->name;
    out->chat_family = rh_chat_family_name(e->family);
    out->template_fallback = e->fallback;
    out->can_generate = e->can_generate;
    out->n_ctx = e->n_ctx;
    out->n_slots = e->opts.n_slots;
    out->n_vocab = e->n_vocab;
    out->n_embd = e->n_embd;
    out->n_params = mi->n_params;
    out->weight_bytes = mi->weight_bytes;
}

int64_t engine_count_tokens(rh_engine *e, const char *text, size_t len)
{
    if (!e || (!text && len))
        return RH_EINVAL;
    int32_t *tok = NULL;
    size_t n = 0;
    int rc = rh_tokenize(e->vocab, text ? text : "", len, false, true, &tok, &n, NULL);
    rh_free(tok);
    return rc != RH_OK ? rc : (int64_t)n;
}

/* ---- embeddings ----------------------------------------------------------- */

int engine_embed(rh_engine *e, const char *const *texts, size_t n, bool normalize, float *out,
                 rh_error *err)
{
    int rc = RH_OK;
    int32_t *tok = NULL;
    if (!e || (n && (!texts || !out)))
        return rh_error_set(err, RH_EINVAL, "engine_embed: missing arguments");
    pthread_mutex_lock(&e->compute_mu);
    rh_ctx *c = e->ctx;
    if (e->can_generate) {
        if (!e->embed_ctx &&
            (rc = rh_ctx_new(e->model, e->n_ctx, 1, e->pool, &e->embed_ctx, err)) != RH_OK)
            goto out;
        c = e->embed_ctx;
    }
    for (size_t i = 0; i < n; i++) {
        size_t nt = 0;
        const char *t = texts[i] ? texts[i] : "";
        if ((rc = rh_tokenize(e->vocab, t, strlen(t), true, false, &tok, &nt, err)) != RH_OK)
            goto out;
        if (nt == 0) {
            rc = rh_error_set(err, RH_EINVAL, "text %zu is empty", i + 1);
            goto out;
        }
        if (nt > (size_t)rh_ctx_n_ctx(c)) {
            rc = rh_error_set(err, RH_ELIMIT, "text %zu has %zu tokens, more than the %d the "
                              "model takes: split it into smaller pieces", i + 1, nt,
                              rh_ctx_n_ctx(c));
            goto out;
        }
        float *v = out + i * (size_t)e->n_embd;
        if ((rc = rh_embed(c, tok, (int)nt, v, err)) != RH_OK)
            goto out;
        rh_free(tok);
        tok = NULL;
        if (normalize) {
            double ss = 0.0;
            for (int32_t k = 0; k < e->n_embd; k++)
                ss += (double)v[k] * v[k];
            if (ss > 0.0) {
                float inv = (float)(1.0 / sqrt(ss));
                for (int32_t k = 0; k < e->n_embd; k++)
                    v[k] *= inv;
            }
        }
    }
out:
    pthread_mutex_unlock(&e->compute_mu);
    rh_free(tok);
    return rc;
}
