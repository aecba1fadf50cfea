// browser.test.mjs - end-to-end checks of the web UI in headless chromium
// against the mock server (tests/ui/mock-server.mjs), with the production
// CSP. Skipped when chromium is not installed. Run: node --test tests/ui/
// Set UI_SHOTS=DIR to also save screenshots of the main screens.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createState, createServer } from './mock-server.mjs';
import { findChromium, launch } from './cdp.mjs';

const chromium = findChromium();
const skip = chromium ? false : 'chromium not installed (apt-get install chromium)';
const shots = process.env.UI_SHOTS || '';

let server;
let state;
let base;
let browser;
let page;

const HELPERS = `
window.$ = (s) => document.querySelector(s);
window.$$ = (s) => [...document.querySelectorAll(s)];
window.btn = (text) => $$('button').find((b) => !b.closest('[hidden]') && (b.textContent.trim() === text || b.getAttribute('aria-label') === text));
window.setValue = (sel, v) => { const e = typeof sel === 'string' ? $(sel) : sel; e.value = v; e.dispatchEvent(new Event('input', { bubbles: true })); };
true`;

// visible controls without an accessible name, and duplicate ids
const A11Y = `(() => {
  const label = (e) => {
    if (e.getAttribute('aria-label')) return e.getAttribute('aria-label');
    if (e.id) { const l = document.querySelector('label[for="' + e.id + '"]'); if (l) return l.textContent; }
    if (e.closest('label')) return e.closest('label').textContent;
    if (e.matches('input, textarea, select')) return '';
    return e.textContent || e.getAttribute('title') || '';
  };
  const visible = (e) => e.getClientRects().length > 0;
  const unnamed = $$('button, a[href], input:not([type=hidden]), select, textarea, summary')
    .filter(visible).filter((e) => !label(e).trim()).map((e) => e.outerHTML.slice(0, 100));
  const ids = $$('[id]').map((e) => e.id);
  const dups = ids.filter((id, i) => ids.indexOf(id) !== i);
  return { unnamed, dups, h1: $$('h1').length };
})()`;

async function checkA11y(where) {
  const r = await page.eval(A11Y);
  assert.deepEqual(r.unnamed, [], 'controls without a name on ' + where);
  assert.deepEqual(r.dups, [], 'duplicate ids on ' + where);
  assert.equal(r.h1, 1, 'one h1 on ' + where);
}

async function shot(name) {
  if (shots) await page.screenshot(path.join(shots, name + '.png'));
}

async function sendMessage(text) {
  await page.eval(`setValue('#composer-input', ${JSON.stringify(text)}); $('#composer-input').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true })); true`);
}

async function waitAnswerDone() {
  await page.waitFor(`$('.messages').getAttribute('aria-busy') === 'false' && !$('.msg-assistant.streaming')`, 15000);
}

before(async () => {
  if (skip) return;
  state = createState({ delay: 10 });
  server = createServer(state, {});
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launch();
  page = await browser.newPage();
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    if (server) { server.closeAllConnections?.(); server.close(); }
  }
});

test('login page, then chat after signing in', { skip }, async () => {
  await page.goto(base + '/');
  await page.eval(HELPERS);
  await page.waitFor(`location.hash === '#/login' && $('h1') && $('h1').textContent === 'Anmelden'`);
  assert.equal(await page.eval(`document.documentElement.lang`), 'de');
  // wrong password shows the server's sentence
  await page.eval(`setValue('input[name=username]', 'admin'); setValue('input[name=password]', 'falsch'); $('form').requestSubmit(); true`);
  await page.waitFor(`$('.notice-error') && !$('.notice-error').hidden && $('.notice-error').textContent.includes('falsch')`);
  await page.eval(`setValue('input[name=username]', 'admin'); setValue('input[name=password]', 'admin'); $('form').requestSubmit(); true`);
  await page.waitFor(`$('.chat') && $$('.conv').length === 3`);
  assert.ok(await page.eval(`!!$('.mainnav a[href="#/admin"]')`), 'admin sees the administration link');
  await checkA11y('chat');
  // the check itself notices an unnamed control
  const probe = await page.eval(`(() => { const b = document.createElement('button'); b.id = 'probe'; document.body.appendChild(b);
    const r = ${A11Y}; b.remove(); return r.unnamed.length; })()`);
  assert.equal(probe, 1);
  await shot('chat-empty');
});

