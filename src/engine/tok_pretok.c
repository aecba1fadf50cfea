/*
 * tok_pretok.c - the pre-tokenizer split rules of byte-level BPE
 * vocabularies: text (as code points) -> words, before BPE merges.
 *
 * Other implementations write these rules as regular expressions over
 * Unicode classes. Here every rule set is a short hand-written matcher over
 * code points and their flags (unicode.h); no regex engine. A rule set is
 * a list of stages; each stage splits every chunk the previous stage left
 * into the matches of its pattern and the unmatched gaps between them
 * (both become chunks), which is how the reference tokenizer applies its
 * list of regexes. Matching follows regex semantics (leftmost match,
 * alternatives tried in order, greedy quantifiers with backtracking).
 *
 * Two notions of "character class" occur, as in the reference: classes
 * written with \p{..} use the Unicode categories; classes written as
 * explicit code point ranges see non-ASCII white space as U+000B.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "engine/tokenizer_int.h"
#include "engine/unicode.h"

typedef struct chunks {
    size_t *len;
    size_t n, cap;
} chunks;

static int chunks_push(chunks *c, size_t len)
{
    if (len == 0)
        return RH_OK;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        size_t *p = rh_realloc_array(c->len, cap, sizeof *p);
        if (!p)
            return RH_ENOMEM;
        c->len = p;
        c->cap = cap;
    }
    c->len[c->n++] = len;
    return RH_OK;
}

/* The text being split: code points and their flags. */
typedef struct text {
    const uint32_t *c;
    const uint16_t *f;
} text;

/* One chunk [beg, end): flag and code point accessors that see nothing
 * (0 / no flags) outside the chunk, like a regex confined to it. */
typedef struct span {
    const text *t;
    size_t beg, end;
} span;

#define OUT_CP 0xFFFFFFFFu

static uint32_t cp_at(const span *s, size_t i) { return i < s->end ? s->t->c[i] : OUT_CP; }
static unsigned fl_at(const span *s, size_t i) { return i < s->end ? s->t->f[i] : 0u; }

static bool is_ws(unsigned f) { return f & RH_UF_WHITESPACE; }
static bool is_l(unsigned f) { return f & RH_UF_LETTER; }
static bool is_n(unsigned f) { return f & RH_UF_NUMBER; }
static bool is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

/* Code point as the explicit-range classes see it. */
static uint32_t range_cp(const span *s, size_t i)
{
    uint32_t c = cp_at(s, i);
    if (c != OUT_CP && c >= 0x80 && is_ws(fl_at(s, i)))
        return 0x0B;
    return c;
}

typedef struct cp_range {
    uint32_t lo, hi;
} cp_range;

static bool in_ranges(const cp_range *r, size_t n, uint32_t c)
{
    for (size_t i = 0; i < n; i++)
        if (c >= r[i].lo && c <= r[i].hi)
            return true;
    return false;
}

/* ---- custom splitters (one pass over a chunk) ----------------------------- */

/* 's|'t|'re|'ve|'m|'ll|'d  (case_insensitive: also upper-case letters).
 * Returns the match length or 0. */
