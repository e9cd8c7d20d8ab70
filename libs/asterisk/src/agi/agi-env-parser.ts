import { AgiEnvError } from '../errors.js';
import { ByteLineReader } from '../internal/byte-line-reader.js';

/**
 * The FastAGI environment block (res_agi.c `setup_env`): `agi_<name>: <value>` lines then one empty line.
 * Every value is raw, unescaped and - for caller ID and arguments - controlled by the far end.
 */
export interface AgiEnvironment {
  /** Every line as received, key -> value, in the order received (duplicates are refused). Built on first use. */
  readonly raw: ReadonlyMap<string, string>;
  /** `agi_network_script`: everything after the first `/` of the AGI URL, query included and undecoded; absent when the URL has no script part. */
  readonly networkScript: string | undefined;
  /** `networkScript` before the first `?` (`args2/sub/path`). */
  readonly scriptPath: string | undefined;
  /** Raw query string after the first `?`, undecoded (`x=1&y=a%20b&z=`); undefined when there is no `?`. */
  readonly scriptQuery: string | undefined;
  /** First segment of `scriptPath` (`args2`): what the agent routes on. */
  readonly entry: string | undefined;
  /** `agi_request`: the AGI URL without the AGI() arguments. */
  readonly request: string;
  readonly channel: string;
  readonly language: string | undefined;
  /** `agi_type`: channel technology (`PJSIP`, `Local`). */
  readonly type: string | undefined;
  readonly uniqueId: string;
  readonly version: string | undefined;
  /** `agi_callerid` as given (`unknown` when Asterisk has no valid number). */
  readonly callerId: string | undefined;
  /** `agi_calleridname` as given: SIP escapes still inside (`Ivan \"The\" Petrov`), `unknown` when not valid. */
  readonly callerIdName: string | undefined;
  /** `agi_callerid`, but undefined for `unknown` or empty. Untrusted text: validate before use. */
  readonly callerIdNumber: string | undefined;
  readonly dnid: string | undefined;
  readonly rdnis: string | undefined;
  readonly context: string | undefined;
  readonly extension: string | undefined;
  readonly priority: string | undefined;
  readonly accountCode: string | undefined;
  /** `agi_arg_1` .. `agi_arg_N` in order (stops at the first missing index). Empty strings kept. */
  readonly args: readonly string[];
}

export interface AgiEnvLimits {
  /** Longest line in bytes, LF excluded. */
  readonly maxLineBytes: number;
  /** Most lines, the closing empty line included. */
  readonly maxLines: number;
  /** Most bytes in the whole block, the closing empty line included. */
  readonly maxTotalBytes: number;
}

export const DEFAULT_AGI_ENV_LIMITS: AgiEnvLimits = Object.freeze({
  maxLineBytes: 4096,
  maxLines: 256,
  maxTotalBytes: 64 * 1024,
});

export interface AgiEnvResult {
  readonly env: AgiEnvironment;
  /** Bytes that followed the empty line in the same chunk(s): the start of the response stream. */
  readonly leftover: Buffer;
}

/** The default `limits` argument: recognised so that a parser without overrides shares the frozen defaults. */
const DEFAULT_LIMITS_ARG: Partial<AgiEnvLimits> = Object.freeze({});

/** Longest key: res_agi.c's are `[a-z_0-9]`, well under it; anything else means the peer is not speaking FastAGI. */
const MAX_KEY_LENGTH = 64;

/**
 * The keys res_agi.c `setup_env` writes (`agi_arg_<n>` aside), in its order. Each has a slot of its own, found
 * without cutting the key out of the line: Asterisk sends ~22 of them on every call.
 */
const KNOWN_KEYS = [
  'agi_network',
  'agi_network_script',
  'agi_request',
  'agi_channel',
  'agi_language',
  'agi_type',
  'agi_uniqueid',
  'agi_version',
  'agi_callerid',
  'agi_calleridname',
  'agi_callingpres',
  'agi_callingani2',
  'agi_callington',
  'agi_callingtns',
  'agi_dnid',
  'agi_rdnis',
  'agi_context',
  'agi_extension',
  'agi_priority',
  'agi_enhanced',
  'agi_accountcode',
  'agi_threadid',
] as const;
type KnownKey = (typeof KNOWN_KEYS)[number];
const slotOf = (key: KnownKey): number => KNOWN_KEYS.indexOf(key);
/** Slots of the known keys by key length: a line's key is compared in place with the few of its length. */
const SLOTS_BY_LENGTH: number[][] = [];
KNOWN_KEYS.forEach((key, slot) => (SLOTS_BY_LENGTH[key.length] ??= []).push(slot));
const REQUIRED_SLOTS = [slotOf('agi_request'), slotOf('agi_channel'), slotOf('agi_uniqueid')] as const;
const NO_ARGS: readonly string[] = Object.freeze([]);

