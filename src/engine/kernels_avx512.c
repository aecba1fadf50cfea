/*
 * kernels_avx512.c - AVX-512 (F/BW/VL/DQ) + VNNI kernels. Compiled with those
 * flags; matmul.c calls rh_kernels_avx512_init only after cpuid said the CPU
 * has them.
 *
 * Three shapes of work (see docs/engine-kernels.md):
 *   generation and a few tokens (Q8_0 up to 7, Q4_K 15, Q6_K 31, Q5_K any):
 *     one weight row at a time, streamed once with software prefetch far
 *     ahead (rh_pf_ahead), unpacked once for up to 4 (Q8_0) or 8 tokens;
 *     each (row, token) sum formed the same way for any number of tokens;
 *   other 32-value types: register tiles of 4 rows x 4 tokens;
 *   prompts: 16 rows repacked so that one vpdpbusd serves 16 rows (below).
 * Integer products:
 *   Q8_0, Q4_0, Q5_0, Q4_1, Q5_1  vpdpbusd on the quants as unsigned bytes
 *         (Q8_0: w xor 0x80 = w+128), minus offset*sum(a) folded into the
 *         accumulator's start value;
 *   Q4_K, Q5_K, Q6_K  vpdpbusd (unsigned quants x int8 activations; sums
 *         small enough for 16 bits), vpackssdw, then vpdpwssd with the
 *         16-bit sub-block scales; the mins (Q6_K: the -32 offset) via the
 *         activation's sums of 32 (16) values. Prompts: vpdpbusd on
 *         repacked rows, scales as floats.
 */
#include <immintrin.h>

#include "engine/kernels.h"
#include "engine/vec_avx512.h"

#define AI static inline __attribute__((always_inline))
#define MAXR 4
#define MAXT 4

/* ---- activation quantization -------------------------------------------- */

/* Same arithmetic as the scalar quantizer (127/amax, round to nearest even),
 * so that all kernel sets see identical activations. */
static void quant_q8(const float *x, void *dst, int64_t n)
{
    int8_t *qs = dst;
    float *d = rh_act_q8_d(dst, n), *s = rh_act_q8_s(dst, n);
    int32_t *is = rh_act_q8_isum(dst, n);
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n / RH_QK; b++) {
        __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
        __m512 m = _mm512_max_ps(_mm512_and_ps(v0, absmask), _mm512_and_ps(v1, absmask));
        float amax = _mm512_reduce_max_ps(m);
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
        __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
        _mm_storeu_si128((__m128i *)(qs + b * 32), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(qs + b * 32 + 16), _mm512_cvtsepi32_epi8(q1));
        int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        d[b] = amax / 127.0f;
        s[b] = d[b] * (float)sum;
        is[b] = sum;
    }
}

static void quant_q8k(const float *x, void *dst, int64_t n)
{
    int8_t *qs = dst;
    float *d = rh_act_q8k_d(dst, n);
    int16_t *bs = rh_act_q8k_bsum(dst, n);
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n / RH_QKK; b++) {
        const float *xb = x + b * RH_QKK;
        __m512 m = _mm512_setzero_ps();
        for (int i = 0; i < 16; i++)
            m = _mm512_max_ps(m, _mm512_and_ps(_mm512_loadu_ps(xb + 16 * i), absmask));
        float amax = _mm512_reduce_max_ps(m);
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        d[b] = amax / 127.0f;
        for (int g = 0; g < 16; g++) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 16 * g), vid));
            _mm_storeu_si128((__m128i *)(qs + b * RH_QKK + 16 * g), _mm512_cvtsepi32_epi8(q));
            bs[b * 16 + g] = (int16_t)_mm512_reduce_add_epi32(q);
        }
    }
    /* nib, msum and bsum2 for kq_rows, made once per product (the nib
     * copy made per chunk of rows cost 6% of a decode step of 8 tokens) */
    rh_act_q8k_finish(dst, n);
}

/* ---- tile driver ----------------------------------------------------------- */

/* out[t*R + r] = dot(w[r], a[t]) */
typedef void (*tile_fn)(int64_t n, const uint8_t *const *w, const uint8_t *const *a, float *out);

static void drive(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                  float *y, int64_t ys, tile_fn f1, int r1, tile_fn fT, int rT, int tT)
{
    tile_fn f = nt == 1 ? f1 : fT;
    int R = nt == 1 ? r1 : rT, T = nt == 1 ? 1 : tT;
    for (int t0 = 0; t0 < nt; t0 += T) {
        const uint8_t *ap[MAXT];
        for (int i = 0; i < T; i++)
            ap[i] = (const uint8_t *)a + (size_t)(t0 + i < nt ? t0 + i : nt - 1) * as;
        for (int r0 = 0; r0 < nr; r0 += R) {
            const uint8_t *wp[MAXR];
            float out[MAXR * MAXT];
            for (int i = 0; i < R; i++)
                wp[i] = (const uint8_t *)w + (size_t)(r0 + i < nr ? r0 + i : nr - 1) * ws;
            f(n, wp, ap, out);
            for (int t = 0; t < T && t0 + t < nt; t++)
                for (int r = 0; r < R && r0 + r < nr; r++)
                    y[(int64_t)(t0 + t) * ys + r0 + r] = out[t * R + r];
        }
    }
}


/* mm_<name>: one token with the 1x1 tile, more with R rows x 4 tokens. */
#define TILE_FNS(name, tile, kind, R)                                                          \
    static void name##_1x1(int64_t n, const uint8_t *const *w, const uint8_t *const *a,         \
                           float *o)                                                           \
    {                                                                                          \
        tile(n, w, a, o, 1, 1, kind);                                                          \
    }                                                                                          \
    static void name##_rx4(int64_t n, const uint8_t *const *w, const uint8_t *const *a,         \
                           float *o)                                                           \
    {                                                                                          \
        tile(n, w, a, o, R, 4, kind);                                                          \
    }                                                                                          \
    static void mm_##name(int64_t n, const void *w, size_t ws, int nr, const void *a,          \
                          size_t as, int nt, float *y, int64_t ys)                             \
    {                                                                                          \
        drive(n, w, ws, nr, a, as, nt, y, ys, name##_1x1, 1, name##_rx4, R, 4);                \
    }

/* ---- F32 / F16 ------------------------------------------------------------- */

AI void f32_tile(int64_t n, const uint8_t *const *w, const uint8_t *const *a, float *out,
                 const int R, const int T, const int f16)
{
    __m512 acc[MAXR][MAXT];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512 wv[MAXR];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            if (f16) {
                wv[r] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w[r] + 2 * k)));
            } else {
                wv[r] = _mm512_loadu_ps((const float *)w[r] + k);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            __m512 av = _mm512_loadu_ps((const float *)a[t] + k);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                acc[r][t] = _mm512_fmadd_ps(wv[r], av, acc[r][t]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            float s = _mm512_reduce_add_ps(acc[r][t]);
            for (int64_t i = k; i < n; i++) {
                float wvv = f16 ? rh_k_fp16(rh_k_rd16(w[r] + 2 * i)) : ((const float *)w[r])[i];
                s += wvv * ((const float *)a[t])[i];
            }
            out[t * R + r] = s;
        }
}

TILE_FNS(f32, f32_tile, 0, 4)
TILE_FNS(f16, f32_tile, 1, 4)

