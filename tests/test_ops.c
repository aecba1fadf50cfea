/*
 * test_ops.c - tests of the thread pool and of rh_matmul / rh_get_row for
 * every weight type and every kernel set the CPU has.
 *
 * Reference: weights dequantized by rh_dequantize_row (quant.c, itself tested
 * against reference data) times the activations, in double. Two checks per
 * output: (1) against the reference with the f32 activations, within a bound
 * for the activation quantization; (2) against the reference with the
 * activations as the kernels quantize them, within float rounding - this one
 * catches any layout or scale mistake.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "core/alloc.h"
#include "engine/kernels.h"
#include "engine/ops.h"
#include "engine/quant.h"
#include "test.h"

/* ---- pool ------------------------------------------------------------------ */

typedef struct {
    atomic_int hits[16];
    int nth_seen;
    atomic_int bad;
} pool_probe;

static void probe_fn(void *ctx, int ith, int nth)
{
    pool_probe *p = ctx;
    if (ith < 0 || ith >= 16 || nth != p->nth_seen)
        atomic_fetch_add(&p->bad, 1);
    else
        atomic_fetch_add(&p->hits[ith], 1);
}

TEST(ops_pool_every_thread_once)
{
    for (int n = 1; n <= 4; n++) {
        rh_pool *p = rh_pool_new(n);
        ASSERT(p != NULL);
        ASSERT_EQ(rh_pool_size(p), n);
        pool_probe pr;
        memset(&pr, 0, sizeof pr);
        pr.nth_seen = n;
        int calls = 4000 / n;
        for (int c = 0; c < calls; c++) {
            rh_pool_run(p, probe_fn, &pr);
            /* after each return, every thread has run exactly c+1 times */
            if (c % 97 == 0)
                for (int i = 0; i < n; i++)
                    ASSERT_EQ(atomic_load(&pr.hits[i]), c + 1);
        }
        ASSERT_EQ(atomic_load(&pr.bad), 0);
        for (int i = 0; i < n; i++)
            ASSERT_EQ(atomic_load(&pr.hits[i]), calls);
        rh_pool_free(p);
    }
}

typedef struct {
    atomic_long next;
    long n;
    atomic_int *seen;
} pool_items;

static void items_fn(void *ctx, int ith, int nth)
{
    pool_items *it = ctx;
    (void)ith;
    (void)nth;
    for (;;) {
        long i = atomic_fetch_add(&it->next, 1);
        if (i >= it->n)
            break;
        atomic_fetch_add(&it->seen[i], 1);
    }
}

static void empty_fn(void *ctx, int ith, int nth)
{
    (void)ctx;
    (void)ith;
    (void)nth;
}

/* Informational: the cost of one rh_pool_run with 2 threads. */
TEST(ops_pool_latency)
{
    rh_pool *p = rh_pool_new(2);
    ASSERT(p != NULL);
    struct timespec t0, t1;
    int n = 20000;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++)
        rh_pool_run(p, empty_fn, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / n;
    if (getenv("RATHAUS_TEST_VERBOSE"))
        fprintf(stderr, "    rh_pool_run, 2 threads: %.2f us per call\n", us);
    rh_pool_free(p);
}

/* Work items handed out inside a task are each processed exactly once, also
 * after the workers went to sleep between calls. */
TEST(ops_pool_items_and_sleep)
{
    rh_pool *p = rh_pool_new(3);
    ASSERT(p != NULL);
    pool_items it;
    it.n = 1000;
    it.seen = rh_calloc((size_t)it.n, sizeof *it.seen);
    ASSERT(it.seen != NULL);
    for (int round = 0; round < 200; round++) {
        atomic_store(&it.next, 0);
        rh_pool_run(p, items_fn, &it);
        if (round % 50 == 49) {
            struct timespec ts = {0, 5 * 1000 * 1000}; /* let the workers sleep */
            nanosleep(&ts, NULL);
        }
    }
    for (long i = 0; i < it.n; i++)
        ASSERT_EQ(atomic_load(&it.seen[i]), 200);
    rh_free(it.seen);
    rh_pool_free(p);
    rh_pool_free(NULL);
    /* n <= 0: one per core */
    p = rh_pool_new(0);
    ASSERT(p != NULL);
    ASSERT(rh_pool_size(p) >= 1);
    rh_pool_free(p);
}

/* rh_pool_split / rh_pool_take: every item exactly once, whatever the
 * number of items against threads; a slow thread's range is finished by
 * the others from its back end; thread 0 starts at the front of its range. */
typedef struct {
    rh_pool *p;
    atomic_int *seen;
    atomic_int first[4];
    atomic_int count[4];
    int slow;
} split_items;

