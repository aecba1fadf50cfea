/*
 * analyzer.c - German text analysis: word splitting, folding, umlaut
 * spellings, Snowball stemming, dictionary compound splitting, stop words.
 * See analyzer.h for the rules.
 */
#include "knowledge/analyzer.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "engine/unicode.h"

#define WORD_MAX_CP 48     /* code points of a word considered */
#define SPLIT_MIN_CP 7     /* shortest word that is split */
#define PART_MIN_CP 3      /* shortest compound part */
#define SPLIT_MAX_PARTS 4
#define DICT_MAX_BYTES (64u << 20)

/* ---- a set of strings (open addressing over a string pool) ---- */

typedef struct strset {
    uint32_t *slots; /* pool offset + 1; 0 = empty */
    size_t cap, n;
    char *pool;
    size_t pool_len, pool_cap;
} strset;

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}


static int strset_has(const strset *s, const char *w, size_t n)
{
    if (!s->cap)
        return 0;
    size_t i = hash_str(w, n) & (s->cap - 1);
    while (s->slots[i]) {
        const char *e = s->pool + s->slots[i] - 1;
        if (strncmp(e, w, n) == 0 && e[n] == '\0')
            return 1;
        i = (i + 1) & (s->cap - 1);
    }
    return 0;
}

static int strset_grow(strset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    uint32_t *ns = rh_calloc(ncap, sizeof *ns);
    if (!ns)
        return RH_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i])
            continue;
        const char *e = s->pool + s->slots[i] - 1;
        size_t j = hash_str(e, strlen(e)) & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slots[i];
    }
    rh_free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return RH_OK;
}

static int strset_add(strset *s, const char *w, size_t n)
{
    if (n == 0 || strset_has(s, w, n))
        return RH_OK;
    if ((s->n + 1) * 2 > s->cap && strset_grow(s) != RH_OK)
        return RH_ENOMEM;
    if (s->pool_len + n + 1 > s->pool_cap) {
        size_t nc = s->pool_cap ? s->pool_cap * 2 : 65536;
        while (nc < s->pool_len + n + 1)
            nc *= 2;
        if (nc > UINT32_MAX - 1)
            return RH_ELIMIT;
        char *np = rh_realloc(s->pool, nc);
        if (!np)
            return RH_ENOMEM;
        s->pool = np;
        s->pool_cap = nc;
    }
    memcpy(s->pool + s->pool_len, w, n);
    s->pool[s->pool_len + n] = '\0';
    size_t i = hash_str(w, n) & (s->cap - 1);
    while (s->slots[i])
        i = (i + 1) & (s->cap - 1);
    s->slots[i] = (uint32_t)s->pool_len + 1;
    s->pool_len += n + 1;
    s->n++;
    return RH_OK;
}

/* ---- normalisation ---- */

/* Flags and lower case of the Latin range, from engine/unicode.h, cached
 * (the binary search per code point was the hottest spot of ingestion). */
#define LATIN_END 0x250u
static uint16_t latin_flags[LATIN_END];
static uint16_t latin_lower[LATIN_END];
static int latin_ready;

static void latin_init(void)
{
    for (uint32_t c = 0; c < LATIN_END; c++) {
        latin_flags[c] = (uint16_t)rh_unicode_flags(c);
        latin_lower[c] = (uint16_t)rh_unicode_tolower(c);
    }
    latin_ready = 1;
}

static unsigned uflags(uint32_t cp)
{
    return cp < LATIN_END && latin_ready ? latin_flags[cp] : rh_unicode_flags(cp);
}

static uint32_t ulower(uint32_t cp)
{
    return cp < LATIN_END && latin_ready ? latin_lower[cp] : rh_unicode_tolower(cp);
}

#define CP_AE 0xE4u
#define CP_OE 0xF6u
#define CP_UE 0xFCu

static int is_word_cp(uint32_t cp)
{
    return (uflags(cp) & (RH_UF_LETTER | RH_UF_NUMBER | RH_UF_MARK)) != 0;
}

