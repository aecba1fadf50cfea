// markdown.test.mjs - unit tests for the Markdown parser (web/js/markdown.js)
// and its DOM builder (web/js/render.js, run against tests/ui/fake-dom.mjs).
// Run: node --test tests/ui/

import test from 'node:test';
import assert from 'node:assert/strict';
import { importWeb } from './webmod.mjs';
import { fakeDocument } from './fake-dom.mjs';

const { parseMarkdown, parseInline, safeHref } = await importWeb('markdown.js');
const { DomBuilder, MarkdownView, renderMarkdown } = await importWeb('render.js');

const doc = fakeDocument();
const render = (md) => renderMarkdown(md, { doc, onCopy: () => {} });
const tags = (root) => [...root.walk()].map((e) => e.tagName);

test('paragraphs, headings and emphasis', () => {
  const b = parseMarkdown('# Titel\n\nEin **fetter** und *kursiver* Text.\nZweite Zeile');
  assert.equal(b.length, 2);
  assert.equal(b[0].type, 'heading');
  assert.equal(b[0].level, 1);
  assert.deepEqual(b[0].children, [{ type: 'text', text: 'Titel' }]);
  const p = b[1].children;
  assert.deepEqual(p.map((n) => n.type), ['text', 'strong', 'text', 'em', 'text', 'br', 'text']);
  assert.equal(p[1].children[0].text, 'fetter');
  assert.equal(p[3].children[0].text, 'kursiver');
});

test('snake_case and lone asterisks stay text', () => {
  assert.deepEqual(parseInline('max_value_count und 2 * 3 * 4'), [{ type: 'text', text: 'max_value_count und 2 * 3 * 4' }]);
  const n = parseInline('***beides***');
  assert.equal(n[0].type, 'strong');
  assert.equal(n[0].children[0].type, 'em');
  const nested = parseInline('**fett mit *kursiv* darin**');
  assert.equal(nested.length, 1);
  assert.deepEqual(nested[0].children.map((c) => c.type), ['text', 'em', 'text']);
});

test('inline code keeps markup literally', () => {
  const n = parseInline('Nutze `<b>**x**</b>` hier');
  assert.deepEqual(n[1], { type: 'code', text: '<b>**x**</b>' });
  assert.deepEqual(parseInline('``a ` b``')[0], { type: 'code', text: 'a ` b' });
});

test('fenced code block, closed and unclosed (streaming)', () => {
  const b = parseMarkdown('Text\n\n```python\nprint("<hi>")\n  x = 1\n```\nDanach');
  assert.deepEqual(b.map((x) => x.type), ['paragraph', 'code', 'paragraph']);
  assert.equal(b[1].lang, 'python');
  assert.equal(b[1].text, 'print("<hi>")\n  x = 1');
  assert.equal(b[1].closed, true);
  const open = parseMarkdown('```js\nlet a = 1;');
  assert.equal(open[0].type, 'code');
  assert.equal(open[0].closed, false);
  assert.equal(open[0].text, 'let a = 1;');
});

test('lists: unordered, ordered with start, nested one level', () => {
  const b = parseMarkdown('- eins\n- zwei\n  - zwei.a\n  - zwei.b\n- drei\n\n3. c\n4. d');
  assert.equal(b.length, 2);
  assert.equal(b[0].type, 'list');
  assert.equal(b[0].ordered, false);
  assert.equal(b[0].items.length, 3);
  const second = b[0].items[1].children;
  assert.equal(second[0].type, 'paragraph');
  assert.equal(second[1].type, 'list');
  assert.equal(second[1].items.length, 2);
  assert.equal(b[1].ordered, true);
  assert.equal(b[1].start, 3);
  assert.equal(b[1].items.length, 2);
});

test('ordered list with nested bullets (2 or 3 spaces)', () => {
  for (const ind of ['  ', '   ']) {
    const b = parseMarkdown(`1. Antrag\n${ind}- Formular\n${ind}- Nachweis\n2. Prüfung`);
    assert.equal(b.length, 1);
    assert.equal(b[0].items.length, 2);
    assert.equal(b[0].items[0].children[1].type, 'list');
    assert.equal(b[0].items[0].children[1].items.length, 2);
  }
});

test('block quote and horizontal rule', () => {
  const b = parseMarkdown('> zitiert\n> **weiter**\n\n---\n\nende');
  assert.deepEqual(b.map((x) => x.type), ['quote', 'hr', 'paragraph']);
  assert.equal(b[0].children[0].type, 'paragraph');
});

