/*
 * api_session.c - /api/session, /api/setup, /api/login, /api/logout,
 * /api/password, /api/me, /api/models and the user's own API keys
 * (/api/keys).
 */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "web/web_int.h"

int web_username_ok(const char *u)
{
    size_t n = strlen(u);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = u[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_' || c == '@'))
            return 0;
    }
    return 1;
}

static int setup_required(web_req *r)
{
    int64_t n = 1;
    store_user_count(r->srv->st, STORE_TENANT_DEFAULT, &n);
    return n == 0;
}

static enum MHD_Result session_answer(web_req *r, unsigned status)
{
    char csrf[sizeof r->sess.csrf];
    json_t *user = json_null();
    if (r->has_user) {
        snprintf(csrf, sizeof csrf, "%s", r->sess.csrf);
        user = web_user_json(&r->user, 0);
    } else {
        web_pre_csrf(r, csrf);
    }
    return web_json(r, status, json_pack("{s:o, s:s, s:b}", "user", user, "csrf", csrf,
                                         "setup_required", r->has_user ? 0 : setup_required(r)));
}

enum MHD_Result api_session_get(web_req *r) { return session_answer(r, 200); }

enum MHD_Result api_setup(web_req *r)
{
    const char *username = NULL, *password = NULL, *display = NULL;
    json_t *b = web_body_object(r);
    enum MHD_Result ret;
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "username", 64, &username) || web_str(b, "password", AUTH_PASSWORD_MAX, &password)) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (web_str(b, "display_name", 128, &display) == RH_EINVAL) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (!web_username_ok(username)) {
        ret = web_error(r, 400, "bad_username");
        goto out;
    }
    if (auth_password_policy(password)) {
        ret = web_error(r, 400, "weak_password");
        goto out;
    }
    if (!setup_required(r)) {
        ret = web_error(r, 409, "setup_done");
        goto out;
    }
    char hash[AUTH_HASH_MAX];
    if (auth_password_hash(password, hash)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    int64_t id = 0;
    rh_error e;
    int rc = store_user_create_first(r->srv->st, STORE_TENANT_DEFAULT, username, display ? display : username,
                                     hash, &id, &e);
    if (rc == RH_EEXIST) {
        ret = web_error(r, 409, "setup_done");
        goto out;
    }
    if (rc || web_session_start(r, id)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    store_user_touch_login(r->srv->st, id, web_now());
    web_audit(r, "setup", username, "first administrator created");
    rh_info("set-up done: administrator '%s' created", username);
    ret = session_answer(r, 200);
out:
    json_decref(b);
    return ret;
}

enum MHD_Result api_login(web_req *r)
{
    const char *username = NULL, *password = NULL;
    json_t *b = web_body_object(r);
    enum MHD_Result ret;
    store_user u;
    char *hash = NULL;
    int found = 0;
    web_server *w = r->srv;
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "username", 256, &username) || web_str(b, "password", AUTH_PASSWORD_MAX, &password)) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    rh_buf key;
    rh_buf_init(&key, 512);
    rh_buf_appendf(&key, "%s\n%s", username, r->ip);
    const char *k = key.data ? key.data : "";
    int64_t now = web_now();
    if (auth_limiter_blocked(w->login_limiter, k, w->cfg->login_max_failures, w->cfg->login_window_s, now)) {
        rh_buf_free(&key);
        web_audit(r, "login_blocked", username, "too many failed attempts");
        const char *hdr[] = {"Retry-After", "60", NULL};
        json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", "rate_limited", "message", web_msg(r, "rate_limited"));
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        ret = web_send(r, 429, "application/json; charset=utf-8", s ? s : "{}", s ? strlen(s) : 2, hdr);
        free(s);
        goto out;
    }
    found = store_user_by_name(w->st, STORE_TENANT_DEFAULT, username, &u, &hash) == RH_OK;
    int ok;
    if (found) {
        ok = auth_password_verify(hash, password) == RH_OK && !u.disabled;
    } else {
        char dummy[AUTH_HASH_MAX]; /* same work as a real check: no user probing by timing */
        auth_password_hash(password, dummy);
        ok = 0;
    }
    if (!ok) {
        auth_limiter_add(w->login_limiter, k, w->cfg->login_window_s, now);
        rh_buf_free(&key);
        web_audit(r, "login_failed", username, found && u.disabled ? "account disabled" : NULL);
        ret = web_error(r, 401, "invalid_credentials");
        goto out;
    }
    auth_limiter_reset(w->login_limiter, k);
    rh_buf_free(&key);
    if (web_session_start(r, u.id)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    store_user_touch_login(w->st, u.id, now);
    web_audit(r, "login", username, NULL);
    r->lang = r->user.lang && !strcmp(r->user.lang, "en") ? "en" : r->lang;
    ret = session_answer(r, 200);
out:
    if (found)
        store_user_free(&u);
    rh_free(hash);
    json_decref(b);
    return ret;
}

enum MHD_Result api_logout(web_req *r)
{
    web_audit(r, "logout", r->user.username, NULL);
    web_session_end(r);
    return web_no_content(r);
}

