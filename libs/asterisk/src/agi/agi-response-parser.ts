import { AgiResponseParseError } from '../errors.js';
import { ByteLineReader } from '../internal/byte-line-reader.js';

/**
 * One answer line (or `520-` block) from res_agi.c.
 *
 * `result` is kept as the raw text after `result=`: GET DATA answers `200 result=<digits>` where the digits
 * are what the caller typed (leading zeros, `*`, or nothing at all), so it is not always a number.
 */
export interface AgiResponse {
  /** Three-digit status: 200, 100 (intermediate), 503, 510, 511, 520. */
  readonly code: number;
  /** Raw text after `result=` up to the first space; undefined when the line has no `result=`. */
  readonly result: string | undefined;
  /** `result` as an integer when it is one (`-1`, `0`, `1`, `49`), else undefined. */
  readonly resultNumber: number | undefined;
  /** Text inside the parentheses: from the first ` (` after the result to the last `)` (may contain `)`, spaces, a CR). */
  readonly data: string | undefined;
  /** `endpos=<n>` at the end of the line (STREAM FILE, RECORD FILE, ...). */
  readonly endpos: number | undefined;
  /** Free text that is not data: `Gosub complete`, `Trying...`, `Invalid or unknown command`, `End of proper usage.` */
  readonly text: string | undefined;
  /** For a multi-line `520-` block: the usage lines between the first and the closing line. */
  readonly usage: readonly string[] | undefined;
  /** The response as received: its lines joined with `\n`, without the final LF. */
  readonly raw: string;
}

export type AgiResponseEvent =
  /** A final answer to the command in flight. */
  | { readonly type: 'response'; readonly response: AgiResponse }
  /** `100 result=0 Trying...` (GOSUB): the final answer is still to come. */
  | { readonly type: 'intermediate'; readonly response: AgiResponse }
  /** `HANGUP`: the channel hung up. A notification, never the answer to a command. */
  | { readonly type: 'hangup' }
  /** A line that is none of the above (e.g. the tail of a value that contained a newline). */
  | { readonly type: 'unknown'; readonly line: string };

/** Where {@link AgiResponseParser.pushInto} appends a chunk's events: an array, or a list that reuses its slots. */
export interface AgiResponseEventSink {
  push(event: AgiResponseEvent): unknown;
}

export interface AgiResponseLimits {
  /** Longest line in bytes, LF excluded. GET FULL VARIABLE answers lines of 8 KiB and more. */
  readonly maxLineBytes: number;
  /** Most lines in one `520-` block, both 520 lines included. */
  readonly maxBlockLines: number;
  /** Most bytes in one `520-` block. */
  readonly maxBlockBytes: number;
}

export const DEFAULT_AGI_RESPONSE_LIMITS: AgiResponseLimits = Object.freeze({
  maxLineBytes: 16 * 1024,
  maxBlockLines: 64,
  maxBlockBytes: 32 * 1024,
});

/** The default `limits` argument: recognised so that a session without overrides shares the frozen defaults. */
const DEFAULT_LIMITS_ARG: Partial<AgiResponseLimits> = Object.freeze({});
const ENDPOS_SUFFIX = / endpos=(-?\d+)$/;

/**
 * Streaming parser of everything Asterisk writes after the environment block. Byte-level; a line is
 * decoded as UTF-8 only once complete. Memory held is bounded by the limits (a partial line never
 * exceeds `maxLineBytes`, a pending 520 block never exceeds `maxBlockBytes`).
 */
export class AgiResponseParser {
  private readonly limits: AgiResponseLimits;
  private readonly reader = new ByteLineReader();
  private block: { lines: string[]; bytes: number } | undefined;
  private failure: AgiResponseParseError | undefined;

  constructor(limits: Partial<AgiResponseLimits> = DEFAULT_LIMITS_ARG) {
    this.limits = limits === DEFAULT_LIMITS_ARG ? DEFAULT_AGI_RESPONSE_LIMITS : { ...DEFAULT_AGI_RESPONSE_LIMITS, ...limits };
  }

