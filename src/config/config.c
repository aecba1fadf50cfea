/*
 * config.c - parsing and validation of rathaus.conf (see config.h).
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"

#define CONFIG_FILE_MAX (1024 * 1024)

void config_defaults(rh_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->listen_port = 8080;
    c->session_idle_s = 30 * 60;
    c->session_absolute_s = 12 * 3600;
    c->max_body_bytes = 1024 * 1024;
    c->queue_max = 16;
    c->workers = 2;
    c->model_memory_percent = 50;
    c->model_idle_unload_s = 15 * 60;
    c->max_connections = 256;
    c->max_tokens = 1024;
    c->login_max_failures = 5;
    c->login_window_s = 15 * 60;
    c->apikey_rate_per_min = 60;
    c->log_level = RH_LOG_INFO;
    snprintf(c->default_lang, sizeof c->default_lang, "de");
    c->academy_gating = 1;
    c->pii_check = RH_PII_WARN;
    c->quiz_pass_percent = 80;
    c->quiz_retry_minutes = 30;
    c->quiz_questions = 10;
    c->sync_interval = 60;
    c->chunk_size = 1200;
    c->chunk_overlap = 200;
    c->retrieval_k = 6;
    c->relevance_threshold = 0.35;
    c->max_upload_bytes = 64u * 1024 * 1024;
}

static void free_upstream(rh_upstream_conf *u)
{
    rh_free(u->url);
    rh_free(u->api_key);
    rh_free(u->models);
    memset(u, 0, sizeof *u);
}

void config_free(rh_config *c)
{
    rh_free(c->data_dir);
    rh_free(c->models_dir);
    rh_free(c->tls_cert);
    rh_free(c->tls_key);
    rh_free(c->trusted_proxy);
    rh_free(c->log_file);
    rh_free(c->access_log);
    rh_free(c->academy_dir);
    c->academy_dir = NULL;
    rh_free(c->knowledge_db);
    rh_free(c->knowledge_roots);
    rh_free(c->embedding_model);
    c->knowledge_db = c->knowledge_roots = c->embedding_model = NULL;
    for (size_t i = 0; i < c->n_capabilities; i++)
        rh_free(c->capabilities[i].caps);
    c->n_capabilities = 0;
    for (size_t i = 0; i < c->n_upstreams; i++)
        free_upstream(&c->upstreams[i]);
    c->n_upstreams = 0;
    c->data_dir = c->models_dir = c->tls_cert = c->tls_key = NULL;
    c->trusted_proxy = c->log_file = c->access_log = NULL;
}

static int set_str(char **dst, const char *v, rh_error *err)
{
    char *d = NULL;
    if (*v) {
        d = rh_strdup(v);
        if (!d)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
    }
    rh_free(*dst);
    *dst = d;
    return RH_OK;
}

/* Integer with optional unit suffix: s/m/h/d for durations, k/M/G for sizes. */
static int parse_num(const char *key, const char *v, int duration, long long lo, long long hi,
                     long long *out, rh_error *err)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || errno)
        return rh_error_set(err, RH_EINVAL, "%s: '%s' is not a number", key, v);
    long long mul = 1;
    if (*end) {
        char u = *end++;
        if (duration) {
            if (u == 's') mul = 1;
            else if (u == 'm') mul = 60;
            else if (u == 'h') mul = 3600;
            else if (u == 'd') mul = 86400;
            else return rh_error_set(err, RH_EINVAL, "%s: unknown unit '%c' (use s, m, h or d)", key, u);
        } else {
            if (u == 'k' || u == 'K') mul = 1024;
            else if (u == 'm' || u == 'M') mul = 1024 * 1024;
            else if (u == 'g' || u == 'G') mul = 1024LL * 1024 * 1024;
            else return rh_error_set(err, RH_EINVAL, "%s: unknown unit '%c' (use k, M or G)", key, u);
            if (*end == 'B' || *end == 'b')
                end++;
        }
        if (*end)
            return rh_error_set(err, RH_EINVAL, "%s: '%s' is not a number", key, v);
    }
    if (n > hi / mul || n * mul < lo || n * mul > hi)
        return rh_error_set(err, RH_ERANGE, "%s: %s is out of range (%lld..%lld)", key, v, lo, hi);
    *out = n * mul;
    return RH_OK;
}

