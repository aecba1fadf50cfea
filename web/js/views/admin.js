// views/admin.js - administration (role admin only; the server enforces it):
// users, groups, models/upstreams status, audit log with paging.
// Sub-pages are links (#/admin/users ...) so each has its own address.

import { api } from '../api.js';
import { t, formatDate, formatBytes, formatNumber } from '../i18n.js';
import { h, clear, field, button, errorBox, openDialog, confirmDialog, toast, icon } from '../dom.js';

const ROLES = ['user', 'trainer', 'admin'];   // as the server knows them (web_role_level)
const TABS = ['users', 'groups', 'status', 'audit'];
const AUDIT_PAGE = 50;

export function adminView(ctx, params) {
  const body = h('div', { class: 'admin-body' });
  const nav = h('nav', { class: 'subnav', 'aria-label': t('admin.sections') }, h('ul'));
  const heading = h('h1', { tabindex: '-1' }, t('admin.title'));
  const root = h('div', { class: 'page page-wide' }, heading, nav, body);
  let tab = null;

  function renderNav() {
    const ul = clear(nav.firstChild);
    for (const name of TABS) {
      ul.appendChild(h('li', null, h('a', {
        href: '#/admin/' + name, 'aria-current': name === tab ? 'page' : undefined,
      }, t('admin.tab_' + name))));
    }
  }

  function update(p) {
    const want = TABS.includes(p && p.tab) ? p.tab : 'users';
    tab = want;
    renderNav();
    // a fresh container per visit: a slow answer for a page that was left
    // meanwhile renders into a detached element instead of the new page
    const el = h('div');
    clear(body).append(el);
    ctx.setTitle(t('admin.tab_' + tab) + ' – ' + t('admin.title'));
    if (tab === 'users') usersPage(el, ctx);
    else if (tab === 'groups') groupsPage(el);
    else if (tab === 'status') statusPage(el);
    else auditPage(el);
  }
  update(params);
  return { el: root, title: t('admin.title'), update };
}

function loading() { return h('p', { class: 'muted', role: 'status' }, t('common.loading')); }
function failed(e) { return h('p', { class: 'notice notice-error', role: 'alert' }, e.message); }

function table(caption, headers, rows) {
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', { class: 'data' },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)));
}

// ------------------------------------------------------------------ users

