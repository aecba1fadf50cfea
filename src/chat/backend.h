/*
 * backend.h - what answers chats: the interface between the portal and a
 * text generator.
 *
 * A backend lists its models and runs one streaming completion at a time
 * per call (calls may run concurrently from several worker threads). The
 * first implementation forwards to OpenAI-compatible upstream servers
 * (upstream.c); the local inference engine (src/engine/engine.h) will be a
 * second one behind the same table of functions.
 */
#ifndef RH_CHAT_BACKEND_H
#define RH_CHAT_BACKEND_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct backend_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} backend_msg;

typedef struct backend_req {
    const char *model;
    const backend_msg *msgs; /* chat mode */
    size_t n_msgs;
    const char *prompt;      /* completion mode when non-NULL (msgs ignored) */
    int max_tokens;          /* <= 0: backend default */
    double temperature;      /* < 0: backend default */
} backend_req;

typedef struct backend_result {
    char finish_reason[16]; /* "stop", "length", "cancelled", "error" */
    int64_t prompt_tokens;
    int64_t completion_tokens;
    char served_by[64];     /* which upstream/engine answered */
} backend_result;

/* Called for every piece of generated text; return non-zero to stop. */
typedef int (*backend_delta_fn)(void *ud, const char *text, size_t len);

typedef struct backend_model {
    char id[128];
    char name[128];
    const char *source; /* "local" or "upstream" (static string) */
    int64_t size_bytes;
    char quantization[32];
    int64_t context_length;  /* the model's training context (metadata) */
    int64_t memory_bytes;    /* local: estimated memory when loaded (weights + KV cache) */
    int loaded;              /* local: loaded right now */
    int available;
} backend_model;

typedef struct backend_models {
    backend_model *items;
    size_t n;
} backend_models;

typedef struct backend backend;

typedef struct backend_vtbl {
    int (*list_models)(backend *b, backend_models *out, rh_error *err);
    /* Runs to completion, calling `cb` per delta. Returns RH_OK,
     * RH_ECANCELED when *cancel became non-zero or cb asked to stop, or an
     * error (RH_EIO: nobody reachable, RH_ENOTFOUND: unknown model) with a
     * message in err. `res` is filled in every case. */
    int (*generate)(backend *b, const backend_req *req, backend_delta_fn cb, void *ud,
                    const atomic_int *cancel, backend_result *res, rh_error *err);
    /* JSON array describing the backend's parts for the admin status page
     * (new reference), or NULL. */
    json_t *(*status)(backend *b);
    void (*destroy)(backend *b);
    /* Optional (NULL: no embeddings): sentence embeddings of texts[0..n)
     * with `model`, L2-normalised; *out (n * *dim floats) is rh_malloc'ed.
     * RH_ENOTFOUND for an unknown model, RH_EUNSUPPORTED when the model
     * cannot embed. */
    int (*embed)(backend *b, const char *model, const char *const *texts, size_t n, float **out,
                 int *dim, rh_error *err);
} backend_vtbl;

struct backend {
    const backend_vtbl *vt;
    void *impl;
};

void backend_models_free(backend_models *m);

/* The upstream implementation (upstream.c): one backend over all
 * [upstream NAME] sections of the configuration, with failover. */
struct rh_config;
int upstream_backend_create(const struct rh_config *cfg, backend **out, rh_error *err);

/* The local engine over the GGUF files in models_dir (local.c). */
int local_backend_create(const struct rh_config *cfg, backend **out, rh_error *err);
/* Unload local models unused for longer than model_idle_unload now
 * (also done by the backend's own timer); returns how many. Tests. */
int local_backend_unload_idle(backend *b);
/* Ask `first`; when it does not know the model, `second`. Takes ownership. */
int backend_combine(backend *first, backend *second, backend **out, rh_error *err);
/* What `rathaus serve` uses: local models first, then the upstreams. */
int backend_create_default(const struct rh_config *cfg, backend **out, rh_error *err);

static inline void backend_destroy(backend *b)
{
    if (b)
        b->vt->destroy(b);
}

#endif
