/*
 * search.h - answering a clerk's question with ranked passages.
 *
 * The question is analysed like the index (folding, umlaut spellings,
 * stemming, compound parts), stop words are dropped, and the remaining
 * terms are OR-ed for FTS5 BM25 (a question is long: AND would find
 * nothing). Optionally each term is expanded with OpenThesaurus synonyms
 * that occur in the index (and with the everyday -> statute table); the
 * expansion runs as a second query whose BM25 score counts with a lower
 * weight. Column weights favour title and heading over the body.
 *
 * Features can be switched off one by one to measure their gain (the
 * eval-retrieval modes): with no feature at all ("plain") the question's
 * words go unchanged to an alternative index built with SQLite's own
 * unicode61 tokenizer.
 */
#ifndef RH_KNOWLEDGE_SEARCH_H
#define RH_KNOWLEDGE_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "store/kstore.h"

enum {
    RH_KS_STEM = 1u,     /* German analysis + stemming + query stop words */
    RH_KS_COMPOUND = 2u, /* compound parts (index and query) */
    RH_KS_SYNONYMS = 4u, /* OpenThesaurus expansion */
    RH_KS_WEIGHTS = 8u,  /* title/heading weighted over body */
    RH_KS_LEGAL = 16u,   /* everyday -> statute word table */
};
#define RH_KS_FULL (RH_KS_STEM | RH_KS_COMPOUND | RH_KS_SYNONYMS | RH_KS_WEIGHTS | RH_KS_LEGAL)

typedef struct rh_ksearch_opts {
    int64_t tenant;
    unsigned features;
    size_t k;             /* results wanted (default 10, at most 1000) */
    double w_title, w_heading, w_body; /* used with RH_KS_WEIGHTS */
    double syn_weight;    /* weight of the expansion query's score */
    size_t syn_per_term;  /* synonyms per query term */
    double syn_max_df;    /* expand only nouns found in less than this share of
                             all chunks (at least 3): synonyms help where the
                             collection does not use the asker's word
                             (default 0.01; 0 = every noun) */
    double max_df;        /* drop query terms found in more than this share of
                             all chunks (0 = keep all; they add little to BM25
                             but cost the most time) */
    int all_chunks;       /* 1: several chunks of one section may be listed
                             (default 0: the best chunk per section) */
    size_t max_df_from;   /* ... only in indexes of at least this many chunks
                             (default 20000: small indexes are fast anyway) */
} rh_ksearch_opts;

typedef struct rh_ksearcher rh_ksearcher;

void rh_ksearch_opts_default(rh_ksearch_opts *o);

/* Parse a mode: "plain", "stem", "stem+compound", "stem+compound+synonyms",
 * "full", or any '+'-joined list of stem, compound, synonyms, weights,
 * legal. */
int rh_ksearch_parse_mode(const char *mode, unsigned *features, rh_error *err);
/* The mode name of a feature set (static string, e.g. "stem+compound"). */
const char *rh_ksearch_mode_name(unsigned features, char *buf, size_t cap);

/* A searcher over ks (ks must outlive it; one thread at a time). */
int rh_ksearcher_new(kstore *ks, rh_ksearcher **out, rh_error *err);
void rh_ksearcher_free(rh_ksearcher *s);

/* Make sure the index the features need exists (builds the alternative
 * index for "plain" or "stem" without compounds; it is dropped again when
 * documents change). */
int rh_ksearch_prepare(rh_ksearcher *s, unsigned features, rh_error *err);

/* Search collection coll; *hits (rh_malloc'ed, filled by
 * kstore_chunk_get) holds *n results, best first. */
int rh_ksearch(rh_ksearcher *s, int64_t coll, const char *query, const rh_ksearch_opts *o,
               kstore_hit **hits, size_t *n, rh_error *err);
void rh_ksearch_hits_free(kstore_hit *hits, size_t n);

/* The FTS5 expressions the query becomes (main and expansion; "" when
 * empty) for --explain; rh_malloc'ed. */
int rh_ksearch_explain(rh_ksearcher *s, const char *query, const rh_ksearch_opts *o,
                       char **main_expr, char **syn_expr, rh_error *err);

#endif
