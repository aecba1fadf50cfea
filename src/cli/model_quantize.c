/*
 * model_quantize.c - `rathaus model quantize IN.gguf OUT.gguf TYPE`: writes a
 * copy of a GGUF model with its weight matrices converted to another tensor
 * type (or a mix of types, the *_m recipes). All metadata is copied,
 * general.file_type is set to match. See docs/quant.md for the recipes.
 *
 * Memory: the input stays mapped; tensors whose type does not change are
 * handed to the writer as borrowed pointers into the mapping, converted
 * tensors are produced one at a time into their own output buffer, so the
 * output exists in memory once (no second copy). The rows of a tensor are
 * converted by all threads of a pool (-t, default one per core).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/engine_args.h"
#include "core/alloc.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/ops.h"
#include "engine/quant.h"

/* general.file_type values (llama.cpp's numbering, a fact of the format). */
enum {
    FTYPE_ALL_F32 = 0,
    FTYPE_F16 = 1,
    FTYPE_Q4_0 = 2,
    FTYPE_Q4_1 = 3,
    FTYPE_Q8_0 = 7,
    FTYPE_Q5_0 = 8,
    FTYPE_Q5_1 = 9,
    FTYPE_Q4_K_S = 14,
    FTYPE_Q4_K_M = 15,
    FTYPE_Q5_K_S = 16,
    FTYPE_Q5_K_M = 17,
    FTYPE_Q6_K = 18,
    FTYPE_BF16 = 32,
};

typedef struct recipe {
    const char *name; /* command-line spelling */
    int base;         /* type of most weight matrices */
    int ftype;        /* general.file_type */
    bool mix;         /* *_m: more bits for half of attn_v / ffn_down */
} recipe;

static const recipe recipes[] = {
    {"f32", RH_TYPE_F32, FTYPE_ALL_F32, false},  {"f16", RH_TYPE_F16, FTYPE_F16, false},
    {"bf16", RH_TYPE_BF16, FTYPE_BF16, false},   {"q8_0", RH_TYPE_Q8_0, FTYPE_Q8_0, false},
    {"q4_0", RH_TYPE_Q4_0, FTYPE_Q4_0, false},   {"q4_1", RH_TYPE_Q4_1, FTYPE_Q4_1, false},
    {"q5_0", RH_TYPE_Q5_0, FTYPE_Q5_0, false},   {"q5_1", RH_TYPE_Q5_1, FTYPE_Q5_1, false},
    {"q4_k", RH_TYPE_Q4_K, FTYPE_Q4_K_S, false}, {"q5_k", RH_TYPE_Q5_K, FTYPE_Q5_K_S, false},
    {"q6_k", RH_TYPE_Q6_K, FTYPE_Q6_K, false},   {"q4_k_m", RH_TYPE_Q4_K, FTYPE_Q4_K_M, true},
    {"q5_k_m", RH_TYPE_Q5_K, FTYPE_Q5_K_M, true},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: rathaus model quantize IN.gguf OUT.gguf TYPE [-t THREADS]\n"
                 "TYPE: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m q5_k_m\n"
                 "Norms and biases stay F32; see docs/quant.md for the mixes.\n"
                 "-t: threads (default: one per core).\n");
}

static bool ends_with(gguf_str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

/* Layer number of "blk.N.<...>", -1 if the name has no such prefix. */
static int layer_of(gguf_str s)
{
    if (s.len < 5 || memcmp(s.ptr, "blk.", 4) != 0)
        return -1;
    int v = 0;
    uint64_t i = 4;
    for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9' && v < 100000; i++)
        v = v * 10 + (s.ptr[i] - '0');
    return i > 4 && i < s.len && s.ptr[i] == '.' ? v : -1;
}

/* A type whose block fits a row of n values: the wanted one, else the
 * nearest 32-value type of at least as many bits, else F16. */
static int fit_type(int type, uint64_t n)
{
    if (n % rh_type_get(type)->blck == 0)
        return type;
    switch (type) {
    case RH_TYPE_Q4_K: type = RH_TYPE_Q5_0; break;
    case RH_TYPE_Q5_K: type = RH_TYPE_Q5_1; break;
    case RH_TYPE_Q6_K: type = RH_TYPE_Q8_0; break;
    default: break;
    }
    return n % rh_type_get(type)->blck == 0 ? type : RH_TYPE_F16;
}

/* The output type of one tensor under recipe r (see docs/quant.md). */
static int choose_type(const recipe *r, const gguf_tensor *t, bool has_output, int n_layer)
{
    if (t->n_dims < 2 || t->ne[1] < 2)
        return RH_TYPE_F32; /* norms, biases, scalars */
    int type = r->base;
    bool quantized = type != RH_TYPE_F32 && type != RH_TYPE_F16 && type != RH_TYPE_BF16;
    bool is_out = gguf_str_eq(t->name, "output.weight") ||
                  (!has_output && gguf_str_eq(t->name, "token_embd.weight"));
    if (quantized && is_out && type != RH_TYPE_Q8_0)
        type = RH_TYPE_Q6_K; /* the output projection gets at least 6 bits */
    if (r->mix && (ends_with(t->name, ".attn_v.weight") || ends_with(t->name, ".ffn_down.weight"))) {
        int l = layer_of(t->name);
        /* first and last quarter of the layers: half of them */
        if (l >= 0 && n_layer > 0 && (4 * l < n_layer || 4 * l >= 3 * n_layer))
            type = RH_TYPE_Q6_K;
    }
    return fit_type(type, t->ne[0]);
}

static int max_layer(const gguf_file *f)
{
    int n = 0;
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        int l = layer_of(gguf_tensor_at(f, i)->name);
        if (l + 1 > n)
            n = l + 1;
    }
    return n;
}