/**
 * Streaming parser of the environment block. Feed it socket chunks with {@link push}; it returns the
 * environment once the empty line has arrived, with whatever bytes came after it.
 * Limits are checked so that the outcome does not depend on how the bytes were chunked.
 * After an error, or once complete, further pushes throw.
 */
export class AgiEnvParser {
  private readonly limits: AgiEnvLimits;
  private readonly reader = new ByteLineReader();
  /** Values of the {@link KNOWN_KEYS}, by slot; and the other lines (`agi_arg_<n>`, ...) as they come. */
  private readonly entries = new EnvEntries();
  private lines = 0;
  private consumedBytes = 0;
  private state: 'reading' | 'complete' | 'failed' = 'reading';
  private failure: AgiEnvError | undefined;

  constructor(limits: Partial<AgiEnvLimits> = DEFAULT_LIMITS_ARG) {
    this.limits = limits === DEFAULT_LIMITS_ARG ? DEFAULT_AGI_ENV_LIMITS : { ...DEFAULT_AGI_ENV_LIMITS, ...limits };
  }

  /** Bytes held while waiting for the end of a line (bounded by the limits). */
  get bufferedBytes(): number {
    return this.reader.bufferedBytes;
  }

  /** `length`: how many of `chunk`'s first bytes are data (default: all; a reused read buffer holds more). */
  push(chunk: Uint8Array, length = chunk.length): AgiEnvResult | undefined {
    switch (this.state) {
      case 'complete':
        throw new AgiEnvError('ENV_ALREADY_COMPLETE', 'the environment block is already complete');
      case 'failed':
        throw this.failure ?? new AgiEnvError('ENV_MALFORMED_LINE', 'parser failed');
      case 'reading':
        break;
    }
    try {
      return this.consume(chunk, length);
    } catch (error) {
      this.state = 'failed';
      if (error instanceof AgiEnvError) this.failure = error;
      throw error;
    }
  }

  private consume(chunk: Uint8Array, byteCount: number): AgiEnvResult | undefined {
    const { maxLineBytes, maxLines, maxTotalBytes } = this.limits;
    const reader = this.reader;
    reader.appendBorrowed(chunk, byteCount);
    for (let length = reader.peekFieldLine(); length >= 0; length = reader.peekFieldLine()) {
      if (length > maxLineBytes) throw lineTooLong(maxLineBytes);
      this.lines += 1;
      this.consumedBytes += length + 1;
      if (this.lines > maxLines) {
        throw new AgiEnvError('ENV_TOO_MANY_LINES', `environment block has more than ${maxLines} lines`);
      }
      if (this.consumedBytes > maxTotalBytes) throw tooLarge(maxTotalBytes);
      // Usual case, an ASCII line: read in place, only its value decoded (the keys are ~60% of the block's bytes).
      const ascii = reader.fieldLine;
      if (ascii !== undefined) {
        const empty = ascii.end === ascii.from;
        if (!empty) this.entries.addAsciiLine(ascii.buffer, ascii.from, ascii.end, ascii.separator);
        reader.skipLine();
        if (empty) return this.complete();
        continue;
      }
      // Decoded straight from the reader's buffer, trailing CR removed: empty means the closing line.
      const text = reader.takeLineText();
      if (text === '') return this.complete();
      this.entries.addLine(text, 0, text.length);
    }
    const pending = reader.bufferedBytes;
    if (pending > maxLineBytes) throw lineTooLong(maxLineBytes);
    if (this.consumedBytes + pending > maxTotalBytes) throw tooLarge(maxTotalBytes);
    reader.retainRest();
    return undefined;
  }

  private complete(): AgiEnvResult {
    this.state = 'complete';
    return { env: new ParsedEnvironment(this.entries), leftover: this.reader.takeRest() };
  }
}

/** Parses a complete environment block held in one buffer (tests, tools). */
export function parseAgiEnvironment(bytes: Uint8Array, limits?: Partial<AgiEnvLimits>): AgiEnvResult | undefined {
  return new AgiEnvParser(limits).push(bytes);
}

