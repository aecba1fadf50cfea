/*
 * tok_spm.c - SentencePiece BPE ("llama" vocabularies with scores).
 *
 * Spaces become U+2581 '▁' (the caller has already added the dummy-prefix
 * space where the vocabulary wants one). The text starts as one symbol per
 * UTF-8 character; repeatedly the adjacent pair whose concatenation is a
 * token with the highest score is merged (leftmost on ties), using a heap.
 * Symbols that are not tokens at the end fall back to byte tokens <0xAB>.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "engine/tokenizer_int.h"
#include "engine/unicode.h"

typedef struct sym {
    uint32_t start, n; /* n == 0: merged into its left neighbour */
    int32_t prev, next;
} sym;

typedef struct bigram {
    float score;
    int32_t left, right;
    uint32_t size; /* bytes of the pair when queued (stale check) */
} bigram;

typedef struct heap {
    bigram *a;
    size_t n, cap;
} heap;

static bool big_before(const bigram *x, const bigram *y)
{
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static int heap_push(heap *h, bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bigram *na = rh_realloc_array(h->a, cap, sizeof *na);
        if (!na)
            return RH_ENOMEM;
        h->a = na;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!big_before(&b, &h->a[p]))
            break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = b;
    return RH_OK;
}

static bigram heap_pop(heap *h)
{
    bigram top = h->a[0], last = h->a[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && big_before(&h->a[c + 1], &h->a[c]))
            c++;
        if (!big_before(&h->a[c], &last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n > 0)
        h->a[i] = last;
    return top;
}

static int try_bigram(const rh_vocab *v, const char *buf, const sym *s, heap *h, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return RH_OK;
    uint32_t size = s[l].n + s[r].n;
    if (size > v->max_len)
        return RH_OK;
    int32_t id = rh_vocab_lookup(v, buf + s[l].start, size);
    if (id < 0)
        return RH_OK;
    bigram b = {v->score[id], l, r, size};
    return heap_push(h, b);
}

/* Tokenize one escaped segment buf[0..bl). */
static int spm_segment(const rh_vocab *v, const char *buf, size_t bl, sym *s, heap *h, rh_tokvec *out)
{
    int rc = RH_OK;
    int32_t n = 0;
    for (size_t off = 0; off < bl; n++) {
        size_t cl = rh_utf8_len((unsigned char)buf[off]);
        if (cl > bl - off)
            cl = bl - off;
        s[n] = (sym){(uint32_t)off, (uint32_t)cl, n - 1, off + cl == bl ? -1 : n + 1};
        off += cl;
    }
    h->n = 0;
    for (int32_t i = 1; i < n && rc == RH_OK; i++)
        rc = try_bigram(v, buf, s, h, i - 1, i);
    while (rc == RH_OK && h->n > 0) {
        bigram b = heap_pop(h);
        sym *l = &s[b.left], *r = &s[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = b.left;
        rc = try_bigram(v, buf, s, h, l->prev, b.left);
        if (rc == RH_OK)
            rc = try_bigram(v, buf, s, h, b.left, l->next);
    }
    for (int32_t i = 0; i >= 0 && i < n && rc == RH_OK; i = s[i].next) {
        int32_t id = rh_vocab_lookup(v, buf + s[i].start, s[i].n);
        if (id >= 0) {
            rc = rh_tokvec_push(out, id);
            continue;
        }
        for (uint32_t k = 0; k < s[i].n && rc == RH_OK; k++) {
            id = v->byte_tok[(unsigned char)buf[s[i].start + k]];
            if (id < 0)
                id = v->unk;
            if (id >= 0)
                rc = rh_tokvec_push(out, id);
        }
    }
    return rc;
}

/* Where no token has '▁' after another character, no merge can join a
 * character to a following '▁': the text can be cut before every '▁' that
 * follows something else, and the pieces merged separately (same result,
 * small heaps, so long texts stay fast). */
static bool cut_before(const rh_vocab *v, const char *buf, size_t i)
{
    return v->spm_cut_at_space && i >= 3 && memcmp(buf + i, "\xE2\x96\x81", 3) == 0 &&
           memcmp(buf + i - 3, "\xE2\x96\x81", 3) != 0;
}

int rh_spm_tokenize(const rh_vocab *v, const char *text, size_t len, rh_tokvec *out)
{
    int rc = RH_OK;
    char *buf = NULL;
    sym *s = NULL;
    heap h = {0};
    size_t bl = 0;

    if (len == 0)
        return RH_OK;
    /* escape spaces: ' ' (1 byte) -> U+2581 (3 bytes) */
    buf = rh_malloc_array(len, 3);
    if (!buf) {
        rc = RH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + bl, "\xE2\x96\x81", 3);
            bl += 3;
        } else {
            buf[bl++] = text[i];
        }
    }
    /* One symbol per byte of the escaped text at most: with invalid UTF-8 a
     * lead byte can swallow part of an escaped space, leaving more symbols
     * than input bytes (found by fuzz_tokenizer). */
    s = rh_malloc_array(bl, sizeof *s);
    if (!s) {
        rc = RH_ENOMEM;
        goto out;
    }
    /* cut only at character starts, as the whole text would be split */
    size_t seg = 0, i = 0;
    while (rc == RH_OK) {
        if (i >= bl || (i + 3 <= bl && cut_before(v, buf, i))) {
            if (i > seg)
                rc = spm_segment(v, buf + seg, (i < bl ? i : bl) - seg, s, &h, out);
            seg = i;
            if (i >= bl)
                break;
        }
        i += rh_utf8_len((unsigned char)buf[i]);
    }
out:
    rh_free(buf);
    rh_free(s);
    rh_free(h.a);
    return rc;
}
