/*
 * tokenizer.h - text <-> token ids for the vocabularies found in GGUF files.
 *
 * Supported `tokenizer.ggml.model` values: "llama" (SentencePiece with scores
 * and byte fallback), "gpt2" (byte-level BPE with merges; pre-tokenizer
 * chosen by `tokenizer.ggml.pre`), "bert" (WordPiece). Special/control
 * tokens, add_bos/add_eos flags and parse_special are honoured.
 */
#ifndef RH_ENGINE_TOKENIZER_H
#define RH_ENGINE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/gguf.h"

typedef struct rh_vocab rh_vocab;

/* Build the vocabulary from a GGUF file's tokenizer.* metadata. The vocab
 * copies what it needs; the file may be closed afterwards. */
int rh_vocab_load(const gguf_file *f, rh_vocab **out, rh_error *err);
void rh_vocab_free(rh_vocab *v);

int32_t rh_vocab_size(const rh_vocab *v);
int32_t rh_vocab_bos(const rh_vocab *v); /* -1 if none */
int32_t rh_vocab_eos(const rh_vocab *v);
int32_t rh_vocab_eot(const rh_vocab *v);
int32_t rh_vocab_sep(const rh_vocab *v);
int32_t rh_vocab_cls(const rh_vocab *v);
int32_t rh_vocab_unk(const rh_vocab *v);
int32_t rh_vocab_pad(const rh_vocab *v);
bool rh_vocab_add_bos(const rh_vocab *v);
bool rh_vocab_add_eos(const rh_vocab *v);
/* End of generation: eos, eot, and other end tokens from metadata. */
bool rh_vocab_is_eog(const rh_vocab *v, int32_t tok);
bool rh_vocab_is_control(const rh_vocab *v, int32_t tok);
/* Token id of an exact token text, -1 if none (e.g. "<|im_end|>"). */
int32_t rh_vocab_find(const rh_vocab *v, const char *text);
/* The stored text of a token, NUL-terminated (*len, if given, gets its
 * length; the text may itself contain NUL bytes), NULL if out of range. */
const char *rh_vocab_text(const rh_vocab *v, int32_t tok, size_t *len);
/* "llama (SentencePiece)", "gpt2 (byte-level BPE)" or "bert (WordPiece)". */
const char *rh_vocab_model_name(const rh_vocab *v);

/* Tokenize `len` bytes of text. *out is allocated with rh_malloc (caller
 * frees with rh_free); *n_out receives the count. */
int rh_tokenize(const rh_vocab *v, const char *text, size_t len, bool add_special,
                bool parse_special, int32_t **out, size_t *n_out, rh_error *err);

/* Bytes of one token as they go into the text (SentencePiece '▁' -> ' ',
 * byte tokens -> the byte, byte-level BPE -> raw bytes). Control tokens give
 * their text only when `special`. Returns the byte count (may exceed cap:
 * then nothing is written beyond cap), or a negative error. */
int rh_token_to_piece(const rh_vocab *v, int32_t tok, char *buf, size_t cap, bool special);

/* Streaming detokenizer: feeds tokens, emits only complete UTF-8 sequences
 * (a character split across tokens is held back until complete; invalid
 * bytes become U+FFFD). For SentencePiece vocabularies with a dummy prefix
 * the leading space of the first piece with text is dropped; set
 * d.first = false after rh_detok_init to keep it (e.g. when continuing a
 * prompt). */
typedef struct rh_detok {
    const rh_vocab *v;
    bool special;
    bool first;       /* strip SentencePiece leading space of the first token */
    unsigned char pend[8];
    int npend;
} rh_detok;

void rh_detok_init(rh_detok *d, const rh_vocab *v, bool special);
/* Enough room for what one rh_detok_push can write. */
#define RH_DETOK_MAX_OUT 12400
/* Append the text of `tok` to out (cap bytes); returns bytes written, or
 * RH_ELIMIT (state unchanged) if cap is too small, RH_EINVAL for a bad id. */
int rh_detok_push(rh_detok *d, int32_t tok, char *out, size_t cap);
/* Flush held-back bytes (invalid UTF-8 at end becomes U+FFFD). */
int rh_detok_flush(rh_detok *d, char *out, size_t cap);

#endif
