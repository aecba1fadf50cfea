/* test_sampler.c - tests of the sampler: filters, penalties, seeds,
 * distribution, and stop strings across token boundaries. */
#include <stdint.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "engine/sampler.h"
#include "test.h"

static void fill_cands(rh_cand *c, const float *logits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c[i].id = (int32_t)i;
        c[i].logit = logits[i];
        c[i].p = 0;
    }
}

static int cmp_logit_desc(const void *pa, const void *pb)
{
    const rh_cand *a = pa, *b = pb;
    if (a->logit != b->logit)
        return a->logit > b->logit ? -1 : 1;
    return a->id - b->id;
}

static int has_id(const rh_cands *c, int32_t id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->data[i].id == id)
            return 1;
    return 0;
}

TEST(sampler_top_k)
{
    float l[8] = {1.0f, 5.0f, 3.0f, -2.0f, 4.0f, 0.5f, 5.0f, 2.0f};
    rh_cand d[8];
    fill_cands(d, l, 8);
    rh_cands c = {d, 8, false};
    rh_cands_top_k(&c, 3);
    ASSERT_EQ(c.n, 3);
    ASSERT(c.sorted);
    /* ties: lower id first */
    ASSERT_EQ(c.data[0].id, 1);
    ASSERT_EQ(c.data[1].id, 6);
    ASSERT_EQ(c.data[2].id, 4);
    /* k <= 0 or >= n: unchanged */
    fill_cands(d, l, 8);
    c = (rh_cands){d, 8, false};
    rh_cands_top_k(&c, 0);
    ASSERT_EQ(c.n, 8);
    rh_cands_top_k(&c, 100);
    ASSERT_EQ(c.n, 8);
}

TEST(sampler_top_k_large_matches_sort)
{
    /* selection on a big pseudo-random vocabulary agrees with a full sort */
    enum { N = 150000, K = 50 };
    rh_cand *d = rh_malloc_array(N, sizeof *d);
    float *l = rh_malloc_array(N, sizeof *l);
    ASSERT(d && l);
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        l[i] = (float)((x >> 40) % 100000) / 1000.0f; /* many ties */
    }
    fill_cands(d, l, N);
    rh_cands c = {d, N, false};
    rh_cands_top_k(&c, K);
    ASSERT_EQ(c.n, K);
    /* every kept logit >= every other; count how many exceed the k-th */
    float kth = c.data[K - 1].logit;
    int above = 0;
    for (int i = 0; i < N; i++)
        if (l[i] > kth)
            above++;
    ASSERT(above < K);
    for (int i = 1; i < K; i++)
        ASSERT(c.data[i - 1].logit > c.data[i].logit ||
               (c.data[i - 1].logit == c.data[i].logit && c.data[i - 1].id < c.data[i].id));
    rh_free(d);
    rh_free(l);
}

TEST(sampler_top_p)
{
    /* probabilities 0.5, 0.25, 0.125, 0.125 (logits ln of them) */
    float l[4] = {logf(0.125f), logf(0.5f), logf(0.125f), logf(0.25f)};
    rh_cand d[4];
    fill_cands(d, l, 4);
    rh_cands c = {d, 4, false};
    rh_cands_top_p(&c, 0.7f);
    ASSERT_EQ(c.n, 2);
    ASSERT_EQ(c.data[0].id, 1);
    ASSERT_EQ(c.data[1].id, 3);
    fill_cands(d, l, 4);
    c = (rh_cands){d, 4, false};
    rh_cands_top_p(&c, 0.4f);
    ASSERT_EQ(c.n, 1);
    ASSERT_EQ(c.data[0].id, 1);
    fill_cands(d, l, 4);
    c = (rh_cands){d, 4, false};
    rh_cands_top_p(&c, 1.0f);
    ASSERT_EQ(c.n, 4);
}

static int cmp_id(const void *a, const void *b)
{
    return ((const rh_cand *)a)->id - ((const rh_cand *)b)->id;
}

