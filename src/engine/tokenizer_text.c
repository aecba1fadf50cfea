/*
 * tokenizer_text.c - text in, tokens out and back: splitting special tokens
 * out of the text, dispatching the fragments to SPM / BPE / WPM, adding
 * BOS/EOS (or [CLS]/[SEP]), token pieces, and the streaming detokenizer
 * that only ever emits complete UTF-8.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "engine/tokenizer_int.h"
#include "engine/unicode.h"

/* A piece of the input: raw text [off, off+len) or a special token. */
typedef struct frag {
    int32_t tok; /* -1: raw text */
    size_t off, len;
} frag;

typedef struct frags {
    frag *a;
    size_t n, cap;
} frags;

static int frags_push(frags *f, frag x)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        frag *p = rh_realloc_array(f->a, cap, sizeof *p);
        if (!p)
            return RH_ENOMEM;
        f->a = p;
        f->cap = cap;
    }
    f->a[f->n++] = x;
    return RH_OK;
}

static bool c_isspace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Split one raw fragment on every occurrence of special token `id`. */
static int split_one(const rh_vocab *v, const char *text, frag in, int32_t id, frags *out)
{
    int rc = RH_OK;
    const char *t = v->blob + v->off[id];
    size_t tl = v->len[id];
    size_t base = in.off, blen = in.len;
    while (rc == RH_OK) {
        const char *m = blen >= tl ? memmem(text + base, blen, t, tl) : NULL;
        if (!m) {
            if (blen > 0)
                rc = frags_push(out, (frag){-1, base, blen});
            break;
        }
        size_t mpos = (size_t)(m - text);
        size_t left = mpos - base;
        if (v->attr[id] & RH_TA_LSTRIP)
            while (left > 0 && c_isspace(text[base + left - 1]))
                left--;
        if (left > 0 && (rc = frags_push(out, (frag){-1, base, left})) != RH_OK)
            break;
        if ((rc = frags_push(out, (frag){id, 0, 0})) != RH_OK)
            break;
        size_t roff = mpos + tl, rlen = base + blen - roff;
        if (v->attr[id] & RH_TA_RSTRIP)
            while (rlen > 0 && c_isspace(text[roff]))
                roff++, rlen--;
        base = roff;
        blen = rlen;
    }
    return rc;
}

/* The reference order: special tokens longest first; each one splits all
 * raw fragments left by the previous ones. */
static int partition(const rh_vocab *v, const char *text, size_t len, bool parse_special, frags *f)
{
    int rc = RH_OK;
    frags tmp = {0};
    bool present[256] = {false};
    uint8_t *pairs = NULL; /* bit set of the byte pairs in the text: a quick "cannot occur" */
    if (len == 0)
        return RH_OK;
    if ((rc = frags_push(f, (frag){-1, 0, len})) != RH_OK)
        return rc;
    if (!(pairs = rh_calloc(65536 / 8, 1)))
        return RH_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        present[(unsigned char)text[i]] = true;
        if (i + 1 < len) {
            unsigned p = (unsigned)(unsigned char)text[i] << 8 | (unsigned char)text[i + 1];
            pairs[p >> 3] |= (uint8_t)(1u << (p & 7));
        }
    }
    for (size_t s = 0; s < v->n_special && rc == RH_OK; s++) {
        int32_t id = v->special[s];
        if (!parse_special && (v->attr[id] & (RH_TA_CONTROL | RH_TA_UNKNOWN)))
            continue;
        const unsigned char *t = (const unsigned char *)v->blob + v->off[id];
        if (v->len[id] == 0 || v->len[id] > len || !present[t[0]])
            continue;
        if (v->len[id] >= 2) {
            unsigned p = (unsigned)t[0] << 8 | t[1];
            if (!(pairs[p >> 3] & (1u << (p & 7))))
                continue;
        }
        tmp.n = 0;
        for (size_t k = 0; k < f->n && rc == RH_OK; k++)
            rc = f->a[k].tok >= 0 ? frags_push(&tmp, f->a[k]) : split_one(v, text, f->a[k], id, &tmp);
        frags sw = *f;
        *f = tmp;
        tmp = sw;
    }
    rh_free(tmp.a);
    rh_free(pairs);
    return rc;
}

