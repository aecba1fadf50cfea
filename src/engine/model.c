/*
 * model.c - loading a model from GGUF: architecture, hyperparameters,
 * binding the weight tensors (pointers into the read-only mapping, nothing
 * copied except small f32 vectors), validating all of it as untrusted input;
 * and inference contexts (F16 KV cache, working buffers).
 *
 * The forward passes live in model_decoder.c (llama/qwen2/qwen3) and
 * model_bert.c (bert encoder); model_int.h holds the shared structures.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/model_int.h"
#include "engine/quant.h"

/* Sanity limits on hyperparameters: far above any real model, low enough
 * that products of them cannot overflow 64-bit sizes. */
#define MAX_EMBD 65536
#define MAX_LAYERS 1024
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 1024
#define MAX_FF (1 << 18)
#define MAX_QDIM (1 << 17)
#define MAX_VOCAB (1 << 22)
#define MAX_CTX (1 << 22)
#define MAX_SEQ 4096
#define MAX_KV_BYTES ((uint64_t)64 << 30)
#define DEFAULT_BATCH 512

typedef struct loader {
    rh_model *m;
    const char *path;
    rh_error *err;
} loader;

/* ---- metadata --------------------------------------------------------- */

/* <arch>.<suffix> as an unsigned value in [lo, hi]. Absent: *out keeps its
 * default unless `required`. */
static int get_hp(loader *L, const char *suffix, bool required, uint32_t lo, uint32_t hi,
                  uint32_t *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->m->arch_name, suffix);
    uint32_t v = 0;
    int rc = gguf_get_u32(L->m->gf, key, &v);
    if (rc == RH_ENOTFOUND) {
        if (!required)
            return RH_OK;
        return rh_error_set(L->err, RH_EFORMAT, "%s: required metadata key '%s' is missing",
                            L->path, key);
    }
    if (rc != RH_OK)
        return rh_error_set(L->err, RH_EFORMAT,
                            "%s: metadata key '%s' is not an unsigned integer", L->path, key);
    if (v < lo || v > hi)
        return rh_error_set(L->err, RH_ERANGE,
                            "%s: metadata '%s' = %" PRIu32 " is outside the supported range %" PRIu32
                            "..%" PRIu32,
                            L->path, key, v, lo, hi);
    *out = v;
    return RH_OK;
}

static int get_hp_f32(loader *L, const char *suffix, float lo, float hi, float *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->m->arch_name, suffix);
    float v = 0;
    int rc = gguf_get_f32(L->m->gf, key, &v);
    if (rc == RH_ENOTFOUND)
        return RH_OK;
    if (rc != RH_OK)
        return rh_error_set(L->err, RH_EFORMAT, "%s: metadata key '%s' is not a float", L->path, key);
    if (!(v >= lo && v <= hi))
        return rh_error_set(L->err, RH_ERANGE, "%s: metadata '%s' = %g is outside %g..%g", L->path,
                            key, (double)v, (double)lo, (double)hi);
    *out = v;
    return RH_OK;
}

/* ---- tensors ---------------------------------------------------------- */

/* Types rh_matmul multiplies. */
static bool mat_type_ok(int t)
{
    switch (t) {
    case RH_TYPE_F32: case RH_TYPE_F16: case RH_TYPE_BF16:
    case RH_TYPE_Q4_0: case RH_TYPE_Q4_1: case RH_TYPE_Q5_0: case RH_TYPE_Q5_1:
    case RH_TYPE_Q8_0: case RH_TYPE_Q2_K: case RH_TYPE_Q3_K: case RH_TYPE_Q4_K:
    case RH_TYPE_Q5_K: case RH_TYPE_Q6_K: {
        const rh_type_info *ti = rh_type_get(t);
        return ti && ti->can_dequant;
    }
    default:
        return false;
    }
}

static const char *type_name(int t)
{
    const rh_type_info *ti = rh_type_get(t);
    return ti ? ti->name : "unknown";
}

