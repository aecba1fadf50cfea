// views/trainer.js - the academy for trainers and admins (#/trainer/...):
// participants with their level and progress, award or revoke a level (with
// a reason, for in-person courses), the printable record per person and the
// CSV export; sub-pages for editing lessons and the quiz bank
// (trainer_content.js) and the beta dashboard (dashboard.js). API:
// docs/api.md "Trainers". The server checks the role.

import { api } from '../api.js';
import { t, formatDate } from '../i18n.js';
import { h, clear, field, button, errorBox, openDialog, toast } from '../dom.js';
import { lessonsPage, questionsPage } from './trainer_content.js';
import { dashboardPage } from './dashboard.js';

const TABS = ['participants', 'lessons', 'questions', 'dashboard'];

export function trainerView(ctx, params) {
  const body = h('div');
  const nav = h('nav', { class: 'subnav', 'aria-label': t('trainer.sections') }, h('ul'));
  const root = h('div', { class: 'page page-wide' }, h('h1', { tabindex: '-1' }, t('trainer.title')), nav, body);
  let destroyTab = null;

  function update(p) {
    const tab = TABS.includes(p && p.tab) ? p.tab : 'participants';
    const ul = clear(nav.firstChild);
    for (const name of TABS) {
      ul.appendChild(h('li', null, h('a', {
        href: name === 'participants' ? '#/trainer' : '#/trainer/' + name, 'aria-current': name === tab ? 'page' : undefined,
      }, t('trainer.tab_' + name))));
    }
    if (destroyTab) destroyTab();
    destroyTab = null;
    // a fresh container per visit (a slow answer renders into a detached element)
    const el = h('div');
    clear(body).append(el);
    ctx.setTitle(t('trainer.tab_' + tab) + ' – ' + t('trainer.title'));
    if (tab === 'lessons') lessonsPage(el, ctx);
    else if (tab === 'questions') questionsPage(el, ctx);
    else if (tab === 'dashboard') dashboardPage(el, ctx);
    else destroyTab = participantsPage(el);
  }
  update(params);
  return { el: root, title: t('trainer.title'), update, destroy: () => { if (destroyTab) destroyTab(); } };
}

// Returns a function that ends the page's timers.
function participantsPage(el) {
  const body = h('div');
  const search = h('input', { type: 'search', id: 'trainer-search', autocomplete: 'off' });
  const root = h('div', null,
    h('p', { class: 'muted lead' }, t('trainer.intro')),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field trainer-search' }, h('label', { for: 'trainer-search' }, t('trainer.search')), search),
      h('a', { class: 'btn btn-secondary', href: '/api/trainer/export.csv', download: 'schulungsnachweise.csv' }, t('trainer.export'))),
    body);
  let people = [];
  let levels = [];

  async function load() {
    clear(body).append(h('p', { class: 'muted', role: 'status' }, t('common.loading')));
    try {
      const [p, a] = await Promise.all([api.get('/api/trainer/participants'), api.get('/api/academy')]);
      people = (p && p.participants) || [];
      levels = ((a && a.levels) || []).slice().sort((x, y) => (x.order ?? 0) - (y.order ?? 0));
    } catch (e) {
      clear(body).append(h('p', { class: 'notice notice-error', role: 'alert' }, e.message));
      return;
    }
    render();
  }

  function render() {
    const q = search.value.trim().toLowerCase();
    const list = people.filter((p) => !q || [p.username, p.display_name, p.groups].join(' ').toLowerCase().includes(q));
    if (!list.length) { clear(body).append(h('p', { class: 'muted' }, t('trainer.none'))); return; }
    clear(body).append(h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('trainer.title') },
      h('table', { class: 'data' },
        h('caption', { class: 'visually-hidden' }, t('trainer.title')),
        h('thead', null, h('tr', null,
          [t('admin.display_name'), t('admin.username'), t('trainer.department'), t('trainer.level'), t('trainer.lessons'), t('trainer.last_quiz')]
            .map((x) => h('th', { scope: 'col' }, x)),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('common.actions'))))),
        h('tbody', null, list.map((p) => h('tr', { class: p.disabled ? 'is-disabled' : null },
          h('td', null, h('strong', null, p.display_name || p.username)),
          h('td', null, p.username),
          h('td', null, p.groups || '–'),
          h('td', null, p.level ? h('span', { class: 'badge badge-accent' }, p.level_name || p.level) : t('trainer.no_level'),
            p.level_at ? h('div', { class: 'muted small' }, formatDate(p.level_at, false) + (p.level_by ? ' · ' + p.level_by : '')) : null),
          h('td', null, `${p.lessons_done ?? 0} / ${p.lessons_total ?? 0}`),
          h('td', null, p.last_quiz ? `${p.last_quiz.level_name || p.last_quiz.level}: ${p.last_quiz.percent} % (${p.last_quiz.passed ? t('academy.passed') : t('academy.not_passed')})` : '–'),
          h('td', { class: 'actions' },
            button(t('trainer.award'), { small: true, kind: 'ghost', ariaLabel: t('trainer.award_named', { name: p.display_name || p.username }), onclick: () => award(p) }),
            p.level ? button(t('trainer.revoke'), { small: true, kind: 'danger-ghost', ariaLabel: t('trainer.revoke_named', { name: p.display_name || p.username }), onclick: () => revoke(p) }) : null,
            h('a', { class: 'btn btn-small btn-ghost', href: `/api/trainer/participants/${p.id}/record`, target: '_blank', rel: 'noopener', 'aria-label': t('trainer.record_named', { name: p.display_name || p.username }) }, t('trainer.record')))))))));
  }

  function levelSelect(value, withNone) {
    const opts = levels.map((l) => ({ value: l.id, label: l.name || l.id }));
    if (withNone) opts.unshift({ value: '', label: t('trainer.current_level') });
    return field(t('trainer.level'), { name: 'level', type: 'select', options: opts, value });
  }

  async function reasonDialog(title, content, submitLabel, send) {
    const err = errorBox();
    const reason = field(t('trainer.reason'), { name: 'reason', type: 'textarea', rows: 3, required: true, maxlength: 500, help: t('trainer.reason_help') });
    await openDialog({
      title,
      content: h('div', { class: 'stack' }, err, content, reason),
      actions: [{ label: t('common.cancel'), value: 'cancel' }, { label: submitLabel, value: 'ok', kind: 'primary' }],
      onAction: async (v, dialog) => {
        const text = reason.querySelector('textarea').value.trim();
        if (!text) { err.show(t('trainer.reason_required')); return false; }
        try { await send(text, dialog); } catch (e) { err.show(e.message); return false; }
        toast(t('admin.saved'));
        load();
        return true;
      },
    });
  }

  function award(p) {
    const next = levels.find((l) => !p.level || levels.findIndex((x) => x.id === l.id) > levels.findIndex((x) => x.id === p.level)) || levels[0];
    const sel = levelSelect(next ? next.id : '', false);
    reasonDialog(t('trainer.award_named', { name: p.display_name || p.username }), sel, t('trainer.award'),
      (reason) => api.post(`/api/trainer/participants/${p.id}/award`, { level: sel.querySelector('select').value, reason }));
  }

  function revoke(p) {
    const sel = levelSelect('', true);
    reasonDialog(t('trainer.revoke_named', { name: p.display_name || p.username }), sel, t('trainer.revoke'),
      (reason) => {
        const level = sel.querySelector('select').value;
        return api.post(`/api/trainer/participants/${p.id}/revoke`, level ? { reason, level } : { reason });
      });
  }

  let timer = 0;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(render, 150); });
  load();
  el.append(root);
  return () => clearTimeout(timer);
}
