/*
 * kernels_avx2.c - AVX2/FMA/F16C kernels. Compiled with -mavx2 -mfma -mf16c;
 * matmul.c calls rh_kernels_avx2_init only after cpuid said the CPU has
 * them.
 *
 * Same scheme as kernels_avx512.c with 256-bit vectors: tiles of R weight
 * rows x T tokens (1x1 for generation, 2x4 for several tokens). Integer
 * products with vpmaddubsw (u8 x s8 -> pairs of s16):
 *   Q8_0  |w| x sign(a, w), then vpmaddwd with ones;
 *   Q4_0  unsigned nibbles x a, minus 8*sum(a);
 *   Q4_K, Q5_K, Q6_K  one row at a time for up to 8 tokens: unsigned
 *         quants x a, vpmaddwd with ones, the sub-block sums gathered by a
 *         tree of horizontal adds and scaled once per super-block
 *         (vpmulld); mins (Q6_K: the -32 offset) via the activation's sums
 *         of 16 values (K-quant rows are always whole super-blocks).
 * Products of unsigned quants <= 63 with |a| <= 127 cannot saturate.
 * Weights are prefetched far ahead (rh_pf_ahead) as in the AVX-512 set.
 */
#include <immintrin.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/vec_avx2.h"

#define AI static inline __attribute__((always_inline))
#define MAXR 2
#define MAXT 4

AI float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AI int hsum256i(__m256i v)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

AI float hmax256(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 8 floats times id, rounded to nearest even, as 8 int32. */
AI __m256i q8_round8(const float *x, __m256 id)
{
    return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
}

/* Pack 4 x 8 int32 (each within -127..127) to 32 int8 in order. */
AI __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i r = _mm256_packs_epi16(ab, cd);
    /* packs work per 128-bit lane: restore the order of the dwords */
    return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* ---- activation quantization (same arithmetic as the scalar set) ----------- */

static void quant_q8(const float *x, void *dst, int64_t n)
{
    int8_t *qs = dst;
    float *d = rh_act_q8_d(dst, n), *s = rh_act_q8_s(dst, n);
    int32_t *is = rh_act_q8_isum(dst, n);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n / RH_QK; b++) {
        const float *xb = x + b * 32;
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++)
            m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(xb + 8 * i), absmask));
        float amax = hmax256(m);
        __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        __m256i q0 = q8_round8(xb, id), q1 = q8_round8(xb + 8, id);
        __m256i q2 = q8_round8(xb + 16, id), q3 = q8_round8(xb + 24, id);
        _mm256_storeu_si256((__m256i *)(qs + b * 32), pack32(q0, q1, q2, q3));
        int sum = hsum256i(_mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3)));
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
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n / RH_QKK; b++) {
        const float *xb = x + b * RH_QKK;
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 32; i++)
            m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(xb + 8 * i), absmask));
        float amax = hmax256(m);
        __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        d[b] = amax / 127.0f;
        for (int g = 0; g < 8; g++) { /* 32 values = two groups of 16 */
            const float *xg = xb + 32 * g;
            __m256i q0 = q8_round8(xg, id), q1 = q8_round8(xg + 8, id);
            __m256i q2 = q8_round8(xg + 16, id), q3 = q8_round8(xg + 24, id);
            _mm256_storeu_si256((__m256i *)(qs + b * RH_QKK + 32 * g), pack32(q0, q1, q2, q3));
            bs[b * 16 + 2 * g] = (int16_t)hsum256i(_mm256_add_epi32(q0, q1));
            bs[b * 16 + 2 * g + 1] = (int16_t)hsum256i(_mm256_add_epi32(q2, q3));
        }
    }
    rh_act_q8k_finish(dst, n);
}

/* ---- tile driver (as in kernels_avx512.c) ------------------------------------ */

typedef void (*tile_fn)(int64_t n, const uint8_t *const *w, const uint8_t *const *a, float *out);

