/*
 * model_decoder.c - the forward pass of the causal decoders (llama, qwen2,
 * qwen3) over a batch of tokens from several sequences, with the F16 KV
 * cache; plus the numeric helpers shared with the bert encoder.
 *
 * Per layer: RMSNorm -> Q,K,V (one rh_matmul over the whole batch) ->
 * biases (qwen2) / per-head RMSNorm of q,k (qwen3) -> RoPE -> K,V stored as
 * fp16 at each token's (seq, pos) -> causal grouped-query attention per
 * (token, head) on the thread pool -> output projection -> residual ->
 * RMSNorm -> SwiGLU FFN -> residual. Final RMSNorm and the output
 * projection only for the tokens whose logits are wanted.
 *
 * Numerics follow the reference (llama.cpp on CPU with an F16 KV cache):
 * sums of squares in double, q rounded to fp16 before q.k (the reference
 * multiplies against the fp16 cache in fp16), softmax in f32 with a double
 * sum, probabilities rounded to fp16 before they weight the fp16 values,
 * RoPE angles built by repeated multiplication as the reference does.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/model_int.h"
#include "engine/quant.h"

/* ---- fp16 ------------------------------------------------------------- */

static float h2f_table[65536];
static pthread_once_t h2f_once = PTHREAD_ONCE_INIT;

