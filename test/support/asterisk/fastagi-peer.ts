// A faithful Asterisk FastAGI peer: plays ONE Asterisk channel that runs AGI(agi://host:port/script,...)
// against a FastAGI server, the way res/res_agi.c does it (see /work/shared/reference/asterisk-protocols.md
// and the Asterisk 22 recordings in libs/asterisk/fixtures/asterisk-22). Written independently of the
// agent's codecs in @fedpbx/asterisk on purpose.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseAgiArgs } from './agi-args.js';
import { findAgiCommand, RESPONSE_510, RESPONSE_511, usageBlock, type AgiCommandSpec } from './agi-commands.js';
import { AGI_FGETS_MAX, AgiLineReader } from './agi-line-reader.js';
import { CDR_CONF_DEFAULTS } from './cdr-post.js';
import { parseDialData, separateAppArgs, type AppOption, type DialPeer } from './app-args.js';
import { ChannelState, parseCallerId, type ChannelStateName, type PeerCdr } from './channel-state.js';

export type AgiStatus = 'SUCCESS' | 'FAILURE' | 'NOTFOUND' | 'HANGUP';
export type DialStatus = 'ANSWER' | 'BUSY' | 'NOANSWER' | 'CHANUNAVAIL' | 'CONGESTION' | 'CANCEL';

export interface DialRequest {
  readonly targets: string[];
  readonly peers: DialPeer[];
  readonly timeoutSec: number | null;
  readonly options: AppOption[];
  readonly rawOptions: string;
  readonly rawData: string;
}

export interface DialOutcome {
  readonly status: DialStatus;
  /** Ringing time before the outcome (ms, real time). */
  readonly ringMs?: number;
  /** ANSWER only: bridged talk time (ms, real time). */
  readonly talkMs?: number;
  /**
   * ANSWER only. true (default): the callee hangs up, Dial returns -1 (0 with option `g`) and the caller
   * stays up (agi-02-dial-answered-farend-hangup.json). false: the caller hangs up: `200 result=-1` + HANGUP.
   */
  readonly farEndHangsUp?: boolean;
}

export type DialScript = (req: DialRequest) => DialOutcome;

export interface DialRecord extends DialRequest {
  readonly invalidPeers: string[];
  readonly url: string | undefined;
  readonly status: DialStatus | null;
  readonly result: number;
}

export interface AppRecord {
  readonly app: string;
  readonly data: string;
  readonly result: number;
}

/** When the caller hangs up. Command numbers count from 1 in the order the peer executes them. */
export type HangupInjection =
  /** Already gone when the AGI starts: HANGUP follows the environment block. */
  | { readonly when: 'before-first-command' }
  /** While idle after the response to command `count` (agi-02-after-caller-hangup.json). */
  | { readonly when: 'after-commands'; readonly count: number; readonly delayMs?: number }
  /** During the `dial`-th EXEC Dial (default 1st): `200 result=-1` then HANGUP, DIALSTATUS=CANCEL (agi-03-*). */
  | { readonly when: 'during-dial'; readonly dial?: number; readonly split?: boolean }
  /** During command `command` if it blocks (Dial, Wait, WAIT FOR DIGIT, STREAM FILE, GET DATA). */
  | { readonly when: 'during-command'; readonly command: number; readonly split?: boolean }
  /** Command `command` arrives, HANGUP is written before its answer, which then runs dead (agi-03-hangup-race). */
  | { readonly when: 'race'; readonly command: number; readonly delayMs?: number };

/** How the environment block is written. */
export type Chunking =
  | 'whole'
  | 'lines'
  | 'byte'
  | { readonly splitAt: number }
  | { readonly random: { readonly seed: number; readonly maxChunk?: number } };

export interface GosubRequest {
  readonly context: string;
  readonly extension: string;
  readonly priority: string;
  readonly args: string | undefined;
}

export interface PlaceCallOptions {
  readonly host: string;
  readonly port: number;
  /** The part after the first `/` of agi://host:port/script (query included). '' = no script part. */
  readonly script?: string;
  readonly args?: readonly string[];
  /** Host[:port] as written in the dialplan URL; default `${host}:${port}`. */
  readonly requestHost?: string;
  readonly channel?: string;
  readonly uniqueid?: string;
  readonly version?: string;
  readonly language?: string;
  /** null/absent parts are sent as "unknown" (not valid). */
  readonly callerId?: { readonly num?: string | null; readonly name?: string | null };
  readonly callingPres?: number;
  readonly dnid?: string;
  readonly rdnis?: string;
  readonly context?: string;
  readonly extension?: string;
  readonly priority?: number;
  readonly accountCode?: string;
  readonly threadId?: string;
  readonly variables?: Readonly<Record<string, string>>;
  /** Channel state when the AGI starts; default 'ring' for a PJSIP channel, 'up' otherwise. */
  readonly state?: ChannelStateName;
  readonly chunking?: Chunking;
  readonly hangup?: HangupInjection;
  readonly onDial?: DialScript;
  /** A Dial that ends when the far side decides (PjsipSim.dial: timer B, an AMI Hangup of the outgoing leg); wins over onDial. */
  readonly onDialAsync?: (req: DialRequest) => Promise<DialOutcome>;
  /** Sound files that exist, name -> duration in ms. Anything else is missing (Asterisk has none installed). */
  readonly sounds?: Readonly<Record<string, number>>;
  /** DTMF the caller presses, consumed by STREAM FILE, WAIT FOR DIGIT and GET DATA. */
  readonly digits?: string;
  readonly gosub?: (req: GosubRequest) => { found: boolean; retval?: string };
  /** Extra dialplan functions for GET VARIABLE / GET FULL VARIABLE, e.g. PJSIP_HEADER: (args) => value. */
  readonly functions?: Readonly<Record<string, (args: string) => string | undefined>>;
  /** AstDB shared between calls (DATABASE * commands); keys are `/family/key`. */
  readonly database?: Map<string, string>;
  /** Time ANSWER takes (Asterisk waits up to 500 ms for media on a real PJSIP call). */
  readonly answerDelayMs?: number;
  readonly connectTimeoutMs?: number;
  /** The address the call comes from (net.connect's localAddress); the system's choice when unset. */
  readonly localAddress?: string;
  /** Overall bound: a server that never closes leaves the channel parked in AGI. */
  readonly timeoutMs?: number;
  /** AGISIGHUP=no: no HANGUP notifications at all. */
  readonly agiSighup?: boolean;
  readonly transcript?: boolean;
  /** cdr.conf `unanswered` (default no, as Asterisk's): dispatch unanswered records without a party B too. */
  readonly cdrUnanswered?: boolean;
}

