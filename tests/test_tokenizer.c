/* test_tokenizer.c - tests of the tokenizers: the conformance vectors of
 * every vocabulary in ../shared/testdata/tokenizer, the prompt tokens of the
 * reference models, detokenization round trips, the split rules and Unicode
 * tables without any file, special tokens, speed on pathological input, and
 * hostile vocabularies (tok_bad_*). */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "engine/tokenizer_int.h"
#include "engine/unicode.h"
#include "test.h"

#define SEP "\n__ggml_vocab_test__\n"

/* ---- helpers ------------------------------------------------------------- */

typedef struct loaded {
    gguf_file *f;
    rh_vocab *v;
} loaded;

static loaded load_vocab_path(const char *path)
{
    loaded l = {0};
    rh_error err = {0};
    if (gguf_open(path, &l.f, &err) != RH_OK)
        FAIL("gguf_open %s: %s", path, err.msg);
    if (rh_vocab_load(l.f, &l.v, &err) != RH_OK)
        FAIL("rh_vocab_load %s: %s", path, err.msg);
    return l;
}

static loaded load_vocab(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizer/ggml-vocab-%s.gguf", name);
    return load_vocab_path(test_data_path(rel));
}

static void unload(loaded *l)
{
    rh_vocab_free(l->v);
    gguf_close(l->f);
}

static char *read_rel(const char *rel, size_t *len)
{
    char *d = test_read_file(test_data_path(rel), len);
    if (!d)
        FAIL("cannot read %s", rel);
    return d;
}

static int32_t *tok(const rh_vocab *v, const char *s, size_t len, bool add, bool parse, size_t *n)
{
    int32_t *ids = NULL;
    rh_error err = {0};
    if (rh_tokenize(v, s, len, add, parse, &ids, n, &err) != RH_OK)
        FAIL("rh_tokenize: %s", err.msg);
    return ids;
}

static void ids_str(const int32_t *ids, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && o + 16 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, " %d", ids[i]);
}

/* Run an .inp file against an .out file; returns matches, counts strings. */
static void check_vectors(const rh_vocab *v, const char *inp_rel, const char *out_rel, size_t *ok, size_t *total,
                          char *first_bad, size_t cap)
{
    size_t il, ol;
    char *inp = read_rel(inp_rel, &il);
    char *out = read_rel(out_rel, &ol);
    size_t ip = 0, op = 0, sl = strlen(SEP);
    while (ip < il) {
        const char *m = memmem(inp + ip, il - ip, SEP, sl);
        size_t end = m ? (size_t)(m - inp) : il;
        const char *nl = memchr(out + op, '\n', ol - op);
        size_t oend = nl ? (size_t)(nl - out) : ol;
        size_t n;
        int32_t *ids = tok(v, inp + ip, end - ip, false, false, &n);
        char got[8192];
        ids_str(ids, n, got, sizeof got);
        rh_free(ids);
        size_t gl = strlen(got);
        (*total)++;
        if (gl == oend - op && memcmp(got, out + op, gl) == 0)
            (*ok)++;
        else if (!first_bad[0])
            snprintf(first_bad, cap, "%s string %zu \"%.*s\": expected \"%.*s\", got \"%.200s\"", inp_rel, *total,
                     (int)(end - ip > 60 ? 60 : end - ip), inp + ip, (int)(oend - op > 200 ? 200 : oend - op),
                     out + op, got);
        ip = m ? end + sl : il;
        op = nl ? oend + 1 : ol;
    }
    rh_free(inp);
    rh_free(out);
}

static void run_vocab_vectors(const char *name)
{
    loaded l = load_vocab(name);
    char inp[256], out[256], gout[256], bad[1024] = "";
    size_t ok = 0, total = 0;
    snprintf(inp, sizeof inp, "tokenizer/ggml-vocab-%s.gguf.inp", name);
    snprintf(out, sizeof out, "tokenizer/ggml-vocab-%s.gguf.out", name);
    snprintf(gout, sizeof gout, "tokenizer/ggml-vocab-%s.german.out", name);
    check_vectors(l.v, inp, out, &ok, &total, bad, sizeof bad);
    check_vectors(l.v, "tokenizer/german.inp", gout, &ok, &total, bad, sizeof bad);
    unload(&l);
    printf("  %s: %zu/%zu strings match\n", name, ok, total);
    if (total < 70)
        FAIL("%s: only %zu test strings read", name, total);
    if (ok != total)
        FAIL("%s: %zu/%zu strings match; first mismatch: %s", name, ok, total, bad);
}

/* ---- conformance vectors: one test per vocabulary ------------------------ */

