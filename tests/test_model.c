/*
 * test_model.c - tests of the model module: logits against llama.cpp's
 * reference files (../shared/testdata/reference), bert embeddings, sibling
 * quantizations, continuous batching, KV cache continuation, slot reuse,
 * the logits command, and malformed models that must give clear errors.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/model_int.h"
#include "engine/ops.h"
#include "engine/quant.h"
#include "test.h"

#define REF_TOP 10
#define MAX_REF_POS 1024

/* ---- reference files -------------------------------------------------- */

typedef struct ref_file {
    int32_t tokens[MAX_REF_POS];
    int n_tok;
    int n_pos;
    int32_t top_id[MAX_REF_POS][REF_TOP];
    float top_val[MAX_REF_POS][REF_TOP];
    int32_t greedy[64];
    int n_greedy;
} ref_file;

static int parse_ids(const char *s, int32_t *out, int max)
{
    int n = 0;
    while (*s && *s != '\n' && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        out[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

static void parse_top(const char *s, int32_t *id, float *val)
{
    for (int j = 0; j < REF_TOP; j++) {
        char *end;
        id[j] = (int32_t)strtol(s, &end, 10);
        if (*end != ':')
            FAIL("malformed top list in reference file");
        val[j] = strtof(end + 1, &end);
        s = end;
    }
}

static ref_file *ref_load(const char *rel)
{
    char *txt = test_read_file(test_data_path(rel), NULL);
    if (!txt)
        SKIP("reference file %s not found", rel);
    ref_file *r = rh_calloc(1, sizeof *r);
    ASSERT(r != NULL);
    for (char *line = txt; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "tokens:", 7) == 0) {
            r->n_tok = parse_ids(line + 7, r->tokens, MAX_REF_POS);
        } else if (strncmp(line, "pos ", 4) == 0) {
            int p = (int)strtol(line + 4, NULL, 10);
            ASSERT(p == r->n_pos && p < MAX_REF_POS);
            const char *t = strstr(line, "top:");
            ASSERT(t != NULL);
            parse_top(t + 4, r->top_id[p], r->top_val[p]);
            r->n_pos++;
        } else if (strncmp(line, "greedy:", 7) == 0) {
            r->n_greedy = parse_ids(line + 7, r->greedy, 64);
        }
    }
    rh_free(txt);
    ASSERT(r->n_tok > 0 && r->n_pos == r->n_tok);
    return r;
}

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

/* Indices of the k largest values. */
static void top_k(const float *v, int n, int k, int32_t *idx)
{
    for (int j = 0; j < k; j++)
        idx[j] = -1;
    for (int i = 0; i < n; i++) {
        if (idx[k - 1] >= 0 && !(v[i] > v[idx[k - 1]]))
            continue;
        int j = k - 1;
        while (j > 0 && (idx[j - 1] < 0 || v[i] > v[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

static rh_model *load(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    const char *path = test_data_path(rel);
    if (access(path, R_OK) != 0)
        SKIP("model %s not found", rel);
    rh_model *m = NULL;
    rh_error err = {0};
    int rc = rh_model_load(path, &m, &err);
    if (rc != RH_OK)
        FAIL("loading %s: %s", name, err.msg);
    return m;
}

/* All-position logits of `tok` decoded as one batch in slot `seq`. */
static float *decode_all(rh_ctx *c, const rh_model *m, const int32_t *tok, int n, int seq)
{
    int nv = rh_model_get_info(m)->n_vocab;
    float *lg = rh_malloc_array((size_t)n * (size_t)nv, sizeof(float));
    int32_t *pos = rh_malloc_array((size_t)n, sizeof(int32_t));
    int32_t *sq = rh_malloc_array((size_t)n, sizeof(int32_t));
    uint8_t *want = rh_malloc((size_t)n);
    ASSERT(lg && pos && sq && want);
    for (int i = 0; i < n; i++) {
        pos[i] = rh_ctx_seq_len(c, seq) + i;
        sq[i] = seq;
        want[i] = 1;
    }
    rh_batch b = {n, tok, pos, sq, want};
    rh_error err = {0};
    if (rh_decode(c, &b, lg, &err) != RH_OK)
        FAIL("rh_decode: %s", err.msg);
    rh_free(pos);
    rh_free(sq);
    rh_free(want);
    return lg;
}

/* ---- comparison with llama.cpp ---------------------------------------- */

typedef struct cmp_stats {
    double max, sum;
    long n;
    int top1_ok, positions;
} cmp_stats;

static void compare_position(const float *lg, int nv, const ref_file *r, int p, float top1_tol,
                             cmp_stats *st)
{
    int32_t ours[REF_TOP];
    top_k(lg, nv, REF_TOP, ours);
    for (int j = 0; j < REF_TOP; j++) {
        int32_t id = r->top_id[p][j];
        bool both = false;
        for (int k = 0; k < REF_TOP; k++)
            both = both || ours[k] == id;
        if (!both || id < 0 || id >= nv)
            continue;
        double d = fabs((double)lg[id] - (double)r->top_val[p][j]);
        if (d > st->max)
            st->max = d;
        st->sum += d;
        st->n++;
    }
    int best = argmax(lg, nv);
    for (int j = 0; j < REF_TOP; j++)
        if (r->top_id[p][j] == best && r->top_val[p][0] - r->top_val[p][j] <= top1_tol)
            st->top1_ok++;
    st->positions++;
}

/* Compare one model on de/en/mixed; bounds from testdata/README.md. */
static void check_reference(const char *name, bool f16)
{
    static const char *prompts[] = {"de", "en", "mixed"};
    double max_tol = f16 ? 0.05 : 1.5, mean_tol = f16 ? 0.01 : 0.25;
    float top1_tol = f16 ? 0.1f : 1.0f;
    rh_model *m = load(name);
    const rh_model_info *in = rh_model_get_info(m);
    rh_pool *pool = rh_pool_new(2);
    ASSERT(pool != NULL);
    rh_ctx *c = NULL;
    rh_error err = {0};
    if (rh_ctx_new(m, 512, 1, pool, &c, &err) != RH_OK)
        FAIL("rh_ctx_new: %s", err.msg);

    cmp_stats all = {0};
    int token_mismatch = 0;
    for (size_t pi = 0; pi < 3; pi++) {
        char rel[256];
        snprintf(rel, sizeof rel, "reference/%s.%s.ref", name, prompts[pi]);
        ref_file *r = ref_load(rel);

        /* tokenization must be identical (the tokenizer module's job, but
         * the logits below are computed on the reference tokens so that a
         * tokenizer bug cannot hide or fake a model bug) */
        snprintf(rel, sizeof rel, "prompts/%s.txt", prompts[pi]);
        size_t tlen = 0;
        char *text = test_read_file(test_data_path(rel), &tlen);
        ASSERT(text != NULL);
        int32_t *tok = NULL;
        size_t n_tok = 0;
        if (rh_tokenize(rh_model_vocab(m), text, tlen, true, true, &tok, &n_tok, &err) != RH_OK)
            FAIL("rh_tokenize: %s", err.msg);
        bool same = n_tok == (size_t)r->n_tok;
        for (size_t i = 0; same && i < n_tok; i++)
            same = tok[i] == r->tokens[i];
        if (!same) {
            fprintf(stderr, "    %s %s: tokens differ from the reference (%zu vs %d)\n", name,
                    prompts[pi], n_tok, r->n_tok);
            token_mismatch++;
        }
        rh_free(tok);
        rh_free(text);

        rh_ctx_seq_clear(c, 0);
        float *lg = decode_all(c, m, r->tokens, r->n_tok, 0);
        cmp_stats st = {0};
        for (int p = 0; p < r->n_pos; p++)
            compare_position(lg + (size_t)p * (size_t)in->n_vocab, in->n_vocab, r, p, top1_tol, &st);

        /* greedy continuation: informative only (flat random logits) */
        int agree = 0;
        int32_t next = argmax(lg + (size_t)(r->n_pos - 1) * (size_t)in->n_vocab, in->n_vocab);
        for (int g = 0; g < r->n_greedy && g < 8 && next == r->greedy[g]; g++) {
            agree++;
            rh_free(lg);
            lg = decode_all(c, m, &next, 1, 0);
            next = argmax(lg, in->n_vocab);
        }
        rh_free(lg);
        fprintf(stderr, "    %s %-5s: max |diff| %.4f mean %.4f over %ld logits, top-1 ok %d/%d, "
                        "greedy agrees for %d of the first 8 tokens\n",
                name, prompts[pi], st.max, st.n ? st.sum / (double)st.n : 0.0, st.n, st.top1_ok,
                st.positions, agree);
        all.max = st.max > all.max ? st.max : all.max;
        all.sum += st.sum;
        all.n += st.n;
        all.top1_ok += st.top1_ok;
        all.positions += st.positions;
        rh_free(r);
    }
    double mean = all.n ? all.sum / (double)all.n : 1e9;
    rh_ctx_free(c);
    rh_pool_free(pool);
    rh_model_free(m);
    ASSERT(all.n > 0);
    if (all.max > max_tol || mean > mean_tol)
        FAIL("%s: logits deviate from llama.cpp: max %.4f (bound %.2f), mean %.4f (bound %.2f)",
             name, all.max, max_tol, mean, mean_tol);
    if (all.top1_ok * 100 < all.positions * 99)
        FAIL("%s: top-1 agrees at only %d of %d positions", name, all.top1_ok, all.positions);
    ASSERT_EQ(token_mismatch, 0);
}

TEST(model_ref_llama_q8_0) { check_reference("tiny-llama-q8_0", false); }
TEST(model_ref_llama_q4_k_m) { check_reference("tiny-llama-q4_k_m", false); }
TEST(model_ref_qwen2_f16) { check_reference("tiny-qwen2-f16", true); }
TEST(model_ref_qwen2_q4_0) { check_reference("tiny-qwen2-q4_0", false); }
TEST(model_ref_qwen3_q4_k_m) { check_reference("tiny-qwen3-q4_k_m", false); }

/* ---- bert embeddings -------------------------------------------------- */

TEST(model_bert_embd)
{
    rh_model *m = load("tiny-bert-f16");
    const rh_model_info *in = rh_model_get_info(m);
    ASSERT_EQ(in->arch, RH_ARCH_BERT);
    ASSERT_EQ(in->pooling, RH_POOL_MEAN);
    ASSERT(!in->causal);
    char *ref = test_read_file(test_data_path("reference/tiny-bert-f16.embd.ref"), NULL);
    char *texts = test_read_file(test_data_path("prompts/embd.txt"), NULL);
    ASSERT(ref && texts);
    rh_pool *pool = rh_pool_new(2);
    rh_ctx *c = NULL;
    rh_error err = {0};
    if (rh_ctx_new(m, 0, 1, pool, &c, &err) != RH_OK)
        FAIL("rh_ctx_new: %s", err.msg);
    float *emb = rh_malloc_array((size_t)in->n_embd, sizeof(float));
    float *want = rh_malloc_array((size_t)in->n_embd, sizeof(float));
    ASSERT(emb && want);

    char *rl = ref, *tl = texts;
    int lines = 0;
    double worst_cos = 1.0, worst_max = 0.0;
    while (*tl) {
        char *tend = strchr(tl, '\n');
        size_t tlen = tend ? (size_t)(tend - tl) : strlen(tl);
        if (tlen == 0) {
            tl = tend ? tend + 1 : tl + tlen;
            continue;
        }
        /* the reference: a tokens line, then an embd line */
        ASSERT(strncmp(rl, "tokens:", 7) == 0);
        int32_t rtok[512];
        int rn = parse_ids(rl + 7, rtok, 512);
        rl = strchr(rl, '\n') + 1;
        ASSERT(strncmp(rl, "embd:", 5) == 0);
        char *s = rl + 5;
        for (int i = 0; i < in->n_embd; i++)
            want[i] = strtof(s, &s);
        rl = strchr(rl, '\n') ? strchr(rl, '\n') + 1 : rl + strlen(rl);

        int32_t *tok = NULL;
        size_t n_tok = 0;
        if (rh_tokenize(rh_model_vocab(m), tl, tlen, true, true, &tok, &n_tok, &err) != RH_OK)
            FAIL("rh_tokenize: %s", err.msg);
        ASSERT_EQ(n_tok, rn);
        for (int i = 0; i < rn; i++)
            ASSERT_EQ(tok[i], rtok[i]);
        if (rh_embed(c, rtok, rn, emb, &err) != RH_OK)
            FAIL("rh_embed: %s", err.msg);
        double dot = 0, na = 0, nb = 0, mx = 0;
        for (int i = 0; i < in->n_embd; i++) {
            dot += (double)emb[i] * want[i];
            na += (double)emb[i] * emb[i];
            nb += (double)want[i] * want[i];
            double d = fabs((double)emb[i] - want[i]);
            mx = d > mx ? d : mx;
        }
        double cosv = dot / sqrt(na * nb);
        fprintf(stderr, "    line %d: cosine %.7f max |diff| %.5f\n", lines, cosv, mx);
        worst_cos = cosv < worst_cos ? cosv : worst_cos;
        worst_max = mx > worst_max ? mx : worst_max;
        rh_free(tok);
        lines++;
        tl = tend ? tend + 1 : tl + tlen;
    }
    ASSERT(lines >= 4);
    rh_free(emb);
    rh_free(want);
    rh_free(ref);
    rh_free(texts);
    rh_ctx_free(c);
    rh_pool_free(pool);
    rh_model_free(m);
    if (worst_cos < 0.9999 || worst_max > 0.01)
        FAIL("bert embeddings deviate: worst cosine %.7f (>= 0.9999), max |diff| %.5f (<= 0.01)",
             worst_cos, worst_max);
}

/* ---- sibling quantizations -------------------------------------------- */

/* Mean |logit difference| of model `name` against `base` on the tokens of
 * a reference prompt, over base's top-10 at every position. */
static double sibling_distance(const char *name, const char *base, const ref_file *r)
{
    rh_model *a = load(name), *b = load(base);
    const rh_model_info *ia = rh_model_get_info(a);
    ASSERT_EQ(ia->n_vocab, rh_model_get_info(b)->n_vocab);
    ASSERT_EQ(ia->n_embd, rh_model_get_info(b)->n_embd);
    rh_pool *pool = rh_pool_new(2);
    rh_ctx *ca = NULL, *cb = NULL;
    rh_error err = {0};
    if (rh_ctx_new(a, 128, 1, pool, &ca, &err) != RH_OK ||
        rh_ctx_new(b, 128, 1, pool, &cb, &err) != RH_OK)
        FAIL("rh_ctx_new: %s", err.msg);
    float *la = decode_all(ca, a, r->tokens, r->n_tok, 0);
    float *lb = decode_all(cb, b, r->tokens, r->n_tok, 0);
    double sum = 0;
    long n = 0;
    int nv = ia->n_vocab;
    for (int p = 0; p < r->n_tok; p++) {
        const float *pa = la + (size_t)p * (size_t)nv, *pb = lb + (size_t)p * (size_t)nv;
        int32_t idx[REF_TOP];
        top_k(pb, nv, REF_TOP, idx);
        for (int j = 0; j < REF_TOP; j++, n++)
            sum += fabs((double)pa[idx[j]] - (double)pb[idx[j]]);
    }
    fprintf(stderr, "    %s vs %s: mean |diff| %.4f\n", name, base, sum / (double)n);
    rh_free(la);
    rh_free(lb);
    rh_ctx_free(ca);
    rh_ctx_free(cb);
    rh_pool_free(pool);
    rh_model_free(a);
    rh_model_free(b);
    return sum / (double)n;
}

/* The files without reference (Q5_K_M, Q6_K) must land closer to the
 * high-precision sibling than a coarser quantization of the same weights
 * does: a wrong dequantization would land far outside. */
static void check_sibling(const char *name, const char *base, const char *coarse, double bound)
{
    char rel[256];
    snprintf(rel, sizeof rel, "reference/%s.en.ref", base);
    ref_file *r = ref_load(rel);
    double d = sibling_distance(name, base, r);
    double dc = sibling_distance(coarse, base, r);
    rh_free(r);
    ASSERT(d < dc);
    ASSERT(d <= bound);
}

/* The SIMD primitives of the encoder against the portable formulas: GELU
 * (via x / (1 + e^-2u) instead of tanhf), dot product and weighted sum. */
TEST(model_vec_primitives)
{
    if (strcmp(rh_ops_kernel_name(), "scalar") == 0)
        SKIP("no SIMD kernel set on this CPU");
    enum { N = 4099 };
    static float x[N], g[N], w[64], v[64 * 72], out[72];
    for (int i = 0; i < N; i++)
        x[i] = (float)(i - N / 2) * 0.01f; /* -20.5 .. 20.5 */
    x[0] = -200.0f;
    x[1] = 200.0f;
    x[2] = 0.0f;
    x[3] = -1e-30f;
    memcpy(g, x, sizeof g);
    rhm_gelu_avx2(g, N);
    for (int i = 0; i < N; i++) {
        double xv = x[i];
        double want = 0.5 * xv * (1.0 + tanh(0.7978845608028654 * xv * (1.0 + 0.044715 * xv * xv)));
        double err = fabs(g[i] - want);
        if (err > 2e-6 * (1.0 + fabs(want)))
            FAIL("gelu(%g) = %.9g, want %.9g", xv, g[i], want);
    }
    for (int i = 0; i < 64; i++)
        w[i] = (float)((i * 37) % 17) / 17.0f - 0.4f;
    for (int i = 0; i < 64 * 72; i++)
        v[i] = (float)((i * 53) % 101) / 50.0f - 1.0f;
    for (int n = 1; n <= 72; n += 7) {
        double want = 0;
        for (int d = 0; d < n; d++)
            want += (double)v[d] * v[72 + d];
        ASSERT(fabs(rhm_dot_f32_avx2(v, v + 72, n) - want) < 1e-4);
        rhm_wsum_f32_avx2(out, w, v, 72, 64, n);
        for (int d = 0; d < n; d++) {
            double s = 0;
            for (int p = 0; p < 64; p++)
                s += (double)w[p] * v[p * 72 + d];
            ASSERT(fabs(out[d] - s) < 1e-4);
        }
    }
}

/* The head-group attention primitives (AVX-512 and AVX2): a head's scores
 * and weighted sums are the same bits whether it is computed alone or with
 * the others of its group (batch invariance), and close to a plain double
 * computation. */
typedef void (*scores_fn)(float *, size_t, const float *, int, int, const uint16_t *, size_t, int,
                          float);
typedef void (*wsum_heads_fn)(float *, const float *, size_t, int, const uint16_t *, size_t, int,
                              int);

static void check_attn_grouping(scores_fn scores, wsum_heads_fn wsum)
{
    static const int hds[] = {64, 128, 96, 32};
    enum { NP = 45, NH = 7, L = 64 };
    for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
        int hd = hds[hi];
        uint16_t *kv = rh_malloc_array((size_t)NP * (size_t)hd, sizeof *kv);
        float *q = rh_malloc_array((size_t)NH * (size_t)hd, sizeof *q);
        float *sa = rh_malloc_array((size_t)NH * L, sizeof *sa);
        float *s1 = rh_malloc_array((size_t)NH * L, sizeof *s1);
        float *oa = rh_malloc_array((size_t)NH * (size_t)hd, sizeof *oa);
        float *o1 = rh_malloc_array((size_t)NH * (size_t)hd, sizeof *o1);
        ASSERT(kv && q && sa && s1 && oa && o1);
        for (int i = 0; i < NP * hd; i++)
            kv[i] = (uint16_t)(0x3000 + (i * 7919) % 0x0c00 + ((i & 1) << 15)); /* +-0.1..1.5 */
        for (int i = 0; i < NH * hd; i++)
            q[i] = (float)((i * 31) % 23) / 23.0f - 0.5f;
        scores(sa, L, q, NH, hd, kv, (size_t)hd, NP, 0.125f);
        for (int h = 0; h < NH; h++)
            scores(s1 + h * L, L, q + h * hd, 1, hd, kv, (size_t)hd, NP, 0.125f);
        for (int h = 0; h < NH; h++)
            for (int p = 0; p < NP; p++) {
                ASSERT(memcmp(&sa[h * L + p], &s1[h * L + p], sizeof(float)) == 0);
                double want = 0;
                for (int d = 0; d < hd; d++)
                    want += (double)q[h * hd + d] * rhm_h2f(kv[p * hd + d]);
                ASSERT(fabs(sa[h * L + p] - 0.125 * want) < 1e-4);
            }
        for (int i = 0; i < NH * L; i++)
            sa[i] = (float)((i * 13) % 29) / 29.0f;
        wsum(oa, sa, L, NH, kv, (size_t)hd, NP, hd);
        for (int h = 0; h < NH; h++)
            wsum(o1 + h * hd, sa + h * L, L, 1, kv, (size_t)hd, NP, hd);
        ASSERT(memcmp(oa, o1, (size_t)NH * (size_t)hd * sizeof(float)) == 0);
        for (int h = 0; h < NH; h++)
            for (int d = 0; d < hd; d++) {
                double want = 0;
                for (int p = 0; p < NP; p++)
                    want += (double)sa[h * L + p] * rhm_h2f(kv[p * hd + d]);
                ASSERT(fabs(oa[h * hd + d] - want) < 1e-3);
            }
        rh_free(kv);
        rh_free(q);
        rh_free(sa);
        rh_free(s1);
        rh_free(oa);
        rh_free(o1);
    }
}

/* The decoder's SIMD row helpers against their portable forms: fp16
 * rounding (to fp16, and to fp16 and back) bit for bit (all but NaNs, over random bit patterns and the
 * edges of the half range), the sum of squares to double rounding. */
TEST(model_decoder_vec_helpers)
{
    if (strcmp(rh_ops_kernel_name(), "scalar") == 0)
        SKIP("no SIMD kernel set on this CPU");
    rhm_fp16_init();
    enum { N = 4099 };
    static float x[N];
    static uint16_t got[N];
    static float back[N];
    uint32_t r = 12345;
    static const uint32_t edges[] = {0x00000000u, 0x80000000u, 0x33000000u, 0x33000001u,
                                     0x387fc000u, 0x387fe000u, 0x38800000u, 0x477fe000u,
                                     0x477ff000u, 0x477fefffu, 0x47800000u, 0x7f800000u,
                                     0xff800000u, 0x3f801000u, 0x3f803000u, 0x00000001u};
    for (int round = 0; round < 64; round++) {
        for (int i = 0; i < N; i++) {
            uint32_t b;
            if (round == 0 && i < (int)(sizeof edges / sizeof edges[0])) {
                b = edges[i];
            } else {
                r = r * 1664525u + 1013904223u;
                /* exponents around the half range, any mantissa and sign */
                b = (r & 0x807fffffu) | ((0x60u + (r >> 24) % 0x40u) << 23);
            }
            memcpy(&x[i], &b, 4);
            if (isnan(x[i]))
                x[i] = 0.0f;
        }
        rhm_f32_to_f16_avx2(got, x, N);
        rhm_round_f16_avx2(back, x, N);
        for (int i = 0; i < N; i++) {
            if (got[i] != rhm_f2h(x[i]))
                FAIL("fp16(%a): %04x, portable %04x", (double)x[i], got[i], rhm_f2h(x[i]));
            float want = rhm_h2f(rhm_f2h(x[i]));
            if (memcmp(&back[i], &want, 4) != 0)
                FAIL("round to fp16 (%a): %a, portable %a", (double)x[i], (double)back[i],
                     (double)want);
        }
    }
    for (int n = 1; n < 300; n += 7) {
        double want = 0;
        for (int i = 0; i < n; i++) {
            x[i] = (float)((i * 37) % 101) / 7.0f - 7.0f;
            want += (double)x[i] * (double)x[i];
        }
        ASSERT(fabs(rhm_sumsq_avx2(x, n) - want) <= 1e-14 * want + 1e-300);
    }
}

TEST(model_attn_grouping)
{
    const char *ks = rh_ops_kernel_name();
    if (strcmp(ks, "scalar") == 0)
        SKIP("no SIMD kernel set on this CPU");
    rhm_fp16_init();
    check_attn_grouping(rhm_scores_f16_avx2, rhm_wsum_heads_f16_avx2);
    if (strcmp(ks, "avx512vnni") == 0)
        check_attn_grouping(rhm_scores_f16_avx512, rhm_wsum_heads_f16_avx512);
    /* softmax (rounded to fp16) against a double computation */
    static const int ns[] = {1, 5, 16, 17, 45, 100};
    for (int k = 0; k < 2; k++) {
        if (k == 1 && strcmp(ks, "avx512vnni") != 0)
            break;
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            float s[100];
            double e[100], sum = 0, mx = -1e30;
            for (int p = 0; p < ns[i]; p++) {
                s[p] = (float)((p * 37) % 41) * 0.3f - 6.0f - (p == 3 ? 100.0f : 0.0f);
                mx = s[p] > mx ? s[p] : mx;
            }
            for (int p = 0; p < ns[i]; p++)
                sum += e[p] = exp(s[p] - mx);
            (k == 0 ? rhm_softmax_f16_avx2 : rhm_softmax_f16_avx512)(s, ns[i]);
            for (int p = 0; p < ns[i]; p++)
                if (fabs(s[p] - e[p] / sum) > 1e-3 * (e[p] / sum) + 1e-7)
                    FAIL("softmax %d of %d: %g, want %g", p, ns[i], s[p], e[p] / sum);
        }
    }
}

TEST(model_sibling_llama_q5_k_m)
{
    check_sibling("tiny-llama-q5_k_m", "tiny-llama-q8_0", "tiny-llama-q4_k_m", 1.5);
}

TEST(model_sibling_qwen2_q6_k)
{
    check_sibling("tiny-qwen2-q6_k", "tiny-qwen2-f16", "tiny-qwen2-q4_0", 0.5);
}

/* ---- batching and the KV cache ---------------------------------------- */

static void expect_close(const float *a, const float *b, size_t n, double tol, const char *what)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        mx = d > mx ? d : mx;
    }
    if (!(mx <= tol))
        FAIL("%s: logits differ by up to %g (tolerance %g)", what, mx, tol);
}

static const int32_t seq_a[] = {1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366};
static const int32_t seq_b[] = {1, 1640, 5587, 405, 1803, 26310, 3056, 1011, 7388};
#define NA ((int)(sizeof seq_a / sizeof seq_a[0]))
#define NB ((int)(sizeof seq_b / sizeof seq_b[0]))

TEST(model_batch_two_sequences)
{
    /* qwen2-f16: the random llama models are chaotic enough that a different
     * float summation order in the kernels for 1 vs n rows shows as ~0.1 in
     * the logits; real cross-talk or wrong positions show as whole units */
    rh_model *m = load("tiny-qwen2-f16");
    int nv = rh_model_get_info(m)->n_vocab;
    rh_pool *pool = rh_pool_new(2);
    rh_ctx *c1 = NULL, *c2 = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ctx_new(m, 64, 1, pool, &c1, &err), RH_OK);
    ASSERT_EQ(rh_ctx_new(m, 64, 3, pool, &c2, &err), RH_OK);
    float *la = decode_all(c1, m, seq_a, NA, 0);
    rh_ctx_seq_clear(c1, 0);
    float *lb = decode_all(c1, m, seq_b, NB, 0);

    /* both prompts interleaved in one batch, in slots 2 and 0 */
    int32_t tok[NA + NB], pos[NA + NB], seq[NA + NB];
    uint8_t want[NA + NB];
    int n = 0, ia = 0, ib = 0;
    while (ia < NA || ib < NB) {
        if (ia < NA) {
            tok[n] = seq_a[ia]; pos[n] = ia; seq[n] = 2; want[n] = 1; n++; ia++;
        }
        if (ib < NB) {
            tok[n] = seq_b[ib]; pos[n] = ib; seq[n] = 0; want[n] = 1; n++; ib++;
        }
    }
    float *lab = rh_malloc_array((size_t)n * (size_t)nv, sizeof(float));
    ASSERT(lab != NULL);
    rh_batch b = {n, tok, pos, seq, want};
    ASSERT_EQ(rh_decode(c2, &b, lab, &err), RH_OK);
    ASSERT_EQ(rh_ctx_seq_len(c2, 2), NA);
    ASSERT_EQ(rh_ctx_seq_len(c2, 0), NB);
    ASSERT_EQ(rh_ctx_seq_len(c2, 1), 0);
    for (int i = 0; i < n; i++) {
        const float *want_row = seq[i] == 2 ? la + (size_t)pos[i] * (size_t)nv
                                            : lb + (size_t)pos[i] * (size_t)nv;
        expect_close(lab + (size_t)i * (size_t)nv, want_row, (size_t)nv, 2e-3, "batched vs alone");

    }

    /* one more token for each sequence in a single batch continues both */
    int32_t t2[2] = {13, 198}, p2[2] = {NA, NB}, s2[2] = {2, 0};
    uint8_t w2[2] = {1, 1};
    rh_batch b2 = {2, t2, p2, s2, w2};
    float *l2 = rh_malloc_array(2 * (size_t)nv, sizeof(float));
    ASSERT_EQ(rh_decode(c2, &b2, l2, &err), RH_OK);
    rh_ctx_seq_clear(c1, 0);
    rh_free(la);
    la = decode_all(c1, m, seq_a, NA, 0);
    rh_free(la);
    la = decode_all(c1, m, &t2[0], 1, 0);
    expect_close(l2, la, (size_t)nv, 2e-3, "continued batch");

    rh_free(la);
    rh_free(lb);
    rh_free(lab);
    rh_free(l2);
    rh_ctx_free(c1);
    rh_ctx_free(c2);
    rh_pool_free(pool);
    rh_model_free(m);
}

TEST(model_seq_clear_reuse)
{
    rh_model *m = load("tiny-qwen2-q4_0");
    int nv = rh_model_get_info(m)->n_vocab;
    rh_ctx *c = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ctx_new(m, 64, 2, NULL, &c, &err), RH_OK);
    float *l1 = decode_all(c, m, seq_b, NB, 1);
    ASSERT_EQ(rh_ctx_seq_len(c, 1), NB);
    rh_ctx_seq_clear(c, 1);
    ASSERT_EQ(rh_ctx_seq_len(c, 1), 0);
    /* the slot is reused by another prompt, then by the first again */
    float *l2 = decode_all(c, m, seq_a, NA, 1);
    rh_ctx_seq_clear(c, 1);
    float *l3 = decode_all(c, m, seq_b, NB, 1);
    expect_close(l1, l3, (size_t)NB * (size_t)nv, 1e-5, "slot reuse after clear");
    ASSERT(fabs(l2[nv + 5] - l1[nv + 5]) > 0 || fabs(l2[nv + 7] - l1[nv + 7]) > 0);

    /* a gap in positions and a bad slot are rejected without side effects */
    int32_t t = 5, p = NB + 3, s = 1;
    uint8_t w = 1;
    rh_batch bad = {1, &t, &p, &s, &w};
    ASSERT_EQ(rh_decode(c, &bad, l2, &err), RH_EINVAL);
    ASSERT(strstr(err.msg, "gap") != NULL);
    s = 2;
    p = 0;
    ASSERT_EQ(rh_decode(c, &bad, l2, &err), RH_EINVAL);
    t = nv;
    s = 0;
    ASSERT_EQ(rh_decode(c, &bad, l2, &err), RH_EINVAL);
    t = 5;
    p = 64;
    ASSERT_EQ(rh_decode(c, &bad, l2, &err), RH_ELIMIT);
    ASSERT_EQ(rh_ctx_seq_len(c, 1), NB);
    rh_free(l1);
    rh_free(l2);
    rh_free(l3);
    rh_ctx_free(c);
    rh_model_free(m);
}

