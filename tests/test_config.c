/* test_config.c - rathaus.conf parsing, env overrides and validation. */
#include <stdlib.h>

#include "config/config.h"
#include "core/alloc.h"
#include "core/log.h"
#include "test.h"

TEST(cfg_defaults)
{
    rh_config c;
    rh_error e;
    unsetenv("RATHAUS_LISTEN");
    ASSERT_EQ(config_load(&c, NULL, &e), RH_OK);
    ASSERT_STREQ(c.listen_host, "127.0.0.1");
    ASSERT_EQ(c.listen_port, 8080);
    ASSERT_STREQ(c.data_dir, "./data");
    ASSERT_STREQ(c.models_dir, "./data/models");
    ASSERT_STREQ(c.default_lang, "de");
    ASSERT_EQ(c.n_upstreams, 0);
    config_free(&c);
}

TEST(cfg_parse_file_and_sections)
{
    rh_config c;
    rh_error e;
    config_defaults(&c);
    const char *text = "# comment\n"
                       "[server]\nlisten = 0.0.0.0:9090  # trailing\n"
                       "session_idle_timeout = 10m\nsession_absolute_timeout = 2h\n"
                       "max_body_bytes = 2M\n"
                       "[data]\ndata_dir = \"/var/lib/rathaus\"\n"
                       "[chat]\nqueue_max = 4\nworkers = 8\n"
                       "[upstream a]\nurl = http://127.0.0.1:1/v1/\nmodels = m1, m2\ntimeout = 30s\n"
                       "[upstream b]\nurl = https://example.invalid/v1\napi_key = sk-x\n";
    ASSERT_EQ(config_parse_string(&c, text, "t.conf", &e), RH_OK);
    ASSERT_EQ(config_validate(&c, &e), RH_OK);
    ASSERT_STREQ(c.listen_host, "0.0.0.0");
    ASSERT_EQ(c.listen_port, 9090);
    ASSERT_EQ(c.session_idle_s, 600);
    ASSERT_EQ(c.session_absolute_s, 7200);
    ASSERT_EQ(c.max_body_bytes, 2 * 1024 * 1024);
    ASSERT_STREQ(c.data_dir, "/var/lib/rathaus");
    ASSERT_STREQ(c.models_dir, "/var/lib/rathaus/models");
    ASSERT_EQ(c.workers, 4); /* clamped to queue_max */
    ASSERT_EQ(c.n_upstreams, 2);
    ASSERT_STREQ(c.upstreams[0].url, "http://127.0.0.1:1/v1");
    ASSERT_EQ(c.upstreams[0].timeout_s, 30);
    ASSERT(config_upstream_serves(&c.upstreams[0], "m2"));
    ASSERT(!config_upstream_serves(&c.upstreams[0], "m3"));
    ASSERT(config_upstream_serves(&c.upstreams[1], "anything"));
    ASSERT_STREQ(c.upstreams[1].api_key, "sk-x");
    config_free(&c);
}

TEST(cfg_errors_are_clear)
{
    rh_config c;
    rh_error e;
    const char *bad[] = {"nokey\n", "listen = 127.0.0.1\n", "listen = 1.2.3.4:99999\n",
                         "frobnicate = 1\n", "[weird]\n", "max_body_bytes = 12X\n",
                         "session_idle_timeout = -5\n", "[upstream a b]\nurl=x\n",
                         "default_lang = fr\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_defaults(&c);
        rh_error_clear(&e);
        int rc = config_parse_string(&c, bad[i], "t.conf", &e);
        if (rc == RH_OK)
            FAIL("accepted: %s", bad[i]);
        ASSERT(strstr(e.msg, "t.conf:") != NULL);
        config_free(&c);
    }
    config_defaults(&c);
    ASSERT_EQ(config_parse_string(&c, "tls_cert = /x.pem\n", "t", &e), RH_OK);
    ASSERT_NE(config_validate(&c, &e), RH_OK);
    ASSERT(strstr(e.msg, "tls_key") != NULL);
    config_free(&c);
    config_defaults(&c);
    ASSERT_EQ(config_parse_string(&c, "[upstream x]\nmodels = a\n", "t", &e), RH_OK);
    ASSERT_NE(config_validate(&c, &e), RH_OK);
    ASSERT(strstr(e.msg, "url") != NULL);
    config_free(&c);
    config_defaults(&c);
    ASSERT_EQ(config_parse_string(&c, "[upstream x]\nurl = http://a b/v1\n", "t", &e), RH_OK);
    ASSERT_NE(config_validate(&c, &e), RH_OK);
    config_free(&c);
    config_defaults(&c);
    ASSERT_EQ(config_parse_string(&c, "[upstream x]\nurl = ftp://a/v1\n", "t", &e), RH_OK);
    ASSERT_NE(config_validate(&c, &e), RH_OK);
    ASSERT(strstr(e.msg, "http://") != NULL);
    config_free(&c);
}