/* Find a tensor and check that it has exactly the shape [ne0, ne1]. */
static int find_shaped(loader *L, const char *name, int64_t ne0, int64_t ne1, bool required,
                       const gguf_tensor **out)
{
    const gguf_tensor *t = gguf_find_tensor(L->m->gf, name);
    *out = NULL;
    if (!t) {
        if (!required)
            return RH_OK;
        return rh_error_set(L->err, RH_EFORMAT,
                            "%s: tensor '%s' is missing (the file is incomplete or does not match "
                            "its %s metadata)",
                            L->path, name, L->m->arch_name);
    }
    bool ok = t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS && t->ne[0] == (uint64_t)ne0 &&
              t->ne[1] == (uint64_t)ne1;
    for (uint32_t d = 2; d < GGUF_MAX_DIMS; d++)
        if (t->ne[d] != 1)
            ok = false;
    if (!ok)
        return rh_error_set(L->err, RH_EFORMAT,
                            "%s: tensor '%s' has shape [%" PRIu64 ", %" PRIu64 ", %" PRIu64
                            "], expected [%" PRId64 ", %" PRId64 "] from the metadata",
                            L->path, name, t->ne[0], t->ne[1], t->ne[2], ne0, ne1);
    if (!t->data || rh_row_size(t->type, ne0) == 0 ||
        t->nbytes < rh_row_size(t->type, ne0) * (uint64_t)ne1)
        return rh_error_set(L->err, RH_EFORMAT,
                            "%s: tensor '%s' of type %s has an inconsistent size", L->path, name,
                            type_name(t->type));
    *out = t;
    return RH_OK;
}

static int bind_mat(loader *L, const char *name, int64_t cols, int64_t rows, bool required,
                    rhm_mat *out)
{
    const gguf_tensor *t;
    int rc = find_shaped(L, name, cols, rows, required, &t);
    memset(out, 0, sizeof *out);
    if (rc != RH_OK || !t)
        return rc;
    if (!mat_type_ok(t->type))
        return rh_error_set(L->err, RH_EUNSUPPORTED,
                            "%s: tensor '%s' has type %s, which the engine cannot multiply "
                            "(supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K)",
                            L->path, name, type_name(t->type));
    if ((uintptr_t)t->data % 4 != 0)
        return rh_error_set(L->err, RH_EUNSUPPORTED,
                            "%s: tensor '%s' is not 4-byte aligned in the file", L->path, name);
    out->type = t->type;
    out->data = t->data;
    out->cols = cols;
    out->rows = rows;
    return RH_OK;
}

/* A small vector, copied to an owned f32 array. */
static int bind_vec(loader *L, const char *name, int64_t n, bool required, float **out)
{
    const gguf_tensor *t;
    *out = NULL;
    int rc = find_shaped(L, name, n, 1, required, &t);
    if (rc != RH_OK || !t)
        return rc;
    const rh_type_info *ti = rh_type_get(t->type);
    if (!ti || !ti->can_dequant)
        return rh_error_set(L->err, RH_EUNSUPPORTED, "%s: tensor '%s' has unsupported type %s",
                            L->path, name, type_name(t->type));
    float *v = rh_malloc_array((size_t)n, sizeof(float));
    if (!v)
        return rh_error_set(L->err, RH_ENOMEM, "out of memory loading '%s'", name);
    if (t->type == RH_TYPE_F32)
        memcpy(v, t->data, (size_t)n * sizeof(float));
    else
        rh_dequantize_row(t->type, t->data, v, n);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            rh_free(v);
            return rh_error_set(L->err, RH_EFORMAT, "%s: tensor '%s' contains NaN or infinity",
                                L->path, name);
        }
    }
    *out = v;
    return RH_OK;
}

static int bind_layer_mat(loader *L, int il, const char *what, int64_t cols, int64_t rows,
                          bool required, rhm_mat *out)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.weight", il, what);
    return bind_mat(L, name, cols, rows, required, out);
}

static int bind_layer_vec(loader *L, int il, const char *what, const char *suffix, int64_t n,
                          bool required, float **out)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.%s", il, what, suffix);
    return bind_vec(L, name, n, required, out);
}

/* ---- architecture ----------------------------------------------------- */

