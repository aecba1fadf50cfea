// views/academy.js - the academy (KI-Schwimmabzeichen) for every user:
// overview of the levels with lessons and quiz state (#/academy), reading a
// lesson (#/academy/lesson/ID, Markdown through the safe renderer) and
// taking a level's quiz (#/academy/quiz/LEVEL: POST .../start draws an
// attempt, POST .../LEVEL submits it). API: docs/api.md "Academy".

import { api } from '../api.js';
import { t, formatDate } from '../i18n.js';
import { h, clear, button, icon, toast, copyWithFeedback } from '../dom.js';
import { renderMarkdown } from '../render.js';

function capName(c) {
  const k = 'cap.' + c;
  const s = t(k);
  return s === k ? c : s;
}

function loading() { return h('p', { class: 'muted', role: 'status' }, t('common.loading')); }
function failed(e) { return h('div', { class: 'notice notice-error', role: 'alert' }, h('p', null, e.message)); }
function back() { return h('p', { class: 'back' }, h('a', { href: '#/academy' }, t('academy.back'))); }

export function academyView(ctx, params) {
  const body = h('div');
  const root = h('div', { class: 'page academy' }, body);

  function update(p) {
    // fresh container per visit, like the admin pages
    const el = h('div');
    clear(body).append(el);
    if (p.sub === 'lesson') lessonPage(el, p.id, ctx);
    else if (p.sub === 'quiz') quizPage(el, p.id, ctx);
    else overviewPage(el, ctx);
  }
  update(params);
  return { el: root, title: t('academy.title'), update };
}

// ------------------------------------------------------------------ overview

async function overviewPage(el, ctx) {
  el.append(h('h1', { tabindex: '-1' }, t('academy.title')), loading());
  let a;
  try { a = await api.get('/api/academy'); } catch (e) { el.lastChild.replaceWith(failed(e)); return; }
  ctx.setTitle(t('academy.title'));
  const u = a.user || {};
  const levels = (a.levels || []).slice().sort((x, y) => (x.order ?? 0) - (y.order ?? 0));
  const status = u.level
    ? h('p', { class: 'lead' }, icon('badge'), ' ', t('academy.your_level', { name: u.level_name || u.level }),
      u.awarded_at ? h('span', { class: 'muted' }, ' ' + t('academy.since', { date: formatDate(u.awarded_at, false) })) : null)
    : h('p', { class: 'lead' }, t('academy.no_level'));
  el.replaceChildren(
    h('h1', { tabindex: '-1' }, t('academy.title')),
    status,
    h('p', { class: 'muted' }, a.gating ? t('academy.intro_gating') : t('academy.intro')),
    ...levels.map((lv) => levelCard(lv, a)));
  const h1 = el.querySelector('h1');
  if (h1 && document.activeElement === document.body) h1.focus();
}

