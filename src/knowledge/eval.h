/*
 * eval.h - measuring retrieval quality: questions in JSONL
 * ({"q": "...", "doc": "bmg.md", "section": "§ 17"}) are searched, and a
 * result is a hit when it is a chunk of the expected document (file name)
 * whose heading path contains the expected section as a whole token
 * ("§ 17" matches "§ 17 Anmeldung", not "§ 170" or "§ 17a").
 * Reports recall@5, recall@10 and MRR@10.
 */
#ifndef RH_KNOWLEDGE_EVAL_H
#define RH_KNOWLEDGE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "knowledge/search.h"

typedef struct rh_keval_result {
    size_t n, hit1, hit5, hit10;
    double mrr10;
    double seconds;
} rh_keval_result;

/* Per question: rank of the first hit (1-based, 0 = none in the top 10)
 * and the top results. */
typedef void (*rh_keval_report_fn)(void *ctx, const char *q, const char *doc,
                                   const char *section, int rank, const kstore_hit *top,
                                   size_t n_top);

int rh_keval_run(rh_ksearcher *s, int64_t coll, const char *jsonl_path,
                 const rh_ksearch_opts *o, rh_keval_report_fn report, void *ctx,
                 rh_keval_result *res, rh_error *err);

/* Is a chunk (document path, heading path) a hit for (doc, section)? */
int rh_keval_is_hit(const char *path, const char *heading, const char *doc, const char *section);

/* Default knowledge database: $RATHAUS_DATA_DIR/knowledge.db, else
 * data/knowledge.db (beside the portal's data/rathaus.db). */
const char *rh_knowledge_default_db(char *buf, size_t cap);

#endif
