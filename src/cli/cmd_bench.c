/*
 * cmd_bench.c - `rathaus bench -m MODEL.gguf [-t THREADS] [--json]`: speed
 * figures of the engine on one model.
 *
 * Measures, in one run: prompt processing (128 and 512 tokens in one batch),
 * generation (64 tokens after a 16-token prompt), aggregate generation of 1,
 * 4 and 8 parallel sequences (each first takes a 128-token prompt, then all
 * step together, one token per sequence per rh_decode), the machine's memory
 * read bandwidth (all threads streaming 1 GiB, best of 5; 256 MiB right
 * before and after each generation run; 32 MiB between the steps of a
 * second, interleaved generation run, see bench_gen_roofline) and from it
 * the generation roofline, and peak memory. Every speed is the best of three
 * runs (one with --quick). Prompts are random token ids: the
 * tokenizer does not matter for speed. Never fails on timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/engine_args.h"
#include "core/alloc.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/ops.h"

#define BENCH_MAX_SEQ 8
#define PROBE_BYTES ((size_t)256 << 20) /* see bench_gen_roofline */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static int32_t random_token(int32_t n_vocab)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    int32_t lo = n_vocab > 300 ? 259 : 0; /* skip control and byte tokens */
    return lo + (int32_t)(rng % (uint64_t)(n_vocab - lo));
}

/* kB value of a "Key:   123 kB" line of /proc/self/status; -1 if absent. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

typedef struct bench_ctx {
    rh_model *model;
    const rh_model_info *info;
    rh_pool *pool;
    int32_t *tok, *pos, *seq;
    uint8_t *want;
    float *logits;
    int cap;
} bench_ctx;

/* One rh_decode of n tokens of sequence `s` starting at position p0. */
static int decode_run(bench_ctx *b, rh_ctx *c, int s, int p0, int n, rh_error *err)
{
    for (int i = 0; i < n; i++) {
        b->tok[i] = random_token(b->info->n_vocab);
        b->pos[i] = p0 + i;
        b->seq[i] = s;
        b->want[i] = i == n - 1;
    }
    rh_batch bt = {.n = n, .tok = b->tok, .pos = b->pos, .seq = b->seq, .logits = b->want};
    return rh_decode(c, &bt, b->logits, err);
}

/* Tokens per second of a prompt of n tokens, in batches of at most `step`. */
static double bench_prompt(bench_ctx *b, rh_ctx *c, int n, rh_error *err)
{
    rh_ctx_seq_clear(c, 0);
    double t0 = now_s();
    for (int p = 0; p < n; p += 512) {
        int k = n - p < 512 ? n - p : 512;
        if (decode_run(b, c, 0, p, k, err) != RH_OK)
            return -1;
    }
    return n / (now_s() - t0);
}

/* Generation speed: 64 single-token steps after a 16-token prompt. */
static double bench_gen(bench_ctx *b, rh_ctx *c, int n_gen, rh_error *err)
{
    rh_ctx_seq_clear(c, 0);
    if (decode_run(b, c, 0, 0, 16, err) != RH_OK)
        return -1;
    double t0 = now_s();
    for (int i = 0; i < n_gen; i++)
        if (decode_run(b, c, 0, 16 + i, 1, err) != RH_OK)
            return -1;
    return n_gen / (now_s() - t0);
}

/* Generation against the bandwidth of the same moments. On a shared
 * machine the read bandwidth moves from burst to burst (on the reference
 * VM 35-90 GB/s between reads of 32 MiB), so the best burst before or
 * after a run of tokens need not be what the run had. Here every token
 * step is timed alone, with a bandwidth sample before the first step and
 * after each one; the result is the steps' streaming rate (streamed bytes
 * x steps / their summed time) over the mean of the samples. A sample is
 * one read of 32 MiB by all threads, prefetching as the kernels do (the
 * faster of rh_mem_read_bandwidth's two modes on this VM: 43 against 40
 * GB/s on average), over windows of a 256 MiB probe buffer taken in turn
 * (a window read again at once would partly come from the L3: +16% for 64
 * MiB). Taking the better of a plain and a prefetched read per sample
 * instead would compare the steps with the top of the swings again; the
 * plain read alone is slower under contention. The reads evict the caches
 * between steps, which can only slow the steps down. */
