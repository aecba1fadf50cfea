/*
 * auth.c - password hashing, tokens, API keys, rate limiting (auth.h) and
 * the web sessions built on them (web_int.h): session cookies holding a
 * 256-bit random token whose SHA-256 is stored, a CSRF token per session,
 * and a pre-session CSRF token (HMAC of a random cookie) for set-up and
 * login.
 */
#include "web/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "web/web_int.h"

static atomic_int fast_hashing;

int auth_init(void)
{
    return sodium_init() < 0 ? RH_EINTERNAL : RH_OK;
}

void auth_set_fast_hashing(int fast) { atomic_store(&fast_hashing, fast); }

/* Each argon2id run takes 64 MiB: at most this many at once, so a burst
 * of parallel logins cannot exhaust the machine's memory. */
#define PWHASH_PARALLEL 4
static pthread_mutex_t pw_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pw_cond = PTHREAD_COND_INITIALIZER;
static int pw_running;

static void pw_enter(void)
{
    pthread_mutex_lock(&pw_lock);
    while (pw_running >= PWHASH_PARALLEL)
        pthread_cond_wait(&pw_cond, &pw_lock);
    pw_running++;
    pthread_mutex_unlock(&pw_lock);
}

static void pw_leave(void)
{
    pthread_mutex_lock(&pw_lock);
    pw_running--;
    pthread_cond_signal(&pw_cond);
    pthread_mutex_unlock(&pw_lock);
}

int auth_password_hash(const char *password, char out[AUTH_HASH_MAX])
{
    unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (atomic_load(&fast_hashing)) {
        ops = crypto_pwhash_OPSLIMIT_MIN;
        mem = crypto_pwhash_MEMLIMIT_MIN;
    }
    if (auth_init() != RH_OK)
        return RH_EINTERNAL;
    pw_enter();
    int rc = crypto_pwhash_str_alg(out, password, strlen(password), ops, mem, crypto_pwhash_ALG_ARGON2ID13);
    pw_leave();
    return rc == 0 ? RH_OK : RH_ENOMEM;
}

int auth_password_verify(const char *hash, const char *password)
{
    if (!hash || !password || auth_init() != RH_OK)
        return RH_EDENIED;
    pw_enter();
    int rc = crypto_pwhash_str_verify(hash, password, strlen(password));
    pw_leave();
    return rc == 0 ? RH_OK : RH_EDENIED;
}

int auth_password_policy(const char *password)
{
    size_t n = strlen(password);
    return n >= AUTH_PASSWORD_MIN && n <= AUTH_PASSWORD_MAX ? RH_OK : RH_EINVAL;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    sodium_bin2hex(out, n * 2 + 1, in, n);
}

void auth_random_hex(char out[AUTH_TOKEN_HEX])
{
    unsigned char b[32];
    auth_init();
    randombytes_buf(b, sizeof b);
    to_hex(b, sizeof b, out);
    sodium_memzero(b, sizeof b);
}

