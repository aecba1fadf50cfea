/*
 * model_bert.c - the bert encoder (sentence embeddings) and rh_embed.
 *
 * bert: token + position + token-type(0) embeddings -> LayerNorm; per layer
 * self-attention over the whole sequence (not causal, with biases) ->
 * residual -> LayerNorm -> FFN with GELU (tanh approximation) -> residual ->
 * LayerNorm; then pooling (mean, CLS or last token), not normalized.
 * Decoder models embed through the causal stack (model_decoder.c) and pool
 * the final normed hidden states.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/model_int.h"
#include "engine/ops.h"

static void layernorm(float *y, const float *x, const float *w, const float *b, int64_t n,
                      float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    float mean = (float)(sum / (double)n);
    double var = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float d = x[i] - mean;
        y[i] = d;
        var += (double)d * (double)d;
    }
    float scale = 1.0f / sqrtf((float)(var / (double)n) + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = y[i] * scale * w[i] + b[i];
}

static float gelu(float x)
{
    const float a = 0.044715f, s2pi = 0.79788456080286535587989211986876f;
    return 0.5f * x * (1.0f + tanhf(s2pi * x * (1.0f + a * x * x)));
}

static void gelu_rows(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = gelu(x[i]);
}

static float dot_f32(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int d = 0; d < n; d++)
        s += a[d] * b[d];
    return s;
}

static void wsum_f32(float *out, const float *w, const float *v, size_t stride, int n_pos,
                     int hd)
{
    for (int d = 0; d < hd; d++)
        out[d] = 0.0f;
    for (int p = 0; p < n_pos; p++)
        for (int d = 0; d < hd; d++)
            out[d] += w[p] * v[(size_t)p * stride + (size_t)d];
}

/* The SIMD versions (model_vec_avx2.c) when the ops layer runs a SIMD
 * kernel set, which implies AVX2 and FMA; portable C otherwise. */
typedef struct bert_vec {
    float (*dot)(const float *, const float *, int);
    void (*wsum)(float *, const float *, const float *, size_t, int, int);
    void (*gelu)(float *, int64_t);
} bert_vec;

static bert_vec vec_ops(void)
{
    bert_vec v = {dot_f32, wsum_f32, gelu_rows};
    if (strcmp(rh_ops_kernel_name(), "scalar") != 0)
        v = (bert_vec){rhm_dot_f32_avx2, rhm_wsum_f32_avx2, rhm_gelu_avx2};
    return v;
}

typedef struct gelu_job {
    float *x;
    int64_t n;
    void (*gelu)(float *, int64_t);
} gelu_job;

/* GELU over n values, split between the threads in blocks of 64. */
static void gelu_task(void *arg, int ith, int nth)
{
    const gelu_job *j = arg;
    int64_t blocks = (j->n + 63) / 64;
    int64_t b0 = blocks * ith / nth, b1 = blocks * (ith + 1) / nth;
    int64_t i0 = b0 * 64, i1 = b1 * 64 < j->n ? b1 * 64 : j->n;
    if (i1 > i0)
        j->gelu(j->x + i0, i1 - i0);
}

typedef struct bert_job {
    rh_ctx *c;
    int n;
} bert_job;

/* Full (bidirectional) attention of every token over the whole sequence. */
static void bert_attention(void *arg, int ith, int nth)
{
    const bert_job *j = arg;
    rh_ctx *c = j->c;
    const rh_model *m = c->m;
    int n_head = m->info.n_head, hd = m->info.head_dim, n = j->n;
    int group = n_head / m->info.n_head_kv;
    int64_t Q = m->q_dim, KV = m->kv_dim;
    float scale = 1.0f / sqrtf((float)hd);
    float *sc = c->scores + (size_t)ith * (size_t)c->score_len;
    int64_t total = (int64_t)n * n_head;

    bert_vec vo = vec_ops();
    for (int64_t task = ith; task < total; task += nth) {
        int t = (int)(task / n_head), h = (int)(task % n_head), kvh = h / group;
        const float *q = c->q + t * Q + (int64_t)h * hd;
        float *out = c->att + t * Q + (int64_t)h * hd;
        float mx = -INFINITY;
        for (int p = 0; p < n; p++) {
            const float *k = c->k + p * KV + (int64_t)kvh * hd;
            float s = vo.dot(q, k, hd) * scale;
            sc[p] = s;
            if (s > mx)
                mx = s;
        }
        double sum = 0.0;
        for (int p = 0; p < n; p++) {
            float e = expf(sc[p] - mx);
            sc[p] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int p = 0; p < n; p++)
            sc[p] *= inv;
        vo.wsum(out, sc, c->v + (int64_t)kvh * hd, (size_t)KV, n, hd);
    }
}

static void pool_rows(const float *x, int n, int64_t E, rh_pooling how, float *out)
{
    if (how == RH_POOL_CLS) {
        memcpy(out, x, (size_t)E * sizeof(float));
    } else if (how == RH_POOL_LAST) {
        memcpy(out, x + (int64_t)(n - 1) * E, (size_t)E * sizeof(float));
    } else {
        for (int64_t i = 0; i < E; i++) {
            double s = 0.0;
            for (int t = 0; t < n; t++)
                s += x[t * E + i];
            out[i] = (float)(s / n);
        }
    }
}