static int spm_fragment(const rh_vocab *v, const char *text, size_t len, bool prefix, rh_tokvec *out)
{
    if (!prefix)
        return rh_spm_tokenize(v, text, len, out);
    char *buf = rh_malloc(len + 1);
    if (!buf)
        return RH_ENOMEM;
    buf[0] = ' ';
    memcpy(buf + 1, text, len);
    int rc = rh_spm_tokenize(v, buf, len + 1, out);
    rh_free(buf);
    return rc;
}

int rh_tokenize(const rh_vocab *v, const char *text, size_t len, bool add_special, bool parse_special,
                int32_t **out, size_t *n_out, rh_error *err)
{
    int rc = RH_OK;
    frags f = {0};
    rh_tokvec t = {0};
    *out = NULL;
    *n_out = 0;
    if (!text && len > 0)
        return rh_error_set(err, RH_EINVAL, "tokenize: no text");
    if ((rc = partition(v, text, len, parse_special, &f)) != RH_OK)
        goto out;
    bool first_special = add_special && (v->type == RH_VOCAB_WPM || v->add_bos) && v->bos >= 0;
    if (first_special && (rc = rh_tokvec_push(&t, v->bos)) != RH_OK)
        goto out;
    bool prev_special = true; /* SPM: a dummy-prefix space at the start and after specials */
    for (size_t i = 0; i < f.n && rc == RH_OK; i++) {
        if (f.a[i].tok >= 0) {
            rc = rh_tokvec_push(&t, f.a[i].tok);
            prev_special = true;
            continue;
        }
        const char *s = text + f.a[i].off;
        size_t n = f.a[i].len;
        switch (v->type) {
        case RH_VOCAB_SPM: rc = spm_fragment(v, s, n, v->add_space_prefix && prev_special, &t); break;
        case RH_VOCAB_BPE: rc = rh_bpe_tokenize(v, s, n, &t); break;
        case RH_VOCAB_WPM: rc = rh_wpm_tokenize(v, s, n, &t); break;
        }
        prev_special = false;
    }
    if (rc != RH_OK)
        goto out;
    if (add_special) {
        if (v->type == RH_VOCAB_WPM) {
            if (v->sep >= 0)
                rc = rh_tokvec_push(&t, v->sep);
        } else if (v->add_eos && v->eos >= 0) {
            rc = rh_tokvec_push(&t, v->eos);
        }
    }
out:
    rh_free(f.a);
    if (rc != RH_OK) {
        rh_free(t.v);
        return rh_error_set(err, rc, "tokenize: %s", rh_strerror(rc));
    }
    if (!t.v) { /* no tokens: still hand out a valid (empty) array */
        t.v = rh_malloc(sizeof *t.v);
        if (!t.v)
            return rh_error_set(err, RH_ENOMEM, "tokenize: out of memory");
    }
    *out = t.v;
    *n_out = t.n;
    return RH_OK;
}

/* ---- pieces ---------------------------------------------------------------- */

static int put(char *buf, size_t cap, size_t at, const char *s, size_t n)
{
    if (at < cap)
        memcpy(buf + at, s, at + n <= cap ? n : cap - at);
    return (int)n;
}

int rh_token_to_piece(const rh_vocab *v, int32_t tok, char *buf, size_t cap, bool special)
{
    if (tok < 0 || tok >= v->n)
        return RH_EINVAL;
    uint16_t a = v->attr[tok];
    const char *t = v->blob + v->off[tok];
    size_t tl = v->len[tok];
    if (a & (RH_TA_UNKNOWN | RH_TA_CONTROL))
        return special ? put(buf, cap, 0, t, tl) : 0;
    if (a & RH_TA_USER_DEFINED)
        return put(buf, cap, 0, t, tl);
    if (v->type == RH_VOCAB_BPE) {
        if (!(a & RH_TA_NORMAL))
            return 0;
        size_t n = 0, pos = 0;
        while (pos < tl) {
            size_t p0 = pos;
            uint32_t c = rh_utf8_decode(t, tl, &pos);
            int b = rh_cpt_to_byte(c);
            if (b >= 0) {
                char ch = (char)b;
                n += (size_t)put(buf, cap, n, &ch, 1);
            } else { /* not a byte image: keep the text as it is */
                n += (size_t)put(buf, cap, n, t + p0, pos - p0);
            }
        }
        return (int)n;
    }
    if (a & RH_TA_BYTE) {
        char ch = (char)v->byte_val[tok];
        return put(buf, cap, 0, &ch, 1);
    }
    if (!(a & RH_TA_NORMAL))
        return 0;
    /* SPM / WPM: U+2581 -> ' ' */
    size_t n = 0;
    for (size_t i = 0; i < tl;) {
        if (i + 3 <= tl && memcmp(t + i, "\xE2\x96\x81", 3) == 0) {
            n += (size_t)put(buf, cap, n, " ", 1);
            i += 3;
        } else {
            n += (size_t)put(buf, cap, n, t + i, 1);
            i++;
        }
    }
    return (int)n;
}

