/*
 * cmd_generate.c - `rathaus generate`: run one prompt through the engine and
 * stream the generated text to stdout as it is produced.
 *
 *   rathaus generate -m MODEL.gguf -p TEXT [-n N] [--temp T] [--seed S]
 *       [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]
 *       [--repeat-last-n N] [--stop TEXT]... [--chat] [--system TEXT]
 *       [--template NAME] [--ignore-eos] [-t THREADS] [-c CTX] [-v]
 *
 * --chat wraps the prompt as a user turn (after an optional system turn) in
 * the model's chat template. -v prints token counts and speed to stderr.
 * Ctrl-C cancels the generation cleanly.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "engine/engine.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: rathaus generate -m MODEL.gguf -p TEXT [options]\n"
            "  -n N                 tokens to generate at most (default 256, 0: until done)\n"
            "  --temp T             temperature (default 0.8, 0: greedy)\n"
            "  --seed S             random seed (default: random)\n"
            "  --top-k K            (default 40, 0: off)\n"
            "  --top-p P            (default 0.95, 1: off)\n"
            "  --min-p P            (default 0.05, 0: off)\n"
            "  --repeat-penalty R   (default 1.0: off)\n"
            "  --repeat-last-n N    penalty window (default 64)\n"
            "  --stop TEXT          stop at this text (up to %d times)\n"
            "  --chat               wrap the prompt in the model's chat template\n"
            "  --system TEXT        system message (with --chat)\n"
            "  --template NAME      chat template by name (llama3, chatml, mistral-v3, ...)\n"
            "  --ignore-eos         do not stop at end-of-generation tokens\n"
            "  -t THREADS           compute threads (default: one per core)\n"
            "  -c CTX               context size (default: the model's, at most 4096)\n"
            "  -v                   print token counts and speed to stderr\n",
            RH_MAX_STOP);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_float(const char *s, float lo, float hi, float *out)
{
    char *end = NULL;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || !end || *end || end == s || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

typedef struct gen_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    rh_engine_result res;
    char msg[RH_ERROR_MSG_MAX];
} gen_state;

static void on_event(void *user, uint64_t id, const char *text, size_t len,
                     const rh_engine_result *result)
{
    gen_state *g = user;
    (void)id;
    if (text) {
        fwrite(text, 1, len, stdout);
        fflush(stdout);
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->res = *result;
    snprintf(g->msg, sizeof g->msg, "%s", result->error_msg ? result->error_msg : "");
    g->res.error_msg = g->msg;
    g->done = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

int cmd_generate(int argc, char **argv)
{
    const char *model = NULL, *prompt = NULL, *system = NULL, *tmpl = NULL;
    bool chat = false, verbose = false;
    rh_engine_opts o;
    rh_engine_request rq;
    engine_opts_default(&o);
    engine_request_init(&rq);
    o.n_slots = 1;
    o.queue_max = 0;
    rq.sampling.max_tokens = 256;
    long lv;
    float fv;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool bad = false, takes = true;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--chat") == 0) {
            chat = true;
            takes = false;
        } else if (strcmp(a, "--ignore-eos") == 0) {
            rq.ignore_eog = true;
            takes = false;
        } else if (strcmp(a, "-v") == 0) {
            verbose = true;
            takes = false;
        } else if (!v) {
            bad = true;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            model = v;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) {
            prompt = v;
        } else if (strcmp(a, "--system") == 0) {
            system = v;
        } else if (strcmp(a, "--template") == 0) {
            tmpl = v;
        } else if (strcmp(a, "--stop") == 0) {
            if (rq.sampling.n_stop >= RH_MAX_STOP)
                bad = true;
            else
                rq.sampling.stop[rq.sampling.n_stop++] = v;
        } else if (strcmp(a, "-n") == 0) {
            bad = parse_long(v, 0, 1L << 30, &lv) != 0;
            rq.sampling.max_tokens = (int32_t)lv;
        } else if (strcmp(a, "--seed") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            bad = errno || !end || *end || end == v || v[0] == '-';
            rq.sampling.seed = (uint64_t)s;
        } else if (strcmp(a, "--temp") == 0) {
            bad = parse_float(v, 0.0f, 100.0f, &fv) != 0;
            rq.sampling.temperature = fv;
        } else if (strcmp(a, "--top-k") == 0) {
            bad = parse_long(v, 0, 1L << 30, &lv) != 0;
            rq.sampling.top_k = (int32_t)lv;
        } else if (strcmp(a, "--top-p") == 0) {
            bad = parse_float(v, 0.0f, 1.0f, &fv) != 0;
            rq.sampling.top_p = fv;
        } else if (strcmp(a, "--min-p") == 0) {
            bad = parse_float(v, 0.0f, 1.0f, &fv) != 0;
            rq.sampling.min_p = fv;
        } else if (strcmp(a, "--repeat-penalty") == 0) {
            bad = parse_float(v, 0.01f, 100.0f, &fv) != 0;
            rq.sampling.repeat_penalty = fv;
        } else if (strcmp(a, "--repeat-last-n") == 0) {
            bad = parse_long(v, 0, RH_PENALTY_WINDOW_MAX, &lv) != 0;
            rq.sampling.repeat_last_n = (int32_t)lv;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            bad = parse_long(v, 0, 1024, &lv) != 0;
            o.n_threads = (int)lv;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--ctx") == 0) {
            bad = parse_long(v, 0, 1L << 22, &lv) != 0;
            o.n_ctx = (int)lv;
        } else {
            fprintf(stderr, "rathaus generate: unknown option '%s'\n", a);
            usage();
            return 2;
        }
        if (bad) {
            fprintf(stderr, "rathaus generate: option '%s' needs a valid value\n", a);
            usage();
            return 2;
        }
        if (takes)
            i++;
    }
    if (!model || !prompt) {
        fprintf(stderr, "rathaus generate: -m MODEL.gguf and -p TEXT are required\n");
        usage();
        return 2;
    }
    if (system && !chat) {
        fprintf(stderr, "rathaus generate: --system needs --chat\n");
        return 2;
    }
    o.chat_template = tmpl;

    rh_error err;
    rh_error_clear(&err);
    rh_engine *e = NULL;
    if (engine_new(model, &o, &e, &err) != RH_OK) {
        fprintf(stderr, "rathaus generate: %s\n", err.msg);
        return 1;
    }
    if (verbose) {
        rh_engine_info info;
        engine_info(e, &info);
        fprintf(stderr, "model %s (%s), context %d, chat template %s%s\n", info.name, info.arch,
                info.n_ctx, info.chat_family, info.template_fallback ? " (fallback)" : "");
    }

    rh_chat_msg msgs[2];
    size_t nm = 0;
    if (chat) {
        if (system)
            msgs[nm++] = (rh_chat_msg){RH_ROLE_SYSTEM, system};
        msgs[nm++] = (rh_chat_msg){RH_ROLE_USER, prompt};
        rq.messages = msgs;
        rq.n_messages = nm;
    } else {
        rq.prompt = prompt;
    }
    gen_state g;
    memset(&g, 0, sizeof g);
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    rq.on_event = on_event;
    rq.user = &g;

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);

    int ret = 0;
    uint64_t id = 0;
    if (engine_submit(e, &rq, &id, &err) != RH_OK) {
        fprintf(stderr, "rathaus generate: %s\n", err.msg);
        ret = 1;
        goto out;
    }
    bool cancel_sent = false;
    pthread_mutex_lock(&g.mu);
    while (!g.done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g.cv, &g.mu, &ts);
        if (interrupted && !cancel_sent) {
            pthread_mutex_unlock(&g.mu);
            engine_cancel(e, id);
            cancel_sent = true;
            pthread_mutex_lock(&g.mu);
        }
    }
    pthread_mutex_unlock(&g.mu);
    fputc('\n', stdout);
    fflush(stdout);
    if (g.res.finish == RH_FINISH_ERROR) {
        fprintf(stderr, "rathaus generate: %s\n", g.msg[0] ? g.msg : rh_strerror(g.res.error));
        ret = 1;
    }
    if (verbose) {
        double pps = g.res.ms_prompt > 0 ? g.res.n_prompt * 1000.0 / g.res.ms_prompt : 0;
        double gps = g.res.ms_gen > 0 ? (g.res.n_gen - 1) * 1000.0 / g.res.ms_gen : 0;
        fprintf(stderr, "finish %s: prompt %d tokens (%.1f tok/s), generated %d tokens (%.1f tok/s)\n",
                engine_finish_name(g.res.finish), (int)g.res.n_prompt, pps, (int)g.res.n_gen, gps);
    }
out:
    engine_free(e);
    sigaction(SIGINT, &old, NULL);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
    return ret;
}
