/*
 * search.c - query analysis, synonym expansion and BM25 ranking over the
 * knowledge store (see search.h).
 */
#include "knowledge/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "knowledge/extract.h"
#include "engine/unicode.h"
#include "knowledge/analyzer.h"
#include "knowledge/synonyms.h"

#define MAX_TERMS 128
#define QUERY_MAX 8192

enum { ALT_NONE, ALT_PLAIN, ALT_STEM };

struct rh_ksearcher {
    kstore *ks;
    rh_kan *kan_compound; /* stem + compound + stop words */
    rh_kan *kan_stem;     /* stem + stop words */
    int alt;
    int64_t n_chunks;   /* cached chunk count */
    double n_chunks_at; /* when it was read (monotonic seconds) */
};

void rh_ksearch_opts_default(rh_ksearch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tenant = 1;
    o->features = RH_KS_FULL;
    o->k = 10;
    o->w_title = 2.0;
    o->w_heading = 3.0;
    o->w_body = 1.0;
    o->syn_weight = 0.5;
    o->syn_per_term = 3;
    o->max_df = 0.15;
    o->max_df_from = 20000;
    o->syn_max_df = 0.01;
}

static const struct {
    const char *name;
    unsigned f;
} feature_names[] = {
    {"stem", RH_KS_STEM},       {"compound", RH_KS_COMPOUND}, {"synonyms", RH_KS_SYNONYMS},
    {"weights", RH_KS_WEIGHTS}, {"legal", RH_KS_LEGAL},
};

int rh_ksearch_parse_mode(const char *mode, unsigned *features, rh_error *err)
{
    *features = 0;
    if (strcmp(mode, "plain") == 0)
        return RH_OK;
    if (strcmp(mode, "full") == 0) {
        *features = RH_KS_FULL;
        return RH_OK;
    }
    const char *p = mode;
    while (*p) {
        size_t l = strcspn(p, "+");
        int found = 0;
        for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++) {
            if (strlen(feature_names[i].name) == l && strncmp(p, feature_names[i].name, l) == 0) {
                *features |= feature_names[i].f;
                found = 1;
            }
        }
        if (!found)
            return rh_error_set(err, RH_EINVAL,
                                "unknown search mode part '%.*s' (use plain, full or stem, "
                                "compound, synonyms, weights, legal joined with '+')",
                                (int)l, p);
        p += l;
        if (*p == '+')
            p++;
    }
    if ((*features & ~RH_KS_WEIGHTS) && !(*features & RH_KS_STEM))
        *features |= RH_KS_STEM; /* every German feature builds on the analysis */
    return RH_OK;
}

const char *rh_ksearch_mode_name(unsigned f, char *buf, size_t cap)
{
    if (!cap)
        return "";
    buf[0] = '\0';
    if (f == RH_KS_FULL) {
        snprintf(buf, cap, "full");
        return buf;
    }
    if (!f) {
        snprintf(buf, cap, "plain");
        return buf;
    }
    size_t len = 0;
    for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++) {
        if (!(f & feature_names[i].f))
            continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? "+" : "", feature_names[i].name);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
    return buf;
}

int rh_ksearcher_new(kstore *ks, rh_ksearcher **out, rh_error *err)
{
    *out = NULL;
    rh_ksearcher *s = rh_calloc(1, sizeof *s);
    if (!s)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    s->ks = ks;
    int rc = rh_kan_new(RH_KAN_STEM | RH_KAN_COMPOUND | RH_KAN_STOPWORDS, &s->kan_compound, err);
    if (!rc)
        rc = rh_kan_new(RH_KAN_STEM | RH_KAN_STOPWORDS, &s->kan_stem, err);
    if (rc) {
        rh_ksearcher_free(s);
        return rc;
    }
    *out = s;
    return RH_OK;
}

void rh_ksearcher_free(rh_ksearcher *s)
{
    if (!s)
        return;
    rh_kan_free(s->kan_compound);
    rh_kan_free(s->kan_stem);
    rh_free(s);
}