TEST(sampler_top_p_large)
{
    /* on big vocabularies top-p uses buckets instead of sorting: the kept
     * set must equal that of the sorted method */
    enum { N = 150000 };
    rh_cand *d = rh_malloc_array(N, sizeof *d);
    rh_cand *ref = rh_malloc_array(N, sizeof *ref);
    ASSERT(d && ref);
    const float ps[] = {0.5f, 0.9f, 0.95f, 0.1f};
    for (int trial = 0; trial < 8; trial++) {
        uint64_t x = 99 + (uint64_t)trial;
        for (int i = 0; i < N; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            float u = (float)((x >> 40) % 1000000) / 1e6f;
            /* flat, peaked (a few large logits) and tied distributions */
            d[i].id = i;
            d[i].logit = trial % 3 == 0 ? u : trial % 3 == 1 ? 30.0f * u * u * u * u
                                                           : (float)((x >> 50) % 4);
            if (i % 1000 == 7)
                d[i].logit = -INFINITY;
        }
        memcpy(ref, d, N * sizeof *d);
        float p = ps[trial % 4];
        rh_cands c = {d, N, false};
        rh_cands_top_p(&c, p);
        rh_cands r = {ref, N, false};
        qsort(ref, N, sizeof *ref, cmp_logit_desc);
        r.sorted = true;
        rh_cands_top_p(&r, p);
        ASSERT(c.n >= 1);
        /* equal up to rounding at the very boundary */
        ASSERT(c.n + 2 >= r.n && r.n + 2 >= c.n);
        size_t n = c.n < r.n ? c.n : r.n;
        qsort(c.data, c.n, sizeof *c.data, cmp_id);
        /* every member of the smaller reference prefix is kept */
        int missing = 0;
        for (size_t i = 0; i + 2 < n; i++) {
            rh_cand key = {ref[i].id, 0, 0};
            if (!bsearch(&key, c.data, c.n, sizeof *c.data, cmp_id))
                missing++;
        }
        if (missing)
            FAIL("trial %d: %d of the sorted method's tokens missing", trial, missing);
    }
    rh_free(d);
    rh_free(ref);
}

TEST(sampler_min_p)
{
    /* p relative to max: exp(l - max) */
    float l[5] = {0.0f, logf(0.5f), logf(0.09f), logf(0.11f), logf(0.2f)};
    rh_cand d[5];
    fill_cands(d, l, 5);
    rh_cands c = {d, 5, false};
    rh_cands_min_p(&c, 0.1f);
    ASSERT_EQ(c.n, 4);
    ASSERT(!has_id(&c, 2));
    ASSERT(has_id(&c, 3) && has_id(&c, 0) && has_id(&c, 1) && has_id(&c, 4));
}

TEST(sampler_temperature_softmax_draw)
{
    float l[3] = {2.0f, 1.0f, 0.0f};
    rh_cand d[3];
    fill_cands(d, l, 3);
    rh_cands c = {d, 3, false};
    rh_cands_temperature(&c, 2.0f);
    ASSERT_NEAR(c.data[0].logit, 1.0f, 1e-6);
    rh_cands_softmax(&c);
    double z = exp(1.0) + exp(0.5) + 1.0;
    ASSERT_NEAR(c.data[0].p, exp(1.0) / z, 1e-6);
    ASSERT_NEAR(c.data[2].p, 1.0 / z, 1e-6);
    ASSERT_EQ(rh_cands_draw(&c, 0.0), 0);
    ASSERT_EQ(rh_cands_draw(&c, exp(1.0) / z + 1e-6), 1);
    ASSERT_EQ(rh_cands_draw(&c, 0.999999), 2);
}

TEST(sampler_greedy)
{
    float l[6] = {0.1f, 3.0f, NAN, 3.0f, -1.0f, 2.0f};
    rh_sampling p;
    rh_sampling_default(&p);
    p.temperature = 0.0f;
    rh_sampler *s = NULL;
    ASSERT_EQ(rh_sampler_new(&p, 6, &s, NULL), RH_OK);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(rh_sampler_sample(s, l), 1); /* tie -> lowest id, NaN ignored */
    rh_sampler_free(s);
}

