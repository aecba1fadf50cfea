// mock-server.mjs - development stand-in for the rathaus server (docs/api.md).
//
// Serves web/ with the production Content-Security-Policy and fakes the
// JSON API with in-memory data, including a slow SSE answer stream, so the
// UI can be developed and checked in a browser without the C server.
//
//   node tests/ui/mock-server.mjs [--port 8099]
//
// Environment:
//   PORT=8099          listen port (127.0.0.1 only)
//   MOCK_SETUP=1       start without users (first-run set-up screen)
//   MOCK_NO_MODELS=1   empty model list (shows the "add a model" hint)
//   MOCK_AUTOLOGIN=1   requests without a session are logged in as admin
//                      (for headless screenshots of inner pages)
//   MOCK_DELAY=40      milliseconds between streamed deltas
//   MOCK_LANG=en       language of the fake server's error messages default
// Messages containing "busy" get a 503 (queue full); "fehler"/"error" break
// the stream with an error event; "hostile" answers with hostile Markdown;
// "lang"/"long" answers at length. Users: admin/admin, m.muster/muster.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webRoot = path.resolve(here, '../../web');

export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

const now = () => new Date().toISOString();
const ago = (min) => new Date(Date.now() - min * 60000).toISOString();
const token = () => crypto.randomBytes(18).toString('base64url');

// ------------------------------------------------------------------ data

export function createState(opts = {}) {
  const s = {
    nextId: 1000,
    users: [],
    groups: [],
    convs: [],
    keys: [],
    audit: [],
    sessions: new Map(),   // token -> { userId, csrf }
    pre: new Map(),        // pre-session cookie -> csrf
    running: new Map(),    // conversation id -> { stop: fn }
    noModels: !!opts.noModels,
    delay: opts.delay ?? 40,
    queueFull: false,
  };
  s.models = [
    { id: 'llama-3.1-8b-instruct-q4_k_m', name: 'Llama 3.1 8B Instruct', source: 'local', size_bytes: 4920734336, quantization: 'Q4_K_M', context_length: 8192, available: true },
    { id: 'eurollm-9b-instruct-q4_k_m', name: 'EuroLLM 9B Instruct', source: 'local', size_bytes: 5600000000, quantization: 'Q4_K_M', context_length: 4096, available: true },
    { id: 'llama-3.3-70b', name: 'Llama 3.3 70B (Rechenzentrum)', source: 'upstream', size_bytes: 0, quantization: '', context_length: 131072, available: true },
    { id: 'qwen-2.5-72b', name: 'Qwen 2.5 72B', source: 'upstream', size_bytes: 0, quantization: '', context_length: 32768, available: false },
  ];
  s.academy = {
    levels: [
      { id: 'seepferdchen', name: 'Seepferdchen', description: 'Der Einstieg: was ein Sprachmodell ist und was nicht.', order: 1, capabilities: ['chat'],
        lessons: [
          { id: 'ki-grundlagen', title: 'Was ist ein Sprachmodell?', order: 1, minutes: 5, markdown: '# Was ist ein Sprachmodell?\n\nEin Sprachmodell **sagt das nächste Wort voraus**.\n\n- Es *weiß* nichts.\n- Es kann sich irren.\n\n<script>alert(1)</script>' },
          { id: 'datenschutz', title: 'Datenschutz', order: 2, minutes: 4, markdown: 'Geben Sie **keine** personenbezogenen Daten ein, wenn es nicht nötig ist.' },
        ],
        questions: [
          { id: 1, type: 'single', question: 'Was macht ein Sprachmodell?', options: ['Es sagt das nächste Wort voraus', 'Es sucht im Internet'], correct: [0], explanation: 'Es setzt Text fort.', lesson: 'ki-grundlagen' },
          { id: 2, type: 'multiple', question: 'Welche Daten gehören nicht in den Chat?', options: ['IBAN', 'Öffnungszeiten', 'Steuer-ID'], correct: [0, 2], explanation: 'Personenbezogene Daten nur, wenn nötig.', lesson: 'datenschutz' },
        ] },
      { id: 'bronze', name: 'Bronze', description: 'Grundlagen: Antworten prüfen.', order: 2, capabilities: ['knowledge', 'assistants'],
        lessons: [{ id: 'halluzinationen', title: 'Halluzinationen erkennen', order: 1, minutes: 6, markdown: 'Modelle **erfinden** manchmal Fakten.' }],
        questions: [] },
    ],
    completed: new Set(),
    held: new Set(),
    attempt: null,
    feedback: new Map(),
  };
  if (opts.setup) return s;
  s.groups.push({ id: 1, name: 'Bürgeramt' }, { id: 2, name: 'Bauamt' }, { id: 3, name: 'IT' });
  s.users.push(
    { id: 1, username: 'admin', display_name: 'Anna Admin', role: 'admin', groups: [3], disabled: false, created_at: ago(90000), last_login_at: ago(5), password: 'admin', lang: null },
    { id: 2, username: 'm.muster', display_name: 'Max Muster', role: 'user', groups: [1], disabled: false, created_at: ago(50000), last_login_at: ago(600), password: 'muster', lang: null },
    { id: 3, username: 'e.beispiel', display_name: 'Erika Beispiel', role: 'user', groups: [1, 2], disabled: true, created_at: ago(40000), last_login_at: null, password: 'x', lang: null },
  );
  const sample = [
    '## Baugenehmigung: Unterlagen',
    '',
    'Für einen **Bauantrag** brauchen Sie in der Regel:',
    '',
    '1. Antragsformular (vom *Bauamt*)',
    '2. Lageplan',
    '   - amtlicher Lageplan bei Neubauten',
    '   - einfacher Lageplan bei Anbauten',
    '3. Bauzeichnungen',
    '',
    '| Unterlage | Gebühr |',
    '|:--|--:|',
    '| Lageplan | 45 € |',
    '| Prüfung | 0,5 % der Bausumme |',
    '',
    '> Bitte prüfen Sie die Angaben mit der aktuellen Satzung.',
    '',
    'Mehr unter https://www.example.org/bauen oder per `E-Mail`.',
    '',
    '```python',
    'def gebuehr(bausumme):',
    '    return round(bausumme * 0.005, 2)',
    '```',
  ].join('\n');
  s.convs.push(
    { id: 1, userId: 1, title: 'Unterlagen für den Bauantrag', model: s.models[0].id, system_prompt: '', created_at: ago(300), updated_at: ago(20),
      messages: [
        { id: 1, role: 'user', content: 'Welche Unterlagen braucht man für einen Bauantrag?', model: null, created_at: ago(21), tokens: 12, finish_reason: null },
        { id: 2, role: 'assistant', content: sample, model: s.models[0].id, created_at: ago(20), tokens: 180, finish_reason: 'stop' },
      ] },
    { id: 2, userId: 1, title: 'Bescheid Hundesteuer – Entwurf', model: s.models[1].id, system_prompt: 'Antworte in Einfacher Sprache.', created_at: ago(3000), updated_at: ago(1500),
      messages: [
        { id: 3, role: 'user', content: 'Entwirf einen Bescheid zur Hundesteuer.', model: null, created_at: ago(1501), tokens: 9, finish_reason: null },
        { id: 4, role: 'assistant', content: 'Sehr geehrte Damen und Herren,\n\nhiermit setzen wir die Hundesteuer fest …', model: s.models[1].id, created_at: ago(1500), tokens: 40, finish_reason: 'length' },
      ] },
    { id: 3, userId: 1, title: 'E-Mail an Bürgerin beantworten', model: s.models[0].id, system_prompt: '', created_at: ago(9000), updated_at: ago(8000), messages: [] },
    { id: 4, userId: 2, title: 'Fremde Unterhaltung', model: s.models[0].id, system_prompt: '', created_at: ago(100), updated_at: ago(100), messages: [] },
  );
  s.keys.push({ id: 1, userId: 1, name: 'Skript Posteingang', prefix: 'rh_3f9a', created_at: ago(20000), last_used_at: ago(30) });
  const actions = ['login', 'logout', 'user.create', 'conversation.delete', 'key.create', 'login.failed'];
  for (let i = 1; i <= 120; i++) {
    s.audit.push({ id: i, time: ago((121 - i) * 37), actor: i % 3 ? 'admin' : 'm.muster', action: actions[i % actions.length], target: i % 2 ? 'user:2' : '', detail: i % 5 ? '' : 'aus dem Bürgeramt', ip: '10.0.0.' + (i % 20) });
  }
  return s;
}

