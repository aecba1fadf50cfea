/*
 * matmul.c - rh_matmul and rh_get_row: choose the kernel set for the CPU,
 * quantize the activations once per call (in parallel), then let every
 * thread of the pool take chunks of weight rows and compute them against
 * all tokens with the set's tile kernel.
 *
 * Weight types without a kernel fall back to dequantizing each row to f32
 * (rh_dequantize_row) and an f32 dot product; if even the scratch memory
 * for that cannot be had, a block-by-block path that allocates nothing.
 */
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "engine/kernels.h"
#include "engine/ops.h"
#include "engine/quant.h"

/* ---- kernel selection ------------------------------------------------------ */

enum { KS_SCALAR, KS_AVX2, KS_AVX512, KS_COUNT };

static rh_kernel_set g_sets[KS_COUNT];
static int g_avail[KS_COUNT];
static _Atomic(const rh_kernel_set *) g_active;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int cpu_has_avx2(void)
{
#if defined(__x86_64__)
    /* F16C is read from CPUID leaf 1 (ECX bit 29): clang has no
     * __builtin_cpu_supports("f16c") */
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_F16C))
        return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int cpu_has_avx512(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

static int set_index(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "scalar") == 0)
        return KS_SCALAR;
    if (strcmp(name, "avx2") == 0)
        return KS_AVX2;
    if (strcmp(name, "avx512vnni") == 0 || strcmp(name, "avx512") == 0)
        return KS_AVX512;
    return -1;
}

static void init_sets(void)
{
    rh_kernels_scalar_init(&g_sets[KS_SCALAR]);
    g_avail[KS_SCALAR] = 1;
    int best = KS_SCALAR;
    if (cpu_has_avx2()) {
        g_sets[KS_AVX2] = g_sets[KS_SCALAR];
        rh_kernels_avx2_init(&g_sets[KS_AVX2]);
        g_avail[KS_AVX2] = 1;
        best = KS_AVX2;
        if (cpu_has_avx512()) {
            g_sets[KS_AVX512] = g_sets[KS_AVX2];
            rh_kernels_avx512_init(&g_sets[KS_AVX512]);
            g_avail[KS_AVX512] = 1;
            best = KS_AVX512;
        }
    }
    /* RATHAUS_KERNELS=scalar|avx2|avx512vnni: pin a set (debugging, benchmarks). */
    int forced = set_index(getenv("RATHAUS_KERNELS"));
    if (forced >= 0 && g_avail[forced])
        best = forced;
    atomic_store(&g_active, &g_sets[best]);
}

static const rh_kernel_set *kernels(void)
{
    pthread_once(&g_once, init_sets);
    return atomic_load_explicit(&g_active, memory_order_acquire);
}

const char *rh_ops_kernel_name(void) { return kernels()->name; }

int rh_ops_force_kernels(const char *name)
{
    pthread_once(&g_once, init_sets);
    int i = set_index(name);
    if (i < 0 || !g_avail[i])
        return -1;
    atomic_store(&g_active, &g_sets[i]);
    return 0;
}

/* ---- the product --------------------------------------------------------- */

typedef struct mm_job {
    const rh_kernel_set *ks;
    rh_mm_fn mm;       /* NULL: generic dequantize path */
    rh_mm_pp_fn mm_pp; /* many tokens: repacking kernel (with pp_scratch) */
    uint8_t *pp_scratch;
    size_t pp_size;    /* per thread */
    rh_act_quant_fn quant;
    int wtype;
    const uint8_t *W;
    size_t w_stride;
    int64_t rows, cols, n_tok;
    const float *x;
    float *y;
    uint8_t *abuf;     /* quantized activations, n_tok rows of a_stride */
    size_t a_stride;
    float *deq;        /* generic path: per thread one row of cols floats */
    int64_t chunk, n_chunks;
    rh_pool *pool; /* hands out the chunks (rh_pool_take) when nth > 1 */
} mm_job;

static void quant_task(void *ctx, int ith, int nth)
{
    mm_job *j = ctx;
    for (int64_t t = ith; t < j->n_tok; t += nth)
        j->quant(j->x + t * j->cols, j->abuf + (size_t)t * j->a_stride, j->cols);
}

