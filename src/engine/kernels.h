/*
 * kernels.h - internal: the table of compute kernels behind rh_matmul.
 *
 * Not an API outside src/engine/matmul.c and the kernels_*.c files. One
 * kernel set per instruction set (scalar, avx2, avx512vnni); a set starts as
 * a copy of the scalar set and overrides what it implements faster. The
 * SIMD files are compiled with their ISA flags, so nothing in them may run
 * (not even their init function) unless the CPU has the features.
 *
 * Activations are quantized once per rh_matmul call into one of these
 * layouts (one "activation row" per token, a_stride bytes apart):
 *
 *   RH_ACT_F32  the f32 row itself (F32, F16 weights)
 *   RH_ACT_Q8   for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0: blocks of 32 values.
 *               int8 qs[n] | float d[n/32] | float s[n/32] | int32 isum[n/32]
 *               value = d*qs; isum = sum(qs of the block); s = d*isum
 *   RH_ACT_Q8K  for Q4_K/Q5_K/Q6_K: blocks of 256 values.
 *               int8 qs[n] | float d[n/256] | int16 bsum[n/16] | (to 64) |
 *               int8 nib[n] | float msum[n/32]
 *               value = d*qs; bsum = sum of each 16 qs; nib = qs in the
 *               order the Q4_K/Q5_K kernel reads its nibbles: per 256
 *               values, the runs of 16 values 0, 4, 8, 12, 2, 6, 10, 14,
 *               1, 5, 9, 13, 3, 7, 11, 15 (run i = values 16i..16i+15);
 *               msum = d x sum of each 32 qs (for the Q4_K/Q5_K mins);
 *               | int16 bsum2[32 per pair of blocks]: bsum of the blocks
 *               2p, 2p+1 as the Q6_K kernel's packed sums lie (per 8
 *               words: 4 sums of block 2p, the same 4 of 2p+1; zeros
 *               for a missing last block); all three written by
 *               rh_act_q8k_finish
 *
 * qs are in -127..127 (never -128), so that u8 x s8 pair products cannot
 * saturate 16-bit lanes.
 */
#ifndef RH_ENGINE_KERNELS_H
#define RH_ENGINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/quant.h"

enum {
    RH_ACT_NONE = 0, /* no kernel: generic dequantize-row path */
    RH_ACT_F32 = 1,
    RH_ACT_Q8 = 2,
    RH_ACT_Q8K = 3,
    RH_ACT_KINDS = 4
};

#define RH_QK 32
#define RH_QKK 256

/* Quantize one activation row of n values (n a multiple of the block). */
typedef void (*rh_act_quant_fn)(const float *x, void *dst, int64_t n);

/* Tile product: for r < nr, t < nt:
 *   y[t*y_stride + r] = dot(weight row r, activation row t)
 * weight row r at (const char *)w + r*w_stride, activation row t at
 * (const char *)a + t*a_stride; rows have n values. */
typedef void (*rh_mm_fn)(int64_t n, const void *w, size_t w_stride, int nr,
                         const void *a, size_t a_stride, int nt, float *y, int64_t y_stride);

/* Read n bytes (a multiple of 256, 64-byte aligned) and fold them into a
 * value, so that the reads cannot be optimized away (bandwidth test). */
typedef uint64_t (*rh_read_fn)(const void *p, size_t n);

/* Many-token product (prompt processing, nt >= pp_min[type]): the same
 * contract as rh_mm_fn plus a private scratch buffer of
 * rh_pp_scratch_size(n, nt) bytes (64-byte aligned) for repacked weights. */
typedef void (*rh_mm_pp_fn)(int64_t n, const void *w, size_t w_stride, int nr, const void *a,
                            size_t a_stride, int nt, float *y, int64_t y_stride, void *scratch);

#define RH_PP_MIN_TOK 16 /* default for pp_min */

static inline size_t rh_pp_scratch_size(int64_t n, int64_t nt)
{
    /* 16 rows x 32 values as bytes + 2 x 16 floats of scales per 32 values;
     * 16 floats per 256 values and token of activation sums */
    return (size_t)(n / 32) * 640 + (size_t)nt * (size_t)(n / 256) * 64 + 256;
}

/* Software prefetch, RH_PF_DIST bytes ahead of the weights being read:
 * with it one core streams a weight row from DRAM at ~95% of a plain read
 * loop's rate (39-40 GB/s on a Zen 5 EPYC, 32 without: the hardware
 * prefetcher alone does not keep enough lines in flight while the core
 * also computes). 4-32 KiB ahead all help there, 8 KiB non-temporal best
 * (the weights are read once per token, they need not displace the L2).
 * Prefetches never fault, so reading past the end of a matrix is harmless;
 * the address is formed as an integer for that reason. */
