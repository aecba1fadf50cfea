// views/search.js - the search page (#/search): a question or search terms,
// the collections to search (all readable ones by default), and ranked
// passages with the matching words highlighted, document, section and
// page, and a link that opens the original document at that place
// (GET /api/search, docs/api.md "Knowledge").

import { api } from '../api.js';
import { h, button, icon, announce } from '../dom.js';
import { kt, highlight, sourceHref } from '../knowledge_ui.js';

export function searchView(ctx, params) {
  const input = h('input', { type: 'search', id: 'kn-q', class: 'kn-q', maxlength: 2000, autocomplete: 'off', value: (params && params.q) || '' });
  const collBox = h('fieldset', { class: 'kn-colls' }, h('legend', null, kt('collections')));
  const results = h('div', { class: 'kn-results', 'aria-live': 'polite' });
  const status = h('p', { class: 'muted small', role: 'status' });
  const chosen = new Set();
  const form = h('form', { class: 'kn-search-form', role: 'search', onsubmit: (ev) => { ev.preventDefault(); run(); } },
    h('label', { for: 'kn-q' }, kt('search_label')),
    h('div', { class: 'kn-search-row' }, input, button(kt('search_go'), { kind: 'primary', icon: 'search', type: 'submit' })),
    collBox);
  const el = h('section', { class: 'page kn-page' },
    h('p', null, h('a', { href: '#/knowledge' }, '← ', kt('collections'))),
    h('h1', { tabindex: '-1' }, kt('search_title')), form, status, results);

  (async () => {
    try {
      const res = await api.get('/api/collections');
      const cs = (res && res.collections) || [];
      if (!cs.length) collBox.append(h('p', { class: 'muted' }, kt('docs_none')));
      for (const c of cs) {
        const id = `kn-s-${c.id}`;
        const cb = h('input', { type: 'checkbox', id, onchange: () => { if (cb.checked) chosen.add(c.id); else chosen.delete(c.id); } });
        collBox.append(h('span', { class: 'kn-coll-check' }, cb, h('label', { for: id }, c.name)));
      }
      collBox.append(h('p', { class: 'small muted' }, kt('search_all')));
    } catch (e) {
      collBox.append(h('p', { class: 'notice notice-error', role: 'alert' }, e.message));
    }
    if (input.value) run();
  })();

  async function run() {
    const q = input.value.trim();
    if (!q) return;
    status.textContent = '…';
    let res;
    try {
      const cl = [...chosen].join(',');
      res = await api.get(`/api/search?q=${encodeURIComponent(q)}${cl ? '&collections=' + cl : ''}&k=10`);
    } catch (e) {
      status.textContent = '';
      results.replaceChildren(h('p', { class: 'notice notice-error', role: 'alert' }, e.message));
      return;
    }
    const list = res.results || [];
    status.textContent = kt('results', { n: list.length });
    announce(kt('results', { n: list.length }));
    results.replaceChildren(...[
      res.nothing_found && list.length ? h('p', { class: 'notice notice-warning' }, icon('info'), ' ', kt('search_weak')) : null,
      list.length
        ? h('ol', { class: 'kn-result-list' }, list.map((r) => h('li', { class: 'card kn-result' },
          h('h2', { class: 'kn-result-title' },
            h('a', { href: sourceHref(r), target: '_blank', rel: 'noopener' }, r.title || r.name)),
          h('p', { class: 'kn-result-meta small muted' },
            r.collection, r.section ? ' · ' + r.section : '', r.page ? ' · ' + kt('source_page', { n: r.page }) : '', ' · ', r.name),
          h('p', { class: 'kn-result-text' }, highlight(shorten(r.text || r.excerpt || ''), r.highlight)))))
        : h('p', { class: 'muted' }, kt('search_none'))].filter(Boolean));
  }

  return { el, title: kt('nav_search'), focus: () => input.focus(), update: (p) => { if (p && p.q) { input.value = p.q; run(); } } };
}

function shorten(s) {
  return s.length > 900 ? s.slice(0, 900) + ' …' : s;
}
