/*
 * vec_avx512.h - small 16-lane helpers shared by the engine's AVX-512
 * files (kernels_avx512.c, model_attn_avx512.c). Include only from files
 * compiled with the AVX-512 flags.
 */
#ifndef RH_ENGINE_VEC_AVX512_H
#define RH_ENGINE_VEC_AVX512_H

#include <immintrin.h>

/* Sums of 16 vectors as one vector: lane i is the sum of the 16 lanes of
 * v[i]. Every v[i] goes through the same tree of additions (pairs within
 * 128-bit groups, then the groups) wherever it stands and whatever the
 * other vectors hold, so a sum does not depend on its neighbours. */
static inline __attribute__((always_inline)) __m512 rh_reduce16_ps(const __m512 *v)
{
    __m512 x[8], y[4], z[2];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        x[j] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * j], v[2 * j + 1]),
                             _mm512_unpackhi_ps(v[2 * j], v[2 * j + 1]));
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512d a = _mm512_castps_pd(x[2 * j]), b = _mm512_castps_pd(x[2 * j + 1]);
        y[j] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++)
        z[j] = _mm512_add_ps(_mm512_shuffle_f32x4(y[2 * j], y[2 * j + 1], 0x88),
                             _mm512_shuffle_f32x4(y[2 * j], y[2 * j + 1], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(z[0], z[1], 0x88),
                         _mm512_shuffle_f32x4(z[0], z[1], 0xDD));
}

#endif