TEST(tok_vectors_llama_spm) { run_vocab_vectors("llama-spm"); }
TEST(tok_vectors_phi_3) { run_vocab_vectors("phi-3"); }
TEST(tok_vectors_gpt_2) { run_vocab_vectors("gpt-2"); }
TEST(tok_vectors_deepseek_llm) { run_vocab_vectors("deepseek-llm"); }
TEST(tok_vectors_deepseek_coder) { run_vocab_vectors("deepseek-coder"); }
TEST(tok_vectors_falcon) { run_vocab_vectors("falcon"); }
TEST(tok_vectors_starcoder) { run_vocab_vectors("starcoder"); }
TEST(tok_vectors_gpt2_pre_llama_bpe) { run_vocab_vectors("gpt2-pre-llama-bpe"); }
TEST(tok_vectors_gpt2_pre_qwen2) { run_vocab_vectors("gpt2-pre-qwen2"); }
TEST(tok_vectors_gpt2_pre_tekken) { run_vocab_vectors("gpt2-pre-tekken"); }
TEST(tok_vectors_gpt2_pre_smollm) { run_vocab_vectors("gpt2-pre-smollm"); }
TEST(tok_vectors_bert_bge) { run_vocab_vectors("bert-bge"); }

/* ---- the reference models' prompt tokens (add_special, parse_special) ---- */

static void check_ref_tokens(const rh_vocab *v, const char *text, size_t tl, const char *ref_line, const char *what)
{
    size_t n;
    int32_t *ids = tok(v, text, tl, true, true, &n);
    char got[65536];
    ids_str(ids, n, got, sizeof got);
    rh_free(ids);
    size_t rl = strcspn(ref_line, "\n");
    if (strlen(got) != rl || memcmp(got, ref_line, rl) != 0)
        FAIL("%s: tokens differ\n expected%.*s\n got     %.300s", what, (int)(rl > 300 ? 300 : rl), ref_line, got);
}

TEST(tok_reference_prompts)
{
    static const char *const models[] = {"tiny-llama-q8_0", "tiny-qwen2-f16", "tiny-qwen3-q4_k_m"};
    static const char *const prompts[] = {"de", "en", "mixed"};
    for (size_t m = 0; m < 3; m++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/%s.gguf", models[m]);
        loaded l = load_vocab_path(test_data_path(rel));
        for (size_t p = 0; p < 3; p++) {
            size_t tl, rl;
            snprintf(rel, sizeof rel, "prompts/%s.txt", prompts[p]);
            char *text = read_rel(rel, &tl);
            snprintf(rel, sizeof rel, "reference/%s.%s.ref", models[m], prompts[p]);
            char *ref = read_rel(rel, &rl);
            const char *line = strstr(ref, "tokens:");
            if (!line)
                FAIL("%s has no tokens: line", rel);
            check_ref_tokens(l.v, text, tl, line + 7, rel);
            rh_free(text);
            rh_free(ref);
        }
        unload(&l);
    }
}

TEST(tok_reference_bert)
{
    loaded l = load_vocab_path(test_data_path("models/tiny-bert-f16.gguf"));
    size_t tl, rl;
    char *text = read_rel("prompts/embd.txt", &tl);
    char *ref = read_rel("reference/tiny-bert-f16.embd.ref", &rl);
    const char *line = text, *r = ref;
    int count = 0;
    while (line < text + tl && *line) {
        size_t ll = strcspn(line, "\n");
        r = strstr(r, "tokens:");
        if (!r)
            FAIL("reference has fewer token lines than prompts");
        check_ref_tokens(l.v, line, ll, r + 7, "embd.txt");
        r += 7;
        line += ll + (line[ll] == '\n');
        count++;
    }
    ASSERT(count >= 3);
    rh_free(text);
    rh_free(ref);
    unload(&l);
}

/* ---- detokenization ------------------------------------------------------ */

static size_t detok_all(const rh_vocab *v, const int32_t *ids, size_t n, char *out, size_t cap)
{
    rh_detok d;
    rh_detok_init(&d, v, false);
    size_t o = 0;
    char buf[RH_DETOK_MAX_OUT];
    for (size_t i = 0; i < n; i++) {
        int k = rh_detok_push(&d, ids[i], buf, sizeof buf);
        ASSERT(k >= 0);
        ASSERT(o + (size_t)k < cap);
        memcpy(out + o, buf, (size_t)k);
        o += (size_t)k;
    }
    int k = rh_detok_flush(&d, buf, sizeof buf);
    ASSERT(k >= 0 && o + (size_t)k < cap);
    memcpy(out + o, buf, (size_t)k);
    return o + (size_t)k;
}

/* detokenize(tokenize(s)) == s for every test string of a lossless vocab. */
static void roundtrip(const char *name, const char *inp_rel)
{
    loaded l = load_vocab(name);
    size_t il;
    char *inp = read_rel(inp_rel, &il);
    size_t ip = 0, sl = strlen(SEP), count = 0;
    while (ip < il) {
        const char *m = memmem(inp + ip, il - ip, SEP, sl);
        size_t end = m ? (size_t)(m - inp) : il;
        size_t n;
        int32_t *ids = tok(l.v, inp + ip, end - ip, true, false, &n);
        char out[16384];
        size_t ol = detok_all(l.v, ids, n, out, sizeof out);
        if (ol != end - ip || memcmp(out, inp + ip, ol) != 0)
            FAIL("%s: round trip of \"%.*s\" gave \"%.*s\"", name, (int)(end - ip), inp + ip, (int)ol, out);
        rh_free(ids);
        count++;
        ip = m ? end + sl : il;
    }
    ASSERT(count > 20);
    rh_free(inp);
    unload(&l);
}

