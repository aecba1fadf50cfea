/*
 * chat.c - the generation service (see chat.h): bounded queue, worker
 * threads, per-generation text buffers, cancellation registry.
 *
 * Worker threads are started on demand, up to `workers`: CHAT_WORKERS_MIN
 * at creation, another one whenever more generations wait than workers
 * are idle. A worker that finds no work while CHAT_IDLE_MAX others are
 * idle, or that was idle for CHAT_WORKER_IDLE_S, ends (down to the
 * minimum): its allocator caches (glibc's per-thread tcache) go back to
 * the heap, so a server does not keep hundreds of threads and their
 * cached memory after a peak (with 256 long-lived workers the RSS grew by
 * about 1.2 MB per load round).
 */
#include "chat/chat.h"

#include <malloc.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "knowledge/cite.h"
#include "core/log.h"

#define GEN_TEXT_MAX (8u * 1024 * 1024)
#define CHAT_WORKERS_MIN 2
#define CHAT_WORKER_IDLE_S 20
#define CHAT_IDLE_MAX 4 /* idle workers kept beyond that are ended at once */

enum { WORKER_NONE = 0, WORKER_RUNNING = 1, WORKER_EXITED = 2 };

struct chat_gen {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int refs;
    atomic_int cancel;
    int state;
    rh_buf text;
    int rc;
    backend_result res;
    rh_error err;
    /* owned copy of the request */
    char *model;
    char *prompt;
    backend_msg *msgs;
    size_t n_msgs;
    int max_tokens;
    double temperature;
    int64_t user_id, conv_id;
    chat_done_fn done;
    void *done_ud;
    int cite_max;
    rh_cite_filter cite;
    chat_gen *next_queue; /* waiting queue */
    chat_gen *next_all;   /* registry of unfinished generations */
    chat_service *svc;
};

struct chat_service {
    backend *be;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    chat_gen *head, *tail; /* waiting */
    chat_gen *all;         /* waiting + running */
    int inflight;          /* reserved + waiting + running */
    int running;
    int queue_max;
    int stop;
    int max_workers;
    int alive;             /* worker threads running */
    int idle;              /* of them waiting for work */
    int queued;            /* generations waiting for a worker */
    int starting;          /* workers started that have not yet looked at the queue */
    pthread_t *workers;    /* max_workers slots */
    int *wstate;           /* WORKER_* per slot */
    struct chat_warg *wargs;
    int64_t tok_prompt, tok_completion;
};

typedef struct chat_warg {
    chat_service *s;
    int slot;
} chat_warg;

static void gen_free(chat_gen *g)
{
    for (size_t i = 0; i < g->n_msgs; i++) {
        rh_free((char *)g->msgs[i].role);
        rh_free((char *)g->msgs[i].content);
    }
    rh_free(g->msgs);
    rh_free(g->model);
    rh_free(g->prompt);
    rh_buf_free(&g->text);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
    rh_free(g);
}

void chat_gen_unref(chat_gen *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        gen_free(g);
}

