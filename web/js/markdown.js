// markdown.js - the pure, DOM-free part of the Markdown renderer.
//
// parseMarkdown(text) turns Markdown (as produced by language models) into a
// plain tree of objects; render.js turns that tree into DOM nodes using
// createElement/textContent only. Raw HTML in the input is never interpreted:
// it stays text. Links keep only http(s)/mailto targets (safeHref); images
// become {type:'image'} nodes that the DOM builder shows as text and never
// loads. Runs in the browser and in Node (tests/ui/markdown.test.mjs).
//
// Block nodes:  paragraph{children} heading{level,children} code{lang,text}
//               list{ordered,start,tight,items:[{children:[blocks]}]}
//               quote{children} table{align,header,rows} hr
// Inline nodes: text{text} strong/em/del{children} code{text} br
//               link{href,children} image{alt,src}
// Top-level blocks carry `key` (their source text) so a streaming view can
// reuse the DOM of blocks that did not change.

const MAX_BLOCK_DEPTH = 6;   // nested quotes/lists deeper than this stay text
const MAX_INLINE_DEPTH = 8;  // nested emphasis/links deeper than this stay text
const MAX_LABEL = 1000;      // link label scan limit (bounds worst-case time)
const MAX_URL = 2048;        // link destination scan limit

const PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const ALNUM = /[\p{L}\p{N}]/u;

/** Returns the href when it is an absolute http(s) or mailto URL, else null. */
export function safeHref(url) {
  if (typeof url !== 'string') return null;
  // Browsers drop tabs/newlines anywhere and C0/space at both ends; do the
  // same before looking at the scheme so "java\tscript:" cannot slip through.
  const u = url.replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
  if (/[\u0000-\u001f\u007f]/.test(u)) return null;
  if (/^https?:\/\/[^\s/?#]+/i.test(u) || /^mailto:[^\s]+$/i.test(u)) return u;
  return null;
}

/** Line endings, NUL and tabs normalised; split into lines. */
export function sourceLines(src) {
  return String(src ?? '')
    .replace(/\r\n?/g, '\n')
    .replace(/\u0000/g, '\uFFFD')
    .replace(/\t/g, '    ')
    .split('\n');
}

/** Parses Markdown source into an array of block nodes. */
export function parseMarkdown(src) {
  return parseBlocks(sourceLines(src), 0, true);
}

/**
 * Parses lines[from..] as top-level blocks; each block's `line` is its
 * first line in `lines`. Used for incremental re-parsing while streaming.
 */
export function parseLinesFrom(lines, from) {
  const blocks = parseBlocks(from ? lines.slice(from) : lines, 0, true);
  for (const b of blocks) b.line += from;
  return blocks;
}

function isBlank(line) { return /^\s*$/.test(line); }
function indentOf(line) { return line.length - line.replace(/^ +/, '').length; }

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})[ ]*([^\s`]*)[^`]*$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ ]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ ]+(.*))?$/;
const HR = /^ {0,3}([-*_])(?:[ ]*\1){2,}[ ]*$/;
const QUOTE = /^ {0,3}>/;
const TABLE_DELIM = /^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$/;

function listMarker(line) {
  const m = /^( *)([-*+]|(\d{1,9})[.)])( +|$)(.*)$/.exec(line);
  if (!m) return null;
  const indent = m[1].length;
  let spaces = m[4].length;
  if (spaces > 4) spaces = 1;            // more is content indentation
  if (spaces === 0) spaces = 1;          // empty item
  const text = m[4].length > 4 ? ' '.repeat(m[4].length - 1) + m[5] : m[5];
  return {
    indent,
    ordered: m[3] !== undefined,
    start: m[3] !== undefined ? parseInt(m[3], 10) : 1,
    contentIndent: indent + m[2].length + spaces,
    text,
  };
}

function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') { cur += '|'; i++; continue; }
    if (c === '|') { cells.push(cur.trim()); cur = ''; continue; }
    cur += c;
  }
  cells.push(cur.trim());
  return cells;
}

function isTableStart(lines, i) {
  if (i + 1 >= lines.length) return false;
  const head = lines[i];
  if (!head.includes('|') || !TABLE_DELIM.test(lines[i + 1])) return false;
  if (!lines[i + 1].includes('|') && !lines[i + 1].includes('-')) return false;
  return splitRow(head).length === splitRow(lines[i + 1]).length;
}

function startsBlock(lines, i) {
  const line = lines[i];
  return FENCE_OPEN.test(line) || HEADING.test(line) || HR.test(line) ||
    QUOTE.test(line) || (listMarker(line) !== null && indentOf(line) <= 3) ||
    isTableStart(lines, i);
}

function paragraphFrom(text, depth) {
  return { type: 'paragraph', children: parseInline(text, depth) };
}

