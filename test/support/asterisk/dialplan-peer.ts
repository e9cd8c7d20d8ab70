// A faithful model of what Asterisk's PBX core does with an extensions.conf text around AGI(): finds the extension
// (literals first, then patterns in ext_cmp order - main/pbx.c; included contexts after the context's own),
// runs its priorities, and hands AGI() to the FastAGI peer, so that what happens AFTER the agent's session (the
// AGISTATUS / FEDPBX_HANDLED checks, the fallback) runs as written in the rendered file. It models only the
// applications and expressions the rendered file uses; anything else is an error, never a silent guess.
// Written independently of libs/dialplan (no shared pattern code).
import { performance } from 'node:perf_hooks';
import { placeCall, type AgiStatus, type CallRecord, type DialOutcome, type DialRequest } from './fastagi-peer.js';

interface Priority {
  readonly app: string;
  readonly data: string;
  readonly label: string | undefined;
}

interface Context {
  readonly includes: string[];
  readonly extensions: Map<string, Priority[]>;
  /** Hint priorities: extension -> device. */
  readonly hints: Map<string, string>;
}

export interface DialplanStep {
  readonly context: string;
  readonly exten: string;
  readonly app: string;
  /** The data after variable substitution. */
  readonly data: string;
  readonly tMs: number;
}

export interface DialplanDial {
  readonly data: string;
  readonly context: string;
  readonly status: string;
  /**
   * Headers the Dial's pre-dial handler (`b(context^exten^priority(args))`, app_dial.c: run on each outgoing
   * channel before it is called) added with `Set(PJSIP_HEADER(add,<name>)=<value>)`: what the INVITE carries.
   */
  readonly headers: Readonly<Record<string, string>>;
}

export interface DialplanCall {
  readonly steps: DialplanStep[];
  /** The FastAGI session of the (first) AGI() step, if any. */
  readonly agi: CallRecord | undefined;
  /** AGISTATUS after AGI() returned; null while the channel is parked in AGI() (server stopped, no read timeout). */
  readonly agiStatus: AgiStatus | null | undefined;
  /** Dial() steps of the dialplan itself (the fallback), not those the agent sent over AGI. */
  readonly dials: DialplanDial[];
  /** Gosub() targets reached by the dialplan (e.g. fedpbx-record). */
  readonly gosubs: string[];
  /** Log() messages. */
  readonly logs: string[];
  readonly variables: Record<string, string>;
  /** CDR variables set with `Set(CDR(<name>)=...)` (on the channel's CDR, not channel variables). */
  readonly cdr: Record<string, string>;
  /** `hangup`: a Hangup() or the end of an extension; `parked`: stuck in AGI(); `no-extension`: nothing to run. */
  readonly end: 'hangup' | 'parked' | 'no-extension';
  /** ms from the start of the call to the first fallback Dial (undefined when none). */
  readonly msToFirstDial: number | undefined;
  readonly durationMs: number;
}

export interface RunDialplanOptions {
  readonly context: string;
  readonly exten: string;
  readonly callerId?: { readonly num?: string | null; readonly name?: string | null };
  readonly channel?: string;
  /** Where AGI(agi://...) connects, whatever the file says (tests run the agent on a free port). */
  readonly agi?: { readonly host: string; readonly port: number };
  /** Bound on AGI(): a stopped server holds the channel that long at most, then the call counts as parked. */
  readonly agiTimeoutMs?: number;
  /** Dial outcome for the dialplan's own Dial() and the agent's EXEC Dial. Default: ANSWER. */
  readonly onDial?: (req: { data: string; fromAgi: boolean } & Partial<DialRequest>) => DialOutcome;
  readonly variables?: Readonly<Record<string, string>>;
  /** The channel's uniqueid (`${UNIQUEID}`). Default `1795700000.1`. */
  readonly uniqueId?: string;
  /** Headers of the INVITE that brought the call, for `${PJSIP_HEADER(read,<name>)}` (none: empty, as Asterisk reads a missing header). */
  readonly inviteHeaders?: Readonly<Record<string, string>>;
  readonly maxSteps?: number;
}

/** Parses extensions.conf text: `[context]`, `include => ctx`, `exten => name,1[(label)],App(data)`, ` same => n...`. */
export class Dialplan {
  private readonly contexts = new Map<string, Context>();