static float h2f_slow(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (e == 0) {
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | (mant << 13);
    else
        bits = sign | ((e + 112u) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float dot_f16_scalar(const float *q, const uint16_t *k, int n)
{
    float s = 0.0f;
    for (int d = 0; d < n; d++)
        s += q[d] * h2f_table[k[d]];
    return s;
}

static void wsum_f16_scalar(float *out, const float *w, const uint16_t *v, size_t stride,
                            int n_pos, int hd)
{
    for (int d = 0; d < hd; d++)
        out[d] = 0.0f;
    for (int p = 0; p < n_pos; p++) {
        const uint16_t *vr = v + (size_t)p * stride;
        for (int d = 0; d < hd; d++)
            out[d] += w[p] * h2f_table[vr[d]];
    }
}


static void softmax_f16_scalar(float *s, int n)
{
    float mx = -INFINITY;
    for (int p = 0; p < n; p++)
        mx = s[p] > mx ? s[p] : mx;
    double sum = 0.0;
    for (int p = 0; p < n; p++) {
        float e = expf(s[p] - mx);
        s[p] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int p = 0; p < n; p++)
        s[p] = h2f_table[rhm_f2h(s[p] * inv)];
}

/* Chosen once: SIMD when the CPU has it and the kernels are not forced to
 * scalar (RATHAUS_KERNELS=scalar makes the whole engine portable C). */
static float (*dot_f16)(const float *, const uint16_t *, int) = dot_f16_scalar;
static void (*wsum_f16)(float *, const float *, const uint16_t *, size_t, int, int) =
    wsum_f16_scalar;
static void (*softmax_f16)(float *, int) = softmax_f16_scalar;
/* the head-group primitives: 2 = model_attn_avx512.c, 1 = model_attn_avx2.c */
static int att_group;

static double sumsq_scalar(const float *x, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * (double)x[i];
    return sum;
}

static void to_f16_scalar(uint16_t *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = rhm_f2h(src[i]);
}

static void round_f16_scalar(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = h2f_table[rhm_f2h(src[i])];
}

static double (*sumsq)(const float *, int64_t) = sumsq_scalar;
static void (*round_f16)(float *, const float *, int64_t) = round_f16_scalar;
static void (*to_f16)(uint16_t *, const float *, int64_t) = to_f16_scalar;

static void h2f_build(void)
{
    for (uint32_t i = 0; i < 65536; i++)
        h2f_table[i] = h2f_slow((uint16_t)i);
    /* the ops layer chose its kernel set from the CPU's features: any set
     * but "scalar" implies AVX2, FMA and F16C */
    if (strcmp(rh_ops_kernel_name(), "scalar") != 0) {
        dot_f16 = rhm_dot_f16_avx2;
        wsum_f16 = rhm_wsum_f16_avx2;
        sumsq = rhm_sumsq_avx2;
        round_f16 = rhm_round_f16_avx2;
        to_f16 = rhm_f32_to_f16_avx2;
        softmax_f16 = rhm_softmax_f16_avx2;
    }
    if (strcmp(rh_ops_kernel_name(), "avx512vnni") == 0) {
        att_group = 2;
        softmax_f16 = rhm_softmax_f16_avx512;
    }
    else if (strcmp(rh_ops_kernel_name(), "scalar") != 0)
        att_group = 1;
}

void rhm_fp16_init(void) { pthread_once(&h2f_once, h2f_build); }

float rhm_h2f(uint16_t h) { return h2f_table[h]; }

/* f32 -> fp16, round to nearest even; overflow gives infinity. */
uint16_t rhm_f2h(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x47800000u) /* too large for half, inf or NaN */
        return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (ax < 0x38800000u) { /* half subnormal or zero: let the FPU round */
        float af, magic = 0.5f;
        memcpy(&af, &ax, sizeof af);
        af += magic;
        uint32_t r;
        memcpy(&r, &af, sizeof r);
        return (uint16_t)(sign | (r - 0x3f000000u));
    }
    uint32_t odd = (ax >> 13) & 1u;
    ax += 0xc8000fffu + odd; /* rebias the exponent, round */
    return (uint16_t)(sign | (ax >> 13));
}

static inline float round_h(float f) { return h2f_table[rhm_f2h(f)]; }

/* ---- helpers ---------------------------------------------------------- */

/* The reference quantizes activations for Q4_0/Q5_0/Q8_0 weights into
 * blocks of 32 whose scale amax/127 it stores as fp16. rh_matmul keeps that
 * scale in f32; scaling each block so that its largest value becomes exactly
 * 127 x fp16(amax/127) makes the two agree (the quantized values stay the
 * same, only the scale is rounded) - and is harmless should the kernel round
 * the scale itself. */
static void precondition_q8(float *dst, const float *x, int64_t n)
{
    for (int64_t b = 0; b + 32 <= n; b += 32) {
        const float *xb = x + b;
        float *yb = dst + b;
        float amax = 0.0f;
        int imax = 0;
        for (int i = 0; i < 32; i++) {
            float a = fabsf(xb[i]);
            if (a > amax) {
                amax = a;
                imax = i;
            }
        }
        float h = round_h(amax / 127.0f);
        if (!(amax > 0.0f) || !isfinite(h)) {
            memcpy(yb, xb, 32 * sizeof(float));
            continue;
        }
        float target = 127.0f * h, r = target / amax;
        for (int i = 0; i < 32; i++)
            yb[i] = xb[i] * r;
        yb[imax] = xb[imax] < 0.0f ? -target : target;
    }
}

/* y = W.x. For F16/BF16 weights the reference multiplies activations
 * rounded to the weight's type; doing the same here keeps us within its
 * rounding (idempotent if the kernel rounds as well). */
/* How the activations are prepared for weights of this type (see below). */
enum { PREP_NONE, PREP_F16, PREP_BF16, PREP_Q8 };

static int prep_kind(const rhm_mat *w)
{
    if (w->type == RH_TYPE_F16)
        return PREP_F16;
    if (w->type == RH_TYPE_BF16)
        return PREP_BF16;
    if ((w->type == RH_TYPE_Q8_0 || w->type == RH_TYPE_Q4_0 || w->type == RH_TYPE_Q5_0) &&
        w->cols % 32 == 0)
        return PREP_Q8;
    return PREP_NONE;
}

/* For F16/BF16 weights the reference multiplies activations rounded to the
 * weight's type; doing the same here keeps us within its rounding
 * (idempotent if the kernel rounds as well). Returns x or c->xr. */
static const float *prep_input(rh_ctx *c, int kind, const float *x, int64_t cnt)
{
    switch (kind) {
    case PREP_F16:
        round_f16(c->xr, x, cnt);
        return c->xr;
    case PREP_BF16:
        for (int64_t i = 0; i < cnt; i++)
            c->xr[i] = rh_bf16_to_fp32(rh_fp32_to_bf16(x[i]));
        return c->xr;
    case PREP_Q8:
        precondition_q8(c->xr, x, cnt);
        return c->xr;
    default:
        return x;
    }
}

/* y = W.x. */
void rhm_matmul(rh_ctx *c, const rhm_mat *w, const float *x, int64_t n, float *y)
{
    x = prep_input(c, prep_kind(w), x, n * w->cols);
    rh_matmul(c->pool, w->type, w->data, w->rows, w->cols, x, n, y);
}

/* y[i] = W[i].x for up to 3 matrices with the same input (Q/K/V), or with
 * glu: y[0] = silu(W[0].x) * W[1].x (gate/up): one preparation, one
 * quantization and one pool run when they allow it; the results are the
 * same as from separate rhm_matmul calls. */
static void rhm_matmul_n(rh_ctx *c, const rhm_mat *const *w, float *const *y, int k,
                         const float *x, int64_t n, int glu)
{
    int kind = prep_kind(w[0]);
    for (int i = 1; i < k; i++)
        if (prep_kind(w[i]) != kind || w[i]->cols != w[0]->cols ||
            (glu && w[i]->rows != w[0]->rows)) {
            for (int m = 0; m < k; m++)
                rhm_matmul(c, w[m], x, n, y[m]);
            if (glu)
                rh_silu_mul(y[0], y[1], n * w[0]->rows);
            return;
        }
    x = prep_input(c, kind, x, n * w[0]->cols);
    rh_mm_item it[3];
    for (int i = 0; i < k; i++)
        it[i] = (rh_mm_item){w[i]->type, w[i]->data, w[i]->rows, y[i]};
    if (glu)
        rh_matmul_glu(c->pool, &it[0], &it[1], w[0]->cols, x, n);
    else
        rh_matmul_multi(c->pool, it, k, w[0]->cols, x, n);
}

void rhm_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double sum = sumsq(x, n);
    float mean = (float)(sum / (double)n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

void rhm_add_bias(float *y, const float *b, int64_t rows, int64_t n)
{
    if (!b)
        return;
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < rows; i++)
            y[t * rows + i] += b[i];
}

/* cos/sin of every rotary pair for each token of the batch. */
static void rope_prepare(const rh_model *m, const int32_t *pos, int n, float *cs)
{
    int half = m->n_rot / 2;
    float theta_scale = powf(m->info.rope_base, -2.0f / (float)m->n_rot);
    for (int t = 0; t < n; t++) {
        float theta = (float)pos[t];
        float *o = cs + (size_t)t * (size_t)m->n_rot;
        for (int i = 0; i < half; i++) {
            float th = theta;
            if (m->rope_ff)
                th /= m->rope_ff[i];
            th *= m->rope_scale;
            o[2 * i] = cosf(th);
            o[2 * i + 1] = sinf(th);
            theta *= theta_scale;
        }
    }
}

/* Rotate n_heads heads of head_dim values each (one token). */
static void rope_apply(const rh_model *m, float *x, int n_heads, const float *cs)
{
    int hd = m->info.head_dim, half = m->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * (size_t)hd;
        for (int i = 0; i < half; i++) {
            float c = cs[2 * i], s = cs[2 * i + 1];
            int a = m->rope_neox ? i : 2 * i;
            int b = m->rope_neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

/* ---- attention -------------------------------------------------------- */

typedef struct att_job {
    rh_ctx *c;
    int layer, n;
    const int32_t *pos, *seq;
    int hpt;   /* query heads per task (all share one kv head) */
    int sub;   /* tasks per kv head */
} att_job;

/* One task: token t, query heads h0..h1-1 of kv head kvh. Every K and V row
 * is read once for all of them. Per head the arithmetic is the plain
 * softmax attention described at the top of this file. */
static void attention_task(void *arg, int ith, int nth)
{
    const att_job *j = arg;
    rh_ctx *c = j->c;
    const rh_model *m = c->m;
    int n_head = m->info.n_head, n_kv = m->info.n_head_kv, hd = m->info.head_dim;
    int group = n_head / n_kv;
    size_t rs = (size_t)hd; /* row stride in the cache: one kv head's rows are contiguous */
    size_t L = (size_t)c->score_len;
    float scale = 1.0f / sqrtf((float)hd);
    float *sc = c->scores + (size_t)ith * (size_t)group * L;
    float *qh = c->qh + (size_t)ith * (size_t)m->q_dim;
    int64_t total = (int64_t)j->n * n_kv * j->sub;

    for (int64_t task = ith; task < total; task += nth) {
        int t = (int)(task / ((int64_t)n_kv * j->sub));
        int rest = (int)(task % ((int64_t)n_kv * j->sub));
        int kvh = rest / j->sub, h0 = kvh * group + (rest % j->sub) * j->hpt;
        int h1 = h0 + j->hpt < (kvh + 1) * group ? h0 + j->hpt : (kvh + 1) * group;
        int nh = h1 - h0;
        int pos = j->pos[t], seq = j->seq[t];
        size_t base = rhm_kv_offset(c, j->layer, seq, kvh, 0);
        const uint16_t *kc = c->k_cache + base, *vc = c->v_cache + base;
        const float *q = c->q + (size_t)t * (size_t)m->q_dim + (size_t)h0 * (size_t)hd;
        float *out = c->att + (size_t)t * (size_t)m->q_dim + (size_t)h0 * (size_t)hd;

        /* this task's K and V rows are contiguous, and after the weights
         * streamed through the caches they come from memory: ask for all
         * of them at once (8 sequences at ~150 tokens: attention -9%) */
        for (size_t o = 0; o < (size_t)(pos + 1) * rs * 2; o += 64) {
            __builtin_prefetch((const char *)kc + o, 0, 3);
            __builtin_prefetch((const char *)vc + o, 0, 3);
        }
        round_f16(qh, q, (int64_t)nh * hd);
        if (att_group == 2 && hd % 16 == 0 && hd <= RHM_ATT_MAX_HD) {
            rhm_scores_f16_avx512(sc, L, qh, nh, hd, kc, rs, pos + 1, scale);
        } else if (att_group == 1 && hd % 8 == 0 && hd <= RHM_ATT_MAX_HD) {
            rhm_scores_f16_avx2(sc, L, qh, nh, hd, kc, rs, pos + 1, scale);
        } else {
            for (int p = 0; p <= pos; p++) {
                const uint16_t *kr = kc + (size_t)p * rs;
                for (int h = 0; h < nh; h++)
                    sc[(size_t)h * L + (size_t)p] =
                        dot_f16(qh + (size_t)h * (size_t)hd, kr, hd) * scale;
            }
        }
        for (int h = 0; h < nh; h++)
            softmax_f16(sc + (size_t)h * L, pos + 1);
        if (att_group == 2 && hd % 32 == 0) {
            rhm_wsum_heads_f16_avx512(out, sc, L, nh, vc, rs, pos + 1, hd);
        } else if (att_group == 1 && hd % 32 == 0) {
            rhm_wsum_heads_f16_avx2(out, sc, L, nh, vc, rs, pos + 1, hd);
        } else {
            for (int h = 0; h < nh; h++)
                wsum_f16(out + (size_t)h * (size_t)hd, sc + (size_t)h * L, vc, rs,
                         pos + 1, hd);
        }
    }
}

static void run_pool(rh_ctx *c, void (*fn)(void *, int, int), void *arg)
{
    if (c->pool && c->n_threads > 1)
        rh_pool_run(c->pool, fn, arg);
    else
        fn(arg, 0, 1);
}

/* ---- forward ---------------------------------------------------------- */

/* One chunk of at most n_batch tokens. `n_out` receives the number of rows
 * written to logits / hidden. */
static void forward_chunk(rh_ctx *c, const int32_t *tok, const int32_t *pos, const int32_t *seq,
                          const uint8_t *want, int n, float *logits, float *hidden, int *n_out)
{
    const rh_model *m = c->m;
    const rh_model_info *in = &m->info;
    int64_t E = in->n_embd, Q = m->q_dim, KV = m->kv_dim;
    int hd = in->head_dim;
    float eps = in->norm_eps;

    for (int t = 0; t < n; t++)
        rh_get_row(m->tok_embd.type, m->tok_embd.data, E, tok[t], c->x + t * E);
    rope_prepare(m, pos, n, c->rope);

    /* attention tasks: all query heads of a kv head together, split further
     * only when that leaves threads idle */
    int group = in->n_head / in->n_head_kv;
    att_job job = {c, 0, n, pos, seq, group, 1};
    while (job.hpt > 1 && (int64_t)n * in->n_head_kv * job.sub < 2 * (int64_t)c->n_threads) {
        job.hpt = (job.hpt + 1) / 2;
        job.sub = (group + job.hpt - 1) / job.hpt;
    }

    for (int il = 0; il < in->n_layer; il++) {
        const rhm_layer *ly = &m->layers[il];
        job.layer = il;
        for (int t = 0; t < n; t++)
            rhm_rmsnorm(c->h + t * E, c->x + t * E, ly->norm1, E, eps);
        const rhm_mat *qkv[3] = {&ly->wq, &ly->wk, &ly->wv};
        float *const qkv_y[3] = {c->q, c->k, c->v};
        rhm_matmul_n(c, qkv, qkv_y, 3, c->h, n, 0);
        rhm_add_bias(c->q, ly->bq, Q, n);
        rhm_add_bias(c->k, ly->bk, KV, n);
        rhm_add_bias(c->v, ly->bv, KV, n);
        if (ly->q_norm) {
            for (int64_t r = 0; r < (int64_t)n * in->n_head; r++)
                rhm_rmsnorm(c->q + r * hd, c->q + r * hd, ly->q_norm, hd, eps);
            for (int64_t r = 0; r < (int64_t)n * in->n_head_kv; r++)
                rhm_rmsnorm(c->k + r * hd, c->k + r * hd, ly->k_norm, hd, eps);
        }
        for (int t = 0; t < n; t++) {
            const float *cs = c->rope + (size_t)t * (size_t)m->n_rot;
            rope_apply(m, c->q + t * Q, in->n_head, cs);
            rope_apply(m, c->k + t * KV, in->n_head_kv, cs);
            for (int kvh = 0; kvh < in->n_head_kv; kvh++) {
                size_t off = rhm_kv_offset(c, il, seq[t], kvh, pos[t]);
                const float *kt = c->k + t * KV + (int64_t)kvh * hd;
                const float *vt = c->v + t * KV + (int64_t)kvh * hd;
                to_f16(c->k_cache + off, kt, hd);
                to_f16(c->v_cache + off, vt, hd);
            }
        }
        run_pool(c, attention_task, &job);
        rhm_matmul(c, &ly->wo, c->att, n, c->o);
        rhm_add_bias(c->o, ly->bo, E, n);
        for (int64_t i = 0; i < (int64_t)n * E; i++)
            c->x[i] += c->o[i];

        for (int t = 0; t < n; t++)
            rhm_rmsnorm(c->h + t * E, c->x + t * E, ly->norm2, E, eps);
        const rhm_mat *gu[2] = {&ly->ffn_gate, &ly->ffn_up};
        float *const gu_y[2] = {c->g, c->u};
        rhm_matmul_n(c, gu, gu_y, 2, c->h, n, 1);
        rhm_matmul(c, &ly->ffn_down, c->g, n, c->o);
        for (int64_t i = 0; i < (int64_t)n * E; i++)
            c->x[i] += c->o[i];
    }

    int nm = 0;
    for (int t = 0; t < n; t++)
        if (want[t])
            rhm_rmsnorm(c->hid + (size_t)nm++ * (size_t)E, c->x + t * E, m->out_norm, E, eps);
    if (nm > 0 && hidden)
        memcpy(hidden, c->hid, (size_t)nm * (size_t)E * sizeof(float));
    if (nm > 0 && logits)
        rhm_matmul(c, &m->output, c->hid, nm, logits);
    *n_out = nm;
}

int rhm_decoder_run(rh_ctx *c, const rh_batch *b, float *logits, float *hidden, rh_error *err)
{
    const rh_model *m = c->m;
    int rc = RH_OK;
    int32_t *len = NULL;
    uint8_t *want = NULL;

    if (!m->info.causal)
        return rh_error_set(err, RH_EUNSUPPORTED,
                            "rh_decode: %s is an encoder model; use rh_embed", m->arch_name);
    if (b->n < 0 || (b->n > 0 && (!b->tok || !b->pos || !b->seq)))
        return rh_error_set(err, RH_EINVAL, "rh_decode: malformed batch");
    if (b->n == 0)
        return RH_OK;

    /* Validate everything before touching the cache: tokens in range, each
     * position at most the sequence's current length (no gaps). */
    if ((size_t)b->n > c->want_cap) {
        uint8_t *nw = rh_realloc(c->want, (size_t)b->n);
        if (!nw) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            goto out;
        }
        c->want = nw;
        c->want_cap = (size_t)b->n;
    }
    len = c->len_tmp;
    want = c->want;
    memcpy(len, c->seq_len, (size_t)c->n_seq * sizeof *len);
    for (int i = 0; i < b->n; i++) {
        int32_t tk = b->tok[i], p = b->pos[i], s = b->seq[i];
        if (tk < 0 || tk >= m->info.n_vocab) {
            rc = rh_error_set(err, RH_EINVAL, "rh_decode: token id %d is outside the vocabulary "
                              "(0..%d)", tk, m->info.n_vocab - 1);
            goto out;
        }
        if (s < 0 || s >= c->n_seq) {
            rc = rh_error_set(err, RH_EINVAL, "rh_decode: sequence slot %d is out of range "
                              "(0..%d)", s, c->n_seq - 1);
            goto out;
        }
        if (p < 0 || p >= c->n_ctx) {
            rc = rh_error_set(err, RH_ELIMIT, "rh_decode: position %d exceeds the context size %d",
                              p, c->n_ctx);
            goto out;
        }
        if (p > len[s]) {
            rc = rh_error_set(err, RH_EINVAL, "rh_decode: position %d of sequence %d leaves a gap "
                              "(the sequence holds %d positions)", p, s, len[s]);
            goto out;
        }
        len[s] = p + 1;
        want[i] = b->logits ? (b->logits[i] != 0) : 0;
        if (want[i] && !logits && !hidden) {
            rc = rh_error_set(err, RH_EINVAL, "rh_decode: logits requested but no output buffer");
            goto out;
        }
    }

    int64_t n_vocab = m->info.n_vocab, E = m->info.n_embd;
    for (int start = 0; start < b->n; start += c->n_batch) {
        int n = b->n - start < c->n_batch ? b->n - start : c->n_batch;
        int n_out = 0;
        forward_chunk(c, b->tok + start, b->pos + start, b->seq + start, want + start, n, logits,
                      hidden, &n_out);
        for (int i = start; i < start + n; i++)
            c->seq_len[b->seq[i]] = b->pos[i] + 1;
        if (logits)
            logits += (size_t)n_out * (size_t)n_vocab;
        if (hidden)
            hidden += (size_t)n_out * (size_t)E;
    }
out:
    return rc;
}

int rh_decode(rh_ctx *c, const rh_batch *b, float *logits, rh_error *err)
{
    if (!c || !b)
        return rh_error_set(err, RH_EINVAL, "rh_decode: no context or batch");
    return rhm_decoder_run(c, b, logits, NULL, err);
}
