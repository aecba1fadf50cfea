// fake-dom.mjs - a minimal document stand-in so the Markdown DOM builder
// (web/js/render.js) can be tested in Node without a browser. It records
// exactly the calls the builder may use; anything else throws, so a builder
// that starts using innerHTML or other APIs fails the tests.

class FakeNode {
  constructor(kind, tag) {
    this.kind = kind;           // 'element' | 'text' | 'fragment'
    this.tagName = tag;
    this.children = [];
    this.attributes = {};
    this.listeners = {};
    this._text = '';
    this.className = '';
  }
  appendChild(n) { this.children.push(n); n.parent = this; return n; }
  removeChild(n) { this.children = this.children.filter((c) => c !== n); return n; }
  replaceChild(n, old) {
    const i = this.children.indexOf(old);
    if (i === -1) throw new Error('replaceChild: not a child');
    this.children[i] = n;
    return old;
  }
  setAttribute(name, value) {
    if (/^on/i.test(name)) throw new Error('event handler attribute set: ' + name);
    this.attributes[name] = String(value);
  }
  getAttribute(name) { return this.attributes[name] ?? null; }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  set textContent(v) { this.children = [new FakeNode('text')]; this.children[0]._text = String(v); }
  get textContent() {
    if (this.kind === 'text') return this._text;
    return this.children.map((c) => c.textContent).join('');
  }
  set innerHTML(_v) { throw new Error('innerHTML used'); }
  set outerHTML(_v) { throw new Error('outerHTML used'); }
  insertAdjacentHTML() { throw new Error('insertAdjacentHTML used'); }
  /** All element descendants (depth first). */
  *walk() {
    for (const c of this.children) {
      if (c.kind === 'element') { yield c; yield* c.walk(); }
    }
  }
}

export function fakeDocument() {
  return {
    createElement(tag) { return new FakeNode('element', String(tag).toLowerCase()); },
    createTextNode(s) { const n = new FakeNode('text'); n._text = String(s); return n; },
    createDocumentFragment() { return new FakeNode('fragment'); },
  };
}