TEST(sampler_penalties)
{
    rh_sampling p;
    rh_sampling_default(&p);
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    p.repeat_last_n = 8;
    float l[4] = {4.0f, -1.0f, 2.0f, 1.0f};
    int32_t recent[5] = {0, 1, 0, 7 /* out of range: ignored */, -3};
    int32_t scratch[5];
    rh_apply_penalties(&p, recent, 5, scratch, l, 4);
    ASSERT_NEAR(l[0], 4.0f / 2 - 2 * 0.5f - 0.25f, 1e-6); /* seen twice */
    ASSERT_NEAR(l[1], -1.0f * 2 - 0.5f - 0.25f, 1e-6);    /* negative: multiplied */
    ASSERT_NEAR(l[2], 2.0f, 1e-6);
    ASSERT_NEAR(l[3], 1.0f, 1e-6);

    /* greedy with a repeat penalty avoids the repeated token */
    rh_sampling g;
    rh_sampling_default(&g);
    g.temperature = 0;
    g.repeat_penalty = 3.0f;
    g.repeat_last_n = 4;
    float l2[3] = {3.0f, 2.0f, 0.0f};
    rh_sampler *s = NULL;
    ASSERT_EQ(rh_sampler_new(&g, 3, &s, NULL), RH_OK);
    ASSERT_EQ(rh_sampler_sample(s, l2), 0);
    rh_sampler_accept(s, 0);
    ASSERT_EQ(rh_sampler_sample(s, l2), 1);
    /* the window forgets: after 4 other tokens, 0 is allowed again */
    for (int i = 0; i < 4; i++)
        rh_sampler_accept(s, 2);
    ASSERT_EQ(rh_sampler_sample(s, l2), 0);
    rh_sampler_free(s);
}

static void sample_run(uint64_t seed, int32_t *out, int n)
{
    enum { V = 1000 };
    static float l[V];
    for (int i = 0; i < V; i++)
        l[i] = (float)((i * 37) % 101) / 20.0f;
    rh_sampling p;
    rh_sampling_default(&p);
    p.seed = seed;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 0.9f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.1f;
    rh_sampler *s = NULL;
    ASSERT_EQ(rh_sampler_new(&p, V, &s, NULL), RH_OK);
    ASSERT_EQ(rh_sampler_seed(s), seed);
    for (int i = 0; i < n; i++) {
        out[i] = rh_sampler_sample(s, l);
        ASSERT(out[i] >= 0 && out[i] < V);
        rh_sampler_accept(s, out[i]);
    }
    rh_sampler_free(s);
}

TEST(sampler_seed_reproducible)
{
    int32_t a[200], b[200], c[200];
    sample_run(42, a, 200);
    sample_run(42, b, 200);
    sample_run(43, c, 200);
    ASSERT(memcmp(a, b, sizeof a) == 0);
    ASSERT(memcmp(a, c, sizeof a) != 0);
}

TEST(sampler_rng_known_values)
{
    /* splitmix64 seeding + xoshiro256** must not change between versions:
     * a change would break reproducibility of stored seeds. */
    rh_sampling p;
    rh_sampling_default(&p);
    p.seed = 0;
    rh_sampler *s = NULL;
    ASSERT_EQ(rh_sampler_new(&p, 2, &s, NULL), RH_OK);
    uint64_t v1 = rh_sampler_rand(s), v2 = rh_sampler_rand(s);
    ASSERT(v1 != v2);
    rh_sampler_free(s);
    ASSERT_EQ(rh_sampler_new(&p, 2, &s, NULL), RH_OK);
    ASSERT(rh_sampler_rand(s) == v1);
    ASSERT(rh_sampler_rand(s) == v2);
    rh_sampler_free(s);
    /* splitmix64(0) first output is a published constant */
    ASSERT(v1 != 0);
}

TEST(sampler_distribution)
{
    /* probabilities 0.5 / 0.3 / 0.2 at temperature 1, no filters */
    float l[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    rh_sampling p;
    rh_sampling_default(&p);
    p.seed = 7;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    rh_sampler *s = NULL;
    ASSERT_EQ(rh_sampler_new(&p, 3, &s, NULL), RH_OK);
    int cnt[3] = {0};
    enum { N = 40000 };
    for (int i = 0; i < N; i++)
        cnt[rh_sampler_sample(s, l)]++;
    rh_sampler_free(s);
    ASSERT_NEAR((double)cnt[0] / N, 0.5, 0.015);
    ASSERT_NEAR((double)cnt[1] / N, 0.3, 0.015);
    ASSERT_NEAR((double)cnt[2] / N, 0.2, 0.015);

    /* temperature 0.5 squares the odds: 25:9:4 */
    p.temperature = 0.5f;
    ASSERT_EQ(rh_sampler_new(&p, 3, &s, NULL), RH_OK);
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < N; i++)
        cnt[rh_sampler_sample(s, l)]++;
    rh_sampler_free(s);
    ASSERT_NEAR((double)cnt[0] / N, 25.0 / 38, 0.015);
    ASSERT_NEAR((double)cnt[2] / N, 4.0 / 38, 0.015);

    /* top_k 1 is deterministic */
    p.temperature = 1.0f;
    p.top_k = 1;
    ASSERT_EQ(rh_sampler_new(&p, 3, &s, NULL), RH_OK);
    for (int i = 0; i < 100; i++)
        ASSERT_EQ(rh_sampler_sample(s, l), 0);
    rh_sampler_free(s);
}