static int wanted_alt(unsigned f)
{
    if (!(f & RH_KS_STEM))
        return ALT_PLAIN;
    if (!(f & RH_KS_COMPOUND))
        return ALT_STEM;
    return ALT_NONE;
}

int rh_ksearch_prepare(rh_ksearcher *s, unsigned features, rh_error *err)
{
    int want = wanted_alt(features);
    if (want == ALT_NONE || want == s->alt)
        return RH_OK;
    int rc = kstore_alt_index_build(s->ks, want == ALT_PLAIN ? "unicode61" : "rathaus_de stem",
                                    err);
    s->alt = rc ? ALT_NONE : want;
    return rc;
}

/* ---- term lists ---- */

typedef struct terms {
    char t[MAX_TERMS][RH_KAN_TERM_MAX + 1];
    unsigned char expand[MAX_TERMS]; /* 1: whole word, 2: whole noun */
    size_t wstart[MAX_TERMS], wend[MAX_TERMS]; /* the word in the query */
    int64_t df[MAX_TERMS];                      /* chunks holding it, -1 unknown */
    size_t n;
    const char *query; /* for the capitalisation of a word */
} terms;

static int terms_has(const terms *l, const char *t, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->t[i]) == n && memcmp(l->t[i], t, n) == 0)
            return 1;
    return 0;
}

static void terms_add(terms *l, const char *t, size_t n, unsigned char expand)
{
    if (!n || n > RH_KAN_TERM_MAX || l->n == MAX_TERMS || terms_has(l, t, n))
        return;
    for (size_t i = 0; i < n; i++)
        if (t[i] == '"')
            return;
    memcpy(l->t[l->n], t, n);
    l->expand[l->n] = expand;
    l->wstart[l->n] = l->wend[l->n] = 0;
    l->df[l->n] = -1;
    l->t[l->n++][n] = '\0';
}

static int on_term(void *ctx, const char *t, size_t n, size_t start, size_t end, int colocated)
{
    terms *l = ctx;
    (void)end;
    unsigned char ex = 0;
    if (!colocated) {
        size_t pos = start;
        uint32_t cp = rh_utf8_decode(l->query, strlen(l->query), &pos);
        ex = (rh_unicode_flags(cp) & RH_UF_UPPER) ? 2 : 1;
    }
    size_t before = l->n;
    terms_add(l, t, n, ex);
    if (l->n > before) {
        l->wstart[before] = start;
        l->wend[before] = end;
    }
    return 0;
}

/* Snowball leaves participles and verb forms in -t/-et ("begründet",
 * "zugestellt") apart from their nouns ("Begründung", "Zustellung"): for
 * such query words also search the stem without the ending when the index
 * knows it. */
static int participles(rh_ksearcher *s, rh_kan *a, terms *l, rh_error *err)
{
    size_t n0 = l->n;
    for (size_t i = 0; i < n0; i++) {
        if (!l->expand[i] || l->wend[i] <= l->wstart[i])
            continue;
        char u[RH_KAN_TERM_MAX + 1], v[RH_KAN_TERM_MAX + 1];
        size_t ul = rh_kan_normalize(l->query + l->wstart[i], l->wend[i] - l->wstart[i], u,
                                     sizeof u);
        size_t cut = 0;
        if (ul >= 7 && u[ul - 2] == 'e' && u[ul - 1] == 't')
            cut = 2;
        else if (ul >= 6 && u[ul - 1] == 't')
            cut = 1;
        if (!cut)
            continue;
        size_t vl = rh_kan_term(a, u, ul - cut, v, sizeof v);
        if (vl < 4 || terms_has(l, v, vl))
            continue;
        int64_t df = 0;
        int rc = kstore_term_docs(s->ks, v, &df, err);
        if (rc)
            return rc;
        if (df > 0) {
            terms_add(l, v, vl, 0);
            l->df[l->n - 1] = df;
        }
    }
    return RH_OK;
}

