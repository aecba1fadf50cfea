/*
 * tokenizer.c - the vocabulary: loading it from GGUF metadata (validated:
 * the metadata is untrusted), the text -> id table, special tokens, the
 * tokenize entry point (special-token splitting, then SPM / BPE / WPM),
 * token pieces and the streaming detokenizer.
 *
 * Defaults and special-token conventions follow what the GGUF vocabularies
 * are written for (facts of the format): SentencePiece vocabularies add BOS
 * and a dummy-prefix space, BERT adds [CLS] ... [SEP], BPE vocabularies
 * follow their metadata; user-defined tokens are split out of the text even
 * when parse_special is false, control tokens only when it is true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "engine/tokenizer_int.h"
#include "engine/unicode.h"

/* ---- small helpers -------------------------------------------------------- */

int rh_tokvec_push(rh_tokvec *t, int32_t id)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        int32_t *p = rh_realloc_array(t->v, cap, sizeof *p);
        if (!p)
            return RH_ENOMEM;
        t->v = p;
        t->cap = cap;
    }
    t->v[t->n++] = id;
    return RH_OK;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static const char *tok_text(const rh_vocab *v, int32_t id) { return v->blob + v->off[id]; }

int32_t rh_vocab_lookup(const rh_vocab *v, const char *text, size_t len)
{
    if (len > v->max_len)
        return -1;
    size_t i = (size_t)hash_bytes(text, len) & v->ht_mask;
    for (;;) {
        uint32_t slot = v->ht[i];
        if (slot == 0)
            return -1;
        int32_t id = (int32_t)(slot - 1);
        if (v->len[id] == len && memcmp(tok_text(v, id), text, len) == 0)
            return id;
        i = (i + 1) & v->ht_mask;
    }
}