/* Fold one code point into cps (up to 2 out); returns the count. */
static int fold_cp(uint32_t cp, uint32_t *o)
{
    uint32_t lc = ulower(cp);
    if (lc == 0xDF || lc == 0x1E9E) { /* ß, capital ẞ */
        o[0] = 's';
        o[1] = 's';
        return 2;
    }
    if (uflags(lc) & RH_UF_MARK)
        return 0; /* combining marks: accents dropped (umlaut marks too) */
    if (lc == CP_AE || lc == CP_OE || lc == CP_UE || lc < 0x80) {
        o[0] = lc;
        return 1;
    }
    if (lc < 0x250) { /* Latin-1 supplement and Latin Extended-A/B: drop accents */
        uint32_t base = rh_unicode_nfd_first(lc);
        if (base < 0x80)
            lc = base;
    }
    o[0] = lc;
    return 1;
}

/* Normalise a word given as code points into out cps (<= WORD_MAX_CP + 1);
 * returns the count. */
static size_t norm_cps(const uint32_t *in, size_t n, uint32_t *out)
{
    uint32_t tmp[2 * WORD_MAX_CP + 2];
    size_t m = 0;
    for (size_t i = 0; i < n && m < 2 * WORD_MAX_CP; i++) {
        /* a decomposed umlaut: base + U+0308 */
        if (i + 1 < n && in[i + 1] == 0x308) {
            uint32_t b = ulower(in[i]);
            if (b == 'a' || b == 'o' || b == 'u') {
                tmp[m++] = b == 'a' ? CP_AE : b == 'o' ? CP_OE : CP_UE;
                i++;
                continue;
            }
        }
        m += (size_t)fold_cp(in[i], tmp + m);
    }
    size_t k = 0;
    for (size_t i = 0; i < m && k < WORD_MAX_CP; i++) {
        uint32_t c = tmp[i];
        if (i + 1 < m && tmp[i + 1] == 'e') {
            if (c == 'a' || c == 'o' || (c == 'u' && !(i > 0 && tmp[i - 1] == 'q'))) {
                out[k++] = c == 'a' ? CP_AE : c == 'o' ? CP_OE : CP_UE;
                i++;
                continue;
            }
        }
        out[k++] = c;
    }
    return k;
}

static size_t cps_to_utf8(const uint32_t *c, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char b[4];
        int l = rh_utf8_encode(c[i], b);
        if (len + (size_t)l + 1 > cap)
            break;
        memcpy(out + len, b, (size_t)l);
        len += (size_t)l;
    }
    out[len] = '\0';
    return len;
}

/* ---- stop words (query side) ---- */

static const char *const stop_words[] = {
    "ab", "aber", "alle", "allem", "allen", "aller", "alles", "als", "also", "am", "an",
    "andere", "anderen", "anderer", "anderes", "auch", "auf", "aus", "bei", "beim", "bin",
    "bis", "bist", "bitte", "bzw", "da", "dabei", "dafür", "damit", "dann", "dar", "darf",
    "darauf", "daran", "darum", "das", "dass", "daß", "dein", "deine", "dem", "den", "denn",
    "der", "des", "dessen", "dich", "die", "dies", "diese", "diesem", "diesen", "dieser",
    "dieses", "dir", "doch", "dort", "du", "durch", "dürfen", "darf", "dürfte", "ein",
    "eine", "einem", "einen", "einer", "eines", "einfach", "einmal", "er", "erst", "es",
    "etwa", "etwas", "euch", "euer", "eigentlich", "für", "gegen", "gibt", "gilt", "hab",
    "habe", "haben", "hat", "hast", "hatte", "hier", "ich", "ihm", "ihn", "ihnen", "ihr",
    "ihre", "ihrem", "ihren", "ihrer", "im", "immer", "in", "ins", "ist", "ja", "jede",
    "jedem", "jeden", "jeder", "jedes", "jemand", "kann", "kannst", "kein", "keine",
    "keinem", "keinen", "können", "könnte", "man", "mein", "meine", "meinem", "meinen",
    "meiner", "meines", "mich", "mir", "mit", "möchte", "muss", "musst", "müssen", "nach",
    "nicht", "noch", "nun", "nur", "ob", "oder", "ohne", "sehr", "sein", "seine", "seinem",
    "seinen", "seiner", "sich", "sie", "sind", "so", "soll", "sollen", "sollte", "sonst",
    "über", "um", "und", "uns", "unser", "unsere", "unserem", "unseren", "unter", "viel",
    "vom", "von", "vor", "wann", "war", "waren", "warum", "was", "weil", "welche",
    "welchem", "welchen", "welcher", "welches", "wem", "wen", "wenn", "wer", "werde",
    "werden", "wie", "wieso", "will", "wir", "wird", "wo", "wohin", "woher", "wurde",
    "würde", "zu", "zum", "zur", "zwar", "bekomme", "bekommt", "bekommen", "braucht",
    "brauche", "mache", "macht", "machen", "tun", "dürfen", "darüber", "worden", "jetzt",
};