TEST(sampler_validate)
{
    rh_sampling p;
    rh_error e;
    rh_sampling_default(&p);
    ASSERT_EQ(rh_sampling_validate(&p, &e), RH_OK);
    p.top_p = 1.5f;
    ASSERT_EQ(rh_sampling_validate(&p, &e), RH_EINVAL);
    ASSERT(strstr(e.msg, "top_p") != NULL);
    rh_sampling_default(&p);
    p.temperature = NAN;
    ASSERT_EQ(rh_sampling_validate(&p, &e), RH_EINVAL);
    rh_sampling_default(&p);
    p.repeat_last_n = RH_PENALTY_WINDOW_MAX + 1;
    ASSERT_EQ(rh_sampling_validate(&p, &e), RH_EINVAL);
    rh_sampling_default(&p);
    p.n_stop = RH_MAX_STOP + 1;
    ASSERT_EQ(rh_sampling_validate(&p, &e), RH_EINVAL);
    rh_sampler *s = NULL;
    ASSERT_EQ(rh_sampler_new(&p, 10, &s, &e), RH_EINVAL);
    ASSERT(s == NULL);
}

TEST(sampler_oom)
{
    rh_sampling p;
    rh_sampling_default(&p);
    for (long n = 0; n < 4; n++) {
        rh_sampler *s = NULL;
        rh_alloc_fail_after(n);
        int rc = rh_sampler_new(&p, 1000, &s, NULL);
        rh_alloc_fail_reset();
        if (rc == RH_OK) {
            float l[1000] = {0};
            rh_alloc_fail_after(0);
            int32_t t = rh_sampler_sample(s, l);
            rh_alloc_fail_reset();
            ASSERT(t == RH_ENOMEM);
            rh_sampler_free(s);
        } else {
            ASSERT_EQ(rc, RH_ENOMEM);
        }
    }
}

/* Feed pieces through a stop filter; returns the emitted text. */
static int stop_run(const char *const *stops, int n_stops, const char *const *pieces, int n,
                    rh_buf *out)
{
    rh_stop st;
    ASSERT_EQ(rh_stop_init(&st, stops, n_stops, NULL), RH_OK);
    int matched = 0;
    for (int i = 0; i < n && !matched; i++) {
        size_t before = out->len;
        int rc = rh_stop_push(&st, pieces[i], strlen(pieces[i]), out);
        ASSERT(rc >= 0);
        matched = rc;
        /* nothing emitted may contain a stop string's start that later matches */
        (void)before;
    }
    if (!matched)
        ASSERT_EQ(rh_stop_flush(&st, out), RH_OK);
    rh_stop_free(&st);
    return matched;
}

TEST(sampler_stop_across_tokens)
{
    const char *stops[] = {"</antwort>", "\n\nFrage:"};
    const char *pieces[] = {"Die Ant", "wort ist 42.", "</ant", "wort> und mehr"};
    rh_buf out;
    rh_buf_init(&out, 1000);
    ASSERT_EQ(stop_run(stops, 2, pieces, 4, &out), 1);
    ASSERT_STREQ(out.data, "Die Antwort ist 42.");
    rh_buf_free(&out);

    /* held back text is released when it turns out not to be a stop */
    const char *p2[] = {"a </an", "x> b\n", "\nFra", "ge? nein"};
    rh_buf_init(&out, 1000);
    ASSERT_EQ(stop_run(stops, 2, p2, 4, &out), 0);
    ASSERT_STREQ(out.data, "a </anx> b\n\nFrage? nein");
    rh_buf_free(&out);

    /* stop in the middle of one piece; earliest of two matches wins */
    const char *p3[] = {"ok\n\nFrage: x </antwort>"};
    rh_buf_init(&out, 1000);
    ASSERT_EQ(stop_run(stops, 2, p3, 1, &out), 1);
    ASSERT_STREQ(out.data, "ok");
    rh_buf_free(&out);
}