int32_t rh_vocab_merge_rank(const rh_vocab *v, int32_t left, int32_t right)
{
    if (left < 0 || right < 0 || !v->mg_key)
        return -1;
    uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
    size_t i = (size_t)hash_u64(key) & v->mg_mask;
    for (;;) {
        if (v->mg_key[i] == 0)
            return -1;
        if (v->mg_key[i] == key)
            return (int32_t)v->mg_rank[i];
        i = (i + 1) & v->mg_mask;
    }
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

/* ---- loading -------------------------------------------------------------- */

void rh_vocab_free(rh_vocab *v)
{
    if (!v)
        return;
    rh_free(v->blob);
    rh_free(v->off);
    rh_free(v->len);
    rh_free(v->score);
    rh_free(v->attr);
    rh_free(v->byte_val);
    rh_free(v->ht);
    rh_free(v->mg_key);
    rh_free(v->mg_rank);
    rh_free(v->special);
    rh_free(v->eog);
    rh_free(v);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "<0xAB>" -> 0xAB, else -1. */
static int parse_byte_token(const char *s, size_t n)
{
    if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>')
        return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    if (hi < 0 || lo < 0)
        return -1;
    return hi * 16 + lo;
}

static int pretok_from_name(const char *p, size_t n, rh_vocab *v, rh_error *err)
{
    static const struct {
        const char *name;
        rh_pretok pre;
    } names[] = {
        {"default", RH_PRE_DEFAULT},         {"llama3", RH_PRE_LLAMA3},
        {"llama-v3", RH_PRE_LLAMA3},         {"llama-bpe", RH_PRE_LLAMA3},
        {"falcon3", RH_PRE_LLAMA3},          {"dbrx", RH_PRE_LLAMA3},
        {"smaug-bpe", RH_PRE_LLAMA3},        {"chatglm-bpe", RH_PRE_LLAMA3},
        {"deepseek-llm", RH_PRE_DEEPSEEK_LLM}, {"deepseek-coder", RH_PRE_DEEPSEEK_CODER},
        {"falcon", RH_PRE_FALCON},           {"mpt", RH_PRE_GPT2},
        {"gpt-2", RH_PRE_GPT2},              {"phi-2", RH_PRE_GPT2},
        {"jina-es", RH_PRE_GPT2},            {"jina-de", RH_PRE_GPT2},
        {"gigachat", RH_PRE_GPT2},           {"jina-v1-en", RH_PRE_GPT2},
        {"jina-v2-es", RH_PRE_GPT2},         {"jina-v2-de", RH_PRE_GPT2},
        {"jina-v2-code", RH_PRE_GPT2},       {"roberta-bpe", RH_PRE_GPT2},
        {"olmo", RH_PRE_GPT2},               {"jais", RH_PRE_GPT2},
        {"starcoder", RH_PRE_STARCODER},     {"refact", RH_PRE_STARCODER},
        {"command-r", RH_PRE_STARCODER},     {"smollm", RH_PRE_STARCODER},
        {"codeshell", RH_PRE_STARCODER},     {"exaone", RH_PRE_STARCODER},
        {"minerva-7b", RH_PRE_STARCODER},    {"qwen2", RH_PRE_QWEN2},
        {"stablelm2", RH_PRE_QWEN2},         {"megrez", RH_PRE_QWEN2},
        {"tekken", RH_PRE_TEKKEN},           {"bloom", RH_PRE_BLOOM},
        {"poro-chat", RH_PRE_BLOOM},         {"gpt3-finnish", RH_PRE_BLOOM},
        {"viking", RH_PRE_VIKING},           {"gpt-4o", RH_PRE_GPT4O},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) != n || memcmp(names[i].name, p, n) != 0)
            continue;
        v->pre = names[i].pre;
        /* per-family flags, as the vocabularies are written for */
        if (!strcmp(names[i].name, "llama3") || !strcmp(names[i].name, "llama-v3") ||
            !strcmp(names[i].name, "llama-bpe") || !strcmp(names[i].name, "falcon3") ||
            !strcmp(names[i].name, "tekken")) {
            v->ignore_merges = true;
            v->add_bos = true;
        }
        if (!strcmp(names[i].name, "chatglm-bpe"))
            v->bos = -1;
        if (!strcmp(names[i].name, "deepseek-llm") || !strcmp(names[i].name, "deepseek-coder") ||
            !strcmp(names[i].name, "command-r") || !strcmp(names[i].name, "qwen2") ||
            !strcmp(names[i].name, "poro-chat") || !strcmp(names[i].name, "tekken") ||
            !strcmp(names[i].name, "smollm") || !strcmp(names[i].name, "viking") ||
            !strcmp(names[i].name, "gpt-4o"))
            v->clean_spaces = false;
        return RH_OK;
    }
    return rh_error_set(err, RH_EUNSUPPORTED, "tokenizer: unsupported pre-tokenizer '%.*s'",
                        (int)(n > 64 ? 64 : n), p);
}

static int load_type(const gguf_file *f, rh_vocab *v, rh_error *err)
{
    gguf_str model;
    int rc = gguf_get_str(f, "tokenizer.ggml.model", &model);
    if (rc != RH_OK)
        return rh_error_set(err, RH_EFORMAT, "tokenizer: the file has no tokenizer.ggml.model string");
    v->unk = v->sep = v->pad = v->cls = v->mask = v->eot = v->eom = -1;
    if (gguf_str_eq(model, "llama")) {
        v->type = RH_VOCAB_SPM;
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_space_prefix = true;
        v->add_bos = true;
    } else if (gguf_str_eq(model, "gpt2")) {
        v->type = RH_VOCAB_BPE;
        /* no fallback ids: guessing (other implementations use 11) would make
         * an arbitrary token end generation */
        v->bos = -1, v->eos = -1;
        v->clean_spaces = true;
        gguf_str pre;
        rc = gguf_get_str(f, "tokenizer.ggml.pre", &pre);
        if (rc == RH_OK)
            rc = pretok_from_name(pre.ptr, pre.len, v, err);
        else if (rc == RH_ENOTFOUND)
            rc = RH_OK, v->pre = RH_PRE_DEFAULT;
        else
            rc = rh_error_set(err, RH_EFORMAT, "tokenizer: tokenizer.ggml.pre is not a string");
        if (rc != RH_OK)
            return rc;
    } else if (gguf_str_eq(model, "bert")) {
        v->type = RH_VOCAB_WPM;
        v->bos = 101, v->unk = 100, v->sep = 102, v->pad = 0, v->mask = 103, v->eos = -1;
        v->add_bos = true;
        v->clean_spaces = true;
    } else {
        return rh_error_set(err, RH_EUNSUPPORTED, "tokenizer: unsupported tokenizer model '%.*s'",
                            (int)(model.len > 64 ? 64 : model.len), model.ptr);
    }
    bool b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &b) == RH_OK)
        v->add_space_prefix = b;
    return RH_OK;
}