/* Compound heads that are prefixes or function words, never a part. */
static const char *const bad_heads[] = {
    "ab", "an", "auf", "aus", "bei", "dar", "durch", "ein", "ent", "her", "hin", "hinter",
    "miss", "mit", "nach", "neben", "über", "um", "un", "unter", "ver", "vor", "weg",
    "wider", "zer", "zu", "zurück", "zusammen", "die", "der", "das", "den", "dem", "des",
    "ihr", "sein", "eine", "einer", "ihre", "all", "alle", "ge", "be", "er", "emp", "ur",
    "voll", "fort", "los", "wie", "was", "wer", "dies", "jed", "erst", "mehr", "ander",
};

/* Suffix-like endings that are dictionary words but never a compound tail. */
static const char *const bad_tails[] = {
    "ung", "ungen", "ungs", "heit", "keit", "schaft", "lich", "isch", "ling", "nis",
    "tum", "sam", "bar", "haft", "ion", "ten", "end", "ern", "los",
};

/* ---- the shared dictionary ---- */

static struct {
    strset words; /* normalised dictionary words (and compound forms) */
    strset stems; /* their stems */
    strset stops; /* normalised stop words */
    strset heads_bad;
    strset tails_bad;
} g;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static size_t norm_utf8(const char *w, size_t n, uint32_t *cps)
{
    uint32_t in[WORD_MAX_CP * 2];
    size_t k = 0, pos = 0;
    while (pos < n && k < WORD_MAX_CP * 2)
        in[k++] = rh_utf8_decode(w, n, &pos);
    return norm_cps(in, k, cps);
}

static void add_normalized(strset *s, const char *w, size_t n)
{
    uint32_t cps[WORD_MAX_CP + 1];
    char u[RH_KAN_TERM_MAX + 1];
    size_t k = norm_utf8(w, n, cps);
    size_t l = cps_to_utf8(cps, k, u, sizeof u);
    (void)strset_add(s, u, l);
}