void chat_gen_cancel(chat_gen *g)
{
    if (!g)
        return;
    atomic_store(&g->cancel, 1);
    pthread_mutex_lock(&g->lock);
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static int on_delta(void *ud, const char *text, size_t len)
{
    chat_gen *g = ud;
    pthread_mutex_lock(&g->lock);
    int rc = g->cite_max > 0 ? rh_cite_feed(&g->cite, text, len, &g->text)
                             : rh_buf_append(&g->text, text, len);
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    if (rc != RH_OK)
        return 1; /* answer too long for the buffer: stop */
    return atomic_load(&g->cancel);
}

static void unregister(chat_service *s, chat_gen *g)
{
    for (chat_gen **p = &s->all; *p; p = &(*p)->next_all)
        if (*p == g) {
            *p = g->next_all;
            break;
        }
}

static void run_one(chat_service *s, chat_gen *g)
{
    backend_req req = {.model = g->model, .msgs = g->msgs, .n_msgs = g->n_msgs,
                       .prompt = g->prompt, .max_tokens = g->max_tokens,
                       .temperature = g->temperature};
    backend_result res;
    rh_error err;
    memset(&res, 0, sizeof res);
    rh_error_clear(&err);
    int rc;
    if (atomic_load(&g->cancel)) {
        rc = RH_ECANCELED;
    } else {
        pthread_mutex_lock(&g->lock);
        g->state = CHAT_GEN_RUNNING;
        pthread_mutex_unlock(&g->lock);
        rc = s->be->vt->generate(s->be, &req, on_delta, g, &g->cancel, &res, &err);
    }
    if (rc == RH_ECANCELED || (rc == RH_OK && atomic_load(&g->cancel)))
        snprintf(res.finish_reason, sizeof res.finish_reason, "cancelled");
    else if (rc != RH_OK)
        snprintf(res.finish_reason, sizeof res.finish_reason, "error");
    else if (!res.finish_reason[0])
        snprintf(res.finish_reason, sizeof res.finish_reason, "stop");
    if (rc == RH_ECANCELED)
        rc = RH_OK; /* a stop is a normal end */
    if (g->cite_max > 0) {
        pthread_mutex_lock(&g->lock);
        rh_cite_flush(&g->cite, &g->text);
        pthread_mutex_unlock(&g->lock);
    }
    if (g->done)
        g->done(g->done_ud, g->text.data ? g->text.data : "", g->text.len, rc, &res, &err);
    /* leave the registry and the queue count before readers see DONE, so
     * that a client reacting to the end can start the next answer at once */
    pthread_mutex_lock(&s->lock);
    s->tok_prompt += res.prompt_tokens;
    s->tok_completion += res.completion_tokens;
    s->running--;
    s->inflight--;
    unregister(s, g);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&g->lock);
    g->rc = rc;
    g->res = res;
    g->err = err;
    g->state = CHAT_GEN_DONE;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void *worker_main(void *arg)
{
    chat_warg *wa = arg;
    chat_service *s = wa->s;
    int first = 1;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        if (first) {
            s->starting--;
            first = 0;
        }
        int timed_out = 0;
        while (!s->head && !s->stop) {
            if ((timed_out || s->idle >= CHAT_IDLE_MAX) && s->alive > CHAT_WORKERS_MIN) {
                /* idle long enough: end this thread (joined by the next
                 * start of a worker in this slot, or at destroy) */
                s->alive--;
                s->wstate[wa->slot] = WORKER_EXITED;
                int last = s->running == 0 && !s->head;
                pthread_mutex_unlock(&s->lock);
                if (last)
                    malloc_trim(0); /* after a peak: give the freed memory back */
                return NULL;
            }
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += CHAT_WORKER_IDLE_S;
            s->idle++;
            timed_out = pthread_cond_timedwait(&s->wake, &s->lock, &until) != 0;
            s->idle--;
        }
        if (!s->head && s->stop) {
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        chat_gen *g = s->head;
        s->head = g->next_queue;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        s->running++;
        if (s->stop)
            atomic_store(&g->cancel, 1);
        pthread_mutex_unlock(&s->lock);

        run_one(s, g);
        chat_gen_unref(g);
    }
}

/* Start workers while more generations wait than workers are idle (lock
 * held). Returns RH_OK if at least one worker is alive afterwards. */
static int spawn_workers(chat_service *s)
{
    while (!s->stop && s->alive < s->max_workers &&
           (s->alive < CHAT_WORKERS_MIN || s->queued > s->idle + s->starting)) {
        int slot = -1;
        for (int i = 0; i < s->max_workers && slot < 0; i++)
            if (s->wstate[i] != WORKER_RUNNING)
                slot = i;
        if (slot < 0)
            break;
        if (s->wstate[slot] == WORKER_EXITED)
            pthread_join(s->workers[slot], NULL); /* it has left the lock for good */
        s->wstate[slot] = WORKER_NONE;
        s->wargs[slot].s = s;
        s->wargs[slot].slot = slot;
        if (pthread_create(&s->workers[slot], NULL, worker_main, &s->wargs[slot]) != 0) {
            rh_warn("cannot start a generation worker thread");
            break;
        }
        s->wstate[slot] = WORKER_RUNNING;
        s->alive++;
        s->starting++; /* will take a waiting generation: counts as idle */
    }
    return s->alive > 0 ? RH_OK : RH_EINTERNAL;
}

int chat_service_create(backend *be, int workers, int queue_max, chat_service **out, rh_error *err)
{
    chat_service *s = rh_calloc(1, sizeof *s);
    if (!s)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    s->be = be;
    s->queue_max = queue_max > 0 ? queue_max : 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (workers < 1)
        workers = 1;
    s->max_workers = workers;
    s->workers = rh_calloc((size_t)workers, sizeof *s->workers);
    s->wstate = rh_calloc((size_t)workers, sizeof *s->wstate);
    s->wargs = rh_calloc((size_t)workers, sizeof *s->wargs);
    if (!s->workers || !s->wstate || !s->wargs) {
        chat_service_destroy(s);
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&s->lock);
    int rc = spawn_workers(s);
    pthread_mutex_unlock(&s->lock);
    if (rc != RH_OK) {
        chat_service_destroy(s);
        return rh_error_set(err, RH_EINTERNAL, "cannot start generation worker threads");
    }
    *out = s;
    return RH_OK;
}

void chat_service_destroy(chat_service *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    for (chat_gen *g = s->all; g; g = g->next_all)
        chat_gen_cancel(g);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    /* after stop no worker is started; slots only go RUNNING -> EXITED */
    for (int i = 0; s->wstate && i < s->max_workers; i++)
        if (s->wstate[i] != WORKER_NONE)
            pthread_join(s->workers[i], NULL);
    rh_free(s->workers);
    rh_free(s->wstate);
    rh_free(s->wargs);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    rh_free(s);
}

backend *chat_backend(chat_service *s) { return s->be; }

int chat_reserve(chat_service *s)
{
    int rc = RH_OK;
    pthread_mutex_lock(&s->lock);
    if (s->stop || s->inflight >= s->queue_max)
        rc = RH_EBUSY;
    else
        s->inflight++;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void chat_unreserve(chat_service *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->inflight > 0)
        s->inflight--;
    pthread_mutex_unlock(&s->lock);
}

static char *dup_or_null(const char *v, int *oom)
{
    if (!v)
        return NULL;
    char *d = rh_strdup(v);
    if (!d)
        *oom = 1;
    return d;
}

int chat_submit(chat_service *s, const chat_job *job, chat_gen **out)
{
    int oom = 0;
    chat_gen *g = rh_calloc(1, sizeof *g);
    if (!g) {
        chat_unreserve(s);
        return RH_ENOMEM;
    }
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    atomic_init(&g->refs, 2);
    atomic_init(&g->cancel, 0);
    rh_buf_init(&g->text, GEN_TEXT_MAX);
    g->svc = s;
    g->model = dup_or_null(job->req.model ? job->req.model : "", &oom);
    g->prompt = dup_or_null(job->req.prompt, &oom);
    g->max_tokens = job->req.max_tokens;
    g->temperature = job->req.temperature;
    g->user_id = job->user_id;
    g->conv_id = job->conv_id;
    g->done = job->done;
    g->done_ud = job->done_ud;
    g->cite_max = job->cite_max;
    rh_cite_init(&g->cite, job->cite_max);
    if (job->req.n_msgs) {
        g->msgs = rh_calloc(job->req.n_msgs, sizeof *g->msgs);
        if (!g->msgs)
            oom = 1;
        else
            g->n_msgs = job->req.n_msgs;
        for (size_t i = 0; g->msgs && i < job->req.n_msgs; i++) {
            g->msgs[i].role = dup_or_null(job->req.msgs[i].role ? job->req.msgs[i].role : "user", &oom);
            g->msgs[i].content = dup_or_null(job->req.msgs[i].content ? job->req.msgs[i].content : "", &oom);
        }
    }
    if (oom) {
        gen_free(g);
        chat_unreserve(s);
        return RH_ENOMEM;
    }
    pthread_mutex_lock(&s->lock);
    if (s->stop) {
        pthread_mutex_unlock(&s->lock);
        gen_free(g);
        chat_unreserve(s);
        return RH_EBUSY;
    }
    if (job->conv_id) {
        for (chat_gen *o = s->all; o; o = o->next_all)
            if (o->conv_id == job->conv_id) {
                pthread_mutex_unlock(&s->lock);
                gen_free(g);
                chat_unreserve(s);
                return RH_EBUSY;
            }
    }
    g->next_all = s->all;
    s->all = g;
    if (s->tail)
        s->tail->next_queue = g;
    else
        s->head = g;
    s->tail = g;
    s->queued++;
    pthread_cond_signal(&s->wake);
    spawn_workers(s);
    pthread_mutex_unlock(&s->lock);
    *out = g;
    return RH_OK;
}

int chat_gen_poll(chat_gen *g, size_t *offset, rh_buf *out, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g->lock);
    while (g->text.len <= *offset && g->state != CHAT_GEN_DONE && timeout_ms > 0) {
        if (pthread_cond_timedwait(&g->cond, &g->lock, &until) != 0)
            break;
    }
    if (g->text.len > *offset) {
        if (rh_buf_append(out, g->text.data + *offset, g->text.len - *offset) == RH_OK)
            *offset = g->text.len;
    }
    int st = g->state;
    /* report DONE only once all text has been handed out */
    if (st == CHAT_GEN_DONE && g->text.len > *offset)
        st = CHAT_GEN_RUNNING;
    pthread_mutex_unlock(&g->lock);
    return st;
}