TEST(model_kv_continuation)
{
    rh_model *m = load("tiny-qwen3-q4_k_m");
    int nv = rh_model_get_info(m)->n_vocab;
    rh_pool *pool = rh_pool_new(2);
    rh_ctx *c = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ctx_new(m, 64, 1, pool, &c, &err), RH_OK);
    static const int32_t toks[] = {35, 494, 1807, 318, 257, 1332, 13, 383, 3797, 287, 4881, 318};
    int n = (int)(sizeof toks / sizeof toks[0]);
    float *all = decode_all(c, m, toks, n, 0);
    rh_ctx_seq_clear(c, 0);
    for (int i = 0; i < n; i++) {
        float *one = decode_all(c, m, toks + i, 1, 0);
        expect_close(one, all + (size_t)i * (size_t)nv, (size_t)nv, 1e-2, "token by token");
        rh_free(one);
    }
    /* rewinding: decoding position 5 again truncates the sequence there */
    int32_t p = 5, s = 0;
    uint8_t w = 1;
    rh_batch b = {1, &toks[5], &p, &s, &w};
    float *again = rh_malloc_array((size_t)nv, sizeof(float));
    ASSERT_EQ(rh_decode(c, &b, again, &err), RH_OK);
    ASSERT_EQ(rh_ctx_seq_len(c, 0), 6);
    expect_close(again, all + 5 * (size_t)nv, (size_t)nv, 1e-2, "rewind");
    rh_free(again);
    rh_free(all);
    rh_ctx_free(c);
    rh_pool_free(pool);
    rh_model_free(m);
}