TEST(tok_roundtrip_spm)
{
    roundtrip("llama-spm", "tokenizer/ggml-vocab-llama-spm.gguf.inp");
    roundtrip("llama-spm", "tokenizer/german.inp");
}

TEST(tok_roundtrip_bpe)
{
    static const char *const names[] = {"gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "starcoder",
                                        "gpt2-pre-llama-bpe", "gpt2-pre-qwen2", "gpt2-pre-tekken",
                                        "gpt2-pre-smollm"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        roundtrip(names[i], "tokenizer/ggml-vocab-gpt-2.gguf.inp");
        roundtrip(names[i], "tokenizer/german.inp");
    }
}

TEST(tok_detok_utf8_across_tokens)
{
    loaded l = load_vocab("llama-spm");
    int32_t e2 = rh_vocab_find(l.v, "<0xE2>"), x82 = rh_vocab_find(l.v, "<0x82>"), xac = rh_vocab_find(l.v, "<0xAC>");
    ASSERT(e2 >= 0 && x82 >= 0 && xac >= 0);
    rh_detok d;
    char buf[RH_DETOK_MAX_OUT];
    rh_detok_init(&d, l.v, false);
    ASSERT_EQ(rh_detok_push(&d, e2, buf, sizeof buf), 0);
    ASSERT_EQ(rh_detok_push(&d, x82, buf, sizeof buf), 0);
    ASSERT_EQ(rh_detok_push(&d, xac, buf, sizeof buf), 3);
    ASSERT(memcmp(buf, "\xE2\x82\xAC", 3) == 0);
    /* a sequence left incomplete becomes U+FFFD at the end */
    ASSERT_EQ(rh_detok_push(&d, e2, buf, sizeof buf), 0);
    ASSERT_EQ(rh_detok_flush(&d, buf, sizeof buf), 3);
    ASSERT(memcmp(buf, "\xEF\xBF\xBD", 3) == 0);
    /* too small an output buffer: RH_ELIMIT, nothing lost */
    rh_detok_init(&d, l.v, false);
    int32_t hello = rh_vocab_find(l.v, "\xE2\x96\x81Hello");
    int32_t world = rh_vocab_find(l.v, "\xE2\x96\x81world");
    ASSERT(hello >= 0 && world >= 0);
    ASSERT_EQ(rh_detok_push(&d, hello, buf, sizeof buf), 5); /* dummy-prefix space dropped */
    ASSERT(memcmp(buf, "Hello", 5) == 0);
    ASSERT_EQ(rh_detok_push(&d, world, buf, 3), RH_ELIMIT);
    ASSERT_EQ(rh_detok_push(&d, world, buf, sizeof buf), 6);
    ASSERT(memcmp(buf, " world", 6) == 0);
    ASSERT(rh_detok_push(&d, -1, buf, sizeof buf) < 0);
    ASSERT(rh_detok_push(&d, rh_vocab_size(l.v), buf, sizeof buf) < 0);
    /* control tokens: only with special */
    char p[64];
    ASSERT_EQ(rh_token_to_piece(l.v, 1, p, sizeof p, false), 0);
    ASSERT_EQ(rh_token_to_piece(l.v, 1, p, sizeof p, true), 3);
    ASSERT(memcmp(p, "<s>", 3) == 0);
    /* a piece longer than the buffer reports its length, writes only cap */
    memset(p, 'x', sizeof p);
    ASSERT_EQ(rh_token_to_piece(l.v, hello, p, 2, false), 6);
    ASSERT(p[0] == ' ' && p[1] == 'H' && p[2] == 'x');
    unload(&l);
}

TEST(tok_piece_bpe)
{
    loaded l = load_vocab("gpt-2");
    size_t n;
    int32_t *ids = tok(l.v, "Hello world\n", 12, false, false, &n);
    ASSERT_EQ(n, 3);
    char p[64];
    ASSERT_EQ(rh_token_to_piece(l.v, ids[1], p, sizeof p, false), 6);
    ASSERT(memcmp(p, " world", 6) == 0);
    ASSERT_EQ(rh_token_to_piece(l.v, ids[2], p, sizeof p, false), 1);
    ASSERT_EQ(p[0], '\n');
    rh_free(ids);
    unload(&l);
}

/* ---- special tokens, BOS/EOS, EOG ------------------------------------------ */