/* ---- streaming detokenizer ----------------------------------------------- */

void rh_detok_init(rh_detok *d, const rh_vocab *v, bool special)
{
    memset(d, 0, sizeof *d);
    d->v = v;
    d->special = special;
    d->first = v->type == RH_VOCAB_SPM && v->add_space_prefix;
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if s is a valid but
 * incomplete prefix, -1 if invalid. */
static int utf8_seq(const unsigned char *s, size_t n)
{
    unsigned b = s[0];
    size_t need;
    uint32_t min;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        need = 2, min = 0x80;
    else if (b >= 0xE0 && b <= 0xEF)
        need = 3, min = 0x800;
    else if (b >= 0xF0 && b <= 0xF4)
        need = 4, min = 0x10000;
    else
        return -1;
    uint32_t c = b & (0x7F >> need);
    for (size_t i = 1; i < need; i++) {
        if (i >= n)
            return 0;
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        c = (c << 6) | (s[i] & 0x3F);
        /* reject overlongs and surrogates as soon as they show */
        if (i == 1 && need == 3 && ((b == 0xE0 && s[1] < 0xA0) || (b == 0xED && s[1] >= 0xA0)))
            return -1;
        if (i == 1 && need == 4 && ((b == 0xF0 && s[1] < 0x90) || (b == 0xF4 && s[1] >= 0x90)))
            return -1;
    }
    return c >= min ? (int)need : -1;
}

/* Move complete sequences of src[0..n) to dst; invalid bytes become U+FFFD;
 * an incomplete tail is kept in d->pend unless `flush`. Returns bytes
 * written or RH_ELIMIT (nothing changed) when cap is too small. */
static int emit_utf8(rh_detok *d, const unsigned char *src, size_t n, char *dst, size_t cap, bool flush)
{
    size_t o = 0, i = 0;
    unsigned char keep[8];
    int nkeep = 0;
    while (i < n) {
        int l = utf8_seq(src + i, n - i);
        if (l == 0 && !flush && n - i < sizeof keep) {
            nkeep = (int)(n - i);
            memcpy(keep, src + i, (size_t)nkeep);
            break;
        }
        if (l <= 0) {
            if (o + 3 > cap)
                return RH_ELIMIT;
            memcpy(dst + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            continue;
        }
        if (o + (size_t)l > cap)
            return RH_ELIMIT;
        memcpy(dst + o, src + i, (size_t)l);
        o += (size_t)l;
        i += (size_t)l;
    }
    memcpy(d->pend, keep, (size_t)nkeep);
    d->npend = nkeep;
    return (int)o;
}

int rh_detok_push(rh_detok *d, int32_t tok, char *out, size_t cap)
{
    unsigned char buf[RH_VOCAB_MAX_TOKEN_LEN + 16];
    size_t np = (size_t)d->npend;
    memcpy(buf, d->pend, np);
    int n = rh_token_to_piece(d->v, tok, (char *)buf + np, sizeof buf - np, d->special);
    if (n < 0)
        return n;
    if ((size_t)n > sizeof buf - np)
        return RH_ELIMIT;
    size_t total = np + (size_t)n, start = 0;
    bool first = d->first;
    if (first && n > 0) {
        if (buf[np] == ' ') { /* the dummy-prefix space of the first word */
            memmove(buf + np, buf + np + 1, (size_t)n - 1);
            total--;
        }
        first = false;
    }
    int rc = emit_utf8(d, buf + start, total - start, out, cap, false);
    if (rc >= 0)
        d->first = first;
    return rc;
}

int rh_detok_flush(rh_detok *d, char *out, size_t cap)
{
    unsigned char buf[8];
    size_t n = (size_t)d->npend;
    memcpy(buf, d->pend, n);
    return emit_utf8(d, buf, n, out, cap, true);
}