#ifndef RH_PF_DIST
#define RH_PF_DIST 8192
#endif

/* Prefetch the cache lines of [p, p + n) `dist` bytes ahead (for a
 * contiguous stream, one call per n bytes read covers every line). */
static inline __attribute__((always_inline)) void rh_pf_at(const uint8_t *p, const int n,
                                                           const int dist)
{
#pragma GCC unroll 10
    for (int o = 0; o < n; o += 64)
        __builtin_prefetch((const void *)((uintptr_t)p + (uintptr_t)dist + (uintptr_t)o), 0, 0);
}

static inline __attribute__((always_inline)) void rh_pf_ahead(const uint8_t *p, const int n)
{
    rh_pf_at(p, n, RH_PF_DIST);
}

/* Farther ahead for the few-token K-quant kernels when they take long rows
 * in slices, 4 rows at a time (kernels_avx512.c): their reads jump back
 * and forth within ~18 KiB, and with 8 KiB the lines often came too late
 * (8 tokens, Q6_K rows of 5632 values from memory: 450 -> 355 us per
 * matrix; with 4 tokens 320 -> 217). */
#define RH_PF_DIST_FAR 32768

/* A pause in a spin-wait loop (the pool, barriers inside a pool task). */
static inline void rh_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

/* The few-token kernels are inline functions with the token count T as a
 * compile-time constant (their accumulators live in registers): these run
 * CALL(t) with the constant t equal to the run-time T, for T in 1..4 or
 * 1..8 (larger values take the largest). */
#define RH_WITH_T4(T, CALL)                                                                    \
    do {                                                                                       \
        switch (T) {                                                                           \
        case 1: CALL(1); break;                                                                \
        case 2: CALL(2); break;                                                                \
        case 3: CALL(3); break;                                                                \
        default: CALL(4); break;                                                               \
        }                                                                                      \
    } while (0)
#define RH_WITH_T8(T, CALL)                                                                    \
    do {                                                                                       \
        switch (T) {                                                                           \
        case 1: CALL(1); break;                                                                \
        case 2: CALL(2); break;                                                                \
        case 3: CALL(3); break;                                                                \
        case 4: CALL(4); break;                                                                \
        case 5: CALL(5); break;                                                                \
        case 6: CALL(6); break;                                                                \
        case 7: CALL(7); break;                                                                \
        default: CALL(8); break;                                                               \
        }                                                                                      \
    } while (0)

/* Tokens t0.. of a few-token call, at most G of them: their activation
 * rows into ap[], the count returned. */
static inline int rh_token_group(const void *a, size_t as, int nt, int t0, int G,
                                 const uint8_t **ap)
{
    int T = nt - t0 < G ? nt - t0 : G;
    for (int i = 0; i < T; i++)
        ap[i] = (const uint8_t *)a + (size_t)(t0 + i) * as;
    return T;
}

typedef struct rh_kernel_set {
    const char *name;
    rh_read_fn read;
    rh_read_fn read_pf; /* optional: with the kernels' software prefetch */
    rh_act_quant_fn quant[RH_ACT_KINDS];
    rh_mm_fn mm[RH_TYPE_COUNT];
    rh_mm_pp_fn mm_pp[RH_TYPE_COUNT]; /* optional */
    uint8_t pp_min[RH_TYPE_COUNT];    /* use mm_pp from this many tokens on */
    void (*silu_mul)(float *g, const float *u, int64_t n); /* g = silu(g) * u */
} rh_kernel_set;

void rh_kernels_scalar_init(rh_kernel_set *ks);
void rh_kernels_avx2_init(rh_kernel_set *ks);   /* kernels_avx2.c: needs AVX2+FMA+F16C */
void rh_kernels_avx512_init(rh_kernel_set *ks); /* kernels_avx512.c: AVX-512 F/BW/VL/DQ/VNNI */

struct rh_pool;
/* A buffer of at least `size` bytes owned by the pool (64-byte aligned,
 * reused by the next call, freed with the pool); NULL if p is NULL or the
 * allocation fails. Only for the thread that calls rh_pool_run. */
void *rh_pool_scratch(struct rh_pool *p, size_t size);

