/*
 * model_attn_avx512.c - AVX-512 primitives of the attention over the fp16
 * KV cache for all query heads that share one kv head (compiled with the
 * AVX-512 flags; chosen in model_decoder.c only when the ops layer runs its
 * AVX-512 kernel set). Each K and V row is converted from fp16 once for
 * all heads of the group instead of once per head.
 *
 * The arithmetic of each head does not depend on how many heads are
 * processed together (so a token gives the same result alone and in a
 * batch, whatever the attention tasks look like): scores per head are an
 * FMA chain over the dimensions in two accumulators, reduced in a fixed
 * order; the weighted sum is, per output value, an FMA chain over the
 * positions in order (the same as rhm_wsum_f16_avx2, bit for bit).
 */
#include <immintrin.h>

#include "engine/model_int.h"

#define AI static inline __attribute__((always_inline))

/* Scores of nh heads for one position, the K row converted once: an FMA
 * chain per head in two accumulators (even / odd 16-value blocks). */
AI void scores_pos(float *sc, size_t L, const float *q, int nh, const uint16_t *kr, float scale,
                   const int NB)
{
    __m512 kf[RHM_ATT_MAX_HD / 16];
#pragma GCC unroll 16
    for (int i = 0; i < NB; i++)
        kf[i] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kr + 16 * i)));
    for (int h = 0; h < nh; h++) {
        const float *qh = q + (size_t)h * (size_t)(16 * NB);
        __m512 a0 = _mm512_mul_ps(_mm512_loadu_ps(qh), kf[0]);
        __m512 a1 = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int i = 1; i < NB; i++) {
            if (i & 1)
                a1 = _mm512_fmadd_ps(_mm512_loadu_ps(qh + 16 * i), kf[i], a1);
            else
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(qh + 16 * i), kf[i], a0);
        }
        sc[(size_t)h * L] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) * scale;
    }
}

/* sc[h * L + p] = scale * sum_d q[h * hd + d] * k[p * stride + d] for
 * h < nh, p < n_pos; hd a multiple of 16, at most RHM_ATT_MAX_HD. */
void rhm_scores_f16_avx512(float *sc, size_t L, const float *q, int nh, int hd,
                           const uint16_t *k, size_t stride, int n_pos, float scale)
{
    for (int p = 0; p < n_pos; p++) {
        const uint16_t *kr = k + (size_t)p * stride;
        switch (hd / 16) {
        case 4: scores_pos(sc + p, L, q, nh, kr, scale, 4); break;
        case 8: scores_pos(sc + p, L, q, nh, kr, scale, 8); break;
#define SC_CASE(nb) case nb: scores_pos(sc + p, L, q, nh, kr, scale, nb); break;
        SC_CASE(1) SC_CASE(2) SC_CASE(3) SC_CASE(5) SC_CASE(6) SC_CASE(7) SC_CASE(9)
        SC_CASE(10) SC_CASE(11) SC_CASE(12) SC_CASE(13) SC_CASE(14) SC_CASE(15) SC_CASE(16)
#undef SC_CASE
        default: break;
        }
    }
}

/* H heads (1..8), 32 output values from d0: acc[h] over p in order. */
AI void wsum_block(float *out, const float *w, size_t L, const uint16_t *v, size_t stride,
                   int n_pos, int hd, int d0, const int H)
{
    __m512 a[8][2];
#pragma GCC unroll 8
    for (int h = 0; h < H; h++)
        a[h][0] = a[h][1] = _mm512_setzero_ps();
    const uint16_t *vp = v + d0;
    for (int p = 0; p < n_pos; p++, vp += stride) {
        __m512 v0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)vp));
        __m512 v1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vp + 16)));
#pragma GCC unroll 8
        for (int h = 0; h < H; h++) {
            __m512 wp = _mm512_set1_ps(w[(size_t)h * L + (size_t)p]);
            a[h][0] = _mm512_fmadd_ps(wp, v0, a[h][0]);
            a[h][1] = _mm512_fmadd_ps(wp, v1, a[h][1]);
        }
    }
#pragma GCC unroll 8
    for (int h = 0; h < H; h++) {
        _mm512_storeu_ps(out + (size_t)h * (size_t)hd + d0, a[h][0]);
        _mm512_storeu_ps(out + (size_t)h * (size_t)hd + d0 + 16, a[h][1]);
    }
}

/* out[h * hd + d] = sum_p w[h * L + p] * v[p * stride + d] for h < nh,
 * d < hd; hd a multiple of 32. */
void rhm_wsum_heads_f16_avx512(float *out, const float *w, size_t L, int nh, const uint16_t *v,
                               size_t stride, int n_pos, int hd)
{
    for (int h0 = 0; h0 < nh; h0 += 8) {
        int H = nh - h0 < 8 ? nh - h0 : 8;
        float *o = out + (size_t)h0 * (size_t)hd;
        const float *wh = w + (size_t)h0 * L;
        for (int d0 = 0; d0 < hd; d0 += 32) {
            switch (H) {
            case 1: wsum_block(o, wh, L, v, stride, n_pos, hd, d0, 1); break;
            case 2: wsum_block(o, wh, L, v, stride, n_pos, hd, d0, 2); break;
            case 3: wsum_block(o, wh, L, v, stride, n_pos, hd, d0, 3); break;
            case 4: wsum_block(o, wh, L, v, stride, n_pos, hd, d0, 4); break;
            case 5: wsum_block(o, wh, L, v, stride, n_pos, hd, d0, 5); break;
            case 6: wsum_block(o, wh, L, v, stride, n_pos, hd, d0, 6); break;
            case 7: wsum_block(o, wh, L, v, stride, n_pos, hd, d0, 7); break;
            default: wsum_block(o, wh, L, v, stride, n_pos, hd, d0, 8); break;
            }
        }
    }
}
