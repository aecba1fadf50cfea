/*
 * cmd_apikey.c - `rathaus apikey create USER [--name N] [--config FILE]`:
 * create an API key for the OpenAI-compatible /v1 API. The key is printed
 * once; only its hash is stored.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "store/store.h"
#include "web/auth.h"

int cmd_apikey(int argc, char **argv)
{
    const char *cfg_path = NULL, *name = "cli", *user = NULL;
    if (argc < 2 || strcmp(argv[1], "create")) {
        fprintf(stderr, "usage: rathaus apikey create USER [--name NAME] [--config FILE]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfg_path = argv[++i];
        else if (argv[i][0] != '-' && !user)
            user = argv[i];
        else {
            fprintf(stderr, "usage: rathaus apikey create USER [--name NAME] [--config FILE]\n");
            return 2;
        }
    }
    if (!user) {
        fprintf(stderr, "usage: rathaus apikey create USER [--name NAME] [--config FILE]\n");
        return 2;
    }
    if (!cfg_path && access("rathaus.conf", R_OK) == 0)
        cfg_path = "rathaus.conf";
    rh_config cfg;
    rh_error err;
    rh_error_clear(&err);
    store *st = NULL;
    int code = 1;
    if (config_load(&cfg, cfg_path, &err) != RH_OK) {
        fprintf(stderr, "rathaus: configuration error: %s\n", err.msg);
        return 1;
    }
    char dbpath[4096];
    snprintf(dbpath, sizeof dbpath, "%s/rathaus.db", cfg.data_dir);
    if (access(dbpath, R_OK) != 0) {
        fprintf(stderr, "rathaus: no database at %s (start 'rathaus serve' once first)\n", dbpath);
        goto out;
    }
    if (store_open(dbpath, &st, &err) != RH_OK) {
        fprintf(stderr, "rathaus: %s\n", err.msg);
        goto out;
    }
    store_user u;
    if (store_user_by_name(st, STORE_TENANT_DEFAULT, user, &u, NULL)) {
        fprintf(stderr, "rathaus: no user '%s'\n", user);
        goto out;
    }
    char key[AUTH_APIKEY_MAX], prefix[16], hash[AUTH_TOKEN_HEX];
    auth_apikey_new(key, prefix, hash);
    int64_t id;
    int rc = store_apikey_create(st, STORE_TENANT_DEFAULT, u.id, name, hash, prefix, (int64_t)time(NULL), &id);
    store_user_free(&u);
    if (rc) {
        fprintf(stderr, "rathaus: could not store the key\n");
        goto out;
    }
    store_audit_add(st, STORE_TENANT_DEFAULT, "cli", "apikey_create", user, name, NULL, (int64_t)time(NULL));
    printf("%s\n", key);
    fprintf(stderr, "API key %lld for '%s' created. It is shown only this once; use it as\n"
                    "  Authorization: Bearer <key>   with the /v1 API.\n", (long long)id, user);
    code = 0;
out:
    store_close(st);
    config_free(&cfg);
    return code;
}