static int load_hparams(loader *L)
{
    rh_model *m = L->m;
    rh_model_info *in = &m->info;
    int rc;
    uint32_t n_embd = 0, n_layer = 0, n_head = 0, n_ff = 0, n_ctx = 2048;
    bool bert = in->arch == RH_ARCH_BERT;
    uint32_t n_expert = 0;
    char ekey[128];
    snprintf(ekey, sizeof ekey, "%s.expert_count", m->arch_name);
    if (gguf_get_u32(m->gf, ekey, &n_expert) == RH_OK && n_expert > 0)
        return rh_error_set(L->err, RH_EUNSUPPORTED,
                            "%s: mixture-of-experts models (%s = %" PRIu32 ") are not supported",
                            L->path, ekey, n_expert);

    if ((rc = get_hp(L, "embedding_length", true, 1, MAX_EMBD, &n_embd)) ||
        (rc = get_hp(L, "block_count", true, 1, MAX_LAYERS, &n_layer)) ||
        (rc = get_hp(L, "attention.head_count", true, 1, MAX_HEADS, &n_head)) ||
        (rc = get_hp(L, "feed_forward_length", true, 1, MAX_FF, &n_ff)) ||
        (rc = get_hp(L, "context_length", false, 1, MAX_CTX, &n_ctx)))
        return rc;
    uint32_t n_head_kv = n_head;
    if ((rc = get_hp(L, "attention.head_count_kv", false, 1, MAX_HEADS, &n_head_kv)))
        return rc;
    if (n_head % n_head_kv != 0)
        return rh_error_set(L->err, RH_EFORMAT,
                            "%s: head_count %" PRIu32 " is not a multiple of head_count_kv %" PRIu32,
                            L->path, n_head, n_head_kv);
    uint32_t head_dim = n_embd / n_head;
    if (n_embd % n_head != 0) { /* only fatal without an explicit key_length */
        char key[128];
        snprintf(key, sizeof key, "%s.attention.key_length", m->arch_name);
        if (!gguf_find_kv(m->gf, key))
            return rh_error_set(L->err, RH_EFORMAT,
                                "%s: embedding_length %" PRIu32
                                " is not divisible by head_count %" PRIu32,
                                L->path, n_embd, n_head);
    }
    if ((rc = get_hp(L, "attention.key_length", false, 1, MAX_HEAD_DIM, &head_dim)))
        return rc;
    uint32_t v_dim = head_dim;
    if ((rc = get_hp(L, "attention.value_length", false, 1, MAX_HEAD_DIM, &v_dim)))
        return rc;
    if (v_dim != head_dim)
        return rh_error_set(L->err, RH_EUNSUPPORTED,
                            "%s: attention key_length %" PRIu32 " != value_length %" PRIu32
                            " is not supported",
                            L->path, head_dim, v_dim);
    if (head_dim < 2 || head_dim > MAX_HEAD_DIM)
        return rh_error_set(L->err, RH_ERANGE, "%s: head dimension %" PRIu32 " is out of range",
                            L->path, head_dim);
    uint32_t n_rot = head_dim;
    if (!bert && (rc = get_hp(L, "rope.dimension_count", false, 2, MAX_HEAD_DIM, &n_rot)))
        return rc;
    if (n_rot > head_dim || n_rot % 2 != 0)
        return rh_error_set(L->err, RH_EFORMAT,
                            "%s: rope.dimension_count %" PRIu32
                            " must be even and at most the head dimension %" PRIu32,
                            L->path, n_rot, head_dim);

    if ((uint64_t)n_head * head_dim > MAX_QDIM)
        return rh_error_set(L->err, RH_ERANGE,
                            "%s: %" PRIu32 " heads x %" PRIu32 " dimensions is too large", L->path,
                            n_head, head_dim);
    in->n_embd = (int32_t)n_embd;
    in->n_layer = (int32_t)n_layer;
    in->n_head = (int32_t)n_head;
    in->n_head_kv = (int32_t)n_head_kv;
    in->head_dim = (int32_t)head_dim;
    in->n_ff = (int32_t)n_ff;
    in->n_ctx_train = n_ctx;
    m->n_rot = (int)n_rot;
    m->q_dim = (int64_t)n_head * head_dim;
    m->kv_dim = (int64_t)n_head_kv * head_dim;

    in->rope_base = 10000.0f;
    if ((rc = get_hp_f32(L, "rope.freq_base", 1.0f, 1e12f, &in->rope_base)))
        return rc;
    m->rope_scale = 1.0f;
    if (!bert) {
        char key[128];
        gguf_str st = {0};
        snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
        if (gguf_get_str(m->gf, key, &st) == RH_OK && !gguf_str_eq(st, "none")) {
            if (!gguf_str_eq(st, "linear"))
                return rh_error_set(L->err, RH_EUNSUPPORTED,
                                    "%s: rope scaling type '%.*s' is not supported (only none, "
                                    "linear and Llama 3.1 rope_freqs)",
                                    L->path, (int)(st.len > 32 ? 32 : st.len), st.ptr);
            float factor = 1.0f;
            if ((rc = get_hp_f32(L, "rope.scaling.factor", 1e-3f, 1e3f, &factor)))
                return rc;
            m->rope_scale = 1.0f / factor;
        }
    }
    m->rope_neox = in->arch == RH_ARCH_QWEN2 || in->arch == RH_ARCH_QWEN3;

    if (bert) {
        in->norm_eps = 1e-12f;
        if ((rc = get_hp_f32(L, "attention.layer_norm_epsilon", 0.0f, 1.0f, &in->norm_eps)))
            return rc;
    } else {
        in->norm_eps = 1e-5f;
        if ((rc = get_hp_f32(L, "attention.layer_norm_rms_epsilon", 0.0f, 1.0f, &in->norm_eps)))
            return rc;
    }

    uint32_t pool = bert ? RH_POOL_CLS : RH_POOL_NONE;
    if ((rc = get_hp(L, "pooling_type", false, 0, 3, &pool)))
        return rc;
    in->pooling = (rh_pooling)pool;
    in->causal = !bert;
    if (bert) {
        char key[128];
        bool causal = false;
        snprintf(key, sizeof key, "%s.attention.causal", m->arch_name);
        if (gguf_get_bool(m->gf, key, &causal) == RH_OK && causal)
            return rh_error_set(L->err, RH_EUNSUPPORTED,
                                "%s: causal bert models are not supported", L->path);
    }
    return RH_OK;
}

