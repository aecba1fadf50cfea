/*
 * api_knowledge.c - the knowledge API of the portal: collections with
 * owner/writer/reader groups, uploads (raw body per file, queued for the
 * ingestion worker), documents with status and errors, delete, re-index,
 * folder binding (admin, inside knowledge_roots), search, the original
 * files, and the grounding of chat answers (passages into the prompt,
 * `sources` event, "nothing found"). docs/api.md, section "Knowledge".
 *
 * Access: a user sees a collection only through one of their groups (or
 * as admin); every handler resolves the rights on the server and answers
 * 404 for collections the user may not read. Retrieval gets only the ids
 * of readable collections, so foreign passages are never read at all.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/list.h"
#include "core/log.h"
#include "knowledge/analyzer.h"
#include "knowledge/eval.h"
#include "knowledge/grounding.h"
#include "knowledge/kworker.h"
#include "store/kportal.h"
#include "web/web_int.h"

#define MAX_COLLS 32
#define NAME_MAX_LEN 200
#define DESC_MAX_LEN 2000

struct web_knowledge {
    char *db_path;
    char *files_dir;
    rh_kworker *worker;
    rh_kembedder *emb;
};

/* ------------------------------------------------------------ start/stop */

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0750) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0750) && errno != EEXIST ? -1 : 0;
}

int web_knowledge_start(web_server *w, rh_error *err)
{
    const rh_config *cfg = w->cfg;
    web_knowledge *k = rh_calloc(1, sizeof *k);
    char buf[PATH_MAX];
    int rc = RH_OK;
    if (!k)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    if (!cfg->data_dir && !cfg->knowledge_db) {
        rh_free(k);
        return rh_error_set(err, RH_EINVAL, "no data_dir configured");
    }
    const char *dd = cfg->data_dir ? cfg->data_dir : ".";
    if (cfg->knowledge_db)
        snprintf(buf, sizeof buf, "%s", cfg->knowledge_db);
    else
        snprintf(buf, sizeof buf, "%s/knowledge.db", dd);
    k->db_path = rh_strdup(buf);
    snprintf(buf, sizeof buf, "%s/knowledge/files", dd);
    k->files_dir = rh_strdup(buf);
    if (!k->db_path || !k->files_dir) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto fail;
    }
    mkdir_p(dd);
    if (mkdir_p(k->files_dir)) {
        rc = rh_error_set(err, RH_EIO, "cannot create %s: %s", k->files_dir, strerror(errno));
        goto fail;
    }
    if (cfg->embedding_model && *cfg->embedding_model &&
        (rc = rh_kembedder_open(cfg->embedding_model, cfg, &k->emb, err)))
        goto fail;
    rh_kworker_opts o;
    rh_kworker_opts_default(&o);
    o.db_path = k->db_path;
    o.sync_interval = cfg->sync_interval;
    o.ingest.chunk.target = (size_t)cfg->chunk_size;
    o.ingest.chunk.overlap = (size_t)cfg->chunk_overlap;
    o.ingest.max_file_bytes = cfg->max_upload_bytes;
    o.emb = k->emb;
    if ((rc = rh_kworker_start(&o, &k->worker, err)))
        goto fail;
    w->kn = k;
    return RH_OK;
fail:
    rh_kembedder_free(k->emb);
    rh_free(k->db_path);
    rh_free(k->files_dir);
    rh_free(k);
    return rc;
}

void web_knowledge_stop(web_server *w)
{
    web_knowledge *k = w->kn;
    if (!k)
        return;
    rh_kworker_stop(k->worker);
    rh_kembedder_free(k->emb);
    rh_free(k->db_path);
    rh_free(k->files_dir);
    rh_free(k);
    w->kn = NULL;
}

size_t web_body_limit(const web_server *w, const char *method, const char *url)
{
    /* POST /api/collections/ID/documents carries a file */
    size_t lim = w->cfg->max_body_bytes;
    if (method && url && !strcmp(method, "POST") && !strncmp(url, "/api/collections/", 17)) {
        const char *p = url + 17;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p > url + 17 && !strcmp(p, "/documents"))
            lim = w->cfg->max_upload_bytes;
    }
    return lim;
}

/* ------------------------------------------------------------ helpers */

static int is_admin(const web_req *r)
{
    return web_role_level(r->user.role) >= ROLE_ADMIN;
}

static enum MHD_Result kn_unavailable(web_req *r)
{
    return web_error_msg(r, 503, "knowledge_unavailable",
                         !strcmp(r->lang, "en") ? "The knowledge store is not available."
                                                : "Die Wissensdatenbank ist nicht verfügbar.");
}

/* Open the request's own connection (kstore handles are per thread). */
static kstore *kn_open(web_req *r)
{
    if (!r->srv->kn)
        return NULL;
    kstore *ks = NULL;
    rh_error e;
    if (kstore_open(r->srv->kn->db_path, &ks, &e)) {
        rh_warn("knowledge: %s", e.msg);
        return NULL;
    }
    return ks;
}

static int user_right(web_req *r, const kp_collection *c)
{
    return kp_right(c, r->user.groups, r->user.n_groups, is_admin(r));
}

static const char *right_name(int right)
{
    return right == KP_OWN ? "owner" : right == KP_WRITE ? "writer" : right == KP_READ ? "reader" : "none";
}