function levelCard(lv, a) {
  const lessons = (lv.lessons || []).slice().sort((x, y) => (x.order ?? 0) - (y.order ?? 0));
  const q = lv.quiz || {};
  let quizPart;
  if (lv.held) {
    quizPart = h('p', { class: 'notice notice-success' }, icon('check'), ' ', t('academy.level_held'));
  } else if (q.available) {
    quizPart = h('a', { class: 'btn btn-primary', href: `#/academy/quiz/${encodeURIComponent(lv.id)}` }, t('academy.start_quiz'));
  } else {
    const reason = q.reason === 'quiz_wait' && q.next_attempt_at
      ? t('academy.reason_quiz_wait_until', { time: formatDate(q.next_attempt_at) })
      : t('academy.reason_' + (q.reason || 'unavailable'));
    quizPart = h('p', { class: 'muted' }, reason.startsWith('academy.') ? t('academy.reason_unavailable') : reason);
  }
  const last = q.last
    ? h('p', { class: 'small muted' }, t('academy.last_attempt', {
      percent: q.last.percent, result: q.last.passed ? t('academy.passed') : t('academy.not_passed'), date: formatDate(q.last.at),
    }))
    : null;
  const caps = (lv.capabilities || []).map(capName).join(', ');
  return h('section', { class: 'card level' + (lv.held ? ' level-held' : ''), 'aria-labelledby': 'lv-' + lv.id },
    h('div', { class: 'level-head' },
      h('h2', { id: 'lv-' + lv.id }, lv.name || lv.id),
      lv.held ? h('span', { class: 'badge badge-ok' }, icon('check'), t('academy.held')) : null),
    lv.description ? h('p', null, lv.description) : null,
    caps ? h('p', { class: 'small' }, h('strong', null, t('academy.unlocks') + ': '), caps) : null,
    lessons.length
      ? h('div', null,
        h('h3', null, t('academy.lessons'), h('span', { class: 'count' }, ' ' + t('academy.progress', { done: lv.lessons_completed ?? lessons.filter((l) => l.completed).length, total: lv.lessons_total ?? lessons.length }))),
        h('ol', { class: 'lesson-list' }, lessons.map((l) => h('li', { class: l.completed ? 'done' : null },
          h('a', { href: `#/academy/lesson/${encodeURIComponent(l.id)}` }, l.title),
          l.minutes ? h('span', { class: 'muted small' }, ' · ' + t('academy.minutes', { n: l.minutes })) : null,
          l.completed ? h('span', { class: 'badge badge-ok' }, icon('check'), t('academy.completed')) : null))))
      : null,
    h('div', { class: 'level-quiz' }, quizPart, last));
}

// ------------------------------------------------------------------ lesson

async function lessonPage(el, id, ctx) {
  el.append(back(), loading());
  let l;
  try { l = await api.get(`/api/academy/lessons/${encodeURIComponent(id)}`); } catch (e) { el.lastChild.replaceWith(failed(e)); return; }
  ctx.setTitle(l.title + ' – ' + t('academy.title'));
  const doneBtn = button(l.completed ? t('academy.completed') : t('academy.complete'), {
    kind: l.completed ? 'secondary' : 'primary', icon: 'check', disabled: !!l.completed,
    onclick: async () => {
      try {
        await api.post(`/api/academy/lessons/${encodeURIComponent(id)}/complete`, {});
        doneBtn.disabled = true;
        doneBtn.querySelector('.btn-label').textContent = t('academy.completed');
        toast(t('academy.lesson_done'));
      } catch (e) { toast(e.message, 'error'); }
    },
  });
  // lessons often repeat their title as the first heading: show it once
  let text = l.markdown || '';
  const m = /^\s*#{1,2}\s+(.+?)\s*#*\s*(\n|$)/.exec(text);
  if (m && m[1].trim() === String(l.title || '').trim()) text = text.slice(m[0].length);
  const md = renderMarkdown(text, { t, onCopy: (x, b) => copyWithFeedback(x, b) });
  md.classList.add('lesson-text');
  el.replaceChildren(
    back(),
    h('article', { class: 'card lesson', 'aria-labelledby': 'lesson-h' },
      h('p', { class: 'muted small' }, (l.level_name || l.level || '') + (l.minutes ? ' · ' + t('academy.minutes', { n: l.minutes }) : '')),
      h('h1', { id: 'lesson-h', tabindex: '-1' }, l.title),
      md,
      h('div', { class: 'row lesson-actions' }, doneBtn, h('a', { href: '#/academy' }, t('academy.back')))));
  el.querySelector('h1').focus();
}

// ------------------------------------------------------------------ quiz

