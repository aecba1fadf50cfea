// views/auth.js - first-run set-up (create the first administrator) and login.

import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, field, button, errorBox } from '../dom.js';

function card(ctx, titleKey, introKey, form) {
  return h('div', { class: 'auth' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'auth-brand' }, h('span', { class: 'brand-logo', 'aria-hidden': 'true' }),
        h('span', { class: 'brand-name' }, 'rathaus'), h('span', { class: 'brand-sub' }, t('app.tagline'))),
      h('h1', { tabindex: '-1' }, t(titleKey)),
      introKey ? h('p', { class: 'muted' }, t(introKey)) : null,
      form),
    h('div', { class: 'auth-foot' }, ctx.langSwitch()));
}

export function setupView(ctx) {
  const err = errorBox();
  const form = h('form', { class: 'stack', novalidate: true },
    err,
    field(t('setup.display_name'), { name: 'display_name', autocomplete: 'name', required: true, maxlength: 100 }),
    field(t('setup.username'), { name: 'username', autocomplete: 'username', required: true, maxlength: 64, help: t('setup.username_help') }),
    field(t('setup.password'), { name: 'password', type: 'password', autocomplete: 'new-password', required: true, help: t('setup.password_help') }),
    field(t('setup.password_repeat'), { name: 'password2', type: 'password', autocomplete: 'new-password', required: true }),
    button(t('setup.submit'), { type: 'submit', kind: 'primary', class: 'btn-block' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const username = f.username.value.trim();
    const display = f.display_name.value.trim();
    if (!username || !display || !f.password.value) { err.show(t('form.fill_required')); return; }
    if (f.password.value !== f.password2.value) { err.show(t('setup.password_mismatch')); f.password2.focus(); return; }
    err.show('');
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    try {
      await api.post('/api/setup', { username, password: f.password.value, display_name: display });
      await ctx.refreshSession();
      ctx.navigate('#/');
    } catch (e) {
      err.show(e.message);
    } finally {
      submit.disabled = false;
    }
  });
  return { el: card(ctx, 'setup.title', 'setup.intro', form), title: t('setup.title') };
}

export function loginView(ctx) {
  const err = errorBox();
  const form = h('form', { class: 'stack', novalidate: true },
    err,
    field(t('login.username'), { name: 'username', autocomplete: 'username', required: true }),
    field(t('login.password'), { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    button(t('login.submit'), { type: 'submit', kind: 'primary', class: 'btn-block' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    if (!f.username.value.trim() || !f.password.value) { err.show(t('form.fill_required')); return; }
    err.show('');
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    try {
      await api.post('/api/login', { username: f.username.value.trim(), password: f.password.value });
      await ctx.refreshSession();
      ctx.navigate(ctx.takeReturnRoute() || '#/');
    } catch (e) {
      err.show(e.status === 401 && !e.message ? t('login.failed') : e.message);
      f.password.value = '';
      f.password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return {
    el: card(ctx, 'login.title', ctx.expired ? 'login.expired' : null, form),
    title: t('login.title'),
    focus: () => form.elements.username.focus(),
  };
}
