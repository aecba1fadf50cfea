/*
 * model_attn_avx512.c - AVX-512 primitives of the attention over the fp16
 * KV cache for all query heads that share one kv head (compiled with the
 * AVX-512 flags; chosen in model_decoder.c only when the ops layer runs its
 * AVX-512 kernel set). Each K and V row is converted from fp16 once for
 * all heads of the group instead of once per head.
 *
 * The arithmetic of each head does not depend on how many heads are
 * processed together (so a token gives the same result alone and in a
 * batch, whatever the attention tasks look like): a score is an FMA chain
 * over the dimensions, its 16 lanes reduced in a fixed order (rh_reduce16_ps);
 * the weighted sum is, per output value, an FMA chain over the
 * positions in order (the same as rhm_wsum_f16_avx2, bit for bit).
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "engine/model_int.h"
#include "engine/vec_avx512.h"

#define AI static inline __attribute__((always_inline))

/* Scores of nh heads for 16 positions (np of them valid) whose K rows are
 * in kf (np rows of 16*NB floats): per (head, position) an FMA chain over
 * the dimensions, then the 16 positions reduced together (rh_reduce16_ps), so
 * that a vector of 16 scores is stored at once. */
AI void scores_block(float *sc, size_t L, const float *q, int nh, const float *kf, int np,
                     float scale, const int NB)
{
    const __mmask16 mask = (__mmask16)((1u << np) - 1);
    for (int h = 0; h < nh; h++) {
        const float *qh = q + (size_t)h * (size_t)(16 * NB);
        __m512 qv[RHM_ATT_MAX_HD / 16], acc[16];
#pragma GCC unroll 16
        for (int b = 0; b < NB; b++)
            qv[b] = _mm512_loadu_ps(qh + 16 * b);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i < np) {
                const float *kr = kf + (size_t)i * (size_t)(16 * NB);
                __m512 a = _mm512_mul_ps(qv[0], _mm512_load_ps(kr));
#pragma GCC unroll 16
                for (int b = 1; b < NB; b++)
                    a = _mm512_fmadd_ps(qv[b], _mm512_load_ps(kr + 16 * b), a);
                acc[i] = a;
            } else {
                acc[i] = _mm512_setzero_ps();
            }
        }
        _mm512_mask_storeu_ps(sc + (size_t)h * L, mask,
                              _mm512_mul_ps(rh_reduce16_ps(acc), _mm512_set1_ps(scale)));
    }
}

AI void scores_all(float *sc, size_t L, const float *q, int nh, const uint16_t *k, size_t stride,
                   int n_pos, float scale, const int NB)
{
    _Alignas(64) float kf[16 * RHM_ATT_MAX_HD];
    for (int p0 = 0; p0 < n_pos; p0 += 16) {
        int np = n_pos - p0 < 16 ? n_pos - p0 : 16;
        for (int i = 0; i < np; i++) {
            const uint16_t *kr = k + (size_t)(p0 + i) * stride;
            /* the rows are kv_dim apart: fetch those 32 positions on early */
            for (int b = 0; b < NB; b += 2)
                __builtin_prefetch((const void *)((uintptr_t)(kr + 32 * stride) + 32u * (unsigned)b), 0, 0);
#pragma GCC unroll 16
            for (int b = 0; b < NB; b++)
                _mm512_store_ps(kf + (size_t)i * (size_t)(16 * NB) + 16 * b,
                                _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kr + 16 * b))));
        }
        scores_block(sc + p0, L, q, nh, kf, np, scale, NB);
    }
}

/* sc[h * L + p] = scale * sum_d q[h * hd + d] * k[p * stride + d] for
 * h < nh, p < n_pos; hd a multiple of 16, at most RHM_ATT_MAX_HD. Each K
 * row is converted from fp16 once for all heads. */
void rhm_scores_f16_avx512(float *sc, size_t L, const float *q, int nh, int hd,
                           const uint16_t *k, size_t stride, int n_pos, float scale)
{
    switch (hd / 16) {
#define SC_CASE(nb)                                                                            \
    case nb:                                                                                   \
        scores_all(sc, L, q, nh, k, stride, n_pos, scale, nb);                                 \
        break;
        SC_CASE(1) SC_CASE(2) SC_CASE(3) SC_CASE(4) SC_CASE(5) SC_CASE(6) SC_CASE(7) SC_CASE(8)
        SC_CASE(9) SC_CASE(10) SC_CASE(11) SC_CASE(12) SC_CASE(13) SC_CASE(14) SC_CASE(15)
        SC_CASE(16)
#undef SC_CASE
    default:
        break;
    }
}

/* H heads, 16*NB output values from d0 (H * NB <= 16 accumulators in
 * registers): acc[h][b] over p in order. Taking whole rows (hd 64: 4 heads
 * at a time, hd 128: 2) reads the V rows front to back; the second group
 * of heads finds them in the L2. */
AI void wsum_tile(float *out, const float *w, size_t L, const uint16_t *v, size_t stride,
                  int n_pos, int hd, int d0, const int H, const int NB)
{
    __m512 a[8][8];
#pragma GCC unroll 8
    for (int h = 0; h < H; h++)
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++)
            a[h][b] = _mm512_setzero_ps();
    const uint16_t *vp = v + d0;
    for (int p = 0; p < n_pos; p++, vp += stride) {
        __m512 vv[8];
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++)
            vv[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vp + 16 * b)));