/* Row r against all tokens, weights dequantized to f32 first. */
static void generic_row(mm_job *j, int64_t r, float *buf)
{
    const uint8_t *wr = j->W + (size_t)r * j->w_stride;
    rh_mm_fn f32 = j->ks->mm[RH_TYPE_F32];
    if (buf) {
        rh_dequantize_row(j->wtype, wr, buf, j->cols);
        f32(j->cols, buf, 0, 1, j->x, (size_t)j->cols * 4, (int)j->n_tok, j->y + r, j->rows);
        return;
    }
    /* No memory: one block at a time. */
    const rh_type_info *ti = rh_type_get(j->wtype);
    float blk[256];
    int64_t bl = ti->blck;
    for (int64_t t = 0; t < j->n_tok; t++)
        j->y[t * j->rows + r] = 0.0f;
    for (int64_t k = 0; k < j->cols; k += bl) {
        rh_dequantize_row(j->wtype, wr + (size_t)(k / bl) * ti->size, blk, bl);
        for (int64_t t = 0; t < j->n_tok; t++) {
            const float *x = j->x + t * j->cols + k;
            float acc = 0.0f;
            for (int64_t i = 0; i < bl; i++)
                acc += blk[i] * x[i];
            j->y[t * j->rows + r] += acc;
        }
    }
}

/* The next chunk for thread ith: its own contiguous range first (one
 * sequential stream per thread), then what is left of the others'; -1 when
 * all are done. Alone (nth == 1) the thread takes them in order. */
static int64_t next_chunk(rh_pool *pool, int ith, int nth, int64_t *seq, int64_t n_chunks)
{
    if (nth == 1)
        return *seq < n_chunks ? (*seq)++ : -1;
    return rh_pool_take(pool, ith);
}

static void compute_task(void *ctx, int ith, int nth)
{
    mm_job *j = ctx;
    float *buf = j->deq ? j->deq + (size_t)ith * (size_t)j->cols : NULL;
    const void *act = j->abuf ? (const void *)j->abuf : (const void *)j->x;
    int64_t seq = 0, c;
    while ((c = next_chunk(j->pool, ith, nth, &seq, j->n_chunks)) >= 0) {
        int64_t r0 = c * j->chunk;
        int64_t nr = j->rows - r0 < j->chunk ? j->rows - r0 : j->chunk;
        if (j->mm_pp) {
            j->mm_pp(j->cols, j->W + (size_t)r0 * j->w_stride, j->w_stride, (int)nr, act,
                     j->a_stride, (int)j->n_tok, j->y + r0, j->rows,
                     j->pp_scratch + (size_t)ith * j->pp_size);
        } else if (j->mm) {
            j->mm(j->cols, j->W + (size_t)r0 * j->w_stride, j->w_stride, (int)nr, act,
                  j->a_stride, (int)j->n_tok, j->y + r0, j->rows);
        } else {
            for (int64_t r = r0; r < r0 + nr; r++)
                generic_row(j, r, buf);
        }
    }
}

/* Chunk size for `rows` rows split among nth threads (a multiple of 8, so
 * that tile boundaries, and with them the results, never depend on it). */
static int64_t chunk_rows(int64_t rows, int nth, int64_t n_tok)
{
    /* Work items: 8-16 per thread for balance (the last ones decide when
     * all threads are done), fewer rows when many tokens share each row (so
     * that a chunk's weights stay in cache). */
    int64_t target = (int64_t)nth * (n_tok == 1 ? 16 : 8);
    int64_t chunk = (rows + target - 1) / target;
    chunk = (chunk + 7) & ~(int64_t)7;
    if (n_tok > 1 && chunk > 64)
        chunk = 64;
    if (chunk < 8)
        chunk = 8;
    return chunk;
}