static int load_tokens(const gguf_file *f, rh_vocab *v, rh_error *err)
{
    const gguf_kv *toks = NULL, *scores = NULL, *types = NULL;
    int rc = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &toks);
    if (rc != RH_OK)
        return rh_error_set(err, RH_EFORMAT, "tokenizer: tokenizer.ggml.tokens (array of strings) is missing");
    if (toks->arr_n == 0)
        return rh_error_set(err, RH_EFORMAT, "tokenizer: the vocabulary is empty");
    if (toks->arr_n > RH_VOCAB_MAX_TOKENS)
        return rh_error_set(err, RH_ELIMIT, "tokenizer: %llu tokens exceed the limit of %u",
                            (unsigned long long)toks->arr_n, RH_VOCAB_MAX_TOKENS);
    size_t n = (size_t)toks->arr_n;
    const gguf_kv *kv = gguf_find_kv(f, "tokenizer.ggml.scores");
    if (kv) {
        if (kv->type != GGUF_VT_ARRAY || (kv->arr_type != GGUF_VT_FLOAT32 && kv->arr_type != GGUF_VT_FLOAT64))
            return rh_error_set(err, RH_EFORMAT, "tokenizer: tokenizer.ggml.scores is not an array of floats");
        if (kv->arr_n != n)
            return rh_error_set(err, RH_EFORMAT, "tokenizer: %llu scores for %zu tokens",
                                (unsigned long long)kv->arr_n, n);
        scores = kv;
    }
    kv = gguf_find_kv(f, "tokenizer.ggml.token_type");
    if (kv) {
        if (kv->type != GGUF_VT_ARRAY || kv->arr_type == GGUF_VT_STRING || kv->arr_type == GGUF_VT_ARRAY ||
            kv->arr_type == GGUF_VT_FLOAT32 || kv->arr_type == GGUF_VT_FLOAT64)
            return rh_error_set(err, RH_EFORMAT, "tokenizer: tokenizer.ggml.token_type is not an array of integers");
        if (kv->arr_n != n)
            return rh_error_set(err, RH_EFORMAT, "tokenizer: %llu token types for %zu tokens",
                                (unsigned long long)kv->arr_n, n);
        types = kv;
    }

    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t l = toks->arr_str[i].len;
        if (l > RH_VOCAB_MAX_TOKEN_LEN)
            return rh_error_set(err, RH_EFORMAT, "tokenizer: token %zu is %llu bytes long (limit %u)", i,
                                (unsigned long long)l, RH_VOCAB_MAX_TOKEN_LEN);
        total += l + 1;
    }
    if (total > UINT32_MAX)
        return rh_error_set(err, RH_ELIMIT, "tokenizer: the token texts are too large in total");

    v->n = (int32_t)n;
    v->blob = rh_malloc((size_t)total);
    v->off = rh_malloc_array(n, sizeof *v->off);
    v->len = rh_malloc_array(n, sizeof *v->len);
    v->score = rh_malloc_array(n, sizeof *v->score);
    v->attr = rh_malloc_array(n, sizeof *v->attr);
    v->byte_val = rh_malloc_array(n, sizeof *v->byte_val);
    size_t cap = pow2_at_least(n * 2);
    v->ht = rh_calloc(cap, sizeof *v->ht);
    v->ht_mask = cap - 1;
    if (!v->blob || !v->off || !v->len || !v->score || !v->attr || !v->byte_val || !v->ht)
        return rh_error_set(err, RH_ENOMEM, "tokenizer: out of memory");

    uint32_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        gguf_str s = toks->arr_str[i];
        memcpy(v->blob + pos, s.ptr, (size_t)s.len);
        v->blob[pos + s.len] = 0;
        v->off[i] = pos;
        v->len[i] = (uint32_t)s.len;
        pos += (uint32_t)s.len + 1;
        if (s.len > v->max_len)
            v->max_len = (uint32_t)s.len;
        v->score[i] = scores ? (float)gguf_arr_num(scores, i) : 0.0f;
        int64_t t = types ? gguf_arr_int(types, i) : 1;
        uint16_t a;
        switch (t) {
        case 1: a = RH_TA_NORMAL; break;
        case 2: a = RH_TA_UNKNOWN; break;
        case 3: a = RH_TA_CONTROL; break;
        case 4: a = RH_TA_USER_DEFINED; break;
        case 5: a = RH_TA_UNUSED; break;
        case 6: a = RH_TA_BYTE; break;
        default: a = 0; break;
        }
        v->byte_val[i] = -1;
        if (a == RH_TA_BYTE) {
            int b = parse_byte_token(s.ptr, (size_t)s.len);
            if (b < 0)
                a = RH_TA_NORMAL; /* not a valid "<0xAB>": treat as an ordinary token */
            else
                v->byte_val[i] = (int16_t)b;
        }
        v->attr[i] = a;
    }
    /* text -> id; a text that occurs twice maps to the later id */
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)hash_bytes(tok_text(v, (int32_t)i), v->len[i]) & v->ht_mask;
        for (;;) {
            uint32_t slot = v->ht[h];
            if (slot == 0 || (v->len[slot - 1] == v->len[i] &&
                              memcmp(tok_text(v, (int32_t)(slot - 1)), tok_text(v, (int32_t)i), v->len[i]) == 0)) {
                v->ht[h] = (uint32_t)i + 1;
                break;
            }
            h = (h + 1) & v->ht_mask;
        }
    }
    v->spm_cut_at_space = true;
    for (size_t i = 0; i < n && v->spm_cut_at_space; i++) {
        const char *t = tok_text(v, (int32_t)i);
        size_t k = 0, l = v->len[i];
        while (k + 3 <= l && memcmp(t + k, "\xE2\x96\x81", 3) == 0)
            k += 3;
        for (; k + 3 <= l; k++)
            if (memcmp(t + k, "\xE2\x96\x81", 3) == 0)
                v->spm_cut_at_space = false;
    }
    for (int b = 0; b < 256; b++) {
        static const char hex[] = "0123456789ABCDEF";
        char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        char one[1] = {(char)b};
        int32_t id = rh_vocab_lookup(v, name, 6);
        v->byte_tok[b] = id >= 0 ? id : rh_vocab_lookup(v, one, 1);
    }
    return RH_OK;
}

