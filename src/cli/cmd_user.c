/*
 * cmd_user.c - `rathaus user`: manage accounts from the command line.
 *
 *   rathaus user add [--admin | --role ROLE] [--display-name NAME] [--config FILE] USERNAME
 *   rathaus user passwd [--config FILE] USERNAME
 *   rathaus user list [--config FILE]
 *   rathaus user level [--reason TEXT] [--config FILE] USERNAME LEVEL|none
 *   rathaus user level --all-existing [--reason TEXT] [--config FILE] LEVEL
 *   rathaus user disable|enable [--config FILE] USERNAME
 *
 * `level` awards (or takes back) an academy level as a trainer would
 * (docs/academy.md), e.g. when academy gating is switched on for an
 * installation with existing users: --all-existing raises every user below
 * LEVEL to LEVEL (nobody loses a higher level). Every change is written to
 * the level history and the audit log (actor "cli").
 *
 * The password is read from standard input (asked twice, without echo,
 * when it is a terminal).
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "academy/academy.h"
#include "cli/cli.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "store/astore.h"
#include "store/store.h"
#include "web/auth.h"

static int open_store(const char *cfg_path, rh_config *cfg, store **st)
{
    rh_error err;
    rh_error_clear(&err);
    if (!cfg_path && access("rathaus.conf", R_OK) == 0)
        cfg_path = "rathaus.conf";
    if (config_load(cfg, cfg_path, &err) != RH_OK) {
        fprintf(stderr, "rathaus: configuration error: %s\n", err.msg);
        return 1;
    }
    char dbpath[4096];
    snprintf(dbpath, sizeof dbpath, "%s/rathaus.db", cfg->data_dir);
    if (access(cfg->data_dir, W_OK) != 0) {
        fprintf(stderr, "rathaus: data directory %s does not exist or is not writable (start 'rathaus serve' once, "
                        "or create it)\n", cfg->data_dir);
        config_free(cfg);
        return 1;
    }
    if (store_open(dbpath, st, &err) != RH_OK) {
        fprintf(stderr, "rathaus: %s\n", err.msg);
        config_free(cfg);
        return 1;
    }
    return 0;
}

static int read_line(const char *prompt, char *buf, size_t cap, int tty)
{
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(buf, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!got)
        return -1;
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 0;
}

static int read_password(char *pw, size_t cap)
{
    int tty = isatty(STDIN_FILENO);
    char again[AUTH_PASSWORD_MAX + 2];
    if (read_line("Password: ", pw, cap, tty)) {
        fprintf(stderr, "rathaus: no password given on standard input\n");
        return 1;
    }
    if (tty) {
        if (read_line("Password (again): ", again, sizeof again, tty) || strcmp(pw, again)) {
            fprintf(stderr, "rathaus: the passwords differ\n");
            return 1;
        }
    }
    if (auth_password_policy(pw)) {
        fprintf(stderr, "rathaus: the password must have %d to %d characters\n", AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
        return 1;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: rathaus user add [--admin | --role admin|trainer|user] [--display-name NAME] "
                    "[--config FILE] USERNAME\n"
                    "       rathaus user passwd [--config FILE] USERNAME\n"
                    "       rathaus user list [--config FILE]\n"
                    "       rathaus user level [--reason TEXT] [--config FILE] USERNAME LEVEL|none\n"
                    "       rathaus user level --all-existing [--reason TEXT] [--config FILE] LEVEL\n"
                    "       rathaus user disable|enable [--config FILE] USERNAME\n");
    return 2;
}

/* Set one user's level (NULL: none); prints what happened. 0 or 1. */
static int set_level(store *st, const academy *a, const store_user *u, const char *level, const char *reason,
                     int only_raise)
{
    astore_level cur;
    int have = astore_level_get(st, u->id, &cur) == RH_OK;
    int cur_i = have ? academy_level_index(a, cur.level) : -1;
    int new_i = level ? academy_level_index(a, level) : -1;
    int code = 0;
    if ((only_raise && cur_i >= new_i) || (have ? (level && !strcmp(cur.level, level)) : !level)) {
        printf("%s: unchanged (%s)\n", u->username, have ? cur.level : "none");
        goto out;
    }
    const char *action = new_i > cur_i ? "award" : "revoke";
    int64_t now = (int64_t)time(NULL);
    if (astore_level_set(st, STORE_TENANT_DEFAULT, u->id, level, action, "trainer", "cli", reason, now) != RH_OK) {
        fprintf(stderr, "rathaus: could not set the level of '%s'\n", u->username);
        code = 1;
        goto out;
    }
    rh_buf d;
    rh_buf_init(&d, 2048);
    rh_buf_appendf(&d, "level=%s previous=%s reason=%s", level ? level : "-", have ? cur.level : "-", reason);
    store_audit_add(st, STORE_TENANT_DEFAULT, "cli", new_i > cur_i ? "academy_award" : "academy_revoke", u->username,
                    d.data, NULL, now);
    rh_buf_free(&d);
    printf("%s: %s -> %s\n", u->username, have ? cur.level : "none", level ? level : "none");
out:
    if (have)
        astore_level_clear(&cur);
    return code;
}

