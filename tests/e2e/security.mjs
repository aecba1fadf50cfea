// security.mjs - end-to-end checks of streams and accounts against the real
// binary that tests/test_web.c (in-process) does not make:
//  - with a queue of one, a client that disconnects in the middle of a
//    stream frees the place at once: the next request is served (chat API
//    and /v1), the upstream connection is closed, the partial answer is
//    stored as "cancelled";
//  - disabling a user ends their open streams (session and API key) within
//    moments, their session and API key stop working, they cannot log in;
//    a new password set by the admin ends streams and sessions as well;
//  - another user cannot stop someone else's stream (404, it goes on).
// Users get their rights (chat, API keys) by a level of the
// KI-Schwimmabzeichen, awarded here by the admin through the trainer API.
// A slow fake OpenAI-compatible upstream (200 chunks, 50 ms apart) makes
// the streams long enough to act on.

import { main, requirePrereqs, startServer, fakeUpstream, log, assert, assertEq, sseEvents, collect, sleep, ApiError } from './lib.mjs';

function upConf(up, extra) {
  return [extra, '[upstream slow]', `url = ${up.url}`, `models = ${up.model}`, 'timeout = 20s', ''].join('\n');
}

/** Reads events until the first delta; returns the iterator to go on. */
async function firstDelta(events) {
  for (;;) {
    const { value, done } = await events.next();
    if (done) throw new Error('the stream ended before the first delta');
    if (value.event === 'delta') return value;
    if (value.event === 'error') throw new Error(`stream error: ${JSON.stringify(value.data)}`);
  }
}

async function v1Stream(srv, key, signal) {
  return fetch(srv.url + '/v1/chat/completions', {
    method: 'POST', signal,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'slow-model', stream: true, messages: [{ role: 'user', content: 'Bitte lang.' }] }),
  });
}

/** Retries `start` while it gets 503 (queue full); returns [result, ms]. */
async function whenServed(start, limitMs) {
  const t0 = Date.now();
  for (;;) {
    try {
      const r = await start();
      return [r, Date.now() - t0];
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 503 || Date.now() - t0 > limitMs) throw e;
      await sleep(20);
    }
  }
}

