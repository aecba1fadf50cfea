/*
 * ingest.c - files and folders into a collection: walk, checksum, extract,
 * chunk, store; per-file errors recorded, never fatal (see ingest.h).
 */
#include "knowledge/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "knowledge/extract.h"

#define MAX_DEPTH 64

void rh_ingest_opts_default(rh_ingest_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tenant = 1;
    o->max_file_bytes = 64u << 20;
    o->max_text_bytes = 32u << 20;
    o->max_file_seconds = 60;
    rh_chunk_opts_default(&o->chunk);
    o->prune = 1;
}

void rh_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    static const char dig[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof h; i++) {
        hex[2 * i] = dig[h[i] >> 4];
        hex[2 * i + 1] = dig[h[i] & 15];
    }
    hex[64] = '\0';
}

typedef struct run {
    kstore *ks;
    int64_t coll;
    const rh_ingest_opts *o;
    rh_ingest_report_fn report;
    void *ctx;
    rh_ingest_summary *sum;
    char **seen; /* paths met during folder walks */
    size_t n_seen, cap_seen;
} run;

static void report(run *r, const char *path, int status, const char *msg, size_t n)
{
    switch (status) {
    case RH_INGEST_OK: r->sum->ok++; break;
    case RH_INGEST_UNCHANGED: r->sum->unchanged++; break;
    case RH_INGEST_ERROR: r->sum->errors++; break;
    case RH_INGEST_SKIPPED: r->sum->skipped++; break;
    case RH_INGEST_REMOVED: r->sum->removed++; break;
    }
    if (r->report)
        r->report(r->ctx, path, status, msg, n);
}

static int read_file(const char *path, size_t max, char **out, size_t *len, rh_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return rh_error_set(err, RH_EIO, "cannot open: %s", strerror(errno));
    struct stat st;
    int rc = RH_OK;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = rh_error_set(err, RH_EIO, "not a regular file");
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = rh_error_set(err, RH_ELIMIT, "file too large (%lld bytes, limit %zu)",
                          (long long)st.st_size, max);
        goto out;
    }
    size_t cap = (size_t)st.st_size + 2, n = 0;
    buf = rh_malloc(cap);
    if (!buf) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            rc = rh_error_set(err, RH_EIO, "read failed: %s", strerror(errno));
            goto out;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n > (size_t)st.st_size) { /* the file grew while reading */
            rc = rh_error_set(err, RH_EIO, "the file changed while it was read");
            goto out;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
out:
    rh_free(buf);
    close(fd);
    return rc;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Ingest one regular file (absolute path). Store errors are returned;
 * problems of the file itself are reported and give RH_OK. */
static int ingest_file(run *r, const char *path, const struct stat *st, int explicit_arg)
{
    const rh_extractor *ex = rh_extract_for_path(path);
    if (!ex) {
        if (explicit_arg)
            report(r, path, RH_INGEST_SKIPPED, "unsupported format (by file name extension)", 0);
        else
            r->sum->skipped++;
        return RH_OK;
    }
    rh_error ferr = {0}, serr = {0};
    char *data = NULL, *title = NULL;
    size_t len = 0;
    rh_kdoc doc;
    rh_kchunks chunks = {0};
    kstore_chunk_in *in = NULL;
    kstore_doc old = {0};
    int rc = RH_OK, frc;
    kstore_doc meta = {0};
    meta.path = (char *)path;
    meta.type = (char *)ex->type;
    meta.size = st->st_size;
    meta.mtime = st->st_mtime;
    meta.title = (char *)base_name(path);
    double t0 = rh_monotonic_seconds();
    rh_kdoc_init(&doc, r->o->max_text_bytes, t0 + r->o->max_file_seconds);

    if ((frc = read_file(path, r->o->max_file_bytes, &data, &len, &ferr)))
        goto fail;
    char hex[65];
    rh_sha256_hex(data, len, hex);
    meta.sha256 = hex;
    int grc = kstore_document_get(r->ks, r->o->tenant, r->coll, path, &old, &serr);
    if (grc == RH_OK && old.status && strcmp(old.status, "ok") == 0 && old.sha256 &&
        strcmp(old.sha256, hex) == 0) {
        report(r, path, RH_INGEST_UNCHANGED, NULL, (size_t)old.n_chunks);
        goto out;
    }
    if (grc != RH_OK && grc != RH_ENOTFOUND) {
        rc = grc;
        goto out;
    }
    if (len == 0) {
        frc = rh_error_set(&ferr, RH_EFORMAT, "the file is empty");
        goto fail;
    }
    if ((frc = ex->fn(data, len, &doc, &ferr)))
        goto fail;
    if (doc.n == 0) {
        frc = rh_error_set(&ferr, RH_EFORMAT, "no text found in the file");
        goto fail;
    }
    if ((frc = rh_chunk_doc(&doc, base_name(path), &r->o->chunk, &chunks, &ferr)))
        goto fail;
    if ((frc = rh_kdoc_check_time(&doc, &ferr)))
        goto fail;
    if (chunks.n == 0) {
        frc = rh_error_set(&ferr, RH_EFORMAT, "no text found in the file");
        goto fail;
    }
    /* title as indexed: "Title (ABBREV)" so the abbreviation is a term */
    const char *t = doc.title && *doc.title ? doc.title : base_name(path);
    size_t tl = strlen(t) + (doc.abbrev ? strlen(doc.abbrev) : 0) + 4;
    title = rh_malloc(tl);
    in = rh_calloc(chunks.n, sizeof *in);
    if (!title || !in) {
        rc = RH_ENOMEM;
        goto out;
    }
    if (doc.abbrev && *doc.abbrev && !strstr(t, doc.abbrev))
        snprintf(title, tl, "%s (%s)", t, doc.abbrev);
    else
        snprintf(title, tl, "%s", t);
    meta.title = title;
    for (size_t i = 0; i < chunks.n; i++)
        in[i] = (kstore_chunk_in){chunks.v[i].heading, chunks.v[i].page_from,
                                  chunks.v[i].page_to, chunks.v[i].text};
    if ((rc = kstore_document_put(r->ks, r->o->tenant, r->coll, &meta, in, chunks.n, NULL,
                                  &serr)))
        goto out;
    r->sum->chunks += chunks.n;
    r->sum->bytes += len;
    report(r, path, RH_INGEST_OK, NULL, chunks.n);
    goto out;
fail:
    (void)frc;
    rc = kstore_document_fail(r->ks, r->o->tenant, r->coll, &meta, ferr.msg, &serr);
    report(r, path, RH_INGEST_ERROR, ferr.msg[0] ? ferr.msg : rh_strerror(frc), 0);
out:
    if (rc && r->report)
        r->report(r->ctx, path, RH_INGEST_ERROR, serr.msg, 0);
    kstore_doc_clear(&old);
    rh_free(in);
    rh_free(title);
    rh_kchunks_free(&chunks);
    rh_kdoc_free(&doc);
    rh_free(data);
    return rc;
}

static int add_seen(run *r, const char *path)
{
    if (r->n_seen == r->cap_seen) {
        size_t nc = r->cap_seen ? r->cap_seen * 2 : 256;
        char **nv = rh_realloc_array(r->seen, nc, sizeof *nv);
        if (!nv)
            return RH_ENOMEM;
        r->seen = nv;
        r->cap_seen = nc;
    }
    if (!(r->seen[r->n_seen] = rh_strdup(path)))
        return RH_ENOMEM;
    r->n_seen++;
    return RH_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(run *r, const char *dir, int depth, rh_error *err)
{
    if (depth > MAX_DEPTH)
        return RH_OK;
    DIR *d = opendir(dir);
    if (!d) {
        report(r, dir, RH_INGEST_ERROR, strerror(errno), 0);
        return RH_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = RH_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nv = rh_realloc_array(names, nc, sizeof *nv);
            if (!nv) {
                rc = rh_error_set(err, RH_ENOMEM, "out of memory");
                goto out;
            }
            names = nv;
            cap = nc;
        }
        if (!(names[n] = rh_strdup(e->d_name))) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = walk(r, path, depth + 1, err);
        } else if (S_ISREG(st.st_mode)) {
            if ((rc = add_seen(r, path)))
                rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            else
                rc = ingest_file(r, path, &st, 0);
        }
    }
out:
    for (size_t i = 0; i < n; i++)
        rh_free(names[i]);
    rh_free(names);
    closedir(d);
    return rc;
}

