/*
 * api_admin.c - administration (/api/admin/...): users, groups, audit log
 * and status. Only for role admin (checked by the router). Disabling,
 * demoting or deleting a user ends their sessions and streams at once.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "web/web_int.h"

/* groups: [ids] -> array (RH_ENOTFOUND when absent) */
static int read_groups(json_t *b, int64_t **out, size_t *n)
{
    json_t *g = json_object_get(b, "groups");
    *out = NULL;
    *n = 0;
    if (!g || json_is_null(g))
        return RH_ENOTFOUND;
    if (!json_is_array(g) || json_array_size(g) > 1000)
        return RH_EINVAL;
    size_t cnt = json_array_size(g);
    int64_t *ids = rh_calloc(cnt ? cnt : 1, sizeof *ids);
    if (!ids)
        return RH_ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        json_t *v = json_array_get(g, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            rh_free(ids);
            return RH_EINVAL;
        }
        ids[i] = json_integer_value(v);
    }
    *out = ids;
    *n = cnt;
    return RH_OK;
}

static enum MHD_Result user_answer(web_req *r, unsigned status, int64_t id)
{
    store_user u;
    if (store_user_get(r->srv->st, STORE_TENANT_DEFAULT, id, &u))
        return web_error(r, 404, "not_found");
    enum MHD_Result ret = web_json(r, status, web_user_json(&u, 1));
    store_user_free(&u);
    return ret;
}

enum MHD_Result api_admin_users(web_req *r)
{
    store_users l;
    if (store_user_list_all(r->srv->st, STORE_TENANT_DEFAULT, &l))
        return web_error(r, 500, "internal");
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, web_user_json(&l.items[i], 1));
    store_user_list_free(&l);
    return web_json(r, 200, json_pack("{s:o}", "users", arr));
}

enum MHD_Result api_admin_user_create(web_req *r)
{
    const char *username = NULL, *display = NULL, *password = NULL, *role = "user";
    int64_t *groups = NULL;
    size_t n_groups = 0;
    enum MHD_Result ret;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "username", 64, &username) || web_str(b, "password", AUTH_PASSWORD_MAX, &password) ||
        web_str(b, "display_name", 128, &display) == RH_EINVAL || web_str(b, "role", 16, &role) == RH_EINVAL) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    int grc = read_groups(b, &groups, &n_groups);
    if (grc == RH_EINVAL || grc == RH_ENOMEM) {
        ret = web_error(r, 400, "bad_group");
        goto out;
    }
    if (!web_username_ok(username)) {
        ret = web_error(r, 400, "bad_username");
        goto out;
    }
    if (web_role_level(role) == ROLE_NONE) {
        ret = web_error(r, 400, "bad_role");
        goto out;
    }
    if (auth_password_policy(password)) {
        ret = web_error(r, 400, "weak_password");
        goto out;
    }
    char hash[AUTH_HASH_MAX];
    int64_t id;
    rh_error e;
    if (auth_password_hash(password, hash)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    int rc = store_user_create(r->srv->st, STORE_TENANT_DEFAULT, username, display ? display : username, hash, role,
                               &id, &e);
    if (rc == RH_EEXIST) {
        ret = web_error(r, 409, "username_taken");
        goto out;
    }
    if (rc) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (n_groups && store_user_set_groups(r->srv->st, STORE_TENANT_DEFAULT, id, groups, n_groups)) {
        store_user_delete(r->srv->st, STORE_TENANT_DEFAULT, id);
        ret = web_error(r, 400, "bad_group");
        goto out;
    }
    web_audit(r, "user_create", username, role);
    ret = user_answer(r, 200, id);
out:
    rh_free(groups);
    json_decref(b);
    return ret;
}

/* Would this change leave the tenant without an enabled admin? */
static int last_admin(web_req *r, const store_user *target)
{
    if (strcmp(target->role, "admin") || target->disabled)
        return 0;
    int64_t n = 0;
    store_admin_count(r->srv->st, STORE_TENANT_DEFAULT, &n);
    return n <= 1;
}

