import { AmiFormatError, AmiParseError } from '../errors.js';
import { ByteLineReader } from '../internal/byte-line-reader.js';

/**
 * Asterisk Manager Interface codec (main/manager.c). Pure: bytes in, messages out; strings out for actions.
 *
 * Wire format: a banner line `Asterisk Call Manager/<AMI version>\r\n` on connect (no blank line after it),
 * then messages of `Key: Value` lines ending in CRLF (a bare LF also ends a line), each closed by an
 * empty line.
 */

export interface AmiHeader {
  readonly key: string;
  readonly value: string;
}

/** Ordered headers of one message; repeated keys (`Output:` lines of a Command action) are all kept. */
export class AmiHeaders implements Iterable<AmiHeader> {
  readonly list: readonly AmiHeader[];

  constructor(list: readonly AmiHeader[]) {
    this.list = list;
  }

  get size(): number {
    return this.list.length;
  }

  /** First value of `key`, compared case-insensitively as manager.c astman_get_header() does. */
  get(key: string): string | undefined {
    // Names of another length are passed over without lower-casing them: every event listener of the agent asks a
    // few headers of every event (the DeviceStateChange and Cdr of each call), and a lower-cased copy of each name
    // per lookup was most of it. A name that lower-cases to an ASCII name has its length: each of its characters
    // lower-cases to one ASCII character (U+212A KELVIN SIGN to `k`, ...), one UTF-16 unit each.
    const wanted = key.toLowerCase();
    const anyLength = !isAscii(wanted);
    for (const h of this.list) {
      const name = h.key;
      if (name === key) return h.value;
      if ((anyLength || name.length === wanted.length) && name.toLowerCase() === wanted) return h.value;
    }
    return undefined;
  }

