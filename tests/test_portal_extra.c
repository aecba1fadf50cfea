/*
 * test_portal_extra.c - tests of the portal's later additions: local models
 * (metadata, memory budget, idle unload, new files without restart), the
 * configuration audit at start, `rathaus user level/disable/enable`,
 * POST /v1/embeddings and the PII block on /v1. Prefix px_.
 */
#include <curl/curl.h>
#include <limits.h>
#include <microhttpd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chat/chat.h"
#include "cli/cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "store/astore.h"
#include "store/store.h"
#include "test.h"
#include "web/auth.h"
#include "web/web.h"
#include "web_client.h"

/* ------------------------------------------------------------ helpers */

static void link_model(const char *dir, const char *name)
{
    char rel[256], abs[PATH_MAX], link[PATH_MAX + 300];
    snprintf(rel, sizeof rel, "models/%s", name);
    const char *p = test_data_path(rel);
    if (access(p, R_OK) != 0)
        SKIP("%s is absent", p);
    ASSERT(realpath(p, abs) != NULL);
    snprintf(link, sizeof link, "%s/%s", dir, name);
    ASSERT_EQ(symlink(abs, link), 0);
}

static const char *models_dir(void)
{
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    mkdir(dir, 0700);
    return dir;
}

static int noop_delta(void *ud, const char *t, size_t n)
{
    (void)ud;
    (void)t;
    (void)n;
    return 0;
}

static int gen(backend *b, const char *model, rh_error *err)
{
    backend_msg m = {"user", "Hallo"};
    backend_req req = {.model = model, .msgs = &m, .n_msgs = 1, .max_tokens = 2, .temperature = 0};
    backend_result res;
    atomic_int cancel = 0;
    rh_error_clear(err);
    return b->vt->generate(b, &req, noop_delta, NULL, &cancel, &res, err);
}

static const backend_model *find(const backend_models *ms, const char *id)
{
    for (size_t i = 0; i < ms->n; i++)
        if (!strcmp(ms->items[i].id, id))
            return &ms->items[i];
    return NULL;
}

static void local_cfg(rh_config *c, const char *dir)
{
    config_defaults(c);
    c->models_dir = rh_strdup(dir);
    c->workers = 1;
    c->model_idle_unload_s = 0;
    rh_log_set_level(getenv("DBG") ? RH_LOG_DEBUG : RH_LOG_ERROR);
}

/* ------------------------------------------------------------ models */

TEST_TIMEOUT(px_models_metadata_budget_and_rescan, 120)
{
    const char *dir = models_dir();
    link_model(dir, "tiny-llama-q8_0.gguf");
    link_model(dir, "tiny-qwen2-q4_0.gguf");
    rh_config c;
    rh_error e;
    backend *b;
    backend_models ms;
    local_cfg(&c, dir);
    ASSERT_EQ(local_backend_create(&c, &b, &e), RH_OK);
    ASSERT_EQ(b->vt->list_models(b, &ms, &e), RH_OK);
    ASSERT_EQ(ms.n, 2);
    const backend_model *a = find(&ms, "tiny-llama-q8_0"), *q = find(&ms, "tiny-qwen2-q4_0");
    ASSERT(a && q);
    ASSERT_STREQ(a->quantization, "Q8_0");
    ASSERT(!strncmp(q->quantization, "Q4_0", 4) || !strcmp(q->quantization, "Q6_K"));
    ASSERT(a->context_length > 0);
    ASSERT(q->context_length > 0);
    ASSERT(a->memory_bytes > a->size_bytes); /* weights + KV cache */
    ASSERT(!a->loaded && !q->loaded);
    int64_t ma = a->memory_bytes, mq = q->memory_bytes;
    backend_models_free(&ms);
    backend_destroy(b);

    /* budget between the larger model and both together */
    int64_t big = ma > mq ? ma : mq, small = ma > mq ? mq : ma;
    c.model_memory_budget = big + small / 2;
    ASSERT_EQ(local_backend_create(&c, &b, &e), RH_OK);
    ASSERT_EQ(gen(b, "tiny-llama-q8_0", &e), RH_OK);
    ASSERT_EQ(b->vt->list_models(b, &ms, &e), RH_OK);
    ASSERT(find(&ms, "tiny-llama-q8_0")->loaded);
    backend_models_free(&ms);
    ASSERT_EQ(gen(b, "tiny-qwen2-q4_0", &e), RH_OK);
    ASSERT_EQ(b->vt->list_models(b, &ms, &e), RH_OK);
    ASSERT(!find(&ms, "tiny-llama-q8_0")->loaded); /* made room */
    ASSERT(find(&ms, "tiny-qwen2-q4_0")->loaded);
    backend_models_free(&ms);
    /* the status page shows the details */
    json_t *st = b->vt->status(b);
    json_t *d = json_object_get(json_array_get(st, 0), "model_details");
    ASSERT_EQ(json_array_size(d), 2);
    ASSERT(json_integer_value(json_object_get(json_array_get(st, 0), "memory_budget")) == big + small / 2);
    json_decref(st);

    /* a file dropped in appears without a restart */
    link_model(dir, "tiny-qwen2-q6_k.gguf");
    ASSERT_EQ(b->vt->list_models(b, &ms, &e), RH_OK);
    ASSERT_EQ(ms.n, 3);
    ASSERT_STREQ(find(&ms, "tiny-qwen2-q6_k")->quantization, "Q6_K");
    backend_models_free(&ms);
    backend_destroy(b);

    /* a budget smaller than one model: a clear German error */
    c.model_memory_budget = small / 2;
    ASSERT_EQ(local_backend_create(&c, &b, &e), RH_OK);
    ASSERT_EQ(gen(b, "tiny-llama-q8_0", &e), RH_ELIMIT);
    ASSERT(strstr(e.msg, "Speicherrahmen"));
    ASSERT(strstr(e.msg, "model_memory_budget"));
    backend_destroy(b);
    config_free(&c);
}

