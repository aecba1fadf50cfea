// app.js - entry point of the rathaus web UI: loads the session and the
// language, draws the frame (header, navigation, main) and routes between
// the views. Routes live in the URL hash (#/c/12, #/admin/users, ...), so the
// server only ever has to serve index.html for "/".

import { api, configureApi, setCsrf } from './js/api.js';
import { t, setLang, initialLang, getLang } from './js/i18n.js';
import { h, clear, button, icon, initAnnouncer, toast } from './js/dom.js';
import { setupView, loginView } from './js/views/auth.js';
import { chatView } from './js/views/chat.js';
import { settingsView, keysView } from './js/views/account.js';
import { adminView } from './js/views/admin.js';
import { academyView } from './js/views/academy.js';
import { trainerView } from './js/views/trainer.js';
import { knowledgeView } from './js/views/knowledge.js';
import { searchView } from './js/views/search.js';
import { kt } from './js/knowledge_ui.js';

const app = {
  session: null,       // answer of GET /api/session
  view: null,          // { name, el, update?, destroy?, focus? }
  returnRoute: null,   // where to go after login
  expired: false,
};

const root = document.getElementById('app');

// ------------------------------------------------------------------ routes

function parseRoute(hash) {
  const path = (hash || '').replace(/^#/, '') || '/';
  let m;
  if (path === '/' || path === '') return { name: 'chat', params: {} };
  if ((m = /^\/c\/(\d+)$/.exec(path))) return { name: 'chat', params: { id: m[1] } };
  if (path === '/login') return { name: 'login', params: {} };
  if (path === '/setup') return { name: 'setup', params: {} };
  if (path === '/settings') return { name: 'settings', params: {} };
  if (path === '/keys') return { name: 'keys', params: {} };
  if ((m = /^\/knowledge(?:\/(\d+))?$/.exec(path))) return { name: 'knowledge', params: { id: m[1] || '' } };
  if ((m = /^\/search(?:\?q=(.*))?$/.exec(path))) return { name: 'search', params: { q: m[1] ? decodeURIComponent(m[1]) : '' } };
  if ((m = /^\/trainer(?:\/(lessons|questions|dashboard))?$/.exec(path))) return { name: 'trainer', params: { tab: m[1] || 'participants' } };
  if ((m = /^\/admin(?:\/(\w+))?$/.exec(path))) return { name: 'admin', params: { tab: m[1] || 'users' } };
  if ((m = /^\/academy(?:\/(lesson|quiz)\/([\w-]+))?$/.exec(path))) return { name: 'academy', params: { sub: m[1] || '', id: m[2] || '' } };
  return { name: 'chat', params: {} };
}

const VIEWS = {
  setup: setupView,
  login: loginView,
  chat: chatView,
  settings: settingsView,
  keys: keysView,
  admin: adminView,
  academy: academyView,
  trainer: trainerView,
  knowledge: knowledgeView,
  search: searchView,
};

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** Changes the address without re-rendering (new conversation got its id). */
function replaceRoute(hash) {
  history.replaceState(null, '', hash);
}

// ------------------------------------------------------------------ context for views

const ctx = {
  navigate,
  replaceRoute,
  refreshSession,
  setLanguage,
  langSwitch,
  user: () => app.session && app.session.user,
  isAdmin: () => !!(app.session && app.session.user && app.session.user.role === 'admin'),
  isTrainer: () => !!(app.session && app.session.user && ['trainer', 'admin'].includes(app.session.user.role)),
  lang: () => getLang(),
  setTitle: (s) => { document.title = s ? `${s} – rathaus` : 'rathaus'; },
  takeReturnRoute: () => { const r = app.returnRoute; app.returnRoute = null; return r; },
  get expired() { return app.expired; },
};

// ------------------------------------------------------------------ session

async function refreshSession() {
  app.session = await api.get('/api/session');
  setCsrf(app.session.csrf);
  return app.session;
}

function onUnauthorized() {
  if (app.view && app.view.name === 'login') return;
  const r = parseRoute(location.hash);
  if (r.name !== 'login' && r.name !== 'setup') app.returnRoute = location.hash || '#/';
  app.expired = true;
  refreshSession().catch(() => {}).finally(() => navigate('#/login'));
}

async function logout() {
  try { await api.post('/api/logout'); } catch { /* the session is gone either way */ }
  app.expired = false;
  await refreshSession().catch(() => {});
  navigate('#/login');
}

// ------------------------------------------------------------------ language

function langSwitch() {
  const other = getLang() === 'de' ? 'en' : 'de';
  const b = h('button', {
    type: 'button', class: 'btn btn-ghost btn-small lang-switch', lang: other,
    onclick: () => setLanguage(other, true),
  }, icon('globe'), h('span', { class: 'btn-label' }, t('lang.switch_to_' + other)));
  return b;
}

async function setLanguage(lang, save) {
  await setLang(lang);
  configureApi({ lang: getLang(), networkMessage: t('error.network') });
  if (save && app.session && app.session.user) {
    try { await api.patch('/api/me', { lang: getLang() }); app.session.user.lang = getLang(); } catch { /* keep local choice */ }
  }
  // redraw everything in the new language
  if (app.view && app.view.destroy) app.view.destroy();
  app.view = null;
  await route();
}

// ------------------------------------------------------------------ frame

function navLink(href, key, iconName, current) {
  return h('li', null, h('a', { href, class: 'nav-link', 'aria-current': current ? 'page' : undefined },
    icon(iconName), h('span', { class: 'nav-label' }, t(key))));
}

function frame(routeName, content) {
  const user = app.session.user;
  const skip = h('a', { href: '#main', class: 'skip-link', onclick: (ev) => { ev.preventDefault(); main.focus(); } }, t('app.skip'));
  const header = h('header', { class: 'topbar' },
    h('a', { href: '#/', class: 'brand', 'aria-label': t('app.home') },
      h('span', { class: 'brand-logo', 'aria-hidden': 'true' }),
      h('span', { class: 'brand-name' }, 'rathaus'),
      h('span', { class: 'brand-sub' }, t('app.tagline'))),
    h('nav', { class: 'mainnav', 'aria-label': t('app.nav') },
      h('ul', null,
        navLink('#/', 'nav.chat', 'chat', routeName === 'chat'),
        navLink('#/academy', 'nav.academy', 'badge', routeName === 'academy'),
        h('li', null, h('a', { href: '#/knowledge', class: 'nav-link', 'aria-current': routeName === 'knowledge' || routeName === 'search' ? 'page' : undefined },
          icon('book'), h('span', { class: 'nav-label' }, kt('nav_knowledge')))),
        navLink('#/keys', 'nav.keys', 'key', routeName === 'keys'),
        navLink('#/settings', 'nav.settings', 'settings', routeName === 'settings'),
        ctx.isTrainer() ? navLink('#/trainer', 'nav.trainer', 'team', routeName === 'trainer') : null,
        ctx.isAdmin() ? navLink('#/admin', 'nav.admin', 'shield', routeName === 'admin') : null)),
    h('div', { class: 'topbar-right' },
      langSwitch(),
      h('span', { class: 'user-name', title: user.username }, icon('user'), h('span', { class: 'nav-label' }, user.display_name || user.username)),
      button(t('nav.logout'), { kind: 'ghost', small: true, icon: 'logout', class: 'logout', onclick: logout })));
  const main = h('main', { id: 'main', tabindex: '-1', class: 'main main-' + routeName }, content);
  return h('div', { class: 'shell' }, skip, header, main);
}

// ------------------------------------------------------------------ router

async function route() {
  const hash = location.hash || '#/';
  // a dialog belongs to the page it was opened on (back button, links)
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  let r = parseRoute(hash);
  const s = app.session;
  if (s.setup_required) r = { name: 'setup', params: {} };
  else if (!s.user && r.name !== 'login') {
    if (r.name !== 'setup') app.returnRoute = hash;
    r = { name: 'login', params: {} };
    if (location.hash !== '#/login') history.replaceState(null, '', '#/login');
  } else if (s.user && (r.name === 'login' || r.name === 'setup')) {
    r = { name: 'chat', params: {} };
    history.replaceState(null, '', '#/');
  }
  if (r.name === 'admin' && !ctx.isAdmin()) r = { name: 'chat', params: {} };
  if (r.name === 'trainer' && !ctx.isTrainer()) r = { name: 'chat', params: {} };

  // same view: let it update itself (keeps the conversation list etc.)
  if (app.view && app.view.name === r.name && app.view.update) {
    await app.view.update(r.params);
    markNav(r.name);
    return;
  }
  if (app.view && app.view.destroy) app.view.destroy();
  const v = VIEWS[r.name](ctx, r.params);
  app.view = { ...v, name: r.name };
  if (r.name !== 'login') app.expired = false;
  clear(root);
  root.appendChild(s.user ? frame(r.name, v.el) : h('main', { id: 'main', class: 'main main-auth' }, v.el));
  ctx.setTitle(v.title);
  // move focus to the new page's heading (or the view's preferred control)
  if (v.focus) v.focus();
  else {
    const h1 = root.querySelector('main h1');
    if (h1) h1.focus({ preventScroll: true });
  }
}

function markNav(name) {
  for (const a of root.querySelectorAll('.mainnav a')) {
    const on = (a.getAttribute('href') === '#/' && name === 'chat') || a.getAttribute('href') === '#/' + name;
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

// ------------------------------------------------------------------ start

async function start() {
  initAnnouncer();
  await setLang(initialLang());
  configureApi({ lang: getLang(), onUnauthorized, refreshCsrf: () => refreshSession().catch(() => {}), networkMessage: t('error.network') });
  try {
    await refreshSession();
  } catch (e) {
    clear(root).append(h('main', { class: 'main main-auth' }, h('div', { class: 'auth' }, h('div', { class: 'auth-card' },
      h('h1', null, t('error.start_title')), h('p', null, e.message || t('error.network')),
      button(t('error.reload'), { kind: 'primary', onclick: () => location.reload() })))));
    return;
  }
  const userLang = app.session.user && app.session.user.lang;
  if (userLang && userLang !== getLang()) {
    await setLang(userLang);
    configureApi({ lang: getLang(), networkMessage: t('error.network') });
  }
  window.addEventListener('hashchange', () => { route().catch(fail); });
  await route();
}

function fail(e) {
  console.error(e);
  toast(t('error.unexpected'), 'error');
}

start().catch(fail);
