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
    void *scratch; /* rh_pool_scratch: grown on demand, 64-byte aligned */
    size_t scratch_size;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

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
                cpu_relax();
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
    if (n_threads > 1) {
        p->workers = rh_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) {
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
            cpu_relax();
        } else {
            sched_yield();
            spins = 0;
        }
    }
}