await main('e2e security', async () => {
  requirePrereqs();
  const up = await fakeUpstream({ model: 'slow-model', chunks: 200, delayMs: 50, word: 'x' });

  // ------------------------------------------------ 1. disconnect frees the slot (queue of one)
  {
    const srv = await startServer({ name: 'queue1', conf: upConf(up, 'queue_max = 1\nworkers = 1\napikey_rate_per_min = 1000'), apiKey: true });
    const c = srv.client();
    await c.login('admin', 'geheim123');
    const conv1 = await c.post('/api/conversations', {});
    const conv2 = await c.post('/api/conversations', {});
    const ac = new AbortController();
    const s1 = await c.stream(conv1.id, { content: 'Erzähl viel.' }, { signal: ac.signal });
    await firstDelta(s1.events);
    // while it runs the queue is full
    try {
      await c.stream(conv2.id, { content: 'Ich auch.' });
      assert(false, 'a second stream must be refused while the queue of one is taken');
    } catch (e) {
      assert(e instanceof ApiError && e.status === 503, `503 while full, got ${e.message}`);
    }
    const closedBefore = up.closedEarly;
    ac.abort();
    const [s2, ms] = await whenServed(() => c.stream(conv2.id, { content: 'Jetzt ich.' }), 3000);
    await firstDelta(s2.events);
    log(`chat API: after a disconnect the next request was served after ${ms} ms`);
    assert(ms < 2000, `the place is free within 2 s of the disconnect (took ${ms} ms)`);
    assert(up.closedEarly > closedBefore, 'the upstream connection of the abandoned stream was closed');
    // stop the second one with the stop endpoint
    await c.post(`/api/conversations/${conv2.id}/stop`);
    const rest = await collect(s2.events);
    assertEq(rest.last.event, 'done', 'the stopped stream ends with done');
    assertEq(rest.last.data.finish_reason, 'cancelled', 'finish_reason after stop');
    const stored = await c.get(`/api/conversations/${conv1.id}`);
    const a = stored.messages[1];
    assertEq(a.finish_reason, 'cancelled', 'the abandoned answer is stored as cancelled');
    assert(/^x+$/.test(a.content), `the part that came is kept: ${JSON.stringify(a.content)}`);

    // the same with /v1 and an API key
    const ac2 = new AbortController();
    const r1 = await v1Stream(srv, srv.apiKey, ac2.signal);
    assertEq(r1.status, 200, '/v1 stream');
    const it = sseEvents(r1);
    for (;;) {
      const { value } = await it.next();
      if (value && value.data.choices && value.data.choices[0].delta.content) break;
    }
    const busy = await v1Stream(srv, srv.apiKey);
    assertEq(busy.status, 503, '/v1 while the queue is full');
    assert(busy.headers.get('retry-after'), 'Retry-After');
    await busy.text();
    ac2.abort();
    const t0 = Date.now();
    let r2;
    for (;;) {
      r2 = await v1Stream(srv, srv.apiKey);
      if (r2.status !== 503 || Date.now() - t0 > 3000) break;
      await r2.text();
      await sleep(20);
    }
    const ms2 = Date.now() - t0;
    assertEq(r2.status, 200, '/v1 request after the disconnect');
    log(`/v1: after a disconnect the next request was served after ${ms2} ms`);
    assert(ms2 < 2000, `the /v1 place is free within 2 s (took ${ms2} ms)`);
    await r2.body.cancel();
    await srv.stop();
  }

  // ------------------------------------------------ 2. disabling a user ends their streams
  {
    const srv = await startServer({ name: 'disable', conf: upConf(up, 'queue_max = 8\nworkers = 4') });
    const admin = srv.client();
    await admin.login('admin', 'geheim123');
    const bea = await admin.post('/api/admin/users', { username: 'bea', display_name: 'Bea Beispiel', password: 'passwort1', role: 'user' });
    await admin.post('/api/admin/users', { username: 'carl', display_name: 'Carl', password: 'passwort2', role: 'user' });
    const carlId = (await admin.get('/api/admin/users')).users.find((x) => x.username === 'carl').id;
    const b = srv.client();
    await b.login('bea', 'passwort1');
    // rights follow the KI-Schwimmabzeichen (academy_gating is on by default):
    // without a level bea may not create API keys; a trainer/admin awards one
    try {
      await b.post('/api/keys', { name: 'Skript' });
      assert(false, 'API keys need a level');
    } catch (e) {
      assert(e instanceof ApiError && e.status === 403 && e.body.error.code === 'level_required', `level_required: ${e.message}`);
    }
    await admin.post(`/api/trainer/participants/${bea.id}/award`, { level: 'gold', reason: 'Präsenzkurs (Test)' });
    await admin.post(`/api/trainer/participants/${carlId}/award`, { level: 'seepferdchen', reason: 'Präsenzkurs (Test)' });
    const key = (await b.post('/api/keys', { name: 'Skript' })).key;
    assert(/^rh_/.test(key), 'bea has an API key');
    const conv = await b.post('/api/conversations', {});
    const s = await b.stream(conv.id, { content: 'Bitte ausführlich.' });
    await firstDelta(s.events);
    const v1 = await v1Stream(srv, key);
    assertEq(v1.status, 200, "bea's /v1 stream");
    const v1it = sseEvents(v1);
    for (;;) {
      const { value } = await v1it.next();
      if (value && value.data.choices && value.data.choices[0].delta.content) break;
    }
    // carl's stream must not be touched
    const c = srv.client();
    await c.login('carl', 'passwort2');
    const cconv = await c.post('/api/conversations', {});
    const cs = await c.stream(cconv.id, { content: 'Ich bin Carl.' });
    await firstDelta(cs.events);

    const t0 = Date.now();
    const u = await admin.patch(`/api/admin/users/${bea.id}`, { disabled: true });
    assertEq(u.disabled, true, 'bea is disabled');
    const endChat = collect(s.events).then((r) => ({ r, ms: Date.now() - t0 }));
    const endV1 = (async () => {
      let last = null;
      for await (const ev of v1it) last = ev;
      return { last, ms: Date.now() - t0 };
    })();
    const [chat, api] = await Promise.all([endChat, endV1]);
    log(`disabled: chat stream ended after ${chat.ms} ms with ${chat.r.last.event} ${JSON.stringify(chat.r.last.data)}`);
    log(`disabled: /v1 stream ended after ${api.ms} ms with ${api.last && api.last.raw.slice(0, 120)}`);
    assert(chat.ms < 3000 && api.ms < 3000, 'both streams end within 3 s');
    assert(chat.r.last.event === 'error' || (chat.r.last.event === 'done' && chat.r.last.data.finish_reason === 'cancelled'),
      'the chat stream ends as cancelled or with an error');
    // her session, her key, her password no longer work
    const sess = await b.get('/api/session');
    assertEq(sess.user, null, "bea's session is gone");
    try {
      await b.post('/api/conversations', {});
      assert(false, 'a disabled user cannot create conversations');
    } catch (e) {
      assert(e instanceof ApiError && (e.status === 401 || e.status === 403), `refused: ${e.message}`);
    }
    const mk = await fetch(srv.url + '/v1/models', { headers: { Authorization: `Bearer ${key}` } });
    assertEq(mk.status, 401, "a disabled user's API key is refused");
    await mk.text();
    try {
      await srv.client().login('bea', 'passwort1');
      assert(false, 'a disabled user cannot log in');
    } catch (e) {
      assert(e instanceof ApiError && (e.status === 401 || e.status === 403), `login refused: ${e.message}`);
    }
    // carl's stream goes on
    const more = await cs.events.next();
    assert(!more.done && more.value.event === 'delta', "carl's stream is still running");
    // and bea cannot stop it either way; admin cannot see it (404)
    try {
      await admin.post(`/api/conversations/${cconv.id}/stop`);
      assert(false, "someone else's conversation cannot be stopped");
    } catch (e) {
      assert(e instanceof ApiError && e.status === 404, `stop of another user's conversation: ${e.message}`);
    }
    const more2 = await cs.events.next();
    assert(!more2.done && more2.value.event === 'delta', "carl's stream still runs after the foreign stop");
    await c.post(`/api/conversations/${cconv.id}/stop`);
    const cend = await collect(cs.events);
    assertEq(cend.last.data.finish_reason, 'cancelled', "carl's own stop works");

    // a new password set by the admin also ends the user's streams and sessions
    const cconv2 = await c.post('/api/conversations', {});
    const cs2 = await c.stream(cconv2.id, { content: 'Noch einmal.' });
    await firstDelta(cs2.events);
    const t1 = Date.now();
    await admin.patch(`/api/admin/users/${carlId}`, { password: 'neues-passwort-3' });
    const cend2 = await collect(cs2.events);
    const ms3 = Date.now() - t1;
    log(`new password: carl's stream ended after ${ms3} ms with ${cend2.last.event} ${JSON.stringify(cend2.last.data)}`);
    assert(ms3 < 3000, 'the stream ends within 3 s');
    assertEq((await c.get('/api/session')).user, null, "carl's session is gone");
    await srv.client().login('carl', 'neues-passwort-3');
    await srv.stop();
  }
}, { timeoutMs: 90000 });
