// i18n.js - UI strings. German first, English second.
//
// Strings live in /i18n/de.json and /i18n/en.json (flat "area.name" keys).
// t('key', {name}) replaces {name} placeholders; a key missing in English
// falls back to German, a key missing everywhere shows the key itself (and
// tests/ui/i18n.test.mjs fails). Also number/date/size formatting.

const SUPPORTED = ['de', 'en'];
const tables = {};
let current = 'de';

async function loadTable(lang) {
  if (tables[lang]) return tables[lang];
  const res = await fetch(`/i18n/${lang}.json`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`i18n ${lang}: HTTP ${res.status}`);
  tables[lang] = await res.json();
  return tables[lang];
}

/**
 * Picks the start language: the choice saved in this browser, else German
 * (German first; the user's server-side setting wins after login).
 */
export function initialLang() {
  let saved = null;
  try { saved = localStorage.getItem('rathaus.lang'); } catch { /* storage off */ }
  return SUPPORTED.includes(saved) ? saved : 'de';
}

export async function setLang(lang) {
  if (!SUPPORTED.includes(lang)) lang = 'de';
  await loadTable('de');
  if (lang !== 'de') {
    try { await loadTable(lang); } catch { lang = 'de'; }
  }
  current = lang;
  document.documentElement.lang = lang;
  try { localStorage.setItem('rathaus.lang', lang); } catch { /* storage off */ }
  return lang;
}

export function getLang() { return current; }
export const languages = SUPPORTED;

export function t(key, vars) {
  let s = (tables[current] && tables[current][key]) ?? (tables.de && tables.de[key]) ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined && vars[k] !== null ? String(vars[k]) : m));
  return s;
}

const locale = () => (current === 'de' ? 'de-DE' : 'en-GB');

export function formatDate(iso, withTime = true) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), withTime
    ? { dateStyle: 'medium', timeStyle: 'short' }
    : { dateStyle: 'medium' }).format(d);
}

/** "heute 14:05", "gestern", or a date, for the conversation list. */
export function formatRelative(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(now) - day(d)) / 86400000);
  const time = new Intl.DateTimeFormat(locale(), { timeStyle: 'short' }).format(d);
  if (diff === 0) return t('time.today', { time });
  if (diff === 1) return t('time.yesterday');
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(d);
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

export function formatBytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: i >= 3 ? 1 : 0 }).format(v) + ' ' + units[i];
}