/* The collection r->id[0] if the user has at least `need`; else an answer
 * is queued into *ret (404 when the user may not even read it). */
static int load_coll(web_req *r, kstore *ks, int64_t id, int need, kp_collection *c, enum MHD_Result *ret)
{
    rh_error e;
    if (kp_collection_get(ks, 1, id, c, &e)) {
        *ret = web_error(r, 404, "not_found");
        return -1;
    }
    int right = user_right(r, c);
    if (right < KP_READ) {
        kp_collection_clear(c);
        *ret = web_error(r, 404, "not_found");
        return -1;
    }
    if (right < need) {
        kp_collection_clear(c);
        *ret = web_error(r, 403, "forbidden");
        return -1;
    }
    return 0;
}

static json_t *ids_json(const kp_ids *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_integer(l->v[i]));
    return a;
}

static json_t *coll_json(web_req *r, const kp_collection *c)
{
    int right = user_right(r, c);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "id", (json_int_t)c->id, "name", c->name,
                          "description", c->description, "right", right_name(right), "documents",
                          (json_int_t)c->documents, "documents_error", (json_int_t)c->documents_error, "chunks",
                          (json_int_t)c->chunks, "created_at", web_time(c->created_at));
    if (right >= KP_OWN) {
        json_object_set_new(o, "owners", ids_json(&c->owners));
        json_object_set_new(o, "writers", ids_json(&c->writers));
        json_object_set_new(o, "readers", ids_json(&c->readers));
    }
    json_object_set_new(o, "folder", c->folder && is_admin(r) ? json_string(c->folder) : json_null());
    json_object_set_new(o, "synced", json_boolean(c->folder != NULL));
    return o;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static json_t *doc_json(const kstore_doc *d)
{
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:s, s:s?, s:I, s:o}", "id", (json_int_t)d->id,
                          "collection_id", (json_int_t)d->collection_id, "title", d->title ? d->title : "", "name",
                          base_name(d->path), "type", d->type ? d->type : "", "size", (json_int_t)d->size, "status",
                          d->status ? d->status : "", "error", d->error, "chunks", (json_int_t)d->n_chunks,
                          "ingested_at", web_time(d->ingested_at));
    if (o)
        json_object_set_new(o, "url", json_sprintf("/api/documents/%lld/file", (long long)d->id));
    return o;
}

static json_t *job_json(const kp_job *j)
{
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s?, s:I, s:I, s:o, s:o}", "id", (json_int_t)j->id,
                     "collection_id", (json_int_t)j->collection_id, "kind", j->kind, "name",
                     j->name[0] ? j->name : base_name(j->path), "status", j->status, "message", j->message,
                     "chunks", (json_int_t)j->n_chunks, "attempts", (json_int_t)j->attempts, "created_at",
                     web_time(j->created_at), "finished_at",
                     j->finished_at ? web_time(j->finished_at) : json_null());
}

/* A JSON array of group ids -> kp_ids (checks the groups exist). */
static int parse_groups(web_req *r, json_t *a, kp_ids *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(a) || json_array_size(a) > 256)
        return RH_EINVAL;
    out->v = rh_calloc(json_array_size(a) + 1, sizeof *out->v);
    if (!out->v)
        return RH_ENOMEM;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        store_group g;
        if (!json_is_integer(v) || store_group_get(r->srv->st, 1, json_integer_value(v), &g)) {
            rh_free(out->v);
            out->v = NULL;
            return RH_EINVAL;
        }
        store_group_free(&g);
        out->v[out->n++] = json_integer_value(v);
    }
    return RH_OK;
}

/* ------------------------------------------------------------ collections */

static enum MHD_Result api_collections(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kp_collection *cs = NULL;
    size_t n = 0;
    rh_error e;
    if (kp_collection_list(ks, 1, &cs, &n, &e)) {
        kstore_close(ks);
        return web_error(r, 500, "internal");
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (user_right(r, &cs[i]) >= KP_READ)
            json_array_append_new(a, coll_json(r, &cs[i]));
    kp_collection_list_free(cs, n);
    kstore_close(ks);
    return web_json(r, 200, json_pack("{s:o, s:b}", "collections", a, "dense", r->srv->kn->emb != NULL));
}

static int apply_access(web_req *r, kstore *ks, int64_t id, json_t *b, enum MHD_Result *ret)
{
    kp_ids l[3] = {{0}};
    const char *keys[3] = {"owners", "writers", "readers"};
    int have[3] = {0}, rc = RH_OK;
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(b, keys[i]);
        if (!v)
            continue;
        if ((rc = parse_groups(r, v, &l[i]))) {
            *ret = web_error(r, 400, "bad_group");
            goto out;
        }
        have[i] = 1;
    }
    rh_error e;
    if ((have[0] || have[1] || have[2]) &&
        kp_collection_set_access(ks, 1, id, have[0] ? &l[0] : NULL, have[1] ? &l[1] : NULL,
                                 have[2] ? &l[2] : NULL, &e)) {
        *ret = web_error(r, 500, "internal");
        rc = RH_EIO;
    }
out:
    for (int i = 0; i < 3; i++)
        rh_free(l[i].v);
    return rc;
}