static int load_merges(const gguf_file *f, rh_vocab *v, rh_error *err)
{
    const gguf_kv *m = NULL;
    int rc = gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_VT_STRING, &m);
    if (rc != RH_OK)
        return rh_error_set(err, RH_EFORMAT, "tokenizer: a BPE vocabulary needs tokenizer.ggml.merges (array of strings)");
    if (m->arr_n > RH_VOCAB_MAX_MERGES)
        return rh_error_set(err, RH_ELIMIT, "tokenizer: %llu merges exceed the limit of %u",
                            (unsigned long long)m->arr_n, RH_VOCAB_MAX_MERGES);
    size_t n = (size_t)m->arr_n;
    size_t cap = pow2_at_least(n * 2);
    v->mg_key = rh_calloc(cap, sizeof *v->mg_key);
    v->mg_rank = rh_malloc_array(cap, sizeof *v->mg_rank);
    if (!v->mg_key || !v->mg_rank)
        return rh_error_set(err, RH_ENOMEM, "tokenizer: out of memory");
    v->mg_mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        gguf_str s = m->arr_str[i];
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
        if (!sp)
            return rh_error_set(err, RH_EFORMAT, "tokenizer: merge %zu is malformed (expected \"LEFT RIGHT\")", i);
        size_t ll = (size_t)(sp - s.ptr), rl = (size_t)s.len - ll - 1;
        int32_t l = rh_vocab_lookup(v, s.ptr, ll), r = rh_vocab_lookup(v, sp + 1, rl);
        if (l < 0 || r < 0)
            return rh_error_set(err, RH_EFORMAT, "tokenizer: merge %zu names a token that is not in the vocabulary", i);
        uint64_t key = (((uint64_t)(uint32_t)l << 32) | (uint32_t)r) + 1;
        size_t h = (size_t)hash_u64(key) & v->mg_mask;
        while (v->mg_key[h] != 0 && v->mg_key[h] != key)
            h = (h + 1) & v->mg_mask;
        if (v->mg_key[h] == 0) { /* the first rank of a pair counts */
            v->mg_key[h] = key;
            v->mg_rank[h] = (uint32_t)i;
            v->n_merges++;
        }
    }
    return RH_OK;
}