/* ---- Q8_0 / Q4_0 against RH_ACT_Q8 ----------------------------------------- */

/* Lanes 0-7 from element 0, lanes 8-15 from element 1. */
AI __m512i idx_pair(void)
{
    return _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
}

/* Two fp16 scales at p and p+stride as [d0 x8, d1 x8]. */
AI __m512 scale_pair(const uint8_t *p, size_t stride, __m512i idx)
{
    uint32_t v = (uint32_t)rh_k_rd16(p) | ((uint32_t)rh_k_rd16(p + stride) << 16);
    __m128i h = _mm_cvtsi32_si128((int)v);
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_cvtph_ps(h)));
}

/* Two consecutive floats at p as [p0 x8, p1 x8]. */
AI __m512 float_pair(const float *p, __m512i idx)
{
    __m128 v = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(const void *)p));
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v));
}

AI __m512i int_pair(const int32_t *p, __m512i idx)
{
    __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm512_permutexvar_epi32(idx, _mm512_castsi128_si512(v));
}

/* The 32-value block formats against RH_ACT_Q8, by kind:
 *   0 Q8_0 (34 bytes: d, 32 int8)          value d*q
 *   1 Q4_0 (18: d, 16 nibble bytes)        value d*(q-8)
 *   2 Q5_0 (22: d, qh[4], 16 bytes)        value d*(q-16)
 *   3 Q4_1 (20: d, m, 16 bytes)            value d*q + m
 *   4 Q5_1 (24: d, m, qh[4], 16 bytes)     value d*q + m
 * Quants go into vpdpbusd as unsigned bytes (Q8_0: q xor 0x80 = q+128); the
 * offset times the activation block sum is subtracted in the integer sum. */
static const size_t blk32_size[5] = {34, 18, 22, 20, 24};
static const int blk32_qs[5] = {2, 2, 6, 4, 8};
static const int blk32_qh[5] = {0, 0, 2, 0, 4};
static const int blk32_off[5] = {128, 8, 16, 0, 0};

/* One block's 32 quants as unsigned bytes. */
AI __m256i blk32_quants(const uint8_t *p, const int kind)
{
    if (kind == 0)
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 2)),
                                _mm256_set1_epi8((char)0x80));
    __m128i q = _mm_loadu_si128((const __m128i *)(p + blk32_qs[kind]));
    __m256i v = _mm256_and_si256(
        _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1),
        _mm256_set1_epi8(0x0F));
    if (kind == 2 || kind == 4) {
        uint32_t qh;
        memcpy(&qh, p + blk32_qh[kind], 4);
        v = _mm256_or_si256(v, _mm256_maskz_mov_epi8(qh, _mm256_set1_epi8(0x10)));
    }
    return v;
}

/* Integer dot of one block with 32 activation values whose sum is isum,
 * offset included. (Intrinsics: GCC 12 turns the plain C loop into a wrong
 * signed x signed vpdpbusd when VNNI is enabled.) */
AI int block_dot(const uint8_t *p, const int8_t *aq, int32_t isum, const int kind)
{
    __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), blk32_quants(p, kind),
                                    _mm256_loadu_si256((const __m256i *)aq));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h) - blk32_off[kind] * isum;
}

AI void q8_0_tile(int64_t n, const uint8_t *const *w, const uint8_t *const *a, float *out,
                  const int R, const int T, const int kind)
{
    const size_t bs = blk32_size[kind];
    const int64_t nb = n / 32;
    const __m512i idx = idx_pair();
    const int has_m = kind == 3 || kind == 4;
    __m512 acc[MAXR][MAXT];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i wv[MAXR];
        __m512 dw[MAXR], mw[MAXR];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w[r] + (size_t)b * bs;
            rh_pf_ahead(p, (int)(2 * bs));
            wv[r] = _mm512_inserti64x4(_mm512_castsi256_si512(blk32_quants(p, kind)),
                                       blk32_quants(p + bs, kind), 1);
            dw[r] = scale_pair(p, bs, idx);
            /* the offset m of Q4_1/Q5_1, an eighth per lane (8 lanes a block) */
            mw[r] = has_m ? _mm512_mul_ps(scale_pair(p + 2, bs, idx), _mm512_set1_ps(0.125f))
                          : _mm512_setzero_ps();
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const int8_t *aq = (const int8_t *)a[t];
            void *ar = (void *)(uintptr_t)a[t];
            __m512i av = _mm512_loadu_si512((const void *)(aq + b * 32));
            __m512 da = float_pair(rh_act_q8_d(ar, n) + b, idx);
            __m512 sa = has_m ? float_pair(rh_act_q8_s(ar, n) + b, idx) : _mm512_setzero_ps();
            /* start value: -offset*sum spread over the block's 8 lanes */
            __m512i init = _mm512_setzero_si512();
            if (blk32_off[kind])
                init = _mm512_mullo_epi32(int_pair(rh_act_q8_isum(ar, n) + b, idx),
                                          _mm512_set1_epi32(-blk32_off[kind] / 8));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m512i p = _mm512_dpbusd_epi32(init, wv[r], av);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw[r], da),
                                            acc[r][t]);
                if (has_m)
                    acc[r][t] = _mm512_fmadd_ps(mw[r], sa, acc[r][t]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            float s = _mm512_reduce_add_ps(acc[r][t]);
            for (int64_t bb = b; bb < nb; bb++) { /* odd last block */
                const uint8_t *p = w[r] + (size_t)bb * bs;
                const int8_t *aq = (const int8_t *)a[t] + bb * 32;
                void *ar = (void *)(uintptr_t)a[t];
                int isum = block_dot(p, aq, rh_act_q8_isum(ar, n)[bb], kind);
                s += _cvtsh_ss(rh_k_rd16(p)) * rh_act_q8_d(ar, n)[bb] * (float)isum;
                if (has_m)
                    s += _cvtsh_ss(rh_k_rd16(p + 2)) * rh_act_q8_s(ar, n)[bb];
            }
            out[t * R + r] = s;
        }
}

/* Generation (one token): 16 blocks per step. The 8 vpdpbusd results (two
 * blocks each) are reduced to one vector of 16 block sums, so scales are
 * applied once per 16 blocks instead of once per 2:
 *   sum_b dw_b * (da_b * dot_b - 128 * s_b)
 * The reduction leaves block sums in the lane order Q8_PERM; scales are
 * fetched in that order (word permutes for the weights, permute for the
 * activations). */
static const int32_t q8_perm[16] = {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15};

AI __m512i reduce8(const __m512i *s)
{
    __m512i t[4], u[2];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        t[k] = _mm512_add_epi32(_mm512_unpacklo_epi32(s[2 * k], s[2 * k + 1]),
                                _mm512_unpackhi_epi32(s[2 * k], s[2 * k + 1]));
#pragma GCC unroll 2
    for (int m = 0; m < 2; m++)
        u[m] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * m], t[2 * m + 1]),
                                _mm512_unpackhi_epi64(t[2 * m], t[2 * m + 1]));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Q8_0 for 1 to 7 tokens (from 8 the repacked prompt kernel): one row at a
 * time, its 16-block steps loaded once for up to 4 tokens, each (row,
 * token) sum formed the same way for any number of tokens (so a token alone gives
 * the same bits as in a batch). */
