// views/account.js - the user's own pages: settings (display name, language,
// password) and API keys (create - shown once -, list, revoke).

import { api } from '../api.js';
import { t, formatDate, languages } from '../i18n.js';
import { h, clear, field, button, errorBox, confirmDialog, toast, copyWithFeedback } from '../dom.js';

function page(title, intro, ...sections) {
  return h('div', { class: 'page' },
    h('h1', { tabindex: '-1' }, title),
    intro ? h('p', { class: 'muted lead' }, intro) : null,
    sections);
}

// The session lists group ids (names only when the server sends objects).
function groupText(groups) {
  if (!groups.length) return '–';
  if (groups.every((g) => g && typeof g === 'object' && g.name)) return groups.map((g) => g.name).join(', ');
  return t('settings.groups_count', { n: groups.length });
}

export function settingsView(ctx) {
  const user = ctx.user();

  // profile
  const profErr = errorBox();
  const langOptions = languages.map((l) => ({ value: l, label: t('lang.' + l) }));
  const profile = h('form', { class: 'card stack', novalidate: true },
    h('h2', null, t('settings.profile')),
    profErr,
    field(t('settings.display_name'), { name: 'display_name', value: user.display_name || '', autocomplete: 'name', maxlength: 100 }),
    field(t('settings.language'), { name: 'lang', type: 'select', options: langOptions, value: ctx.lang() }),
    h('div', { class: 'row' }, button(t('common.save'), { type: 'submit', kind: 'primary' })));
  profile.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = profile.elements;
    profErr.show('');
    try {
      await api.patch('/api/me', { display_name: f.display_name.value.trim(), lang: f.lang.value });
      await ctx.refreshSession();
      if (f.lang.value !== ctx.lang()) await ctx.setLanguage(f.lang.value, false);
      toast(t('settings.saved'));
    } catch (e) { profErr.show(e.message); }
  });

  // password
  const pwErr = errorBox();
  const pw = h('form', { class: 'card stack', novalidate: true },
    h('h2', null, t('settings.password')),
    pwErr,
    field(t('settings.old_password'), { name: 'old', type: 'password', autocomplete: 'current-password', required: true }),
    field(t('settings.new_password'), { name: 'new1', type: 'password', autocomplete: 'new-password', required: true, help: t('setup.password_help') }),
    field(t('settings.new_password_repeat'), { name: 'new2', type: 'password', autocomplete: 'new-password', required: true }),
    h('div', { class: 'row' }, button(t('settings.password_submit'), { type: 'submit', kind: 'primary' })));
  pw.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = pw.elements;
    if (!f.old.value || !f.new1.value) { pwErr.show(t('form.fill_required')); return; }
    if (f.new1.value !== f.new2.value) { pwErr.show(t('setup.password_mismatch')); f.new2.focus(); return; }
    pwErr.show('');
    try {
      await api.post('/api/password', { old_password: f.old.value, new_password: f.new1.value });
      pw.reset();
      toast(t('settings.password_changed'));
    } catch (e) { pwErr.show(e.message); }
  });

  const info = h('div', { class: 'card stack' },
    h('h2', null, t('settings.account')),
    h('dl', { class: 'facts' },
      h('dt', null, t('settings.username')), h('dd', null, user.username),
      h('dt', null, t('settings.role')), h('dd', null, t('role.' + user.role)),
      h('dt', null, t('settings.groups')), h('dd', null, groupText(user.groups || []))));

  return { el: page(t('settings.title'), null, h('div', { class: 'grid-2' }, profile, pw, info)), title: t('settings.title') };
}

export function keysView() {
  const list = h('div', { class: 'table-wrap' });
  const created = h('div', { class: 'key-created', hidden: true, tabindex: '-1' });
  const err = errorBox();

  const form = h('form', { class: 'card stack', novalidate: true },
    h('h2', null, t('keys.create')),
    err,
    field(t('keys.name'), { name: 'name', maxlength: 100, required: true, help: t('keys.name_help') }),
    h('div', { class: 'row' }, button(t('keys.create_submit'), { type: 'submit', kind: 'primary', icon: 'plus' })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = form.elements.name.value.trim();
    if (!name) { err.show(t('form.fill_required')); return; }
    err.show('');
    try {
      const res = await api.post('/api/keys', { name });
      form.reset();
      showCreated(name, res.key);
      load();
    } catch (e) { err.show(e.message); }
  });

  function showCreated(name, key) {
    clear(created);
    const code = h('code', { class: 'key-value' }, key);
    const copy = button(t('common.copy'), { kind: 'primary', small: true, icon: 'copy' });
    copy.addEventListener('click', () => copyWithFeedback(key, copy));
    created.append(
      h('h2', null, t('keys.created_title', { name })),
      h('p', null, h('strong', null, t('keys.created_once'))),
      h('div', { class: 'key-box' }, code, copy),
      h('p', { class: 'muted small' }, t('keys.usage')),
      button(t('keys.created_done'), { kind: 'secondary', small: true, onclick: () => { created.hidden = true; clear(created); } }));
    created.hidden = false;
    created.className = 'key-created notice notice-success';
    created.focus();
  }

  async function load() {
    let keys;
    try {
      keys = (await api.get('/api/keys')).keys || [];
    } catch (e) {
      clear(list).append(h('p', { class: 'notice notice-error' }, e.message));
      return;
    }
    clear(list);
    if (!keys.length) { list.append(h('p', { class: 'muted' }, t('keys.none'))); return; }
    list.append(h('table', { class: 'data' },
      h('caption', { class: 'visually-hidden' }, t('keys.list')),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('keys.name')), h('th', { scope: 'col' }, t('keys.prefix')),
        h('th', { scope: 'col' }, t('keys.created_at')), h('th', { scope: 'col' }, t('keys.last_used')),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('common.actions'))))),
      h('tbody', null, keys.map((k) => h('tr', null,
        h('td', null, k.name), h('td', null, h('code', null, k.prefix + '…')),
        h('td', null, formatDate(k.created_at)), h('td', null, k.last_used_at ? formatDate(k.last_used_at) : t('keys.never')),
        h('td', { class: 'actions' }, button(t('keys.revoke'), {
          small: true, kind: 'danger-ghost', icon: 'trash', ariaLabel: t('keys.revoke_named', { name: k.name }),
          onclick: async () => {
            if (!(await confirmDialog(t('keys.revoke'), t('keys.revoke_confirm', { name: k.name }), t('keys.revoke')))) return;
            try { await api.del(`/api/keys/${k.id}`); toast(t('keys.revoked')); load(); } catch (e) { toast(e.message, 'error'); }
          },
        })))))));
  }
  load();

  return {
    el: page(t('keys.title'), t('keys.intro'), created, form,
      h('section', { class: 'card', 'aria-labelledby': 'keys-list-h' }, h('h2', { id: 'keys-list-h' }, t('keys.list')), list)),
    title: t('keys.title'),
  };
}
