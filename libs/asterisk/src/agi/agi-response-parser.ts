import { AgiResponseParseError } from '../errors.js';
import { ByteLineReader, stripTrailingCr } from '../internal/byte-line-reader.js';

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

const STATUS_LINE = /^(\d{3})([ -]|$)/;
const ENDPOS_SUFFIX = / endpos=(-?\d+)$/;
const INTEGER = /^-?\d+$/;

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

  constructor(limits: Partial<AgiResponseLimits> = {}) {
    this.limits = { ...DEFAULT_AGI_RESPONSE_LIMITS, ...limits };
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
    if (this.failure) throw this.failure;
    try {
      return this.consume(chunk);
    } catch (error) {
      if (error instanceof AgiResponseParseError) this.failure = error;
      throw error;
    }
  }

  private consume(chunk: Uint8Array): AgiResponseEvent[] {
    const { maxLineBytes } = this.limits;
    const events: AgiResponseEvent[] = [];
    this.reader.append(chunk);
    for (let line = this.reader.readLine(); line !== undefined; line = this.reader.readLine()) {
      if (line.length > maxLineBytes) throw lineTooLong(maxLineBytes);
      const event = this.onLine(stripTrailingCr(line).toString('utf8'), line.length + 1);
      if (event) events.push(event);
    }
    if (this.reader.bufferedBytes > maxLineBytes) throw lineTooLong(maxLineBytes);
    if (this.block && this.block.bytes + this.reader.bufferedBytes > this.limits.maxBlockBytes) throw blockTooLarge();
    return events;
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
    if (line === 'HANGUP') return { type: 'hangup' };
    const status = STATUS_LINE.exec(line);
    if (!status) return { type: 'unknown', line };
    const code = Number(status[1]);
    if (status[2] === '-') {
      if (code === 520) {
        this.block = { lines: [line], bytes: byteLength };
        return undefined;
      }
      return { type: 'unknown', line };
    }
    const response = parseResponseLine(line, code);
    return code === 100 ? { type: 'intermediate', response } : { type: 'response', response };
  }
}

/**
 * Parses one final response line: `<code>[ result=<r>][ (<data>)][ <text>][ endpos=<n>]`.
 * Data is everything between the first ` (` after the result and the last `)` before an optional
 * trailing ` endpos=<n>`: GET VARIABLE values are raw and may contain `)` and spaces.
 */
export function parseAgiResponseLine(line: string): AgiResponse | undefined {
  const status = STATUS_LINE.exec(line);
  if (!status || status[2] === '-') return undefined;
  return parseResponseLine(line, Number(status[1]));
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
    const ep = ENDPOS_SUFFIX.exec(rest);
    if (ep) {
      endpos = Number(ep[1]);
      rest = rest.slice(0, ep.index);
    }
    const close = rest.lastIndexOf(')');
    if (rest.startsWith(' (') && close >= 2) {
      data = rest.slice(2, close);
      const after = rest.slice(close + 1).trim();
      text = after === '' ? undefined : after;
    } else {
      const t = rest.trim();
      text = t === '' ? undefined : t;
    }
  } else {
    text = rest === '' ? undefined : rest;
  }
  const resultNumber = result !== undefined && INTEGER.test(result) ? Number(result) : undefined;
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
