// upstream.mjs - upstream mode against real OpenAI-compatible servers: two
// further `rathaus serve` processes with a tiny model ("engine-1",
// "engine-2") are the upstreams "primary" and "secondary" of the portal
// under test. Checks: streaming through the portal (/api and /v1); when the
// primary is killed in the middle of an answer the stream ends with a clear
// error (never hangs, never pretends to be complete); the next request fails
// over to the secondary; the status page names the broken upstream; with
// both gone the user gets the German "not reachable" error.

import { main, requirePrereqs, startServer, log, assert, assertEq, collect, sseEvents, waitUntil } from './lib.mjs';

const MODEL = 'tiny-qwen2-q4_0';

async function v1Stream(srv, key, body, signal) {
  const res = await fetch(srv.url + '/v1/chat/completions', {
    method: 'POST', signal,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, ...body }),
  });
  return res;
}

await main('e2e upstream', async () => {
  requirePrereqs({ models: [MODEL + '.gguf'] });
  // the upstreams: real rathaus servers with the tiny model
  const up1 = await startServer({ name: 'engine-1', models: [MODEL + '.gguf'], apiKey: true });
  const up2 = await startServer({ name: 'engine-2', models: [MODEL + '.gguf'], apiKey: true });
  const conf = [
    'max_tokens = 150',
    '[upstream primary]', `url = ${up1.url}/v1`, `api_key = ${up1.apiKey}`, 'models = *', 'timeout = 10s',
    '[upstream secondary]', `url = ${up2.url}/v1`, `api_key = ${up2.apiKey}`, `models = ${MODEL}`, 'timeout = 10s',
    '',
  ].join('\n');
  const portal = await startServer({ name: 'portal', conf, apiKey: true });
  log(`portal ${portal.url} -> primary ${up1.url}, secondary ${up2.url}`);

  const admin = portal.client();
  await admin.login('admin', 'geheim123');
  const models = await admin.get('/api/models');
  const m = models.models.find((x) => x.id === MODEL);
  assert(m && m.source === 'upstream', `the upstream's model is listed: ${JSON.stringify(models)}`);

  // 1. streaming through the portal's chat API
  const conv = await admin.post('/api/conversations', { model: MODEL });
  const { events } = await admin.stream(conv.id, { content: 'Wie beantrage ich einen Ausweis?' });
  const r1 = await collect(events);
  assertEq(r1.events[0].event, 'start', 'first event');
  assertEq(r1.events[0].data.model, MODEL, 'start names the model');
  const deltas = r1.events.filter((e) => e.event === 'delta').length;
  assert(deltas >= 1 && r1.text.length > 0, `deltas arrived (${deltas})`);
  assertEq(r1.last.event, 'done', `stream ends with done: ${JSON.stringify(r1.last)}`);
  assert(['stop', 'length'].includes(r1.last.data.finish_reason), 'finish_reason');
  const stored = await admin.get(`/api/conversations/${conv.id}`);
  assertEq(stored.messages[1].content, r1.text, 'the streamed text is stored');
  log(`chat API through upstream: ${deltas} deltas, ${r1.last.data.finish_reason}`);

  // ... and through /v1 (the portal is itself an OpenAI-compatible server);
  // the engine sees this prompt once before, so that both compared runs
  // find it in its prefix cache and compute alike
  await (await v1Stream(up1, up1.apiKey, { messages: [{ role: 'user', content: 'Hallo' }], max_tokens: 12, temperature: 0 })).text();
  const res = await v1Stream(portal, portal.apiKey, { messages: [{ role: 'user', content: 'Hallo' }], max_tokens: 12, temperature: 0 });
  assertEq(res.status, 200, '/v1 stream status');
  let v1text = '';
  let sawDone = false;
  for await (const ev of sseEvents(res)) {
    if (ev.raw === '[DONE]') { sawDone = true; continue; }
    const d = ev.data.choices && ev.data.choices[0] && ev.data.choices[0].delta;
    if (d && d.content) v1text += d.content;
  }
  assert(sawDone && v1text.length > 0, '/v1 stream through the upstream ends with [DONE]');
  // greedy: the same as asking the engine directly
  const direct = await v1Stream(up1, up1.apiKey, { messages: [{ role: 'user', content: 'Hallo' }], max_tokens: 12, temperature: 0 });
  let dtext = '';
  for await (const ev of sseEvents(direct)) {
    const d = ev.raw !== '[DONE]' && ev.data.choices && ev.data.choices[0] && ev.data.choices[0].delta;
    if (d && d.content) dtext += d.content;
  }
  assertEq(v1text, dtext, 'the portal passes the upstream text through unchanged');
  log('/v1 through upstream = engine directly (greedy)');

  // 2. the primary dies in the middle of a long answer
  const conv2 = await admin.post('/api/conversations', { model: MODEL });
  const t0 = Date.now();
  const s2 = await admin.stream(conv2.id, { content: 'Erzähl eine lange Geschichte.' });
  // (the portal's max_tokens = 150: the answer takes far longer than the kill)
  const seen = [];
  let killed = false;
  for await (const ev of s2.events) {
    seen.push(ev);
    if (ev.event === 'delta' && !killed) {
      killed = true;
      await up1.stop('SIGKILL');
    }
  }
  const ms = Date.now() - t0;
  const last = seen[seen.length - 1];
  log(`primary killed after the first delta; stream ended after ${ms} ms with ${last.event} ${JSON.stringify(last.data)}`);
  assert(ms < 15000, 'the stream ends soon after the upstream died');
  if (last.event === 'done') {
    // the answer may have been complete already (64 tokens are fast): then it must be a real end
    assert(['stop', 'length'].includes(last.data.finish_reason), `done after the upstream died: ${JSON.stringify(last.data)}`);
    log('(the answer had already been transferred completely before the kill)');
  } else {
    assertEq(last.event, 'error', 'an error event');
    assert(last.data.error && last.data.error.message && last.data.error.code, 'the error has a code and a message');
    const partial = seen.filter((e) => e.event === 'delta').map((e) => e.data.text).join('');
    const m2 = await waitUntil(async () => {
      const c = await admin.get(`/api/conversations/${conv2.id}`);
      return c.messages[1] && c.messages[1].finish_reason ? c.messages[1] : null;
    }, 5000, 'the broken answer to be stored');
    assertEq(m2.finish_reason, 'error', 'the stored answer is marked as broken');
    assertEq(m2.content, partial, 'the part that arrived is kept');
  }

  // 3. the next request fails over to the secondary (primary refuses connections now)
  const conv3 = await admin.post('/api/conversations', { model: MODEL });
  const r3 = await collect((await admin.stream(conv3.id, { content: 'Noch einmal bitte.' })).events);
  assertEq(r3.last.event, 'done', `failover to the secondary: ${JSON.stringify(r3.last)}`);
  assert(r3.text.length > 0, 'the secondary answered');
  const status = await admin.get('/api/admin/status');
  const prim = status.upstreams.find((u) => u.name === 'primary');
  const sec = status.upstreams.find((u) => u.name === 'secondary');
  assert(prim && prim.healthy === false && prim.last_error, `primary is marked unhealthy with its error: ${JSON.stringify(prim)}`);
  assert(sec && sec.healthy === true, `secondary is healthy: ${JSON.stringify(sec)}`);
  log(`failover ok; primary last_error: ${prim.last_error}`);

  // 4. the secondary is stopped in the middle of a long /v1 stream
  const ac = new AbortController();
  const res4 = await v1Stream(portal, portal.apiKey, { messages: [{ role: 'user', content: 'Bitte sehr ausführlich.' }], max_tokens: 4000 }, ac.signal);
  assertEq(res4.status, 200, 'long /v1 stream starts');
  let got = 0;
  let end4 = null;
  let stopped = false;
  const t4 = Date.now();
  for await (const ev of sseEvents(res4)) {
    if (ev.raw === '[DONE]') { end4 = end4 || 'done'; continue; }
    const c = ev.data.choices && ev.data.choices[0];
    if (ev.data.error) end4 = 'error: ' + JSON.stringify(ev.data.error);
    if (c && c.delta && c.delta.content) got++;
    if (c && c.finish_reason) end4 = c.finish_reason;
    if (got >= 3 && !stopped) { stopped = true; await up2.stop('SIGKILL'); }
  }
  log(`secondary killed after ${got} chunks of a long /v1 stream: ended with ${end4} after ${Date.now() - t4} ms`);
  assert(end4 !== null, 'the /v1 stream ends with an error or a finish reason, not silently');
  assert(end4 !== 'stop' || got < 4000, 'not reported as a normal end');

  // 5. both gone: a clear German message
  const conv5 = await admin.post('/api/conversations', { model: MODEL });
  const r5 = await collect((await admin.stream(conv5.id, { content: 'Und jetzt?' })).events);
  assertEq(r5.last.event, 'error', `no upstream left: ${JSON.stringify(r5.last)}`);
  assertEq(r5.last.data.error.code, 'upstream_unavailable', 'code');
  assert(/nicht erreichbar/.test(r5.last.data.error.message), `German message: ${r5.last.data.error.message}`);
  log(`both down: ${r5.last.data.error.message}`);
}, { timeoutMs: 90000 });