static void load_dict(void)
{
    latin_init();
    for (size_t i = 0; i < sizeof stop_words / sizeof stop_words[0]; i++)
        add_normalized(&g.stops, stop_words[i], strlen(stop_words[i]));
    for (size_t i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++)
        add_normalized(&g.heads_bad, bad_heads[i], strlen(bad_heads[i]));
    for (size_t i = 0; i < sizeof bad_tails / sizeof bad_tails[0]; i++)
        add_normalized(&g.tails_bad, bad_tails[i], strlen(bad_tails[i]));

    const char *path = getenv("RATHAUS_DE_DIC");
    if (!path || !*path)
        path = "/usr/share/hunspell/de_DE.dic";
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return;
    struct sb_stemmer *st = sb_stemmer_new("german", "UTF_8");
    char line[512];
    size_t total = 0;
    while (st && fgets(line, sizeof line, fp)) {
        total += strlen(line);
        if (total > DICT_MAX_BYTES)
            break;
        if (line[0] == '\t' || line[0] == '#')
            continue;
        size_t n = strcspn(line, "/\r\n\t ");
        if (n < PART_MIN_CP || n > RH_KAN_TERM_MAX)
            continue;
        if (line[0] >= '0' && line[0] <= '9')
            continue;
        uint32_t cps[WORD_MAX_CP + 1];
        char u[RH_KAN_TERM_MAX + 1];
        size_t k = norm_utf8(line, n, cps);
        if (k < PART_MIN_CP)
            continue;
        int ok = 1;
        for (size_t i = 0; i < k; i++)
            if (!(uflags(cps[i]) & RH_UF_LETTER))
                ok = 0;
        if (!ok)
            continue;
        size_t l = cps_to_utf8(cps, k, u, sizeof u);
        if (strset_add(&g.words, u, l) != RH_OK)
            break;
        const sb_symbol *s = sb_stemmer_stem(st, (const sb_symbol *)u, (int)l);
        if (s && sb_stemmer_length(st) >= PART_MIN_CP)
            (void)strset_add(&g.stems, (const char *)s, (size_t)sb_stemmer_length(st));
    }
    if (st)
        sb_stemmer_delete(st);
    fclose(fp);
}

static void dict_init(void)
{
    pthread_once(&g_once, load_dict);
}

size_t rh_kan_dict_words(void)
{
    dict_init();
    return g.words.n;
}

/* ---- analyzer ---- */

/* The compound parts of a long word, remembered: splitting is the costly
 * step and words repeat (direct-mapped cache, per analyzer). */
#define CACHE_SLOTS 2048

typedef struct cache_entry {
    char word[RH_KAN_TERM_MAX + 1]; /* normalised word, "" = empty slot */
    unsigned char n;
    char parts[SPLIT_MAX_PARTS][RH_KAN_TERM_MAX + 1];
} cache_entry;

struct rh_kan {
    unsigned flags;
    struct sb_stemmer *stemmer;
    cache_entry *cache; /* CACHE_SLOTS, when splitting compounds */
};

int rh_kan_new(unsigned flags, rh_kan **out, rh_error *err)
{
    *out = NULL;
    dict_init();
    rh_kan *a = rh_calloc(1, sizeof *a);
    if (!a)
        return rh_error_set(err, RH_ENOMEM, "out of memory for the text analyzer");
    a->flags = flags;
    if ((flags & RH_KAN_COMPOUND) && !(a->cache = rh_calloc(CACHE_SLOTS, sizeof *a->cache))) {
        rh_free(a);
        return rh_error_set(err, RH_ENOMEM, "out of memory for the text analyzer");
    }
    if (flags & (RH_KAN_STEM | RH_KAN_COMPOUND)) {
        a->stemmer = sb_stemmer_new("german", "UTF_8");
        if (!a->stemmer) {
            rh_free(a->cache);
            rh_free(a);
            return rh_error_set(err, RH_EUNSUPPORTED,
                                "the Snowball German stemmer (libstemmer) is not available");
        }
    }
    *out = a;
    return RH_OK;
}

void rh_kan_free(rh_kan *a)
{
    if (!a)
        return;
    if (a->stemmer)
        sb_stemmer_delete(a->stemmer);
    rh_free(a->cache);
    rh_free(a);
}

unsigned rh_kan_flags(const rh_kan *a)
{
    return a->flags;
}

/* Stem a normalised UTF-8 word into out; returns the length. */
static size_t stem_utf8(rh_kan *a, const char *u, size_t l, char *out, size_t cap)
{
    if (a->stemmer && (a->flags & RH_KAN_STEM)) {
        const sb_symbol *s = sb_stemmer_stem(a->stemmer, (const sb_symbol *)u, (int)l);
        int sl = sb_stemmer_length(a->stemmer);
        if (s && sl > 0 && (size_t)sl < cap) {
            memcpy(out, s, (size_t)sl);
            out[sl] = '\0';
            return (size_t)sl;
        }
    }
    size_t n = l < cap - 1 ? l : cap - 1;
    memcpy(out, u, n);
    out[n] = '\0';
    return n;
}