static void split_fn(void *ctx, int ith, int nth)
{
    split_items *s = ctx;
    (void)nth;
    int64_t i;
    int k = 0;
    while ((i = rh_pool_take(s->p, ith)) >= 0) {
        if (k++ == 0)
            atomic_store(&s->first[ith], (int)i);
        atomic_fetch_add(&s->seen[i], 1);
        atomic_fetch_add(&s->count[ith], 1);
        if (s->slow && ith == 1) {
            struct timespec ts = {0, 200 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

TEST(ops_pool_split_every_item_once)
{
    rh_pool *p = rh_pool_new(3);
    ASSERT(p != NULL);
    ASSERT_EQ(rh_pool_size(p), 3);
    static const int64_t sizes[] = {0, 1, 2, 3, 7, 64, 1000};
    split_items s = {.p = p};
    s.seen = rh_calloc(1000, sizeof *s.seen);
    ASSERT(s.seen != NULL);
    for (int slow = 0; slow < 2; slow++)
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            int64_t n = sizes[z];
            for (int i = 0; i < 1000; i++)
                atomic_store(&s.seen[i], 0);
            s.slow = slow;
            for (int t = 0; t < 4; t++) {
                atomic_store(&s.first[t], -1);
                atomic_store(&s.count[t], 0);
            }
            rh_pool_split(p, n);
            rh_pool_run(p, split_fn, &s);
            for (int64_t i = 0; i < 1000; i++)
                ASSERT_EQ(atomic_load(&s.seen[i]), i < n ? 1 : 0);
            if (n >= 3)
                ASSERT_EQ(atomic_load(&s.first[0]), 0);
            /* slow thread 1 (0.2 ms per item): the others took over most
             * of its third */
            if (slow && n == 1000)
                ASSERT(atomic_load(&s.count[1]) < 200);
        }
    ASSERT(rh_pool_take(p, 0) == -1);
    ASSERT(rh_pool_take(p, 7) == -1);
    ASSERT(rh_pool_take(NULL, 0) == -1);
    rh_free(s.seen);
    rh_pool_free(p);
}

/* ---- matmul ---------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static float rng_uniform(void) { return (float)((rng_next() >> 40) * (1.0 / 16777216.0)); }

static float rng_gauss(void)
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++)
        s += rng_uniform();
    return (s - 2.0f) * 1.7320508f;
}

static void put16(uint8_t *p, float v)
{
    uint16_t h = rh_fp32_to_fp16(v);
    memcpy(p, &h, 2);
}

/* Random weight matrix of `type`: random quant bits, sane random scales. */
static uint8_t *random_weights(int type, int64_t rows, int64_t cols, size_t *rs)
{
    const rh_type_info *ti = rh_type_get(type);
    *rs = rh_row_size(type, cols);
    size_t total = *rs * (size_t)rows;
    uint8_t *w = rh_malloc(total);
    if (!w)
        return NULL;
    if (type == RH_TYPE_F32) {
        for (size_t i = 0; i < total / 4; i++) {
            float v = rng_gauss() * 0.05f;
            memcpy(w + 4 * i, &v, 4);
        }
        return w;
    }
    if (type == RH_TYPE_F16 || type == RH_TYPE_BF16) {
        for (size_t i = 0; i < total / 2; i++) {
            float v = rng_gauss() * 0.05f;
            uint16_t h = type == RH_TYPE_F16 ? rh_fp32_to_fp16(v) : rh_fp32_to_bf16(v);
            memcpy(w + 2 * i, &h, 2);
        }
        return w;
    }
    for (size_t i = 0; i < total; i++)
        w[i] = (uint8_t)rng_next();
    size_t nblk = total / ti->size;
    for (size_t b = 0; b < nblk; b++) {
        uint8_t *blk = w + b * ti->size;
        float d = (0.002f + 0.01f * rng_uniform()) * (rng_next() & 1 ? 1.0f : -1.0f);
        float m = 0.01f * rng_gauss();
        switch (type) {
        case RH_TYPE_Q4_1:
        case RH_TYPE_Q5_1:
            put16(blk, d);
            put16(blk + 2, m);
            break;
        case RH_TYPE_Q4_K:
        case RH_TYPE_Q5_K:
        case RH_TYPE_Q2_K:
            put16(blk, fabsf(d) * 0.1f);
            put16(blk + 2, fabsf(m) * 0.1f);
            if (type == RH_TYPE_Q2_K) {
                put16(blk + ti->size - 4, fabsf(d) * 0.1f);
                put16(blk + ti->size - 2, fabsf(m) * 0.1f);
            }
            break;
        case RH_TYPE_Q6_K:
        case RH_TYPE_Q3_K:
            put16(blk + ti->size - 2, d * 0.01f);
            break;
        case RH_TYPE_Q8_K: {
            float f = d * 0.1f;
            memcpy(blk, &f, 4);
            break;
        }
        case RH_TYPE_Q8_1:
            put16(blk, d);
            put16(blk + 2, m);
            break;
        default: /* Q4_0, Q5_0, Q8_0: d first */
            put16(blk, d);
            break;
        }
    }
    return w;
}

/* The activations as the kernels see them (scalar quantizer), dequantized. */
static void quantized_acts(int type, const float *x, float *xq, int64_t cols)
{
    rh_kernel_set ks;
    rh_kernels_scalar_init(&ks);
    int act = rh_act_kind(type);
    if (act != RH_ACT_Q8 && act != RH_ACT_Q8K) {
        memcpy(xq, x, (size_t)cols * 4);
        return;
    }
    size_t sz = rh_act_row_size(act, cols);
    void *buf = rh_malloc_aligned(64, sz);
    ASSERT(buf != NULL);
    ks.quant[act](x, buf, cols);
    const int8_t *qs = buf;
    for (int64_t i = 0; i < cols; i++) {
        float d = act == RH_ACT_Q8 ? rh_act_q8_d(buf, cols)[i / 32] : rh_act_q8k_d(buf, cols)[i / 256];
        xq[i] = d * qs[i];
    }
    rh_free_aligned(buf);
}

static const int all_types[] = {RH_TYPE_F32,  RH_TYPE_F16,  RH_TYPE_BF16, RH_TYPE_Q4_0,
                                RH_TYPE_Q4_1, RH_TYPE_Q5_0, RH_TYPE_Q5_1, RH_TYPE_Q8_0,
                                RH_TYPE_Q2_K, RH_TYPE_Q3_K, RH_TYPE_Q4_K, RH_TYPE_Q5_K,
                                RH_TYPE_Q6_K};
static const char *const all_sets[] = {"scalar", "avx2", "avx512vnni"};

typedef struct {
    double max_rel_q;  /* worst error vs the quantized-activation reference */
    double max_rel_f;  /* worst error vs the f32 reference */
} err_stats;

/* One matmul case against both references; returns via ASSERTs. */
static void check_case(rh_pool *pool, int type, int64_t rows, int64_t cols, int64_t n_tok,
                       err_stats *st)
{
    size_t rs;
    uint8_t *w = random_weights(type, rows, cols, &rs);
    float *x = rh_malloc_array((size_t)(n_tok * cols), sizeof *x);
    float *xq = rh_malloc_array((size_t)(n_tok * cols), sizeof *xq);
    float *wd = rh_malloc_array((size_t)(rows * cols), sizeof *wd);
    float *y = rh_malloc_array((size_t)(n_tok * rows), sizeof *y);
    ASSERT(w && x && xq && wd && y);
    for (int64_t i = 0; i < n_tok * cols; i++)
        x[i] = rng_gauss() * (i % 7 == 0 ? 3.0f : 1.0f);
    for (int64_t t = 0; t < n_tok; t++)
        quantized_acts(type, x + t * cols, xq + t * cols, cols);
    for (int64_t r = 0; r < rows; r++)
        rh_dequantize_row(type, w + (size_t)r * rs, wd + r * cols, cols);
    for (size_t i = 0; i < (size_t)(n_tok * rows); i++)
        y[i] = NAN;
    rh_matmul(pool, type, w, rows, cols, x, n_tok, y);
    for (int64_t t = 0; t < n_tok; t++) {
        for (int64_t r = 0; r < rows; r++) {
            const float *wr = wd + r * cols, *xt = x + t * cols, *xqt = xq + t * cols;
            double ref = 0, refq = 0, absq = 0, nw = 0, nx = 0;
            for (int64_t k = 0; k < cols; k++) {
                ref += (double)wr[k] * xt[k];
                refq += (double)wr[k] * xqt[k];
                absq += fabs((double)wr[k] * xqt[k]);
                nw += (double)wr[k] * wr[k];
                nx += (double)xt[k] * xt[k];
            }
            double got = y[t * rows + r], norm = sqrt(nw * nx);
            if (!(fabs(got - refq) <= 2e-5 * absq + 1e-30))
                FAIL("%s: row %lld tok %lld (rows %lld cols %lld n_tok %lld, %s): got %.9g, "
                     "quantized-activation reference %.9g",
                     rh_type_get(type)->name, (long long)r, (long long)t, (long long)rows,
                     (long long)cols, (long long)n_tok, rh_ops_kernel_name(), got, refq);
            if (!(fabs(got - ref) <= 1e-2 * norm))
                FAIL("%s: row %lld tok %lld: got %.9g, f32 reference %.9g (norms %.3g)",
                     rh_type_get(type)->name, (long long)r, (long long)t, got, ref, norm);
            if (absq > 0 && fabs(got - refq) / absq > st->max_rel_q)
                st->max_rel_q = fabs(got - refq) / absq;
            if (norm > 0 && fabs(got - ref) / norm > st->max_rel_f)
                st->max_rel_f = fabs(got - ref) / norm;
        }
    }
    rh_free(w);
    rh_free(x);
    rh_free(xq);
    rh_free(wd);
    rh_free(y);
}

TEST_TIMEOUT(ops_matmul_all_types_all_kernels, 240)
{
    rh_pool *pool = rh_pool_new(2);
    ASSERT(pool != NULL);
    int n_sets = 0;
    for (size_t s = 0; s < sizeof all_sets / sizeof all_sets[0]; s++) {
        if (rh_ops_force_kernels(all_sets[s]) != 0) {
            fprintf(stderr, "    (kernel set %s not available on this CPU)\n", all_sets[s]);
            continue;
        }
        n_sets++;
        ASSERT_STREQ(rh_ops_kernel_name(), all_sets[s]);
        for (size_t ti = 0; ti < sizeof all_types / sizeof all_types[0]; ti++) {
            int type = all_types[ti];
            err_stats st = {0, 0};
            static const int64_t cols_list[] = {256, 768, 4096};
            for (int64_t n_tok = 1; n_tok <= 9; n_tok++) {
                int64_t cols = cols_list[n_tok % 3];
                if (cols % rh_type_get(type)->blck)
                    cols = 256;
                int64_t rows = 1 + 2 * (n_tok * 7 % 23);
                check_case(n_tok % 2 ? pool : NULL, type, rows, cols, n_tok, &st);
            }
            check_case(pool, type, 67, 512, 33, &st); /* several token tiles */
            if (type == RH_TYPE_Q4_K) /* rows longer than the generation kernel's buffer */
                check_case(pool, type, 3, 16640, 1, &st);
            if (rh_type_get(type)->blck == 32) { /* odd block counts: the kernels' tails */
                check_case(pool, type, 5, 800, 1, &st);
                check_case(NULL, type, 6, 32 * 37, 3, &st);
            }
            if (getenv("RATHAUS_TEST_VERBOSE"))
                fprintf(stderr, "    %-10s %-5s max err: %.2e of sum|w*xq|, %.2e of |w||x|\n",
                        all_sets[s], rh_type_get(type)->name, st.max_rel_q, st.max_rel_f);
        }
    }
    ASSERT(n_sets >= 1);
    rh_ops_force_kernels("scalar");
    rh_pool_free(pool);
}

/* Scalar and SIMD kernels give (nearly) the same numbers. */
TEST(ops_matmul_kernels_agree)
{
    static const int types[] = {RH_TYPE_F32, RH_TYPE_F16, RH_TYPE_Q8_0, RH_TYPE_Q4_0,
                                RH_TYPE_Q4_1, RH_TYPE_Q5_0, RH_TYPE_Q5_1, RH_TYPE_Q4_K,
                                RH_TYPE_Q5_K, RH_TYPE_Q6_K};
    int64_t rows = 45, cols = 2048, n_tok = 6;
    float *x = rh_malloc_array((size_t)(n_tok * cols), sizeof *x);
    float *y0 = rh_malloc_array((size_t)(n_tok * rows), sizeof *y0);
    float *y1 = rh_malloc_array((size_t)(n_tok * rows), sizeof *y1);
    ASSERT(x && y0 && y1);
    for (int64_t i = 0; i < n_tok * cols; i++)
        x[i] = rng_gauss();
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        size_t rs;
        uint8_t *w = random_weights(types[ti], rows, cols, &rs);
        ASSERT(w != NULL);
        ASSERT_EQ(rh_ops_force_kernels("scalar"), 0);
        rh_matmul(NULL, types[ti], w, rows, cols, x, n_tok, y0);
        for (size_t s = 1; s < sizeof all_sets / sizeof all_sets[0]; s++) {
            if (rh_ops_force_kernels(all_sets[s]) != 0)
                continue;
            rh_matmul(NULL, types[ti], w, rows, cols, x, n_tok, y1);
            double maxabs = 0;
            for (int64_t i = 0; i < n_tok * rows; i++)
                maxabs = fmax(maxabs, fabs(y0[i]));
            for (int64_t i = 0; i < n_tok * rows; i++)
                if (!(fabs(y0[i] - y1[i]) <= 1e-4 * maxabs))
                    FAIL("%s %s: y[%lld] %.9g vs scalar %.9g", all_sets[s],
                         rh_type_get(types[ti])->name, (long long)i, y1[i], y0[i]);
        }
        rh_free(w);
    }
    rh_ops_force_kernels("scalar");
    rh_free(x);
    rh_free(y0);
    rh_free(y1);
}

/* Threaded and single-threaded results are bit-identical (rows are split,
 * never the sum inside a row). */
TEST(ops_matmul_threads_identical)
{
    int64_t rows = 301, cols = 1024, n_tok = 5;
    rh_pool *pool = rh_pool_new(3);
    ASSERT(pool != NULL);
    float *x = rh_malloc_array((size_t)(n_tok * cols), sizeof *x);
    float *y0 = rh_malloc_array((size_t)(n_tok * rows), sizeof *y0);
    float *y1 = rh_malloc_array((size_t)(n_tok * rows), sizeof *y1);
    ASSERT(x && y0 && y1);
    for (int64_t i = 0; i < n_tok * cols; i++)
        x[i] = rng_gauss();
    static const int types[] = {RH_TYPE_Q8_0, RH_TYPE_Q4_K, RH_TYPE_Q6_K, RH_TYPE_F16,
                                RH_TYPE_Q3_K};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        size_t rs;
        uint8_t *w = random_weights(types[ti], rows, cols, &rs);
        ASSERT(w != NULL);
        for (int64_t nt = 1; nt <= n_tok; nt += 4) {
            rh_matmul(NULL, types[ti], w, rows, cols, x, nt, y0);
            for (int rep = 0; rep < 50; rep++) {
                rh_matmul(pool, types[ti], w, rows, cols, x, nt, y1);
                ASSERT(memcmp(y0, y1, (size_t)(nt * rows) * sizeof *y0) == 0);
            }
        }
        rh_free(w);
    }
    rh_free(x);
    rh_free(y0);
    rh_free(y1);
    rh_pool_free(pool);
}

/* rh_matmul_multi (Q/K/V, gate/up in one pass) writes exactly what separate
 * rh_matmul calls write, also with mixed types of one activation kind and
 * with types it must hand back to rh_matmul. */
TEST(ops_matmul_multi_identical)
{
    int64_t cols = 1024, n_tok = 9, rows[3] = {301, 64, 72};
    rh_pool *pool = rh_pool_new(2);
    ASSERT(pool != NULL);
    float *x = rh_malloc_array((size_t)(n_tok * cols), sizeof *x);
    float *y0 = rh_malloc_array((size_t)(n_tok * 437), sizeof *y0);
    float *y1 = rh_malloc_array((size_t)(n_tok * 437), sizeof *y1);
    ASSERT(x && y0 && y1);
    for (int64_t i = 0; i < n_tok * cols; i++)
        x[i] = rng_gauss();
    static const int mixes[][3] = {{RH_TYPE_Q8_0, RH_TYPE_Q8_0, RH_TYPE_Q8_0},
                                   {RH_TYPE_Q4_K, RH_TYPE_Q4_K, RH_TYPE_Q6_K},
                                   {RH_TYPE_Q4_0, RH_TYPE_Q4_K, RH_TYPE_F16},
                                   {RH_TYPE_F16, RH_TYPE_F32, RH_TYPE_F16},
                                   {RH_TYPE_Q3_K, RH_TYPE_Q4_K, RH_TYPE_Q6_K}};
    for (size_t mi = 0; mi < sizeof mixes / sizeof mixes[0]; mi++) {
        uint8_t *w[3];
        size_t rs;
        for (int i = 0; i < 3; i++) {
            w[i] = random_weights(mixes[mi][i], rows[i], cols, &rs);
            ASSERT(w[i] != NULL);
        }
        for (int64_t nt = 1; nt <= n_tok; nt += 8) {
            rh_mm_item it[3];
            int64_t off = 0;
            for (int i = 0; i < 3; i++) {
                rh_matmul(pool, mixes[mi][i], w[i], rows[i], cols, x, nt, y0 + off);
                it[i] = (rh_mm_item){mixes[mi][i], w[i], rows[i], y1 + off};
                off += rows[i] * nt;
            }
            memset(y1, 0, (size_t)off * sizeof *y1);
            rh_matmul_multi(pool, it, 3, cols, x, nt);
            ASSERT(memcmp(y0, y1, (size_t)off * sizeof *y0) == 0);
        }
        for (int i = 0; i < 3; i++)
            rh_free(w[i]);
    }
    rh_free(x);
    rh_free(y0);
    rh_free(y1);
    rh_pool_free(pool);
}

/* silu(g) * u of every kernel set against double precision, over the
 * whole float range SwiGLU meets (and beyond, where e^-g over- or
 * underflows); any length, so the sets' vector tails count too. */
TEST(ops_silu_mul_all_kernels)
{
    enum { N = 1003 };
    float g[N], u[N], r[N];
    for (int i = 0; i < N; i++) {
        g[i] = i < 6 ? (float[]){-1e4f, -120.0f, -88.5f, 0.0f, 90.0f, 1e4f}[i] : rng_gauss() * 12.0f;
        u[i] = rng_gauss();
    }
    for (size_t s = 0; s < sizeof all_sets / sizeof all_sets[0]; s++) {
        if (rh_ops_force_kernels(all_sets[s]) != 0)
            continue;
        for (int n = N - 7; n <= N; n += 7) {
            memcpy(r, g, sizeof g);
            rh_silu_mul(r, u, n);
            for (int i = 0; i < n; i++) {
                double want = (double)g[i] / (1.0 + exp(-(double)g[i])) * (double)u[i];
                if (!(fabs(r[i] - want) <= 1e-6 * fabs(want) + 1e-30))
                    FAIL("%s: silu(%g) * %g = %g, want %g", all_sets[s], (double)g[i],
                         (double)u[i], (double)r[i], want);
            }
        }
    }
    rh_ops_force_kernels("scalar");
}

/* rh_matmul_glu = two rh_matmul calls and rh_silu_mul, bit for bit. */
TEST(ops_matmul_glu_identical)
{
    int64_t rows = 203, cols = 512, n_tok = 5;
    rh_pool *pool = rh_pool_new(2);
    ASSERT(pool != NULL);
    float *x = rh_malloc_array((size_t)(n_tok * cols), sizeof *x);
    float *g0 = rh_malloc_array((size_t)(n_tok * rows), sizeof *g0);
    float *u0 = rh_malloc_array((size_t)(n_tok * rows), sizeof *u0);
    float *g1 = rh_malloc_array((size_t)(n_tok * rows), sizeof *g1);
    float *u1 = rh_malloc_array((size_t)(n_tok * rows), sizeof *u1);
    ASSERT(x && g0 && u0 && g1 && u1);
    for (int64_t i = 0; i < n_tok * cols; i++)
        x[i] = rng_gauss();
    static const int mixes[][2] = {{RH_TYPE_Q8_0, RH_TYPE_Q8_0}, {RH_TYPE_Q4_K, RH_TYPE_Q6_K},
                                   {RH_TYPE_Q4_K, RH_TYPE_Q8_0}};
    for (size_t mi = 0; mi < sizeof mixes / sizeof mixes[0]; mi++) {
        size_t rs;
        uint8_t *wg = random_weights(mixes[mi][0], rows, cols, &rs);
        uint8_t *wu = random_weights(mixes[mi][1], rows, cols, &rs);
        ASSERT(wg && wu);
        for (int64_t nt = 1; nt <= n_tok; nt += 4) {
            rh_matmul(pool, mixes[mi][0], wg, rows, cols, x, nt, g0);
            rh_matmul(pool, mixes[mi][1], wu, rows, cols, x, nt, u0);
            rh_silu_mul(g0, u0, rows * nt);
            rh_mm_item g = {mixes[mi][0], wg, rows, g1}, u = {mixes[mi][1], wu, rows, u1};
            rh_matmul_glu(pool, &g, &u, cols, x, nt);
            ASSERT(memcmp(g0, g1, (size_t)(nt * rows) * sizeof *g0) == 0);
            /* not a no-op: silu changed the values */
            ASSERT(memcmp(g0, u0, (size_t)(nt * rows) * sizeof *g0) != 0);
        }
        rh_free(wg);
        rh_free(wu);
    }
    rh_free(x);
    rh_free(g0);
    rh_free(u0);
    rh_free(g1);
    rh_free(u1);
    rh_pool_free(pool);
}

/* One token alone gives the same bits as the same token inside a batch
 * for the K-quant types, below the batch size from which the repacked prompt
 * kernels take over (AVX-512: Q8_0 8, Q4_K 16, Q6_K 32; Q5_K never): each
 * (row, token) sum is formed the same way for any number of tokens. (For
 * the active kernel set.) */
static void single_equals_batched(void)
{
    int64_t rows = 37, max_tok = 24;
    float *x = rh_malloc_array((size_t)(max_tok * 2304), sizeof *x);
    float *yb = rh_malloc_array((size_t)(max_tok * rows), sizeof *yb);
    float *y1 = rh_malloc_array((size_t)rows, sizeof *y1);
    ASSERT(x && yb && y1);
    for (int64_t i = 0; i < max_tok * 2304; i++)
        x[i] = rng_gauss();
    static const struct {
        int type, n_tok[3];
    } cases[] = {{RH_TYPE_Q8_0, {6, 0, 0}},
                 {RH_TYPE_Q4_K, {6, 13, 0}},
                 {RH_TYPE_Q5_K, {6, 13, 24}},
                 {RH_TYPE_Q6_K, {6, 13, 24}}};
    for (size_t ti = 0; ti < sizeof cases / sizeof cases[0]; ti++) {
        int type = cases[ti].type;
        size_t rs;
        /* odd block counts, so the kernels' trailing blocks count too:
         * 65 blocks of 32, 9 of 256 */
        int64_t c = type == RH_TYPE_Q8_0 ? 2080 : 2304;
        uint8_t *w = random_weights(type, rows, c, &rs);
        ASSERT(w != NULL);
        for (int k = 0; k < 3 && cases[ti].n_tok[k]; k++) {
            int64_t n_tok = cases[ti].n_tok[k];
            rh_matmul(NULL, type, w, rows, c, x, n_tok, yb);
            for (int64_t t = 0; t < n_tok; t++) {
                rh_matmul(NULL, type, w, rows, c, x + t * c, 1, y1);
                if (memcmp(y1, yb + t * rows, (size_t)rows * sizeof *y1) != 0)
                    FAIL("%s, type %d: token %lld alone differs from it in a batch of %lld",
                         rh_ops_kernel_name(), type, (long long)t, (long long)n_tok);
            }
        }
        rh_free(w);
    }
    rh_free(x);
    rh_free(yb);
    rh_free(y1);
}

/* ... for every kernel set the CPU has */
TEST(ops_matmul_single_equals_batched)
{
    for (size_t s = 0; s < sizeof all_sets / sizeof all_sets[0]; s++) {
        if (rh_ops_force_kernels(all_sets[s]) != 0)
            continue;
        single_equals_batched();
    }
}

/* Without memory for scratch buffers the product is still right. */
TEST(ops_matmul_no_memory)
{
    int64_t rows = 19, cols = 512, n_tok = 3;
    float *x = rh_malloc_array((size_t)(n_tok * cols), sizeof *x);
    float *y0 = rh_malloc_array((size_t)(n_tok * rows), sizeof *y0);
    float *y1 = rh_malloc_array((size_t)(n_tok * rows), sizeof *y1);
    ASSERT(x && y0 && y1);
    for (int64_t i = 0; i < n_tok * cols; i++)
        x[i] = rng_gauss();
    size_t rs;
    uint8_t *w = random_weights(RH_TYPE_Q4_K, rows, cols, &rs);
    ASSERT(w != NULL);
    float *wd = rh_malloc_array((size_t)cols, sizeof *wd);
    ASSERT(wd != NULL);
    rh_alloc_fail_after(0);
    rh_matmul(NULL, RH_TYPE_Q4_K, w, rows, cols, x, n_tok, y1);
    rh_alloc_fail_reset();
    for (int64_t r = 0; r < rows; r++) {
        rh_dequantize_row(RH_TYPE_Q4_K, w + (size_t)r * rs, wd, cols);
        for (int64_t t = 0; t < n_tok; t++) {
            double ref = 0, ab = 0;
            for (int64_t k = 0; k < cols; k++) {
                ref += (double)wd[k] * x[t * cols + k];
                ab += fabs((double)wd[k] * x[t * cols + k]);
            }
            ASSERT_NEAR(y1[t * rows + r], ref, 1e-5 * ab);
        }
    }
    rh_free(wd);
    rh_free(w);
    rh_free(x);
    rh_free(y0);
    rh_free(y1);
}

TEST(ops_get_row)
{
    static const int types[] = {RH_TYPE_F32, RH_TYPE_F16, RH_TYPE_Q8_0, RH_TYPE_Q4_K,
                                RH_TYPE_Q6_K, RH_TYPE_BF16};
    int64_t rows = 7, cols = 512;
    float a[512], b[512];
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        size_t rs;
        uint8_t *w = random_weights(types[ti], rows, cols, &rs);
        ASSERT(w != NULL);
        for (int64_t r = 0; r < rows; r++) {
            rh_get_row(types[ti], w, cols, r, a);
            rh_dequantize_row(types[ti], w + (size_t)r * rs, b, cols);
            ASSERT(memcmp(a, b, sizeof a) == 0);
        }
        rh_free(w);
    }
}