  constructor(text: string) {
    let context: Context | undefined;
    let current: Priority[] | undefined;
    for (const [i, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith(';')) continue;
      const header = /^\[([^\]]+)\]$/.exec(line);
      if (header !== null) {
        context = { includes: [], extensions: new Map(), hints: new Map() };
        this.contexts.set(header[1] as string, context);
        continue;
      }
      if (context === undefined) throw new Error(`line ${i + 1}: outside a context`);
      const include = /^include\s*=>\s*(\S+)$/.exec(line);
      if (include !== null) {
        context.includes.push(include[1] as string);
        continue;
      }
      // `exten => 301,hint,PJSIP/301`: a hint priority (pbx.c PRIORITY_HINT), no application; calls never run it.
      const hint = /^exten\s*=>\s*([^,]+),hint,(\S+)$/.exec(line);
      if (hint !== null) {
        context.hints.set(hint[1] as string, hint[2] as string);
        current = undefined;
        continue;
      }
      const m = /^(exten|same)\s*=>\s*(?:([^,]+),)?(1|n)(?:\(([^)]+)\))?,([A-Za-z]+)\((.*)\)$/.exec(line);
      if (m === null) throw new Error(`line ${i + 1}: not modelled: ${line}`);
      const priority = { app: m[5] as string, data: m[6] as string, label: m[4] };
      if (m[1] === 'exten') {
        // `-` is eye candy in a literal; inside a pattern's [] it is a range (positions() skips the others).
        const name = (m[2] as string).startsWith('_') ? (m[2] as string) : (m[2] as string).replaceAll('-', '');
        if (m[3] !== '1') throw new Error(`line ${i + 1}: an extension starts at priority 1`);
        current = [priority];
        // pbx_config: a second `exten => X,1` in one context is refused ("duplicate extension"): keep the first.
        if (!context.extensions.has(name)) context.extensions.set(name, current);
      } else {
        if (current === undefined) throw new Error(`line ${i + 1}: same => without an extension`);
        current.push(priority);
      }
    }
  }

  has(context: string): boolean {
    return this.contexts.has(context);
  }

  /** The device of `exten`'s hint in `context` (what a SUBSCRIBE there watches), if it has one. */
  hint(context: string, exten: string): string | undefined {
    return this.contexts.get(context)?.hints.get(exten);
  }

  /** pbx_find_extension(): the context's own extensions (literal, then best pattern), then each include in order. */
  find(context: string, exten: string, seen = new Set<string>()): Priority[] | undefined {
    const ctx = this.contexts.get(context);
    if (ctx === undefined || seen.has(context)) return undefined;
    seen.add(context);
    const literal = ctx.extensions.get(exten);
    if (literal !== undefined) return literal;
    const patterns = [...ctx.extensions.keys()].filter((k) => k.startsWith('_') && patternMatches(k.slice(1), exten)).sort(comparePatterns);
    const best = patterns[0];
    if (best !== undefined) return ctx.extensions.get(best);
    for (const inc of ctx.includes) {
      const found = this.find(inc, exten, seen);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** Runs one call through the dialplan. Never rejects. */
  async run(opts: RunDialplanOptions): Promise<DialplanCall> {
    const t0 = performance.now();
    const vars = new Map<string, string>(Object.entries(opts.variables ?? {}));
    vars.set('UNIQUEID', opts.uniqueId ?? '1795700000.1');
    const cdr = new Map<string, string>();
    const functions: DialplanFunctions = { PJSIP_HEADER: (args) => pjsipHeaderRead(args, opts.inviteHeaders ?? {}) };
    const set = (data: string): void => {
      const eq = data.indexOf('=');
      if (eq <= 0) throw new Error(`Set(${data})`);
      const name = data.slice(0, eq);
      const cdrVar = /^CDR\(([A-Za-z0-9_]+)\)$/.exec(name);
      if (cdrVar !== null) cdr.set(cdrVar[1] as string, data.slice(eq + 1));
      else vars.set(name, data.slice(eq + 1));
    };
    const steps: DialplanStep[] = [];
    const dials: DialplanDial[] = [];
    const gosubs: string[] = [];
    const logs: string[] = [];
    let agi: CallRecord | undefined;
    let agiStatus: AgiStatus | null | undefined;
    let msToFirstDial: number | undefined;
    let context = opts.context;
    let exten = opts.exten;
    let prios = this.find(context, exten);
    let pc = 0;
    const done = (end: DialplanCall['end']): DialplanCall => ({
      steps,
      agi,
      agiStatus,
      dials,
      gosubs,
      logs,
      variables: Object.fromEntries(vars),
      cdr: Object.fromEntries(cdr),
      end,
      msToFirstDial,
      durationMs: performance.now() - t0,
    });
    if (prios === undefined) return done('no-extension');
    for (let n = 0; n < (opts.maxSteps ?? 200); n++) {
      const p = prios[pc];
      if (p === undefined) return done('hangup'); // "Auto fallthrough, channel ... status is ..." -> hangup
      vars.set('EXTEN', exten);
      vars.set('CONTEXT', context);
      const data = substitute(p.data, vars, functions);
      steps.push({ context, exten, app: p.app, data, tMs: performance.now() - t0 });
      pc += 1;
      switch (p.app) {
        case 'Set':
          set(data);
          break;
        case 'ExecIf': {
          // app_exec.c execif_exec(), preferred syntax: `<expr>?<app>(<args>)[:<app>(<args>)]`, split at the first
          // `?`, then at `:` outside parentheses (ast_app_separate_args); the app's args between its `(` and last `)`.
          const q = data.indexOf('?');
          const comma = data.indexOf(',');
          if (q < 0 || (comma >= 0 && comma < q)) throw new Error(`ExecIf(${data}): only the preferred syntax is modelled`);
          const [yes, no] = splitOutsideParens(data.slice(q + 1), ':');
          const branch = evaluate(data.slice(0, q)) ? yes : no;
          if (branch === undefined || branch === '') break;
          const open = branch.indexOf('(');
          const app = branch.slice(0, open);
          if (app !== 'Set') throw new Error(`ExecIf: ${app} is not modelled`);
          set(branch.slice(open + 1, branch.lastIndexOf(')')));
          break;
        }
        case 'MixMonitor':
        case 'Return':
        case 'NoOp':
          break;
        case 'Log':
          logs.push(data);
          break;
        case 'Gosub':
          gosubs.push(data);
          break;
        case 'GotoIf': {
          const q = data.lastIndexOf('?');
          const cond = evaluate(data.slice(0, q));
          const [yes, no] = data.slice(q + 1).split(':');
          const target = cond ? yes : no;
          if (target !== undefined && target !== '') {
            const i = prios.findIndex((x) => x.label === target);
            if (i < 0) throw new Error(`GotoIf: no label ${target}`);
            pc = i;
          }
          break;
        }
        case 'Goto': {
          const [c, e, pr] = data.split(',');
          if (pr !== '1') throw new Error(`Goto(${data}): only priority 1 is modelled`);
          context = c as string;
          exten = e as string;
          const next = this.find(context, exten) ?? this.find(context, 'i');
          if (next === undefined) return done('hangup');
          if (this.find(context, exten) === undefined) exten = 'i';
          prios = next;
          pc = 0;
          break;
        }
        case 'AGI': {
          const url = /^agi:\/\/([^:/]+)(?::(\d+))?(?:\/([^,]*))?$/.exec(data);
          if (url === null) throw new Error(`AGI(${data})`);
          const record = await placeCall({
            host: opts.agi?.host ?? (url[1] as string),
            port: opts.agi?.port ?? Number(url[2] ?? 4573),
            script: url[3] ?? '',
            context,
            extension: exten,
            ...(opts.channel !== undefined ? { channel: opts.channel } : {}),
            ...(opts.callerId !== undefined ? { callerId: opts.callerId } : {}),
            variables: Object.fromEntries(vars),
            timeoutMs: opts.agiTimeoutMs ?? 10_000,
            onDial: (req) => opts.onDial?.({ ...req, data: req.rawData, fromAgi: true }) ?? { status: 'ANSWER' },
          });
          agi ??= record;
          for (const [k, v] of Object.entries(record.variables)) vars.set(k, v);
          // One channel, one CDR: what the AGI server set with CDR(x)= is on the record the dialplan's own Dial makes.
          for (const [k, v] of Object.entries(record.cdr)) cdr.set(k, v);
          agiStatus = record.agiStatus;
          if (record.agiStatus === null) return done('parked');
          vars.set('AGISTATUS', record.agiStatus);
          if (record.hungUp) return done('hangup');
          break;
        }
        case 'Dial': {
          msToFirstDial ??= performance.now() - t0;
          const headers = this.preDialHeaders(data);
          const outcome = opts.onDial?.({ data, fromAgi: false }) ?? { status: 'ANSWER' };
          vars.set('DIALSTATUS', outcome.status);
          dials.push({ data, context, status: outcome.status, headers });
          break;
        }
        case 'Hangup':
        case 'VoiceMail':
          if (p.app === 'VoiceMail') dials.push({ data: `VoiceMail/${data}`, context, status: 'VOICEMAIL', headers: {} });
          if (p.app === 'Hangup') return done('hangup');
          break;
        default:
          throw new Error(`application ${p.app} is not modelled`);
      }
    }
    throw new Error('too many steps (a loop?)');
  }

  /**
   * Runs a Dial's pre-dial handler `b(context^exten^priority(arg1^...))` (app_dial.c: on the outgoing channel,
   * which inherits the caller's inheritable variables only - none here - and gets ARGn) and returns the headers its
   * `Set(PJSIP_HEADER(add,<name>)=<value>)` add (res_pjsip_header_funcs); Return ends it.
   */
  private preDialHeaders(dialData: string): Record<string, string> {
    const options = splitOutsideParens(dialData, ',')[2] ?? '';
    const b = /b\(([^^()]+)\^([^^()]+)\^(\d+)(?:\((.*)\))?\)/.exec(options);
    if (b === null) return {};
    const [, ctx, exten, priority, args] = b as unknown as [string, string, string, string, string | undefined];
    if (priority !== '1') throw new Error(`pre-dial handler ${ctx}^${exten}^${priority}: only priority 1 is modelled`);
    const prios = this.find(ctx, exten);
    if (prios === undefined) throw new Error(`pre-dial handler ${ctx}^${exten}: no such extension`);
    const vars = new Map<string, string>((args ?? '').split('^').map((a, i) => [`ARG${i + 1}`, a] as [string, string]));
    const headers: Record<string, string> = {};
    for (const p of prios) {
      const data = substitute(p.data, vars);
      if (p.app === 'Return') return headers;
      const add = /^PJSIP_HEADER\(add,([^)]+)\)=(.*)$/.exec(data);
      if (p.app !== 'Set' || add === null) throw new Error(`pre-dial handler: ${p.app}(${data}) is not modelled`);
      headers[add[1] as string] = add[2] as string;
    }
    return headers;
  }
}