/* A prompt longer than the internal batch (512) is split; the result must
 * not depend on where the split falls. */
TEST(model_long_batch_split)
{
    rh_model *m = load("tiny-qwen2-q4_0");
    int nv = rh_model_get_info(m)->n_vocab;
    rh_pool *pool = rh_pool_new(2);
    rh_ctx *c = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ctx_new(m, 1024, 1, pool, &c, &err), RH_OK);
    enum { N = 530 };
    int32_t *toks = rh_malloc_array(N, sizeof(int32_t));
    ASSERT(toks != NULL);
    for (int i = 0; i < N; i++)
        toks[i] = (int32_t)((i * 7919) % 50000);
    int32_t pos[N], seq[N];
    uint8_t want[N];
    for (int i = 0; i < N; i++) {
        pos[i] = i;
        seq[i] = 0;
        want[i] = i == N - 1 || i == 100;
    }
    float *l1 = rh_malloc_array(2 * (size_t)nv, sizeof(float));
    float *l2 = rh_malloc_array(2 * (size_t)nv, sizeof(float));
    rh_batch b = {N, toks, pos, seq, want};
    ASSERT_EQ(rh_decode(c, &b, l1, &err), RH_OK);
    rh_ctx_seq_clear(c, 0);
    rh_batch h1 = {300, toks, pos, seq, want};
    rh_batch h2 = {N - 300, toks + 300, pos + 300, seq + 300, want + 300};
    ASSERT_EQ(rh_decode(c, &h1, l2, &err), RH_OK);
    ASSERT_EQ(rh_decode(c, &h2, l2 + nv, &err), RH_OK);
    expect_close(l1, l2, 2 * (size_t)nv, 1e-3, "split batch");
    rh_free(toks);
    rh_free(l1);
    rh_free(l2);
    rh_ctx_free(c);
    rh_pool_free(pool);
    rh_model_free(m);
}

