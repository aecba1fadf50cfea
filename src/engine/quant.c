/*
 * quant.c - tensor element types: the type table, fp16/bf16 conversion, and
 * (de)quantization of the float types and the 32-value block types
 * (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1). The K-quants are in quant_k.c.
 *
 * Block layouts (all little-endian, packed, as in GGUF files):
 *   Q4_0  d:f16 qs[16]            x = d * (nibble - 8)
 *   Q4_1  d:f16 m:f16 qs[16]      x = d * nibble + m
 *   Q5_0  d:f16 qh[4] qs[16]      x = d * ((nibble | hbit << 4) - 16)
 *   Q5_1  d:f16 m:f16 qh[4] qs[16] x = d * (nibble | hbit << 4) + m
 *   Q8_0  d:f16 qs[32]:i8         x = d * q
 *   Q8_1  d:f16 s:f16 qs[32]:i8   x = d * q   (s = d * sum q)
 * Value j < 16 of a block is the low nibble of qs[j], value j + 16 its high
 * nibble; the fifth bit of value j is bit j of the 32-bit word qh.
 *
 * Quantizers search for the scale (and offset) with the least squared error
 * per block (rh_fit_sym / rh_fit_affine below), then quantize again with the
 * scale as stored (rounded to f16), so the stored codes fit the stored scale.
 */
#include <math.h>
#include <pthread.h>
#include <strings.h>

#include "engine/quant_int.h"

/* ---- type table ---------------------------------------------------------- */

static const rh_type_info type_table[RH_TYPE_COUNT] = {
    [RH_TYPE_F32] = {"F32", 1, 4, true, true},
    [RH_TYPE_F16] = {"F16", 1, 2, true, true},
    [RH_TYPE_Q4_0] = {"Q4_0", 32, 18, true, true},
    [RH_TYPE_Q4_1] = {"Q4_1", 32, 20, true, true},
    [RH_TYPE_Q5_0] = {"Q5_0", 32, 22, true, true},
    [RH_TYPE_Q5_1] = {"Q5_1", 32, 24, true, true},
    [RH_TYPE_Q8_0] = {"Q8_0", 32, 34, true, true},
    [RH_TYPE_Q8_1] = {"Q8_1", 32, 36, true, true},
    [RH_TYPE_Q2_K] = {"Q2_K", 256, 84, true, true},
    [RH_TYPE_Q3_K] = {"Q3_K", 256, 110, true, true},
    [RH_TYPE_Q4_K] = {"Q4_K", 256, 144, true, true},
    [RH_TYPE_Q5_K] = {"Q5_K", 256, 176, true, true},
    [RH_TYPE_Q6_K] = {"Q6_K", 256, 210, true, true},
    [RH_TYPE_Q8_K] = {"Q8_K", 256, 292, true, true},
    /* Known to the format, so files holding them can be sized and reported,
     * but not computed with. */
    [16] = {"IQ2_XXS", 256, 66, false, false},
    [17] = {"IQ2_XS", 256, 74, false, false},
    [18] = {"IQ3_XXS", 256, 98, false, false},
    [19] = {"IQ1_S", 256, 50, false, false},
    [20] = {"IQ4_NL", 32, 18, false, false},
    [21] = {"IQ3_S", 256, 110, false, false},
    [22] = {"IQ2_S", 256, 82, false, false},
    [23] = {"IQ4_XS", 256, 136, false, false},
    [24] = {"I8", 1, 1, false, false},
    [25] = {"I16", 1, 2, false, false},
    [26] = {"I32", 1, 4, false, false},
    [27] = {"I64", 1, 8, false, false},
    [28] = {"F64", 1, 8, false, false},
    [29] = {"IQ1_M", 256, 56, false, false},
    [RH_TYPE_BF16] = {"BF16", 1, 2, true, true},
    [34] = {"TQ1_0", 256, 54, false, false},
    [35] = {"TQ2_0", 256, 66, false, false},
};

const rh_type_info *rh_type_get(int type)
{
    if (type < 0 || type >= RH_TYPE_COUNT || !type_table[type].name)
        return NULL;
    return &type_table[type];
}

int rh_type_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int t = 0; t < RH_TYPE_COUNT; t++)
        if (type_table[t].name && strcasecmp(type_table[t].name, name) == 0)
            return t;
    return -1;
}

