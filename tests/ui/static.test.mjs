// static.test.mjs - checks on the web/ files without a browser: the two
// language files match, every string the code asks for exists, colours meet
// WCAG AA contrast, and nothing in web/ would break the CSP or open an HTML
// injection path (innerHTML, inline scripts/styles, eval).

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '../../web');
const read = (p) => fs.readFileSync(path.join(web, p), 'utf8');

function files(dir, ext) {
  const out = [];
  for (const e of fs.readdirSync(path.join(web, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(rel, ext));
    else if (e.name.endsWith(ext)) out.push(rel);
  }
  return out;
}

const de = JSON.parse(read('i18n/de.json'));
const en = JSON.parse(read('i18n/en.json'));
const sources = files('.', '.js').map((f) => [f, read(f)]);

test('i18n: German and English have the same keys and placeholders', () => {
  assert.deepEqual(Object.keys(en).sort(), Object.keys(de).sort());
  for (const k of Object.keys(de)) {
    assert.ok(de[k].trim(), 'empty German string ' + k);
    assert.ok(en[k].trim(), 'empty English string ' + k);
    const ph = (s) => (s.match(/\{\w+\}/g) || []).sort().join();
    assert.equal(ph(en[k]), ph(de[k]), 'placeholders differ in ' + k);
  }
});

test('i18n: every key used in the code exists', () => {
  const used = new Set();
  for (const [, src] of sources) {
    for (const m of src.matchAll(/\bt\(\s*'([a-z_]+\.[a-z0-9_]+)'\s*[,)]/g)) used.add(m[1]);
    for (const m of src.matchAll(/navLink\('[^']*',\s*'([a-z_]+\.[a-z0-9_]+)'/g)) used.add(m[1]);
    for (const m of src.matchAll(/card\(ctx,\s*'([a-z_.]+)',\s*(?:'([a-z_.]+)')?/g)) { used.add(m[1]); if (m[2]) used.add(m[2]); }
  }
  // keys built at run time
  for (const r of ['user', 'trainer', 'admin']) used.add('role.' + r);
  for (const l of ['de', 'en']) { used.add('lang.' + l); used.add('lang.switch_to_' + l); }
  for (const tab of ['users', 'groups', 'status', 'audit']) used.add('admin.tab_' + tab);
  used.add('login.expired');
  used.add('admin.enable_named');
  used.add('admin.disable_named');
  const missing = [...used].filter((k) => !(k in de));
  assert.deepEqual(missing, []);
  assert.ok(used.size > 150, 'key scan found too few keys: ' + used.size);
});

test('CSP and injection hygiene in web/', () => {
  const html = read('index.html');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'inline <script> in index.html');
  assert.doesNotMatch(html, /\sstyle\s*=/i, 'style attribute in index.html');
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'event handler attribute in index.html');
  assert.doesNotMatch(html, /https?:\/\//i, 'external URL in index.html');
  for (const [f, src] of sources) {
    assert.doesNotMatch(src, /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, f);
    assert.doesNotMatch(src, /setAttribute\(\s*'(style|on\w+)'/, f);
    assert.doesNotMatch(src, /(fetch|import)\(\s*['"`]https?:/, 'external request in ' + f);
  }
  const css = read('app.css');
  assert.doesNotMatch(css, /url\(\s*['"]?(https?:)?\/\//, 'external URL in app.css');
  assert.doesNotMatch(css, /@import/, '@import in app.css');
});

// ---------------------------------------------------------------- contrast

function hex(c) {
  const m = /^#([0-9a-f]{6})$/i.exec(c.trim());
  if (!m) throw new Error('not a #rrggbb colour: ' + c);
  return [0, 2, 4].map((i) => parseInt(m[1].slice(i, i + 2), 16));
}
function lum(c) {
  const [r, g, b] = hex(c).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
export function contrast(a, b) {
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

test('colour contrast: text >= 4.5:1, controls >= 3:1', () => {
  const css = read('app.css');
  const root = /:root\s*\{([^}]*)\}/.exec(css)[1];
  const v = {};
  for (const m of root.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;/g)) v[m[1]] = m[2];
  const c = (x) => (x.startsWith('#') ? x : v[x]);
  const text = [
    ['text', 'bg'], ['text', 'surface'], ['text', 'surface-2'], ['text', 'surface-3'], ['text', 'accent-soft'], ['text', 'code-bg'],
    ['muted', 'surface'], ['muted', 'bg'], ['muted', 'surface-2'], ['muted', 'surface-3'], ['muted', 'code-bg'],
    ['accent', 'surface'], ['accent', 'bg'], ['on-accent', 'accent'], ['on-accent', 'accent-hover'],
    ['danger', 'surface'], ['danger', 'danger-soft'], ['#ffffff', 'danger'],
    ['ok', 'ok-soft'], ['warn-text', 'warn-soft'], ['#143f6e', 'accent-soft'],
    ['#7a1a14', 'danger-soft'], ['#154d25', 'ok-soft'], ['#143f6e', 'accent-soft'],
    ['#ffffff', '#24303f'], ['#ffffff', '#8c1d17'],
  ];
  for (const [fg, bg] of text) {
    const r = contrast(c(fg), c(bg));
    assert.ok(r >= 4.5, `${fg} on ${bg}: ${r.toFixed(2)}:1`);
  }
  const charts = Object.keys(v).filter((k) => /^chart-\d$/.test(k));
  assert.ok(charts.length >= 6, 'chart colours in :root');
  for (const [fg, bg] of [['border-strong', 'surface'], ['focus', 'surface'], ['focus', 'bg'], ['focus', 'surface-2'],
    ...charts.map((k) => [k, 'surface'])]) {
    const r = contrast(c(fg), c(bg));
    assert.ok(r >= 3, `${fg} on ${bg}: ${r.toFixed(2)}:1`);
  }
});
