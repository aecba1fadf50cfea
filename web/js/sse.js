// sse.js - a small incremental parser for text/event-stream bodies.
//
// EventSource cannot POST, so the chat reads the answer stream with fetch()
// and feeds the decoded text chunks here. Follows the WHATWG rules that
// matter for us: lines end with \n, \r\n or \r; "event:" sets the type,
// "data:" lines are joined with \n, ":" starts a comment, a blank line
// dispatches. DOM-free, tested in tests/ui/sse.test.mjs.

export class SseParser {
  /** onEvent(type, data) is called for every complete event. */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.type = '';
    this.data = [];
    this.pendingCR = false;
  }

  push(chunk) {
    let s = chunk;
    if (this.pendingCR && s.startsWith('\n')) s = s.slice(1);  // \r\n split across chunks
    this.pendingCR = false;
    this.buf += s;
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== '\n' && c !== '\r') continue;
      const line = this.buf.slice(start, i);
      if (c === '\r') {
        if (i + 1 < this.buf.length) {
          if (this.buf[i + 1] === '\n') i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
      this.line(line);
    }
    this.buf = this.buf.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.onEvent(this.type || 'message', this.data.join('\n'));
      this.type = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
  }

  /** Call at the end of the stream; an unterminated event is dropped (per spec). */
  end() {
    this.buf = '';
    this.type = '';
    this.data = [];
  }
}