  /** Bytes held for an incomplete line plus an incomplete 520 block. */
  get bufferedBytes(): number {
    return this.reader.bufferedBytes + (this.block?.bytes ?? 0);
  }

  /** Whether a `520-` block has started and not ended. */
  get inBlock(): boolean {
    return this.block !== undefined;
  }

  push(chunk: Uint8Array): AgiResponseEvent[] {
    const events: AgiResponseEvent[] = [];
    this.pushInto(chunk, events);
    return events;
  }

  /**
   * Like {@link push}, but appends the events to `out` (which the caller may reuse between chunks).
   * On error nothing of this chunk is appended that would not have been returned by `push` - `push` returns
   * nothing at all then - so callers must drop `out`'s new entries when it throws.
   */
  pushInto(chunk: Uint8Array, out: AgiResponseEventSink, length = chunk.length): void {
    if (this.failure) throw this.failure;
    try {
      this.consume(chunk, length, out);
    } catch (error) {
      if (error instanceof AgiResponseParseError) this.failure = error;
      throw error;
    }
  }

  private consume(chunk: Uint8Array, byteCount: number, events: AgiResponseEventSink): void {
    const { maxLineBytes } = this.limits;
    const reader = this.reader;
    reader.appendBorrowed(chunk, byteCount);
    for (let length = reader.peekLineLength(); length >= 0; length = reader.peekLineLength()) {
      if (length > maxLineBytes) throw lineTooLong(maxLineBytes);
      const event = this.onLine(reader.takeLineText(), length + 1);
      if (event) events.push(event);
    }
    if (reader.bufferedBytes > maxLineBytes) throw lineTooLong(maxLineBytes);
    if (this.block && this.block.bytes + reader.bufferedBytes > this.limits.maxBlockBytes) throw blockTooLarge();
    reader.retainRest();
  }

  private onLine(line: string, byteLength: number): AgiResponseEvent | undefined {
    if (this.block) {
      // res_agi.c writes a whole usage block from the command's own thread, so nothing (not even HANGUP)
      // is interleaved: every line up to "520 " belongs to the block.
      this.block.lines.push(line);
      this.block.bytes += byteLength;
      if (this.block.lines.length > this.limits.maxBlockLines || this.block.bytes > this.limits.maxBlockBytes) {
        throw blockTooLarge();
      }
      if (!line.startsWith('520 ')) return undefined;
      const lines = this.block.lines;
      this.block = undefined;
      return { type: 'response', response: blockResponse(lines) };
    }
    if (line === 'HANGUP') return HANGUP_EVENT;
    const code = statusCode(line);
    if (code < 0) return { type: 'unknown', line };
    if (line.length > 3 && line.charCodeAt(3) === DASH) {
      if (code === 520) {
        this.block = { lines: [line], bytes: byteLength };
        return undefined;
      }
      return { type: 'unknown', line };
    }
    return answerEvent(line, code);
  }
}

/**
 * Parses one final response line: `<code>[ result=<r>][ (<data>)][ <text>][ endpos=<n>]`.
 * Data is everything between the first ` (` after the result and the last `)` before an optional
 * trailing ` endpos=<n>`: GET VARIABLE values are raw and may contain `)` and spaces.
 */
export function parseAgiResponseLine(line: string): AgiResponse | undefined {
  const code = statusCode(line);
  if (code < 0 || (line.length > 3 && line.charCodeAt(3) === DASH)) return undefined;
  return parseResponseLine(line, code);
}

const HANGUP_EVENT: AgiResponseEvent = Object.freeze({ type: 'hangup' });

/**
 * Events of the short answers already seen, shared and frozen: Asterisk gives the same few answers over and over
 * (`200 result=1`, `200 result=0`, `200 result=1 (ANSWER)`), so most calls parse and allocate none of theirs.
 * Bounded whatever the peer sends: lines up to 64 characters, at most 256 of them (then it starts over).
 */