static int cmd_user_level(int argc, char **argv)
{
    const char *cfg_path = NULL, *reason = NULL, *pos[2] = {NULL, NULL};
    int all = 0, npos = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--all-existing"))
            all = 1;
        else if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfg_path = argv[++i];
        else if (argv[i][0] != '-' && npos < 2)
            pos[npos++] = argv[i];
        else
            return usage();
    }
    if (npos != (all ? 1 : 2))
        return usage();
    const char *level = pos[all ? 0 : 1];
    if (!strcmp(level, "none"))
        level = NULL;
    if (all && !level) {
        fprintf(stderr, "rathaus: --all-existing needs a level (taking every level away is not offered)\n");
        return 2;
    }
    rh_config cfg;
    store *st = NULL;
    if (open_store(cfg_path, &cfg, &st))
        return 1;
    int code = 1;
    store_users l = {0};
    const academy *a = academy_get(&cfg);
    if (!a) {
        fprintf(stderr, "rathaus: the academy content could not be loaded\n");
        goto out;
    }
    if (level && academy_level_index(a, level) < 0) {
        fprintf(stderr, "rathaus: unknown level '%s' (levels:", level);
        for (size_t i = 0; i < a->n_levels; i++)
            fprintf(stderr, " %s", a->levels[i].id);
        fprintf(stderr, ", or none)\n");
        code = 2;
        goto out;
    }
    if (!reason)
        reason = all ? "rathaus user level --all-existing" : "rathaus user level";
    if (all) {
        if (store_user_list_all(st, STORE_TENANT_DEFAULT, &l) != RH_OK) {
            fprintf(stderr, "rathaus: could not list the users\n");
            goto out;
        }
        code = 0;
        for (size_t i = 0; i < l.n; i++)
            code |= set_level(st, a, &l.items[i], level, reason, 1);
    } else {
        store_user u;
        if (store_user_by_name(st, STORE_TENANT_DEFAULT, pos[0], &u, NULL)) {
            fprintf(stderr, "rathaus: no user '%s'\n", pos[0]);
            goto out;
        }
        code = set_level(st, a, &u, level, reason, 0);
        store_user_free(&u);
    }
out:
    store_user_list_free(&l);
    store_close(st);
    config_free(&cfg);
    return code;
}

static int cmd_user_disable(int argc, char **argv, int disable)
{
    const char *cfg_path = NULL, *name = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfg_path = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return usage();
    }
    if (!name)
        return usage();
    rh_config cfg;
    store *st = NULL;
    if (open_store(cfg_path, &cfg, &st))
        return 1;
    int code = 1;
    store_user u;
    if (store_user_by_name(st, STORE_TENANT_DEFAULT, name, &u, NULL)) {
        fprintf(stderr, "rathaus: no user '%s'\n", name);
        goto out;
    }
    int64_t admins = 0;
    if (disable && !u.disabled && !strcmp(u.role, "admin") && store_admin_count(st, STORE_TENANT_DEFAULT, &admins) == RH_OK &&
        admins <= 1) {
        fprintf(stderr, "rathaus: '%s' is the last active administrator and cannot be disabled\n", name);
    } else if (store_user_update(st, STORE_TENANT_DEFAULT, u.id, NULL, NULL, NULL, disable) != RH_OK) {
        fprintf(stderr, "rathaus: could not change '%s'\n", name);
    } else {
        if (disable)
            store_session_delete_user(st, u.id);
        store_audit_add(st, STORE_TENANT_DEFAULT, "cli", "user_update", name, disable ? "disabled" : "enabled", NULL,
                        (int64_t)time(NULL));
        printf("user '%s' %s\n", name, disable ? "disabled; their sessions have ended" : "enabled");
        code = 0;
    }
    store_user_free(&u);
