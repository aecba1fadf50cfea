// lib.mjs - shared helpers of the end-to-end tests and portal benchmarks:
// start the real `rathaus serve` binary ($RATHAUS_BIN) on a free loopback
// port with its own temporary data directory, a small cookie/CSRF-aware
// client for /api, a Server-Sent-Events reader, a fake OpenAI-compatible
// upstream, and cleanup of every child process on success, failure,
// timeout or signal. No network beyond 127.0.0.1 is used. E2E_KEEP=1 keeps
// the temporary directories (server logs) also after a success.
//
// A test script calls main(name, async () => { ... }): it exits 0 when the
// body finishes, 1 on an exception or timeout (printing the server logs'
// tails and keeping the temporary directory), and 77 after skip(reason).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.RATHAUS_BIN || path.join(ROOT, 'build/rathaus');
export const TESTDATA = process.env.RATHAUS_TESTDATA || path.join(ROOT, '../shared/testdata');
export const SKIP_CODE = 77;
export const ADMIN_PW = 'geheim123';

const children = new Set();
const servers = [];
const tmpdirs = [];
const closers = [];
let finished = false;
let failHook = null; // main()'s fail(): a server that dies on its own ends the test at once

function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { killAll(); process.exit(1); });
}

export function log(msg) { console.log(`  - ${msg}`); }

export function skip(reason) {
  console.log(`skipped: ${reason}`);
  finished = true;
  killAll();
  process.exit(SKIP_CODE);
}

