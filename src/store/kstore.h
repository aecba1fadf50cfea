/*
 * kstore.h - the knowledge store: collections, documents, chunks and the
 * full-text index. ALL SQL of the knowledge subsystem is behind this
 * interface (kstore_sqlite.c), so another database can be added later.
 *
 * Every table carries tenant_id; every call takes the tenant. A kstore
 * handle owns its own database connection (a file path from the caller,
 * e.g. <data dir>/knowledge.db) and must be used by one thread at a time;
 * several processes may open the same file (WAL, busy timeout).
 *
 * Index: chunks are indexed by FTS5 with the German tokenizer "rathaus_de"
 * (columns title, heading, body); search takes an FTS5 MATCH expression of
 * already analysed terms (see knowledge/search.h, which builds it) and BM25
 * weights per column. An "alternative" index over the same chunks with
 * another tokenizer (e.g. plain unicode61) can be built for measurements.
 *
 * Strings in returned structs are owned by the struct (free with the
 * matching *_clear / *_free).
 */
#ifndef RH_STORE_KSTORE_H
#define RH_STORE_KSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct kstore kstore;

typedef struct kstore_doc {
    int64_t id, collection_id;
    char *title, *path, *type;
    char *sha256; /* hex */
    char *status; /* "ok" or "error" */
    char *error;  /* message when status is "error" (else NULL) */
    int64_t size, mtime, ingested_at, n_chunks;
} kstore_doc;

typedef struct kstore_chunk_in {
    const char *heading; /* heading path, e.g. "VwVfG › Teil III › § 35 ..." */
    int page_from, page_to; /* 0 when the format has no pages */
    const char *text;
} kstore_chunk_in;

typedef struct kstore_hit {
    int64_t chunk_id, document_id;
    double score; /* higher is better */
    /* filled by kstore_chunk_get: */
    char *path, *title, *heading, *text;
    int page_from, page_to, ordinal;
} kstore_hit;

typedef struct kstore_stats {
    int64_t documents, documents_error, chunks, text_bytes;
} kstore_stats;

enum {
    KSTORE_INDEX_MAIN = 0, /* tokenize='rathaus_de' (stem + compound) */
    KSTORE_INDEX_ALT = 1,  /* built by kstore_alt_index_build */
};

/* Open or create the store at path (":memory:" for tests). */
int kstore_open(const char *path, kstore **out, rh_error *err);
void kstore_close(kstore *ks);

/* Collections (unique name per tenant). */
int kstore_collection_ensure(kstore *ks, int64_t tenant, const char *name, const char *description,
                             int64_t *id, rh_error *err);
int kstore_collection_find(kstore *ks, int64_t tenant, const char *name, int64_t *id,
                           rh_error *err); /* RH_ENOTFOUND if absent */

/* Documents, addressed by (collection, path). */
int kstore_document_get(kstore *ks, int64_t tenant, int64_t coll, const char *path,
                        kstore_doc *out, rh_error *err); /* RH_ENOTFOUND if absent */
void kstore_doc_clear(kstore_doc *d);
/* Insert or replace the document meta->path with its chunks, in one
 * transaction (status "ok"); on any failure nothing changes. */
int kstore_document_put(kstore *ks, int64_t tenant, int64_t coll, const kstore_doc *meta,
                        const kstore_chunk_in *chunks, size_t n, int64_t *doc_id, rh_error *err);
/* Record a failed ingestion of meta->path: a new document gets status
 * "error" and no chunks; an existing one keeps its chunks (the index is not
 * harmed) and gets status "error" with the message. */
int kstore_document_fail(kstore *ks, int64_t tenant, int64_t coll, const kstore_doc *meta,
                         const char *msg, rh_error *err);
int kstore_document_delete(kstore *ks, int64_t tenant, int64_t doc_id, rh_error *err);
int kstore_document_list(kstore *ks, int64_t tenant, int64_t coll, kstore_doc **docs, size_t *n,
                         rh_error *err);
void kstore_doc_list_free(kstore_doc *docs, size_t n);

int kstore_stats_get(kstore *ks, int64_t tenant, int64_t coll, kstore_stats *st, rh_error *err);

/* (Re)build the alternative index over all chunks with the tokenizer
 * spec: "unicode61", "rathaus_de stem" or "rathaus_de stem compound". It
 * is dropped whenever documents change. */
int kstore_alt_index_build(kstore *ks, const char *tokenize, rh_error *err);

/* Ranked chunks of collection coll matching the FTS5 expression `match`,
 * BM25 with column weights w[0] title, w[1] heading, w[2] body; at most
 * cap hits into hits[] (only chunk_id, document_id, score), count in *n. */
int kstore_search(kstore *ks, int64_t tenant, int64_t coll, int index, const char *match,
                  const double w[3], kstore_hit *hits, size_t cap, size_t *n, rh_error *err);
/* Fill path/title/heading/text/pages of a hit from its chunk_id. */
int kstore_chunk_get(kstore *ks, int64_t tenant, kstore_hit *h, rh_error *err);
void kstore_hit_clear(kstore_hit *h);

/* Number of chunks in the main index (all tenants and collections). */
int kstore_chunk_count(kstore *ks, int64_t *n, rh_error *err);

/* Number of chunks (any collection) whose main index holds `term`. */
int kstore_term_docs(kstore *ks, const char *term, int64_t *ndocs, rh_error *err);

/* Internal: the connection, for the other SQL file of the knowledge store
 * (kstore_portal.c: collections' rights, jobs, vectors; see kportal.h). */
struct sqlite3;
struct sqlite3 *kstore__db(kstore *ks);

#endif