static int head_ok(const uint32_t *c, size_t n)
{
    char u[RH_KAN_TERM_MAX + 1];
    size_t l = cps_to_utf8(c, n, u, sizeof u);
    return !strset_has(&g.heads_bad, u, l) && strset_has(&g.words, u, l);
}

static int tail_ok(rh_kan *a, const uint32_t *c, size_t n)
{
    char u[RH_KAN_TERM_MAX + 1], s[RH_KAN_TERM_MAX + 1];
    size_t l = cps_to_utf8(c, n, u, sizeof u);
    if (strset_has(&g.tails_bad, u, l))
        return 0;
    if (strset_has(&g.words, u, l))
        return 1;
    if (!a->stemmer)
        return 0;
    const sb_symbol *r = sb_stemmer_stem(a->stemmer, (const sb_symbol *)u, (int)l);
    int sl = sb_stemmer_length(a->stemmer);
    if (!r || sl < PART_MIN_CP || (size_t)sl > RH_KAN_TERM_MAX)
        return 0;
    memcpy(s, r, (size_t)sl);
    return strset_has(&g.stems, s, (size_t)sl);
}

typedef struct part {
    size_t from, len; /* code points of the part (without linking element) */
} part;

/* Length of the head c[0..i) without a linking element that makes it a
 * dictionary word, or 0. */
static size_t head_len(const uint32_t *c, size_t i)
{
    if (i >= PART_MIN_CP && head_ok(c, i))
        return i;
    static const char *const fugen[] = {"s", "es", "n", "en", "e", "er"};
    for (size_t f = 0; f < sizeof fugen / sizeof fugen[0]; f++) {
        size_t fl = strlen(fugen[f]);
        if (i < PART_MIN_CP + fl)
            continue;
        int match = 1;
        for (size_t j = 0; j < fl; j++)
            if (c[i - fl + j] != (uint32_t)fugen[f][j])
                match = 0;
        if (match && head_ok(c, i - fl))
            return i - fl;
    }
    return 0;
}

/* Best split of c[0..n) into dictionary parts: fewest parts, then the
 * longest last part. Returns the number of parts (0: none). */
static size_t split_word(rh_kan *a, const uint32_t *c, size_t off, size_t n, int depth,
                         part *out)
{
    size_t best = 0, best_tail = 0;
    part tmp[SPLIT_MAX_PARTS];
    for (size_t i = PART_MIN_CP; i + PART_MIN_CP <= n; i++) {
        size_t hl = head_len(c + off, i);
        if (!hl)
            continue;
        size_t k = 0;
        tmp[0] = (part){off, hl};
        if (tail_ok(a, c + off + i, n - i)) {
            tmp[1] = (part){off + i, n - i};
            k = 2;
        } else if (depth + 2 < SPLIT_MAX_PARTS) {
            size_t r = split_word(a, c, off + i, n - i, depth + 1, tmp + 1);
            if (r)
                k = 1 + r;
        }
        if (!k)
            continue;
        size_t tail = tmp[k - 1].len;
        if (!best || k < best || (k == best && tail > best_tail)) {
            best = k;
            best_tail = tail;
            memcpy(out, tmp, k * sizeof *tmp);
        }
    }
    return best;
}