static int load_special_ids(const gguf_file *f, rh_vocab *v, rh_error *err)
{
    static const char *const keys[] = {
        "tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.eot_token_id",     "tokenizer.ggml.eom_token_id",
        "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
        "tokenizer.ggml.padding_token_id", "tokenizer.ggml.mask_token_id",
        "tokenizer.ggml.cls_token_id",
    };
    int32_t *dst[] = {&v->bos, &v->eos, &v->eot, &v->eom, &v->unk, &v->sep, &v->pad, &v->mask, &v->cls};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        uint64_t id;
        int rc = gguf_get_u64(f, keys[i], &id);
        if (rc == RH_ENOTFOUND)
            continue;
        if (rc != RH_OK) {
            int32_t neg;
            if (gguf_get_i32(f, keys[i], &neg) == RH_OK && neg == -1) {
                *dst[i] = -1; /* explicitly none */
                continue;
            }
            return rh_error_set(err, RH_EFORMAT, "tokenizer: %s is not a valid token id", keys[i]);
        }
        if (id >= (uint64_t)v->n)
            return rh_error_set(err, RH_EFORMAT, "tokenizer: %s = %llu is outside the vocabulary of %d tokens",
                                keys[i], (unsigned long long)id, v->n);
        *dst[i] = (int32_t)id;
    }
    /* built-in defaults that do not fit a small vocabulary mean "none" */
    int32_t *all[] = {&v->bos, &v->eos, &v->eot, &v->eom, &v->unk, &v->sep, &v->pad, &v->mask, &v->cls};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i] >= v->n)
            *all[i] = -1;
    if (v->type == RH_VOCAB_WPM && v->cls >= 0)
        v->bos = v->cls; /* BERT: the sequence starts with [CLS] */
    if (v->cls < 0 && v->type == RH_VOCAB_WPM)
        v->cls = v->bos;
    bool b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b) == RH_OK)
        v->add_bos = b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &b) == RH_OK)
        v->add_eos = b;
    return RH_OK;
}

static bool text_is(const rh_vocab *v, int32_t id, const char *s)
{
    size_t n = strlen(s);
    return v->len[id] == n && memcmp(tok_text(v, id), s, n) == 0;
}

static int32_t find_any(const rh_vocab *v, const char *const *names, size_t n)
{
    for (int32_t id = 0; id < v->n; id++)
        for (size_t k = 0; k < n; k++)
            if (text_is(v, id, names[k]))
                return id;
    return -1;
}

static int eog_add(rh_vocab *v, int32_t id)
{
    if (id < 0)
        return RH_OK;
    for (size_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id)
            return RH_OK;
    int32_t *p = rh_realloc_array(v->eog, v->n_eog + 1, sizeof *p);
    if (!p)
        return RH_ENOMEM;
    v->eog = p;
    v->eog[v->n_eog++] = id;
    return RH_OK;
}

/* End-of-turn/FIM tokens recognised by their text; they are control tokens
 * even where a converter marked them otherwise. */
