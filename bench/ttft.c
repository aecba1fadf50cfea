/*
 * ttft.c - time to first token, measured two ways on the same model and
 * prompt, for scripts/bench_portal.sh:
 *
 *   ttft engine MODEL.gguf REPS PROMPT [FIRST]
 *       the engine API directly (engine_new with the options the portal's
 *       local backend uses, engine_submit with the prompt as one user
 *       message, greedy, max_tokens 4): time from engine_submit to the
 *       first text callback;
 *   ttft portal PORT API_KEY MODEL REPS PROMPT [FIRST]
 *       the portal on 127.0.0.1:PORT: POST /v1/chat/completions with
 *       stream true over a new loopback connection each time: time from
 *       connect() to the first chunk with non-empty "content".
 *
 *   ttft both MODEL.gguf PORT API_KEY MODEL REPS PROMPT FIRST
 *       both, one request each way in turn (the engine loaded in this
 *       process, the portal's own engine in the server), so that load from
 *       elsewhere on the machine hits both alike; prints "engine_ms ..." and
 *       "portal_ms ...".
 *
 * Run i asks "(Anfrage N) PROMPT" with N = FIRST + i (default 0), so no run
 * finds its whole prompt in the engine's prefix cache: both ways measure
 * the same prompt processing (use a new FIRST for every call against the
 * same server).
 *
 * Prints one line "ttft_ms v1 v2 ..." (after 5 unmeasured warm-up runs) and
 * "prompt_tokens N" (engine). Exits non-zero when a run fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "engine/engine.h"

#define WARMUP 5
#define MAX_REPS 10000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long parse_reps(const char *s)
{
    char *end = NULL;
    long n = strtol(s, &end, 10);
    if (!end || *end || n < 1 || n > MAX_REPS) {
        fprintf(stderr, "ttft: REPS must be 1..%d\n", MAX_REPS);
        return -1;
    }
    return n;
}

/* ------------------------------------------------------------ engine */

typedef struct run_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    double first_ms; /* time of the first text, 0 = none yet */
    int done;
    int32_t n_prompt;
    rh_finish finish;
} run_state;