static enum MHD_Result reply_coll(web_req *r, kstore *ks, int64_t id, unsigned status)
{
    kp_collection c;
    rh_error e;
    if (kp_collection_get(ks, 1, id, &c, &e))
        return web_error(r, 500, "internal");
    enum MHD_Result ret = web_json(r, status, coll_json(r, &c));
    kp_collection_clear(&c);
    return ret;
}

static enum MHD_Result api_collection_create(web_req *r)
{
    enum MHD_Result ret;
    const char *name = NULL, *desc = "";
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "name", NAME_MAX_LEN, &name) || !*name ||
        web_str(b, "description", DESC_MAX_LEN, &desc) == RH_EINVAL) {
        json_decref(b);
        return web_error(r, 400, "bad_request");
    }
    kstore *ks = kn_open(r);
    if (!ks) {
        json_decref(b);
        return kn_unavailable(r);
    }
    int64_t id = 0;
    rh_error e;
    int rc = kp_collection_create(ks, 1, name, desc, r->user.id, &id, &e);
    if (rc == RH_EEXIST)
        ret = web_error_msg(r, 409, "name_taken",
                            !strcmp(r->lang, "en") ? "A collection with this name exists already."
                                                   : "Eine Sammlung mit diesem Namen gibt es schon.");
    else if (rc)
        ret = web_error(r, 500, "internal");
    else if (apply_access(r, ks, id, b, &ret) == RH_OK) {
        web_audit(r, "collection_create", name, NULL);
        ret = reply_coll(r, ks, id, 201);
    }
    kstore_close(ks);
    json_decref(b);
    return ret;
}

static enum MHD_Result api_collection_get(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kp_collection c;
    enum MHD_Result ret;
    if (load_coll(r, ks, r->id[0], KP_READ, &c, &ret) == 0) {
        ret = web_json(r, 200, coll_json(r, &c));
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    return ret;
}

static enum MHD_Result api_collection_patch(web_req *r)
{
    enum MHD_Result ret;
    const char *name = NULL, *desc = NULL;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "name", NAME_MAX_LEN, &name) == RH_EINVAL || (name && !*name) ||
        web_str(b, "description", DESC_MAX_LEN, &desc) == RH_EINVAL) {
        json_decref(b);
        return web_error(r, 400, "bad_request");
    }
    kstore *ks = kn_open(r);
    if (!ks) {
        json_decref(b);
        return kn_unavailable(r);
    }
    kp_collection c;
    rh_error e;
    if (load_coll(r, ks, r->id[0], KP_OWN, &c, &ret) == 0) {
        int rc = kp_collection_update(ks, 1, c.id, name, desc, &e);
        if (rc == RH_EEXIST)
            ret = web_error_msg(r, 409, "name_taken",
                                !strcmp(r->lang, "en") ? "A collection with this name exists already."
                                                       : "Eine Sammlung mit diesem Namen gibt es schon.");
        else if (rc)
            ret = web_error(r, 500, "internal");
        else if (apply_access(r, ks, c.id, b, &ret) == RH_OK) {
            web_audit(r, "collection_update", c.name, NULL);
            ret = reply_coll(r, ks, c.id, 200);
        }
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    json_decref(b);
    return ret;
}

/* Is `path` (a real path) inside one of the comma separated roots? */
static int inside_roots(const char *path, const char *roots)
{
    const char *p = roots, *item;
    size_t len;
    while ((item = rh_list_next(&p, &len))) {
        char one[PATH_MAX], real[PATH_MAX];
        if (len > 0 && len < sizeof one) {
            memcpy(one, item, len);
            one[len] = '\0';
            if (realpath(one, real)) {
                size_t n = strlen(real);
                if (!strncmp(path, real, n) && (path[n] == '/' || path[n] == '\0' || !strcmp(real, "/")))
                    return 1;
            }
        }
    }
    return 0;
}

static enum MHD_Result api_collection_delete(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kp_collection c;
    enum MHD_Result ret;
    rh_error e;
    if (load_coll(r, ks, r->id[0], KP_OWN, &c, &ret) == 0) {
        if (kp_collection_delete(ks, 1, c.id, &e)) {
            ret = web_error(r, 500, "internal");
        } else {
            /* the uploaded originals go too (flat: uploads have no sub-folders) */
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s/%lld", r->srv->kn->files_dir, (long long)c.id);
            int dfd = open(dir, O_RDONLY | O_DIRECTORY);
            if (dfd >= 0) {
                DIR *d = fdopendir(dfd);
                struct dirent *de;
                while (d && (de = readdir(d)))
                    if (de->d_name[0] != '.' || strncmp(de->d_name, ".upload-", 8) == 0)
                        unlinkat(dfd, de->d_name, 0);
                if (d)
                    closedir(d);
                else
                    close(dfd);
                rmdir(dir);
            }
            web_audit(r, "collection_delete", c.name, NULL);
            ret = web_no_content(r);
        }
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    return ret;
}

static enum MHD_Result api_collection_folder(web_req *r)
{
    enum MHD_Result ret;
    const char *folder = NULL;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "folder", PATH_MAX - 1, &folder) == RH_EINVAL) {
        json_decref(b);
        return web_error(r, 400, "bad_request");
    }
    char real[PATH_MAX] = "";
    int en = !strcmp(r->lang, "en");
    if (folder && *folder) {
        struct stat sb;
        if (!realpath(folder, real) || stat(real, &sb) || !S_ISDIR(sb.st_mode)) {
            json_decref(b);
            return web_error_msg(r, 400, "bad_folder", en ? "The folder does not exist." : "Den Ordner gibt es nicht.");
        }
        if (!r->srv->cfg->knowledge_roots || !inside_roots(real, r->srv->cfg->knowledge_roots)) {
            json_decref(b);
            return web_error_msg(r, 403, "folder_not_allowed",
                                 en ? "The folder is not inside an allowed root (knowledge_roots)."
                                    : "Der Ordner liegt nicht in einem erlaubten Verzeichnis (knowledge_roots).");
        }
    }
    kstore *ks = kn_open(r);
    if (!ks) {
        json_decref(b);
        return kn_unavailable(r);
    }
    kp_collection c;
    rh_error e;
    if (load_coll(r, ks, r->id[0], KP_OWN, &c, &ret) == 0) {
        if (kp_collection_set_folder(ks, 1, c.id, real[0] ? real : NULL, &e)) {
            ret = web_error(r, 500, "internal");
        } else {
            web_audit(r, "collection_folder", c.name, real[0] ? real : "-");
            rh_kworker_sync_now(r->srv->kn->worker);
            ret = reply_coll(r, ks, c.id, 200);
        }
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    json_decref(b);
    return ret;
}

