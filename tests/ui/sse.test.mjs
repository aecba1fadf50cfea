// sse.test.mjs - tests for the event-stream parser (web/js/sse.js).
import test from 'node:test';
import assert from 'node:assert/strict';
import { importWeb } from './webmod.mjs';

const { SseParser } = await importWeb('sse.js');

function collect(chunks) {
  const ev = [];
  const p = new SseParser((type, data) => ev.push([type, data]));
  for (const c of chunks) p.push(c);
  p.end();
  return ev;
}

test('events split anywhere across chunks', () => {
  const stream = 'event: start\ndata: {"model":"m"}\n\nevent: delta\ndata: {"text":"Hal"}\n\n: keepalive\n\nevent: delta\ndata: {"text":"lo"}\n\nevent: done\ndata: {}\n\n';
  const whole = collect([stream]);
  assert.deepEqual(whole.map((e) => e[0]), ['start', 'delta', 'delta', 'done']);
  for (let size = 1; size < 12; size++) {
    const parts = [];
    for (let i = 0; i < stream.length; i += size) parts.push(stream.slice(i, i + size));
    assert.deepEqual(collect(parts), whole);
  }
});

test('CRLF, CR, multi-line data and default type', () => {
  assert.deepEqual(collect(['data: a\r\ndata: b\r', '\n\r\n']), [['message', 'a\nb']]);
  assert.deepEqual(collect(['event: x\rdata:y\r\r']), [['x', 'y']]);
});

test('unterminated last event is dropped; empty data ignored', () => {
  assert.deepEqual(collect(['event: delta\ndata: {"text":"x"}']), []);
  assert.deepEqual(collect(['event: ping\n\n']), []);
});
