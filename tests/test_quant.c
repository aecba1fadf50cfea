/* test_quant.c - tests of the tensor element types: type table, fp16/bf16,
 * dequantization against llama.cpp's reference sums, quantizer error
 * bounds, and `rathaus model quantize`. */
#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/quant.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------- */

/* Deterministic standard normal numbers (xorshift + Box-Muller). */
typedef struct {
    uint64_t s;
    int have;
    double spare;
} rng;

static double rng_uniform(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return ((double)(r->s >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(rng *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    double u = rng_uniform(r), v = rng_uniform(r);
    double rad = sqrt(-2.0 * log(u));
    r->spare = rad * sin(2.0 * M_PI * v);
    r->have = 1;
    return rad * cos(2.0 * M_PI * v);
}

static float *gaussian(int64_t n, uint64_t seed)
{
    rng r = {seed * 2654435761u + 88172645463325252ull, 0, 0};
    float *x = rh_malloc_array((size_t)n, sizeof *x);
    ASSERT(x != NULL);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)rng_normal(&r);
    return x;
}

/* sqrt(sum (a-b)^2 / sum b^2) */
static double rel_rms(const float *a, const float *b, int64_t n)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        e += d * d;
        s += (double)b[i] * (double)b[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}

/* Quantize then dequantize n values; returns the relative RMS error. */
static double roundtrip(int type, const float *x, int64_t n, float *y)
{
    size_t rs = rh_row_size(type, n);
    ASSERT(rs > 0);
    void *q = rh_malloc(rs);
    ASSERT(q != NULL);
    ASSERT_EQ(rh_quantize_row(type, x, q, n), rs);
    rh_dequantize_row(type, q, y, n);
    rh_free(q);
    return rel_rms(y, x, n);
}

static gguf_file *open_model(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s", name);
    const char *path = test_data_path(rel);
    gguf_file *f = NULL;
    rh_error err = {0};
    if (gguf_open(path, &f, &err) != RH_OK)
        FAIL("gguf_open %s: %s", path, err.msg);
    return f;
}

static int64_t tensor_nelem(const gguf_tensor *t)
{
    int64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        n *= (int64_t)t->ne[d];
    return n;
}

/* Dequantize a whole tensor (rh_malloc'ed result). */
static float *tensor_f32(const gguf_tensor *t)
{
    int64_t n = tensor_nelem(t);
    int64_t row = (int64_t)t->ne[0], rows = n / row;
    size_t rs = rh_row_size(t->type, row);
    ASSERT(rs > 0);
    ASSERT_EQ(rs * (size_t)rows, t->nbytes);
    float *y = rh_malloc_array((size_t)n, sizeof *y);
    ASSERT(y != NULL);
    for (int64_t r = 0; r < rows; r++)
        rh_dequantize_row(t->type, (const uint8_t *)t->data + (size_t)r * rs, y + r * row, row);
    return y;
}

static void tname(const gguf_tensor *t, char *buf, size_t cap)
{
    size_t n = t->name.len < cap - 1 ? (size_t)t->name.len : cap - 1;
    memcpy(buf, t->name.ptr, n);
    buf[n] = 0;
}

/* ---- type table ---------------------------------------------------------- */

TEST(quant_type_table)
{
    static const struct {
        int type;
        const char *name;
        uint32_t blck, size;
    } want[] = {
        {RH_TYPE_F32, "F32", 1, 4},       {RH_TYPE_F16, "F16", 1, 2},
        {RH_TYPE_BF16, "BF16", 1, 2},     {RH_TYPE_Q4_0, "Q4_0", 32, 18},
        {RH_TYPE_Q4_1, "Q4_1", 32, 20},   {RH_TYPE_Q5_0, "Q5_0", 32, 22},
        {RH_TYPE_Q5_1, "Q5_1", 32, 24},   {RH_TYPE_Q8_0, "Q8_0", 32, 34},
        {RH_TYPE_Q8_1, "Q8_1", 32, 36},   {RH_TYPE_Q2_K, "Q2_K", 256, 84},
        {RH_TYPE_Q3_K, "Q3_K", 256, 110}, {RH_TYPE_Q4_K, "Q4_K", 256, 144},
        {RH_TYPE_Q5_K, "Q5_K", 256, 176}, {RH_TYPE_Q6_K, "Q6_K", 256, 210},
        {RH_TYPE_Q8_K, "Q8_K", 256, 292},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const rh_type_info *ti = rh_type_get(want[i].type);
        ASSERT(ti != NULL);
        ASSERT_STREQ(ti->name, want[i].name);
        ASSERT_EQ(ti->blck, want[i].blck);
        ASSERT_EQ(ti->size, want[i].size);
        ASSERT(ti->can_dequant);
        ASSERT(ti->can_quant);
        ASSERT_EQ(rh_type_from_name(want[i].name), want[i].type);
        ASSERT_EQ(rh_row_size(want[i].type, 4096), 4096 / want[i].blck * want[i].size);
    }
    ASSERT_EQ(rh_type_from_name("q4_k"), RH_TYPE_Q4_K);
    ASSERT_EQ(rh_type_from_name("bf16"), RH_TYPE_BF16);
    ASSERT_EQ(rh_type_from_name("q4_k_m"), -1);
    ASSERT_EQ(rh_type_from_name(""), -1);
    ASSERT_EQ(rh_type_from_name(NULL), -1);
    ASSERT(rh_type_get(-1) == NULL);
    ASSERT(rh_type_get(4) == NULL); /* removed Q4_2 */
    ASSERT(rh_type_get(31) == NULL);
    ASSERT(rh_type_get(RH_TYPE_COUNT) == NULL);
    ASSERT(rh_type_get(1000) == NULL);
    /* known to the format but not computed with */
    const rh_type_info *iq = rh_type_get(23);
    ASSERT(iq != NULL && !iq->can_dequant && iq->blck == 256 && iq->size == 136);
    ASSERT_EQ(rh_row_size(RH_TYPE_Q4_K, 255), 0);
    ASSERT_EQ(rh_row_size(RH_TYPE_Q8_0, 33), 0);
    ASSERT_EQ(rh_row_size(RH_TYPE_Q8_0, -32), 0);
    ASSERT_EQ(rh_row_size(99, 32), 0);
    ASSERT_EQ(rh_row_size(RH_TYPE_F32, INT64_MAX), 0); /* bytes overflow size_t */
    ASSERT_EQ(rh_quantize_row(RH_TYPE_Q4_K, NULL, NULL, 100), 0);
    ASSERT_EQ(rh_quantize_row(23, NULL, NULL, 256), 0);
}

/* ---- fp16 / bf16 ----------------------------------------------------------- */

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

TEST(quant_fp16_exhaustive)
{
    /* every half converts to the right float and back to itself */
    const float *tab = rh_fp16_table();
    for (uint32_t h = 0; h < 65536; h++) {
        float f = rh_fp16_to_fp32((uint16_t)h);
        ASSERT_EQ(fbits(tab[h]), fbits(f));
        uint32_t e = (h >> 10) & 31, m = h & 1023;
        double want = e == 0 ? ldexp((double)m, -24)
                    : e == 31 ? (m ? NAN : INFINITY)
                              : ldexp(1024.0 + m, (int)e - 25);
        if (h & 0x8000)
            want = -want;
        if (e == 31 && m) {
            ASSERT(isnan(f));
            uint16_t back = rh_fp32_to_fp16(f);
            ASSERT((back & 0x7c00) == 0x7c00 && (back & 0x3ff) != 0); /* still NaN */
            ASSERT_EQ(back & 0x8000, h & 0x8000);
            continue;
        }
        if ((double)f != want)
            FAIL("half 0x%04x -> %.9g, want %.9g", h, (double)f, want);
        ASSERT_EQ(signbit(f) != 0, (h & 0x8000) != 0);
        ASSERT_EQ(rh_fp32_to_fp16(f), h);
    }
    /* rounding: the midpoint between neighbours goes to the even one, a hair
     * off the midpoint to the nearer one (covers subnormals and the carry
     * into the next binade) */
    for (uint32_t h = 0; h < 0x7bff; h++) {
        float a = rh_fp16_to_fp32((uint16_t)h), b = rh_fp16_to_fp32((uint16_t)(h + 1));
        float mid = (a + b) * 0.5f; /* exact: 12 significant bits */
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        if (rh_fp32_to_fp16(mid) != even)
            FAIL("midpoint above 0x%04x -> 0x%04x, want 0x%04x", h, rh_fp32_to_fp16(mid), even);
        ASSERT_EQ(rh_fp32_to_fp16(nextafterf(mid, 0)), h);
        ASSERT_EQ(rh_fp32_to_fp16(nextafterf(mid, INFINITY)), h + 1);
        ASSERT_EQ(rh_fp32_to_fp16(-mid), even | 0x8000);
    }
    /* overflow and underflow */
    ASSERT_EQ(rh_fp32_to_fp16(65504.0f), 0x7bff);
    ASSERT_EQ(rh_fp32_to_fp16(nextafterf(65520.0f, 0)), 0x7bff);
    ASSERT_EQ(rh_fp32_to_fp16(65520.0f), 0x7c00);
    ASSERT_EQ(rh_fp32_to_fp16(1e30f), 0x7c00);
    ASSERT_EQ(rh_fp32_to_fp16(-INFINITY), 0xfc00);
    ASSERT_EQ(rh_fp32_to_fp16(0x1p-25f), 0x0000);             /* tie -> even (0) */
    ASSERT_EQ(rh_fp32_to_fp16(nextafterf(0x1p-25f, 1)), 0x0001); /* above tie */
    ASSERT_EQ(rh_fp32_to_fp16(0x1.8p-24f), 0x0002);           /* 1.5 ulp -> 2 */
    ASSERT_EQ(rh_fp32_to_fp16(1e-30f), 0x0000);
    ASSERT_EQ(rh_fp32_to_fp16(-1e-30f), 0x8000);
    ASSERT_EQ(rh_fp32_to_fp16(bitsf(1)), 0x0000); /* float subnormal */
    ASSERT_EQ(rh_fp32_to_fp16(-0.0f), 0x8000);
    ASSERT_EQ(rh_fp32_to_fp16(1.0f), 0x3c00);
    ASSERT_EQ(rh_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);           /* tie, even */
    ASSERT_EQ(rh_fp32_to_fp16(1.0f + 0x1p-10f + 0x1p-11f), 0x3c02); /* tie, up */
    ASSERT(isnan(rh_fp16_to_fp32(rh_fp32_to_fp16(NAN))));
    ASSERT(isnan(rh_fp16_to_fp32(rh_fp32_to_fp16(bitsf(0x7f800001))))); /* payload low */
}

TEST(quant_bf16)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = rh_bf16_to_fp32((uint16_t)h);
        ASSERT_EQ(fbits(f), h << 16);
        if (isnan(f))
            ASSERT(isnan(rh_bf16_to_fp32(rh_fp32_to_bf16(f))));
        else
            ASSERT_EQ(rh_fp32_to_bf16(f), h);
    }
    ASSERT_EQ(rh_fp32_to_bf16(bitsf(0x3f808000)), 0x3f80); /* tie, even down */
    ASSERT_EQ(rh_fp32_to_bf16(bitsf(0x3f818000)), 0x3f82); /* tie, even up */
    ASSERT_EQ(rh_fp32_to_bf16(bitsf(0x3f808001)), 0x3f81);
    ASSERT_EQ(rh_fp32_to_bf16(bitsf(0x3f807fff)), 0x3f80);
    ASSERT_EQ(rh_fp32_to_bf16(bitsf(0x7f7fffff)), 0x7f80); /* FLT_MAX -> Inf */
    ASSERT_EQ(rh_fp32_to_bf16(bitsf(0x00008000)), 0x0000); /* subnormal tie */
    ASSERT_EQ(rh_fp32_to_bf16(bitsf(0x00018000)), 0x0002);
    uint16_t n = rh_fp32_to_bf16(bitsf(0x7f800001)); /* NaN with low payload only */
    ASSERT(isnan(rh_bf16_to_fp32(n)));
    ASSERT(isnan(rh_bf16_to_fp32(rh_fp32_to_bf16(bitsf(0xffffffff)))));
}