static enum MHD_Result api_collection_sync(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kp_collection c;
    enum MHD_Result ret;
    if (load_coll(r, ks, r->id[0], KP_WRITE, &c, &ret) == 0) {
        rh_kworker_sync_now(r->srv->kn->worker);
        ret = web_json(r, 202, json_pack("{s:b}", "queued", 1));
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    return ret;
}

/* ------------------------------------------------------------ documents */

static enum MHD_Result api_documents(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kp_collection c;
    enum MHD_Result ret;
    rh_error e;
    if (load_coll(r, ks, r->id[0], KP_READ, &c, &ret) == 0) {
        kstore_doc *d = NULL;
        kp_job *j = NULL;
        size_t nd = 0, nj = 0;
        if (kstore_document_list(ks, 1, c.id, &d, &nd, &e) || kp_job_list(ks, 1, c.id, 200, &j, &nj, &e)) {
            ret = web_error(r, 500, "internal");
        } else {
            json_t *da = json_array(), *ja = json_array();
            for (size_t i = 0; i < nd; i++)
                json_array_append_new(da, doc_json(&d[i]));
            if (user_right(r, &c) >= KP_WRITE)
                for (size_t i = 0; i < nj; i++)
                    json_array_append_new(ja, job_json(&j[i]));
            ret = web_json(r, 200, json_pack("{s:o, s:o}", "documents", da, "jobs", ja));
        }
        kstore_doc_list_free(d, nd);
        kp_job_list_free(j, nj);
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    return ret;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The upload's file name: X-Filename (percent-encoded UTF-8), reduced to a
 * safe base name; 0 when there is none usable. */
static int upload_name(web_req *r, char *out, size_t cap)
{
    const char *h = web_header(r, "X-Filename");
    size_t n = 0;
    if (!h)
        return 0;
    for (size_t i = 0; h[i] && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '%' && hexval(h[i + 1]) >= 0 && hexval(h[i + 2]) >= 0) {
            c = (unsigned char)(hexval(h[i + 1]) * 16 + hexval(h[i + 2]));
            i += 2;
        }
        if (c == '/' || c == '\\')
            n = 0; /* keep only the last path segment */
        else if (c < 0x20 || c == 0x7f)
            out[n++] = '_';
        else
            out[n++] = (char)c;
    }
    out[n] = '\0';
    json_t *valid = json_string(out); /* must be UTF-8 */
    int ok = valid && n > 0 && out[0] != '.' && strcmp(out, "..");
    json_decref(valid);
    return ok;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len, char *path, size_t cap)
{
    char tmp[PATH_MAX];
    if (mkdir_p(dir))
        return -1;
    if ((size_t)snprintf(path, cap, "%s/%s", dir, name) >= cap ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.upload-%s", dir, name) >= sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) || close(fd) || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static enum MHD_Result api_upload(web_req *r)
{
    char name[256], dir[PATH_MAX], path[PATH_MAX];
    int en = !strcmp(r->lang, "en");
    if (!upload_name(r, name, sizeof name))
        return web_error_msg(r, 400, "bad_filename",
                             en ? "The file name is missing (header X-Filename)." : "Der Dateiname fehlt (Header X-Filename).");
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kp_collection c;
    enum MHD_Result ret;
    rh_error e;
    if (load_coll(r, ks, r->id[0], KP_WRITE, &c, &ret) == 0) {
        snprintf(dir, sizeof dir, "%s/%lld", r->srv->kn->files_dir, (long long)c.id);
        int64_t job = 0;
        if (write_file(dir, name, r->body.data ? r->body.data : "", r->body.len, path, sizeof path)) {
            ret = web_error(r, 500, "internal");
        } else {
            char real[PATH_MAX];
            if (!realpath(path, real))
                snprintf(real, sizeof real, "%s", path);
            if (kp_job_add(ks, 1, c.id, "file", real, name, &job, &e)) {
                ret = web_error(r, 500, "internal");
            } else {
                web_audit(r, "document_upload", c.name, name);
                rh_kworker_wake(r->srv->kn->worker);
                kp_job j;
                if (kp_job_get(ks, 1, job, &j, &e) == RH_OK) {
                    ret = web_json(r, 202, json_pack("{s:o}", "job", job_json(&j)));
                    kp_job_clear(&j);
                } else {
                    ret = web_error(r, 500, "internal");
                }
            }
        }
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    return ret;
}

static enum MHD_Result api_job_get(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kp_job j;
    kp_collection c;
    enum MHD_Result ret;
    rh_error e;
    if (kp_job_get(ks, 1, r->id[0], &j, &e)) {
        ret = web_error(r, 404, "not_found");
    } else {
        if (load_coll(r, ks, j.collection_id, KP_WRITE, &c, &ret) == 0) {
            ret = web_json(r, 200, job_json(&j));
            kp_collection_clear(&c);
        }
        kp_job_clear(&j);
    }
    kstore_close(ks);
    return ret;
}

/* The document r->id[0] with at least `need` on its collection. */
static int load_doc(web_req *r, kstore *ks, int need, kstore_doc *d, kp_collection *c, enum MHD_Result *ret)
{
    rh_error e;
    if (kp_document_by_id(ks, 1, r->id[0], d, &e)) {
        *ret = web_error(r, 404, "not_found");
        return -1;
    }
    if (load_coll(r, ks, d->collection_id, need, c, ret)) {
        kstore_doc_clear(d);
        return -1;
    }
    return 0;
}

static int under_dir(const char *path, const char *dir)
{
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return 0;
    size_t n = strlen(real);
    return !strncmp(path, real, n) && path[n] == '/';
}

static enum MHD_Result api_document_delete(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kstore_doc d;
    kp_collection c;
    enum MHD_Result ret;
    rh_error e;
    if (load_doc(r, ks, KP_WRITE, &d, &c, &ret) == 0) {
        if (kstore_document_delete(ks, 1, d.id, &e)) {
            ret = web_error(r, 500, "internal");
        } else {
            if (under_dir(d.path, r->srv->kn->files_dir))
                unlink(d.path); /* an uploaded original; a synced folder's file stays */
            web_audit(r, "document_delete", c.name, base_name(d.path));
            ret = web_no_content(r);
        }
        kstore_doc_clear(&d);
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    return ret;
}

static enum MHD_Result api_document_reindex(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kstore_doc d;
    kp_collection c;
    enum MHD_Result ret;
    rh_error e;
    if (load_doc(r, ks, KP_WRITE, &d, &c, &ret) == 0) {
        int64_t job = 0;
        kp_job j;
        if (kp_job_add(ks, 1, c.id, "reindex", d.path, base_name(d.path), &job, &e) ||
            kp_job_get(ks, 1, job, &j, &e)) {
            ret = web_error(r, 500, "internal");
        } else {
            rh_kworker_wake(r->srv->kn->worker);
            ret = web_json(r, 202, json_pack("{s:o}", "job", job_json(&j)));
            kp_job_clear(&j);
        }
        kstore_doc_clear(&d);
        kp_collection_clear(&c);
    }
    kstore_close(ks);
    return ret;
}

static const char *doc_ctype(const char *path, int *inline_ok)
{
    static const struct {
        const char *ext, *type;
        int inl;
    } t[] = {
        {".pdf", "application/pdf", 1}, {".txt", "text/plain; charset=utf-8", 1},
        {".md", "text/plain; charset=utf-8", 1}, {".csv", "text/csv; charset=utf-8", 0},
        {".png", "image/png", 1}, {".jpg", "image/jpeg", 1}, {".jpeg", "image/jpeg", 1},
        {".tif", "image/tiff", 0}, {".tiff", "image/tiff", 0},
        {".html", "text/html; charset=utf-8", 0}, {".htm", "text/html; charset=utf-8", 0},
        {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 0},
        {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 0},
        {".odt", "application/vnd.oasis.opendocument.text", 0},
        {".ods", "application/vnd.oasis.opendocument.spreadsheet", 0},
        {".eml", "message/rfc822", 0},
    };
    const char *dot = strrchr(path, '.');
    *inline_ok = 0;
    for (size_t i = 0; dot && i < sizeof t / sizeof t[0]; i++)
        if (!strcasecmp(dot, t[i].ext)) {
            *inline_ok = t[i].inl;
            return t[i].type;
        }
    return "application/octet-stream";
}

static enum MHD_Result api_document_file(web_req *r)
{
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    kstore_doc d;
    kp_collection c;
    enum MHD_Result ret;
    if (load_doc(r, ks, KP_READ, &d, &c, &ret)) {
        kstore_close(ks);
        return ret;
    }
    kstore_close(ks);
    /* only files the portal manages: uploads, a bound folder, knowledge_roots */
    char real[PATH_MAX];
    int ok = realpath(d.path, real) != NULL &&
             (under_dir(real, r->srv->kn->files_dir) || (c.folder && under_dir(real, c.folder)) ||
              (r->srv->cfg->knowledge_roots && inside_roots(real, r->srv->cfg->knowledge_roots)));
    int fd = ok ? open(real, O_RDONLY | O_NOFOLLOW) : -1;
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        ret = web_error_msg(r, 404, "file_unavailable",
                            !strcmp(r->lang, "en") ? "The original file is not available."
                                                   : "Die Originaldatei ist nicht verfügbar.");
        goto out;
    }
    int inl = 0;
    const char *ct = doc_ctype(real, &inl);
    char disp[1024], enc[800];
    size_t n = 0;
    const char *bn = base_name(real);
    for (size_t i = 0; bn[i] && n + 4 < sizeof enc; i++) {
        unsigned char ch = (unsigned char)bn[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
            ch == '-' || ch == '_')
            enc[n++] = (char)ch;
        else
            n += (size_t)snprintf(enc + n, sizeof enc - n, "%%%02X", ch);
    }
    enc[n] = '\0';
    snprintf(disp, sizeof disp, "%s; filename*=UTF-8''%s", inl ? "inline" : "attachment", enc);
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!resp) {
        close(fd);
        ret = MHD_NO;
        goto out;
    }
    MHD_add_response_header(resp, "Content-Type", ct);
    MHD_add_response_header(resp, "Content-Disposition", disp);
    MHD_add_response_header(resp, "Cache-Control", "private, no-store");
    r->bytes += (size_t)sb.st_size;
    ret = web_queue(r, 200, resp);
out:
    kstore_doc_clear(&d);
    kp_collection_clear(&c);
    return ret;
}

/* ------------------------------------------------------------ search */

/* Readable collections among `want` (all readable ones when n_want is 0);
 * returns how many ids went into out. */
static size_t readable_colls(web_req *r, kstore *ks, const int64_t *want, size_t n_want, int64_t *out,
                             char names[][NAME_MAX_LEN + 1], int *bad)
{
    kp_collection *cs = NULL;
    size_t n = 0, m = 0;
    rh_error e;
    *bad = 0;
    if (kp_collection_list(ks, 1, &cs, &n, &e))
        return 0;
    for (size_t w = 0; w < n_want; w++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            if (cs[i].id == want[w] && user_right(r, &cs[i]) >= KP_READ)
                found = 1;
        if (!found)
            *bad = 1; /* unknown or foreign: refused as a whole */
    }
    for (size_t i = 0; i < n && m < MAX_COLLS; i++) {
        if (user_right(r, &cs[i]) < KP_READ)
            continue;
        int take = !n_want;
        for (size_t w = 0; w < n_want; w++)
            if (want[w] == cs[i].id)
                take = 1;
        if (take) {
            snprintf(names[m], NAME_MAX_LEN + 1, "%s", cs[i].name);
            out[m++] = cs[i].id;
        }
    }
    kp_collection_list_free(cs, n);
    return m;
}

typedef struct hl_ctx {
    const char *text;
    char qt[64][RH_KAN_TERM_MAX + 1];
    size_t nq;
    json_t *words;
} hl_ctx;

static int hl_q(void *ctx, const char *tok, size_t n, size_t s, size_t e, int colo)
{
    hl_ctx *h = ctx;
    (void)s;
    (void)e;
    if (colo || n > RH_KAN_TERM_MAX || h->nq >= 64)
        return 0;
    memcpy(h->qt[h->nq], tok, n);
    h->qt[h->nq++][n] = '\0';
    return 0;
}

static int hl_d(void *ctx, const char *tok, size_t n, size_t s, size_t e, int colo)
{
    hl_ctx *h = ctx;
    (void)colo;
    if (json_array_size(h->words) >= 40 || e - s > 200)
        return 0;
    for (size_t i = 0; i < h->nq; i++) {
        if (strlen(h->qt[i]) == n && !memcmp(h->qt[i], tok, n)) {
            json_t *w = json_stringn(h->text + s, e - s);
            size_t k;
            json_t *v;
            int dup = 0;
            json_array_foreach(h->words, k, v) dup |= json_equal(v, w);
            if (w && !dup)
                json_array_append(h->words, w);
            json_decref(w);
            break;
        }
    }
    return 0;
}

/* Words of text (as written there) that match a term of the query. */
static json_t *highlight_words(const char *query, const char *text)
{
    hl_ctx *h = rh_calloc(1, sizeof *h);
    json_t *out = json_array();
    rh_kan *qa = NULL, *da = NULL;
    if (!h)
        return out;
    h->text = text;
    h->words = out;
    if (!rh_kan_new(RH_KAN_STEM | RH_KAN_STOPWORDS, &qa, NULL) && !rh_kan_new(RH_KAN_STEM | RH_KAN_COMPOUND, &da, NULL)) {
        rh_kan_run(qa, query, strlen(query), hl_q, h);
        rh_kan_run(da, text, strlen(text), hl_d, h);
    }
    rh_kan_free(qa);
    rh_kan_free(da);
    rh_free(h);
    return out;
}

static json_t *passage_json(const rh_kpassage *p, const char *coll_name, const char *query, int full_text)
{
    char url[96];
    int n = snprintf(url, sizeof url, "/api/documents/%lld/file", (long long)p->document_id);
    if (p->page_from > 0 && p->path && strlen(p->path) > 4 && !strcasecmp(p->path + strlen(p->path) - 4, ".pdf"))
        snprintf(url + n, sizeof url - (size_t)n, "#page=%d", p->page_from);
    /* excerpt: the first 400 bytes, cut at a character boundary */
    const char *t = p->text ? p->text : "";
    size_t el = strlen(t);
    if (el > 400) {
        el = 400;
        while (el > 0 && ((unsigned char)t[el] & 0xC0) == 0x80)
            el--;
    }
    json_t *ex = json_stringn(t, el);
    json_t *o = json_pack("{s:i, s:I, s:I, s:s, s:I, s:s, s:s, s:s, s:i, s:i, s:o, s:f, s:f, s:s}", "n", p->n,
                          "chunk_id", (json_int_t)p->chunk_id, "collection_id", (json_int_t)p->collection_id,
                          "collection", coll_name ? coll_name : "", "document_id", (json_int_t)p->document_id,
                          "title", p->title ? p->title : "", "name", p->path ? base_name(p->path) : "", "section",
                          p->heading ? p->heading : "", "page", p->page_from, "page_to", p->page_to, "excerpt",
                          ex ? ex : json_string(""), "relevance", p->relevance, "score", p->score, "url", url);
    if (o && full_text)
        json_object_set_new(o, "text", json_string(t));
    if (o && query)
        json_object_set_new(o, "highlight", highlight_words(query, t));
    return o;
}

static const char *coll_name_of(int64_t id, const int64_t *ids, char names[][NAME_MAX_LEN + 1], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return names[i];
    return "";
}

static size_t parse_id_list(const char *s, int64_t *out, size_t cap, int *bad)
{
    size_t n = 0;
    *bad = 0;
    while (s && *s) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v <= 0 || n >= cap) {
            *bad = 1;
            return 0;
        }
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            *bad = 1;
            return 0;
        }
    }
    return n;
}

static enum MHD_Result api_search(web_req *r)
{
    const char *q = web_query(r, "q");
    const char *cl = web_query(r, "collections");
    const char *ks_ = web_query(r, "k");
    int64_t want[MAX_COLLS], ids[MAX_COLLS];
    char names[MAX_COLLS][NAME_MAX_LEN + 1];
    int bad = 0;
    if (!q || !*q || strlen(q) > 2000)
        return web_error(r, 400, "bad_request");
    json_t *qv = json_string(q);
    if (!qv)
        return web_error(r, 400, "bad_request");
    json_decref(qv);
    size_t nw = parse_id_list(cl, want, MAX_COLLS, &bad);
    if (bad)
        return web_error(r, 400, "bad_request");
    long k = ks_ ? strtol(ks_, NULL, 10) : 10;
    if (k < 1 || k > 50)
        k = 10;
    kstore *ks = kn_open(r);
    if (!ks)
        return kn_unavailable(r);
    enum MHD_Result ret;
    rh_ksearcher *s = NULL;
    rh_kpassage *p = NULL;
    size_t np = 0, nc = readable_colls(r, ks, want, nw, ids, names, &bad);
    double best = 0;
    rh_error e;
    if (bad) {
        ret = web_error(r, 404, "not_found"); /* a collection the user may not read does not exist */
        goto out;
    }
    rh_kretrieve_opts o = {.tenant = 1, .k = (size_t)k, .emb = r->srv->kn->emb};
    if (nc && (rh_ksearcher_new(ks, &s, &e) || rh_kretrieve(ks, s, ids, nc, q, &o, &p, &np, &best, &e))) {
        rh_warn("knowledge: search failed: %s", e.msg);
        ret = web_error(r, 500, "internal");
        goto out;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < np; i++)
        json_array_append_new(a, passage_json(&p[i], coll_name_of(p[i].collection_id, ids, names, nc), q, 1));
    ret = web_json(r, 200,
                   json_pack("{s:o, s:f, s:b, s:f}", "results", a, "best_relevance", best, "nothing_found",
                             best < r->srv->cfg->relevance_threshold, "threshold", r->srv->cfg->relevance_threshold));
out:
    rh_kpassages_free(p, np);
    rh_ksearcher_free(s);
    kstore_close(ks);
    return ret;
}

/* ------------------------------------------------------------ grounding */

void web_ground_free(web_ground *g)
{
    rh_free(g->user_turn);
    rh_free(g->system);
    json_decref(g->sources);
    memset(g, 0, sizeof *g);
}

int web_ground_prepare(web_req *r, json_t *body, const char *question, const char *conv_system, web_ground *g,
                       enum MHD_Result *ret)
{
    memset(g, 0, sizeof *g);
    json_t *cv = json_object_get(body, "collections");
    if (!cv || json_is_null(cv) || (json_is_array(cv) && !json_array_size(cv)))
        return 0; /* an ordinary chat */
    if (!json_is_array(cv) || json_array_size(cv) > MAX_COLLS) {
        *ret = web_error(r, 400, "bad_request");
        return -1;
    }
    if (!web_capability_ok(r, "knowledge")) {
        *ret = web_capability_denied(r, "knowledge");
        return -1;
    }
    int64_t want[MAX_COLLS], ids[MAX_COLLS];
    char (*names)[NAME_MAX_LEN + 1] = rh_calloc(MAX_COLLS, sizeof *names);
    size_t nw = 0, i;
    json_t *v;
    json_array_foreach(cv, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            rh_free(names);
            *ret = web_error(r, 400, "bad_request");
            return -1;
        }
        want[nw++] = json_integer_value(v);
    }
    kstore *ks = kn_open(r);
    if (!ks || !names) {
        rh_free(names);
        kstore_close(ks);
        *ret = kn_unavailable(r);
        return -1;
    }
    int bad = 0, rc = 0;
    rh_ksearcher *s = NULL;
    rh_kpassage *p = NULL;
    size_t np = 0, nc = readable_colls(r, ks, want, nw, ids, names, &bad);
    double best = 0;
    rh_error e;
    if (bad || !nc) {
        *ret = web_error(r, 404, "not_found");
        rc = -1;
        goto out;
    }
    rh_kretrieve_opts o = {.tenant = 1, .k = (size_t)r->srv->cfg->retrieval_k, .emb = r->srv->kn->emb};
    if (rh_ksearcher_new(ks, &s, &e) || rh_kretrieve(ks, s, ids, nc, question, &o, &p, &np, &best, &e)) {
        rh_warn("knowledge: retrieval failed: %s", e.msg);
        *ret = web_error(r, 500, "internal");
        rc = -1;
        goto out;
    }
    g->active = 1;
    g->best = best;
    json_t *a = json_array();
    if (best < r->srv->cfg->relevance_threshold || !np) {
        g->nothing = 1;
    } else {
        for (size_t j = 0; j < np; j++)
            json_array_append_new(a, passage_json(&p[j], coll_name_of(p[j].collection_id, ids, names, nc), NULL, 0));
        g->n = (int)np;
        g->user_turn = rh_kground_user(p, np, question);
        size_t sl = conv_system ? strlen(conv_system) : 0;
        g->system = rh_malloc(sl + strlen(rh_kground_instruction()) + 4);
        if (g->system)
            snprintf(g->system, sl + strlen(rh_kground_instruction()) + 4, "%s%s%s", sl ? conv_system : "",
                     sl ? "\n\n" : "", rh_kground_instruction());
        if (!g->user_turn || !g->system) {
            json_decref(a);
            web_ground_free(g);
            *ret = web_error(r, 500, "internal");
            rc = -1;
            goto out;
        }
    }
    json_t *cids = json_array();
    for (size_t j = 0; j < nc; j++)
        json_array_append_new(cids, json_integer(ids[j]));
    g->sources = json_pack("{s:o, s:b, s:o}", "sources", a, "no_sources", g->nothing, "collections", cids);
    if (g->nothing)
        json_object_set_new(g->sources, "hint",
                            json_pack("{s:s, s:s}", "lesson", "halluzinationen", "message",
                                      "Antworten ohne Quellen bitte immer selbst prüfen - siehe Lektion "
                                      "„Halluzinationen“."));
out:
    rh_kpassages_free(p, np);
    rh_ksearcher_free(s);
    kstore_close(ks);
    rh_free(names);
    return rc;
}