async function quizPage(el, level, ctx) {
  el.append(back(), loading());
  let q;
  try { q = await api.post(`/api/academy/quiz/${encodeURIComponent(level)}/start`, {}); } catch (e) { el.lastChild.replaceWith(failed(e)); return; }
  ctx.setTitle(t('academy.quiz_title', { name: q.level_name || level }));
  const err = h('div', { class: 'notice notice-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'quiz stack', novalidate: true },
    (q.questions || []).map((question, i) => {
      const multi = question.type === 'multiple';
      return h('fieldset', { class: 'card question', 'data-qid': String(question.id) },
        h('legend', null, h('span', { class: 'muted small' }, t('academy.question_n', { n: i + 1, total: q.questions.length }) + ' '), question.question),
        h('p', { class: 'muted small' }, multi ? t('academy.multiple_hint') : t('academy.single_hint')),
        (question.options || []).map((o) => {
          const id = `q${question.id}-o${o.id}`;
          return h('div', { class: 'check' },
            h('input', { type: multi ? 'checkbox' : 'radio', id, name: 'q' + question.id, value: String(o.id) }),
            h('label', { for: id }, o.text));
        }));
    }),
    err,
    h('div', { class: 'row' }, button(t('academy.submit_quiz'), { type: 'submit', kind: 'primary' }), h('a', { href: '#/academy' }, t('common.cancel'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const answers = {};
    let unanswered = 0;
    for (const fs of form.querySelectorAll('fieldset.question')) {
      const chosen = [...fs.querySelectorAll('input:checked')].map((x) => Number(x.value));
      if (!chosen.length) unanswered++;
      answers[fs.dataset.qid] = chosen;
    }
    if (unanswered) { err.textContent = t('academy.unanswered', { n: unanswered }); err.hidden = false; return; }
    err.hidden = true;
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    let res;
    try {
      res = await api.post(`/api/academy/quiz/${encodeURIComponent(level)}`, { attempt_id: q.attempt_id, answers });
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      submit.disabled = false;
      return;
    }
    showResult(el, q, res, answers);
  });
  el.replaceChildren(back(),
    h('h1', { tabindex: '-1' }, t('academy.quiz_title', { name: q.level_name || level })),
    h('p', { class: 'muted' }, t('academy.quiz_intro', { percent: q.pass_percent ?? 80 })),
    form);
  el.querySelector('h1').focus();
}

function showResult(el, q, res, answers) {
  const byId = new Map((q.questions || []).map((x) => [String(x.id), x]));
  const optText = (question, ids) => (ids || []).map((id) => ((question.options || []).find((o) => o.id === id) || { text: '#' + id }).text).join(', ') || '–';
  const banner = res.passed
    ? h('div', { class: 'notice notice-success', role: 'status' },
      h('h2', null, t('academy.result_passed')),
      h('p', null, t('academy.score', { score: res.score, total: res.total, percent: res.percent })),
      res.level_awarded ? h('p', null, h('strong', null, t('academy.level_awarded', { name: q.level_name || res.level_awarded }))) : null)
    : h('div', { class: 'notice notice-warning', role: 'status' },
      h('h2', null, t('academy.result_failed')),
      h('p', null, t('academy.score', { score: res.score, total: res.total, percent: res.percent }) + ' ' + t('academy.needed', { percent: res.pass_percent ?? q.pass_percent ?? 80 })),
      res.next_attempt_at ? h('p', null, t('academy.next_attempt', { time: formatDate(res.next_attempt_at) })) : null);
  const items = (res.results || []).map((r, i) => {
    const question = byId.get(String(r.id)) || { question: '#' + r.id, options: [] };
    return h('li', { class: 'card result ' + (r.correct ? 'result-ok' : 'result-bad') },
      h('p', null, h('span', { class: 'badge ' + (r.correct ? 'badge-ok' : 'badge-danger') }, icon(r.correct ? 'check' : 'close'), r.correct ? t('academy.correct') : t('academy.wrong')), ' ',
        h('strong', null, `${i + 1}. ${question.question}`)),
      h('p', { class: 'small' }, t('academy.your_answer') + ': ' + optText(question, r.chosen || answers[String(r.id)])),
      r.correct ? null : h('p', { class: 'small' }, t('academy.right_answer') + ': ' + optText(question, r.correct_options)),
      r.explanation ? h('p', { class: 'small muted' }, r.explanation) : null,
      !r.correct && r.lesson ? h('p', { class: 'small' }, h('a', { href: `#/academy/lesson/${encodeURIComponent(r.lesson)}` }, t('academy.read_lesson'))) : null);
  });
  el.replaceChildren(back(),
    h('h1', { tabindex: '-1' }, t('academy.quiz_title', { name: q.level_name || '' })),
    banner,
    h('ol', { class: 'results' }, items),
    h('p', null, h('a', { class: 'btn btn-primary', href: '#/academy' }, t('academy.back'))));
  el.querySelector('h1').focus();
}
