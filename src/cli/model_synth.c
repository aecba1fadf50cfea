/*
 * model_synth.c - `rathaus model synth --shape NAME --type TYPE OUT.gguf`:
 * writes a model with random weights in the exact shape of a real one
 * (TinyLlama 1.1B, Llama 3 8B, Qwen2.5 0.5B), with the metadata, tensor
 * names and a minimal tokenizer that a real file has. Used for speed
 * benchmarks: the numbers are meaningless, the sizes and types are real.
 *
 * Weights: Irwin-Hall (sum of 4 uniforms) values with std 0.02, norms about
 * 1, generated per row from a seed of (tensor, row) so the file does not
 * depend on the thread count; quantized with rh_quantize_row on the thread
 * pool. Each tensor's quantized data is handed to the writer as borrowed,
 * so the model is held in memory once.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/engine_args.h"
#include "core/alloc.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/ops.h"
#include "engine/quant.h"

typedef struct synth_shape {
    const char *name;
    const char *arch;
    const char *general_name;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    float rope_base, norm_eps;
    bool qkv_bias, tied;
} synth_shape;

static const synth_shape shapes[] = {
    {"tinyllama-1.1b", "llama", "TinyLlama 1.1B (synthetic)", 2048, 22, 32, 4, 5632, 32000, 2048,
     10000.0f, 1e-5f, false, false},
    {"llama3-8b", "llama", "Llama 3 8B (synthetic)", 4096, 32, 32, 8, 14336, 128256, 8192,
     500000.0f, 1e-5f, false, false},
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5 0.5B (synthetic)", 896, 24, 14, 2, 4864, 151936, 32768,
     1000000.0f, 1e-6f, true, true},
    /* small shapes for tests */
    {"test-llama", "llama", "test llama (synthetic)", 256, 2, 4, 2, 512, 512, 256, 10000.0f,
     1e-5f, false, false},
    {"test-qwen2", "qwen2", "test qwen2 (synthetic)", 320, 2, 5, 1, 768, 600, 256, 1000000.0f,
     1e-6f, true, true},
};

/* ---- random rows ----------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* n values, mean `mean`, std `std`, from the seed. */
static void random_row(uint64_t seed, float *out, int64_t n, float mean, float std)
{
    uint64_t s = mix64(seed) | 1;
    /* sum of 4 uniforms in [0,1): mean 2, variance 4/12 */
    const float scale = std * 1.7320508f / 65536.0f;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        uint32_t sum = (uint32_t)(s & 0xffff) + (uint32_t)((s >> 16) & 0xffff) +
                       (uint32_t)((s >> 32) & 0xffff) + (uint32_t)(s >> 48);
        out[i] = mean + ((float)sum - 131072.0f) * scale;
    }
}

/* ---- one tensor, quantized in parallel ------------------------------------ */

typedef struct synth_job {
    int type;
    int64_t rows, cols;
    size_t row_bytes;
    uint8_t *dst;
    uint64_t seed;
    float mean, std;
    float *bufs; /* per thread one row */
    _Alignas(64) atomic_long next;
} synth_job;

#define SYNTH_CHUNK 16

static void synth_task(void *ctx, int ith, int nth)
{
    synth_job *j = ctx;
    (void)nth;
    float *buf = j->bufs + (size_t)ith * (size_t)j->cols;
    for (;;) {
        int64_t r0 = atomic_fetch_add(&j->next, SYNTH_CHUNK);
        if (r0 >= j->rows)
            break;
        int64_t r1 = r0 + SYNTH_CHUNK < j->rows ? r0 + SYNTH_CHUNK : j->rows;
        for (int64_t r = r0; r < r1; r++) {
            random_row(j->seed * 0x9E3779B97F4A7C15ull + (uint64_t)r, buf, j->cols, j->mean, j->std);
            uint8_t *out = j->dst + (size_t)r * j->row_bytes;
            if (j->type == RH_TYPE_F32)
                memcpy(out, buf, (size_t)j->cols * 4);
            else
                rh_quantize_row(j->type, buf, out, j->cols);
        }
    }
}

typedef struct synth_state {
    gguf_writer *w;
    rh_pool *pool;
    void **bufs;
    size_t n_bufs, cap_bufs;
    uint64_t seed;
    uint64_t total_bytes;
    int n_tensors;
} synth_state;