AI void q8_0_rows(int64_t n, const uint8_t *w, size_t ws, int nr, const uint8_t *const *a,
                  float *y, int64_t ys, const int T)
{
    const int64_t nb = n / 32;
    const __m512i perm = _mm512_loadu_si512((const void *)q8_perm);
    /* the 16 fp16 scales of a step, in the lane order q8_perm, by word
     * permutes of four 128-byte spans (each holds 4 blocks' scales, 17
     * words apart): a gather of 16 dwords was the costliest instruction
     * of the loop (63 -> 100 GB/s in cache without it) */
    _Alignas(64) int16_t sidx[32] = {0};
    __mmask32 sk[4] = {0, 0, 0, 0};
    for (int l = 0; l < 16; l++) {
        sidx[l] = (int16_t)(17 * (q8_perm[l] % 4));
        sk[q8_perm[l] / 4] |= (__mmask32)1 << l;
    }
    const __m512i si = _mm512_load_si512((const void *)sidx);
    const __m512i x80 = _mm512_set1_epi8((char)0x80);
    for (int r = 0; r < nr; r++) {
        const uint8_t *row = w + (size_t)r * ws;
        __m512 acc[4];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[t] = _mm512_setzero_ps();
        int64_t b = 0;
        for (; b + 16 <= nb; b += 16) {
            const uint8_t *p = row + (size_t)b * 34;
            rh_pf_ahead(p, 544);
            __m512i wv[8];
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                const uint8_t *q = p + 68 * j;
                wv[j] = _mm512_xor_si512(
                    _mm512_inserti64x4(
                        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(q + 2))),
                        _mm256_loadu_si256((const __m256i *)(q + 36)), 1),
                    x80);
            }
            __m512i sw = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++)
                sw = _mm512_mask_mov_epi16(
                    sw, sk[g],
                    _mm512_permutex2var_epi16(_mm512_loadu_si512((const void *)(p + 136 * g)), si,
                                              _mm512_loadu_si512((const void *)(p + 136 * g + 64))));
            __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(sw));
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                const int8_t *aq = (const int8_t *)a[t];
                void *ar = (void *)(uintptr_t)a[t];
                __m512i sv[8];
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++)
                    sv[j] = _mm512_dpbusd_epi32(
                        _mm512_setzero_si512(), wv[j],
                        _mm512_loadu_si512((const void *)(aq + (b + 2 * j) * 32)));
                __m512 da = _mm512_permutexvar_ps(perm, _mm512_loadu_ps(rh_act_q8_d(ar, n) + b));
                __m512 sc = _mm512_mul_ps(
                    _mm512_permutexvar_ps(perm, _mm512_loadu_ps(rh_act_q8_s(ar, n) + b)),
                    _mm512_set1_ps(-128.0f));
                __m512 dots = _mm512_cvtepi32_ps(reduce8(sv));
                acc[t] = _mm512_fmadd_ps(dw, _mm512_fmadd_ps(dots, da, sc), acc[t]);
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const int8_t *aq = (const int8_t *)a[t];
            void *ar = (void *)(uintptr_t)a[t];
            float s = _mm512_reduce_add_ps(acc[t]);
            for (int64_t bb = b; bb < nb; bb++) {
                const uint8_t *p = row + (size_t)bb * 34;
                int isum = block_dot(p, aq + bb * 32, rh_act_q8_isum(ar, n)[bb], 0);
                s += rh_k_fp16(rh_k_rd16(p)) * rh_act_q8_d(ar, n)[bb] * (float)isum;
            }
            y[(int64_t)t * ys + r] = s;
        }
    }
}

static void mm_q8_0_rows(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                         int nt, float *y, int64_t ys)
{
    for (int t0 = 0; t0 < nt; t0 += 4) {
        const uint8_t *ap[4];
        int T = rh_token_group(a, as, nt, t0, 4, ap);
        float *yt = y + (int64_t)t0 * ys;
#define CALL(t) q8_0_rows(n, w, ws, nr, ap, yt, ys, t)
        RH_WITH_T4(T, CALL);
#undef CALL
    }
}

TILE_FNS(q4_0, q8_0_tile, 1, 4)
TILE_FNS(q5_0, q8_0_tile, 2, 4)
TILE_FNS(q4_1, q8_0_tile, 3, 4)
TILE_FNS(q5_1, q8_0_tile, 4, 4)



/* ---- K-quants against RH_ACT_Q8K -------------------------------------------- */

/* Q6_K: the 64 quants of chunk c (values 64c..64c+63) of the block at p,
 * 0..63 as bytes (4 low bits from ql, 2 high ones from qh). */
AI __m512i q6_quants(const uint8_t *p, const int c)
{
    const int h = c >> 1;
    const __m512i ql = _mm512_loadu_si512((const void *)(p + 64 * h));
    /* qh of the half in both 256-bit halves; the 2 bits of the first 32
     * values of the chunk are moved to bits 4-5 by one shift, those of the
     * second 32 by another (variable shifts per 256-bit half) */
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h)));
    const __m512i m30 = _mm512_set1_epi8(0x30);
    if ((c & 1) == 0) {
        const __m512i hb = _mm512_sllv_epi16(
            qh, _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1));
        /* (ql & 0x0f) | (hb & 0x30) */
        return _mm512_ternarylogic_epi32(_mm512_and_si512(ql, _mm512_set1_epi8(0x0F)), hb, m30, 0xF8);
    }
    const __m512i hb = _mm512_srlv_epi16(
        qh, _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1));
    /* ((ql >> 4) & 0x0f) | (hb & 0x30) */
    return _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), _mm512_and_si512(hb, m30),
                                     _mm512_set1_epi8(0x0F), 0xEC);
}


/* Q4_K/Q5_K/Q6_K for 1 to 15 tokens (generation, several sequences; from
 * 16 tokens (Q6_K 32) the repacked prompt kernel takes over), the hot path
 * of Q4_K_M models (kq_rows below): a weight row is unpacked once for up
 * to 8 tokens; Q4_K/Q5_K read the activations from their copy in the
 * order the quants are unpacked in (nib, kernels.h). Each (row, token) sum
 * is formed the same way for any number of tokens, so a token alone gives
 * the same bits as in a batch. */
/* From 4 tokens on, long rows go in slices of KQ_SLICE super-blocks (2048
 * values), each slice for KQ_ROWS rows in turn, the accumulators kept
 * aside in between: with 8 tokens, all activations of a row of 5632
 * values (45 KiB) did not stay in the L1 beside the weights (8 tokens, in
 * cache: Q4_K 128 -> 141 GMAC/s, Q6_K 118 -> 148). With fewer tokens rows
 * go one by one, whole (the weights then stream in order). The sums are
 * the same either way. */
#define KQ_SLICE 8
#define KQ_ROWS 4

/* The scales of two blocks at p0, p1 as one 256-bit vector, per 128-bit
 * lane (block): bytes sc0..7 | mn0..7, unpacked from the 12 bytes of 6-bit
 * scales and mins with vector operations (reads the 16 bytes after each
 * block's d and dmin). */