const MSG = {
  de: {
    invalid_credentials: 'Benutzername oder Passwort ist falsch.',
    not_found: 'Das gibt es nicht (mehr).',
    csrf: 'Die Anfrage wurde aus Sicherheitsgründen abgelehnt. Bitte laden Sie die Seite neu.',
    unauthorized: 'Bitte melden Sie sich an.',
    forbidden: 'Dafür fehlen Ihnen die Rechte.',
    busy: 'Zurzeit sind alle Plätze belegt. Bitte versuchen Sie es in einigen Sekunden erneut.',
    bad_request: 'Die Angaben sind unvollständig oder ungültig.',
    weak_password: 'Das Passwort muss mindestens 8 Zeichen lang sein.',
    exists: 'Diesen Benutzernamen gibt es schon.',
    wrong_password: 'Das bisherige Passwort stimmt nicht.',
    setup_done: 'Die Einrichtung ist bereits abgeschlossen.',
    model_error: 'Das Modell hat die Antwort abgebrochen. Bitte versuchen Sie es erneut.',
    hint: 'Es ist noch kein Sprachmodell eingerichtet. Die Administration kann eine GGUF-Datei in das Modellverzeichnis (/var/lib/rathaus/models) legen oder in /etc/rathaus/rathaus.conf einen externen Server (upstream) eintragen.',
  },
  en: {
    invalid_credentials: 'User name or password is wrong.',
    not_found: 'This does not exist (any more).',
    csrf: 'The request was refused for security reasons. Please reload the page.',
    unauthorized: 'Please sign in.',
    forbidden: 'You lack the rights for this.',
    busy: 'All places are taken at the moment. Please try again in a few seconds.',
    bad_request: 'The data is incomplete or invalid.',
    weak_password: 'The password must be at least 8 characters long.',
    exists: 'This user name exists already.',
    wrong_password: 'The current password is wrong.',
    setup_done: 'Set-up is already complete.',
    model_error: 'The model aborted the answer. Please try again.',
    hint: 'No language model is set up yet. An administrator can put a GGUF file into the models directory (/var/lib/rathaus/models) or configure an external server (upstream) in /etc/rathaus/rathaus.conf.',
  },
};

// ------------------------------------------------------------------ helpers