/* Decoder embeddings: last-token pooling of the normed hidden state. */
TEST(model_decoder_embed)
{
    rh_model *m = load("tiny-qwen2-f16");
    const rh_model_info *in = rh_model_get_info(m);
    rh_ctx *c = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ctx_new(m, 64, 1, NULL, &c, &err), RH_OK);
    float *e1 = rh_malloc_array((size_t)in->n_embd, sizeof(float));
    float *e2 = rh_malloc_array((size_t)in->n_embd, sizeof(float));
    static const int32_t t[] = {15496, 995, 0, 314};
    ASSERT_EQ(rh_embed(c, t, 4, e1, &err), RH_OK);
    ASSERT_EQ(rh_ctx_seq_len(c, 0), 0);
    ASSERT_EQ(rh_embed(c, t, 4, e2, &err), RH_OK);
    expect_close(e1, e2, (size_t)in->n_embd, 0.0, "repeatable embedding");
    double norm = 0;
    for (int i = 0; i < in->n_embd; i++)
        norm += (double)e1[i] * e1[i];
    ASSERT(norm > 0 && isfinite(norm));
    int32_t badtok = in->n_vocab;
    ASSERT_EQ(rh_embed(c, &badtok, 1, e2, &err), RH_EINVAL);
    rh_free(e1);
    rh_free(e2);
    rh_ctx_free(c);
    rh_model_free(m);
}