static void on_event(void *user, uint64_t id, const char *text, size_t len, const rh_engine_result *res)
{
    run_state *s = user;
    (void)id;
    (void)len;
    double t = now_ms();
    pthread_mutex_lock(&s->lock);
    if (text && s->first_ms == 0)
        s->first_ms = t;
    if (res) {
        s->done = 1;
        s->n_prompt = res->n_prompt;
        s->finish = res->finish;
        if (s->first_ms == 0)
            s->first_ms = t; /* no text at all (first token ended the turn) */
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static rh_engine *load_engine(const char *model)
{
    rh_engine_opts o;
    engine_opts_default(&o);
    o.n_slots = 2;    /* the portal's default: workers = 2 */
    o.queue_max = 16; /* queue_max = 16 */
    rh_engine *e = NULL;
    rh_error err;
    rh_error_clear(&err);
    if (engine_new(model, &o, &e, &err) != RH_OK) {
        fprintf(stderr, "ttft: %s\n", err.msg);
        return NULL;
    }
    return e;
}

/* One request "(Anfrage n) prompt"; returns the time to the first text or < 0. */
static double engine_once(rh_engine *e, const char *prompt, long n, int32_t *n_prompt)
{
    char text[2048];
    snprintf(text, sizeof text, "(Anfrage %ld) %s", n, prompt);
    rh_chat_msg msg = {RH_ROLE_USER, text};
    run_state s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    rh_engine_request r;
    engine_request_init(&r);
    r.messages = &msg;
    r.n_messages = 1;
    r.sampling.temperature = 0;
    r.sampling.max_tokens = 4;
    r.on_event = on_event;
    r.user = &s;
    uint64_t id;
    rh_error err;
    rh_error_clear(&err);
    double t = -1, t0 = now_ms();
    if (engine_submit(e, &r, &id, &err) != RH_OK) {
        fprintf(stderr, "ttft: submit: %s\n", err.msg);
        goto out;
    }
    pthread_mutex_lock(&s.lock);
    while (!s.done)
        pthread_cond_wait(&s.cond, &s.lock);
    pthread_mutex_unlock(&s.lock);
    *n_prompt = s.n_prompt;
    t = s.first_ms - t0;
out:
    pthread_mutex_destroy(&s.lock);
    pthread_cond_destroy(&s.cond);
    return t;
}

static int bench_engine(const char *model, long reps, const char *prompt, long first)
{
    rh_engine *e = load_engine(model);
    if (!e)
        return 1;
    int rc = 0;
    int32_t n_prompt = 0;
    printf("ttft_ms");
    for (long i = 0; i < reps + WARMUP; i++) {
        double t = engine_once(e, prompt, first + i, &n_prompt);
        if (t < 0) {
            rc = 1;
            break;
        }
        if (i >= WARMUP)
            printf(" %.4f", t);
    }
    printf("\nprompt_tokens %d\n", (int)n_prompt);
    engine_free(e);
    return rc;
}

/* ------------------------------------------------------------ portal */

/* One streamed request; returns the time to the first content or < 0. */
static double portal_once(int port, const char *key, const char *model, const char *prompt, long num)
{
    char body[2048], req[4096], buf[65536];
    int bn = snprintf(body, sizeof body,
                      "{\"model\":\"%s\",\"stream\":true,\"max_tokens\":4,\"temperature\":0,"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"(Anfrage %ld) %s\"}]}",
                      model, num, prompt);
    int rn = snprintf(req, sizeof req,
                      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                      port, key, bn, body);
    if (bn >= (int)sizeof body || rn >= (int)sizeof req)
        return -1;
    double t0 = now_ms(), first = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || write(fd, req, (size_t)rn) != rn) {
        close(fd);
        return -1;
    }
    size_t have = 0;
    int ok = 0;
    for (;;) {
        if (have == sizeof buf - 1) /* keep the tail: markers may straddle */
            have = 0;
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        if (first < 0) {
            const char *p = buf;
            while ((p = strstr(p, "\"content\":\"")) != NULL) {
                p += 11;
                if (*p && *p != '"') {
                    first = now_ms() - t0;
                    break;
                }
            }
        }
        if (strstr(buf, "[DONE]"))
            ok = 1;
    }
    close(fd);
    if (!ok && first < 0)
        return -1;
    return first < 0 ? 0 : first;
}

static int bench_portal(int port, const char *key, const char *model, long reps, const char *prompt, long first)
{
    printf("ttft_ms");
    for (long i = 0; i < reps + WARMUP; i++) {
        double t = portal_once(port, key, model, prompt, first + i);
        if (t < 0) {
            fprintf(stderr, "ttft: request %ld to the portal failed\n", i);
            printf("\n");
            return 1;
        }
        if (i >= WARMUP)
            printf(" %.4f", t);
    }
    printf("\n");
    return 0;
}

/* ------------------------------------------------------------ both */

/* Engine and portal requests alternately, so that load from elsewhere on
 * the machine falls on both alike. Prints "engine_ms ..." and "portal_ms ...". */
static int bench_both(const char *model_path, int port, const char *key, const char *model, long reps,
                      const char *prompt, long first)
{
    rh_engine *e = load_engine(model_path);
    if (!e)
        return 1;
    double *te = rh_calloc((size_t)reps, sizeof *te), *tp = rh_calloc((size_t)reps, sizeof *tp);
    int rc = 0;
    int32_t n_prompt = 0;
    if (!te || !tp) {
        rc = 1;
        goto out;
    }
    for (long i = 0; i < reps + WARMUP; i++) {
        /* the same new prompt both ways; which goes first alternates */
        double a, b;
        if (i % 2) {
            a = engine_once(e, prompt, first + i, &n_prompt);
            b = portal_once(port, key, model, prompt, first + i);
        } else {
            b = portal_once(port, key, model, prompt, first + i);
            a = engine_once(e, prompt, first + i, &n_prompt);
        }
        if (a < 0 || b < 0) {
            fprintf(stderr, "ttft: run %ld failed\n", i);
            rc = 1;
            goto out;
        }
        if (i >= WARMUP) {
            te[i - WARMUP] = a;
            tp[i - WARMUP] = b;
        }
    }
    printf("engine_ms");
    for (long i = 0; i < reps; i++)
        printf(" %.4f", te[i]);
    printf("\nportal_ms");
    for (long i = 0; i < reps; i++)
        printf(" %.4f", tp[i]);
    printf("\nprompt_tokens %d\n", (int)n_prompt);
out:
    rh_free(te);
    rh_free(tp);
    engine_free(e);
    return rc;
}

static long parse_first(int argc, char **argv, int at)
{
    if (argc <= at)
        return 0;
    char *end = NULL;
    long n = strtol(argv[at], &end, 10);
    return (!end || *end || n < 0 || n > 1000000000L) ? -1 : n;
}

int main(int argc, char **argv)
{
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "engine")) {
        long reps = parse_reps(argv[3]), first = parse_first(argc, argv, 5);
        return reps < 0 || first < 0 ? 2 : bench_engine(argv[2], reps, argv[4], first);
    }
    if ((argc == 7 || argc == 8) && !strcmp(argv[1], "portal")) {
        long reps = parse_reps(argv[5]), first = parse_first(argc, argv, 7);
        char *end = NULL;
        long port = strtol(argv[2], &end, 10);
        if (reps < 0 || first < 0 || !end || *end || port < 1 || port > 65535)
            return 2;
        return bench_portal((int)port, argv[3], argv[4], reps, argv[6], first);
    }
    if (argc == 9 && !strcmp(argv[1], "both")) {
        long reps = parse_reps(argv[6]), first = parse_first(argc, argv, 8);
        char *end = NULL;
        long port = strtol(argv[3], &end, 10);
        if (reps < 0 || first < 0 || !end || *end || port < 1 || port > 65535)
            return 2;
        return bench_both(argv[2], (int)port, argv[4], argv[5], reps, argv[7], first);
    }
    fprintf(stderr, "usage: ttft engine MODEL.gguf REPS PROMPT [FIRST]\n"
                    "       ttft portal PORT API_KEY MODEL REPS PROMPT [FIRST]\n"
                    "       ttft both MODEL.gguf PORT API_KEY MODEL REPS PROMPT FIRST\n");
    return 2;
}