/* ---- bit layouts on hand-made blocks ---------------------------------------- */

TEST(quant_layout_legacy)
{
    uint8_t b[24];
    float y[32];
    /* Q4_0: d = 0.5, value j = low nibble of qs[j], j+16 = high nibble */
    memset(b, 0, sizeof b);
    b[0] = 0x00, b[1] = 0x38; /* 0.5 */
    b[2] = 0x9f;              /* value 0 = 15-8 = 7, value 16 = 9-8 = 1 */
    b[17] = 0x0a;             /* value 15 = 2, value 31 = -8 */
    rh_dequantize_row(RH_TYPE_Q4_0, b, y, 32);
    ASSERT_NEAR(y[0], 3.5, 0);
    ASSERT_NEAR(y[16], 0.5, 0);
    ASSERT_NEAR(y[15], 1.0, 0);
    ASSERT_NEAR(y[31], -4.0, 0);
    ASSERT_NEAR(y[1], -4.0, 0);
    /* Q5_0: the fifth bit of value j is bit j of qh */
    memset(b, 0, sizeof b);
    b[0] = 0x00, b[1] = 0x3c; /* 1.0 */
    b[2] = 0x01;              /* qh bit 0: value 0 */
    b[5] = 0x80;              /* qh bit 31: value 31 */
    b[6] = 0x21;              /* value 0: nibble 1 | 16 -> 17-16 = 1; value 16: 2-16 */
    b[21] = 0xf0;             /* value 31: 15 | 16 = 31 -> 15; value 15: 0-16 */
    rh_dequantize_row(RH_TYPE_Q5_0, b, y, 32);
    ASSERT_NEAR(y[0], 1, 0);
    ASSERT_NEAR(y[16], -14, 0);
    ASSERT_NEAR(y[31], 15, 0);
    ASSERT_NEAR(y[15], -16, 0);
    /* Q5_1: x = d*q + m */
    memset(b, 0, sizeof b);
    b[0] = 0x00, b[1] = 0x40; /* d = 2 */
    b[2] = 0x00, b[3] = 0xbc; /* m = -1 */
    b[4] = 0x02;              /* qh bit 1: value 1 */
    b[9] = 0x03;              /* value 1: 3 | 16 = 19 */
    rh_dequantize_row(RH_TYPE_Q5_1, b, y, 32);
    ASSERT_NEAR(y[1], 37, 0);
    ASSERT_NEAR(y[0], -1, 0);
    /* Q4_1 */
    memset(b, 0, sizeof b);
    b[0] = 0x00, b[1] = 0x3c; /* d = 1 */
    b[2] = 0x00, b[3] = 0x3c; /* m = 1 */
    b[4] = 0x5a;
    rh_dequantize_row(RH_TYPE_Q4_1, b, y, 32);
    ASSERT_NEAR(y[0], 11, 0);
    ASSERT_NEAR(y[16], 6, 0);
}

