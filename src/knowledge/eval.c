/*
 * eval.c - retrieval evaluation over a JSONL question file (see eval.h).
 */
#include "knowledge/eval.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "knowledge/extract.h"

#define LINE_MAX_BYTES 65536
#define MAX_QUESTIONS 100000

const char *rh_knowledge_default_db(char *buf, size_t cap)
{
    const char *dir = getenv("RATHAUS_DATA_DIR");
    snprintf(buf, cap, "%s/knowledge.db", dir && *dir ? dir : "data");
    return buf;
}

static int is_tok_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (unsigned char)c >= 0x80;
}

int rh_keval_is_hit(const char *path, const char *heading, const char *doc, const char *section)
{
    if (!path || !heading || !doc || !section || !*section)
        return 0;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (strcmp(base, doc) != 0)
        return 0;
    size_t sl = strlen(section);
    for (const char *p = strstr(heading, section); p; p = strstr(p + 1, section)) {
        int before_ok = p == heading || !is_tok_char(p[-1]);
        int after_ok = !is_tok_char(p[sl]);
        if (before_ok && after_ok)
            return 1;
    }
    return 0;
}

int rh_keval_run(rh_ksearcher *s, int64_t coll, const char *jsonl_path,
                 const rh_ksearch_opts *o, rh_keval_report_fn report, void *ctx,
                 rh_keval_result *res, rh_error *err)
{
    memset(res, 0, sizeof *res);
    FILE *fp = fopen(jsonl_path, "rb");
    if (!fp)
        return rh_error_set(err, RH_EIO, "cannot open the question file %s", jsonl_path);
    char *line = rh_malloc(LINE_MAX_BYTES);
    int rc = RH_OK;
    size_t lineno = 0;
    double t0 = rh_monotonic_seconds();
    if (!line) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    rh_ksearch_opts oo = *o;
    if (oo.k < 10)
        oo.k = 10;
    while (fgets(line, LINE_MAX_BYTES, fp)) {
        lineno++;
        size_t l = strspn(line, " \t\r\n");
        if (!line[l])
            continue;
        if (res->n >= MAX_QUESTIONS) {
            rc = rh_error_set(err, RH_ELIMIT, "more than %d questions", MAX_QUESTIONS);
            goto out;
        }
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        const char *q = j ? json_string_value(json_object_get(j, "q")) : NULL;
        const char *doc = j ? json_string_value(json_object_get(j, "doc")) : NULL;
        const char *sec = j ? json_string_value(json_object_get(j, "section")) : NULL;
        if (!q || !doc || !sec) {
            json_decref(j);
            rc = rh_error_set(err, RH_EFORMAT,
                              "%s line %zu: expected {\"q\": ..., \"doc\": ..., \"section\": ...}",
                              jsonl_path, lineno);
            goto out;
        }
        kstore_hit *hits = NULL;
        size_t n = 0;
        rc = rh_ksearch(s, coll, q, &oo, &hits, &n, err);
        if (rc) {
            json_decref(j);
            goto out;
        }
        int rank = 0;
        for (size_t i = 0; i < n && i < 10 && !rank; i++)
            if (rh_keval_is_hit(hits[i].path, hits[i].heading, doc, sec))
                rank = (int)i + 1;
        res->n++;
        if (rank == 1)
            res->hit1++;
        if (rank && rank <= 5)
            res->hit5++;
        if (rank)
            res->hit10++;
        if (rank)
            res->mrr10 += 1.0 / rank;
        if (report)
            report(ctx, q, doc, sec, rank, hits, n);
        rh_ksearch_hits_free(hits, n);
        json_decref(j);
    }
    if (res->n)
        res->mrr10 /= (double)res->n;
out:
    res->seconds = rh_monotonic_seconds() - t0;
    rh_free(line);
    fclose(fp);
    return rc;
}