  /** Every value of `key`, in order. */
  getAll(key: string): string[] {
    const wanted = key.toLowerCase();
    return this.list.filter((h) => h.key.toLowerCase() === wanted).map((h) => h.value);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  [Symbol.iterator](): Iterator<AmiHeader> {
    return this.list[Symbol.iterator]();
  }
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

export type AmiMessage =
  /** Answer to an action: `Response: Success|Error|Goodbye|...`, with the action's `ActionID` (absent on some errors). */
  | { readonly kind: 'response'; readonly response: string; readonly actionId: string | undefined; readonly headers: AmiHeaders }
  /** `Event: <Name>`; list items carry the listing action's `ActionID`. */
  | { readonly kind: 'event'; readonly event: string; readonly actionId: string | undefined; readonly headers: AmiHeaders }
  /** Neither `Response:` nor `Event:` first. */
  | { readonly kind: 'unknown'; readonly actionId: string | undefined; readonly headers: AmiHeaders };

export type AmiParseEvent =
  | { readonly type: 'banner'; readonly version: string; readonly line: string }
  | { readonly type: 'message'; readonly message: AmiMessage };

export interface AmiParserLimits {
  /** Longest line we accept from Asterisk, line end excluded (Asterisk limits what it reads, not what it writes). */
  readonly maxLineBytes: number;
  /** Most header lines in one message. */
  readonly maxHeaders: number;
  /** Most bytes in one message. */
  readonly maxMessageBytes: number;
}

export const DEFAULT_AMI_PARSER_LIMITS: AmiParserLimits = Object.freeze({
  maxLineBytes: 64 * 1024,
  maxHeaders: 1024,
  maxMessageBytes: 1024 * 1024,
});

export interface AmiParserOptions {
  /** Whether the stream starts with the banner line (true for a fresh connection). Default true. */
  readonly expectBanner?: boolean;
  readonly limits?: Partial<AmiParserLimits>;
}

const BANNER_PREFIX = 'Asterisk Call Manager/';

/**
 * Streaming AMI parser. Lines end at LF with one CR before it stripped (a bare CR inside a value is kept,
 * as Asterisk keeps it); empty lines outside a message are skipped (Asterisk sometimes writes one
 * extra, e.g. `Message: No Contacts found\n\r\n\r\n`). Bounded by its limits; after an error it stays failed.
 */
export class AmiParser {
  private readonly limits: AmiParserLimits;
  private readonly reader = new ByteLineReader();
  private awaitingBanner: boolean;
  private headers: AmiHeader[] = [];
  private messageBytes = 0;
  private failure: AmiParseError | undefined;

  constructor(options: AmiParserOptions = {}) {
    this.limits = { ...DEFAULT_AMI_PARSER_LIMITS, ...options.limits };
    this.awaitingBanner = options.expectBanner ?? true;
  }

  /** Bytes held: an incomplete line plus the headers of an incomplete message (counted as received). */
  get bufferedBytes(): number {
    return this.reader.bufferedBytes + this.messageBytes;
  }

  push(chunk: Uint8Array): AmiParseEvent[] {
    return this.parse(chunk, chunk.length, false);
  }

  /**
   * {@link push} for a socket's reused read buffer (net.connect's `onread`): its first `length` bytes are the read,
   * lent for this call only. Whole lines are decoded straight from it; only an incomplete line's bytes are copied
   * out, so the usual read - whole messages - copies nothing.
   */
  pushRead(buffer: Uint8Array, length: number): AmiParseEvent[] {
    return this.parse(buffer, length, true);
  }

  private parse(chunk: Uint8Array, length: number, borrowed: boolean): AmiParseEvent[] {
    if (this.failure) throw this.failure;
    try {
      return this.consume(chunk, length, borrowed);
    } catch (error) {
      if (error instanceof AmiParseError) this.failure = error;
      throw error;
    } finally {
      // Nothing may keep a view of a lent buffer once the call returns (it is read into again).
      if (borrowed) this.reader.retainRest();
    }
  }

  private consume(chunk: Uint8Array, length: number, borrowed: boolean): AmiParseEvent[] {
    const { maxLineBytes, maxHeaders, maxMessageBytes } = this.limits;
    const out: AmiParseEvent[] = [];
    if (borrowed) this.reader.appendBorrowed(chunk, length);
    else this.reader.append(chunk, length);
    // Each line is measured, then decoded straight from the reader's buffer (CR stripped): no Buffer view per line.
    for (let length = this.reader.peekLineLength(); length >= 0; length = this.reader.peekLineLength()) {
      // The length counts a CR before the LF, as the line read whole did.
      if (length > maxLineBytes) throw lineTooLong(maxLineBytes);
      const line = this.reader.takeLineText();
      if (this.awaitingBanner) {
        if (!line.startsWith(BANNER_PREFIX)) throw new AmiParseError('AMI_BAD_BANNER', 'stream does not start with the AMI banner');
        this.awaitingBanner = false;
        out.push({ type: 'banner', version: line.slice(BANNER_PREFIX.length), line });
        continue;
      }
      // The closing empty line counts towards the message size too, so that the size check on a partial
      // line (below) can never fire where the complete line would not: the outcome is chunking-independent.
      this.messageBytes += length + 1;
      if (this.messageBytes > maxMessageBytes) throw messageTooLarge(maxMessageBytes);
      if (line === '') {
        if (this.headers.length > 0) out.push({ type: 'message', message: classify(this.headers) });
        this.headers = [];
        this.messageBytes = 0;
        continue;
      }
      if (this.headers.length >= maxHeaders) throw new AmiParseError('AMI_TOO_MANY_HEADERS', `message has more than ${maxHeaders} headers`);
      this.headers.push(splitHeader(line));
    }
    const pending = this.reader.bufferedBytes;
    if (pending > maxLineBytes) throw lineTooLong(maxLineBytes);
    if (!this.awaitingBanner && this.messageBytes + pending > maxMessageBytes) throw messageTooLarge(maxMessageBytes);
    return out;
  }
}

/**
 * `Key: Value` split at the first `:`, dropping the one space manager.c writes after it ("%s: %s\r\n").
 * A line without a colon is kept with an empty key.
 */
function splitHeader(line: string): AmiHeader {
  const colon = line.indexOf(':');
  if (colon < 0) return { key: '', value: line };
  const rest = line.slice(colon + 1);
  return { key: line.slice(0, colon), value: rest.startsWith(' ') ? rest.slice(1) : rest };
}

function classify(list: readonly AmiHeader[]): AmiMessage {
  const headers = new AmiHeaders(list);
  let actionId: string | undefined;
  let first: { kind: 'response' | 'event'; value: string } | undefined;
  for (const { key, value } of list) {
    // Keys are compared case-insensitively, like astman_get_header(); first occurrence wins.
    if (key.length === 8 && actionId === undefined && key.toLowerCase() === 'actionid') actionId = value;
    else if (first === undefined && key.length === 8 && key.toLowerCase() === 'response') first = { kind: 'response', value };
    else if (first === undefined && key.length === 5 && key.toLowerCase() === 'event') first = { kind: 'event', value };
  }
  switch (first?.kind) {
    case 'response':
      return { kind: 'response', response: first.value, actionId, headers };
    case 'event':
      return { kind: 'event', event: first.value, actionId, headers };
    case undefined:
      return { kind: 'unknown', actionId, headers };
  }
}

function lineTooLong(max: number): AmiParseError {
  return new AmiParseError('AMI_LINE_TOO_LONG', `AMI line longer than ${max} bytes`);
}

function messageTooLarge(max: number): AmiParseError {
  return new AmiParseError('AMI_MESSAGE_TOO_LARGE', `AMI message larger than ${max} bytes`);
}

// ---------------------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------------------

/**
 * manager.c reads lines into a 1025-byte buffer: a longer line is discarded with "Failed to parse message:
 * line too long" and no ActionID (fixture ami-10-crlf-injection.json). Our limit includes the CRLF.
 */
export const AMI_MAX_LINE_BYTES = 1024;
/** manager.c AST_MAX_MANHEADERS. */
export const AMI_MAX_HEADERS = 128;

const AMI_KEY = /^[A-Za-z0-9_-]+$/;
/**
 * manager.c ends a line at a bare LF too, and an empty line ends the action: a CR or LF in a value injects
 * headers or a whole second action that Asterisk executes (fixture ami-10-crlf-injection.json).
 * NUL would end the C string early.
 */
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;
const RESERVED_KEYS = new Set(['action', 'actionid']);
/** A lone UTF-16 surrogate has no UTF-8 encoding: it would silently become U+FFFD on the wire. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Serialises one action: `Action: <action>\r\n`, the fields in order (an array value repeats the key, as
 * Originate's `Variable:` needs), `ActionID: <id>\r\n`, then the empty line.
 * Throws {@link AmiFormatError} for CR/LF/NUL anywhere, keys outside `[A-Za-z0-9_-]+`, `Action`/`ActionID`
 * among the fields (the first would win in Asterisk), lines over 1024 bytes or more than 128 headers.
 */
export function formatAmiAction(action: string, fields: Readonly<Record<string, string | readonly string[]>>, actionId: string): string {
  // Built by concatenation, without an array, closure or entry pair per header: the agent formats thousands of
  // actions a second (busy lamps), and each of those objects was garbage at once.
  if (!AMI_KEY.test(action)) throw new AmiFormatError('AMI_BAD_KEY', 'AMI action name must match [A-Za-z0-9_-]+');
  let text = amiLine('Action', action);
  let headers = 1;
  for (const key of Object.keys(fields)) {
    if (RESERVED_KEYS.has(key.toLowerCase())) throw new AmiFormatError('AMI_RESERVED_KEY', `${key} is set by formatAmiAction itself`);
    const value = fields[key]!;
    if (typeof value === 'string') {
      text += amiLine(key, value);
      headers += 1;
    } else {
      for (const v of value) text += amiLine(key, v);
      headers += value.length;
    }
  }
  text += amiLine('ActionID', actionId);
  if (headers + 1 > AMI_MAX_HEADERS) throw new AmiFormatError('AMI_TOO_MANY_HEADERS', `AMI action has more than ${AMI_MAX_HEADERS} headers`);
  return `${text}\r\n`;
}

/** One checked `Key: value\r\n` line. */
function amiLine(key: string, value: string): string {
  if (FORBIDDEN_IN_VALUE.test(key) || FORBIDDEN_IN_VALUE.test(value) || LONE_SURROGATE.test(value)) {
    throw new AmiFormatError('AMI_FORBIDDEN_CHAR', `AMI header ${JSON.stringify(key)} contains CR, LF or NUL`);
  }
  if (!AMI_KEY.test(key)) throw new AmiFormatError('AMI_BAD_KEY', 'AMI header key must match [A-Za-z0-9_-]+');
  const line = `${key}: ${value}\r\n`;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: a short line needs no count.
  if (line.length * 3 > AMI_MAX_LINE_BYTES && Buffer.byteLength(line, 'utf8') > AMI_MAX_LINE_BYTES) {
    throw new AmiFormatError('AMI_LINE_TOO_LONG', `AMI header ${key} longer than ${AMI_MAX_LINE_BYTES} bytes`);
  }
  return line;
}