TEST(quant_layout_k)
{
    uint8_t b[292];
    float y[256];
    /* Q6_K: value i: low nibble from ql, 2 high bits from qh, scale i/16 */
    memset(b, 0, sizeof b);
    b[208] = 0x00, b[209] = 0x3c; /* d = 1 */
    for (int s = 0; s < 16; s++)
        b[192 + s] = (uint8_t)(s + 1);
    b[64 + 32 + 5] = 0x73; /* ql for i = 128+32+5 (low) and 128+96+5 (high) */
    b[128 + 32 + 5] = 0xe4; /* qh for l=5, n=1: j0=0, j1=1, j2=2, j3=3 */
    rh_dequantize_row(RH_TYPE_Q6_K, b, y, 256);
    ASSERT_NEAR(y[128 + 5], (0 - 32) * 9, 0);           /* j0: lo 0, hi 0 */
    ASSERT_NEAR(y[128 + 32 + 5], (3 + 16 - 32) * 11, 0); /* j1: lo 3, hi 1 */
    ASSERT_NEAR(y[128 + 64 + 5], (0 + 32 - 32) * 13, 0); /* j2: lo 0 (ql[64+5]), hi 2 */
    ASSERT_NEAR(y[128 + 96 + 5], (7 + 48 - 32) * 15, 0); /* j3: lo 7, hi 3 */
    /* Q4_K: 6-bit scales/mins packed in 12 bytes */
    memset(b, 0, sizeof b);
    b[0] = 0x00, b[1] = 0x3c; /* d = 1 */
    b[2] = 0x00, b[3] = 0x38; /* dmin = 0.5 */
    b[4 + 0] = 5 | 1 << 6;    /* sc0 = 5, top bits of sc4 = 1 */
    b[4 + 4] = 6 | 2 << 6;    /* m0 = 6, top bits of m4 = 2 */
    b[4 + 8] = 0x3a;          /* sc4 = 10 | 1<<4 = 26, m4 = 3 | 2<<4 = 35 */
    b[16 + 0] = 0x0f;         /* value 0 = 15 */
    b[16 + 64 + 3] = 0x90;    /* chunk 2, l=3: value 128+3 = 0 (sub 4), value 160+3 = 9 (sub 5) */
    rh_dequantize_row(RH_TYPE_Q4_K, b, y, 256);
    ASSERT_NEAR(y[0], 15 * 5 - 3, 0);
    ASSERT_NEAR(y[128 + 3], 0 * 26 - 17.5, 0);
    ASSERT_NEAR(y[160 + 3], 0, 0); /* sub-block 5: scale 0, min 0 */
    /* Q5_K: fifth bit of value i is bit i/32 of qh[i%32] */
    memset(b, 0, sizeof b);
    b[0] = 0x00, b[1] = 0x3c;
    b[4 + 1] = 2;            /* sc1 = 2 */
    b[16 + 7] = 0x02;        /* qh[7] bit 1: value 32+7 */
    b[48 + 7] = 0x30;        /* value 32+7: high nibble 3 */
    rh_dequantize_row(RH_TYPE_Q5_K, b, y, 256);
    ASSERT_NEAR(y[39], (3 + 16) * 2, 0);
    /* Q3_K: q = 2 low bits - (hmask bit ? 0 : 4), 6-bit scales - 32 */
    memset(b, 0, sizeof b);
    b[108] = 0x00, b[109] = 0x3c; /* d = 1 */
    /* scale j: low nibble in byte j%8 (half j/8), top bits in byte 8+j%4
     * (bits 2*(j/4)); scale 11 = (3 | 2 << 4) - 32 = 3 */
    b[96 + 3] = 0x30;
    b[96 + 11] = 0x20;
    b[96 + 1] = 0x05; /* scale 1 = 5 - 32 = -27 */
    b[32 + 32 + 16 + 4] = 0x0c; /* value 180 (n 1, j 1, l 20): 2 low bits = 3 */
    b[16 + 4] = 1 << 5;         /* hmask[20] bit 5: value 5*32+20 = 180 */
    rh_dequantize_row(RH_TYPE_Q3_K, b, y, 256);
    ASSERT_NEAR(y[180], 3 * 3, 0);
    ASSERT_NEAR(y[181], 3 * -4, 0); /* code 0, no high bit -> -4 */
    ASSERT_NEAR(y[16], -27 * -4, 0);
    ASSERT_NEAR(y[0], -32 * -4, 0); /* scale 0 stored 0 -> -32 */
    /* Q2_K: scale byte lo nibble scale, hi nibble min */
    memset(b, 0, sizeof b);
    b[80] = 0x00, b[81] = 0x3c;    /* d = 1 */
    b[82] = 0x00, b[83] = 0x3c;    /* dmin = 1 */
    b[6] = 0x52;                   /* sub 6: scale 2, min 5 */
    b[16 + 22] = 0xc0; /* qs[22] bits 6-7: value 96+22 = 118 (sub 7) */
    b[7] = 0x13;
    rh_dequantize_row(RH_TYPE_Q2_K, b, y, 256);
    ASSERT_NEAR(y[118], 3 * 3 - 1, 0);
    ASSERT_NEAR(y[96], -5, 0);
    /* Q8_K: f32 d */
    memset(b, 0, sizeof b);
    float d = 0.25f;
    memcpy(b, &d, 4);
    b[4 + 7] = (uint8_t)(int8_t)-100;
    rh_dequantize_row(RH_TYPE_Q8_K, b, y, 256);
    ASSERT_NEAR(y[7], -25, 0);
}