export class AssertionError extends Error {}
export function assert(cond, msg) { if (!cond) throw new AssertionError(msg || 'assertion failed'); }
export function assertEq(a, b, msg) {
  if (a !== b) throw new AssertionError(`${msg || 'values differ'}: ${JSON.stringify(a)} !== ${JSON.stringify(b)}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn() until it returns a truthy value; throws after timeoutMs. */
export async function waitUntil(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new AssertionError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Skips unless the binary, the test data (when `models` are named) and node_modules exist. */
export function requirePrereqs({ models = [], modules = [] } = {}) {
  if (!fs.existsSync(BIN)) skip(`server binary ${BIN} not found (build it with make, or set RATHAUS_BIN)`);
  for (const m of models) {
    const p = path.join(TESTDATA, 'models', m);
    if (!fs.existsSync(p)) skip(`test model ${p} not found (../shared/testdata or $RATHAUS_TESTDATA)`);
  }
  for (const mod of modules) {
    if (!fs.existsSync(path.join(ROOT, 'tests/e2e/node_modules', mod, 'package.json'))) {
      skip(`node module '${mod}' is not installed (cd tests/e2e && npm ci)`);
    }
  }
}

export function mkTmp(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `rathaus-e2e-${prefix}-`));
  tmpdirs.push(d);
  return d;
}

/** Registers a function run when the test ends (both on success and failure). */
export function onCleanup(fn) { closers.push(fn); }

async function runCleanups() {
  while (closers.length) {
    const fn = closers.pop();
    try { await fn(); } catch (e) { console.error(`  cleanup: ${e.message}`); }
  }
  await Promise.all(servers.map((s) => s.stop().catch(() => {})));
  killAll();
}

export async function main(name, body, { timeoutMs = 120000 } = {}) {
  const t0 = Date.now();
  const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  failHook = (e) => fail(e);
  async function fail(e) {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    console.error(`${name}: FAILED: ${e && e.stack ? e.stack : e}`);
    for (const s of servers) {
      const tail = s.logTail(25);
      if (tail) console.error(`--- last lines of ${s.logPath}:\n${tail}`);
    }
    const closing = runCleanups();
    const guard = sleep(5000);
    await Promise.race([closing, guard]);
    if (tmpdirs.length) console.error(`(kept for inspection: ${tmpdirs.join(' ')})`);
    process.exit(1);
  }
  try {
    await body();
  } catch (e) {
    await fail(e);
    return;
  }
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  await runCleanups();
  if (process.env.E2E_KEEP) console.log(`(kept: ${tmpdirs.join(' ')})`);
  else for (const d of tmpdirs) fs.rmSync(d, { recursive: true, force: true });
  console.log(`${name}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  process.exit(0);
}

/** The environment for a server: inherited, minus every RATHAUS_* setting. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RATHAUS_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Starts `rathaus serve` with its own data directory on 127.0.0.1 and a free
 * port. opts: name, models (files in testdata/models, symlinked into the
 * models directory), conf (text of a rathaus.conf, passed with --config),
 * env (extra RATHAUS_* variables), admin (create user "admin" first: default
 * true), apiKey (create an API key for admin: default false).
 */
export async function startServer(opts = {}) {
  const name = opts.name || 'portal';
  const dir = opts.dataDir || mkTmp(name);
  const modelsDir = path.join(dir, 'models');
  fs.mkdirSync(modelsDir, { recursive: true });
  for (const m of opts.models || []) {
    const src = fs.realpathSync(path.join(TESTDATA, 'models', m));
    const dst = path.join(modelsDir, m);
    if (!fs.existsSync(dst)) fs.symlinkSync(src, dst);
  }
  const args = ['serve'];
  if (opts.conf) {
    fs.writeFileSync(path.join(dir, 'rathaus.conf'), opts.conf);
    args.push('--config', path.join(dir, 'rathaus.conf'));
  }
  const env = cleanEnv({
    RATHAUS_DATA_DIR: dir,
    RATHAUS_MODELS_DIR: modelsDir,
    RATHAUS_LISTEN: opts.listen || '127.0.0.1:0',
    RATHAUS_ACCESS_LOG: '-',
    ...(opts.env || {}),
  });
  const srv = new Server(name, dir, env);
  if (opts.admin !== false) {
    srv.cli(['user', 'add', '--admin', '--display-name', 'Verwaltung Admin', 'admin'], ADMIN_PW + '\n');
  }
  if (opts.apiKey) srv.apiKey = srv.cli(['apikey', 'create', 'admin', '--name', 'e2e']).split('\n')[0].trim();
  await srv.start(args);
  return srv;
}

export class Server {
  constructor(name, dir, env) {
    this.name = name;
    this.dir = dir;
    this.env = env;
    this.logPath = path.join(dir, 'server.log');
    this.proc = null;
    this.url = null;
    this.exited = null;
    servers.push(this);
  }

  /** Runs a CLI command of the binary against this data directory; returns stdout. */
  cli(args, input = '') {
    const r = spawnSync(BIN, args, { cwd: this.dir, env: this.env, input, encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`rathaus ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async start(args) {
    const logFd = fs.openSync(this.logPath, 'a');
    const proc = spawn(BIN, args, { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', logFd] });
    fs.closeSync(logFd);
    this.proc = proc;
    children.add(proc);
    this.stopping = false;
    this.exited = new Promise((resolve) => proc.on('exit', (code, sig) => {
      children.delete(proc);
      resolve({ code, sig });
      if (!this.stopping && this.url && failHook) {
        failHook(new Error(`${this.name}: the server ended on its own (exit status ${code}, signal ${sig}); see its log below`));
      }
    }));
    let out = '';
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: server did not report its address within 15 s`)), 15000);
      proc.stdout.on('data', (d) => {
        fs.appendFileSync(this.logPath, d);
        out += d.toString();
        const m = /portal running on (https?:\/\/[^\s/]+)\//.exec(out);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${this.name}: server exited with ${code} before listening`)); });
    });
    this.port = Number(new URL(this.url).port);
    this.pid = proc.pid;
  }

  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`. */
  async stop(signal = 'SIGTERM', graceMs = 5000) {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.stopping = true;
    try { this.proc.kill(signal); } catch { /* gone */ }
    const t = setTimeout(() => { try { this.proc.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  /** Resident set size of the server process in KiB (VmRSS). */
  rssKiB() {
    const s = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
    return m ? Number(m[1]) : NaN;
  }

  logTail(n) {
    try {
      const lines = fs.readFileSync(this.logPath, 'utf8').trimEnd().split('\n');
      return lines.slice(-n).join('\n');
    } catch { return ''; }
  }

  /** A new browser-less client with its own cookies. */
  client(lang) { return new Client(this.url, lang); }
}

export class ApiError extends Error {
  constructor(status, body, method, p) {
    super(`${method} ${p}: HTTP ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

/** A client of /api with a cookie jar and the CSRF token, like the web UI. */
export class Client {
  constructor(base, lang) {
    this.base = base;
    this.cookies = new Map();
    this.csrf = '';
    this.lang = lang;
  }

  headers(extra = {}) {
    const h = { ...extra };
    if (this.cookies.size) h.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.csrf) h['X-CSRF-Token'] = this.csrf;
    if (this.lang) h['Accept-Language'] = this.lang;
    return h;
  }

  keepCookies(res) {
    // getSetCookie() is missing in some Node 18 releases: split the joined
    // header before each "name=" (Expires dates contain commas too)
    const list = res.headers.getSetCookie ? res.headers.getSetCookie()
      : (res.headers.get('set-cookie') || '').split(/,(?=\s*[A-Za-z0-9_-]+=)/).filter(Boolean);
    for (const c of list) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const k = pair.slice(0, i).trim();
      const v = pair.slice(i + 1).trim();
      if (v === '' || /max-age=0/i.test(c)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
  }

  /** fetch() with cookies and CSRF; returns the Response (body unread). */
  async raw(method, p, body, { signal, headers } = {}) {
    const init = { method, headers: this.headers(headers), signal, redirect: 'manual' };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(this.base + p, init);
    this.keepCookies(res);
    return res;
  }

  /** JSON request; throws ApiError unless the status is 2xx. */
  async req(method, p, body, opts) {
    const res = await this.raw(method, p, body, opts);
    const text = await res.text();
    let data = text;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (res.status < 200 || res.status > 299) throw new ApiError(res.status, data, method, p);
    return data;
  }

  get(p) { return this.req('GET', p); }
  post(p, b) { return this.req('POST', p, b === undefined ? {} : b); }
  patch(p, b) { return this.req('PATCH', p, b); }

  async session() {
    const s = await this.get('/api/session');
    this.csrf = s.csrf;
    return s;
  }

  async login(username, password) {
    await this.session();
    const s = await this.post('/api/login', { username, password });
    this.csrf = s.csrf;
    return s;
  }

  /** Starts an answer stream; returns { res, events } (events: async iterator). */
  async stream(convId, body, opts = {}) {
    const res = await this.raw('POST', `/api/conversations/${convId}/messages`, body, opts);
    if (res.status !== 200) {
      const text = await res.text();
      throw new ApiError(res.status, text, 'POST', `/api/conversations/${convId}/messages`);
    }
    return { res, events: sseEvents(res) };
  }
}

/** Parses a text/event-stream body into {event, data} objects (data JSON-decoded when possible). */
export async function* sseEvents(res) {
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (!data.length) continue;
      const text = data.join('\n');
      let parsed = text;
      try { parsed = JSON.parse(text); } catch { /* [DONE] and the like */ }
      yield { event, data: parsed, raw: text };
    }
  }
}

