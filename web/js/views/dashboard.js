// views/dashboard.js - the beta dashboard for trainers and admins
// (#/trainer/dashboard, GET /api/dashboard): key figures, charts of active
// users per department and week, conversations and messages, the levels of
// the KI-Schwimmabzeichen and the feedback on answers (js/charts.js: SVG
// with a text alternative and a data table each), the newest negative
// comments, and the most used assistants and collections.

import { api } from '../api.js';
import { t, formatDate, formatNumber } from '../i18n.js';
import { h } from '../dom.js';
import { chartFigure } from '../charts.js';

function weekLabel(iso) {
  // "2026-09-07" -> "07.09." (the Monday of the week)
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso));
  return m ? `${m[3]}.${m[2]}.` : String(iso);
}

function figure(label, value, note) {
  return h('div', { class: 'card dash-figure' },
    h('p', { class: 'dash-value' }, value),
    h('p', { class: 'dash-label' }, label),
    note ? h('p', { class: 'small muted' }, note) : null);
}

function ranking(title, items, empty) {
  return h('section', { class: 'card', 'aria-label': title },
    h('h2', null, title),
    items && items.length
      ? h('ol', { class: 'dash-ranking' }, items.map((x) => h('li', null, String(x.name ?? x.title ?? x.id ?? ''),
        h('span', { class: 'muted small' }, ' · ' + t('dash.uses', { n: formatNumber(x.count ?? x.uses ?? 0) })))))
      : h('p', { class: 'muted' }, empty));
}

export async function dashboardPage(el, ctx) {
  el.append(h('p', { class: 'muted', role: 'status' }, t('common.loading')));
  let d;
  try { d = await api.get('/api/dashboard'); } catch (e) {
    el.replaceChildren(h('p', { class: 'notice notice-error', role: 'alert' }, e.message));
    return;
  }
  if (ctx && ctx.setTitle) ctx.setTitle(t('dash.title') + ' – ' + t('trainer.title'));
  const weeks = d.weeks || [];
  const last = (arr) => (arr && arr.length ? arr[arr.length - 1] : 0);
  const sum = (arr) => (arr || []).reduce((a, b) => a + (Number(b) || 0), 0);
  const fb = d.feedback || {};
  const figures = h('div', { class: 'dash-figures' },
    figure(t('dash.active_this_week'), formatNumber(last(d.active_users_total))),
    figure(t('dash.conversations_12'), formatNumber(sum(d.conversations))),
    figure(t('dash.messages_12'), formatNumber(sum(d.messages))),
    figure(t('dash.feedback_rate'), `${Math.round((Number(fb.rate) || 0) * 100)} %`,
      t('dash.feedback_counts', { rated: formatNumber(fb.rated ?? 0), answers: formatNumber(fb.answers ?? 0), up: formatNumber(fb.up ?? 0), down: formatNumber(fb.down ?? 0) })));
  const isWeekly = (c) => c.type === 'stacked_bar' || c.type === 'line';
  const charts = (d.charts || []).map((c) => chartFigure(c, { t, formatLabel: isWeekly(c) ? weekLabel : undefined }));
  const neg = fb.latest_negative || [];
  const comments = h('section', { class: 'card', 'aria-labelledby': 'dash-neg' },
    h('h2', { id: 'dash-neg' }, t('dash.negative')),
    neg.length
      ? h('ul', { class: 'dash-comments' }, neg.map((c) => h('li', null,
        h('blockquote', null, c.comment || '–'),
        h('p', { class: 'small muted' }, formatDate(c.at)))))
      : h('p', { class: 'muted' }, t('dash.no_negative')));
  el.replaceChildren(
    h('p', { class: 'muted' }, t('dash.intro', { from: weeks.length ? formatDate(weeks[0] + 'T00:00:00Z', false) : '–' })),
    figures,
    h('div', { class: 'dash-charts' }, charts),
    h('div', { class: 'grid-2' },
      comments,
      h('div', { class: 'stack' },
        ranking(t('dash.assistants'), d.assistants, t('dash.none_yet')),
        ranking(t('dash.collections'), d.collections, t('dash.none_yet')))));
}
