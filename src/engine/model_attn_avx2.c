/*
 * model_attn_avx2.c - AVX2/FMA/F16C primitives of the attention over the
 * fp16 KV cache (compiled with -mavx2 -mfma -mf16c; called only after the
 * cpu check in model_decoder.c). Scalar equivalents are in model_decoder.c.
 */
#include <immintrin.h>
#include <math.h>

#include "engine/vec_avx2.h"
#include "engine/model_int.h"

/* sum_d q[d] * k[d], k in fp16. */
float rhm_dot_f16_avx2(const float *q, const uint16_t *k, int n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= n; d += 16) {
        __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + d)));
        __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + d + 8)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), k0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), k1, acc1);
    }
    for (; d + 8 <= n; d += 8) {
        __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + d)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), k0, acc0);
    }
    float r = rh_hsum256x2(acc0, acc1);
    for (; d < n; d++)
        r += q[d] * _cvtsh_ss(k[d]);
    return r;
}

/* e^x for x <= 0: below -87 the result is 0 (it would be subnormal). */
static __m256 exp_neg(__m256 x)
{
    __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
    return _mm256_andnot_ps(under, rh_exp256(x));
}

/* s[0..n-1] := fp16(softmax(s)): max, exponentials, sum in double,
 * probabilities rounded to fp16 (as the reference feeds them to the
 * product with the fp16 values). */
void rhm_softmax_f16_avx2(float *s, int n)
{
    float mx = -INFINITY;
    int p = 0;
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    for (; p + 8 <= n; p += 8)
        vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + p));
    float lanes[8];
    _mm256_storeu_ps(lanes, vmx);
    for (int i = 0; i < 8; i++)
        mx = lanes[i] > mx ? lanes[i] : mx;
    for (; p < n; p++)
        mx = s[p] > mx ? s[p] : mx;

    __m256 m8 = _mm256_set1_ps(mx);
    __m256d sum4 = _mm256_setzero_pd();
    double sum = 0.0;
    for (p = 0; p + 8 <= n; p += 8) {
        __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(s + p), m8));
        _mm256_storeu_ps(s + p, e);
        sum4 = _mm256_add_pd(sum4, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        sum4 = _mm256_add_pd(sum4, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double dl[4];
    _mm256_storeu_pd(dl, sum4);
    sum = dl[0] + dl[1] + dl[2] + dl[3];
    for (; p < n; p++) {
        float e = expf(s[p] - mx);
        s[p] = e;
        sum += e;
    }
    __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (p = 0; p + 8 <= n; p += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(s + p), inv), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(s + p, _mm256_cvtph_ps(h));
    }
    float fi = (float)(1.0 / sum);
    for (; p < n; p++)
        s[p] = _cvtsh_ss(_cvtss_sh(s[p] * fi, _MM_FROUND_TO_NEAREST_INT));
}

/* out[d] = sum_p w[p] * v[p * stride + d] for d < hd, v in fp16; each sum
 * runs over p in order, its accumulator kept in a register. */
void rhm_wsum_f16_avx2(float *out, const float *w, const uint16_t *v, size_t stride, int n_pos,
                       int hd)
{
    int d = 0;
    for (; d + 32 <= hd; d += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        const uint16_t *vp = v + d;
        for (int p = 0; p < n_pos; p++, vp += stride) {
            __m256 wp = _mm256_broadcast_ss(w + p);
            a0 = _mm256_fmadd_ps(wp, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)vp)), a0);
            a1 = _mm256_fmadd_ps(wp, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vp + 8))), a1);
            a2 = _mm256_fmadd_ps(wp, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vp + 16))), a2);
            a3 = _mm256_fmadd_ps(wp, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vp + 24))), a3);
        }
        _mm256_storeu_ps(out + d, a0);
        _mm256_storeu_ps(out + d + 8, a1);
        _mm256_storeu_ps(out + d + 16, a2);
        _mm256_storeu_ps(out + d + 24, a3);
    }
    for (; d + 8 <= hd; d += 8) {
        __m256 a0 = _mm256_setzero_ps();
        const uint16_t *vp = v + d;
        for (int p = 0; p < n_pos; p++, vp += stride)
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + p),
                                 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)vp)), a0);
        _mm256_storeu_ps(out + d, a0);
    }
    for (; d < hd; d++) {
        float a = 0.0f;
        for (int p = 0; p < n_pos; p++)
            a += w[p] * _cvtsh_ss(v[(size_t)p * stride + (size_t)d]);
        out[d] = a;
    }
}

/* ---- all query heads of one kv head at once --------------------------------
 *
 * As in model_attn_avx512.c: each K and V row is converted from fp16 once
 * for all heads of the group, and a head's arithmetic does not depend on
 * how many heads are computed together. */

/* Sums of 8 vectors: lane i of the result is the sum of the 8 lanes of
 * v[i], always in the same order. */