TEST_TIMEOUT(px_models_idle_unload, 60)
{
    const char *dir = models_dir();
    link_model(dir, "tiny-qwen2-q4_0.gguf");
    rh_config c;
    rh_error e;
    backend *b;
    backend_models ms;
    local_cfg(&c, dir);
    ASSERT_EQ(config_set(&c, NULL, "model_idle_unload", "1s", &e), RH_OK);
    ASSERT_EQ(c.model_idle_unload_s, 1);
    ASSERT_EQ(local_backend_create(&c, &b, &e), RH_OK);
    ASSERT_EQ(gen(b, "tiny-qwen2-q4_0", &e), RH_OK);
    ASSERT_EQ(b->vt->list_models(b, &ms, &e), RH_OK);
    ASSERT(ms.items[0].loaded);
    backend_models_free(&ms);
    int loaded = 1;
    for (int i = 0; i < 40 && loaded; i++) { /* the timer thread unloads it */
        usleep(100 * 1000);
        ASSERT_EQ(b->vt->list_models(b, &ms, &e), RH_OK);
        loaded = ms.items[0].loaded;
        backend_models_free(&ms);
    }
    ASSERT(!loaded);
    /* and it comes back on the next request */
    ASSERT_EQ(gen(b, "tiny-qwen2-q4_0", &e), RH_OK);
    backend_destroy(b);
    config_free(&c);
}

TEST(px_config_memory_keys)
{
    rh_config c;
    rh_error e;
    config_defaults(&c);
    ASSERT_EQ(c.model_idle_unload_s, 15 * 60);
    ASSERT_EQ(config_parse_string(&c, "model_memory_budget = 6G\nmodel_idle_unload = 5m\n", "t", &e), RH_OK);
    ASSERT_EQ(c.model_memory_budget, 6LL << 30);
    ASSERT_EQ(c.model_idle_unload_s, 300);
    ASSERT_EQ(config_set(&c, NULL, "model_memory_budget", "40%", &e), RH_OK);
    ASSERT_EQ(c.model_memory_budget, 0);
    ASSERT_EQ(c.model_memory_percent, 40);
    ASSERT_NE(config_set(&c, NULL, "model_memory_budget", "140%", &e), RH_OK);
    ASSERT_NE(config_set(&c, NULL, "model_memory_budget", "viel", &e), RH_OK);
    config_free(&c);
}

/* ------------------------------------------------------------ config audit */