static void drive(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                  float *y, int64_t ys, tile_fn f1, tile_fn fT)
{
    tile_fn f = nt == 1 ? f1 : fT;
    int R = nt == 1 ? 1 : MAXR, T = nt == 1 ? 1 : MAXT;
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

#define TILES(name, fn, ...)                                                                   \
    static void name##_1x1(int64_t n, const uint8_t *const *w, const uint8_t *const *a,         \
                           float *o)                                                           \
    {                                                                                          \
        fn(n, w, a, o, 1, 1, __VA_ARGS__);                                                     \
    }                                                                                          \
    static void name##_rxt(int64_t n, const uint8_t *const *w, const uint8_t *const *a,         \
                           float *o)                                                           \
    {                                                                                          \
        fn(n, w, a, o, MAXR, MAXT, __VA_ARGS__);                                               \
    }                                                                                          \
    static void mm_##name(int64_t n, const void *w, size_t ws, int nr, const void *a,          \
                          size_t as, int nt, float *y, int64_t ys)                             \
    {                                                                                          \
        drive(n, w, ws, nr, a, as, nt, y, ys, name##_1x1, name##_rxt);                         \
    }

/* ---- F32 / F16 ------------------------------------------------------------- */

AI void f32_tile(int64_t n, const uint8_t *const *w, const uint8_t *const *a, float *out,
                 const int R, const int T, const int f16)
{
    __m256 acc[MAXR][MAXT];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 wv[MAXR];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            wv[r] = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w[r] + 2 * k)))
                        : _mm256_loadu_ps((const float *)w[r] + k);
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            __m256 av = _mm256_loadu_ps((const float *)a[t] + k);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                acc[r][t] = _mm256_fmadd_ps(wv[r], av, acc[r][t]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            float s = hsum256(acc[r][t]);
            for (int64_t i = k; i < n; i++) {
                float wv = f16 ? rh_k_fp16(rh_k_rd16(w[r] + 2 * i)) : ((const float *)w[r])[i];
                s += wv * ((const float *)a[t])[i];
            }
            out[t * R + r] = s;
        }
}

TILES(f32, f32_tile, 0)
TILES(f16, f32_tile, 1)

/* ---- Q8_0 / Q4_0 against RH_ACT_Q8 --------------------------------------------- */

/* kind 0: Q8_0 (34-byte blocks), 1: Q4_0 (18-byte blocks) */
AI void q8_0_tile(int64_t n, const uint8_t *const *w, const uint8_t *const *a, float *out,
                  const int R, const int T, const int kind)
{
    const size_t bs = kind == 0 ? 34 : 18;
    const int64_t nb = n / 32;
    const __m256i ones = _mm256_set1_epi16(1), m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[MAXR][MAXT];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i wv[MAXR];
        float dw[MAXR];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w[r] + (size_t)b * bs;
            rh_pf_ahead(p, (int)bs);
            if (kind == 0) {
                wv[r] = _mm256_loadu_si256((const __m256i *)(p + 2));
            } else {
                __m128i q = _mm_loadu_si128((const __m128i *)(p + 2));
                wv[r] = _mm256_and_si256(
                    _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1),
                    m4);
            }
            dw[r] = _cvtsh_ss(rh_k_rd16(p));
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            void *ar = (void *)(uintptr_t)a[t];
            __m256i av = _mm256_loadu_si256((const __m256i *)(a[t] + b * 32));
            float da = rh_act_q8_d(ar, n)[b];
            __m256i corr = _mm256_setzero_si256();
            if (kind == 1) /* -8*sum(a) in lane 0 */
                corr = _mm256_zextsi128_si256(_mm_cvtsi32_si128(-8 * rh_act_q8_isum(ar, n)[b]));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m256i p16 = kind == 0 ? _mm256_maddubs_epi16(_mm256_sign_epi8(wv[r], wv[r]),
                                                               _mm256_sign_epi8(av, wv[r]))
                                        : _mm256_maddubs_epi16(wv[r], av);
                __m256i p32 = _mm256_add_epi32(_mm256_madd_epi16(p16, ones), corr);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_set1_ps(dw[r] * da),
                                            acc[r][t]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            out[t * R + r] = hsum256(acc[r][t]);
}

TILES(q8_0, q8_0_tile, 0)
TILES(q4_0, q8_0_tile, 1)

/* ---- K-quants against RH_ACT_Q8K --------------------------------------------- */

AI void k_scales(const uint8_t *s, uint8_t *sc, uint8_t *mn)
{
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    uint32_t v[4] = {u0 & 0x3f3f3f3fu,
                     (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4),
                     u1 & 0x3f3f3f3fu,
                     ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4)};
    memcpy(sc, v, 8);
    memcpy(mn, v + 2, 8);
}

/* K-quants, any number of tokens (the AVX2 set has no repacked prompt
 * kernel). A super-block's quants are unpacked once into 8 vectors of 32
 * (wq[j]: values 32j..32j+31) and used for up to 8 tokens. Per vector and
 * token: vpmaddubsw (sums of 2 products: at most 2*63*127, they fit 16
 * bits), then vpmaddwd against the scales as 16-bit words (sc[j]: Q4_K/
 * Q5_K the sub-block's scale in every word, Q6_K the scale of group 2j in
 * the low 128 bits and of 2j+1 in the high), added up in 32 bits: no
 * horizontal adds, no vpmulld. Then one float step per block: d x da, and
 * dmin x da against the mins (Q4_K/Q5_K) or the -32 offset subtracted in
 * integers (Q6_K). Each (row, token) sum is formed the same way for any
 * number of tokens (batch invariant). */