AI __m256i k_scales2(const uint8_t *p0, const uint8_t *p1)
{
    const __m256i x = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p0 + 4))),
        _mm_loadu_si128((const __m128i *)(p1 + 4)), 1);
    /* t: s0-3 | s8-11 | s4-7 | s8-11, u: - | s0-3 | - | s4-7 */
    const __m256i t = _mm256_shuffle_epi8(
        x, _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11)));
    const __m256i u = _mm256_shuffle_epi8(
        x, _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7)));
    /* sc0-3 = s0-3 & 63, sc4-7 = (s8-11 & 15) | (s0-3 >> 6) << 4,
     * mn0-3 = s4-7 & 63, mn4-7 = (s8-11 >> 4) | (s4-7 >> 6) << 4 */
    const __m256i a = _mm256_and_si256(
        t, _mm256_broadcastsi128_si256(_mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0)));
    const __m256i b = _mm256_and_si256(_mm256_srli_epi16(t, 4),
                                       _mm256_broadcastsi128_si256(_mm_setr_epi32(0, 0, 0, 0x0f0f0f0f)));
    const __m256i c = _mm256_and_si256(
        _mm256_srli_epi16(u, 2), _mm256_broadcastsi128_si256(_mm_setr_epi32(0, 0x30303030, 0, 0x30303030)));
    return _mm256_or_si256(_mm256_or_si256(a, b), c);
}

/* vpshufb indices that lay the sub-block scales of a pair of blocks out
 * for the packed sums of kq_rows, from a broadcast of the 16 bytes sc0-7
 * of the first block | sc0-7 of the second: in 128-bit lane k, 16-bit
 * words 0-3 get scale 2k + hi of the first block, words 4-7 that of the
 * second; high bytes zero. */
AI __m512i q4k_scidx(int hi)
{
    int8_t v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (int8_t)(i & 1 ? -1 : ((i & 15) < 8 ? 0 : 8) + 2 * (i / 16) + hi);
    return _mm512_loadu_si512((const void *)v);
}

/* One block's 256 quants as 4 vectors, 0..15 (Q4_K) or 0..31 (Q5_K), in
 * the order of nib (kernels.h): with A, B the quant bytes 0-63, 64-127,
 * X = their 16-byte runs 0, 2 (of A), 0, 2 (of B) and Y = runs 1, 3, 1, 3,
 * q = X low nibbles, X high, Y low, Y high. So 128-bit lane k of q[0] and
 * q[2] holds sub-block 2k (its first and last 16 values), of q[1] and q[3]
 * sub-block 2k + 1: two products can add up before the scales. */
AI void q4k_quants(const uint8_t *p, const int Q5, __m512i *q)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), b16 = _mm512_set1_epi8(16);
    const __m512i qa = _mm512_loadu_si512((const void *)(p + (Q5 ? 48 : 16)));
    const __m512i qb = _mm512_loadu_si512((const void *)(p + (Q5 ? 48 : 16) + 64));
    const __m512i x = _mm512_shuffle_i64x2(qa, qb, _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i y = _mm512_shuffle_i64x2(qa, qb, _MM_SHUFFLE(3, 1, 3, 1));
    q[0] = _mm512_and_si512(x, m4);
    q[1] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
    q[2] = _mm512_and_si512(y, m4);
    q[3] = _mm512_and_si512(_mm512_srli_epi16(y, 4), m4);
    if (Q5) {
        /* the 5th bit of value 32j + k is bit j of qh[k]: for X k < 16,
         * for Y k >= 16; lane m holds sub-block j = 2m (low) or 2m + 1 */
        const __m512i tl = _mm512_set_epi32(0x40404040, 0x40404040, 0x40404040, 0x40404040,
                                            0x10101010, 0x10101010, 0x10101010, 0x10101010,
                                            0x04040404, 0x04040404, 0x04040404, 0x04040404,
                                            0x01010101, 0x01010101, 0x01010101, 0x01010101);
        const __m512i th = _mm512_add_epi8(tl, tl);
        const __m512i hx = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(p + 16)));
        const __m512i hy = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(p + 32)));
        q[0] = _mm512_mask_add_epi8(q[0], _mm512_test_epi8_mask(hx, tl), q[0], b16);
        q[1] = _mm512_mask_add_epi8(q[1], _mm512_test_epi8_mask(hx, th), q[1], b16);
        q[2] = _mm512_mask_add_epi8(q[2], _mm512_test_epi8_mask(hy, tl), q[2], b16);
        q[3] = _mm512_mask_add_epi8(q[3], _mm512_test_epi8_mask(hy, th), q[3], b16);
    }
}

/* Q4_K/Q5_K: the scaled integer sums of a pair of blocks (quants q0, q1
 * from q4k_quants) against their activations a0, a1 (nib order): per
 * block and sub-block the two halves add up in vpdpbusd (sums of 8
 * products, at most 8*31*127, so they fit 16 bits), the two blocks' sums
 * are packed side by side and vpdpwssd applies the scales (slo, shi from
 * q4k_scidx). Result lanes per 128 bits: block 0, 0, 1, 1. */
AI __m512i q4k_pair_dot(const __m512i *q0, const __m512i *q1, const int8_t *a0, const int8_t *a1,
                        __m512i slo, __m512i shi)
{
    const __m512i z = _mm512_setzero_si512();
#define LD(p) _mm512_loadu_si512((const void *)(p))
    __m512i l0 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, q0[0], LD(a0)), q0[2], LD(a0 + 128));
    __m512i h0 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, q0[1], LD(a0 + 64)), q0[3], LD(a0 + 192));
    __m512i l1 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, q1[0], LD(a1)), q1[2], LD(a1 + 128));
    __m512i h1 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, q1[1], LD(a1 + 64)), q1[3], LD(a1 + 192));
#undef LD
    __m512i s = _mm512_dpwssd_epi32(z, _mm512_packs_epi32(l0, l1), slo);
    return _mm512_dpwssd_epi32(s, _mm512_packs_epi32(h0, h1), shi);
}

/* Q6_K (4 chunks of 64 values, low 4 bits from ql, high 2 from qh; int8
 * scales per group of 16 values): vpermw indices on the 32 scales of a
 * pair of blocks (as 16-bit words, 16 per block), for chunk c (c < 4):
 * in 128-bit lane k, words 0-3 get the scale of group 4c + k of the first
 * block, words 4-7 that of the second, as the packed sums lie; c = 4: the
 * scales for bsum2 (kernels.h), words 0-3 groups 4k..4k+3 of the first
 * block, 4-7 of the second. */
AI __m512i q6k_scidx(int c)
{
    short v[32];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 8; i++)
            v[8 * k + i] = (short)((i < 4 ? 0 : 16) + (c < 4 ? 4 * c + k : 4 * k + i % 4));
    return _mm512_loadu_si512((const void *)v);
}

/* Q6_K: the scaled integer sums of a pair of blocks (quants q0, q1 as
 * q6_quants gives them, 0..63) against their activations a0, a1 (qs
 * order), less 32 x the activation sums (mo: -32 x the scales, for bsum2
 * at b2): per chunk vpdpbusd (sums of 4 products, at most 4*63*127), the
 * two blocks' sums packed side by side, vpdpwssd with the group scales
 * (sc). Result lanes per 128 bits: block 0, 0, 1, 1. */