TEST(px_config_audit_on_start)
{
    char db[600];
    snprintf(db, sizeof db, "%s/rathaus.db", test_tmpdir());
    rh_config c;
    rh_error e;
    store *st;
    store_audits l;
    int changed = -1;
    config_defaults(&c);
    ASSERT_EQ(config_parse_string(&c, "workers = 2\n[upstream a]\nurl = http://127.0.0.1:1/v1\napi_key = GEHEIM-123\n",
                                  "t", &e), RH_OK);
    ASSERT_EQ(config_validate(&c, &e), RH_OK);
    ASSERT_EQ(store_open(db, &st, &e), RH_OK);
    ASSERT_EQ(web_config_audit(&c, st, &changed, &e), RH_OK);
    ASSERT_EQ(changed, 0);
    ASSERT_EQ(store_audit_list(st, STORE_TENANT_DEFAULT, 0, 10, &l), RH_OK);
    ASSERT_EQ(l.n, 1);
    ASSERT_STREQ(l.items[0].action, "config_initial");
    store_audit_list_free(&l);
    store_close(st);
    /* unchanged restart: no entry */
    ASSERT_EQ(store_open(db, &st, &e), RH_OK);
    ASSERT_EQ(web_config_audit(&c, st, &changed, &e), RH_OK);
    ASSERT_EQ(changed, 0);
    ASSERT_EQ(store_audit_list(st, STORE_TENANT_DEFAULT, 0, 10, &l), RH_OK);
    ASSERT_EQ(l.n, 1);
    store_audit_list_free(&l);
    store_close(st);
    /* a key and the secret changed */
    ASSERT_EQ(config_set(&c, NULL, "workers", "3", &e), RH_OK);
    ASSERT_EQ(config_set(&c, "upstream a", "api_key", "NEU-456", &e), RH_OK);
    ASSERT_EQ(store_open(db, &st, &e), RH_OK);
    ASSERT_EQ(web_config_audit(&c, st, &changed, &e), RH_OK);
    ASSERT_EQ(changed, 2);
    ASSERT_EQ(store_audit_list(st, STORE_TENANT_DEFAULT, 0, 10, &l), RH_OK);
    ASSERT_EQ(l.n, 2);
    ASSERT_STREQ(l.items[0].action, "config_changed");
    if (!strstr(l.items[0].detail, "workers: 2 -> 3"))
        FAIL("detail: %s", l.items[0].detail);
    ASSERT(strstr(l.items[0].detail, "upstream.a.api_key: changed"));
    ASSERT(!strstr(l.items[0].detail, "NEU"));
    ASSERT(!strstr(l.items[0].detail, "GEHEIM"));
    store_audit_list_free(&l);
    /* the recorded configuration holds no secret in clear */
    char *rec = NULL;
    ASSERT_EQ(store_setting_get(st, "config_effective", &rec), RH_OK);
    ASSERT(!strstr(rec, "NEU-456"));
    ASSERT(strstr(rec, "sha256:"));
    rh_free(rec);
    store_close(st);
    config_free(&c);
}