const sharedAnswers = new Map<string, AgiResponseEvent>();
const MAX_SHARED_LINE = 64;
const MAX_SHARED_ANSWERS = 256;

function answerEvent(line: string, code: number): AgiResponseEvent {
  if (line.length > MAX_SHARED_LINE) return responseEvent(parseResponseLine(line, code));
  let event = sharedAnswers.get(line);
  if (event === undefined) {
    event = Object.freeze(responseEvent(Object.freeze(parseResponseLine(line, code))));
    if (sharedAnswers.size >= MAX_SHARED_ANSWERS) sharedAnswers.clear();
    sharedAnswers.set(line, event);
  }
  return event;
}

function responseEvent(response: AgiResponse): AgiResponseEvent {
  return response.code === 100 ? { type: 'intermediate', response } : { type: 'response', response };
}
const DASH = 0x2d;
const SPACE = 0x20;
const ZERO = 0x30;

/** `^(\d{3})([ -]|$)` without a regex: the three-digit code, or -1 when the line does not start with one. */
function statusCode(line: string): number {
  if (line.length < 3) return -1;
  const a = line.charCodeAt(0) - ZERO;
  const b = line.charCodeAt(1) - ZERO;
  const c = line.charCodeAt(2) - ZERO;
  if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  if (line.length > 3) {
    const sep = line.charCodeAt(3);
    if (sep !== SPACE && sep !== DASH) return -1;
  }
  return a * 100 + b * 10 + c;
}

/** `^-?\d+$` as a number, or undefined. Long digit strings go through Number() exactly as before. */
function integerValue(text: string): number | undefined {
  const n = text.length;
  let i = text.charCodeAt(0) === DASH ? 1 : 0;
  if (i >= n) return undefined;
  for (; i < n; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return undefined;
  }
  return Number(text);
}

function parseResponseLine(line: string, code: number): AgiResponse {
  let rest = line.slice(4);
  let result: string | undefined;
  let endpos: number | undefined;
  let data: string | undefined;
  let text: string | undefined;
  if (rest.startsWith('result=')) {
    const space = rest.indexOf(' ');
    result = space < 0 ? rest.slice(7) : rest.slice(7, space);
    rest = space < 0 ? '' : rest.slice(space);
    // `200 result=1`: nothing after the result (the common answer), nothing more to look for.
    const ep = rest === '' ? null : ENDPOS_SUFFIX.exec(rest);
    if (ep) {
      endpos = Number(ep[1]);
      rest = rest.slice(0, ep.index);
    }
    const close = rest === '' ? -1 : rest.lastIndexOf(')');
    if (close >= 2 && rest.startsWith(' (')) {
      data = rest.slice(2, close);
      const after = rest.slice(close + 1).trim();
      text = after === '' ? undefined : after;
    } else if (rest !== '') {
      const t = rest.trim();
      text = t === '' ? undefined : t;
    }
  } else {
    text = rest === '' ? undefined : rest;
  }
  const resultNumber = result === undefined ? undefined : integerValue(result);
  return { code, result, resultNumber, data, endpos, text, usage: undefined, raw: line };
}

function blockResponse(lines: readonly string[]): AgiResponse {
  const last = lines[lines.length - 1] ?? '520 ';
  return {
    code: 520,
    result: undefined,
    resultNumber: undefined,
    data: undefined,
    endpos: undefined,
    text: last.slice(4),
    usage: lines.slice(1, -1),
    raw: lines.join('\n'),
  };
}

function lineTooLong(max: number): AgiResponseParseError {
  return new AgiResponseParseError('RESPONSE_LINE_TOO_LONG', `response line longer than ${max} bytes`);
}

function blockTooLarge(): AgiResponseParseError {
  return new AgiResponseParseError('RESPONSE_BLOCK_TOO_LARGE', '520 usage block exceeds its line or byte limit');
}