/** Dialplan functions a test provides: name -> (args) => value (undefined: the read fails, an empty value). */
export type DialplanFunctions = Readonly<Record<string, (args: string) => string | undefined>>;

/** PJSIP_HEADER(read,<name>) of the incoming INVITE; names match case-insensitively as in SIP. */
function pjsipHeaderRead(args: string, headers: Readonly<Record<string, string>>): string | undefined {
  const [action, name] = args.split(',');
  if (action?.trim() !== 'read' || name === undefined) throw new Error(`PJSIP_HEADER(${args}) is not modelled`);
  const found = Object.entries(headers).find(([k]) => k.toLowerCase() === name.trim().toLowerCase());
  return found?.[1];
}

/** Splits at `sep` outside parentheses (ast_app_separate_args). */
function splitOutsideParens(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === sep && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** `${NAME}`, `${NAME:off[:len]}`, `${FILTER(set,value)[:off[:len]]}`, innermost first (pbx_substitute_variables). */
export function substitute(text: string, vars: ReadonlyMap<string, string>, functions: DialplanFunctions = {}): string {
  let out = text;
  for (;;) {
    const end = out.indexOf('}');
    if (end < 0) return out;
    const start = out.lastIndexOf('${', end);
    if (start < 0) return out;
    const inner = out.slice(start + 2, end);
    out = out.slice(0, start) + expand(inner, vars, functions) + out.slice(end + 1);
  }
}

function expand(inner: string, vars: ReadonlyMap<string, string>, functions: DialplanFunctions): string {
  let value: string;
  let rest: string;
  const fn = /^([A-Z_]+)\((.*)\)(.*)$/.exec(inner);
  if (fn !== null) {
    const [, name, args, tail] = fn as unknown as [string, string, string, string];
    const provided = functions[name];
    if (provided !== undefined) {
      // A function whose read fails (a missing header) substitutes nothing (pbx_substitute_variables_helper_full).
      value = provided(args) ?? '';
    } else {
      if (name !== 'FILTER') throw new Error(`function ${name} is not modelled`);
      const comma = args.indexOf(',');
      value = filter(args.slice(0, comma), args.slice(comma + 1));
    }
    rest = tail;
  } else {
    const colon = inner.indexOf(':');
    value = vars.get(colon < 0 ? inner : inner.slice(0, colon)) ?? '';
    rest = colon < 0 ? '' : inner.slice(colon);
  }
  if (rest === '') return value;
  const sub = /^:(-?\d+)(?::(-?\d+))?$/.exec(rest);
  if (sub === null) throw new Error(`substring ${rest} is not modelled`);
  let off = Number(sub[1]);
  if (off < 0) off = Math.max(0, value.length + off);
  const len = sub[2] === undefined ? undefined : Number(sub[2]);
  const cut = value.slice(off);
  return len === undefined ? cut : len >= 0 ? cut.slice(0, len) : cut.slice(0, Math.max(0, cut.length + len));
}

function filter(set: string, value: string): string {
  const allowed = (c: string): boolean => {
    for (let i = 0; i < set.length; i++) {
      if (set[i + 1] === '-' && i + 2 < set.length) {
        if (c >= (set[i] as string) && c <= (set[i + 2] as string)) return true;
        i += 2;
      } else if (set[i] === c) return true;
    }
    return false;
  };
  return [...value].filter(allowed).join('');
}

/** `$["a" = "b"]` (the only form the rendered file uses); anything else is refused. */
function evaluate(expr: string): boolean {
  const m = /^\$\["(.*)" = "(.*)"\]$/.exec(expr);
  if (m === null) throw new Error(`expression ${expr} is not modelled`);
  return m[1] === m[2];
}

/** One pattern position: the set of characters it accepts, or `.` / `!`. */
function positions(pattern: string): (Set<string> | '.' | '!')[] {
  const out: (Set<string> | '.' | '!')[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '-') continue;
    if (c === '.' || c === '!') out.push(c);
    else if (c === 'X' || c === 'x') out.push(new Set('0123456789'));
    else if (c === 'Z' || c === 'z') out.push(new Set('123456789'));
    else if (c === 'N' || c === 'n') out.push(new Set('23456789'));
    else if (c === '[') {
      const close = pattern.indexOf(']', i);
      const body = pattern.slice(i + 1, close);
      const set = new Set<string>();
      for (let j = 0; j < body.length; j++) {
        if (body[j + 1] === '-' && j + 2 < body.length) {
          for (let k = body.charCodeAt(j); k <= body.charCodeAt(j + 2); k++) set.add(String.fromCharCode(k));
          j += 2;
        } else set.add(body[j] as string);
      }
      i = close;
      out.push(set);
    } else out.push(new Set([c]));
  }
  return out;
}

function patternMatches(pattern: string, exten: string): boolean {
  const pos = positions(pattern);
  const go = (pi: number, ei: number): boolean => {
    if (pi === pos.length) return ei === exten.length;
    const p = pos[pi] as Set<string> | '.' | '!';
    if (p === '.' || p === '!') {
      for (let k = ei + (p === '.' ? 1 : 0); k <= exten.length; k++) if (go(pi + 1, k)) return true;
      return false;
    }
    return ei < exten.length && p.has(exten[ei] as string) && go(pi + 1, ei + 1);
  };
  return go(0, 0);
}

/** ext_cmp order of two patterns (both without `_`): lower score per position first; `.` 0x18000, `!` 0x28000, end 0x30000. */
function comparePatterns(a: string, b: string): number {
  const pa = positions(a.slice(1));
  const pb = positions(b.slice(1));
  const score = (p: Set<string> | '.' | '!' | undefined): number => {
    if (p === undefined) return 0x30000;
    if (p === '.') return 0x18000;
    if (p === '!') return 0x28000;
    const lowest = [...p].sort()[0] as string;
    return (p.size << 8) | lowest.charCodeAt(0);
  };
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = score(pa[i]) - score(pb[i]);
    if (d !== 0) return d;
  }
  return 0;
}
