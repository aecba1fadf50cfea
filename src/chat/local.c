/*
 * local.c - the backend that answers with rathaus' own inference engine
 * (src/engine/engine.h) from the GGUF files in models_dir, and the
 * combination of two backends (local first, then upstreams).
 *
 * Model files: every *.gguf in models_dir (the id is the file name without
 * .gguf). The folder is scanned again when it changed (its mtime), at the
 * latest every 30 s when models are listed, and when an unknown model is
 * asked for - so a file dropped in appears without a restart. Each file's
 * metadata gives quantization (general.file_type, else the type holding
 * most tensor bytes), training context and a memory estimate (file size +
 * KV cache of all slots).
 *
 * Loading: on first use, within model_memory_budget. If the new model does
 * not fit, idle loaded models are unloaded, least recently used first; if
 * it still does not fit, the request gets a clear error. A timer thread
 * unloads models without a request for model_idle_unload. Models in use
 * (busy > 0) are never unloaded. Entries of files that disappear are kept
 * (hidden) so pointers held by running requests stay valid.
 *
 * The engine's callback runs on its scheduler thread, so it only hands the
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
#include <unistd.h>

#include "chat/backend.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/gguf.h"
#include "engine/quant.h"

#define LOCAL_RESCAN_S 30.0
#define LOCAL_CTX_CAP 4096 /* the engine's default context cap (engine.h) */

typedef struct local_model {
    char id[128];
    char path[PATH_MAX];
    int64_t size;
    int64_t mtime_ns;
    int present;           /* the file is in the folder (last scan) */
    char quant[32];
    int64_t ctx_len;       /* training context from the metadata */
    int64_t mem;           /* estimated bytes when loaded */
    rh_engine *eng;
    int failed;
    int loading;
    int busy;              /* requests using eng */
    double last_used;      /* monotonic seconds */
    char error[RH_ERROR_MSG_MAX];
} local_model;