#define PROBE_WINDOWS 8
#define PROBE_WINDOW ((size_t)32 << 20)

static double probe_read(bench_ctx *b, const uint8_t *probe, int i)
{
    return rh_mem_read_bandwidth_buf(b->pool, probe + (size_t)(i % PROBE_WINDOWS) * PROBE_WINDOW,
                                     PROBE_WINDOW, 1, 2);
}

static double bench_gen_roofline(bench_ctx *b, rh_ctx *c, int n_gen, uint64_t sbytes,
                                 const uint8_t *probe, double *bw_mean, rh_error *err)
{
    rh_ctx_seq_clear(c, 0);
    if (decode_run(b, c, 0, 0, 16, err) != RH_OK)
        return -1;
    double bw_sum = probe_read(b, probe, 0), t_sum = 0;
    for (int i = 0; i < n_gen; i++) {
        double t0 = now_s();
        if (decode_run(b, c, 0, 16 + i, 1, err) != RH_OK)
            return -1;
        t_sum += now_s() - t0;
        bw_sum += probe_read(b, probe, i + 1);
    }
    *bw_mean = bw_sum / (n_gen + 1);
    if (t_sum <= 0 || *bw_mean <= 0)
        return 0;
    return (double)sbytes * n_gen / t_sum / *bw_mean;
}

/* Aggregate tokens/s of n_seq sequences generating together. */
static double bench_parallel(bench_ctx *b, rh_ctx *c, int n_seq, int prompt, int steps,
                             rh_error *err)
{
    for (int s = 0; s < BENCH_MAX_SEQ; s++)
        rh_ctx_seq_clear(c, s);
    for (int s = 0; s < n_seq; s++)
        if (decode_run(b, c, s, 0, prompt, err) != RH_OK)
            return -1;
    double t0 = now_s();
    for (int i = 0; i < steps; i++) {
        for (int s = 0; s < n_seq; s++) {
            b->tok[s] = random_token(b->info->n_vocab);
            b->pos[s] = prompt + i;
            b->seq[s] = s;
            b->want[s] = 1;
        }
        rh_batch bt = {.n = n_seq, .tok = b->tok, .pos = b->pos, .seq = b->seq, .logits = b->want};
        if (rh_decode(c, &bt, b->logits, err) != RH_OK)
            return -1;
    }
    return (double)n_seq * steps / (now_s() - t0);
}

/* Bytes a generation step streams: every weight except the embedding
 * table (only one row of it is read), unless it is also the output. */
static uint64_t streamed_bytes(const rh_model *m)
{
    const gguf_file *f = rh_model_gguf(m);
    bool has_output = gguf_find_tensor(f, "output.weight") != NULL;
    uint64_t sum = 0;
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (has_output && gguf_str_eq(t->name, "token_embd.weight"))
            continue;
        sum += t->nbytes;
    }
    return sum;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: rathaus bench -m MODEL.gguf [-t THREADS] [--json] [--quick]\n"
                 "Prints prompt and generation speed, parallel-sequence throughput, memory\n"
                 "bandwidth, the generation roofline and peak memory (best of 3 runs each).\n"
                 "--quick: fewer tokens, one run.\n");
}

int cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    int n_threads = 0, json = 0, quick = 0, status = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 256, &n_threads)) {
                fprintf(stderr, "rathaus bench: bad thread count '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }

    rh_error err;
    rh_error_clear(&err);
    bench_ctx b = {0};
    rh_ctx *c1 = NULL, *c8 = NULL;
    uint8_t *probe = NULL;
    b.pool = rh_pool_new(n_threads);
    if (!b.pool) {
        fprintf(stderr, "rathaus bench: cannot start threads\n");
        return 1;
    }
    if (rh_model_load(path, &b.model, &err) != RH_OK)
        goto fail;
    b.info = rh_model_get_info(b.model);
    if (!b.info->causal) {
        rh_error_set(&err, RH_EUNSUPPORTED, "%s is not a generative model", path);
        goto fail;
    }
    b.cap = 512;
    b.tok = rh_malloc_array((size_t)b.cap, sizeof *b.tok);
    b.pos = rh_malloc_array((size_t)b.cap, sizeof *b.pos);
    b.seq = rh_malloc_array((size_t)b.cap, sizeof *b.seq);
    b.want = rh_malloc((size_t)b.cap);
    b.logits = rh_malloc_array((size_t)BENCH_MAX_SEQ * (size_t)b.info->n_vocab, sizeof *b.logits);
    if (!b.tok || !b.pos || !b.seq || !b.want || !b.logits) {
        rh_error_set(&err, RH_ENOMEM, "out of memory");
        goto fail;
    }
    int pp_long = quick ? 256 : 512, n_gen = quick ? 32 : 64, par_steps = quick ? 16 : 32;
    int par_prompt = 128, reps = quick ? 1 : 3;
    if (rh_ctx_new(b.model, pp_long + 64, 1, b.pool, &c1, &err) != RH_OK ||
        rh_ctx_new(b.model, par_prompt + par_steps + 8, BENCH_MAX_SEQ, b.pool, &c8, &err) != RH_OK)
        goto fail;

    /* warm-up: maps the weights in and wakes the threads */
    if (bench_prompt(&b, c1, 32, &err) < 0 || bench_gen(&b, c1, 4, &err) < 0)
        goto fail;
    /* Each figure is the best of `reps` runs: the machine may be shared,
     * and the best run is the one least disturbed. */
    double pp128 = 0, ppl = 0, tg = 0, par[3] = {0}, frac = 0, frac_burst = 0, bw_max = 0,
           bw_during = 0;
    static const int par_n[3] = {1, 4, 8};
    uint64_t sbytes = streamed_bytes(b.model);
    long hwm_kb = -1, anon_kb = -1;
    for (int rep = 0; rep < reps; rep++) {
        double v;
        if ((v = bench_prompt(&b, c1, 128, &err)) < 0)
            goto fail;
        pp128 = v > pp128 ? v : pp128;
        if ((v = bench_prompt(&b, c1, pp_long, &err)) < 0)
            goto fail;
        ppl = v > ppl ? v : ppl;
        for (int i = 0; i < 3; i++) {
            if ((v = bench_parallel(&b, c8, par_n[i], par_prompt, par_steps, &err)) < 0)
                goto fail;
            par[i] = v > par[i] ? v : par[i];
        }
        if (rep == 0) {
            /* memory figures: every workload has run once, the bandwidth
             * test's own buffers are not allocated yet */
            hwm_kb = status_kb("VmHWM");
            anon_kb = status_kb("RssAnon");
        }
        /* generation between two bandwidth measurements: the roofline
         * fraction compares them under the same conditions (others may be
         * using the memory bus on a shared machine) */
        double bw0 = rh_mem_read_bandwidth(b.pool, (size_t)256 << 20, 3);
        if ((v = bench_gen(&b, c1, n_gen, &err)) < 0)
            goto fail;
        double bw1 = rh_mem_read_bandwidth(b.pool, (size_t)256 << 20, 3);
        double bwr = bw0 > bw1 ? bw0 : bw1;
        bw_max = bwr > bw_max ? bwr : bw_max;
        if (bwr > 0 && v * (double)sbytes / bwr > frac_burst)
            frac_burst = v * (double)sbytes / bwr;
        tg = v > tg ? v : tg;
        if (!probe) {
            probe = rh_malloc_aligned(64, PROBE_BYTES);
            if (!probe) {
                rh_error_set(&err, RH_ENOMEM, "out of memory");
                goto fail;
            }
            memset(probe, 0x5a, PROBE_BYTES);
        }
        double bwm = 0;
        if ((v = bench_gen_roofline(&b, c1, n_gen, sbytes, probe, &bwm, &err)) < 0)
            goto fail;
        /* the mean of the runs, not the best: a ratio of two noisy
         * figures would be flattered by taking its maximum */
        frac += v / reps;
        bw_during += bwm / reps;
    }
    if (hwm_kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        hwm_kb = ru.ru_maxrss;
    }
    double bw = rh_mem_read_bandwidth(b.pool, (size_t)1 << 30, 5);
    bw = bw > bw_max ? bw : bw_max;
    double roof = bw > 0 ? bw / (double)sbytes : 0;
    double ratio = par[0] > 0 ? par[2] / par[0] : 0;
    double mib = 1024.0 * 1024.0;

    if (json) {
        printf("{\"model\":\"%s\",\"arch\":\"%s\",\"threads\":%d,\"kernels\":\"%s\","
               "\"weight_bytes\":%llu,\"streamed_bytes_per_token\":%llu,"
               "\"pp128_tok_s\":%.2f,\"pp%d_tok_s\":%.2f,\"tg_tok_s\":%.2f,"
               "\"parallel_tok_s\":{\"1\":%.2f,\"4\":%.2f,\"8\":%.2f},\"parallel_8_vs_1\":%.3f,"
               "\"mem_bandwidth_gb_s\":%.2f,\"roofline_tok_s\":%.2f,\"tg_roofline_fraction\":%.3f,"
               "\"mem_bandwidth_during_tg_gb_s\":%.2f,\"tg_roofline_fraction_burst\":%.3f,"
               "\"peak_rss_mib\":%.1f,\"rss_without_model_mib\":%.1f}\n",
               path, b.info->arch_name, rh_pool_size(b.pool), rh_ops_kernel_name(),
               (unsigned long long)b.info->weight_bytes, (unsigned long long)sbytes, pp128,
               pp_long, ppl, tg, par[0], par[1], par[2], ratio, bw / 1e9, roof, frac,
               bw_during / 1e9, frac_burst,
               (double)hwm_kb * 1024 / mib, anon_kb >= 0 ? (double)anon_kb * 1024 / mib : -1.0);
    } else {
        printf("model:        %s (%s, %.1f MiB of weights, %.1f MiB read per token)\n", path,
               b.info->arch_name, (double)b.info->weight_bytes / mib, (double)sbytes / mib);
        printf("threads:      %d, kernels %s\n", rh_pool_size(b.pool), rh_ops_kernel_name());
        printf("prompt:       %7.1f tok/s (128 tokens)   %7.1f tok/s (%d tokens)\n", pp128, ppl,
               pp_long);
        printf("generation:   %7.1f tok/s (%d tokens after a 16-token prompt)\n", tg, n_gen);
        printf("parallel:     %7.1f tok/s (1 seq)   %7.1f (4 seq)   %7.1f (8 seq)   8/1 = %.2fx\n",
               par[0], par[1], par[2], ratio);
        printf("bandwidth:    %7.1f GB/s memory read (%d threads, 1 GiB, best of 5)\n", bw / 1e9,
               rh_pool_size(b.pool));
        printf("roofline:     %7.1f tok/s at the best bandwidth; generation reaches %.0f%% of the\n"
               "              roofline of the bandwidth measured between its steps (%.1f GB/s\n"
               "              on average), %.0f%% of the best burst right before/after it\n",
               roof, frac * 100, bw_during / 1e9, frac_burst * 100);
        printf("memory:       peak RSS %.1f MiB, RSS without the model file %.1f MiB\n",
               (double)hwm_kb * 1024 / mib, anon_kb >= 0 ? (double)anon_kb * 1024 / mib : -1.0);
    }
    status = 0;
    goto out;
fail:
    fprintf(stderr, "rathaus bench: %s\n", err.msg[0] ? err.msg : rh_strerror(err.code));
out:
    rh_ctx_free(c1);
    rh_ctx_free(c8);
    rh_model_free(b.model);
    rh_pool_free(b.pool);
    rh_free(b.tok);
    rh_free(b.pos);
    rh_free(b.seq);
    rh_free(b.want);
    rh_free(b.logits);
    rh_free_aligned(probe);
    return status;
}
