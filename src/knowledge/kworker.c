/*
 * kworker.c - the ingestion worker thread: persistent jobs, folder sync,
 * vectors (see kworker.h).
 */
#include "knowledge/kworker.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/kportal.h"

struct rh_kworker {
    rh_kworker_opts o;
    char *db_path;
    kstore *ks;
    pthread_t th;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop, wake, sync;
};

void rh_kworker_opts_default(rh_kworker_opts *o)
{
    memset(o, 0, sizeof *o);
    rh_ingest_opts_default(&o->ingest);
    o->ingest.tenant = 1;
    o->sync_interval = 60;
    o->max_attempts = 3;
}

int rh_kworker_recover(kstore *ks, const rh_kworker_opts *o, rh_error *err)
{
    int64_t rq = 0, failed = 0;
    int rc = kp_job_recover(ks, o->max_attempts > 0 ? o->max_attempts : 3, &rq, &failed, err);
    if (rc == RH_OK && (rq || failed))
        rh_info("knowledge: %lld interrupted ingestion job(s) queued again, %lld given up", (long long)rq,
                (long long)failed);
    return rc;
}

typedef struct outcome {
    int status;
    char msg[512];
    size_t chunks;
    int seen;
} outcome;

static void on_file(void *ctx, const char *path, int status, const char *msg, size_t n_chunks)
{
    outcome *oc = ctx;
    (void)path;
    /* one file per job: keep the first real outcome */
    if (oc->seen && oc->status != RH_INGEST_SKIPPED)
        return;
    oc->seen = 1;
    oc->status = status;
    oc->chunks = n_chunks;
    snprintf(oc->msg, sizeof oc->msg, "%s", msg ? msg : "");
}

static int run_job(kstore *ks, const rh_kworker_opts *o, const kp_job *j, rh_error *err)
{
    rh_ingest_opts io = o->ingest;
    io.tenant = j->tenant;
    outcome oc = {0};
    rh_ingest_summary sum;
    rh_error e;
    rh_error_clear(&e);
    int rc = RH_OK;
    const char *path = j->path;
    if (!strcmp(j->kind, "folder")) {
        io.prune = 1;
        rc = rh_ingest_paths(ks, j->collection_id, &path, 1, &io, NULL, NULL, &sum, &e);
        char msg[256];
        snprintf(msg, sizeof msg, "%zu neu/geändert, %zu unverändert, %zu Fehler, %zu entfernt", sum.ok,
                 sum.unchanged, sum.errors, sum.removed);
        return kp_job_finish(ks, j->id, rc ? "error" : "done", rc ? e.msg : msg, (int64_t)sum.chunks, err);
    }
    io.prune = 0;
    if (!strcmp(j->kind, "reindex") &&
        (rc = kp_document_forget_checksum(ks, j->tenant, j->collection_id, j->path, err)))
        return rc;
    rc = rh_ingest_paths(ks, j->collection_id, &path, 1, &io, on_file, &oc, &sum, &e);
    if (rc) /* the store itself failed: the job stays for a retry */
        return kp_job_finish(ks, j->id, "error", e.msg, 0, err);
    if (!oc.seen)
        return kp_job_finish(ks, j->id, "error", "Datei nicht gefunden", 0, err);
    int bad = oc.status == RH_INGEST_ERROR || oc.status == RH_INGEST_SKIPPED;
    if (oc.status == RH_INGEST_SKIPPED && !oc.msg[0])
        snprintf(oc.msg, sizeof oc.msg, "Dateiformat wird nicht unterstützt");
    return kp_job_finish(ks, j->id, bad ? "error" : "done",
                         bad ? oc.msg : oc.status == RH_INGEST_UNCHANGED ? "unverändert" : NULL,
                         (int64_t)oc.chunks, err);
}

int rh_kworker_embed(kstore *ks, const rh_kworker_opts *o, int64_t coll, rh_error *err)
{
    if (!o->emb)
        return RH_OK;
    for (;;) {
        int64_t *ids = NULL;
        char **texts = NULL;
        size_t n = 0;
        float *v = NULL;
        int dim = 0;
        int rc = kp_vector_missing(ks, o->ingest.tenant, coll, rh_kembedder_name(o->emb), 16, &ids, &texts, &n, err);
        if (rc || !n) {
            kp_texts_free(ids, texts, n);
            return rc;
        }
        rc = rh_kembed(o->emb, (const char *const *)texts, n, &v, &dim, err);
        for (size_t i = 0; rc == RH_OK && i < n; i++)
            rc = kp_vector_put(ks, ids[i], coll, rh_kembedder_name(o->emb), v + i * (size_t)dim, dim, err);
        rh_free(v);
        kp_texts_free(ids, texts, n);
        if (rc)
            return rc;
    }
}

