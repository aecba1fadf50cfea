// openai.mjs - the official `openai` npm client against the real portal with
// a tiny local GGUF model: list models, a chat completion without and with
// streaming, the legacy completions endpoint, and the client's error types
// for a wrong key, an unknown model and a bad request.

import { main, requirePrereqs, startServer, log, assert, assertEq } from './lib.mjs';

const MODEL = 'tiny-qwen2-q4_0';

await main('e2e openai client', async () => {
  requirePrereqs({ models: [MODEL + '.gguf'], modules: ['openai'] });
  const { default: OpenAI } = await import('openai');
  const srv = await startServer({ name: 'openai', models: [MODEL + '.gguf'], apiKey: true });
  log(`portal at ${srv.url}`);
  const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: srv.apiKey, maxRetries: 0, timeout: 60000 });

  // models
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert(ids.includes(MODEL), `models.list() has ${MODEL}: ${ids}`);
  log(`models.list(): ${ids.join(', ')}`);

  // chat, not streaming (asked twice: the first run fills the engine's
  // prefix cache, so the compared runs below take the same path)
  const ask = { model: MODEL, messages: [{ role: 'system', content: 'Du bist die Stadtverwaltung.' }, { role: 'user', content: 'Guten Tag!' }], max_tokens: 8, temperature: 0 };
  await client.chat.completions.create(ask);
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'system', content: 'Du bist die Stadtverwaltung.' }, { role: 'user', content: 'Guten Tag!' }],
    max_tokens: 8,
    temperature: 0,
  });
  assertEq(r.object, 'chat.completion', 'object');
  assertEq(r.model, MODEL, 'model');
  assertEq(r.choices.length, 1, 'choices');
  assertEq(r.choices[0].message.role, 'assistant', 'role');
  assert(typeof r.choices[0].message.content === 'string', 'content is a string');
  assert(['stop', 'length'].includes(r.choices[0].finish_reason), `finish_reason ${r.choices[0].finish_reason}`);
  assert(r.usage && r.usage.prompt_tokens > 0, 'usage.prompt_tokens');
  assert(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8, `completion_tokens ${r.usage.completion_tokens}`);
  if (r.choices[0].finish_reason === 'length') assertEq(r.usage.completion_tokens, 8, 'length means max_tokens');
  log(`chat: ${JSON.stringify(r.choices[0].message.content)} (${r.choices[0].finish_reason}, ${r.usage.completion_tokens} tokens)`);

  // the same greedy request streamed gives the same text
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'system', content: 'Du bist die Stadtverwaltung.' }, { role: 'user', content: 'Guten Tag!' }],
    max_tokens: 8,
    temperature: 0,
    stream: true,
  });
  let text = '';
  let chunks = 0;
  let finish = null;
  let id = null;
  for await (const chunk of stream) {
    chunks++;
    assertEq(chunk.object, 'chat.completion.chunk', 'chunk object');
    if (id === null) id = chunk.id;
    assertEq(chunk.id, id, 'all chunks carry one id');
    const c = chunk.choices[0];
    if (c && c.delta && c.delta.content) text += c.delta.content;
    if (c && c.finish_reason) finish = c.finish_reason;
  }
  assert(chunks >= 2, `at least two chunks (got ${chunks})`);
  assert(['stop', 'length'].includes(finish), `stream finish_reason ${finish}`);
  assertEq(text, r.choices[0].message.content, 'streamed text equals the non-streamed greedy answer');
  log(`stream: ${chunks} chunks, ${JSON.stringify(text)}, ${finish}`);

  // longer stream: several content chunks arrive (with max_tokens 48)
  const long = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Erzähl mir etwas über das Bürgeramt.' }],
    max_tokens: 48, stream: true,
  });
  let parts = 0;
  for await (const chunk of long) if (chunk.choices[0] && chunk.choices[0].delta.content) parts++;
  assert(parts >= 1, 'the longer stream has content');
  log(`longer stream: ${parts} content chunks`);

  // legacy completions
  const c = await client.completions.create({ model: MODEL, prompt: 'Das Rathaus', max_tokens: 4, temperature: 0 });
  assert(c.choices && typeof c.choices[0].text === 'string', 'completions text');
  log(`completions: ${JSON.stringify(c.choices[0].text)}`);

  // errors map to the client's exception classes
  const bad = new OpenAI({ baseURL: srv.url + '/v1', apiKey: 'rh_falsch', maxRetries: 0 });
  try {
    await bad.models.list();
    assert(false, 'a wrong key must fail');
  } catch (e) {
    assert(e instanceof OpenAI.AuthenticationError, `wrong key gives AuthenticationError, got ${e.constructor.name}: ${e.message}`);
    assertEq(e.status, 401, 'status');
  }
  try {
    await client.chat.completions.create({ model: 'gibt-es-nicht', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    assert(false, 'an unknown model must fail');
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError, `unknown model gives NotFoundError, got ${e.constructor.name}: ${e.message}`);
  }
  try {
    await client.chat.completions.create({ model: MODEL, messages: [] });
    assert(false, 'empty messages must fail');
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError, `empty messages gives BadRequestError, got ${e.constructor.name}: ${e.message}`);
  }
  log('error classes: AuthenticationError, NotFoundError, BadRequestError');
}, { timeoutMs: 90000 });