/* Remove documents below dir whose files were not met in the walk. */
static int prune(run *r, const char *dir, rh_error *err)
{
    kstore_doc *docs = NULL;
    size_t n = 0;
    int rc = kstore_document_list(r->ks, r->o->tenant, r->coll, &docs, &n, err);
    if (rc)
        return rc;
    size_t dl = strlen(dir);
    if (r->n_seen > 1)
        qsort(r->seen, r->n_seen, sizeof *r->seen, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        const char *p = docs[i].path;
        if (!p || strncmp(p, dir, dl) != 0 || p[dl] != '/')
            continue;
        const char *key = p;
        if (r->n_seen && bsearch(&key, r->seen, r->n_seen, sizeof *r->seen, cmp_str))
            continue;
        struct stat st;
        if (lstat(p, &st) == 0)
            continue; /* still there (e.g. hidden or skipped) */
        if ((rc = kstore_document_delete(r->ks, r->o->tenant, docs[i].id, err)) == RH_OK)
            report(r, p, RH_INGEST_REMOVED, NULL, 0);
    }
    kstore_doc_list_free(docs, n);
    return rc;
}

int rh_ingest_paths(kstore *ks, int64_t coll, const char *const *paths, size_t n,
                    const rh_ingest_opts *o, rh_ingest_report_fn rep, void *ctx,
                    rh_ingest_summary *sum, rh_error *err)
{
    rh_ingest_opts def;
    if (!o) {
        rh_ingest_opts_default(&def);
        o = &def;
    }
    memset(sum, 0, sizeof *sum);
    if (sodium_init() < 0)
        return rh_error_set(err, RH_EINTERNAL, "libsodium could not be initialised");
    run r = {ks, coll, o, rep, ctx, sum, NULL, 0, 0};
    double t0 = rh_monotonic_seconds();
    int rc = RH_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        char abs[PATH_MAX];
        if (!realpath(paths[i], abs)) {
            report(&r, paths[i], RH_INGEST_ERROR, strerror(errno), 0);
            continue;
        }
        struct stat st;
        if (stat(abs, &st) != 0) {
            report(&r, paths[i], RH_INGEST_ERROR, strerror(errno), 0);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            for (size_t j = 0; j < r.n_seen; j++)
                rh_free(r.seen[j]);
            r.n_seen = 0;
            rc = walk(&r, abs, 0, err);
            if (!rc && o->prune)
                rc = prune(&r, abs, err);
        } else if (S_ISREG(st.st_mode)) {
            rc = ingest_file(&r, abs, &st, 1);
            if (rc && err)
                rh_error_set(err, rc, "the knowledge store failed while ingesting %s", abs);
        } else {
            report(&r, paths[i], RH_INGEST_SKIPPED, "not a regular file or folder", 0);
        }
    }
    for (size_t j = 0; j < r.n_seen; j++)
        rh_free(r.seen[j]);
    rh_free(r.seen);
    sum->seconds = rh_monotonic_seconds() - t0;
    return rc;
}
