/*
 * cmd_search.c - `rathaus search`: ranked passages of a knowledge
 * collection for a question.
 *
 *   rathaus search --collection NAME [--db PATH] [--k 10] [--json]
 *                  [--mode MODE] [--explain] QUERY...
 *   rathaus search --collection NAME [--db PATH] --bench QUESTIONS [--repeat N]
 *
 * Text output: rank, score, document path, page, heading path and an
 * excerpt per passage. --json prints an array of objects. --bench runs
 * every question of a file (JSONL with "q", or one question per line) and
 * prints latency percentiles.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "knowledge/eval.h"
#include "knowledge/extract.h"
#include "knowledge/search.h"
#include "store/kstore.h"

#define EXCERPT 320

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rathaus search --collection NAME [--db PATH] [--k N] [--json] [--mode MODE]\n"
            "                      [--explain] QUERY...\n"
            "       rathaus search --collection NAME [--db PATH] --bench FILE [--repeat N]\n"
            "  --mode MODE  plain, stem, stem+compound, stem+compound+synonyms, full (default)\n"
            "               or a '+' list of stem, compound, synonyms, weights, legal\n"
            "  --explain    print the FTS5 expressions the question becomes\n"
            "  --all-chunks list several passages of one section (default: the best one)\n"
            "  --bench FILE run each question of FILE (JSONL \"q\" or lines), print latency\n");
}

/* Excerpt: up to EXCERPT bytes cut at a UTF-8 boundary, new lines as spaces. */
static void excerpt(const char *t, char *out, size_t cap)
{
    size_t n = strlen(t), k = 0;
    size_t lim = n < EXCERPT ? n : EXCERPT;
    while (lim < n && lim > 0 && ((unsigned char)t[lim] & 0xC0) == 0x80)
        lim--;
    for (size_t i = 0; i < lim && k + 4 < cap; i++)
        out[k++] = t[i] == '\n' ? ' ' : t[i];
    if (lim < n && k + 4 < cap) {
        memcpy(out + k, "\xE2\x80\xA6", 3); /* … */
        k += 3;
    }
    out[k] = '\0';
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_bench(rh_ksearcher *s, int64_t coll, const rh_ksearch_opts *o, const char *file,
                     int repeat)
{
    FILE *fp = fopen(file, "rb");
    if (!fp) {
        fprintf(stderr, "rathaus search: cannot open %s\n", file);
        return 1;
    }
    char **qs = NULL;
    size_t nq = 0, cap = 0;
    char line[8192];
    while (fgets(line, sizeof line, fp) && nq < 100000) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        const char *q = line;
        json_t *j = NULL;
        if (line[0] == '{') {
            j = json_loads(line, 0, NULL);
            q = j ? json_string_value(json_object_get(j, "q")) : NULL;
        }
        if (q && *q) {
            if (nq == cap) {
                cap = cap ? cap * 2 : 64;
                char **nv = rh_realloc_array(qs, cap, sizeof *nv);
                if (!nv)
                    break;
                qs = nv;
            }
            qs[nq] = rh_strdup(q);
            if (qs[nq])
                nq++;
        }
        json_decref(j);
    }
    fclose(fp);
    int ret = 1;
    size_t total = nq * (size_t)repeat;
    double *lat = rh_calloc(total ? total : 1, sizeof *lat);
    double *cpu = rh_calloc(total ? total : 1, sizeof *cpu);
    rh_error err = {0};
    if (!lat || !cpu || !nq) {
        fprintf(stderr, "rathaus search: no questions in %s\n", file);
        goto out;
    }
    size_t m = 0;
    /* one untimed warm-up pass loads dictionaries and pages */
    for (size_t i = 0; i < nq && i < 5; i++) {
        kstore_hit *h = NULL;
        size_t n = 0;
        if (rh_ksearch(s, coll, qs[i], o, &h, &n, &err) == RH_OK)
            rh_ksearch_hits_free(h, n);
    }
    for (int r = 0; r < repeat; r++) {
        for (size_t i = 0; i < nq; i++) {
            kstore_hit *h = NULL;
            size_t n = 0;
            double t0 = rh_monotonic_seconds(), c0 = cpu_seconds();
            if (rh_ksearch(s, coll, qs[i], o, &h, &n, &err) != RH_OK) {
                fprintf(stderr, "rathaus search: %s\n", err.msg);
                goto out;
            }
            lat[m] = (rh_monotonic_seconds() - t0) * 1000.0;
            cpu[m++] = (cpu_seconds() - c0) * 1000.0;
            rh_ksearch_hits_free(h, n);
        }
    }
    qsort(lat, m, sizeof *lat, cmp_double);
    qsort(cpu, m, sizeof *cpu, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < m; i++)
        sum += lat[i];
    printf("search latency over %zu queries: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, "
           "mean %.2f ms, max %.2f ms\n",
           m, lat[m / 2], lat[(m * 95) / 100 < m ? (m * 95) / 100 : m - 1],
           lat[(m * 99) / 100 < m ? (m * 99) / 100 : m - 1], sum / (double)m, lat[m - 1]);
    printf("search CPU time per query (unaffected by other load): p50 %.2f ms, p95 %.2f ms, "
           "max %.2f ms\n",
           cpu[m / 2], cpu[(m * 95) / 100 < m ? (m * 95) / 100 : m - 1], cpu[m - 1]);
    ret = 0;
out:
    for (size_t i = 0; i < nq; i++)
        rh_free(qs[i]);
    rh_free(qs);
    rh_free(lat);
    rh_free(cpu);
    return ret;
}