/* Every blk.N tensor must have N < block_count. */
static int check_extra_layers(loader *L)
{
    size_t n = gguf_tensor_count(L->m->gf);
    for (size_t i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_tensor_at(L->m->gf, i);
        if (t->name.len < 5 || memcmp(t->name.ptr, "blk.", 4) != 0)
            continue;
        uint64_t idx = 0;
        size_t j = 4;
        while (j < t->name.len && t->name.ptr[j] >= '0' && t->name.ptr[j] <= '9' && idx < 1000000)
            idx = idx * 10 + (uint64_t)(t->name.ptr[j++] - '0');
        if (idx >= (uint64_t)L->m->info.n_layer)
            return rh_error_set(L->err, RH_EFORMAT,
                                "%s: tensor '%.*s' belongs to a layer beyond block_count %d",
                                L->path, (int)(t->name.len > 64 ? 64 : t->name.len), t->name.ptr,
                                L->m->info.n_layer);
    }
    return RH_OK;
}

static int bind_decoder(loader *L)
{
    rh_model *m = L->m;
    const rh_model_info *in = &m->info;
    int64_t E = in->n_embd, V = in->n_vocab, F = in->n_ff, hd = in->head_dim;
    bool qwen2 = in->arch == RH_ARCH_QWEN2, qwen3 = in->arch == RH_ARCH_QWEN3;
    int rc;

    if ((rc = bind_mat(L, "output.weight", E, V, false, &m->output)))
        return rc;
    if (!m->output.data) {
        if (!mat_type_ok(m->tok_embd.type))
            return rh_error_set(L->err, RH_EUNSUPPORTED,
                                "%s: tied output uses token_embd.weight of type %s, which the "
                                "engine cannot multiply",
                                L->path, type_name(m->tok_embd.type));
        m->output = m->tok_embd;
    }
    if ((rc = bind_vec(L, "output_norm.weight", E, true, &m->out_norm)))
        return rc;

    /* Llama 3.1: per-dimension rope frequency factors */
    const gguf_tensor *rf = gguf_find_tensor(m->gf, "rope_freqs.weight");
    if (rf && (rc = bind_vec(L, "rope_freqs.weight", m->n_rot / 2, true, &m->rope_ff)))
        return rc;
    if (m->rope_ff)
        for (int i = 0; i < m->n_rot / 2; i++)
            if (!(m->rope_ff[i] > 0.0f))
                return rh_error_set(L->err, RH_EFORMAT,
                                    "%s: rope_freqs.weight contains a non-positive factor", L->path);

    for (int il = 0; il < in->n_layer; il++) {
        rhm_layer *ly = &m->layers[il];
        if ((rc = bind_layer_vec(L, il, "attn_norm", "weight", E, true, &ly->norm1)) ||
            (rc = bind_layer_mat(L, il, "attn_q", E, m->q_dim, true, &ly->wq)) ||
            (rc = bind_layer_mat(L, il, "attn_k", E, m->kv_dim, true, &ly->wk)) ||
            (rc = bind_layer_mat(L, il, "attn_v", E, m->kv_dim, true, &ly->wv)) ||
            (rc = bind_layer_mat(L, il, "attn_output", m->q_dim, E, true, &ly->wo)) ||
            (rc = bind_layer_vec(L, il, "attn_q", "bias", m->q_dim, qwen2, &ly->bq)) ||
            (rc = bind_layer_vec(L, il, "attn_k", "bias", m->kv_dim, qwen2, &ly->bk)) ||
            (rc = bind_layer_vec(L, il, "attn_v", "bias", m->kv_dim, qwen2, &ly->bv)) ||
            (rc = bind_layer_vec(L, il, "attn_output", "bias", E, false, &ly->bo)) ||
            (rc = bind_layer_vec(L, il, "attn_q_norm", "weight", hd, qwen3, &ly->q_norm)) ||
            (rc = bind_layer_vec(L, il, "attn_k_norm", "weight", hd, qwen3, &ly->k_norm)) ||
            (rc = bind_layer_vec(L, il, "ffn_norm", "weight", E, true, &ly->norm2)) ||
            (rc = bind_layer_mat(L, il, "ffn_gate", E, F, true, &ly->ffn_gate)) ||
            (rc = bind_layer_mat(L, il, "ffn_up", E, F, true, &ly->ffn_up)) ||
            (rc = bind_layer_mat(L, il, "ffn_down", F, E, true, &ly->ffn_down)))
            return rc;
        if ((ly->q_norm == NULL) != (ly->k_norm == NULL))
            return rh_error_set(L->err, RH_EFORMAT,
                                "%s: layer %d has only one of attn_q_norm / attn_k_norm", L->path, il);
    }
    return RH_OK;
}

