/* test_core.c - tests of the core module: allocation wrapper, buffers, arena. */
#include <stdint.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "test.h"

TEST(core_alloc_fail_injection)
{
    rh_alloc_fail_after(1);
    void *a = rh_malloc(10);
    void *b = rh_malloc(10);
    rh_alloc_fail_reset();
    void *c = rh_malloc(10);
    ASSERT(a != NULL);
    ASSERT(b == NULL);
    ASSERT(c != NULL);
    rh_free(a);
    rh_free(c);
}

TEST(core_alloc_array_overflow)
{
    ASSERT(rh_malloc_array(SIZE_MAX / 2, 4) == NULL);
    void *p = rh_malloc_array(4, 4);
    ASSERT(p != NULL);
    ASSERT(rh_realloc_array(p, SIZE_MAX / 8, 16) == NULL);
    rh_free(p);
}

TEST(core_buf_limit)
{
    rh_buf b;
    rh_buf_init(&b, 8);
    ASSERT_EQ(rh_buf_appends(&b, "abc"), RH_OK);
    ASSERT_EQ(rh_buf_appendf(&b, "%d", 12345), RH_OK);
    ASSERT_STREQ(b.data, "abc12345");
    ASSERT_EQ(rh_buf_appends(&b, "x"), RH_ELIMIT);
    ASSERT_STREQ(b.data, "abc12345");
    ASSERT_EQ(b.len, 8);
    rh_buf_free(&b);
}

TEST(core_buf_oom)
{
    rh_buf b;
    rh_buf_init(&b, 1000);
    rh_alloc_fail_after(0);
    int rc = rh_buf_appends(&b, "abc");
    rh_alloc_fail_reset();
    ASSERT_EQ(rc, RH_ENOMEM);
    ASSERT_EQ(b.len, 0);
    rh_buf_free(&b);
}

TEST(core_arena)
{
    rh_arena a;
    rh_arena_init(&a, 100000);
    char *s = rh_arena_strndup(&a, "hello world", 5);
    ASSERT_STREQ(s, "hello");
    ASSERT(((uintptr_t)rh_arena_alloc(&a, 3) & 15) == 0);
    ASSERT(rh_arena_alloc(&a, 50000) != NULL);
    ASSERT(rh_arena_alloc(&a, 60000) == NULL); /* over max */
    rh_arena_free(&a);
}

TEST(core_error_set)
{
    rh_error e;
    ASSERT_EQ(rh_error_set(&e, RH_EFORMAT, "bad %s", "file"), RH_EFORMAT);
    ASSERT_STREQ(e.msg, "bad file");
    ASSERT_EQ(rh_error_set(NULL, RH_EIO, "x"), RH_EIO);
}