function parseBlocks(lines, depth, top) {
  const out = [];
  let i = 0;
  const push = (node, start) => {
    if (top) {
      node.key = node.type + '\u0001' + lines.slice(start, i).join('\n');
      node.line = start;
    }
    out.push(node);
  };
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) { i++; continue; }
    const start = i;
    let m;

    if ((m = FENCE_OPEN.exec(line))) {
      const fence = m[2];
      const indent = m[1].length;
      const lang = m[3].replace(/[^\w+#.-]/g, '').slice(0, 30);
      const body = [];
      let closed = false;
      i++;
      while (i < lines.length) {
        const c = FENCE_CLOSE.exec(lines[i]);
        if (c && c[1][0] === fence[0] && c[1].length >= fence.length) { closed = true; i++; break; }
        const l = lines[i];
        body.push(l.slice(Math.min(indent, indentOf(l))));
        i++;
      }
      push({ type: 'code', lang, text: body.join('\n'), closed }, start);
      continue;
    }

    if ((m = HEADING.exec(line))) {
      let text = (m[2] || '').replace(/[ ]+#+[ ]*$/, '').replace(/^#+[ ]*$/, '').trim();
      i++;
      push({ type: 'heading', level: m[1].length, children: parseInline(text, 0) }, start);
      continue;
    }

    if (HR.test(line)) {
      i++;
      push({ type: 'hr' }, start);
      continue;
    }

    if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length) {
        const l = lines[i];
        if (QUOTE.test(l)) { inner.push(l.replace(/^ {0,3}> ?/, '')); i++; continue; }
        // lazy continuation of a quoted paragraph
        if (!isBlank(l) && inner.length && !isBlank(inner[inner.length - 1]) && !startsBlock(lines, i)) {
          inner.push(l); i++; continue;
        }
        break;
      }
      const children = depth + 1 >= MAX_BLOCK_DEPTH
        ? [paragraphFrom(inner.join('\n'), 0)]
        : parseBlocks(inner, depth + 1, false);
      push({ type: 'quote', children }, start);
      continue;
    }

    const first = listMarker(line);
    if (first && first.indent <= 3) {
      const base = first.indent;
      const items = [];
      let cur = null;
      let loose = false;
      while (i < lines.length) {
        const l = lines[i];
        if (isBlank(l)) {
          let j = i + 1;
          while (j < lines.length && isBlank(lines[j])) j++;
          if (j >= lines.length || !cur) break;
          const nm = listMarker(lines[j]);
          const sibling = nm && nm.indent < base + 2 && nm.ordered === first.ordered;
          if (sibling || indentOf(lines[j]) >= Math.min(cur.contentIndent, base + 2)) {
            for (let k = i; k < j; k++) cur.lines.push('');
            // blank lines between items, or between paragraphs of one
            // item, make the list loose (spaced paragraphs)
            loose = loose || sibling || !nm;
            i = j;
            continue;
          }
          break;
        }
        const mk = listMarker(l);
        if (mk && mk.indent < base + 2) {
          if (mk.ordered !== first.ordered) break;
          cur = { contentIndent: mk.contentIndent, lines: [mk.text] };
          items.push(cur);
          i++;
          continue;
        }
        if (!cur) break;
        const ind = indentOf(l);
        if (ind >= base + 2) {
          cur.lines.push(l.slice(Math.min(ind, cur.contentIndent)));
          i++;
          continue;
        }
        if (!startsBlock(lines, i) && cur.lines.length && !isBlank(cur.lines[cur.lines.length - 1])) {
          cur.lines.push(l.trim());   // lazy continuation line
          i++;
          continue;
        }
        break;
      }
      const nodeItems = items.map((it) => {
        while (it.lines.length && isBlank(it.lines[it.lines.length - 1])) it.lines.pop();
        const children = depth + 1 >= MAX_BLOCK_DEPTH
          ? [paragraphFrom(it.lines.join('\n'), 0)]
          : parseBlocks(it.lines, depth + 1, false);
        return { children };
      });
      push({ type: 'list', ordered: first.ordered, start: first.start, tight: !loose, items: nodeItems }, start);
      continue;
    }

    if (isTableStart(lines, i)) {
      const header = splitRow(lines[i]);
      const align = splitRow(lines[i + 1]).map((d) => {
        const l = d.startsWith(':'), r = d.endsWith(':');
        return l && r ? 'center' : r ? 'right' : l ? 'left' : null;
      });
      i += 2;
      const rows = [];
      while (i < lines.length && !isBlank(lines[i]) && lines[i].includes('|') && rows.length < 10000) {
        const cells = splitRow(lines[i]);
        const row = [];
        for (let c = 0; c < header.length; c++) row.push(parseInline(cells[c] ?? '', 0));
        rows.push(row);
        i++;
      }
      push({
        type: 'table',
        align,
        header: header.map((h) => parseInline(h, 0)),
        rows,
      }, start);
      continue;
    }

    // paragraph
    const para = [line.replace(/^ +/, '')];
    i++;
    while (i < lines.length && !isBlank(lines[i]) && !startsBlock(lines, i)) {
      para.push(lines[i].replace(/^ +/, ''));
      i++;
    }
    push(paragraphFrom(para.join('\n').replace(/\s+$/, ''), 0), start);
  }
  return out;
}