/* Words of the query as they are (for the plain baseline). */
static void plain_words(const char *q, size_t len, terms *out)
{
    size_t pos = 0, start = 0;
    int in = 0;
    while (pos <= len) {
        size_t p0 = pos;
        uint32_t cp = pos < len ? rh_utf8_decode(q, len, &pos) : 0;
        int w = pos <= len && p0 < len && cp != RH_UNICODE_REPLACEMENT &&
                (rh_unicode_flags(cp) & (RH_UF_LETTER | RH_UF_NUMBER | RH_UF_MARK));
        if (w && !in) {
            start = p0;
            in = 1;
        } else if (!w && in) {
            terms_add(out, q + start, p0 - start, 0);
            in = 0;
        }
        if (p0 >= len)
            break;
    }
}

typedef struct cand {
    char t[RH_KAN_TERM_MAX + 1];
    size_t set;
} cand;

typedef struct syn_ctx {
    kstore *ks;
    const terms *main;
    terms *exp;
    cand cand[64];
    size_t n;
} syn_ctx;

static int on_syn(void *c, const char *t, size_t set)
{
    syn_ctx *s = c;
    size_t n = strlen(t);
    if (n > RH_KAN_TERM_MAX || terms_has(s->main, t, n))
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->cand[i].t, t) == 0)
            return 0;
    if (s->n == sizeof s->cand / sizeof s->cand[0])
        return 1;
    memcpy(s->cand[s->n].t, t, n + 1);
    s->cand[s->n++].set = set;
    return 0;
}

static int cmp_cand(const void *a, const void *b)
{
    size_t x = ((const cand *)a)->set, y = ((const cand *)b)->set;
    if (x != y)
        return x < y ? -1 : 1;
    return strcmp(((const cand *)a)->t, ((const cand *)b)->t);
}

/* Expansion: for each query term up to per_term synonyms present in the
 * index (most specific sets first), plus the statute table. */
static int expand(rh_ksearcher *s, const terms *main, const rh_ksearch_opts *o, terms *exp,
                  rh_error *err)
{
    int rc0;
    for (size_t i = 0; i < main->n; i++) {
        if (!main->expand[i])
            continue; /* compound parts are not expanded */
        syn_ctx c = {0};
        c.ks = s->ks;
        c.main = main;
        c.exp = exp;
        if (o->features & RH_KS_LEGAL)
            rh_ksyn_legal(main->t[i], on_syn, &c);
        size_t n_legal = c.n;
        int rare = 1;
        if ((o->features & RH_KS_SYNONYMS) && main->expand[i] == 2 && o->syn_max_df > 0) {
            int64_t df = main->df[i];
            if (df < 0 && (rc0 = kstore_term_docs(s->ks, main->t[i], &df, err)))
                return rc0;
            if (!s->n_chunks && (rc0 = kstore_chunk_count(s->ks, &s->n_chunks, err)))
                return rc0;
            double lim = o->syn_max_df * (double)s->n_chunks;
            rare = (double)df < (lim > 3 ? lim : 3);
        }
        if ((o->features & RH_KS_SYNONYMS) && main->expand[i] == 2 && rare) /* nouns only */
            rh_ksyn_thesaurus(main->t[i], 8, on_syn, &c);
        if (c.n > n_legal)
            qsort(c.cand + n_legal, c.n - n_legal, sizeof c.cand[0], cmp_cand);
        size_t taken = 0;
        for (size_t j = 0; j < c.n; j++) {
            int64_t df = 0;
            int rc = kstore_term_docs(s->ks, c.cand[j].t, &df, err);
            if (rc)
                return rc;
            if (df <= 0)
                continue;
            size_t before = exp->n;
            if (j < n_legal) {
                terms_add(exp, c.cand[j].t, strlen(c.cand[j].t), 0);
            } else if (taken < o->syn_per_term) {
                terms_add(exp, c.cand[j].t, strlen(c.cand[j].t), 0);
                taken++;
            }
            if (exp->n > before)
                exp->df[before] = df;
        }
    }
    return RH_OK;
}

