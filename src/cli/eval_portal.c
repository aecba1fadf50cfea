/*
 * eval_portal.c - the portal's retrieval measured by `rathaus
 * eval-retrieval`: BM25 vs dense vs reciprocal rank fusion (with
 * --embedding-model), and the "nothing found" threshold (with
 * --unanswerable: questions the collection cannot answer).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/error.h"
#include "knowledge/eval.h"
#include "knowledge/extract.h"
#include "knowledge/grounding.h"
#include "knowledge/kworker.h"

#define MAXQ 2000

typedef struct qset {
    char *q[MAXQ], *doc[MAXQ], *sec[MAXQ];
    size_t n;
} qset;

static void qset_free(qset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rh_free(s->q[i]);
        rh_free(s->doc[i]);
        rh_free(s->sec[i]);
    }
    s->n = 0;
}

static int qset_load(const char *path, qset *s)
{
    FILE *f = fopen(path, "rb");
    char line[8192];
    if (!f) {
        fprintf(stderr, "rathaus eval-retrieval: cannot open %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, f) && s->n < MAXQ) {
        json_t *j = json_loads(line, 0, NULL);
        const char *q = json_string_value(json_object_get(j, "q"));
        if (q) {
            const char *d = json_string_value(json_object_get(j, "doc"));
            const char *sc = json_string_value(json_object_get(j, "section"));
            s->q[s->n] = rh_strdup(q);
            s->doc[s->n] = d ? rh_strdup(d) : NULL;
            s->sec[s->n] = sc ? rh_strdup(sc) : NULL;
            s->n++;
        }
        json_decref(j);
    }
    fclose(f);
    return 0;
}

/* recall@1/5/10, MRR@10 of one retrieval setting; best relevances into rel[] */
static int run_set(kstore *ks, rh_ksearcher *s, int64_t coll, const qset *qs, const rh_kretrieve_opts *o,
                   double *rel, double out[4], double *secs)
{
    size_t h1 = 0, h5 = 0, h10 = 0;
    double mrr = 0, t0 = rh_monotonic_seconds();
    for (size_t i = 0; i < qs->n; i++) {
        rh_kpassage *p = NULL;
        size_t n = 0;
        double best = 0;
        rh_error e;
        if (rh_kretrieve(ks, s, &coll, 1, qs->q[i], o, &p, &n, &best, &e)) {
            fprintf(stderr, "rathaus eval-retrieval: %s\n", e.msg);
            return -1;
        }
        if (rel)
            rel[i] = best;
        int rank = 0;
        for (size_t k = 0; k < n && k < 10 && !rank && qs->doc[i]; k++)
            if (rh_keval_is_hit(p[k].path, p[k].heading, qs->doc[i], qs->sec[i]))
                rank = (int)k + 1;
        h1 += rank == 1;
        h5 += rank && rank <= 5;
        h10 += rank != 0;
        mrr += rank ? 1.0 / rank : 0;
        rh_kpassages_free(p, n);
    }
    double n = qs->n ? (double)qs->n : 1;
    out[0] = (double)h1 / n;
    out[1] = (double)h5 / n;
    out[2] = (double)h10 / n;
    out[3] = mrr / n;
    *secs = rh_monotonic_seconds() - t0;
    return 0;
}

int eval_portal_run(kstore *ks, rh_ksearcher *s, int64_t tenant, int64_t coll, const char *questions,
                    const char *emb_spec, const char *unanswerable)
{
    static qset qa, qu;
    rh_kembedder *emb = NULL;
    double *rel_a = NULL, *rel_u = NULL;
    int ret = 1;
    rh_error e;
    if (qset_load(questions, &qa) || (unanswerable && qset_load(unanswerable, &qu)))
        goto out;
    rh_kretrieve_opts o = {.tenant = tenant, .k = 10};
    if (emb_spec) {
        if (rh_kembedder_open(emb_spec, NULL, &emb, &e)) {
            fprintf(stderr, "rathaus eval-retrieval: %s\n", e.msg);
            goto out;
        }
        rh_kworker_opts wo;
        rh_kworker_opts_default(&wo);
        wo.ingest.tenant = tenant;
        wo.emb = emb;
        double t0 = rh_monotonic_seconds();
        if (rh_kworker_embed(ks, &wo, coll, &e)) {
            fprintf(stderr, "rathaus eval-retrieval: %s\n", e.msg);
            goto out;
        }
        printf("vectors (%s, %d dimensions) complete; computing the missing ones took %.1f s\n",
               rh_kembedder_name(emb), rh_kembedder_dim(emb), rh_monotonic_seconds() - t0);
        printf("| retrieval | recall@1 | recall@5 | recall@10 | MRR@10 | s/question |\n|---|---|---|---|---|---|\n");
        const char *names[3] = {"BM25 (full)", "dense only", "BM25 + dense (RRF, k=60)"};
        for (int m = 0; m < 3; m++) {
            rh_kretrieve_opts mo = o;
            mo.emb = emb;
            mo.bm25_only = m == 0;
            mo.dense_only = m == 1;
            double r[4], secs;
            if (run_set(ks, s, coll, &qa, &mo, NULL, r, &secs))
                goto out;
            printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n", names[m], r[0], r[1], r[2], r[3],
                   qa.n ? secs / (double)qa.n : 0);
        }
    }
    if (unanswerable) {
        rel_a = rh_calloc(qa.n + 1, sizeof *rel_a);
        rel_u = rh_calloc(qu.n + 1, sizeof *rel_u);
        double r[4], secs;
        rh_kretrieve_opts bo = o;
        bo.k = 6;
        if (!rel_a || !rel_u || run_set(ks, s, coll, &qa, &bo, rel_a, r, &secs) ||
            run_set(ks, s, coll, &qu, &bo, rel_u, r, &secs))
            goto out;
        if (getenv("RATHAUS_EVAL_VERBOSE")) {
            for (size_t i = 0; i < qa.n; i++)
                printf("answerable   %.2f  %s\n", rel_a[i], qa.q[i]);
            for (size_t i = 0; i < qu.n; i++)
                printf("unanswerable %.2f  %s\n", rel_u[i], qu.q[i]);
        }
        printf("\nrelevance threshold (share of the question's terms in the best of 6 passages):\n");
        printf("| threshold | answerable kept | unanswerable refused | balanced accuracy |\n|---|---|---|---|\n");
        for (int ti = 0; ti <= 16; ti++) {
            double t = ti * 0.05;
            size_t ka = 0, ru = 0;
            for (size_t i = 0; i < qa.n; i++)
                ka += rel_a[i] >= t;
            for (size_t i = 0; i < qu.n; i++)
                ru += rel_u[i] < t;
            double a = qa.n ? (double)ka / (double)qa.n : 0, u = qu.n ? (double)ru / (double)qu.n : 0;
            printf("| %.2f | %.3f | %.3f | %.3f |\n", t, a, u, (a + u) / 2);
        }
    }
    ret = 0;
out:
    rh_free(rel_a);
    rh_free(rel_u);
    rh_kembedder_free(emb);
    qset_free(&qa);
    qset_free(&qu);
    return ret;
}
