/*
 * cmd_ingest.c - `rathaus ingest`: bring files and folders into a
 * knowledge collection.
 *
 *   rathaus ingest --collection NAME [--db PATH] [--tenant N] [--quiet]
 *                  [--chunk-size N] [--overlap N] [--max-file-mb N]
 *                  [--time-limit S] [--no-prune] PATH...
 *
 * Prints one line per file (ok / unchanged / error with the reason /
 * skipped / removed) and a summary. Exit 0 when the store worked (files
 * with errors are reported, not fatal), 1 on a store failure, 2 on usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "knowledge/eval.h"
#include "knowledge/ingest.h"
#include "store/kstore.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rathaus ingest --collection NAME [--db PATH] [options] PATH...\n"
            "  --collection NAME  the collection (created when new)\n"
            "  --db PATH          knowledge database (default $RATHAUS_DATA_DIR/knowledge.db\n"
            "                     or data/knowledge.db)\n"
            "  --tenant N         tenant id (default 1)\n"
            "  --chunk-size N     target chunk size in characters (default 1200)\n"
            "  --overlap N        overlap between pieces of a long section (default 200)\n"
            "  --max-file-mb N    size limit per file (default 64)\n"
            "  --time-limit S     time limit per file in seconds (default 60)\n"
            "  --no-prune         keep documents whose files vanished from a folder\n"
            "  --quiet            print only errors and the summary\n"
            "Folders are read recursively; supported: .txt .md .html .htm (and plug-ins).\n");
}

typedef struct rep_ctx {
    int quiet;
} rep_ctx;

static void on_file(void *ctx, const char *path, int status, const char *msg, size_t n)
{
    rep_ctx *c = ctx;
    switch (status) {
    case RH_INGEST_OK:
        if (!c->quiet)
            printf("ok         %s (%zu chunks)\n", path, n);
        break;
    case RH_INGEST_UNCHANGED:
        if (!c->quiet)
            printf("unchanged  %s\n", path);
        break;
    case RH_INGEST_ERROR: printf("error      %s: %s\n", path, msg ? msg : "failed"); break;
    case RH_INGEST_SKIPPED:
        if (!c->quiet)
            printf("skipped    %s: %s\n", path, msg ? msg : "");
        break;
    case RH_INGEST_REMOVED:
        if (!c->quiet)
            printf("removed    %s\n", path);
        break;
    }
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cmd_ingest(int argc, char **argv)
{
    const char *coll_name = NULL, *db = NULL;
    char dbbuf[4096];
    rh_ingest_opts o;
    rh_ingest_opts_default(&o);
    rep_ctx rc_ctx = {0};
    const char **paths = rh_calloc((size_t)argc + 1, sizeof *paths);
    size_t np = 0;
    int ret = 1;
    kstore *ks = NULL;
    rh_error err = {0};
    if (!paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            ret = 0;
            goto out;
        } else if (strcmp(a, "--collection") == 0 && i + 1 < argc) {
            coll_name = argv[++i];
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(a, "--tenant") == 0 && i + 1 < argc && !parse_num(argv[++i], 1, 1e15, &v)) {
            o.tenant = (int64_t)v;
        } else if (strcmp(a, "--chunk-size") == 0 && i + 1 < argc &&
                   !parse_num(argv[++i], 100, 1e6, &v)) {
            o.chunk.target = (size_t)v;
        } else if (strcmp(a, "--overlap") == 0 && i + 1 < argc && !parse_num(argv[++i], 0, 1e5, &v)) {
            o.chunk.overlap = (size_t)v;
        } else if (strcmp(a, "--max-file-mb") == 0 && i + 1 < argc &&
                   !parse_num(argv[++i], 0.001, 4096, &v)) {
            o.max_file_bytes = (size_t)(v * 1048576.0);
        } else if (strcmp(a, "--time-limit") == 0 && i + 1 < argc &&
                   !parse_num(argv[++i], 0.01, 86400, &v)) {
            o.max_file_seconds = v;
        } else if (strcmp(a, "--no-prune") == 0) {
            o.prune = 0;
        } else if (strcmp(a, "--quiet") == 0) {
            rc_ctx.quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "rathaus ingest: bad option or value: %s\n", a);
            usage(stderr);
            ret = 2;
            goto out;
        } else {
            paths[np++] = a;
        }
    }
    if (!coll_name || !np) {
        usage(stderr);
        ret = 2;
        goto out;
    }
    if (!db) {
        db = rh_knowledge_default_db(dbbuf, sizeof dbbuf);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", db);
        char *sl = strrchr(dir, '/');
        if (sl) {
            *sl = '\0';
            mkdir(dir, 0750);
        }
    }
    if (kstore_open(db, &ks, &err) != RH_OK) {
        fprintf(stderr, "rathaus ingest: %s\n", err.msg);
        goto out;
    }
    int64_t coll = 0;
    if (kstore_collection_ensure(ks, o.tenant, coll_name, NULL, &coll, &err) != RH_OK) {
        fprintf(stderr, "rathaus ingest: %s\n", err.msg);
        goto out;
    }
    rh_ingest_summary sum;
    clock_t c0 = clock();
    int rc = rh_ingest_paths(ks, coll, paths, np, &o, on_file, &rc_ctx, &sum, &err);
    printf("%zu ok, %zu unchanged, %zu errors, %zu skipped, %zu removed; %zu chunks, "
           "%.2f MB in %.2f s (%.2f MB/s; CPU %.2f s)\n",
           sum.ok, sum.unchanged, sum.errors, sum.skipped, sum.removed, sum.chunks,
           (double)sum.bytes / 1e6, sum.seconds,
           sum.seconds > 0 ? (double)sum.bytes / 1e6 / sum.seconds : 0.0,
           (double)(clock() - c0) / CLOCKS_PER_SEC);
    if (rc != RH_OK) {
        fprintf(stderr, "rathaus ingest: %s\n", err.msg[0] ? err.msg : rh_strerror(rc));
        goto out;
    }
    ret = 0;
out:
    kstore_close(ks);
    rh_free(paths);
    return ret;
}