TEST(tok_special_tokens)
{
    loaded l = load_vocab("gpt-2");
    const char *s = "a<|endoftext|>b";
    size_t n;
    int32_t *ids = tok(l.v, s, strlen(s), false, true, &n);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(ids[1], 50256);
    rh_free(ids);
    ids = tok(l.v, s, strlen(s), false, false, &n); /* as plain text */
    ASSERT(n > 3);
    for (size_t i = 0; i < n; i++)
        ASSERT_NE(ids[i], 50256);
    rh_free(ids);
    ASSERT(rh_vocab_is_eog(l.v, 50256));
    ASSERT(!rh_vocab_is_eog(l.v, 100));
    ASSERT(rh_vocab_is_control(l.v, 50256));
    ASSERT_EQ(rh_vocab_find(l.v, "<|endoftext|>"), 50256);
    ASSERT(!rh_vocab_add_bos(l.v));
    ids = tok(l.v, "", 0, true, true, &n);
    ASSERT_EQ(n, 0);
    rh_free(ids);
    unload(&l);

    l = load_vocab("llama-spm");
    ids = tok(l.v, "Hi", 2, true, false, &n);
    ASSERT(n >= 2);
    ASSERT_EQ(ids[0], 1); /* SentencePiece adds BOS */
    ASSERT_EQ(rh_vocab_bos(l.v), 1);
    ASSERT_EQ(rh_vocab_eos(l.v), 2);
    ASSERT(rh_vocab_is_eog(l.v, 2));
    rh_free(ids);
    /* parse_special: "<s>" and "</s>" in the text; a dummy-prefix space follows them */
    ids = tok(l.v, "<s>Hi</s>", 9, false, true, &n);
    ASSERT(n >= 3);
    ASSERT_EQ(ids[0], 1);
    ASSERT_EQ(ids[n - 1], 2);
    size_t n2;
    int32_t *ids2 = tok(l.v, "Hi", 2, false, false, &n2);
    ASSERT_EQ(n, n2 + 2);
    ASSERT(memcmp(ids + 1, ids2, n2 * sizeof *ids) == 0);
    rh_free(ids);
    rh_free(ids2);
    unload(&l);

    l = load_vocab("phi-3");
    /* "</s>" is user-defined in phi-3: split out even without parse_special,
     * and white space after it is dropped (rstrip) */
    ids = tok(l.v, "a</s>  b", 8, false, false, &n);
    ids2 = tok(l.v, "a</s>b", 6, false, false, &n2);
    ASSERT_EQ(n, n2);
    ASSERT(memcmp(ids, ids2, n * sizeof *ids) == 0);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= ids[i] == 2;
    ASSERT(found);
    rh_free(ids);
    rh_free(ids2);
    ASSERT(rh_vocab_is_eog(l.v, rh_vocab_find(l.v, "<|end|>")));
    ASSERT(rh_vocab_is_eog(l.v, 32000));
    ASSERT(rh_vocab_eot(l.v) >= 0);
    unload(&l);

    l = load_vocab("bert-bge");
    ids = tok(l.v, "Hello", 5, true, false, &n);
    ASSERT(n >= 3);
    ASSERT_EQ(ids[0], 101);
    ASSERT_EQ(ids[n - 1], 102);
    ASSERT_EQ(rh_vocab_cls(l.v), 101);
    ASSERT_EQ(rh_vocab_sep(l.v), 102);
    rh_free(ids);
    unload(&l);
}

/* ---- split rules and Unicode, no files ------------------------------------- */

static void check_split(rh_pretok pre, const char *text, const char *expect)
{
    uint32_t *c;
    size_t n, *lens, nl;
    ASSERT_EQ(rh_utf8_to_cpts(text, strlen(text), &c, &n), RH_OK);
    ASSERT_EQ(rh_pretok_split(pre, c, n, &lens, &nl), RH_OK);
    char got[1024];
    size_t o = 0, pos = 0;
    for (size_t i = 0; i < nl; i++) {
        got[o++] = '[';
        for (size_t k = 0; k < lens[i]; k++)
            o += (size_t)rh_utf8_encode(c[pos + k], got + o);
        pos += lens[i];
        got[o++] = ']';
    }
    got[o] = 0;
    ASSERT_EQ(pos, n);
    if (strcmp(got, expect) != 0)
        FAIL("split of \"%s\" (rule set %d): expected %s, got %s", text, (int)pre, expect, got);
    rh_free(c);
    rh_free(lens);
}

