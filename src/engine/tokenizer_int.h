/*
 * tokenizer_int.h - internals shared by the tokenizer files (tokenizer.c:
 * vocabulary loading, special tokens, pieces; tok_spm.c, tok_bpe.c,
 * tok_wpm.c: the three algorithms; tok_pretok.c: the pre-tokenizer split
 * rules). Not an API for other modules: use tokenizer.h.
 */
#ifndef RH_ENGINE_TOKENIZER_INT_H
#define RH_ENGINE_TOKENIZER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/tokenizer.h"

typedef enum rh_vocab_type {
    RH_VOCAB_SPM = 1, /* "llama" */
    RH_VOCAB_BPE = 2, /* "gpt2" */
    RH_VOCAB_WPM = 3, /* "bert" */
} rh_vocab_type;

/* Pre-tokenizer split rule sets (tokenizer.ggml.pre), for BPE vocabularies. */
typedef enum rh_pretok {
    RH_PRE_DEFAULT = 0,
    RH_PRE_GPT2,
    RH_PRE_LLAMA3,
    RH_PRE_QWEN2,
    RH_PRE_DEEPSEEK_LLM,
    RH_PRE_DEEPSEEK_CODER,
    RH_PRE_FALCON,
    RH_PRE_STARCODER,
    RH_PRE_TEKKEN,
    RH_PRE_BLOOM,
    RH_PRE_GPT4O,
    RH_PRE_VIKING, /* keep last (tests iterate up to it) */
} rh_pretok;

/* Token attributes (bit set). */
enum {
    RH_TA_UNKNOWN = 1 << 0,
    RH_TA_UNUSED = 1 << 1,
    RH_TA_NORMAL = 1 << 2,
    RH_TA_CONTROL = 1 << 3,
    RH_TA_USER_DEFINED = 1 << 4,
    RH_TA_BYTE = 1 << 5,
    RH_TA_LSTRIP = 1 << 7,
    RH_TA_RSTRIP = 1 << 8,
};

/* Limits for untrusted vocabularies. */
#define RH_VOCAB_MAX_TOKENS (1u << 24)
#define RH_VOCAB_MAX_TOKEN_LEN 4096u
#define RH_VOCAB_MAX_MERGES (1u << 24)

struct rh_vocab {
    rh_vocab_type type;
    rh_pretok pre;
    int32_t n;
    char *blob;         /* all token texts, each NUL-terminated */
    uint32_t *off;      /* text of token i: blob + off[i], len[i] bytes */
    uint32_t *len;
    float *score;
    uint16_t *attr;
    int16_t *byte_val;  /* byte value of a BYTE token ("<0xAB>"), else -1 */
    int32_t byte_tok[256]; /* SPM byte fallback: token of each byte, -1 none */
    uint32_t max_len;   /* longest token text in bytes */

    /* text -> id: open addressing, slots hold id + 1 (0 = empty) */
    uint32_t *ht;
    size_t ht_mask;

    /* BPE merges: (left id, right id) -> rank */
    uint64_t *mg_key;   /* (left << 32 | right) + 1, 0 = empty */
    uint32_t *mg_rank;
    size_t mg_mask;
    size_t n_merges;

    int32_t bos, eos, eot, eom, unk, sep, pad, cls, mask;
    bool add_bos, add_eos, add_space_prefix, ignore_merges, clean_spaces;
    bool spm_cut_at_space; /* no token has U+2581 after another character */

    int32_t *special;   /* control/user-defined/unknown ids, longest text first */
    size_t n_special;
    int32_t *eog;       /* end-of-generation ids */
    size_t n_eog;
};

/* A growable list of token ids (rh_malloc). */
typedef struct rh_tokvec {
    int32_t *v;
    size_t n, cap;
} rh_tokvec;

int rh_tokvec_push(rh_tokvec *t, int32_t id);

/* Token id of a text (len bytes), -1 if none. */
int32_t rh_vocab_lookup(const rh_vocab *v, const char *text, size_t len);
/* Rank of the merge (left, right), -1 if none. */
int32_t rh_vocab_merge_rank(const rh_vocab *v, int32_t left, int32_t right);

/* The algorithms: append the tokens of one raw text fragment. */
int rh_spm_tokenize(const rh_vocab *v, const char *text, size_t len, rh_tokvec *out);
int rh_bpe_tokenize(const rh_vocab *v, const char *text, size_t len, rh_tokvec *out);
int rh_wpm_tokenize(const rh_vocab *v, const char *text, size_t len, rh_tokvec *out);

/* Split code points into pre-tokenizer words: *lens (rh_malloc'ed) gets the
 * length in code points of each word, in order, covering all n. */
int rh_pretok_split(rh_pretok pre, const uint32_t *cpts, size_t n, size_t **lens, size_t *n_lens);

#endif