#pragma GCC unroll 8
        for (int h = 0; h < H; h++) {
            __m512 wp = _mm512_set1_ps(w[(size_t)h * L + (size_t)p]);
#pragma GCC unroll 8
            for (int b = 0; b < NB; b++)
                a[h][b] = _mm512_fmadd_ps(wp, vv[b], a[h][b]);
        }
    }
#pragma GCC unroll 8
    for (int h = 0; h < H; h++)
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++)
            _mm512_storeu_ps(out + (size_t)h * (size_t)hd + d0 + 16 * b, a[h][b]);
}

/* out[h * hd + d] = sum_p w[h * L + p] * v[p * stride + d] for h < nh,
 * d < hd; hd a multiple of 32. */
void rhm_wsum_heads_f16_avx512(float *out, const float *w, size_t L, int nh, const uint16_t *v,
                               size_t stride, int n_pos, int hd)
{
    if (hd == 64 || hd == 128) {
        int step = hd == 64 ? 4 : 2;
        for (int h0 = 0; h0 < nh; h0 += step) {
            int H = nh - h0 < step ? nh - h0 : step;
            float *o = out + (size_t)h0 * (size_t)hd;
            const float *wh = w + (size_t)h0 * L;
            if (hd == 64) {
                switch (H) {
                case 1: wsum_tile(o, wh, L, v, stride, n_pos, hd, 0, 1, 4); break;
                case 2: wsum_tile(o, wh, L, v, stride, n_pos, hd, 0, 2, 4); break;
                case 3: wsum_tile(o, wh, L, v, stride, n_pos, hd, 0, 3, 4); break;
                default: wsum_tile(o, wh, L, v, stride, n_pos, hd, 0, 4, 4); break;
                }
            } else if (H == 1) {
                wsum_tile(o, wh, L, v, stride, n_pos, hd, 0, 1, 8);
            } else {
                wsum_tile(o, wh, L, v, stride, n_pos, hd, 0, 2, 8);
            }
        }
        return;
    }
    for (int h0 = 0; h0 < nh; h0 += 8) {
        int H = nh - h0 < 8 ? nh - h0 : 8;
        float *o = out + (size_t)h0 * (size_t)hd;
        const float *wh = w + (size_t)h0 * L;
        for (int d0 = 0; d0 < hd; d0 += 32) {
            switch (H) {
            case 1: wsum_tile(o, wh, L, v, stride, n_pos, hd, d0, 1, 2); break;
            case 2: wsum_tile(o, wh, L, v, stride, n_pos, hd, d0, 2, 2); break;
            case 3: wsum_tile(o, wh, L, v, stride, n_pos, hd, d0, 3, 2); break;
            case 4: wsum_tile(o, wh, L, v, stride, n_pos, hd, d0, 4, 2); break;
            case 5: wsum_tile(o, wh, L, v, stride, n_pos, hd, d0, 5, 2); break;
            case 6: wsum_tile(o, wh, L, v, stride, n_pos, hd, d0, 6, 2); break;
            case 7: wsum_tile(o, wh, L, v, stride, n_pos, hd, d0, 7, 2); break;
            default: wsum_tile(o, wh, L, v, stride, n_pos, hd, d0, 8, 2); break;
            }
        }
    }
}

/* e^x for x <= 0 on 16 lanes, the same steps as rh_exp256 (vec_avx2.h):
 * below -87 the result is 0. */
AI __m512 exp_neg16(__m512 x)
{
    __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723212e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps((__mmask16)~under, p, _mm512_castsi512_ps(e));
}

/* s[0..n-1] := fp16(softmax(s)) as rhm_softmax_f16_avx2 computes it (the
 * maximum, exponentials, their sum in double, probabilities rounded to
 * fp16), 16 lanes at a time; the tail through masked loads. */
void rhm_softmax_f16_avx512(float *s, int n)
{
    __m512 vmx = _mm512_set1_ps(-INFINITY);
    int p = 0;
    for (; p + 16 <= n; p += 16)
        vmx = _mm512_max_ps(vmx, _mm512_loadu_ps(s + p));
    if (p < n) {
        __mmask16 m = (__mmask16)((1u << (n - p)) - 1);
        vmx = _mm512_mask_max_ps(vmx, m, vmx, _mm512_maskz_loadu_ps(m, s + p));
    }
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmx));
    __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
    for (p = 0; p < n; p += 16) {
        __mmask16 m = n - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - p)) - 1);
        __m512 e = _mm512_maskz_mov_ps(m, exp_neg16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + p), mx)));
        _mm512_mask_storeu_ps(s + p, m, e);
        sum0 = _mm512_add_pd(sum0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        sum1 = _mm512_add_pd(sum1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
    }
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(sum0, sum1));
    __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
    for (p = 0; p < n; p += 16) {
        __mmask16 m = n - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - p)) - 1);
        __m256i h = _mm512_cvtps_ph(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + p), inv),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm512_mask_storeu_ps(s + p, m, _mm512_cvtph_ps(h));
    }
}