typedef struct local_be {
    backend base;
    pthread_mutex_t lock;
    pthread_cond_t loaded;
    local_model **models;  /* sorted by id; entries are never freed before destroy */
    size_t n;
    int n_slots, queue_max;
    char dir[PATH_MAX];
    int64_t budget;
    long idle_s;
    double last_scan;
    int64_t dir_mtime_ns;
    pthread_t timer;
    int timer_running;
    int stop;
    pthread_cond_t stop_cond;
} local_be;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* general.file_type numbers (the GGUF convention) and their names. */
static const char *ftype_name(uint32_t ft)
{
    static const char *const names[] = {
        [0] = "F32",     [1] = "F16",     [2] = "Q4_0",    [3] = "Q4_1",    [7] = "Q8_0",
        [8] = "Q5_0",    [9] = "Q5_1",    [10] = "Q2_K",   [11] = "Q3_K_S", [12] = "Q3_K_M",
        [13] = "Q3_K_L", [14] = "Q4_K_S", [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M",
        [18] = "Q6_K",   [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS",
        [23] = "IQ3_XXS", [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S", [27] = "IQ3_M",
        [28] = "IQ2_S",  [29] = "IQ2_M",  [30] = "IQ4_XS", [31] = "IQ1_M", [32] = "BF16",
    };
    ft &= 1023u; /* 1024: "guessed" flag */
    return ft < sizeof names / sizeof names[0] ? names[ft] : NULL;
}

static uint32_t meta_u32(const gguf_file *f, const char *arch, const char *key, uint32_t dflt)
{
    char k[192];
    uint32_t v = dflt;
    snprintf(k, sizeof k, "%s.%s", arch, key);
    if (gguf_get_u32(f, k, &v) != RH_OK)
        v = dflt;
    return v;
}

/* Quantization, context length and memory estimate from the file's header. */
static int read_meta(local_be *lb, local_model *m, rh_error *err)
{
    gguf_file *f = NULL;
    int rc = gguf_open(m->path, &f, err);
    if (rc != RH_OK)
        return rc;
    char arch[64] = "llama";
    gguf_str s;
    if (gguf_get_str(f, "general.architecture", &s) == RH_OK && s.len > 0 && s.len < sizeof arch) {
        memcpy(arch, s.ptr, s.len);
        arch[s.len] = '\0';
    }
    m->quant[0] = '\0';
    uint32_t ft = 0;
    const char *fn = gguf_get_u32(f, "general.file_type", &ft) == RH_OK ? ftype_name(ft) : NULL;
    if (fn) {
        snprintf(m->quant, sizeof m->quant, "%s", fn);
    } else {
        /* the type holding the most bytes among matrices */
        uint64_t bytes[RH_TYPE_COUNT] = {0};
        for (size_t i = 0; i < gguf_tensor_count(f); i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            if (t->n_dims >= 2 && t->type >= 0 && t->type < RH_TYPE_COUNT)
                bytes[t->type] += t->nbytes;
        }
        int best = -1;
        for (int t = 0; t < RH_TYPE_COUNT; t++)
            if (bytes[t] && (best < 0 || bytes[t] > bytes[best]))
                best = t;
        const rh_type_info *ti = best >= 0 ? rh_type_get(best) : NULL;
        if (ti && ti->name)
            snprintf(m->quant, sizeof m->quant, "%s", ti->name);
    }
    m->ctx_len = meta_u32(f, arch, "context_length", 0);
    /* KV cache: 2 bytes per value (F16), keys and values, every layer and slot */
    uint64_t n_layer = meta_u32(f, arch, "block_count", 0);
    uint64_t n_embd = meta_u32(f, arch, "embedding_length", 0);
    uint64_t n_head = meta_u32(f, arch, "attention.head_count", 1);
    uint64_t n_kv = meta_u32(f, arch, "attention.head_count_kv", (uint32_t)n_head);
    uint64_t hd = n_head ? n_embd / n_head : 0;
    uint64_t kd = meta_u32(f, arch, "attention.key_length", (uint32_t)hd);
    uint64_t vd = meta_u32(f, arch, "attention.value_length", (uint32_t)hd);
    uint64_t ctx = m->ctx_len > 0 && m->ctx_len < LOCAL_CTX_CAP ? (uint64_t)m->ctx_len : LOCAL_CTX_CAP;
    uint64_t slots = !strcmp(arch, "bert") ? 1 : (uint64_t)(lb->n_slots > 0 ? lb->n_slots : 4);
    uint64_t kv = n_layer * ctx * n_kv * (kd + vd) * 2 * slots;
    if (n_layer > 100000 || n_kv > 100000 || kd > 100000 || vd > 100000)
        kv = 0; /* nonsense metadata: the engine will refuse the file anyway */
    m->mem = m->size + (int64_t)kv;
    gguf_close(f);
    return RH_OK;
}

static local_model *find_model(local_be *lb, const char *id)
{
    for (size_t i = 0; id && i < lb->n; i++)
        if (lb->models[i]->present && !strcmp(lb->models[i]->id, id))
            return lb->models[i];
    return NULL;
}

static int cmp_model(const void *a, const void *b)
{
    return strcmp((*(local_model *const *)a)->id, (*(local_model *const *)b)->id);
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Scan models_dir (lock held). Unless `force`, only when the folder's
 * mtime changed or LOCAL_RESCAN_S passed. */
static void scan_dir(local_be *lb, int force)
{
    if (!lb->dir[0])
        return;
    double now = mono_now();
    struct stat dst;
    if (stat(lb->dir, &dst) != 0)
        return;
    if (!force && lb->last_scan > 0 && mtime_ns(&dst) == lb->dir_mtime_ns && now - lb->last_scan < LOCAL_RESCAN_S)
        return;
    lb->last_scan = now;
    lb->dir_mtime_ns = mtime_ns(&dst);
    for (size_t i = 0; i < lb->n; i++)
        lb->models[i]->present = 0;
    DIR *d = opendir(lb->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".gguf") || len - 5 >= 128)
            continue;
        char path[PATH_MAX], id[128];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", lb->dir, e->d_name) >= sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(id, sizeof id, "%.*s", (int)(len - 5), e->d_name);
        local_model *m = NULL;
        for (size_t i = 0; i < lb->n && !m; i++)
            if (!strcmp(lb->models[i]->id, id))
                m = lb->models[i];
        int changed = 0;
        if (!m) {
            local_model **nm = rh_realloc_array(lb->models, lb->n + 1, sizeof *nm);
            if (!nm)
                break;
            lb->models = nm;
            if (!(m = rh_calloc(1, sizeof *m)))
                break;
            nm[lb->n++] = m;
            snprintf(m->id, sizeof m->id, "%s", id);
            changed = 1;
        } else if (!m->eng && !m->loading && !m->busy &&
                   (m->size != (int64_t)st.st_size || m->mtime_ns != mtime_ns(&st))) {
            changed = 1; /* replaced or still being copied: read again */
        }
        m->present = 1;
        if (changed) {
            snprintf(m->path, sizeof m->path, "%s", path);
            m->size = (int64_t)st.st_size;
            m->mtime_ns = mtime_ns(&st);
            m->failed = 0;
            m->error[0] = '\0';
            rh_error me;
            rh_error_clear(&me);
            if (read_meta(lb, m, &me) != RH_OK) {
                m->failed = 1;
                m->mem = m->size;
                snprintf(m->error, sizeof m->error, "%s", me.msg);
            }
        }
    }
    if (d)
        closedir(d);
    if (lb->n > 1)
        qsort(lb->models, lb->n, sizeof *lb->models, cmp_model);
}

/* Take the engine of every idle model that should go (lock held); the
 * caller frees them after unlocking. */
static size_t collect_idle(local_be *lb, double now, rh_engine **victims, size_t cap)
{
    size_t nv = 0;
    for (size_t i = 0; i < lb->n && nv < cap; i++) {
        local_model *m = lb->models[i];
        if (m->eng && !m->busy && !m->loading && lb->idle_s > 0 && now - m->last_used >= (double)lb->idle_s) {
            rh_info("unloading model %s (no request for %ld s)", m->id, lb->idle_s);
            victims[nv++] = m->eng;
            m->eng = NULL;
        }
    }
    return nv;
}

static void free_engines(rh_engine **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        engine_free(v[i]);
}

int local_backend_unload_idle(backend *b)
{
    local_be *lb = (local_be *)b;
    rh_engine *v[64];
    pthread_mutex_lock(&lb->lock);
    size_t n = collect_idle(lb, mono_now(), v, 64);
    pthread_mutex_unlock(&lb->lock);
    free_engines(v, n);
    return (int)n;
}

static void *timer_main(void *p)
{
    local_be *lb = p;
    double tick = lb->idle_s >= 20 ? 5.0 : (double)lb->idle_s / 4.0;
    pthread_mutex_lock(&lb->lock);
    while (!lb->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = (long)(tick * 1e9);
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec += ns % 1000000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&lb->stop_cond, &lb->lock, &until);
        if (lb->stop)
            break;
        rh_engine *v[64];
        size_t n = collect_idle(lb, mono_now(), v, 64);
        if (n) {
            pthread_mutex_unlock(&lb->lock);
            free_engines(v, n);
            pthread_mutex_lock(&lb->lock);
        }
    }
    pthread_mutex_unlock(&lb->lock);
    return NULL;
}

static void fmt_mb(char *dst, size_t cap, int64_t bytes)
{
    snprintf(dst, cap, "%.0f MB", (double)bytes / (1024.0 * 1024.0));
}

/* The engine of `m`, loading it on first use, and one more user of it
 * (release with put_engine). The load runs without the lock held (it can
 * take seconds), so the model list stays responsive; other users of the
 * same model wait for it. */
static rh_engine *get_engine(local_be *lb, local_model *m, rh_error *err)
{
    rh_engine *victims[64];
    size_t nv = 0;
    pthread_mutex_lock(&lb->lock);
    while (m->loading)
        pthread_cond_wait(&lb->loaded, &lb->lock);
    if (!m->eng && !m->failed) {
        /* memory budget: unload idle models, least recently used first */
        int64_t used = 0;
        for (size_t i = 0; i < lb->n; i++)
            if (lb->models[i] != m && (lb->models[i]->eng || lb->models[i]->loading))
                used += lb->models[i]->mem;
        while (used + m->mem > lb->budget && nv < 64) {
            local_model *lru = NULL;
            for (size_t i = 0; i < lb->n; i++) {
                local_model *o = lb->models[i];
                if (o != m && o->eng && !o->busy && !o->loading && (!lru || o->last_used < lru->last_used))
                    lru = o;
            }
            if (!lru)
                break;
            rh_info("unloading model %s to make room for %s (model_memory_budget)", lru->id, m->id);
            victims[nv++] = lru->eng;
            lru->eng = NULL;
            used -= lru->mem;
        }
        if (used + m->mem > lb->budget) {
            char need[32], bud[32], inuse[32];
            fmt_mb(need, sizeof need, m->mem);
            fmt_mb(bud, sizeof bud, lb->budget);
            fmt_mb(inuse, sizeof inuse, used);
            if (m->mem > lb->budget)
                rh_error_set(err, RH_ELIMIT,
                             "Das Modell \"%s\" braucht etwa %s Speicher, der Speicherrahmen für Modelle "
                             "(model_memory_budget) ist %s. Bitte einen größeren Rahmen einstellen oder ein "
                             "kleineres Modell wählen.", m->id, need, bud);
            else
                rh_error_set(err, RH_EBUSY,
                             "Das Modell \"%s\" (etwa %s) passt gerade nicht in den Speicherrahmen für Modelle "
                             "(%s, davon %s durch Modelle belegt, die gerade antworten). Bitte in einer Minute "
                             "erneut versuchen oder ein anderes Modell wählen.", m->id, need, bud, inuse);
            pthread_mutex_unlock(&lb->lock);
            free_engines(victims, nv);
            return NULL;
        }
        m->loading = 1;
        pthread_mutex_unlock(&lb->lock);
        free_engines(victims, nv); /* free the memory before the new model takes it */
        nv = 0;
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
    if (eng) {
        m->busy++;
        m->last_used = mono_now();
    } else {
        rh_error_set(err, RH_EIO, "Das Modell \"%s\" konnte nicht geladen werden: %s", m->id, m->error);
    }
    pthread_mutex_unlock(&lb->lock);
    return eng;
}

static void put_engine(local_be *lb, local_model *m)
{
    pthread_mutex_lock(&lb->lock);
    m->busy--;
    m->last_used = mono_now();
    pthread_mutex_unlock(&lb->lock);
}

/* The model `id`, scanning the folder again when it is unknown. */
static local_model *lookup(local_be *lb, const char *id)
{
    pthread_mutex_lock(&lb->lock);
    local_model *m = find_model(lb, id);
    if (!m && lb->last_scan < mono_now() - 1.0) {
        scan_dir(lb, 1);
        m = find_model(lb, id);
    }
    pthread_mutex_unlock(&lb->lock);
    return m;
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
    local_model *m = lookup(lb, req->model);
    if (!m)
        return rh_error_set(err, RH_ENOTFOUND, "Das Modell \"%s\" ist nicht verfügbar.", req->model ? req->model : "");
    rh_engine *eng = get_engine(lb, m, err);
    if (!eng)
        return err->code ? err->code : RH_EIO;
    rh_chat_msg *msgs = NULL;
    if (!req->prompt && req->n_msgs) {
        msgs = rh_calloc(req->n_msgs, sizeof *msgs);
        if (!msgs) {
            put_engine(lb, m);
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        }
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
    put_engine(lb, m);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    return rc;
}

static int local_embed(backend *b, const char *model, const char *const *texts, size_t n, float **out, int *dim,
                       rh_error *err)
{
    local_be *lb = (local_be *)b;
    *out = NULL;
    *dim = 0;
    local_model *m = lookup(lb, model);
    if (!m)
        return rh_error_set(err, RH_ENOTFOUND, "Das Modell \"%s\" ist nicht verfügbar.", model ? model : "");
    rh_engine *eng = get_engine(lb, m, err);
    if (!eng)
        return err->code ? err->code : RH_EIO;
    int rc = RH_OK;
    rh_engine_info info;
    engine_info(eng, &info);
    if (info.n_embd <= 0 || n == 0) {
        rc = rh_error_set(err, RH_EUNSUPPORTED, "Das Modell \"%s\" liefert keine Embeddings.", m->id);
        goto out;
    }
    float *v = rh_malloc_array(n * (size_t)info.n_embd, sizeof *v);
    if (!v) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = engine_embed(eng, texts, n, true, v, err)) != RH_OK) {
        rh_free(v);
        goto out;
    }
    *out = v;
    *dim = info.n_embd;
out:
    put_engine(lb, m);
    return rc;
}

static int local_list(backend *b, backend_models *out, rh_error *err)
{
    local_be *lb = (local_be *)b;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&lb->lock);
    scan_dir(lb, 0);
    if (!lb->n) {
        pthread_mutex_unlock(&lb->lock);
        return RH_OK;
    }
    out->items = rh_calloc(lb->n, sizeof *out->items);
    if (!out->items) {
        pthread_mutex_unlock(&lb->lock);
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < lb->n; i++) {
        local_model *m = lb->models[i];
        if (!m->present)
            continue;
        backend_model *o = &out->items[out->n++];
        snprintf(o->id, sizeof o->id, "%s", m->id);
        snprintf(o->name, sizeof o->name, "%s", m->id);
        o->source = "local";
        o->size_bytes = m->size;
        o->memory_bytes = m->mem;
        o->context_length = m->ctx_len;
        snprintf(o->quantization, sizeof o->quantization, "%s", m->quant);
        o->available = !m->failed;
        if (m->eng && !m->loading) {
            rh_engine_info info;
            engine_info(m->eng, &info);
            o->loaded = 1;
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
    json_t *models = json_array(), *details = json_array();
    int healthy = 1;
    int64_t used = 0;
    double now = mono_now();
    char last[RH_ERROR_MSG_MAX + 160] = "";
    pthread_mutex_lock(&lb->lock);
    scan_dir(lb, 0);
    for (size_t i = 0; i < lb->n; i++) {
        local_model *m = lb->models[i];
        if (!m->present)
            continue;
        json_array_append_new(models, json_string(m->id));
        if (m->eng)
            used += m->mem;
        json_array_append_new(
            details, json_pack("{s:s, s:s?, s:I, s:I, s:I, s:b, s:i, s:I}", "id", m->id, "quantization",
                               m->quant[0] ? m->quant : NULL, "context_length", (json_int_t)m->ctx_len,
                               "size_bytes", (json_int_t)m->size, "memory_bytes", (json_int_t)m->mem, "loaded",
                               m->eng != NULL, "busy", m->busy, "idle_seconds",
                               (json_int_t)(m->eng ? now - m->last_used : 0)));
        if (m->failed) {
            healthy = 0;
            snprintf(last, sizeof last, "%s: %s", m->id, m->error);
        }
    }
    pthread_mutex_unlock(&lb->lock);
    return json_pack("[{s:s, s:s, s:b, s:s?, s:o, s:o, s:I, s:I, s:I}]", "name", "local", "url", lb->dir, "healthy",
                     healthy, "last_error", last[0] ? last : NULL, "models", models, "model_details", details,
                     "memory_budget", (json_int_t)lb->budget, "memory_used", (json_int_t)used,
                     "idle_unload_seconds", (json_int_t)lb->idle_s);
}

static void local_destroy(backend *b)
{
    local_be *lb = (local_be *)b;
    if (lb->timer_running) {
        pthread_mutex_lock(&lb->lock);
        lb->stop = 1;
        pthread_cond_broadcast(&lb->stop_cond);
        pthread_mutex_unlock(&lb->lock);
        pthread_join(lb->timer, NULL);
    }
    for (size_t i = 0; i < lb->n; i++) {
        engine_free(lb->models[i]->eng);
        rh_free(lb->models[i]);
    }
    rh_free(lb->models);
    pthread_mutex_destroy(&lb->lock);
    pthread_cond_destroy(&lb->loaded);
    pthread_cond_destroy(&lb->stop_cond);
    rh_free(lb);
}

static const backend_vtbl local_vtbl = {
    .list_models = local_list,
    .generate = local_generate,
    .status = local_status,
    .destroy = local_destroy,
    .embed = local_embed,
};

int local_backend_create(const rh_config *cfg, backend **out, rh_error *err)
{
    local_be *lb = rh_calloc(1, sizeof *lb);
    if (!lb)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    lb->base.vt = &local_vtbl;
    lb->base.impl = lb;
    lb->n_slots = cfg->workers;
    lb->queue_max = cfg->queue_max;
    lb->idle_s = cfg->model_idle_unload_s;
    lb->budget = cfg->model_memory_budget;
    if (lb->budget <= 0) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        int pct = cfg->model_memory_percent > 0 ? cfg->model_memory_percent : 50;
        lb->budget = pages > 0 && psz > 0 ? (int64_t)pages * psz / 100 * pct : 8LL << 30;
    }
    pthread_mutex_init(&lb->lock, NULL);
    pthread_cond_init(&lb->loaded, NULL);
    pthread_cond_init(&lb->stop_cond, NULL);
    snprintf(lb->dir, sizeof lb->dir, "%s", cfg->models_dir ? cfg->models_dir : "");
    pthread_mutex_lock(&lb->lock);
    scan_dir(lb, 1);
    pthread_mutex_unlock(&lb->lock);
    if (lb->idle_s > 0 && pthread_create(&lb->timer, NULL, timer_main, lb) == 0)
        lb->timer_running = 1;
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

static int combo_embed(backend *b, const char *model, const char *const *texts, size_t n, float **out, int *dim,
                       rh_error *err)
{
    combo_be *c = (combo_be *)b;
    int rc = RH_ENOTFOUND;
    if (c->first->vt->embed)
        rc = c->first->vt->embed(c->first, model, texts, n, out, dim, err);
    if (rc != RH_ENOTFOUND)
        return rc;
    rh_error_clear(err);
    if (c->second->vt->embed)
        return c->second->vt->embed(c->second, model, texts, n, out, dim, err);
    return rh_error_set(err, RH_ENOTFOUND, "Das Modell \"%s\" ist nicht verfügbar.", model ? model : "");
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
    .embed = combo_embed,
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