static int detect_special(rh_vocab *v)
{
    static const char *const eot[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                      "<|endoftext|>", "<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"};
    static const char *const eom[] = {"<|eom_id|>"};
    static const char *const fim_pre[] = {"<|fim_prefix|>", "<fim-prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>"};
    static const char *const fim_suf[] = {"<|fim_suffix|>", "<fim-suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>"};
    static const char *const fim_mid[] = {"<|fim_middle|>", "<fim-middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>"};
    static const char *const fim_pad[] = {"<|fim_pad|>", "<fim-pad>", "<PAD>"};
    static const char *const fim_rep[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"};
    static const char *const fim_sep[] = {"<|file_sep|>"};
    static const char *const eog_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<|eom_id|>", "<EOT>"};
#define FIND(a) find_any(v, a, sizeof(a) / sizeof((a)[0]))
    int rc = RH_OK;
    int32_t id;
    if (v->eot < 0 && (id = FIND(eot)) >= 0)
        v->eot = id, v->attr[id] |= RH_TA_CONTROL;
    if (v->eom < 0 && (id = FIND(eom)) >= 0)
        v->eom = id, v->attr[id] |= RH_TA_CONTROL;
    const char *const *fims[] = {fim_pre, fim_suf, fim_mid};
    size_t nfims[] = {4, 4, 4};
    for (size_t k = 0; k < 3; k++)
        if ((id = find_any(v, fims[k], nfims[k])) >= 0)
            v->attr[id] |= RH_TA_CONTROL;
    int32_t pad = FIND(fim_pad), rep = FIND(fim_rep), sep = FIND(fim_sep);
    int32_t fim_eog[] = {pad, rep, sep};
    for (size_t k = 0; k < 3 && rc == RH_OK; k++)
        if (fim_eog[k] >= 0) {
            v->attr[fim_eog[k]] |= RH_TA_CONTROL;
            rc = eog_add(v, fim_eog[k]);
        }
    for (int32_t t = 0; t < v->n && rc == RH_OK; t++)
        for (size_t k = 0; k < sizeof eog_names / sizeof eog_names[0]; k++)
            if (text_is(v, t, eog_names[k])) {
                v->attr[t] |= RH_TA_CONTROL;
                rc = eog_add(v, t);
            }
    if (rc == RH_OK && (id = rh_vocab_lookup(v, "</s>", 4)) >= 0)
        rc = eog_add(v, id); /* an end marker, but its type is left alone */
    if (rc == RH_OK)
        rc = eog_add(v, v->eos);
    if (rc == RH_OK)
        rc = eog_add(v, v->eot);
    if (rc == RH_OK)
        rc = eog_add(v, v->eom);
    return rc;
#undef FIND
}

/* Sort keys: longer texts first, then lower ids (no global context needed,
 * so concurrent loads are safe). */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : (x > y);
}

static bool contains_ci(gguf_str s, const char *needle)
{
    size_t n = strlen(needle);
    for (uint64_t i = 0; i + n <= s.len; i++) {
        size_t k = 0;
        while (k < n && (s.ptr[i + k] | 0x20) == (needle[k] | 0x20))
            k++;
        if (k == n)
            return true;
    }
    return false;
}

static int build_special_cache(const gguf_file *f, rh_vocab *v)
{
    size_t cnt = 0;
    for (int32_t i = 0; i < v->n; i++)
        if (v->attr[i] & (RH_TA_CONTROL | RH_TA_USER_DEFINED | RH_TA_UNKNOWN))
            cnt++;
    v->special = rh_malloc_array(cnt ? cnt : 1, sizeof *v->special);
    uint64_t *keys = rh_malloc_array(cnt ? cnt : 1, sizeof *keys);
    if (!v->special || !keys) {
        rh_free(keys);
        return RH_ENOMEM;
    }
    for (int32_t i = 0; i < v->n; i++)
        if (v->attr[i] & (RH_TA_CONTROL | RH_TA_USER_DEFINED | RH_TA_UNKNOWN))
            keys[v->n_special++] = ((uint64_t)(UINT32_MAX - v->len[i]) << 32) | (uint32_t)i;
    qsort(keys, v->n_special, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < v->n_special; i++)
        v->special[i] = (int32_t)(keys[i] & 0xFFFFFFFFu);
    rh_free(keys);

    /* per-model stripping of white space around special tokens */
    gguf_str name = {"", 0}, pre = {"", 0};
    (void)gguf_get_str(f, "general.name", &name);
    (void)gguf_get_str(f, "tokenizer.ggml.pre", &pre);
    if (contains_ci(pre, "jina-v2-de") || contains_ci(pre, "jina-v2-es") || contains_ci(pre, "jina-v2-code")) {
        int32_t id = rh_vocab_lookup(v, "<mask>", 6);
        if (id >= 0)
            v->attr[id] |= RH_TA_LSTRIP;
    } else if (contains_ci(name, "phi-3") || contains_ci(name, "phi3")) {
        for (size_t i = 0; i < v->n_special; i++)
            v->attr[v->special[i]] |= RH_TA_RSTRIP;
        int32_t id = rh_vocab_lookup(v, "</s>", 4);
        if (id >= 0)
            v->attr[id] |= RH_TA_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t k = 0; k < 3; k++)
            if ((id = rh_vocab_lookup(v, keep[k], strlen(keep[k]))) >= 0)
                v->attr[id] &= (uint16_t)~RH_TA_RSTRIP;
    }
    return RH_OK;
}

