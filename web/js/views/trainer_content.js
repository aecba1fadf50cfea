// views/trainer_content.js - trainers edit the academy's content:
// lessons (#/trainer/lessons: Markdown with a live preview through the same
// safe renderer participants see, replace the text by a .md file, save,
// restore the built-in text, add a lesson to a level) and the quiz bank (#/trainer/questions: edit, add,
// hide/delete and restore questions per level). API: docs/api.md
// "Trainers"; the server validates everything again.

import { api } from '../api.js';
import { t, formatDate } from '../i18n.js';
import { h, clear, field, button, errorBox, openDialog, confirmDialog, toast, icon, copyWithFeedback } from '../dom.js';
import { renderMarkdown } from '../render.js';

function loading() { return h('p', { class: 'muted', role: 'status' }, t('common.loading')); }
function failed(e) { return h('p', { class: 'notice notice-error', role: 'alert' }, e.message); }
const sortByOrder = (a) => (a || []).slice().sort((x, y) => (x.order ?? 0) - (y.order ?? 0));

// ------------------------------------------------------------------ lessons

export async function lessonsPage(el, ctx) {
  el.append(loading());
  let a;
  try { a = await api.get('/api/academy'); } catch (e) { el.replaceChildren(failed(e)); return; }
  const levels = sortByOrder(a.levels);
  const list = h('div', { class: 'stack' });
  const editorBox = h('div');
  el.replaceChildren(
    h('p', { class: 'muted' }, t('tcontent.lessons_intro')),
    h('div', { class: 'row' }, button(t('tcontent.new_lesson'), { kind: 'secondary', icon: 'plus', onclick: () => openEditor(null) })),
    editorBox, list);

  for (const lv of levels) {
    const lessons = sortByOrder(lv.lessons);
    list.append(h('section', { class: 'card', 'aria-labelledby': 'tl-' + lv.id },
      h('h2', { id: 'tl-' + lv.id }, lv.name || lv.id),
      lessons.length
        ? h('ul', { class: 'lesson-admin-list' }, lessons.map((l) => h('li', null,
          h('span', null, l.title),
          l.edited ? h('span', { class: 'badge badge-accent' }, t('tcontent.edited')) : null,
          button(t('common.edit'), { small: true, kind: 'ghost', ariaLabel: t('tcontent.edit_named', { title: l.title }), onclick: () => openEditor(l.id) }))))
        : h('p', { class: 'muted' }, t('tcontent.no_lessons'))));
  }

  async function openEditor(id) {
    let l = { id: '', title: '', markdown: '', minutes: 5, level: levels[0] ? levels[0].id : '', builtin: false, edited: false };
    if (id) {
      clear(editorBox).append(loading());
      try { l = await api.get(`/api/academy/lessons/${encodeURIComponent(id)}`); } catch (e) { clear(editorBox).append(failed(e)); return; }
    }
    const err = errorBox();
    const title = field(t('tcontent.title'), { name: 'title', required: true, maxlength: 200, value: l.title });
    const minutes = field(t('tcontent.minutes'), { name: 'minutes', type: 'number', value: String(l.minutes ?? 5) });
    const idField = id ? null : field(t('tcontent.lesson_id'), { name: 'id', required: true, maxlength: 64, help: t('tcontent.id_help') });
    const levelField = id ? null : field(t('trainer.level'), { name: 'level', type: 'select', value: l.level, options: levels.map((x) => ({ value: x.id, label: x.name || x.id })) });
    const text = field(t('tcontent.markdown'), { name: 'markdown', type: 'textarea', rows: 18, value: l.markdown, help: t('tcontent.markdown_help') });
    const textarea = text.querySelector('textarea');
    textarea.classList.add('mono');
    const preview = h('div', { class: 'lesson-preview lesson-text', 'aria-live': 'off' });
    const drawPreview = () => preview.replaceChildren(renderMarkdown(textarea.value, { t, onCopy: (x, b) => copyWithFeedback(x, b) }));
    let timer = 0;
    textarea.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(drawPreview, 200); });
    drawPreview();
    // replace the text by a Markdown file (front matter as in content/academy/lessons/)
    const fileInput = h('input', { type: 'file', id: 'le-file', accept: '.md,.markdown,.txt,text/markdown,text/plain', 'aria-describedby': 'le-file-help' });
    fileInput.addEventListener('change', async () => {
      const f = fileInput.files && fileInput.files[0];
      if (!f) return;
      if (f.size > 256 * 1024) { err.show(t('tcontent.file_too_large')); return; }
      const parsed = parseLessonFile(await f.text());
      if (parsed.title) title.querySelector('input').value = parsed.title;
      if (parsed.minutes) minutes.querySelector('input').value = String(parsed.minutes);
      textarea.value = parsed.markdown;
      drawPreview();
      err.show('');
      toast(t('tcontent.file_loaded', { name: f.name }));
    });
    const fileField = h('div', { class: 'field' }, h('label', { for: 'le-file' }, t('tcontent.load_file')), fileInput,
      h('p', { class: 'field-help', id: 'le-file-help' }, t('tcontent.load_file_help')));
    const save = button(t('common.save'), { kind: 'primary', type: 'submit' });
    const restore = id && l.edited
      ? button(l.builtin ? t('tcontent.restore') : t('tcontent.delete_lesson'), { kind: 'danger-ghost', onclick: async () => {
        const ok = await confirmDialog(l.builtin ? t('tcontent.restore') : t('tcontent.delete_lesson'),
          l.builtin ? t('tcontent.restore_confirm', { title: l.title }) : t('tcontent.delete_confirm', { title: l.title }), l.builtin ? t('tcontent.restore') : t('common.delete'));
        if (!ok) return;
        try { await api.del(`/api/trainer/lessons/${encodeURIComponent(id)}`); } catch (e) { err.show(e.message); return; }
        toast(t('tcontent.restored'));
        reload();
      } })
      : null;
    const form = h('form', { class: 'card lesson-editor stack', novalidate: true, 'aria-labelledby': 'le-h' },
      h('h2', { id: 'le-h', tabindex: '-1' }, id ? t('tcontent.edit_named', { title: l.title }) : t('tcontent.new_lesson')),
      id && l.updated_at ? h('p', { class: 'small muted' }, t('tcontent.changed_by', { name: l.updated_by || '–', date: formatDate(l.updated_at) })) : null,
      err,
      h('div', { class: 'grid-2' }, idField, levelField, title, minutes),
      fileField,
      h('div', { class: 'editor-split' },
        text,
        h('div', { class: 'field' }, h('p', { class: 'label', id: 'le-prev' }, t('tcontent.preview')),
          h('div', { role: 'region', 'aria-labelledby': 'le-prev', tabindex: '0', class: 'preview-box' }, preview))),
      h('div', { class: 'row' }, save, restore, button(t('common.cancel'), { kind: 'ghost', onclick: () => clear(editorBox) })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const lid = id || idField.querySelector('input').value.trim();
      const body = { title: title.querySelector('input').value.trim(), markdown: textarea.value, minutes: parseInt(minutes.querySelector('input').value, 10) || 0 };
      if (!id) { body.level = levelField.querySelector('select').value; body.order = 99; }
      if (!/^[a-z0-9_-]{1,64}$/.test(lid)) { err.show(t('tcontent.bad_id')); return; }
      if (!body.title) { err.show(t('tcontent.title_required')); return; }
      save.disabled = true;
      try { await api.put(`/api/trainer/lessons/${encodeURIComponent(lid)}`, body); } catch (e) { err.show(e.message); save.disabled = false; return; }
      toast(t('admin.saved'));
      reload();
    });
    clear(editorBox).append(form);
    form.querySelector('h2').focus();
  }

  function reload() { clear(el); lessonsPage(el, ctx); }
}