void rh_matmul(rh_pool *pool, int wtype, const void *W, int64_t rows, int64_t cols,
               const float *x, int64_t n_tok, float *y)
{
    if (rows <= 0 || n_tok <= 0)
        return;
    const rh_type_info *ti = rh_type_get(wtype);
    size_t w_stride = rh_row_size(wtype, cols);
    if (!ti || !ti->can_dequant || w_stride == 0) {
        /* The loader validates types; an unknown one yields zeros, not a crash. */
        memset(y, 0, (size_t)(rows * n_tok) * sizeof *y);
        return;
    }
    const rh_kernel_set *ks = kernels();
    int nth = rh_pool_size(pool);
    mm_job j = {0};
    j.ks = ks;
    j.wtype = wtype;
    j.W = W;
    j.w_stride = w_stride;
    j.rows = rows;
    j.cols = cols;
    j.n_tok = n_tok;
    j.x = x;
    j.y = y;
    j.pool = pool;

    int act = rh_act_kind(wtype);
    j.mm = act != RH_ACT_NONE ? ks->mm[wtype] : NULL;
    if (act == RH_ACT_Q8 || act == RH_ACT_Q8K)
        j.quant = ks->quant[act];
    if (j.mm && !j.quant && act != RH_ACT_F32)
        j.mm = NULL;

    void *own = NULL, *scratch = NULL;
    size_t need = 0;
    if (j.mm && act == RH_ACT_F32) {
        j.a_stride = (size_t)cols * 4;
    } else if (j.mm) {
        j.a_stride = rh_act_row_size(act, cols);
        need = j.a_stride * (size_t)n_tok;
        int pp_min = ks->pp_min[wtype] ? ks->pp_min[wtype] : RH_PP_MIN_TOK;
        if (n_tok >= pp_min && ks->mm_pp[wtype]) {
            j.mm_pp = ks->mm_pp[wtype];
            j.pp_size = (rh_pp_scratch_size(cols, n_tok) + 63) & ~(size_t)63;
            need += j.pp_size * (size_t)nth;
        }
    } else {
        need = (size_t)nth * (size_t)cols * 4;
    }
    if (need) {
        scratch = rh_pool_scratch(pool, need);
        if (!scratch && !pool)
            scratch = own = rh_malloc_aligned(64, need);
        if (!scratch) {
            j.mm = NULL; /* no memory: block-by-block generic path */
            j.mm_pp = NULL;
        } else if (j.mm) {
            j.abuf = scratch;
            if (j.mm_pp)
                j.pp_scratch = (uint8_t *)scratch + j.a_stride * (size_t)n_tok;
        } else
            j.deq = scratch;
    }

    j.chunk = chunk_rows(rows, nth, n_tok);
    j.n_chunks = (rows + j.chunk - 1) / j.chunk;

    if (j.abuf) {
        if (n_tok == 1 || nth == 1)
            quant_task(&j, 0, 1);
        else
            rh_pool_run(pool, quant_task, &j);
    }
    if (nth == 1 || j.n_chunks == 1) {
        compute_task(&j, 0, 1);
    } else {
        rh_pool_split(pool, j.n_chunks);
        rh_pool_run(pool, compute_task, &j);
    }
    if (own)
        rh_free_aligned(own);
}

/* ---- several matrices, one input ------------------------------------------- */

#define MULTI_MAX 4

typedef struct multi_job {
    int n;
    rh_mm_fn mm[MULTI_MAX];
    const uint8_t *W[MULTI_MAX];
    size_t w_stride[MULTI_MAX];
    int64_t rows[MULTI_MAX];
    float *y[MULTI_MAX];
    int64_t first[MULTI_MAX + 1]; /* first chunk of each matrix; first[n] = total */
    int64_t chunk, cols, n_tok;
    int glu; /* matrices 0 and 1 (same rows), then y0 = silu(y0) * y1 */
    atomic_int arrived; /* glu: threads done with their products */
    const void *act;
    size_t a_stride;
    rh_pool *pool;
} multi_job;