test('streamed answer: stop button while streaming, AI mark, code copy button', { skip }, async () => {
  await sendMessage('Wie beantrage ich einen Bauantrag?');
  await page.waitFor(`!btn('Antwort stoppen').hidden && $('.messages').getAttribute('aria-busy') === 'true'`);
  await waitAnswerDone();
  const r = await page.eval(`(() => {
    const a = $$('.msg-assistant').pop();
    return {
      hash: location.hash,
      badge: a.querySelector('.ai-badge').textContent,
      model: a.querySelector('.msg-model').textContent,
      code: !!a.querySelector('.codeblock button'),
      list: a.querySelectorAll('ol li').length,
      user: $$('.msg-user').pop().textContent,
      stopHidden: $('.composer-stop').hidden,
      convs: $$('.conv').length,
      title: $('#chat-title').textContent,
    };
  })()`);
  assert.match(r.hash, /^#\/c\/\d+$/);
  assert.equal(r.badge, 'KI-generiert – bitte prüfen');
  assert.equal(r.model, 'Modell: Llama 3.1 8B Instruct');
  assert.ok(r.code);
  assert.equal(r.list, 3);
  assert.match(r.user, /Bauantrag/);
  assert.ok(r.stopHidden);
  assert.equal(r.convs, 4);
  assert.equal(r.title, 'Wie beantrage ich einen Bauantrag?');
  await checkA11y('chat with answer');
  await shot('chat-answer');
  // export: the Markdown file is built locally
  const md = await page.eval(`(async () => {
    const blobs = [];
    const orig = URL.createObjectURL;
    URL.createObjectURL = (b) => { blobs.push(b); return orig(b); };
    btn('Unterhaltung als Markdown-Datei herunterladen').click();
    URL.createObjectURL = orig;
    return blobs.length ? await blobs[0].text() : '';
  })()`);
  assert.match(md, /^# Wie beantrage ich einen Bauantrag\?/);
  assert.match(md, /KI-generiert – bitte prüfen/);
  assert.match(md, /```text\nAktenzeichen/);
});

test('stop a running answer', { skip }, async () => {
  state.delay = 30;
  await sendMessage('Bitte lang erklären');
  await page.waitFor(`$('.msg-assistant.streaming .md') && $('.msg-assistant.streaming .md').textContent.length > 20`);
  await page.eval(`btn('Antwort stoppen').click(); true`);
  await waitAnswerDone();
  const note = await page.eval(`$$('.msg-assistant').pop().querySelector('.msg-note').textContent`);
  assert.match(note, /gestoppt/);
  state.delay = 10;
});

test('regenerate and edit the last question', { skip }, async () => {
  const before = await page.eval(`$$('.msg').length`);
  await page.eval(`btn('Neu erzeugen').click(); true`);
  await page.waitFor(`$('.msg-assistant.streaming')`);
  await waitAnswerDone();
  assert.equal(await page.eval(`$$('.msg').length`), before);
  assert.equal(await page.eval(`$$('.msg-assistant').pop().querySelector('.msg-note')`), null);

  await page.eval(`$$('.msg-user').pop().querySelector('button').click(); true`);
  await page.waitFor(`$('.msg-edit textarea')`);
  await page.eval(`setValue('.msg-edit textarea', 'Geänderte Frage zur Hundesteuer'); $('.msg-edit').requestSubmit(); true`);
  await waitAnswerDone();
  const r = await page.eval(`({ n: $$('.msg').length, last: $$('.msg-user').pop().textContent, answer: $$('.msg-assistant').pop().textContent })`);
  assert.equal(r.n, before);
  assert.match(r.last, /Geänderte Frage/);
  assert.match(r.answer, /Geänderte Frage/);
});

test('full queue (503): server message and "try again"', { skip }, async () => {
  const n = await page.eval(`$$('.msg').length`);
  await sendMessage('busy test');
  await page.waitFor(`!$('.composer-notice').hidden`);
  const r = await page.eval(`({ text: $('.composer-notice').textContent, retry: !!btn('Erneut versuchen'), input: $('#composer-input').value, n: $$('.msg').length })`);
  assert.match(r.text, /Zurzeit sind alle Plätze belegt/);
  assert.ok(r.retry);
  assert.equal(r.input, 'busy test', 'the question is kept in the input box');
  assert.equal(r.n, n, 'no optimistic messages left behind');
  await shot('chat-busy');
  await page.eval(`btn('Schließen').click(); setValue('#composer-input', ''); true`);
});

test('hostile Markdown in an answer stays inert', { skip }, async () => {
  page.requests.length = 0;
  await sendMessage('hostile please');
  await waitAnswerDone();
  const r = await page.eval(`(() => {
    const a = $$('.msg-assistant').pop();
    return {
      img: document.querySelectorAll('img, script:not([src]), iframe').length,
      js: $$('a').filter((x) => /^\\s*javascript:/i.test(x.getAttribute('href') || '')).length,
      text: a.textContent,
      links: [...a.querySelector('.msg-body').querySelectorAll('a')].map((x) => [x.getAttribute('href'), x.rel, x.target]),
      alerted: window.__alerted === true,
    };
  })()`);
  assert.equal(r.img, 0);
  assert.equal(r.js, 0);
  assert.ok(r.text.includes('<script>alert("xss")</script>'));
  assert.ok(r.text.includes('[Bild: Tracking-Pixel]'));
  assert.deepEqual(r.links, [['https://www.example.org/', 'noopener noreferrer', '_blank']]);
  assert.ok(!page.requests.some((u) => u.includes('evil.example')), 'no request to the image host');
});

test('rename dialog: Escape closes it and focus returns', { skip }, async () => {
  await new Promise((r) => setTimeout(r, 300));   // list refresh after the last answer
  await page.eval(`$$('.conv')[0].querySelector('.conv-actions button').focus(); $$('.conv')[0].querySelector('.conv-actions button').click(); true`);
  await page.waitFor(`$('dialog[open]') && document.activeElement && document.activeElement.closest('dialog')`);
  await page.key('Escape', 'Escape', 27);
  await page.waitFor(`!$('dialog')`);
  assert.ok(await page.eval(`document.activeElement && document.activeElement.closest('.conv-actions') !== null`));
  // rename for real
  await page.eval(`$$('.conv')[0].querySelector('.conv-actions button').click(); true`);
  await page.waitFor(`$('dialog[open] input')`);
  await page.eval(`setValue('dialog input', 'Umbenannt'); $('dialog form').requestSubmit(); true`);
  await page.waitFor(`!$('dialog') && $$('.conv-title')[0].textContent === 'Umbenannt'`);
});

test('search filters the conversation list', { skip }, async () => {
  await page.eval(`setValue('#conv-search', 'Hundesteuer'); true`);
  await page.waitFor(`$$('.conv').length === 1`);
  await page.eval(`setValue('#conv-search', 'gibtesnicht'); true`);
  await page.waitFor(`$$('.conv').length === 0 && !$('.conv-empty').hidden`);
  await page.eval(`setValue('#conv-search', ''); true`);
  await page.waitFor(`$$('.conv').length > 1`);
});

test('no CSP violations or script errors so far', { skip }, async () => {
  // expected HTTP errors (401 on the login page, the 503 test) are logged by
  // chromium as "Failed to load resource"; everything else counts
  const bad = page.console.filter((c) => !/^Failed to load resource: the server responded with a status of (401|503)/.test(c.text) &&
    (/Content Security Policy|Refused|exception/i.test(c.text) || c.type === 'exception' || c.type === 'error'));
  assert.deepEqual(bad, []);
});

test('narrow window: conversation list collapses behind a toggle', { skip }, async () => {
  await page.size(400, 800);
  await page.waitFor(`getComputedStyle($('#conv-sidebar')).display === 'none'`);
  assert.ok(await page.eval(`$('.sidebar-toggle').offsetParent !== null`));
  await page.eval(`$('.sidebar-toggle').click(); true`);
  await page.waitFor(`getComputedStyle($('#conv-sidebar')).display !== 'none' && $('.sidebar-toggle').getAttribute('aria-expanded') === 'true'`);
  await shot('narrow-sidebar');
  await page.key('Escape', 'Escape', 27);
  await page.waitFor(`getComputedStyle($('#conv-sidebar')).display === 'none'`);
  await page.size(1280, 800);
});

test('language switch to English and back', { skip }, async () => {
  await page.eval(`$('.lang-switch').click(); true`);
  await page.waitFor(`document.documentElement.lang === 'en' && btn('New conversation')`);
  assert.ok(await page.eval(`$('.ai-badge') === null || $('.ai-badge').textContent === 'AI-generated – please check'`));
  await page.eval(`$('.lang-switch').click(); true`);
  await page.waitFor(`document.documentElement.lang === 'de' && btn('Neue Unterhaltung')`);
});

test('API keys: create shows the key once, revoke removes it', { skip }, async () => {
  await page.eval(`location.hash = '#/keys'; true`);
  await page.waitFor(`$('h1').textContent === 'API-Schlüssel' && $('table')`);
  await page.eval(`setValue('input[name=name]', 'Testschlüssel'); $('form').requestSubmit(); true`);
  await page.waitFor(`!$('.key-created').hidden && $('.key-value').textContent.startsWith('rh_')`);
  await page.waitFor(`$$('tbody tr').length === 2`);
  await checkA11y('keys');
  await shot('keys-created');
  await page.eval(`btn('Schlüssel „Testschlüssel“ widerrufen').click(); true`);
  await page.waitFor(`$('dialog[open]')`);
  await page.eval(`$('dialog .btn-danger').click(); true`);
  await page.waitFor(`$$('tbody tr').length === 1`);
});

test('administration: users dialog, audit paging', { skip }, async () => {
  await page.eval(`location.hash = '#/admin/users'; true`);
  await page.waitFor(`$$('tbody tr').length === 3`);
  await checkA11y('admin users');
  await page.eval(`btn('Neues Konto').click(); true`);
  await page.waitFor(`$('dialog[open] input[name=username]')`);
  await checkA11y('new user dialog');
  await page.eval(`setValue('dialog input[name=username]', 'k.neu'); setValue('dialog input[name=display_name]', 'Kim Neu'); setValue('dialog input[name=password]', 'geheim123'); $('dialog input[name=group]').checked = true; $('dialog form').requestSubmit(); true`);
  await page.waitFor(`!$('dialog') && $$('tbody tr').length === 4`);
  assert.ok(await page.eval(`$$('tbody tr').some((r) => r.textContent.includes('k.neu') && r.textContent.includes('Bürgeramt'))`));

  await page.eval(`location.hash = '#/admin/audit'; true`);
  await page.waitFor(`$$('tbody tr').length === 50`);
  const first = await page.eval(`$('tbody tr td:nth-child(3)').textContent + $('tbody tr').textContent`);
  await page.eval(`btn('Ältere Einträge').click(); true`);
  await page.waitFor(`$('.pager').textContent.includes('Seite 2')`);
  assert.notEqual(await page.eval(`$('tbody tr td:nth-child(3)').textContent + $('tbody tr').textContent`), first);
  await page.eval(`btn('Neuere Einträge').click(); true`);
  await page.waitFor(`$('.pager').textContent.includes('Seite 1')`);
  await checkA11y('audit');
  await page.eval(`location.hash = '#/admin/status'; true`);
  await page.waitFor(`$$('.badge-danger').length >= 1`);
  await checkA11y('status');
  await page.eval(`location.hash = '#/settings'; true`);
  await page.waitFor(`$('h1').textContent === 'Einstellungen'`);
  await checkA11y('settings');
});

test('feedback on an answer: thumbs and a comment', { skip }, async () => {
  await page.eval(`location.hash = '#/c/1'; true`);
  await page.waitFor(`$('.msg-assistant .feedback')`);
  await page.eval(`btn('Hilfreich').click(); true`);
  await page.waitFor(`btn('Hilfreich').getAttribute('aria-pressed') === 'true'`);
  await page.eval(`btn('Nicht hilfreich').click(); true`);
  await page.waitFor(`$('dialog[open] textarea')`);
  await page.eval(`setValue('dialog textarea', 'Gebühr fehlt'); $('dialog form').requestSubmit(); true`);
  await page.waitFor(`!$('dialog') && btn('Nicht hilfreich').getAttribute('aria-pressed') === 'true' && btn('Hilfreich').getAttribute('aria-pressed') === 'false'`);
  const fb = state.academy.feedback.get(2);
  assert.equal(fb.rating, 'down');
  assert.equal(fb.comment, 'Gebühr fehlt');
  // shown again after reopening the conversation
  await page.eval(`location.hash = '#/c/2'; true`);
  await page.waitFor(`$('#chat-title').textContent.includes('Hundesteuer')`);
  await page.eval(`location.hash = '#/c/1'; true`);
  await page.waitFor(`$('#chat-title').textContent.includes('Umbenannt') || $('#chat-title').textContent.includes('Bauantrag')`);
  await page.waitFor(`btn('Nicht hilfreich') && btn('Nicht hilfreich').getAttribute('aria-pressed') === 'true'`);
});

test('personal data hint while typing', { skip }, async () => {
  await page.eval(`setValue('#composer-input', 'Bitte überweisen an DE89 3704 0044 0532 0130 00'); true`);
  await page.waitFor(`!$('.pii-notice').hidden && $('.pii-notice').textContent.includes('IBAN')`, 5000);
  assert.ok(await page.eval(`!!$('.pii-notice a[href="#/academy/lesson/datenschutz"]')`));
  await page.eval(`setValue('#composer-input', 'Öffnungszeiten des Bürgeramts?'); true`);
  await page.waitFor(`$('.pii-notice').hidden`, 5000);
  await page.eval(`setValue('#composer-input', ''); true`);
});

test('reminder: answers without sources link the lesson on hallucinations', { skip }, async () => {
  const c = state.convs.find((x) => x.userId === 1 && x.messages.filter((m) => m.role === 'assistant' && m.content).length >= 2);
  assert.ok(c, 'a conversation with two answers');
  const answers = c.messages.filter((m) => m.role === 'assistant');
  answers[0].sources = [{ n: 1, title: 'Gebührensatzung' }];
  try {
    await page.eval(`location.hash = '#/academy'; true`);
    await page.waitFor(`$('h1') && $('h1').textContent === 'KI-Schwimmabzeichen'`);
    await page.eval(`location.hash = '#/c/${c.id}'; true`);
    await page.waitFor(`$$('.msg-assistant').length === ${answers.length}`);
    const hints = await page.eval(`$$('.msg-assistant').map((a) => !!a.querySelector('.msg-hint a[href="#/academy/lesson/halluzinationen"]'))`);
    assert.deepEqual(hints, answers.map((m, i) => i > 0 && !!m.content));
    assert.match(await page.eval(`$$('.msg-assistant')[1].querySelector('.msg-hint').textContent`), /keine Quellen/);
  } finally {
    delete answers[0].sources;
  }
});

test('academy: lessons, quiz, level awarded', { skip }, async () => {
  await page.eval(`location.hash = '#/academy'; true`);
  await page.waitFor(`$('h1').textContent === 'KI-Schwimmabzeichen' && $$('.level').length === 2`);
  assert.match(await page.eval(`$$('.level')[0].textContent`), /Schließen Sie zuerst alle Lektionen/);
  await checkA11y('academy');
  for (const id of ['ki-grundlagen', 'datenschutz']) {
    await page.eval(`location.hash = '#/academy/lesson/${id}'; true`);
    await page.waitFor(`$('.lesson h1') && btn('Lektion abschließen')`);
    if (id === 'ki-grundlagen') {
      const r = await page.eval(`({ strong: !!$('.lesson-text strong'), script: $$('.lesson script').length, text: $('.lesson-text').textContent })`);
      assert.ok(r.strong);
      assert.equal(r.script, 0);
      assert.ok(r.text.includes('<script>alert(1)</script>'));
    }
    await page.eval(`btn('Lektion abschließen').click(); true`);
    await page.waitFor(`btn('Abgeschlossen') && btn('Abgeschlossen').disabled`);
  }
  await page.eval(`location.hash = '#/academy'; true`);
  await page.waitFor(`$('a[href="#/academy/quiz/seepferdchen"]')`);
  const starts = state.academy.starts || 0;
  await page.eval(`$('a[href="#/academy/quiz/seepferdchen"]').click(); true`);
  await page.waitFor(`$$('fieldset.question').length === 2`);
  assert.equal(state.academy.starts, starts + 1, 'the quiz page starts one attempt with POST .../start');
  await checkA11y('quiz');
  // unanswered questions are pointed out
  await page.eval(`$('form.quiz').requestSubmit(); true`);
  await page.waitFor(`!$('form.quiz .notice-error').hidden`);
  await page.eval(`$('#q1-o0').checked = true; $('#q2-o0').checked = true; $('#q2-o2').checked = true; $('form.quiz').requestSubmit(); true`);
  await page.waitFor(`$('.notice-success') && $('.notice-success').textContent.includes('Seepferdchen')`);
  assert.equal(await page.eval(`$$('.result-ok').length`), 2);
  await page.eval(`location.hash = '#/academy'; true`);
  await page.waitFor(`$$('.level-held').length === 1 && $('.lead').textContent.includes('Seepferdchen')`);
  await shot('academy');
});

test('trainer: award a level with a reason', { skip }, async () => {
  await page.eval(`location.hash = '#/trainer'; true`);
  await page.waitFor(`$('h1').textContent === 'Schulungsnachweise' && $$('tbody tr').length === 4`);
  await checkA11y('trainer');
  await page.eval(`btn('Stufe an Max Muster verleihen').click(); true`);
  await page.waitFor(`$('dialog[open] select')`);
  // without a reason the form does not go through (required field)
  await page.eval(`$('dialog form').requestSubmit(); true`);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(await page.eval(`!!$('dialog[open]') && $('dialog textarea').matches(':invalid')`));
  await page.eval(`setValue('dialog textarea', 'Präsenzschulung am 12.03.'); $('dialog form').requestSubmit(); true`);
  await page.waitFor(`!$('dialog') && $$('tbody tr').some((r) => r.textContent.includes('Max Muster') && r.textContent.includes('Seepferdchen'))`);
  assert.ok(state.audit.some((e) => e.action === 'academy_award' && e.detail === 'Präsenzschulung am 12.03.'));
});

test('trainer: records export (CSV link) and record page link', { skip }, async () => {
  await page.eval(`location.hash = '#/trainer'; true`);
  await page.waitFor(`$$('tbody tr').length === 4`);
  const r = await page.eval(`(async () => {
    const a = $$('a').find((x) => x.textContent.trim() === 'Als CSV exportieren');
    const res = await fetch(a.href);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { href: a.getAttribute('href'), download: a.hasAttribute('download'), status: res.status, type: res.headers.get('content-type'),
      bom: bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf, text: new TextDecoder().decode(bytes),
      record: $$('a').filter((x) => x.textContent.trim() === 'Nachweis').map((x) => x.getAttribute('href') + '|' + x.target) };
  })()`);
  assert.equal(r.href, '/api/trainer/export.csv');
  assert.ok(r.download);
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/csv/);
  assert.ok(r.bom, 'UTF-8 byte order mark for spreadsheets');
  assert.match(r.text, /^"Benutzername";"Name";"Abteilung";"Stufe"/);
  assert.match(r.text, /"m\.muster";"Max Muster";"Bürgeramt";"Seepferdchen"/);
  assert.ok(r.record.includes('/api/trainer/participants/2/record|_blank'), r.record.join());
});

test('trainer: edit a lesson with a live preview, then restore the original', { skip }, async () => {
  await page.eval(`location.hash = '#/trainer/lessons'; true`);
  await page.waitFor(`$('.subnav a[aria-current=page]') && $('.subnav a[aria-current=page]').textContent === 'Lektionen' && btn('Lektion „Datenschutz“ bearbeiten')`);
  await checkA11y('trainer lessons');
  await page.eval(`btn('Lektion „Datenschutz“ bearbeiten').click(); true`);
  await page.waitFor(`$('.lesson-editor textarea') && $('.lesson-preview strong')`);
  // the preview uses the safe renderer: Markdown yes, HTML never
  await page.eval(`setValue('.lesson-editor textarea', '# Hausregeln\\n\\n**Nie** Namen eingeben.\\n\\n<img src=x onerror=alert(1)>'); true`);
  await page.waitFor(`$('.lesson-preview h3') && $('.lesson-preview h3').textContent === 'Hausregeln'`);
  const prev = await page.eval(`({ img: $$('.lesson-preview img').length, text: $('.lesson-preview').textContent })`);
  assert.equal(prev.img, 0);
  assert.ok(prev.text.includes('<img src=x onerror=alert(1)>'));
  // a Markdown file replaces the text (front matter gives title and duration)
  await page.eval(`(() => { const dt = new DataTransfer();
    dt.items.add(new File(['---\\nid: datenschutz\\ntitle: Aus der Datei\\nminutes: 9\\n---\\n\\n# Hausregeln\\n\\n**Nie** Namen eingeben.\\n'], 'regeln.md', { type: 'text/markdown' }));
    const i = $('#le-file'); i.files = dt.files; i.dispatchEvent(new Event('change')); return true; })()`);
  await page.waitFor(`$('.lesson-editor input[name=title]').value === 'Aus der Datei'`);
  assert.equal(await page.eval(`$('.lesson-editor input[name=minutes]').value`), '9');
  assert.ok((await page.eval(`$('.lesson-editor textarea').value`)).startsWith('# Hausregeln'));
  await page.eval(`setValue('.lesson-editor input[name=title]', 'Datenschutz bei uns'); $('.lesson-editor').requestSubmit(); true`);
  await page.waitFor(`btn('Lektion „Datenschutz bei uns“ bearbeiten') && $$('.lesson-admin-list .badge').length === 1`);
  assert.ok(state.audit.some((e) => e.action === 'academy_lesson_edit'));
  // participants see the trainer's text
  await page.eval(`location.hash = '#/academy/lesson/datenschutz'; true`);
  await page.waitFor(`$('.lesson h1') && $('.lesson h1').textContent === 'Datenschutz bei uns' && $('.lesson-text strong').textContent === 'Nie'`);
  // restore
  await page.eval(`location.hash = '#/trainer/lessons'; true`);
  await page.waitFor(`btn('Lektion „Datenschutz bei uns“ bearbeiten')`);
  await page.eval(`btn('Lektion „Datenschutz bei uns“ bearbeiten').click(); true`);
  await page.waitFor(`btn('Original wiederherstellen')`);
  await page.eval(`btn('Original wiederherstellen').click(); true`);
  await page.waitFor(`$('dialog[open]')`);
  await page.eval(`$$('dialog[open] button').find((b) => b.textContent.trim() === 'Original wiederherstellen').click(); true`);
  await page.waitFor(`!$('dialog') && btn('Lektion „Datenschutz“ bearbeiten') && !$$('.lesson-admin-list .badge').length`);
  await shot('trainer-lessons');
});

test('trainer: quiz bank - add a question, hide and restore a built-in one', { skip }, async () => {
  await page.eval(`location.hash = '#/trainer/questions'; true`);
  await page.waitFor(`$$('.question-item').length === 2`);
  await checkA11y('trainer questions');
  assert.equal(await page.eval(`$$('.question-item .option-list li.correct').length`), 3);
  await page.eval(`btn('Neue Frage für Bronze').click(); true`);
  await page.waitFor(`$('dialog[open] textarea[name=question]')`);
  // two correct answers for single choice are refused in the form
  await page.eval(`setValue('dialog textarea[name=question]', 'Was tun bei einer erfundenen Quelle?');
    const t = $$('dialog .option-edit input[type=text]'); setValue(t[0], 'Nachprüfen'); setValue(t[1], 'Übernehmen');
    const c = $$('dialog .option-edit input[type=checkbox]'); c[0].checked = true; c[1].checked = true;
    $('dialog form').requestSubmit(); true`);
  await page.waitFor(`$('dialog[open] .notice-error') && !$('dialog[open] .notice-error').hidden`);
  await page.eval(`$$('dialog .option-edit input[type=checkbox]')[1].checked = false; $('dialog form').requestSubmit(); true`);
  await page.waitFor(`!$('dialog') && $$('.question-item').length === 3`);
  const added = state.academy.levels[1].questions[0];
  assert.equal(added.question, 'Was tun bei einer erfundenen Quelle?');
  assert.deepEqual(added.correct, [0]);
  // hide the first built-in question, then bring it back
  await page.eval(`btn('Frage 1 entfernen').click(); true`);
  await page.waitFor(`$('dialog[open]')`);
  await page.eval(`$$('dialog[open] button').find((b) => b.textContent.trim() === 'Ausblenden').click(); true`);
  await page.waitFor(`!$('dialog') && $$('.question-item.is-disabled').length === 1`);
  await page.eval(`btn('Frage 1 wiederherstellen').click(); true`);
  await page.waitFor(`!$$('.question-item.is-disabled').length && btn('Frage 1 entfernen')`);
  await shot('trainer-questions');
});

test('dashboard: SVG charts with text alternatives and data tables', { skip }, async () => {
  await page.eval(`location.hash = '#/trainer/dashboard'; true`);
  await page.waitFor(`$$('figure.chart-card').length === 4`);
  await checkA11y('dashboard');
  const r = await page.eval(`$$('figure.chart-card').map((f) => {
    const svg = f.querySelector('svg');
    const ids = (svg.getAttribute('aria-labelledby') || '').split(' ');
    return { type: f.dataset.chart, role: svg.getAttribute('role'), label: ids.map((i) => document.getElementById(i)?.textContent || '').join(' | '),
      shapes: svg.querySelectorAll('rect, path, circle, polyline').length, styled: svg.querySelectorAll('[style]').length,
      toggle: f.querySelector('button.chart-toggle').getAttribute('aria-expanded'), tableHidden: f.querySelector('.chart-table').hidden };
  })`);
  assert.deepEqual(r.map((x) => x.type), ['active_users', 'activity', 'levels', 'feedback']);
  for (const c of r) {
    assert.equal(c.role, 'img');
    assert.ok(c.label.length > 20, c.label);
    assert.ok(c.shapes > 2, c.type);
    assert.equal(c.styled, 0);
    assert.equal(c.toggle, 'false');
    assert.ok(c.tableHidden);
  }
  assert.match(r[0].label, /Bürgeramt: insgesamt 97, in der letzten Woche 14/);
  await page.eval(`$('figure[data-chart=levels] button.chart-toggle').click(); true`);
  await page.waitFor(`!$('figure[data-chart=levels] .chart-table').hidden`);
  const tbl = await page.eval(`[...$('figure[data-chart=levels] table').querySelectorAll('tbody tr')].map((tr) => tr.textContent)`);
  assert.deepEqual(tbl, ['ohne Stufe7', 'Seepferdchen12', 'Bronze4', 'Silber1', 'Gold0']);
  assert.equal(await page.eval(`$('figure[data-chart=levels] button.chart-toggle').getAttribute('aria-expanded')`), 'true');
  // figures, the negative comment as text, empty rankings explained
  const text = await page.eval(`$('main').textContent`);
  assert.match(text, /15 %/);
  assert.ok(text.includes('Die Frist war falsch <b>angegeben</b>.'));
  assert.match(text, /Meistgenutzte Assistenten/);
  assert.equal(await page.eval(`$$('main b').length`), 0);
  await shot('dashboard');
});

test('reflow: no horizontal scrolling at 320 CSS px (WCAG 1.4.10)', { skip }, async () => {
  await page.size(320, 640);
  try {
    for (const r of ['#/c/1', '#/', '#/settings', '#/keys', '#/academy', '#/academy/lesson/datenschutz', '#/trainer', '#/trainer/lessons', '#/trainer/questions', '#/trainer/dashboard', '#/admin/users', '#/admin/groups', '#/admin/status', '#/admin/audit']) {
      await page.eval(`location.hash = ${JSON.stringify(r)}; true`);
      await page.waitFor(`!$('main [role=status]') || !$('main [role=status]').textContent.includes('geladen')`);
      await new Promise((res) => setTimeout(res, 250));
      const m = await page.eval(`({ doc: document.documentElement.scrollWidth, w: document.documentElement.clientWidth,
        main: $('main').scrollWidth, mw: $('main').clientWidth })`);
      assert.ok(m.doc <= m.w && m.main <= m.mw, `${r} scrolls sideways: ${JSON.stringify(m)}`);
    }
  } finally {
    await page.size(1280, 800);
  }
});

test('a lost session (401) leads to the login page', { skip }, async () => {
  state.sessions.clear();
  await page.eval(`location.hash = location.hash === '#/keys' ? '#/admin/groups' : '#/keys'; true`);
  await page.waitFor(`location.hash === '#/login' && $('h1').textContent === 'Anmelden'`);
  assert.match(await page.eval(`$('.auth-card').textContent`), /Sitzung ist abgelaufen/);
});

test('first-run set-up creates the administrator', { skip }, async () => {
  const st2 = createState({ setup: true });
  const srv2 = createServer(st2, {});
  await new Promise((r) => srv2.listen(0, '127.0.0.1', r));
  try {
    await page.goto(`http://127.0.0.1:${srv2.address().port}/`);
    await page.eval(HELPERS);
    await page.waitFor(`$('h1') && $('h1').textContent === 'Willkommen bei rathaus'`);
    await page.eval(`setValue('input[name=display_name]', 'Erste Admin'); setValue('input[name=username]', 'chefin'); setValue('input[name=password]', 'sehrgeheim'); setValue('input[name=password2]', 'anders'); $('form').requestSubmit(); true`);
    await page.waitFor(`$('.notice-error').textContent.includes('stimmen nicht')`);
    await page.eval(`setValue('input[name=password2]', 'sehrgeheim'); $('form').requestSubmit(); true`);
    await page.waitFor(`$('.chat') && $('.user-name').textContent.includes('Erste Admin')`);
    assert.equal(st2.users.length, 1);
    assert.equal(st2.users[0].role, 'admin');
  } finally {
    srv2.closeAllConnections?.();
    srv2.close();
  }
});