/* ---- quantizer error bounds ------------------------------------------------- */

TEST_TIMEOUT(quant_roundtrip_gaussian, 120)
{
    static const struct {
        int type;
        double bound;
    } cases[] = {
        {RH_TYPE_F32, 0},        {RH_TYPE_F16, 0.00025}, {RH_TYPE_BF16, 0.002},
        {RH_TYPE_Q8_0, 0.006},   {RH_TYPE_Q8_1, 0.006},  {RH_TYPE_Q8_K, 0.0078},
        {RH_TYPE_Q6_K, 0.0178},  {RH_TYPE_Q5_1, 0.036},  {RH_TYPE_Q5_0, 0.043},
        {RH_TYPE_Q5_K, 0.0375},  {RH_TYPE_Q4_1, 0.075},  {RH_TYPE_Q4_0, 0.088},
        {RH_TYPE_Q4_K, 0.076},   {RH_TYPE_Q3_K, 0.155},  {RH_TYPE_Q2_K, 0.285},
    };
    const int64_t n = 256 * 256;
    float *x = gaussian(n, 1);
    float *y = rh_malloc_array((size_t)n, sizeof *y);
    ASSERT(y != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double e = roundtrip(cases[i].type, x, n, y);
        if (getenv("QUANT_VERBOSE"))
            printf("    %-5s rel rms %.5f (bound %.4f)\n", rh_type_get(cases[i].type)->name, e,
                   cases[i].bound);
        if (!(e <= cases[i].bound))
            FAIL("%s: relative RMS error %.5f above %.4f", rh_type_get(cases[i].type)->name, e,
                 cases[i].bound);
    }
    rh_free(x);
    rh_free(y);
}

/* ---- dequantization against llama.cpp's reference ------------------------- */

/* Check every tensor of <model>.gguf against reference/<model>.deq. */
static void check_deq(const char *model)
{
    char rel[256], deq_path[1024];
    snprintf(rel, sizeof rel, "reference/%s.deq", model);
    snprintf(deq_path, sizeof deq_path, "%s", test_data_path(rel));
    snprintf(rel, sizeof rel, "%s.gguf", model);
    gguf_file *f = open_model(rel);
    FILE *fp = fopen(deq_path, "r");
    ASSERT(fp != NULL);
    char line[4096];
    size_t checked = 0;
    while (fgets(line, sizeof line, fp)) {
        char name[256], type[32];
        long long n;
        double sum, sumsq, first[8];
        int got = sscanf(line,
                         "%255s %31s %lld sum=%lf sumsq=%lf first8= %lf %lf %lf %lf %lf %lf %lf %lf",
                         name, type, &n, &sum, &sumsq, &first[0], &first[1], &first[2], &first[3],
                         &first[4], &first[5], &first[6], &first[7]);
        if (got < 5)
            continue;
        const gguf_tensor *t = gguf_find_tensor(f, name);
        if (!t)
            FAIL("%s: tensor %s not in the model", model, name);
        if (t->type != rh_type_from_name(type))
            FAIL("%s: %s has type %d, reference says %s", model, name, t->type, type);
        ASSERT_EQ(tensor_nelem(t), n);
        float *y = tensor_f32(t);
        double s = 0, ss = 0;
        for (long long i = 0; i < n; i++) {
            s += y[i];
            ss += (double)y[i] * y[i];
        }
        if (!(fabs(s - sum) <= 1e-6 * fabs(sum) + 1e-9))
            FAIL("%s %s (%s): sum %.10g, reference %.10g", model, name, type, s, sum);
        if (!(fabs(ss - sumsq) <= 1e-6 * sumsq))
            FAIL("%s %s (%s): sumsq %.10g, reference %.10g", model, name, type, ss, sumsq);
        for (int i = 0; i < 8 && i < got - 5; i++)
            if (!(fabs(y[i] - first[i]) <= 1e-6 * fabs(first[i]) + 1e-12))
                FAIL("%s %s (%s): value %d is %.9g, reference %.9g", model, name, type, i,
                     (double)y[i], first[i]);
        rh_free(y);
        checked++;
    }
    fclose(fp);
    ASSERT_EQ(checked, gguf_tensor_count(f));
    gguf_close(f);
}

TEST(quant_deq_llama_q8_0) { check_deq("tiny-llama-q8_0"); }
TEST(quant_deq_llama_q4_k_m) { check_deq("tiny-llama-q4_k_m"); }
TEST(quant_deq_qwen2_f16) { check_deq("tiny-qwen2-f16"); }
TEST(quant_deq_qwen2_q4_0) { check_deq("tiny-qwen2-q4_0"); }
TEST(quant_deq_qwen3_q4_k_m) { check_deq("tiny-qwen3-q4_k_m"); }