/* Every kernel set quantizes activations to exactly the same bytes. */
TEST(ops_act_quant_identical)
{
    rh_kernel_set sets[3];
    int n_sets = 1;
    rh_kernels_scalar_init(&sets[0]);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")) {
        sets[n_sets] = sets[0];
        rh_kernels_avx2_init(&sets[n_sets++]);
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vnni")) {
            sets[n_sets] = sets[1];
            rh_kernels_avx512_init(&sets[n_sets++]);
        }
    }
#endif
    int64_t n = 4096;
    float *x = rh_malloc_array((size_t)n, sizeof *x);
    ASSERT(x != NULL);
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_gauss() * (i % 300 == 0 ? 20.0f : 1.0f);
    for (int i = 0; i < 64; i++) /* an all-zero block and exact halves */
        x[256 + i] = 0.0f;
    x[600] = 127.0f;
    x[601] = 0.5f;
    for (int kind = RH_ACT_Q8; kind <= RH_ACT_Q8K; kind++) {
        size_t sz = rh_act_row_size(kind, n);
        uint8_t *ref = rh_malloc_aligned(64, sz), *got = rh_malloc_aligned(64, sz);
        ASSERT(ref && got);
        memset(ref, 0, sz);
        sets[0].quant[kind](x, ref, n);
        for (int s = 1; s < n_sets; s++) {
            memset(got, 0, sz);
            sets[s].quant[kind](x, got, n);
            for (size_t i = 0; i < sz; i++)
                if (ref[i] != got[i])
                    FAIL("%s: activation layout %d differs from scalar at byte %zu", sets[s].name,
                         kind, i);
        }
        rh_free_aligned(ref);
        rh_free_aligned(got);
    }
    rh_free(x);
}