static void multi_task(void *ctx, int ith, int nth)
{
    multi_job *j = ctx;
    int64_t seq = 0, c;
    while ((c = next_chunk(j->pool, ith, nth, &seq, j->first[j->n])) >= 0) {
        int m = 0;
        while (c >= j->first[m + 1])
            m++;
        int64_t r0 = (c - j->first[m]) * j->chunk;
        int64_t nr = j->rows[m] - r0 < j->chunk ? j->rows[m] - r0 : j->chunk;
        j->mm[m](j->cols, j->W[m] + (size_t)r0 * j->w_stride[m], j->w_stride[m], (int)nr, j->act,
                 j->a_stride, (int)j->n_tok, j->y[m] + r0, j->rows[m]);
    }
    if (!j->glu)
        return;
    /* SwiGLU once all rows of both products are there: every thread of
     * the run waits for the others (they are all in this task), then takes
     * its share of the rows */
    atomic_fetch_add_explicit(&j->arrived, 1, memory_order_acq_rel);
    while (atomic_load_explicit(&j->arrived, memory_order_acquire) < nth)
        rh_cpu_relax();
    int64_t rows = j->rows[0], r0 = rows * ith / nth, r1 = rows * (ith + 1) / nth;
    for (int64_t t = 0; t < j->n_tok; t++)
        rh_silu_mul(j->y[0] + t * rows + r0, j->y[1] + t * rows + r0, r1 - r0);
}

void rh_silu_mul(float *g, const float *u, int64_t n)
{
    kernels()->silu_mul(g, u, n);
}

static void matmul_multi(rh_pool *pool, const rh_mm_item *items, int n_items, int64_t cols,
                         const float *x, int64_t n_tok, int glu);

void rh_matmul_multi(rh_pool *pool, const rh_mm_item *items, int n_items, int64_t cols,
                     const float *x, int64_t n_tok)
{
    matmul_multi(pool, items, n_items, cols, x, n_tok, 0);
}

void rh_matmul_glu(rh_pool *pool, const rh_mm_item *gate, const rh_mm_item *up, int64_t cols,
                   const float *x, int64_t n_tok)
{
    rh_mm_item it[2] = {*gate, *up};
    if (gate->rows != up->rows) {
        memset(gate->y, 0, (size_t)(gate->rows * n_tok) * sizeof(float));
        return;
    }
    matmul_multi(pool, it, 2, cols, x, n_tok, 1);
}

static void matmul_multi(rh_pool *pool, const rh_mm_item *items, int n_items, int64_t cols,
                         const float *x, int64_t n_tok, int glu)
{
    if (n_items <= 0 || n_tok <= 0)
        return;
    const rh_kernel_set *ks = kernels();
    int nth = rh_pool_size(pool);
    int act = rh_act_kind(items[0].wtype);
    /* One pass only when all matrices take the same activations through a
     * tile kernel and no repacking prompt kernel would be chosen. */
    int ok = n_items <= MULTI_MAX && act != RH_ACT_NONE &&
             (act == RH_ACT_F32 || ks->quant[act] != NULL);
    int64_t total_rows = 0;
    for (int i = 0; ok && i < n_items; i++) {
        int wt = items[i].wtype;
        const rh_type_info *ti = rh_type_get(wt);
        int pp_min = ks->pp_min[wt] ? ks->pp_min[wt] : RH_PP_MIN_TOK;
        if (!ti || !ti->can_dequant || rh_act_kind(wt) != act || !ks->mm[wt] ||
            rh_row_size(wt, cols) == 0 || items[i].rows <= 0 ||
            (n_tok >= pp_min && ks->mm_pp[wt]))
            ok = 0;
        else
            total_rows += items[i].rows;
    }
    multi_job j;
    uint8_t *abuf = NULL;
    if (ok && act != RH_ACT_F32) {
        j.a_stride = rh_act_row_size(act, cols);
        abuf = rh_pool_scratch(pool, j.a_stride * (size_t)n_tok);
        ok = abuf != NULL;
    }
    if (!ok) {
        for (int i = 0; i < n_items; i++)
            rh_matmul(pool, items[i].wtype, items[i].W, items[i].rows, cols, x, n_tok,
                      items[i].y);
        if (glu)
            rh_silu_mul(items[0].y, items[1].y, items[0].rows * n_tok);
        return;
    }
    if (act == RH_ACT_F32) {
        j.a_stride = (size_t)cols * 4;
        j.act = x;
    } else {
        mm_job q = {0};
        q.quant = ks->quant[act];
        q.x = x;
        q.cols = cols;
        q.n_tok = n_tok;
        q.abuf = abuf;
        q.a_stride = j.a_stride;
        if (n_tok == 1 || nth == 1)
            quant_task(&q, 0, 1);
        else
            rh_pool_run(pool, quant_task, &q);
        j.act = abuf;
    }
    /* glu: the gate's chunks, then the up's, so that with contiguous ranges
     * each thread streams whole stretches of one matrix (taking gate and up
     * rows chunk by chunk in turn was ~5% slower from DRAM) */
    j.n = n_items;
    j.glu = glu;
    atomic_init(&j.arrived, 0);
    j.cols = cols;
    j.n_tok = n_tok;
    j.chunk = chunk_rows(total_rows, nth, n_tok);
    j.first[0] = 0;
    for (int i = 0; i < n_items; i++) {
        j.mm[i] = ks->mm[items[i].wtype];
        j.W[i] = items[i].W;
        j.w_stride[i] = rh_row_size(items[i].wtype, cols);
        j.rows[i] = items[i].rows;
        j.y[i] = items[i].y;
        j.first[i + 1] = j.first[i] + (items[i].rows + j.chunk - 1) / j.chunk;
    }
    j.pool = pool;
    if (nth == 1 || j.first[j.n] == 1) {
        multi_task(&j, 0, 1);
    } else {
        rh_pool_split(pool, j.first[j.n]);
        rh_pool_run(pool, multi_task, &j);
    }
}

