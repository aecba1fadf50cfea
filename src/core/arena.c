/* arena.c - region allocator (see arena.h). */
#include "core/arena.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

#define ARENA_BLOCK_MIN (16 * 1024)

struct rh_arena_block {
    rh_arena_block *next;
    size_t cap;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void rh_arena_init(rh_arena *a, size_t max)
{
    a->head = NULL;
    a->used_total = 0;
    a->max = max;
}

void *rh_arena_alloc(rh_arena *a, size_t size)
{
    if (size > SIZE_MAX - 15)
        return NULL;
    size = (size + 15) & ~(size_t)15;
    if (size > a->max || a->used_total > a->max - size)
        return NULL;
    rh_arena_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK_MIN ? size : ARENA_BLOCK_MIN;
        b = rh_malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->used_total += size;
    return p;
}

void *rh_arena_calloc(rh_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = rh_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *rh_arena_strndup(rh_arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = rh_arena_alloc(a, len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void rh_arena_free(rh_arena *a)
{
    rh_arena_block *b = a->head;
    while (b) {
        rh_arena_block *n = b->next;
        rh_free(b);
        b = n;
    }
    a->head = NULL;
    a->used_total = 0;
}