void auth_sha256_hex(const void *data, size_t len, char out[AUTH_TOKEN_HEX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    to_hex(h, sizeof h, out);
}

void auth_hmac_hex(const unsigned char key[32], const char *msg, char out[AUTH_TOKEN_HEX])
{
    unsigned char h[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(h, (const unsigned char *)msg, strlen(msg), key);
    to_hex(h, sizeof h, out);
}

int auth_equal(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    size_t n = strlen(a);
    if (n != strlen(b))
        return 0;
    return sodium_memcmp(a, b, n) == 0;
}

void auth_apikey_new(char key[AUTH_APIKEY_MAX], char prefix[16], char hash[AUTH_TOKEN_HEX])
{
    unsigned char b[32];
    char b64[48];
    auth_init();
    randombytes_buf(b, sizeof b);
    sodium_bin2base64(b64, sizeof b64, b, sizeof b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(key, AUTH_APIKEY_MAX, "rh_%s", b64);
    snprintf(prefix, 16, "%.10s", key);
    auth_sha256_hex(key, strlen(key), hash);
    sodium_memzero(b, sizeof b);
}

/* ------------------------------------------------------------ limiter */

typedef struct limiter_slot {
    char key_hash[AUTH_TOKEN_HEX];
    int64_t window_start;
    int count;
    int64_t last;
} limiter_slot;

struct auth_limiter {
    pthread_mutex_t lock;
    limiter_slot *slots;
    size_t n;
};

auth_limiter *auth_limiter_create(size_t slots)
{
    auth_limiter *l = rh_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->slots = rh_calloc(slots, sizeof *l->slots);
    if (!l->slots) {
        rh_free(l);
        return NULL;
    }
    l->n = slots;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void auth_limiter_free(auth_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    rh_free(l->slots);
    rh_free(l);
}

/* Find the slot of `key`; with `create`, take a free slot, else one whose
 * window has passed, else the one with the fewest events (oldest first),
 * so a flood of made-up names cannot push out a counter that is blocking
 * somebody. */
static limiter_slot *find_slot(auth_limiter *l, const char *kh, int create, long window_s, int64_t now)
{
    limiter_slot *victim = NULL;
    int vrank = 0;
    for (size_t i = 0; i < l->n; i++) {
        limiter_slot *s = &l->slots[i];
        if (s->key_hash[0] && !strcmp(s->key_hash, kh))
            return s;
        if (!create)
            continue;
        int rank = !s->key_hash[0] ? 0 : now - s->window_start >= window_s ? 1 : 2;
        if (!victim || rank < vrank ||
            (rank == vrank && rank == 2 &&
             (s->count < victim->count || (s->count == victim->count && s->last < victim->last)))) {
            victim = s;
            vrank = rank;
        }
    }
    if (!create || !victim)
        return NULL;
    memset(victim, 0, sizeof *victim);
    memcpy(victim->key_hash, kh, AUTH_TOKEN_HEX);
    return victim;
}

int auth_limiter_blocked(auth_limiter *l, const char *key, int max, long window_s, int64_t now)
{
    char kh[AUTH_TOKEN_HEX];
    auth_sha256_hex(key, strlen(key), kh);
    pthread_mutex_lock(&l->lock);
    limiter_slot *s = find_slot(l, kh, 0, window_s, now);
    int blocked = s && now - s->window_start < window_s && s->count >= max;
    pthread_mutex_unlock(&l->lock);
    return blocked;
}

void auth_limiter_add(auth_limiter *l, const char *key, long window_s, int64_t now)
{
    char kh[AUTH_TOKEN_HEX];
    auth_sha256_hex(key, strlen(key), kh);
    pthread_mutex_lock(&l->lock);
    limiter_slot *s = find_slot(l, kh, 1, window_s, now);
    if (s) {
        if (now - s->window_start >= window_s) {
            s->window_start = now;
            s->count = 0;
        }
        s->count++;
        s->last = now;
    }
    pthread_mutex_unlock(&l->lock);
}

void auth_limiter_reset(auth_limiter *l, const char *key)
{
    char kh[AUTH_TOKEN_HEX];
    auth_sha256_hex(key, strlen(key), kh);
    pthread_mutex_lock(&l->lock);
    limiter_slot *s = find_slot(l, kh, 0, 0, 0);
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&l->lock);
}

/* ------------------------------------------------------------ sessions */

int web_role_level(const char *role)
{
    if (!role)
        return ROLE_NONE;
    if (!strcmp(role, "admin"))
        return ROLE_ADMIN;
    if (!strcmp(role, "trainer"))
        return ROLE_TRAINER;
    if (!strcmp(role, "user"))
        return ROLE_USER;
    return ROLE_NONE;
}

static const char *cookie(web_req *r, const char *base)
{
    char name[64];
    web_cookie_name(r, base, name, sizeof name);
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

static int token_ok(const char *t)
{
    if (!t || strlen(t) != 64)
        return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

void web_auth_load(web_req *r)
{
    if (r->has_user)
        return;
    const char *tok = cookie(r, "rathaus_session");
    if (!token_ok(tok))
        return;
    web_server *w = r->srv;
    auth_sha256_hex(tok, strlen(tok), r->token_hash);
    store_session s;
    if (store_session_lookup(w->st, r->token_hash, web_now(), w->cfg->session_idle_s,
                             w->cfg->session_absolute_s, &s) != RH_OK)
        return;
    store_user u;
    if (store_user_get(w->st, STORE_TENANT_DEFAULT, s.user_id, &u) != RH_OK)
        return;
    if (u.disabled) {
        store_user_free(&u);
        store_session_delete(w->st, r->token_hash);
        return;
    }
    r->sess = s;
    r->user = u;
    r->has_user = 1;
}

void web_pre_csrf(web_req *r, char out[AUTH_TOKEN_HEX])
{
    const char *pre = cookie(r, "rathaus_pre");
    char fresh[AUTH_TOKEN_HEX];
    if (!token_ok(pre)) {
        auth_random_hex(fresh);
        char name[64];
        web_add_cookie(r, web_cookie_name(r, "rathaus_pre", name, sizeof name), fresh, -1);
        pre = fresh;
    }
    auth_hmac_hex(r->srv->csrf_secret, pre, out);
}

int web_csrf_ok(web_req *r)
{
    const char *h = web_header(r, "X-CSRF-Token");
    if (!h)
        return 0;
    if (r->has_user)
        return auth_equal(h, r->sess.csrf);
    const char *pre = cookie(r, "rathaus_pre");
    if (!token_ok(pre))
        return 0;
    char want[AUTH_TOKEN_HEX];
    auth_hmac_hex(r->srv->csrf_secret, pre, want);
    return auth_equal(h, want);
}

int web_session_start(web_req *r, int64_t user_id)
{
    web_server *w = r->srv;
    char token[AUTH_TOKEN_HEX], hash[AUTH_TOKEN_HEX], csrf[AUTH_TOKEN_HEX];
    /* a new token at every login: an old (possibly planted) one is dropped */
    if (r->token_hash[0])
        store_session_delete(w->st, r->token_hash);
    auth_random_hex(token);
    auth_random_hex(csrf);
    auth_sha256_hex(token, strlen(token), hash);
    int rc = store_session_create(w->st, STORE_TENANT_DEFAULT, hash, csrf, user_id, r->ip, web_now());
    if (rc)
        return rc;
    char name[64];
    web_add_cookie(r, web_cookie_name(r, "rathaus_session", name, sizeof name), token, -1);
    if (r->has_user)
        store_user_free(&r->user);
    r->has_user = 0;
    memset(&r->sess, 0, sizeof r->sess);
    if ((rc = store_user_get(w->st, STORE_TENANT_DEFAULT, user_id, &r->user)))
        return rc;
    r->has_user = 1;
    memcpy(r->token_hash, hash, sizeof hash);
    snprintf(r->sess.csrf, sizeof r->sess.csrf, "%s", csrf);
    r->sess.user_id = user_id;
    sodium_memzero(token, sizeof token);
    return RH_OK;
}

void web_session_end(web_req *r)
{
    if (r->token_hash[0])
        store_session_delete(r->srv->st, r->token_hash);
    char name[64];
    web_add_cookie(r, web_cookie_name(r, "rathaus_session", name, sizeof name), "", 0);
}

void web_kick_user(web_server *w, int64_t user_id)
{
    store_session_delete_user(w->st, user_id);
    chat_cancel_user(w->chat, user_id);
}

json_t *web_user_json(const store_user *u, int admin_view)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < u->n_groups; i++)
        json_array_append_new(groups, json_integer(u->groups[i]));
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s}", "id", (json_int_t)u->id, "username", u->username,
                          "display_name", u->display_name, "role", u->role, "groups", groups,
                          "lang", u->lang ? u->lang : "");
    if (o && admin_view) {
        json_object_set_new(o, "disabled", json_boolean(u->disabled));
        json_object_set_new(o, "created_at", web_time(u->created_at));
        json_object_set_new(o, "last_login_at", web_time(u->last_login_at));
    }
    return o;
}