/* ---- malformed models ------------------------------------------------- */

typedef enum mutation {
    MUT_BLOCKS_MORE, MUT_BLOCKS_FEWER, MUT_MISSING, MUT_SHAPE, MUT_VOCAB, MUT_ARCH, MUT_HEADS,
    MUT_KEY,        /* set the u32 key `mut_key` to `mut_val` */
    MUT_ROPE_FREQS, /* add rope_freqs.weight filled with `mut_factor` */
} mutation;

static const char *mut_key;
static uint32_t mut_val;
static float mut_factor;

/* A copy of tiny-llama-q8_0 with one thing broken; returns its path. */
static const char *write_variant(mutation mut)
{
    gguf_file *src = NULL;
    rh_error err = {0};
    const char *in = test_data_path("models/tiny-llama-q8_0.gguf");
    if (access(in, R_OK) != 0)
        SKIP("tiny-llama-q8_0.gguf not found");
    ASSERT_EQ(gguf_open(in, &src, &err), RH_OK);
    gguf_writer *w = NULL;
    ASSERT_EQ(gguf_writer_new(&w), RH_OK);
    for (size_t i = 0; i < gguf_kv_count(src); i++) {
        const gguf_kv *kv = gguf_kv_at(src, i);
        if (mut == MUT_BLOCKS_MORE && gguf_str_eq(kv->key, "llama.block_count"))
            ASSERT_EQ(gguf_writer_set_u32(w, "llama.block_count", 5), RH_OK);
        else if (mut == MUT_BLOCKS_FEWER && gguf_str_eq(kv->key, "llama.block_count"))
            ASSERT_EQ(gguf_writer_set_u32(w, "llama.block_count", 3), RH_OK);
        else if (mut == MUT_ARCH && gguf_str_eq(kv->key, "general.architecture"))
            ASSERT_EQ(gguf_writer_set_str(w, "general.architecture", "gpt2"), RH_OK);
        else if (mut == MUT_HEADS && gguf_str_eq(kv->key, "llama.attention.head_count_kv"))
            ASSERT_EQ(gguf_writer_set_u32(w, "llama.attention.head_count_kv", 3), RH_OK);
        else if (mut == MUT_KEY && gguf_str_eq(kv->key, mut_key))
            ASSERT_EQ(gguf_writer_set_u32(w, mut_key, mut_val), RH_OK);
        else
            ASSERT_EQ(gguf_writer_copy_kv(w, kv), RH_OK);
    }
    if (mut == MUT_KEY && !gguf_find_kv(src, mut_key))
        ASSERT_EQ(gguf_writer_set_u32(w, mut_key, mut_val), RH_OK);
    if (mut == MUT_ROPE_FREQS) {
        float ff[16];
        for (int i = 0; i < 16; i++)
            ff[i] = mut_factor;
        uint64_t ne[GGUF_MAX_DIMS] = {16, 1, 1, 1};
        ASSERT_EQ(gguf_writer_add_tensor(w, "rope_freqs.weight", RH_TYPE_F32, 1, ne, ff,
                                         sizeof ff, false), RH_OK);
    }
    for (size_t i = 0; i < gguf_tensor_count(src); i++) {
        const gguf_tensor *t = gguf_tensor_at(src, i);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        uint64_t ne[GGUF_MAX_DIMS];
        memcpy(ne, t->ne, sizeof ne);
        uint64_t nbytes = t->nbytes;
        if (mut == MUT_MISSING && strcmp(name, "blk.1.ffn_up.weight") == 0)
            continue;
        if (mut == MUT_SHAPE && strcmp(name, "blk.2.attn_q.weight") == 0) {
            ne[1] = 128;
            nbytes /= 2;
        }
        if (mut == MUT_VOCAB && strcmp(name, "token_embd.weight") == 0) {
            ne[1] -= 1;
            nbytes = rh_row_size(t->type, (int64_t)ne[0]) * ne[1];
        }
        ASSERT_EQ(gguf_writer_add_tensor(w, name, t->type, t->n_dims, ne, t->data, nbytes, true),
                  RH_OK);
    }
    static char path[512];
    static int serial;
    snprintf(path, sizeof path, "%s/variant-%d-%d.gguf", test_tmpdir(), (int)mut, serial++);
    if (gguf_writer_write(w, path, &err) != RH_OK)
        FAIL("writing %s: %s", path, err.msg);
    gguf_writer_free(w);
    gguf_close(src);
    return path;
}