TEST(cfg_env_overrides)
{
    rh_config c;
    rh_error e;
    const char *path = "/tmp/rathaus-cfg-test.conf";
    char p[256];
    snprintf(p, sizeof p, "%s/r.conf", test_tmpdir());
    path = p;
    FILE *f = fopen(path, "w");
    ASSERT(f);
    fputs("listen = 127.0.0.1:8000\ndata_dir = /a\n[upstream main]\nurl = http://127.0.0.1:5/v1\n", f);
    fclose(f);
    setenv("RATHAUS_LISTEN", "127.0.0.2:8001", 1);
    setenv("RATHAUS_DATA_DIR", "/b", 1);
    setenv("RATHAUS_QUEUE_MAX", "3", 1);
    setenv("RATHAUS_UPSTREAM_MAIN_URL", "http://127.0.0.1:6/v1", 1);
    setenv("RATHAUS_UPSTREAM_URL", "http://127.0.0.1:7/v1", 1);
    ASSERT_EQ(config_load(&c, path, &e), RH_OK);
    ASSERT_STREQ(c.listen_host, "127.0.0.2");
    ASSERT_EQ(c.listen_port, 8001);
    ASSERT_STREQ(c.data_dir, "/b");
    ASSERT_EQ(c.queue_max, 3);
    ASSERT_EQ(c.n_upstreams, 2);
    ASSERT_STREQ(c.upstreams[0].url, "http://127.0.0.1:6/v1");
    ASSERT_STREQ(c.upstreams[1].name, "default");
    ASSERT_STREQ(c.upstreams[1].url, "http://127.0.0.1:7/v1");
    config_free(&c);
    setenv("RATHAUS_QUEUE_MAX", "lots", 1);
    ASSERT_NE(config_load(&c, path, &e), RH_OK);
    ASSERT(strstr(e.msg, "RATHAUS_QUEUE_MAX") != NULL);
    ASSERT_NE(config_load(&c, "/nonexistent/x.conf", &e), RH_OK);
}

TEST(cfg_survives_allocation_failures)
{
    const char *text = "listen = 127.0.0.1:8081\ndata_dir = /srv/r\nlog_file = /tmp/x.log\n"
                       "[upstream a]\nurl = http://127.0.0.1:9/v1\napi_key = k\nmodels = m\n";
    int failed = 0, ok = 0;
    for (long n = 0; n < 30; n++) {
        rh_config c;
        rh_error e;
        config_defaults(&c);
        rh_alloc_fail_after(n);
        int rc = config_parse_string(&c, text, "t", &e);
        if (rc == RH_OK)
            rc = config_validate(&c, &e);
        rh_alloc_fail_reset();
        if (rc == RH_OK) {
            ok++;
            ASSERT_STREQ(c.upstreams[0].api_key, "k");
        } else {
            failed++;
            ASSERT(strstr(e.msg, "out of memory") != NULL);
        }
        config_free(&c);
    }
    ASSERT(failed > 0);
    ASSERT(ok > 0);
}