/* Two files of the same random model in different types: every tensor of
 * `a` must be within bound[type] relative RMS of the same tensor in `b`
 * (the bounds are measured values plus a small margin: the error of
 * llama.cpp's quantizer for that type against an F16 or Q8_0 original).
 * Returns how many tensors of type `must` were seen. */
static int compare_models(const char *a, const char *b, const double *bound, int must)
{
    gguf_file *fa = open_model(a), *fb = open_model(b);
    int n_must = 0;
    for (size_t i = 0; i < gguf_tensor_count(fa); i++) {
        const gguf_tensor *ta = gguf_tensor_at(fa, i);
        char name[256];
        tname(ta, name, sizeof name);
        const gguf_tensor *tb = gguf_find_tensor(fb, name);
        if (!tb)
            FAIL("%s: tensor %s missing in %s", a, name, b);
        ASSERT_EQ(tensor_nelem(ta), tensor_nelem(tb));
        ASSERT(ta->type >= 0 && ta->type < RH_TYPE_COUNT);
        if (ta->type == must)
            n_must++;
        float *ya = tensor_f32(ta), *yb = tensor_f32(tb);
        double e = rel_rms(ya, yb, tensor_nelem(ta));
        if (getenv("QUANT_VERBOSE"))
            printf("    %-28s %-5s vs %-5s rel rms %.5f\n", name, rh_type_get(ta->type)->name,
                   rh_type_get(tb->type)->name, e);
        if (!(e <= bound[ta->type]))
            FAIL("%s %s (%s): relative RMS %.5f from %s above %.4f", a, name,
                 rh_type_get(ta->type)->name, e, b, bound[ta->type]);
        rh_free(ya);
        rh_free(yb);
    }
    gguf_close(fa);
    gguf_close(fb);
    return n_must;
}

TEST(quant_cross_llama_q5_k_m)
{
    double bound[RH_TYPE_COUNT] = {[RH_TYPE_F32] = 0, [RH_TYPE_Q5_K] = 0.039, [RH_TYPE_Q6_K] = 0.0195};
    ASSERT(compare_models("tiny-llama-q5_k_m.gguf", "tiny-llama-q8_0.gguf", bound, RH_TYPE_Q5_K) > 0);
}

TEST(quant_cross_llama_q4_k_m)
{
    double bound[RH_TYPE_COUNT] = {[RH_TYPE_F32] = 0, [RH_TYPE_Q4_K] = 0.075, [RH_TYPE_Q6_K] = 0.0195};
    ASSERT(compare_models("tiny-llama-q4_k_m.gguf", "tiny-llama-q8_0.gguf", bound, RH_TYPE_Q4_K) > 0);
}

TEST(quant_cross_qwen2_q6_k)
{
    double bound[RH_TYPE_COUNT] = {[RH_TYPE_F32] = 0, [RH_TYPE_Q6_K] = 0.0185};
    ASSERT(compare_models("tiny-qwen2-q6_k.gguf", "tiny-qwen2-f16.gguf", bound, RH_TYPE_Q6_K) > 0);
}

TEST(quant_cross_qwen2_q4_0)
{
    double bound[RH_TYPE_COUNT] = {[RH_TYPE_F32] = 0, [RH_TYPE_Q4_0] = 0.09, [RH_TYPE_Q6_K] = 0.0185};
    ASSERT(compare_models("tiny-qwen2-q4_0.gguf", "tiny-qwen2-f16.gguf", bound, RH_TYPE_Q4_0) > 0);
}

/* ---- quantize(dequantize(q)) of real tensors ---------------------------------- */

/* Requantizing values that came out of a quantizer of the same type must
 * land close to them: far closer than the type's error on fresh data. */
static void check_requant(const char *model, const char *tensor, int64_t max_rows, double bound)
{
    gguf_file *f = open_model(model);
    const gguf_tensor *t = gguf_find_tensor(f, tensor);
    ASSERT(t != NULL);
    int64_t row = (int64_t)t->ne[0], rows = tensor_nelem(t) / row;
    if (rows > max_rows)
        rows = max_rows;
    int64_t n = row * rows;
    size_t rs = rh_row_size(t->type, row);
    float *x = rh_malloc_array((size_t)n, sizeof *x), *y = rh_malloc_array((size_t)n, sizeof *y);
    uint8_t *q = rh_malloc(rs * (size_t)rows);
    ASSERT(x && y && q);
    rh_dequantize_row(t->type, t->data, x, n);
    ASSERT_EQ(rh_quantize_row(t->type, x, q, n), rs * (size_t)rows);
    rh_dequantize_row(t->type, q, y, n);
    double e = rel_rms(y, x, n);
    if (getenv("QUANT_VERBOSE"))
        printf("    %s %s (%s): requantized rel rms %.6f\n", model, tensor,
               rh_type_get(t->type)->name, e);
    if (!(e <= bound))
        FAIL("%s %s (%s): requantized relative RMS %.6f above %.4f", model, tensor,
             rh_type_get(t->type)->name, e, bound);
    rh_free(x);
    rh_free(y);
    rh_free(q);
    gguf_close(f);
}

TEST(quant_requant_real)
{
    check_requant("tiny-llama-q8_0.gguf", "blk.0.attn_q.weight", 256, 0.0001);
    check_requant("tiny-llama-q4_k_m.gguf", "blk.0.attn_q.weight", 256, 0.0001);
    check_requant("tiny-llama-q4_k_m.gguf", "output.weight", 256, 0.0001);
    check_requant("tiny-llama-q5_k_m.gguf", "blk.0.attn_q.weight", 256, 0.0001);
    check_requant("tiny-llama-q5_k_m.gguf", "token_embd.weight", 1024, 0.0001);
    check_requant("tiny-qwen2-q6_k.gguf", "token_embd.weight", 1024, 0.0001);
    check_requant("tiny-qwen3-q4_k_m.gguf", "blk.1.ffn_up.weight", 768, 0.0001);
    check_requant("tiny-qwen2-q4_0.gguf", "blk.0.attn_q.weight", 256, 0.0001);
}

/* ---- rathaus model quantize ------------------------------------------------ */