/** One dispatched CDR of the call (cdr_object_create_public_records()). */
export interface PeerCdrRecord {
  readonly sequence: number;
  readonly channel: string;
  readonly uniqueId: string;
  readonly dstChannel: string;
  readonly lastData: string;
  readonly disposition: NonNullable<PeerCdr['disposition']>;
  readonly variables: Record<string, string>;
}

export interface AgiCommandRecord {
  /** The command as executed (without its `\n`), decoded as UTF-8. */
  readonly raw: string;
  readonly argv: string[];
  readonly tAfterConnectMs: number;
  /** What the peer answered ('' when a new command aborted it, as STREAM FILE does). */
  readonly response: string;
  readonly dead: boolean;
}

export interface TranscriptChunk {
  readonly tMs: number;
  readonly dir: 'asterisk->server' | 'server->asterisk';
  readonly data: Buffer;
}

export interface CallRecord {
  readonly commands: AgiCommandRecord[];
  readonly dials: DialRecord[];
  readonly apps: AppRecord[];
  /** Channel variables at the end (those set by the server, applications and Dial). */
  readonly variables: Record<string, string>;
  /** CDR variables of the chain's last record (what `${CDR(name)}` reads at the end). */
  readonly cdr: Record<string, string>;
  /**
   * The CDRs Asterisk dispatches when this channel hangs up (main/cdr.c: one per Dial attempt and dialled peer,
   * variables as ast_cdr_setvar left them; see CdrChain), in chain order. `cdr.conf unanswered` per
   * PlaceCallOptions.cdrUnanswered.
   */
  readonly cdrs: PeerCdrRecord[];
  readonly callerId: { readonly num: string | null; readonly name: string | null };
  /** AGISTATUS as the dialplan would see it; null while parked (AGI() never returned). */
  readonly agiStatus: AgiStatus | null;
  readonly hungUp: boolean;
  /** The server closed (FIN or reset) the connection. */
  readonly serverClosed: boolean;
  /** The server never closed within timeoutMs: the channel would stay parked in AGI. */
  readonly parked: boolean;
  /** The server wrote a command before the previous one was answered (Asterisk stalls on that). */
  readonly pipelined: boolean;
  /** Command lines cut at 8191 bytes (the rest ran as another command). */
  readonly overlongLines: number;
  readonly failureLine: boolean;
  /** Real AGI commands the peer does not model (answered `200 result=0`). */
  readonly unmodelled: string[];
  readonly connectError: 'refused' | 'timeout' | string | null;
  readonly socketErrors: string[];
  readonly timeToFirstCommandMs: number | null;
  readonly durationMs: number;
  readonly transcript?: TranscriptChunk[];
}

interface HandlerResult {
  readonly text: string | Buffer;
  /** RESULT_FAILURE: makes the final AGISTATUS FAILURE (missing STREAM FILE, failed GOSUB). */
  readonly failure?: boolean;
  /** The caller hung up during this command: HANGUP follows the response. */
  readonly hangup?: boolean;
  /** The channel hangs up after this command (HANGUP command, Hangup app): noticed at the next poll. */
  readonly softHangup?: boolean;
  /** Aborted by a new command (STREAM FILE / GET DATA): no answer at all. */
  readonly aborted?: boolean;
}

const USAGE = Symbol('usage');
type Outcome = HandlerResult | typeof USAGE;

let callCounter = 0;
const THREAD_ID_BASE = 140256877000000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let outboundCounter = 0x100;

/**
 * The channel Dial creates for a peer: `PJSIP/<endpoint>-<8 hex>` (chan_pjsip names it after the endpoint, which
 * is the part after `@` for `PJSIP/<user>@<endpoint>`, else the resource itself).
 */
export function outboundChannelName(tech: string, resource: string): string {
  outboundCounter += 1;
  const at = resource.indexOf('@');
  const endpoint = tech.toUpperCase() === 'PJSIP' && at >= 0 ? resource.slice(at + 1) : resource;
  return `${tech}/${endpoint}-${outboundCounter.toString(16).padStart(8, '0')}`;
}

/** Places one call into a FastAGI server and resolves when the AGI is over (never rejects). */
export function placeCall(opts: PlaceCallOptions): Promise<CallRecord> {
  return new FastAgiCall(opts).run();
}