int rh_kworker_run_pending(kstore *ks, const rh_kworker_opts *o, int *done, rh_error *err)
{
    int claims = 0;
    *done = 0;
    for (;;) {
        kp_job j;
        int rc = kp_job_claim(ks, &j, err);
        if (rc == RH_ENOTFOUND)
            return RH_OK;
        if (rc)
            return rc;
        if (o->die_after_claims && ++claims >= o->die_after_claims)
            _exit(9); /* tests: the process dies with this job "running" */
        if (j.attempts > (o->max_attempts > 0 ? o->max_attempts : 3))
            rc = kp_job_finish(ks, j.id, "error", "zu viele Versuche", 0, err);
        else
            rc = run_job(ks, o, &j, err);
        if (rc == RH_OK && o->emb) {
            rh_error e;
            if (rh_kworker_embed(ks, o, j.collection_id, &e))
                rh_warn("knowledge: vectors for collection %lld: %s", (long long)j.collection_id, e.msg);
        }
        kp_job_clear(&j);
        if (rc)
            return rc;
        (*done)++;
    }
}

int rh_kworker_sync_folders(kstore *ks, const rh_kworker_opts *o, rh_error *err)
{
    kp_collection *cs = NULL;
    size_t n = 0;
    int rc = kp_collection_list(ks, o->ingest.tenant, &cs, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && rc == RH_OK; i++) {
        rh_error e;
        /* vectors for chunks that have none (also collections filled by
         * `rathaus ingest` or before the model was configured) */
        if (o->emb && rh_kworker_embed(ks, o, cs[i].id, &e))
            rh_warn("knowledge: vectors: %s", e.msg);
        if (!cs[i].folder || !*cs[i].folder)
            continue;
        rh_ingest_opts io = o->ingest;
        io.prune = 1;
        rh_ingest_summary sum;
        rh_error_clear(&e);
        const char *p = cs[i].folder;
        int r = rh_ingest_paths(ks, cs[i].id, &p, 1, &io, NULL, NULL, &sum, &e);
        if (r)
            rh_warn("knowledge: sync of %s: %s", p, e.msg);
        else if (sum.ok || sum.removed || sum.errors)
            rh_info("knowledge: sync of '%s' (%s): %zu new/changed, %zu errors, %zu removed", cs[i].name, p,
                    sum.ok, sum.errors, sum.removed);
        if (o->emb && rh_kworker_embed(ks, o, cs[i].id, &e))
            rh_warn("knowledge: vectors: %s", e.msg);
    }
    kp_collection_list_free(cs, n);
    return rc;
}

static void *thread_main(void *arg)
{
    rh_kworker *w = arg;
    time_t next_sync = 0;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        if (w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        int do_sync = w->sync;
        w->sync = 0;
        w->wake = 0;
        pthread_mutex_unlock(&w->lock);
        rh_error e;
        rh_error_clear(&e);
        int done = 0;
        if (rh_kworker_run_pending(w->ks, &w->o, &done, &e))
            rh_warn("knowledge: ingestion jobs: %s", e.msg);
        time_t now = time(NULL);
        if (do_sync || (w->o.sync_interval > 0 && now >= next_sync)) {
            if (rh_kworker_sync_folders(w->ks, &w->o, &e))
                rh_warn("knowledge: folder sync: %s", e.msg);
            next_sync = time(NULL) + (w->o.sync_interval > 0 ? w->o.sync_interval : 3600);
        }
        pthread_mutex_lock(&w->lock);
        if (!w->stop && !w->wake && !w->sync) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            time_t wait = w->o.sync_interval > 0 ? next_sync - time(NULL) : 3600;
            ts.tv_sec += wait < 1 ? 1 : wait > 5 ? 5 : wait; /* look at the queue every 5 s */
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

int rh_kworker_start(const rh_kworker_opts *o, rh_kworker **out, rh_error *err)
{
    *out = NULL;
    rh_kworker *w = rh_calloc(1, sizeof *w);
    if (!w || !(w->db_path = rh_strdup(o->db_path))) {
        rh_free(w);
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    w->o = *o;
    w->o.db_path = w->db_path;
    int rc = kstore_open(w->db_path, &w->ks, err);
    if (rc == RH_OK)
        rc = rh_kworker_recover(w->ks, &w->o, err);
    if (rc) {
        kstore_close(w->ks);
        rh_free(w->db_path);
        rh_free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->th, NULL, thread_main, w)) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        kstore_close(w->ks);
        rh_free(w->db_path);
        rh_free(w);
        return rh_error_set(err, RH_EIO, "cannot start the ingestion thread");
    }
    *out = w;
    return RH_OK;
}

static void poke(rh_kworker *w, int sync)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->wake = 1;
    if (sync)
        w->sync = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void rh_kworker_wake(rh_kworker *w)
{
    poke(w, 0);
}

void rh_kworker_sync_now(rh_kworker *w)
{
    poke(w, 1);
}

void rh_kworker_stop(rh_kworker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    kstore_close(w->ks);
    rh_free(w->db_path);
    rh_free(w);
}
