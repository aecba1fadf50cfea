/* alloc.c - the allocation wrapper with fault injection (see alloc.h). */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_long alloc_countdown = -1; /* <0: injection off */
static atomic_long alloc_total = 0;

/* Returns 1 when this allocation must fail. */
static int alloc_should_fail(void)
{
    atomic_fetch_add_explicit(&alloc_total, 1, memory_order_relaxed);
    long c = atomic_load_explicit(&alloc_countdown, memory_order_relaxed);
    if (c < 0)
        return 0;
    while (c > 0) {
        if (atomic_compare_exchange_weak(&alloc_countdown, &c, c - 1))
            return 0;
        if (c < 0)
            return 0;
    }
    return 1;
}

void rh_alloc_fail_after(long n) { atomic_store(&alloc_countdown, n < 0 ? -1 : n); }
void rh_alloc_fail_reset(void) { atomic_store(&alloc_countdown, -1); }
long rh_alloc_count(void) { return atomic_load(&alloc_total); }

void *rh_malloc(size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *rh_calloc(size_t n, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *rh_realloc(void *p, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return realloc(p, size ? size : 1);
}

void *rh_malloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return rh_malloc(n * size);
}

void *rh_realloc_array(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return rh_realloc(p, n * size);
}

void rh_free(void *p) { free(p); }

char *rh_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = rh_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *rh_strdup(const char *s) { return rh_strndup(s, SIZE_MAX - 1); }

void *rh_malloc_aligned(size_t align, size_t size)
{
    void *p = NULL;
    if (alloc_should_fail())
        return NULL;
    if (posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    return p;
}

void rh_free_aligned(void *p) { free(p); }