function parseCookies(req) {
  const out = {};
  for (const part of (req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function send(res, status, body, headers = {}) {
  const data = body === null || body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(status === 204 ? undefined : data);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) throw new Error('too large');
    chunks.push(c);
  }
  if (!chunks.length) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function publicUser(s, u) {
  return { id: u.id, username: u.username, display_name: u.display_name, role: u.role, groups: u.groups.slice(), lang: u.lang || '' };
}
function adminUser(u) {
  return { id: u.id, username: u.username, display_name: u.display_name, role: u.role, groups: u.groups, disabled: u.disabled, created_at: u.created_at, last_login_at: u.last_login_at };
}
function convSummary(c) { return { id: c.id, title: c.title, model: c.model, updated_at: c.updated_at }; }
function convFull(c) {
  return { id: c.id, title: c.title, model: c.model, system_prompt: c.system_prompt, created_at: c.created_at, updated_at: c.updated_at, messages: c.messages };
}

const HOSTILE = [
  'Hier ist **gefährlicher** Inhalt, der harmlos bleiben muss:',
  '',
  '<script>alert("xss")</script>',
  '',
  '<img src=x onerror=alert(1)>',
  '',
  '[Klick mich](javascript:alert(1)) und [auch](JAVASCRIPT:alert(2)) und <javascript:alert(3)>',
  '',
  '![Tracking-Pixel](http://evil.example/pixel.png)',
  '',
  '[Harmloser Link](https://www.example.org/)',
].join('\n');

function answerFor(text) {
  const t = text.toLowerCase();
  if (t.includes('hostile')) return HOSTILE;
  if (t.includes('lang') || t.includes('long')) {
    const parts = ['# Ausführliche Antwort', ''];
    for (let i = 1; i <= 30; i++) {
      parts.push(`## Abschnitt ${i}`, '', `Dies ist Absatz ${i} mit **wichtigem** Inhalt und etwas *Betonung*. Die Verwaltung arbeitet sorgfältig, und jede Antwort wird geprüft.`, '');
      if (i % 5 === 0) parts.push('```js', `const abschnitt = ${i};`, 'console.log(abschnitt);', '```', '');
      if (i % 7 === 0) parts.push('- Punkt eins', '- Punkt zwei', '  - Unterpunkt', '');
    }
    return parts.join('\n');
  }
  return [
    `Gern. Zu Ihrer Frage „${text.slice(0, 80)}“:`,
    '',
    'Die wichtigsten Schritte sind:',
    '',
    '1. **Antrag** prüfen',
    '2. Unterlagen anfordern',
    '3. Bescheid erstellen',
    '',
    '```text',
    'Aktenzeichen: 2026-0815',
    '```',
    '',
    'Bitte prüfen Sie das Ergebnis, bevor Sie es verwenden.',
  ].join('\n');
}

function chunksOf(text) {
  const out = [];
  const re = /\s*\S+/g;
  let m;
  while ((m = re.exec(text))) out.push(m[0]);
  const rest = text.slice(out.join('').length);
  if (rest) out.push(rest);
  return out;
}

// ------------------------------------------------------------------ server

export function createServer(state, opts = {}) {
  const s = state;
  const defaultLang = opts.lang || 'de';

  async function api(req, res, url) {
    const cookies = parseCookies(req);
    let sess = cookies.rathaus_session ? s.sessions.get(cookies.rathaus_session) : null;
    let user = sess ? s.users.find((u) => u.id === sess.userId && !u.disabled) : null;
    if (sess && !user) { s.sessions.delete(cookies.rathaus_session); sess = null; }
    const setCookies = [];
    if (!user && opts.autologin && s.users.length) {
      const tok = token();
      sess = { userId: 1, csrf: token() };
      s.sessions.set(tok, sess);
      user = s.users[0];
      setCookies.push(`rathaus_session=${tok}; HttpOnly; SameSite=Strict; Path=/`);
    }
    let preCsrf = null;
    if (!sess) {
      let pre = cookies.rathaus_pre;
      if (!pre || !s.pre.has(pre)) {
        pre = token();
        s.pre.set(pre, token());
        setCookies.push(`rathaus_pre=${pre}; HttpOnly; SameSite=Strict; Path=/`);
      }
      preCsrf = s.pre.get(pre);
    }
    const al = (req.headers['accept-language'] || '').slice(0, 2);
    const lang = (user && user.lang) || (al === 'en' ? 'en' : al === 'de' ? 'de' : defaultLang);
    const M = MSG[lang] || MSG.de;
    const extra = setCookies.length ? { 'Set-Cookie': setCookies } : {};
    const reply = (status, body, headers = {}) => send(res, status, body, { ...extra, ...headers });
    const fail = (status, code, headers) => reply(status, { error: { code, message: M[code] || code } }, headers);
    const method = req.method;
    const p = url.pathname;

    if (method !== 'GET' && method !== 'HEAD') {
      const want = sess ? sess.csrf : preCsrf;
      if (!want || req.headers['x-csrf-token'] !== want) return fail(403, 'csrf');
    }
    let body = {};
    if (method === 'POST' || method === 'PATCH' || method === 'PUT') {
      try { body = await readJson(req); } catch { return fail(400, 'bad_request'); }
    }
    const startSession = (u) => {
      const tok = token();
      s.sessions.set(tok, { userId: u.id, csrf: token() });
      u.last_login_at = now();
      setCookies.push(`rathaus_session=${tok}; HttpOnly; SameSite=Strict; Path=/`);
      extra['Set-Cookie'] = setCookies;
    };
    const audit = (action, target = '', detail = '') => s.audit.push({ id: s.audit.length + 1, time: now(), actor: user ? user.username : '', action, target, detail, ip: '127.0.0.1' });

    // ----- session
    if (p === '/api/session' && method === 'GET') {
      return reply(200, { user: user ? publicUser(s, user) : null, csrf: sess ? sess.csrf : preCsrf, setup_required: s.users.length === 0 });
    }
    if (p === '/api/setup' && method === 'POST') {
      if (s.users.length) return fail(409, 'setup_done');
      if (!body.username || !body.password) return fail(400, 'bad_request');
      if (String(body.password).length < 8) return fail(400, 'weak_password');
      const u = { id: 1, username: String(body.username), display_name: String(body.display_name || body.username), role: 'admin', groups: [], disabled: false, created_at: now(), last_login_at: null, password: String(body.password), lang: null };
      s.users.push(u);
      startSession(u);
      return reply(200, publicUser(s, u));
    }
    if (p === '/api/login' && method === 'POST') {
      const u = s.users.find((x) => x.username === body.username && x.password === body.password && !x.disabled);
      if (!u) return fail(401, 'invalid_credentials');
      startSession(u);
      user = u;
      audit('login');
      return reply(200, publicUser(s, u));
    }
    if (!user) return fail(401, 'unauthorized');

    if (p === '/api/logout' && method === 'POST') {
      s.sessions.delete(cookies.rathaus_session);
      return reply(204, null, { 'Set-Cookie': 'rathaus_session=; Max-Age=0; Path=/' });
    }
    if (p === '/api/password' && method === 'POST') {
      if (body.old_password !== user.password) return fail(400, 'wrong_password');
      if (String(body.new_password || '').length < 8) return fail(400, 'weak_password');
      user.password = body.new_password;
      return reply(204, null);
    }
    if (p === '/api/me' && method === 'PATCH') {
      if (typeof body.display_name === 'string' && body.display_name) user.display_name = body.display_name;
      if (body.lang === 'de' || body.lang === 'en') user.lang = body.lang;
      return reply(200, publicUser(s, user));
    }

    // ----- models
    if (p === '/api/models' && method === 'GET') {
      return reply(200, { models: s.noModels ? [] : s.models, hint: s.noModels ? M.hint : '' });
    }

    // ----- conversations
    if (p === '/api/conversations' && method === 'GET') {
      const q = (url.searchParams.get('q') || '').toLowerCase();
      const list = s.convs.filter((c) => c.userId === user.id && (!q || c.title.toLowerCase().includes(q)))
        .sort((a, b) => b.updated_at.localeCompare(a.updated_at));
      return reply(200, { conversations: list.map(convSummary) });
    }
    if (p === '/api/conversations' && method === 'POST') {
      const c = { id: ++s.nextId, userId: user.id, title: String(body.title || 'Neue Unterhaltung'), model: body.model || (s.models[0] && s.models[0].id), system_prompt: String(body.system_prompt || ''), created_at: now(), updated_at: now(), messages: [] };
      s.convs.push(c);
      return reply(200, convFull(c));
    }
    let m = /^\/api\/conversations\/(\d+)(\/messages|\/stop)?$/.exec(p);
    if (m) {
      const c = s.convs.find((x) => x.id === Number(m[1]) && x.userId === user.id);
      if (!c) return fail(404, 'not_found');
      if (!m[2]) {
        if (method === 'GET') return reply(200, convFull(c));
        if (method === 'PATCH') {
          if (typeof body.title === 'string') c.title = body.title;
          if (typeof body.system_prompt === 'string') c.system_prompt = body.system_prompt;
          if (typeof body.model === 'string') c.model = body.model;
          c.updated_at = now();
          return reply(200, convFull(c));
        }
        if (method === 'DELETE') { s.convs = s.convs.filter((x) => x !== c); return reply(204, null); }
      }
      if (m[2] === '/stop' && method === 'POST') {
        const r = s.running.get(c.id);
        if (r) r.stop();
        return reply(204, null);
      }
      if (m[2] === '/messages' && method === 'POST') return stream(req, res, c, body, M, extra);
    }

    // ----- academy, feedback, personal data
    const A = s.academy;
    const levelJson = (lv, i) => {
      const done = lv.lessons.filter((l) => A.completed.has(l.id)).length;
      const prevHeld = i === 0 || A.held.has(A.levels[i - 1].id);
      const reason = !prevHeld ? 'previous_level_required' : done < lv.lessons.length ? 'lessons_incomplete' : !lv.questions.length ? 'no_questions' : null;
      return {
        id: lv.id, name: lv.name, description: lv.description, order: lv.order, held: A.held.has(lv.id), capabilities: lv.capabilities,
        lessons: lv.lessons.map((l) => ({ id: l.id, title: l.title, order: l.order, minutes: l.minutes, completed: A.completed.has(l.id), completed_at: null, edited: !!l.orig || !!l.added })),
        lessons_total: lv.lessons.length, lessons_completed: done, questions: lv.questions.length,
        quiz: { available: !reason, reason, next_attempt_at: null, last: lv.last || null },
      };
    };
    if (p === '/api/academy' && method === 'GET') {
      const held = A.levels.filter((l) => A.held.has(l.id));
      const top = held[held.length - 1];
      return reply(200, {
        gating: true, pass_percent: 80, retry_minutes: 30, pii_check: 'warn',
        user: { level: top ? top.id : null, level_name: top ? top.name : null, rank: held.length, awarded_at: top ? now() : null, awarded_by: null, via: top ? 'quiz' : null },
        capabilities: ['chat'], levels: A.levels.map(levelJson),
        reminders: { no_sources_lesson: 'halluzinationen', no_sources_message: '', pii_lesson: 'datenschutz', pii_message: '' },
      });
    }
    m = /^\/api\/academy\/lessons\/([\w-]+)(\/complete)?$/.exec(p);
    if (m) {
      const lv = A.levels.find((x) => x.lessons.some((l) => l.id === m[1]));
      if (!lv) return fail(404, 'not_found');
      const l = lv.lessons.find((x) => x.id === m[1]);
      if (m[2] && method === 'POST') { A.completed.add(l.id); return reply(200, { id: l.id, completed: true }); }
      if (!m[2] && method === 'GET') {
        return reply(200, { id: l.id, level: lv.id, level_name: lv.name, title: l.title, order: l.order, minutes: l.minutes, markdown: l.markdown, completed: A.completed.has(l.id), builtin: !l.added, edited: !!l.orig || !!l.added, updated_by: l.orig ? 'admin' : null, updated_at: l.orig ? now() : null });
      }
    }
    m = /^\/api\/academy\/quiz\/([\w-]+)(\/start)?$/.exec(p);
    if (m) {
      const i = A.levels.findIndex((x) => x.id === m[1]);
      if (i < 0) return fail(404, 'not_found');
      const lv = A.levels[i];
      const info = levelJson(lv, i);
      if (!m[2] && method === 'GET') {
        // status only: a GET never starts an attempt
        return reply(200, { level: lv.id, level_name: lv.name, pass_percent: 80, held: info.held, available: info.quiz.available,
          reason: info.quiz.reason, next_attempt_at: null, missing_lessons: [], last: lv.last || null, open_attempt: !!(A.attempt && A.attempt.level === lv.id) });
      }
      if (m[2] && method === 'POST') {
        if (info.quiz.reason) return reply(409, { error: { code: info.quiz.reason, message: info.quiz.reason } });
        A.attempt = { id: ++s.nextId, level: lv.id };
        A.starts = (A.starts || 0) + 1;
        return reply(200, { attempt_id: A.attempt.id, level: lv.id, level_name: lv.name, pass_percent: 80,
          questions: lv.questions.map((q) => ({ id: q.id, type: q.type, question: q.question, options: q.options.map((text, id) => ({ id, text })) })) });
      }
      if (!m[2] && method === 'POST') {
        if (!A.attempt || A.attempt.level !== lv.id) return reply(409, { error: { code: 'no_attempt', message: 'no_attempt' } });
        A.attempt = null;
        const results = lv.questions.map((q) => {
          const chosen = ((body.answers || {})[q.id] || []).slice().sort();
          const correct = JSON.stringify(chosen) === JSON.stringify(q.correct);
          return { id: q.id, correct, chosen, correct_options: q.correct, explanation: q.explanation, lesson: q.lesson };
        });
        const score = results.filter((r) => r.correct).length;
        const percent = Math.round((100 * score) / results.length);
        const passed = percent >= 80;
        lv.last = { score, total: results.length, percent, passed, at: now() };
        let awarded = null;
        if (passed && !A.held.has(lv.id)) { A.held.add(lv.id); awarded = lv.id; }
        return reply(200, { score, total: results.length, percent, passed, pass_percent: 80, level_awarded: awarded, next_attempt_at: passed ? null : ago(-30), results });
      }
    }
    m = /^\/api\/messages\/(\d+)\/feedback$/.exec(p);
    if (m && method === 'POST') {
      const id = Number(m[1]);
      const own = s.convs.some((c) => c.userId === user.id && c.messages.some((x) => x.id === id && x.role === 'assistant'));
      if (!own || !['up', 'down'].includes(body.rating)) return fail(own ? 400 : 404, own ? 'bad_request' : 'not_found');
      A.feedback.set(id, { message_id: id, rating: body.rating, comment: String(body.comment || ''), at: now() });
      return reply(200, A.feedback.get(id));
    }
    m = /^\/api\/conversations\/(\d+)\/feedback$/.exec(p);
    if (m && method === 'GET') {
      const c = s.convs.find((x) => x.id === Number(m[1]) && x.userId === user.id);
      if (!c) return fail(404, 'not_found');
      return reply(200, { feedback: c.messages.filter((x) => A.feedback.has(x.id)).map((x) => A.feedback.get(x.id)) });
    }
    if (p === '/api/pii-check' && method === 'POST') {
      const text = String(body.text || '');
      const findings = [];
      const scan = (re, kind) => { for (const mm of text.matchAll(re)) findings.push({ kind, start: mm.index, end: mm.index + mm[0].length }); };
      scan(/\bDE\d{2}(?: ?\d{4}){4} ?\d{2}\b/g, 'iban');
      scan(/[\w.+-]+@[\w-]+\.[\w.-]+/g, 'email');
      return reply(200, { mode: 'warn', findings, lesson: 'datenschutz', message: findings.length ? 'Ihre Nachricht enthält vermutlich personenbezogene Daten. Geben Sie nur ein, was für die Aufgabe nötig ist (Lektion „Datenschutz“).' : null });
    }

    // ----- trainer
    if (p.startsWith('/api/trainer/')) {
      if (!['admin', 'trainer'].includes(user.role)) return fail(403, 'forbidden');
      const part = (u) => {
        const held = A.levels.filter((l) => (u.id === user.id ? A.held : (u.held ||= new Set())).has(l.id));
        const top = held[held.length - 1];
        return { id: u.id, username: u.username, display_name: u.display_name, role: u.role,
          groups: u.groups.map((g) => (s.groups.find((x) => x.id === g) || {}).name).filter(Boolean).join(', '), disabled: u.disabled,
          level: top ? top.id : null, level_name: top ? top.name : null, level_at: top ? now() : null, level_by: top ? 'admin' : null, level_via: top ? 'trainer' : null,
          lessons_done: 0, lessons_total: 3, last_quiz: null };
      };
      if (p === '/api/trainer/participants' && method === 'GET') return reply(200, { participants: s.users.map(part) });
      m = /^\/api\/trainer\/participants\/(\d+)\/(award|revoke)$/.exec(p);
      if (m && method === 'POST') {
        const u = s.users.find((x) => x.id === Number(m[1]));
        if (!u) return fail(404, 'not_found');
        if (!String(body.reason || '').trim()) return reply(400, { error: { code: 'reason_required', message: 'Bitte geben Sie eine Begründung an.' } });
        const set = u.id === user.id ? A.held : (u.held ||= new Set());
        if (m[2] === 'award') {
          const i = A.levels.findIndex((l) => l.id === body.level);
          if (i < 0) return reply(400, { error: { code: 'bad_level', message: 'Diese Stufe gibt es nicht.' } });
          set.clear();
          for (let k = 0; k <= i; k++) set.add(A.levels[k].id);
        } else {
          if (!set.size) return reply(409, { error: { code: 'no_level', message: 'Diese Person hat diese Stufe nicht.' } });
          const ids = A.levels.map((l) => l.id).filter((id) => set.has(id));
          const from = body.level ? ids.indexOf(body.level) : ids.length - 1;
          for (const id of ids.slice(Math.max(0, from))) set.delete(id);
        }
        audit('academy_' + m[2], u.username, body.reason);
        return reply(200, part(u));
      }
      // lessons edited by trainers
      m = /^\/api\/trainer\/lessons\/([\w-]+)$/.exec(p);
      if (m) {
        const lv = A.levels.find((x) => x.lessons.some((l) => l.id === m[1]));
        const l = lv && lv.lessons.find((x) => x.id === m[1]);
        if (method === 'PUT') {
          if (!String(body.title || '').trim() || typeof body.markdown !== 'string') return fail(400, 'bad_request');
          if (l) {
            l.orig ||= { title: l.title, markdown: l.markdown, minutes: l.minutes };
            Object.assign(l, { title: body.title, markdown: body.markdown, minutes: body.minutes ?? l.minutes });
            audit('academy_lesson_edit', l.id, body.title);
            return reply(200, { id: l.id, level: lv.id, title: l.title, markdown: l.markdown, minutes: l.minutes, edited: true, builtin: !l.added });
          }
          const target = A.levels.find((x) => x.id === body.level);
          if (!target) return reply(400, { error: { code: 'bad_level', message: 'Diese Stufe gibt es nicht.' } });
          const nl = { id: m[1], title: body.title, markdown: body.markdown, minutes: body.minutes ?? 5, order: body.order ?? 99, added: true };
          target.lessons.push(nl);
          audit('academy_lesson_edit', nl.id, body.title);
          return reply(200, { ...nl, level: target.id, edited: true, builtin: false });
        }
        if (method === 'DELETE') {
          if (!l || (!l.orig && !l.added)) return fail(404, 'not_found');
          if (l.added) lv.lessons = lv.lessons.filter((x) => x !== l);
          else { Object.assign(l, l.orig); delete l.orig; }
          audit('academy_lesson_restore', m[1]);
          return reply(204, null);
        }
      }
      // the quiz bank
      const qJson = (q, lv) => ({ id: String(q.id), level: lv.id, level_name: lv.name, lesson: q.lesson || '', type: q.type, question: q.question,
        options: q.options.map((text, i) => ({ text, correct: q.correct.includes(i) })), explanation: q.explanation || '',
        builtin: !q.added, edited: !!q.orig || !!q.added, hidden: !!q.hidden, updated_by: q.orig || q.added ? 'admin' : null, updated_at: null });
      if (p === '/api/trainer/questions' && method === 'GET') {
        return reply(200, { questions: A.levels.flatMap((lv) => lv.questions.map((q) => qJson(q, lv))) });
      }
      m = /^\/api\/trainer\/questions\/([\w-]+)(\/restore)?$/.exec(p);
      if (m) {
        let lv = A.levels.find((x) => x.questions.some((q) => String(q.id) === m[1]));
        const q = lv && lv.questions.find((x) => String(x.id) === m[1]);
        if (method === 'PUT' && !m[2]) {
          const opts = Array.isArray(body.options) ? body.options : [];
          const nc = opts.filter((o) => o && o.correct === true).length;
          if (!String(body.question || '').trim() || opts.length < 2 || opts.some((o) => !o || !String(o.text || '').trim()) || !nc || (body.type === 'single' && nc !== 1)) {
            return reply(400, { error: { code: 'bad_question', message: 'Die Frage ist unvollständig.' } });
          }
          const target = A.levels.find((x) => x.id === body.level);
          if (!target) return reply(400, { error: { code: 'bad_level', message: 'Diese Stufe gibt es nicht.' } });
          const fields = { type: body.type, question: body.question, options: opts.map((o) => o.text), correct: opts.map((o, i) => (o.correct ? i : -1)).filter((i) => i >= 0), explanation: body.explanation || '', lesson: body.lesson || '' };
          let nq = q;
          if (nq) {
            nq.orig ||= { type: nq.type, question: nq.question, options: nq.options, correct: nq.correct, explanation: nq.explanation, lesson: nq.lesson };
            Object.assign(nq, fields);
            if (lv !== target) { lv.questions = lv.questions.filter((x) => x !== nq); target.questions.push(nq); lv = target; }
          } else {
            nq = { id: m[1], added: true, ...fields };
            target.questions.push(nq);
            lv = target;
          }
          audit('academy_question_edit', m[1], body.question);
          return reply(200, qJson(nq, lv));
        }
        if (method === 'DELETE' && !m[2]) {
          if (!q) return fail(404, 'not_found');
          if (q.added) lv.questions = lv.questions.filter((x) => x !== q);
          else q.hidden = true;
          return reply(204, null);
        }
        if (method === 'POST' && m[2]) {
          if (!q || q.added || (!q.orig && !q.hidden)) return fail(404, 'not_found');
          if (q.orig) { Object.assign(q, q.orig); delete q.orig; }
          delete q.hidden;
          return reply(204, null);
        }
      }
      // records: CSV export and the printable page
      if (p === '/api/trainer/export.csv' && method === 'GET') {
        const rows = s.users.map(part).map((x) => [x.username, x.display_name, x.groups, x.level_name || '', '', '', x.lessons_done, x.lessons_total, '']);
        const csv = '\ufeff' + [['Benutzername', 'Name', 'Abteilung', 'Stufe', 'Datum der Stufe', 'Verliehen durch', 'Lektionen abgeschlossen', 'Lektionen gesamt', 'Quizergebnisse'], ...rows]
          .map((r) => r.map((c) => '"' + String(c).replace(/"/g, '""') + '"').join(';')).join('\r\n') + '\r\n';
        res.writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': 'attachment; filename="schwimmabzeichen.csv"', ...extra });
        res.end(csv);
        return;
      }
    }

    // ----- knowledge: no collections in the mock (the composer's picker stays hidden)
    if (p === '/api/collections' && method === 'GET') return reply(200, { collections: [] });

    // ----- dashboard (trainers and admins)
    if (p === '/api/dashboard' && method === 'GET') {
      if (!['admin', 'trainer'].includes(user.role)) return fail(403, 'forbidden');
      const weeks = [];
      const monday = new Date(Date.UTC(2026, 8, 7));
      for (let i = 0; i < 12; i++) weeks.push(new Date(monday.getTime() + i * 7 * 86400000).toISOString().slice(0, 10));
      const buerger = [3, 4, 6, 5, 7, 8, 8, 9, 11, 10, 12, 14];
      const bau = [0, 1, 1, 2, 2, 3, 4, 4, 3, 5, 6, 6];
      const convs = [5, 7, 9, 8, 12, 15, 14, 18, 20, 19, 24, 27];
      const msgs = convs.map((c) => c * 4);
      const lv = [['ohne Stufe', 7], ['Seepferdchen', 12], ['Bronze', 4], ['Silber', 1], ['Gold', 0]];
      return reply(200, {
        weeks, active_users: [{ name: 'Bürgeramt', values: buerger }, { name: 'Bauamt', values: bau }],
        active_users_total: buerger.map((v, i) => v + bau[i]), conversations: convs, messages: msgs,
        feedback: { answers: 400, rated: 60, up: 45, down: 15, rate: 0.15, latest_negative: [{ message_id: 9, comment: 'Die Frist war falsch <b>angegeben</b>.', at: now() }] },
        levels: lv.map(([name, count], i) => ({ id: i ? name.toLowerCase() : null, name, count })), assistants: [], collections: [],
        charts: [
          { id: 'active_users', type: 'stacked_bar', title: 'Aktive Nutzende je Abteilung und Woche', labels: weeks, series: [{ name: 'Bürgeramt', values: buerger }, { name: 'Bauamt', values: bau }] },
          { id: 'activity', type: 'line', title: 'Unterhaltungen und Nachrichten je Woche', labels: weeks, series: [{ name: 'Unterhaltungen', values: convs }, { name: 'Nachrichten', values: msgs }] },
          { id: 'levels', type: 'bar', title: 'Stufen des KI-Schwimmabzeichens', labels: lv.map((x) => x[0]), series: [{ name: 'Personen', values: lv.map((x) => x[1]) }] },
          { id: 'feedback', type: 'pie', title: 'Rückmeldungen zu Antworten', labels: ['hilfreich', 'nicht hilfreich', 'ohne Rückmeldung'], series: [{ name: 'Antworten', values: [45, 15, 340] }] },
        ],
      });
    }

    // ----- keys
    if (p === '/api/keys' && method === 'GET') {
      return reply(200, { keys: s.keys.filter((k) => k.userId === user.id).map(({ userId, ...k }) => k) });
    }
    if (p === '/api/keys' && method === 'POST') {
      if (!body.name) return fail(400, 'bad_request');
      const key = 'rh_' + token() + token();
      const k = { id: ++s.nextId, userId: user.id, name: String(body.name), prefix: key.slice(0, 7), created_at: now(), last_used_at: null };
      s.keys.push(k);
      audit('key.create', k.name);
      return reply(200, { id: k.id, key });
    }
    m = /^\/api\/keys\/(\d+)$/.exec(p);
    if (m && method === 'DELETE') {
      const k = s.keys.find((x) => x.id === Number(m[1]) && x.userId === user.id);
      if (!k) return fail(404, 'not_found');
      s.keys = s.keys.filter((x) => x !== k);
      return reply(204, null);
    }

    // ----- admin
    if (p.startsWith('/api/admin/')) {
      if (user.role !== 'admin') return fail(403, 'forbidden');
      if (p === '/api/admin/users' && method === 'GET') return reply(200, { users: s.users.map(adminUser) });
      if (p === '/api/admin/users' && method === 'POST') {
        if (!body.username || !body.password) return fail(400, 'bad_request');
        if (s.users.some((u) => u.username === body.username)) return fail(409, 'exists');
        if (String(body.password).length < 8) return fail(400, 'weak_password');
        const u = { id: ++s.nextId, username: String(body.username), display_name: String(body.display_name || ''), role: ['admin', 'trainer'].includes(body.role) ? body.role : 'user', groups: Array.isArray(body.groups) ? body.groups : [], disabled: false, created_at: now(), last_login_at: null, password: String(body.password), lang: null };
        s.users.push(u);
        audit('user.create', u.username);
        return reply(200, adminUser(u));
      }
      m = /^\/api\/admin\/users\/(\d+)$/.exec(p);
      if (m) {
        const u = s.users.find((x) => x.id === Number(m[1]));
        if (!u) return fail(404, 'not_found');
        if (method === 'PATCH') {
          if (typeof body.display_name === 'string') u.display_name = body.display_name;
          if (['admin', 'trainer', 'user'].includes(body.role)) u.role = body.role;
          if (Array.isArray(body.groups)) u.groups = body.groups;
          if (typeof body.disabled === 'boolean') u.disabled = body.disabled;
          if (body.password) {
            if (String(body.password).length < 8) return fail(400, 'weak_password');
            u.password = body.password;
          }
          return reply(200, adminUser(u));
        }
        if (method === 'DELETE') { s.users = s.users.filter((x) => x !== u); return reply(204, null); }
      }
      if (p === '/api/admin/groups' && method === 'GET') {
        return reply(200, { groups: s.groups.map((g) => ({ ...g, members: s.users.filter((u) => u.groups.includes(g.id)).length })) });
      }
      if (p === '/api/admin/groups' && method === 'POST') {
        if (!body.name) return fail(400, 'bad_request');
        const g = { id: ++s.nextId, name: String(body.name) };
        s.groups.push(g);
        return reply(200, { ...g, members: 0 });
      }
      m = /^\/api\/admin\/groups\/(\d+)$/.exec(p);
      if (m) {
        const g = s.groups.find((x) => x.id === Number(m[1]));
        if (!g) return fail(404, 'not_found');
        if (method === 'PATCH') { if (body.name) g.name = String(body.name); return reply(200, g); }
        if (method === 'DELETE') {
          s.groups = s.groups.filter((x) => x !== g);
          for (const u of s.users) u.groups = u.groups.filter((id) => id !== g.id);
          return reply(204, null);
        }
      }
      if (p === '/api/admin/audit' && method === 'GET') {
        const before = Number(url.searchParams.get('before')) || Infinity;
        const limit = Math.min(200, Number(url.searchParams.get('limit')) || 50);
        const list = s.audit.filter((e) => e.id < before).sort((a, b) => b.id - a.id).slice(0, limit);
        return reply(200, { entries: list });
      }
      if (p === '/api/admin/status' && method === 'GET') {
        return reply(200, {
          models: s.noModels ? [] : s.models,
          upstreams: s.noModels ? [] : [
            { name: 'rechenzentrum', url: 'https://llm.rz.example.org/v1', healthy: true, last_error: '', models: ['llama-3.3-70b'] },
            { name: 'gpu-2', url: 'http://10.0.4.12:8000/v1', healthy: false, last_error: 'Verbindung abgelehnt (seit 12:04)', models: ['qwen-2.5-72b'] },
          ],
          queue: { length: s.running.size, max: 8 },
          streams: s.running.size,
          version: '0.1.0-mock',
        });
      }
    }
    return fail(404, 'not_found');
  }

  function stream(req, res, c, body, M, extra) {
    const mode = body.mode || 'new';
    const content = String(body.content || '');
    if (s.running.has(c.id)) return send(res, 409, { error: { code: 'busy', message: M.busy } }, extra);
    if (s.queueFull || /busy/i.test(content)) {
      return send(res, 503, { error: { code: 'busy', message: M.busy } }, { ...extra, 'Retry-After': '5' });
    }
    const msgs = c.messages;
    if (mode === 'regenerate' || mode === 'edit_last') {
      if (msgs.length && msgs[msgs.length - 1].role === 'assistant') msgs.pop();
    }
    if (mode === 'edit_last' && msgs.length && msgs[msgs.length - 1].role === 'user') msgs.pop();
    let question = content;
    if (mode === 'regenerate') {
      const last = [...msgs].reverse().find((x) => x.role === 'user');
      question = last ? last.content : '';
    } else {
      msgs.push({ id: ++s.nextId, role: 'user', content, model: null, created_at: now(), tokens: 0, finish_reason: null });
    }
    const answer = { id: ++s.nextId, role: 'assistant', content: '', model: c.model, created_at: now(), tokens: 0, finish_reason: null };
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', ...extra });
    const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    ev('start', { user_message_id: msgs.length ? msgs[msgs.length - 1].id : 0, assistant_message_id: answer.id, model: c.model });
    const parts = chunksOf(answerFor(question));
    const breakAt = /fehler|error/i.test(question) ? Math.min(8, parts.length) : -1;
    let i = 0;
    let timer = null;
    const finish = (reason) => {
      clearTimeout(timer);
      s.running.delete(c.id);
      answer.finish_reason = reason;
      answer.tokens = i;
      msgs.push(answer);
      c.updated_at = now();
    };
    const tick = () => {
      if (i === breakAt) {
        finish('error');
        ev('error', { error: { code: 'model_error', message: M.model_error } });
        res.end();
        return;
      }
      if (i >= parts.length) {
        finish('stop');
        ev('done', { finish_reason: 'stop', tokens: { prompt: 20, completion: i } });
        res.end();
        return;
      }
      answer.content += parts[i];
      ev('delta', { text: parts[i] });
      i++;
      timer = setTimeout(tick, s.delay);
    };
    s.running.set(c.id, {
      stop: () => {
        if (!s.running.has(c.id)) return;
        finish('cancelled');
        ev('done', { finish_reason: 'cancelled', tokens: { prompt: 20, completion: i } });
        res.end();
      },
    });
    res.on('close', () => { if (s.running.has(c.id)) finish('cancelled'); });
    timer = setTimeout(tick, s.delay * 3);
  }

  function serveStatic(req, res, url) {
    let rel = decodeURIComponent(url.pathname);
    if (rel === '/' || !path.extname(rel)) rel = '/index.html';
    const file = path.resolve(webRoot, '.' + rel);
    if (!file.startsWith(webRoot + path.sep)) { res.writeHead(404); res.end(); return; }
    fs.readFile(file, (err, data) => {
      const headers = {
        'Content-Security-Policy': CSP,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': 'no-cache',
      };
      if (err) { res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }); res.end('not found'); return; }
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
  }

  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname.startsWith('/api/')) {
      api(req, res, url).catch((e) => {
        console.error(e);
        if (!res.headersSent) send(res, 500, { error: { code: 'internal', message: 'Interner Fehler.' } });
        else res.end();
      });
    } else if (url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    } else {
      serveStatic(req, res, url);
    }
  });
}

// ------------------------------------------------------------------ main

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argPort = process.argv.indexOf('--port');
  const port = Number(argPort > 0 ? process.argv[argPort + 1] : process.env.PORT || 8099);
  const state = createState({
    setup: process.env.MOCK_SETUP === '1',
    noModels: process.env.MOCK_NO_MODELS === '1',
    delay: Number(process.env.MOCK_DELAY || 40),
  });
  const server = createServer(state, { autologin: process.env.MOCK_AUTOLOGIN === '1', lang: process.env.MOCK_LANG });
  server.listen(port, '127.0.0.1', () => console.log(`rathaus mock server on http://127.0.0.1:${port}/`));
}