typedef struct conv_job {
    const gguf_tensor *t;
    int type;
    int64_t n;          /* values per row */
    uint64_t rows, rows_per_item;
    size_t in_rs, out_rs;
    float *rowbuf;      /* n floats per thread */
    uint8_t *dst;
    rh_pool *pool;
    atomic_int failed;
} conv_job;

/* Rows in items of rows_per_item, dealt out by the pool (each thread its
 * own contiguous range first): dequantize to f32, quantize to the target. */
static void conv_task(void *arg, int ith, int nth)
{
    conv_job *j = arg;
    float *row = j->rowbuf + (size_t)ith * (size_t)j->n;
    uint64_t items = (j->rows + j->rows_per_item - 1) / j->rows_per_item, seq = 0;
    for (;;) {
        int64_t it = nth == 1 ? (seq < items ? (int64_t)seq++ : -1) : rh_pool_take(j->pool, ith);
        if (it < 0 || atomic_load_explicit(&j->failed, memory_order_relaxed))
            break;
        uint64_t r0 = (uint64_t)it * j->rows_per_item;
        uint64_t r1 = r0 + j->rows_per_item < j->rows ? r0 + j->rows_per_item : j->rows;
        for (uint64_t r = r0; r < r1; r++) {
            rh_dequantize_row(j->t->type, (const uint8_t *)j->t->data + r * j->in_rs, row, j->n);
            if (rh_quantize_row(j->type, row, j->dst + r * j->out_rs, j->n) != j->out_rs) {
                atomic_store(&j->failed, 1);
                return;
            }
        }
    }
}

/* Convert one tensor to `type` into a fresh buffer (*out, *nbytes), rows
 * shared out among the threads of `pool`. */
static int convert_tensor(rh_pool *pool, const gguf_tensor *t, int type, void **out,
                          uint64_t *nbytes, rh_error *err)
{
    int rc = RH_OK;
    conv_job j = {.t = t, .type = type, .n = (int64_t)t->ne[0], .rows = 1, .pool = pool};
    atomic_init(&j.failed, 0);
    for (uint32_t d = 1; d < t->n_dims; d++)
        j.rows *= t->ne[d];
    j.in_rs = rh_row_size(t->type, j.n);
    j.out_rs = rh_row_size(type, j.n);
    const rh_type_info *ti = rh_type_get(t->type);
    int nth = rh_pool_size(pool);
    if (!ti || !ti->can_dequant || j.in_rs == 0) {
        rc = rh_error_set(err, RH_EUNSUPPORTED, "tensor '%.*s' has type %s, which cannot be converted",
                          (int)t->name.len, t->name.ptr, ti ? ti->name : "(unknown)");
        goto out;
    }
    if (j.out_rs == 0 || j.rows > SIZE_MAX / j.out_rs) {
        rc = rh_error_set(err, RH_ERANGE, "tensor '%.*s' is too large", (int)t->name.len, t->name.ptr);
        goto out;
    }
    j.rowbuf = rh_malloc_array((size_t)nth * (size_t)j.n, sizeof *j.rowbuf);
    j.dst = rh_malloc(j.out_rs * (size_t)j.rows);
    if (!j.rowbuf || !j.dst) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory converting tensor '%.*s'", (int)t->name.len,
                          t->name.ptr);
        goto out;
    }
    /* about 16 items per thread, each at least one row */
    j.rows_per_item = j.rows / ((uint64_t)nth * 16) + 1;
    if (nth > 1) {
        rh_pool_split(pool, (int64_t)((j.rows + j.rows_per_item - 1) / j.rows_per_item));
        rh_pool_run(pool, conv_task, &j);
    } else {
        conv_task(&j, 0, 1);
    }
    if (atomic_load(&j.failed)) {
        rc = rh_error_set(err, RH_EINTERNAL, "quantizing tensor '%.*s' failed", (int)t->name.len,
                          t->name.ptr);
        goto out;
    }
    *out = j.dst;
    *nbytes = j.out_rs * j.rows;
    j.dst = NULL;
out:
    rh_free(j.rowbuf);
    rh_free(j.dst);
    return rc;
}