/** A reusable dialer with shared defaults (e.g. the bench's target, a shared AstDB). */
export class FastAgiPeer {
  constructor(private readonly defaults: PlaceCallOptions) {}

  placeCall(opts: Partial<PlaceCallOptions> = {}): Promise<CallRecord> {
    return placeCall({ ...this.defaults, ...opts });
  }
}

class FastAgiCall {
  private readonly o: PlaceCallOptions;
  private readonly channel: ChannelState;
  private readonly reader = new AgiLineReader();
  private socket: net.Socket | null = null;
  private readonly t0 = performance.now();
  private tConnect = 0;
  private wake: (() => void) | null = null;

  private readonly commands: AgiCommandRecord[] = [];
  private readonly dials: DialRecord[] = [];
  private readonly apps: AppRecord[] = [];
  private readonly unmodelled: string[] = [];
  private readonly socketErrors: string[] = [];
  private readonly transcript: TranscriptChunk[] | undefined;
  private status: AgiStatus = 'SUCCESS';
  private dead = false;
  private hungUp = false;
  private needhup = false;
  private serverClosed = false;
  private parked = false;
  private pipelined = false;
  private overlongLines = 0;
  private failureLine = false;
  private ttfc: number | null = null;
  private envSent = false;
  private newlinesReceived = 0;
  private newlinesAnswered = 0;
  /** The running command's answer was counted when written (before a split HANGUP). */
  private answeredEarly = false;
  private executing = false;
  private cutCredit = false;
  private commandCount = 0;
  private dialCount = 0;
  private digits: string;
  private readonly database: Map<string, string>;

  constructor(opts: PlaceCallOptions) {
    this.o = opts;
    callCounter += 1;
    const num = opts.callerId?.num ?? null;
    const channelName = opts.channel ?? `PJSIP/${num ?? 'anonymous'}-${callCounter.toString(16).padStart(8, '0')}`;
    const type = channelName.split('/')[0] ?? 'PJSIP';
    this.channel = new ChannelState({
      name: channelName,
      uniqueid: opts.uniqueid ?? `${Math.floor(Date.now() / 1000)}.${callCounter}`,
      context: opts.context ?? 'default',
      extension: opts.extension ?? 's',
      priority: opts.priority ?? 1,
      language: opts.language ?? 'en',
      callerNum: num,
      callerName: opts.callerId?.name ?? null,
      state: opts.state ?? (type === 'PJSIP' ? 'ring' : 'up'),
      variables: opts.variables,
      functions: opts.functions,
    });
    this.digits = opts.digits ?? '';
    this.database = opts.database ?? new Map<string, string>();
    this.transcript = opts.transcript ? [] : undefined;
  }

  async run(): Promise<CallRecord> {
    const overall = setTimeout(() => {
      this.parked = true;
      this.poke();
    }, this.o.timeoutMs ?? 30_000);
    try {
      const connectError = await this.connect();
      if (connectError !== null) {
        // res_agi.c launch_netscript(): refused or MAX_AGI_CONNECT (2000 ms) exceeded -> AGISTATUS=FAILURE.
        return this.result('FAILURE', connectError);
      }
      await this.writeEnv();
      if (this.o.hangup?.when === 'before-first-command') this.needhup = true;
      await this.loop();
      if (this.parked) {
        this.socket?.destroy();
        return this.result(null, null);
      }
      // AGI end: Asterisk always notifies with HANGUP (AGISIGHUP default), then closes its side.
      if (this.sighup) this.write('HANGUP\n');
      await this.closeSocket();
      return this.result(this.status, null);
    } finally {
      clearTimeout(overall);
    }
  }

  private get sighup(): boolean {
    return this.o.agiSighup !== false;
  }

