/*
 * test_e2e.c - runs the end-to-end tests in tests/e2e/ (Node scripts that
 * start the real server binary $RATHAUS_BIN on loopback ports and talk to it
 * with the official `openai` client, playwright-core + Debian's chromium,
 * and plain HTTP), one script per TEST, so the runner's closing line counts
 * them. A script exits 0 (passed), 77 (skipped: no node, no node_modules,
 * no chromium, no test data) or anything else (failed). Each script runs in
 * its own process group, which is ended when the script ends or runs over
 * its time, so no server or browser outlives a test.
 *
 * ui_node_tests runs the web UI's own tests (tests/ui/NAME.test.mjs - Markdown
 * renderer, event-stream parser, i18n/CSP/contrast checks and the browser
 * tests against the mock server) with `node --test`; they need no npm
 * modules and work on Node 18 (Debian 12) and later.
 */
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define E2E_SKIP 77

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* First directory of $PATH holding an executable `name`; 1 if found. */
static int find_in_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < 3000) {
            snprintf(out, cap, "%.*s/%s", (int)n, path, name);
            if (is_executable(out))
                return 1;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_node(char *const argv[], const char *what, int limit_s);

/* Runs `node tests/e2e/<script>` with at most `limit_s` seconds; passes,
 * skips or fails the current test according to its exit status. */
static void run_script(const char *script, int limit_s, int needs_modules, int needs_chromium)
{
    char node[4096], dir[] = "tests/e2e", path[256], mods[256];
    const char *bin = getenv("RATHAUS_BIN");
    if (!bin || !*bin)
        SKIP("RATHAUS_BIN is not set (make test sets it to the built server binary)");
    if (!is_executable(bin))
        SKIP("RATHAUS_BIN=%s is not an executable file", bin);
    if (!find_in_path("node", node, sizeof node) && !find_in_path("nodejs", node, sizeof node))
        SKIP("node is not installed (apt-get install nodejs npm; scripts/packages-e2e.txt)");
    snprintf(path, sizeof path, "%s/%s", dir, script);
    if (access(path, R_OK) != 0)
        SKIP("%s not found (run the tests from the project root)", path);
    snprintf(mods, sizeof mods, "%s/node_modules/.package-lock.json", dir);
    if (needs_modules && access(mods, R_OK) != 0)
        SKIP("the e2e node modules are not installed (cd tests/e2e && npm ci --no-audit --no-fund)");
    if (needs_chromium && !is_executable("/usr/bin/chromium"))
        SKIP("/usr/bin/chromium is not installed (apt-get install chromium)");
    /* the scripts that need models skip themselves when the test data is absent */

    char *argv[] = {node, path, NULL};
    run_node(argv, script, limit_s);
}

/* Runs `node ARGV...` (argv[0] is the node binary, NULL-terminated) in a
 * process group of its own with at most `limit_s` seconds; passes, skips
 * (exit 77) or fails the current test according to its exit status. */
static void run_node(char *const argv[], const char *what, int limit_s)
{
    const char *script = what;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        /* the test's output goes to stderr like the other tests' messages */
        dup2(2, 1);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    double end = now_s() + limit_s;
    int status = 0, done = 0;
    while (!done) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            done = 1;
        } else if (r < 0 && errno != EINTR) {
            FAIL("waitpid: %s", strerror(errno));
        } else if (now_s() > end) {
            /* SIGTERM first: the script then ends its servers, and
             * playwright its browser (which runs in a process group of its
             * own); whatever is left after 3 s is killed */
            kill(-pid, SIGTERM);
            for (int i = 0; i < 150 && waitpid(pid, &status, WNOHANG) == 0; i++)
                usleep(20 * 1000);
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            FAIL("%s ran longer than %d s and was stopped", script, limit_s);
        } else {
            usleep(20 * 1000);
        }
    }
    /* whatever the script left behind (it should leave nothing) */
    kill(-pid, SIGKILL);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    if (WIFEXITED(status) && WEXITSTATUS(status) == E2E_SKIP)
        SKIP("%s skipped itself (see its message above)", script);
    if (WIFSIGNALED(status))
        FAIL("%s died of signal %d", script, WTERMSIG(status));
    FAIL("%s failed (exit status %d; its output is above)", script, WEXITSTATUS(status));
}

TEST_TIMEOUT(e2e_openai_client, 120) { run_script("openai.mjs", 100, 1, 0); }

TEST_TIMEOUT(e2e_upstream_chain_and_failover, 120) { run_script("upstream.mjs", 100, 0, 0); }

TEST_TIMEOUT(e2e_security_streams, 120) { run_script("security.mjs", 100, 0, 0); }

TEST_TIMEOUT(e2e_lifecycle_sigterm_restart_cli, 120) { run_script("lifecycle.mjs", 100, 0, 0); }

TEST_TIMEOUT(e2e_browser_ui, 150) { run_script("browser.mjs", 130, 1, 1); }

/* The web UI's tests: node --test with every tests/ui/NAME.test.mjs (files listed, not
 * the folder: newer Node versions read a folder argument as a pattern). */
TEST_TIMEOUT(ui_node_tests, 180)
{
    char node[4096];
    if (!find_in_path("node", node, sizeof node) && !find_in_path("nodejs", node, sizeof node))
        SKIP("node is not installed (apt-get install nodejs; scripts/packages-e2e.txt)");
    glob_t g;
    if (glob("tests/ui/*.test.mjs", 0, NULL, &g) != 0 || g.gl_pathc == 0)
        SKIP("tests/ui/*.test.mjs not found (run the tests from the project root)");
    char *argv[64];
    size_t n = 0;
    argv[n++] = node;
    argv[n++] = (char *)"--test";
    for (size_t i = 0; i < g.gl_pathc && n < 63; i++)
        argv[n++] = g.gl_pathv[i];
    argv[n] = NULL;
    char cr[4096];
    int chromium = find_in_path("chromium", cr, sizeof cr) || find_in_path("chromium-browser", cr, sizeof cr) ||
                   find_in_path("google-chrome", cr, sizeof cr);
    if (!chromium)
        fprintf(stderr, "ui_node_tests: chromium is not installed (apt-get install chromium): the browser tests "
                        "skip, the others run\n");
    run_node(argv, "node --test tests/ui", 160);
    globfree(&g);
    if (!chromium)
        SKIP("the UI unit tests passed; the browser tests were skipped (no chromium)");
}

TEST_TIMEOUT(e2e_academy_lesson_quiz_chat, 150) { run_script("academy.mjs", 130, 1, 1); }