function lineTooLong(max: number): AgiEnvError {
  return new AgiEnvError('ENV_LINE_TOO_LONG', `environment line longer than ${max} bytes`);
}

function tooLarge(max: number): AgiEnvError {
  return new AgiEnvError('ENV_TOO_LARGE', `environment block larger than ${max} bytes`);
}

/** The lines of one environment block: values of known keys in fixed slots, other lines in arrival order. */
class EnvEntries {
  readonly known: (string | undefined)[] = new Array<string | undefined>(KNOWN_KEYS.length);
  /** Keys and values of the lines whose key is not known: `[key, value, key, value, ...]`. */
  others: string[] | undefined;
  /**
   * Every line in arrival order, as ids: a known slot, or `KNOWN_KEYS.length` + index in `others`. Made only when
   * the lines leave the order res_agi.c writes them in (known keys in KNOWN_KEYS order, then the others): until
   * then that order is the arrival order (see {@link lineIds}), and a call's environment needs no array for it.
   */
  private order: number[] | undefined;
  /** The highest known slot filled so far. */
  private lastKnown = -1;

  /** Adds the line `text[from, end)` (CR and LF already removed). */
  addLine(text: string, from: number, end: number): void {
    // Split at the first ": " only: values may contain ":" (agi_request is a URL). An empty value arrives as
    // "key: " (setup_env writes "%s: %s\n"), and we also accept a bare "key:".
    // (A ": " found at or past `end` belongs to a later line: text[end] is the CR or LF that ends this one.)
    const sep = text.indexOf(': ', from);
    let keyEnd: number;
    let valueFrom: number;
    if (sep >= 0 && sep < end) {
      keyEnd = sep;
      valueFrom = sep + 2;
    } else if (end > from && text.charCodeAt(end - 1) === 0x3a) {
      keyEnd = end - 1;
      valueFrom = end;
    } else {
      throw malformedLine();
    }
    // A known key is one of res_agi.c's, valid as it is: only the others are checked character by character.
    const slot = knownSlot(text, from, keyEnd - from);
    if (slot < 0 && !isKey(text, from, keyEnd)) throw badKey();
    this.store(slot, slot < 0 ? text.slice(from, keyEnd) : '', valueFrom === end ? '' : text.slice(valueFrom, end));
  }

  /**
   * {@link addLine} over the ASCII bytes `bytes[from, end)`, read in place, whose first `": "` is at `separator` (-1:
   * none): the same split and checks, and only the value (and an unknown key) decoded - each a string of its own,
   * where a decoded line's values are slices of it.
   */
  addAsciiLine(bytes: Buffer, from: number, end: number, separator: number): void {
    let keyEnd = separator;
    let valueFrom = separator + 2;
    if (separator < 0) {
      if (end > from && bytes[end - 1] === 0x3a) keyEnd = end - 1;
      else throw malformedLine();
      valueFrom = end;
    }
    const slot = knownSlotInBytes(bytes, from, keyEnd - from);
    if (slot >= 0) return this.store(slot, '', knownValue(slot, bytes, valueFrom, end));
    if (!isKeyInBytes(bytes, from, keyEnd)) throw badKey();
    this.store(slot, bytes.toString('latin1', from, keyEnd), valueFrom === end ? '' : bytes.toString('latin1', valueFrom, end));
  }

  /** A line's value under a known `slot`, or (slot < 0) under `key`. */
  private store(slot: number, key: string, value: string): void {
    if (slot >= 0) {
      if (this.known[slot] !== undefined) throw duplicate(KNOWN_KEYS[slot] as string);
      if (this.order === undefined && (slot < this.lastKnown || this.others !== undefined)) this.order = this.lineIds();
      this.known[slot] = value;
      if (slot > this.lastKnown) this.lastKnown = slot;
      this.order?.push(slot);
      return;
    }
    const others = (this.others ??= []);
    for (let i = 0; i < others.length; i += 2) if (others[i] === key) throw duplicate(key);
    others.push(key, value);
    this.order?.push(KNOWN_KEYS.length + (others.length - 2) / 2);
  }