static int add_tensor(synth_state *st, const char *name, int type, int64_t cols, int64_t rows,
                      float mean, float std, rh_error *err)
{
    int rc = RH_OK;
    size_t row_bytes = rh_row_size(type, cols);
    if (row_bytes == 0)
        return rh_error_set(err, RH_EINTERNAL, "%s: %lld values do not fit type %s", name,
                            (long long)cols, rh_type_get(type)->name);
    size_t nbytes = row_bytes * (size_t)rows;
    uint8_t *data = NULL;
    float *tbufs = NULL;
    if (st->n_bufs == st->cap_bufs) {
        size_t nc = st->cap_bufs ? 2 * st->cap_bufs : 64;
        void **nb = rh_realloc_array(st->bufs, nc, sizeof *nb);
        if (!nb)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        st->bufs = nb;
        st->cap_bufs = nc;
    }
    data = rh_malloc_aligned(64, nbytes);
    tbufs = rh_malloc_array((size_t)rh_pool_size(st->pool) * (size_t)cols, sizeof *tbufs);
    if (!data || !tbufs) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory for tensor %s (%zu bytes)", name, nbytes);
        goto out;
    }
    synth_job j = {.type = type, .rows = rows, .cols = cols, .row_bytes = row_bytes,
                   .dst = data, .seed = ++st->seed, .mean = mean, .std = std, .bufs = tbufs};
    atomic_init(&j.next, 0);
    rh_pool_run(st->pool, synth_task, &j);
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    rc = gguf_writer_add_tensor(st->w, name, type, rows == 1 ? 1 : 2, ne, data, nbytes, true);
    if (rc != RH_OK) {
        rh_error_set(err, rc, "cannot add tensor %s", name);
        goto out;
    }
    st->bufs[st->n_bufs++] = data;
    data = NULL;
    st->total_bytes += nbytes;
    st->n_tensors++;
out:
    rh_free_aligned(data);
    rh_free(tbufs);
    return rc;
}

/* Same fallbacks as `model quantize` (docs/quant.md) for rows that are not
 * a multiple of the K-quant block. */
static int fit_type(int type, int64_t cols)
{
    if (rh_row_size(type, cols))
        return type;
    if (type == RH_TYPE_Q4_K)
        type = RH_TYPE_Q5_0;
    else if (type == RH_TYPE_Q5_K)
        type = RH_TYPE_Q5_1;
    else if (type == RH_TYPE_Q6_K)
        type = RH_TYPE_Q8_0;
    return rh_row_size(type, cols) ? type : RH_TYPE_F16;
}

/* ---- metadata ---------------------------------------------------------------- */

static int set_meta(gguf_writer *w, const synth_shape *s, int ftype, rh_error *err)
{
    char key[128];
    int rc = RH_OK;
    const char *a = s->arch;
#define CHK(x)                                                                                 \
    do {                                                                                       \
        if ((rc = (x)) != RH_OK)                                                               \
            return rh_error_set(err, rc, "cannot set metadata");                               \
    } while (0)
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    CHK(gguf_writer_set_str(w, "general.architecture", a));
    CHK(gguf_writer_set_str(w, "general.name", s->general_name));
    CHK(gguf_writer_set_u32(w, "general.file_type", (uint32_t)ftype));
    CHK(gguf_writer_set_u32(w, "general.quantization_version", 2));
    CHK(gguf_writer_set_u32(w, K("context_length"), (uint32_t)s->n_ctx));
    CHK(gguf_writer_set_u32(w, K("embedding_length"), (uint32_t)s->n_embd));
    CHK(gguf_writer_set_u32(w, K("block_count"), (uint32_t)s->n_layer));
    CHK(gguf_writer_set_u32(w, K("feed_forward_length"), (uint32_t)s->n_ff));
    CHK(gguf_writer_set_u32(w, K("attention.head_count"), (uint32_t)s->n_head));
    CHK(gguf_writer_set_u32(w, K("attention.head_count_kv"), (uint32_t)s->n_head_kv));
    CHK(gguf_writer_set_u32(w, K("rope.dimension_count"), (uint32_t)(s->n_embd / s->n_head)));
    CHK(gguf_writer_set_f32(w, K("rope.freq_base"), s->rope_base));
    CHK(gguf_writer_set_f32(w, K("attention.layer_norm_rms_epsilon"), s->norm_eps));
    if (strcmp(a, "llama") == 0)
        CHK(gguf_writer_set_u32(w, K("vocab_size"), (uint32_t)s->n_vocab));
#undef K
#undef CHK
    return rc;
}