enum MHD_Result web_ground_nothing(web_req *r, int64_t user_msg_id, int64_t asst_id, const char *model,
                                   const web_ground *g)
{
    /* the whole answer at once, as the events of a stream */
    rh_buf b;
    rh_buf_init(&b, 1u << 20);
    json_t *ev[4] = {
        json_pack("{s:I, s:I, s:s}", "user_message_id", (json_int_t)user_msg_id, "assistant_message_id",
                  (json_int_t)asst_id, "model", model ? model : ""),
        json_deep_copy(g->sources),
        json_pack("{s:s}", "text", RH_NOTHING_FOUND),
        json_pack("{s:s, s:{s:i, s:i}}", "finish_reason", "stop", "tokens", "prompt", 0, "completion", 0),
    };
    const char *names[4] = {"start", "sources", "delta", "done"};
    for (int i = 0; i < 4; i++) {
        char *s = ev[i] ? json_dumps(ev[i], JSON_COMPACT) : NULL;
        if (s)
            rh_buf_appendf(&b, "event: %s\ndata: %s\n\n", names[i], s);
        free(s);
        json_decref(ev[i]);
    }
    enum MHD_Result ret = web_send(r, 200, "text/event-stream; charset=utf-8", b.data ? b.data : "", b.len, NULL);
    rh_buf_free(&b);
    return ret;
}

