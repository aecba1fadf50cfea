/*
 * tok_bpe.c - byte-level BPE ("gpt2" vocabularies).
 *
 * The text is split into words by the pre-tokenizer rules (tok_pretok.c);
 * each word's bytes are mapped to printable code points (GPT-2's byte
 * mapping, unicode.h) and the result, one symbol per code point, is merged
 * pairwise: always the adjacent pair with the lowest merge rank (leftmost
 * on ties), until no pair has a rank. A binary heap holds the candidate
 * pairs, so a word of n symbols costs O(n log n) even when it is long.
 * A symbol that is not a token at the end is emitted byte by byte as far as
 * the single bytes are tokens (as the reference does).
 */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "engine/tokenizer_int.h"
#include "engine/unicode.h"

typedef struct sym {
    uint32_t start, n; /* bytes in the encoded word; n == 0: merged away */
    int32_t prev, next;
    int32_t id;        /* token of the symbol's text, -1 if none */
} sym;

typedef struct pair {
    int32_t rank;
    int32_t left, right;
    uint32_t nl, nr; /* symbol sizes when queued (stale check) */
} pair;

typedef struct bpe_work {
    char *buf;        /* the byte-encoded word */
    size_t buf_cap;
    sym *s;
    size_t s_cap;
    pair *h;          /* binary heap: smallest rank, then leftmost, on top */
    size_t h_n, h_cap;
} bpe_work;

static bool pair_less(const pair *a, const pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(bpe_work *w, pair p)
{
    if (w->h_n == w->h_cap) {
        size_t cap = w->h_cap ? w->h_cap * 2 : 64;
        pair *np = rh_realloc_array(w->h, cap, sizeof *np);
        if (!np)
            return RH_ENOMEM;
        w->h = np;
        w->h_cap = cap;
    }
    size_t i = w->h_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_less(&p, &w->h[parent]))
            break;
        w->h[i] = w->h[parent];
        i = parent;
    }
    w->h[i] = p;
    return RH_OK;
}

static pair heap_pop(bpe_work *w)
{
    pair top = w->h[0];
    pair last = w->h[--w->h_n];
    size_t i = 0, n = w->h_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_less(&w->h[c + 1], &w->h[c]))
            c++;
        if (!pair_less(&w->h[c], &last))
            break;
        w->h[i] = w->h[c];
        i = c;
    }
    if (n > 0)
        w->h[i] = last;
    return top;
}

static int try_pair(const rh_vocab *v, bpe_work *w, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return RH_OK;
    int32_t rank = rh_vocab_merge_rank(v, w->s[l].id, w->s[r].id);
    if (rank < 0)
        return RH_OK;
    pair p = {rank, l, r, w->s[l].n, w->s[r].n};
    return heap_push(w, p);
}

static int emit_symbol(const rh_vocab *v, const bpe_work *w, const sym *s, rh_tokvec *out)
{
    int rc = RH_OK;
    if (s->id >= 0)
        return rh_tokvec_push(out, s->id);
    for (uint32_t i = 0; i < s->n && rc == RH_OK; i++) {
        int32_t id = rh_vocab_lookup(v, w->buf + s->start + i, 1);
        if (id >= 0)
            rc = rh_tokvec_push(out, id);
    }
    return rc;
}

/* Merge one byte-encoded word (w->buf, len bytes) and append its tokens. */
static int bpe_word(const rh_vocab *v, bpe_work *w, size_t len, rh_tokvec *out)
{
    int rc = RH_OK;
    if (v->ignore_merges) {
        int32_t id = rh_vocab_lookup(v, w->buf, len);
        if (id >= 0)
            return rh_tokvec_push(out, id);
    }
    if (len > w->s_cap) {
        sym *ns = rh_realloc_array(w->s, len, sizeof *ns);
        if (!ns)
            return RH_ENOMEM;
        w->s = ns;
        w->s_cap = len;
    }
    int32_t n = 0;
    for (size_t off = 0; off < len; n++) {
        size_t cl = rh_utf8_len((unsigned char)w->buf[off]);
        if (cl > len - off)
            cl = len - off;
        w->s[n] = (sym){(uint32_t)off, (uint32_t)cl, n - 1, off + cl == len ? -1 : n + 1,
                        rh_vocab_lookup(v, w->buf + off, cl)};
        off += cl;
    }
    w->h_n = 0;
    for (int32_t i = 1; i < n && rc == RH_OK; i++)
        rc = try_pair(v, w, i - 1, i);
    while (rc == RH_OK && w->h_n > 0) {
        pair p = heap_pop(w);
        sym *l = &w->s[p.left], *r = &w->s[p.right];
        if (l->n != p.nl || r->n != p.nr || l->n == 0 || r->n == 0)
            continue; /* stale: one side has changed since it was queued */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->s[r->next].prev = p.left;
        l->id = l->n <= v->max_len ? rh_vocab_lookup(v, w->buf + l->start, l->n) : -1;
        rc = try_pair(v, w, l->prev, p.left);
        if (rc == RH_OK)
            rc = try_pair(v, w, p.left, l->next);
    }
    for (int32_t i = 0; i >= 0 && i < n && rc == RH_OK; i = w->s[i].next)
        rc = emit_symbol(v, w, &w->s[i], out);
    return rc;
}

int rh_bpe_tokenize(const rh_vocab *v, const char *text, size_t len, rh_tokvec *out)
{
    int rc = RH_OK;
    uint32_t *cpts = NULL;
    size_t n_cpts = 0, *lens = NULL, n_lens = 0;
    bpe_work w = {0};

    if ((rc = rh_utf8_to_cpts(text, len, &cpts, &n_cpts)) != RH_OK)
        goto out;
    if ((rc = rh_pretok_split(v->pre, cpts, n_cpts, &lens, &n_lens)) != RH_OK)
        goto out;
    size_t pos = 0;
    for (size_t k = 0; k < n_lens; k++) {
        /* each code point -> up to 4 bytes -> each byte up to 2 bytes */
        size_t need = lens[k] * 8;
        if (need > w.buf_cap) {
            char *nb = rh_realloc(w.buf, need);
            if (!nb) {
                rc = RH_ENOMEM;
                goto out;
            }
            w.buf = nb;
            w.buf_cap = need;
        }
        size_t bl = 0;
        for (size_t i = 0; i < lens[k]; i++) {
            char u[4];
            int ul = rh_utf8_encode(cpts[pos + i], u);
            for (int j = 0; j < ul; j++)
                bl += (size_t)rh_utf8_encode(rh_byte_to_cpt((uint8_t)u[j]), w.buf + bl);
        }
        pos += lens[k];
        if ((rc = bpe_word(v, &w, bl, out)) != RH_OK)
            goto out;
    }
out:
    rh_free(cpts);
    rh_free(lens);
    rh_free(w.buf);
    rh_free(w.s);
    rh_free(w.h);
    return rc;
}
