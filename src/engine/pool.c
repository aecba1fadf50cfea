/*
 * pool.c - the engine's thread pool: persistent workers that run one
 * function on every thread and return when all are done.
 *
 * A decode step calls the pool ~150 times, so a call must cost only a few
 * microseconds: workers spin on a generation counter for a while after
 * finishing (so the next call finds them awake), and only then sleep on a
 * futex. The caller takes part as thread 0 and spins until the workers have
 * finished their share.
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/alloc.h"
#include "engine/kernels.h"
#include "engine/ops.h"

/* How long an idle worker spins before it sleeps (iterations of a pause
 * loop, roughly 50-100 microseconds), and how long the caller spins before
 * it yields the CPU while waiting for the workers. */
#define POOL_SPIN_IDLE 20000
#define POOL_SPIN_WAIT 2000

/* A thread's range of work items for rh_pool_split: lo | hi << 32. */
typedef struct rh_pool_slot {
    _Alignas(64) atomic_ullong range;
} rh_pool_slot;

typedef struct pool_worker {
    struct rh_pool *pool;
    pthread_t thread;
    int ith;
} pool_worker;

struct rh_pool {
    int n;                              /* threads incl. the caller */
    pool_worker *workers;               /* n - 1 */
    void (*fn)(void *ctx, int ith, int nth);
    void *ctx;
    _Alignas(64) atomic_uint gen;       /* bumped once per rh_pool_run */
    _Alignas(64) atomic_int n_done;     /* workers finished with this gen */
    _Alignas(64) atomic_int n_sleeping; /* workers waiting on the futex */
    atomic_int stop;
    rh_pool_slot *slot; /* n: rh_pool_split ranges, one cache line each */
    void *scratch; /* rh_pool_scratch: grown on demand, 64-byte aligned */
    size_t scratch_size;
};

static void futex_wait(atomic_uint *addr, unsigned val)
{
    syscall(SYS_futex, (void *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(atomic_uint *addr)
{
    syscall(SYS_futex, (void *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void *worker_main(void *arg)
{
    pool_worker *w = arg;
    rh_pool *p = w->pool;
    unsigned seen = 0; /* gen at creation; a run may already have started */
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
            if (++spins < POOL_SPIN_IDLE) {
                rh_cpu_relax();
                /* let other runnable threads (e.g. more pool threads than
                 * cores) have the CPU now and then */
                if ((spins & 1023) == 0)
                    sched_yield();
                continue;
            }
            /* Dekker-style handshake with rh_pool_run: either the caller
             * sees n_sleeping > 0 and wakes us, or the futex sees the new
             * generation and returns at once. */
            atomic_fetch_add(&p->n_sleeping, 1);
            futex_wait(&p->gen, seen);
            atomic_fetch_sub(&p->n_sleeping, 1);
            spins = 0;
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            break;
        p->fn(p->ctx, w->ith, p->n);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
    return NULL;
}

rh_pool *rh_pool_new(int n_threads)
{
    if (n_threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = nc > 0 ? (int)nc : 1;
    }
    if (n_threads > 256)
        n_threads = 256;
    rh_pool *p = rh_malloc_aligned(64, sizeof *p);
    if (!p)
        return NULL;
    p->n = 1;
    p->fn = NULL;
    p->ctx = NULL;
    atomic_init(&p->gen, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->stop, 0);
    p->workers = NULL;
    p->scratch = NULL;
    p->scratch_size = 0;
    p->slot = rh_malloc_aligned(64, (size_t)n_threads * sizeof *p->slot);
    if (!p->slot) {
        rh_free_aligned(p);
        return NULL;
    }
    for (int i = 0; i < n_threads; i++)
        atomic_init(&p->slot[i].range, 0);
    if (n_threads > 1) {
        p->workers = rh_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) {
            rh_free_aligned(p->slot);
            rh_free_aligned(p);
            return NULL;
        }
        for (int i = 1; i < n_threads; i++) {
            pool_worker *w = &p->workers[i - 1];
            w->pool = p;
            w->ith = i;
            if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
                break; /* run with the threads we got */
            p->n = i + 1;
        }
    }
    return p;
}

void rh_pool_free(rh_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->gen, 1);
    futex_wake_all(&p->gen);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->workers[i - 1].thread, NULL);
    rh_free(p->workers);
    rh_free_aligned(p->scratch);
    rh_free_aligned(p->slot);
    rh_free_aligned(p);
}

void *rh_pool_scratch(rh_pool *p, size_t size)
{
    if (!p)
        return NULL;
    if (size <= p->scratch_size)
        return p->scratch;
    size_t want = size + size / 4 + 4096;
    void *n = rh_malloc_aligned(64, want);
    if (!n)
        return NULL;
    rh_free_aligned(p->scratch);
    p->scratch = n;
    p->scratch_size = want;
    return n;
}

int rh_pool_size(const rh_pool *p) { return p ? p->n : 1; }

void rh_pool_run(rh_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: publishes fn/ctx, pairs with n_sleeping */
    if (atomic_load(&p->n_sleeping) > 0)
        futex_wake_all(&p->gen);
    fn(ctx, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->n_done, memory_order_acquire) != p->n - 1) {
        if (++spins < POOL_SPIN_WAIT) {
            rh_cpu_relax();
        } else {
            sched_yield();
            spins = 0;
        }
    }
}

/* ---- work splitting --------------------------------------------------------
 *
 * Items are dealt out as one contiguous range per thread, so that each
 * thread streams its part of a weight matrix from memory in one sequential
 * run (the hardware prefetcher keeps up; with items handed out round-robin
 * from one counter, each thread's stream jumped at every item and two
 * threads reached ~80% of the read bandwidth of one range each). A thread
 * takes from the front of its own range, then from the back of the others'
 * (so a thread slowed down by other work on its core is helped at the end). */

void rh_pool_split(rh_pool *p, int64_t n_items)
{
    if (!p)
        return;
    uint64_t n = n_items > 0 ? (uint64_t)n_items : 0;
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    for (int i = 0; i < p->n; i++) {
        uint64_t lo = n * (uint64_t)i / (uint64_t)p->n;
        uint64_t hi = n * (uint64_t)(i + 1) / (uint64_t)p->n;
        atomic_store_explicit(&p->slot[i].range, lo | hi << 32, memory_order_relaxed);
    }
}

int64_t rh_pool_take(rh_pool *p, int ith)
{
    if (!p || ith < 0 || ith >= p->n)
        return -1;
    for (int k = 0; k < p->n; k++) {
        atomic_ullong *r = &p->slot[(ith + k) % p->n].range;
        unsigned long long v = atomic_load_explicit(r, memory_order_relaxed);
        for (;;) {
            uint64_t lo = v & UINT32_MAX, hi = v >> 32;
            if (lo >= hi)
                break;
            /* own range: from the front; another's: from the back */
            uint64_t nv = k == 0 ? (lo + 1) | hi << 32 : lo | (hi - 1) << 32;
            if (atomic_compare_exchange_weak_explicit(r, &v, nv, memory_order_relaxed,
                                                      memory_order_relaxed))
                return (int64_t)(k == 0 ? lo : hi - 1);
        }
    }
    return -1;
}
