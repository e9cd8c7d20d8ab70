// Test support: Asterisk 22.10's cdr_custom (res/res_cdrel_custom.c + res/cdrel_custom/*.c, read from the source),
// writing CDRs exactly as it would for a cdr_custom.conf. Only what fedpbx's deploy file can use is modelled, each
// as Asterisk does it:
// - config.c: every category other than [mappings] is an "advanced" output file; a relative name lands in
//   `<astlogdir>/cdr-custom/`; `fields` is split at commas and trimmed; `name(q1^q2)` qualifiers (int64, double,
//   uservar, quote, noquote); `format = json` forces separator `,`, quote `"`, escape `\` and quoting non_numeric;
// - registry.c: the CDR fields and their types (string, timeval, int64, int32, disposition, amaflags, uservar);
// - formatters.c: a string is quoted when the field has the quote flag (non_numeric: every non-numeric field) or
//   contains the quote/separator/CR/LF; the only escaping is quote_escape before each quote (nothing else: a
//   backslash or LF goes out raw); numbers unquoted (`%ld`, `%d`, `%.6f`); a timeval `%Y-%m-%d %T` local, empty
//   when tv_sec is 0, or tv_sec / `%.6f` seconds with int64 / double; disposition as ast_cdr_disp2str;
// - writers.c: the json writer makes `{"name":value,...}`; write_record_to_file opens the file with fopen("a"),
//   fputs the record and "\n", fcloses it - for every record, so a renamed file is left alone and the path is
//   created anew (mode 0666 & ~umask); a missing directory fails the record ("Unable to write CDR to file ...:
//   No such file or directory"; observed on 22.10), the CDR is lost for this backend.
import { appendFileSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** One CDR as Asterisk's CDR engine holds it (main/cdr.c struct ast_cdr), for the fields fedpbx uses. */
export interface PeerCdr {
  readonly uniqueid: string;
  readonly linkedid?: string;
  /** Epoch milliseconds (Asterisk keeps microseconds; ms are enough here). */
  readonly start: number;
  readonly answer?: number;
  readonly end: number;
  readonly duration?: number;
  readonly billsec?: number;
  readonly src?: string;
  readonly dst?: string;
  readonly dcontext?: string;
  readonly channel?: string;
  readonly dstchannel?: string;
  readonly clid?: string;
  readonly lastapp?: string;
  readonly lastdata?: string;
  readonly disposition?: 'ANSWERED' | 'NO ANSWER' | 'BUSY' | 'FAILED' | 'CONGESTION';
  readonly accountcode?: string;
  readonly userfield?: string;
  readonly sequence: number;
  /** CDR variables (`CDR(name)` set by the dialplan or AGI). */
  readonly vars?: Readonly<Record<string, string>>;
}

type FieldType = 'string' | 'timeval' | 'int64' | 'int32' | 'disposition' | 'amaflags' | 'uservar';
/** registry.c: CDR fields (input type). */
const REGISTRY: Readonly<Record<string, FieldType>> = {
  clid: 'string',
  src: 'string',
  dst: 'string',
  dcontext: 'string',
  channel: 'string',
  dstchannel: 'string',
  lastapp: 'string',
  lastdata: 'string',
  start: 'timeval',
  answer: 'timeval',
  end: 'timeval',
  duration: 'int64',
  billsec: 'int64',
  disposition: 'disposition',
  amaflags: 'amaflags',
  accountcode: 'string',
  peeraccount: 'string',
  uniqueid: 'string',
  linkedid: 'string',
  userfield: 'string',
  sequence: 'int32',
};

interface Field {
  readonly name: string;
  readonly type: FieldType;
  /** Forced output type (int64 / double for a timeval). */
  readonly output: 'string' | 'int64' | 'double' | 'number';
  readonly quote: boolean;
  /** quote_escape_character: `\` in json, `"` (the dsv default) otherwise. */
  readonly escape: string;
}

interface OutputFile {
  readonly path: string;
  readonly json: boolean;
  readonly fields: readonly Field[];
}

export class CdrCustomWriter {
  /** Records that failed, with Asterisk's log line. */
  readonly errors: string[] = [];
  private readonly files: readonly OutputFile[];

  /** `conf`: cdr_custom.conf text; `logDir`: Asterisk's astlogdir. */
  constructor(conf: string, logDir: string) {
    this.files = parseConf(conf, logDir);
    if (this.files.length === 0) throw new Error('cdr_custom.conf: no advanced output category');
  }

  static fromFile(confPath: string, logDir: string): CdrCustomWriter {
    return new CdrCustomWriter(readFileSync(confPath, 'utf8'), logDir);
  }

  get paths(): string[] {
    return this.files.map((f) => f.path);
  }

  /** The record text (without the LF) for each output file. */
  format(cdr: PeerCdr): string[] {
    return this.files.map((f) => formatRecord(f, cdr));
  }

  /** One CDR: appended to every output file, each with its own open/append/close. */
  write(cdr: PeerCdr): void {
    for (const f of this.files) {
      try {
        appendFileSync(f.path, `${formatRecord(f, cdr)}\n`);
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        this.errors.push(`Unable to write CDR to file ${f.path} : ${e.code === 'ENOENT' ? 'No such file or directory' : e.message}`);
      }
    }
  }

  /** What a crash in the middle of a record leaves: its first `bytes` bytes, no LF. */
  writeTorn(cdr: PeerCdr, bytes: number): void {
    for (const f of this.files) appendFileSync(f.path, Buffer.from(formatRecord(f, cdr)).subarray(0, bytes));
  }
}

function parseConf(conf: string, logDir: string): OutputFile[] {
  const out: OutputFile[] = [];
  let category: string | undefined;
  let vars = new Map<string, string>();
  const flush = (): void => {
    if (category === undefined || category === 'mappings') return;
    const fields = vars.get('fields');
    if (fields === undefined || fields === '') return;
    const json = vars.get('format') === 'json';
    out.push({
      path: isAbsolute(category) ? category : join(logDir, 'cdr-custom', category),
      json,
      fields: fields.split(',').map((f) => f.trim()).filter((f) => f !== '').map((f) => parseField(f, json)),
    });
  };
  for (const raw of conf.split('\n')) {
    const line = raw.replace(/;.*$/, '').trim();
    if (line === '') continue;
    const cat = /^\[([^\]]+)\]$/.exec(line);
    if (cat !== null) {
      flush();
      category = cat[1]!;
      vars = new Map();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).replace(/^>/, '').trim());
  }
  flush();
  return out;
}

