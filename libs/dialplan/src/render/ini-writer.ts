/**
 * A writer for Asterisk's ini-style config files (pjsip.conf and friends), as main/config.c reads them:
 * `[name]` starts a section, `key=value` sets one option, `;` starts a comment to the end of the line unless it
 * is escaped as `\;`, leading/trailing white space of keys and values is dropped, and `key=>value` is the
 * "object" form (a value starting with `>` loses it).
 *
 * Each section is written with its `type=` first (res_sorcery_config needs it to know what the section is),
 * then its options in the order given, one per line. The writer is the last line of defence: every section
 * name, key and value is checked again here, so a renderer bug cannot emit a line break, a section header or a
 * comment from data.
 */
import { MAX_CONFIG_LINE_BYTES } from '@fedpbx/contracts';
import { LineBuffer, type TextSink } from './line-sink.js';
import { RenderError } from './render-errors.js';

/** UTF-8 length of a line (config.c reads bytes; a line longer than {@link MAX_CONFIG_LINE_BYTES} is skipped whole). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Refuses a line Asterisk would skip ("Line %d too long, skipping", main/config.c). */
export function checkLineLength(line: string, object: string, field: string): string {
  if (line.length > MAX_CONFIG_LINE_BYTES / 4 && utf8Length(line) > MAX_CONFIG_LINE_BYTES) {
    throw new RenderError('UNSAFE_VALUE', object, field, `the line is longer than the ${MAX_CONFIG_LINE_BYTES} bytes Asterisk reads`);
  }
  return line;
}

/** A value whose `;` characters are meant literally: written as `\;` (passwords, `;transport=` URI parameters). */
export interface EscapedValue {
  readonly escapeSemicolons: string;
}

export type IniValue = string | number | boolean | EscapedValue;

/** One option; `undefined`/`false` entries in an option list are skipped, so lists can be written with `cond && [...]`. */
export type IniOption = readonly [key: string, value: IniValue];

/** The option names each section type may carry (besides `type`). */
export type IniSchema = Readonly<Record<string, ReadonlySet<string>>>;

export function escaped(text: string): EscapedValue {
  return { escapeSemicolons: text };
}

const SECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;
const KEY = /^[a-z][a-z0-9_]{0,63}$/;
/** Control characters (C0, DEL, C1) and the Unicode line/paragraph separators. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export class IniWriter {
  private readonly lines: LineBuffer;
  /** The chunks kept for toString when no sink was given. */
  private readonly chunks: string[] = [];
  /**
   * The section names written, by type. The names themselves (for a phone, its number: a string the snapshot already
   * holds), not a `name + type` string per section: for a head office's 300,000 sections those were that many new
   * strings (flattened on the Set's hash) kept to the end of the file - ~25 MB of the render worker's heap (bench:render-memory).
   */
  private readonly seen = new Map<string, Set<string>>();

  /** `sink`: where the text goes as it is written (then call {@link end}); without one, {@link toString} gives it. */
  constructor(
    private readonly schema?: IniSchema,
    sink?: TextSink,
  ) {
    this.lines = new LineBuffer(sink ?? ((chunk) => this.chunks.push(chunk)));
  }

  /** A `; text` line. The text must be one line; it is free text otherwise (Asterisk ignores the rest of the line). */
  comment(text: string): this {
    if (CONTROL.test(text)) throw new RenderError('UNSAFE_VALUE', 'comment', 'text', 'a comment is one line without control characters');
    this.lines.push(text === '' ? ';' : `; ${text}`);
    return this;
  }

  blank(): this {
    this.lines.push('');
    return this;
  }

  /**
   * `[name]`, `type=<type>`, then the options. Throws on a bad name, an unknown type or option (when the
   * writer has a schema), a duplicate key, a name+type pair already written, or an unsafe value.
   */
  section(name: string, type: string, options: ReadonlyArray<IniOption | undefined | false>, comment?: string): this {
    const object = `${type} ${name}`;
    if (!SECTION_NAME.test(name)) {
      throw new RenderError('UNSAFE_VALUE', object, 'section name', 'a section name is 1-80 characters of A-Z a-z 0-9 _ . -');
    }
    if (!KEY.test(type)) throw new RenderError('UNSAFE_VALUE', object, 'type', 'a type is a lower-case word');
    const allowed = this.schema?.[type];
    if (this.schema !== undefined && allowed === undefined) {
      throw new RenderError('UNKNOWN_OPTION', object, 'type', 'not a known section type');
    }
    let names = this.seen.get(type);
    if (names === undefined) this.seen.set(type, (names = new Set()));
    if (names.has(name)) {
      throw new RenderError('DUPLICATE_OBJECT', object, 'section name', 'a section with this name and type was already written');
    }
    names.add(name);

    const body: string[] = [];
    const keys = new Set<string>();
    for (const option of options) {
      if (option === undefined || option === false) continue;
      const [key, value] = option;
      if (!KEY.test(key) || key === 'type') throw new RenderError('UNSAFE_VALUE', object, key, 'not a valid option name');
      if (allowed !== undefined && !allowed.has(key)) throw new RenderError('UNKNOWN_OPTION', object, key, `not an option of ${type}`);
      if (keys.has(key)) throw new RenderError('DUPLICATE_OBJECT', object, key, 'option written twice');
      keys.add(key);
      body.push(checkLineLength(`${key}=${formatValue(value, object, key)}`, object, key));
    }
    if (this.lines.last !== undefined && this.lines.last !== '') this.lines.push('');
    if (comment !== undefined) this.comment(comment);
    this.lines.push(`[${name}]`, `type=${type}`, ...body);
    return this;
  }

  /** Hands the last lines to the sink. */
  end(): void {
    this.lines.end();
  }

  /** The text written (a writer without a sink). */
  toString(): string {
    this.lines.end();
    return this.chunks.join('');
  }
}

function formatValue(value: IniValue, object: string, key: string): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RenderError('UNSAFE_VALUE', object, key, 'numbers are non-negative integers');
    return String(value);
  }
  const escape = typeof value !== 'string';
  const text = typeof value === 'string' ? value : value.escapeSemicolons;
  if (text === '') throw new RenderError('MISSING_VALUE', object, key, 'empty value');
  if (CONTROL.test(text)) throw new RenderError('UNSAFE_VALUE', object, key, 'control characters (CR, LF, ...) are not allowed');
  if (/^\s|\s$/.test(text)) throw new RenderError('UNSAFE_VALUE', object, key, 'leading or trailing white space would be dropped');
  if (text.startsWith('>')) throw new RenderError('UNSAFE_VALUE', object, key, 'a leading > would be read as the => form');
  if (!escape && text.includes(';')) throw new RenderError('UNSAFE_VALUE', object, key, '; would start a comment');
  // config.c removes the backslash in front of an escaped `;` and nothing else, so only `;` needs escaping.
  return escape ? text.replaceAll(';', '\\;') : text;
}