static int quantize_file(const char *in, const char *outp, const recipe *r, int n_threads,
                         rh_error *err)
{
    rh_pool *pool = NULL;
    gguf_file *f = NULL;
    gguf_writer *w = NULL;
    void **bufs = NULL;
    size_t n_t = 0;
    uint64_t bytes_in = 0, bytes_out = 0;
    int counts[RH_TYPE_COUNT] = {0};
    int rc = gguf_open(in, &f, err);
    if (rc != RH_OK)
        goto out;
    if (!(pool = rh_pool_new(n_threads))) {
        rc = rh_error_set(err, RH_ENOMEM, "cannot start threads");
        goto out;
    }
    if ((rc = gguf_writer_new(&w)) != RH_OK) {
        rh_error_set(err, rc, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        if ((rc = gguf_writer_copy_kv(w, kv)) != RH_OK) {
            rh_error_set(err, rc, "cannot copy metadata '%.*s'", (int)kv->key.len, kv->key.ptr);
            goto out;
        }
    }
    rc = gguf_writer_set_u32(w, "general.file_type", (uint32_t)r->ftype);
    if (rc == RH_OK && r->base != RH_TYPE_F32 && r->base != RH_TYPE_F16 && r->base != RH_TYPE_BF16)
        rc = gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (rc != RH_OK) {
        rh_error_set(err, rc, "cannot set general.file_type");
        goto out;
    }

    n_t = gguf_tensor_count(f);
    bufs = rh_calloc(n_t ? n_t : 1, sizeof *bufs);
    if (!bufs) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    bool has_output = gguf_find_tensor(f, "output.weight") != NULL;
    int n_layer = max_layer(f);
    bool lossy = false;
    for (size_t i = 0; i < n_t; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        int type = choose_type(r, t, has_output, n_layer);
        const void *data = t->data;
        uint64_t nbytes = t->nbytes;
        if (type != t->type) {
            if (t->type != RH_TYPE_F32 && t->type != RH_TYPE_F16 && t->type != RH_TYPE_BF16)
                lossy = true;
            if ((rc = convert_tensor(pool, t, type, &bufs[i], &nbytes, err)) != RH_OK)
                goto out;
            data = bufs[i];
        }
        char name[GGUF_MAX_NAME_LEN + 1];
        if (t->name.len >= sizeof name) {
            rc = rh_error_set(err, RH_EFORMAT, "tensor name too long");
            goto out;
        }
        memcpy(name, t->name.ptr, (size_t)t->name.len);
        name[t->name.len] = 0;
        rc = gguf_writer_add_tensor(w, name, type, t->n_dims, t->ne, data, nbytes, true);
        if (rc != RH_OK) {
            rh_error_set(err, rc, "cannot add tensor '%s' to the output", name);
            goto out;
        }
        counts[type]++;
        bytes_in += t->nbytes;
        bytes_out += nbytes;
    }
    if ((rc = gguf_writer_write(w, outp, err)) != RH_OK)
        goto out;

    printf("%s -> %s (%s): %zu tensors, %.1f MiB -> %.1f MiB;", in, outp, r->name, n_t,
           (double)bytes_in / 1048576.0, (double)bytes_out / 1048576.0);
    for (int t = 0; t < RH_TYPE_COUNT; t++)
        if (counts[t])
            printf(" %s x%d", rh_type_get(t)->name, counts[t]);
    printf("\n");
    if (lossy)
        fprintf(stderr, "note: some tensors were already quantized; converting them again adds "
                        "error (start from an F16/BF16/F32 model where possible)\n");
out:
    if (bufs)
        for (size_t i = 0; i < n_t; i++)
            rh_free(bufs[i]);
    rh_free(bufs);
    gguf_writer_free(w);
    gguf_close(f);
    rh_pool_free(pool);
    return rc;
}

int cmd_model_quantize(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    int n_threads = 0;
    const char *pos[3];
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--threads") == 0) && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 256, &n_threads)) {
                fprintf(stderr, "rathaus model quantize: bad thread count '%s'\n", argv[i]);
                return 2;
            }
        } else if (n_pos < 3) {
            pos[n_pos++] = argv[i];
        } else {
            n_pos = 4;
            break;
        }
    }
    if (n_pos != 3) {
        usage(stderr);
        return 2;
    }
    const recipe *r = NULL;
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++)
        if (strcasecmp(pos[2], recipes[i].name) == 0)
            r = &recipes[i];
    if (!r) {
        fprintf(stderr, "rathaus model quantize: unknown type '%s'\n", pos[2]);
        usage(stderr);
        return 2;
    }
    rh_error err = {0};
    if (quantize_file(pos[0], pos[1], r, n_threads, &err) != RH_OK) {
        fprintf(stderr, "rathaus model quantize: %s\n", err.msg[0] ? err.msg : rh_strerror(err.code));
        return 1;
    }
    return 0;
}