function parseField(spec: string, json: boolean): Field {
  const m = /^([^()]+)(?:\(([^)]*)\))?$/.exec(spec);
  if (m === null) throw new Error(`cdr_custom.conf: field '${spec}' not understood by this peer`);
  let name = m[1]!.trim();
  const qualifiers = (m[2] ?? '').split('^').map((q) => q.trim().toLowerCase()).filter((q) => q !== '');
  let type: FieldType | undefined = REGISTRY[name.toLowerCase()];
  if (qualifiers.includes('uservar')) type = 'uservar';
  else if (type !== undefined) name = name.toLowerCase();
  if (type === undefined) throw new Error(`cdr_custom.conf: Field '${name}' not found`);
  let output: Field['output'] = type === 'int64' || type === 'int32' ? 'number' : 'string';
  if (type === 'timeval' && qualifiers.includes('int64')) output = 'int64';
  if (type === 'timeval' && qualifiers.includes('double')) output = 'double';
  // config.c field_alloc: non_numeric (json) quotes every field whose output type is a string type.
  let quote = json ? output === 'string' : true;
  if (qualifiers.includes('quote')) quote = true;
  if (qualifiers.includes('noquote')) quote = false;
  return { name, type, output, quote, escape: json ? '\\' : '"' };
}

function formatRecord(file: OutputFile, cdr: PeerCdr): string {
  const values = file.fields.map((f) => {
    const value = formatValue(f, cdr);
    return file.json ? `"${f.name}":${value}` : value;
  });
  return file.json ? `{${values.join(',')}}` : values.join(',');
}

function formatValue(f: Field, cdr: PeerCdr): string {
  switch (f.type) {
    case 'string':
      return formatString(String((cdr as unknown as Record<string, unknown>)[f.name] ?? ''), f);
    case 'uservar':
      // getters_cdr.c cdr_get_uservar: name compared case-insensitively, the last match wins, "" when unset.
      return formatString(Object.entries(cdr.vars ?? {}).filter(([k]) => k.toLowerCase() === f.name.toLowerCase()).at(-1)?.[1] ?? '', f);
    case 'timeval': {
      const ms = (f.name === 'start' ? cdr.start : f.name === 'answer' ? cdr.answer : cdr.end) ?? 0;
      const sec = Math.floor(ms / 1000);
      if (f.output === 'int64') return String(sec);
      if (f.output === 'double') return (ms / 1000).toFixed(6);
      return formatString(sec > 0 ? localTime(new Date(ms)) : '', f);
    }
    case 'int64':
      return String(f.name === 'duration' ? (cdr.duration ?? Math.round((cdr.end - cdr.start) / 1000)) : (cdr.billsec ?? (cdr.answer === undefined ? 0 : Math.round((cdr.end - cdr.answer) / 1000))));
    case 'int32':
      return String(cdr.sequence);
    case 'disposition':
      return formatString(cdr.disposition ?? 'ANSWERED', f);
    case 'amaflags':
      return formatString('DOCUMENTATION', f);
  }
}

/** formatters.c format_string (quote `"`, separator `,`). */
function formatString(value: string, f: Field): string {
  if (value === '') return f.quote ? '""' : '';
  const needs = f.quote || /[",\r\n]/.test(value);
  if (!needs) return value;
  return `"${value.replaceAll('"', `${f.escape}"`)}"`;
}

function localTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
