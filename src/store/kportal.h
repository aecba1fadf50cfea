/*
 * kportal.h - the portal's part of the knowledge store: who may use a
 * collection (owner/writer/reader groups), the folder a collection is bound
 * to, the persistent ingestion job queue (survives restarts) and dense
 * vectors per chunk. The SQL is in kstore_portal.c, on the kstore's
 * connection (one thread at a time per kstore handle, like kstore.h).
 */
#ifndef RH_STORE_KPORTAL_H
#define RH_STORE_KPORTAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "store/kstore.h"

/* Rights on a collection, ordered. */
enum { KP_NONE = 0, KP_READ = 1, KP_WRITE = 2, KP_OWN = 3 };

typedef struct kp_ids {
    int64_t *v;
    size_t n;
} kp_ids;

typedef struct kp_collection {
    int64_t id;
    char *name, *description;
    char *folder; /* bound folder or NULL */
    int64_t created_at, created_by;
    int64_t documents, documents_error, chunks;
    kp_ids owners, writers, readers; /* group ids */
} kp_collection;

int kp_collection_list(kstore *ks, int64_t tenant, kp_collection **out, size_t *n, rh_error *err);
int kp_collection_get(kstore *ks, int64_t tenant, int64_t id, kp_collection *out,
                      rh_error *err); /* RH_ENOTFOUND */
/* RH_EEXIST when the name is taken. */
int kp_collection_create(kstore *ks, int64_t tenant, const char *name, const char *description,
                         int64_t created_by, int64_t *id, rh_error *err);
/* NULL leaves a field as it is. */
int kp_collection_update(kstore *ks, int64_t tenant, int64_t id, const char *name,
                         const char *description, rh_error *err);
/* Replace the group lists (NULL leaves a list as it is). */
int kp_collection_set_access(kstore *ks, int64_t tenant, int64_t id, const kp_ids *owners,
                             const kp_ids *writers, const kp_ids *readers, rh_error *err);
/* folder NULL or "" unbinds. */
int kp_collection_set_folder(kstore *ks, int64_t tenant, int64_t id, const char *folder,
                             rh_error *err);
int kp_collection_delete(kstore *ks, int64_t tenant, int64_t id, rh_error *err);
void kp_collection_clear(kp_collection *c);
void kp_collection_list_free(kp_collection *v, size_t n);

/* The right a user with these groups has on c (admins own everything). */
int kp_right(const kp_collection *c, const int64_t *groups, size_t n_groups, int admin);

/* A document by id (any collection of the tenant). */
int kp_document_by_id(kstore *ks, int64_t tenant, int64_t id, kstore_doc *out, rh_error *err);

/* Make the next ingestion of (coll, path) re-extract even when the file is
 * unchanged (re-index); the indexed chunks stay until it succeeds. */
int kp_document_forget_checksum(kstore *ks, int64_t tenant, int64_t coll, const char *path,
                                rh_error *err);

/* ---- ingestion jobs ---- */
typedef struct kp_job {
    int64_t id, tenant, collection_id;
    char *kind;   /* "file" (path: a file), "reindex" (path: a document path), "folder" */
    char *path, *name;
    char *status; /* "queued", "running", "done", "error" */
    char *message;
    int64_t n_chunks, attempts, created_at, finished_at;
} kp_job;

int kp_job_add(kstore *ks, int64_t tenant, int64_t coll, const char *kind, const char *path,
               const char *name, int64_t *id, rh_error *err);
/* Take the oldest queued job (status -> running, attempts + 1);
 * RH_ENOTFOUND when there is none. */
int kp_job_claim(kstore *ks, kp_job *out, rh_error *err);
int kp_job_finish(kstore *ks, int64_t id, const char *status, const char *message,
                  int64_t n_chunks, rh_error *err);
/* At start-up: jobs left "running" by a process that died are queued again,
 * or, after max_attempts, marked "error" (interrupted) so they are reported. */
int kp_job_recover(kstore *ks, int max_attempts, int64_t *requeued, int64_t *failed,
                   rh_error *err);
/* Newest first; coll 0 = all; tenant-scoped. */
int kp_job_list(kstore *ks, int64_t tenant, int64_t coll, size_t limit, kp_job **out, size_t *n,
                rh_error *err);
int kp_job_get(kstore *ks, int64_t tenant, int64_t id, kp_job *out, rh_error *err);
void kp_job_clear(kp_job *j);
void kp_job_list_free(kp_job *v, size_t n);

/* ---- dense vectors (one per chunk and model; normalized float32) ---- */
int kp_vector_put(kstore *ks, int64_t chunk_id, int64_t coll, const char *model, const float *v,
                  int dim, rh_error *err);
/* Chunks of coll that have no vector for model yet (at most limit): ids and
 * texts (heading path + body), rh_malloc'ed; free with kp_texts_free. */
int kp_vector_missing(kstore *ks, int64_t tenant, int64_t coll, const char *model, size_t limit,
                      int64_t **ids, char ***texts, size_t *n, rh_error *err);
void kp_texts_free(int64_t *ids, char **texts, size_t n);
/* Brute-force cosine (dot product of normalized vectors) over coll's
 * vectors: best cap into hits (chunk_id, document_id, score). */
int kp_vector_search(kstore *ks, int64_t tenant, int64_t coll, const char *model, const float *q,
                     int dim, kstore_hit *hits, size_t cap, size_t *n, rh_error *err);

#endif