  /** The ids of the lines so far, in arrival order. */
  lineIds(): number[] {
    if (this.order !== undefined) return this.order;
    const ids: number[] = [];
    for (let slot = 0; slot < KNOWN_KEYS.length; slot += 1) if (this.known[slot] !== undefined) ids.push(slot);
    const others = this.others;
    if (others !== undefined) for (let i = 0; i < others.length; i += 2) ids.push(KNOWN_KEYS.length + i / 2);
    return ids;
  }

  /** Value of a line whose key is not a known one. */
  other(key: string): string | undefined {
    const others = this.others;
    if (others !== undefined) for (let i = 0; i < others.length; i += 2) if (others[i] === key) return others[i + 1];
    return undefined;
  }
}

/**
 * The value each known key had in the last environment block read, when short: most of them are the same on every
 * call (agi_network, agi_language, agi_type, agi_version, agi_callingpres, agi_context, agi_priority, ...), and a
 * value equal to the last one is that string again - no decoding call and no string per line. Kept only up to
 * {@link MAX_REUSED_VALUE} characters: what the module holds on to stays small whatever a peer sends.
 */
const LAST_VALUES: string[] = KNOWN_KEYS.map(() => '');
const MAX_REUSED_VALUE = 64;

/** The value of the known key at `slot`, the ASCII bytes `bytes[from, end)`: the last one's string when the same. */
function knownValue(slot: number, bytes: Buffer, from: number, end: number): string {
  const length = end - from;
  if (length === 0) return '';
  const last = LAST_VALUES[slot] as string;
  if (last.length === length && sameAscii(bytes, from, last)) return last;
  const value = bytes.toString('latin1', from, end);
  if (length <= MAX_REUSED_VALUE) LAST_VALUES[slot] = value;
  return value;
}

