/*
 * local.c - the backend that answers with rathaus' own inference engine
 * (src/engine/engine.h) from the GGUF files in models_dir, and the
 * combination of two backends (local first, then upstreams).
 *
 * Model files are found at start (every *.gguf in models_dir; the id is the file
 * name without .gguf) and loaded on first use; a loaded engine stays. The
 * engine's callback runs on its scheduler thread, so it only hands the
 * text on and signals the waiting worker thread, which polls the cancel
 * flag every 100 ms and calls engine_cancel.
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chat/backend.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/log.h"
#include "engine/engine.h"

typedef struct local_model {
    char id[128];
    char path[PATH_MAX];
    int64_t size;
    rh_engine *eng;
    int failed;
    int loading;
    char error[RH_ERROR_MSG_MAX];
} local_model;

typedef struct local_be {
    backend base;
    pthread_mutex_t lock;
    pthread_cond_t loaded;
    local_model *models;
    size_t n;
    int n_slots, queue_max;
    char dir[PATH_MAX];
} local_be;

static local_model *find_model(local_be *lb, const char *id)
{
    for (size_t i = 0; id && i < lb->n; i++)
        if (!strcmp(lb->models[i].id, id))
            return &lb->models[i];
    return NULL;
}

/* The engine of `m`, loading it on first use. The load runs without the
 * lock held (it can take seconds), so the model list stays responsive;
 * other users of the same model wait for it. */
static rh_engine *get_engine(local_be *lb, local_model *m, rh_error *err)
{
    pthread_mutex_lock(&lb->lock);
    while (m->loading)
        pthread_cond_wait(&lb->loaded, &lb->lock);
    if (!m->eng && !m->failed) {
        m->loading = 1;
        pthread_mutex_unlock(&lb->lock);
        rh_engine_opts o;
        engine_opts_default(&o);
        o.n_slots = lb->n_slots;
        o.queue_max = lb->queue_max;
        rh_error e;
        rh_error_clear(&e);
        rh_engine *eng = NULL;
        rh_info("loading model %s", m->path);
        int rc = engine_new(m->path, &o, &eng, &e);
        pthread_mutex_lock(&lb->lock);
        if (rc != RH_OK) {
            m->failed = 1;
            snprintf(m->error, sizeof m->error, "%s", e.msg);
            rh_errorf("model %s could not be loaded: %s", m->path, e.msg);
        } else {
            m->eng = eng;
        }
        m->loading = 0;
        pthread_cond_broadcast(&lb->loaded);
    }
    rh_engine *eng = m->eng;
    if (!eng)
        rh_error_set(err, RH_EIO, "Das Modell \"%s\" konnte nicht geladen werden: %s", m->id, m->error);
    pthread_mutex_unlock(&lb->lock);
    return eng;
}

typedef struct wait_ctx {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int stop;
    backend_delta_fn cb;
    void *ud;
    rh_finish finish;
    int32_t n_prompt, n_gen;
    int error;
    char error_msg[RH_ERROR_MSG_MAX];
} wait_ctx;

