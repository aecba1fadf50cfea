/*
 * ops.h - compute primitives of the engine: thread pool and matrix products.
 *
 * rh_matmul is the hot path: y = W·x for a weight matrix W stored in any
 * supported rh_type and a batch of activation rows x (f32). For quantized W
 * the activations are quantized on the fly (to Q8_0 or Q8_K blocks) and the
 * product runs on integer dot products; the best kernel for the CPU (AVX-512
 * VNNI, AVX2, scalar) is chosen once at run time.
 *
 * Layout: W has `rows` rows of `cols` values each (GGUF ne[0] = cols,
 * ne[1] = rows); x is n_tok rows of cols floats; y is n_tok rows of `rows`
 * floats: y[t*rows + r] = sum_k W[r,k] * x[t*cols + k].
 */
#ifndef RH_ENGINE_OPS_H
#define RH_ENGINE_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rh_pool rh_pool;

/* n_threads <= 0: one per core. NULL on failure. */
rh_pool *rh_pool_new(int n_threads);
void rh_pool_free(rh_pool *p);
int rh_pool_size(const rh_pool *p);
/* Run fn(ctx, ith, nth) on every thread of the pool (the caller is thread 0)
 * and return when all are done. Not reentrant. */
void rh_pool_run(rh_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);

/* Work items for the next rh_pool_run: rh_pool_split(p, n) deals items
 * 0..n-1 out as one contiguous range per thread; inside the run, thread ith
 * calls rh_pool_take(p, ith) until it returns -1 (its own range front to
 * back, then the back of the others'). Every item is taken exactly once. */
void rh_pool_split(rh_pool *p, int64_t n_items);
int64_t rh_pool_take(rh_pool *p, int ith);

/* Name of the kernel set chosen for this CPU: "avx512vnni", "avx2", "scalar". */
const char *rh_ops_kernel_name(void);
/* Force a kernel set (tests compare them); returns 0 if available. */
int rh_ops_force_kernels(const char *name);

/* y = W·x (see above). `pool` may be NULL (single-threaded). */
void rh_matmul(rh_pool *pool, int wtype, const void *W, int64_t rows, int64_t cols,
               const float *x, int64_t n_tok, float *y);

/* Several products with the same input x (n_tok rows of cols floats), e.g.
 * the Q, K and V projections: the activations are quantized once and all
 * rows of all matrices are shared out in one pool run. Each y is exactly
 * what rh_matmul would write (same kernels, same per-row arithmetic). */
typedef struct rh_mm_item {
    int wtype;
    const void *W;
    int64_t rows;
    float *y; /* n_tok rows of `rows` floats */
} rh_mm_item;
void rh_matmul_multi(rh_pool *pool, const rh_mm_item *items, int n_items, int64_t cols,
                     const float *x, int64_t n_tok);

/* SwiGLU feed-forward input: gate->y = silu(gate . x) * (up . x), the
 * two products and the activation in one pass (each work item computes its
 * rows of both and applies silu(g)*u to them). gate and up must have the
 * same rows (else gate->y is zeroed); up->y is scratch of the same size. */
void rh_matmul_glu(rh_pool *pool, const rh_mm_item *gate, const rh_mm_item *up, int64_t cols,
                   const float *x, int64_t n_tok);
/* g[i] = silu(g[i]) * u[i] = g / (1 + exp(-g)) * u, as rh_matmul_glu does it. */
void rh_silu_mul(float *g, const float *u, int64_t n);

/* Row r of a matrix of any type, dequantized to f32 (embedding lookup). */
void rh_get_row(int wtype, const void *W, int64_t cols, int64_t r, float *out);

/* Memory read bandwidth in bytes/s: every thread of `pool` streams its part
 * of a `bytes`-sized buffer (make it much larger than the caches), best of
 * `reps` runs, with the same instruction set as the kernels. 0 if the buffer
 * cannot be allocated. */
double rh_mem_read_bandwidth(rh_pool *pool, size_t bytes, int reps);
/* The same over a caller's buffer (64-byte aligned, pages already touched),
 * for repeated samples without allocating. modes: 1 plain reads, 2 reads
 * with the kernels' software prefetch, 3 both (the better counts). */
double rh_mem_read_bandwidth_buf(rh_pool *pool, const void *buf, size_t bytes, int reps,
                                  int modes);

#endif
