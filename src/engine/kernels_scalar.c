/*
 * kernels_scalar.c - portable C kernels: activation quantization and the
 * integer dot products for every weight type the engine computes on
 * directly. They define the exact arithmetic that the SIMD kernels
 * reproduce, and run on any CPU.
 */
#include <math.h>

#include "engine/kernels.h"

/* ---- activation quantization -------------------------------------------- */

static int8_t q8_round(float v)
{
    float r = nearbyintf(v);
    if (r > 127.0f)
        r = 127.0f;
    if (r < -127.0f)
        r = -127.0f;
    return (int8_t)r;
}

static void quant_q8(const float *x, void *dst, int64_t n)
{
    int8_t *qs = dst;
    float *d = rh_act_q8_d(dst, n), *s = rh_act_q8_s(dst, n);
    int32_t *is = rh_act_q8_isum(dst, n);
    for (int64_t b = 0; b < n / RH_QK; b++) {
        const float *xb = x + b * RH_QK;
        float amax = 0.0f;
        for (int i = 0; i < RH_QK; i++)
            amax = fmaxf(amax, fabsf(xb[i]));
        float db = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int i = 0; i < RH_QK; i++) {
            int8_t q = q8_round(xb[i] * id);
            qs[b * RH_QK + i] = q;
            sum += q;
        }
        d[b] = db;
        s[b] = db * (float)sum;
        is[b] = sum;
    }
}

static void quant_q8k(const float *x, void *dst, int64_t n)
{
    int8_t *qs = dst;
    float *d = rh_act_q8k_d(dst, n);
    int16_t *bs = rh_act_q8k_bsum(dst, n);
    for (int64_t b = 0; b < n / RH_QKK; b++) {
        const float *xb = x + b * RH_QKK;
        float amax = 0.0f;
        for (int i = 0; i < RH_QKK; i++)
            amax = fmaxf(amax, fabsf(xb[i]));
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        d[b] = amax / 127.0f;
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) {
                int8_t q = q8_round(xb[g * 16 + i] * id);
                qs[b * RH_QKK + g * 16 + i] = q;
                sum += q;
            }
            bs[b * 16 + g] = (int16_t)sum;
        }
    }
    rh_act_q8k_finish(dst, n);
}

/* ---- float weights -------------------------------------------------------- */

static void mm_f32(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                   float *y, int64_t ys)
{
    for (int t = 0; t < nt; t++) {
        const float *x = (const float *)((const char *)a + (size_t)t * as);
        for (int r = 0; r < nr; r++) {
            const float *wr = (const float *)((const char *)w + (size_t)r * ws);
            float acc[8] = {0};
            int64_t k = 0;
            for (; k + 8 <= n; k += 8)
                for (int i = 0; i < 8; i++)
                    acc[i] += wr[k + i] * x[k + i];
            for (; k < n; k++)
                acc[0] += wr[k] * x[k];
            y[t * ys + r] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
                            ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        }
    }
}

static void mm_f16(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                   float *y, int64_t ys)
{
    float buf[256];
    for (int r = 0; r < nr; r++) {
        const uint16_t *wr = (const uint16_t *)((const char *)w + (size_t)r * ws);
        for (int t = 0; t < nt; t++)
            y[t * ys + r] = 0.0f;
        for (int64_t k0 = 0; k0 < n; k0 += 256) {
            int64_t m = n - k0 < 256 ? n - k0 : 256;
            for (int64_t i = 0; i < m; i++)
                buf[i] = rh_k_fp16(rh_k_rd16(wr + k0 + i));
            for (int t = 0; t < nt; t++) {
                const float *x = (const float *)((const char *)a + (size_t)t * as) + k0;
                float acc = 0.0f;
                for (int64_t i = 0; i < m; i++)
                    acc += buf[i] * x[i];
                y[t * ys + r] += acc;
            }
        }
    }
}

/* ---- 32-value block types against RH_ACT_Q8 -------------------------------- */

/* Unpack one weight block into integers q[32] and return its scale d and
 * offset m (value = d*q + m). */
typedef void (*unpack32_fn)(const uint8_t *blk, int8_t *q, float *d, float *m);

static void unpack_q8_0(const uint8_t *b, int8_t *q, float *d, float *m)
{
    *d = rh_k_fp16(rh_k_rd16(b));
    *m = 0.0f;
    memcpy(q, b + 2, 32);
}

static void unpack_q4_0(const uint8_t *b, int8_t *q, float *d, float *m)
{
    *d = rh_k_fp16(rh_k_rd16(b));
    *m = 0.0f;
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((b[2 + j] & 0xF) - 8);
        q[j + 16] = (int8_t)((b[2 + j] >> 4) - 8);
    }
}