AI __m512i q6k_pair_dot(const __m512i *q0, const __m512i *q1, const int8_t *a0, const int8_t *a1,
                        const __m512i *sc, __m512i mo, const int16_t *b2)
{
    const __m512i z = _mm512_setzero_si512();
    __m512i s = _mm512_dpwssd_epi32(z, mo, _mm512_loadu_si512((const void *)b2));
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512i x0 = _mm512_dpbusd_epi32(z, q0[c], _mm512_loadu_si512((const void *)(a0 + 64 * c)));
        __m512i x1 = _mm512_dpbusd_epi32(z, q1[c], _mm512_loadu_si512((const void *)(a1 + 64 * c)));
        s = _mm512_dpwssd_epi32(s, _mm512_packs_epi32(x0, x1), sc[c]);
    }
    return s;
}

/* nr rows x T tokens of kind 0 Q4_K (144-byte blocks), 1 Q5_K (176), 2
 * Q6_K (210); activation rows a, as bytes apart. Blocks go in pairs: the
 * two blocks' integer sums come out side by side in one vector (per 128
 * bits lanes of block 0, 0, 1, 1), so that the float work (d x da; for
 * Q4_K/Q5_K dmin x the mins against msum) is one pass per pair. An odd
 * last block is paired with itself, weighted 0. */
AI void kq_rows(int64_t n, const uint8_t *w, size_t ws, int nr, const uint8_t *a, size_t as,
                float *y, int64_t ys, const int T, const int kind)
{
    const int64_t nb = n / 256;
    const size_t bs = kind == 0 ? 144 : kind == 1 ? 176 : 210;
    __m512i si[5];
    for (int c = 0; c < (kind == 2 ? 5 : 2); c++)
        si[c] = kind == 2 ? q6k_scidx(c) : q4k_scidx(c);
    const __m512i id = _mm512_set_epi32(2, 2, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0);
    const __m512i im = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    const int RG = T >= 4 ? KQ_ROWS : 1;
    const int64_t SL = RG > 1 ? KQ_SLICE : nb;
    __m512 keep[KQ_ROWS][8], done[8][16];
    for (int r0 = 0; r0 < nr; r0 += RG)
    for (int64_t b0 = 0; b0 < nb; b0 += SL)
    for (int r = r0; r < r0 + RG && r < nr; r++) {
        const int64_t b1 = b0 + SL < nb ? b0 + SL : nb;
        const uint8_t *row = w + (size_t)r * ws;
        __m512 acc[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
            acc[t] = b0 == 0 ? _mm512_setzero_ps() : keep[r - r0][t];
        for (int64_t b = b0; b < b1; b += 2) {
            const int two = b + 1 < b1;
            const uint8_t *p0 = row + (size_t)b * bs, *p1 = two ? p0 + bs : p0;
            rh_pf_at(p0, 2 * (int)bs, RG > 1 ? RH_PF_DIST_FAR : RH_PF_DIST);
            /* per pair: the quants; d in the lanes of the integer sums;
             * the scales laid out for the packed sums (sc); Q4_K/Q5_K:
             * dmin x the mins in the lanes of msum (wm); Q6_K: -32 x the
             * scales for bsum2 (mo) */
            __m512 vd, wm = _mm512_setzero_ps();
            __m512i q[2][4], sc[4], mo = _mm512_setzero_si512();
            if (kind == 2) {
                const __m512i m16 = _mm512_cvtepi8_epi16(_mm256_inserti128_si256(
                    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p0 + 192))),
                    _mm_loadu_si128((const __m128i *)(p1 + 192)), 1));
                vd = _mm512_permutexvar_ps(
                    id, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_setr_epi16(
                            (short)rh_k_rd16(p0 + 208), 0, two ? (short)rh_k_rd16(p1 + 208) : 0, 0,
                            0, 0, 0, 0))));
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    q[0][c] = q6_quants(p0, c);
                    q[1][c] = q6_quants(p1, c);
                    sc[c] = _mm512_permutexvar_epi16(si[c], m16);
                }
                mo = _mm512_mullo_epi16(_mm512_permutexvar_epi16(si[4], m16), _mm512_set1_epi16(-32));
            } else {
                const __m256i sm = k_scales2(p0, p1);
                uint32_t h0, h1;
                memcpy(&h0, p0, 4);
                memcpy(&h1, p1, 4);
                const __m512 dd = _mm512_castps128_ps512(
                    _mm_cvtph_ps(_mm_setr_epi32((int)h0, two ? (int)h1 : 0, 0, 0)));
                vd = _mm512_permutexvar_ps(id, dd);
                wm = _mm512_mul_ps(_mm512_permutexvar_ps(im, dd),
                                   _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(
                                       _mm256_permute4x64_epi64(sm, _MM_SHUFFLE(3, 3, 3, 1))))));
                q4k_quants(p0, kind == 1, q[0]);
                q4k_quants(p1, kind == 1, q[1]);
                const __m512i s2 = _mm512_broadcast_i32x4(_mm_unpacklo_epi64(
                    _mm256_castsi256_si128(sm), _mm256_extracti128_si256(sm, 1)));
                sc[0] = _mm512_shuffle_epi8(s2, si[0]);
                sc[1] = _mm512_shuffle_epi8(s2, si[1]);
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                void *ar = (void *)(uintptr_t)(a + (size_t)t * as);
                __m512i s;
                if (kind == 2) {
                    const int8_t *a0 = (const int8_t *)ar + (size_t)b * 256;
                    s = q6k_pair_dot(q[0], q[1], a0, two ? a0 + 256 : a0, sc, mo,
                                     rh_act_q8k_bsum2(ar, n) + 16 * b);
                } else {
                    const int8_t *a0 = rh_act_q8k_nib(ar, n) + (size_t)b * 256;
                    s = q4k_pair_dot(q[0], q[1], a0, two ? a0 + 256 : a0, sc[0], sc[1]);
                }
                /* da of the pair in the lanes 0, 0, 1, 1 (0 for a lone
                 * block, whose da[1] is then the first bytes of bsum) */
                double dd2;
                memcpy(&dd2, rh_act_q8k_d(ar, n) + b, 8);
                const __m512 vda = _mm512_maskz_permute_ps(two ? 0xffff : 0x3333,
                                                           _mm512_castpd_ps(_mm512_set1_pd(dd2)), 0x50);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(vd, vda), acc[t]);
                if (kind != 2)
                    acc[t] = _mm512_fnmadd_ps(wm, _mm512_maskz_loadu_ps(two ? 0xffff : 0xff,
                                                                        rh_act_q8k_msum(ar, n) + 8 * b),
                                              acc[t]);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            if (b1 < nb)
                keep[r - r0][t] = acc[t];
            else
                done[t][r & 15] = acc[t];
        }
        /* finished rows are summed 16 at a time (a row of 2048 values is
         * only 4 pairs of blocks: a horizontal sum per row was a long
         * chain beside them); a row's sum does not depend on its group */
        if (b1 == nb && ((r & 15) == 15 || r == nr - 1)) {
            for (int i = (r & 15) + 1; i < 16; i++)
                for (int t = 0; t < T; t++)
                    done[t][i] = _mm512_setzero_ps();
            for (int t = 0; t < T; t++)
                _mm512_mask_storeu_ps(y + (int64_t)t * ys + (r & ~15),
                                      (__mmask16)((2u << (r & 15)) - 1), rh_reduce16_ps(done[t]));
        }
    }
}