test('tables with alignment', () => {
  const b = parseMarkdown('| Amt | Gebühr |\n|:--|--:|\n| Bauamt | 12 € |\n| Standesamt \\| Zweigstelle | *5* € |');
  assert.equal(b.length, 1);
  assert.equal(b[0].type, 'table');
  assert.deepEqual(b[0].align, ['left', 'right']);
  assert.equal(b[0].rows.length, 2);
  assert.equal(b[0].rows[1][0][0].text, 'Standesamt | Zweigstelle');
  assert.equal(b[0].rows[1][1][0].type, 'em');
});

test('links: only http, https and mailto', () => {
  assert.equal(safeHref('https://example.org/a?b=c'), 'https://example.org/a?b=c');
  assert.equal(safeHref('mailto:buergerbuero@stadt.de'), 'mailto:buergerbuero@stadt.de');
  for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)',
    'java\tscript:alert(1)', 'java\nscript:alert(1)', 'data:text/html,<script>x</script>',
    'vbscript:x', '//evil.example/', '/relative', 'https:evil', 'file:///etc/passwd', '\u0001javascript:x']) {
    assert.equal(safeHref(bad), null, bad);
  }
  const n = parseInline('[Portal](https://stadt.de/(info)) und [böse](javascript:alert(1))');
  assert.equal(n[0].type, 'link');
  assert.equal(n[0].href, 'https://stadt.de/(info)');
  assert.ok(!n.some((x) => x.type === 'link' && x.href.startsWith('javascript')));
  assert.ok(n.some((x) => x.type === 'text' && x.text === 'böse'));
});

test('bare URLs and autolinks', () => {
  const n = parseInline('Siehe https://stadt.de/formulare. Oder <mailto:a@b.de>.');
  const links = n.filter((x) => x.type === 'link').map((x) => x.href);
  assert.deepEqual(links, ['https://stadt.de/formulare', 'mailto:a@b.de']);
});

test('hostile Markdown never yields active content', () => {
  const hostile = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '[klick](javascript:alert(1))',
    '[klick](  JAVASCRIPT:alert(1) "t")',
    '<javascript:alert(1)>',
    '![x](http://evil/)',
    '![x](javascript:alert(1))',
    '[![bild](http://evil/a.png)](http://evil/)',
    '<iframe src="http://evil/"></iframe>',
    '<a href="javascript:alert(1)">x</a>',
    '```html\n<script>alert(1)</script>\n```',
    '| a |\n|---|\n| <img src=x onerror=alert(1)> |',
    '> <svg onload=alert(1)>',
    '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  ].join('\n\n');
  const root = render(hostile);
  const allowed = new Set(['div', 'p', 'span', 'a', 'pre', 'code', 'button', 'table', 'thead', 'tbody',
    'tr', 'th', 'td', 'blockquote', 'br', 'strong', 'em', 'del', 'ul', 'ol', 'li', 'hr', 'h3', 'h4', 'h5', 'h6']);
  for (const el of root.walk()) {
    assert.ok(allowed.has(el.tagName), 'unexpected element ' + el.tagName);
    for (const name of Object.keys(el.attributes)) {
      assert.ok(['href', 'rel', 'target', 'start', 'scope', 'type', 'tabindex', 'aria-hidden'].includes(name), 'attribute ' + name);
    }
    if (el.tagName === 'a') {
      assert.match(el.attributes.href, /^(https?:\/\/|mailto:)/);
      assert.equal(el.attributes.rel, 'noopener noreferrer');
      assert.equal(el.attributes.target, '_blank');
      assert.doesNotMatch(el.attributes.href, /javascript|data:/i);
    }
  }
  assert.ok(!tags(root).includes('img'));
  assert.ok(!tags(root).includes('script'));
  // the hostile HTML is shown as text
  assert.ok(root.textContent.includes('<script>alert(1)</script>'));
  assert.ok(root.textContent.includes('<img src=x onerror=alert(1)>'));
  assert.ok(root.textContent.includes('[Bild: x]'));
  // links left are plain http ones (the link around the image text, the
  // URL inside the iframe text) - clickable, never loaded
  const hrefs = new Set([...root.walk()].filter((e) => e.tagName === 'a').map((e) => e.attributes.href));
  assert.deepEqual([...hrefs], ['http://evil/']);
});

test('images are text placeholders, never loaded', () => {
  const root = renderMarkdown('Vorher ![Stadtplan](https://stadt.de/plan.png) nachher', {
    doc, t: (k, v) => (k === 'md.image' ? `[Image: ${v.alt}]` : k),
  });
  assert.ok(!tags(root).includes('img'));
  assert.ok(root.textContent.includes('[Image: Stadtplan]'));
  assert.ok(!root.textContent.includes('plan.png'));
});

