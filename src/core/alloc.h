/*
 * alloc.h - the single allocation wrapper.
 *
 * All heap memory in rathaus goes through these functions (never plain
 * malloc), so that tests can make the Nth allocation fail and check that
 * every error path cleans up (SQLite's and redis' approach).
 *
 * Sizes are checked for overflow: rh_malloc_array(n, size) fails instead of
 * wrapping. rh_free(NULL) is a no-op.
 */
#ifndef RH_CORE_ALLOC_H
#define RH_CORE_ALLOC_H

#include <stddef.h>

void *rh_malloc(size_t size);
void *rh_calloc(size_t n, size_t size);
void *rh_realloc(void *p, size_t size);
void *rh_malloc_array(size_t n, size_t size);          /* overflow-checked */
void *rh_realloc_array(void *p, size_t n, size_t size); /* overflow-checked */
void rh_free(void *p);
char *rh_strdup(const char *s);
char *rh_strndup(const char *s, size_t n);

/* Aligned allocation (alignment a power of two, >= sizeof(void*)); free with
 * rh_free_aligned. */
void *rh_malloc_aligned(size_t align, size_t size);
void rh_free_aligned(void *p);

/* Fault injection for tests: after `n` more successful allocations, every
 * further allocation fails (returns NULL) until rh_alloc_fail_reset().
 * n < 0 disables injection. Thread-safe. */
void rh_alloc_fail_after(long n);
void rh_alloc_fail_reset(void);

/* Number of allocations attempted since start (for tests that walk N). */
long rh_alloc_count(void);

#endif
