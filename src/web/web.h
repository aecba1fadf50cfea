/*
 * web.h - the portal's HTTP server (libmicrohttpd): JSON API under /api,
 * OpenAI-compatible API under /v1, health and metrics, and the web UI's
 * static files embedded in the binary.
 *
 * The caller owns the configuration, the store and the chat service and
 * must keep them alive until web_stop returns.
 */
#ifndef RH_WEB_H
#define RH_WEB_H

#include <jansson.h>

#include "chat/chat.h"
#include "config/config.h"
#include "core/error.h"
#include "store/store.h"

typedef struct web_server web_server;

/* Start listening on cfg->listen_host:listen_port (port 0: an ephemeral
 * port, see web_port). */
int web_start(const rh_config *cfg, store *st, chat_service *chat, web_server **out, rh_error *err);
int web_port(const web_server *w);
/* Stop accepting, cancel running streams, wait for connections to end. */
void web_stop(web_server *w);

/* The effective configuration as a JSON object of "key": "value" strings
 * (every key; upstream API keys only as a SHA-256 fingerprint). */
json_t *web_config_effective(const rh_config *cfg);
/* At start: compare with the configuration recorded at the last start and
 * write the audit entry "config_initial" (first start) or "config_changed"
 * (detail: the changed keys, old -> new); *changed (may be NULL) gets the
 * number of changed keys. Then records the current one (config_audit.c). */
int web_config_audit(const rh_config *cfg, store *st, int *changed, rh_error *err);

/* The version string reported by the status page. */
#define RATHAUS_VERSION "0.1.0"

#endif