enum MHD_Result api_admin_user_patch(web_req *r)
{
    const char *display = NULL, *role = NULL, *password = NULL;
    int64_t *groups = NULL;
    size_t n_groups = 0;
    int disabled = -1, have_target = 0;
    store_user t;
    enum MHD_Result ret;
    rh_buf detail;
    rh_buf_init(&detail, 512);
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "display_name", 128, &display) == RH_EINVAL || web_str(b, "role", 16, &role) == RH_EINVAL ||
        web_str(b, "password", AUTH_PASSWORD_MAX, &password) == RH_EINVAL) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    json_t *d = json_object_get(b, "disabled");
    if (d && !json_is_null(d)) {
        if (!json_is_boolean(d)) {
            ret = web_error(r, 400, "bad_request");
            goto out;
        }
        disabled = json_is_true(d);
    }
    int grc = read_groups(b, &groups, &n_groups);
    if (grc == RH_EINVAL || grc == RH_ENOMEM) {
        ret = web_error(r, 400, "bad_group");
        goto out;
    }
    if (role && web_role_level(role) == ROLE_NONE) {
        ret = web_error(r, 400, "bad_role");
        goto out;
    }
    if (password && auth_password_policy(password)) {
        ret = web_error(r, 400, "weak_password");
        goto out;
    }
    if (store_user_get(r->srv->st, STORE_TENANT_DEFAULT, r->id[0], &t)) {
        ret = web_error(r, 404, "not_found");
        goto out;
    }
    have_target = 1;
    int demote = role && web_role_level(role) < web_role_level(t.role);
    int disabling = disabled == 1 && !t.disabled;
    if ((demote || disabling) && last_admin(r, &t)) {
        ret = web_error(r, 409, "last_admin");
        goto out;
    }
    if (grc == RH_OK && store_user_set_groups(r->srv->st, STORE_TENANT_DEFAULT, t.id, groups, n_groups)) {
        ret = web_error(r, 400, "bad_group");
        goto out;
    }
    if (store_user_update(r->srv->st, STORE_TENANT_DEFAULT, t.id, display, role, NULL, disabled)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    if (password) {
        char hash[AUTH_HASH_MAX];
        if (auth_password_hash(password, hash) || store_user_set_password(r->srv->st, t.id, hash)) {
            ret = web_error(r, 500, "internal");
            goto out;
        }
    }
    if (demote || disabling || password)
        web_kick_user(r->srv, t.id);
    if (role && strcmp(role, t.role)) {
        rh_buf_appendf(&detail, "%s -> %s", t.role, role);
        web_audit(r, "role_change", t.username, detail.data);
        rh_buf_reset(&detail);
    }
    if (display)
        rh_buf_appends(&detail, "display_name ");
    if (grc == RH_OK)
        rh_buf_appends(&detail, "groups ");
    if (disabled >= 0)
        rh_buf_appends(&detail, disabled ? "disabled " : "enabled ");
    if (password)
        rh_buf_appends(&detail, "password ");
    if (detail.len)
        web_audit(r, "user_update", t.username, detail.data);
    ret = user_answer(r, 200, t.id);
out:
    if (have_target)
        store_user_free(&t);
    rh_buf_free(&detail);
    rh_free(groups);
    json_decref(b);
    return ret;
}

enum MHD_Result api_admin_user_delete(web_req *r)
{
    store_user t;
    if (store_user_get(r->srv->st, STORE_TENANT_DEFAULT, r->id[0], &t))
        return web_error(r, 404, "not_found");
    enum MHD_Result ret;
    if (last_admin(r, &t)) {
        ret = web_error(r, 409, "last_admin");
        goto out;
    }
    web_kick_user(r->srv, t.id);
    if (store_user_delete(r->srv->st, STORE_TENANT_DEFAULT, t.id)) {
        ret = web_error(r, 404, "not_found");
        goto out;
    }
    web_audit(r, "user_delete", t.username, NULL);
    ret = web_no_content(r);
out:
    store_user_free(&t);
    return ret;
}

/* ------------------------------------------------------------ groups */

static enum MHD_Result group_answer(web_req *r, int64_t id)
{
    store_group g;
    if (store_group_get(r->srv->st, STORE_TENANT_DEFAULT, id, &g))
        return web_error(r, 404, "not_found");
    enum MHD_Result ret = web_json(r, 200, json_pack("{s:I, s:s, s:I}", "id", (json_int_t)g.id, "name", g.name,
                                                     "members", (json_int_t)g.members));
    store_group_free(&g);
    return ret;
}

