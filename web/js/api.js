// api.js - the only place that talks to the server (docs/api.md).
//
// Adds the CSRF token to every state-changing request, the UI language as
// Accept-Language, turns error bodies into ApiError (with the server's
// sentence for the user) and calls onUnauthorized on 401. streamMessage()
// reads the text/event-stream answer of POST .../messages with fetch().

import { SseParser } from './sse.js';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter;
  }
}

const state = {
  csrf: '',
  lang: 'de',
  onUnauthorized: null,
  refreshCsrf: null,     // async () => void, renews state.csrf
  networkMessage: 'Network error',
};

export function configureApi(opts) { Object.assign(state, opts); }
export function setCsrf(token) { state.csrf = token || ''; }

function headers(method, json) {
  const h = { 'Accept-Language': state.lang };
  if (json) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') h['X-CSRF-Token'] = state.csrf;
  return h;
}

async function errorFrom(res) {
  let code = '';
  let message = '';
  try {
    const body = await res.json();
    if (body && body.error) {
      code = String(body.error.code || '');
      message = String(body.error.message || '');
    }
  } catch { /* not JSON */ }
  const ra = parseInt(res.headers.get('Retry-After') || '', 10);
  return new ApiError(res.status, code, message, Number.isFinite(ra) ? ra : undefined);
}

// Paths where a 401 is an expected answer, not a lost session.
const NO_REDIRECT = ['/api/login', '/api/setup', '/api/session', '/api/password'];

async function handleError(res, path) {
  const err = await errorFrom(res);
  if (res.status === 401 && !NO_REDIRECT.includes(path) && state.onUnauthorized) state.onUnauthorized();
  return err;
}

/** JSON request. Resolves to the parsed body (null for 204). */
export async function request(method, path, body, opts = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: headers(method, body !== undefined),
      body: body !== undefined ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', state.networkMessage);
  }
  if (!res.ok) {
    const err = await handleError(res, path);
    // a stale CSRF token (server restarted, session renewed): fetch a fresh
    // one from GET /api/session and try once more
    if (res.status === 403 && /csrf/i.test(err.code) && !opts.retried && state.refreshCsrf) {
      await state.refreshCsrf();
      return request(method, path, body, { ...opts, retried: true });
    }
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  get: (p, o) => request('GET', p, undefined, o),
  post: (p, b, o) => request('POST', p, b ?? {}, o),
  patch: (p, b, o) => request('PATCH', p, b ?? {}, o),
  put: (p, b, o) => request('PUT', p, b ?? {}, o),
  del: (p, o) => request('DELETE', p, undefined, o),
};

/**
 * Sends a chat message and reads the answer stream.
 * handlers: { start(data), delta(data), done(data), error(data) }
 * Resolves when the stream ends; rejects with ApiError on HTTP errors
 * (503 carries retryAfter) or with an AbortError after abort.
 */
export async function streamMessage(convId, body, handlers, signal, retried = false) {
  const path = `/api/conversations/${encodeURIComponent(convId)}/messages`;
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { ...headers('POST', true), Accept: 'text/event-stream' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', state.networkMessage);
  }
  if (!res.ok) {
    const err = await handleError(res, path);
    if (res.status === 403 && /csrf/i.test(err.code) && !retried && state.refreshCsrf) {
      await state.refreshCsrf();
      return streamMessage(convId, body, handlers, signal, true);
    }
    throw err;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let sawEnd = false;
  const parser = new SseParser((type, data) => {
    let obj = {};
    try { obj = JSON.parse(data); } catch { return; }
    if (type === 'done' || type === 'error') sawEnd = true;
    const fn = handlers[type];
    if (fn) fn(obj);
  });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.push(decoder.decode(value, { stream: true }));
  }
  parser.push(decoder.decode());
  parser.end();
  if (!sawEnd && handlers.error) {
    handlers.error({ error: { code: 'stream_ended', message: '' } });
  }
}
