/*
 * config_audit.c - the audit trail of configuration changes.
 *
 * Nothing changes the configuration while the server runs, so it suffices
 * to compare, at every start, the effective configuration (file +
 * environment + defaults, every key) with the one recorded at the last
 * start (settings key "config_effective" in the database). The first start
 * writes "config_initial", later starts with differences "config_changed"
 * listing the changed keys with old and new values; secrets (upstream API
 * keys) appear only as a short SHA-256 fingerprint, never in clear.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "web/auth.h"
#include "web/web.h"

#define CONFIG_SETTING "config_effective"
#define AUDIT_DETAIL_MAX 3800

static void put_s(json_t *o, const char *k, const char *v) { json_object_set_new(o, k, json_string(v ? v : "")); }

static void put_i(json_t *o, const char *k, long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    json_object_set_new(o, k, json_string(b));
}

/* A secret as "sha256:" plus 16 hex digits ("" stays ""). */
static void put_secret(json_t *o, const char *k, const char *v)
{
    if (!v || !*v) {
        put_s(o, k, "");
        return;
    }
    char h[AUTH_TOKEN_HEX], b[40];
    auth_sha256_hex(v, strlen(v), h);
    snprintf(b, sizeof b, "sha256:%.16s", h);
    put_s(o, k, b);
}

static int is_secret(const char *key)
{
    size_t n = strlen(key);
    return n >= 7 && !strcmp(key + n - 7, "api_key");
}

json_t *web_config_effective(const rh_config *c)
{
    json_t *o = json_object();
    char b[160];
    if (!o)
        return NULL;
    snprintf(b, sizeof b, "%s:%d", c->listen_host, c->listen_port);
    put_s(o, "listen", b);
    put_s(o, "data_dir", c->data_dir);
    put_s(o, "models_dir", c->models_dir);
    put_s(o, "tls_cert", c->tls_cert);
    put_s(o, "tls_key", c->tls_key);
    put_s(o, "trusted_proxy", c->trusted_proxy);
    put_i(o, "session_idle_timeout", c->session_idle_s);
    put_i(o, "session_absolute_timeout", c->session_absolute_s);
    put_i(o, "max_body_bytes", (long long)c->max_body_bytes);
    put_i(o, "queue_max", c->queue_max);
    put_i(o, "workers", c->workers);
    if (c->model_memory_budget > 0)
        put_i(o, "model_memory_budget", c->model_memory_budget);
    else {
        snprintf(b, sizeof b, "%d%%", c->model_memory_percent);
        put_s(o, "model_memory_budget", b);
    }
    put_i(o, "model_idle_unload", c->model_idle_unload_s);
    put_i(o, "max_connections", c->max_connections);
    put_i(o, "max_tokens", c->max_tokens);
    put_i(o, "login_max_failures", c->login_max_failures);
    put_i(o, "login_window", c->login_window_s);
    put_i(o, "apikey_rate_per_min", c->apikey_rate_per_min);
    put_s(o, "log_file", c->log_file);
    put_s(o, "access_log", c->access_log);
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    put_s(o, "log_level", c->log_level >= 0 && c->log_level <= 3 ? levels[c->log_level] : "?");
    put_s(o, "default_lang", c->default_lang);
    put_s(o, "academy_gating", c->academy_gating ? "yes" : "no");
    put_s(o, "pii_check", c->pii_check == RH_PII_BLOCK ? "block" : c->pii_check == RH_PII_WARN ? "warn" : "off");
    put_i(o, "quiz_pass_percent", c->quiz_pass_percent);
    put_i(o, "quiz_retry_minutes", c->quiz_retry_minutes);
    put_i(o, "quiz_questions", c->quiz_questions);
    put_s(o, "academy_dir", c->academy_dir);
    put_s(o, "knowledge_db", c->knowledge_db);
    put_s(o, "knowledge_roots", c->knowledge_roots);
    put_i(o, "sync_interval", c->sync_interval);
    put_i(o, "chunk_size", c->chunk_size);
    put_i(o, "chunk_overlap", c->chunk_overlap);
    put_s(o, "embedding_model", c->embedding_model);
    put_i(o, "retrieval_k", c->retrieval_k);
    snprintf(b, sizeof b, "%g", c->relevance_threshold);
    put_s(o, "relevance_threshold", b);
    put_i(o, "max_upload_bytes", (long long)c->max_upload_bytes);
    for (size_t i = 0; i < c->n_capabilities; i++) {
        snprintf(b, sizeof b, "capabilities.%s", c->capabilities[i].level);
        put_s(o, b, c->capabilities[i].caps);
    }
    for (size_t i = 0; i < c->n_upstreams; i++) {
        const rh_upstream_conf *u = &c->upstreams[i];
        snprintf(b, sizeof b, "upstream.%s.url", u->name);
        put_s(o, b, u->url);
        snprintf(b, sizeof b, "upstream.%s.api_key", u->name);
        put_secret(o, b, u->api_key);
        snprintf(b, sizeof b, "upstream.%s.models", u->name);
        put_s(o, b, u->models);
        snprintf(b, sizeof b, "upstream.%s.timeout", u->name);
        put_i(o, b, u->timeout_s);
    }
    return o;
}

