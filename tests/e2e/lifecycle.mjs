// lifecycle.mjs - the real binary's process life, which the in-process tests
// cannot see: SIGTERM in the middle of an answer stream (the stream ends as
// "cancelled", the process exits 0 within seconds), a restart on the same
// data directory (sessions, conversations and the partial answer are still
// there), the CLI writing users and API keys while the server runs, and a
// second server on a port already taken failing with a clear message.

import { spawnSync } from 'node:child_process';
import { main, requirePrereqs, startServer, fakeUpstream, log, assert, assertEq, collect, BIN } from './lib.mjs';

await main('e2e lifecycle', async () => {
  requirePrereqs();
  const up = await fakeUpstream({ model: 'slow-model', chunks: 300, delayMs: 30, word: 'y' });
  const conf = ['[upstream slow]', `url = ${up.url}`, 'models = slow-model', ''].join('\n');
  const srv = await startServer({ name: 'life', conf });
  const c = srv.client();
  await c.login('admin', 'geheim123');
  const ready = await fetch(srv.url + '/readyz');
  assertEq(ready.status, 200, '/readyz');
  await ready.text();

  // ------------------------------------------------ the CLI writes while the server runs
  srv.cli(['user', 'add', '--role', 'user', 'bob'], 'bobsgeheim1\n');
  const bob = srv.client();
  const s = await bob.login('bob', 'bobsgeheim1');
  assertEq(s.user.username, 'bob', 'a user added by the CLI can log in at once');
  const key = srv.cli(['apikey', 'create', 'admin', '--name', 'cli']).split('\n')[0].trim();
  const models = await fetch(srv.url + '/v1/models', { headers: { Authorization: `Bearer ${key}` } });
  assertEq(models.status, 200, 'an API key made by the CLI works at once');
  await models.text();
  log('CLI: user and API key created while the server runs work at once');

  // ------------------------------------------------ a second server on the same port
  const r = spawnSync(BIN, ['serve'], {
    cwd: srv.dir, encoding: 'utf8', timeout: 10000,
    env: { ...srv.env, RATHAUS_LISTEN: `127.0.0.1:${srv.port}` },
  });
  assertEq(r.status, 1, `a second server on a taken port exits 1 (got ${r.status}, signal ${r.signal})`);
  assert(/cannot listen on 127\.0\.0\.1:\d+/.test(r.stderr), `clear message: ${r.stderr.trim()}`);
  log(`port taken: "${r.stderr.trim().split('\n')[0]}"`);

  // ------------------------------------------------ SIGTERM during a stream
  const conv = await c.post('/api/conversations', {});
  const st = await c.stream(conv.id, { content: 'Bitte lang.' });
  for (;;) {
    const { value, done } = await st.events.next();
    assert(!done, 'the stream ended before the first delta');
    if (value.event === 'delta') break;
  }
  const t0 = Date.now();
  const exited = srv.stop('SIGTERM', 10000);
  const rest = await collect(st.events);
  const streamMs = Date.now() - t0;
  const { code, sig } = await exited;
  const exitMs = Date.now() - t0;
  log(`SIGTERM: stream ended after ${streamMs} ms with ${rest.last && rest.last.event} ${JSON.stringify(rest.last && rest.last.data)}; exit ${code} after ${exitMs} ms`);
  assert(rest.last && rest.last.event === 'done' && rest.last.data.finish_reason === 'cancelled', 'the stream ends as cancelled');
  assertEq(code, 0, `exit status after SIGTERM (signal ${sig})`);
  assert(exitMs < 8000, `the server stops within 8 s (took ${exitMs} ms)`);

  // ------------------------------------------------ restart on the same data directory
  const again = await startServer({ name: 'life', dataDir: srv.dir, conf, admin: false });
  c.base = again.url;
  const sess = await c.session();
  assert(sess.user && sess.user.username === 'admin', 'the session survives a restart');
  const stored = await c.get(`/api/conversations/${conv.id}`);
  assertEq(stored.messages.length, 2, 'question and answer are stored');
  assertEq(stored.messages[1].finish_reason, 'cancelled', 'the interrupted answer is stored as cancelled');
  assert(/^y+$/.test(stored.messages[1].content), `the part that came is kept: ${JSON.stringify(stored.messages[1].content)}`);
  assertEq(stored.running, false, 'nothing is running after the restart');
  // and the conversation goes on
  const s2 = await c.stream(conv.id, { content: 'Weiter.' });
  const first = await s2.events.next();
  assertEq(first.value.event, 'start', 'a new answer after the restart');
  await c.post(`/api/conversations/${conv.id}/stop`);
  const r2 = await collect(s2.events);
  assertEq(r2.last.data.finish_reason, 'cancelled', 'and it can be stopped');
  log('restart: session, conversation and the cancelled partial answer are kept');
  await again.stop();
}, { timeoutMs: 90000 });
