/*
 * grounding.h - retrieval for the portal: passages from the collections a
 * user may read (the caller passes only those: the filter is the list of
 * collection ids itself, so nothing of another collection is ever read),
 * BM25 over each, optionally fused with dense retrieval by reciprocal rank
 * fusion, a relevance figure for the "nothing found" decision, and the
 * grounded prompt: numbered passages in a clearly delimited data block,
 * their text neutralised (chat-template control tokens and our own block
 * markers cannot appear in it), with the instruction to cite [n].
 */
#ifndef RH_KNOWLEDGE_GROUNDING_H
#define RH_KNOWLEDGE_GROUNDING_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "knowledge/embedder.h"
#include "knowledge/search.h"
#include "store/kstore.h"

/* The fixed answer when nothing relevant was found. */
#define RH_NOTHING_FOUND "In den ausgewählten Quellen habe ich dazu nichts gefunden."

typedef struct rh_kpassage {
    int n; /* 1-based number in the prompt */
    int64_t chunk_id, document_id, collection_id;
    char *title, *path, *heading, *text;
    int page_from, page_to;
    double score;     /* fused or BM25 score, higher is better */
    double relevance; /* share of the question's terms found in the passage, 0..1 */
} rh_kpassage;

typedef struct rh_kretrieve_opts {
    int64_t tenant;
    size_t k;             /* passages wanted (default 6) */
    rh_kembedder *emb;    /* NULL: BM25 only */
    int dense_only;       /* measurements: vectors alone */
    int bm25_only;        /* measurements: ignore emb */
} rh_kretrieve_opts;

/* Ranked passages of collections colls[0..n_colls) for query, best first,
 * numbered 1..*n. *best_rel: the highest relevance among them (0 if none). */
int rh_kretrieve(kstore *ks, rh_ksearcher *s, const int64_t *colls, size_t n_colls,
                 const char *query, const rh_kretrieve_opts *o, rh_kpassage **out, size_t *n,
                 double *best_rel, rh_error *err);
void rh_kpassages_free(rh_kpassage *p, size_t n);

/* Share (0..1) of the query's content terms (stemmed, stop words dropped)
 * that occur in text (stemmed, compound parts). */
double rh_krelevance(const char *query, const char *text);

/* Text with chat-template control sequences ("<|...|>", "[INST]", "</s>",
 * "<start_of_turn>", "<<SYS>>", ...) and the data block's markers made
 * harmless (rh_malloc'ed). */
char *rh_kneutralize(const char *text);

/* The system instruction for grounded answers (static German text). */
const char *rh_kground_instruction(void);
/* The user turn: the numbered passages in the data block, then the
 * question (rh_malloc'ed). */
char *rh_kground_user(const rh_kpassage *p, size_t n, const char *question);

#endif