/* A minimal SentencePiece-style vocabulary: <unk> <s> </s>, the 256 byte
 * tokens, then filler pieces. */
static int set_vocab(gguf_writer *w, const synth_shape *s, rh_error *err)
{
    int rc = RH_OK;
    int n = s->n_vocab;
    char **tok = rh_calloc((size_t)n, sizeof *tok);
    char *text = rh_malloc((size_t)n * 16);
    float *scores = rh_malloc_array((size_t)n, sizeof *scores);
    int32_t *types = rh_malloc_array((size_t)n, sizeof *types);
    if (!tok || !text || !scores || !types) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory for the vocabulary");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char *p = text + (size_t)i * 16;
        if (i == 0)
            snprintf(p, 16, "<unk>");
        else if (i == 1)
            snprintf(p, 16, "<s>");
        else if (i == 2)
            snprintf(p, 16, "</s>");
        else if (i < 3 + 256)
            snprintf(p, 16, "<0x%02X>", i - 3);
        else
            snprintf(p, 16, "\xe2\x96\x81t%d", i); /* "▁t<i>" */
        tok[i] = p;
        scores[i] = i < 3 + 256 ? 0.0f : -(float)(i - 259);
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
    }
    if ((rc = gguf_writer_set_str(w, "tokenizer.ggml.model", "llama")) != RH_OK ||
        (rc = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok,
                                      (uint64_t)n)) != RH_OK ||
        (rc = gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores,
                                  (uint64_t)n)) != RH_OK ||
        (rc = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types,
                                  (uint64_t)n)) != RH_OK ||
        (rc = gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1)) != RH_OK ||
        (rc = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2)) != RH_OK ||
        (rc = gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0)) != RH_OK ||
        (rc = gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true)) != RH_OK)
        rh_error_set(err, rc, "cannot set tokenizer metadata");
out:
    rh_free(tok);
    rh_free(text);
    rh_free(scores);
    rh_free(types);
    return rc;
}

