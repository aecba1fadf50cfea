/*
 * kworker.h - the portal's ingestion worker: one background thread with its
 * own knowledge-store connection that works off the persistent job queue
 * (kportal.h: uploads, re-index requests, folder syncs), synchronises the
 * folders bound to collections every sync_interval seconds (new, changed
 * and deleted files), and computes dense vectors for new chunks when an
 * embedding model is configured. Request threads only queue jobs.
 *
 * Restart safety: the queue lives in the database; at start, a job left
 * "running" by a process that died is queued again (or, after
 * max_attempts, reported as interrupted). A bad file ends its own job with
 * a per-file error; the batch goes on.
 */
#ifndef RH_KNOWLEDGE_KWORKER_H
#define RH_KNOWLEDGE_KWORKER_H

#include "core/error.h"
#include "knowledge/embedder.h"
#include "knowledge/ingest.h"
#include "store/kstore.h"

typedef struct rh_kworker_opts {
    const char *db_path;
    int sync_interval;     /* seconds between folder syncs (<= 0: never) */
    rh_ingest_opts ingest; /* tenant, limits, chunk sizes */
    rh_kembedder *emb;     /* NULL: no vectors */
    int max_attempts;      /* default 3 */
    int die_after_claims;  /* tests only: _exit(9) right after claiming this
                              many jobs (0 = never): a crash mid-batch */
} rh_kworker_opts;

typedef struct rh_kworker rh_kworker;

void rh_kworker_opts_default(rh_kworker_opts *o);
/* Open its own store, recover interrupted jobs, start the thread. */
int rh_kworker_start(const rh_kworker_opts *o, rh_kworker **out, rh_error *err);
/* A job was queued: look now. */
void rh_kworker_wake(rh_kworker *w);
/* Synchronise bound folders now (next loop). */
void rh_kworker_sync_now(rh_kworker *w);
/* Stop after the current file; the rest stays queued for the next start. */
void rh_kworker_stop(rh_kworker *w);

/* Synchronous parts (the thread's loop, also for tests and the CLI). */
int rh_kworker_recover(kstore *ks, const rh_kworker_opts *o, rh_error *err);
/* Work off queued jobs; *done gets how many ended. */
int rh_kworker_run_pending(kstore *ks, const rh_kworker_opts *o, int *done, rh_error *err);
/* Ingest every bound folder (with pruning of vanished files). */
int rh_kworker_sync_folders(kstore *ks, const rh_kworker_opts *o, rh_error *err);
/* Vectors for chunks of collection coll that have none. */
int rh_kworker_embed(kstore *ks, const rh_kworker_opts *o, int64_t coll, rh_error *err);

#endif