/* Analyse one word (code points); emits the term and compound parts. */
static int do_word(rh_kan *a, const uint32_t *w, size_t n, size_t start, size_t end,
                   rh_kan_emit_fn emit, void *ctx)
{
    uint32_t c[WORD_MAX_CP + 1];
    size_t k = norm_cps(w, n, c);
    if (!k)
        return 0;
    char u[RH_KAN_TERM_MAX + 1], t[RH_KAN_TERM_MAX + 1];
    size_t ul = cps_to_utf8(c, k, u, sizeof u);
    if ((a->flags & RH_KAN_STOPWORDS) && strset_has(&g.stops, u, ul))
        return 0;
    size_t tl = stem_utf8(a, u, ul, t, sizeof t);
    int rc = emit(ctx, t, tl, start, end, 0);
    if (rc || !(a->flags & RH_KAN_COMPOUND) || k < SPLIT_MIN_CP || !g.words.n)
        return rc;
    int alpha = 1;
    for (size_t i = 0; i < k; i++)
        if (!(uflags(c[i]) & RH_UF_LETTER))
            alpha = 0;
    if (!alpha)
        return 0;
    cache_entry *ce = &a->cache[hash_str(u, ul) & (CACHE_SLOTS - 1)];
    if (strcmp(ce->word, u) != 0) {
        part parts[SPLIT_MAX_PARTS];
        size_t np = split_word(a, c, 0, k, 0, parts);
        ce->n = 0;
        for (size_t i = 0; i < np; i++) {
            char pu[RH_KAN_TERM_MAX + 1], pt[RH_KAN_TERM_MAX + 1];
            size_t pl = cps_to_utf8(c + parts[i].from, parts[i].len, pu, sizeof pu);
            size_t ptl = stem_utf8(a, pu, pl, pt, sizeof pt);
            if (ptl == tl && memcmp(pt, t, tl) == 0)
                continue;
            int dup = 0;
            for (size_t j = 0; j < ce->n; j++)
                if (strcmp(ce->parts[j], pt) == 0)
                    dup = 1;
            if (!dup)
                memcpy(ce->parts[ce->n++], pt, ptl + 1);
        }
        memcpy(ce->word, u, ul + 1);
    }
    for (size_t i = 0; i < ce->n; i++)
        if ((rc = emit(ctx, ce->parts[i], strlen(ce->parts[i]), start, end, 1)) != 0)
            return rc;
    return 0;
}

int rh_kan_run(rh_kan *a, const char *text, size_t len, rh_kan_emit_fn emit, void *ctx)
{
    uint32_t w[WORD_MAX_CP];
    size_t n = 0, start = 0, end = 0, pos = 0;
    while (pos < len) {
        size_t p0 = pos;
        uint32_t cp = rh_utf8_decode(text, len, &pos);
        if (cp != RH_UNICODE_REPLACEMENT && is_word_cp(cp)) {
            if (n == 0)
                start = p0;
            if (n < WORD_MAX_CP)
                w[n++] = cp;
            end = pos;
            continue;
        }
        if (n) {
            int rc = do_word(a, w, n, start, end, emit, ctx);
            if (rc)
                return rc;
            n = 0;
        }
    }
    if (n)
        return do_word(a, w, n, start, end, emit, ctx);
    return 0;
}

size_t rh_kan_normalize(const char *word, size_t n, char *out, size_t cap)
{
    uint32_t c[WORD_MAX_CP + 1];
    dict_init(); /* the Latin tables */
    if (cap == 0)
        return 0;
    size_t k = norm_utf8(word, n, c);
    return cps_to_utf8(c, k, out, cap);
}

size_t rh_kan_term(rh_kan *a, const char *word, size_t n, char *out, size_t cap)
{
    char u[RH_KAN_TERM_MAX + 1];
    if (cap == 0)
        return 0;
    size_t ul = rh_kan_normalize(word, n, u, sizeof u);
    if (!ul) {
        out[0] = '\0';
        return 0;
    }
    return stem_utf8(a, u, ul, out, cap);
}

int rh_kan_is_stopword(const char *word, size_t n)
{
    char u[RH_KAN_TERM_MAX + 1];
    dict_init();
    size_t ul = rh_kan_normalize(word, n, u, sizeof u);
    return strset_has(&g.stops, u, ul);
}