/* "key: old -> new" (or "key: changed" for secrets, "(none)" when absent). */
static void note_change(rh_buf *d, const char *key, json_t *old, json_t *nw)
{
    const char *a = json_is_string(old) ? json_string_value(old) : NULL;
    const char *b = json_is_string(nw) ? json_string_value(nw) : NULL;
    if (d->len)
        rh_buf_appends(d, "; ");
    if (is_secret(key))
        rh_buf_appendf(d, "%s: %s", key, !a ? "set" : !b ? "removed" : "changed");
    else
        rh_buf_appendf(d, "%s: %s -> %s", key, a ? (*a ? a : "\"\"") : "(none)", b ? (*b ? b : "\"\"") : "(none)");
}

int web_config_audit(const rh_config *cfg, store *st, int *changed, rh_error *err)
{
    int rc = RH_OK;
    char *old_text = NULL, *new_text = NULL;
    json_t *nw = web_config_effective(cfg), *old = NULL;
    rh_buf d;
    rh_buf_init(&d, AUDIT_DETAIL_MAX);
    if (changed)
        *changed = 0;
    if (!nw || !(new_text = json_dumps(nw, JSON_COMPACT | JSON_SORT_KEYS))) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    if (store_setting_get(st, CONFIG_SETTING, &old_text) == RH_OK) {
        json_error_t je;
        old = json_loads(old_text, 0, &je);
        if (!json_is_object(old)) {
            json_decref(old);
            old = json_object();
        }
        const char *k;
        json_t *v;
        size_t n = 0;
        json_object_foreach(nw, k, v) {
            json_t *o = json_object_get(old, k);
            if (!o || !json_equal(o, v)) {
                note_change(&d, k, o, v);
                n++;
            }
        }
        json_object_foreach(old, k, v) {
            if (!json_object_get(nw, k)) {
                note_change(&d, k, v, NULL);
                n++;
            }
        }
        if (n == 0)
            goto out;
        rh_info("configuration changed since the last start: %s", d.data ? d.data : "");
        if ((rc = store_audit_add(st, STORE_TENANT_DEFAULT, "system", "config_changed", "rathaus.conf",
                                  d.data ? d.data : "", NULL, now)) != RH_OK) {
            rh_error_set(err, rc, "cannot write the audit entry for the configuration change");
            goto out;
        }
        if (changed)
            *changed = (int)n;
    } else {
        rh_buf_appendf(&d, "%zu keys", json_object_size(nw));
        if ((rc = store_audit_add(st, STORE_TENANT_DEFAULT, "system", "config_initial", "rathaus.conf", d.data, NULL,
                                  now)) != RH_OK) {
            rh_error_set(err, rc, "cannot write the audit entry for the configuration");
            goto out;
        }
    }
    if ((rc = store_setting_set(st, CONFIG_SETTING, new_text)) != RH_OK)
        rh_error_set(err, rc, "cannot record the configuration in the database");
out:
    rh_buf_free(&d);
    rh_free(old_text);
    free(new_text); /* from jansson */
    json_decref(nw);
    json_decref(old);
    return rc;
}
