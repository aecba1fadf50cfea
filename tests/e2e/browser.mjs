// browser.mjs - the web UI in Debian's chromium (driven by playwright-core,
// never a downloaded browser) against the real server: log in (a wrong
// password first), chat with a tiny local model, watch a slow answer stream
// in and stop it, create a user as admin, and check that the new non-admin
// user sees no administration and cannot reach it (UI and API); and the
// first-start set-up page of a fresh server creates the administrator.
// Elements are found by role and label (German UI). On failure a screenshot
// is written into the test's temporary directory and its path printed.

import {
  main, requirePrereqs, startServer, fakeUpstream, mkTmp, log, assert, assertEq, waitUntil,
  importChromium, launchChromium, newTestPage, reportPageFailure,
} from './lib.mjs';

const MODEL = 'tiny-qwen2-q4_0';

await main('e2e browser', async () => {
  requirePrereqs({ models: [MODEL + '.gguf'], modules: ['playwright-core'] });
  const chromium = await importChromium();

  const up = await fakeUpstream({ model: 'langsam', chunks: 400, delayMs: 40, word: 'Wort ' });
  const conf = ['max_tokens = 24', '[upstream extern]', `url = ${up.url}`, 'models = langsam', ''].join('\n');
  const srv = await startServer({ name: 'browser', models: [MODEL + '.gguf'], conf });
  const shots = mkTmp('shots');
  log(`portal at ${srv.url}`);

  const browser = await launchChromium(chromium);
  let page = null;
  const pageErrors = [];
  try {
    const tp = await newTestPage(browser, pageErrors);
    page = tp.page;
    const { apiGet } = tp;

    // ------------------------------------------------ log in
    await page.goto(srv.url + '/');
    await page.getByRole('heading', { name: 'Anmelden', exact: true }).waitFor();
    await page.getByLabel('Benutzername', { exact: true }).fill('admin');
    await page.getByLabel('Passwort', { exact: true }).fill('falsch-falsch');
    await page.getByRole('button', { name: 'Anmelden', exact: true }).click();
    const alert = page.locator('form [role=alert]');
    await alert.filter({ hasText: /\S/ }).waitFor();
    log(`wrong password: "${(await alert.textContent()).trim()}"`);
    await page.getByLabel('Passwort', { exact: true }).fill('geheim123');
    await page.getByRole('button', { name: 'Anmelden', exact: true }).click();
    await page.getByRole('heading', { name: 'Neue Unterhaltung' }).waitFor();
    await page.getByRole('link', { name: 'Verwaltung', exact: true }).waitFor();
    log('logged in as admin');

    // ------------------------------------------------ chat with the tiny local model
    const input = page.getByRole('textbox', { name: 'Ihre Nachricht' });
    await page.getByLabel('Modell', { exact: true }).selectOption(MODEL);
    await input.fill('Guten Tag, wie beantrage ich einen Ausweis?');
    await input.press('Enter');
    const sendBtn = page.getByRole('button', { name: 'Senden' });
    await page.getByRole('article', { name: /^Antwort von / }).waitFor();
    await page.locator('.msg-assistant.streaming').waitFor({ state: 'detached' });
    await sendBtn.waitFor();
    const convId = await waitUntil(async () => {
      const m = /#\/c\/(\d+)/.exec(await page.evaluate(() => location.hash));
      return m && m[1];
    }, 5000, 'the conversation id in the address');
    const conv1 = await apiGet(`/api/conversations/${convId}`);
    assertEq(conv1.status, 200, 'conversation');
    const ans = conv1.body.messages[1];
    assert(ans && ans.role === 'assistant' && ['stop', 'length'].includes(ans.finish_reason), `stored answer: ${JSON.stringify(ans)}`);
    assertEq(conv1.body.title, 'Guten Tag, wie beantrage ich einen Ausweis?', 'the title is the first question');
    await page.getByRole('link', { name: /Guten Tag, wie beantrage/ }).waitFor();
    log(`local model answered (${ans.tokens.completion} tokens, ${ans.finish_reason})`);

    // ------------------------------------------------ a slow answer streams in; stop it
    await page.getByRole('button', { name: 'Neue Unterhaltung' }).click();
    await page.getByLabel('Modell', { exact: true }).selectOption('langsam');
    await input.fill('Bitte ganz ausführlich.');
    await input.press('Enter');
    const stopBtn = page.getByRole('button', { name: 'Antwort stoppen' });
    await stopBtn.waitFor();
    const streaming = page.locator('.msg-assistant.streaming .msg-body');
    await streaming.filter({ hasText: 'Wort' }).waitFor();
    const len1 = (await streaming.textContent()).length;
    await waitUntil(async () => (await streaming.textContent()).length > len1 + 10, 5000, 'the answer to grow while streaming');
    assertEq(await page.locator('.messages').getAttribute('aria-busy'), 'true', 'the log is busy while streaming');
    await stopBtn.click();
    // (in the message log: the screen-reader status region says it too)
    await page.getByRole('log', { name: 'Nachrichten' }).getByText('Die Antwort wurde gestoppt.').waitFor();
    await sendBtn.waitFor();
    await waitUntil(() => up.closedEarly >= 1, 5000, 'the upstream stream to be closed');
    const conv2Id = /#\/c\/(\d+)/.exec(await page.evaluate(() => location.hash))[1];
    const stopped = await waitUntil(async () => {
      const c = await apiGet(`/api/conversations/${conv2Id}`);
      const m = c.body && c.body.messages[1];
      return m && m.finish_reason ? m : null;
    }, 5000, 'the stopped answer to be stored');
    assertEq(stopped.finish_reason, 'cancelled', 'stopped answer');
    assert(/^(Wort )+/.test(stopped.content) && stopped.content.length < 400 * 5, `partial answer kept (${stopped.content.length} chars)`);
    log(`streamed and stopped after ${stopped.content.length} characters`);

    // ------------------------------------------------ admin creates a user
    await page.getByRole('link', { name: 'Verwaltung', exact: true }).click();
    await page.getByRole('heading', { name: 'Verwaltung', level: 1, exact: true }).waitFor();
    await page.getByRole('button', { name: 'Neues Konto', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: 'Neues Konto' });
    await dlg.waitFor();
    await dlg.getByLabel('Benutzername', { exact: true }).fill('erika');
    await dlg.getByLabel('Name', { exact: true }).fill('Erika Muster');
    await dlg.getByLabel('Rolle', { exact: true }).selectOption('user');
    await dlg.getByLabel('Passwort', { exact: true }).fill('passwort1');
    await dlg.getByRole('button', { name: 'Anlegen' }).click();
    await dlg.waitFor({ state: 'hidden' });
    await page.getByRole('cell', { name: 'erika', exact: true }).waitFor();
    const users = await apiGet('/api/admin/users');
    const erika = users.body.users.find((u) => u.username === 'erika');
    assert(erika && erika.role === 'user' && erika.display_name === 'Erika Muster', `user created: ${JSON.stringify(erika)}`);
    log('admin created user erika');
    // rights follow the KI-Schwimmabzeichen: give erika the entry level (chat)
    const api = srv.client();
    await api.login('admin', 'geheim123');
    await api.post(`/api/trainer/participants/${erika.id}/award`, { level: 'seepferdchen', reason: 'Präsenzkurs (Test)' });
    assertEq(pageErrors.length, 0, `no script errors in the page: ${pageErrors.join(' | ')}`);

    // ------------------------------------------------ the non-admin sees no administration
    await page.getByRole('button', { name: 'Abmelden' }).click();
    await page.getByRole('heading', { name: 'Anmelden', exact: true }).waitFor();
    await page.getByLabel('Benutzername', { exact: true }).fill('erika');
    await page.getByLabel('Passwort', { exact: true }).fill('passwort1');
    await page.getByRole('button', { name: 'Anmelden', exact: true }).click();
    await page.getByRole('heading', { name: 'Neue Unterhaltung' }).waitFor();
    assertEq(await page.getByRole('link', { name: 'Verwaltung', exact: true }).count(), 0, 'no administration link for a user');
    // her conversation list is empty: the admin's conversations are not hers
    assertEq(await page.getByRole('link', { name: /Guten Tag, wie beantrage/ }).count(), 0, "the admin's conversations are not shown");
    await page.evaluate(() => { location.hash = '#/admin/users'; });
    await page.getByRole('heading', { name: 'Neue Unterhaltung' }).waitFor();
    assertEq(await page.getByRole('heading', { name: 'Verwaltung', exact: true }).count(), 0, 'the administration is not shown');
    assertEq(await page.getByRole('button', { name: 'Neues Konto', exact: true }).count(), 0, 'no user creation');
    for (const p of ['/api/admin/users', '/api/admin/status', '/api/admin/audit']) {
      const r = await apiGet(p);
      assertEq(r.status, 403, `${p} for a user`);
    }
    const foreign = await apiGet(`/api/conversations/${convId}`);
    assertEq(foreign.status, 404, "someone else's conversation does not exist");
    log('non-admin: no administration link, #/admin shows the chat, admin API answers 403');
    // ... and chats herself
    await page.getByLabel('Modell', { exact: true }).selectOption(MODEL);
    await input.fill('Hallo, hier ist Erika.');
    await input.press('Enter');
    await page.getByRole('article', { name: /^Antwort von / }).waitFor();
    await page.locator('.msg-assistant.streaming').waitFor({ state: 'detached' });
    await page.getByRole('link', { name: /Hallo, hier ist Erika/ }).waitFor();
    log('erika chatted with the local model');

    // ------------------------------------------------ first start: the set-up page creates the admin
    const fresh = await startServer({ name: 'browser-setup', admin: false });
    await page.getByRole('button', { name: 'Abmelden' }).click();
    await page.getByRole('heading', { name: 'Anmelden', exact: true }).waitFor();
    await page.goto(fresh.url + '/');
    await page.getByRole('heading', { name: 'Willkommen bei rathaus' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Amtsleitung');
    await page.getByLabel('Benutzername', { exact: true }).fill('chefin');
    await page.getByLabel('Passwort', { exact: true }).fill('sehr-geheim-1');
    await page.getByLabel('Passwort wiederholen', { exact: true }).fill('sehr-geheim-2');
    await page.getByRole('button', { name: 'Konto anlegen' }).click();
    await page.locator('form [role=alert]', { hasText: 'Die beiden Passwörter stimmen nicht überein.' }).waitFor();
    await page.getByLabel('Passwort wiederholen', { exact: true }).fill('sehr-geheim-1');
    await page.getByRole('button', { name: 'Konto anlegen' }).click();
    await page.getByRole('heading', { name: 'Neue Unterhaltung' }).waitFor();
    await page.getByRole('link', { name: 'Verwaltung', exact: true }).waitFor();
    const setupDone = await page.evaluate(async () => (await fetch('/api/session')).json());
    assertEq(setupDone.user && setupDone.user.role, 'admin', 'the set-up page made an administrator');
    assertEq(setupDone.setup_required, false, 'set-up is done');
    log('set-up page: first administrator created and logged in');
  } catch (e) {
    await reportPageFailure(page, shots, pageErrors);
    throw e;
  } finally {
    await browser.close().catch(() => {});
  }
}, { timeoutMs: 120000 });