static void unpack_q4_1(const uint8_t *b, int8_t *q, float *d, float *m)
{
    *d = rh_k_fp16(rh_k_rd16(b));
    *m = rh_k_fp16(rh_k_rd16(b + 2));
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(b[4 + j] & 0xF);
        q[j + 16] = (int8_t)(b[4 + j] >> 4);
    }
}

static void unpack_q5_0(const uint8_t *b, int8_t *q, float *d, float *m)
{
    uint32_t qh;
    *d = rh_k_fp16(rh_k_rd16(b));
    *m = 0.0f;
    memcpy(&qh, b + 2, 4);
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(((b[6 + j] & 0xF) | (((qh >> j) & 1) << 4)) - 16);
        q[j + 16] = (int8_t)(((b[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
    }
}

static void unpack_q5_1(const uint8_t *b, int8_t *q, float *d, float *m)
{
    uint32_t qh;
    *d = rh_k_fp16(rh_k_rd16(b));
    *m = rh_k_fp16(rh_k_rd16(b + 2));
    memcpy(&qh, b + 4, 4);
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((b[8 + j] & 0xF) | (((qh >> j) & 1) << 4));
        q[j + 16] = (int8_t)((b[8 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
    }
}

static void mm_blk32(unpack32_fn unpack, size_t bsize, int64_t n, const void *w, size_t ws,
                     int nr, const void *a, size_t as, int nt, float *y, int64_t ys)
{
    int64_t nb = n / RH_QK;
    for (int r = 0; r < nr; r++) {
        const uint8_t *wr = (const uint8_t *)w + (size_t)r * ws;
        for (int t = 0; t < nt; t++) {
            void *ar = (char *)(uintptr_t)a + (size_t)t * as;
            const int8_t *aq = ar;
            const float *ad = rh_act_q8_d(ar, n), *asum = rh_act_q8_s(ar, n);
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int8_t q[32];
                float d, m;
                unpack(wr + b * bsize, q, &d, &m);
                int isum = 0;
                for (int i = 0; i < 32; i++)
                    isum += q[i] * aq[b * 32 + i];
                acc += d * ad[b] * (float)isum + m * asum[b];
            }
            y[t * ys + r] = acc;
        }
    }
}

#define MM_BLK32(name, bytes)                                                                  \
    static void mm_##name(int64_t n, const void *w, size_t ws, int nr, const void *a,          \
                          size_t as, int nt, float *y, int64_t ys)                             \
    {                                                                                          \
        mm_blk32(unpack_##name, bytes, n, w, ws, nr, a, as, nt, y, ys);                        \
    }
MM_BLK32(q8_0, 34)
MM_BLK32(q4_0, 18)
MM_BLK32(q4_1, 20)
MM_BLK32(q5_0, 22)
MM_BLK32(q5_1, 24)

/* ---- K-quants against RH_ACT_Q8K ------------------------------------------ */

/* Unpack one 256-value super-block into q[256] (unsigned quants), the 16
 * scales per 16 values (sc16, as integers) and mins per 16 values (m16);
 * value = d*sc16[i/16]*q[i] - dmin*m16[i/16]. */
typedef void (*unpackk_fn)(const uint8_t *blk, uint8_t *q, int *sc16, int *m16, float *d,
                           float *dmin);

static void unpack_q4_k(const uint8_t *b, uint8_t *q, int *sc16, int *m16, float *d, float *dmin)
{
    *d = rh_k_fp16(rh_k_rd16(b));
    *dmin = rh_k_fp16(rh_k_rd16(b + 2));
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        rh_k_scale_min(b + 4, j, &sc, &m);
        sc16[2 * j] = sc16[2 * j + 1] = sc;
        m16[2 * j] = m16[2 * j + 1] = m;
    }
    const uint8_t *qs = b + 16;
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[c * 64 + l] = qs[c * 32 + l] & 0xF;
            q[c * 64 + 32 + l] = qs[c * 32 + l] >> 4;
        }
}

static void unpack_q5_k(const uint8_t *b, uint8_t *q, int *sc16, int *m16, float *d, float *dmin)
{
    *d = rh_k_fp16(rh_k_rd16(b));
    *dmin = rh_k_fp16(rh_k_rd16(b + 2));
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        rh_k_scale_min(b + 4, j, &sc, &m);
        sc16[2 * j] = sc16[2 * j + 1] = sc;
        m16[2 * j] = m16[2 * j + 1] = m;
    }
    const uint8_t *qh = b + 16, *qs = b + 48;
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[c * 64 + l] = (uint8_t)((qs[c * 32 + l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4));
            q[c * 64 + 32 + l] =
                (uint8_t)((qs[c * 32 + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4));
        }
}

static void unpack_q6_k(const uint8_t *b, uint8_t *q, int *sc16, int *m16, float *d, float *dmin)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    *d = rh_k_fp16(rh_k_rd16(b + 208));
    *dmin = *d;
    for (int i = 0; i < 16; i++) {
        sc16[i] = sc[i];
        m16[i] = 32 * sc[i];
    }
    for (int h = 0; h < 2; h++) {
        const uint8_t *l8 = ql + 64 * h, *h8 = qh + 32 * h;
        uint8_t *o = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            o[l] = (uint8_t)((l8[l] & 0xF) | (((h8[l] >> 0) & 3) << 4));
            o[l + 32] = (uint8_t)((l8[l + 32] & 0xF) | (((h8[l] >> 2) & 3) << 4));
            o[l + 64] = (uint8_t)((l8[l] >> 4) | (((h8[l] >> 4) & 3) << 4));
            o[l + 96] = (uint8_t)((l8[l + 32] >> 4) | (((h8[l] >> 6) & 3) << 4));
        }
    }
}