AI void kq_drive(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                 float *y, int64_t ys, const int kind)
{
    for (int t0 = 0; t0 < nt; t0 += 8) {
        int T = nt - t0 < 8 ? nt - t0 : 8;
        const uint8_t *at = (const uint8_t *)a + (size_t)t0 * as;
        float *yt = y + (int64_t)t0 * ys;
#define CALL(t) kq_rows(n, w, ws, nr, at, as, yt, ys, t, kind)
        RH_WITH_T8(T, CALL);
#undef CALL
    }
}

/* (K-quant rows are whole super-blocks: rh_row_size rejects others) */
static void mm_q4_k_fast(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                         int nt, float *y, int64_t ys)
{
    kq_drive(n, w, ws, nr, a, as, nt, y, ys, 0);
}

static void mm_q5_k_fast(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                         int nt, float *y, int64_t ys)
{
    kq_drive(n, w, ws, nr, a, as, nt, y, ys, 1);
}

static void mm_q6_k_fast(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                         int nt, float *y, int64_t ys)
{
    kq_drive(n, w, ws, nr, a, as, nt, y, ys, 2);
}

/* ---- prompt processing: repacked weights ------------------------------------ *
 *
 * For many tokens, 16 weight rows are first repacked (in registers) so that one
 * zmm holds 4 consecutive quants of each of the 16 rows; vpdpbusd with a
 * broadcast dword of 4 activation values then computes 16 rows x 4 products
 * at once, and the result vector is 16 rows of one token: no horizontal
 * sums, and scales are applied once per 16 rows. Layout of the repacked
 * buffer per 32 values: 8 zmm of quants (u8), then zmm(s) of scales.
 */
#define PP_ROWS 16
#define PP_TOK 8

AI __m512i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* 32 bytes at `off` of each of 16 rows (row r at w + r*ws, rows >= nr
 * repeat the last one) -> out[k] = bytes 4k..4k+3 of rows 0..15 (an 8x8
 * dword transpose in both 256-bit halves; faster than gathers). */
AI void transpose16(const uint8_t *w, size_t ws, int nr, size_t off, __m512i *out)
{
    __m512i r[8], t[8], u[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        const uint8_t *lo = w + (size_t)(i < nr ? i : nr - 1) * ws + off;
        const uint8_t *hi = w + (size_t)(i + 8 < nr ? i + 8 : nr - 1) * ws + off;
        r[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
                                  _mm256_loadu_si256((const __m256i *)hi), 1);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 4) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
        t[i + 2] = _mm512_unpacklo_epi32(r[i + 2], r[i + 3]);
        t[i + 3] = _mm512_unpackhi_epi32(r[i + 2], r[i + 3]);
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    const __m512i ilo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i ihi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        out[k] = _mm512_permutex2var_epi64(u[k], ilo, u[k + 4]);
        out[k + 4] = _mm512_permutex2var_epi64(u[k], ihi, u[k + 4]);
    }
}

/* Prefetch [p, p + bytes) of 16 rows ws apart: while one group of 16 rows
 * is repacked, the same block of the next group (16 rows on) is fetched
 * (16 streams in parallel are too many for the hardware prefetcher). */
AI void pf_rows16(const uint8_t *p, size_t ws, const int bytes)
{
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) {
#pragma GCC unroll 4
        for (int o = 0; o < bytes; o += 64)
            _mm_prefetch((const char *)p + (size_t)i * ws + o, _MM_HINT_T0);
    }
}

/* Q8_0: per block 8 zmm of (q xor 0x80), 1 zmm d. */
/* The fp16 at p of 16 rows (inserts: gathers are slow here, and a
 * store-to-array then vector load stalls store forwarding). */
AI __m512 fp16_rows(const uint8_t *p, size_t ws, int nr)
{
    __m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();
#define FP16_ROW(i) rh_k_rd16(p + (size_t)((i) < nr ? (i) : nr - 1) * ws)
    lo = _mm_insert_epi16(lo, FP16_ROW(0), 0);
    lo = _mm_insert_epi16(lo, FP16_ROW(1), 1);
    lo = _mm_insert_epi16(lo, FP16_ROW(2), 2);
    lo = _mm_insert_epi16(lo, FP16_ROW(3), 3);
    lo = _mm_insert_epi16(lo, FP16_ROW(4), 4);
    lo = _mm_insert_epi16(lo, FP16_ROW(5), 5);
    lo = _mm_insert_epi16(lo, FP16_ROW(6), 6);
    lo = _mm_insert_epi16(lo, FP16_ROW(7), 7);
    hi = _mm_insert_epi16(hi, FP16_ROW(8), 0);
    hi = _mm_insert_epi16(hi, FP16_ROW(9), 1);
    hi = _mm_insert_epi16(hi, FP16_ROW(10), 2);
    hi = _mm_insert_epi16(hi, FP16_ROW(11), 3);
    hi = _mm_insert_epi16(hi, FP16_ROW(12), 4);
    hi = _mm_insert_epi16(hi, FP16_ROW(13), 5);
    hi = _mm_insert_epi16(hi, FP16_ROW(14), 6);
    hi = _mm_insert_epi16(hi, FP16_ROW(15), 7);
#undef FP16_ROW
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
}

static void q8_0_repack(int64_t n, const uint8_t *w, size_t ws, int nr, __m512i *rp)
{
    const __m512i x80 = _mm512_set1_epi8((char)0x80);
    for (int64_t b = 0; b < n / 32; b++) {
        __m512i *dst = rp + 9 * b;
        pf_rows16(w + 16 * ws + (size_t)b * 34, ws, 34 + 63);
        transpose16(w, ws, nr, (size_t)b * 34 + 2, dst);
        for (int j = 0; j < 8; j++)
            dst[j] = _mm512_xor_si512(dst[j], x80);
        dst[8] = _mm512_castps_si512(fp16_rows(w + (size_t)b * 34, ws, nr));
    }
}

AI void q8_0_pp_tile(int64_t n, const __m512i *rp, const uint8_t *const *ap, float *const *yp,
                     __mmask16 mask, const int T)
{
    __m512 acc[PP_TOK];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        const __m512i *W = rp + 9 * b;
        __m512 dw = _mm512_castsi512_ps(W[8]);
        __m512 dwc = _mm512_mul_ps(dw, _mm512_set1_ps(-128.0f));
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            void *ar = (void *)(uintptr_t)ap[t];
            const int8_t *aq = (const int8_t *)ap[t] + b * 32;
            __m512i i0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), W[0], bcast4(aq));
            __m512i i1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), W[1], bcast4(aq + 4));
#pragma GCC unroll 8
            for (int j = 2; j < 8; j += 2) {
                i0 = _mm512_dpbusd_epi32(i0, W[j], bcast4(aq + 4 * j));
                i1 = _mm512_dpbusd_epi32(i1, W[j + 1], bcast4(aq + 4 * j + 4));
            }
            __m512 f = _mm512_cvtepi32_ps(_mm512_add_epi32(i0, i1));
            acc[t] = _mm512_fmadd_ps(f, _mm512_mul_ps(dw, _mm512_set1_ps(rh_act_q8_d(ar, n)[b])), acc[t]);
            acc[t] = _mm512_fmadd_ps(dwc, _mm512_set1_ps(rh_act_q8_s(ar, n)[b]), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(yp[t], mask, acc[t]);
}