async function usersPage(el, ctx) {
  el.append(loading());
  let users;
  let groups;
  try {
    [users, groups] = await Promise.all([api.get('/api/admin/users'), api.get('/api/admin/groups')]);
    users = users.users || [];
    groups = groups.groups || [];
  } catch (e) { clear(el).append(failed(e)); return; }
  const groupName = (id) => (groups.find((g) => g.id === id) || { name: '#' + id }).name;
  const me = ctx.user();
  const reload = () => { clear(el); usersPage(el, ctx); };

  const rows = users.map((u) => {
    const self = u.id === me.id;
    return h('tr', { class: u.disabled ? 'is-disabled' : null },
      h('td', null, h('strong', null, u.username), self ? h('span', { class: 'muted small' }, ' (' + t('admin.you') + ')') : null),
      h('td', null, u.display_name || '–'),
      h('td', null, h('span', { class: 'badge' + (u.role === 'admin' ? ' badge-accent' : '') }, t('role.' + u.role))),
      h('td', null, (u.groups || []).map(groupName).join(', ') || '–'),
      h('td', null, u.disabled ? h('span', { class: 'badge badge-danger' }, t('admin.disabled')) : h('span', { class: 'badge badge-ok' }, t('admin.active'))),
      h('td', null, u.last_login_at ? formatDate(u.last_login_at) : t('admin.never')),
      h('td', { class: 'actions' },
        button(t('common.edit'), { small: true, kind: 'ghost', icon: 'edit', ariaLabel: t('admin.edit_user', { name: u.username }), onclick: () => userDialog(u, groups, reload) }),
        self ? null : button(u.disabled ? t('admin.enable') : t('admin.disable'), {
          small: true, kind: 'ghost', ariaLabel: t(u.disabled ? 'admin.enable_named' : 'admin.disable_named', { name: u.username }),
          onclick: async () => {
            if (!u.disabled && !(await confirmDialog(t('admin.disable'), t('admin.disable_confirm', { name: u.username }), t('admin.disable')))) return;
            try { await api.patch(`/api/admin/users/${u.id}`, { disabled: !u.disabled }); toast(t('admin.saved')); reload(); } catch (e) { toast(e.message, 'error'); }
          },
        }),
        self ? null : button(t('common.delete'), {
          small: true, kind: 'danger-ghost', icon: 'trash', ariaLabel: t('admin.delete_named', { name: u.username }),
          onclick: async () => {
            if (!(await confirmDialog(t('admin.delete_user'), t('admin.delete_user_confirm', { name: u.username }), t('common.delete')))) return;
            try { await api.del(`/api/admin/users/${u.id}`); toast(t('admin.deleted')); reload(); } catch (e) { toast(e.message, 'error'); }
          },
        })));
  });

  clear(el).append(
    h('div', { class: 'toolbar' },
      h('h2', null, t('admin.users'), h('span', { class: 'count' }, ' (' + users.length + ')')),
      button(t('admin.new_user'), { kind: 'primary', icon: 'plus', onclick: () => userDialog(null, groups, reload) })),
    table(t('admin.users'), [t('admin.username'), t('admin.display_name'), t('admin.role'), t('admin.groups'), t('admin.status'), t('admin.last_login'),
      h('span', { class: 'visually-hidden' }, t('common.actions'))], rows));
}

function groupCheckboxes(groups, selected) {
  if (!groups.length) return h('p', { class: 'muted small' }, t('admin.no_groups'));
  return h('fieldset', { class: 'checks' },
    h('legend', null, t('admin.groups')),
    groups.map((g) => {
      const id = 'grp-' + g.id;
      return h('div', { class: 'check' },
        h('input', { type: 'checkbox', id, name: 'group', value: String(g.id), checked: selected.includes(g.id) }),
        h('label', { for: id }, g.name));
    }));
}

async function userDialog(user, groups, reload) {
  const err = errorBox();
  const isNew = !user;
  const content = h('div', { class: 'stack' },
    err,
    isNew ? field(t('admin.username'), { name: 'username', required: true, autocomplete: 'off', maxlength: 64 }) : h('p', null, t('admin.username') + ': ', h('strong', null, user.username)),
    field(t('admin.display_name'), { name: 'display_name', value: user ? user.display_name : '', maxlength: 100 }),
    field(t('admin.role'), { name: 'role', type: 'select', value: user ? user.role : 'user', options: ROLES.map((r) => ({ value: r, label: t('role.' + r) })) }),
    groupCheckboxes(groups, user ? user.groups || [] : []),
    field(isNew ? t('admin.password') : t('admin.new_password'), {
      name: 'password', type: 'password', autocomplete: 'new-password', required: isNew,
      help: isNew ? t('setup.password_help') : t('admin.new_password_help'),
    }));
  await openDialog({
    title: isNew ? t('admin.new_user') : t('admin.edit_user', { name: user.username }),
    content,
    actions: [{ label: t('common.cancel'), value: 'cancel' }, { label: isNew ? t('admin.create') : t('common.save'), value: 'ok', kind: 'primary' }],
    onAction: async () => {
      const q = (n) => content.querySelector(`[name="${n}"]`);
      const body = {
        display_name: q('display_name').value.trim(),
        role: q('role').value,
        groups: [...content.querySelectorAll('input[name=group]:checked')].map((c) => Number(c.value)),
      };
      const pw = q('password').value;
      if (isNew) {
        body.username = q('username').value.trim();
        if (!body.username || !pw) { err.show(t('form.fill_required')); return false; }
      }
      if (pw) body.password = pw;
      try {
        if (isNew) await api.post('/api/admin/users', body);
        else await api.patch(`/api/admin/users/${user.id}`, body);
      } catch (e) { err.show(e.message); return false; }
      toast(isNew ? t('admin.user_created') : t('admin.saved'));
      reload();
      return true;
    },
  });
}