  private now(): number {
    return performance.now() - this.tConnect;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private waitEvent(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private connect(): Promise<string | null> {
    return new Promise((resolve) => {
      // allowHalfOpen: after the server's FIN Asterisk still writes its final HANGUP before closing.
      const socket = net.connect({ host: this.o.host, port: this.o.port, allowHalfOpen: true, ...(this.o.localAddress !== undefined ? { localAddress: this.o.localAddress } : {}) });
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        socket.destroy();
        resolve('timeout');
      }, this.o.connectTimeoutMs ?? 2000);
      socket.once('connect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.tConnect = performance.now();
        socket.setNoDelay(true);
        this.attach(socket);
        resolve(null);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? err.message));
      });
    });
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.serverClosed = true;
      this.reader.end();
      this.poke();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.socketErrors.push(err.code ?? err.message);
    });
    socket.on('close', () => {
      if (!this.reader.ended) {
        this.serverClosed = true;
        this.reader.end();
      }
      this.poke();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.transcript) this.transcript.push({ tMs: this.now(), dir: 'server->asterisk', data: chunk });
    let nl = chunk.indexOf(10);
    if (nl !== -1 && this.ttfc === null && this.envSent) this.ttfc = this.now();
    // Pipelining: bytes that arrive while an earlier line is unanswered, or after a `\n` in the same chunk.
    if (this.newlinesReceived > this.newlinesAnswered || this.executing) this.pipelined = true;
    if (nl !== -1 && nl < chunk.length - 1) this.pipelined = true;
    while (nl !== -1) {
      this.newlinesReceived += 1;
      nl = chunk.indexOf(10, nl + 1);
    }
    this.reader.push(chunk);
    this.poke();
  }

  private write(data: string | Buffer): void {
    const s = this.socket;
    if (!s || s.destroyed || !s.writable) return;
    if (this.transcript) {
      this.transcript.push({ tMs: this.now(), dir: 'asterisk->server', data: Buffer.from(data) });
    }
    s.write(data);
  }

  private envBlock(): Buffer {
    const o = this.o;
    const script = o.script ?? '';
    const hostPart = o.requestHost ?? `${o.host}:${o.port}`;
    const num = o.callerId?.num;
    const name = o.callerId?.name;
    const type = this.channel.name.split('/')[0] ?? '';
    const lines: [string, string][] = [['agi_network', 'yes']];
    // res_agi.c launch_netscript(): agi_network_script only when the URL has a script part.
    if (script !== '') lines.push(['agi_network_script', script]);
    lines.push(
      ['agi_request', script === '' ? `agi://${hostPart}` : `agi://${hostPart}/${script}`],
      ['agi_channel', this.channel.name],
      ['agi_language', this.channel.language],
      ['agi_type', type],
      ['agi_uniqueid', this.channel.uniqueid],
      ['agi_version', o.version ?? '22.10.1'],
      ['agi_callerid', num ?? 'unknown'],
      ['agi_calleridname', name ?? 'unknown'],
      ['agi_callingpres', String(o.callingPres ?? (num == null ? 67 : 0))],
      ['agi_callingani2', '0'],
      ['agi_callington', '0'],
      ['agi_callingtns', '0'],
      ['agi_dnid', o.dnid ?? (type === 'Local' ? 'unknown' : this.channel.extension)],
      ['agi_rdnis', o.rdnis ?? 'unknown'],
      ['agi_context', this.channel.context],
      ['agi_extension', this.channel.extension],
      ['agi_priority', String(this.channel.priority)],
      ['agi_enhanced', '0.0'],
      ['agi_accountcode', o.accountCode ?? ''],
      ['agi_threadid', o.threadId ?? String(THREAD_ID_BASE + (callCounter % 1_000_000) * 512)],
    );
    (o.args ?? []).forEach((a, i) => lines.push([`agi_arg_${i + 1}`, a]));
    let text = '';
    for (const [k, v] of lines) text += `${k}: ${v}\n`;
    return Buffer.from(`${text}\n`, 'utf8');
  }

  private async writeEnv(): Promise<void> {
    const env = this.envBlock();
    const chunking = this.o.chunking ?? 'whole';
    let pieces: Buffer[];
    if (chunking === 'whole') pieces = [env];
    else if (chunking === 'lines') {
      pieces = [];
      let start = 0;
      for (let i = env.indexOf(10); i !== -1; i = env.indexOf(10, i + 1)) {
        pieces.push(env.subarray(start, i + 1));
        start = i + 1;
      }
    } else if (chunking === 'byte') pieces = Array.from({ length: env.length }, (_, i) => env.subarray(i, i + 1));
    else if ('splitAt' in chunking) {
      const k = Math.max(0, Math.min(env.length, chunking.splitAt));
      pieces = [env.subarray(0, k), env.subarray(k)].filter((b) => b.length > 0);
    } else {
      const rnd = mulberry32(chunking.random.seed);
      const max = Math.max(1, chunking.random.maxChunk ?? 64);
      pieces = [];
      for (let i = 0; i < env.length; ) {
        const n = 1 + Math.floor(rnd() * max);
        pieces.push(env.subarray(i, i + n));
        i += n;
      }
    }
    for (let i = 0; i < pieces.length; i += 1) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      this.write(pieces[i] as Buffer);
    }
    this.envSent = true;
  }

  /** run_agi()'s loop: notify hangups, poll, fgets one line, handle it. */
  private async loop(): Promise<void> {
    for (;;) {
      if (this.parked) return;
      if (this.needhup) {
        this.needhup = false;
        this.hangUpChannel(true);
      }
      if (!this.reader.readable) {
        await this.waitEvent();
        continue;
      }
      let r = this.reader.fgets();
      while (r.kind === 'blocked') {
        // fgets blocks inside a partial line; the channel is not serviced meanwhile.
        await this.waitEvent();
        if (this.parked) return;
        r = this.reader.fgets();
      }
      if (r.kind === 'eof') return; // "AGI Script ... completed"
      const bytes = r.bytes;
      // res_agi.c: `if (*buf && strncasecmp(buf, "failure", 7) == 0)` -> AGI_RESULT_FAILURE, end.
      if (bytes.length >= 7 && bytes.subarray(0, 7).toString('latin1').toLowerCase() === 'failure') {
        this.failureLine = true;
        this.status = 'FAILURE';
        if (bytes[bytes.length - 1] === 10) this.newlinesAnswered += 1;
        return;
      }
      const hasNl = bytes[bytes.length - 1] === 10;
      // A cut line's `\n` is answered by its first part as far as pipelining goes: a server waiting for
      // one answer per line is then not pipelining, only sending over-long lines (counted separately).
      const cut = !hasNl && bytes.length >= AGI_FGETS_MAX;
      if (cut) this.overlongLines += 1;
      const text = bytes.toString('utf8', 0, hasNl ? bytes.length - 1 : bytes.length);
      await this.execute(text);
      if (this.answeredEarly) {
        this.answeredEarly = false;
        if (!hasNl) this.newlinesAnswered -= 1;
      } else if (cut && !this.cutCredit) {
        this.cutCredit = true;
        this.newlinesAnswered += 1;
      } else if (hasNl) {
        if (this.cutCredit) this.cutCredit = false;
        else this.newlinesAnswered += 1;
      }
    }
  }

  /** The channel is gone: dead mode, AGISTATUS HANGUP unless something failed before. */
  private hangUpChannel(notify: boolean): void {
    if (!this.hungUp) {
      this.hungUp = true;
      if (this.status === 'SUCCESS') this.status = 'HANGUP';
    }
    this.dead = true;
    if (notify && this.sighup) this.write('HANGUP\n');
  }

  private async execute(text: string): Promise<void> {
    this.executing = true;
    this.commandCount += 1;
    const n = this.commandCount;
    const t = this.now();
    const argv = parseAgiArgs(text);
    const inj = this.o.hangup;
    if (inj?.when === 'race' && inj.command === n && !this.hungUp) {
      // The hangup was noticed between poll and execution: HANGUP goes out before this command's answer.
      this.hangUpChannel(true);
      if (inj.delayMs) await sleep(inj.delayMs);
    }
    const spec = findAgiCommand(argv);
    let response: string | Buffer;
    let result: HandlerResult | null = null;
    if (!spec) response = RESPONSE_510;
    else if (this.dead && !spec.dead) response = RESPONSE_511;
    else {
      const out = await this.handle(spec, argv);
      if (out === USAGE) response = usageBlock(spec);
      else {
        result = out;
        response = out.text;
      }
    }
    if (result?.aborted) {
      response = '';
    } else if (result?.hangup) {
      const split = inj !== undefined && 'split' in inj && inj.split === true;
      if (split || !this.sighup) {
        this.write(response);
        if (this.sighup) {
          // The answer is out: a command the server sends now is not pipelined (Asterisk reads it after
          // writing HANGUP, as in agi-03-hangup-during-dial-pjsip.json).
          this.executing = false;
          this.answeredEarly = true;
          this.newlinesAnswered += 1;
          await sleep(2);
          this.write('HANGUP\n');
        }
      } else {
        this.write(Buffer.concat([Buffer.from(response), Buffer.from('HANGUP\n')]));
      }
      this.hangUpChannel(false);
    } else {
      this.write(response);
    }
    if (result?.failure) this.status = 'FAILURE';
    if (result?.softHangup) this.needhup = true;
    this.commands.push({ raw: text, argv, tAfterConnectMs: t, response: response.toString(), dead: this.dead });
    this.executing = false;
    if (inj?.when === 'after-commands' && inj.count === n) {
      if (inj.delayMs) {
        setTimeout(() => {
          this.needhup = true;
          this.poke();
        }, inj.delayMs);
      } else this.needhup = true;
    }
  }

  /** Did the caller hang up during this (blocking) command? Consumes nothing; dialIndex for EXEC Dial. */
  private hangsUpDuring(dialIndex: number | null): boolean {
    const inj = this.o.hangup;
    if (!inj) return false;
    if (inj.when === 'during-command') return inj.command === this.commandCount;
    if (inj.when === 'during-dial') return dialIndex !== null && (inj.dial ?? 1) === dialIndex;
    return false;
  }

  private handle(spec: AgiCommandSpec, argv: string[]): Outcome | Promise<Outcome> {
    const argc = argv.length;
    const ch = this.channel;
    const ok = (text: string): HandlerResult => ({ text });
    switch (spec.key) {
      case 'ANSWER':
        if (argc !== 1) return USAGE;
        return this.answer();
      case 'CHANNEL STATUS': {
        if (argc > 3) return USAGE;
        if (argc === 3 && argv[2] !== ch.name) return ok('200 result=-1\n');
        return ok(`200 result=${ch.state === 'up' ? 6 : 4}\n`);
      }
      case 'DATABASE DEL': {
        if (argc !== 4) return USAGE;
        const db = this.db();
        return ok(`200 result=${db.delete(`/${argv[2]}/${argv[3]}`) ? 1 : 0}\n`);
      }
      case 'DATABASE DELTREE': {
        if (argc < 3 || argc > 4) return USAGE;
        const db = this.db();
        const prefix = argc === 4 ? `/${argv[2]}/${argv[3]}` : `/${argv[2]}`;
        let n = 0;
        for (const k of [...db.keys()]) {
          if (k === prefix || k.startsWith(`${prefix}/`)) {
            db.delete(k);
            n += 1;
          }
        }
        return ok(`200 result=${n > 0 ? 1 : 0}\n`);
      }
      case 'DATABASE GET': {
        if (argc !== 4) return USAGE;
        const v = this.db().get(`/${argv[2]}/${argv[3]}`);
        return ok(v === undefined ? '200 result=0\n' : `200 result=1 (${v})\n`);
      }
      case 'DATABASE PUT':
        if (argc !== 5) return USAGE;
        this.db().set(`/${argv[2]}/${argv[3]}`, argv[4] as string);
        return ok('200 result=1\n');
      case 'EXEC':
        if (argc < 2) return USAGE;
        return this.exec(argv[1] as string, argc >= 3 ? (argv[2] as string) : '');
      case 'GET DATA':
        if (argc < 3 || argc > 5) return USAGE;
        return this.getData(argv);
      case 'GET FULL VARIABLE': {
        if (argc < 4 || argc > 5) return USAGE;
        if (argc === 5 && argv[4] !== ch.name) return ok('200 result=0\n');
        // No 1023-byte limit here (agi-05-long-command.json: an 8185-byte response line).
        return ok(`200 result=1 (${ch.expand(argv[3] as string)})\n`);
      }
      case 'GET VARIABLE': {
        if (argc !== 3) return USAGE;
        const name = argv[2] as string;
        let value: string | undefined;
        if (name.endsWith(')')) {
          const open = name.indexOf('(');
          value = open > 0 ? ch.readFunction(name.slice(0, open), name.slice(open + 1, -1)) : undefined;
        } else value = ch.getVariable(name);
        if (value === undefined) return ok('200 result=0\n');
        // ast_copy_string into char[1024]: at most 1023 bytes (may cut a UTF-8 sequence, like Asterisk).
        const bytes = Buffer.from(value, 'utf8');
        const cut = bytes.length > 1023 ? bytes.subarray(0, 1023) : bytes;
        return { text: Buffer.concat([Buffer.from('200 result=1 ('), cut, Buffer.from(')\n')]) };
      }
      case 'GOSUB': {
        if (argc < 4 || argc > 5) return USAGE;
        const found = this.o.gosub?.({
          context: argv[1] as string,
          extension: argv[2] as string,
          priority: argv[3] as string,
          args: argv[4],
        }) ?? { found: false };
        if (!found.found) return { text: '200 result=-1 Gosub label not found\n', failure: true };
        this.write('100 result=0 Trying...\n');
        if (found.retval !== undefined) ch.vars.set('GOSUB_RETVAL', found.retval);
        return ok('200 result=0 Gosub complete\n');
      }
      case 'HANGUP':
        if (argc > 2) return USAGE;
        if (argc === 2 && argv[1] !== ch.name) return ok('200 result=-1\n');
        return { text: '200 result=1\n', softHangup: !this.hungUp };
      case 'NOOP':
        return ok('200 result=0\n');
      case 'SET CALLERID': {
        if (argc !== 3) return USAGE;
        const cid = parseCallerId(argv[2] as string);
        ch.callerName = cid.name;
        ch.callerNum = cid.num;
        return ok('200 result=1\n');
      }
      case 'SET CONTEXT':
        if (argc !== 3) return USAGE;
        ch.context = argv[2] as string;
        return ok('200 result=0\n');
      case 'SET EXTENSION':
        if (argc !== 3) return USAGE;
        ch.extension = argv[2] as string;
        return ok('200 result=0\n');
      case 'SET PRIORITY': {
        if (argc !== 3) return USAGE;
        const p = Number.parseInt(argv[2] as string, 10);
        if (Number.isFinite(p)) ch.priority = p;
        return ok('200 result=0\n');
      }
      case 'SET VARIABLE':
        if (argc !== 4) return USAGE;
        ch.setVariable(argv[2] as string, argv[3] as string);
        return ok('200 result=1\n');
      case 'STREAM FILE':
        if (argc < 4 || argc > 5) return USAGE;
        return this.streamFile(argv[2] as string, argv[3] as string);
      case 'VERBOSE':
        if (argc < 2) return USAGE;
        return ok('200 result=1\n');
      case 'WAIT FOR DIGIT': {
        if (argc !== 4) return USAGE;
        return this.waitForDigit(Number.parseInt(argv[3] as string, 10) || 0);
      }
      default:
        this.unmodelled.push(spec.key);
        return ok('200 result=0\n');
    }
  }

  private db(): Map<string, string> {
    return this.database;
  }

  private async answer(): Promise<HandlerResult> {
    if (this.channel.state !== 'up') {
      if (this.o.answerDelayMs) await sleep(this.o.answerDelayMs);
      this.channel.state = 'up';
    }
    return { text: '200 result=0\n' };
  }

  private nextDigit(allowed: string | null): string | null {
    const d = this.digits[0];
    if (d === undefined || (allowed !== null && !allowed.includes(d))) return null;
    this.digits = this.digits.slice(1);
    return d;
  }

  private async waitForDigit(timeoutMs: number): Promise<HandlerResult> {
    if (this.hangsUpDuring(null)) return { text: '200 result=-1\n', hangup: true, failure: false };
    const d = this.nextDigit(null);
    if (d !== null) return { text: `200 result=${d.charCodeAt(0)}\n` };
    await this.channelSleep(timeoutMs < 0 ? Number.POSITIVE_INFINITY : timeoutMs);
    return { text: '200 result=0\n' };
  }

  /** Channel time passing; cut short only when the call is being torn down (parked / server gone). */
  private async channelSleep(ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (!this.parked && !this.reader.ended) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      const timer = Number.isFinite(left) ? setTimeout(() => this.poke(), left) : null;
      await this.waitEvent();
      if (timer) clearTimeout(timer);
    }
  }

  /**
   * Wait `ms` of channel time; true if the server wrote something meanwhile (for STREAM FILE / GET DATA
   * Asterisk watches the AGI socket and a new command aborts the running one without an answer).
   */
  private async playUntilInterrupted(ms: number): Promise<boolean> {
    if (this.reader.readable && !this.reader.ended) return true;
    if (ms === 0) return false;
    const deadline = performance.now() + ms;
    while (!this.parked) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const timer = Number.isFinite(left) ? setTimeout(() => this.poke(), left) : null;
      await this.waitEvent();
      if (timer) clearTimeout(timer);
      if (this.reader.readable && !this.reader.ended) return true;
      if (this.reader.ended) return false;
    }
    return false;
  }

  private soundMs(file: string): number | undefined {
    return this.o.sounds?.[file];
  }

  private async streamFile(file: string, escape: string): Promise<HandlerResult> {
    const ms = this.soundMs(file);
    // A missing file: "200 result=-1 endpos=0" and RESULT_FAILURE -> AGISTATUS=FAILURE at the end
    // although the session goes on (agi-02-agistatus-after-failed-command.json).
    if (ms === undefined) return { text: '200 result=-1 endpos=0\n', failure: true };
    if (this.hangsUpDuring(null)) return { text: '200 result=-1 endpos=0\n', hangup: true };
    const d = this.nextDigit(escape);
    if (d !== null) return { text: `200 result=${d.charCodeAt(0)} endpos=${Math.floor((ms * 8) / 2)}\n` };
    if (await this.playUntilInterrupted(ms)) return { text: '', aborted: true };
    return { text: `200 result=0 endpos=${ms * 8}\n` };
  }

  private async getData(argv: string[]): Promise<HandlerResult> {
    const prompts = (argv[2] as string).split('&');
    const timeout = argv.length >= 4 ? Number.parseInt(argv[3] as string, 10) || 0 : 0;
    const max = argv.length >= 5 ? Number.parseInt(argv[4] as string, 10) || 1024 : 1024;
    if (prompts.some((p) => p !== '' && this.soundMs(p) === undefined)) return { text: '200 result=-1\n' };
    if (this.hangsUpDuring(null)) return { text: '200 result=-1\n', hangup: true };
    let collected = '';
    while (collected.length < max) {
      const d = this.nextDigit(null);
      if (d === null) break;
      if (d === '#') return { text: `200 result=${collected}\n` };
      collected += d;
    }
    if (collected.length >= max) return { text: `200 result=${collected}\n` };
    // ast_app_getdata_full(): no timeout given -> the PBX digit timeout (5 s by default).
    if (await this.playUntilInterrupted(timeout > 0 ? timeout : 5000)) return { text: '', aborted: true };
    return { text: `200 result=${collected} (timeout)\n` };
  }

  private async exec(app: string, rawData: string): Promise<HandlerResult> {
    // AGIEXECFULL=yes makes EXEC substitute ${...} in its data (never rely on it).
    const full = (this.channel.getVariable('AGIEXECFULL') ?? '').toLowerCase();
    const data = full === 'yes' || full === 'true' || full === '1' ? this.channel.expand(rawData) : rawData;
    let res: HandlerResult;
    switch (app.toLowerCase()) {
      case 'dial':
        res = await this.dial(data);
        break;
      case 'set': {
        const eq = data.indexOf('=');
        if (eq > 0) this.channel.setVariable(data.slice(0, eq), data.slice(eq + 1));
        res = { text: '200 result=0\n' };
        break;
      }
      case 'mset': {
        // MSet(name1=value1,name2=value2,...): pbx_builtin_setvar_multiple, arguments split like any app's.
        for (const pair of separateAppArgs(data)) {
          const eq = pair.indexOf('=');
          if (eq > 0) this.channel.setVariable(pair.slice(0, eq), pair.slice(eq + 1));
        }
        res = { text: '200 result=0\n' };
        break;
      }
      case 'mixmonitor':
      case 'voicemail':
        if (data === '') res = { text: '200 result=-1\n' };
        else {
          if (app.toLowerCase() === 'voicemail') this.channel.vars.set('VMSTATUS', 'SUCCESS');
          res = { text: '200 result=0\n' };
        }
        break;
      case 'playback': {
        const files = (separateAppArgs(data)[0] ?? '').split('&');
        const missing = files.some((f) => this.soundMs(f) === undefined);
        this.channel.vars.set('PLAYBACKSTATUS', missing ? 'FAILED' : 'SUCCESS');
        if (!missing) {
          const total = files.reduce((s, f) => s + (this.soundMs(f) ?? 0), 0);
          if (total > 0) await sleep(total);
        }
        res = { text: '200 result=0\n' };
        break;
      }
      case 'wait': {
        if (this.hangsUpDuring(null)) {
          res = { text: '200 result=-1\n', hangup: true };
          break;
        }
        const sec = Number.parseFloat(data);
        if (Number.isFinite(sec) && sec > 0) await sleep(sec * 1000);
        res = { text: '200 result=0\n' };
        break;
      }
      case 'busy':
      case 'congestion': {
        // Indicate, then wait for the caller to hang up, or for the optional timeout.
        const sec = Number.parseFloat(data);
        if (Number.isFinite(sec) && sec > 0) {
          await sleep(sec * 1000);
          res = { text: '200 result=-1\n' };
        } else res = { text: '200 result=-1\n', hangup: true };
        break;
      }
      case 'answer':
        await this.answer();
        res = { text: '200 result=0\n' };
        break;
      case 'progress':
      case 'ringing':
      case 'noop':
      case 'verbose':
      case 'log':
        res = { text: '200 result=0\n' };
        break;
      case 'hangup':
        res = { text: '200 result=-1\n', softHangup: !this.hungUp };
        break;
      default:
        // pbx_findapp() failed: "200 result=-2" (agi-02-commands.json).
        res = { text: '200 result=-2\n' };
    }
    const m = /^200 result=(-?\d+)/.exec(res.text.toString());
    this.apps.push({ app, data, result: m ? Number(m[1]) : 0 });
    return res;
  }

  private async dial(data: string): Promise<HandlerResult> {
    this.dialCount += 1;
    const parsed = parseDialData(data);
    const req: DialRequest = {
      targets: parsed.targets,
      peers: parsed.peers,
      timeoutSec: parsed.timeoutSec,
      options: parsed.options,
      rawOptions: parsed.rawOptions,
      rawData: data,
    };
    const record = (status: DialStatus | null, result: number): void => {
      this.dials.push({ ...req, invalidPeers: parsed.invalidPeers, url: parsed.url, status, result });
    };
    if (data.trim() === '') {
      // app_dial: "Dial requires an argument (technology/resource)" -> -1, DIALSTATUS untouched.
      record(null, -1);
      return { text: '200 result=-1\n' };
    }
    const vars = this.channel.vars;
    const setStatus = (s: DialStatus): void => {
      vars.set('DIALSTATUS', s);
    };
    if (parsed.targets.length === 0) {
      setStatus('CHANUNAVAIL');
      record('CHANUNAVAIL', 0);
      return { text: '200 result=0\n' };
    }
    // Each dialled peer gets its own outbound channel and, in main/cdr.c, its own CDR record (a Dial begin for
    // a second peer is refused by the record in Dial state and appended as a new one).
    const cdrs = parsed.peers.map((p) => this.channel.cdrChain.dialBegin(outboundChannelName(p.tech, p.resource), data));
    if (this.hangsUpDuring(this.dialCount)) {
      setStatus('CANCEL');
      for (const c of cdrs) this.channel.cdrChain.dialEnd(c, 'CANCEL');
      record('CANCEL', -1);
      return { text: '200 result=-1\n', hangup: true };
    }
    const outcome = this.o.onDialAsync !== undefined ? await this.o.onDialAsync(req) : (this.o.onDial?.(req) ?? { status: 'ANSWER' });
    if (outcome.ringMs) await sleep(outcome.ringMs);
    setStatus(outcome.status);
    // Dial End per peer: the one that answered ANSWER, the others were cancelled (NO ANSWER).
    cdrs.forEach((c, i) => this.channel.cdrChain.dialEnd(c, outcome.status === 'ANSWER' && i > 0 ? 'CANCEL' : outcome.status));
    vars.set('DIALEDTIME', String(Math.round(((outcome.ringMs ?? 0) + (outcome.talkMs ?? 0)) / 1000)));
    switch (outcome.status) {
      case 'ANSWER': {
        this.channel.state = 'up';
        vars.set('ANSWEREDTIME', String(Math.round((outcome.talkMs ?? 0) / 1000)));
        vars.set('DIALEDPEERNUMBER', parsed.targets[0] as string);
        vars.set('HANGUPCAUSE', '16');
        if (outcome.talkMs) await sleep(outcome.talkMs);
        if (outcome.farEndHangsUp === false) {
          record('ANSWER', -1);
          return { text: '200 result=-1\n', hangup: true };
        }
        const g = parsed.options.some((op) => op.flag === 'g');
        record('ANSWER', g ? 0 : -1);
        return { text: g ? '200 result=0\n' : '200 result=-1\n' };
      }
      case 'CANCEL':
        record('CANCEL', -1);
        return { text: '200 result=-1\n', hangup: true };
      case 'BUSY':
      case 'NOANSWER':
      case 'CHANUNAVAIL':
      case 'CONGESTION':
        vars.set('HANGUPCAUSE', { BUSY: '17', NOANSWER: '19', CHANUNAVAIL: '20', CONGESTION: '34' }[outcome.status]);
        record(outcome.status, 0);
        return { text: '200 result=0\n' };
    }
  }

  private async closeSocket(): Promise<void> {
    const s = this.socket;
    if (!s || s.destroyed) return;
    // Asterisk close()s the socket: our FIN goes out after the final HANGUP. When the server has not closed
    // (failure line), we do not wait for it.
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      if (this.serverClosed) s.once('close', () => resolve());
      else s.once('finish', () => resolve());
      timer = setTimeout(resolve, 1000);
      s.end();
    });
    clearTimeout(timer);
    s.destroy();
  }

  private result(agiStatus: AgiStatus | null, connectError: string | null): CallRecord {
    const rec: CallRecord = {
      commands: this.commands,
      dials: this.dials,
      apps: this.apps,
      variables: this.channel.snapshot(),
      cdr: Object.fromEntries(this.channel.cdr),
      cdrs: this.channel.cdrChain.hangup(this.channel.name, this.channel.state === 'up', { ...CDR_CONF_DEFAULTS, unanswered: this.o.cdrUnanswered === true }).map((r) => ({
        sequence: r.sequence,
        channel: this.channel.name,
        uniqueId: this.channel.uniqueid,
        dstChannel: r.dstChannel,
        lastData: r.lastData,
        disposition: r.disposition ?? 'FAILED',
        variables: Object.fromEntries(r.vars),
      })),
      callerId: { num: this.channel.callerNum, name: this.channel.callerName },
      agiStatus,
      hungUp: this.hungUp,
      serverClosed: this.serverClosed,
      parked: this.parked,
      pipelined: this.pipelined,
      overlongLines: this.overlongLines,
      failureLine: this.failureLine,
      unmodelled: this.unmodelled,
      connectError,
      socketErrors: this.socketErrors,
      timeToFirstCommandMs: this.ttfc,
      durationMs: performance.now() - this.t0,
    };
    return this.transcript ? { ...rec, transcript: this.transcript } : rec;
  }
}

/** Small seeded PRNG for reproducible chunking. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