static size_t match_contraction(const span *s, size_t pos, bool case_insensitive)
{
    if (cp_at(s, pos) != '\'' || pos + 1 >= s->end)
        return 0;
    uint32_t a = cp_at(s, pos + 1);
    if (case_insensitive)
        a = rh_unicode_tolower(a);
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (pos + 2 >= s->end)
        return 0;
    uint32_t b = cp_at(s, pos + 2);
    if (case_insensitive)
        b = rh_unicode_tolower(b);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* Whitespace run starting at pos: its length, and the end of the last
 * \r or \n inside it (0 if none). */
static size_t ws_run(const span *s, size_t pos, size_t *last_crlf_end)
{
    size_t n = 0;
    *last_crlf_end = 0;
    while (is_ws(fl_at(s, pos + n))) {
        if (is_crlf(cp_at(s, pos + n)))
            *last_crlf_end = pos + n + 1;
        n++;
    }
    return n;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static int split_gpt2(const span *s, chunks *out)
{
    int rc = RH_OK;
    size_t pos = s->beg, prev = s->beg;
    while (pos < s->end && rc == RH_OK) {
        size_t m = match_contraction(s, pos, false);
        if (m) {
            pos += m;
            goto emit;
        }
        uint32_t c = cp_at(s, pos);
        unsigned f = fl_at(s, pos);
        unsigned f2 = c == ' ' ? fl_at(s, pos + 1) : f;
        if (is_l(f2)) {
            pos += (c == ' ');
            while (is_l(fl_at(s, pos)))
                pos++;
            goto emit;
        }
        if (is_n(f2)) {
            pos += (c == ' ');
            while (is_n(fl_at(s, pos)))
                pos++;
            goto emit;
        }
        if (f2 && !(f2 & (RH_UF_WHITESPACE | RH_UF_LETTER | RH_UF_NUMBER))) {
            pos += (c == ' ');
            for (;;) {
                unsigned g = fl_at(s, pos);
                if (!g || (g & (RH_UF_WHITESPACE | RH_UF_LETTER | RH_UF_NUMBER)))
                    break;
                pos++;
            }
            goto emit;
        }
        size_t dummy, nws = ws_run(s, pos, &dummy);
        if (nws > 1 && pos + nws < s->end) {
            pos += nws - 1; /* \s+(?!\S): leave one space for the next word */
            goto emit;
        }
        pos += nws ? nws : 1;
    emit:
        rc = chunks_push(out, pos - prev);
        prev = pos;
    }
    return rc;
}

/* Llama 3 (max_digits 3) and Qwen2 (max_digits 1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static int split_llama3(const span *s, chunks *out, size_t max_digits)
{
    int rc = RH_OK;
    size_t pos = s->beg, prev = s->beg;
    while (pos < s->end && rc == RH_OK) {
        size_t m = match_contraction(s, pos, true);
        if (m) {
            pos += m;
            goto emit;
        }
        uint32_t c = cp_at(s, pos);
        unsigned f = fl_at(s, pos);
        if (!is_crlf(c) && !is_n(f) && (is_l(f) || is_l(fl_at(s, pos + 1)))) {
            pos++;
            while (is_l(fl_at(s, pos)))
                pos++;
            goto emit;
        }
        if (is_n(f)) {
            size_t k = 0;
            while (k < max_digits && is_n(fl_at(s, pos)))
                pos++, k++;
            goto emit;
        }
        unsigned f2 = c == ' ' ? fl_at(s, pos + 1) : f;
        if (!(f2 & (RH_UF_WHITESPACE | RH_UF_LETTER | RH_UF_NUMBER)) && f) {
            pos += (c == ' ');
            for (;;) {
                unsigned g = fl_at(s, pos);
                if (!g || (g & (RH_UF_WHITESPACE | RH_UF_LETTER | RH_UF_NUMBER)))
                    break;
                pos++;
            }
            while (is_crlf(cp_at(s, pos)))
                pos++;
            goto emit;
        }
        size_t last_crlf, nws = ws_run(s, pos, &last_crlf);
        if (last_crlf) {
            pos = last_crlf;
            goto emit;
        }
        if (nws > 1 && pos + nws < s->end) {
            pos += nws - 1;
            goto emit;
        }
        pos += nws ? nws : 1;
    emit:
        rc = chunks_push(out, pos - prev);
        prev = pos;
    }
    return rc;
}

/* ---- regex-like stages: a matcher at a position, driven by split_search -- */

/* Returns the length of the match starting at pos (0: none). */
typedef size_t (*matcher)(const span *s, size_t pos);

static int split_search(const span *s, chunks *out, matcher m)
{
    int rc = RH_OK;
    size_t pos = s->beg, gap = s->beg;
    while (pos < s->end && rc == RH_OK) {
        size_t n = m(s, pos);
        if (!n) {
            pos++;
            continue;
        }
        rc = chunks_push(out, pos - gap);
        if (rc == RH_OK)
            rc = chunks_push(out, n);
        pos += n;
        gap = pos;
    }
    if (rc == RH_OK)
        rc = chunks_push(out, s->end - gap);
    return rc;
}

/* [\r\n] */
static size_t m_crlf(const span *s, size_t pos) { return is_crlf(cp_at(s, pos)) ? 1 : 0; }

/* \p{N} */
static size_t m_digit1(const span *s, size_t pos) { return is_n(fl_at(s, pos)) ? 1 : 0; }

/* \p{N}+ */
static size_t m_digits(const span *s, size_t pos)
{
    size_t n = 0;
    while (is_n(fl_at(s, pos + n)))
        n++;
    return n;
}

/* [0-9][0-9][0-9] */
static size_t m_ascii3(const span *s, size_t pos)
{
    for (size_t i = 0; i < 3; i++) {
        uint32_t c = cp_at(s, pos + i);
        if (c < '0' || c > '9')
            return 0;
    }
    return 3;
}

static bool is_falcon_punct(const span *s, size_t i)
{
    uint32_t c = cp_at(s, i);
    if (c == OUT_CP)
        return false;
    if (fl_at(s, i) & RH_UF_PUNCT)
        return true;
    return c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' ||
           c == '|' || c == '`';
}

/* [\p{P}\$\+<=>\^~\|`]+ */
static size_t m_falcon_punct(const span *s, size_t pos)
{
    size_t n = 0;
    while (is_falcon_punct(s, pos + n))
        n++;
    return n;
}

/* [\p{P}\$\+<=>\^~\|]+ (the default rule set: without the backquote) */
static size_t m_default_punct(const span *s, size_t pos)
{
    size_t n = 0;
    while (is_falcon_punct(s, pos + n) && cp_at(s, pos + n) != '`')
        n++;
    return n;
}

/* \s?X+ where X is a class test: regex semantics of an optional prefix
 * followed by a run. */
typedef bool (*cls_fn)(const span *s, size_t i);

static size_t m_opt_ws_run(const span *s, size_t pos, cls_fn x)
{
    size_t start = pos;
    if (is_ws(fl_at(s, pos)) && x(s, pos + 1))
        start = pos + 1;
    else if (!x(s, pos))
        return 0;
    size_t e = start;
    while (x(s, e))
        e++;
    return e - pos;
}

static bool c_letter(const span *s, size_t i) { return is_l(fl_at(s, i)); }
static bool c_punct(const span *s, size_t i) { return fl_at(s, i) & RH_UF_PUNCT; }

/* deepseek-llm's letter class (explicit ranges: Latin, Greek, Cyrillic,
 * Armenian, Georgian, Cherokee, ... letters). */
static const cp_range ds_letters[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
    {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
    {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
    {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
    {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
    {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

/* deepseek-llm's punctuation class: ASCII punctuation and symbols, their
 * full-width forms, quotation marks, ideographic space/comma/full stop. */
static const cp_range ds_punct[] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
};

/* CJK class of both deepseek rule sets: [一-龥ࠀ-一가-퟿] */
static const cp_range ds_cjk[] = {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}};

#define NRANGES(a) (sizeof(a) / sizeof((a)[0]))

static bool c_ds_letter(const span *s, size_t i)
{
    return i < s->end && in_ranges(ds_letters, NRANGES(ds_letters), range_cp(s, i));
}
static bool c_ds_punct(const span *s, size_t i)
{
    return i < s->end && in_ranges(ds_punct, NRANGES(ds_punct), range_cp(s, i));
}
static bool c_ds_cjk(const span *s, size_t i)
{
    return i < s->end && in_ranges(ds_cjk, NRANGES(ds_cjk), range_cp(s, i));
}

static size_t m_ws_letters(const span *s, size_t pos) { return m_opt_ws_run(s, pos, c_letter); }
static size_t m_ws_punct(const span *s, size_t pos) { return m_opt_ws_run(s, pos, c_punct); }
static size_t m_ws_ds_letters(const span *s, size_t pos) { return m_opt_ws_run(s, pos, c_ds_letter); }
static size_t m_ws_ds_punct(const span *s, size_t pos) { return m_opt_ws_run(s, pos, c_ds_punct); }

static size_t m_ds_cjk(const span *s, size_t pos)
{
    size_t n = 0;
    while (c_ds_cjk(s, pos + n))
        n++;
    return n;
}

/* \s+$ : the trailing white space of the chunk */
static size_t m_trailing_ws(const span *s, size_t pos)
{
    size_t n = 0;
    while (is_ws(fl_at(s, pos + n)))
        n++;
    return (n && pos + n == s->end) ? n : 0;
}

/* Tekken (Mistral Nemo), as the reference adapts it to ASCII-only case
 * classes: with U = letters except a-z, L = letters except A-Z,
 *   [^\r\n\p{L}\p{N}]?U*L+ | [^\r\n\p{L}\p{N}]?U+L* | \p{N} |
 *    ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+          */
static bool tk_u(const span *s, size_t i)
{
    uint32_t c = cp_at(s, i);
    return is_l(fl_at(s, i)) && !(c >= 'a' && c <= 'z');
}
static bool tk_l(const span *s, size_t i)
{
    uint32_t c = cp_at(s, i);
    return is_l(fl_at(s, i)) && !(c >= 'A' && c <= 'Z');
}
static bool not_wln(const span *s, size_t i)
{
    unsigned f = fl_at(s, i);
    return i < s->end && !(f & (RH_UF_WHITESPACE | RH_UF_LETTER | RH_UF_NUMBER));
}

/* (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]) at pos, ASCII only */
static size_t ascii_contraction(const span *s, size_t pos)
{
    if (cp_at(s, pos) != '\'')
        return 0;
    uint32_t a = cp_at(s, pos + 1), b = cp_at(s, pos + 2);
    a = (a >= 'A' && a <= 'Z') ? a + 32 : a;
    b = (b >= 'A' && b <= 'Z') ? b + 32 : b;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* The tekken rule set; gpt-4o is the same with an optional contraction after
 * the letters and \p{N}{1,3} instead of \p{N}. */
static size_t m_case_words(const span *s, size_t pos, bool contractions, size_t max_digits)
{
    uint32_t c = cp_at(s, pos);
    unsigned f = fl_at(s, pos);
    size_t st = pos, e = 0;
    if (!is_crlf(c) && !is_l(f) && !is_n(f))
        st = pos + 1; /* the optional leading character; without it no letter follows */
    /* U*L+: U* greedy, then back off until L+ can start */
    size_t nu = 0;
    while (tk_u(s, st + nu))
        nu++;
    for (size_t k = nu + 1; k-- > 0 && !e;) {
        if (tk_l(s, st + k)) {
            e = st + k;
            while (tk_l(s, e))
                e++;
        }
    }
    /* U+L* */
    if (!e && nu > 0) {
        e = st + nu;
        while (tk_l(s, e))
            e++;
    }
    if (e) {
        if (contractions)
            e += ascii_contraction(s, e);
        return e - pos;
    }
    if (is_n(f)) {
        size_t k = 0;
        while (k < max_digits && is_n(fl_at(s, pos + k)))
            k++;
        return k;
    }
    size_t p = pos;
    if (c == ' ' && not_wln(s, pos + 1))
        p = pos + 1;
    if (not_wln(s, p)) {
        while (not_wln(s, p))
            p++;
        for (uint32_t d = cp_at(s, p); d == '\r' || d == '\n' || d == '/'; d = cp_at(s, ++p)) {
        }
        return p - pos;
    }
    size_t last_crlf, nws = ws_run(s, pos, &last_crlf);
    if (last_crlf)
        return last_crlf - pos;
    if (nws > 1 && pos + nws < s->end)
        return nws - 1;
    return nws;
}

static size_t m_tekken(const span *s, size_t pos) { return m_case_words(s, pos, false, 1); }
static size_t m_gpt4o(const span *s, size_t pos) { return m_case_words(s, pos, true, 3); }

/* BLOOM / poro / gpt3-finnish: " ?[^(\s|.,!?…。，、।۔،)]+" */
static bool bloom_ch(const span *s, size_t i)
{
    static const uint32_t ex[] = {'(', '|', '.', ',', '!', '?', ')', 0x2026, 0x3002, 0xFF0C, 0x3001, 0x0964, 0x06D4, 0x060C};
    if (i >= s->end || is_ws(fl_at(s, i)))
        return false;
    uint32_t c = range_cp(s, i);
    for (size_t k = 0; k < sizeof ex / sizeof ex[0]; k++)
        if (c == ex[k])
            return false;
    return true;
}

static size_t m_bloom(const span *s, size_t pos)
{
    size_t p = pos;
    if (cp_at(s, pos) == ' ' && bloom_ch(s, pos + 1))
        p = pos + 1;
    size_t e = p;
    while (bloom_ch(s, e))
        e++;
    return e > p ? e - pos : 0;
}

/* ---- rule sets ------------------------------------------------------------ */

enum { ST_GPT2 = 1, ST_LLAMA3, ST_QWEN2 };

typedef struct stage {
    int custom;  /* ST_* or 0 for a matcher */
    matcher m;
} stage;

#define MAX_STAGES 6

static size_t rule_set(rh_pretok pre, stage *st)
{
    size_t n = 0;
    switch (pre) {
    case RH_PRE_GPT2:
        st[n++] = (stage){ST_GPT2, NULL};
        break;
    case RH_PRE_LLAMA3:
        st[n++] = (stage){ST_LLAMA3, NULL};
        break;
    case RH_PRE_QWEN2:
        st[n++] = (stage){ST_QWEN2, NULL};
        break;
    case RH_PRE_STARCODER:
        st[n++] = (stage){0, m_digit1};
        st[n++] = (stage){ST_GPT2, NULL};
        break;
    case RH_PRE_FALCON:
        st[n++] = (stage){0, m_falcon_punct};
        st[n++] = (stage){ST_GPT2, NULL};
        st[n++] = (stage){0, m_ascii3};
        break;
    case RH_PRE_DEEPSEEK_LLM:
        st[n++] = (stage){0, m_crlf};
        st[n++] = (stage){0, m_ws_ds_letters};
        st[n++] = (stage){0, m_ws_ds_punct};
        st[n++] = (stage){0, m_trailing_ws};
        st[n++] = (stage){0, m_ds_cjk};
        st[n++] = (stage){0, m_digits};
        break;
    case RH_PRE_DEEPSEEK_CODER:
        st[n++] = (stage){0, m_crlf};
        st[n++] = (stage){0, m_ws_letters};
        st[n++] = (stage){0, m_ws_punct};
        st[n++] = (stage){0, m_ds_cjk};
        st[n++] = (stage){0, m_digit1};
        break;
    case RH_PRE_TEKKEN:
        st[n++] = (stage){0, m_tekken};
        break;
    case RH_PRE_BLOOM:
        st[n++] = (stage){0, m_bloom};
        break;
    case RH_PRE_VIKING:
        st[n++] = (stage){0, m_bloom};
        st[n++] = (stage){0, m_digit1};
        break;
    case RH_PRE_GPT4O:
        st[n++] = (stage){0, m_gpt4o};
        break;
    case RH_PRE_DEFAULT:
    default:
        st[n++] = (stage){0, m_default_punct};
        st[n++] = (stage){ST_GPT2, NULL};
        st[n++] = (stage){0, m_digits};
        st[n++] = (stage){0, m_ascii3};
        break;
    }
    return n;
}

int rh_pretok_split(rh_pretok pre, const uint32_t *cpts, size_t n, size_t **lens, size_t *n_lens)
{
    int rc = RH_OK;
    chunks cur = {0}, next = {0};
    uint16_t *flags = NULL;
    stage st[MAX_STAGES];
    size_t nst = rule_set(pre, st);

    *lens = NULL;
    *n_lens = 0;
    if (n == 0)
        return RH_OK;
    flags = rh_malloc_array(n, sizeof *flags);
    if (!flags) {
        rc = RH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        flags[i] = (uint16_t)rh_unicode_flags(cpts[i]);
    text t = {cpts, flags};
    if ((rc = chunks_push(&cur, n)) != RH_OK)
        goto out;

    for (size_t k = 0; k < nst; k++) {
        next.n = 0;
        size_t beg = 0;
        for (size_t i = 0; i < cur.n && rc == RH_OK; i++) {
            span s = {&t, beg, beg + cur.len[i]};
            switch (st[k].custom) {
            case ST_GPT2: rc = split_gpt2(&s, &next); break;
            case ST_LLAMA3: rc = split_llama3(&s, &next, 3); break;
            case ST_QWEN2: rc = split_llama3(&s, &next, 1); break;
            default: rc = split_search(&s, &next, st[k].m); break;
            }
            beg = s.end;
        }
        if (rc != RH_OK)
            goto out;
        chunks tmp = cur;
        cur = next;
        next = tmp;
    }
    *lens = cur.len;
    *n_lens = cur.n;
    cur.len = NULL;
out:
    rh_free(cur.len);
    rh_free(next.len);
    rh_free(flags);
    return rc;
}