// ------------------------------------------------------------------ groups

async function groupsPage(el) {
  el.append(loading());
  let groups;
  try { groups = (await api.get('/api/admin/groups')).groups || []; } catch (e) { clear(el).append(failed(e)); return; }
  const reload = () => { clear(el); groupsPage(el); };
  const nameDialog = async (g) => {
    const err = errorBox();
    const f = field(t('admin.group_name'), { name: 'name', value: g ? g.name : '', required: true, maxlength: 100 });
    await openDialog({
      title: g ? t('admin.rename_group') : t('admin.new_group'),
      content: h('div', { class: 'stack' }, err, f),
      actions: [{ label: t('common.cancel'), value: 'cancel' }, { label: g ? t('common.save') : t('admin.create'), value: 'ok', kind: 'primary' }],
      onAction: async () => {
        const name = f.querySelector('input').value.trim();
        if (!name) { err.show(t('form.fill_required')); return false; }
        try {
          if (g) await api.patch(`/api/admin/groups/${g.id}`, { name });
          else await api.post('/api/admin/groups', { name });
        } catch (e) { err.show(e.message); return false; }
        toast(t('admin.saved'));
        reload();
        return true;
      },
    });
  };
  const rows = groups.map((g) => h('tr', null,
    h('td', null, h('strong', null, g.name)),
    h('td', null, formatNumber(Array.isArray(g.members) ? g.members.length : (g.members || 0))),
    h('td', { class: 'actions' },
      button(t('admin.rename'), { small: true, kind: 'ghost', icon: 'edit', ariaLabel: t('admin.rename_named', { name: g.name }), onclick: () => nameDialog(g) }),
      button(t('common.delete'), {
        small: true, kind: 'danger-ghost', icon: 'trash', ariaLabel: t('admin.delete_named', { name: g.name }),
        onclick: async () => {
          if (!(await confirmDialog(t('admin.delete_group'), t('admin.delete_group_confirm', { name: g.name }), t('common.delete')))) return;
          try { await api.del(`/api/admin/groups/${g.id}`); toast(t('admin.deleted')); reload(); } catch (e) { toast(e.message, 'error'); }
        },
      }))));
  clear(el).append(
    h('div', { class: 'toolbar' },
      h('h2', null, t('admin.groups'), h('span', { class: 'count' }, ' (' + groups.length + ')')),
      button(t('admin.new_group'), { kind: 'primary', icon: 'plus', onclick: () => nameDialog(null) })),
    groups.length
      ? table(t('admin.groups'), [t('admin.group_name'), t('admin.members'), h('span', { class: 'visually-hidden' }, t('common.actions'))], rows)
      : h('p', { class: 'muted' }, t('admin.no_groups')));
}

// ------------------------------------------------------------------ status

