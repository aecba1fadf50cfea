/*
 * web_client.c - shared helpers of the portal tests: the in-process portal,
 * one libcurl request, the CSRF token, levels and API keys in the store,
 * fake upstream request bodies, CLI runs (see web_client.h). No TEST()s here.
 */
#include "web_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/astore.h"
#include "test.h"

void wc_server_start_text(wc_server *s, const char *text)
{
    rh_error e;
    auth_set_fast_hashing(1);
    rh_log_set_level(getenv("DBG") ? RH_LOG_DEBUG : RH_LOG_ERROR);
    config_defaults(&s->cfg);
    if (config_parse_string(&s->cfg, text, "test", &e) || config_validate(&s->cfg, &e))
        FAIL("config: %s", e.msg);
    if (store_open(":memory:", &s->st, &e) || backend_create_default(&s->cfg, &s->be, &e) ||
        chat_service_create(s->be, s->cfg.workers, s->cfg.queue_max, &s->chat, &e) ||
        web_start(&s->cfg, s->st, s->chat, &s->web, &e))
        FAIL("start: %s", e.msg);
    snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", s->cfg.tls_cert ? "https" : "http", web_port(s->web));
}

void wc_server_start(wc_server *s, const char *conf)
{
    char text[2048];
    snprintf(text, sizeof text, "listen = 127.0.0.1:0\ndata_dir = %s\n%s", test_tmpdir(), conf ? conf : "");
    wc_server_start_text(s, text);
}

void wc_server_stop(wc_server *s)
{
    web_stop(s->web);
    chat_service_destroy(s->chat);
    backend_destroy(s->be);
    store_close(s->st);
    config_free(&s->cfg);
}

size_t wc_append(char *d, size_t s, size_t n, void *ud)
{
    rh_buf_append(ud, d, s * n);
    return s * n;
}

long wc_perform(CURL *h, const wc_req *rq)
{
    char url[1024], ch[200];
    long status = 0;
    snprintf(url, sizeof url, "%s%s", rq->base, rq->path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_COOKIEFILE, ""); /* reset turned the engine off */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rq->on_body ? rq->on_body : wc_append);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rq->on_body ? rq->body_ud : (void *)rq->body_out);
    if (rq->hdr_out) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, wc_append);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, rq->hdr_out);
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT, rq->timeout ? rq->timeout : 20L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L); /* the TLS test's own certificate */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    if (rq->iface)
        curl_easy_setopt(h, CURLOPT_INTERFACE, rq->iface);
    if (rq->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        if (rq->has_len)
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
    }
    snprintf(ch, sizeof ch, "Content-Type: %s", rq->content_type ? rq->content_type : "application/json");
    struct curl_slist *sl = curl_slist_append(NULL, ch);
    if (rq->csrf && rq->csrf[0]) {
        snprintf(ch, sizeof ch, "X-CSRF-Token: %s", rq->csrf);
        sl = curl_slist_append(sl, ch);
    }
    for (int i = 0; rq->hdrs && rq->hdrs[i]; i++)
        sl = curl_slist_append(sl, rq->hdrs[i]);
    if (rq->hdr)
        sl = curl_slist_append(sl, rq->hdr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
    curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(sl);
    return status;
}

void wc_csrf_parse(const char *body, char *out, size_t cap)
{
    const char *p = strstr(body ? body : "", "\"csrf\":\"");
    if (!p)
        FAIL("no csrf in the session: %s", body ? body : "");
    p += 8;
    size_t n = strcspn(p, "\"");
    if (n >= cap)
        FAIL("csrf token too long (%zu)", n);
    memcpy(out, p, n);
    out[n] = '\0';
}

void wc_award(store *st, int64_t uid, const char *level, const char *reason)
{
    ASSERT_EQ(astore_level_set(st, STORE_TENANT_DEFAULT, uid, level, "award", "trainer", "test", reason,
                               (int64_t)time(NULL)),
              RH_OK);
}

void wc_apikey(store *st, int64_t uid, char key[AUTH_APIKEY_MAX])
{
    char prefix[16], hash[AUTH_TOKEN_HEX];
    int64_t id;
    auth_apikey_new(key, prefix, hash);
    ASSERT_EQ(store_apikey_create(st, STORE_TENANT_DEFAULT, uid, "k", hash, prefix, (int64_t)time(NULL), &id),
              RH_OK);
}

rh_buf *wc_mhd_body(void **ctx, const char *upload, size_t *upload_size)
{
    if (!*ctx) {
        rh_buf *b = rh_calloc(1, sizeof *b);
        rh_buf_init(b, 1 << 20);
        *ctx = b;
        return NULL;
    }
    rh_buf *body = *ctx;
    if (*upload_size) {
        rh_buf_append(body, upload, *upload_size);
        *upload_size = 0;
        return NULL;
    }
    return body;
}

void wc_mhd_done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    rh_buf *b = *ctx;
    if (b) {
        rh_buf_free(b);
        rh_free(b);
    }
}

int wc_run_cli(int (*fn)(int, char **), char **argv, const char *input, char *out, size_t cap)
{
    int in_pipe[2] = {-1, -1}, saved_in = -1;
    char path[600];
    snprintf(path, sizeof path, "%s/cli-out.txt", test_tmpdir());
    if (input) {
        if (pipe(in_pipe) != 0)
            FAIL("pipe");
        if (write(in_pipe[1], input, strlen(input)) < 0)
            FAIL("write");
        close(in_pipe[1]);
        saved_in = dup(0);
    }
    int saved_out = dup(1);
    fflush(stdout);
    FILE *o = fopen(path, "w");
    if (input) {
        dup2(in_pipe[0], 0);
        clearerr(stdin);
    }
    dup2(fileno(o), 1);
    int argc = 0;
    while (argv[argc])
        argc++;
    int rc = fn(argc, argv);
    fflush(stdout);
    if (input) {
        dup2(saved_in, 0);
        close(saved_in);
        close(in_pipe[0]);
    }
    dup2(saved_out, 1);
    close(saved_out);
    fclose(o);
    if (input)
        clearerr(stdin);
    size_t n = 0;
    char *s = test_read_file(path, &n);
    snprintf(out, cap, "%s", s ? s : "");
    rh_free(s);
    return rc;
}