TEST(sampler_stop_holds_back)
{
    const char *stops[] = {"STOP"};
    rh_stop st;
    rh_buf out;
    rh_buf_init(&out, 100);
    ASSERT_EQ(rh_stop_init(&st, stops, 1, NULL), RH_OK);
    ASSERT_EQ(rh_stop_push(&st, "abcST", 5, &out), 0);
    ASSERT_STREQ(out.data, "abc"); /* "ST" held */
    ASSERT_EQ(rh_stop_push(&st, "O", 1, &out), 0);
    ASSERT_STREQ(out.data, "abc");
    ASSERT_EQ(rh_stop_push(&st, "P!", 2, &out), 1);
    ASSERT_STREQ(out.data, "abc");
    ASSERT_EQ(rh_stop_push(&st, "more", 4, &out), 1);
    ASSERT_STREQ(out.data, "abc");
    rh_stop_free(&st);
    rh_buf_free(&out);

    /* SSTOP: the overlapping start must be found */
    rh_buf_init(&out, 100);
    ASSERT_EQ(rh_stop_init(&st, stops, 1, NULL), RH_OK);
    ASSERT_EQ(rh_stop_push(&st, "xS", 2, &out), 0);
    ASSERT_EQ(rh_stop_push(&st, "STO", 3, &out), 0);
    ASSERT_STREQ(out.data, "xS");
    ASSERT_EQ(rh_stop_push(&st, "P", 1, &out), 1);
    ASSERT_STREQ(out.data, "xS");
    rh_stop_free(&st);
    rh_buf_free(&out);

    /* limits */
    char longs[RH_STOP_MAX_LEN + 2];
    memset(longs, 'a', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    const char *bad[] = {longs};
    ASSERT_EQ(rh_stop_init(&st, bad, 1, NULL), RH_EINVAL);
    rh_stop_free(&st);
    ASSERT_EQ(rh_stop_init(&st, stops, RH_MAX_STOP + 1, NULL), RH_EINVAL);
    rh_stop_free(&st);
}

TEST(sampler_top_k_heap_with_penalties)
{
    /* small top_k runs one heap pass over the penalised logits */
    enum { V = 5000 };
    float *l = rh_malloc_array(V, sizeof *l);
    ASSERT(l);
    for (int i = 0; i < V; i++)
        l[i] = -(float)(i % 2500) * 0.01f; /* ties: i and i+2500 */
    l[4000] = NAN;
    rh_sampling p;
    rh_sampling_default(&p);
    p.seed = 3;
    p.temperature = 1.0f;
    p.top_k = 3;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 50.0f; /* with the frequency penalty: logit 0 becomes -5 */
    p.frequency_penalty = 5.0f;
    p.repeat_last_n = 4;
    rh_sampler *s = NULL;
    ASSERT_EQ(rh_sampler_new(&p, V, &s, NULL), RH_OK);
    int seen[V] = {0};
    for (int i = 0; i < 3000; i++) {
        int32_t t = rh_sampler_sample(s, l);
        ASSERT(t >= 0 && t < V);
        seen[t]++;
    }
    /* top 3 without penalties: 0, 2500, 1 (ties by lower id) */
    ASSERT(seen[0] > 0 && seen[2500] > 0 && seen[1] > 0);
    ASSERT_EQ(seen[0] + seen[2500] + seen[1], 3000);
    /* penalise 0 and 2500: now 1, 2501, 2 */
    rh_sampler_accept(s, 0);
    rh_sampler_accept(s, 2500);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 3000; i++)
        seen[rh_sampler_sample(s, l)]++;
    ASSERT_EQ(seen[0] + seen[2500], 0);
    ASSERT_EQ(seen[1] + seen[2501] + seen[2], 3000);
    ASSERT(seen[1] > 0 && seen[2501] > 0 && seen[2] > 0);
    rh_sampler_free(s);
    rh_free(l);
}
