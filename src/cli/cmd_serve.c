/*
 * cmd_serve.c - `rathaus serve [--config FILE]`: start the portal.
 *
 * Loads rathaus.conf (the given file, else ./rathaus.conf when present,
 * else defaults; RATHAUS_* environment variables override), opens the
 * database in data_dir, starts the chat service and the HTTP server, and
 * runs until SIGTERM or SIGINT: then it stops accepting connections,
 * cancels running answers, and closes the database.
 *
 * At start the effective configuration is compared with the one of the
 * last start (audit entry config_changed, web_config_audit). glibc's malloc
 * gets at most SERVE_ARENA_MAX arenas: by default every thread that
 * allocates may get one of 8 x cores arenas, and with one thread per
 * connection plus up to 256 generation workers the RSS kept growing under
 * load (docs/portal.md, "Memory").
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chat/chat.h"
#include "cli/cli.h"
#include "config/config.h"
#include "core/log.h"
#include "store/store.h"
#include "web/web.h"

#define SERVE_ARENA_MAX 2

static int make_dir(const char *path, rh_error *err)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return RH_OK;
    return rh_error_set(err, RH_EIO, "cannot create directory %s: %s", path, strerror(errno));
}

int cmd_serve(int argc, char **argv)
{
    const char *cfg_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            cfg_path = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: rathaus serve [--config FILE]\n\n"
                   "Starts the portal. Without --config, ./rathaus.conf is read when it exists.\n"
                   "Every setting can be overridden with RATHAUS_<KEY> (see rathaus.conf.example).\n");
            return 0;
        } else {
            fprintf(stderr, "rathaus serve: unknown argument '%s' (usage: rathaus serve [--config FILE])\n", argv[i]);
            return 2;
        }
    }
    if (!cfg_path && access("rathaus.conf", R_OK) == 0)
        cfg_path = "rathaus.conf";
    /* before any thread exists; MALLOC_ARENA_MAX in the environment wins */
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, SERVE_ARENA_MAX);

    rh_config cfg;
    rh_error err;
    rh_error_clear(&err);
    store *st = NULL;
    backend *be = NULL;
    chat_service *chat = NULL;
    web_server *web = NULL;
    int code = 1;
    if (config_load(&cfg, cfg_path, &err) != RH_OK) {
        fprintf(stderr, "rathaus: configuration error: %s\n", err.msg);
        return 1;
    }
    rh_log_set_level(cfg.log_level);
    if (cfg.log_file && rh_log_open(cfg.log_file) != RH_OK) {
        fprintf(stderr, "rathaus: cannot open log file %s\n", cfg.log_file);
        goto out;
    }
    /* signals are taken by sigwait in this thread only */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (make_dir(cfg.data_dir, &err) || make_dir(cfg.models_dir, &err)) {
        fprintf(stderr, "rathaus: %s\n", err.msg);
        goto out;
    }
    char dbpath[4096];
    snprintf(dbpath, sizeof dbpath, "%s/rathaus.db", cfg.data_dir);
    if (store_open(dbpath, &st, &err) != RH_OK) {
        fprintf(stderr, "rathaus: %s\n", err.msg);
        goto out;
    }
    int n_changed = 0;
    if (web_config_audit(&cfg, st, &n_changed, &err) != RH_OK)
        rh_warn("configuration audit: %s", err.msg); /* not fatal */
    else if (n_changed)
        printf("rathaus: the configuration changed since the last start (%d key(s), see the audit log)\n",
               n_changed);
    rh_error_clear(&err);
    if (backend_create_default(&cfg, &be, &err) != RH_OK ||
        chat_service_create(be, cfg.workers, cfg.queue_max, &chat, &err) != RH_OK ||
        web_start(&cfg, st, chat, &web, &err) != RH_OK) {
        fprintf(stderr, "rathaus: %s\n", err.msg);
        goto out;
    }
    const char *scheme = cfg.tls_cert ? "https" : "http";
    int64_t users = 0;
    store_user_count(st, STORE_TENANT_DEFAULT, &users);
    rh_info("rathaus %s listening on %s://%s:%d/ (data %s, %zu upstream(s))", RATHAUS_VERSION, scheme,
            cfg.listen_host, web_port(web), cfg.data_dir, cfg.n_upstreams);
    printf("rathaus: portal running on %s://%s:%d/\n", scheme, cfg.listen_host, web_port(web));
    if (users == 0)
        printf("rathaus: no account yet - open the address above to create the first administrator\n"
               "         (or run: rathaus user add --admin NAME)\n");
    backend_models local;
    if (cfg.n_upstreams == 0 && be->vt->list_models(be, &local, &err) == RH_OK) {
        if (local.n == 0)
            printf("rathaus: no language model yet - put a GGUF file into %s (it is picked up\n"
                   "         without a restart), or set RATHAUS_UPSTREAM_URL / add an [upstream NAME]\n"
                   "         section to rathaus.conf\n",
                   cfg.models_dir);
        backend_models_free(&local);
    }
    fflush(stdout);

    for (;;) {
        struct timespec ts = {60, 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            rh_info("signal %d: shutting down", sig);
            break;
        }
        store_session_purge(st, (int64_t)time(NULL), cfg.session_idle_s, cfg.session_absolute_s);
        malloc_trim(0); /* hand freed memory of all arenas back to the system */
    }
    code = 0;
out:
    web_stop(web);
    chat_service_destroy(chat);
    backend_destroy(be);
    store_close(st);
    if (code == 0)
        rh_info("stopped");
    rh_log_close();
    config_free(&cfg);
    return code;
}