enum MHD_Result api_admin_groups(web_req *r)
{
    store_groups l;
    if (store_group_list_all(r->srv->st, STORE_TENANT_DEFAULT, &l))
        return web_error(r, 500, "internal");
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:I}", "id", (json_int_t)l.items[i].id, "name",
                                             l.items[i].name, "members", (json_int_t)l.items[i].members));
    store_group_list_free(&l);
    return web_json(r, 200, json_pack("{s:o}", "groups", arr));
}

static int group_name(web_req *r, json_t *b, const char **name)
{
    (void)r;
    if (web_str(b, "name", 100, name) || !**name)
        return RH_EINVAL;
    return RH_OK;
}

enum MHD_Result api_admin_group_create(web_req *r)
{
    const char *name = NULL;
    enum MHD_Result ret;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    int64_t id;
    if (group_name(r, b, &name)) {
        ret = web_error(r, 400, "bad_request");
    } else if (store_group_create(r->srv->st, STORE_TENANT_DEFAULT, name, &id)) {
        ret = web_error(r, 409, "group_taken");
    } else {
        web_audit(r, "group_create", name, NULL);
        ret = group_answer(r, id);
    }
    json_decref(b);
    return ret;
}

enum MHD_Result api_admin_group_patch(web_req *r)
{
    const char *name = NULL;
    enum MHD_Result ret;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    int rc;
    if (group_name(r, b, &name)) {
        ret = web_error(r, 400, "bad_request");
    } else if ((rc = store_group_rename(r->srv->st, STORE_TENANT_DEFAULT, r->id[0], name))) {
        ret = rc == RH_ENOTFOUND ? web_error(r, 404, "not_found") : web_error(r, 409, "group_taken");
    } else {
        web_audit(r, "group_rename", name, NULL);
        ret = group_answer(r, r->id[0]);
    }
    json_decref(b);
    return ret;
}

enum MHD_Result api_admin_group_delete(web_req *r)
{
    if (store_group_delete(r->srv->st, STORE_TENANT_DEFAULT, r->id[0]))
        return web_error(r, 404, "not_found");
    char t[32];
    snprintf(t, sizeof t, "group %lld", (long long)r->id[0]);
    web_audit(r, "group_delete", t, NULL);
    return web_no_content(r);
}

/* ------------------------------------------------------------ audit, status */

static int64_t query_int(web_req *r, const char *name, int64_t def, int64_t lo, int64_t hi)
{
    const char *v = web_query(r, name);
    if (!v || !*v)
        return def;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (*end || n < lo)
        return def;
    return n > hi ? hi : n;
}

enum MHD_Result api_admin_audit(web_req *r)
{
    int64_t before = query_int(r, "before", 0, 0, INT64_MAX);
    int64_t limit = query_int(r, "limit", 100, 1, 500);
    store_audits l;
    if (store_audit_list(r->srv->st, STORE_TENANT_DEFAULT, before, (size_t)limit, &l))
        return web_error(r, 500, "internal");
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++) {
        store_audit *a = &l.items[i];
        json_array_append_new(arr, json_pack("{s:I, s:o, s:s?, s:s, s:s?, s:s?, s:s?}", "id", (json_int_t)a->id,
                                             "time", web_time(a->time), "actor", a->actor, "action", a->action,
                                             "target", a->target, "detail", a->detail, "ip", a->ip));
    }
    store_audit_list_free(&l);
    return web_json(r, 200, json_pack("{s:o}", "entries", arr));
}

enum MHD_Result api_admin_status(web_req *r)
{
    web_server *w = r->srv;
    backend *be = chat_backend(w->chat);
    json_t *ups = be->vt->status ? be->vt->status(be) : NULL;
    return web_json(r, 200,
                    json_pack("{s:o, s:o, s:{s:i, s:i}, s:i, s:s}", "models", web_models_json(w), "upstreams",
                              ups ? ups : json_array(), "queue", "length", chat_queue_length(w->chat), "max",
                              chat_queue_max(w->chat), "streams", atomic_load(&w->streams), "version",
                              RATHAUS_VERSION));
}