AI __m256i kq_block_isum(const __m256i *wq, const __m256i *sc, const int8_t *a8)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
#pragma GCC unroll 4
    for (int j = 0; j < 8; j += 2) {
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                      wq[j], _mm256_loadu_si256((const __m256i *)(a8 + 32 * j))), sc[j]));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                      wq[j + 1], _mm256_loadu_si256((const __m256i *)(a8 + 32 * j + 32))),
                                  sc[j + 1]));
    }
    return _mm256_add_epi32(s0, s1);
}

/* Q6_K: vpshufb indices on 8 scales (as words, in both 128-bit lanes) that
 * put word 2k in every word of the low lane and word 2k + 1 in the high. */
AI __m256i q6k_scidx(int k)
{
    int8_t v[32];
    for (int i = 0; i < 32; i++)
        v[i] = (int8_t)(4 * k + (i < 16 ? 0 : 2) + (i & 1));
    return _mm256_loadu_si256((const __m256i *)v);
}

/* kind 0 Q4_K, 1 Q5_K, 2 Q6_K */
AI void kq_rows(int64_t n, const uint8_t *w, size_t ws, int nr, const uint8_t *const *a, float *y,
                int64_t ys, const int T, const int kind)
{
    const int64_t nb = n / 256;
    const size_t bs = kind == 0 ? 144 : kind == 1 ? 176 : 210, qoff = kind == 1 ? 48 : 16;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03), b1 = _mm256_set1_epi8(1);
    __m256i i6[4];
    if (kind == 2)
        for (int k = 0; k < 4; k++)
            i6[k] = q6k_scidx(k);
    for (int r = 0; r < nr; r++) {
        const uint8_t *row = w + (size_t)r * ws;
        __m256 acc[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
            acc[t] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *p = row + (size_t)b * bs;
            rh_pf_ahead(p, (int)bs);
            __m256i wq[8], sc[8], m16;
            float d, dmin = 0.0f;
            if (kind == 2) {
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) {
                    int h = j >> 2, k = j & 3;
                    __m256i ql = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32 * (k & 1)));
                    __m256i qh = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
                    __m256i lo = k < 2 ? _mm256_and_si256(ql, m4)
                                       : _mm256_and_si256(_mm256_srli_epi16(ql, 4), m4);
                    __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m3);
                    wq[j] = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
                }
                /* the 16 int8 scales as words, each half of them in both
                 * 128-bit lanes; word 2j to the low lane, 2j+1 to the high */
                m16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 192)));
                const __m256i h0 = _mm256_permute2x128_si256(m16, m16, 0x00);
                const __m256i h1 = _mm256_permute2x128_si256(m16, m16, 0x11);
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++)
                    sc[j] = _mm256_shuffle_epi8(j < 4 ? h0 : h1, i6[j & 3]);
                d = _cvtsh_ss(rh_k_rd16(p + 208));
            } else {
                uint8_t s8[16];
                k_scales(p + 4, s8, s8 + 8);
                const __m128i sm = _mm_loadu_si128((const __m128i *)s8);
                const __m256i sb = _mm256_broadcastsi128_si256(sm);
                __m256i qh = kind == 1 ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    __m256i q = _mm256_loadu_si256((const __m256i *)(p + qoff + 32 * c));
                    wq[2 * c] = _mm256_and_si256(q, m4);
                    wq[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                    if (kind == 1) { /* the 5th bit of value 32j + k is bit j of qh[k] */
                        wq[2 * c] = _mm256_or_si256(
                            wq[2 * c], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), b1), 4));
                        wq[2 * c + 1] = _mm256_or_si256(
                            wq[2 * c + 1],
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), b1), 4));
                    }
                }
                /* scale j in every word (byte j, high byte zero) */
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++)
                    sc[j] = _mm256_shuffle_epi8(sb, _mm256_set1_epi16((short)(0x8000 | j)));
                m16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)); /* mins, each twice */
                d = _cvtsh_ss(rh_k_rd16(p));
                dmin = _cvtsh_ss(rh_k_rd16(p + 2));
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const int8_t *a8 = (const int8_t *)a[t] + b * 256;
                void *ar = (void *)(uintptr_t)a[t];
                __m256i isum = kq_block_isum(wq, sc, a8);
                /* mins (Q4_K/Q5_K) or scales (Q6_K) against the sums of 16 */
                __m256i mi = _mm256_madd_epi16(
                    m16, _mm256_loadu_si256((const __m256i *)(rh_act_q8k_bsum(ar, n) + 16 * b)));
                float da = rh_act_q8k_d(ar, n)[b];
                if (kind == 2) {
                    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(mi, 5));
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * da), acc[t]);
                } else {
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * da), acc[t]);
                    acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mi), _mm256_set1_ps(dmin * da), acc[t]);
                }
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
            y[(int64_t)t * ys + r] = hsum256(acc[t]);
    }
}