/* ------------------------------------------------------------ routes */

static const web_route knowledge_routes[] = {
    {"GET", "/api/collections", api_collections, ROLE_USER, 0},
    {"POST", "/api/collections", api_collection_create, ROLE_ADMIN, 1},
    {"GET", "/api/collections/:id", api_collection_get, ROLE_USER, 0},
    {"PATCH", "/api/collections/:id", api_collection_patch, ROLE_USER, 1},
    {"DELETE", "/api/collections/:id", api_collection_delete, ROLE_USER, 1},
    {"PUT", "/api/collections/:id/folder", api_collection_folder, ROLE_ADMIN, 1},
    {"POST", "/api/collections/:id/sync", api_collection_sync, ROLE_USER, 1},
    {"GET", "/api/collections/:id/documents", api_documents, ROLE_USER, 0},
    {"POST", "/api/collections/:id/documents", api_upload, ROLE_USER, 1},
    {"GET", "/api/knowledge/jobs/:id", api_job_get, ROLE_USER, 0},
    {"DELETE", "/api/documents/:id", api_document_delete, ROLE_USER, 1},
    {"POST", "/api/documents/:id/reindex", api_document_reindex, ROLE_USER, 1},
    {"GET", "/api/documents/:id/file", api_document_file, ROLE_USER, 0},
    {"GET", "/api/search", api_search, ROLE_USER, 0},
};
WEB_ROUTES(knowledge_routes)