static void on_event(void *user, uint64_t id, const char *text, size_t len, const rh_engine_result *res)
{
    wait_ctx *w = user;
    (void)id;
    if (text) {
        if (!w->stop && w->cb(w->ud, text, len))
            w->stop = 1; /* seen by the waiting thread, which cancels */
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->finish = res->finish;
    w->n_prompt = res->n_prompt;
    w->n_gen = res->n_gen;
    w->error = res->error;
    snprintf(w->error_msg, sizeof w->error_msg, "%s", res->error_msg ? res->error_msg : "");
    w->done = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static int local_generate(backend *b, const backend_req *req, backend_delta_fn cb, void *ud,
                          const atomic_int *cancel, backend_result *res, rh_error *err)
{
    local_be *lb = (local_be *)b;
    memset(res, 0, sizeof *res);
    local_model *m = find_model(lb, req->model);
    if (!m)
        return rh_error_set(err, RH_ENOTFOUND, "Das Modell \"%s\" ist nicht verfügbar.", req->model ? req->model : "");
    rh_engine *eng = get_engine(lb, m, err);
    if (!eng)
        return RH_EIO;
    rh_chat_msg *msgs = NULL;
    if (!req->prompt && req->n_msgs) {
        msgs = rh_calloc(req->n_msgs, sizeof *msgs);
        if (!msgs)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        for (size_t i = 0; i < req->n_msgs; i++) {
            const char *r = req->msgs[i].role;
            msgs[i].role = !strcmp(r, "system") ? RH_ROLE_SYSTEM : !strcmp(r, "assistant") ? RH_ROLE_ASSISTANT : RH_ROLE_USER;
            msgs[i].content = req->msgs[i].content;
        }
    }
    wait_ctx w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    w.cb = cb;
    w.ud = ud;
    rh_engine_request r;
    engine_request_init(&r);
    r.messages = msgs;
    r.n_messages = msgs ? req->n_msgs : 0;
    r.prompt = req->prompt;
    if (req->max_tokens > 0)
        r.sampling.max_tokens = req->max_tokens;
    if (req->temperature >= 0)
        r.sampling.temperature = (float)req->temperature;
    r.on_event = on_event;
    r.user = &w;
    uint64_t id = 0;
    int rc = engine_submit(eng, &r, &id, err);
    rh_free(msgs);
    if (rc != RH_OK)
        goto out;
    int cancelled = 0;
    pthread_mutex_lock(&w.lock);
    while (!w.done) {
        if (!cancelled && (atomic_load(cancel) || w.stop)) {
            cancelled = 1;
            pthread_mutex_unlock(&w.lock);
            engine_cancel(eng, id);
            pthread_mutex_lock(&w.lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w.cond, &w.lock, &until);
    }
    pthread_mutex_unlock(&w.lock);
    res->prompt_tokens = w.n_prompt;
    res->completion_tokens = w.n_gen;
    snprintf(res->served_by, sizeof res->served_by, "local");
    snprintf(res->finish_reason, sizeof res->finish_reason, "%s", engine_finish_name(w.finish));
    if (w.finish == RH_FINISH_CANCELLED)
        rc = RH_ECANCELED;
    else if (w.finish == RH_FINISH_ERROR)
        rc = rh_error_set(err, RH_EIO, "Die Antwort konnte nicht erzeugt werden: %s", w.error_msg);
out:
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    return rc;
}

static int local_list(backend *b, backend_models *out, rh_error *err)
{
    local_be *lb = (local_be *)b;
    memset(out, 0, sizeof *out);
    if (!lb->n)
        return RH_OK;
    out->items = rh_calloc(lb->n, sizeof *out->items);
    if (!out->items)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    pthread_mutex_lock(&lb->lock);
    for (size_t i = 0; i < lb->n; i++) {
        local_model *m = &lb->models[i];
        backend_model *o = &out->items[out->n++];
        snprintf(o->id, sizeof o->id, "%s", m->id);
        snprintf(o->name, sizeof o->name, "%s", m->id);
        o->source = "local";
        o->size_bytes = m->size;
        o->available = !m->failed;
        if (m->eng && !m->loading) {
            rh_engine_info info;
            engine_info(m->eng, &info);
            o->context_length = info.n_ctx;
            if (info.name && *info.name)
                snprintf(o->name, sizeof o->name, "%s", info.name);
            o->available = info.can_generate;
        }
    }
    pthread_mutex_unlock(&lb->lock);
    return RH_OK;
}

static json_t *local_status(backend *b)
{
    local_be *lb = (local_be *)b;
    json_t *models = json_array();
    int healthy = 1;
    char last[RH_ERROR_MSG_MAX + 160] = "";
    pthread_mutex_lock(&lb->lock);
    for (size_t i = 0; i < lb->n; i++) {
        json_array_append_new(models, json_string(lb->models[i].id));
        if (lb->models[i].failed) {
            healthy = 0;
            snprintf(last, sizeof last, "%s: %s", lb->models[i].id, lb->models[i].error);
        }
    }
    pthread_mutex_unlock(&lb->lock);
    return json_pack("[{s:s, s:s, s:b, s:s?, s:o}]", "name", "local", "url", lb->dir, "healthy", healthy,
                     "last_error", last[0] ? last : NULL, "models", models);
}

static void local_destroy(backend *b)
{
    local_be *lb = (local_be *)b;
    for (size_t i = 0; i < lb->n; i++)
        engine_free(lb->models[i].eng);
    rh_free(lb->models);
    pthread_mutex_destroy(&lb->lock);
    pthread_cond_destroy(&lb->loaded);
    rh_free(lb);
}

static const backend_vtbl local_vtbl = {
    .list_models = local_list,
    .generate = local_generate,
    .status = local_status,
    .destroy = local_destroy,
};

static int cmp_model(const void *a, const void *b)
{
    return strcmp(((const local_model *)a)->id, ((const local_model *)b)->id);
}

int local_backend_create(const rh_config *cfg, backend **out, rh_error *err)
{
    local_be *lb = rh_calloc(1, sizeof *lb);
    if (!lb)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    lb->base.vt = &local_vtbl;
    lb->base.impl = lb;
    lb->n_slots = cfg->workers;
    lb->queue_max = cfg->queue_max;
    pthread_mutex_init(&lb->lock, NULL);
    pthread_cond_init(&lb->loaded, NULL);
    snprintf(lb->dir, sizeof lb->dir, "%s", cfg->models_dir ? cfg->models_dir : "");
    DIR *d = cfg->models_dir ? opendir(cfg->models_dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".gguf") || len - 5 >= 128)
            continue;
        local_model *nm = rh_realloc_array(lb->models, lb->n + 1, sizeof *nm);
        if (!nm)
            break;
        lb->models = nm;
        local_model *m = &nm[lb->n];
        memset(m, 0, sizeof *m);
        snprintf(m->id, sizeof m->id, "%.*s", (int)(len - 5), e->d_name);
        if ((size_t)snprintf(m->path, sizeof m->path, "%s/%s", cfg->models_dir, e->d_name) >= sizeof m->path)
            continue;
        struct stat st;
        if (stat(m->path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        m->size = (int64_t)st.st_size;
        lb->n++;
    }
    if (d)
        closedir(d);
    if (lb->n > 1)
        qsort(lb->models, lb->n, sizeof *lb->models, cmp_model);
    *out = &lb->base;
    return RH_OK;
}

/* ------------------------------------------------------------ combination */

typedef struct combo_be {
    backend base;
    backend *first, *second;
} combo_be;

static int combo_list(backend *b, backend_models *out, rh_error *err)
{
    combo_be *cb = (combo_be *)b;
    backend_models a, c;
    int rc = cb->first->vt->list_models(cb->first, &a, err);
    if (rc)
        return rc;
    if ((rc = cb->second->vt->list_models(cb->second, &c, err))) {
        backend_models_free(&a);
        return rc;
    }
    out->n = 0;
    out->items = rh_calloc(a.n + c.n + 1, sizeof *out->items);
    if (!out->items) {
        backend_models_free(&a);
        backend_models_free(&c);
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < a.n; i++)
        out->items[out->n++] = a.items[i];
    for (size_t i = 0; i < c.n; i++) {
        int dup = 0;
        for (size_t k = 0; k < a.n; k++)
            dup |= !strcmp(a.items[k].id, c.items[i].id);
        if (!dup)
            out->items[out->n++] = c.items[i];
    }
    backend_models_free(&a);
    backend_models_free(&c);
    return RH_OK;
}

static int combo_generate(backend *b, const backend_req *req, backend_delta_fn cb, void *ud,
                          const atomic_int *cancel, backend_result *res, rh_error *err)
{
    combo_be *c = (combo_be *)b;
    int rc = c->first->vt->generate(c->first, req, cb, ud, cancel, res, err);
    if (rc != RH_ENOTFOUND)
        return rc;
    rh_error_clear(err);
    return c->second->vt->generate(c->second, req, cb, ud, cancel, res, err);
}

static json_t *combo_status(backend *b)
{
    combo_be *c = (combo_be *)b;
    json_t *a = c->first->vt->status ? c->first->vt->status(c->first) : NULL;
    json_t *s = c->second->vt->status ? c->second->vt->status(c->second) : NULL;
    if (!a)
        return s;
    if (s)
        json_array_extend(a, s);
    json_decref(s);
    return a;
}

static void combo_destroy(backend *b)
{
    combo_be *c = (combo_be *)b;
    backend_destroy(c->first);
    backend_destroy(c->second);
    rh_free(c);
}

static const backend_vtbl combo_vtbl = {
    .list_models = combo_list,
    .generate = combo_generate,
    .status = combo_status,
    .destroy = combo_destroy,
};

int backend_combine(backend *first, backend *second, backend **out, rh_error *err)
{
    combo_be *c = rh_calloc(1, sizeof *c);
    if (!c)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    c->base.vt = &combo_vtbl;
    c->base.impl = c;
    c->first = first;
    c->second = second;
    *out = &c->base;
    return RH_OK;
}

int backend_create_default(const rh_config *cfg, backend **out, rh_error *err)
{
    backend *local = NULL, *up = NULL;
    int rc;
    if ((rc = local_backend_create(cfg, &local, err)))
        return rc;
    if ((rc = upstream_backend_create(cfg, &up, err))) {
        backend_destroy(local);
        return rc;
    }
    if ((rc = backend_combine(local, up, out, err))) {
        backend_destroy(local);
        backend_destroy(up);
    }
    return rc;
}