/* Activation layout used for weights of type `wtype`. */
static inline int rh_act_kind(int wtype)
{
    switch (wtype) {
    case RH_TYPE_F32:
    case RH_TYPE_F16:
        return RH_ACT_F32;
    case RH_TYPE_Q4_0:
    case RH_TYPE_Q4_1:
    case RH_TYPE_Q5_0:
    case RH_TYPE_Q5_1:
    case RH_TYPE_Q8_0:
        return RH_ACT_Q8;
    case RH_TYPE_Q4_K:
    case RH_TYPE_Q5_K:
    case RH_TYPE_Q6_K:
        return RH_ACT_Q8K;
    default:
        return RH_ACT_NONE;
    }
}

/* Offset of nib in a Q8K activation row (64-byte aligned). */
static inline size_t rh_act_q8k_nib_off(int64_t n)
{
    return ((size_t)n + (size_t)(n / RH_QKK) * 4 + (size_t)(n / 16) * 2 + 63) & ~(size_t)63;
}

/* Bytes of one activation row (a multiple of 64, so rows stay aligned). */
static inline size_t rh_act_row_size(int kind, int64_t n)
{
    size_t s;
    switch (kind) {
    case RH_ACT_F32: s = (size_t)n * 4; break;
    case RH_ACT_Q8: s = (size_t)n + (size_t)(n / RH_QK) * 12; break;
    case RH_ACT_Q8K:
        s = rh_act_q8k_nib_off(n) + (size_t)n + (size_t)(n / 32) * 4 + (size_t)((n / 256 + 1) / 2) * 64;
        break;
    default: return 0;
    }
    return (s + 63) & ~(size_t)63;
}

/* Pointers into a Q8 / Q8K activation row. */
static inline float *rh_act_q8_d(void *row, int64_t n) { return (float *)((char *)row + n); }
static inline float *rh_act_q8_s(void *row, int64_t n)
{
    return (float *)((char *)row + n) + n / RH_QK;
}
static inline int32_t *rh_act_q8_isum(void *row, int64_t n)
{
    return (int32_t *)((float *)((char *)row + n) + 2 * (n / RH_QK));
}
static inline float *rh_act_q8k_d(void *row, int64_t n) { return (float *)((char *)row + n); }
static inline int16_t *rh_act_q8k_bsum(void *row, int64_t n)
{
    return (int16_t *)((float *)((char *)row + n) + n / RH_QKK);
}
static inline int8_t *rh_act_q8k_nib(void *row, int64_t n)
{
    return (int8_t *)row + rh_act_q8k_nib_off(n);
}
/* d x the sum of each 32 values, as floats (after nib). */
static inline float *rh_act_q8k_msum(void *row, int64_t n)
{
    return (float *)((int8_t *)row + rh_act_q8k_nib_off(n) + n);
}
/* bsum of the pairs of blocks, interleaved (after msum). */
static inline int16_t *rh_act_q8k_bsum2(void *row, int64_t n)
{
    return (int16_t *)(rh_act_q8k_msum(row, n) + n / 32);
}
/* Write nib, msum and bsum2 from qs, d and bsum (every set's Q8K quantizer
 * ends with this, so that all sets produce the same rows). */
static inline void rh_act_q8k_finish(void *row, int64_t n)
{
    const float *d = rh_act_q8k_d(row, n);
    const int16_t *bs = rh_act_q8k_bsum(row, n);
    float *ms = rh_act_q8k_msum(row, n);
    for (int64_t j = 0; j < n / 32; j++)
        ms[j] = d[j / 8] * (float)(bs[2 * j] + bs[2 * j + 1]);
    const int8_t *qs = row;
    int8_t *nib = rh_act_q8k_nib(row, n);
    for (int64_t b = 0; b < n / 256; b++)
        for (int i = 0; i < 16; i++) /* run i: quarter by i % 4, then i / 4 */
            memcpy(nib + 256 * b + 16 * (4 * "\0\2\1\3"[i % 4] + i / 4), qs + 256 * b + 16 * i, 16);
    int16_t *b2 = rh_act_q8k_bsum2(row, n);
    for (int64_t p = 0; p < (n / 256 + 1) / 2; p++)
        for (int w = 0; w < 32; w++) { /* word w: block 2p + (w % 8 >= 4), sum 4 (w / 8) + w % 4 */
            int64_t b = 2 * p + (w % 8 >= 4);
            b2[32 * p + w] = b < n / 256 ? bs[16 * b + 4 * (w / 8) + w % 4] : 0;
        }
}

/* fp16 -> f32 without a table (kernels must not depend on quant.c state). */
static inline float rh_k_fp16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t rh_k_rd16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Q4_K / Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 bytes. */
static inline void rh_k_scale_min(const uint8_t *s, int j, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

#endif
