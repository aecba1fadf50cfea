// academy.mjs - the KI-Schwimmabzeichen in Debian's chromium (playwright-core)
// against the real server: a new non-admin user is refused the chat and sent
// to the academy, reads every Seepferdchen lesson and marks it done, takes
// the quiz (the right answers are looked up by question and option text in
// the built-in content/academy/quiz.json), passes, and then chats with a
// tiny local model; the answer's no-sources reminder opens the lesson on
// hallucinations. Also checks that opening the quiz page is the only thing
// that starts an attempt (GET only reports the status), that a trainer's
// CSV export and record page list the new level, and that the dashboard,
// quiz bank and lesson pages render from the real API.

import fs from 'node:fs';
import path from 'node:path';
import {
  main, requirePrereqs, startServer, mkTmp, log, assert, assertEq, ROOT, ADMIN_PW,
  importChromium, launchChromium, newTestPage, reportPageFailure,
} from './lib.mjs';

const MODEL = 'tiny-qwen2-q4_0';
const USER = 'paula';
const PW = 'schwimmen-1';

await main('e2e academy', async () => {
  requirePrereqs({ models: [MODEL + '.gguf'], modules: ['playwright-core'] });
  const chromium = await importChromium();
  const bank = JSON.parse(fs.readFileSync(path.join(ROOT, 'content/academy/quiz.json'), 'utf8')).questions;

  const srv = await startServer({ name: 'academy', models: [MODEL + '.gguf'], conf: 'max_tokens = 12\n' });
  const shots = mkTmp('academy-shots');
  const admin = srv.client();
  await admin.login('admin', ADMIN_PW);
  const created = await admin.post('/api/admin/users', { username: USER, display_name: 'Paula Neu', password: PW, role: 'user', groups: [] });
  log(`portal at ${srv.url}; user ${USER} (id ${created.id}) created without a level`);

  const browser = await launchChromium(chromium);
  let page = null;
  const pageErrors = [];
  try {
    // the refused chat requests (403) are expected; anything else is not
    const tp = await newTestPage(browser, pageErrors);
    page = tp.page;
    const { context, apiGet } = tp;

    // ------------------------------------------------ log in: chat is refused
    await page.goto(srv.url + '/');
    await page.getByLabel('Benutzername', { exact: true }).fill(USER);
    await page.getByLabel('Passwort', { exact: true }).fill(PW);
    await page.getByRole('button', { name: 'Anmelden', exact: true }).click();
    await page.getByText(/Dafür brauchen Sie eine höhere Stufe des KI-Schwimmabzeichens/).waitFor();
    assert(await page.getByRole('textbox', { name: 'Ihre Nachricht' }).isDisabled(), 'the message box is disabled without a level');
    const refused = await apiGet('/api/conversations');
    assertEq(refused.status, 403, 'chat API without a level');
    assertEq(refused.body.error.code, 'level_required', 'error code');
    assertEq(refused.body.error.level, 'seepferdchen', 'the level that grants chat');
    log('without a level the chat is refused and points to the academy');

    // ------------------------------------------------ the academy: every Seepferdchen lesson
    await page.getByRole('link', { name: 'Zur Akademie', exact: true }).click();
    await page.getByRole('heading', { name: 'KI-Schwimmabzeichen', level: 1 }).waitFor();
    const overview = (await apiGet('/api/academy')).body;
    const level = overview.levels.find((l) => l.id === 'seepferdchen');
    assert(level && level.lessons.length > 0 && !level.held, 'Seepferdchen has lessons and is not held');
    assertEq(level.quiz.reason, 'lessons_incomplete', 'quiz closed before the lessons');
    const quizLink = page.getByRole('link', { name: 'Quiz starten', exact: true });
    assertEq(await quizLink.count(), 0, 'no quiz link before the lessons are done');
    for (const lesson of level.lessons) {
      await page.getByRole('link', { name: lesson.title, exact: true }).click();
      await page.getByRole('heading', { name: lesson.title, level: 1 }).waitFor();
      assert((await page.locator('.lesson-text').textContent()).trim().length > 100, `lesson ${lesson.id} has text`);
      await page.getByRole('button', { name: 'Lektion abschließen', exact: true }).click();
      await page.getByRole('button', { name: 'Abgeschlossen', exact: true }).waitFor();
      assert(await page.getByRole('button', { name: 'Abgeschlossen', exact: true }).isDisabled(), 'done button disabled');
      await page.getByRole('link', { name: 'Zurück zur Übersicht' }).first().click();
      await page.getByRole('heading', { name: 'KI-Schwimmabzeichen', level: 1 }).waitFor();
    }
    log(`read and completed ${level.lessons.length} lessons`);

    // ------------------------------------------------ the quiz
    const status = await apiGet('/api/academy/quiz/seepferdchen');
    assertEq(status.status, 200, 'quiz status');
    assert(status.body.available && !status.body.open_attempt, `quiz open, no attempt started by GET: ${JSON.stringify(status.body)}`);
    await quizLink.click();
    await page.getByRole('heading', { name: /^Quiz: Seepferdchen/ }).waitFor();
    const fieldsets = page.locator('fieldset.question');
    await fieldsets.first().waitFor();
    const n = await fieldsets.count();
    assert(n > 0, 'the quiz shows questions');
    assert((await apiGet('/api/academy/quiz/seepferdchen')).body.open_attempt, 'the quiz page started an attempt');
    for (let i = 0; i < n; i++) {
      const fs_ = fieldsets.nth(i);
      const legend = (await fs_.locator('legend').textContent()).trim();
      const q = bank.find((x) => x.level === 'seepferdchen' && legend.endsWith(x.question));
      assert(q, `question "${legend}" is in quiz.json`);
      const labels = fs_.locator('label');
      const m = await labels.count();
      assertEq(m, q.options.length, `options of ${q.id}`);
      for (let k = 0; k < m; k++) {
        const text = (await labels.nth(k).textContent()).trim();
        const opt = q.options.find((o) => o.text === text);
        assert(opt, `option "${text}" of ${q.id} is in quiz.json`);
        if (opt.correct) await fs_.getByLabel(text, { exact: true }).check();
      }
    }
    await page.getByRole('button', { name: 'Antworten abgeben', exact: true }).click();
    await page.getByRole('heading', { name: 'Bestanden – herzlichen Glückwunsch!' }).waitFor();
    await page.getByText('Sie haben die Stufe „Seepferdchen“ abgelegt.').waitFor();
    assertEq(await page.locator('.result-ok').count(), n, 'every answer right');
    log(`quiz passed (${n} questions)`);
    await page.getByRole('link', { name: 'Zurück zur Übersicht' }).first().click();
    await page.getByText('Ihre Stufe: Seepferdchen').waitFor();

    // ------------------------------------------------ now the chat works
    await page.getByRole('link', { name: 'Chat', exact: true }).click();
    const input = page.getByRole('textbox', { name: 'Ihre Nachricht' });
    await input.waitFor();
    await waitEnabled(input);
    await page.getByLabel('Modell', { exact: true }).selectOption(MODEL);
    await input.fill('Wie melde ich einen Wohnsitz an?');
    await input.press('Enter');
    await page.getByRole('article', { name: /^Antwort von / }).waitFor();
    await page.locator('.msg-assistant.streaming').waitFor({ state: 'detached' });
    const convs = await apiGet('/api/conversations');
    assertEq(convs.status, 200, 'chat API with Seepferdchen');
    assertEq(convs.body.conversations.length, 1, 'one conversation');
    const conv = (await apiGet(`/api/conversations/${convs.body.conversations[0].id}`)).body;
    const answer = conv.messages[1];
    assert(answer && answer.role === 'assistant' && answer.content.length > 0 && ['stop', 'length'].includes(answer.finish_reason),
      `the model answered: ${JSON.stringify(answer)}`);
    log(`chat works after the quiz (${answer.tokens.completion} tokens)`);
    // the answer cites no sources: the reminder links the lesson on hallucinations
    const hint = page.locator('.msg-assistant .msg-hint a[href="#/academy/lesson/halluzinationen"]');
    await hint.waitFor();
    await hint.click();
    await page.getByRole('heading', { name: /Halluzination/, level: 1 }).waitFor();
    log('the no-sources reminder opens the lesson on hallucinations');

    // ------------------------------------------------ the trainer's records show it
    const csv = await admin.raw('GET', '/api/trainer/export.csv');
    assertEq(csv.status, 200, 'CSV export');
    const text = await csv.text();
    const line = text.split('\r\n').find((l) => l.startsWith(`"${USER}";`));
    assert(line && line.includes('"Seepferdchen"') && line.includes('"Quiz"') && line.includes('100 % (bestanden'),
      `CSV line for ${USER}: ${line}`);
    const rec = await admin.raw('GET', `/api/trainer/participants/${created.id}/record`);
    const html = await rec.text();
    assert(rec.status === 200 && html.includes('Paula Neu') && html.includes('Seepferdchen'), 'record page');
    log('CSV export and record page list the level');

    // ------------------------------------------------ the trainer's pages on the real API
    const adminPage = await context.newPage();
    adminPage.setDefaultTimeout(15000);
    adminPage.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.getByRole('button', { name: 'Abmelden' }).click();
    await page.getByRole('heading', { name: 'Anmelden', exact: true }).waitFor();
    await adminPage.goto(srv.url + '/#/trainer/dashboard');
    await adminPage.getByLabel('Benutzername', { exact: true }).fill('admin');
    await adminPage.getByLabel('Passwort', { exact: true }).fill(ADMIN_PW);
    await adminPage.getByRole('button', { name: 'Anmelden', exact: true }).click();
    await adminPage.locator('figure.chart-card').nth(3).waitFor();
    assertEq(await adminPage.locator('figure.chart-card svg[role=img]').count(), 4, 'four charts');
    const levels = adminPage.locator('figure[data-chart=levels]');
    await levels.getByRole('button', { name: 'Als Tabelle anzeigen' }).click();
    await levels.getByRole('row', { name: /Seepferdchen\s*1/ }).waitFor();
    await adminPage.goto(srv.url + '/#/trainer/questions');
    await adminPage.locator('.question-item').first().waitFor();
    assert(await adminPage.locator('.question-item').count() >= 7, 'the built-in quiz bank is listed');
    await adminPage.goto(srv.url + '/#/trainer/lessons');
    await adminPage.getByRole('button', { name: /^Lektion „Datenschutz/ }).waitFor();
    assertEq(pageErrors.length, 0, `no script errors in the page: ${pageErrors.join(' | ')}`);
    log('dashboard charts, quiz bank and lesson list render from the real API');
  } catch (e) {
    await reportPageFailure(page, shots, pageErrors);
    throw e;
  } finally {
    await browser.close().catch(() => {});
  }
}, { timeoutMs: 110000 });

async function waitEnabled(locator) {
  for (let i = 0; i < 200; i++) {
    if (await locator.isEnabled()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the message box stayed disabled');
}
