// cdp.mjs - drives Debian's headless chromium over the DevTools protocol for
// the browser tests (tests/ui/browser.test.mjs). Contains a minimal
// WebSocket client (RFC 6455, text frames, client masking) because Node 20
// has no WebSocket without a flag, and no npm packages are used.

import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function findChromium() {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      const p = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (p) return p;
    } catch { /* not installed */ }
  }
  return null;
}

class MiniWebSocket {
  constructor(socket, head) {
    this.socket = socket;
    this.buf = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
    this.frags = [];
    this.onmessage = null;
    this.onclose = null;
    socket.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.parse(); });
    socket.on('close', () => this.onclose && this.onclose());
    socket.on('error', () => {});
    this.parse();
  }

  static connect(url) {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const key = crypto.randomBytes(16).toString('base64');
      const req = http.request({
        host: u.hostname, port: u.port, path: u.pathname + u.search,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key },
      });
      req.on('upgrade', (res, socket, head) => resolve(new MiniWebSocket(socket, head)));
      req.on('response', (res) => reject(new Error('websocket upgrade refused: ' + res.statusCode)));
      req.on('error', reject);
      req.end();
    });
  }

  parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const op = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); off = 10; }
      let mask = null;
      if (masked) { if (b.length < off + 4) return; mask = b.subarray(off, off + 4); off += 4; }
      if (b.length < off + len) return;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      this.buf = b.subarray(off + len);
      if (op === 0x8) { this.socket.end(); return; }
      if (op === 0x9) { this.frame(0xa, payload); continue; }
      if (op === 0x1 || op === 0x2 || op === 0x0) {
        this.frags.push(payload);
        if (fin) {
          const msg = Buffer.concat(this.frags).toString('utf8');
          this.frags = [];
          if (this.onmessage) this.onmessage(msg);
        }
      }
    }
  }

  frame(op, payload) {
    const len = payload.length;
    let header;
    if (len < 126) { header = Buffer.alloc(2); header[1] = 0x80 | len; }
    else if (len < 65536) { header = Buffer.alloc(4); header[1] = 0x80 | 126; header.writeUInt16BE(len, 2); }
    else { header = Buffer.alloc(10); header[1] = 0x80 | 127; header.writeBigUInt64BE(BigInt(len), 2); }
    header[0] = 0x80 | op;
    const mask = crypto.randomBytes(4);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
    this.socket.write(Buffer.concat([header, mask, body]));
  }

  send(text) { this.frame(0x1, Buffer.from(text, 'utf8')); }
  close() { try { this.frame(0x8, Buffer.alloc(0)); } catch { /* gone */ } this.socket.destroy(); }
}

/** Starts chromium; resolves to a Browser with page helpers. */
export async function launch(opts = {}) {
  const exe = findChromium();
  if (!exe) throw new Error('chromium not found');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rathaus-ui-'));
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-extensions',
    `--user-data-dir=${dir}`, '--remote-debugging-port=0', `--window-size=${opts.width || 1280},${opts.height || 800}`,
    '--lang=de-DE', 'about:blank',
  ];
  const proc = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const wsUrl = await new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error('chromium did not start: ' + err.slice(-500))), 30000);
    proc.stderr.on('data', (d) => {
      err += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error('chromium exited ' + code + ': ' + err.slice(-500))); });
  });
  const ws = await MiniWebSocket.connect(wsUrl);
  return new Browser(proc, ws, dir);
}

class Browser {
  constructor(proc, ws, dir) {
    this.proc = proc;
    this.ws = ws;
    this.dir = dir;
    this.id = 0;
    this.pending = new Map();
    this.listeners = [];
    ws.onmessage = (text) => {
      const msg = JSON.parse(text);
      if (msg.id && this.pending.has(msg.id)) {
        const { resolve, reject } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) reject(new Error(msg.error.message));
        else resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners) l(msg);
      }
    };
  }

  send(method, params = {}, sessionId) {
    const id = ++this.id;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify(msg));
    });
  }

  async newPage() {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, sessionId);
    await page.init();
    return page;
  }

  async close() {
    try { await Promise.race([this.send('Browser.close'), new Promise((r) => setTimeout(r, 2000))]); } catch { /* already gone */ }
    this.ws.close();
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      try { this.proc.kill(); } catch { /* gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    try {
      fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch { /* a leftover temp dir is not worth failing for */ }
  }
}

class Page {
  constructor(browser, sessionId) {
    this.b = browser;
    this.sid = sessionId;
    this.console = [];
    this.requests = [];
  }

  cmd(method, params) { return this.b.send(method, params, this.sid); }

  async init() {
    this.b.listeners.push((msg) => {
      if (msg.sessionId !== this.sid) return;
      if (msg.method === 'Runtime.consoleAPICalled') {
        this.console.push({ type: msg.params.type, text: msg.params.args.map((a) => a.value ?? a.description ?? '').join(' ') });
      } else if (msg.method === 'Log.entryAdded') {
        this.console.push({ type: msg.params.entry.level, text: msg.params.entry.text });
      } else if (msg.method === 'Runtime.exceptionThrown') {
        this.console.push({ type: 'exception', text: msg.params.exceptionDetails.exception?.description || msg.params.exceptionDetails.text });
      } else if (msg.method === 'Network.requestWillBeSent') {
        this.requests.push(msg.params.request.url);
      }
    });
    await this.cmd('Runtime.enable');
    await this.cmd('Log.enable');
    await this.cmd('Network.enable');
    await this.cmd('Page.enable');
  }

  async goto(url) {
    await this.cmd('Page.navigate', { url });
    await this.waitFor('document.readyState === "complete"');
  }

  /** Evaluates an expression (may return a promise); returns its JSON value. */
  async eval(expr) {
    const r = await this.cmd('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error('eval failed: ' + (r.exceptionDetails.exception?.description || r.exceptionDetails.text) + '\n' + expr);
    return r.result.value;
  }

  async waitFor(expr, timeout = 8000) {
    const end = Date.now() + timeout;
    let last;
    while (Date.now() < end) {
      let v = false;
      try { v = await this.eval(expr); } catch (e) { last = e.message.split('\n')[0]; }
      if (v) return v;
      if (v !== false) last = v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('timeout waiting for: ' + expr + ' (last: ' + last + ')');
  }

  async key(key, code = key, keyCode = 0) {
    const base = { key, code, windowsVirtualKeyCode: keyCode, nativeVirtualKeyCode: keyCode };
    await this.cmd('Input.dispatchKeyEvent', { type: 'keyDown', ...base });
    await this.cmd('Input.dispatchKeyEvent', { type: 'keyUp', ...base });
  }

  async size(width, height) {
    await this.cmd('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
  }

  async screenshot(file) {
    const r = await this.cmd('Page.captureScreenshot', { format: 'png' });
    fs.writeFileSync(file, Buffer.from(r.data, 'base64'));
  }
}