size_t rh_row_size(int type, int64_t n)
{
    const rh_type_info *ti = rh_type_get(type);
    if (!ti || n < 0 || n % ti->blck != 0)
        return 0;
    uint64_t nb = (uint64_t)n / ti->blck;
    if (nb > SIZE_MAX / ti->size)
        return 0;
    return (size_t)nb * ti->size;
}

/* ---- fp16 / bf16 ----------------------------------------------------------- */

float rh_quant_f16_table[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;

static float fp16_compute(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    float f;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float */
        f = (float)mant * 0x1p-24f;
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13); /* Inf, NaN (payload kept) */
    else
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void f16_table_fill(void)
{
    for (uint32_t i = 0; i < 65536; i++)
        rh_quant_f16_table[i] = fp16_compute((uint16_t)i);
}

void rh_quant_init(void)
{
    pthread_once(&f16_once, f16_table_fill);
}

const float *rh_fp16_table(void)
{
    rh_quant_init();
    return rh_quant_f16_table;
}

float rh_fp16_to_fp32(uint16_t h)
{
    rh_quant_init();
    return rh_quant_f16_table[h];
}

uint16_t rh_fp32_to_fp16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet, keep the top payload bits */
        return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x477ff000u) /* >= 65520 rounds to Inf (and Inf itself) */
        return (uint16_t)(sign | 0x7c00);
    if (a < 0x38800000u) { /* below 2^-14: a half subnormal (or zero) */
        uint32_t e = a >> 23;
        if (e < 102) /* < 2^-25: rounds to zero */
            return sign;
        uint32_t m = (a & 0x7fffffu) | 0x800000u;
        uint32_t s = 126 - e; /* value * 2^24 = m >> s, s in 14..24 */
        uint32_t r = m >> s;
        uint32_t rem = m & ((1u << s) - 1);
        uint32_t half = 1u << (s - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++; /* may carry into the smallest normal: still right */
        return (uint16_t)(sign | r);
    }
    uint32_t h = (a - (112u << 23)) >> 13;
    uint32_t rem = a & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

float rh_bf16_to_fp32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t rh_fp32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* ---- fitting ---------------------------------------------------------------- */

/* Squared-error score of codes chosen with inverse scale `is`: returns
 * sum(x q)^2 / sum(q q) (the error is sum(x x) minus this) and the best d. */
static float sym_try(int n, const float *x, float is, int lo, int hi, float *d_out)
{
    /* n is a multiple of 8: 8 partial sums so the loop vectorizes */
    float axq[8] = {0}, aqq[8] = {0}, flo = (float)lo, fhi = (float)hi;
    for (int i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) {
            float q = rh_clampf(rh_roundf_fast(x[i + k] * is), flo, fhi);
            axq[k] += x[i + k] * q;
            aqq[k] += q * q;
        }
    float sxq = 0, sqq = 0;
    for (int k = 0; k < 8; k++) {
        sxq += axq[k];
        sqq += aqq[k];
    }
    if (sqq <= 0) {
        *d_out = 0;
        return 0;
    }
    *d_out = sxq / sqq;
    return sxq * sxq / sqq;
}

float rh_fit_sym(int n, const float *x, int lo, int hi, int8_t *L)
{
    float amax = 0, vmax = 0;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax) {
            amax = a;
            vmax = x[i];
        }
    }
    if (!(amax > 0) || !isfinite(amax)) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float best = -1, best_d = 0;
    /* The largest value goes to either end of the code range; scan scales
     * that clip it a little, or leave some headroom. */
    const int ends[2] = {lo, hi};
    for (int e = 0; e < 2; e++) {
        float end = (float)ends[e];
        for (int t = -2; t <= 10; t++) {
            float target = end * (1.0f - 0.025f * (float)t);
            float d;
            float sc = sym_try(n, x, target / vmax, lo, hi, &d);
            if (sc > best) {
                best = sc;
                best_d = d;
            }
        }
    }
    /* Refine: codes for the best d, then the best d for those codes. */
    for (int it = 0; it < 3 && best_d != 0; it++) {
        float d;
        float sc = sym_try(n, x, 1.0f / best_d, lo, hi, &d);
        if (!(sc > best))
            break;
        best = sc;
        best_d = d;
    }
    float is = best_d != 0 ? 1.0f / best_d : 0;
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)rh_clampi(rh_nearest(x[i] * is), lo, hi);
    return best_d;
}