static int parse_listen(rh_config *c, const char *v, rh_error *err)
{
    const char *colon = strrchr(v, ':');
    const char *host = v;
    size_t hlen = colon ? (size_t)(colon - v) : 0;
    long long port = 0;
    if (!colon)
        return rh_error_set(err, RH_EINVAL, "listen: '%s' must be ADDRESS:PORT, e.g. 127.0.0.1:8080", v);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof c->listen_host)
        return rh_error_set(err, RH_EINVAL, "listen: bad address in '%s'", v);
    int rc = parse_num("listen", colon + 1, 0, 0, 65535, &port, err);
    if (rc)
        return rc;
    memcpy(c->listen_host, host, hlen);
    c->listen_host[hlen] = '\0';
    c->listen_port = (int)port;
    return RH_OK;
}

static int parse_bool(const char *key, const char *v, int *out, rh_error *err)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return rh_error_set(err, RH_EINVAL, "%s: '%s' is not yes/no", key, v);
    return RH_OK;
}

static rh_upstream_conf *find_upstream(rh_config *c, const char *name, int create, rh_error *err)
{
    for (size_t i = 0; i < c->n_upstreams; i++)
        if (!strcmp(c->upstreams[i].name, name))
            return &c->upstreams[i];
    if (!create)
        return NULL;
    if (c->n_upstreams >= RH_CONFIG_MAX_UPSTREAMS) {
        rh_error_set(err, RH_ELIMIT, "too many upstreams (at most %d)", RH_CONFIG_MAX_UPSTREAMS);
        return NULL;
    }
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof c->upstreams[0].name) {
        rh_error_set(err, RH_EINVAL, "upstream name '%s' is empty or too long", name);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_') {
            rh_error_set(err, RH_EINVAL, "upstream name '%s': use letters, digits, - and _", name);
            return NULL;
        }
    rh_upstream_conf *u = &c->upstreams[c->n_upstreams++];
    memset(u, 0, sizeof *u);
    memcpy(u->name, name, n + 1);
    u->timeout_s = 120;
    return u;
}

static int set_upstream(rh_config *c, const char *name, const char *key, const char *v, rh_error *err)
{
    rh_upstream_conf *u = find_upstream(c, name, 1, err);
    long long n;
    int rc;
    if (!u)
        return err ? err->code : RH_EINVAL;
    if (!strcmp(key, "url"))
        return set_str(&u->url, v, err);
    if (!strcmp(key, "api_key"))
        return set_str(&u->api_key, v, err);
    if (!strcmp(key, "models"))
        return set_str(&u->models, v, err);
    if (!strcmp(key, "timeout")) {
        if ((rc = parse_num("timeout", v, 1, 1, 86400, &n, err)))
            return rc;
        u->timeout_s = (int)n;
        return RH_OK;
    }
    return rh_error_set(err, RH_EINVAL, "unknown key '%s' in [upstream %s] (known: url, api_key, models, timeout)",
                        key, name);
}

/* capabilities.LEVEL = a, b, c */
static int set_capabilities(rh_config *c, const char *level, const char *v, rh_error *err)
{
    size_t n = strlen(level);
    if (n == 0 || n >= sizeof c->capabilities[0].level)
        return rh_error_set(err, RH_EINVAL, "capabilities.%s: the level id is empty or too long", level);
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)level[i]) && !isdigit((unsigned char)level[i]) && level[i] != '-' &&
            level[i] != '_')
            return rh_error_set(err, RH_EINVAL, "capabilities.%s: level ids use a-z, 0-9, - and _", level);
    for (const char *q = v; *q; q++)
        if (!islower((unsigned char)*q) && !isdigit((unsigned char)*q) && *q != '_' && *q != ',' && *q != ' ')
            return rh_error_set(err, RH_EINVAL,
                                "capabilities.%s: '%s' - list capability names (a-z, _) separated by commas",
                                level, v);
    rh_capability_conf *cc = NULL;
    for (size_t i = 0; i < c->n_capabilities; i++)
        if (!strcmp(c->capabilities[i].level, level))
            cc = &c->capabilities[i];
    if (!cc) {
        if (c->n_capabilities >= RH_CONFIG_MAX_LEVELS)
            return rh_error_set(err, RH_ELIMIT, "too many capabilities.LEVEL keys (at most %d)",
                                RH_CONFIG_MAX_LEVELS);
        cc = &c->capabilities[c->n_capabilities++];
        memset(cc, 0, sizeof *cc);
        memcpy(cc->level, level, n + 1);
    }
    char *d = rh_strdup(v);
    if (!d)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    rh_free(cc->caps);
    cc->caps = d;
    return RH_OK;
}

