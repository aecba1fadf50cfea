// dom.js - small DOM helpers shared by all views: h() builds elements
// (never from HTML strings), icons, modal dialogs on <dialog>, the status
// announcer/toasts and copying to the clipboard.

import { t } from './i18n.js';

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'required', 'selected', 'readOnly', 'multiple', 'open']);

/**
 * h('button', {class: 'btn', onclick: fn, 'aria-label': 'x'}, 'Text', child)
 * Attributes starting with "on" and holding functions become listeners;
 * children may be strings, nodes, arrays, null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) el[k] = v;
      else if (k === 'style' || k === 'innerHTML') throw new Error('h(): ' + k + ' not allowed');
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (typeof c === 'string' || typeof c === 'number') el.appendChild(document.createTextNode(String(c)));
    else el.appendChild(c);
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** A decorative icon (CSS mask from /icons/NAME.svg, coloured like the text). */
export function icon(name) {
  return h('span', { class: `icon icon-${name}`, 'aria-hidden': 'true' });
}

/** A button with icon and label; iconOnly keeps the label for screen readers only. */
export function button(label, opts = {}) {
  const cls = ['btn'];
  if (opts.kind) cls.push('btn-' + opts.kind);
  if (opts.small) cls.push('btn-small');
  if (opts.iconOnly) cls.push('btn-icon');
  if (opts.class) cls.push(opts.class);
  return h('button', {
    type: opts.type || 'button',
    class: cls.join(' '),
    onclick: opts.onclick,
    disabled: opts.disabled,
    title: opts.iconOnly ? label : opts.title,
    'aria-label': opts.iconOnly ? label : opts.ariaLabel,
    'aria-expanded': opts.expanded,
    'aria-controls': opts.controls,
  }, opts.icon ? icon(opts.icon) : null, h('span', { class: opts.iconOnly ? 'visually-hidden' : 'btn-label' }, label));
}

let idCounter = 0;
export function uid(prefix = 'id') { idCounter += 1; return `${prefix}-${idCounter}`; }

/** A labelled form field. type 'textarea' | 'select' | input types. */
export function field(label, opts = {}) {
  const id = opts.id || uid('f');
  let control;
  if (opts.type === 'textarea') {
    control = h('textarea', { id, name: opts.name, rows: opts.rows || 4, required: opts.required, maxlength: opts.maxlength });
    control.value = opts.value ?? '';
  } else if (opts.type === 'select') {
    control = h('select', { id, name: opts.name, required: opts.required },
      (opts.options || []).map((o) => h('option', { value: o.value, selected: o.value === opts.value }, o.label)));
  } else {
    control = h('input', {
      id, name: opts.name, type: opts.type || 'text', required: opts.required,
      autocomplete: opts.autocomplete, minlength: opts.minlength, maxlength: opts.maxlength,
      value: opts.value ?? '', autocapitalize: opts.type === 'password' || opts.name === 'username' ? 'off' : undefined,
      spellcheck: opts.name === 'username' ? 'false' : undefined,
      'aria-describedby': opts.help ? id + '-help' : undefined,
    });
  }
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    opts.help ? h('p', { class: 'field-help', id: id + '-help' }, opts.help) : null);
}

/** An error box inside forms (role=alert so it is read out). */
export function errorBox() {
  const box = h('div', { class: 'notice notice-error', role: 'alert', hidden: true });
  box.show = (msg) => { box.textContent = msg; box.hidden = !msg; };
  return box;
}

// ------------------------------------------------------------ dialogs

/**
 * Opens a modal dialog. content: nodes; actions: [{label, kind, value}]
 * (value 'cancel' closes). Escape closes (native <dialog>), focus returns
 * to the element that opened it. Resolves with the clicked value.
 * onAction(value, dialog) may return false to keep the dialog open.
 */
export function openDialog({ title, content, actions, onAction, wide }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = uid('dlg');
    const dialog = h('dialog', { class: 'dialog' + (wide ? ' dialog-wide' : ''), 'aria-labelledby': titleId });
    const form = h('form', { method: 'dialog', class: 'dialog-form', novalidate: false });
    const foot = h('div', { class: 'dialog-actions' });
    let result = 'cancel';
    for (const a of actions) {
      const b = button(a.label, { kind: a.kind, type: a.value === 'cancel' ? 'button' : 'submit' });
      if (a.value === 'cancel') b.addEventListener('click', () => dialog.close());
      else b.value = a.value;
      foot.appendChild(b);
    }
    form.append(
      h('div', { class: 'dialog-head' },
        h('h2', { id: titleId }, title),
        button(t('common.close'), { iconOnly: true, icon: 'close', kind: 'ghost', onclick: () => dialog.close() })),
      h('div', { class: 'dialog-body' }, content),
      foot);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const value = (ev.submitter && ev.submitter.value) || (actions.find((a) => a.value !== 'cancel') || {}).value;
      if (onAction) {
        const buttons = foot.querySelectorAll('button');
        buttons.forEach((b) => { b.disabled = true; });
        let keep = false;
        try { keep = (await onAction(value, dialog)) === false; } finally { buttons.forEach((b) => { b.disabled = false; }); }
        if (keep) return;
      }
      result = value;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      else {
        // the opener was re-rendered meanwhile: do not leave focus on <body>
        const h1 = document.querySelector('main h1');
        if (h1) h1.focus();
      }
      resolve(result);
    });
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    dialog.showModal();
    const first = dialog.querySelector('.dialog-body input, .dialog-body textarea, .dialog-body select');
    (first || foot.querySelector('button[type=submit]') || foot.querySelector('button')).focus();
  });
}

/** Yes/no question. Resolves true when confirmed. */
export async function confirmDialog(title, message, confirmLabel, danger = true) {
  const v = await openDialog({
    title,
    content: h('p', null, message),
    actions: [
      { label: t('common.cancel'), value: 'cancel' },
      { label: confirmLabel, value: 'ok', kind: danger ? 'danger' : 'primary' },
    ],
  });
  return v === 'ok';
}

// ------------------------------------------------------------ announcements

let statusRegion = null;
let toastHost = null;

export function initAnnouncer() {
  statusRegion = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  toastHost = h('div', { class: 'toasts' });
  document.body.append(statusRegion, toastHost);
}

/** Reads a message to screen readers without showing anything. */
export function announce(msg) {
  if (!statusRegion) return;
  statusRegion.textContent = '';
  setTimeout(() => { statusRegion.textContent = msg; }, 50);
}

/** A short visible message at the bottom (also announced). */
export function toast(msg, kind = 'info') {
  if (!toastHost) return;
  const el = h('div', { class: 'toast toast-' + kind }, msg);
  toastHost.appendChild(el);
  while (toastHost.children.length > 3) toastHost.firstChild.remove();
  announce(msg);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

// ------------------------------------------------------------ clipboard

export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* fall back below */ }
  const ta = h('textarea', { class: 'offscreen', readonly: 'readonly', 'aria-hidden': 'true' });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

/** Copies and gives feedback on the button itself ("Kopiert"). */
export async function copyWithFeedback(text, btn) {
  const ok = await copyText(text);
  const label = btn.querySelector('.btn-label, .visually-hidden');
  const old = label ? label.textContent : '';
  const msg = ok ? t('common.copied') : t('common.copy_failed');
  if (label) label.textContent = msg;
  btn.classList.add(ok ? 'is-done' : 'is-failed');
  announce(msg);
  setTimeout(() => {
    if (label) label.textContent = old;
    btn.classList.remove('is-done', 'is-failed');
  }, 2000);
}
