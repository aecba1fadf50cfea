/*
 * tok_wpm.c - WordPiece ("bert" vocabularies).
 *
 * Basic pre-tokenization as the GGUF BERT vocabularies expect it: every
 * code point is reduced to the first code point of its canonical
 * decomposition (which drops accents: ä -> a), lower-cased; white space
 * separates words; control characters, U+0000 and U+FFFD are dropped;
 * punctuation, ASCII symbols and CJK ideographs become words of their own.
 * In the vocabulary, word-initial pieces carry a leading U+2581 '▁' and
 * continuation pieces none (the GGUF form of BERT's "##"). Each word is
 * matched greedily, longest piece first; a word that cannot be covered
 * completely becomes the unknown token.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "engine/tokenizer_int.h"
#include "engine/unicode.h"

static bool is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Greedy longest-match of one word ("▁" + word in w[0..n)). */
static int wpm_word(const rh_vocab *v, const char *w, size_t n, rh_tokvec *out)
{
    int rc = RH_OK;
    size_t mark = out->n;
    for (size_t i = 0; i < n;) {
        size_t hi = i + v->max_len + 1 < n ? i + v->max_len + 1 : n;
        int32_t id = -1;
        size_t j;
        for (j = hi; j > i; j--) {
            id = rh_vocab_lookup(v, w + i, j - i);
            if (id >= 0)
                break;
        }
        if (id < 0) {
            out->n = mark; /* discard the partial word */
            break;
        }
        if ((rc = rh_tokvec_push(out, id)) != RH_OK)
            return rc;
        i = j;
    }
    if (out->n == mark && v->unk >= 0)
        rc = rh_tokvec_push(out, v->unk);
    return rc;
}

static int flush_word(const rh_vocab *v, rh_buf *word, rh_tokvec *out)
{
    int rc = RH_OK;
    if (word->len > 3)
        rc = wpm_word(v, word->data, word->len, out);
    rh_buf_reset(word);
    if (rc == RH_OK)
        rc = rh_buf_append(word, "\xE2\x96\x81", 3);
    return rc;
}

int rh_wpm_tokenize(const rh_vocab *v, const char *text, size_t len, rh_tokvec *out)
{
    int rc = RH_OK;
    rh_buf word;
    rh_buf_init(&word, (size_t)-1);
    if ((rc = rh_buf_append(&word, "\xE2\x96\x81", 3)) != RH_OK)
        goto out;
    for (size_t pos = 0; pos < len && rc == RH_OK;) {
        uint32_t c = rh_unicode_nfd_first(rh_utf8_decode(text, len, &pos));
        unsigned f = rh_unicode_flags(c);
        if (f & RH_UF_WHITESPACE) {
            rc = flush_word(v, &word, out);
            continue;
        }
        if (c == 0 || c == RH_UNICODE_REPLACEMENT || (f & RH_UF_CONTROL))
            continue;
        char u[4];
        int ul = rh_utf8_encode(rh_unicode_tolower(c), u);
        if ((f & RH_UF_PUNCT) || (c < 0x7F && (f & RH_UF_SYMBOL)) || is_cjk(c)) {
            rc = flush_word(v, &word, out);
            if (rc == RH_OK)
                rc = rh_buf_append(&word, u, (size_t)ul);
            if (rc == RH_OK)
                rc = flush_word(v, &word, out);
        } else {
            rc = rh_buf_append(&word, u, (size_t)ul);
        }
    }
    if (rc == RH_OK)
        rc = flush_word(v, &word, out);
out:
    rh_buf_free(&word);
    return rc;
}