/** Whether the ASCII bytes at `bytes[from, from + text.length)` spell `text`. */
function sameAscii(bytes: Buffer, from: number, text: string): boolean {
  for (let i = 0; i < text.length; i += 1) if (bytes[from + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** `/^[A-Za-z0-9_]{1,64}$/` over `text[from, end)`, without cutting it out. */
function isKey(text: string, from: number, end: number): boolean {
  if (end <= from || end - from > MAX_KEY_LENGTH) return false;
  for (let i = from; i < end; i += 1) {
    const c = text.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

/** Slot of the known key at `text[from, from + length)`, or -1. */
function knownSlot(text: string, from: number, length: number): number {
  const slots = SLOTS_BY_LENGTH[length];
  if (slots === undefined) return -1;
  for (let i = 0; i < slots.length; i += 1) {
    const slot = slots[i] as number;
    if (text.startsWith(KNOWN_KEYS[slot] as string, from)) return slot;
  }
  return -1;
}

/** {@link isKey} over the bytes `bytes[from, end)`. */
function isKeyInBytes(bytes: Buffer, from: number, end: number): boolean {
  if (end <= from || end - from > MAX_KEY_LENGTH) return false;
  for (let i = from; i < end; i += 1) {
    const c = bytes[i] as number;
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

/** {@link knownSlot} over the bytes `bytes[from, from + length)`. */
function knownSlotInBytes(bytes: Buffer, from: number, length: number): number {
  const slots = SLOTS_BY_LENGTH[length];
  if (slots === undefined) return -1;
  next: for (let i = 0; i < slots.length; i += 1) {
    const slot = slots[i] as number;
    const key = KNOWN_KEYS[slot] as string;
    for (let j = 0; j < length; j += 1) if (bytes[from + j] !== key.charCodeAt(j)) continue next;
    return slot;
  }
  return -1;
}

function malformedLine(): AgiEnvError {
  return new AgiEnvError('ENV_MALFORMED_LINE', 'environment line without ": " separator');
}

function badKey(): AgiEnvError {
  return new AgiEnvError('ENV_MALFORMED_LINE', 'environment key is not [A-Za-z0-9_]{1,64}');
}

function duplicate(key: string): AgiEnvError {
  return new AgiEnvError('ENV_DUPLICATE_KEY', `environment key ${key} repeated`);
}

const S_NETWORK_SCRIPT = slotOf('agi_network_script');
const S_REQUEST = slotOf('agi_request');
const S_CHANNEL = slotOf('agi_channel');
const S_LANGUAGE = slotOf('agi_language');
const S_TYPE = slotOf('agi_type');
const S_UNIQUEID = slotOf('agi_uniqueid');
const S_VERSION = slotOf('agi_version');
const S_CALLERID = slotOf('agi_callerid');
const S_CALLERIDNAME = slotOf('agi_calleridname');
const S_DNID = slotOf('agi_dnid');
const S_RDNIS = slotOf('agi_rdnis');
const S_CONTEXT = slotOf('agi_context');
const S_EXTENSION = slotOf('agi_extension');
const S_PRIORITY = slotOf('agi_priority');
const S_ACCOUNTCODE = slotOf('agi_accountcode');

/** The environment of one call; `raw` is made into a Map only if someone asks for it (the agent never does). */
class ParsedEnvironment implements AgiEnvironment {
  readonly networkScript: string | undefined;
  readonly scriptPath: string | undefined;
  readonly scriptQuery: string | undefined;
  readonly entry: string | undefined;
  readonly request: string;
  readonly channel: string;
  readonly language: string | undefined;
  readonly type: string | undefined;
  readonly uniqueId: string;
  readonly version: string | undefined;
  readonly callerId: string | undefined;
  readonly callerIdName: string | undefined;
  readonly callerIdNumber: string | undefined;
  readonly dnid: string | undefined;
  readonly rdnis: string | undefined;
  readonly context: string | undefined;
  readonly extension: string | undefined;
  readonly priority: string | undefined;
  readonly accountCode: string | undefined;
  readonly args: readonly string[];
  readonly #entries: EnvEntries;
  #raw: Map<string, string> | undefined;

  constructor(entries: EnvEntries) {
    const known = entries.known;
    for (const slot of REQUIRED_SLOTS) {
      if (known[slot] === undefined) throw new AgiEnvError('ENV_MISSING_FIELD', `environment block has no ${KNOWN_KEYS[slot]}`);
    }
    this.#entries = entries;
    const networkScript = known[S_NETWORK_SCRIPT];
    let scriptPath: string | undefined;
    let scriptQuery: string | undefined;
    let entry: string | undefined;
    if (networkScript !== undefined) {
      const q = networkScript.indexOf('?');
      scriptPath = q >= 0 ? networkScript.slice(0, q) : networkScript;
      scriptQuery = q >= 0 ? networkScript.slice(q + 1) : undefined;
      const slash = scriptPath.indexOf('/');
      entry = slash >= 0 ? scriptPath.slice(0, slash) : scriptPath;
    }
    const callerId = known[S_CALLERID];
    this.networkScript = networkScript;
    this.scriptPath = scriptPath;
    this.scriptQuery = scriptQuery;
    this.entry = entry === '' ? undefined : entry;
    this.request = known[S_REQUEST] ?? '';
    this.channel = known[S_CHANNEL] ?? '';
    this.language = known[S_LANGUAGE];
    this.type = known[S_TYPE];
    this.uniqueId = known[S_UNIQUEID] ?? '';
    this.version = known[S_VERSION];
    this.callerId = callerId;
    this.callerIdName = known[S_CALLERIDNAME];
    // res_agi.c writes "unknown" when the caller ID number is not valid.
    this.callerIdNumber = callerId === undefined || callerId === '' || callerId === 'unknown' ? undefined : callerId;
    this.dnid = known[S_DNID];
    this.rdnis = known[S_RDNIS];
    this.context = known[S_CONTEXT];
    this.extension = known[S_EXTENSION];
    this.priority = known[S_PRIORITY];
    this.accountCode = known[S_ACCOUNTCODE];
    this.args = entries.others === undefined ? NO_ARGS : argsOf(entries);
  }

  get raw(): ReadonlyMap<string, string> {
    if (this.#raw !== undefined) return this.#raw;
    const entries = this.#entries;
    const raw = new Map<string, string>();
    const ids = entries.lineIds();
    for (let line = 0; line < ids.length; line += 1) {
      const id = ids[line] as number;
      if (id < KNOWN_KEYS.length) raw.set(KNOWN_KEYS[id] as string, entries.known[id] as string);
      else {
        const i = (id - KNOWN_KEYS.length) * 2;
        const others = entries.others as string[];
        raw.set(others[i] as string, others[i + 1] as string);
      }
    }
    this.#raw = raw;
    return raw;
  }
}

/** `agi_arg_1` .. `agi_arg_N` in order, up to the first missing index. */
function argsOf(entries: EnvEntries): string[] {
  const args: string[] = [];
  for (let i = 1; ; i += 1) {
    const arg = entries.other(`agi_arg_${i}`);
    if (arg === undefined) return args;
    args.push(arg);
  }
}