static int bind_bert(loader *L)
{
    rh_model *m = L->m;
    const rh_model_info *in = &m->info;
    int64_t E = in->n_embd, F = in->n_ff;
    int rc;
    const gguf_tensor *pt = gguf_find_tensor(m->gf, "position_embd.weight");
    if (!pt || pt->ne[1] == 0 || pt->ne[1] > MAX_CTX)
        return rh_error_set(L->err, RH_EFORMAT,
                            "%s: tensor 'position_embd.weight' is missing or has no rows", L->path);
    int64_t n_pos = (int64_t)pt->ne[1];
    if ((rc = bind_mat(L, "position_embd.weight", E, n_pos, true, &m->pos_embd)))
        return rc;
    const gguf_tensor *tt = gguf_find_tensor(m->gf, "token_types.weight");
    if (tt && (tt->ne[1] == 0 || tt->ne[1] > 16))
        return rh_error_set(L->err, RH_EFORMAT, "%s: tensor 'token_types.weight' has %" PRIu64
                            " rows", L->path, tt->ne[1]);
    if (tt && (rc = bind_mat(L, "token_types.weight", E, (int64_t)tt->ne[1], true, &m->tok_types)))
        return rc;
    if ((rc = bind_vec(L, "token_embd_norm.weight", E, true, &m->embd_norm)) ||
        (rc = bind_vec(L, "token_embd_norm.bias", E, true, &m->embd_norm_b)))
        return rc;
    if (in->n_ctx_train > (uint32_t)n_pos)
        m->info.n_ctx_train = (uint32_t)n_pos;

    for (int il = 0; il < in->n_layer; il++) {
        rhm_layer *ly = &m->layers[il];
        if ((rc = bind_layer_mat(L, il, "attn_q", E, m->q_dim, true, &ly->wq)) ||
            (rc = bind_layer_mat(L, il, "attn_k", E, m->kv_dim, true, &ly->wk)) ||
            (rc = bind_layer_mat(L, il, "attn_v", E, m->kv_dim, true, &ly->wv)) ||
            (rc = bind_layer_mat(L, il, "attn_output", m->q_dim, E, true, &ly->wo)) ||
            (rc = bind_layer_vec(L, il, "attn_q", "bias", m->q_dim, true, &ly->bq)) ||
            (rc = bind_layer_vec(L, il, "attn_k", "bias", m->kv_dim, true, &ly->bk)) ||
            (rc = bind_layer_vec(L, il, "attn_v", "bias", m->kv_dim, true, &ly->bv)) ||
            (rc = bind_layer_vec(L, il, "attn_output", "bias", E, true, &ly->bo)) ||
            (rc = bind_layer_vec(L, il, "attn_output_norm", "weight", E, true, &ly->norm1)) ||
            (rc = bind_layer_vec(L, il, "attn_output_norm", "bias", E, true, &ly->norm1_b)) ||
            (rc = bind_layer_mat(L, il, "ffn_up", E, F, true, &ly->ffn_up)) ||
            (rc = bind_layer_vec(L, il, "ffn_up", "bias", F, true, &ly->ffn_up_b)) ||
            (rc = bind_layer_mat(L, il, "ffn_down", F, E, true, &ly->ffn_down)) ||
            (rc = bind_layer_vec(L, il, "ffn_down", "bias", E, true, &ly->ffn_down_b)) ||
            (rc = bind_layer_vec(L, il, "layer_output_norm", "weight", E, true, &ly->norm2)) ||
            (rc = bind_layer_vec(L, il, "layer_output_norm", "bias", E, true, &ly->norm2_b)))
            return rc;
        if (gguf_find_tensor(m->gf, "blk.0.ffn_gate.weight"))
            return rh_error_set(L->err, RH_EUNSUPPORTED,
                                "%s: bert variants with a gated FFN are not supported", L->path);
    }
    return RH_OK;
}