// ---------------------------------------------------------------- inline

function isSpace(c) { return c === undefined || /\s/.test(c); }

/** Plain text of an inline tree (for image alt texts). */
export function inlineText(nodes) {
  let s = '';
  for (const n of nodes) {
    if (n.type === 'text' || n.type === 'code') s += n.text;
    else if (n.type === 'br') s += ' ';
    else if (n.type === 'image') s += n.alt;
    else if (n.children) s += inlineText(n.children);
  }
  return s;
}

// Parses "[label](dest "title")" starting at s[i] === '['.
function parseLinkAt(s, i) {
  let depth = 0;
  let j = i;
  const labelEnd = Math.min(s.length, i + MAX_LABEL);
  for (; j < labelEnd; j++) {
    const c = s[j];
    if (c === '\\') { j++; continue; }
    if (c === '`') {                       // code spans may contain brackets
      let n = 1;
      while (s[j + n] === '`') n++;
      const close = s.indexOf('`'.repeat(n), j + n);
      if (close !== -1 && close < labelEnd) { j = close + n - 1; continue; }
      j += n - 1;
      continue;
    }
    if (c === '[') depth++;
    else if (c === ']') { depth--; if (depth === 0) break; }
  }
  if (j >= labelEnd || s[j] !== ']' || s[j + 1] !== '(') return null;
  const label = s.slice(i + 1, j);
  let k = j + 2;
  while (s[k] === ' ' || s[k] === '\n') k++;
  let url = '';
  const urlEnd = Math.min(s.length, k + MAX_URL);
  if (s[k] === '<') {
    const close = s.indexOf('>', k + 1);
    if (close === -1 || close > urlEnd || s.slice(k + 1, close).includes('\n')) return null;
    url = s.slice(k + 1, close);
    k = close + 1;
  } else {
    let parens = 0;
    const startUrl = k;
    for (; k < urlEnd; k++) {
      const c = s[k];
      if (c === '\\' && k + 1 < urlEnd) { k++; continue; }
      if (/\s/.test(c)) break;
      if (c === '(') parens++;
      else if (c === ')') { if (parens === 0) break; parens--; }
    }
    url = s.slice(startUrl, k).replace(/\\(.)/g, '$1');
  }
  while (s[k] === ' ' || s[k] === '\n') k++;
  if (s[k] === '"' || s[k] === '\'') {        // optional title, ignored
    const q = s[k];
    const close = s.indexOf(q, k + 1);
    if (close === -1 || close > k + MAX_LABEL) return null;
    k = close + 1;
    while (s[k] === ' ' || s[k] === '\n') k++;
  }
  if (s[k] !== ')') return null;
  return { label, url, end: k + 1 };
}

// Finds where emphasis delimited by `len` times `ch` closes, searching from
// `from`: a run of `ch` not preceded by whitespace (for '_' not followed by a
// letter). Returns the index of the closing delimiter or -1. `memo` remembers
// failed searches so runs of unmatched delimiters stay linear.
function findCloser(s, ch, len, from, memo) {
  const key = ch + len;
  if (memo[key] !== undefined && memo[key] <= from) return -1;
  let j = from;
  while ((j = s.indexOf(ch, j)) !== -1) {
    let runEnd = j;
    while (s[runEnd] === ch) runEnd++;
    const run = runEnd - j;
    if (j > from && !isSpace(s[j - 1]) && (ch !== '_' || !ALNUM.test(s[runEnd] ?? ''))) {
      if (run === len) return j;
      if ((run === 3 && len < 3) || run > 3) return runEnd - len;
    }
    j = runEnd;
  }
  memo[key] = from;
  return -1;
}