int rhm_bert_embed(rh_ctx *c, const int32_t *tok, int n, float *out, rh_error *err)
{
    const rh_model *m = c->m;
    const rh_model_info *in = &m->info;
    int64_t E = in->n_embd, Q = m->q_dim, KV = m->kv_dim, F = in->n_ff;
    float eps = in->norm_eps;
    float *tmp = c->h;

    if (n > c->n_batch)
        return rh_error_set(err, RH_ELIMIT,
                            "rh_embed: %d tokens exceed the model's maximum of %d; shorten the text",
                            n, c->n_batch);
    for (int t = 0; t < n; t++) {
        float *x = c->x + t * E;
        rh_get_row(m->tok_embd.type, m->tok_embd.data, E, tok[t], x);
        if (m->tok_types.data) {
            rh_get_row(m->tok_types.type, m->tok_types.data, E, 0, tmp);
            for (int64_t i = 0; i < E; i++)
                x[i] += tmp[i];
        }
        rh_get_row(m->pos_embd.type, m->pos_embd.data, E, t, tmp);
        for (int64_t i = 0; i < E; i++)
            x[i] += tmp[i];
        layernorm(x, x, m->embd_norm, m->embd_norm_b, E, eps);
    }

    for (int il = 0; il < in->n_layer; il++) {
        const rhm_layer *ly = &m->layers[il];
        rhm_matmul(c, &ly->wq, c->x, n, c->q);
        rhm_matmul(c, &ly->wk, c->x, n, c->k);
        rhm_matmul(c, &ly->wv, c->x, n, c->v);
        rhm_add_bias(c->q, ly->bq, Q, n);
        rhm_add_bias(c->k, ly->bk, KV, n);
        rhm_add_bias(c->v, ly->bv, KV, n);
        bert_job job = {c, n};
        if (c->pool && c->n_threads > 1)
            rh_pool_run(c->pool, bert_attention, &job);
        else
            bert_attention(&job, 0, 1);
        rhm_matmul(c, &ly->wo, c->att, n, c->o);
        rhm_add_bias(c->o, ly->bo, E, n);
        for (int t = 0; t < n; t++) {
            float *x = c->x + t * E;
            for (int64_t i = 0; i < E; i++)
                x[i] += c->o[t * E + i];
            layernorm(x, x, ly->norm1, ly->norm1_b, E, eps);
        }
        rhm_matmul(c, &ly->ffn_up, c->x, n, c->u);
        rhm_add_bias(c->u, ly->ffn_up_b, F, n);
        gelu_job gj = {c->u, (int64_t)n * F, vec_ops().gelu};
        if (c->pool && c->n_threads > 1)
            rh_pool_run(c->pool, gelu_task, &gj);
        else
            gelu_task(&gj, 0, 1);
        rhm_matmul(c, &ly->ffn_down, c->u, n, c->o);
        rhm_add_bias(c->o, ly->ffn_down_b, E, n);
        for (int t = 0; t < n; t++) {
            float *x = c->x + t * E;
            for (int64_t i = 0; i < E; i++)
                x[i] += c->o[t * E + i];
            layernorm(x, x, ly->norm2, ly->norm2_b, E, eps);
        }
    }
    pool_rows(c->x, n, E, in->pooling == RH_POOL_NONE ? RH_POOL_CLS : in->pooling, out);
    return RH_OK;
}

/* Decoder embedding: run the causal stack on slot 0 (cleared before and
 * after) and pool the final normed hidden states. */
static int decoder_embed(rh_ctx *c, const int32_t *tok, int n, float *out, rh_error *err)
{
    const rh_model *m = c->m;
    int64_t E = m->info.n_embd;
    rh_pooling how = m->info.pooling == RH_POOL_NONE ? RH_POOL_LAST : m->info.pooling;
    int rc = RH_OK;
    int32_t *pos = rh_malloc_array((size_t)n, sizeof(int32_t));
    int32_t *seq = rh_calloc((size_t)n, sizeof(int32_t));
    uint8_t *want = rh_calloc((size_t)n, 1);
    int n_out = how == RH_POOL_MEAN ? n : 1;
    float *hid = rh_malloc_array((size_t)n_out * (size_t)E, sizeof(float));
    if (!pos || !seq || !want || !hid) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        pos[i] = i;
        want[i] = how == RH_POOL_MEAN || (how == RH_POOL_CLS ? i == 0 : i == n - 1);
    }
    rh_ctx_seq_clear(c, 0);
    rh_batch b = {n, tok, pos, seq, want};
    rc = rhm_decoder_run(c, &b, NULL, hid, err);
    rh_ctx_seq_clear(c, 0);
    if (rc == RH_OK)
        pool_rows(hid, n_out, E, how == RH_POOL_MEAN ? RH_POOL_MEAN : RH_POOL_CLS, out);
out:
    rh_free(pos);
    rh_free(seq);
    rh_free(want);
    rh_free(hid);
    return rc;
}

int rh_embed(rh_ctx *c, const int32_t *tok, int n, float *out, rh_error *err)
{
    if (!c || !tok || !out || n <= 0)
        return rh_error_set(err, RH_EINVAL, "rh_embed: no tokens to embed");
    const rh_model *m = c->m;
    for (int i = 0; i < n; i++)
        if (tok[i] < 0 || tok[i] >= m->info.n_vocab)
            return rh_error_set(err, RH_EINVAL, "rh_embed: token id %d is outside the vocabulary",
                                tok[i]);
    if (n > c->n_ctx)
        return rh_error_set(err, RH_ELIMIT,
                            "rh_embed: %d tokens exceed the context size %d; shorten the text", n,
                            c->n_ctx);
    if (m->info.arch == RH_ARCH_BERT)
        return rhm_bert_embed(c, tok, n, out, err);
    return decoder_embed(c, tok, n, out, err);
}
