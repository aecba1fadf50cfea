/*
 * arena.h - a region allocator: many small allocations, one free.
 *
 * A request (HTTP, inference) gets an arena and frees it at its end, so no
 * per-object bookkeeping is needed on request paths. Blocks come from
 * rh_malloc; `max` bounds the total so a hostile request cannot grow it
 * without limit. Allocations are 16-byte aligned.
 */
#ifndef RH_CORE_ARENA_H
#define RH_CORE_ARENA_H

#include <stddef.h>

typedef struct rh_arena_block rh_arena_block;

typedef struct rh_arena {
    rh_arena_block *head;
    size_t used_total;
    size_t max;
} rh_arena;

void rh_arena_init(rh_arena *a, size_t max);
void *rh_arena_alloc(rh_arena *a, size_t size); /* NULL on limit or OOM */
void *rh_arena_calloc(rh_arena *a, size_t n, size_t size);
char *rh_arena_strndup(rh_arena *a, const char *s, size_t n);
void rh_arena_free(rh_arena *a);

#endif