TEST(px_cli_user_level_disable_enable)
{
    char conf[600], dbpath[600], out[4096];
    const char *d = test_tmpdir();
    rh_error e;
    store *st;
    int64_t id_a, id_b;
    rh_log_set_level(RH_LOG_ERROR);
    snprintf(conf, sizeof conf, "%s/r.conf", d);
    FILE *f = fopen(conf, "w");
    ASSERT(f);
    fprintf(f, "data_dir = %s\n", d);
    fclose(f);
    snprintf(dbpath, sizeof dbpath, "%s/rathaus.db", d);
    ASSERT_EQ(store_open(dbpath, &st, &e), RH_OK);
    ASSERT_EQ(store_user_create(st, STORE_TENANT_DEFAULT, "anna", "Anna", "x", "admin", &id_a, &e), RH_OK);
    ASSERT_EQ(store_user_create(st, STORE_TENANT_DEFAULT, "bert", "Bert", "x", "user", &id_b, &e), RH_OK);
    store_close(st);

    char *lv[] = {"user", "level", "--config", conf, "--reason", "Schulung 3.11.", "bert", "silber", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, lv, NULL, out, sizeof out), 0);
    ASSERT(strstr(out, "bert: none -> silber"));
    char *bad[] = {"user", "level", "--config", conf, "bert", "platin", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, bad, NULL, out, sizeof out), 2);
    char *all[] = {"user", "level", "--all-existing", "--config", conf, "bronze", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, all, NULL, out, sizeof out), 0);
    ASSERT(strstr(out, "anna: none -> bronze"));
    ASSERT(strstr(out, "bert: unchanged (silber)")); /* nobody loses a higher level */
    char *none[] = {"user", "level", "--config", conf, "anna", "none", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, none, NULL, out, sizeof out), 0);

    char *dis[] = {"user", "disable", "--config", conf, "bert", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, dis, NULL, out, sizeof out), 0);
    char *dis_last[] = {"user", "disable", "--config", conf, "anna", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, dis_last, NULL, out, sizeof out), 1); /* the last admin */

    ASSERT_EQ(store_open(dbpath, &st, &e), RH_OK);
    astore_level l;
    ASSERT_EQ(astore_level_get(st, id_b, &l), RH_OK);
    ASSERT_STREQ(l.level, "silber");
    ASSERT_STREQ(l.via, "trainer");
    astore_level_clear(&l);
    ASSERT_EQ(astore_level_get(st, id_a, &l), RH_ENOTFOUND);
    astore_events ev;
    ASSERT_EQ(astore_level_log(st, id_b, &ev), RH_OK);
    ASSERT_EQ(ev.n, 1);
    ASSERT_STREQ(ev.items[0].reason, "Schulung 3.11.");
    astore_events_free(&ev);
    store_user u;
    ASSERT_EQ(store_user_get(st, STORE_TENANT_DEFAULT, id_b, &u), RH_OK);
    ASSERT_EQ(u.disabled, 1);
    store_user_free(&u);
    store_audits au;
    ASSERT_EQ(store_audit_list(st, STORE_TENANT_DEFAULT, 0, 20, &au), RH_OK);
    int award = 0, revoke = 0, disabled = 0;
    for (size_t i = 0; i < au.n; i++) {
        award += !strcmp(au.items[i].action, "academy_award");
        revoke += !strcmp(au.items[i].action, "academy_revoke");
        disabled += !strcmp(au.items[i].action, "user_update") && !strcmp(au.items[i].detail, "disabled");
    }
    ASSERT_EQ(award, 2);
    ASSERT_EQ(revoke, 1);
    ASSERT_EQ(disabled, 1);
    store_audit_list_free(&au);
    store_close(st);

    char *en[] = {"user", "enable", "--config", conf, "bert", NULL};
    ASSERT_EQ(wc_run_cli(cmd_user, en, NULL, out, sizeof out), 0);
    ASSERT_EQ(store_open(dbpath, &st, &e), RH_OK);
    ASSERT_EQ(store_user_get(st, STORE_TENANT_DEFAULT, id_b, &u), RH_OK);
    ASSERT_EQ(u.disabled, 0);
    store_user_free(&u);
    store_close(st);
}

/* ------------------------------------------------------------ /v1 */

typedef struct tsrv {
    wc_server s; /* the portal in-process (web_client.h) */
    char auth[200];
} tsrv;

static size_t on_body(char *d, size_t s, size_t n, void *ud)
{
    return rh_buf_append(ud, d, s * n) == RH_OK ? s * n : 0;
}

/* One request; the body goes into `out` (NUL-terminated). */
static long call(tsrv *t, const char *method, const char *path, const char *body, const char *hdr, rh_buf *out)
{
    rh_buf_init(out, 1 << 24);
    CURL *h = curl_easy_init();
    wc_req rq = {.base = t->s.base, .method = method, .path = path, .body = body, .hdr = hdr, .timeout = 60L,
                 .on_body = on_body, .body_ud = out};
    long status = wc_perform(h, &rq);
    curl_easy_cleanup(h);
    rh_buf_append(out, "", 1);
    return status;
}

static void srv_start(tsrv *t, const char *conf)
{
    rh_error e;
    char key[AUTH_APIKEY_MAX];
    int64_t uid;
    wc_server_start(&t->s, conf);
    ASSERT_EQ(store_user_create(t->s.st, STORE_TENANT_DEFAULT, "robot", "Robot", "x", "user", &uid, &e), RH_OK);
    wc_award(t->s.st, uid, "gold", "test");
    wc_apikey(t->s.st, uid, key);
    snprintf(t->auth, sizeof t->auth, "Authorization: Bearer %s", key);
}

static void srv_stop(tsrv *t) { wc_server_stop(&t->s); }