async function statusPage(el) {
  el.append(loading());
  let s;
  try { s = await api.get('/api/admin/status'); } catch (e) { clear(el).append(failed(e)); return; }
  const models = s.models || [];
  const ups = s.upstreams || [];
  const q = s.queue || {};
  const health = (ok) => h('span', { class: 'badge ' + (ok ? 'badge-ok' : 'badge-danger') }, icon(ok ? 'check' : 'warning'), ok ? t('admin.healthy') : t('admin.unhealthy'));
  clear(el).append(
    h('div', { class: 'toolbar' },
      h('h2', null, t('admin.tab_status')),
      button(t('admin.refresh'), { kind: 'secondary', icon: 'refresh', onclick: () => { clear(el); statusPage(el); } })),
    h('div', { class: 'stats' },
      stat(t('admin.queue'), `${formatNumber(q.length || 0)} / ${formatNumber(q.max || 0)}`),
      stat(t('admin.streams'), formatNumber(s.streams || 0)),
      stat(t('admin.models'), formatNumber(models.length)),
      stat(t('admin.version'), s.version || '–')),
    h('h3', null, t('admin.models')),
    models.length
      ? table(t('admin.models'), [t('admin.model_name'), t('admin.source'), t('admin.size'), t('admin.quant'), t('admin.context'), t('admin.status')],
        models.map((m) => h('tr', null,
          h('td', null, h('strong', null, m.name || m.id), m.name && m.name !== m.id ? h('div', { class: 'muted small' }, m.id) : null),
          h('td', null, m.source === 'upstream' ? t('admin.source_upstream') : t('admin.source_local')),
          h('td', null, formatBytes(m.size_bytes)),
          h('td', null, m.quantization || '–'),
          h('td', null, m.context_length ? formatNumber(m.context_length) : '–'),
          h('td', null, health(m.available !== false)))))
      : h('div', { class: 'notice notice-info' }, h('p', null, t('admin.no_models'))),
    h('h3', null, t('admin.upstreams')),
    ups.length
      ? table(t('admin.upstreams'), [t('admin.upstream_name'), t('admin.url'), t('admin.status'), t('admin.last_error'), t('admin.models')],
        ups.map((u) => h('tr', null,
          h('td', null, h('strong', null, u.name)),
          h('td', null, h('code', null, u.url || '')),
          h('td', null, health(!!u.healthy)),
          h('td', null, u.last_error || '–'),
          h('td', null, (u.models || []).map((m) => (typeof m === 'object' ? m.name || m.id : String(m))).join(', ') || '–'))))
      : h('p', { class: 'muted' }, t('admin.no_upstreams')));
}

function stat(label, value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label muted small' }, label));
}

// ------------------------------------------------------------------ audit

async function auditPage(el, before = null, history = []) {
  el.append(loading());
  let entries;
  const qs = `?limit=${AUDIT_PAGE}` + (before ? `&before=${encodeURIComponent(before)}` : '');
  try { entries = (await api.get('/api/admin/audit' + qs)).entries || []; } catch (e) { clear(el).append(failed(e)); return; }
  const go = (b, hist) => { clear(el); auditPage(el, b, hist); };
  const older = entries.length === AUDIT_PAGE ? entries[entries.length - 1].id : null;
  const pageNo = history.length + 1;
  clear(el).append(
    h('div', { class: 'toolbar' },
      h('h2', null, t('admin.tab_audit')),
      button(t('admin.refresh'), { kind: 'secondary', icon: 'refresh', onclick: () => go(null, []) })),
    entries.length
      ? table(t('admin.tab_audit'), [t('admin.time'), t('admin.actor'), t('admin.action'), t('admin.target'), t('admin.detail'), t('admin.ip')],
        entries.map((e) => h('tr', null,
          h('td', { class: 'nowrap' }, formatDate(e.time)),
          h('td', null, e.actor || '–'),
          h('td', null, h('code', null, e.action || '')),
          h('td', null, e.target || '–'),
          h('td', { class: 'wrap' }, e.detail || ''),
          h('td', null, e.ip || ''))))
      : h('p', { class: 'muted' }, t('admin.audit_empty')),
    h('nav', { class: 'pager', 'aria-label': t('admin.paging') },
      button(t('admin.newer'), { kind: 'secondary', small: true, disabled: history.length === 0, onclick: () => { const hist = history.slice(0, -1); go(history[history.length - 1], hist); } }),
      h('span', { class: 'muted small' }, t('admin.page', { n: pageNo })),
      button(t('admin.older'), { kind: 'secondary', small: true, disabled: !older, onclick: () => go(older, [...history, before]) })));
}