/* Codes for inverse step `is` and offset `off`, then the least-squares
 * (d, m) for those codes; returns the squared error (closed form; sx, sxx
 * are the block's sum and sum of squares). */
static double affine_try(int n, const float *x, float sx, float sxx, float is, float off, int nmax,
                         int min_le0, float *d, float *m)
{
    /* n is a multiple of 8: 8 partial sums so the loop vectorizes */
    float aq[8] = {0}, aqq[8] = {0}, axq[8] = {0}, fmax = (float)nmax;
    for (int i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) {
            float q = rh_clampf(rh_roundf_fast((x[i + k] - off) * is), 0.0f, fmax);
            aq[k] += q;
            aqq[k] += q * q;
            axq[k] += x[i + k] * q;
        }
    float sq = 0, sqq = 0, sxq = 0;
    for (int k = 0; k < 8; k++) {
        sq += aq[k];
        sqq += aqq[k];
        sxq += axq[k];
    }
    float det = (float)n * sqq - sq * sq;
    float dd = 0, mm = sx / (float)n;
    if (det > 0) {
        dd = ((float)n * sxq - sq * sx) / det;
        mm = (sqq * sx - sq * sxq) / det;
    }
    if (min_le0 && mm > 0) {
        mm = 0;
        dd = sqq > 0 ? sxq / sqq : 0;
    }
    if (dd < 0) {
        dd = 0;
        mm = sx / (float)n;
        if (min_le0 && mm > 0)
            mm = 0;
    }
    *d = dd;
    *m = mm;
    double D = dd, M = mm;
    return (double)sxx - 2 * D * sxq - 2 * M * sx + D * D * sqq + 2 * D * M * sq + (double)n * M * M;
}

void rh_fit_affine(int n, const float *x, int nmax, int min_le0, uint8_t *L, float *d, float *m)
{
    float mn = x[0], mx = x[0], sx = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        sx += x[i];
        sxx += x[i] * x[i];
    }
    if (min_le0 && mn > 0)
        mn = 0;
    if (!(mx > mn) || !isfinite(mx - mn) || !isfinite(sxx)) {
        memset(L, 0, (size_t)n);
        *d = 0;
        *m = isfinite(mn) ? mn : 0;
        return;
    }
    double best = INFINITY;
    float bd = 0, bm = mn;
    /* step sizes from 7% finer to 10% coarser than (max - min) / nmax */
    for (int t = -12; t <= 10; t++) {
        float is = (float)nmax * (1.0f + 0.0075f * (float)t) / (mx - mn);
        float dd, mm;
        double err = affine_try(n, x, sx, sxx, is, mn, nmax, min_le0, &dd, &mm);
        if (err < best) {
            best = err;
            bd = dd;
            bm = mm;
        }
    }
    /* refine: codes for the best (d, m), then the best (d, m) for them */
    for (int it = 0; it < 4 && bd > 0; it++) {
        float dd, mm;
        double err = affine_try(n, x, sx, sxx, 1.0f / bd, bm, nmax, min_le0, &dd, &mm);
        if (!(err < best))
            break;
        best = err;
        bd = dd;
        bm = mm;
    }
    float is = bd > 0 ? 1.0f / bd : 0;
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)rh_clampi(rh_nearest((x[i] - bm) * is), 0, nmax);
    *d = bd;
    *m = bm;
}

/* ---- legacy 32-value blocks ----------------------------------------------- */

static void dequant_q4_0(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b += 18, y += RH_QK) {
        float d = rh_h2f(b);
        const uint8_t *qs = b + 2;
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((qs[j] & 0xf) - 8);
            y[j + 16] = d * (float)((qs[j] >> 4) - 8);
        }
    }
}

static void dequant_q4_1(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b += 20, y += RH_QK) {
        float d = rh_h2f(b), m = rh_h2f(b + 2);
        const uint8_t *qs = b + 4;
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)(qs[j] & 0xf) + m;
            y[j + 16] = d * (float)(qs[j] >> 4) + m;
        }
    }
}

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dequant_q5_0(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b += 22, y += RH_QK) {
        float d = rh_h2f(b);
        uint32_t qh = load_u32(b + 2);
        const uint8_t *qs = b + 6;
        for (int j = 0; j < 16; j++) {
            int lo = (qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = d * (float)(lo - 16);
            y[j + 16] = d * (float)(hi - 16);
        }
    }
}

