/*
 * sampler.c - token sampling (penalties, top-k, top-p, min-p, temperature),
 * the per-sequence random generator, and the stop-string filter.
 * See sampler.h for the order of operations and the cost model.
 */
#include "engine/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

/* ---- parameters ----------------------------------------------------------- */

void rh_sampling_default(rh_sampling *p)
{
    memset(p, 0, sizeof *p);
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->frequency_penalty = 0.0f;
    p->presence_penalty = 0.0f;
    p->seed = RH_SEED_RANDOM;
    p->max_tokens = 0;
    p->n_stop = 0;
}

static bool in_range(float v, float lo, float hi) { return v >= lo && v <= hi; } /* false for NaN */

int rh_sampling_validate(const rh_sampling *p, rh_error *err)
{
    if (!p)
        return rh_error_set(err, RH_EINVAL, "sampling parameters missing");
    if (!in_range(p->temperature, -1.0f, 100.0f))
        return rh_error_set(err, RH_EINVAL, "temperature must be between 0 and 100");
    if (p->top_k < 0)
        return rh_error_set(err, RH_EINVAL, "top_k must not be negative");
    if (!in_range(p->top_p, 0.0f, 1.0f))
        return rh_error_set(err, RH_EINVAL, "top_p must be between 0 and 1");
    if (!in_range(p->min_p, 0.0f, 1.0f))
        return rh_error_set(err, RH_EINVAL, "min_p must be between 0 and 1");
    if (!in_range(p->repeat_penalty, 0.01f, 100.0f))
        return rh_error_set(err, RH_EINVAL, "repeat_penalty must be between 0.01 and 100");
    if (p->repeat_last_n < 0 || p->repeat_last_n > RH_PENALTY_WINDOW_MAX)
        return rh_error_set(err, RH_EINVAL, "repeat_last_n must be between 0 and %d",
                            RH_PENALTY_WINDOW_MAX);
    if (!in_range(p->frequency_penalty, -100.0f, 100.0f))
        return rh_error_set(err, RH_EINVAL, "frequency_penalty must be between -100 and 100");
    if (!in_range(p->presence_penalty, -100.0f, 100.0f))
        return rh_error_set(err, RH_EINVAL, "presence_penalty must be between -100 and 100");
    if (p->max_tokens < 0)
        return rh_error_set(err, RH_EINVAL, "max_tokens must not be negative");
    if (p->n_stop < 0 || p->n_stop > RH_MAX_STOP)
        return rh_error_set(err, RH_EINVAL, "at most %d stop strings are allowed", RH_MAX_STOP);
    for (int i = 0; i < p->n_stop; i++) {
        if (!p->stop[i])
            return rh_error_set(err, RH_EINVAL, "stop string %d is missing", i + 1);
        if (strnlen(p->stop[i], RH_STOP_MAX_LEN + 1) > RH_STOP_MAX_LEN)
            return rh_error_set(err, RH_EINVAL, "stop string %d is longer than %d bytes", i + 1,
                                RH_STOP_MAX_LEN);
    }
    return RH_OK;
}

/* ---- candidate lists ------------------------------------------------------ */