TEST(px_v1_pii_block)
{
    tsrv t;
    rh_buf b;
    srv_start(&t, "pii_check = block\n");
    static const char chat[] = "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":"
                               "\"Bitte ueberweise auf DE89 3704 0044 0532 0130 00\"}]}";
    ASSERT_EQ(call(&t, "POST", "/v1/chat/completions", chat, t.auth, &b), 422);
    if (!strstr(b.data, "\"code\":\"pii_blocked\"") || !strstr(b.data, "\"type\":\"invalid_request_error\"") ||
        !strstr(b.data, "iban"))
        FAIL("body: %s", b.data);
    rh_buf_free(&b);
    ASSERT_EQ(call(&t, "POST", "/v1/completions",
                   "{\"model\":\"x\",\"prompt\":\"Schreib an max.mustermann@example.org\"}", t.auth, &b), 422);
    ASSERT(strstr(b.data, "pii_blocked"));
    rh_buf_free(&b);
    /* harmless text passes the check (and fails later: no such model) */
    ASSERT_EQ(call(&t, "POST", "/v1/completions", "{\"model\":\"x\",\"prompt\":\"Wie beantrage ich einen Pass?\"}",
                   t.auth, &b), 404);
    rh_buf_free(&b);
    srv_stop(&t);
    /* warn mode: not blocked on /v1 */
    srv_start(&t, "pii_check = warn\n");
    ASSERT_EQ(call(&t, "POST", "/v1/chat/completions", chat, t.auth, &b), 404);
    rh_buf_free(&b);
    srv_stop(&t);
}

/* The first `embd:` line printed by `rathaus embed`, L2-normalised. */
static size_t cli_embedding(const char *model, const char *text, float *out, size_t cap)
{
    char in[600], buf[1 << 16];
    snprintf(in, sizeof in, "%s/texts.txt", test_tmpdir());
    FILE *f = fopen(in, "w");
    ASSERT(f);
    fprintf(f, "%s\n", text);
    fclose(f);
    char *argv[] = {"embed", "-m", (char *)model, "-f", in, NULL};
    ASSERT_EQ(wc_run_cli(cmd_embed, argv, NULL, buf, sizeof buf), 0);
    char *p = strstr(buf, "embd:");
    ASSERT(p);
    p += 5;
    size_t n = 0;
    double norm = 0;
    while (n < cap) {
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            break;
        out[n++] = (float)v;
        norm += v * v;
        p = end;
    }
    norm = sqrt(norm);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(out[i] / norm);
    return n;
}

TEST_TIMEOUT(px_v1_embeddings_local_model, 120)
{
    const char *dir = models_dir();
    link_model(dir, "tiny-bert-f16.gguf");
    tsrv t;
    rh_buf b;
    char conf[700];
    snprintf(conf, sizeof conf, "models_dir = %s\n", dir);
    srv_start(&t, conf);
    ASSERT_EQ(call(&t, "POST", "/v1/embeddings", "{\"model\":\"tiny-bert-f16\",\"input\":\"x\"}", NULL, &b), 401);
    rh_buf_free(&b);
    ASSERT_EQ(call(&t, "POST", "/v1/embeddings",
                   "{\"model\":\"tiny-bert-f16\",\"input\":[\"Wo beantrage ich einen Personalausweis?\",\"Hallo\"]}",
                   t.auth, &b), 200);
    json_error_t je;
    json_t *root = json_loads(b.data, 0, &je);
    rh_buf_free(&b);
    ASSERT(root);
    ASSERT_STREQ(json_string_value(json_object_get(root, "object")), "list");
    json_t *data = json_object_get(root, "data");
    ASSERT_EQ(json_array_size(data), 2);
    json_t *e0 = json_object_get(json_array_get(data, 0), "embedding");
    ASSERT_EQ(json_integer_value(json_object_get(json_array_get(data, 1), "index")), 1);
    static float ref[4096];
    size_t n = cli_embedding(test_data_path("models/tiny-bert-f16.gguf"), "Wo beantrage ich einen Personalausweis?", ref,
                             4096);
    ASSERT(n > 0);
    ASSERT_EQ(json_array_size(e0), n);
    for (size_t i = 0; i < n; i++)
        ASSERT_NEAR(json_number_value(json_array_get(e0, i)), ref[i], 2e-4);
    json_decref(root);
    /* errors: unknown model, a generating model for embeddings is fine
     * or refused, bad input */
    ASSERT_EQ(call(&t, "POST", "/v1/embeddings", "{\"model\":\"gibtsnicht\",\"input\":\"x\"}", t.auth, &b), 404);
    ASSERT(strstr(b.data, "model_not_found"));
    rh_buf_free(&b);
    ASSERT_EQ(call(&t, "POST", "/v1/embeddings", "{\"model\":\"tiny-bert-f16\",\"input\":[1,2]}", t.auth, &b), 400);
    rh_buf_free(&b);
    ASSERT_EQ(call(&t, "POST", "/v1/embeddings", "{\"model\":\"tiny-bert-f16\"}", t.auth, &b), 400);
    rh_buf_free(&b);
    /* /v1/models shows quantization and context length */
    ASSERT_EQ(call(&t, "GET", "/v1/models", NULL, t.auth, &b), 200);
    if (!strstr(b.data, "\"quantization\":\"F16\"") || !strstr(b.data, "\"context_length\":512"))
        FAIL("models: %s", b.data);
    rh_buf_free(&b);
    srv_stop(&t);
}