static void expect_load_error(mutation mut, int code, const char *needle1, const char *needle2)
{
    const char *path = write_variant(mut);
    rh_model *m = NULL;
    rh_error err = {0};
    int rc = rh_model_load(path, &m, &err);
    fprintf(stderr, "    variant %d: %s\n", (int)mut, err.msg);
    ASSERT(m == NULL);
    ASSERT_EQ(rc, code);
    ASSERT(strstr(err.msg, needle1) != NULL);
    ASSERT(!needle2 || strstr(err.msg, needle2) != NULL);
}

TEST(model_bad_block_count)
{
    expect_load_error(MUT_BLOCKS_MORE, RH_EFORMAT, "blk.4.", "missing");
    expect_load_error(MUT_BLOCKS_FEWER, RH_EFORMAT, "blk.3.", "block_count");
}

TEST(model_bad_missing_tensor) { expect_load_error(MUT_MISSING, RH_EFORMAT, "blk.1.ffn_up.weight", "missing"); }
TEST(model_bad_tensor_shape) { expect_load_error(MUT_SHAPE, RH_EFORMAT, "blk.2.attn_q.weight", "shape"); }
TEST(model_bad_n_vocab) { expect_load_error(MUT_VOCAB, RH_EFORMAT, "token_embd.weight", "n_vocab"); }
TEST(model_bad_arch) { expect_load_error(MUT_ARCH, RH_EUNSUPPORTED, "gpt2", "not supported"); }
TEST(model_bad_heads) { expect_load_error(MUT_HEADS, RH_EFORMAT, "head_count_kv", NULL); }

static void expect_key_error(const char *key, uint32_t val, int code, const char *needle)
{
    mut_key = key;
    mut_val = val;
    expect_load_error(MUT_KEY, code, needle, NULL);
}

TEST(model_bad_hparams)
{
    expect_key_error("llama.attention.head_count", 0, RH_ERANGE, "head_count");
    expect_key_error("llama.embedding_length", 512, RH_EFORMAT, "shape");
    expect_key_error("llama.embedding_length", 1u << 30, RH_ERANGE, "embedding_length");
    expect_key_error("llama.rope.dimension_count", 31, RH_EFORMAT, "dimension_count");
    expect_key_error("llama.attention.key_length", 64, RH_EFORMAT, "shape");
    expect_key_error("llama.attention.value_length", 16, RH_EUNSUPPORTED, "value_length");
    expect_key_error("llama.vocab_size", 31000, RH_EFORMAT, "tokens");
    expect_key_error("llama.feed_forward_length", 1u << 31, RH_ERANGE, "feed_forward_length");
    expect_key_error("llama.expert_count", 8, RH_EUNSUPPORTED, "mixture-of-experts");
}

