/*
 * model_attn_avx2.c - AVX2/FMA/F16C primitives of the attention over the
 * fp16 KV cache (compiled with -mavx2 -mfma -mf16c; called only after the
 * cpu check in model_decoder.c). Scalar equivalents are in model_decoder.c.
 */
#include <immintrin.h>

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
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float r = _mm_cvtss_f32(s);
    for (; d < n; d++)
        r += q[d] * _cvtsh_ss(k[d]);
    return r;
}

/* out[d] += w * v[d], v in fp16. */
void rhm_axpy_f16_avx2(float *out, float w, const uint16_t *v, int n)
{
    __m256 wv = _mm256_set1_ps(w);
    int d = 0;
    for (; d + 8 <= n; d += 8) {
        __m256 v0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + d)));
        _mm256_storeu_ps(out + d, _mm256_fmadd_ps(wv, v0, _mm256_loadu_ps(out + d)));
    }
    for (; d < n; d++)
        out[d] += w * _cvtsh_ss(v[d]);
}
