// The bits of an Asterisk channel the FastAGI peer needs: variables, caller ID, dialplan position, state,
// and the small part of pbx_substitute_variables_helper() / dialplan functions that AGI servers use.

export type ChannelStateName = 'ring' | 'up';

/** AST_STATE_* numbers as CHANNEL STATUS reports them. */
export const CHANNEL_STATE_NUMBER: Record<ChannelStateName, number> = { ring: 4, up: 6 };

export interface ChannelInit {
  readonly name: string;
  readonly uniqueid: string;
  readonly context: string;
  readonly extension: string;
  readonly priority: number;
  readonly language: string;
  readonly callerNum: string | null;
  readonly callerName: string | null;
  readonly state: ChannelStateName;
  readonly variables?: Readonly<Record<string, string>>;
  readonly functions?: Readonly<Record<string, (args: string) => string | undefined>> | undefined;
}

export class ChannelState {
  readonly vars = new Map<string, string>();
  callerNum: string | null;
  callerName: string | null;
  state: ChannelStateName;
  hangupCause = 0;
  readonly name: string;
  readonly uniqueid: string;
  context: string;
  extension: string;
  priority: number;
  readonly language: string;

  constructor(init: ChannelInit) {
    this.name = init.name;
    this.uniqueid = init.uniqueid;
    this.context = init.context;
    this.extension = init.extension;
    this.priority = init.priority;
    this.language = init.language;
    this.callerNum = init.callerNum;
    this.callerName = init.callerName;
    this.state = init.state;
    for (const [k, v] of Object.entries(init.variables ?? {})) this.vars.set(k, v);
    this.functions = init.functions ?? {};
  }

  private readonly functions: Readonly<Record<string, (args: string) => string | undefined>>;

  /** pbx_retrieve_variable(): channel built-ins, then channel variables. undefined = not set. */
  getVariable(name: string): string | undefined {
    switch (name) {
      case 'CHANNEL':
        return this.name;
      case 'UNIQUEID':
        return this.uniqueid;
      case 'CONTEXT':
        return this.context;
      case 'EXTEN':
        return this.extension;
      case 'PRIORITY':
        return String(this.priority);
      case 'HANGUPCAUSE':
        return this.vars.get('HANGUPCAUSE') ?? String(this.hangupCause);
      case 'EPOCH':
        return String(Math.floor(Date.now() / 1000));
      default:
        return this.vars.get(name);
    }
  }

  /** pbx_builtin_setvar_helper(): a name ending in `)` writes a dialplan function. */
  setVariable(name: string, value: string): void {
    if (name.endsWith(')')) {
      const call = splitFunctionCall(name);
      if (call) this.writeFunction(call.name, call.args, value);
      return;
    }
    this.vars.set(name, value);
  }

  /** ast_func_read(): undefined when the function does not exist or fails. */
  readFunction(name: string, args: string): string | undefined {
    const custom = this.functions[name];
    if (custom) return custom(args);
    switch (name.toUpperCase()) {
      case 'CALLERID': {
        const what = args.split(',')[0]?.trim().toLowerCase();
        if (what === 'name') return this.callerName ?? '';
        if (what === 'num' || what === 'number') return this.callerNum ?? '';
        if (what === 'all') return `"${this.callerName ?? ''}" <${this.callerNum ?? ''}>`;
        return undefined;
      }
      case 'CDR':
        return this.cdr.get(args.split(',')[0]?.trim() ?? '');
      case 'LEN':
        return String(Buffer.byteLength(args, 'utf8'));
      case 'BASE64_ENCODE':
        return Buffer.from(args, 'utf8').toString('base64');
      case 'BASE64_DECODE':
        return Buffer.from(args, 'base64').toString('utf8');
      case 'TOUPPER':
        return args.toUpperCase();
      case 'TOLOWER':
        return args.toLowerCase();
      case 'EXISTS':
        return args === '' ? '0' : '1';
      default:
        return undefined;
    }
  }