/* Drop very frequent terms (as a statistical stop word list), keeping at
 * least the rarest one. */
static int drop_frequent(rh_ksearcher *s, terms *l, double max_df, size_t from, rh_error *err)
{
    if (max_df <= 0 || l->n < 2)
        return RH_OK;
    double now = rh_monotonic_seconds();
    int rc;
    if (!s->n_chunks || now - s->n_chunks_at > 10.0) {
        if ((rc = kstore_chunk_count(s->ks, &s->n_chunks, err)))
            return rc;
        s->n_chunks_at = now;
    }
    if (s->n_chunks < (int64_t)from)
        return RH_OK; /* small indexes: every term counts */
    int64_t *df = l->df, min_df = INT64_MAX;
    for (size_t i = 0; i < l->n; i++) {
        if (df[i] < 0 && (rc = kstore_term_docs(s->ks, l->t[i], &df[i], err)))
            return rc;
        if (df[i] > 0 && df[i] < min_df)
            min_df = df[i];
    }
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (df[i] == 0 || ((double)df[i] > max_df * (double)s->n_chunks && df[i] != min_df))
            continue;
        if (k != i) {
            memcpy(l->t[k], l->t[i], sizeof l->t[k]);
            l->expand[k] = l->expand[i];
            l->wstart[k] = l->wstart[i];
            l->wend[k] = l->wend[i];
            l->df[k] = l->df[i];
        }
        k++;
    }
    l->n = k;
    return RH_OK;
}

/* Citations in the question ("§ 17", "§17a", "Art. 28", "Artikel 28"),
 * normalised as the headings write them ("§ 17", "Art 28"). */
#define MAX_CITES 4