static void dequant_q5_1(const uint8_t *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, b += 24, y += RH_QK) {
        float d = rh_h2f(b), m = rh_h2f(b + 2);
        uint32_t qh = load_u32(b + 4);
        const uint8_t *qs = b + 8;
        for (int j = 0; j < 16; j++) {
            int lo = (qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = d * (float)lo + m;
            y[j + 16] = d * (float)hi + m;
        }
    }
}

static void dequant_q8(const uint8_t *b, float *y, int64_t nb, size_t bsize, size_t qoff)
{
    for (int64_t i = 0; i < nb; i++, b += bsize, y += RH_QK) {
        float d = rh_h2f(b);
        const int8_t *qs = (const int8_t *)(b + qoff);
        for (int j = 0; j < RH_QK; j++)
            y[j] = d * (float)qs[j];
    }
}

static void quant_q4_0(const float *x, uint8_t *b, int64_t nb)
{
    int8_t L[RH_QK];
    for (int64_t i = 0; i < nb; i++, b += 18, x += RH_QK) {
        float d = rh_fit_sym(RH_QK, x, -8, 7, L);
        rh_put_f16(b, d);
        float ds = rh_h2f(b);
        float is = ds != 0 ? 1.0f / ds : 0;
        for (int j = 0; j < 16; j++) {
            int lo = rh_clampi(rh_nearest(x[j] * is), -8, 7) + 8;
            int hi = rh_clampi(rh_nearest(x[j + 16] * is), -8, 7) + 8;
            b[2 + j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static void quant_q5_0(const float *x, uint8_t *b, int64_t nb)
{
    int8_t L[RH_QK];
    for (int64_t i = 0; i < nb; i++, b += 22, x += RH_QK) {
        float d = rh_fit_sym(RH_QK, x, -16, 15, L);
        rh_put_f16(b, d);
        float ds = rh_h2f(b);
        float is = ds != 0 ? 1.0f / ds : 0;
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = rh_clampi(rh_nearest(x[j] * is), -16, 15) + 16;
            int hi = rh_clampi(rh_nearest(x[j + 16] * is), -16, 15) + 16;
            b[6 + j] = (uint8_t)((lo & 0xf) | (hi & 0xf) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; k++)
            b[2 + k] = (uint8_t)(qh >> (8 * k));
    }
}

/* Q4_1 (nbits 4) and Q5_1 (nbits 5): affine with a free-sign offset. */
static void quant_affine_1(const float *x, uint8_t *b, int64_t nb, int nbits)
{
    uint8_t L[RH_QK];
    int nmax = (1 << nbits) - 1;
    size_t bsize = nbits == 4 ? 20 : 24, qoff = nbits == 4 ? 4 : 8;
    for (int64_t i = 0; i < nb; i++, b += bsize, x += RH_QK) {
        float d, m;
        rh_fit_affine(RH_QK, x, nmax, 0, L, &d, &m);
        rh_put_f16(b, d);
        rh_put_f16(b + 2, m);
        float ds = rh_h2f(b), ms = rh_h2f(b + 2);
        float is = ds != 0 ? 1.0f / ds : 0;
        for (int j = 0; j < RH_QK; j++)
            L[j] = (uint8_t)rh_clampi(rh_nearest((x[j] - ms) * is), 0, nmax);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            b[qoff + j] = (uint8_t)((L[j] & 0xf) | (L[j + 16] & 0xf) << 4);
            qh |= (uint32_t)(L[j] >> 4) << j | (uint32_t)(L[j + 16] >> 4) << (j + 16);
        }
        if (nbits == 5)
            for (int k = 0; k < 4; k++)
                b[4 + k] = (uint8_t)(qh >> (8 * k));
    }
}

/* Q8_0 / Q8_1: plain absmax scaling (also the activation format of the
 * matmul kernels, so it is kept fast); codes stay within [-127, 127]. */
static void quant_q8(const float *x, uint8_t *b, int64_t nb, int with_sum)
{
    size_t bsize = with_sum ? 36 : 34, qoff = with_sum ? 4 : 2;
    for (int64_t i = 0; i < nb; i++, b += bsize, x += RH_QK) {
        rh_put_f16(b, rh_absmax(x, RH_QK) / 127.0f);
        float ds = rh_h2f(b);
        float is = ds != 0 && isfinite(ds) ? 1.0f / ds : 0;
        int8_t *qs = (int8_t *)(b + qoff);
        int sum = 0;
        for (int j = 0; j < RH_QK; j++) {
            int q = (int)rh_clampf(rh_roundf_fast(x[j] * is), -127.0f, 127.0f);
            qs[j] = (int8_t)q;
            sum += q;
        }
        if (with_sum)
            rh_put_f16(b + 2, ds * (float)sum);
    }
}

/* ---- dispatch --------------------------------------------------------------- */

void rh_dequantize_row(int type, const void *src, float *dst, int64_t n)
{
    const rh_type_info *ti = rh_type_get(type);
    if (!ti || !ti->can_dequant || n <= 0 || n % ti->blck != 0)
        return;
    rh_quant_init();
    const uint8_t *s = src;
    int64_t nb = n / ti->blck;
    switch (type) {
    case RH_TYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case RH_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = rh_h2f(s + 2 * i);
        break;
    case RH_TYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = rh_bf16_to_fp32((uint16_t)(s[2 * i] | s[2 * i + 1] << 8));
        break;
    case RH_TYPE_Q4_0: dequant_q4_0(s, dst, nb); break;
    case RH_TYPE_Q4_1: dequant_q4_1(s, dst, nb); break;
    case RH_TYPE_Q5_0: dequant_q5_0(s, dst, nb); break;
    case RH_TYPE_Q5_1: dequant_q5_1(s, dst, nb); break;
    case RH_TYPE_Q8_0: dequant_q8(s, dst, nb, 34, 2); break;
    case RH_TYPE_Q8_1: dequant_q8(s, dst, nb, 36, 4); break;
    case RH_TYPE_Q2_K: rh_dequant_q2_k(s, dst, nb); break;
    case RH_TYPE_Q3_K: rh_dequant_q3_k(s, dst, nb); break;
    case RH_TYPE_Q4_K: rh_dequant_q4_k(s, dst, nb); break;
    case RH_TYPE_Q5_K: rh_dequant_q5_k(s, dst, nb); break;
    case RH_TYPE_Q6_K: rh_dequant_q6_k(s, dst, nb); break;
    case RH_TYPE_Q8_K: rh_dequant_q8_k(s, dst, nb); break;
    default: break;
    }
}

size_t rh_quantize_row(int type, const float *src, void *dst, int64_t n)
{
    const rh_type_info *ti = rh_type_get(type);
    if (!ti || !ti->can_quant || n <= 0 || n % ti->blck != 0)
        return 0;
    rh_quant_init();
    uint8_t *d = dst;
    int64_t nb = n / ti->blck;
    switch (type) {
    case RH_TYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case RH_TYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = rh_fp32_to_fp16(src[i]);
            d[2 * i] = (uint8_t)h;
            d[2 * i + 1] = (uint8_t)(h >> 8);
        }
        break;
    case RH_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = rh_fp32_to_bf16(src[i]);
            d[2 * i] = (uint8_t)h;
            d[2 * i + 1] = (uint8_t)(h >> 8);
        }
        break;
    case RH_TYPE_Q4_0: quant_q4_0(src, d, nb); break;
    case RH_TYPE_Q4_1: quant_affine_1(src, d, nb, 4); break;
    case RH_TYPE_Q5_0: quant_q5_0(src, d, nb); break;
    case RH_TYPE_Q5_1: quant_affine_1(src, d, nb, 5); break;
    case RH_TYPE_Q8_0: quant_q8(src, d, nb, 0); break;
    case RH_TYPE_Q8_1: quant_q8(src, d, nb, 1); break;
    case RH_TYPE_Q2_K: rh_quant_q2_k(src, d, nb); break;
    case RH_TYPE_Q3_K: rh_quant_q3_k(src, d, nb); break;
    case RH_TYPE_Q4_K: rh_quant_q4_k(src, d, nb); break;
    case RH_TYPE_Q5_K: rh_quant_q5_k(src, d, nb); break;
    case RH_TYPE_Q6_K: rh_quant_q6_k(src, d, nb); break;
    case RH_TYPE_Q8_K: rh_quant_q8_k(src, d, nb); break;
    default: return 0;
    }
    return (size_t)nb * ti->size;
}
