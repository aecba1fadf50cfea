/*
 * runner.c - runs the registered tests, each in a forked child with a time
 * limit, and ends with the line "N passed, N failed, N skipped".
 *
 * Usage: rathaus-test [-v] [FILTER...]   (run tests whose name contains a FILTER)
 * Environment: RATHAUS_TESTDATA overrides the test data directory.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "test.h"

#define MAX_TESTS 4096
#define SKIP_EXIT 77

typedef struct {
    const char *name, *file;
    test_fn fn;
    int timeout;
} test_case;

static test_case tests[MAX_TESTS];
static int n_tests;
static char tmpdir_path[PATH_MAX];

void test_register(const char *name, const char *file, test_fn fn, int timeout_s)
{
    if (n_tests < MAX_TESTS)
        tests[n_tests++] = (test_case){name, file, fn, timeout_s};
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

void test_skip(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    skipped: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(SKIP_EXIT);
}

const char *test_data_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("RATHAUS_TESTDATA");
    snprintf(dir, sizeof dir, "%s", env && *env ? env : "../shared/testdata");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return dir;
}

const char *test_data_path(const char *rel)
{
    static char path[PATH_MAX];
    const char *dir = test_data_dir();
    if (!dir)
        SKIP("test data not found (../shared/testdata or $RATHAUS_TESTDATA)");
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return path;
}

const char *test_tmpdir(void)
{
    if (!tmpdir_path[0]) {
        snprintf(tmpdir_path, sizeof tmpdir_path, "/tmp/rathaus-test-XXXXXX");
        if (!mkdtemp(tmpdir_path))
            FAIL("mkdtemp: %s", strerror(errno));
    }
    return tmpdir_path;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = rh_malloc(cap + 1);
    for (;;) {
        if (!buf) {
            fclose(f);
            return NULL;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        cap *= 2;
        char *nb = rh_realloc(buf, cap + 1);
        if (!nb)
            rh_free(buf);
        buf = nb;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static int matches(const char *name, int nf, char **filters)
{
    if (nf == 0)
        return 1;
    for (int i = 0; i < nf; i++)
        if (strstr(name, filters[i]))
            return 1;
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int verbose = 0, nf = 0;
    char **filters = rh_malloc_array((size_t)argc, sizeof *filters);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else
            filters[nf++] = argv[i];
    }
    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < n_tests; i++) {
        test_case *t = &tests[i];
        if (!matches(t->name, nf, filters))
            continue;
        double t0 = now_ms();
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            tmpdir_path[0] = '\0';
            alarm((unsigned)t->timeout);
            t->fn();
            if (tmpdir_path[0])
                nftw(tmpdir_path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            _exit(0);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        double ms = now_ms() - t0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            passed++;
            if (verbose)
                printf("ok   %s (%.0f ms)\n", t->name, ms);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_EXIT) {
            skipped++;
            printf("skip %s\n", t->name);
        } else {
            failed++;
            if (WIFSIGNALED(status))
                printf("FAIL %s (%s) [%s]\n", t->name,
                       WTERMSIG(status) == SIGALRM ? "timeout" : strsignal(WTERMSIG(status)), t->file);
            else
                printf("FAIL %s [%s]\n", t->name, t->file);
        }
    }
    rh_free(filters);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