/* Llama 3.1 style frequency factors: all ones change nothing, others do. */
TEST(model_rope_freqs)
{
    const char *orig = test_data_path("models/tiny-llama-q8_0.gguf");
    char path1[512], path2[512];
    mut_factor = 1.0f;
    snprintf(path1, sizeof path1, "%s", write_variant(MUT_ROPE_FREQS));
    mut_factor = 4.0f;
    snprintf(path2, sizeof path2, "%s", write_variant(MUT_ROPE_FREQS));
    const char *paths[3] = {orig, path1, path2};
    float *lg[3];
    rh_error err = {0};
    for (int i = 0; i < 3; i++) {
        rh_model *m = NULL;
        rh_ctx *c = NULL;
        if (rh_model_load(paths[i], &m, &err) != RH_OK)
            FAIL("load %s: %s", paths[i], err.msg);
        ASSERT_EQ(rh_ctx_new(m, 32, 1, NULL, &c, &err), RH_OK);
        lg[i] = decode_all(c, m, seq_a, NA, 0);
        rh_ctx_free(c);
        rh_model_free(m);
    }
    size_t n = (size_t)NA * 32000;
    expect_close(lg[0], lg[1], n, 0.0, "rope_freqs of 1");
    /* position 0 is not rotated; later positions must change */
    expect_close(lg[0], lg[2], 32000, 0.0, "rope_freqs at position 0");
    double d = 0;
    for (size_t i = 32000; i < n; i++)
        d += fabs((double)lg[0][i] - (double)lg[2][i]);
    ASSERT(d / (double)(n - 32000) > 1e-3);
    for (int i = 0; i < 3; i++)
        rh_free(lg[i]);
}

TEST(model_load_missing_file)
{
    rh_model *m = NULL;
    rh_error err = {0};
    ASSERT(rh_model_load("/nonexistent/model.gguf", &m, &err) != RH_OK);
    ASSERT(m == NULL);
    ASSERT(err.msg[0] != '\0');
}

TEST(model_load_alloc_failures)
{
    /* every allocation of a load failing in turn gives an error, no leak or crash */
    const char *path = test_data_path("models/tiny-qwen2-q4_0.gguf");
    if (access(path, R_OK) != 0)
        SKIP("model not found");
    for (long k = 0; k < 400; k += 7) {
        rh_model *m = NULL;
        rh_error err = {0};
        rh_alloc_fail_after(k);
        int rc = rh_model_load(path, &m, &err);
        rh_alloc_fail_reset();
        if (rc == RH_OK) {
            rh_model_free(m);
            break;
        }
        ASSERT(m == NULL);
    }
}

TEST(model_info)
{
    rh_model *m = load("tiny-qwen3-q4_k_m");
    const rh_model_info *in = rh_model_get_info(m);
    ASSERT_EQ(in->arch, RH_ARCH_QWEN3);
    ASSERT_STREQ(in->arch_name, "qwen3");
    ASSERT_EQ(in->n_embd, 256);
    ASSERT_EQ(in->n_layer, 4);
    ASSERT_EQ(in->n_head, 4);
    ASSERT_EQ(in->n_head_kv, 2);
    ASSERT_EQ(in->head_dim, 128);
    ASSERT_EQ(in->n_ff, 768);
    ASSERT_EQ(in->n_vocab, 50257);
    ASSERT(in->causal);
    ASSERT_NEAR(in->rope_base, 1e6, 1);
    ASSERT(in->n_params > 12000000);
    ASSERT(in->weight_bytes > 0 && in->weight_bytes < 15000000);
    rh_ctx *c = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ctx_new(m, 0, 1, NULL, &c, &err), RH_OK);
    ASSERT_EQ(rh_ctx_n_ctx(c), 4096);
    rh_ctx_free(c);
    ASSERT_EQ(rh_ctx_new(m, 100, 0, NULL, &c, &err), RH_ERANGE);
    ASSERT_EQ(rh_ctx_new(m, 1 << 21, 4000, NULL, &c, &err), RH_ELIMIT);
    rh_model_free(m);
}

/* ---- the logits command ----------------------------------------------- */

TEST(model_cli_logits)
{
    const char *model = test_data_path("models/tiny-qwen2-f16.gguf");
    char mpath[512], ppath[512], out[512];
    snprintf(mpath, sizeof mpath, "%s", model);
    snprintf(ppath, sizeof ppath, "%s", test_data_path("prompts/en.txt"));
    snprintf(out, sizeof out, "%s/logits.txt", test_tmpdir());
    ref_file *r = ref_load("reference/tiny-qwen2-f16.en.ref");
    fflush(stdout);
    FILE *f = freopen(out, "w", stdout);
    ASSERT(f != NULL);
    char *argv[] = {"logits", "-m", mpath, "-f", ppath, "--greedy", "4", "-t", "2", NULL};
    int rc = cmd_logits(9, argv);
    fflush(stdout);
    ASSERT_EQ(rc, 0);
    char *txt = test_read_file(out, NULL);
    ASSERT(txt != NULL);
    int pos_lines = 0;
    bool tokens_ok = false, greedy = false, last = false, text = false;
    for (char *l = txt; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        if (strncmp(l, "tokens:", 7) == 0) {
            int32_t ids[MAX_REF_POS];
            int n = parse_ids(l + 7, ids, MAX_REF_POS);
            tokens_ok = n == r->n_tok && memcmp(ids, r->tokens, (size_t)n * sizeof ids[0]) == 0;
        } else if (strncmp(l, "pos ", 4) == 0) {
            int32_t id[REF_TOP];
            float val[REF_TOP];
            parse_top(strstr(l, "top:") + 4, id, val);
            ASSERT(val[0] >= val[REF_TOP - 1]);
            pos_lines++;
        } else if (strncmp(l, "greedy:", 7) == 0) {
            int32_t ids[8];
            greedy = parse_ids(l + 7, ids, 8) == 4;
        } else if (strncmp(l, "last top:", 9) == 0) {
            last = true;
        } else if (strncmp(l, "text: ", 6) == 0) {
            text = true;
        }
    }
    ASSERT(tokens_ok);
    ASSERT_EQ(pos_lines, r->n_tok);
    ASSERT(greedy && last && text);
    rh_free(txt);
    rh_free(r);

    char *bad[] = {"logits", "-m", mpath, NULL};
    ASSERT_EQ(cmd_logits(3, bad), 2);
}

/* ---- synthetic models: hyperparameter fuzzing --------------------------- */

typedef struct synth {
    uint32_t embd, layers, heads, heads_kv, ff, head_dim, rot;
    const char *arch;
} synth;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static float *random_floats(size_t n, float center, float spread)
{
    float *v = rh_malloc_array(n, sizeof(float));
    ASSERT(v != NULL);
    for (size_t i = 0; i < n; i++)
        v[i] = center + spread * ((float)(rng() % 2001) / 1000.0f - 1.0f);
    return v;
}

static void add_f32(gguf_writer *w, const char *name, uint64_t ne0, uint64_t ne1, float center,
                    float spread)
{
    float *v = random_floats((size_t)(ne0 * ne1), center, spread);
    uint64_t ne[GGUF_MAX_DIMS] = {ne0, ne1, 1, 1};
    ASSERT_EQ(gguf_writer_add_tensor(w, name, RH_TYPE_F32, ne1 > 1 ? 2 : 1, ne, v,
                                     ne0 * ne1 * sizeof(float), false), RH_OK);
    rh_free(v);
}

/* A small llama-style model with the llama-spm vocabulary, its metadata
 * taken from `s` but the tensors from `t` (so the two can disagree). One key
 * may be overridden with an arbitrary value. */