static int run_quantize(const char *in, const char *out, const char *type)
{
    char a0[] = "quantize", a1[1024], a2[1024], a3[64];
    snprintf(a1, sizeof a1, "%s", in);
    snprintf(a2, sizeof a2, "%s", out);
    snprintf(a3, sizeof a3, "%s", type);
    char *argv[] = {a0, a1, a2, a3, NULL};
    fflush(stdout);
    return cmd_model_quantize(4, argv);
}

/* Quantize the F16 qwen2 model with `recipe`, check every tensor's type
 * (want_type(name) or F32 for 1-D) and closeness to the original. */
static void check_quantized_model(const char *recipe, int (*want_type)(const char *name, int n_dims))
{
    char in[1024], out[1024];
    snprintf(in, sizeof in, "%s", test_data_path("models/tiny-qwen2-f16.gguf"));
    snprintf(out, sizeof out, "%s/qwen2-%s.gguf", test_tmpdir(), recipe);
    ASSERT_EQ(run_quantize(in, out, recipe), 0);
    gguf_file *fi = NULL, *fo = NULL;
    rh_error err = {0};
    ASSERT_EQ(gguf_open(in, &fi, &err), RH_OK);
    if (gguf_open(out, &fo, &err) != RH_OK)
        FAIL("reopening %s: %s", out, err.msg);
    /* metadata: everything copied, file type set */
    for (size_t i = 0; i < gguf_kv_count(fi); i++) {
        const gguf_kv *kv = gguf_kv_at(fi, i);
        char key[256];
        size_t n = kv->key.len < sizeof key - 1 ? (size_t)kv->key.len : sizeof key - 1;
        memcpy(key, kv->key.ptr, n);
        key[n] = 0;
        const gguf_kv *ko = gguf_find_kv(fo, key);
        if (!ko)
            FAIL("metadata %s not copied", key);
        ASSERT_EQ(ko->type, kv->type);
        if (kv->type == GGUF_VT_ARRAY)
            ASSERT_EQ(ko->arr_n, kv->arr_n);
    }
    uint32_t ftype = 0;
    ASSERT_EQ(gguf_get_u32(fo, "general.file_type", &ftype), RH_OK);
    ASSERT_EQ(ftype, strcmp(recipe, "q8_0") == 0 ? 7 : 15);
    /* tensors */
    ASSERT_EQ(gguf_tensor_count(fo), gguf_tensor_count(fi));
    for (size_t i = 0; i < gguf_tensor_count(fi); i++) {
        const gguf_tensor *ti = gguf_tensor_at(fi, i);
        char name[256];
        tname(ti, name, sizeof name);
        const gguf_tensor *to = gguf_find_tensor(fo, name);
        ASSERT(to != NULL);
        ASSERT_EQ(to->n_dims, ti->n_dims);
        for (int d = 0; d < GGUF_MAX_DIMS; d++)
            ASSERT_EQ(to->ne[d], ti->ne[d]);
        int want = want_type(name, (int)ti->n_dims);
        if (to->type != want)
            FAIL("%s: %s has type %s, want %s", recipe, name, rh_type_get(to->type)->name,
                 rh_type_get(want)->name);
        float *a = tensor_f32(ti), *b = tensor_f32(to);
        double e = rel_rms(b, a, tensor_nelem(ti));
        double bound = want == RH_TYPE_F32 ? 0 : want == RH_TYPE_Q8_0 ? 0.006
                     : want == RH_TYPE_Q6_K ? 0.0185 : 0.078;
        if (!(e <= bound))
            FAIL("%s: %s (%s) relative RMS %.5f above %.4f", recipe, name,
                 rh_type_get(want)->name, e, bound);
        rh_free(a);
        rh_free(b);
    }
    gguf_close(fi);
    gguf_close(fo);
}

static int want_q8_0(const char *name, int n_dims)
{
    (void)name;
    return n_dims == 1 ? RH_TYPE_F32 : RH_TYPE_Q8_0;
}

static int want_q4_k_m(const char *name, int n_dims)
{
    if (n_dims == 1)
        return RH_TYPE_F32;
    if (strcmp(name, "token_embd.weight") == 0) /* tied: the output projection */
        return RH_TYPE_Q6_K;
    /* 4 layers: attn_v and ffn_down of layers 0 and 3 get Q6_K */
    if ((strstr(name, ".attn_v.") || strstr(name, ".ffn_down.")) &&
        (strncmp(name, "blk.0.", 6) == 0 || strncmp(name, "blk.3.", 6) == 0))
        return RH_TYPE_Q6_K;
    return RH_TYPE_Q4_K;
}

TEST_TIMEOUT(quant_cli_q8_0, 120) { check_quantized_model("q8_0", want_q8_0); }
TEST_TIMEOUT(quant_cli_q4_k_m, 120) { check_quantized_model("q4_k_m", want_q4_k_m); }

/* Row lengths that do not fit the wanted block fall back to smaller blocks;
 * F16 norms become F32; bad arguments are refused. */
