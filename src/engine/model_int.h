/*
 * model_int.h - internals of the model module shared by its source files
 * (model.c: loading and contexts; model_decoder.c: the causal decoder
 * forward pass; model_bert.c: the bert encoder). Not an API: only the
 * model_*.c files include it (like SQLite's btreeInt.h).
 */
#ifndef RH_ENGINE_MODEL_INT_H
#define RH_ENGINE_MODEL_INT_H

#include <stdint.h>

#include "engine/model.h"

/* A weight matrix bound to the mapping: `rows` rows of `cols` values. */
typedef struct rhm_mat {
    int type;
    const void *data; /* NULL: absent (optional tensor) */
    int64_t cols, rows;
} rhm_mat;

typedef struct rhm_layer {
    /* decoders: attn_norm, ffn_norm (RMS); bert: attn_output_norm and
     * layer_output_norm (LayerNorm with bias) */
    float *norm1, *norm1_b, *norm2, *norm2_b;
    rhm_mat wq, wk, wv, wo;
    float *bq, *bk, *bv, *bo; /* NULL when absent */
    float *q_norm, *k_norm;   /* qwen3: per-head RMSNorm weights (head_dim) */
    rhm_mat ffn_gate, ffn_up, ffn_down;
    float *ffn_up_b, *ffn_down_b; /* bert */
} rhm_layer;

struct rh_model {
    gguf_file *gf;
    rh_vocab *vocab;
    rh_model_info info;
    char arch_name[16];

    int n_rot;          /* rotary dimensions (<= head_dim, even) */
    bool rope_neox;     /* rotate halves (qwen) instead of adjacent pairs (llama) */
    float rope_scale;   /* positions are multiplied by this (linear scaling) */
    float *rope_ff;     /* n_rot/2 frequency factors (Llama 3.1), or NULL */
    int64_t q_dim, kv_dim; /* n_head*head_dim, n_head_kv*head_dim */

    rhm_mat tok_embd, output, pos_embd, tok_types;
    float *embd_norm, *embd_norm_b; /* bert */
    float *out_norm;                /* decoders */
    rhm_layer *layers;
};

struct rh_ctx {
    rh_model *m;
    rh_pool *pool;
    int n_ctx, n_seq, n_batch, n_threads;
    int32_t *seq_len;    /* n_seq */
    uint16_t *k_cache;   /* [layer][seq][kv head][pos][head_dim] fp16 (rhm_kv_offset) */
    uint16_t *v_cache;
    /* working buffers for up to n_batch tokens */
    float *x, *h, *q, *k, *v, *att, *g, *u, *o;
    float *scores;       /* n_threads x heads per kv head x score_len */
    float *qh;           /* n_threads x q_dim: fp16-rounded queries */
    int64_t score_len;
    float *hid;          /* n_batch x n_embd: gathered rows for the head */
    float *xr;           /* n_batch x max(n_embd, q_dim, n_ff): rounded activations */
    float *rope;         /* n_batch x n_rot: cos/sin pairs per token */
    /* rh_decode's validation buffers, kept between calls (no allocation
     * per generated token): sequence lengths and the logits flags */
    int32_t *len_tmp;    /* n_seq */
    uint8_t *want;       /* want_cap, grown on demand */
    size_t want_cap;
};

/* Index of (layer, seq, kv head, pos) in k_cache / v_cache: each kv head's
 * rows of a sequence are contiguous, so the attention over one kv head
 * streams one sequential run from memory (with rows kv_dim apart, the
 * strided reads of long contexts ran at a fraction of the bandwidth). */
static inline size_t rhm_kv_offset(const struct rh_ctx *c, int layer, int seq, int kvh, int pos)
{
    size_t n_kv = (size_t)c->m->info.n_head_kv, hd = (size_t)c->m->info.head_dim;
    return ((((size_t)layer * (size_t)c->n_seq + (size_t)seq) * n_kv + (size_t)kvh) *
                (size_t)c->n_ctx +
            (size_t)pos) *
           hd;
}

/* fp16 <-> f32 as the cache stores them (table based, exact; f32 -> fp16
 * rounds to nearest even, overflow gives infinity). */
float rhm_h2f(uint16_t h);
uint16_t rhm_f2h(float f);
void rhm_fp16_init(void);

/* Attention primitives over fp16 rows (model_attn_avx2.c; use only after
 * the cpu check in model_decoder.c). */
float rhm_dot_f16_avx2(const float *q, const uint16_t *k, int n);
void rhm_softmax_f16_avx2(float *s, int n);
void rhm_wsum_f16_avx2(float *out, const float *w, const uint16_t *v, size_t stride, int n_pos,
                       int hd);
/* All query heads of one kv head at once (model_attn_avx512.c, with the
 * AVX-512 kernel set): scores need hd % 16 == 0 and hd <= RHM_ATT_MAX_HD,
 * the weighted sums hd % 32 == 0. */
#define RHM_ATT_MAX_HD 256
void rhm_scores_f16_avx512(float *sc, size_t L, const float *q, int nh, int hd,
                           const uint16_t *k, size_t stride, int n_pos, float scale);
void rhm_wsum_heads_f16_avx512(float *out, const float *w, size_t L, int nh, const uint16_t *v,
                               size_t stride, int n_pos, int hd);
void rhm_softmax_f16_avx512(float *s, int n);
/* The same with AVX2 (model_attn_avx2.c): scores need hd % 8 == 0 and
 * hd <= RHM_ATT_MAX_HD, the weighted sums hd % 32 == 0. */
void rhm_scores_f16_avx2(float *sc, size_t L, const float *q, int nh, int hd, const uint16_t *k,
                         size_t stride, int n_pos, float scale);
void rhm_wsum_heads_f16_avx2(float *out, const float *w, size_t L, int nh, const uint16_t *v,
                             size_t stride, int n_pos, int hd);

/* f32 row primitives of the encoder (model_vec_avx2.c, SIMD kernel sets
 * only): dot product, weighted sum of rows, GELU (tanh approximation) in
 * place. */
float rhm_dot_f32_avx2(const float *a, const float *b, int n);
void rhm_wsum_f32_avx2(float *out, const float *w, const float *v, size_t stride, int n_pos,
                       int hd);
void rhm_gelu_avx2(float *x, int64_t n);
/* For the decoder (model_vec_avx2.c, SIMD kernel sets only): sum of
 * squares in double precision; fp16 rounding of a row. */
double rhm_sumsq_avx2(const float *x, int64_t n);
void rhm_f32_to_f16_avx2(uint16_t *dst, const float *src, int64_t n);
void rhm_round_f16_avx2(float *dst, const float *src, int64_t n);

/* Shared numeric helpers (model_decoder.c). */
void rhm_matmul(rh_ctx *c, const rhm_mat *w, const float *x, int64_t n, float *y);
void rhm_rmsnorm(float *x, const float *in, const float *w, int64_t n, float eps);
void rhm_add_bias(float *y, const float *b, int64_t rows, int64_t n);

/* Decoder forward over a batch; writes logits (marked tokens, in order) to
 * `logits` and/or the final normed hidden states to `hidden` (either NULL). */
int rhm_decoder_run(rh_ctx *c, const rh_batch *b, float *logits, float *hidden, rh_error *err);
/* Bert encoder over one sequence, pooled into out (n_embd). */
int rhm_bert_embed(rh_ctx *c, const int32_t *tok, int n, float *out, rh_error *err);

#endif