int rh_model_load(const char *path, rh_model **out, rh_error *err)
{
    int rc = RH_OK;
    loader L = {0};
    rh_model *m = NULL;
    *out = NULL;

    m = rh_calloc(1, sizeof *m);
    if (!m)
        return rh_error_set(err, RH_ENOMEM, "out of memory loading %s", path);
    L.m = m;
    L.path = path;
    L.err = err;

    if ((rc = gguf_open(path, &m->gf, err)) != RH_OK)
        goto out;

    gguf_str arch = {0};
    if (gguf_get_str(m->gf, "general.architecture", &arch) != RH_OK) {
        rc = rh_error_set(err, RH_EFORMAT, "%s: 'general.architecture' is missing", path);
        goto out;
    }
    static const struct { const char *name; rh_arch arch; } archs[] = {
        {"llama", RH_ARCH_LLAMA}, {"qwen2", RH_ARCH_QWEN2},
        {"qwen3", RH_ARCH_QWEN3}, {"bert", RH_ARCH_BERT},
    };
    bool found = false;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        if (gguf_str_eq(arch, archs[i].name)) {
            m->info.arch = archs[i].arch;
            snprintf(m->arch_name, sizeof m->arch_name, "%s", archs[i].name);
            found = true;
        }
    }
    if (!found) {
        rc = rh_error_set(err, RH_EUNSUPPORTED,
                          "%s: model architecture '%.*s' is not supported (supported: llama, "
                          "qwen2, qwen3, bert)",
                          path, (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
        goto out;
    }
    m->info.arch_name = m->arch_name;

    if ((rc = load_hparams(&L)) != RH_OK)
        goto out;
    if ((rc = rh_vocab_load(m->gf, &m->vocab, err)) != RH_OK)
        goto out;
    int32_t n_vocab = rh_vocab_size(m->vocab);
    if (n_vocab <= 0 || n_vocab > MAX_VOCAB) {
        rc = rh_error_set(err, RH_ERANGE, "%s: vocabulary size %d is out of range", path, n_vocab);
        goto out;
    }
    m->info.n_vocab = n_vocab;
    {
        char key[128];
        uint32_t vs = 0;
        snprintf(key, sizeof key, "%s.vocab_size", m->arch_name);
        if (gguf_get_u32(m->gf, key, &vs) == RH_OK && vs != (uint32_t)n_vocab) {
            rc = rh_error_set(err, RH_EFORMAT,
                              "%s: %s = %" PRIu32 " but the tokenizer has %d tokens", path, key, vs,
                              n_vocab);
            goto out;
        }
    }
    const gguf_tensor *te = gguf_find_tensor(m->gf, "token_embd.weight");
    if (!te) {
        rc = rh_error_set(err, RH_EFORMAT, "%s: tensor 'token_embd.weight' is missing", path);
        goto out;
    }
    if (te->ne[1] != (uint64_t)n_vocab) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "%s: token_embd.weight has %" PRIu64
                          " rows but the tokenizer has %d tokens (n_vocab mismatch)",
                          path, te->ne[1], n_vocab);
        goto out;
    }
    if ((rc = bind_mat(&L, "token_embd.weight", m->info.n_embd, n_vocab, true, &m->tok_embd)))
        goto out;

    if ((rc = check_extra_layers(&L)) != RH_OK)
        goto out;
    m->layers = rh_calloc((size_t)m->info.n_layer, sizeof *m->layers);
    if (!m->layers) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory loading %s", path);
        goto out;
    }
    rc = m->info.arch == RH_ARCH_BERT ? bind_bert(&L) : bind_decoder(&L);
    if (rc != RH_OK)
        goto out;

    for (size_t i = 0; i < gguf_tensor_count(m->gf); i++) {
        const gguf_tensor *t = gguf_tensor_at(m->gf, i);
        uint64_t ne = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
            ne *= t->ne[d];
        m->info.n_params += ne;
        m->info.weight_bytes += t->nbytes;
    }

