/*
 * model_vec_avx2.c - AVX2/FMA primitives over f32 rows for the encoder
 * (model_bert.c): dot product, y += a*x, and GELU. Compiled with the AVX2
 * flags; chosen only when the ops layer runs a SIMD kernel set (which
 * implies AVX2 and FMA). The portable versions are in model_bert.c.
 */
#include <immintrin.h>
#include <math.h>

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
    s0 = _mm256_add_ps(s0, s1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float r = _mm_cvtss_f32(s);
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

/* e^z for z in [-87, 88] (clamped): z = n ln2 + r, e^r by its Taylor
 * series to degree 7 (relative error below 1e-7), times 2^n. */
static __m256 exp_clamped(__m256 z)
{
    z = _mm256_max_ps(_mm256_min_ps(z, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(z, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), z);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723212e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
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
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, exp_clamped(z))));
    }
    for (; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286535587989211986876f * v * (1.0f + 0.044715f * v * v)));
    }
}