/* A fake upstream that answers POST /v1/embeddings with two fixed vectors
 * (and counts what it was asked). */
typedef struct fake_emb {
    struct MHD_Daemon *d;
    int port;
    int calls;
    char last_body[1024];
} fake_emb;

static enum MHD_Result fake_emb_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                        const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    fake_emb *f = cls;
    (void)version;
    if (!*ctx) {
        *ctx = f;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t have = strlen(f->last_body), n = *upload_size;
        if (have + n >= sizeof f->last_body)
            n = sizeof f->last_body - have - 1;
        memcpy(f->last_body + have, upload, n);
        f->last_body[have + n] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    static const char ok[] = "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.5,0.25]},"
                             "{\"object\":\"embedding\",\"index\":0,\"embedding\":[1.0,-2.0]}],\"model\":\"fern\"}";
    static const char nf[] = "{\"error\":\"not found\"}";
    int hit = !strcmp(method, "POST") && !strcmp(url, "/v1/embeddings");
    f->calls += hit;
    struct MHD_Response *r = MHD_create_response_from_buffer(hit ? sizeof ok - 1 : sizeof nf - 1,
                                                             (void *)(hit ? ok : nf), MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, hit ? 200 : 404, r);
    MHD_destroy_response(r);
    return ret;
}

TEST(px_v1_embeddings_forwarded_to_upstream)
{
    fake_emb f;
    memset(&f, 0, sizeof f);
    f.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL,
                           NULL, fake_emb_handler, &f, MHD_OPTION_END);
    ASSERT(f.d);
    f.port = MHD_get_daemon_info(f.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char conf[300];
    snprintf(conf, sizeof conf, "[upstream fern]\nurl = http://127.0.0.1:%d/v1\nmodels = fern-embed\n", f.port);
    tsrv t;
    rh_buf b;
    srv_start(&t, conf);
    ASSERT_EQ(call(&t, "POST", "/v1/embeddings", "{\"model\":\"fern-embed\",\"input\":[\"eins\",\"zwei\"]}", t.auth,
                   &b), 200);
    ASSERT_EQ(f.calls, 1);
    ASSERT(strstr(f.last_body, "\"model\":\"fern-embed\""));
    ASSERT(strstr(f.last_body, "\"input\":[\"eins\",\"zwei\"]"));
    json_error_t je;
    json_t *root = json_loads(b.data, 0, &je);
    rh_buf_free(&b);
    ASSERT(root);
    json_t *data = json_object_get(root, "data");
    ASSERT_EQ(json_array_size(data), 2);
    /* the upstream's order by index is kept */
    json_t *e0 = json_object_get(json_array_get(data, 0), "embedding");
    ASSERT_NEAR(json_number_value(json_array_get(e0, 0)), 1.0, 1e-6);
    ASSERT_NEAR(json_number_value(json_array_get(e0, 1)), -2.0, 1e-6);
    json_decref(root);
    /* a model nobody serves */
    ASSERT_EQ(call(&t, "POST", "/v1/embeddings", "{\"model\":\"anders\",\"input\":\"x\"}", t.auth, &b), 404);
    rh_buf_free(&b);
    srv_stop(&t);
    MHD_stop_daemon(f.d);
}