TEST(quant_cli_fallback)
{
    gguf_writer *w = NULL;
    ASSERT_EQ(gguf_writer_new(&w), RH_OK);
    ASSERT_EQ(gguf_writer_set_str(w, "general.architecture", "llama"), RH_OK);
    ASSERT_EQ(gguf_writer_set_u32(w, "general.file_type", 0), RH_OK);
    static float a[96 * 4], b[256 * 4], c[48 * 8], d[256 * 4];
    static uint16_t norm[96];
    float *all[] = {a, b, c, d};
    size_t sizes[] = {96 * 4, 256 * 4, 48 * 8, 256 * 4};
    for (int k = 0; k < 4; k++) {
        float *g = gaussian((int64_t)sizes[k], (uint64_t)k + 7);
        memcpy(all[k], g, sizes[k] * sizeof(float));
        rh_free(g);
    }
    for (int i = 0; i < 96; i++)
        norm[i] = rh_fp32_to_fp16(1.0f + 0.01f * (float)i);
    uint64_t ne_a[2] = {96, 4}, ne_b[2] = {256, 4}, ne_c[2] = {48, 8}, ne_n[1] = {96};
    ASSERT_EQ(gguf_writer_add_tensor(w, "blk.0.attn_q.weight", RH_TYPE_F32, 2, ne_a, a, sizeof a, true), RH_OK);
    ASSERT_EQ(gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", RH_TYPE_F32, 2, ne_b, b, sizeof b, true), RH_OK);
    ASSERT_EQ(gguf_writer_add_tensor(w, "blk.1.ffn_down.weight", RH_TYPE_F32, 2, ne_b, d, sizeof d, true), RH_OK);
    ASSERT_EQ(gguf_writer_add_tensor(w, "token_embd.weight", RH_TYPE_F32, 2, ne_c, c, sizeof c, true), RH_OK);
    ASSERT_EQ(gguf_writer_add_tensor(w, "output_norm.weight", RH_TYPE_F16, 1, ne_n, norm, sizeof norm, true), RH_OK);
    char in[1024], out[1024];
    snprintf(in, sizeof in, "%s/small.gguf", test_tmpdir());
    snprintf(out, sizeof out, "%s/small-q4_k_m.gguf", test_tmpdir());
    rh_error err = {0};
    ASSERT_EQ(gguf_writer_write(w, in, &err), RH_OK);
    gguf_writer_free(w);

    ASSERT_EQ(run_quantize(in, out, "Q4_K_M"), 0);
    gguf_file *f = NULL;
    ASSERT_EQ(gguf_open(out, &f, &err), RH_OK);
    ASSERT_EQ(gguf_find_tensor(f, "blk.0.attn_q.weight")->type, RH_TYPE_Q5_0); /* 96: not 256 */
    ASSERT_EQ(gguf_find_tensor(f, "blk.0.ffn_down.weight")->type, RH_TYPE_Q6_K); /* layer 0 of 2 */
    ASSERT_EQ(gguf_find_tensor(f, "blk.1.ffn_down.weight")->type, RH_TYPE_Q4_K); /* 1 of 2 layers */
    ASSERT_EQ(gguf_find_tensor(f, "token_embd.weight")->type, RH_TYPE_F16);      /* 48: not 32 */
    const gguf_tensor *nt = gguf_find_tensor(f, "output_norm.weight");
    ASSERT_EQ(nt->type, RH_TYPE_F32);
    ASSERT_NEAR(((const float *)nt->data)[95], rh_fp16_to_fp32(norm[95]), 0);
    gguf_str arch;
    ASSERT_EQ(gguf_get_str(f, "general.architecture", &arch), RH_OK);
    ASSERT(gguf_str_eq(arch, "llama"));
    gguf_close(f);

    /* unchanged types are copied bit for bit */
    snprintf(out, sizeof out, "%s/small-f32.gguf", test_tmpdir());
    ASSERT_EQ(run_quantize(in, out, "f32"), 0);
    ASSERT_EQ(gguf_open(out, &f, &err), RH_OK);
    ASSERT(memcmp(gguf_find_tensor(f, "blk.0.ffn_down.weight")->data, b, sizeof b) == 0);
    gguf_close(f);

    /* every recipe: file type, the 96-wide matrix's type (fallback), and the
     * 256-wide layer-1 ffn_down (base type, or Q6_K in a mix for layer 0) */
    static const struct {
        const char *name;
        uint32_t ftype;
        int narrow, wide;
    } rec[] = {
        {"f32", 0, RH_TYPE_F32, RH_TYPE_F32},        {"f16", 1, RH_TYPE_F16, RH_TYPE_F16},
        {"bf16", 32, RH_TYPE_BF16, RH_TYPE_BF16},    {"q8_0", 7, RH_TYPE_Q8_0, RH_TYPE_Q8_0},
        {"q4_0", 2, RH_TYPE_Q4_0, RH_TYPE_Q4_0},     {"q4_1", 3, RH_TYPE_Q4_1, RH_TYPE_Q4_1},
        {"q5_0", 8, RH_TYPE_Q5_0, RH_TYPE_Q5_0},     {"q5_1", 9, RH_TYPE_Q5_1, RH_TYPE_Q5_1},
        {"q4_k", 14, RH_TYPE_Q5_0, RH_TYPE_Q4_K},    {"q5_k", 16, RH_TYPE_Q5_1, RH_TYPE_Q5_K},
        {"q6_k", 18, RH_TYPE_Q8_0, RH_TYPE_Q6_K},    {"q4_k_m", 15, RH_TYPE_Q5_0, RH_TYPE_Q4_K},
        {"q5_k_m", 17, RH_TYPE_Q5_1, RH_TYPE_Q5_K},
    };
    for (size_t i = 0; i < sizeof rec / sizeof rec[0]; i++) {
        snprintf(out, sizeof out, "%s/small-%s.gguf", test_tmpdir(), rec[i].name);
        ASSERT_EQ(run_quantize(in, out, rec[i].name), 0);
        ASSERT_EQ(gguf_open(out, &f, &err), RH_OK);
        uint32_t ft = 99;
        ASSERT_EQ(gguf_get_u32(f, "general.file_type", &ft), RH_OK);
        ASSERT_EQ(ft, rec[i].ftype);
        ASSERT_EQ(gguf_find_tensor(f, "blk.0.attn_q.weight")->type, rec[i].narrow);
        ASSERT_EQ(gguf_find_tensor(f, "blk.1.ffn_down.weight")->type, rec[i].wide);
        ASSERT_EQ(gguf_find_tensor(f, "output_norm.weight")->type, RH_TYPE_F32);
        const gguf_tensor *t = gguf_find_tensor(f, "blk.0.attn_q.weight");
        float *y = tensor_f32(t);
        double e = rel_rms(y, a, 96 * 4);
        if (!(e < 0.1))
            FAIL("%s: %s relative RMS %.4f", rec[i].name, rh_type_get(t->type)->name, e);
        rh_free(y);
        gguf_close(f);
    }

    ASSERT_EQ(run_quantize(in, out, "q3_k_xl"), 2);
    snprintf(in, sizeof in, "%s/missing.gguf", test_tmpdir());
    ASSERT_EQ(run_quantize(in, out, "q8_0"), 1);
    char a0[] = "quantize";
    char *argv[] = {a0, NULL};
    ASSERT_EQ(cmd_model_quantize(1, argv), 2);
}

/* The threads share out the rows: 1 and 3 threads write the same bytes;
 * a bad thread count is refused. */
TEST(quant_cli_threads_identical)
{
    char in[1024], o1[1024], o3[1024], t1[] = "1", t3[] = "3", tb[] = "0", a0[] = "quantize",
                                          ft[] = "-t", ty[] = "q4_k_m";
    snprintf(in, sizeof in, "%s", test_data_path("models/tiny-qwen2-f16.gguf"));
    snprintf(o1, sizeof o1, "%s/q-t1.gguf", test_tmpdir());
    snprintf(o3, sizeof o3, "%s/q-t3.gguf", test_tmpdir());
    char *argv1[] = {a0, in, o1, ty, ft, t1, NULL};
    char *argv3[] = {a0, ft, t3, in, o3, ty, NULL};
    char *argvb[] = {a0, in, o3, ty, ft, tb, NULL};
    fflush(stdout);
    ASSERT_EQ(cmd_model_quantize(6, argv1), 0);
    ASSERT_EQ(cmd_model_quantize(6, argv3), 0);
    ASSERT_EQ(cmd_model_quantize(6, argvb), 2);
    size_t n1 = 0, n3 = 0;
    char *b1 = test_read_file(o1, &n1), *b3 = test_read_file(o3, &n3);
    ASSERT(b1 && b3);
    ASSERT_EQ(n1, n3);
    ASSERT(memcmp(b1, b3, n1) == 0);
    rh_free(b1);
    rh_free(b3);
}

/* ---- activation formats and odd inputs --------------------------------------- */

TEST(quant_q8_activation_formats)
{
    const int64_t n = 1024;
    float *x = gaussian(n, 3);
    x[5] = -7.5f; /* the block maximum sits on the negative side */
    uint8_t *q = rh_malloc(rh_row_size(RH_TYPE_Q8_K, n));
    ASSERT(q != NULL);
    ASSERT_EQ(rh_quantize_row(RH_TYPE_Q8_K, x, q, n), rh_row_size(RH_TYPE_Q8_K, n));
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = q + b * 292;
        float d, amax = 0;
        memcpy(&d, blk, 4);
        for (int i = 0; i < 256; i++)
            amax = fmaxf(amax, fabsf(x[b * 256 + i]));
        ASSERT_NEAR(d, amax / 127.0f, 1e-7 * amax);
        const int8_t *qs = (const int8_t *)(blk + 4);
        for (int s = 0; s < 16; s++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) {
                ASSERT(qs[16 * s + i] >= -127);
                ASSERT(abs(qs[16 * s + i] - (int)lrintf(x[b * 256 + 16 * s + i] / d)) <= 1);
                sum += qs[16 * s + i];
            }
            int16_t bs;
            memcpy(&bs, blk + 260 + 2 * s, 2);
            ASSERT_EQ(bs, sum);
        }
    }
    ASSERT_EQ(((const int8_t *)(q + 4))[5], -127);
    rh_free(q);
    /* Q8_0: codes in [-127, 127], d the f16 of amax/127 */
    q = rh_malloc(rh_row_size(RH_TYPE_Q8_0, n));
    ASSERT(q != NULL);
    rh_quantize_row(RH_TYPE_Q8_0, x, q, n);
    ASSERT_EQ(((const int8_t *)(q + 2))[5], -127);
    for (int64_t b = 0; b < n / 32; b++) {
        const int8_t *qs = (const int8_t *)(q + b * 34 + 2);
        for (int i = 0; i < 32; i++)
            ASSERT(qs[i] >= -127);
    }
    /* Q8_1: s = d * sum(q) */
    rh_free(q);
    q = rh_malloc(rh_row_size(RH_TYPE_Q8_1, n));
    ASSERT(q != NULL);
    rh_quantize_row(RH_TYPE_Q8_1, x, q, n);
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *blk = q + b * 36;
        float d = rh_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8));
        float s = rh_fp16_to_fp32((uint16_t)(blk[2] | blk[3] << 8));
        int sum = 0;
        for (int i = 0; i < 32; i++)
            sum += ((const int8_t *)(blk + 4))[i];
        ASSERT_NEAR(s, d * (float)sum, fabs(d * (float)sum) * 1e-3 + 1e-6);
    }
    rh_free(q);
    rh_free(x);
}