static inline __attribute__((always_inline)) __m256 reduce8_ps(const __m256 *v)
{
    __m256 x[4], y[2];
    for (int j = 0; j < 4; j++)
        x[j] = _mm256_add_ps(_mm256_unpacklo_ps(v[2 * j], v[2 * j + 1]),
                             _mm256_unpackhi_ps(v[2 * j], v[2 * j + 1]));
    for (int j = 0; j < 2; j++) {
        __m256d a = _mm256_castps_pd(x[2 * j]), b = _mm256_castps_pd(x[2 * j + 1]);
        y[j] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(a, b)),
                             _mm256_castpd_ps(_mm256_unpackhi_pd(a, b)));
    }
    return _mm256_add_ps(_mm256_permute2f128_ps(y[0], y[1], 0x20),
                         _mm256_permute2f128_ps(y[0], y[1], 0x31));
}

/* sc[h * L + p] = scale * sum_d q[h * hd + d] * k[p * stride + d] for
 * h < nh, p < n_pos; hd a multiple of 8, at most RHM_ATT_MAX_HD. Blocks of
 * 8 positions: the rows converted once, per head an FMA chain per
 * position, the 8 positions reduced together. */
void rhm_scores_f16_avx2(float *sc, size_t L, const float *q, int nh, int hd, const uint16_t *k,
                         size_t stride, int n_pos, float scale)
{
    const int nb = hd / 8;
    _Alignas(32) float kf[8 * RHM_ATT_MAX_HD];
    for (int p0 = 0; p0 < n_pos; p0 += 8) {
        int np = n_pos - p0 < 8 ? n_pos - p0 : 8;
        for (int i = 0; i < np; i++) {
            const uint16_t *kr = k + (size_t)(p0 + i) * stride;
            for (int b = 0; b < nb; b++)
                _mm256_store_ps(kf + i * hd + 8 * b,
                                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kr + 8 * b))));
        }
        for (int h = 0; h < nh; h++) {
            const float *qh = q + (size_t)h * (size_t)hd;
            __m256 acc[8];
            for (int i = 0; i < 8; i++) {
                __m256 a = _mm256_setzero_ps();
                if (i < np) {
                    const float *kr = kf + i * hd;
                    a = _mm256_mul_ps(_mm256_loadu_ps(qh), _mm256_load_ps(kr));
                    for (int b = 1; b < nb; b++)
                        a = _mm256_fmadd_ps(_mm256_loadu_ps(qh + 8 * b), _mm256_load_ps(kr + 8 * b), a);
                }
                acc[i] = a;
            }
            __m256 s = _mm256_mul_ps(reduce8_ps(acc), _mm256_set1_ps(scale));
            float *dst = sc + (size_t)h * L + (size_t)p0;
            if (np == 8) {
                _mm256_storeu_ps(dst, s);
            } else {
                _Alignas(32) float tmp[8];
                _mm256_store_ps(tmp, s);
                for (int i = 0; i < np; i++)
                    dst[i] = tmp[i];
            }
        }
    }
}

/* out[h * hd + d] = sum_p w[h * L + p] * v[p * stride + d] for h < nh,
 * d < hd (a multiple of 32): two heads x 32 values per pass, accumulators
 * in registers, each an FMA chain over p in order (the same bits as
 * rhm_wsum_f16_avx2 per head). */
void rhm_wsum_heads_f16_avx2(float *out, const float *w, size_t L, int nh, const uint16_t *v,
                             size_t stride, int n_pos, int hd)
{
    for (int h0 = 0; h0 < nh; h0 += 2) {
        int two = nh - h0 >= 2;
        const float *w0 = w + (size_t)h0 * L, *w1 = two ? w0 + L : w0;
        for (int d0 = 0; d0 < hd; d0 += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            const uint16_t *vp = v + d0;
            for (int p = 0; p < n_pos; p++, vp += stride) {
                __m256 v0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)vp));
                __m256 v1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vp + 8)));
                __m256 v2 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vp + 16)));
                __m256 v3 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vp + 24)));
                __m256 x = _mm256_broadcast_ss(w0 + p), y = _mm256_broadcast_ss(w1 + p);
                a0 = _mm256_fmadd_ps(x, v0, a0);
                a1 = _mm256_fmadd_ps(x, v1, a1);
                a2 = _mm256_fmadd_ps(x, v2, a2);
                a3 = _mm256_fmadd_ps(x, v3, a3);
                b0 = _mm256_fmadd_ps(y, v0, b0);
                b1 = _mm256_fmadd_ps(y, v1, b1);
                b2 = _mm256_fmadd_ps(y, v2, b2);
                b3 = _mm256_fmadd_ps(y, v3, b3);
            }
            float *o = out + (size_t)h0 * (size_t)hd + d0;
            _mm256_storeu_ps(o, a0);
            _mm256_storeu_ps(o + 8, a1);
            _mm256_storeu_ps(o + 16, a2);
            _mm256_storeu_ps(o + 24, a3);
            if (two) {
                _mm256_storeu_ps(o + hd, b0);
                _mm256_storeu_ps(o + hd + 8, b1);
                _mm256_storeu_ps(o + hd + 16, b2);
                _mm256_storeu_ps(o + hd + 24, b3);
            }
        }
    }
}