/** A lesson file: optional front matter (---, key: value lines, ---), then Markdown. */
export function parseLessonFile(text) {
  const src = String(text).replace(/^\ufeff/, '').replace(/\r\n?/g, '\n');
  const m = /^---\n([\s\S]*?)\n---[ \t]*(?:\n|$)/.exec(src);
  if (!m) return { markdown: src };
  const out = { markdown: src.slice(m[0].length).replace(/^\n+/, '') };
  for (const line of m[1].split('\n')) {
    const kv = /^([a-z_]+):\s*(.*?)\s*$/.exec(line);
    if (!kv) continue;
    if (kv[1] === 'title') out.title = kv[2];
    if (kv[1] === 'minutes' && /^\d{1,4}$/.test(kv[2])) out.minutes = Number(kv[2]);
  }
  return out;
}

// ------------------------------------------------------------------ quiz bank

export async function questionsPage(el, ctx) {
  el.append(loading());
  let a;
  let bank;
  try {
    [a, bank] = await Promise.all([api.get('/api/academy'), api.get('/api/trainer/questions')]);
  } catch (e) { el.replaceChildren(failed(e)); return; }
  const levels = sortByOrder(a.levels);
  const questions = bank.questions || [];
  const reload = () => { clear(el); questionsPage(el, ctx); };

  el.replaceChildren(
    h('p', { class: 'muted' }, t('tcontent.questions_intro')),
    ...levels.map((lv) => {
      const qs = questions.filter((q) => q.level === lv.id);
      return h('section', { class: 'card', 'aria-labelledby': 'tq-' + lv.id },
        h('div', { class: 'toolbar' },
          h('h2', { id: 'tq-' + lv.id }, lv.name || lv.id, h('span', { class: 'count muted' }, ' ' + t('tcontent.n_questions', { n: qs.filter((q) => !q.hidden).length }))),
          button(t('tcontent.new_question'), { small: true, kind: 'secondary', icon: 'plus', ariaLabel: t('tcontent.new_question_in', { name: lv.name || lv.id }), onclick: () => edit(null, lv) })),
        qs.length ? h('ol', { class: 'question-list' }, qs.map((q) => questionItem(q, lv))) : h('p', { class: 'muted' }, t('tcontent.no_questions')));
    }));

  function questionItem(q, lv) {
    const badges = [
      q.hidden ? h('span', { class: 'badge badge-danger' }, t('tcontent.hidden')) : null,
      !q.builtin ? h('span', { class: 'badge badge-accent' }, t('tcontent.added')) : q.edited && !q.hidden ? h('span', { class: 'badge badge-accent' }, t('tcontent.edited')) : null,
    ];
    const actions = [];
    if (!q.hidden) actions.push(button(t('common.edit'), { small: true, kind: 'ghost', ariaLabel: t('tcontent.edit_question', { id: q.id }), onclick: () => edit(q, lv) }));
    if (!q.hidden) {
      actions.push(button(q.builtin ? t('tcontent.hide') : t('common.delete'), { small: true, kind: 'danger-ghost', ariaLabel: t('tcontent.remove_question', { id: q.id }), onclick: async () => {
        const ok = await confirmDialog(q.builtin ? t('tcontent.hide') : t('common.delete'), q.builtin ? t('tcontent.hide_confirm') : t('tcontent.delete_q_confirm'), q.builtin ? t('tcontent.hide') : t('common.delete'));
        if (!ok) return;
        try { await api.del(`/api/trainer/questions/${encodeURIComponent(q.id)}`); } catch (e) { toast(e.message, 'error'); return; }
        toast(t('admin.saved'));
        reload();
      } }));
    }
    if (q.builtin && (q.edited || q.hidden)) {
      actions.push(button(t('tcontent.restore'), { small: true, kind: 'ghost', ariaLabel: t('tcontent.restore_question', { id: q.id }), onclick: async () => {
        try { await api.post(`/api/trainer/questions/${encodeURIComponent(q.id)}/restore`, {}); } catch (e) { toast(e.message, 'error'); return; }
        toast(t('tcontent.restored'));
        reload();
      } }));
    }
    return h('li', { class: 'question-item' + (q.hidden ? ' is-disabled' : ''), 'data-qid': q.id },
      h('p', null, h('strong', null, q.question), ' ', ...badges),
      h('p', { class: 'small muted' }, (q.type === 'multiple' ? t('tcontent.type_multiple') : t('tcontent.type_single')) + ' · ' + q.id),
      h('ul', { class: 'option-list' }, (q.options || []).map((o) => h('li', { class: o.correct ? 'correct' : null },
        o.correct ? icon('check') : null, o.text, o.correct ? h('span', { class: 'visually-hidden' }, ' (' + t('academy.correct') + ')') : null))),
      h('div', { class: 'row' }, actions));
  }

  async function edit(q, lv) {
    const lessonsOf = (levelId) => sortByOrder((levels.find((x) => x.id === levelId) || {}).lessons);
    const cur = q || { id: '', level: lv.id, lesson: '', type: 'single', question: '', options: [{ text: '', correct: true }, { text: '', correct: false }], explanation: '' };
    const err = errorBox();
    const levelF = field(t('trainer.level'), { name: 'level', type: 'select', value: cur.level, options: levels.map((x) => ({ value: x.id, label: x.name || x.id })) });
    const lessonF = field(t('tcontent.lesson'), { name: 'lesson', type: 'select', value: cur.lesson || '', options: [] });
    const fillLessons = () => {
      const sel = lessonF.querySelector('select');
      const keep = sel.value || cur.lesson || '';
      sel.replaceChildren(h('option', { value: '' }, t('tcontent.no_lesson')),
        ...lessonsOf(levelF.querySelector('select').value).map((l) => h('option', { value: l.id, selected: l.id === keep }, l.title)));
    };
    levelF.querySelector('select').addEventListener('change', fillLessons);
    fillLessons();
    const typeF = field(t('tcontent.type'), { name: 'type', type: 'select', value: cur.type, options: [{ value: 'single', label: t('tcontent.type_single') }, { value: 'multiple', label: t('tcontent.type_multiple') }] });
    const textF = field(t('tcontent.question'), { name: 'question', type: 'textarea', rows: 2, required: true, maxlength: 1000, value: cur.question });
    const explF = field(t('tcontent.explanation'), { name: 'explanation', type: 'textarea', rows: 2, maxlength: 2000, value: cur.explanation });
    const opts = h('ol', { class: 'option-edit stack' });
    const addOption = (o) => {
      const n = opts.children.length + 1;
      const input = h('input', { type: 'text', maxlength: 500, 'aria-label': t('tcontent.option_n', { n }), value: o.text });
      input.value = o.text;
      const correct = h('input', { type: 'checkbox', 'aria-label': t('tcontent.option_correct', { n }) });
      correct.checked = !!o.correct;
      const li = h('li', { class: 'row' }, input,
        h('label', { class: 'check' }, correct, t('academy.correct')),
        button(t('tcontent.remove_option'), { small: true, kind: 'ghost', ariaLabel: t('tcontent.remove_option_n', { n }), onclick: () => { if (opts.children.length > 2) li.remove(); } }));
      opts.append(li);
    };
    (cur.options || []).forEach(addOption);
    const addBtn = button(t('tcontent.add_option'), { small: true, kind: 'secondary', icon: 'plus', onclick: () => { if (opts.children.length < 16) addOption({ text: '', correct: false }); } });
    await openDialog({
      title: q ? t('tcontent.edit_question', { id: q.id }) : t('tcontent.new_question'),
      wide: true,
      content: h('div', { class: 'stack' }, err, h('div', { class: 'grid-2' }, levelF, lessonF, typeF), textF,
        h('fieldset', { class: 'options-fieldset' }, h('legend', null, t('tcontent.options')), opts, addBtn), explF),
      actions: [{ label: t('common.cancel'), value: 'cancel' }, { label: t('common.save'), value: 'ok', kind: 'primary' }],
      onAction: async () => {
        const body = {
          level: levelF.querySelector('select').value,
          lesson: lessonF.querySelector('select').value,
          type: typeF.querySelector('select').value,
          question: textF.querySelector('textarea').value.trim(),
          explanation: explF.querySelector('textarea').value.trim(),
          options: [...opts.children].map((li) => ({ text: li.querySelector('input[type=text]').value.trim(), correct: li.querySelector('input[type=checkbox]').checked })),
        };
        const nCorrect = body.options.filter((o) => o.correct).length;
        if (!body.question) { err.show(t('tcontent.question_required')); return false; }
        if (body.options.some((o) => !o.text)) { err.show(t('tcontent.option_text_required')); return false; }
        if (body.type === 'single' ? nCorrect !== 1 : nCorrect < 1) { err.show(body.type === 'single' ? t('tcontent.single_one') : t('tcontent.multiple_one')); return false; }
        const id = q ? q.id : 'q-' + Date.now().toString(36);
        try { await api.put(`/api/trainer/questions/${encodeURIComponent(id)}`, body); } catch (e) { err.show(e.message); return false; }
        toast(t('admin.saved'));
        reload();
        return true;
      },
    });
  }
}