out:
    store_close(st);
    config_free(&cfg);
    return code;
}

int cmd_user(int argc, char **argv)
{
    const char *cfg_path = NULL, *role = "user", *display = NULL, *name = NULL;
    if (argc < 2)
        return usage();
    const char *sub = argv[1];
    if (!strcmp(sub, "level"))
        return cmd_user_level(argc, argv);
    if (!strcmp(sub, "disable") || !strcmp(sub, "enable"))
        return cmd_user_disable(argc, argv, !strcmp(sub, "disable"));
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--admin"))
            role = "admin";
        else if (!strcmp(argv[i], "--role") && i + 1 < argc)
            role = argv[++i];
        else if (!strcmp(argv[i], "--display-name") && i + 1 < argc)
            display = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfg_path = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return usage();
    }
    if (strcmp(role, "admin") && strcmp(role, "trainer") && strcmp(role, "user")) {
        fprintf(stderr, "rathaus: unknown role '%s' (admin, trainer or user)\n", role);
        return 2;
    }
    rh_config cfg;
    store *st = NULL;
    int code = 1;
    if (!strcmp(sub, "list")) {
        if (open_store(cfg_path, &cfg, &st))
            return 1;
        store_users l;
        if (store_user_list_all(st, STORE_TENANT_DEFAULT, &l) == RH_OK) {
            printf("%-6s %-24s %-8s %-9s %s\n", "ID", "USERNAME", "ROLE", "STATE", "DISPLAY NAME");
            for (size_t i = 0; i < l.n; i++)
                printf("%-6lld %-24s %-8s %-9s %s\n", (long long)l.items[i].id, l.items[i].username,
                       l.items[i].role, l.items[i].disabled ? "disabled" : "active", l.items[i].display_name);
            store_user_list_free(&l);
            code = 0;
        }
        goto out;
    }
    if (strcmp(sub, "add") && strcmp(sub, "passwd"))
        return usage();
    if (!name)
        return usage();
    char pw[AUTH_PASSWORD_MAX + 2], hash[AUTH_HASH_MAX];
    if (read_password(pw, sizeof pw))
        return 1;
    if (auth_password_hash(pw, hash)) {
        fprintf(stderr, "rathaus: password hashing failed\n");
        return 1;
    }
    if (open_store(cfg_path, &cfg, &st))
        return 1;
    rh_error err;
    rh_error_clear(&err);
    if (!strcmp(sub, "add")) {
        int64_t id;
        int rc = store_user_create(st, STORE_TENANT_DEFAULT, name, display ? display : name, hash, role, &id, &err);
        if (rc) {
            fprintf(stderr, "rathaus: %s\n", rc == RH_EEXIST ? "this user name is taken" : err.msg);
            goto out;
        }
        store_audit_add(st, STORE_TENANT_DEFAULT, "cli", "user_create", name, role, NULL, (int64_t)time(NULL));
        printf("user '%s' created (id %lld, role %s)\n", name, (long long)id, role);
    } else {
        store_user u;
        if (store_user_by_name(st, STORE_TENANT_DEFAULT, name, &u, NULL)) {
            fprintf(stderr, "rathaus: no user '%s'\n", name);
            goto out;
        }
        int rc = store_user_set_password(st, u.id, hash);
        if (!rc)
            store_session_delete_user(st, u.id);
        store_user_free(&u);
        if (rc) {
            fprintf(stderr, "rathaus: could not set the password\n");
            goto out;
        }
        store_audit_add(st, STORE_TENANT_DEFAULT, "cli", "user_update", name, "password", NULL, (int64_t)time(NULL));
        printf("password of '%s' changed; their sessions have ended\n", name);
    }
    code = 0;
out:
    store_close(st);
    config_free(&cfg);
    return code;
}