  /** CDR variables (func_cdr's CDR(name)=value): what cdr_manager `[mappings]` read. */
  readonly cdr = new Map<string, string>();

  writeFunction(name: string, args: string, value: string): boolean {
    if (name.toUpperCase() === 'CDR') {
      const key = args.split(',')[0]?.trim() ?? '';
      if (key === '') return false;
      this.cdr.set(key, value);
      return true;
    }
    if (name.toUpperCase() !== 'CALLERID') return false;
    const what = args.split(',')[0]?.trim().toLowerCase();
    if (what === 'name') this.callerName = value;
    else if (what === 'num' || what === 'number') this.callerNum = value;
    else if (what === 'all') {
      const parsed = parseCallerId(value);
      this.callerName = parsed.name;
      this.callerNum = parsed.num;
    } else return false;
    return true;
  }

  /** pbx_substitute_variables_helper(): `${VAR}`, `${FUNC(args)}`, `${VAR:offset:length}`, nested. */
  expand(text: string): string {
    let out = '';
    let i = 0;
    while (i < text.length) {
      const start = text.indexOf('${', i);
      if (start < 0) {
        out += text.slice(i);
        break;
      }
      out += text.slice(i, start);
      // Find the matching `}` the way Asterisk counts brackets.
      let depth = 1;
      let j = start + 2;
      let needsub = false;
      while (depth > 0 && j < text.length) {
        const ch = text[j];
        if (ch === '$' && text[j + 1] === '{') {
          needsub = true;
          depth += 1;
          j += 1;
        } else if (ch === '{') depth += 1;
        else if (ch === '}') depth -= 1;
        else if (ch === '$' && text[j + 1] === '[') needsub = true;
        j += 1;
      }
      if (depth > 0) {
        // Asterisk: "Error in extension logic (missing '}')" - the rest is dropped.
        break;
      }
      let inner = text.slice(start + 2, j - 1);
      if (needsub) inner = this.expand(inner);
      out += this.evaluate(inner);
      i = j;
    }
    return out;
  }

  private evaluate(expr: string): string {
    if (expr.endsWith(')')) {
      const call = splitFunctionCall(expr);
      return (call && this.readFunction(call.name, call.args)) ?? '';
    }
    const m = /^([^:]*)(?::(-?\d+)(?::(-?\d+))?)?$/.exec(expr);
    const name = m?.[1] ?? expr;
    const value = this.getVariable(name) ?? '';
    if (m?.[2] === undefined) return value;
    let offset = Number(m[2]);
    if (offset < 0) offset = Math.max(0, value.length + offset);
    const len = m[3] === undefined ? undefined : Number(m[3]);
    if (len === undefined) return value.slice(offset);
    if (len < 0) return value.slice(offset, Math.max(offset, value.length + len));
    return value.slice(offset, offset + len);
  }

  /** Every variable as a plain object (built-ins that were read or written included via vars). */
  snapshot(): Record<string, string> {
    return Object.fromEntries(this.vars);
  }
}

export function splitFunctionCall(expr: string): { name: string; args: string } | null {
  const open = expr.indexOf('(');
  if (open <= 0 || !expr.endsWith(')')) return null;
  return { name: expr.slice(0, open), args: expr.slice(open + 1, -1) };
}

/** ast_callerid_parse(), enough for `"Name" <num>`, `Name <num>`, `<num>`, `num` and `Name`. */
export function parseCallerId(text: string): { name: string | null; num: string | null } {
  const lt = text.lastIndexOf('<');
  const gt = text.lastIndexOf('>');
  if (lt >= 0 && gt > lt) {
    let name = text.slice(0, lt).trim();
    if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1);
    return { name: name === '' ? null : name, num: text.slice(lt + 1, gt) };
  }
  const trimmed = text.trim();
  if (/^[0-9*#+]+$/.test(trimmed)) return { name: null, num: trimmed };
  return { name: trimmed === '' ? null : trimmed, num: null };
}