int config_set(rh_config *c, const char *section, const char *key, const char *v, rh_error *err)
{
    long long n = 0;
    int rc = RH_OK, b = 0;
    if (section && !strncmp(section, "upstream ", 9))
        return set_upstream(c, section + 9, key, v, err);
    if (!strcmp(key, "listen"))
        return parse_listen(c, v, err);
    if (!strcmp(key, "data_dir"))
        return set_str(&c->data_dir, v, err);
    if (!strcmp(key, "models_dir"))
        return set_str(&c->models_dir, v, err);
    if (!strcmp(key, "tls_cert"))
        return set_str(&c->tls_cert, v, err);
    if (!strcmp(key, "tls_key"))
        return set_str(&c->tls_key, v, err);
    if (!strcmp(key, "trusted_proxy"))
        return set_str(&c->trusted_proxy, v, err);
    if (!strcmp(key, "log_file"))
        return set_str(&c->log_file, v, err);
    if (!strcmp(key, "access_log"))
        return set_str(&c->access_log, v, err);
    if (!strcmp(key, "academy_dir"))
        return set_str(&c->academy_dir, v, err);
    if (!strcmp(key, "knowledge_db"))
        return set_str(&c->knowledge_db, v, err);
    if (!strcmp(key, "knowledge_roots"))
        return set_str(&c->knowledge_roots, v, err);
    if (!strcmp(key, "embedding_model"))
        return set_str(&c->embedding_model, v, err);
    if (!strcmp(key, "relevance_threshold")) {
        char *end = NULL;
        double d = strtod(v, &end);
        if (!end || end == v || *end || !(d >= 0 && d <= 1))
            return rh_error_set(err, RH_EINVAL, "relevance_threshold: '%s' (a number from 0 to 1)", v);
        c->relevance_threshold = d;
        return RH_OK;
    }
    if (!strncmp(key, "capabilities.", 13))
        return set_capabilities(c, key + 13, v, err);
    if (!strcmp(key, "session_idle_timeout")) {
        rc = parse_num(key, v, 1, 60, 30LL * 86400, &n, err);
        c->session_idle_s = (long)n;
    } else if (!strcmp(key, "session_absolute_timeout")) {
        rc = parse_num(key, v, 1, 60, 365LL * 86400, &n, err);
        c->session_absolute_s = (long)n;
    } else if (!strcmp(key, "max_body_bytes")) {
        rc = parse_num(key, v, 0, 1024, 1LL << 30, &n, err);
        c->max_body_bytes = (size_t)n;
    } else if (!strcmp(key, "queue_max")) {
        rc = parse_num(key, v, 0, 1, 100000, &n, err);
        c->queue_max = (int)n;
    } else if (!strcmp(key, "workers")) {
        rc = parse_num(key, v, 0, 1, 256, &n, err);
        c->workers = (int)n;
    } else if (!strcmp(key, "model_memory_budget")) {
        size_t vl = strlen(v);
        if (vl >= 2 && v[vl - 1] == '%') {
            char pct[16];
            snprintf(pct, sizeof pct, "%.*s", (int)(vl - 1), v);
            rc = parse_num(key, pct, 0, 1, 100, &n, err);
            if (!rc) {
                c->model_memory_percent = (int)n;
                c->model_memory_budget = 0;
            }
        } else {
            rc = parse_num(key, v, 0, 1024 * 1024, 1LL << 50, &n, err);
            c->model_memory_budget = n;
        }
    } else if (!strcmp(key, "model_idle_unload")) {
        rc = parse_num(key, v, 1, 0, 365LL * 86400, &n, err);
        c->model_idle_unload_s = (long)n;
    } else if (!strcmp(key, "max_connections")) {
        rc = parse_num(key, v, 0, 4, 100000, &n, err);
        c->max_connections = (int)n;
    } else if (!strcmp(key, "max_tokens")) {
        rc = parse_num(key, v, 0, 1, 1000000, &n, err);
        c->max_tokens = (int)n;
    } else if (!strcmp(key, "login_max_failures")) {
        rc = parse_num(key, v, 0, 1, 1000, &n, err);
        c->login_max_failures = (int)n;
    } else if (!strcmp(key, "login_window")) {
        rc = parse_num(key, v, 1, 1, 86400, &n, err);
        c->login_window_s = (long)n;
    } else if (!strcmp(key, "apikey_rate_per_min")) {
        rc = parse_num(key, v, 0, 1, 1000000, &n, err);
        c->apikey_rate_per_min = (int)n;
    } else if (!strcmp(key, "log_level")) {
        if (!strcmp(v, "debug")) c->log_level = RH_LOG_DEBUG;
        else if (!strcmp(v, "info")) c->log_level = RH_LOG_INFO;
        else if (!strcmp(v, "warn")) c->log_level = RH_LOG_WARN;
        else if (!strcmp(v, "error")) c->log_level = RH_LOG_ERROR;
        else return rh_error_set(err, RH_EINVAL, "log_level: '%s' (use debug, info, warn or error)", v);
    } else if (!strcmp(key, "default_lang")) {
        if (strcmp(v, "de") && strcmp(v, "en"))
            return rh_error_set(err, RH_EINVAL, "default_lang: '%s' (use de or en)", v);
        snprintf(c->default_lang, sizeof c->default_lang, "%s", v);
    } else if (!strcmp(key, "academy_gating")) {
        rc = parse_bool(key, v, &c->academy_gating, err);
    } else if (!strcmp(key, "pii_check")) {
        if (!strcmp(v, "off")) c->pii_check = RH_PII_OFF;
        else if (!strcmp(v, "warn")) c->pii_check = RH_PII_WARN;
        else if (!strcmp(v, "block")) c->pii_check = RH_PII_BLOCK;
        else return rh_error_set(err, RH_EINVAL, "pii_check: '%s' (use warn, block or off)", v);
    } else if (!strcmp(key, "quiz_pass_percent")) {
        rc = parse_num(key, v, 0, 1, 100, &n, err);
        c->quiz_pass_percent = (int)n;
    } else if (!strcmp(key, "quiz_retry_minutes")) {
        rc = parse_num(key, v, 0, 0, 366LL * 24 * 60, &n, err);
        c->quiz_retry_minutes = (int)n;
    } else if (!strcmp(key, "quiz_questions")) {
        rc = parse_num(key, v, 0, 0, 1000, &n, err);
        c->quiz_questions = (int)n;
    } else if (!strcmp(key, "sync_interval")) {
        rc = parse_num(key, v, 1, 1, 7 * 86400, &n, err);
        c->sync_interval = (int)n;
    } else if (!strcmp(key, "chunk_size")) {
        rc = parse_num(key, v, 0, 200, 20000, &n, err);
        c->chunk_size = (int)n;
    } else if (!strcmp(key, "chunk_overlap")) {
        rc = parse_num(key, v, 0, 0, 5000, &n, err);
        c->chunk_overlap = (int)n;
    } else if (!strcmp(key, "retrieval_k")) {
        rc = parse_num(key, v, 0, 1, 50, &n, err);
        c->retrieval_k = (int)n;
    } else if (!strcmp(key, "max_upload_bytes")) {
        rc = parse_num(key, v, 0, 1024, 1LL << 32, &n, err);
        c->max_upload_bytes = (size_t)n;
    } else if (!strcmp(key, "debug")) {
        rc = parse_bool(key, v, &b, err);
        if (!rc && b)
            c->log_level = RH_LOG_DEBUG;
    } else {
        return rh_error_set(err, RH_EINVAL, "unknown key '%s'", key);
    }
    return rc;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int config_parse_string(rh_config *c, const char *text, const char *name, rh_error *err)
{
    int rc = RH_OK;
    char section[96] = "";
    char *copy = rh_strdup(text);
    if (!copy)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    char *save = NULL, *line;
    int lineno = 0;
    char *p = copy;
    while ((line = p) != NULL) {
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = NULL;
        }
        lineno++;
        (void)save;
        /* strip comments: '#' at start or after whitespace */
        for (char *h = line; *h; h++)
            if (*h == '#' && (h == line || h[-1] == ' ' || h[-1] == '\t')) {
                *h = '\0';
                break;
            }
        char *l = trim(line);
        if (!*l)
            continue;
        if (*l == '[') {
            char *close = strchr(l, ']');
            if (!close || close[1]) {
                rc = rh_error_set(err, RH_EFORMAT, "%s:%d: bad section header", name, lineno);
                goto out;
            }
            *close = '\0';
            char *sec = trim(l + 1);
            /* normalise "upstream   NAME" */
            if (!strncmp(sec, "upstream", 8) && (sec[8] == ' ' || sec[8] == '\t')) {
                snprintf(section, sizeof section, "upstream %s", trim(sec + 9));
            } else if (!strcmp(sec, "server") || !strcmp(sec, "data") || !strcmp(sec, "chat") ||
                       !strcmp(sec, "security") || !strcmp(sec, "log") || !strcmp(sec, "academy") ||
                       !strcmp(sec, "knowledge")) {
                snprintf(section, sizeof section, "%s", sec);
            } else {
                rc = rh_error_set(err, RH_EFORMAT,
                                  "%s:%d: unknown section [%s] (known: server, data, chat, security, log, academy, knowledge, upstream NAME)",
                                  name, lineno, sec);
                goto out;
            }
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = rh_error_set(err, RH_EFORMAT, "%s:%d: expected 'key = value'", name, lineno);
            goto out;
        }
        *eq = '\0';
        char *key = trim(l), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        rh_error e;
        rh_error_clear(&e);
        rc = config_set(c, section[0] ? section : NULL, key, val, &e);
        if (rc) {
            rh_error_set(err, rc, "%s:%d: %s", name, lineno, e.msg);
            goto out;
        }
    }
out:
    rh_free(copy);
    return rc;
}

