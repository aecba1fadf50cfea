// smoke-real.mjs - walks the web UI of a running rathaus server in headless
// chromium and reports script errors and CSP violations per page.
//
//   node tests/ui/smoke-real.mjs http://127.0.0.1:8080 USER PASSWORD [SHOTDIR]
//
// If the server still needs set-up, the first administrator USER/PASSWORD is
// created. Then chat, settings, API keys and (for admins) every
// administration page are opened; with SHOTDIR a screenshot of each is saved.
// One message is sent when a model is available. Exit code 1 on problems.

import path from 'node:path';
import { launch } from './cdp.mjs';

const [base, user, pass, shots] = process.argv.slice(2);
if (!base || !user || !pass) {
  console.error('usage: node tests/ui/smoke-real.mjs URL USER PASSWORD [SHOTDIR]');
  process.exit(2);
}

const HELPERS = `
window.$ = (s) => document.querySelector(s);
window.$$ = (s) => [...document.querySelectorAll(s)];
window.setValue = (sel, v) => { const e = $(sel); e.value = v; e.dispatchEvent(new Event('input', { bubbles: true })); };
true`;

const problems = [];
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(base + '/');
  await page.eval(HELPERS);
  await page.waitFor(`$('h1')`, 10000);
  const hash = await page.eval('location.hash');
  if (hash === '#/setup' || (await page.eval(`!!$('input[name=password2]')`))) {
    console.log('set-up: creating the first administrator', user);
    await page.eval(`setValue('input[name=display_name]', ${JSON.stringify(user)}); setValue('input[name=username]', ${JSON.stringify(user)});
      setValue('input[name=password]', ${JSON.stringify(pass)}); setValue('input[name=password2]', ${JSON.stringify(pass)}); $('form').requestSubmit(); true`);
  } else if (await page.eval(`!!$('input[name=username]')`)) {
    await page.eval(`setValue('input[name=username]', ${JSON.stringify(user)}); setValue('input[name=password]', ${JSON.stringify(pass)}); $('form').requestSubmit(); true`);
  }
  await page.waitFor(`$('.chat')`, 10000).catch(async () => {
    problems.push('login/set-up failed: ' + (await page.eval(`($('.notice-error') || {}).textContent || document.body.innerText.slice(0, 200)`)));
  });
  const snap = async (name) => { if (shots) await page.screenshot(path.join(shots, name + '.png')); };
  const admin = await page.eval(`!!$('.mainnav a[href="#/admin"]')`);
  const routes = ['#/', '#/academy', '#/settings', '#/keys'];
  if (admin) routes.push('#/trainer', '#/trainer/lessons', '#/trainer/questions', '#/trainer/dashboard', '#/admin/users', '#/admin/groups', '#/admin/status', '#/admin/audit');
  for (const r of routes) {
    await page.eval(`location.hash = ${JSON.stringify(r)}; true`);
    await new Promise((res) => setTimeout(res, 800));
    const err = await page.eval(`$$('.notice-error:not([hidden])').map((e) => e.textContent).join(' | ')`);
    if (err) problems.push(`${r}: ${err}`);
    console.log('visited', r, err ? 'ERROR ' + err : 'ok');
    await snap(r.replace(/[#/]+/g, '-').replace(/^-|-$/g, '') || 'chat');
  }
  // the first lesson renders
  await page.eval(`location.hash = '#/academy'; true`);
  await page.waitFor(`$('.lesson-list a') || $('.notice-error')`, 10000).catch(() => problems.push('academy overview empty'));
  const lessonHref = await page.eval(`($('.lesson-list a') || {}).hash || ''`);
  if (lessonHref) {
    await page.eval(`location.hash = ${JSON.stringify(lessonHref)}; true`);
    await page.waitFor(`$('.lesson-text')`, 10000).catch(() => problems.push('lesson did not render'));
    console.log('lesson:', (await page.eval(`($('.lesson h1') || {}).textContent || ''`)), '-', (await page.eval(`($('.lesson-text') || {}).textContent || ''`)).slice(0, 80));
    await snap('academy-lesson');
  }
  // complete the first level's lessons and take its quiz (first option each)
  await page.eval(`location.hash = '#/academy'; true`);
  await page.waitFor(`$('.level')`, 10000).catch(() => {});
  const firstLessons = await page.eval(`[...(($('.level') || document.createElement('div')).querySelectorAll('.lesson-list a'))].map((a) => a.hash)`);
  for (const href of firstLessons) {
    await page.eval(`location.hash = ${JSON.stringify(href)}; true`);
    await page.waitFor(`$('.lesson-actions button')`, 10000).catch(() => problems.push('lesson page without button: ' + href));
    await page.eval(`(() => { const b = $('.lesson-actions button'); if (b && !b.disabled) b.click(); return true; })()`);
    await page.waitFor(`$('.lesson-actions button').disabled`, 10000).catch(() => problems.push('lesson not completed: ' + href));
  }
  await page.eval(`location.hash = '#/academy'; true`);
  const quizLink = await page.waitFor(`($('.level a.btn-primary') || {}).hash || ($$('.level-held').length ? 'held' : '')`, 10000).catch(() => '');
  if (quizLink && quizLink !== 'held') {
    await page.eval(`location.hash = ${JSON.stringify(quizLink)}; true`);
    await page.waitFor(`$$('fieldset.question').length > 0 || $('.notice-error')`, 10000).catch(() => problems.push('quiz did not load'));
    const n = await page.eval(`$$('fieldset.question').length`);
    await page.eval(`$$('fieldset.question').forEach((f) => f.querySelector('input').checked = true); $('form.quiz').requestSubmit(); true`);
    await page.waitFor(`$('.results')`, 10000).catch(() => problems.push('quiz result not shown'));
    console.log('quiz:', n, 'questions;', await page.eval(`($('.notice-success, .notice-warning') || {}).textContent || ''`));
    await snap('academy-quiz-result');
  } else {
    console.log('quiz: not available (' + quizLink + ')');
  }
  await page.eval(`location.hash = '#/'; true`);
  await page.waitFor(`$('#composer-input')`);
  await new Promise((res) => setTimeout(res, 500));
  if (await page.eval(`!$('#composer-input').disabled`)) {
    await page.eval(`setValue('#composer-input', 'Sag bitte kurz Hallo.'); $('#composer-input').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true })); true`);
    await page.waitFor(`$('.msg-assistant') && !$('.msg-assistant.streaming') && $('.messages').getAttribute('aria-busy') === 'false'`, 120000)
      .catch(() => problems.push('answer did not finish within 120 s'));
    const answer = await page.eval(`($$('.msg-assistant').pop() || {}).textContent || ''`);
    console.log('answer:', answer.slice(0, 200));
    await snap('chat-answer');
    // regenerate, then stop it as soon as text arrives
    await page.eval(`$$('button').find((b) => b.textContent.trim() === 'Neu erzeugen').click(); true`);
    await page.waitFor(`$('.msg-assistant.streaming .md') && $('.msg-assistant.streaming .md').textContent.length > 0`, 60000)
      .catch(() => problems.push('regenerate did not stream'));
    await page.eval(`$('.composer-stop').click(); true`);
    await page.waitFor(`!$('.msg-assistant.streaming') && $('.messages').getAttribute('aria-busy') === 'false'`, 30000)
      .catch(() => problems.push('stop did not end the answer'));
    const note = await page.eval(`(($$('.msg-assistant').pop() || {}).querySelector('.msg-note') || {}).textContent || ''`);
    console.log('after stop:', note || '(no note)');
    if (!/gestoppt/.test(note)) problems.push('stopped answer is not marked as stopped: ' + note);
    // the server's copy agrees after a reload
    await page.eval(`location.reload(); true`);
    await page.waitFor(`document.readyState === 'complete'`);
    await page.eval(HELPERS);
    await page.waitFor(`$$('.msg-assistant').length > 0`, 10000).catch(() => problems.push('conversation not restored after reload'));
    console.log('after reload: messages =', await page.eval(`$$('.msg').length`), 'last note =',
      await page.eval(`(($$('.msg-assistant').pop() || {}).querySelector('.msg-note') || {}).textContent || ''`));
  } else {
    console.log('no model available: hint shown =', await page.eval(`($('.empty-state') || {}).textContent || ''`));
  }
  for (const c of page.console) {
    if (c.type === 'exception' || /Content Security Policy|Refused/i.test(c.text) ||
        (c.type === 'error' && !/status of (401|503)/.test(c.text))) problems.push('console: ' + c.text);
  }
} finally {
  await browser.close();
}
if (problems.length) {
  console.log('PROBLEMS:\n  ' + problems.join('\n  '));
  process.exit(1);
}
console.log('no problems found');