int chat_gen_result(chat_gen *g, backend_result *res, rh_error *err)
{
    pthread_mutex_lock(&g->lock);
    int rc = g->rc;
    if (res)
        *res = g->res;
    if (err)
        *err = g->err;
    pthread_mutex_unlock(&g->lock);
    return rc;
}

int chat_cancel_conv(chat_service *s, int64_t conv_id)
{
    int n = 0;
    pthread_mutex_lock(&s->lock);
    for (chat_gen *g = s->all; g; g = g->next_all)
        if (g->conv_id == conv_id) {
            chat_gen_cancel(g);
            n++;
        }
    pthread_mutex_unlock(&s->lock);
    return n;
}

int chat_cancel_user(chat_service *s, int64_t user_id)
{
    int n = 0;
    pthread_mutex_lock(&s->lock);
    for (chat_gen *g = s->all; g; g = g->next_all)
        if (g->user_id == user_id) {
            chat_gen_cancel(g);
            n++;
        }
    pthread_mutex_unlock(&s->lock);
    return n;
}

int chat_conv_busy(chat_service *s, int64_t conv_id)
{
    int busy = 0;
    pthread_mutex_lock(&s->lock);
    for (chat_gen *g = s->all; g; g = g->next_all)
        if (g->conv_id == conv_id)
            busy = 1;
    pthread_mutex_unlock(&s->lock);
    return busy;
}

int chat_queue_length(chat_service *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->inflight;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int chat_queue_max(chat_service *s) { return s->queue_max; }

int chat_running(chat_service *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->running;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void chat_tokens(chat_service *s, int64_t *prompt, int64_t *completion)
{
    pthread_mutex_lock(&s->lock);
    *prompt = s->tok_prompt;
    *completion = s->tok_completion;
    pthread_mutex_unlock(&s->lock);
}

void backend_models_free(backend_models *m)
{
    rh_free(m->items);
    m->items = NULL;
    m->n = 0;
}
