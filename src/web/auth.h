/*
 * auth.h - credentials: password hashing (argon2id via libsodium), random
 * tokens, API keys, SHA-256 hashes of secrets, and the rate limiter used
 * for failed logins and API key requests.
 *
 * Secrets (session tokens, API keys) are never stored: only their SHA-256
 * (hex) is, so a copy of the database does not let anyone log in.
 */
#ifndef RH_WEB_AUTH_H
#define RH_WEB_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define AUTH_HASH_MAX 128    /* >= crypto_pwhash_STRBYTES */
#define AUTH_TOKEN_HEX 65    /* 256-bit token as hex + NUL */
#define AUTH_APIKEY_MAX 64
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 1024

/* Initialise libsodium (idempotent). */
int auth_init(void);
/* Tests: use libsodium's minimum argon2id cost to keep them fast. */
void auth_set_fast_hashing(int fast);

int auth_password_hash(const char *password, char out[AUTH_HASH_MAX]);
/* RH_OK when the password matches the stored hash. */
int auth_password_verify(const char *hash, const char *password);
/* RH_OK or RH_EINVAL (too short / too long). */
int auth_password_policy(const char *password);

/* 256 random bits as 64 hex characters. */
void auth_random_hex(char out[AUTH_TOKEN_HEX]);
void auth_sha256_hex(const void *data, size_t len, char out[AUTH_TOKEN_HEX]);
/* HMAC-SHA256(key, msg) as hex. */
void auth_hmac_hex(const unsigned char key[32], const char *msg, char out[AUTH_TOKEN_HEX]);
/* Constant-time string equality. */
int auth_equal(const char *a, const char *b);

/* New API key "rh_<43 base64url chars>", its display prefix and hash. */
void auth_apikey_new(char key[AUTH_APIKEY_MAX], char prefix[16], char hash[AUTH_TOKEN_HEX]);

/* A fixed-size table of counters keyed by a string (e.g. "user\nip"). The
 * oldest entries are evicted when full, so memory stays bounded. */
typedef struct auth_limiter auth_limiter;
auth_limiter *auth_limiter_create(size_t slots);
void auth_limiter_free(auth_limiter *l);
/* Is `key` at or over `max` events within the last window_s seconds? */
int auth_limiter_blocked(auth_limiter *l, const char *key, int max, long window_s, int64_t now);
/* Record one event for `key`. */
void auth_limiter_add(auth_limiter *l, const char *key, long window_s, int64_t now);
void auth_limiter_reset(auth_limiter *l, const char *key);

#endif