/* Q4_K: per super-block 64 zmm of quants (sub-block j, 4-value group k at
 * 8j+k), 8 zmm d*scale_j, 8 zmm dmin*min_j. */
static void q4_k_repack(int64_t n, const uint8_t *w, size_t ws, int nr, __m512i *rp)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *base = w + (size_t)b * 144;
        __m512i *dst = rp + 80 * b;
        pf_rows16(base + 16 * ws, ws, 144 + 63);
        for (int c = 0; c < 4; c++) {
            __m512i g[8];
            transpose16(base, ws, nr, 16 + 32 * (size_t)c, g);
            for (int k = 0; k < 8; k++) {
                dst[8 * (2 * c) + k] = _mm512_and_si512(g[k], m4);
                dst[8 * (2 * c + 1) + k] = _mm512_and_si512(_mm512_srli_epi16(g[k], 4), m4);
            }
        }
        /* scales of all 16 rows at once: d/dmin and the 12 scale bytes */
        __m512i hd[8];
        transpose16(base, ws, nr, 0, hd); /* d|dmin, then the 12 scale bytes */
        __m512i dd = hd[0], u0 = hd[1], u1 = hd[2], u2 = hd[3];
        __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dd));
        __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dd, 16)));
        const __m512i c3f = _mm512_set1_epi32(0x3f3f3f3f), c0f = _mm512_set1_epi32(0x0f0f0f0f);
        const __m512i c03 = _mm512_set1_epi32(0x03030303), ff = _mm512_set1_epi32(0xff);
        __m512i v[4] = {
            _mm512_and_si512(u0, c3f), /* scales 0-3 */
            _mm512_or_si512(_mm512_and_si512(u2, c0f),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), c03), 4)),
            _mm512_and_si512(u1, c3f), /* mins 0-3 */
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), c0f),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), c03), 4))};
        __m512 *sc = (__m512 *)(dst + 64);
        for (int j = 0; j < 8; j++) {
            __m512i s8 = _mm512_and_si512(_mm512_srli_epi32(v[j >> 2], 8 * (j & 3)), ff);
            __m512i m8 = _mm512_and_si512(_mm512_srli_epi32(v[2 + (j >> 2)], 8 * (j & 3)), ff);
            sc[j] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(s8));
            sc[8 + j] = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(m8));
        }
    }
}

/* Q6_K: per super-block 64 zmm of quants (32-value chunk j, group k at
 * 8j+k), 16 zmm d*scale_g (g = 16-value group). */
static void q6_k_repack(int64_t n, const uint8_t *w, size_t ws, int nr, __m512i *rp)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *base = w + (size_t)b * 210;
        __m512i *dst = rp + 80 * b;
        pf_rows16(base + 16 * ws, ws, 210 + 63);
        for (int h = 0; h < 2; h++) {
            __m512i l0[8], l1[8], qh[8];
            transpose16(base, ws, nr, 64 * (size_t)h, l0);
            transpose16(base, ws, nr, 64 * (size_t)h + 32, l1);
            transpose16(base, ws, nr, 128 + 32 * (size_t)h, qh);
            for (int m = 0; m < 8; m++) {
                __m512i lo[4] = {_mm512_and_si512(l0[m], m4), _mm512_and_si512(l1[m], m4),
                                 _mm512_and_si512(_mm512_srli_epi16(l0[m], 4), m4),
                                 _mm512_and_si512(_mm512_srli_epi16(l1[m], 4), m4)};
                for (int k = 0; k < 4; k++) {
                    __m512i hb = _mm512_and_si512(_mm512_srli_epi16(qh[m], 2 * k), m3);
                    dst[8 * (4 * h + k) + m] = _mm512_or_si512(lo[k], _mm512_slli_epi16(hb, 4));
                }
            }
        }
        __m512 d = fp16_rows(base + 208, ws, nr);
        __m512i hs[8];
        transpose16(base, ws, nr, 176, hs); /* dwords 4..7: the 16 scales */
        __m512 *sc = (__m512 *)(dst + 64);
        for (int q = 0; q < 4; q++) {
            __m512i s4 = hs[4 + q];
            for (int k = 0; k < 4; k++) {
                __m512i sv = _mm512_srai_epi32(_mm512_slli_epi32(s4, 24 - 8 * k), 24);
                sc[4 * q + k] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sv));
            }
        }
    }
}

/* Per token and super-block: da * (sums of 32) for Q4_K (8 floats), or
 * 32 * da * (sums of 16) for Q6_K (16 floats). */
static void kq_prep(int64_t n, const uint8_t *a, size_t as, int nt, float *mb, int q6)
{
    const int64_t nb = n / 256;
    for (int t = 0; t < nt; t++) {
        void *ar = (void *)(uintptr_t)(a + (size_t)t * as);
        const int16_t *bs = rh_act_q8k_bsum(ar, n);
        const float *d = rh_act_q8k_d(ar, n);
        for (int64_t b = 0; b < nb; b++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(bs + 16 * b));
            float *o = mb + ((size_t)t * (size_t)nb + (size_t)b) * 16;
            if (q6) {
                __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(v));
                _mm512_storeu_ps(o, _mm512_mul_ps(f, _mm512_set1_ps(32.0f * d[b])));
            } else {
                __m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(v, _mm256_set1_epi16(1)));
                _mm256_storeu_ps(o, _mm256_mul_ps(f, _mm256_set1_ps(d[b])));
            }
        }
    }
}

AI void kq_pp_tile(int64_t n, const __m512i *rp, const uint8_t *const *ap, const float *const *mbp,
                   float *const *yp, __mmask16 mask, const int T, const int q6)
{
    const int64_t nb = n / 256;
    __m512 acc[PP_TOK];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m512i *W = rp + 80 * b;
        const __m512 *S = (const __m512 *)(W + 64);
        __m512 sb[PP_TOK];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
            sb[t] = _mm512_setzero_ps();
        /* sub-block (Q4_K: 32 values) or group (Q6_K: 16 values) outer, tokens
         * inner: T independent vpdpbusd chains per basic block */
        const int ng = q6 ? 16 : 8, kper = q6 ? 4 : 8;
        for (int g = 0; g < ng; g++) {
            const __m512i *Wg = W + kper * g;
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const int8_t *a8 = (const int8_t *)ap[t] + b * 256 + 4 * kper * g;
                __m512i i0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), Wg[0], bcast4(a8));
                __m512i i1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), Wg[1], bcast4(a8 + 4));
                i0 = _mm512_dpbusd_epi32(i0, Wg[2], bcast4(a8 + 8));
                i1 = _mm512_dpbusd_epi32(i1, Wg[3], bcast4(a8 + 12));
                if (!q6) {
                    i0 = _mm512_dpbusd_epi32(i0, Wg[4], bcast4(a8 + 16));
                    i1 = _mm512_dpbusd_epi32(i1, Wg[5], bcast4(a8 + 20));
                    i0 = _mm512_dpbusd_epi32(i0, Wg[6], bcast4(a8 + 24));
                    i1 = _mm512_dpbusd_epi32(i1, Wg[7], bcast4(a8 + 28));
                }
                sb[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(i0, i1)), S[g], sb[t]);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            void *ar = (void *)(uintptr_t)ap[t];
            const float *mb = mbp[t] + 16 * b;
            acc[t] = _mm512_fmadd_ps(sb[t], _mm512_set1_ps(rh_act_q8k_d(ar, n)[b]), acc[t]);
            /* mins (Q4_K: S[8..15] = dmin*min) or the -32 offset (Q6_K: S[0..15]) */
            for (int j = 0; j < ng; j++)
                acc[t] = _mm512_fnmadd_ps(S[q6 ? j : 8 + j], _mm512_set1_ps(mb[j]), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(yp[t], mask, acc[t]);
}

