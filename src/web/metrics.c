/*
 * metrics.c - Prometheus figures for GET /metrics: requests by route and
 * status, a latency histogram, open streams, queue length, tokens.
 */
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "web/web_int.h"

#define METRIC_SLOTS 256

static const double buckets_ms[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
#define N_BUCKETS (sizeof buckets_ms / sizeof buckets_ms[0])

typedef struct metric_slot {
    const char *route; /* static strings (route patterns) */
    unsigned status;
    uint64_t count;
} metric_slot;

struct web_metrics {
    pthread_mutex_t lock;
    metric_slot slots[METRIC_SLOTS];
    size_t n;
    uint64_t bucket[N_BUCKETS + 1];
    double sum_ms;
    uint64_t total;
};

web_metrics *web_metrics_create(void)
{
    web_metrics *m = rh_calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void web_metrics_free(web_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    rh_free(m);
}

void web_metrics_request(web_metrics *m, const char *route, unsigned status, double ms)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    size_t i;
    for (i = 0; i < m->n; i++)
        if (m->slots[i].status == status && !strcmp(m->slots[i].route, route))
            break;
    if (i == m->n && m->n < METRIC_SLOTS)
        m->slots[m->n++] = (metric_slot){route, status, 0};
    if (i < m->n)
        m->slots[i].count++;
    size_t b = 0;
    while (b < N_BUCKETS && ms > buckets_ms[b])
        b++;
    m->bucket[b]++;
    m->sum_ms += ms;
    m->total++;
    pthread_mutex_unlock(&m->lock);
}

int web_metrics_render(web_server *w, rh_buf *out)
{
    web_metrics *m = w->metrics;
    rh_buf_appends(out, "# HELP rathaus_http_requests_total HTTP requests by route and status.\n"
                        "# TYPE rathaus_http_requests_total counter\n");
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++)
        rh_buf_appendf(out, "rathaus_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n", m->slots[i].route,
                       m->slots[i].status, (unsigned long long)m->slots[i].count);
    rh_buf_appends(out, "# HELP rathaus_http_request_duration_seconds Time to answer a request.\n"
                        "# TYPE rathaus_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t b = 0; b < N_BUCKETS; b++) {
        cum += m->bucket[b];
        rh_buf_appendf(out, "rathaus_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets_ms[b] / 1000.0,
                       (unsigned long long)cum);
    }
    cum += m->bucket[N_BUCKETS];
    rh_buf_appendf(out, "rathaus_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    rh_buf_appendf(out, "rathaus_http_request_duration_seconds_sum %.6f\n", m->sum_ms / 1000.0);
    rh_buf_appendf(out, "rathaus_http_request_duration_seconds_count %llu\n", (unsigned long long)m->total);
    pthread_mutex_unlock(&m->lock);
    int64_t tp = 0, tc = 0;
    chat_tokens(w->chat, &tp, &tc);
    rh_buf_appendf(out,
                   "# HELP rathaus_streams_active Open answer streams.\n# TYPE rathaus_streams_active gauge\n"
                   "rathaus_streams_active %d\n"
                   "# HELP rathaus_queue_length Generations waiting or running.\n# TYPE rathaus_queue_length gauge\n"
                   "rathaus_queue_length %d\n"
                   "# HELP rathaus_queue_max Queue capacity.\n# TYPE rathaus_queue_max gauge\n"
                   "rathaus_queue_max %d\n"
                   "# HELP rathaus_generations_running Generations running now.\n"
                   "# TYPE rathaus_generations_running gauge\nrathaus_generations_running %d\n"
                   "# HELP rathaus_tokens_total Tokens processed since start.\n# TYPE rathaus_tokens_total counter\n"
                   "rathaus_tokens_total{kind=\"prompt\"} %lld\nrathaus_tokens_total{kind=\"completion\"} %lld\n",
                   atomic_load(&w->streams), chat_queue_length(w->chat), chat_queue_max(w->chat),
                   chat_running(w->chat), (long long)tp, (long long)tc);
    return RH_OK;
}
