// render.js - turns the tree from markdown.js into DOM nodes.
//
// Safety rule: only document.createElement, createTextNode/textContent and
// setAttribute for a fixed set of attributes (class, href, rel, target,
// start, scope, type, aria-label). Never innerHTML. Links are re-checked
// here (http, https, mailto only); images are never created - a Markdown
// image becomes the text "[Bild: alt]" so nothing is fetched.
//
// MarkdownView keeps the DOM of unchanged top-level blocks while an answer
// streams in, so only the last block is rebuilt per update.

import { parseMarkdown, parseLinesFrom, sourceLines, safeHref } from './markdown.js';

const ALLOWED_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

function checkedHref(href) {
  const h = safeHref(href);
  if (!h) return null;
  if (typeof URL === 'function') {
    try {
      const u = new URL(h);
      if (!ALLOWED_PROTOCOLS.has(u.protocol)) return null;
    } catch {
      return null;
    }
  }
  return h;
}

/**
 * Builds DOM for parsed blocks.
 * opts: { doc, t(key, vars), onCopy(text, button) }
 */
export class DomBuilder {
  constructor(opts = {}) {
    this.doc = opts.doc || globalThis.document;
    this.t = opts.t || ((k, v) => (k === 'md.image' ? `[Bild: ${v.alt}]` : k === 'md.copy' ? 'Kopieren' : k));
    this.onCopy = opts.onCopy || null;
  }

  el(tag, cls) {
    const e = this.doc.createElement(tag);
    if (cls) e.className = cls;
    return e;
  }

  text(s) { return this.doc.createTextNode(s); }

  blocks(blocks, parent) {
    for (const b of blocks) parent.appendChild(this.block(b));
    return parent;
  }

  block(b) {
    switch (b.type) {
      case 'paragraph': return this.inlines(b.children, this.el('p'));
      case 'heading': {
        // answers sit below the page's own headings: start at h3
        const level = Math.min(6, b.level + 2);
        return this.inlines(b.children, this.el('h' + level, 'md-h' + b.level));
      }
      case 'hr': return this.el('hr');
      case 'quote': return this.blocks(b.children, this.el('blockquote'));
      case 'code': return this.codeBlock(b);
      case 'list': {
        const list = this.el(b.ordered ? 'ol' : 'ul', b.tight ? 'tight' : null);
        if (b.ordered && b.start !== 1 && Number.isFinite(b.start)) list.setAttribute('start', String(b.start));
        for (const item of b.items) list.appendChild(this.blocks(item.children, this.el('li')));
        return list;
      }
      case 'table': return this.table(b);
      default: return this.text('');
    }
  }

  codeBlock(b) {
    const wrap = this.el('div', 'codeblock');
    const head = this.el('div', 'codeblock-head');
    const lang = this.el('span', 'codeblock-lang');
    lang.textContent = b.lang || this.t('md.code');
    head.appendChild(lang);
    if (this.onCopy) {
      const btn = this.el('button', 'btn btn-small btn-ghost codeblock-copy');
      btn.setAttribute('type', 'button');
      const icon = this.el('span', 'icon icon-copy');
      icon.setAttribute('aria-hidden', 'true');
      const label = this.el('span', 'btn-label');
      label.textContent = this.t('md.copy');
      btn.appendChild(icon);
      btn.appendChild(label);
      const text = b.text;
      btn.addEventListener('click', () => this.onCopy(text, btn));
      head.appendChild(btn);
    }
    const pre = this.el('pre');
    const code = this.el('code');
    code.textContent = b.text;
    pre.appendChild(code);
    pre.setAttribute('tabindex', '0');   // scrollable region reachable by keyboard
    wrap.appendChild(head);
    wrap.appendChild(pre);
    return wrap;
  }

  table(b) {
    const wrap = this.el('div', 'table-wrap');
    wrap.setAttribute('tabindex', '0');
    const table = this.el('table');
    const thead = this.el('thead');
    const tr = this.el('tr');
    b.header.forEach((cell, i) => {
      const th = this.inlines(cell, this.el('th', b.align[i] ? 'align-' + b.align[i] : null));
      th.setAttribute('scope', 'col');
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    const tbody = this.el('tbody');
    for (const row of b.rows) {
      const r = this.el('tr');
      row.forEach((cell, i) => r.appendChild(this.inlines(cell, this.el('td', b.align[i] ? 'align-' + b.align[i] : null))));
      tbody.appendChild(r);
    }
    table.appendChild(tbody);
    wrap.appendChild(table);
    return wrap;
  }

  inlines(nodes, parent) {
    for (const n of nodes) parent.appendChild(this.inline(n));
    return parent;
  }

  inline(n) {
    switch (n.type) {
      case 'text': return this.text(n.text);
      case 'br': return this.el('br');
      case 'code': {
        const c = this.el('code');
        c.textContent = n.text;
        return c;
      }
      case 'strong': return this.inlines(n.children, this.el('strong'));
      case 'em': return this.inlines(n.children, this.el('em'));
      case 'del': return this.inlines(n.children, this.el('del'));
      case 'link': {
        const href = checkedHref(n.href);
        if (!href) return this.inlines(n.children, this.el('span'));
        const a = this.el('a');
        a.setAttribute('href', href);
        a.setAttribute('rel', 'noopener noreferrer');
        a.setAttribute('target', '_blank');
        return this.inlines(n.children, a);
      }
      case 'image': {
        // never load: show a textual placeholder
        const s = this.el('span', 'md-image');
        s.textContent = this.t('md.image', { alt: n.alt || '' });
        return s;
      }
      default: return this.text('');
    }
  }
}

/** Renders Markdown text into a fresh container element. */
export function renderMarkdown(text, opts = {}) {
  const b = new DomBuilder(opts);
  return b.blocks(parseMarkdown(text), b.el('div', 'md'));
}

/**
 * A container whose Markdown content can be updated repeatedly (streaming).
 * Blocks whose source did not change keep their DOM nodes.
 */
export class MarkdownView {
  constructor(opts = {}) {
    this.builder = new DomBuilder(opts);
    this.root = this.builder.el('div', 'md');
    this.keys = [];
    this.nodes = [];
    this.text = null;
    this.blocks = null;
  }

  update(text) {
    if (text === this.text) return;
    const appended = this.text !== null && text.startsWith(this.text);
    this.text = text;
    const lines = sourceLines(text);
    let blocks;
    if (appended && this.blocks && this.blocks.length > 2) {
      // text only grew: blocks before the last two cannot change (a block
      // ends on lines that are already there), so re-parse from the start
      // of the second-to-last block only
      const keep = this.blocks.length - 2;
      blocks = this.blocks.slice(0, keep).concat(parseLinesFrom(lines, this.blocks[keep].line));
    } else {
      blocks = parseLinesFrom(lines, 0);
    }
    this.blocks = blocks;
    for (let i = 0; i < blocks.length; i++) {
      if (this.keys[i] === blocks[i].key && this.nodes[i]) continue;
      const node = this.builder.block(blocks[i]);
      if (this.nodes[i]) this.root.replaceChild(node, this.nodes[i]);
      else this.root.appendChild(node);
      this.nodes[i] = node;
      this.keys[i] = blocks[i].key;
    }
    while (this.nodes.length > blocks.length) {
      const old = this.nodes.pop();
      this.keys.pop();
      this.root.removeChild(old);
    }
  }
}