typedef void (*pp_tile_fn)(int64_t n, const __m512i *rp, const uint8_t *const *ap,
                           const float *const *mbp, float *const *yp, __mmask16 mask);

#define PP_TILE_SET(name, call)                                                                \
    static void name##_t1(int64_t n, const __m512i *rp, const uint8_t *const *ap,               \
                          const float *const *mbp, float *const *yp, __mmask16 mask)           \
    {                                                                                          \
        (void)mbp;                                                                             \
        call(1);                                                                               \
    }                                                                                          \
    static void name##_t8(int64_t n, const __m512i *rp, const uint8_t *const *ap,               \
                          const float *const *mbp, float *const *yp, __mmask16 mask)           \
    {                                                                                          \
        (void)mbp;                                                                             \
        call(8);                                                                               \
    }
#define CALL_Q8(T) q8_0_pp_tile(n, rp, ap, yp, mask, T)
#define CALL_Q4K(T) kq_pp_tile(n, rp, ap, mbp, yp, mask, T, 0)
#define CALL_Q6K(T) kq_pp_tile(n, rp, ap, mbp, yp, mask, T, 1)
PP_TILE_SET(q8_0_pp, CALL_Q8)
PP_TILE_SET(q4_k_pp, CALL_Q4K)
PP_TILE_SET(q6_k_pp, CALL_Q6K)

typedef void (*pp_repack_fn)(int64_t n, const uint8_t *w, size_t ws, int nr, __m512i *rp);

static void pp_drive(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                     float *y, int64_t ys, void *scratch, pp_repack_fn repack, int prep,
                     pp_tile_fn t1, pp_tile_fn t8)
{
    __m512i *rp = scratch;
    float *mb = (float *)((char *)scratch + (size_t)(n / 32) * 640);
    if (prep)
        kq_prep(n, a, as, nt, mb, prep == 2);
    for (int r0 = 0; r0 < nr; r0 += PP_ROWS) {
        int nrv = nr - r0 < PP_ROWS ? nr - r0 : PP_ROWS;
        __mmask16 mask = (__mmask16)((1u << nrv) - 1);
        repack(n, (const uint8_t *)w + (size_t)r0 * ws, ws, nrv, rp);
        for (int t0 = 0; t0 < nt;) {
            const uint8_t *ap[PP_TOK];
            const float *mbp[PP_TOK];
            float *yp[PP_TOK];
            int T = nt - t0 >= PP_TOK ? PP_TOK : 1;
            for (int i = 0; i < T; i++) {
                ap[i] = (const uint8_t *)a + (size_t)(t0 + i) * as;
                mbp[i] = mb + (size_t)(t0 + i) * (size_t)(n / 256) * 16;
                yp[i] = y + (int64_t)(t0 + i) * ys + r0;
            }
            (T == PP_TOK ? t8 : t1)(n, rp, ap, mbp, yp, mask);
            t0 += T;
        }
    }
}

static void mm_pp_q8_0(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                       int nt, float *y, int64_t ys, void *scratch)
{
    pp_drive(n, w, ws, nr, a, as, nt, y, ys, scratch, q8_0_repack, 0, q8_0_pp_t1, q8_0_pp_t8);
}

static void mm_pp_q4_k(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                       int nt, float *y, int64_t ys, void *scratch)
{
    pp_drive(n, w, ws, nr, a, as, nt, y, ys, scratch, q4_k_repack, 1, q4_k_pp_t1, q4_k_pp_t8);
}

static void mm_pp_q6_k(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                       int nt, float *y, int64_t ys, void *scratch)
{
    pp_drive(n, w, ws, nr, a, as, nt, y, ys, scratch, q6_k_repack, 2, q6_k_pp_t1, q6_k_pp_t8);
}

/* The bandwidth test's read loop, plain or with the generation kernels'
 * prefetch: the test takes the better of the two, so that the roofline is
 * what the memory can deliver however it is read. */
AI uint64_t read_loop(const void *p, size_t n, const int pf)
{
    const __m512i *q = p;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n / 64; i += 4) {
        if (pf)
            rh_pf_ahead((const uint8_t *)(q + i), 256);
        a0 = _mm512_xor_si512(a0, _mm512_load_si512((const void *)(q + i)));
        a1 = _mm512_xor_si512(a1, _mm512_load_si512((const void *)(q + i + 1)));
        a2 = _mm512_xor_si512(a2, _mm512_load_si512((const void *)(q + i + 2)));
        a3 = _mm512_xor_si512(a3, _mm512_load_si512((const void *)(q + i + 3)));
    }
    __m512i a = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
    return (uint64_t)_mm512_reduce_add_epi64(a);
}

static uint64_t read_avx512(const void *p, size_t n) { return read_loop(p, n, 0); }
static uint64_t read_pf_avx512(const void *p, size_t n) { return read_loop(p, n, 1); }

void rh_kernels_avx512_init(rh_kernel_set *ks)
{
    ks->name = "avx512vnni";
    ks->read = read_avx512;
    ks->read_pf = read_pf_avx512;
    ks->quant[RH_ACT_Q8] = quant_q8;
    ks->quant[RH_ACT_Q8K] = quant_q8k;
    ks->mm[RH_TYPE_F32] = mm_f32;
    ks->mm[RH_TYPE_F16] = mm_f16;
    ks->mm[RH_TYPE_Q8_0] = mm_q8_0_rows;
    ks->mm[RH_TYPE_Q4_0] = mm_q4_0;
    ks->mm[RH_TYPE_Q5_0] = mm_q5_0;
    ks->mm[RH_TYPE_Q4_1] = mm_q4_1;
    ks->mm[RH_TYPE_Q5_1] = mm_q5_1;
    ks->mm[RH_TYPE_Q4_K] = mm_q4_k_fast;
    ks->mm[RH_TYPE_Q5_K] = mm_q5_k_fast;
    ks->mm[RH_TYPE_Q6_K] = mm_q6_k_fast;
    ks->mm_pp[RH_TYPE_Q8_0] = mm_pp_q8_0;
    ks->mm_pp[RH_TYPE_Q4_K] = mm_pp_q4_k;
    ks->mm_pp[RH_TYPE_Q6_K] = mm_pp_q6_k;
    /* measured break-even against the tiles (weights from DRAM, both with
     * software prefetch; 2 threads, 2048 x 5632 matrices, GB/s of weights):
     * Q8_0 at 8 tokens repacked 34 / tiles 31; Q4_K at 8: 16 / 17, at 16:
     * 11.2 / 8.5; Q6_K at 8: 13.5 / 24, 16: 10 / 11.8, 24: 7.3 / 7.8, 32:
     * 6.5 / 5.9. */
    ks->pp_min[RH_TYPE_Q8_0] = 8;
    ks->pp_min[RH_TYPE_Q4_K] = 16;
    ks->pp_min[RH_TYPE_Q6_K] = 32;
}