/* `rathaus model synth` writes models the engine loads and runs, with the
 * requested shape and types (tiny test shapes; the real ones take seconds). */
#include "cli/cli.h"
#include "engine/gguf.h"
#include "engine/model.h"

static void synth_and_run(const char *shape, const char *type, int n_embd, int n_vocab,
                          int expect_main, int expect_out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/m.gguf", test_tmpdir());
    char *argv[] = {"synth", "--shape", (char *)shape, "--type", (char *)type, "-t", "2", path};
    ASSERT_EQ(cmd_model_synth(8, argv), 0);
    gguf_file *f = NULL;
    rh_error err;
    ASSERT_EQ(gguf_open(path, &f, &err), RH_OK);
    const gguf_tensor *t = gguf_find_tensor(f, "blk.0.attn_q.weight");
    ASSERT(t != NULL);
    ASSERT_EQ(t->type, expect_main);
    ASSERT_EQ(t->ne[0], n_embd);
    const gguf_tensor *o = gguf_find_tensor(f, "output.weight");
    if (!o)
        o = gguf_find_tensor(f, "token_embd.weight");
    ASSERT(o != NULL);
    ASSERT_EQ(o->type, expect_out);
    ASSERT_EQ(o->ne[1], n_vocab);
    ASSERT(gguf_find_tensor(f, "blk.1.ffn_down.weight") != NULL);
    ASSERT(gguf_find_tensor(f, "output_norm.weight") != NULL);
    gguf_close(f);

    rh_model *m = NULL;
    if (rh_model_load(path, &m, &err) != RH_OK)
        FAIL("cannot load the synthesized model: %s", err.msg);
    const rh_model_info *mi = rh_model_get_info(m);
    ASSERT_EQ(mi->n_embd, n_embd);
    ASSERT_EQ(mi->n_vocab, n_vocab);
    rh_pool *pool = rh_pool_new(2);
    rh_ctx *c = NULL;
    ASSERT_EQ(rh_ctx_new(m, 64, 1, pool, &c, &err), RH_OK);
    int32_t tok[20], pos[20], seq[20];
    uint8_t want[20];
    for (int i = 0; i < 20; i++) {
        tok[i] = 3 + (i * 37) % (n_vocab - 3);
        pos[i] = i;
        seq[i] = 0;
        want[i] = i == 19;
    }
    float *logits = rh_malloc_array((size_t)n_vocab, sizeof *logits);
    ASSERT(logits != NULL);
    rh_batch b = {.n = 20, .tok = tok, .pos = pos, .seq = seq, .logits = want};
    ASSERT_EQ(rh_decode(c, &b, logits, &err), RH_OK);
    for (int i = 0; i < n_vocab; i++)
        ASSERT(isfinite(logits[i]));
    rh_free(logits);
    rh_ctx_free(c);
    rh_pool_free(pool);
    rh_model_free(m);
}

TEST(ops_synth_models_load_and_run)
{
    synth_and_run("test-llama", "q4_k_m", 256, 512, RH_TYPE_Q4_K, RH_TYPE_Q6_K);
    synth_and_run("test-llama", "q8_0", 256, 512, RH_TYPE_Q8_0, RH_TYPE_Q8_0);
    /* 320 is not a multiple of 256: K-quants fall back (Q4_K -> Q5_0, Q6_K -> Q8_0) */
    synth_and_run("test-qwen2", "q4_k_m", 320, 600, RH_TYPE_Q5_0, RH_TYPE_Q8_0);
    char *bad[] = {"synth", "--shape", "nope", "--type", "q8_0", "x.gguf"};
    ASSERT_EQ(cmd_model_synth(6, bad), 2);
}