TEST(tok_split_rules)
{
    check_split(RH_PRE_GPT2, "Hello world's  test 123!!", "[Hello][ world]['s][ ][ test][ 123][!!]");
    check_split(RH_PRE_GPT2, "a  \n", "[a][  \n]");
    check_split(RH_PRE_LLAMA3, "1234567 I'M ok\n\n x", "[123][456][7][ I]['M][ ok][\n\n][ x]");
    check_split(RH_PRE_QWEN2, "a123", "[a][1][2][3]");
    check_split(RH_PRE_STARCODER, "x42y", "[x][4][2][y]");
    check_split(RH_PRE_FALCON, "1234567 ab+=c", "[123][456][7][ ab][+=][c]");
    /* deepseek-llm: the punctuation stage's range ":-~" spans the ASCII
     * letters, so ASCII runs are split off again from the umlauts */
    check_split(RH_PRE_DEEPSEEK_LLM, "Grüße 中文 42\n", "[Gr][üß][e][ ][中文][ ][42][\n]");
    check_split(RH_PRE_DEEPSEEK_CODER, "foo(x)1", "[foo][(][x][)][1]");
    /* tekken: case changes split words, non-ASCII letters belong to both cases */
    check_split(RH_PRE_TEKKEN, "HelloWORLD Übung /x", "[Hello][WORLD][ Übung][ /][x]");
    check_split(RH_PRE_GPT4O, "I'm HelloWorld 12345", "[I'm][ Hello][World][ ][123][45]");
    check_split(RH_PRE_VIKING, "ab, c1", "[ab][,][ c][1]");
    check_split(RH_PRE_GPT2, "", "");
}

/* Every rule set on random code points from every class: the words cover
 * the input exactly, none is empty. */
TEST(tok_split_random)
{
    static const uint32_t pool[] = {'a', 'Z', 'q', '7', ' ', ' ', '\n', '\r', '\t', '\'', 's', 'L', 'l', '.', '/',
                                    '$', '~', '`', 0xE4, 0xC4, 0xDF, 0x301, 0x4E2D, 0x3000, 0xA0, 0x85, 0x2028,
                                    0x0663, 0x1F600, 0x378, 0xFFFD, 0xAC00, 0xFF01, 0x2019, 0};
    uint32_t c[300];
    uint32_t x = 99;
    for (int pre = RH_PRE_DEFAULT; pre <= RH_PRE_VIKING; pre++) {
        for (int round = 0; round < 200; round++) {
            size_t n = (size_t)(round % 97) + 1;
            for (size_t i = 0; i < n; i++) {
                x = x * 1664525u + 1013904223u;
                c[i] = pool[(x >> 8) % (sizeof pool / sizeof pool[0])];
            }
            size_t *lens, nl, sum = 0;
            ASSERT_EQ(rh_pretok_split((rh_pretok)pre, c, n, &lens, &nl), RH_OK);
            for (size_t i = 0; i < nl; i++) {
                ASSERT(lens[i] > 0);
                sum += lens[i];
            }
            ASSERT_EQ(sum, n);
            rh_free(lens);
        }
    }
}

TEST(tok_unicode_tables)
{
    ASSERT(rh_unicode_flags('A') & RH_UF_LETTER);
    ASSERT(rh_unicode_flags('A') & RH_UF_UPPER);
    ASSERT(rh_unicode_flags(0xE4) & RH_UF_LOWER); /* ä */
    ASSERT(rh_unicode_flags('7') & RH_UF_NUMBER);
    ASSERT(rh_unicode_flags(0x20AC) & RH_UF_SYMBOL); /* € */
    ASSERT(rh_unicode_flags(0xA7) & RH_UF_PUNCT);    /* § */
    ASSERT(rh_unicode_flags(0x301) & RH_UF_MARK);
    ASSERT(rh_unicode_flags(0x3000) & RH_UF_WHITESPACE);
    ASSERT(rh_unicode_flags('\n') & RH_UF_WHITESPACE);
    ASSERT(!(rh_unicode_flags(0x1C) & RH_UF_WHITESPACE));
    ASSERT(rh_unicode_flags(0x378) & RH_UF_UNDEFINED);
    ASSERT(rh_unicode_flags(0x4E2D) & RH_UF_LETTER); /* 中 */
    ASSERT(rh_unicode_flags(0x110000) & RH_UF_UNDEFINED);
    ASSERT_EQ(rh_unicode_tolower(0xC4), 0xE4);
    ASSERT_EQ(rh_unicode_tolower('Q'), 'q');
    ASSERT_EQ(rh_unicode_tolower(0x1E9E), 0xDF); /* ẞ -> ß */
    ASSERT_EQ(rh_unicode_nfd_first(0xE4), 'a');
    ASSERT_EQ(rh_unicode_nfd_first(0x1EA5), 'a'); /* ấ: decomposes twice */
    ASSERT_EQ(rh_unicode_nfd_first(0xAC00), 0x1100);
    ASSERT_EQ(rh_unicode_nfd_first(0xDF), 0xDF);
    ASSERT_EQ(rh_byte_to_cpt(' '), 0x120);
    ASSERT_EQ(rh_byte_to_cpt('\n'), 0x10A);
    ASSERT_EQ(rh_byte_to_cpt('a'), 'a');
    for (int b = 0; b < 256; b++)
        ASSERT_EQ(rh_cpt_to_byte(rh_byte_to_cpt((uint8_t)b)), b);
    ASSERT_EQ(rh_cpt_to_byte(0x2581), -1);
    /* UTF-8: invalid bytes become U+FFFD, one byte at a time */
    size_t pos = 0;
    const char bad[] = "\xC3(\xE2\x82";
    ASSERT_EQ(rh_utf8_decode(bad, 4, &pos), 0xFFFD);
    ASSERT_EQ(pos, 1);
    ASSERT_EQ(rh_utf8_decode(bad, 4, &pos), '(');
    ASSERT_EQ(rh_utf8_decode(bad, 4, &pos), 0xFFFD);
    ASSERT_EQ(pos, 3);
    pos = 0;
    ASSERT_EQ(rh_utf8_decode("\xF0\x9F\x98\x80", 4, &pos), 0x1F600);
    char e[4];
    ASSERT_EQ(rh_utf8_encode(0x20AC, e), 3);
    ASSERT(memcmp(e, "\xE2\x82\xAC", 3) == 0);
}

