/*
 * config.h - rathaus.conf: the portal's one configuration file.
 *
 * Format: `key = value` lines, `#` starts a comment, `[section]` headers are
 * allowed for readability ([server], [data], [chat], [security]); keys are
 * unique across sections. Upstreams are sections of their own:
 *
 *     [upstream NAME]
 *     url = http://127.0.0.1:9000/v1
 *     api_key = ...
 *     models = model-a, model-b        (or * for "ask the upstream")
 *     timeout = 120
 *
 * Every plain key can be overridden by the environment variable
 * RATHAUS_<KEY> (upper case), e.g. RATHAUS_LISTEN, RATHAUS_DATA_DIR.
 * Upstream keys: RATHAUS_UPSTREAM_<NAME>_<KEY>; RATHAUS_UPSTREAM_URL (with
 * _API_KEY, _MODELS, _TIMEOUT) defines or overrides an upstream "default".
 * rathaus.conf.example documents every key.
 */
#ifndef RH_CONFIG_H
#define RH_CONFIG_H

#include <stddef.h>

#include "core/error.h"

#define RH_CONFIG_MAX_UPSTREAMS 16
#define RH_CONFIG_MAX_LEVELS 16

/* pii_check: what the server does with prompts that look like personal data */
enum { RH_PII_OFF = 0, RH_PII_WARN = 1, RH_PII_BLOCK = 2 };

/* capabilities.LEVEL = a, b, c (the academy's level -> capability matrix) */
typedef struct rh_capability_conf {
    char level[64];
    char *caps; /* comma separated; "" = none */
} rh_capability_conf;

typedef struct rh_upstream_conf {
    char name[64];
    char *url;     /* base URL ending before /chat/completions, e.g. .../v1 */
    char *api_key; /* may be NULL */
    char *models;  /* comma separated list, or "*" */
    int timeout_s; /* whole request */
} rh_upstream_conf;

typedef struct rh_config {
    char listen_host[128];
    int listen_port;
    char *data_dir;
    char *models_dir;
    char *tls_cert;
    char *tls_key;
    char *trusted_proxy; /* comma separated peer addresses, or NULL */
    long session_idle_s;
    long session_absolute_s;
    size_t max_body_bytes;
    int queue_max;       /* generations waiting or running */
    int workers;         /* generations running at the same time */
    long long model_memory_budget; /* bytes local models may take; 0: model_memory_percent of RAM */
    int model_memory_percent;      /* used when model_memory_budget is 0 (default 50) */
    long model_idle_unload_s;      /* unload a local model unused this long; 0 = never */
    int max_connections;
    int max_tokens;      /* default answer length limit */
    int login_max_failures;
    long login_window_s;
    int apikey_rate_per_min;
    char *log_file;
    char *access_log;
    int log_level;
    char default_lang[8];
    /* academy (KI-Schwimmabzeichen, docs/academy.md) */
    int academy_gating;     /* 1: capabilities follow the user's level */
    int pii_check;          /* RH_PII_* */
    int quiz_pass_percent;  /* 1..100 */
    int quiz_retry_minutes; /* wait after a failed quiz */
    int quiz_questions;     /* questions per attempt, 0 = all of the level */
    char *academy_dir;      /* replaces built-in content files; NULL = built-in */
    /* knowledge (docs/knowledge.md, "Portal") */
    char *knowledge_db;        /* NULL: data_dir/knowledge.db */
    char *knowledge_roots;     /* comma separated folders collections may be bound to */
    int sync_interval;         /* seconds between folder synchronisations */
    int chunk_size, chunk_overlap;
    char *embedding_model;     /* a .gguf path or "upstream:NAME:MODEL"; NULL = BM25 only */
    int retrieval_k;           /* passages put into the prompt */
    double relevance_threshold; /* best passage's relevance below this: "nothing found" */
    size_t max_upload_bytes;   /* one uploaded file */
    rh_capability_conf capabilities[RH_CONFIG_MAX_LEVELS];
    size_t n_capabilities;
    rh_upstream_conf upstreams[RH_CONFIG_MAX_UPSTREAMS];
    size_t n_upstreams;
} rh_config;

/* Fill with the built-in defaults (no allocation needed for freeing). */
void config_defaults(rh_config *c);

/* Parse configuration text (`name` is used in error messages). */
int config_parse_string(rh_config *c, const char *text, const char *name, rh_error *err);

/* Read and parse a file. */
int config_parse_file(rh_config *c, const char *path, rh_error *err);

/* Apply RATHAUS_* environment variables. */
int config_apply_env(rh_config *c, rh_error *err);

/* Check values; fills derived defaults (models_dir from data_dir). */
int config_validate(rh_config *c, rh_error *err);

/* defaults + file (if path non-NULL) + environment + validation. */
int config_load(rh_config *c, const char *path, rh_error *err);

/* Set one key (as from the file); used by the parser and env overrides. */
int config_set(rh_config *c, const char *section, const char *key, const char *value,
               rh_error *err);

void config_free(rh_config *c);

/* Does upstream `u` serve model `model`? ("*" serves every model.) */
int config_upstream_serves(const rh_upstream_conf *u, const char *model);

#endif