/* Strict total order: higher logit first, ties by lower id. */
static inline bool cand_better(const rh_cand *a, const rh_cand *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cand_cmp(const void *pa, const void *pb)
{
    const rh_cand *a = pa, *b = pb;
    if (cand_better(a, b))
        return -1;
    if (cand_better(b, a))
        return 1;
    return 0;
}

static inline void cand_swap(rh_cand *a, rh_cand *b)
{
    rh_cand t = *a;
    *a = *b;
    *b = t;
}

/* Rearrange a[0..n) so that a[0..m) are the m best candidates (in no
 * particular order). Quickselect with a median-of-three pivot. */
static void select_top(rh_cand *a, size_t n, size_t m)
{
    size_t lo = 0, hi = n;
    if (m == 0 || m >= n)
        return;
    while (hi - lo > 16) {
        size_t mid = lo + (hi - lo) / 2, last = hi - 1;
        /* median of a[lo], a[mid], a[last] into a[last] as the pivot */
        if (cand_better(&a[mid], &a[lo]))
            cand_swap(&a[mid], &a[lo]);
        if (cand_better(&a[last], &a[lo]))
            cand_swap(&a[last], &a[lo]);
        if (cand_better(&a[mid], &a[last]))
            cand_swap(&a[mid], &a[last]);
        rh_cand pivot = a[last];
        size_t store = lo;
        for (size_t i = lo; i < last; i++)
            if (cand_better(&a[i], &pivot))
                cand_swap(&a[i], &a[store++]);
        cand_swap(&a[store], &a[last]);
        /* a[lo..store) better than the pivot, a[store] the pivot, rest worse */
        if (m <= store)
            hi = store;
        else if (m > store + 1)
            lo = store + 1;
        else
            return;
        if (m == lo || m == hi)
            return;
    }
    /* small range: insertion sort finishes it */
    for (size_t i = lo + 1; i < hi; i++) {
        rh_cand x = a[i];
        size_t j = i;
        while (j > lo && cand_better(&x, &a[j - 1])) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Make data[0..m) the m best, sorted. */
static void sort_prefix(rh_cands *c, size_t m)
{
    if (m >= c->n) {
        if (!c->sorted)
            qsort(c->data, c->n, sizeof *c->data, cand_cmp);
        c->sorted = true;
        return;
    }
    select_top(c->data, c->n, m);
    qsort(c->data, m, sizeof *c->data, cand_cmp);
}

void rh_cands_top_k(rh_cands *c, int32_t k)
{
    if (k <= 0 || (size_t)k >= c->n) {
        return;
    }
    if (!c->sorted)
        sort_prefix(c, (size_t)k);
    c->n = (size_t)k;
    c->sorted = true;
}

static float max_logit(const rh_cands *c)
{
    if (c->sorted && c->n)
        return c->data[0].logit;
    float mx = -INFINITY;
    for (size_t i = 0; i < c->n; i++)
        if (c->data[i].logit > mx)
            mx = c->data[i].logit;
    return mx;
}

/* top-p on a large unsorted list without sorting it: candidates go into
 * logit buckets (one pass), the buckets are summed from the top until the
 * mass is reached, and only the members of that boundary bucket are sorted.
 * The kept set equals that of the sorted method; its order is not sorted. */
#define TOP_P_BUCKETS 2048

static inline int top_p_bucket(float l, float mx, double scale)
{
    if (l == -INFINITY)
        return TOP_P_BUCKETS - 1;
    double b = ((double)mx - (double)l) * scale;
    return b >= TOP_P_BUCKETS - 1 ? TOP_P_BUCKETS - 1 : (int)b;
}

static void top_p_buckets(rh_cands *c, float p, float mx)
{
    double mass[TOP_P_BUCKETS];
    memset(mass, 0, sizeof mass);
    float mn = mx;
    for (size_t i = 0; i < c->n; i++) {
        float l = c->data[i].logit;
        if (l > -INFINITY && l < mn)
            mn = l;
    }
    double scale = mx > mn ? (TOP_P_BUCKETS - 1) / ((double)mx - (double)mn) : 0.0;
    double sum = 0.0;
    for (size_t i = 0; i < c->n; i++) {
        double e = exp((double)(c->data[i].logit - mx));
        c->data[i].p = (float)e;
        sum += e;
        mass[top_p_bucket(c->data[i].logit, mx, scale)] += e;
    }
    double target = (double)p * sum, cum = 0.0;
    int B = 0;
    while (B < TOP_P_BUCKETS && cum + mass[B] < target)
        cum += mass[B++];
    if (B == TOP_P_BUCKETS)
        return; /* rounding: the whole set is needed */
    /* [buckets above B] [bucket B] [the rest] */
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++)
        if (top_p_bucket(c->data[i].logit, mx, scale) < B)
            cand_swap(&c->data[i], &c->data[w++]);
    size_t w2 = w;
    for (size_t i = w; i < c->n; i++)
        if (top_p_bucket(c->data[i].logit, mx, scale) == B)
            cand_swap(&c->data[i], &c->data[w2++]);
    qsort(c->data + w, w2 - w, sizeof *c->data, cand_cmp);
    size_t keep = w2;
    for (size_t i = w; i < w2; i++) {
        cum += c->data[i].p;
        if (cum >= target) {
            keep = i + 1;
            break;
        }
    }
    c->n = keep;
    c->sorted = w == 0;
}

void rh_cands_top_p(rh_cands *c, float p)
{
    if (p >= 1.0f || c->n <= 1)
        return;
    float mx = max_logit(c);
    if (mx == -INFINITY)
        return; /* nothing meaningful to cut */
    if (!c->sorted && c->n > 256) {
        top_p_buckets(c, p, mx);
        return;
    }
    if (!c->sorted)
        sort_prefix(c, c->n);
    double sum = 0.0;
    for (size_t i = 0; i < c->n; i++)
        sum += exp((double)(c->data[i].logit - mx));
    double cum = 0.0;
    for (size_t i = 0; i < c->n; i++) {
        cum += exp((double)(c->data[i].logit - mx)) / sum;
        if (cum >= (double)p) {
            c->n = i + 1;
            return;
        }
    }
}

void rh_cands_min_p(rh_cands *c, float p)
{
    if (p <= 0.0f || c->n <= 1)
        return;
    float mx = max_logit(c);
    if (mx == -INFINITY)
        return;
    /* p_i >= p * p_max  <=>  logit_i >= max + ln(p) */
    float thr = mx + logf(p);
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->data[i].logit >= thr)
            c->data[w++] = c->data[i]; /* stable: keeps sortedness */
    if (w == 0)
        w = 1; /* cannot happen (the max passes), but never leave it empty */
    c->n = w;
}

void rh_cands_temperature(rh_cands *c, float t)
{
    if (!(t > 0.0f))
        return;
    for (size_t i = 0; i < c->n; i++)
        c->data[i].logit /= t;
}

void rh_cands_softmax(rh_cands *c)
{
    if (c->n == 0)
        return;
    float mx = max_logit(c);
    if (mx == -INFINITY) { /* all impossible: uniform */
        for (size_t i = 0; i < c->n; i++)
            c->data[i].p = 1.0f / (float)c->n;
        return;
    }
    double sum = 0.0;
    for (size_t i = 0; i < c->n; i++) {
        double e = exp((double)(c->data[i].logit - mx));
        c->data[i].p = (float)e;
        sum += e;
    }
    for (size_t i = 0; i < c->n; i++)
        c->data[i].p = (float)((double)c->data[i].p / sum);
}

int32_t rh_cands_draw(const rh_cands *c, double u)
{
    if (c->n == 0)
        return -1;
    double total = 0.0;
    for (size_t i = 0; i < c->n; i++)
        total += c->data[i].p;
    double target = u * total, cum = 0.0;
    for (size_t i = 0; i < c->n; i++) {
        cum += c->data[i].p;
        if (target < cum)
            return c->data[i].id;
    }
    /* rounding: the last one with non-zero probability */
    for (size_t i = c->n; i-- > 0;)
        if (c->data[i].p > 0.0f)
            return c->data[i].id;
    return c->data[0].id;
}

/* ---- penalties ------------------------------------------------------------ */

static int int32_cmp(const void *pa, const void *pb)
{
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

static bool penalties_active(const rh_sampling *p)
{
    return p->repeat_last_n > 0 &&
           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
}

/* Penalise the logit of token t found at base + t*stride bytes. */
static void penalties_core(const rh_sampling *p, const int32_t *recent, size_t n_recent,
                           int32_t *scratch, char *base, size_t stride, int32_t n_vocab)
{
    if (!penalties_active(p) || n_recent == 0)
        return;
    memcpy(scratch, recent, n_recent * sizeof *scratch);
    qsort(scratch, n_recent, sizeof *scratch, int32_cmp);
    for (size_t i = 0; i < n_recent;) {
        size_t j = i;
        while (j < n_recent && scratch[j] == scratch[i])
            j++;
        int32_t tok = scratch[i];
        size_t count = j - i;
        i = j;
        if (tok < 0 || tok >= n_vocab)
            continue;
        float *l = (float *)(void *)(base + (size_t)tok * stride);
        float v = *l;
        if (p->repeat_penalty != 1.0f)
            v = v > 0.0f ? v / p->repeat_penalty : v * p->repeat_penalty;
        v -= (float)count * p->frequency_penalty + p->presence_penalty;
        *l = v;
    }
}

void rh_apply_penalties(const rh_sampling *p, const int32_t *recent, size_t n_recent,
                        int32_t *scratch, float *logits, int32_t n_vocab)
{
    penalties_core(p, recent, n_recent, scratch, (char *)logits, sizeof *logits, n_vocab);
}

/* ---- random generator: xoshiro256**, seeded by splitmix64 ----------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

static uint64_t os_seed(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v && v != RH_SEED_RANDOM)
        return v;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    return v == RH_SEED_RANDOM ? 1 : v;
}

/* ---- sampler -------------------------------------------------------------- */

struct rh_sampler {
    rh_sampling p;
    int32_t n_vocab;
    uint64_t seed;
    uint64_t rng[4];
    int32_t *recent;  /* ring of the last repeat_last_n tokens */
    size_t recent_n, recent_pos;
    int32_t *scratch; /* repeat_last_n values */
    rh_cand *cands;   /* n_vocab, allocated on first need */
    float *work;      /* n_vocab: penalised logits for the heap path */
};

int rh_sampler_new(const rh_sampling *p, int32_t n_vocab, rh_sampler **out, rh_error *err)
{
    int rc = RH_OK;
    rh_sampler *s = NULL;
    *out = NULL;
    if ((rc = rh_sampling_validate(p, err)) != RH_OK)
        goto out;
    if (n_vocab <= 0) {
        rc = rh_error_set(err, RH_EINVAL, "sampler: vocabulary size %d is invalid", (int)n_vocab);
        goto out;
    }
    s = rh_calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->p = *p;
    s->p.n_stop = 0;
    memset(s->p.stop, 0, sizeof s->p.stop);
    s->n_vocab = n_vocab;
    if (p->repeat_last_n > 0) {
        s->recent = rh_malloc_array((size_t)p->repeat_last_n, sizeof *s->recent);
        s->scratch = rh_malloc_array((size_t)p->repeat_last_n, sizeof *s->scratch);
        if (!s->recent || !s->scratch)
            goto oom;
    }
    s->seed = p->seed == RH_SEED_RANDOM ? os_seed() : p->seed;
    uint64_t x = s->seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
    *out = s;
    s = NULL;
    goto out;
oom:
    rc = rh_error_set(err, RH_ENOMEM, "sampler: out of memory");
out:
    rh_sampler_free(s);
    return rc;
}

void rh_sampler_free(rh_sampler *s)
{
    if (!s)
        return;
    rh_free(s->recent);
    rh_free(s->scratch);
    rh_free(s->cands);
    rh_free(s->work);
    rh_free(s);
}

void rh_sampler_accept(rh_sampler *s, int32_t tok)
{
    size_t cap = (size_t)(s->p.repeat_last_n > 0 ? s->p.repeat_last_n : 0);
    if (cap == 0)
        return;
    s->recent[s->recent_pos] = tok;
    s->recent_pos = (s->recent_pos + 1) % cap;
    if (s->recent_n < cap)
        s->recent_n++;
}

uint64_t rh_sampler_rand(rh_sampler *s) { return xoshiro_next(s->rng); }

uint64_t rh_sampler_seed(const rh_sampler *s) { return s->seed; }

/* Largest top_k for the heap path (beyond it, selection is faster). */
#define HEAP_TOP_K_MAX 2048

/* The k best of logits[0..n) (NaN counts as -inf) into out[0..k), sorted.
 * A min-heap keyed on "worst first"; most values fail the first comparison
 * with the heap's root, so this is about one comparison per token. */
static size_t heap_top_k(const float *logits, int32_t n, size_t k, rh_cand *out)
{
    size_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        float v = logits[i];
        rh_cand x = {.id = i, .logit = isnan(v) ? -INFINITY : v, .p = 0.0f};
        size_t j;
        if (m < k) {
            j = m++;
            while (j > 0 && cand_better(&out[(j - 1) / 2], &x)) { /* sift up */
                out[j] = out[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            out[j] = x;
            continue;
        }
        if (!cand_better(&x, &out[0]))
            continue;
        j = 0; /* replace the root, sift down */
        for (;;) {
            size_t l = 2 * j + 1, r = l + 1, w = j;
            const rh_cand *wc = &x;
            if (l < m && cand_better(wc, &out[l]))
                w = l, wc = &out[l];
            if (r < m && cand_better(wc, &out[r]))
                w = r, wc = &out[r];
            if (w == j)
                break;
            out[j] = out[w];
            j = w;
        }
        out[j] = x;
    }
    qsort(out, m, sizeof *out, cand_cmp);
    return m;
}

static int32_t argmax_raw(const float *logits, int32_t n)
{
    int32_t best = 0;
    float bv = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        float v = logits[i];
        if (v > bv) { /* NaN never wins; ties keep the lowest id */
            bv = v;
            best = i;
        }
    }
    return best;
}

int32_t rh_sampler_sample(rh_sampler *s, const float *logits)
{
    const rh_sampling *p = &s->p;
    bool greedy = !(p->temperature > 0.0f);
    bool pen = penalties_active(p) && s->recent_n > 0;
    if (greedy && !pen)
        return argmax_raw(logits, s->n_vocab);

    if (!s->cands) {
        s->cands = rh_malloc_array((size_t)s->n_vocab, sizeof *s->cands);
        if (!s->cands)
            return RH_ENOMEM;
    }
    rh_cand *cd = s->cands;
    rh_cands c = {.data = cd, .n = (size_t)s->n_vocab, .sorted = false};
    if (!greedy && p->top_k > 0 && p->top_k <= HEAP_TOP_K_MAX && p->top_k < s->n_vocab) {
        /* small top-k: one pass with a heap over the (penalised) logits */
        const float *src = logits;
        if (pen) {
            if (!s->work) {
                s->work = rh_malloc_array((size_t)s->n_vocab, sizeof *s->work);
                if (!s->work)
                    return RH_ENOMEM;
            }
            memcpy(s->work, logits, (size_t)s->n_vocab * sizeof *s->work);
            rh_apply_penalties(p, s->recent, s->recent_n, s->scratch, s->work, s->n_vocab);
            src = s->work;
        }
        c.n = heap_top_k(src, s->n_vocab, (size_t)p->top_k, cd);
        c.sorted = true;
    } else {
        for (int32_t i = 0; i < s->n_vocab; i++) {
            float v = logits[i];
            cd[i].id = i;
            cd[i].logit = isnan(v) ? -INFINITY : v;
            cd[i].p = 0.0f;
        }
        if (pen)
            penalties_core(p, s->recent, s->recent_n, s->scratch, (char *)&cd[0].logit,
                           sizeof *cd, s->n_vocab);
    }
    if (greedy) {
        size_t best = 0;
        for (size_t i = 1; i < c.n; i++)
            if (cand_better(&cd[i], &cd[best]))
                best = i;
        return cd[best].id;
    }
    rh_cands_top_k(&c, p->top_k);
    rh_cands_top_p(&c, p->top_p);
    rh_cands_min_p(&c, p->min_p);
    rh_cands_temperature(&c, p->temperature);
    rh_cands_softmax(&c);
    double u = (double)(xoshiro_next(s->rng) >> 11) * 0x1.0p-53;
    return rh_cands_draw(&c, u);
}

/* ---- stop strings --------------------------------------------------------- */

#define STOP_HELD_MAX (1u << 20)

int rh_stop_init(rh_stop *s, const char *const *stop, int n, rh_error *err)
{
    memset(s, 0, sizeof *s);
    rh_buf_init(&s->held, STOP_HELD_MAX);
    s->which = -1;
    if (n < 0 || n > RH_MAX_STOP)
        return rh_error_set(err, RH_EINVAL, "at most %d stop strings are allowed", RH_MAX_STOP);
    for (int i = 0; i < n; i++) {
        if (!stop[i])
            return rh_error_set(err, RH_EINVAL, "stop string %d is missing", i + 1);
        int rc = rh_stop_add(s, stop[i]);
        if (rc == RH_EINVAL)
            return rh_error_set(err, rc, "stop string %d is longer than %d bytes", i + 1,
                                RH_STOP_MAX_LEN);
        if (rc != RH_OK)
            return rh_error_set(err, rc, "too many stop strings");
    }
    return RH_OK;
}

void rh_stop_free(rh_stop *s) { rh_buf_free(&s->held); }

int rh_stop_add(rh_stop *s, const char *str)
{
    size_t len = strnlen(str, RH_STOP_MAX_LEN + 1);
    if (len > RH_STOP_MAX_LEN)
        return RH_EINVAL;
    if (len == 0)
        return RH_OK;
    for (int i = 0; i < s->n; i++)
        if (s->len[i] == len && memcmp(s->str[i], str, len) == 0)
            return RH_OK; /* already there */
    if (s->n >= RH_MAX_STOP)
        return RH_ELIMIT;
    memcpy(s->str[s->n], str, len);
    s->str[s->n][len] = '\0';
    s->len[s->n] = len;
    s->n++;
    return RH_OK;
}

int rh_stop_push(rh_stop *s, const char *text, size_t len, rh_buf *out)
{
    int rc;
    if (s->matched || len == 0)
        return s->matched ? 1 : 0;
    if (s->n == 0)
        return rh_buf_append(out, text, len);
    if ((rc = rh_buf_append(&s->held, text, len)) != RH_OK)
        return rc;
    const char *h = s->held.data;
    size_t hn = s->held.len;
    /* earliest complete match of any stop string */
    size_t best = (size_t)-1;
    int which = -1;
    for (int i = 0; i < s->n; i++) {
        const char *m = memmem(h, hn, s->str[i], s->len[i]);
        if (m && (size_t)(m - h) < best) {
            best = (size_t)(m - h);
            which = i;
        }
    }
    if (which >= 0) {
        rc = rh_buf_append(out, h, best);
        s->matched = true;
        s->which = which;
        rh_buf_reset(&s->held);
        return rc != RH_OK ? rc : 1;
    }
    /* longest suffix of the held text that is a proper prefix of a stop string */
    size_t keep = 0;
    for (int i = 0; i < s->n; i++) {
        size_t maxl = s->len[i] - 1 < hn ? s->len[i] - 1 : hn;
        for (size_t l = maxl; l > keep; l--) {
            if (memcmp(h + hn - l, s->str[i], l) == 0) {
                keep = l;
                break;
            }
        }
    }
    if ((rc = rh_buf_append(out, h, hn - keep)) != RH_OK)
        return rc;
    memmove(s->held.data, h + hn - keep, keep);
    s->held.len = keep;
    s->held.data[keep] = '\0';
    return 0;
}

int rh_stop_flush(rh_stop *s, rh_buf *out)
{
    int rc = RH_OK;
    if (!s->matched && s->held.len)
        rc = rh_buf_append(out, s->held.data, s->held.len);
    rh_buf_reset(&s->held);
    return rc;
}