/* ---- speed and robustness on long or broken input --------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST_TIMEOUT(tok_long_words, 120)
{
    static const char *const names[] = {"llama-spm", "gpt-2", "gpt2-pre-llama-bpe", "gpt2-pre-tekken",
                                        "deepseek-llm", "bert-bge"};
    size_t len = 100000;
    char *text = rh_malloc(len);
    ASSERT(text);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        loaded l = load_vocab(names[i]);
        for (int kind = 0; kind < 4; kind++) {
            for (size_t k = 0; k < len; k++)
                text[k] = kind == 0 ? 'a' : kind == 1 ? (char)('a' + (k * 7919) % 26) : kind == 2 ? '7' : '-';
            double t0 = now_s();
            size_t n;
            int32_t *ids = tok(l.v, text, len, false, false, &n);
            double dt = now_s() - t0;
            ASSERT(n > 0);
            rh_free(ids);
            if (dt > 5.0) /* well under a second normally; generous for sanitizer builds */
                FAIL("%s: 100 KB without spaces (kind %d) took %.2f s", names[i], kind, dt);
        }
        unload(&l);
    }
    rh_free(text);
}

TEST(tok_broken_utf8)
{
    static const char *const names[] = {"llama-spm", "gpt-2", "gpt2-pre-qwen2", "gpt2-pre-tekken", "deepseek-llm",
                                        "bert-bge"};
    unsigned char junk[512];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        loaded l = load_vocab(names[i]);
        for (size_t cut = 1; cut < sizeof junk; cut += 37) {
            size_t n;
            int32_t *ids = tok(l.v, (const char *)junk, cut, true, true, &n);
            for (size_t k = 0; k < n; k++)
                ASSERT(ids[k] >= 0 && ids[k] < rh_vocab_size(l.v));
            char out[8192];
            (void)detok_all(l.v, ids, n, out, sizeof out);
            rh_free(ids);
        }
        unload(&l);
    }
}

/* Cutting SentencePiece text at spaces must not change the result. */
TEST(tok_spm_segments_equal_whole)
{
    loaded l = load_vocab("llama-spm");
    ASSERT(l.v->spm_cut_at_space);
    size_t len;
    char *text = read_rel("corpus/gesetze/vwvfg.md", &len);
    if (len > 120000)
        len = 120000;
    size_t n1, n2;
    int32_t *a = tok(l.v, text, len, false, false, &n1);
    l.v->spm_cut_at_space = false;
    int32_t *b = tok(l.v, text, len, false, false, &n2);
    ASSERT_EQ(n1, n2);
    ASSERT(memcmp(a, b, n1 * sizeof *a) == 0);
    rh_free(a);
    rh_free(b);
    rh_free(text);
    unload(&l);
}

/* ---- hostile vocabularies ------------------------------------------------------ */

typedef struct mini {
    const char *model;
    const char *const *tokens;
    size_t n_tokens;
    const float *scores;
    size_t n_scores;
    const int32_t *types;
    size_t n_types;
    const char *const *merges;
    size_t n_merges;
    const char *bos_key; /* optional special id */
    uint32_t bos_val;
} mini;

static int load_mini(const mini *m, rh_vocab **v, rh_error *err)
{
    gguf_writer *w = NULL;
    void *img = NULL;
    size_t sz = 0;
    gguf_file *f = NULL;
    int rc = gguf_writer_new(&w);
    if (rc == RH_OK)
        rc = gguf_writer_set_str(w, "tokenizer.ggml.model", m->model);
    if (rc == RH_OK && m->tokens)
        rc = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", m->tokens, m->n_tokens);
    if (rc == RH_OK && m->scores)
        rc = gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, m->scores, m->n_scores);
    if (rc == RH_OK && m->types)
        rc = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, m->types, m->n_types);
    if (rc == RH_OK && m->merges)
        rc = gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", m->merges, m->n_merges);
    if (rc == RH_OK && m->bos_key)
        rc = gguf_writer_set_u32(w, m->bos_key, m->bos_val);
    if (rc == RH_OK)
        rc = gguf_writer_write_mem(w, &img, &sz, err);
    gguf_writer_free(w);
    if (rc != RH_OK)
        FAIL("cannot build test GGUF: %d", rc);
    rc = gguf_open_mem(img, sz, &f, err);
    if (rc == RH_OK)
        rc = rh_vocab_load(f, v, err);
    gguf_close(f);
    rh_free(img);
    return rc;
}