/** Reads a whole event stream; returns { events, text, last }. */
export async function collect(events) {
  const all = [];
  let text = '';
  for await (const ev of events) {
    all.push(ev);
    if (ev.event === 'delta') text += ev.data.text;
  }
  return { events: all, text, last: all[all.length - 1] };
}

/**
 * A fake OpenAI-compatible upstream on 127.0.0.1 (GET /v1/models, POST
 * /v1/chat/completions with stream true or false). Each answer is `chunks`
 * pieces `word`, `delayMs` apart. Counts requests, and streams the client
 * closed before the end (closedEarly).
 */
export async function fakeUpstream({ model = 'fake-model', chunks = 5, delayMs = 0, word = 'Wort ' } = {}) {
  const st = { requests: 0, closedEarly: 0, active: 0, port: 0, model };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', async () => {
      if (req.method === 'GET' && req.url === '/v1/models') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model', owned_by: 'fake' }] }));
        return;
      }
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"error":{"message":"not found"}}');
        return;
      }
      st.requests++;
      let stream = true;
      try { stream = JSON.parse(body).stream !== false; } catch { /* keep */ }
      if (!stream) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({
          id: 'fake', object: 'chat.completion', model,
          choices: [{ index: 0, message: { role: 'assistant', content: word.repeat(chunks) }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: chunks, total_tokens: chunks + 3 },
        }));
        return;
      }
      st.active++;
      let closed = false;
      res.on('close', () => { if (!res.writableFinished) { closed = true; st.closedEarly++; } st.active--; });
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      for (let i = 0; i < chunks && !closed; i++) {
        if (delayMs) await sleep(delayMs);
        if (closed) break;
        const c = { id: 'fake', object: 'chat.completion.chunk', model,
          choices: [{ index: 0, delta: { content: word }, finish_reason: i === chunks - 1 ? 'stop' : null }] };
        res.write(`data: ${JSON.stringify(c)}\n\n`);
      }
      if (!closed) res.end('data: [DONE]\n\n');
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  st.port = server.address().port;
  st.url = `http://127.0.0.1:${st.port}/v1`;
  st.close = () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); });
  onCleanup(st.close);
  return st;
}

/** Percentile (0..100) of an array of numbers. */
export function percentile(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

// ------------------------------------------------------------ browser tests

export const CHROMIUM = '/usr/bin/chromium';

// playwright-core's chromium; skips the test when Chromium is not installed.
export async function importChromium() {
  if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} is not installed (apt-get install chromium)`);
  const { chromium } = await import('playwright-core');
  return chromium;
}

// Headless Chromium without sandbox, GPU or background network traffic.
export function launchChromium(chromium) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A German 1280x860 page in a new context. Uncaught page errors and console
// errors go to pageErrors, except failed resource loads (expected refusals
// like 403 are checked by the tests themselves). apiGet(path) fetches JSON
// with the page's session: { status, body }.
export async function newTestPage(browser, pageErrors) {
  const context = await browser.newContext({ locale: 'de-DE', viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
  const apiGet = (p) => page.evaluate(async (u) => {
    const r = await fetch(u, { headers: { Accept: 'application/json' } });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, p);
  return { context, page, apiGet };
}

// After a browser test failed: a screenshot of `page` (may be null) into
// dir/failure.png and the page's errors, on stderr.
export async function reportPageFailure(page, dir, pageErrors) {
  if (page) {
    const file = path.join(dir, 'failure.png');
    try {
      await page.screenshot({ path: file, fullPage: true });
      console.error(`screenshot of the failure: ${file}`);
    } catch (se) {
      console.error(`no screenshot: ${se.message}`);
    }
  }
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join(' | ')}`);
}
