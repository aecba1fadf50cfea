/*
 * model.h - a loaded model (weights mapped from GGUF) and the forward pass.
 *
 * Architectures: llama (incl. Llama 3.1 rope_freqs, Mistral, TinyLlama,
 * SmolLM, EuroLLM), qwen2, qwen3 (decoders, causal, KV cache) and bert
 * (encoder for embeddings). Weights are never copied: tensors point into the
 * read-only mapping.
 *
 * An rh_ctx holds the KV cache for up to n_seq sequences of up to n_ctx
 * positions each, plus working buffers. One rh_decode call processes a batch
 * of tokens that may belong to different sequences (continuous batching):
 * one pass over the weights serves all of them.
 */
#ifndef RH_ENGINE_MODEL_H
#define RH_ENGINE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/gguf.h"
#include "engine/ops.h"
#include "engine/tokenizer.h"

typedef struct rh_model rh_model;
typedef struct rh_ctx rh_ctx;

typedef enum rh_arch {
    RH_ARCH_LLAMA,
    RH_ARCH_QWEN2,
    RH_ARCH_QWEN3,
    RH_ARCH_BERT,
} rh_arch;

typedef enum rh_pooling {
    RH_POOL_NONE = 0,
    RH_POOL_MEAN = 1,
    RH_POOL_CLS = 2,
    RH_POOL_LAST = 3,
} rh_pooling;

typedef struct rh_model_info {
    rh_arch arch;
    const char *arch_name;
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    uint32_t n_ctx_train;
    float rope_base, norm_eps;
    rh_pooling pooling;
    bool causal;
    uint64_t n_params;
    uint64_t weight_bytes;
} rh_model_info;

int rh_model_load(const char *path, rh_model **out, rh_error *err);
void rh_model_free(rh_model *m);
const rh_model_info *rh_model_get_info(const rh_model *m);
const rh_vocab *rh_model_vocab(const rh_model *m);
const gguf_file *rh_model_gguf(const rh_model *m);

/* n_ctx <= 0: the model's training context (capped at 4096). */
int rh_ctx_new(rh_model *m, int n_ctx, int n_seq, rh_pool *pool, rh_ctx **out, rh_error *err);
void rh_ctx_free(rh_ctx *c);
int rh_ctx_n_ctx(const rh_ctx *c);
/* Forget everything cached for sequence `seq` (its slot is free again). */
void rh_ctx_seq_clear(rh_ctx *c, int seq);
/* Number of positions cached for `seq`. */
int rh_ctx_seq_len(const rh_ctx *c, int seq);

typedef struct rh_batch {
    int n;
    const int32_t *tok;
    const int32_t *pos;       /* position within its sequence */
    const int32_t *seq;       /* sequence slot, 0 .. n_seq-1 */
    const uint8_t *logits;    /* 1: return logits for this token */
} rh_batch;

/* Run the batch; logits of the marked tokens are written in batch order to
 * `logits` (n_marked x n_vocab floats). */
int rh_decode(rh_ctx *c, const rh_batch *b, float *logits, rh_error *err);

/* Embedding of a token sequence (bert: whole sequence at once, not causal;
 * decoders: last-token or mean pooling). out: n_embd floats, not normalized. */
int rh_embed(rh_ctx *c, const int32_t *tok, int n, float *out, rh_error *err);

#endif
