/*
 * quant_k.c - the K-quants: 256-value super-blocks split into sub-blocks of
 * 16 or 32 values, each with its own small integer scale (and min) relative
 * to the super-block's f16 (Q8_K: f32) scale.
 *
 * Layouts (byte offsets in the block; facts of the GGUF format):
 *   Q2_K 84:  scales[16]@0 (lo nibble scale, hi nibble min), qs[64]@16,
 *             d@80, dmin@82            x = d*sc*q - dmin*m, q in 0..3
 *   Q3_K 110: hmask[32]@0, qs[64]@32, scales[12]@96 (16 x 6 bit, +32),
 *             d@108                    x = d*(sc-32)*(q-4), q in 0..7
 *   Q4_K 144: d@0, dmin@2, scales[12]@4 (8 x (6-bit scale, 6-bit min)),
 *             qs[128]@16               x = d*sc*q - dmin*m, q in 0..15
 *   Q5_K 176: as Q4_K, qh[32]@16, qs[128]@48, q in 0..31
 *   Q6_K 210: ql[128]@0, qh[64]@128, scales[16]:i8@192, d@208
 *                                      x = d*sc*(q-32), q in 0..63
 *   Q8_K 292: d:f32@0, qs[256]:i8@4, bsums[16]:i16@260 (sums of 16 codes)
 *
 * Where the bits of value i sit (i = 0..255):
 *   Q2_K/Q3_K: 2 low bits in qs[32*(i/128) + i%32] at shift 2*((i%128)/32);
 *              Q3_K's third bit is bit i/32 of hmask[i%32]; sub-block i/16.
 *   Q4_K/Q5_K: nibble (i/32)%2 of qs[32*(i/64) + i%32]; Q5_K's fifth bit is
 *              bit i/32 of qh[i%32]; sub-block i/32.
 *   Q6_K: low nibble in ql[64*(i/128) + 32*((i/32)%2) + i%32], nibble
 *         (i%128)/64; bits 4-5 in qh[32*(i/128) + i%32] at shift
 *         2*((i%128)/32); sub-block i/16.
 *
 * Quantization: each sub-block gets its least-squares scale (and min) from
 * rh_fit_sym / rh_fit_affine; the sub-block scales are then quantized
 * against the super-block scale (the largest maps to the top code), and
 * finally every value is coded again with the scale as stored.
 */
#include <math.h>

#include "engine/quant_int.h"

/* ---- scale packing -------------------------------------------------------- */