static const char *const spm_toks[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab"};
static const float spm_scores[] = {0, 0, 0, -1, -2, -3, -1.5f, -0.5f};
static const int32_t spm_types[] = {2, 3, 3, 1, 1, 1, 1, 1};

static void expect_bad(const mini *m, const char *what)
{
    rh_vocab *v = NULL;
    rh_error err = {0};
    int rc = load_mini(m, &v, &err);
    if (rc == RH_OK) {
        rh_vocab_free(v);
        FAIL("%s: loaded without error", what);
    }
    ASSERT(v == NULL);
    ASSERT(err.msg[0] != 0);
    printf("  %s -> %s\n", what, err.msg);
}

TEST(tok_bad_good_baseline)
{
    mini m = {"llama", spm_toks, 8, spm_scores, 8, spm_types, 8, NULL, 0, NULL, 0};
    rh_vocab *v = NULL;
    rh_error err = {0};
    ASSERT_EQ(load_mini(&m, &v, &err), RH_OK);
    size_t n;
    int32_t *ids = tok(v, "ab a", 4, true, false, &n);
    ASSERT(n >= 2);
    ASSERT_EQ(ids[0], 1);
    rh_free(ids);
    rh_vocab_free(v);
}

TEST(tok_bad_count_mismatch)
{
    mini m = {"llama", spm_toks, 8, spm_scores, 7, spm_types, 8, NULL, 0, NULL, 0};
    expect_bad(&m, "7 scores for 8 tokens");
    m = (mini){"llama", spm_toks, 8, spm_scores, 8, spm_types, 5, NULL, 0, NULL, 0};
    expect_bad(&m, "5 token types for 8 tokens");
}

TEST(tok_bad_special_ids)
{
    static const char *const keys[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                       "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
                                       "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.cls_token_id",
                                       "tokenizer.ggml.eot_token_id", "tokenizer.ggml.mask_token_id"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        mini m = {"llama", spm_toks, 8, spm_scores, 8, spm_types, 8, NULL, 0, keys[i], 8};
        expect_bad(&m, keys[i]);
        m.bos_val = 0xFFFFFFFFu;
        expect_bad(&m, keys[i]);
    }
}

TEST(tok_bad_token_too_long)
{
    size_t big = RH_VOCAB_MAX_TOKEN_LEN + 1;
    char *longtok = rh_malloc(big + 1);
    ASSERT(longtok);
    memset(longtok, 'x', big);
    longtok[big] = 0;
    const char *toks[] = {"<unk>", "<s>", "</s>", longtok};
    mini m = {"llama", toks, 4, NULL, 0, NULL, 0, NULL, 0, NULL, 0};
    expect_bad(&m, "token longer than the limit");
    rh_free(longtok);
}

/* A string whose length field claims more than INT32_MAX bytes: the file
 * is rejected (by the reader or by the vocabulary), never read past. */
TEST(tok_bad_token_length_overflow)
{
    unsigned char img[256];
    size_t o = 0;
#define PUT(p, n) (memcpy(img + o, (p), (n)), o += (n))
#define PUT32(x) do { uint32_t _v = (x); PUT(&_v, 4); } while (0)
#define PUT64(x) do { uint64_t _v = (x); PUT(&_v, 8); } while (0)
#define PUTS(s) do { PUT64(strlen(s)); PUT((s), strlen(s)); } while (0)
    PUT("GGUF", 4);
    PUT32(3);
    PUT64(0);
    PUT64(2);
    PUTS("tokenizer.ggml.model");
    PUT32(GGUF_VT_STRING);
    PUTS("llama");
    PUTS("tokenizer.ggml.tokens");
    PUT32(GGUF_VT_ARRAY);
    PUT32(GGUF_VT_STRING);
    PUT64(1);
    PUT64((uint64_t)INT32_MAX + 10); /* length of the only token */
    PUT("abc", 3);
#undef PUT
#undef PUT32
#undef PUT64
#undef PUTS
    gguf_file *f = NULL;
    rh_vocab *v = NULL;
    rh_error err = {0};
    int rc = gguf_open_mem(img, o, &f, &err);
    if (rc == RH_OK) {
        rc = rh_vocab_load(f, &v, &err);
        gguf_close(f);
    }
    ASSERT(rc != RH_OK);
    ASSERT(v == NULL);
    ASSERT(err.msg[0] != 0);
}

TEST(tok_bad_byte_tokens)
{
    const char *toks[] = {"<unk>", "<s>", "</s>", "<0x-1>", "<0xZZ>", "<0x100>", "<0x41>", "<0x4", "x"};
    const int32_t types[] = {2, 3, 3, 6, 6, 6, 6, 6, 1};
    const float scores[9] = {0};
    mini m = {"llama", toks, 9, scores, 9, types, 9, NULL, 0, NULL, 0};
    rh_vocab *v = NULL;
    rh_error err = {0};
    ASSERT_EQ(load_mini(&m, &v, &err), RH_OK);
    char p[16];
    for (int32_t id = 3; id <= 7; id++)
        ASSERT(rh_token_to_piece(v, id, p, sizeof p, true) >= 0);
    /* the valid one is byte 'A'; the broken ones read as their text */
    ASSERT_EQ(rh_token_to_piece(v, 6, p, sizeof p, false), 1);
    ASSERT_EQ(p[0], 'A');
    ASSERT_EQ(rh_token_to_piece(v, 5, p, sizeof p, false), 7);
    size_t n;
    int32_t *ids = tok(v, "xAyz\xE2\x82", 6, true, true, &n);
    for (size_t i = 0; i < n; i++)
        ASSERT(ids[i] >= 0 && ids[i] < 9);
    rh_free(ids);
    rh_vocab_free(v);
}

TEST(tok_bad_merges)
{
    const char *toks[] = {"a", "b", "ab", "<|endoftext|>"};
    const char *good[] = {"a b"};
    const char *unknown[] = {"a b", "a q"};
    const char *nospace[] = {"ab"};
    const char *empty_side[] = {"a "};
    mini m = {"gpt2", toks, 4, NULL, 0, NULL, 0, good, 1, NULL, 0};
    rh_vocab *v = NULL;
    rh_error err = {0};
    ASSERT_EQ(load_mini(&m, &v, &err), RH_OK);
    size_t n;
    int32_t *ids = tok(v, "ab", 2, false, false, &n);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(ids[0], 2);
    rh_free(ids);
    rh_vocab_free(v);
    m.merges = unknown;
    m.n_merges = 2;
    expect_bad(&m, "merge with an unknown token");
    m.merges = nospace;
    m.n_merges = 1;
    expect_bad(&m, "merge without a space");
    m.merges = empty_side;
    expect_bad(&m, "merge with an empty side");
    m.merges = NULL;
    expect_bad(&m, "BPE without merges");
}

TEST(tok_bad_empty_and_unknown)
{
    mini m = {"llama", spm_toks, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0};
    expect_bad(&m, "empty vocabulary");
    m = (mini){"llama", NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0};
    expect_bad(&m, "no token list");
    m = (mini){"klingon", spm_toks, 8, NULL, 0, NULL, 0, NULL, 0, NULL, 0};
    expect_bad(&m, "unknown tokenizer model");
}

/* Every allocation of loading and tokenizing may fail: clean error, no leak
 * (under the sanitizer build), no crash. */
TEST(tok_bad_alloc_failures)
{
    const char *toks[] = {"a", "b", "ab", "<|endoftext|>", "\xC4\xA0"};
    const char *merges[] = {"a b"};
    mini m = {"gpt2", toks, 5, NULL, 0, NULL, 0, merges, 1, NULL, 0};
    for (long k = 0; k < 400; k++) {
        gguf_writer *w = NULL;
        void *img = NULL;
        size_t sz = 0;
        gguf_file *f = NULL;
        rh_error err = {0};
        ASSERT_EQ(gguf_writer_new(&w), RH_OK);
        ASSERT_EQ(gguf_writer_set_str(w, "tokenizer.ggml.model", m.model), RH_OK);
        ASSERT_EQ(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", m.tokens, m.n_tokens), RH_OK);
        ASSERT_EQ(gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", m.merges, m.n_merges), RH_OK);
        ASSERT_EQ(gguf_writer_write_mem(w, &img, &sz, &err), RH_OK);
        gguf_writer_free(w);
        ASSERT_EQ(gguf_open_mem(img, sz, &f, &err), RH_OK);
        rh_vocab *v = NULL;
        rh_alloc_fail_after(k);
        int rc = rh_vocab_load(f, &v, &err);
        int32_t *ids = NULL;
        size_t n = 0;
        int rc2 = rc == RH_OK ? rh_tokenize(v, "ab ab<|endoftext|>", 18, true, true, &ids, &n, &err) : rc;
        rh_alloc_fail_reset();
        if (rc == RH_OK)
            ASSERT(v != NULL);
        else
            ASSERT(v == NULL);
        rh_free(ids);
        rh_vocab_free(v);
        gguf_close(f);
        rh_free(img);
        if (rc == RH_OK && rc2 == RH_OK) {
            if (k < 5)
                FAIL("allocation failure injection had no effect (k = %ld)", k);
            printf("  all allocations succeed from k = %ld on\n", k);
            return; /* k was large enough for everything to succeed */
        }
    }
    FAIL("loading and tokenizing never succeeded within 400 allocations");
}
