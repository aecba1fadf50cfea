/*
 * fuzz_tokenizer.c - libFuzzer target for the tokenizers and the streaming
 * detokenizer.
 *
 * At start-up the vocabularies of ../shared/testdata/tokenizer (or
 * $RATHAUS_TESTDATA/tokenizer) are loaded: SentencePiece, byte-level BPE
 * with several pre-tokenizers, and WordPiece. The first input byte picks a
 * vocabulary and the add_special / parse_special flags; the rest is the
 * text. Every token id produced must be inside the vocabulary, and the
 * tokens are detokenized again through rh_detok; for byte-level BPE without
 * special-token parsing, valid UTF-8 text must come back unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *vocab_names[] = {
    "llama-spm", "phi-3", "gpt-2", "gpt2-pre-llama-bpe", "gpt2-pre-qwen2",
    "gpt2-pre-tekken", "deepseek-coder", "deepseek-llm", "falcon", "starcoder", "bert-bge",
};
#define N_VOCABS (sizeof vocab_names / sizeof vocab_names[0])

static rh_vocab *vocabs[N_VOCABS];
static int byte_level[N_VOCABS];
static size_t n_loaded;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *env = getenv("RATHAUS_TESTDATA");
    const char *dir = env && *env ? env : "../shared/testdata";
    for (size_t i = 0; i < N_VOCABS; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-%s.gguf", dir, vocab_names[i]);
        gguf_file *f = NULL;
        rh_error err;
        if (gguf_open(path, &f, &err) != RH_OK)
            continue;
        if (rh_vocab_load(f, &vocabs[n_loaded], &err) == RH_OK) {
            byte_level[n_loaded] = strcmp(rh_vocab_model_name(vocabs[n_loaded]), "gpt2") == 0;
            n_loaded++;
        }
        gguf_close(f);
    }
    if (n_loaded == 0) {
        fprintf(stderr, "fuzz_tokenizer: no vocabularies found under %s/tokenizer\n", dir);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t vi = (data[0] & 0x3f) % n_loaded;
    bool add_special = data[0] & 0x40;
    bool parse_special = data[0] & 0x80;
    const rh_vocab *v = vocabs[vi];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    int32_t *toks = NULL;
    size_t n = 0;
    rh_error err;
    if (rh_tokenize(v, text, len, add_special, parse_special, &toks, &n, &err) != RH_OK)
        return 0;
    int32_t n_vocab = rh_vocab_size(v);
    for (size_t i = 0; i < n; i++)
        if (toks[i] < 0 || toks[i] >= n_vocab)
            abort();

    /* detokenize */
    size_t cap = len * 4 + RH_DETOK_MAX_OUT * 2 + 64, used = 0;
    char *out = rh_malloc(cap);
    if (!out) {
        rh_free(toks);
        return 0;
    }
    rh_detok d;
    rh_detok_init(&d, v, false);
    d.first = false;
    for (size_t i = 0; i < n; i++) {
        if (cap - used < RH_DETOK_MAX_OUT)
            abort();
        int w = rh_detok_push(&d, toks[i], out + used, cap - used);
        if (w < 0)
            abort();
        used += (size_t)w;
    }
    int w = rh_detok_flush(&d, out + used, cap - used);
    if (w < 0)
        abort();
    used += (size_t)w;

    if (byte_level[vi] && !add_special && !parse_special && rh_utf8_valid(data + 1, len)) {
        if (used != len || memcmp(out, text, len) != 0) {
            fprintf(stderr, "fuzz_tokenizer: byte-level BPE round trip differs (vocab %s)\n",
                    rh_vocab_model_name(v));
            abort();
        }
    }
    rh_free(out);
    rh_free(toks);
    return 0;
}
