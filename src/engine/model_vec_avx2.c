/*
 * model_vec_avx2.c - AVX2/FMA/F16C primitives over f32 rows: for the
 * encoder (model_bert.c) dot product, y += a*x and GELU; for the decoder
 * (model_decoder.c) the sum of squares of RMSNorm and the fp16 rounding of
 * K and V into the cache. Compiled with the AVX2 flags; chosen only when
 * the ops layer runs a SIMD kernel set (which implies AVX2, FMA and F16C).
 * The portable versions are in model_bert.c and model_decoder.c.
 */
#include <immintrin.h>
#include <math.h>

#include "engine/vec_avx2.h"
#include "engine/model_int.h"

/* sum_d a[d] * b[d] */
float rhm_dot_f32_avx2(const float *a, const float *b, int n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= n; d += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
    }
    for (; d + 8 <= n; d += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
    float r = rh_hsum256x2(s0, s1);
    for (; d < n; d++)
        r += a[d] * b[d];
    return r;
}

/* out[d] = sum_p w[p] * v[p * stride + d] for d < hd: per block of 32
 * values the accumulators stay in registers while p runs. */
void rhm_wsum_f32_avx2(float *out, const float *w, const float *v, size_t stride, int n_pos,
                       int hd)
{
    int d = 0;
    for (; d + 32 <= hd; d += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *vp = v + d;
        for (int p = 0; p < n_pos; p++, vp += stride) {
            __m256 wp = _mm256_broadcast_ss(w + p);
            a0 = _mm256_fmadd_ps(wp, _mm256_loadu_ps(vp), a0);
            a1 = _mm256_fmadd_ps(wp, _mm256_loadu_ps(vp + 8), a1);
            a2 = _mm256_fmadd_ps(wp, _mm256_loadu_ps(vp + 16), a2);
            a3 = _mm256_fmadd_ps(wp, _mm256_loadu_ps(vp + 24), a3);
        }
        _mm256_storeu_ps(out + d, a0);
        _mm256_storeu_ps(out + d + 8, a1);
        _mm256_storeu_ps(out + d + 16, a2);
        _mm256_storeu_ps(out + d + 24, a3);
    }
    for (; d < hd; d++) {
        float a = 0.0f;
        for (int p = 0; p < n_pos; p++)
            a += w[p] * v[(size_t)p * stride + (size_t)d];
        out[d] = a;
    }
}

/* GELU, tanh approximation: 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)) with
 * u = sqrt(2/pi) (x + 0.044715 x^3). */
void rhm_gelu_avx2(float *x, int64_t n)
{
    const __m256 c = _mm256_set1_ps(-2.0f * 0.79788456080286535587989211986876f);
    const __m256 a = _mm256_set1_ps(0.044715f), one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(a, v), _mm256_mul_ps(v, v), v));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, rh_exp256(z))));
    }
    for (; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286535587989211986876f * v * (1.0f + 0.044715f * v * v)));
    }
}

/* sum x[i]^2 in double precision (four lanes, four accumulators: the
 * sequential double sum was 2 us per 2048 values, ~2% of a step of 8
 * sequences; the result differs from it by double rounding only). */
double rhm_sumsq_avx2(const float *x, int64_t n)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256d v0 = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
        __m256d v1 = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
        __m256d v2 = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 8));
        __m256d v3 = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 12));
        a0 = _mm256_fmadd_pd(v0, v0, a0);
        a1 = _mm256_fmadd_pd(v1, v1, a1);
        a2 = _mm256_fmadd_pd(v2, v2, a2);
        a3 = _mm256_fmadd_pd(v3, v3, a3);
    }
    __m256d a = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; i < n; i++)
        sum += (double)x[i] * (double)x[i];
    return sum;
}

/* dst[i] = fp16(src[i]), round to nearest even (F16C; the same as the
 * portable rhm_f2h for every value but the payload of NaNs). */
void rhm_f32_to_f16_avx2(uint16_t *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = rhm_f2h(src[i]);
}

/* dst[i] = src[i] rounded to fp16 and back (as rhm_h2f(rhm_f2h(x))). */
void rhm_round_f16_avx2(float *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                                                  _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++)
        dst[i] = rhm_h2f(rhm_f2h(src[i]));
}