int config_parse_file(rh_config *c, const char *path, rh_error *err)
{
    int rc = RH_OK;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rh_error_set(err, RH_EIO, "cannot open configuration file %s: %s", path, strerror(errno));
    text = rh_malloc(CONFIG_FILE_MAX + 1);
    if (!text) {
        rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = rh_error_set(err, RH_EIO, "cannot read %s", path);
        goto out;
    }
    if (n > CONFIG_FILE_MAX) {
        rc = rh_error_set(err, RH_ELIMIT, "%s is larger than 1 MiB", path);
        goto out;
    }
    text[n] = '\0';
    if (memchr(text, '\0', n)) {
        rc = rh_error_set(err, RH_EFORMAT, "%s contains NUL bytes", path);
        goto out;
    }
    rc = config_parse_string(c, text, path, err);
out:
    rh_free(text);
    fclose(f);
    return rc;
}

static const char *const env_keys[] = {
    "listen", "data_dir", "models_dir", "tls_cert", "tls_key", "trusted_proxy",
    "session_idle_timeout", "session_absolute_timeout", "max_body_bytes", "queue_max",
    "workers", "model_memory_budget", "model_idle_unload", "max_connections", "max_tokens", "login_max_failures", "login_window",
    "apikey_rate_per_min", "log_file", "access_log", "log_level", "default_lang", "debug",
    "academy_gating", "pii_check", "quiz_pass_percent", "quiz_retry_minutes", "quiz_questions", "academy_dir",
    "knowledge_db", "knowledge_roots", "sync_interval", "chunk_size", "chunk_overlap", "embedding_model",
    "retrieval_k", "relevance_threshold", "max_upload_bytes",
};

