// The bits of an Asterisk channel the FastAGI peer needs: variables, caller ID, dialplan position, state,
// and the small part of pbx_substitute_variables_helper() / dialplan functions that AGI servers use.
import { CDR_CONF_DEFAULTS, postedToBackends, type CdrConf } from './cdr-post.js';

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
        // ast_cdr_getvar(): reads the LAST record of the chain (cdr->last).
        return this.cdrChain.last.vars.get(args.split(',')[0]?.trim() ?? '');
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

  /** The channel's CDR chain as main/cdr.c keeps it: one record per Dial attempt, all dispatched at hangup. */
  readonly cdrChain = new CdrChain();

  /** CDR variables of the last record (what `${CDR(name)}` reads). */
  get cdr(): ReadonlyMap<string, string> {
    return this.cdrChain.last.vars;
  }

  writeFunction(name: string, args: string, value: string): boolean {
    if (name.toUpperCase() === 'CDR') {
      const key = args.split(',')[0]?.trim() ?? '';
      if (key === '') return false;
      this.cdrChain.setVar(key, value);
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

/**
 * A CDR record's state, the states of main/cdr.c that an AGI-driven channel passes through: Single (no party B
 * yet), Dial (a Dial is ringing party B), Finalized. An answered Dial goes DialedPending -> Bridge -> Finalized in
 * cdr.c, but EXEC Dial answers the AGI only after its bridge ended, so the AGI server sees it finalized.
 */
export type CdrStateName = 'single' | 'dial' | 'finalized';

export interface PeerCdr {
  /** cdr_object_alloc(): a global, increasing `sequence` per record. */
  readonly sequence: number;
  state: CdrStateName;
  /** Party B's channel name (`dstchannel`), '' while there is none. */
  dstChannel: string;
  /** The application data of party A when the record's Dial began (`lastdata`). */
  lastData: string;
  /** AST_CDR_* as cdr_manager prints it; null until the record is finalized with a known outcome. */
  disposition: 'ANSWERED' | 'NO ANSWER' | 'BUSY' | 'FAILED' | 'CONGESTION' | null;
  /** Party A's CDR variables (CDR(name)=value). */
  readonly vars: Map<string, string>;
}

let cdrSequence = 0;

/**
 * main/cdr.c's chain of cdr_objects for one party A channel, as far as an AGI server can observe it:
 * - the first record starts in Single; the first Dial turns it into that Dial's record (single_state_process_dial_begin);
 * - a Dial that ends unanswered finalizes its record (dial_state_process_dial_end -> finalized_state_fn_table);
 *   an answered one goes DialedPending, then Bridge, and is finalized when the bridge ends;
 * - a later Dial finds no record that takes it (finalized records have no process_dial_begin), so a new record
 *   is appended (cdr_object_create_and_append), copying party A's variables from the last record
 *   (cdr_object_snapshot_copy -> copy_variables);
 * - ast_cdr_setvar() writes to every record of the chain EXCEPT finalized records that have a successor
 *   (`fn_table == &finalized_state_fn_table && it_cdr->next != NULL`): a record finalized by a failed Dial is
 *   still the last one until the next Dial begins, so a CDR(x)= between two Dials lands on the FIRST Dial's
 *   record (observed on Asterisk 22.10.1, asterisk-protocols.md "Observed in the field");
 * - under AGI the channel stays at one context/extension/priority, so no new record is started by dialplan
 *   progress (check_new_cdr_needed needs a CEP change);
 * - every record of the chain is dispatched together when the channel hangs up (handle_channel_snapshot_update_message
 *   -> cdr_object_dispatch(cdr) on AST_FLAG_DEAD): nothing is dispatched between two Dials.
 */
export class CdrChain {
  readonly records: PeerCdr[] = [newCdr(new Map())];

  get last(): PeerCdr {
    return this.records[this.records.length - 1] as PeerCdr;
  }

  setVar(name: string, value: string): void {
    const n = this.records.length;
    this.records.forEach((r, i) => {
      if (r.state === 'finalized' && i < n - 1) return;
      r.vars.set(name, value);
    });
  }

  /** A Dial begins towards `dstChannel` (ast_channel_publish_dial with no status). */
  dialBegin(dstChannel: string, lastData: string): PeerCdr {
    let cdr = this.last;
    if (cdr.state !== 'single') {
      cdr = newCdr(new Map(this.last.vars));
      this.records.push(cdr);
    }
    cdr.state = 'dial';
    cdr.dstChannel = dstChannel;
    cdr.lastData = lastData;
    return cdr;
  }

  /** `cdr`'s Dial ended with `status` (DIALSTATUS); an answered Dial's record is finalized when its bridge ends. */
  dialEnd(cdr: PeerCdr, status: string): void {
    if (cdr.state !== 'dial') return;
    switch (status) {
      case 'ANSWER':
        cdr.disposition = 'ANSWERED';
        cdr.state = 'finalized';
        return;
      case 'BUSY':
        cdr.disposition = 'BUSY';
        break;
      case 'NOANSWER':
      case 'CANCEL':
        // dial_status_to_disposition(): CANCEL is NO ANSWER unless cdr.conf enables the CANCEL disposition.
        cdr.disposition = 'NO ANSWER';
        break;
      default:
        // CONGESTION is FAILED unless cdr.conf `congestion=yes`; CHANUNAVAIL and anything else FAILED.
        cdr.disposition = 'FAILED';
    }
    cdr.state = 'finalized';
  }

  /**
   * The channel `channelName` hung up: every record is finalized and the whole chain dispatched, minus what
   * cdr.conf keeps from the backends - the one model both peers use (cdr-post.ts, main/cdr.c post_cdr()):
   * unanswered records WITHOUT a party B. A NO ANSWER record of a Dial has its party B and is dispatched.
   */
  hangup(channelName: string, channelAnswered: boolean, conf: CdrConf = CDR_CONF_DEFAULTS): PeerCdr[] {
    for (const r of this.records) {
      if (r.state !== 'finalized') {
        r.state = 'finalized';
        // cdr_object_finalize(): answered -> ANSWERED, else from the hangup cause (FAILED when none).
        r.disposition ??= channelAnswered ? 'ANSWERED' : r.dstChannel === '' ? 'FAILED' : 'NO ANSWER';
      }
    }
    return this.records.filter((r) => postedToBackends({ disposition: r.disposition ?? 'FAILED', channel: channelName, dstChannel: r.dstChannel }, conf));
  }
}

function newCdr(vars: Map<string, string>): PeerCdr {
  cdrSequence += 1;
  return { sequence: cdrSequence, state: 'single', dstChannel: '', lastData: '', disposition: null, vars };
}
