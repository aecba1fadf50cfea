/*
 * quant_int.h - internals shared by quant.c (type table, fp16/bf16, the
 * 32-value block types) and quant_k.c (the 256-value K-quants). Not an API:
 * other modules use quant.h.
 */
#ifndef RH_ENGINE_QUANT_INT_H
#define RH_ENGINE_QUANT_INT_H

#include <stdint.h>
#include <string.h>

#include "engine/quant.h"

#define RH_QK 32   /* values per block of the legacy types */
#define RH_QK_K 256 /* values per super-block of the K-quants */

/* fp16 -> fp32 through the 64K table; rh_quant_init() must have run. */
extern float rh_quant_f16_table[65536];
void rh_quant_init(void);

static inline float rh_h2f(const uint8_t *p)
{
    return rh_quant_f16_table[(uint16_t)(p[0] | (p[1] << 8))];
}

static inline void rh_put_f16(uint8_t *p, float f)
{
    uint16_t h = rh_fp32_to_fp16(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

/* Round to nearest (ties to even) for |x| < 2^22 without a float->int cast
 * (so NaN or huge inputs give some int, never undefined behaviour). */
static inline int rh_nearest(float x)
{
    x = x > -4000000.0f ? x : -4000000.0f; /* also maps NaN */
    x = x < 4000000.0f ? x : 4000000.0f;
    float v = x + 12582912.0f; /* 1.5 * 2^23 */
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* Round to nearest even in float (|x| < 2^22; larger values stay large with
 * their sign, so a following clamp is still right). For search loops that
 * only need the code as a float: this form vectorizes. */
static inline float rh_roundf_fast(float x)
{
    return (x + 12582912.0f) - 12582912.0f;
}

/* Clamp to [lo, hi]; NaN gives lo (so a following int cast is defined). */
static inline float rh_clampf(float v, float lo, float hi)
{
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

/* Largest |x[i]| of n values (n a multiple of 8; NaN ignored). */
static inline float rh_absmax(const float *x, int n)
{
    float m[8] = {0};
    for (int i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) {
            float a = x[i + k] < 0 ? -x[i + k] : x[i + k];
            m[k] = a > m[k] ? a : m[k];
        }
    float r = 0;
    for (int k = 0; k < 8; k++)
        r = m[k] > r ? m[k] : r;
    return r;
}

static inline int rh_clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Best symmetric fit x[i] ~ d * L[i], L[i] in [lo, hi] (lo < 0 < hi),
 * minimizing the squared error; returns d (0 when all x are 0). n must be a
 * multiple of 8 (the search keeps 8 partial sums). */
float rh_fit_sym(int n, const float *x, int lo, int hi, int8_t *L);
/* Best affine fit x[i] ~ d * L[i] + m, L[i] in [0, nmax], d >= 0. With
 * min_le0, m is kept <= 0 (the K-quants store -m as an unsigned min).
 * n must be a multiple of 8, at most 256. */
void rh_fit_affine(int n, const float *x, int nmax, int min_le0, uint8_t *L, float *d, float *m);

/* quant_k.c */
void rh_dequant_q2_k(const uint8_t *src, float *dst, int64_t nb);
void rh_dequant_q3_k(const uint8_t *src, float *dst, int64_t nb);
void rh_dequant_q4_k(const uint8_t *src, float *dst, int64_t nb);
void rh_dequant_q5_k(const uint8_t *src, float *dst, int64_t nb);
void rh_dequant_q6_k(const uint8_t *src, float *dst, int64_t nb);
void rh_dequant_q8_k(const uint8_t *src, float *dst, int64_t nb);
void rh_quant_q2_k(const float *src, uint8_t *dst, int64_t nb);
void rh_quant_q3_k(const float *src, uint8_t *dst, int64_t nb);
void rh_quant_q4_k(const float *src, uint8_t *dst, int64_t nb);
void rh_quant_q5_k(const float *src, uint8_t *dst, int64_t nb);
void rh_quant_q6_k(const float *src, uint8_t *dst, int64_t nb);
void rh_quant_q8_k(const float *src, uint8_t *dst, int64_t nb);

#endif