/* ---- memory bandwidth ------------------------------------------------------ */

typedef struct bw_job {
    const uint8_t *buf;
    size_t bytes;
    rh_read_fn read;
    rh_read_fn read_pf;
    int pf;
    _Alignas(64) atomic_ullong sink;
} bw_job;

static void bw_task(void *ctx, int ith, int nth)
{
    bw_job *j = ctx;
    size_t per = (j->bytes / (size_t)nth) & ~(size_t)255;
    rh_read_fn rd = j->pf ? j->read_pf : j->read;
    atomic_fetch_xor_explicit(&j->sink, rd(j->buf + per * (size_t)ith, per),
                              memory_order_relaxed);
}

static double bw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double rh_mem_read_bandwidth_buf(rh_pool *pool, const void *buf, size_t bytes, int reps,
                                  int modes)
{
    int nth = rh_pool_size(pool);
    bytes &= ~((size_t)256 * (size_t)nth - 1);
    if (!buf || bytes == 0)
        return 0.0;
    bw_job j = {.buf = buf, .bytes = bytes, .read = kernels()->read,
                .read_pf = kernels()->read_pf};
    atomic_init(&j.sink, 0);
    double best = 0.0;
    /* each rep reads plainly and, if the kernels prefetch, with their
     * prefetch: the better is what the memory can deliver */
    if (!j.read_pf || (modes & 3) == 0)
        modes = 1;
    for (int r = 0; r < (reps > 0 ? reps : 1) * 2; r++) {
        j.pf = r & 1;
        if (!(modes & (1 << j.pf)))
            continue;
        double t0 = bw_now();
        rh_pool_run(pool, bw_task, &j);
        double t = bw_now() - t0;
        size_t per = (bytes / (size_t)nth) & ~(size_t)255;
        if (t > 0 && (double)(per * (size_t)nth) / t > best)
            best = (double)(per * (size_t)nth) / t;
    }
    return best;
}

double rh_mem_read_bandwidth(rh_pool *pool, size_t bytes, int reps)
{
    uint8_t *buf = rh_malloc_aligned(64, bytes ? bytes : 1);
    if (!buf)
        return 0.0;
    memset(buf, 0x5a, bytes); /* fault the pages in */
    double bw = rh_mem_read_bandwidth_buf(pool, buf, bytes, reps, 3);
    rh_free_aligned(buf);
    return bw;
}

void rh_get_row(int wtype, const void *W, int64_t cols, int64_t r, float *out)
{
    size_t rs = rh_row_size(wtype, cols);
    const uint8_t *row = (const uint8_t *)W + (size_t)r * rs;
    if (rs == 0)
        return;
    if (wtype == RH_TYPE_F32) {
        memcpy(out, row, (size_t)cols * 4);
    } else if (wtype == RH_TYPE_F16) {
        for (int64_t i = 0; i < cols; i++)
            out[i] = rh_k_fp16(rh_k_rd16(row + 2 * i));
    } else {
        rh_dequantize_row(wtype, row, out, cols);
    }
}
