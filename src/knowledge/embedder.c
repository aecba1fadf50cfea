/*
 * embedder.c - dense embeddings for retrieval (embedder.h): the engine's
 * engine_embed for a .gguf file, or POST /embeddings to an upstream.
 */
#include "knowledge/embedder.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "engine/engine.h"

struct rh_kembedder {
    rh_engine *eng;    /* engine model, or NULL */
    char *url, *key;   /* upstream */
    char *model;       /* upstream's model name */
    char name[160];
    atomic_int dim;
};

int rh_kembedder_open(const char *spec, const rh_config *cfg, rh_kembedder **out, rh_error *err)
{
    *out = NULL;
    rh_kembedder *e = rh_calloc(1, sizeof *e);
    int rc = RH_OK;
    if (!e)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    if (!strncmp(spec, "upstream:", 9)) {
        const char *nm = spec + 9, *colon = strchr(nm, ':');
        if (!colon || colon == nm || !colon[1]) {
            rc = rh_error_set(err, RH_EINVAL, "embedding_model '%s': use upstream:NAME:MODEL", spec);
            goto out;
        }
        const rh_upstream_conf *u = NULL;
        for (size_t i = 0; cfg && i < cfg->n_upstreams; i++)
            if (strlen(cfg->upstreams[i].name) == (size_t)(colon - nm) &&
                !strncmp(cfg->upstreams[i].name, nm, (size_t)(colon - nm)))
                u = &cfg->upstreams[i];
        if (!u || !u->url) {
            rc = rh_error_set(err, RH_EINVAL, "embedding_model '%s': no [upstream %.*s] configured", spec,
                              (int)(colon - nm), nm);
            goto out;
        }
        e->url = rh_strdup(u->url);
        e->key = u->api_key ? rh_strdup(u->api_key) : NULL;
        e->model = rh_strdup(colon + 1);
        if (!e->url || !e->model || (u->api_key && !e->key)) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(e->name, sizeof e->name, "upstream:%s", colon + 1);
    } else {
        rh_engine_opts o;
        engine_opts_default(&o);
        o.n_slots = 1;
        o.n_ctx = 512;
        if ((rc = engine_new(spec, &o, &e->eng, err)))
            goto out;
        rh_engine_info inf;
        engine_info(e->eng, &inf);
        atomic_store(&e->dim, inf.n_embd);
        const char *base = strrchr(spec, '/');
        snprintf(e->name, sizeof e->name, "%s", base ? base + 1 : spec);
    }
    *out = e;
    return RH_OK;
out:
    rh_kembedder_free(e);
    return rc;
}

void rh_kembedder_free(rh_kembedder *e)
{
    if (!e)
        return;
    engine_free(e->eng);
    rh_free(e->url);
    rh_free(e->key);
    rh_free(e->model);
    rh_free(e);
}

const char *rh_kembedder_name(const rh_kembedder *e)
{
    return e->name;
}

int rh_kembedder_dim(const rh_kembedder *e)
{
    return atomic_load(&((rh_kembedder *)e)->dim);
}

static void normalize(float *v, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++)
        s += (double)v[i] * v[i];
    if (s > 0) {
        float inv = (float)(1.0 / sqrt(s));
        for (int i = 0; i < dim; i++)
            v[i] *= inv;
    }
}

/* One text with the engine, cut shorter until it fits the context. */
static int embed_one(rh_kembedder *e, const char *text, float *out, rh_error *err)
{
    size_t len = strlen(text);
    char *cut = NULL;
    int rc;
    for (;;) {
        const char *t = cut ? cut : text;
        rc = engine_embed(e->eng, &t, 1, true, out, err);
        if (rc != RH_ELIMIT || len < 16)
            break;
        len /= 2;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--; /* code point boundary */
        rh_free(cut);
        if (!(cut = rh_malloc(len + 1))) {
            rc = rh_error_set(err, RH_ENOMEM, "out of memory");
            break;
        }
        memcpy(cut, text, len);
        cut[len] = '\0';
    }
    rh_free(cut);
    return rc;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    return rh_buf_append(ud, p, sz * nm) == RH_OK ? sz * nm : 0;
}

