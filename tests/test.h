/*
 * test.h - the test framework: TEST(name) registers a test, ASSERT_* check.
 *
 * Each test runs in a forked child with a time limit, so a crash or hang is
 * reported as that test's failure and the rest still run. SKIP("why") ends a
 * test as skipped (e.g. when ../shared/testdata is absent).
 *
 *     TEST(buf_append) {
 *         rh_buf b; rh_buf_init(&b, 10);
 *         ASSERT_EQ(rh_buf_appends(&b, "hi"), RH_OK);
 *         ASSERT_STREQ(b.data, "hi");
 *         rh_buf_free(&b);
 *     }
 */
#ifndef RH_TEST_H
#define RH_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn, int timeout_s);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Directory of the shared test data, or NULL if absent (then SKIP). */
const char *test_data_dir(void);
/* Path "<testdata>/<rel>" in a static buffer; skips the test if testdata is absent. */
const char *test_data_path(const char *rel);
/* A fresh empty temporary directory for this test (removed afterwards). */
const char *test_tmpdir(void);
/* Read a whole file (rh_malloc'ed, NUL-terminated); NULL if unreadable. */
char *test_read_file(const char *path, size_t *len);

#define TEST_TIMEOUT(name, secs)                                               \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void test_reg_##name(void)             \
    {                                                                          \
        test_register(#name, __FILE__, test_##name, secs);                     \
    }                                                                          \
    static void test_##name(void)

#define TEST(name) TEST_TIMEOUT(name, 60)

#define FAIL(...) test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) test_skip(__VA_ARGS__)

#define ASSERT(c)                                                              \
    do {                                                                       \
        if (!(c))                                                              \
            FAIL("assertion failed: %s", #c);                                  \
    } while (0)

#define ASSERT_EQ(a, b)                                                        \
    do {                                                                       \
        long long _a = (long long)(a), _b = (long long)(b);                    \
        if (_a != _b)                                                          \
            FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);                    \
    } while (0)

#define ASSERT_NE(a, b)                                                        \
    do {                                                                       \
        long long _a = (long long)(a), _b = (long long)(b);                    \
        if (_a == _b)                                                          \
            FAIL("%s != %s: both %lld", #a, #b, _a);                           \
    } while (0)

#define ASSERT_STREQ(a, b)                                                     \
    do {                                                                       \
        const char *_a = (a), *_b = (b);                                       \
        if (!_a || !_b || strcmp(_a, _b) != 0)                                 \
            FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",     \
                 _b ? _b : "(null)");                                          \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                 \
    do {                                                                       \
        double _a = (double)(a), _b = (double)(b);                             \
        if (!(fabs(_a - _b) <= (tol)))                                         \
            FAIL("%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, _a, _b,             \
                 (double)(tol));                                               \
    } while (0)

#endif