enum MHD_Result api_password(web_req *r)
{
    const char *oldp = NULL, *newp = NULL;
    char *hash = NULL;
    enum MHD_Result ret;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "old_password", AUTH_PASSWORD_MAX, &oldp) ||
        web_str(b, "new_password", AUTH_PASSWORD_MAX, &newp)) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (store_user_password_hash(r->srv->st, r->user.id, &hash) ||
        auth_password_verify(hash, oldp) != RH_OK) {
        web_audit(r, "password_change_failed", r->user.username, NULL);
        ret = web_error(r, 403, "wrong_password");
        goto out;
    }
    if (auth_password_policy(newp)) {
        ret = web_error(r, 400, "weak_password");
        goto out;
    }
    char nh[AUTH_HASH_MAX];
    if (auth_password_hash(newp, nh) || store_user_set_password(r->srv->st, r->user.id, nh)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    /* other sessions (another browser, a stolen cookie) end now */
    store_session_delete_others(r->srv->st, r->user.id, r->token_hash);
    web_audit(r, "password_change", r->user.username, NULL);
    ret = web_no_content(r);
out:
    rh_free(hash);
    json_decref(b);
    return ret;
}

enum MHD_Result api_me(web_req *r)
{
    const char *display = NULL, *lang = NULL;
    enum MHD_Result ret;
    json_t *b = web_body_object(r);
    if (!b)
        return web_error(r, 400, "bad_json");
    int rd = web_str(b, "display_name", 128, &display);
    int rl = web_str(b, "lang", 8, &lang);
    if (rd == RH_EINVAL || rl == RH_EINVAL ||
        (lang && strcmp(lang, "de") && strcmp(lang, "en") && strcmp(lang, ""))) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (store_user_update(r->srv->st, STORE_TENANT_DEFAULT, r->user.id, display, NULL, lang, -1)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    store_user u;
    if (store_user_get(r->srv->st, STORE_TENANT_DEFAULT, r->user.id, &u)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    ret = web_json(r, 200, web_user_json(&u, 0));
    store_user_free(&u);
out:
    json_decref(b);
    return ret;
}

json_t *web_models_json(web_server *w)
{
    backend_models ms;
    rh_error e;
    json_t *arr = json_array();
    backend *be = chat_backend(w->chat);
    if (be->vt->list_models(be, &ms, &e) != RH_OK)
        return arr;
    for (size_t i = 0; i < ms.n; i++) {
        backend_model *m = &ms.items[i];
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:I, s:s?, s:I, s:b, s:I, s:b}", "id", m->id, "name", m->name, "source",
                           m->source ? m->source : "upstream", "size_bytes", (json_int_t)m->size_bytes,
                           "quantization", m->quantization[0] ? m->quantization : NULL, "context_length",
                           (json_int_t)m->context_length, "available", m->available, "memory_bytes",
                           (json_int_t)m->memory_bytes, "loaded", m->loaded));
    }
    backend_models_free(&ms);
    return arr;
}

enum MHD_Result api_models(web_req *r)
{
    json_t *arr = web_models_json(r->srv);
    int en = !strcmp(r->lang, "en");
    const char *hint = "";
    if (json_array_size(arr) == 0)
        hint = en ? "No model is available yet. An administrator can put a GGUF model file into the models "
                    "directory (models_dir in rathaus.conf) or configure an OpenAI-compatible upstream "
                    "([upstream NAME] in rathaus.conf, or RATHAUS_UPSTREAM_URL) and restart rathaus."
                  : "Noch ist kein Sprachmodell verfügbar. Die Administration kann eine GGUF-Modelldatei in das "
                    "Modellverzeichnis legen (models_dir in rathaus.conf) oder einen OpenAI-kompatiblen "
                    "Upstream eintragen ([upstream NAME] in rathaus.conf oder RATHAUS_UPSTREAM_URL) und "
                    "rathaus neu starten.";
    return web_json(r, 200, json_pack("{s:o, s:s}", "models", arr, "hint", hint));
}

/* ------------------------------------------------------------ API keys */

enum MHD_Result api_keys_list(web_req *r)
{
    store_apikeys l;
    if (store_apikey_list_user(r->srv->st, r->user.id, &l))
        return web_error(r, 500, "internal");
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)l.items[i].id,
                                             "name", l.items[i].name, "prefix", l.items[i].prefix,
                                             "created_at", web_time(l.items[i].created_at), "last_used_at",
                                             web_time(l.items[i].last_used_at)));
    store_apikey_list_free(&l);
    return web_json(r, 200, json_pack("{s:o}", "keys", arr));
}

enum MHD_Result api_keys_create(web_req *r)
{
    const char *name = NULL;
    json_t *b = web_body_object(r);
    enum MHD_Result ret;
    if (!b)
        return web_error(r, 400, "bad_json");
    if (web_str(b, "name", 100, &name) == RH_EINVAL) {
        ret = web_error(r, 400, "bad_request");
        goto out;
    }
    if (!name || !*name)
        name = "API";
    char key[AUTH_APIKEY_MAX], prefix[16], hash[AUTH_TOKEN_HEX];
    auth_apikey_new(key, prefix, hash);
    int64_t id = 0;
    if (store_apikey_create(r->srv->st, STORE_TENANT_DEFAULT, r->user.id, name, hash, prefix, web_now(), &id)) {
        ret = web_error(r, 500, "internal");
        goto out;
    }
    web_audit(r, "apikey_create", r->user.username, name);
    ret = web_json(r, 200, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "key", key, "name", name,
                                     "prefix", prefix));
out:
    json_decref(b);
    return ret;
}

enum MHD_Result api_keys_delete(web_req *r)
{
    if (store_apikey_revoke(r->srv->st, r->user.id, r->id[0]))
        return web_error(r, 404, "not_found");
    char t[32];
    snprintf(t, sizeof t, "key %lld", (long long)r->id[0]);
    web_audit(r, "apikey_revoke", r->user.username, t);
    return web_no_content(r);
}