static void upper(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

int config_apply_env(rh_config *c, rh_error *err)
{
    char name[128];
    int rc;
    static const char *const ukeys[] = {"url", "api_key", "models", "timeout"};
    for (size_t i = 0; i < sizeof env_keys / sizeof env_keys[0]; i++) {
        char up[64];
        upper(up, sizeof up, env_keys[i]);
        snprintf(name, sizeof name, "RATHAUS_%s", up);
        const char *v = getenv(name);
        if (!v)
            continue;
        rh_error e;
        rh_error_clear(&e);
        if ((rc = config_set(c, NULL, env_keys[i], v, &e)))
            return rh_error_set(err, rc, "environment %s: %s", name, e.msg);
    }
    /* per-upstream overrides for the upstreams named in the file */
    for (size_t u = 0; u < c->n_upstreams; u++) {
        char un[64], sec[96];
        upper(un, sizeof un, c->upstreams[u].name);
        for (char *q = un; *q; q++)
            if (*q == '-')
                *q = '_';
        snprintf(sec, sizeof sec, "upstream %s", c->upstreams[u].name);
        for (size_t k = 0; k < 4; k++) {
            char uk[16];
            upper(uk, sizeof uk, ukeys[k]);
            snprintf(name, sizeof name, "RATHAUS_UPSTREAM_%s_%s", un, uk);
            const char *v = getenv(name);
            if (!v)
                continue;
            rh_error e;
            rh_error_clear(&e);
            if ((rc = config_set(c, sec, ukeys[k], v, &e)))
                return rh_error_set(err, rc, "environment %s: %s", name, e.msg);
        }
    }
    /* RATHAUS_UPSTREAM_URL & co. define the upstream "default" */
    for (size_t k = 0; k < 4; k++) {
        char uk[16];
        upper(uk, sizeof uk, ukeys[k]);
        snprintf(name, sizeof name, "RATHAUS_UPSTREAM_%s", uk);
        const char *v = getenv(name);
        if (!v)
            continue;
        rh_error e;
        rh_error_clear(&e);
        if ((rc = config_set(c, "upstream default", ukeys[k], v, &e)))
            return rh_error_set(err, rc, "environment %s: %s", name, e.msg);
    }
    return RH_OK;
}

int config_validate(rh_config *c, rh_error *err)
{
    if (!c->data_dir && !(c->data_dir = rh_strdup("./data")))
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    if (!c->models_dir) {
        size_t n = strlen(c->data_dir) + 8;
        c->models_dir = rh_malloc(n);
        if (!c->models_dir)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        snprintf(c->models_dir, n, "%s/models", c->data_dir);
    }
    if ((c->tls_cert != NULL) != (c->tls_key != NULL))
        return rh_error_set(err, RH_EINVAL, "tls_cert and tls_key must be set together (or neither)");
    if (c->workers > c->queue_max)
        c->workers = c->queue_max;
    if (c->session_idle_s > c->session_absolute_s)
        return rh_error_set(err, RH_EINVAL,
                            "session_idle_timeout (%lds) must not be longer than session_absolute_timeout (%lds)",
                            c->session_idle_s, c->session_absolute_s);
    for (size_t i = 0; i < c->n_upstreams; i++) {
        rh_upstream_conf *u = &c->upstreams[i];
        if (!u->url)
            return rh_error_set(err, RH_EINVAL, "[upstream %s]: url is missing", u->name);
        if (strncmp(u->url, "http://", 7) && strncmp(u->url, "https://", 8))
            return rh_error_set(err, RH_EINVAL, "[upstream %s]: url '%s' must start with http:// or https://",
                                u->name, u->url);
        for (const char *q = u->url; *q; q++)
            if ((unsigned char)*q <= ' ' || *q == 0x7f)
                return rh_error_set(err, RH_EINVAL, "[upstream %s]: url contains spaces or control characters",
                                    u->name);
        for (const char *q = u->api_key ? u->api_key : ""; *q; q++)
            if ((unsigned char)*q < ' ' || *q == 0x7f)
                return rh_error_set(err, RH_EINVAL, "[upstream %s]: api_key contains control characters", u->name);
        if (!u->models && !(u->models = rh_strdup("*")))
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        size_t n = strlen(u->url);
        while (n > 8 && u->url[n - 1] == '/')
            u->url[--n] = '\0';
    }
    return RH_OK;
}

int config_load(rh_config *c, const char *path, rh_error *err)
{
    int rc;
    config_defaults(c);
    if (path && (rc = config_parse_file(c, path, err)))
        goto fail;
    if ((rc = config_apply_env(c, err)))
        goto fail;
    if ((rc = config_validate(c, err)))
        goto fail;
    return RH_OK;
fail:
    config_free(c);
    return rc;
}

int config_upstream_serves(const rh_upstream_conf *u, const char *model)
{
    const char *m = u->models ? u->models : "*";
    size_t ml = strlen(model);
    while (*m) {
        while (*m == ' ' || *m == ',')
            m++;
        const char *e = m;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > m && t[-1] == ' ')
            t--;
        size_t n = (size_t)(t - m);
        if ((n == 1 && *m == '*') || (n == ml && !memcmp(m, model, n)))
            return 1;
        m = e;
    }
    return 0;
}