static int embed_upstream(rh_kembedder *e, const char *const *texts, size_t n, float **out, int *dim,
                          rh_error *err)
{
    int rc = RH_OK;
    char url[1024], auth[600];
    struct curl_slist *hdr = NULL;
    rh_buf resp;
    rh_buf_init(&resp, 256u << 20);
    char *body = NULL;
    json_t *in = json_array(), *j = NULL;
    float *v = NULL;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(in, json_string(texts[i]));
    json_t *req = json_pack("{s:s, s:o}", "model", e->model, "input", in);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    CURL *c = curl_easy_init();
    if (!body || !c) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    size_t ul = strlen(e->url);
    snprintf(url, sizeof url, "%.*s/embeddings", (int)(ul && e->url[ul - 1] == '/' ? ul - 1 : ul), e->url);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    if (e->key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", e->key);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status != 200) {
        rc = rh_error_set(err, RH_EIO, "embeddings upstream %s: %s", url,
                          cc != CURLE_OK ? curl_easy_strerror(cc) : "HTTP error");
        goto out;
    }
    j = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
    json_t *data = json_object_get(j, "data");
    if (!json_is_array(data) || json_array_size(data) != n) {
        rc = rh_error_set(err, RH_EFORMAT, "embeddings upstream: unexpected answer");
        goto out;
    }
    int d = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_object_get(json_array_get(data, i), "embedding");
        int rd = json_is_array(row) ? (int)json_array_size(row) : 0;
        if (!rd || rd > 65536 || (d && rd != d)) {
            rc = rh_error_set(err, RH_EFORMAT, "embeddings upstream: bad vector");
            goto out;
        }
        if (!d) {
            d = rd;
            if (!(v = rh_calloc(n * (size_t)d, sizeof *v))) {
                rc = rh_error_set(err, RH_ENOMEM, "out of memory");
                goto out;
            }
        }
        for (int k = 0; k < d; k++)
            v[i * (size_t)d + (size_t)k] = (float)json_number_value(json_array_get(row, (size_t)k));
        normalize(v + i * (size_t)d, d);
    }
    atomic_store(&e->dim, d);
    *out = v;
    *dim = d;
    v = NULL;
out:
    rh_free(v);
    json_decref(j);
    free(body);
    curl_slist_free_all(hdr);
    if (c)
        curl_easy_cleanup(c);
    rh_buf_free(&resp);
    return rc;
}

int rh_kembed(rh_kembedder *e, const char *const *texts, size_t n, float **out, int *dim,
              rh_error *err)
{
    *out = NULL;
    *dim = 0;
    if (!n)
        return RH_OK;
    if (!e->eng)
        return embed_upstream(e, texts, n, out, dim, err);
    int d = atomic_load(&e->dim);
    float *v = rh_calloc(n * (size_t)d, sizeof *v);
    char **cut = rh_calloc(n, sizeof *cut);
    const char **use = rh_calloc(n, sizeof *use);
    if (!v || !cut || !use) {
        rh_free(v);
        rh_free(cut);
        rh_free(use);
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    /* cut texts longer than the context before embedding (a failed batch
     * would be repeated text by text) */
    rh_engine_info inf;
    engine_info(e->eng, &inf);
    int64_t budget = inf.n_ctx > 8 ? inf.n_ctx - 4 : inf.n_ctx;
    for (size_t i = 0; i < n; i++) {
        use[i] = texts[i];
        size_t len = strlen(texts[i]);
        for (int tries = 0; tries < 4; tries++) {
            int64_t nt = engine_count_tokens(e->eng, use[i], strlen(use[i]));
            if (nt < 0 || nt <= budget)
                break;
            len = (size_t)((double)len * (double)budget / (double)nt * 0.9);
            while (len > 0 && ((unsigned char)texts[i][len] & 0xC0) == 0x80)
                len--;
            rh_free(cut[i]);
            if (!(cut[i] = rh_malloc(len + 1)))
                break;
            memcpy(cut[i], texts[i], len);
            cut[i][len] = '\0';
            use[i] = cut[i];
        }
    }
    int rc = engine_embed(e->eng, use, n, true, v, err);
    for (size_t i = 0; i < n; i++)
        rh_free(cut[i]);
    rh_free(cut);
    rh_free(use);
    if (rc == RH_ELIMIT) { /* some text too long: one by one, cut to fit */
        rc = RH_OK;
        for (size_t i = 0; i < n && rc == RH_OK; i++)
            rc = embed_one(e, texts[i], v + i * (size_t)d, err);
    }
    if (rc) {
        rh_free(v);
        return rc;
    }
    *out = v;
    *dim = d;
    return RH_OK;
}