out:
    if (rc != RH_OK) {
        rh_model_free(m);
        return rc;
    }
    *out = m;
    return RH_OK;
}

void rh_model_free(rh_model *m)
{
    if (!m)
        return;
    if (m->layers) {
        for (int i = 0; i < m->info.n_layer; i++) {
            rhm_layer *ly = &m->layers[i];
            float *v[] = {ly->norm1, ly->norm1_b, ly->norm2, ly->norm2_b, ly->bq, ly->bk,
                          ly->bv, ly->bo, ly->q_norm, ly->k_norm, ly->ffn_up_b, ly->ffn_down_b};
            for (size_t j = 0; j < sizeof v / sizeof v[0]; j++)
                rh_free(v[j]);
        }
        rh_free(m->layers);
    }
    rh_free(m->embd_norm);
    rh_free(m->embd_norm_b);
    rh_free(m->out_norm);
    rh_free(m->rope_ff);
    rh_vocab_free(m->vocab);
    gguf_close(m->gf);
    rh_free(m);
}

const rh_model_info *rh_model_get_info(const rh_model *m) { return &m->info; }
const rh_vocab *rh_model_vocab(const rh_model *m) { return m->vocab; }
const gguf_file *rh_model_gguf(const rh_model *m) { return m->gf; }

/* ---- contexts --------------------------------------------------------- */