test('DOM builder: code block has a copy button that copies the raw text', () => {
  let copied = null;
  const root = renderMarkdown('```sh\necho "<x>"\n```', { doc, onCopy: (t) => { copied = t; } });
  const btn = [...root.walk()].find((e) => e.tagName === 'button');
  assert.ok(btn);
  btn.listeners.click[0]();
  assert.equal(copied, 'echo "<x>"');
  const code = [...root.walk()].find((e) => e.tagName === 'code');
  assert.equal(code.textContent, 'echo "<x>"');
});

test('MarkdownView reuses unchanged blocks while streaming', () => {
  const view = new MarkdownView({ doc });
  view.update('# Kopf\n\nErster Absatz.\n\nZwei');
  const [h, p1, p2] = view.root.children;
  assert.equal(view.root.children.length, 3);
  view.update('# Kopf\n\nErster Absatz.\n\nZweiter Absatz wächst');
  assert.equal(view.root.children[0], h);
  assert.equal(view.root.children[1], p1);
  assert.notEqual(view.root.children[2], p2);
  assert.equal(view.root.children[2].textContent, 'Zweiter Absatz wächst');
  view.update('# Kopf');
  assert.equal(view.root.children.length, 1);
  assert.equal(view.root.children[0], h);
});

test('pathological input stays fast', () => {
  const inputs = [
    '*'.repeat(50000),
    '_a'.repeat(30000),
    '['.repeat(20000) + 'x',
    '`'.repeat(3) + 'a`'.repeat(20000),
    '> '.repeat(5000) + 'tief',
    '- '.repeat(3000) + 'x',
    '**a '.repeat(20000),
    '[a](' + '('.repeat(20000),
  ];
  for (const s of inputs) {
    const t0 = Date.now();
    const b = parseMarkdown(s);
    new DomBuilder({ doc }).blocks(b, doc.createElement('div'));
    assert.ok(Date.now() - t0 < 2000, 'too slow for ' + s.slice(0, 10));
  }
});

test('empty and odd input', () => {
  assert.deepEqual(parseMarkdown(''), []);
  assert.deepEqual(parseMarkdown(null), []);
  assert.deepEqual(parseMarkdown('\n\n  \n'), []);
  assert.equal(parseMarkdown('a\r\nb')[0].children.length, 3);
});

test('typical model answer: bold labels, nested bullets, code inside a list, loose list', () => {
  const b = parseMarkdown([
    '1. **Antrag stellen:** Formular ausfüllen.',
    '   * Online',
    '   * Vor Ort',
    '2. **Unterlagen:**',
    '   ```',
    '   Personalausweis',
    '   ```',
    '',
    '* Erstens',
    '',
    '   Fortsetzung.',
    '',
    '1) Klammerliste',
    '2) zweiter',
  ].join('\n'));
  assert.deepEqual(b.map((x) => x.type), ['list', 'list', 'list']);
  const [first, second, third] = b;
  assert.equal(first.items.length, 2);
  assert.equal(first.items[0].children[0].children[0].type, 'strong');
  assert.equal(first.items[0].children[1].type, 'list');
  assert.deepEqual(first.items[1].children.map((x) => x.type), ['paragraph', 'code']);
  assert.equal(first.items[1].children[1].text, 'Personalausweis');
  assert.equal(first.tight, true);
  assert.equal(second.tight, false);
  assert.deepEqual(second.items[0].children.map((x) => x.type), ['paragraph', 'paragraph']);
  assert.equal(third.ordered, true);
  assert.equal(third.items.length, 2);
});

test('MarkdownView incremental parsing equals a full parse at every split', () => {
  const src = [
    '# Titel', '', 'Absatz mit **fett**', 'und zweiter Zeile.', '', '- a', '- b', '', '  fortgesetzt', '',
    '```js', 'let x = 1;', '', 'x++;', '```', '', '| a | b |', '|---|---|', '| 1 | 2 |', '',
    '> Zitat', 'faul fortgesetzt', '', '1. eins', '2. zwei', '   - drei', '', 'Ende.',
  ].join('\n');
  const strip = (blocks) => JSON.stringify(blocks.map(({ key, line, ...rest }) => rest));
  for (let step = 1; step <= 7; step += 3) {
    const view = new MarkdownView({ doc });
    for (let i = step; i < src.length + step; i += step) {
      const part = src.slice(0, i);
      view.update(part);
      assert.equal(strip(view.blocks), strip(parseMarkdown(part)), `differs at ${i} (step ${step})`);
      assert.equal(view.root.children.length, view.blocks.length);
    }
  }
});
