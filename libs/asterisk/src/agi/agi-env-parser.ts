import { AgiEnvError } from '../errors.js';
import { ByteLineReader } from '../internal/byte-line-reader.js';

/**
 * The FastAGI environment block (res_agi.c `setup_env`): `agi_<name>: <value>` lines then one empty line.
 * Every value is raw, unescaped and - for caller ID and arguments - controlled by the far end.
 */
export interface AgiEnvironment {
  /** Every line as received, key -> value, first occurrence (duplicates are refused). */
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

/** `agi_` keys as res_agi.c writes them; anything else means the peer is not speaking FastAGI. */
const KEY_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
const REQUIRED_KEYS = ['agi_request', 'agi_channel', 'agi_uniqueid'] as const;

/**
 * Streaming parser of the environment block. Feed it socket chunks with {@link push}; it returns the
 * environment once the empty line has arrived, with whatever bytes came after it.
 * Limits are checked so that the outcome does not depend on how the bytes were chunked.
 * After an error, or once complete, further pushes throw.
 */
export class AgiEnvParser {
  private readonly limits: AgiEnvLimits;
  private readonly reader = new ByteLineReader();
  private readonly entries = new Map<string, string>();
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

  push(chunk: Uint8Array): AgiEnvResult | undefined {
    switch (this.state) {
      case 'complete':
        throw new AgiEnvError('ENV_ALREADY_COMPLETE', 'the environment block is already complete');
      case 'failed':
        throw this.failure ?? new AgiEnvError('ENV_MALFORMED_LINE', 'parser failed');
      case 'reading':
        break;
    }
    try {
      return this.consume(chunk);
    } catch (error) {
      this.state = 'failed';
      if (error instanceof AgiEnvError) this.failure = error;
      throw error;
    }
  }

  private consume(chunk: Uint8Array): AgiEnvResult | undefined {
    const { maxLineBytes, maxLines, maxTotalBytes } = this.limits;
    const reader = this.reader;
    reader.appendBorrowed(chunk);
    // Usual case: the whole block arrives in one ASCII chunk - decode it once and split it in JS.
    const ascii = reader.peekAsciiLines(maxTotalBytes);
    if (ascii !== undefined) {
      const done = this.consumeAscii(ascii);
      if (done) return done;
    }
    for (let length = reader.peekLineLength(); length >= 0; length = reader.peekLineLength()) {
      if (length > maxLineBytes) throw lineTooLong(maxLineBytes);
      this.lines += 1;
      this.consumedBytes += length + 1;
      if (this.lines > maxLines) {
        throw new AgiEnvError('ENV_TOO_MANY_LINES', `environment block has more than ${maxLines} lines`);
      }
      if (this.consumedBytes > maxTotalBytes) throw tooLarge(maxTotalBytes);
      // Decoded straight from the reader's buffer, trailing CR removed: empty means the closing line.
      const text = reader.takeLineText();
      if (text === '') {
        this.state = 'complete';
        return { env: buildEnvironment(this.entries), leftover: reader.takeRest() };
      }
      this.addLine(text);
    }
    const pending = reader.bufferedBytes;
    if (pending > maxLineBytes) throw lineTooLong(maxLineBytes);
    if (this.consumedBytes + pending > maxTotalBytes) throw tooLarge(maxTotalBytes);
    reader.retainRest();
    return undefined;
  }

  /**
   * The same checks, in the same order, as the line-by-line loop in {@link consume}, over lines already
   * decoded (ASCII, so a line's length in characters is its length in bytes). Consumes what it reads.
   */
  private consumeAscii(text: string): AgiEnvResult | undefined {
    const { maxLineBytes, maxLines, maxTotalBytes } = this.limits;
    const reader = this.reader;
    let from = 0;
    for (let lf = text.indexOf('\n'); lf >= 0; lf = text.indexOf('\n', from)) {
      const length = lf - from;
      if (length > maxLineBytes) throw lineTooLong(maxLineBytes);
      this.lines += 1;
      this.consumedBytes += length + 1;
      if (this.lines > maxLines) {
        throw new AgiEnvError('ENV_TOO_MANY_LINES', `environment block has more than ${maxLines} lines`);
      }
      if (this.consumedBytes > maxTotalBytes) throw tooLarge(maxTotalBytes);
      const end = length > 0 && text.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
      if (end === from) {
        this.state = 'complete';
        reader.skip(lf + 1);
        return { env: buildEnvironment(this.entries), leftover: reader.takeRest() };
      }
      this.addLine(text, from, end);
      from = lf + 1;
    }
    reader.skip(from);
    return undefined;
  }

  private addLine(text: string, from = 0, end = text.length): void {
    // The line is text[from, end). Split at the first ": " only: values may contain ":" (agi_request is a URL).
    // An empty value arrives as "key: " (setup_env writes "%s: %s\n"), and we also accept a bare "key:".
    // (A ": " found at or past `end` belongs to a later line: text[end] is the CR or LF that ends this one.)
    const sep = text.indexOf(': ', from);
    let key: string;
    let value: string;
    if (sep >= 0 && sep < end) {
      key = text.slice(from, sep);
      value = text.slice(sep + 2, end);
    } else if (end > from && text.charCodeAt(end - 1) === 0x3a) {
      key = text.slice(from, end - 1);
      value = '';
    } else {
      throw new AgiEnvError('ENV_MALFORMED_LINE', 'environment line without ": " separator');
    }
    if (!KEY_PATTERN.test(key)) throw new AgiEnvError('ENV_MALFORMED_LINE', 'environment key is not [A-Za-z0-9_]{1,64}');
    if (this.entries.has(key)) throw new AgiEnvError('ENV_DUPLICATE_KEY', `environment key ${key} repeated`);
    this.entries.set(key, value);
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

function buildEnvironment(raw: Map<string, string>): AgiEnvironment {
  for (const key of REQUIRED_KEYS) {
    if (!raw.has(key)) throw new AgiEnvError('ENV_MISSING_FIELD', `environment block has no ${key}`);
  }
  const get = (key: string): string | undefined => raw.get(key);
  const networkScript = get('agi_network_script');
  let scriptPath: string | undefined;
  let scriptQuery: string | undefined;
  if (networkScript !== undefined) {
    const q = networkScript.indexOf('?');
    scriptPath = q >= 0 ? networkScript.slice(0, q) : networkScript;
    scriptQuery = q >= 0 ? networkScript.slice(q + 1) : undefined;
  }
  const entry = scriptPath === undefined ? undefined : scriptPath.split('/')[0];
  const callerId = get('agi_callerid');
  const args: string[] = [];
  for (let i = 1; ; i += 1) {
    const arg = raw.get(`agi_arg_${i}`);
    if (arg === undefined) break;
    args.push(arg);
  }
  return {
    raw,
    networkScript,
    scriptPath,
    scriptQuery,
    entry: entry === '' ? undefined : entry,
    request: raw.get('agi_request') ?? '',
    channel: raw.get('agi_channel') ?? '',
    language: get('agi_language'),
    type: get('agi_type'),
    uniqueId: raw.get('agi_uniqueid') ?? '',
    version: get('agi_version'),
    callerId,
    callerIdName: get('agi_calleridname'),
    // res_agi.c writes "unknown" when the caller ID number is not valid.
    callerIdNumber: callerId === undefined || callerId === '' || callerId === 'unknown' ? undefined : callerId,
    dnid: get('agi_dnid'),
    rdnis: get('agi_rdnis'),
    context: get('agi_context'),
    extension: get('agi_extension'),
    priority: get('agi_priority'),
    accountCode: get('agi_accountcode'),
    args,
  };
}