int rh_vocab_load(const gguf_file *f, rh_vocab **out, rh_error *err)
{
    int rc = RH_OK;
    rh_vocab *v = rh_calloc(1, sizeof *v);
    *out = NULL;
    if (!v)
        return rh_error_set(err, RH_ENOMEM, "tokenizer: out of memory");
    if ((rc = load_type(f, v, err)) != RH_OK)
        goto out;
    if ((rc = load_tokens(f, v, err)) != RH_OK)
        goto out;
    if (v->type == RH_VOCAB_BPE && (rc = load_merges(f, v, err)) != RH_OK)
        goto out;
    if ((rc = load_special_ids(f, v, err)) != RH_OK)
        goto out;
    if ((rc = detect_special(v)) != RH_OK)
        goto oom;
    if ((rc = build_special_cache(f, v)) != RH_OK)
        goto oom;
    if (v->add_bos && v->bos < 0)
        v->add_bos = false;
    if (v->add_eos && v->eos < 0)
        v->add_eos = false;
    *out = v;
    return RH_OK;
oom:
    rh_error_set(err, rc, "tokenizer: out of memory");
out:
    rh_vocab_free(v);
    return rc;
}

/* ---- accessors -------------------------------------------------------------- */

int32_t rh_vocab_size(const rh_vocab *v) { return v->n; }
int32_t rh_vocab_bos(const rh_vocab *v) { return v->bos; }
int32_t rh_vocab_eos(const rh_vocab *v) { return v->eos; }
int32_t rh_vocab_eot(const rh_vocab *v) { return v->eot; }
int32_t rh_vocab_sep(const rh_vocab *v) { return v->sep; }
int32_t rh_vocab_cls(const rh_vocab *v) { return v->cls; }
int32_t rh_vocab_unk(const rh_vocab *v) { return v->unk; }
int32_t rh_vocab_pad(const rh_vocab *v) { return v->pad; }
bool rh_vocab_add_bos(const rh_vocab *v) { return v->add_bos; }
bool rh_vocab_add_eos(const rh_vocab *v) { return v->add_eos; }

bool rh_vocab_is_eog(const rh_vocab *v, int32_t tok)
{
    for (size_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == tok)
            return true;
    return false;
}

bool rh_vocab_is_control(const rh_vocab *v, int32_t tok)
{
    return tok >= 0 && tok < v->n && (v->attr[tok] & RH_TA_CONTROL);
}

int32_t rh_vocab_find(const rh_vocab *v, const char *text)
{
    return text ? rh_vocab_lookup(v, text, strlen(text)) : -1;
}

const char *rh_vocab_text(const rh_vocab *v, int32_t tok, size_t *len)
{
    if (tok < 0 || tok >= v->n)
        return NULL;
    if (len)
        *len = v->len[tok];
    return tok_text(v, tok);
}

const char *rh_vocab_model_name(const rh_vocab *v)
{
    switch (v->type) {
    case RH_VOCAB_SPM: return "llama (SentencePiece)";
    case RH_VOCAB_BPE: return "gpt2 (byte-level BPE)";
    case RH_VOCAB_WPM: return "bert (WordPiece)";
    }
    return "?";
}