const URL_BARE = /^https?:\/\/[^\s<>"'`]+/i;

/** Parses inline Markdown into an array of inline nodes. */
export function parseInline(s, depth = 0) {
  const out = [];
  let buf = '';
  const memo = {};
  const flush = () => { if (buf) { out.push({ type: 'text', text: buf }); buf = ''; } };
  const inner = (text) => depth + 1 >= MAX_INLINE_DEPTH
    ? [{ type: 'text', text }]
    : parseInline(text, depth + 1);
  let i = 0;
  while (i < s.length) {
    const c = s[i];

    if (c === '\\') {
      const n = s[i + 1];
      if (n === '\n') { buf = buf.replace(/ +$/, ''); flush(); out.push({ type: 'br' }); i += 2; while (s[i] === ' ') i++; continue; }
      if (n !== undefined && PUNCT.includes(n)) { buf += n; i += 2; continue; }
      buf += c; i++; continue;
    }

    if (c === '\n') {
      // chat answers use single newlines on purpose (addresses, lines of a
      // letter): every newline inside a paragraph becomes a line break
      buf = buf.replace(/ +$/, '');
      flush();
      out.push({ type: 'br' });
      i++;
      while (s[i] === ' ') i++;
      continue;
    }

    if (c === '`') {
      let n = 1;
      while (s[i + n] === '`') n++;
      const ticks = '`'.repeat(n);
      let end = -1;
      const key = 'tick' + n;
      if (!(memo[key] !== undefined && memo[key] <= i + n)) {
        let j = i + n;
        while ((j = s.indexOf(ticks, j)) !== -1) {
          let k = j + n;
          if (s[k] === '`') { while (s[k] === '`') k++; j = k; continue; }
          end = j;
          break;
        }
        if (end === -1) memo[key] = i + n;
      }
      if (end !== -1) {
        flush();
        let code = s.slice(i + n, end).replace(/\n/g, ' ');
        if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim()) code = code.slice(1, -1);
        out.push({ type: 'code', text: code });
        i = end + n;
        continue;
      }
      buf += ticks;
      i += n;
      continue;
    }

    if (c === '!' && s[i + 1] === '[') {
      const r = parseLinkAt(s, i + 1);
      if (r) {
        flush();
        out.push({ type: 'image', alt: inlineText(parseInline(r.label, MAX_INLINE_DEPTH)).trim(), src: r.url });
        i = r.end;
        continue;
      }
    }

    if (c === '[') {
      const r = parseLinkAt(s, i);
      if (r) {
        flush();
        const href = safeHref(r.url);
        const children = inner(r.label);
        if (href) out.push({ type: 'link', href, children });
        else out.push(...children);            // unsafe target: keep the label as text only
        i = r.end;
        continue;
      }
    }

    if (c === '<') {
      const m = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(s.slice(i, i + MAX_URL));
      if (m && safeHref(m[1])) {
        flush();
        out.push({ type: 'link', href: safeHref(m[1]), children: [{ type: 'text', text: m[1] }] });
        i += m[0].length;
        continue;
      }
    }

    if ((c === 'h' || c === 'H') && (i === 0 || !ALNUM.test(s[i - 1]))) {
      const m = URL_BARE.exec(s.slice(i, i + MAX_URL));
      if (m) {
        let url = m[0];
        // trailing punctuation belongs to the sentence, not the URL
        while (/[.,;:!?*_~]$/.test(url) || (url.endsWith(')') && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length)) {
          url = url.slice(0, -1);
        }
        const href = safeHref(url);
        if (href) {
          flush();
          out.push({ type: 'link', href, children: [{ type: 'text', text: url }] });
          i += url.length;
          continue;
        }
      }
    }

    if (c === '*' || c === '_' || c === '~') {
      let n = 1;
      while (s[i + n] === c) n++;
      const canOpen = !isSpace(s[i + n]) && (c !== '_' || i === 0 || !ALNUM.test(s[i - 1]));
      if (canOpen && c === '~' && n === 2) {
        const j = findCloser(s, '~', 2, i + 2, memo);
        if (j !== -1) {
          flush();
          out.push({ type: 'del', children: inner(s.slice(i + 2, j)) });
          i = j + 2;
          continue;
        }
      }
      if (canOpen && c !== '~') {
        if (n >= 3) {
          const j = findCloser(s, c, 3, i + 3, memo);
          if (j !== -1) {
            flush();
            out.push({ type: 'strong', children: [{ type: 'em', children: inner(s.slice(i + 3, j)) }] });
            i = j + 3;
            continue;
          }
        }
        if (n >= 2) {
          const j = findCloser(s, c, 2, i + 2, memo);
          if (j !== -1) {
            flush();
            out.push({ type: 'strong', children: inner(s.slice(i + 2, j)) });
            i = j + 2;
            continue;
          }
        }
        if (n === 1) {
          const j = findCloser(s, c, 1, i + 1, memo);
          if (j !== -1) {
            flush();
            out.push({ type: 'em', children: inner(s.slice(i + 1, j)) });
            i = j + 1;
            continue;
          }
        }
      }
      buf += s.slice(i, i + n);
      i += n;
      continue;
    }

    buf += c;
    i++;
  }
  flush();
  return out;
}