int cmd_search(int argc, char **argv)
{
    const char *coll_name = NULL, *db = NULL, *bench = NULL;
    char dbbuf[4096];
    int json = 0, explain = 0, repeat = 1, ret = 1;
    rh_ksearch_opts o;
    rh_ksearch_opts_default(&o);
    rh_buf q;
    rh_buf_init(&q, 8192);
    rh_error err = {0};
    kstore *ks = NULL;
    rh_ksearcher *s = NULL;
    kstore_hit *hits = NULL;
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            ret = 0;
            goto out;
        } else if (strcmp(a, "--collection") == 0 && i + 1 < argc) {
            coll_name = argv[++i];
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(a, "--k") == 0 && i + 1 < argc) {
            char *end;
            long k = strtol(argv[++i], &end, 10);
            if (*end || k < 1 || k > 1000) {
                fprintf(stderr, "rathaus search: --k must be 1..1000\n");
                ret = 2;
                goto out;
            }
            o.k = (size_t)k;
        } else if (strcmp(a, "--tenant") == 0 && i + 1 < argc) {
            o.tenant = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(a, "--mode") == 0 && i + 1 < argc) {
            if (rh_ksearch_parse_mode(argv[++i], &o.features, &err) != RH_OK) {
                fprintf(stderr, "rathaus search: %s\n", err.msg);
                ret = 2;
                goto out;
            }
        } else if (strcmp(a, "--max-df") == 0 && i + 1 < argc) {
            o.max_df = strtod(argv[++i], NULL);
            o.max_df_from = 0; /* explicit: at any index size */
        } else if (strcmp(a, "--all-chunks") == 0) {
            o.all_chunks = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--explain") == 0) {
            explain = 1;
        } else if (strcmp(a, "--bench") == 0 && i + 1 < argc) {
            bench = argv[++i];
        } else if (strcmp(a, "--repeat") == 0 && i + 1 < argc) {
            repeat = (int)strtol(argv[++i], NULL, 10);
            if (repeat < 1 || repeat > 1000)
                repeat = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "rathaus search: unknown option %s\n", a);
            usage(stderr);
            ret = 2;
            goto out;
        } else {
            if ((q.len && rh_buf_appends(&q, " ")) || rh_buf_appends(&q, a)) {
                fprintf(stderr, "rathaus search: the query is too long\n");
                ret = 2;
                goto out;
            }
        }
    }
    if (!coll_name || (!q.len && !bench)) {
        usage(stderr);
        ret = 2;
        goto out;
    }
    if (!db)
        db = rh_knowledge_default_db(dbbuf, sizeof dbbuf);
    int64_t coll = 0;
    if (kstore_open(db, &ks, &err) != RH_OK ||
        kstore_collection_find(ks, o.tenant, coll_name, &coll, &err) != RH_OK ||
        rh_ksearcher_new(ks, &s, &err) != RH_OK) {
        fprintf(stderr, "rathaus search: %s\n", err.msg);
        goto out;
    }
    if (bench) {
        ret = run_bench(s, coll, &o, bench, repeat);
        goto out;
    }
    if (explain) {
        char *m = NULL, *x = NULL;
        if (rh_ksearch_explain(s, q.data, &o, &m, &x, &err) == RH_OK)
            printf("main: %s\nexpansion: %s\n", m, x);
        rh_free(m);
        rh_free(x);
    }
    double t0 = rh_monotonic_seconds();
    if (rh_ksearch(s, coll, q.data, &o, &hits, &n, &err) != RH_OK) {
        fprintf(stderr, "rathaus search: %s\n", err.msg);
        goto out;
    }
    double ms = (rh_monotonic_seconds() - t0) * 1000.0;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
            json_t *h = json_object();
            json_object_set_new(h, "rank", json_integer((json_int_t)i + 1));
            json_object_set_new(h, "score", json_real(hits[i].score));
            json_object_set_new(h, "path", json_string(hits[i].path));
            json_object_set_new(h, "title", json_string(hits[i].title));
            json_object_set_new(h, "heading", json_string(hits[i].heading));
            json_object_set_new(h, "page_from", json_integer(hits[i].page_from));
            json_object_set_new(h, "page_to", json_integer(hits[i].page_to));
            json_object_set_new(h, "chunk_id", json_integer(hits[i].chunk_id));
            json_object_set_new(h, "text", json_string(hits[i].text));
            json_array_append_new(arr, h);
        }
        char *out = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
        if (out)
            printf("%s\n", out);
        free(out); /* jansson's own allocation */
        json_decref(arr);
    } else {
        for (size_t i = 0; i < n; i++) {
            char ex[EXCERPT + 16];
            excerpt(hits[i].text, ex, sizeof ex);
            printf("%2zu. %7.3f  %s", i + 1, hits[i].score, hits[i].path);
            if (hits[i].page_from && hits[i].page_to > hits[i].page_from)
                printf(" (p. %d-%d)", hits[i].page_from, hits[i].page_to);
            else if (hits[i].page_from)
                printf(" (p. %d)", hits[i].page_from);
            printf("\n    %s\n    %s\n", hits[i].heading, ex);
        }
        if (!n)
            printf("no passages found\n");
        fprintf(stderr, "(%zu results in %.1f ms)\n", n, ms);
    }
    ret = 0;
out:
    rh_ksearch_hits_free(hits, n);
    rh_ksearcher_free(s);
    kstore_close(ks);
    rh_buf_free(&q);
    return ret;
}
