// views/chat.js - the chat screen: conversation list (search, new, rename,
// delete), messages with streamed answers, model picker, system prompt per
// conversation, composer with send/stop, regenerate, edit last question.
//
// One answer streams at a time. Deltas are collected and rendered at most
// once per animation frame through MarkdownView (only the last block is
// rebuilt). Leaving the conversation stops a running answer.

import { api, streamMessage, ApiError } from '../api.js';
import { collectionPicker, sourcesBlock } from '../knowledge_ui.js';
import { t, formatRelative } from '../i18n.js';
import { h, clear, button, icon, openDialog, confirmDialog, field, toast, announce, copyWithFeedback } from '../dom.js';
import { MarkdownView, renderMarkdown } from '../render.js';

const NEAR_BOTTOM = 80;

export function chatView(ctx, params) {
  const st = {
    convs: [],
    query: '',
    current: null,           // full conversation incl. messages
    draftSystem: '',         // system prompt for a conversation not yet created
    models: [],
    hint: '',
    modelsLoaded: false,
    stream: null,            // { controller, convId, stopped }
    lastRequest: null,       // for "try again" after 503
    destroyed: false,
    feedback: new Map(),     // assistant message id -> 'up' | 'down'
    blocked: '',             // server message when chat needs an academy level
    piiOff: false,           // personal-data check not offered by the server
    piiSeq: 0,
    pollTimer: 0,            // waiting for an answer that runs elsewhere
  };

  const mdOpts = { t, onCopy: (text, btn) => copyWithFeedback(text, btn) };

  // ---------------------------------------------------------------- layout
  const search = h('input', {
    type: 'search', id: 'conv-search', class: 'search-input', autocomplete: 'off',
    placeholder: t('chat.search_placeholder'),
  });
  const convList = h('ul', { class: 'conv-list' });
  const convEmpty = h('p', { class: 'conv-empty muted', hidden: true });
  const sidebar = h('aside', { class: 'sidebar', id: 'conv-sidebar', 'aria-label': t('chat.conversations') },
    h('div', { class: 'sidebar-head' },
      button(t('chat.new'), { kind: 'primary', icon: 'plus', class: 'btn-block', onclick: () => newConversation() })),
    h('div', { class: 'search' },
      h('label', { for: 'conv-search', class: 'visually-hidden' }, t('chat.search_label')),
      icon('search'),
      search),
    h('nav', { class: 'conv-nav', 'aria-label': t('chat.conversations') }, convList, convEmpty));

  const sidebarToggle = button(t('chat.conversations'), {
    icon: 'menu', kind: 'ghost', class: 'sidebar-toggle', expanded: 'false', controls: 'conv-sidebar',
    onclick: () => setSidebar(!sidebar.classList.contains('open')),
  });
  const titleEl = h('h1', { id: 'chat-title', class: 'chat-title', tabindex: '-1' }, t('chat.new'));
  const modelSelect = h('select', { id: 'model-select', class: 'model-select' });
  const modelBox = h('div', { class: 'model-picker' },
    h('label', { for: 'model-select' }, t('chat.model')), modelSelect);

  const exportBtn = button(t('chat.export'), { icon: 'download', kind: 'ghost', small: true, iconOnly: true, class: 'chat-export', onclick: () => exportConversation() });
  exportBtn.hidden = true;

  const sysText = h('textarea', { id: 'sys-prompt', rows: 3, maxlength: 8000, placeholder: t('chat.system_placeholder') });
  const sysSave = button(t('chat.system_save'), { small: true, kind: 'secondary', onclick: () => saveSystemPrompt() });
  const sysState = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const sysDetails = h('details', { class: 'sysprompt' },
    h('summary', null, t('chat.system_prompt')),
    h('div', { class: 'sysprompt-body' },
      h('label', { for: 'sys-prompt' }, t('chat.system_label')),
      h('p', { class: 'field-help' }, t('chat.system_help')),
      sysText,
      h('div', { class: 'row' }, sysSave, sysState)));

  const messages = h('div', {
    class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-busy': 'false',
    'aria-label': t('chat.messages'), tabindex: '-1',
  });
  const toEnd = button(t('chat.to_end'), { icon: 'down', kind: 'secondary', small: true, class: 'to-end', onclick: () => { scrollToBottom(); input.focus(); } });
  toEnd.hidden = true;
  const scroller = h('div', { class: 'messages-scroll' }, messages, toEnd);
  scroller.addEventListener('scroll', () => { toEnd.hidden = atBottom(); }, { passive: true });

  const notice = h('div', { class: 'composer-notice', hidden: true });
  const piiNotice = h('div', { class: 'composer-notice notice notice-warning pii-notice', role: 'status', hidden: true });
  const input = h('textarea', {
    id: 'composer-input', class: 'composer-input', rows: 1,
    placeholder: t('chat.input_placeholder'), 'aria-describedby': 'composer-hint',
  });
  const sendBtn = button(t('chat.send'), { kind: 'primary', icon: 'send', iconOnly: true, type: 'submit', class: 'composer-send' });
  const stopBtn = button(t('chat.stop'), { kind: 'secondary', icon: 'stop', class: 'composer-stop', onclick: () => stopStream() });
  stopBtn.hidden = true;
  const picker = collectionPicker(); // knowledge collections for grounded answers
  const composer = h('form', { class: 'composer', novalidate: true },
    notice,
    piiNotice,
    h('div', { class: 'composer-box' },
      h('label', { for: 'composer-input', class: 'visually-hidden' }, t('chat.input_label')),
      input, stopBtn, sendBtn),
    h('div', { class: 'composer-foot' }, picker.el,
      h('p', { id: 'composer-hint', class: 'composer-hint muted small' }, t('chat.input_hint'))));

  const main = h('section', { class: 'chat-main', 'aria-labelledby': 'chat-title' },
    h('div', { class: 'chat-head' }, sidebarToggle, titleEl, exportBtn, modelBox),
    sysDetails,
    scroller,
    composer);
  const backdrop = h('div', { class: 'sidebar-backdrop', hidden: true, onclick: () => setSidebar(false) });
  const root = h('div', { class: 'chat' }, sidebar, backdrop, main);

  // ---------------------------------------------------------------- sidebar
  function setSidebar(open) {
    sidebar.classList.toggle('open', open);
    backdrop.hidden = !open;
    sidebarToggle.setAttribute('aria-expanded', String(open));
    if (open) search.focus();
  }
  root.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && sidebar.classList.contains('open')) { setSidebar(false); sidebarToggle.focus(); }
  });

  let searchTimer = 0;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { st.query = search.value.trim(); loadConversations(); }, 250);
  });

  async function loadConversations() {
    try {
      const q = st.query ? '?q=' + encodeURIComponent(st.query) : '';
      const res = await api.get('/api/conversations' + q);
      st.convs = (res && res.conversations) || [];
    } catch (e) {
      if (e.code === 'level_required') { st.blocked = e.message; updateComposerState(); if (!st.current) renderMessages(); }
      else if (e.status !== 401) toast(e.message, 'error');
      return;
    }
    // the server may have given the current conversation a better title
    const cur = st.current && st.convs.find((c) => c.id === st.current.id);
    if (cur && cur.title && cur.title !== st.current.title) { st.current.title = cur.title; showTitle(); }
    renderConvList();
  }

  function renderConvList() {
    clear(convList);
    const curId = st.current ? st.current.id : null;
    for (const c of st.convs) {
      const active = c.id === curId;
      const title = c.title || t('chat.untitled');
      const li = h('li', { class: 'conv' + (active ? ' active' : '') },
        h('a', { href: `#/c/${c.id}`, class: 'conv-link', 'aria-current': active ? 'page' : undefined },
          h('span', { class: 'conv-title' }, title),
          h('span', { class: 'conv-time muted small' }, formatRelative(c.updated_at))),
        h('div', { class: 'conv-actions' },
          button(t('chat.rename_named', { title }), { iconOnly: true, icon: 'edit', kind: 'ghost', small: true, onclick: () => renameConversation(c) }),
          button(t('chat.delete_named', { title }), { iconOnly: true, icon: 'trash', kind: 'ghost', small: true, onclick: () => deleteConversation(c) })));
      convList.appendChild(li);
    }
    convEmpty.hidden = st.convs.length > 0;
    convEmpty.textContent = st.query ? t('chat.search_none') : t('chat.none_yet');
  }

  async function renameConversation(c) {
    const f = field(t('chat.title_label'), { name: 'title', value: c.title || '', maxlength: 200, required: true });
    await openDialog({
      title: t('chat.rename'),
      content: f,
      actions: [{ label: t('common.cancel'), value: 'cancel' }, { label: t('common.save'), value: 'ok', kind: 'primary' }],
      onAction: async () => {
        const title = f.querySelector('input').value.trim();
        if (!title) return false;
        try {
          await api.patch(`/api/conversations/${c.id}`, { title });
        } catch (e) { toast(e.message, 'error'); return false; }
        c.title = title;
        if (st.current && st.current.id === c.id) { st.current.title = title; showTitle(); }
        renderConvList();
        toast(t('chat.renamed'));
        return true;
      },
    });
  }

  async function deleteConversation(c) {
    const ok = await confirmDialog(t('chat.delete'), t('chat.delete_confirm', { title: c.title || t('chat.untitled') }), t('common.delete'));
    if (!ok) return;
    try {
      await api.del(`/api/conversations/${c.id}`);
    } catch (e) { toast(e.message, 'error'); return; }
    st.convs = st.convs.filter((x) => x.id !== c.id);
    toast(t('chat.deleted'));
    if (st.current && st.current.id === c.id) ctx.navigate('#/');
    else renderConvList();
  }

  // ---------------------------------------------------------------- models
  async function loadModels() {
    try {
      const res = await api.get('/api/models');
      st.models = (res && res.models) || [];
      st.hint = (res && res.hint) || '';
    } catch (e) {
      st.models = [];
      st.hint = e.message;
    }
    st.modelsLoaded = true;
    renderModelSelect();
  }

  function modelName(id) {
    const m = st.models.find((x) => x.id === id);
    return m ? (m.name || m.id) : (id || t('chat.unknown_model'));
  }

  function preferredModel() {
    let saved = null;
    try { saved = localStorage.getItem('rathaus.model'); } catch { /* ignore */ }
    const avail = st.models.filter((m) => m.available !== false);
    if (saved && avail.some((m) => m.id === saved)) return saved;
    return avail.length ? avail[0].id : '';
  }

  function renderModelSelect() {
    clear(modelSelect);
    const groups = { local: [], upstream: [] };
    for (const m of st.models) (m.source === 'upstream' ? groups.upstream : groups.local).push(m);
    const opt = (m) => h('option', { value: m.id, disabled: m.available === false },
      (m.name || m.id) + (m.available === false ? ' – ' + t('chat.model_unavailable') : ''));
    if (groups.local.length && groups.upstream.length) {
      modelSelect.append(
        h('optgroup', { label: t('chat.models_local') }, groups.local.map(opt)),
        h('optgroup', { label: t('chat.models_upstream') }, groups.upstream.map(opt)));
    } else {
      modelSelect.append(...st.models.map(opt));
    }
    const want = st.current && st.current.model ? st.current.model : preferredModel();
    if (want && !st.models.some((m) => m.id === want)) {
      modelSelect.append(h('option', { value: want, disabled: true }, want + ' – ' + t('chat.model_unavailable')));
    }
    modelSelect.value = want;
    modelBox.hidden = st.models.length === 0;
    updateComposerState();
    if (!st.current) renderMessages();
  }

  modelSelect.addEventListener('change', async () => {
    const id = modelSelect.value;
    try { localStorage.setItem('rathaus.model', id); } catch { /* ignore */ }
    if (st.current) {
      try {
        await api.patch(`/api/conversations/${st.current.id}`, { model: id });
        st.current.model = id;
        announce(t('chat.model_changed', { name: modelName(id) }));
      } catch (e) { toast(e.message, 'error'); }
    }
  });

  function noModels() { return st.modelsLoaded && !st.models.some((m) => m.available !== false); }

  // ---------------------------------------------------------------- system prompt
  async function saveSystemPrompt() {
    const value = sysText.value;
    if (!st.current) {
      st.draftSystem = value;
      sysState.textContent = t('chat.system_saved_draft');
      return;
    }
    try {
      await api.patch(`/api/conversations/${st.current.id}`, { system_prompt: value });
      st.current.system_prompt = value;
      sysState.textContent = t('chat.system_saved');
    } catch (e) { toast(e.message, 'error'); }
  }

  // ---------------------------------------------------------------- export
  // Downloads the conversation as a Markdown file (built locally, no request).
  function exportConversation() {
    const c = st.current;
    if (!c) return;
    const lines = [`# ${c.title || t('chat.untitled')}`, ''];
    if (c.system_prompt) lines.push(`> ${t('chat.system_prompt')}: ${c.system_prompt.replace(/\n/g, ' ')}`, '');
    for (const m of c.messages || []) {
      if (m.role === 'user') lines.push(`## ${t('chat.your_message')}`, '', m.content, '');
      else lines.push(`## ${t('chat.answer_from', { name: modelName(m.model) })} (${t('chat.ai_generated')})`, '', m.content, '');
    }
    const blob = new Blob([lines.join('\n')], { type: 'text/markdown;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const safe = (c.title || 'unterhaltung').replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-|-$/g, '').slice(0, 60) || 'unterhaltung';
    const a = h('a', { href: url, download: safe + '.md', class: 'offscreen' });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---------------------------------------------------------------- messages
  function showTitle() {
    const title = st.current ? (st.current.title || t('chat.untitled')) : t('chat.new');
    titleEl.textContent = title;
    exportBtn.hidden = !st.current;
    ctx.setTitle(title);
  }

  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM;
  }
  function scrollToBottom() { scroller.scrollTop = scroller.scrollHeight; toEnd.hidden = true; }

  function renderMessages() {
    // a whole conversation drawn at once is not news: keep the live region
    // quiet for this redraw (only finished answers are announced)
    messages.setAttribute('aria-live', 'off');
    setTimeout(() => messages.setAttribute('aria-live', 'polite'), 0);
    clear(messages);
    if (!st.current || !st.current.messages || st.current.messages.length === 0) {
      messages.appendChild(emptyState());
      return;
    }
    const msgs = st.current.messages;
    const lastUser = findLast(msgs, 'user');
    const lastAssistant = findLast(msgs, 'assistant');
    msgs.forEach((m, i) => {
      messages.appendChild(m.role === 'user'
        ? userMessage(m, i === lastUser)
        : assistantMessage(m, i === lastAssistant && i === msgs.length - 1));
    });
    scrollToBottom();
  }

  function findLast(msgs, role) {
    for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i].role === role) return i;
    return -1;
  }

  function emptyState() {
    if (st.blocked) {
      return h('div', { class: 'empty-state' },
        icon('badge'),
        h('h2', null, t('academy.title')),
        h('p', null, st.blocked),
        h('p', null, h('a', { class: 'btn btn-primary', href: '#/academy' }, t('academy.go'))));
    }
    if (noModels()) {
      return h('div', { class: 'empty-state' },
        icon('info'),
        h('h2', null, t('chat.no_models_title')),
        h('p', null, st.hint || t('chat.no_models_hint')),
        ctx.isAdmin() ? h('p', null, h('a', { href: '#/admin/status' }, t('chat.no_models_admin_link'))) : null);
    }
    return h('div', { class: 'empty-state' },
      h('span', { class: 'brand-logo brand-logo-large', 'aria-hidden': 'true' }),
      h('h2', null, t('chat.welcome_title')),
      h('p', { class: 'muted' }, t('chat.welcome_text')),
      h('p', { class: 'muted small' }, t('chat.ai_notice')));
  }

  function userMessage(m, editable) {
    const body = h('div', { class: 'msg-body msg-text' }, m.content);
    const art = h('article', { class: 'msg msg-user', 'aria-label': t('chat.your_message') },
      h('h2', { class: 'visually-hidden' }, t('chat.your_message')),
      body);
    if (editable) {
      art.appendChild(h('div', { class: 'msg-actions' },
        button(t('chat.edit'), { small: true, kind: 'ghost', icon: 'edit', onclick: () => editLast(art, m) })));
    }
    return art;
  }

  function assistantMeta(modelId, streaming) {
    return h('div', { class: 'msg-meta' },
      h('span', { class: 'ai-badge' }, icon('spark'), t('chat.ai_generated')),
      h('span', { class: 'msg-model muted small' }, t('chat.model_label', { name: modelName(modelId) })),
      streaming ? h('span', { class: 'msg-status muted small' }, t('chat.generating')) : null);
  }

  function finishNote(reason) {
    if (reason === 'length') return h('p', { class: 'msg-note' }, icon('info'), t('chat.finish_length'));
    if (reason === 'cancelled') return h('p', { class: 'msg-note' }, icon('info'), t('chat.finish_cancelled'));
    return null;
  }

  // The academy's reminder on every finished answer that cites no sources
  // (docs/academy.md): models can make up facts -> lesson "halluzinationen".
  function noSourcesHint(m) {
    if (!m.content || m.finish_reason === null || (Array.isArray(m.sources) && m.sources.length)) return null;
    const lesson = (m.hint && m.hint.lesson) || 'halluzinationen';
    return h('p', { class: 'msg-hint' }, icon('info'), h('span', null, t('chat.no_sources_hint') + ' ',
      h('a', { href: `#/academy/lesson/${encodeURIComponent(lesson)}` }, t('chat.no_sources_lesson'))));
  }

  function answerActions(getText, isLast, messageId) {
    return h('div', { class: 'msg-actions' },
      (() => { const b = button(t('chat.copy_answer'), { small: true, kind: 'ghost', icon: 'copy' }); b.addEventListener('click', () => copyWithFeedback(getText(), b)); return b; })(),
      isLast ? button(t('chat.regenerate'), { small: true, kind: 'ghost', icon: 'refresh', class: 'act-regenerate', onclick: () => regenerate() }) : null,
      messageId ? feedbackButtons(messageId) : null);
  }

  function feedbackButtons(id) {
    const up = button(t('chat.feedback_up'), { small: true, kind: 'ghost', icon: 'thumb-up', iconOnly: true });
    const down = button(t('chat.feedback_down'), { small: true, kind: 'ghost', icon: 'thumb-down', iconOnly: true });
    const show = () => {
      const r = st.feedback.get(id);
      up.setAttribute('aria-pressed', String(r === 'up'));
      down.setAttribute('aria-pressed', String(r === 'down'));
    };
    const sendRating = async (rating, comment) => {
      try {
        await api.post(`/api/messages/${id}/feedback`, comment ? { rating, comment } : { rating });
        st.feedback.set(id, rating);
        show();
        toast(t('chat.feedback_thanks'));
      } catch (e) { toast(e.message, 'error'); }
    };
    up.addEventListener('click', () => sendRating('up'));
    down.addEventListener('click', async () => {
      const f = field(t('chat.feedback_comment_label'), { type: 'textarea', name: 'comment', rows: 3, maxlength: 2000 });
      await openDialog({
        title: t('chat.feedback_comment_title'),
        content: f,
        actions: [{ label: t('common.cancel'), value: 'cancel' }, { label: t('chat.feedback_send'), value: 'ok', kind: 'primary' }],
        onAction: async () => { await sendRating('down', f.querySelector('textarea').value.trim()); return true; },
      });
    });
    show();
    return h('span', { class: 'feedback', role: 'group', 'aria-label': t('chat.feedback_up') + ' / ' + t('chat.feedback_down') }, up, down);
  }

  function assistantMessage(m, isLast) {
    const body = h('div', { class: 'msg-body' }, renderMarkdown(m.content || '', mdOpts));
    return h('article', { class: 'msg msg-assistant', 'aria-label': t('chat.answer_from', { name: modelName(m.model) }) },
      h('h2', { class: 'visually-hidden' }, t('chat.answer_from', { name: modelName(m.model) })),
      assistantMeta(m.model, false),
      body,
      sourcesBlock(m),
      finishNote(m.finish_reason),
      noSourcesHint(m),
      m.finish_reason === null && st.current && st.current.running && isLast
        ? h('p', { class: 'msg-note' }, h('span', { class: 'typing', 'aria-hidden': 'true' }, h('span'), h('span'), h('span')), t('chat.running'))
        : null,
      answerActions(() => m.content || '', isLast, m.id));
  }

  // ---------------------------------------------------------------- conversation loading
  async function loadFeedback(id) {
    try {
      const res = await api.get(`/api/conversations/${encodeURIComponent(id)}/feedback`);
      for (const f of (res && res.feedback) || []) st.feedback.set(f.message_id, f.rating);
    } catch { /* feedback is optional */ }
  }

  // An answer that is still being generated (started in another tab or
  // before a reload) is stored as it arrives: poll until it is done.
  function pollRunning() {
    clearTimeout(st.pollTimer);
    if (!st.current || !st.current.running || st.destroyed) return;
    const id = st.current.id;
    st.pollTimer = setTimeout(async () => {
      if (!st.current || st.current.id !== id || st.stream) return;
      try {
        const c = await api.get(`/api/conversations/${encodeURIComponent(id)}`);
        if (!st.current || st.current.id !== id || st.stream || st.destroyed) return;
        st.current = c;
        renderMessages();
        if (!c.running) { loadConversations(); announce(t('chat.answer_done')); }
        pollRunning();
      } catch { /* try again with the next poll */ pollRunning(); }
    }, 1500);
  }

  async function openConversation(id) {
    if (st.stream) stopStream();
    clearTimeout(st.pollTimer);
    clearNotice();
    try {
      st.current = await api.get(`/api/conversations/${encodeURIComponent(id)}`);
    } catch (e) {
      if (e.status === 404) { toast(t('chat.not_found'), 'error'); ctx.navigate('#/'); }
      else if (e.status !== 401) toast(e.message, 'error');
      return;
    }
    if (st.destroyed) return;
    await loadFeedback(id);
    if (st.destroyed) return;
    pollRunning();
    sysText.value = st.current.system_prompt || '';
    sysState.textContent = '';
    sysDetails.open = !!st.current.system_prompt && sysDetails.open;
    showTitle();
    renderModelSelect();
    renderMessages();
    renderConvList();
    updateComposerState();
  }

  function newConversation() {
    if (st.stream) stopStream();
    setSidebar(false);
    if (location.hash !== '#/' && location.hash !== '') ctx.navigate('#/');
    else resetToNew();
    input.focus();
  }

  function resetToNew() {
    clearTimeout(st.pollTimer);
    st.current = null;
    sysText.value = st.draftSystem;
    sysState.textContent = '';
    clearNotice();
    showTitle();
    renderModelSelect();
    renderMessages();
    renderConvList();
    updateComposerState();
  }

  // ---------------------------------------------------------------- composer
  function updateComposerState() {
    const streaming = !!st.stream;
    const blocked = noModels() || !!st.blocked;
    sendBtn.hidden = streaming;
    stopBtn.hidden = !streaming;
    sendBtn.disabled = blocked || !!st.piiBlock;
    input.disabled = blocked;
    input.placeholder = st.blocked ? '' : blocked ? t('chat.input_no_model') : t('chat.input_placeholder');
    messages.setAttribute('aria-busy', String(streaming));
    for (const b of messages.querySelectorAll('.act-regenerate, .msg-user .msg-actions button')) b.disabled = streaming;
  }

  function autoGrow() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 240) + 'px';
  }
  input.addEventListener('input', autoGrow);

  // ---------------------------------------------------------------- personal data
  let piiTimer = 0;
  input.addEventListener('input', () => {
    clearTimeout(piiTimer);
    piiTimer = setTimeout(checkPii, 700);
  });

  async function checkPii() {
    if (st.piiOff) return;
    const text = input.value;
    const seq = ++st.piiSeq;
    if (text.trim().length < 6) { showPii(null); return; }
    let res;
    try {
      res = await api.post('/api/pii-check', { text });
    } catch (e) {
      if (e.status === 404 || e.status === 405) st.piiOff = true;   // server without the check
      return;
    }
    if (seq !== st.piiSeq || st.destroyed) return;                  // an older answer
    if (!res || res.mode === 'off') { st.piiOff = res && res.mode === 'off'; showPii(null); return; }
    showPii(res.findings && res.findings.length ? res : null);
  }

  function showPii(res) {
    clear(piiNotice);
    st.piiBlock = !!(res && res.mode === 'block');
    if (!res) { piiNotice.hidden = true; sendBtn.disabled = noModels() || !!st.blocked; return; }
    const kinds = [...new Set(res.findings.map((f) => f.kind))].map((k) => { const key = 'pii.' + k; const v = t(key); return v === key ? k : v; });
    piiNotice.append(
      h('p', null, h('strong', null, t('chat.pii_title') + ': '), res.message || ''),
      h('p', { class: 'small' }, t('chat.pii_kinds', { kinds: kinds.join(', ') }), ' · ',
        h('a', { href: `#/academy/lesson/${encodeURIComponent(res.lesson || 'datenschutz')}` }, t('chat.pii_lesson'))));
    piiNotice.classList.toggle('notice-error', st.piiBlock);
    piiNotice.classList.toggle('notice-warning', !st.piiBlock);
    piiNotice.hidden = false;
    if (st.piiBlock) sendBtn.disabled = true;
  }
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (st.stream || st.piiBlock) return;
    const text = input.value.trim();
    if (!text) { input.focus(); return; }
    send(text, 'new');
  });

  function clearNotice() { clear(notice); notice.hidden = true; }

  function showBusyNotice(err, retry) {
    clear(notice);
    notice.className = 'composer-notice notice notice-warning';
    notice.setAttribute('role', 'alert');
    const wait = err.retryAfter ? ' ' + t('chat.retry_after', { seconds: err.retryAfter }) : '';
    notice.append(
      h('p', null, (err.message || t('chat.busy')) + wait),
      h('div', { class: 'row' },
        button(t('chat.retry'), { kind: 'primary', small: true, icon: 'refresh', onclick: () => { clearNotice(); retry(); } }),
        button(t('common.close'), { kind: 'ghost', small: true, onclick: () => clearNotice() })));
    notice.hidden = false;
  }

  function showErrorNotice(msg, lesson) {
    clear(notice);
    notice.className = 'composer-notice notice notice-error';
    notice.setAttribute('role', 'alert');
    notice.append(h('p', null, msg),
      h('div', { class: 'row' },
        lesson ? h('a', { href: `#/academy/lesson/${lesson}` }, t('chat.pii_lesson')) : null,
        button(t('common.close'), { kind: 'ghost', small: true, onclick: () => clearNotice() })));
    notice.hidden = false;
  }

  async function ensureConversation(firstText) {
    if (st.current) return st.current;
    const body = { title: firstText.split('\n')[0].slice(0, 60) };
    if (modelSelect.value) body.model = modelSelect.value;
    if (sysText.value.trim()) body.system_prompt = sysText.value;
    const conv = await api.post('/api/conversations', body);
    st.current = { ...conv, messages: [] };
    st.draftSystem = '';
    ctx.replaceRoute(`#/c/${conv.id}`);
    showTitle();
    st.convs.unshift({ id: conv.id, title: conv.title, model: conv.model, updated_at: conv.updated_at });
    renderConvList();
    return st.current;
  }

  // mode: 'new' | 'regenerate' | 'edit_last'
  async function send(text, mode) {
    if (st.stream) return;
    clearNotice();
    let conv;
    try {
      conv = await ensureConversation(text);
    } catch (e) {
      if (e.status === 503) showBusyNotice(e, () => send(text, mode));
      else if (e.status !== 401) showErrorNotice(e.message);
      return;
    }
    const msgs = conv.messages;
    const before = msgs.slice();
    if (mode === 'regenerate') {
      if (msgs.length && msgs[msgs.length - 1].role === 'assistant') msgs.pop();
    } else if (mode === 'edit_last') {
      if (msgs.length && msgs[msgs.length - 1].role === 'assistant') msgs.pop();
      if (msgs.length && msgs[msgs.length - 1].role === 'user') msgs.pop();
    }
    if (mode !== 'regenerate') msgs.push({ role: 'user', content: text });
    if (mode === 'new') { input.value = ''; autoGrow(); showPii(null); }
    renderMessages();

    // the answer being written
    const answer = { role: 'assistant', content: '', model: modelSelect.value || conv.model };
    const view = new MarkdownView(mdOpts);
    const status = h('span', { class: 'typing', role: 'img', 'aria-label': t('chat.generating') }, h('span'), h('span'), h('span'));
    const meta = assistantMeta(answer.model, true);
    const body = h('div', { class: 'msg-body' }, view.root, status);
    const art = h('article', { class: 'msg msg-assistant streaming', 'aria-label': t('chat.answer_from', { name: modelName(answer.model) }) },
      h('h2', { class: 'visually-hidden' }, t('chat.answer_from', { name: modelName(answer.model) })), meta, body);
    messages.appendChild(art);
    scrollToBottom();

    const controller = new AbortController();
    const stream = { controller, convId: conv.id, stopped: false };
    st.stream = stream;
    updateComposerState();

    let pending = false;
    const flush = () => {
      pending = false;
      const stick = atBottom();
      view.update(answer.content);
      if (stick) scrollToBottom();
    };
    let finish = null;
    let streamError = null;
    const requestBody = { content: mode === 'regenerate' ? '' : text, mode };
    if (picker.selected().length) requestBody.collections = picker.selected();
    try {
      await streamMessage(conv.id, requestBody, {
        start: (d) => { if (d.model) answer.model = d.model; answer.id = d.assistant_message_id; },
        sources: (d) => { answer.sources = d.sources; answer.no_sources = d.no_sources; answer.hint = d.hint; },
        delta: (d) => {
          if (typeof d.text !== 'string') return;
          if (!answer.content) status.remove();
          answer.content += d.text;
          if (!pending) { pending = true; requestAnimationFrame(flush); }
        },
        done: (d) => { finish = d.finish_reason || 'stop'; },
        error: (d) => { streamError = (d.error && d.error.message) || t('chat.stream_broken'); },
      }, controller.signal);
    } catch (e) {
      if (e.name === 'AbortError') {
        finish = 'cancelled';
      } else {
        // nothing was generated: undo the optimistic messages
        art.remove();
        conv.messages = before;
        st.stream = null;
        renderMessages();
        updateComposerState();
        if (mode === 'new') { input.value = text; autoGrow(); }
        if (e instanceof ApiError && (e.status === 503 || e.status === 429)) showBusyNotice(e, () => send(text, mode));
        else if (e.code === 'level_required' || e.code === 'pii_blocked') showErrorNotice(e.message, e.code === 'pii_blocked' ? 'datenschutz' : '');
        else if (e.status !== 401) showErrorNotice(e.message || t('chat.stream_broken'));
        return;
      }
    }
    if (st.destroyed) return;
    st.stream = null;
    if (!art.isConnected || st.current !== conv) {
      // the user went to another conversation meanwhile
      updateComposerState();
      loadConversations();
      return;
    }
    if (stream.stopped && !finish) finish = 'cancelled';
    answer.finish_reason = finish || (streamError ? 'error' : 'stop');
    view.update(answer.content);
    status.remove();
    msgs.push(answer);
    // replace the streaming element by the final one
    art.classList.remove('streaming');
    const finalEl = assistantMessage(answer, true);
    if (streamError) {
      finalEl.insertBefore(h('div', { class: 'notice notice-error', role: 'alert' },
        h('p', null, streamError),
        button(t('chat.retry'), { small: true, kind: 'primary', icon: 'refresh', onclick: () => regenerate() })), finalEl.querySelector('.msg-actions'));
    }
    const stick = atBottom();
    messages.replaceChild(finalEl, art);
    // older answers lose their "regenerate", the previous question its "edit"
    renderActionsAfterAnswer();
    updateComposerState();
    if (stick) scrollToBottom();
    announce(streamError ? streamError : t('chat.answer_done'));
    if (finish === 'cancelled') announce(t('chat.finish_cancelled'));
    loadConversations();
    if (document.activeElement === document.body || stopBtn.contains(document.activeElement)) input.focus();
  }

  function renderActionsAfterAnswer() {
    // simplest correct way: re-render the action bars by re-rendering all
    // messages except the final answer's markdown (kept)
    const arts = messages.querySelectorAll('article.msg');
    const msgs = st.current.messages;
    const lastUser = findLast(msgs, 'user');
    arts.forEach((a, i) => {
      if (i === arts.length - 1) return;
      const bar = a.querySelector('.msg-actions');
      if (a.classList.contains('msg-assistant')) {
        const regen = bar && bar.querySelector('.act-regenerate');
        if (regen) regen.remove();
      } else if (i !== lastUser && bar) {
        bar.remove();
      }
    });
    const lastUserArt = arts[lastUser];
    if (lastUserArt && !lastUserArt.querySelector('.msg-actions')) {
      const m = msgs[lastUser];
      lastUserArt.appendChild(h('div', { class: 'msg-actions' },
        button(t('chat.edit'), { small: true, kind: 'ghost', icon: 'edit', onclick: () => editLast(lastUserArt, m) })));
    }
  }

  function regenerate() {
    if (st.stream || !st.current) return;
    send('', 'regenerate');
  }

  function editLast(art, m) {
    if (st.stream) return;
    const ta = h('textarea', { class: 'edit-input', rows: 3, 'aria-label': t('chat.edit_label') });
    ta.value = m.content;
    const form = h('form', { class: 'msg-edit' },
      ta,
      h('div', { class: 'row' },
        button(t('chat.edit_send'), { type: 'submit', kind: 'primary', small: true }),
        button(t('common.cancel'), { kind: 'ghost', small: true, onclick: () => { form.replaceWith(body); actions.hidden = false; art.querySelector('button').focus(); } })),
      h('p', { class: 'muted small' }, t('chat.edit_hint')));
    const body = art.querySelector('.msg-body');
    const actions = art.querySelector('.msg-actions');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = ta.value.trim();
      if (!text) { ta.focus(); return; }
      send(text, 'edit_last');
    });
    ta.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); form.querySelector('.btn-ghost').click(); }
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); form.requestSubmit(); }
    });
    body.replaceWith(form);
    if (actions) actions.hidden = true;
    ta.focus();
    ta.setSelectionRange(ta.value.length, ta.value.length);
  }

  function stopStream() {
    const s = st.stream;
    if (!s) return;
    s.stopped = true;
    api.post(`/api/conversations/${s.convId}/stop`).catch(() => { /* closing the stream stops it too */ });
    s.controller.abort();
  }

  // ---------------------------------------------------------------- lifecycle
  async function update(p) {
    const id = p && p.id ? Number(p.id) : null;
    if (id && st.current && st.current.id === id) return;
    setSidebar(false);
    if (id) await openConversation(id);
    else resetToNew();
  }

  (async () => {
    await Promise.all([loadModels(), loadConversations()]);
    if (!st.destroyed) await update(params);
  })();
  showTitle();
  renderMessages();

  return {
    el: root,
    title: t('chat.title'),
    update,
    focus: () => input.focus(),
    destroy: () => { st.destroyed = true; stopStream(); clearTimeout(searchTimer); clearTimeout(piiTimer); clearTimeout(st.pollTimer); },
  };
}
