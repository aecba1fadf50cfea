/*
 * cmd_eval_retrieval.c - `rathaus eval-retrieval`: recall@5, recall@10 and
 * MRR@10 of the knowledge search over a question file.
 *
 *   rathaus eval-retrieval --collection NAME [--db PATH] QUESTIONS.jsonl
 *                          [--mode MODE | --table] [--verbose]
 *
 * --table measures the plain baseline and each added step one after the
 * other and prints a Markdown table (the one in docs/knowledge.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "knowledge/eval.h"
#include "knowledge/search.h"
#include "store/kstore.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rathaus eval-retrieval --collection NAME [--db PATH] QUESTIONS.jsonl\n"
            "                              [--mode MODE | --table] [--verbose]\n"
            "  --mode MODE  plain|stem|stem+compound|stem+compound+synonyms|full, or a '+'\n"
            "               list of stem, compound, synonyms, weights, legal (default full)\n"
            "  --table      every step beside the plain baseline, as a Markdown table\n"
            "  --verbose    one line per question: rank of the first hit and the top result\n"
            "  --weights T,H,B   BM25 column weights (default 2,3,1)\n"
            "  --syn-weight W    weight of the synonym query (default 0.5)\n"
            "  --syn-per-term N  synonyms per query word (default 3)\n"
            "  --max-df F        drop query terms in more than F of all chunks, at any\n"
            "                    index size (default 0.15 from 20000 chunks on)\n"
            "  --embedding-model SPEC  also measure dense retrieval and its fusion with\n"
            "                    BM25 (RRF): a .gguf embedding model (vectors are computed\n"
            "                    for chunks that have none and stored in the database)\n"
            "  --unanswerable FILE  questions the collection cannot answer ({\"q\": ...}\n"
            "                    per line): table of the portal's relevance threshold\n");
}

static void on_question(void *ctx, const char *q, const char *doc, const char *section, int rank,
                        const kstore_hit *top, size_t n)
{
    (void)ctx;
    printf("%s %-14s %-7s %s", rank ? (rank == 1 ? "1 " : "+ ") : "- ", doc, section, q);
    if (rank != 1 && n) {
        const char *sl = strrchr(top[0].path, '/');
        printf("\n      top: %s | %s", sl ? sl + 1 : top[0].path, top[0].heading);
    }
    printf("   [rank %d]\n", rank);
}

int cmd_eval_retrieval(int argc, char **argv)
{
    const char *coll_name = NULL, *db = NULL, *file = NULL;
    char dbbuf[4096];
    int verbose = 0, table = 0, ret = 1;
    const char *emb_spec = NULL, *unanswerable = NULL;
    rh_ksearch_opts o;
    rh_ksearch_opts_default(&o);
    rh_error err = {0};
    kstore *ks = NULL;
    rh_ksearcher *s = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--collection") == 0 && i + 1 < argc) {
            coll_name = argv[++i];
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(a, "--tenant") == 0 && i + 1 < argc) {
            o.tenant = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(a, "--mode") == 0 && i + 1 < argc) {
            if (rh_ksearch_parse_mode(argv[++i], &o.features, &err) != RH_OK) {
                fprintf(stderr, "rathaus eval-retrieval: %s\n", err.msg);
                return 2;
            }
        } else if (strcmp(a, "--syn-weight") == 0 && i + 1 < argc) {
            o.syn_weight = strtod(argv[++i], NULL);
        } else if (strcmp(a, "--max-df") == 0 && i + 1 < argc) {
            o.max_df = strtod(argv[++i], NULL);
            o.max_df_from = 0; /* explicit: at any index size */
        } else if (strcmp(a, "--syn-max-df") == 0 && i + 1 < argc) {
            o.syn_max_df = strtod(argv[++i], NULL);
        } else if (strcmp(a, "--syn-per-term") == 0 && i + 1 < argc) {
            o.syn_per_term = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--weights") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%lf,%lf,%lf", &o.w_title, &o.w_heading, &o.w_body) != 3) {
                fprintf(stderr, "rathaus eval-retrieval: --weights TITLE,HEADING,BODY\n");
                return 2;
            }
        } else if (strcmp(a, "--embedding-model") == 0 && i + 1 < argc) {
            emb_spec = argv[++i];
        } else if (strcmp(a, "--unanswerable") == 0 && i + 1 < argc) {
            unanswerable = argv[++i];
        } else if (strcmp(a, "--table") == 0) {
            table = 1;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "rathaus eval-retrieval: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!coll_name || !file) {
        usage(stderr);
        return 2;
    }
    if (!db)
        db = rh_knowledge_default_db(dbbuf, sizeof dbbuf);
    int64_t coll = 0;
    if (kstore_open(db, &ks, &err) != RH_OK ||
        kstore_collection_find(ks, o.tenant, coll_name, &coll, &err) != RH_OK ||
        rh_ksearcher_new(ks, &s, &err) != RH_OK) {
        fprintf(stderr, "rathaus eval-retrieval: %s\n", err.msg);
        goto out;
    }
    if (emb_spec || unanswerable) {
        ret = eval_portal_run(ks, s, o.tenant, coll, file, emb_spec, unanswerable);
        goto out;
    }
    static const unsigned steps[] = {
        0,
        RH_KS_STEM,
        RH_KS_STEM | RH_KS_COMPOUND,
        RH_KS_STEM | RH_KS_COMPOUND | RH_KS_SYNONYMS,
        RH_KS_STEM | RH_KS_COMPOUND | RH_KS_SYNONYMS | RH_KS_WEIGHTS,
        RH_KS_FULL,
        RH_KS_STEM | RH_KS_COMPOUND | RH_KS_WEIGHTS,
        RH_KS_STEM | RH_KS_COMPOUND | RH_KS_WEIGHTS | RH_KS_LEGAL,
        RH_KS_WEIGHTS,
    };
    size_t nsteps = table ? sizeof steps / sizeof steps[0] : 1;
    if (table)
        printf("| mode | recall@1 | recall@5 | recall@10 | MRR@10 |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < nsteps; i++) {
        if (table)
            o.features = steps[i];
        rh_keval_result r;
        if (rh_keval_run(s, coll, file, &o, verbose ? on_question : NULL, NULL, &r, &err) !=
            RH_OK) {
            fprintf(stderr, "rathaus eval-retrieval: %s\n", err.msg);
            goto out;
        }
        char name[128];
        rh_ksearch_mode_name(o.features, name, sizeof name);
        if (table)
            printf("| %s | %.3f | %.3f | %.3f | %.3f |\n", name,
                   r.n ? (double)r.hit1 / (double)r.n : 0, r.n ? (double)r.hit5 / (double)r.n : 0,
                   r.n ? (double)r.hit10 / (double)r.n : 0, r.mrr10);
        else
            printf("mode %s: %zu questions, recall@1 %.3f, recall@5 %.3f, recall@10 %.3f, "
                   "MRR@10 %.3f (%.2f s)\n",
                   name, r.n, r.n ? (double)r.hit1 / (double)r.n : 0,
                   r.n ? (double)r.hit5 / (double)r.n : 0, r.n ? (double)r.hit10 / (double)r.n : 0,
                   r.mrr10, r.seconds);
    }
    ret = 0;
out:
    rh_ksearcher_free(s);
    kstore_close(ks);
    return ret;
}
