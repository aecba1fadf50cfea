/*
 * ingest.h - bringing files and folders into a knowledge collection.
 *
 * For each file: size limit, read, SHA-256; a file whose checksum is the
 * stored one is "unchanged" and not touched; otherwise the format's
 * extractor (extract.h, by extension) gives blocks, the chunker chunks, and
 * kstore_document_put replaces the document's chunks in one transaction.
 * A bad file (unreadable, too large, not text, empty, too slow) gets its
 * error recorded in the store and reported; it never stops the batch and
 * never removes what an earlier good version put into the index.
 * Folders are walked recursively (sorted, hidden entries and symbolic links
 * skipped, files of unknown formats skipped); documents of the collection
 * below a walked folder whose file is gone are removed ("removed").
 */
#ifndef RH_KNOWLEDGE_INGEST_H
#define RH_KNOWLEDGE_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "knowledge/chunker.h"
#include "store/kstore.h"

enum {
    RH_INGEST_OK = 0,
    RH_INGEST_UNCHANGED,
    RH_INGEST_ERROR,
    RH_INGEST_SKIPPED,
    RH_INGEST_REMOVED,
};

typedef struct rh_ingest_opts {
    int64_t tenant;
    size_t max_file_bytes;   /* default 64 MiB */
    size_t max_text_bytes;   /* extracted text per file, default 32 MiB */
    double max_file_seconds; /* default 60 */
    rh_chunk_opts chunk;
    int prune; /* remove documents of vanished files below walked folders (default 1) */
} rh_ingest_opts;

typedef struct rh_ingest_summary {
    size_t ok, unchanged, errors, skipped, removed;
    size_t chunks;       /* chunks written */
    uint64_t bytes;      /* bytes of files read and (re)indexed */
    double seconds;
} rh_ingest_summary;

/* Called once per file with its outcome (msg: the reason for errors and
 * skips, else NULL). */
typedef void (*rh_ingest_report_fn)(void *ctx, const char *path, int status, const char *msg,
                                    size_t n_chunks);

void rh_ingest_opts_default(rh_ingest_opts *o);

/* Ingest files and folders into collection coll. Returns RH_OK unless the
 * store itself failed (per-file problems are only counted and reported). */
int rh_ingest_paths(kstore *ks, int64_t coll, const char *const *paths, size_t n,
                    const rh_ingest_opts *o, rh_ingest_report_fn report, void *ctx,
                    rh_ingest_summary *sum, rh_error *err);

/* Lower-case hex SHA-256 of data into hex[65]. */
void rh_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