/* Tokens in groups of up to 8; kind 0 Q4_K, 1 Q5_K, 2 Q6_K. */
AI void kq_rows_drive(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                      float *y, int64_t ys, const int kind)
{
    for (int t0 = 0; t0 < nt; t0 += 8) {
        const uint8_t *ap[8];
        int T = rh_token_group(a, as, nt, t0, 8, ap);
        float *yt = y + (int64_t)t0 * ys;
#define CALL(t) kq_rows(n, w, ws, nr, ap, yt, ys, t, kind)
        RH_WITH_T8(T, CALL);
#undef CALL
    }
}

static void mm_q4_k_rows(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                         int nt, float *y, int64_t ys)
{
    kq_rows_drive(n, w, ws, nr, a, as, nt, y, ys, 0);
}

static void mm_q5_k_rows(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                         int nt, float *y, int64_t ys)
{
    kq_rows_drive(n, w, ws, nr, a, as, nt, y, ys, 1);
}

static void mm_q6_k_rows(int64_t n, const void *w, size_t ws, int nr, const void *a, size_t as,
                         int nt, float *y, int64_t ys)
{
    kq_rows_drive(n, w, ws, nr, a, as, nt, y, ys, 2);
}

/* The bandwidth test's read loop, plain or with the kernels' prefetch (the
 * test takes the better of the two). */
AI uint64_t read_loop(const void *p, size_t n, const int pf)
{
    const __m256i *q = p;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n / 32; i += 8) {
        if (pf)
            rh_pf_ahead((const uint8_t *)(q + i), 256);
        a0 = _mm256_xor_si256(a0, _mm256_add_epi64(_mm256_load_si256(q + i), _mm256_load_si256(q + i + 4)));
        a1 = _mm256_xor_si256(a1, _mm256_add_epi64(_mm256_load_si256(q + i + 1), _mm256_load_si256(q + i + 5)));
        a2 = _mm256_xor_si256(a2, _mm256_add_epi64(_mm256_load_si256(q + i + 2), _mm256_load_si256(q + i + 6)));
        a3 = _mm256_xor_si256(a3, _mm256_add_epi64(_mm256_load_si256(q + i + 3), _mm256_load_si256(q + i + 7)));
    }
    __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    return (uint64_t)_mm256_extract_epi64(a, 0) ^ (uint64_t)_mm256_extract_epi64(a, 3);
}

static uint64_t read_avx2(const void *p, size_t n) { return read_loop(p, n, 0); }
static uint64_t read_pf_avx2(const void *p, size_t n) { return read_loop(p, n, 1); }

/* g = silu(g) * u = g / (1 + e^-g) * u, 8 at a time with rh_exp256 (within
 * an ulp or two of expf). A value comes out the same wherever it lies in
 * the array (the last < 8 go through the same vector code), so splitting
 * an array among threads changes nothing. */
AI __m256 silu_mul8(__m256 v, __m256 u)
{
    __m256 e = rh_exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
    return _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void silu_mul_avx2(float *g, const float *u, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(g + i, silu_mul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n) {
        float tg[8] = {0}, tu[8] = {0};
        memcpy(tg, g + i, (size_t)(n - i) * sizeof *g);
        memcpy(tu, u + i, (size_t)(n - i) * sizeof *u);
        _mm256_storeu_ps(tg, silu_mul8(_mm256_loadu_ps(tg), _mm256_loadu_ps(tu)));
        memcpy(g + i, tg, (size_t)(n - i) * sizeof *g);
    }
}

void rh_kernels_avx2_init(rh_kernel_set *ks)
{
    ks->name = "avx2";
    ks->silu_mul = silu_mul_avx2;
    ks->read = read_avx2;
    ks->read_pf = read_pf_avx2;
    ks->quant[RH_ACT_Q8] = quant_q8;
    ks->quant[RH_ACT_Q8K] = quant_q8k;
    ks->mm[RH_TYPE_F32] = mm_f32;
    ks->mm[RH_TYPE_F16] = mm_f16;
    ks->mm[RH_TYPE_Q8_0] = mm_q8_0;
    ks->mm[RH_TYPE_Q4_0] = mm_q4_0;
    ks->mm[RH_TYPE_Q4_K] = mm_q4_k_rows;
    ks->mm[RH_TYPE_Q5_K] = mm_q5_k_rows;
    ks->mm[RH_TYPE_Q6_K] = mm_q6_k_rows;
}