static size_t find_citations(const char *q, char cites[MAX_CITES][32])
{
    size_t n = 0;
    for (const char *p = q; *p && n < MAX_CITES; p++) {
        const char *kind = NULL, *r = NULL;
        if ((unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xA7) {
            kind = "\xC2\xA7";
            r = p + 2;
        } else if ((p == q || p[-1] == ' ' || p[-1] == '(') &&
                   (strncasecmp(p, "art", 3) == 0)) {
            kind = "Art";
            r = p + 3;
            if (strncasecmp(r, "ikel", 4) == 0)
                r += 4;
            if (*r == '.')
                r++;
        }
        if (!kind)
            continue;
        while (*r == ' ')
            r++;
        size_t d = 0;
        while (r[d] >= '0' && r[d] <= '9' && d < 6)
            d++;
        if (!d)
            continue;
        size_t l = d + (r[d] >= 'a' && r[d] <= 'z' && !(r[d + 1] >= 'a' && r[d + 1] <= 'z'));
        snprintf(cites[n++], 32, "%s %.*s", kind, (int)l, r);
    }
    return n;
}

/* Does a heading path name the section (as a whole token)? */
static int heading_cites(const char *heading, const char *cite)
{
    size_t cl = strlen(cite);
    for (const char *p = strstr(heading, cite); p; p = strstr(p + 1, cite)) {
        char after = p[cl];
        int before_ok = p == heading || p[-1] == ' ';
        int after_ok = !((after >= '0' && after <= '9') || (after >= 'a' && after <= 'z') ||
                         (after >= 'A' && after <= 'Z'));
        if (before_ok && after_ok)
            return 1;
    }
    return 0;
}

/* A question asking what something is ("Was ist ...", "Was sind ...",
 * "Was bedeutet ...") is answered by a statute's definitions, which German
 * statutes put under "Begriff"/"Begriffsbestimmungen": search those too. */
static int definition_intent(rh_ksearcher *s, rh_kan *a, const char *q, terms *exp,
                             rh_error *err)
{
    static const char *const starts[] = {"was ist ", "was sind ", "was bedeutet ",
                                         "was versteht man unter ", "was heißt ",
                                         "was gilt als ", "was zählt als "};
    while (*q == ' ' || *q == '\t')
        q++;
    int hit = 0;
    for (size_t i = 0; i < sizeof starts / sizeof starts[0] && !hit; i++)
        hit = strncasecmp(q, starts[i], strlen(starts[i])) == 0;
    if (!hit)
        return RH_OK;
    static const char *const words[] = {"Begriff", "Begriffsbestimmungen"};
    for (size_t i = 0; i < 2; i++) {
        char t[RH_KAN_TERM_MAX + 1];
        size_t tl = rh_kan_term(a, words[i], strlen(words[i]), t, sizeof t);
        int64_t df = 0;
        int rc = kstore_term_docs(s->ks, t, &df, err);
        if (rc)
            return rc;
        if (df > 0) {
            size_t before = exp->n;
            terms_add(exp, t, tl, 0);
            if (exp->n > before)
                exp->df[before] = df;
        }
    }
    return RH_OK;
}

static int build_expr(const terms *l, char **out, rh_error *err)
{
    rh_buf b;
    rh_buf_init(&b, QUERY_MAX * 4);
    int rc = rh_buf_appends(&b, "");
    for (size_t i = 0; i < l->n && !rc; i++)
        rc = rh_buf_appendf(&b, "%s\"%s\"", i ? " OR " : "", l->t[i]);
    if (rc) {
        rh_buf_free(&b);
        return rh_error_set(err, rc, "the query is too long");
    }
    *out = rh_buf_take(&b, NULL);
    return *out ? RH_OK : rh_error_set(err, RH_ENOMEM, "out of memory");
}

static int make_exprs(rh_ksearcher *s, const char *query, const rh_ksearch_opts *o, char **m,
                      char **x, rh_error *err)
{
    *m = *x = NULL;
    size_t len = strlen(query);
    if (len > QUERY_MAX)
        return rh_error_set(err, RH_ELIMIT, "the query is longer than %d bytes", QUERY_MAX);
    terms *main = rh_calloc(1, sizeof *main), *exp = rh_calloc(1, sizeof *exp);
    int rc = RH_OK;
    if (!main || !exp) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    main->query = query;
    if (!(o->features & RH_KS_STEM)) {
        plain_words(query, len, main);
    } else {
        rh_kan *a = (o->features & RH_KS_COMPOUND) ? s->kan_compound : s->kan_stem;
        rh_kan_run(a, query, len, on_term, main);
        if ((rc = participles(s, a, main, err)))
            goto out;
        if (o->features & (RH_KS_SYNONYMS | RH_KS_LEGAL))
            if ((rc = expand(s, main, o, exp, err)))
                goto out;
        if ((o->features & RH_KS_LEGAL) && (rc = definition_intent(s, a, query, exp, err)))
            goto out;
    }
    if ((o->features & RH_KS_STEM) &&
        ((rc = drop_frequent(s, main, o->max_df, o->max_df_from, err)) ||
         (rc = drop_frequent(s, exp, o->max_df, o->max_df_from, err))))
        goto out;
    if ((rc = build_expr(main, m, err)) || (rc = build_expr(exp, x, err)))
        goto out;
out:
    if (rc) {
        rh_free(*m);
        rh_free(*x);
        *m = *x = NULL;
    }
    rh_free(main);
    rh_free(exp);
    return rc;
}

int rh_ksearch_explain(rh_ksearcher *s, const char *query, const rh_ksearch_opts *o,
                       char **main_expr, char **syn_expr, rh_error *err)
{
    return make_exprs(s, query, o, main_expr, syn_expr, err);
}

static int cmp_hit(const void *a, const void *b)
{
    const kstore_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

void rh_ksearch_hits_free(kstore_hit *hits, size_t n)
{
    for (size_t i = 0; hits && i < n; i++)
        kstore_hit_clear(&hits[i]);
    rh_free(hits);
}

int rh_ksearch(rh_ksearcher *s, int64_t coll, const char *query, const rh_ksearch_opts *o,
               kstore_hit **hits, size_t *n, rh_error *err)
{
    rh_ksearch_opts def;
    if (!o) {
        rh_ksearch_opts_default(&def);
        o = &def;
    }
    *hits = NULL;
    *n = 0;
    size_t k = o->k ? o->k : 10;
    if (k > 1000)
        k = 1000;
    char *m = NULL, *x = NULL;
    kstore_hit *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, cap = k * 20 < 200 ? 200 : k * 20;
    int rc = rh_ksearch_prepare(s, o->features, err);
    if (rc)
        return rc;
    if ((rc = make_exprs(s, query, o, &m, &x, err)))
        return rc;
    int index = wanted_alt(o->features) == ALT_NONE ? KSTORE_INDEX_MAIN : KSTORE_INDEX_ALT;
    double w[3] = {1, 1, 1};
    if (o->features & RH_KS_WEIGHTS) {
        w[0] = o->w_title;
        w[1] = o->w_heading;
        w[2] = o->w_body;
    }
    a = rh_calloc(cap, sizeof *a);
    b = rh_calloc(cap, sizeof *b);
    if (!a || !b) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    if (*m && (rc = kstore_search(s->ks, o->tenant, coll, index, m, w, a, cap, &na, err))) {
        if (index != KSTORE_INDEX_ALT)
            goto out;
        /* the alternative index was dropped by a change of documents */
        s->alt = ALT_NONE;
        if ((rc = rh_ksearch_prepare(s, o->features, err)) ||
            (rc = kstore_search(s->ks, o->tenant, coll, index, m, w, a, cap, &na, err)))
            goto out;
    }
    if (*x && (rc = kstore_search(s->ks, o->tenant, coll, index, x, w, b, cap, &nb, err)))
        goto out;
    /* merge: score = main + syn_weight * expansion */
    for (size_t j = 0; j < nb; j++) {
        double add = o->syn_weight * b[j].score;
        size_t i;
        for (i = 0; i < na; i++)
            if (a[i].chunk_id == b[j].chunk_id)
                break;
        if (i < na) {
            a[i].score += add;
        } else if (na < cap) {
            a[na] = b[j];
            a[na++].score = add;
        }
    }
    qsort(a, na, sizeof *a, cmp_hit);
    /* a cited section ("§ 17 BMG") goes before everything else */
    char cites[MAX_CITES][32];
    size_t nc = (o->features & RH_KS_STEM) ? find_citations(query, cites) : 0;
    if (nc && na) {
        double bonus = a[0].score;
        for (size_t i = 0; i < na; i++) {
            kstore_hit h = a[i];
            h.path = h.title = h.heading = h.text = NULL;
            if ((rc = kstore_chunk_get(s->ks, o->tenant, &h, err)))
                goto out;
            for (size_t c = 0; c < nc; c++)
                if (heading_cites(h.heading, cites[c])) {
                    a[i].score += bonus;
                    break;
                }
            kstore_hit_clear(&h);
        }
        qsort(a, na, sizeof *a, cmp_hit);
    }
    /* take the best k, with one passage per section (document + heading
     * path) unless all_chunks: a long § split into pieces would otherwise
     * fill several places with the same section */
    size_t taken = 0;
    for (size_t i = 0; i < na && taken < k; i++) {
        kstore_hit h = a[i];
        if ((rc = kstore_chunk_get(s->ks, o->tenant, &h, err))) {
            for (size_t j = 0; j < taken; j++)
                kstore_hit_clear(&a[j]);
            goto out;
        }
        int dup = 0;
        for (size_t j = 0; j < taken && !o->all_chunks && !dup; j++)
            dup = a[j].document_id == h.document_id && strcmp(a[j].heading, h.heading) == 0;
        if (dup) {
            kstore_hit_clear(&h);
            continue;
        }
        a[taken++] = h;
    }
    *hits = a;
    *n = taken;
    a = NULL;
out:
    rh_free(a);
    rh_free(b);
    rh_free(m);
    rh_free(x);
    return rc;
}