static void mm_kquant(unpackk_fn unpack, size_t bsize, int64_t n, const void *w, size_t ws,
                      int nr, const void *a, size_t as, int nt, float *y, int64_t ys)
{
    int64_t nb = n / RH_QKK;
    for (int r = 0; r < nr; r++) {
        const uint8_t *wr = (const uint8_t *)w + (size_t)r * ws;
        for (int t = 0; t < nt; t++)
            y[t * ys + r] = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            uint8_t q[256];
            int sc16[16], m16[16];
            float d, dmin;
            unpack(wr + b * bsize, q, sc16, m16, &d, &dmin);
            for (int t = 0; t < nt; t++) {
                void *ar = (char *)(uintptr_t)a + (size_t)t * as;
                const int8_t *aq = (const int8_t *)ar + b * RH_QKK;
                const int16_t *bs = rh_act_q8k_bsum(ar, n) + b * 16;
                float ad = rh_act_q8k_d(ar, n)[b];
                int32_t isum = 0, imin = 0;
                for (int g = 0; g < 16; g++) {
                    int32_t s = 0;
                    for (int i = 0; i < 16; i++)
                        s += q[g * 16 + i] * aq[g * 16 + i];
                    isum += sc16[g] * s;
                    imin += m16[g] * bs[g];
                }
                y[t * ys + r] += ad * (d * (float)isum - dmin * (float)imin);
            }
        }
    }
}

#define MM_KQ(name, bytes)                                                                     \
    static void mm_##name(int64_t n, const void *w, size_t ws, int nr, const void *a,          \
                          size_t as, int nt, float *y, int64_t ys)                             \
    {                                                                                          \
        mm_kquant(unpack_##name, bytes, n, w, ws, nr, a, as, nt, y, ys);                       \
    }
MM_KQ(q4_k, 144)
MM_KQ(q5_k, 176)
MM_KQ(q6_k, 210)

static uint64_t read_scalar(const void *p, size_t n)
{
    const uint64_t *q = p;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i < n / 8; i += 8) {
        a0 ^= q[i] + q[i + 4];
        a1 ^= q[i + 1] + q[i + 5];
        a2 ^= q[i + 2] + q[i + 6];
        a3 ^= q[i + 3] + q[i + 7];
    }
    return a0 ^ a1 ^ a2 ^ a3;
}

static void silu_mul(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = g[i];
        g[i] = v / (1.0f + expf(-v)) * u[i];
    }
}

void rh_kernels_scalar_init(rh_kernel_set *ks)
{
    memset(ks, 0, sizeof *ks);
    ks->name = "scalar";
    ks->read = read_scalar;
    ks->silu_mul = silu_mul;
    ks->quant[RH_ACT_Q8] = quant_q8;
    ks->quant[RH_ACT_Q8K] = quant_q8k;
    ks->mm[RH_TYPE_F32] = mm_f32;
    ks->mm[RH_TYPE_F16] = mm_f16;
    ks->mm[RH_TYPE_Q8_0] = mm_q8_0;
    ks->mm[RH_TYPE_Q4_0] = mm_q4_0;
    ks->mm[RH_TYPE_Q4_1] = mm_q4_1;
    ks->mm[RH_TYPE_Q5_0] = mm_q5_0;
    ks->mm[RH_TYPE_Q5_1] = mm_q5_1;
    ks->mm[RH_TYPE_Q4_K] = mm_q4_k;
    ks->mm[RH_TYPE_Q5_K] = mm_q5_k;
    ks->mm[RH_TYPE_Q6_K] = mm_q6_k;
}