int rh_ctx_new(rh_model *m, int n_ctx, int n_seq, rh_pool *pool, rh_ctx **out, rh_error *err)
{
    int rc = RH_OK;
    const rh_model_info *in = &m->info;
    bool bert = in->arch == RH_ARCH_BERT;
    rh_ctx *c = NULL;
    *out = NULL;

    if (n_ctx <= 0)
        n_ctx = in->n_ctx_train < 4096 ? (int)in->n_ctx_train : 4096;
    if (bert && (uint32_t)n_ctx > in->n_ctx_train)
        n_ctx = (int)in->n_ctx_train;
    if (n_ctx > MAX_CTX)
        return rh_error_set(err, RH_ERANGE, "context size %d is too large (at most %d)", n_ctx,
                            MAX_CTX);
    if (n_seq <= 0 || n_seq > MAX_SEQ)
        return rh_error_set(err, RH_ERANGE, "number of sequences %d is out of range 1..%d", n_seq,
                            MAX_SEQ);
    uint64_t kv_elems = (uint64_t)in->n_layer * (uint64_t)n_seq * (uint64_t)n_ctx * (uint64_t)m->kv_dim;
    if (!bert && kv_elems * 4 > MAX_KV_BYTES)
        return rh_error_set(err, RH_ELIMIT,
                            "KV cache of %" PRIu64 " MiB for %d sequences x %d positions exceeds "
                            "the limit of %" PRIu64 " MiB: use fewer sequences or a smaller context",
                            kv_elems * 4 >> 20, n_seq, n_ctx, MAX_KV_BYTES >> 20);

    rhm_fp16_init();
    c = rh_calloc(1, sizeof *c);
    if (!c)
        return rh_error_set(err, RH_ENOMEM, "out of memory creating a context");
    c->m = m;
    c->pool = pool;
    c->n_ctx = n_ctx;
    c->n_seq = bert ? 1 : n_seq;
    c->n_threads = pool ? rh_pool_size(pool) : 1;
    if (c->n_threads < 1)
        c->n_threads = 1;
    if (bert) {
        c->n_batch = n_ctx;
    } else {
        int64_t nb = (int64_t)n_ctx * n_seq;
        c->n_batch = nb < DEFAULT_BATCH ? (int)nb : DEFAULT_BATCH;
    }
    c->score_len = bert ? c->n_batch : n_ctx;

    size_t B = (size_t)c->n_batch, E = (size_t)in->n_embd, F = (size_t)in->n_ff;
    size_t Q = (size_t)m->q_dim, KV = (size_t)m->kv_dim;
    c->seq_len = rh_calloc((size_t)c->n_seq, sizeof *c->seq_len);
    c->len_tmp = rh_calloc((size_t)c->n_seq, sizeof *c->len_tmp);
    c->x = rh_malloc_array(B * E, sizeof(float));
    c->h = rh_malloc_array(B * E, sizeof(float));
    c->o = rh_malloc_array(B * E, sizeof(float));
    c->hid = rh_malloc_array(B * E, sizeof(float));
    c->q = rh_malloc_array(B * Q, sizeof(float));
    c->att = rh_malloc_array(B * Q, sizeof(float));
    c->k = rh_malloc_array(B * KV, sizeof(float));
    c->v = rh_malloc_array(B * KV, sizeof(float));
    c->g = rh_malloc_array(B * F, sizeof(float));
    c->u = rh_malloc_array(B * F, sizeof(float));
    size_t widest = E > Q ? E : Q;
    widest = widest > F ? widest : F;
    c->xr = rh_malloc_array(B * widest, sizeof(float));
    c->rope = rh_malloc_array(B * (size_t)(m->n_rot > 0 ? m->n_rot : 2), sizeof(float));
    size_t group = (size_t)(in->n_head / in->n_head_kv);
    c->scores = rh_malloc_array((size_t)c->n_threads * group * (size_t)c->score_len, sizeof(float));
    c->qh = rh_malloc_array((size_t)c->n_threads * Q, sizeof(float));
    if (!c->seq_len || !c->len_tmp || !c->x || !c->h || !c->o || !c->hid || !c->q || !c->att ||
        !c->k || !c->v ||
        !c->g || !c->u || !c->xr || !c->rope || !c->scores || !c->qh) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory allocating working buffers");
        goto out;
    }
    if (!bert) {
        c->k_cache = rh_malloc_array((size_t)kv_elems, sizeof(uint16_t));
        c->v_cache = rh_malloc_array((size_t)kv_elems, sizeof(uint16_t));
        if (!c->k_cache || !c->v_cache) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory allocating the KV cache (%" PRIu64
                              " MiB)", kv_elems * 4 >> 20);
            goto out;
        }
    }
out:
    if (rc != RH_OK) {
        rh_ctx_free(c);
        return rc;
    }
    *out = c;
    return RH_OK;
}

void rh_ctx_free(rh_ctx *c)
{
    if (!c)
        return;
    void *p[] = {c->seq_len, c->k_cache, c->v_cache, c->x, c->h, c->q, c->k, c->v, c->att,
                 c->g, c->u, c->o, c->scores, c->hid, c->rope, c->xr, c->qh,
                 c->len_tmp, c->want};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        rh_free(p[i]);
    rh_free(c);
}

int rh_ctx_n_ctx(const rh_ctx *c) { return c->n_ctx; }

void rh_ctx_seq_clear(rh_ctx *c, int seq)
{
    if (seq >= 0 && seq < c->n_seq)
        c->seq_len[seq] = 0;
}

int rh_ctx_seq_len(const rh_ctx *c, int seq)
{
    if (seq < 0 || seq >= c->n_seq)
        return 0;
    return c->seq_len[seq];
}