static const char *write_synth(const synth *s, const synth *t, const char *key, uint32_t val)
{
    gguf_file *voc = NULL;
    rh_error err = {0};
    const char *vp = test_data_path("tokenizer/ggml-vocab-llama-spm.gguf");
    if (access(vp, R_OK) != 0)
        SKIP("vocabulary file not found");
    ASSERT_EQ(gguf_open(vp, &voc, &err), RH_OK);
    gguf_writer *w = NULL;
    ASSERT_EQ(gguf_writer_new(&w), RH_OK);
    for (size_t i = 0; i < gguf_kv_count(voc); i++) {
        const gguf_kv *kv = gguf_kv_at(voc, i);
        if (kv->key.len > 10 && memcmp(kv->key.ptr, "tokenizer.", 10) == 0)
            ASSERT_EQ(gguf_writer_copy_kv(w, kv), RH_OK);
    }
    char k[128];
    ASSERT_EQ(gguf_writer_set_str(w, "general.architecture", s->arch), RH_OK);
#define SET(suffix, v)                                                          \
    do {                                                                        \
        snprintf(k, sizeof k, "%s.%s", s->arch, suffix);                        \
        ASSERT_EQ(gguf_writer_set_u32(w, k, v), RH_OK);                         \
    } while (0)
    SET("embedding_length", s->embd);
    SET("block_count", s->layers);
    SET("attention.head_count", s->heads);
    SET("attention.head_count_kv", s->heads_kv);
    SET("feed_forward_length", s->ff);
    SET("attention.key_length", s->head_dim);
    SET("attention.value_length", s->head_dim);
    SET("rope.dimension_count", s->rot);
    SET("context_length", 64);
#undef SET
    if (key)
        ASSERT_EQ(gguf_writer_set_u32(w, key, val), RH_OK);

    uint64_t E = t->embd, Q = (uint64_t)t->heads * t->head_dim;
    uint64_t KV = (uint64_t)t->heads_kv * t->head_dim, F = t->ff, V = 32000;
    /* token_embd in F16 keeps the file small */
    size_t ne_tok = (size_t)(E * V);
    float *te = random_floats(ne_tok, 0.0f, 1.0f);
    uint16_t *th = rh_malloc_array(ne_tok, sizeof(uint16_t));
    ASSERT(th != NULL);
    for (size_t i = 0; i < ne_tok; i++)
        th[i] = rh_fp32_to_fp16(te[i]);
    uint64_t ne[GGUF_MAX_DIMS] = {E, V, 1, 1};
    ASSERT_EQ(gguf_writer_add_tensor(w, "token_embd.weight", RH_TYPE_F16, 2, ne, th,
                                     ne_tok * sizeof(uint16_t), false), RH_OK);
    rh_free(te);
    rh_free(th);
    add_f32(w, "output_norm.weight", E, 1, 1.0f, 0.1f);
    for (uint32_t l = 0; l < t->layers; l++) {
        char n[64];
#define T2(name, a, b, c, sp)                                                   \
    do {                                                                        \
        snprintf(n, sizeof n, "blk.%u.%s", l, name);                            \
        add_f32(w, n, a, b, c, sp);                                             \
    } while (0)
        T2("attn_norm.weight", E, 1, 1.0f, 0.1f);
        T2("attn_q.weight", E, Q, 0.0f, 0.3f);
        T2("attn_k.weight", E, KV, 0.0f, 0.3f);
        T2("attn_v.weight", E, KV, 0.0f, 0.3f);
        T2("attn_output.weight", Q, E, 0.0f, 0.3f);
        T2("ffn_norm.weight", E, 1, 1.0f, 0.1f);
        T2("ffn_gate.weight", E, F, 0.0f, 0.3f);
        T2("ffn_up.weight", E, F, 0.0f, 0.3f);
        T2("ffn_down.weight", F, E, 0.0f, 0.3f);
#undef T2
    }
    static char path[512];
    snprintf(path, sizeof path, "%s/synth.gguf", test_tmpdir());
    if (gguf_writer_write(w, path, &err) != RH_OK)
        FAIL("writing %s: %s", path, err.msg);
    gguf_writer_free(w);
    gguf_close(voc);
    return path;
}

/* Load, and when that succeeds, decode a few tokens. */
static int load_and_run(const char *path, rh_error *err)
{
    rh_model *m = NULL;
    int rc = rh_model_load(path, &m, err);
    if (rc != RH_OK) {
        ASSERT(m == NULL);
        ASSERT(err->msg[0] != '\0');
        return rc;
    }
    rh_ctx *c = NULL;
    rc = rh_ctx_new(m, 16, 2, NULL, &c, err);
    if (rc == RH_OK) {
        float *lg = decode_all(c, m, seq_a, 5, 1);
        for (size_t i = 0; i < 5 * 32000; i++)
            ASSERT(isfinite(lg[i]));
        rh_free(lg);
        float *emb = rh_malloc_array((size_t)rh_model_get_info(m)->n_embd, sizeof(float));
        ASSERT_EQ(rh_embed(c, seq_b, 4, emb, err), RH_OK);
        rh_free(emb);
    }
    rh_ctx_free(c);
    rh_model_free(m);
    return rc;
}

TEST(model_synth_shapes)
{
    /* consistent small models of several shapes load and run */
    static const synth shapes[] = {
        {64, 2, 4, 2, 96, 16, 16, "llama"},  /* GQA */
        {64, 1, 2, 1, 64, 48, 32, "llama"},  /* head_dim != dim/heads, partial rotary */
        {32, 1, 1, 1, 32, 32, 2, "llama"},   /* one head, minimal rotary */
        {64, 2, 4, 4, 64, 16, 16, "qwen3"},  /* qwen3 needs q/k norms: must fail */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const char *path = write_synth(&shapes[i], &shapes[i], NULL, 0);
        rh_error err = {0};
        int rc = load_and_run(path, &err);
        fprintf(stderr, "    shape %zu: %s\n", i, rc == RH_OK ? "ok" : err.msg);
        if (i < 3)
            ASSERT_EQ(rc, RH_OK);
        else
            ASSERT(rc == RH_EFORMAT && strstr(err.msg, "attn_q_norm") != NULL);
    }
}

TEST(model_synth_fuzz_hparams)
{
    /* metadata that disagrees with the tensors in every way: an error with
     * a message or a model that runs - never a crash */
    static const synth base = {64, 2, 4, 2, 96, 16, 16, "llama"};
    static const char *keys[] = {
        "llama.embedding_length", "llama.block_count", "llama.attention.head_count",
        "llama.attention.head_count_kv", "llama.feed_forward_length",
        "llama.attention.key_length", "llama.attention.value_length",
        "llama.rope.dimension_count", "llama.context_length", "llama.vocab_size",
    };
    static const uint32_t vals[] = {0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 32, 48, 63, 64, 65, 96,
                                    128, 255, 1024, 65535, 65536, 1u << 31, 0xffffffffu};
    int ok = 0, errors = 0;
    for (int it = 0; it < 40; it++) {
        const char *key = keys[rng() % (sizeof keys / sizeof keys[0])];
        uint32_t val = vals[rng() % (sizeof vals / sizeof vals[0])];
        const char *path = write_synth(&base, &base, key, val);
        rh_error err = {0};
        if (load_and_run(path, &err) == RH_OK)
            ok++;
        else
            errors++;
    }
    fprintf(stderr, "    %d variants ran, %d were refused\n", ok, errors);
    ASSERT(errors > 0);
}