/* Q4_K/Q5_K: 8 pairs of 6-bit (scale, min) in 12 bytes. */
static void k4_get(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

static void k4_put(uint8_t *s, const uint8_t *sc, const uint8_t *m)
{
    for (int j = 0; j < 4; j++) {
        s[j] = sc[j];
        s[j + 4] = m[j];
    }
    for (int j = 4; j < 8; j++) {
        s[j + 4] = (uint8_t)((sc[j] & 0xf) | (m[j] & 0xf) << 4);
        s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
        s[j] |= (uint8_t)((m[j] >> 4) << 6);
    }
}

/* Q3_K: 16 6-bit values (stored scale + 32) in 12 bytes. */
static int k3_get(const uint8_t *s, int j)
{
    int lo = (s[j % 8] >> (4 * (j / 8))) & 0xf;
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void k3_put(uint8_t *s, const int8_t *sc)
{
    memset(s, 0, 12);
    for (int j = 0; j < 16; j++) {
        int l = sc[j] + 32;
        s[j % 8] |= (uint8_t)((l & 0xf) << (4 * (j / 8)));
        s[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
}

/* ---- dequantization -------------------------------------------------------- */

void rh_dequant_q2_k(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t ib = 0; ib < nb; ib++, b += 84, y += RH_QK_K) {
        const uint8_t *scales = b, *qs = b + 16;
        float d = rh_h2f(b + 80), dmin = rh_h2f(b + 82);
        for (int s = 0; s < 16; s++) {
            float dl = d * (float)(scales[s] & 0xf);
            float ml = dmin * (float)(scales[s] >> 4);
            for (int i = 16 * s; i < 16 * s + 16; i++) {
                int q = (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
                y[i] = dl * (float)q - ml;
            }
        }
    }
}

void rh_dequant_q3_k(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t ib = 0; ib < nb; ib++, b += 110, y += RH_QK_K) {
        const uint8_t *hmask = b, *qs = b + 32;
        float d = rh_h2f(b + 108);
        for (int s = 0; s < 16; s++) {
            float dl = d * (float)k3_get(b + 96, s);
            for (int i = 16 * s; i < 16 * s + 16; i++) {
                int q = (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
                if (!((hmask[i % 32] >> (i / 32)) & 1))
                    q -= 4;
                y[i] = dl * (float)q;
            }
        }
    }
}

static void dequant_k45(const uint8_t *b, float *y, int64_t nb, int five)
{
    size_t bsize = five ? 176 : 144;
    for (int64_t ib = 0; ib < nb; ib++, b += bsize, y += RH_QK_K) {
        float d = rh_h2f(b), dmin = rh_h2f(b + 2);
        const uint8_t *qh = b + 16, *qs = b + (five ? 48 : 16);
        for (int s = 0; s < 8; s++) {
            int sc, m;
            k4_get(b + 4, s, &sc, &m);
            float dl = d * (float)sc, ml = dmin * (float)m;
            const uint8_t *q = qs + 32 * (s / 2);
            int shift = 4 * (s % 2);
            for (int l = 0; l < 32; l++) {
                int v = (q[l] >> shift) & 0xf;
                if (five)
                    v |= ((qh[l] >> s) & 1) << 4;
                y[32 * s + l] = dl * (float)v - ml;
            }
        }
    }
}

void rh_dequant_q4_k(const uint8_t *b, float *y, int64_t nb)
{
    dequant_k45(b, y, nb, 0);
}

void rh_dequant_q5_k(const uint8_t *b, float *y, int64_t nb)
{
    dequant_k45(b, y, nb, 1);
}

void rh_dequant_q6_k(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t ib = 0; ib < nb; ib++, b += 210, y += RH_QK_K) {
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = rh_h2f(b + 208);
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = b + 64 * n, *qh = b + 128 + 32 * n;
            for (int j = 0; j < 4; j++) {
                const uint8_t *lo = ql + 32 * (j & 1);
                int lshift = 4 * (j >> 1), hshift = 2 * j;
                float *out = y + 128 * n + 32 * j;
                for (int h = 0; h < 2; h++) {
                    float dl = d * (float)sc[8 * n + 2 * j + h];
                    for (int l = 16 * h; l < 16 * h + 16; l++) {
                        int q = ((lo[l] >> lshift) & 0xf) | ((qh[l] >> hshift) & 3) << 4;
                        out[l] = dl * (float)(q - 32);
                    }
                }
            }
        }
    }
}

void rh_dequant_q8_k(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t ib = 0; ib < nb; ib++, b += 292, y += RH_QK_K) {
        float d;
        memcpy(&d, b, sizeof d);
        const int8_t *qs = (const int8_t *)(b + 4);
        for (int i = 0; i < RH_QK_K; i++)
            y[i] = d * (float)qs[i];
    }
}

/* ---- quantization ------------------------------------------------------------ */

/* Quantize non-negative sub-block values v[0..n) to codes 0..top against a
 * super-block scale (stored as f16 at p); returns the stored scale. */
static float quant_scales_u(const float *v, int n, int top, uint8_t *codes, uint8_t *p)
{
    float vmax = 0;
    for (int j = 0; j < n; j++)
        vmax = v[j] > vmax ? v[j] : vmax;
    rh_put_f16(p, vmax / (float)top);
    float ds = rh_h2f(p);
    float is = ds > 0 && isfinite(ds) ? 1.0f / ds : 0;
    for (int j = 0; j < n; j++)
        codes[j] = (uint8_t)rh_clampi(rh_nearest(v[j] * is), 0, top);
    return ds;
}

/* Squared error of coding x[0..len) as dl*q - ml with the nearest q in
 * [0, nmax] (len a multiple of 8). */
static float affine_err(const float *x, int len, float dl, float ml, int nmax)
{
    float is = dl > 0 && isfinite(dl) ? 1.0f / dl : 0, fmax = (float)nmax, acc[8] = {0};
    for (int i = 0; i < len; i += 8)
        for (int k = 0; k < 8; k++) {
            float q = rh_clampf(rh_roundf_fast((x[i + k] + ml) * is), 0.0f, fmax);
            float r = x[i + k] - (dl * q - ml);
            acc[k] += r * r;
        }
    float e = 0;
    for (int k = 0; k < 8; k++)
        e += acc[k];
    return e;
}

/* Same for symmetric codes dl*q, q in [lo, hi]. */
static float sym_err(const float *x, int len, float dl, int lo, int hi)
{
    float is = dl != 0 && isfinite(dl) ? 1.0f / dl : 0, acc[8] = {0};
    for (int i = 0; i < len; i += 8)
        for (int k = 0; k < 8; k++) {
            float q = rh_clampf(rh_roundf_fast(x[i + k] * is), (float)lo, (float)hi);
            float r = x[i + k] - dl * q;
            acc[k] += r * r;
        }
    float e = 0;
    for (int k = 0; k < 8; k++)
        e += acc[k];
    return e;
}

/* Q2_K, Q4_K, Q5_K: affine sub-blocks with x ~ d*sc*q - dmin*m. After the
 * sub-block scales and mins are rounded to their codes, the neighbouring
 * codes (+-1 each) are tried too and the pair with the least error kept. */
static void quant_affine_k(const float *x, int nsub, int nmax, int scale_top, float *dl, float *ml,
                           uint8_t *sc, uint8_t *mc, uint8_t *pd, uint8_t *pdmin, uint8_t *L)
{
    int len = RH_QK_K / nsub;
    float scl[16] = {0}, mins[16] = {0};
    for (int s = 0; s < nsub; s++) {
        float d, m;
        rh_fit_affine(len, x + len * s, nmax, 1, L + len * s, &d, &m);
        scl[s] = d;
        mins[s] = -m;
    }
    float d = quant_scales_u(scl, nsub, scale_top, sc, pd);
    float dmin = quant_scales_u(mins, nsub, scale_top, mc, pdmin);
    for (int s = 0; s < nsub; s++) {
        const float *xs = x + len * s;
        int bs = sc[s], bm = mc[s];
        float best = affine_err(xs, len, d * (float)bs, dmin * (float)bm, nmax);
        /* min codes: the rounded one, its neighbours, and the codes nearest
         * to the min moved by one step of the grid (the same grid with the
         * codes shifted by one, which may round better) */
        float istep = dmin > 0 ? 1.0f / dmin : 0;
        int cand[5] = {mc[s] - 1, mc[s], mc[s] + 1, rh_nearest((mins[s] + scl[s]) * istep),
                       rh_nearest((mins[s] - scl[s]) * istep)};
        for (int a = sc[s] - 1; a <= sc[s] + 1; a++)
            for (int k = 0; k < 5; k++) {
                int c = cand[k];
                if (a < 0 || a > scale_top || c < 0 || c > scale_top || (a == sc[s] && c == mc[s]))
                    continue;
                float e = affine_err(xs, len, d * (float)a, dmin * (float)c, nmax);
                if (e < best) {
                    best = e;
                    bs = a;
                    bm = c;
                }
            }
        sc[s] = (uint8_t)bs;
        mc[s] = (uint8_t)bm;
        dl[s] = d * (float)sc[s];
        ml[s] = dmin * (float)mc[s];
        float is = dl[s] > 0 && isfinite(dl[s]) ? 1.0f / dl[s] : 0;
        for (int i = len * s; i < len * s + len; i++)
            L[i] = (uint8_t)rh_clampi(rh_nearest((x[i] + ml[s]) * is), 0, nmax);
    }
}

void rh_quant_q2_k(const float *x, uint8_t *b, int64_t nb)
{
    uint8_t L[RH_QK_K], sc[16], mc[16];
    float dl[16], ml[16];
    for (int64_t ib = 0; ib < nb; ib++, b += 84, x += RH_QK_K) {
        quant_affine_k(x, 16, 3, 15, dl, ml, sc, mc, b + 80, b + 82, L);
        for (int s = 0; s < 16; s++)
            b[s] = (uint8_t)(sc[s] | mc[s] << 4);
        uint8_t *qs = b + 16;
        memset(qs, 0, 64);
        for (int i = 0; i < RH_QK_K; i++)
            qs[32 * (i / 128) + i % 32] |= (uint8_t)(L[i] << (2 * ((i % 128) / 32)));
    }
}

static void quant_k45(const float *x, uint8_t *b, int64_t nb, int five)
{
    uint8_t L[RH_QK_K], sc[8], mc[8];
    float dl[8], ml[8];
    size_t bsize = five ? 176 : 144;
    for (int64_t ib = 0; ib < nb; ib++, b += bsize, x += RH_QK_K) {
        quant_affine_k(x, 8, five ? 31 : 15, 63, dl, ml, sc, mc, b, b + 2, L);
        k4_put(b + 4, sc, mc);
        uint8_t *qh = b + 16, *qs = b + (five ? 48 : 16);
        memset(qs, 0, 128);
        if (five)
            memset(qh, 0, 32);
        for (int i = 0; i < RH_QK_K; i++) {
            int s = i / 32, l = i % 32;
            qs[32 * (s / 2) + l] |= (uint8_t)((L[i] & 0xf) << (4 * (s % 2)));
            if (five)
                qh[l] |= (uint8_t)((L[i] >> 4) << s);
        }
    }
}

void rh_quant_q4_k(const float *x, uint8_t *b, int64_t nb)
{
    quant_k45(x, b, nb, 0);
}

void rh_quant_q5_k(const float *x, uint8_t *b, int64_t nb)
{
    quant_k45(x, b, nb, 1);
}

/* Q3_K, Q6_K: symmetric sub-blocks of 16 with signed sub-block scales; the
 * largest |scale| maps to the most negative scale code `slo`. */
static float quant_sym_k(const float *x, int lo, int hi, int slo, int shi, int8_t *sc, uint8_t *pd,
                         int8_t *L)
{
    float scl[16], smax = 0;
    for (int s = 0; s < 16; s++) {
        scl[s] = rh_fit_sym(16, x + 16 * s, lo, hi, L + 16 * s);
        if (fabsf(scl[s]) > fabsf(smax))
            smax = scl[s];
    }
    rh_put_f16(pd, smax / (float)slo);
    float d = rh_h2f(pd);
    float is = d != 0 && isfinite(d) ? 1.0f / d : 0;
    for (int s = 0; s < 16; s++) {
        int r = rh_clampi(rh_nearest(scl[s] * is), slo, shi), bs = r;
        float best = sym_err(x + 16 * s, 16, d * (float)r, lo, hi);
        for (int a = r - 1; a <= r + 1; a += 2) {
            if (a < slo || a > shi)
                continue;
            float e = sym_err(x + 16 * s, 16, d * (float)a, lo, hi);
            if (e < best) {
                best = e;
                bs = a;
            }
        }
        sc[s] = (int8_t)bs;
        float dl = d * (float)sc[s];
        float il = dl != 0 && isfinite(dl) ? 1.0f / dl : 0;
        for (int i = 16 * s; i < 16 * s + 16; i++)
            L[i] = (int8_t)rh_clampi(rh_nearest(x[i] * il), lo, hi);
    }
    return d;
}

void rh_quant_q3_k(const float *x, uint8_t *b, int64_t nb)
{
    int8_t L[RH_QK_K], sc[16];
    for (int64_t ib = 0; ib < nb; ib++, b += 110, x += RH_QK_K) {
        quant_sym_k(x, -4, 3, -32, 31, sc, b + 108, L);
        k3_put(b + 96, sc);
        uint8_t *hmask = b, *qs = b + 32;
        memset(hmask, 0, 32);
        memset(qs, 0, 64);
        for (int i = 0; i < RH_QK_K; i++) {
            int u = L[i] + 4;
            qs[32 * (i / 128) + i % 32] |= (uint8_t)((u & 3) << (2 * ((i % 128) / 32)));
            hmask[i % 32] |= (uint8_t)((u >> 2) << (i / 32));
        }
    }
}

void rh_quant_q6_k(const float *x, uint8_t *b, int64_t nb)
{
    int8_t L[RH_QK_K], sc[16];
    for (int64_t ib = 0; ib < nb; ib++, b += 210, x += RH_QK_K) {
        quant_sym_k(x, -32, 31, -128, 127, sc, b + 208, L);
        memcpy(b + 192, sc, 16);
        uint8_t *ql = b, *qh = b + 128;
        memset(ql, 0, 192);
        for (int i = 0; i < RH_QK_K; i++) {
            int n = i / 128, j = (i % 128) / 32, l = i % 32;
            int u = L[i] + 32;
            ql[64 * n + 32 * (j & 1) + l] |= (uint8_t)((u & 0xf) << (4 * (j >> 1)));
            qh[32 * n + l] |= (uint8_t)((u >> 4) << (2 * j));
        }
    }
}

/* Q8_K: the activation format of the K-quant dot products. f32 scale,
 * codes within [-127, 127], bsums = sums of each 16 codes. */
void rh_quant_q8_k(const float *x, uint8_t *b, int64_t nb)
{
    for (int64_t ib = 0; ib < nb; ib++, b += 292, x += RH_QK_K) {
        float amax = rh_absmax(x, RH_QK_K);
        float d = isfinite(amax) ? amax / 127.0f : 0;
        float is = d > 0 ? 127.0f / amax : 0;
        memcpy(b, &d, sizeof d);
        int8_t *qs = (int8_t *)(b + 4);
        for (int s = 0; s < 16; s++) {
            int sum = 0;
            for (int i = 16 * s; i < 16 * s + 16; i++) {
                int q = (int)rh_clampf(rh_roundf_fast(x[i] * is), -127.0f, 127.0f);
                qs[i] = (int8_t)q;
                sum += q;
            }
            int16_t s16 = (int16_t)sum;
            memcpy(b + 260 + 2 * s, &s16, sizeof s16);
        }
    }
}