/* ---- the command ---------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: rathaus model synth --shape SHAPE --type TYPE [-t THREADS] OUT.gguf\n"
                 "SHAPE: tinyllama-1.1b, llama3-8b, qwen2.5-0.5b (test-llama, test-qwen2: tiny)\n"
                 "TYPE:  q4_k_m, q8_0\n"
                 "Writes a model with random weights in the shape of the real one "
                 "(for benchmarks).\n");
}

static int build_model(const synth_shape *s, bool q4km, const char *path, int n_threads,
                       rh_error *err)
{
    int rc = RH_OK;
    synth_state st = {0};
    char name[96];
    int base = q4km ? RH_TYPE_Q4_K : RH_TYPE_Q8_0;
    int64_t d = s->n_embd, kv = (int64_t)s->n_embd / s->n_head * s->n_head_kv, ff = s->n_ff;
    if ((rc = gguf_writer_new(&st.w)) != RH_OK) {
        rh_error_set(err, rc, "out of memory");
        goto out;
    }
    st.pool = rh_pool_new(n_threads);
    if (!st.pool) {
        rc = rh_error_set(err, RH_ENOMEM, "cannot start threads");
        goto out;
    }
    if ((rc = set_meta(st.w, s, q4km ? 15 : 7, err)) != RH_OK ||
        (rc = set_vocab(st.w, s, err)) != RH_OK)
        goto out;
    /* tied models: token_embd.weight is the output projection too */
    int emb_type = fit_type(s->tied && q4km ? RH_TYPE_Q6_K : base, d);
    if ((rc = add_tensor(&st, "token_embd.weight", emb_type, d, s->n_vocab, 0.0f, 0.02f, err)))
        goto out;
    for (int l = 0; l < s->n_layer; l++) {
        bool more = q4km && (4 * l < s->n_layer || 4 * l >= 3 * s->n_layer);
        int vt = more ? RH_TYPE_Q6_K : base;
        struct {
            const char *suffix;
            int type;
            int64_t cols, rows;
            float mean, std;
        } t[] = {
            {"attn_norm.weight", RH_TYPE_F32, d, 1, 1.0f, 0.02f},
            {"attn_q.weight", fit_type(base, d), d, d, 0.0f, 0.02f},
            {"attn_q.bias", s->qkv_bias ? RH_TYPE_F32 : -1, d, 1, 0.0f, 0.02f},
            {"attn_k.weight", fit_type(base, d), d, kv, 0.0f, 0.02f},
            {"attn_k.bias", s->qkv_bias ? RH_TYPE_F32 : -1, kv, 1, 0.0f, 0.02f},
            {"attn_v.weight", fit_type(vt, d), d, kv, 0.0f, 0.02f},
            {"attn_v.bias", s->qkv_bias ? RH_TYPE_F32 : -1, kv, 1, 0.0f, 0.02f},
            {"attn_output.weight", fit_type(base, d), d, d, 0.0f, 0.02f},
            {"ffn_norm.weight", RH_TYPE_F32, d, 1, 1.0f, 0.02f},
            {"ffn_gate.weight", fit_type(base, d), d, ff, 0.0f, 0.02f},
            {"ffn_up.weight", fit_type(base, d), d, ff, 0.0f, 0.02f},
            {"ffn_down.weight", fit_type(vt, ff), ff, d, 0.0f, 0.02f},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            if (t[i].type < 0)
                continue;
            snprintf(name, sizeof name, "blk.%d.%s", l, t[i].suffix);
            if ((rc = add_tensor(&st, name, t[i].type, t[i].cols, t[i].rows, t[i].mean, t[i].std,
                                 err)) != RH_OK)
                goto out;
        }
    }
    if ((rc = add_tensor(&st, "output_norm.weight", RH_TYPE_F32, d, 1, 1.0f, 0.02f, err)))
        goto out;
    if (!s->tied &&
        (rc = add_tensor(&st, "output.weight", fit_type(q4km ? RH_TYPE_Q6_K : base, d), d,
                         s->n_vocab, 0.0f, 0.02f, err)) != RH_OK)
        goto out;
    rc = gguf_writer_write(st.w, path, err);
out:
    if (rc == RH_OK)
        fprintf(stderr, "wrote %s: %d tensors, %.1f MiB of weights\n", path, st.n_tensors,
                (double)st.total_bytes / (1024.0 * 1024.0));
    gguf_writer_free(st.w);
    for (size_t i = 0; i < st.n_bufs; i++)
        rh_free_aligned(st.bufs[i]);
    rh_free(st.bufs);
    rh_pool_free(st.pool);
    return rc;
}

int cmd_model_synth(int argc, char **argv)
{
    const char *shape = NULL, *type = NULL, *out = NULL;
    int n_threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
            shape = argv[++i];
        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            type = argv[++i];
        } else if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--threads") == 0) &&
                   i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 256, &n_threads)) {
                fprintf(stderr, "rathaus model synth: bad thread count '%s'\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' || out) {
            usage(stderr);
            return 2;
        } else {
            out = argv[i];
        }
    }
    if (!shape || !type || !out) {
        usage(stderr);
        return 2;
    }
    const synth_shape *s = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcasecmp(shape, shapes[i].name) == 0)
            s = &shapes[i];
    if (!s) {
        fprintf(stderr, "rathaus model synth: unknown shape '%s'\n", shape);
        usage(stderr);
        return 2;
    }
    bool q4km;
    if (strcasecmp(type, "q4_k_m") == 0)
        q4km = true;
    else if (strcasecmp(type, "q8_0") == 0)
        q4km = false;
    else {
        fprintf(stderr, "rathaus model synth: unsupported type '%s' (q4_k_m or q8_0)\n", type);
        return 2;
    }
    rh_error err;
    rh_error_clear(&err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = build_model(s, q4km, out, n_threads, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != RH_OK) {
        fprintf(stderr, "rathaus model synth: %s\n", err.msg[0] ? err.msg : rh_strerror(rc));
        return 1;
    }
    fprintf(stderr, "(%.1f s)\n",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return 0;
}
