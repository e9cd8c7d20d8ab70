/** One dispatched Server-Sent Event. */
export interface SseEvent {
  /** The `event:` field, `message` when absent. */
  readonly event: string;
  readonly data: string;
}

/**
 * The text/event-stream format (WHATWG HTML §9.2.6 "Interpreting an event stream"), pure: text in, events out,
 * chunks split anywhere (a line, a CRLF, a UTF-8 character - the caller decodes with a streaming TextDecoder).
 * Lines end in CRLF, LF or CR; a blank line dispatches the event; `:` starts a comment; a field's value loses one
 * leading space; `data` lines join with LF; an event without data is not dispatched. `retry` is kept for the
 * caller; `id` is read but not used (no Last-Event-ID replay).
 */
export class SseParser {
  private buffer = '';
  private eventType = '';
  private data: string[] = [];
  private sawData = false;
  /** The last `retry:` the server sent (ms), if any. */
  retryMs: number | undefined;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (c === '\r' && i === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, i), out);
      if (c === '\r' && this.buffer[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.sawData) out.push({ event: this.eventType === '' ? 'message' : this.eventType, data: this.data.join('\n') });
      this.eventType = '';
      this.data = [];
      this.sawData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        this.sawData = true;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        // `id` and unknown fields: ignored, as the format says for unknown ones.
        break;
    }
  }
}