/* Zeros stay zeros, constants stay close, and NaN, Inf, huge and tiny
 * inputs never crash (the sanitizer build checks for undefined behaviour). */
TEST(quant_odd_inputs)
{
    static const int types[] = {RH_TYPE_F16,  RH_TYPE_BF16, RH_TYPE_Q4_0, RH_TYPE_Q4_1,
                                RH_TYPE_Q5_0, RH_TYPE_Q5_1, RH_TYPE_Q8_0, RH_TYPE_Q8_1,
                                RH_TYPE_Q2_K, RH_TYPE_Q3_K, RH_TYPE_Q4_K, RH_TYPE_Q5_K,
                                RH_TYPE_Q6_K, RH_TYPE_Q8_K};
    enum { N = 512 };
    static float x[N], y[N];
    static uint8_t q[N * 4];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int type = types[t];
        const char *name = rh_type_get(type)->name;
        memset(x, 0, sizeof x);
        rh_quantize_row(type, x, q, N);
        rh_dequantize_row(type, q, y, N);
        for (int i = 0; i < N; i++)
            if (y[i] != 0)
                FAIL("%s: zero input gives %g at %d", name, (double)y[i], i);
        for (int i = 0; i < N; i++)
            x[i] = 0.75f;
        rh_quantize_row(type, x, q, N);
        rh_dequantize_row(type, q, y, N);
        for (int i = 0; i < N; i++)
            if (!(fabsf(y[i] - 0.75f) <= 0.75f * 0.02f))
                FAIL("%s: constant 0.75 gives %g at %d", name, (double)y[i], i);
        for (int i = 0; i < N; i++)
            x[i] = -1e-30f * (float)(i % 7);
        rh_quantize_row(type, x, q, N);
        rh_dequantize_row(type, q, y, N);
        for (int i = 0; i < N; i++)
            ASSERT(isfinite(y[i]) && fabsf(y[i]) < 1e-6f);
        for (int i = 0; i < N; i++)
            x[i] = (i % 3 == 0) ? 1e30f : (i % 3 == 1) ? -3.0f : 0.5f;
        x[7] = NAN;
        x[100] = INFINITY;
        x[300] = -INFINITY;
        rh_quantize_row(type, x, q, N);
        rh_dequantize_row(type, q, y, N);
    }
}
