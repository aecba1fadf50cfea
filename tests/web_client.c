/*
 * web_client.c - shared helpers of the portal tests: the in-process portal,
 * one libcurl request, the CSRF token, levels and API keys in the store
 * (see web_client.h). No TEST()s here.
 */
#include "web_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
