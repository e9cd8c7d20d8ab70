// Test support: a faithful Asterisk Manager Interface server (main/manager.c as observed on Asterisk 22.10.1,
// libs/asterisk/fixtures/asterisk-22/ami-*.json). Loopback only.
//
// What it does like Asterisk:
// - banner `Asterisk Call Manager/11.0.0\r\n` (no blank line after it);
// - input lines end at LF (one CR before it dropped, a bare CR kept in the value); an empty line ends the action,
//   so a LF LF inside a value really does start a second action; a line without a colon is ignored; the first
//   `Action:` wins; a line over 1024 bytes discards the whole message with `Failed to parse message: line too long`
//   and no ActionID; keys are case-insensitive;
// - before Login every action answers `Permission denied` and the connection stays; a failed Login answers
//   `Authentication failed` after 1 s and disconnects; a good one replays the recorded answer (with FullyBooted and
//   SuccessfulAuth when events are on); `Events: off` stops events, anything else (`Event: on` too) leaves them on;
// - users have read/write classes like manager.conf: an action needs one of its write classes (PJSIPShow* and
//   Reload: system; Reload also config; Command: command), events go only to sessions whose read classes match;
// - ActionID echoed on every response; list actions answer `EventList: start`, items, `<Name>Complete`
//   (`EventList: Complete`, `ListItems`); an empty PJSIPShowContacts is `Response: Error` with the stray LF
//   (`No Contacts found\n\r\n\r\n`); static aor contacts are not listed by PJSIPShowContacts;
// - Reload answers `Module Reloaded` + `Event: Reload` (Status 0), unknown module `No such module` + Status 2;
// - Ping, Logoff (Goodbye, then close), unknown actions, missing Action;
// - device states (main/devicestate.c, res/res_manager_devicestate.c, funcs/func_devstate.c): setDeviceState() and a
//   good DEVICE_STATE(Custom:...) write raise `DeviceStateChange` (Device, State; class call); DeviceStateList answers
//   one DeviceStateChange per known device (ActionID, Device, State - no Privilege or SystemName: the list writes the
//   blob's fields only) and DeviceStateListComplete; Setvar (class call) with no Channel writes a global variable or,
//   for a name ending in `)`, the function (pbx_variables.c pbx_builtin_setvar_helper -> ast_func_write):
//   DEVICE_STATE accepts only `Custom:<name>` and a state ast_devstate_val knows other than UNKNOWN, else
//   `Variable not set`; `Command: devstate change Custom:<name> <STATE>` does the same; hints added with addHint()
//   raise `ExtensionStatus` when their extension state changes (pbx.c, manager.c manager_state_cb);
// - event filters (manager.c manager_add_filter, filter_cmp_fn, should_send_event; model in ami-event-filter.ts):
//   a user's manager.conf `eventfilter` lines are copied into each session at Login, the `Filter` action (write class
//   system) adds one to its own session; every event raised (event(), setDeviceState(), one-event sendRaw()) goes to a
//   session only if its filters let it through. Answers to actions, list items included (DeviceStateList), are never
//   filtered: they are written to the session directly, not queued as events.
// Messages whose text was recorded are produced from the recording (ActionID rewritten), the rest from
// templates laid out field for field like the recordings (test/ami/ami-peer.spec.ts checks both against them).
// Test hooks: handle() overrides an action (write half a list and cut the socket, never answer, ...), event() and
// sendRaw() push to sessions, dropAll() cuts every connection, `received` keeps every action with its raw bytes.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addFilter, parseEventFilter, shouldSendEvent, type SessionFilters } from './ami-event-filter.js';

export const AMI_FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'libs', 'asterisk', 'fixtures', 'asterisk-22');

export interface AmiFixture {
  readonly scenario: string;
  readonly exchange: readonly { readonly t_ms: number; readonly dir: 'asterisk->server' | 'server->asterisk'; readonly data?: string }[];
}

export function loadAmiFixture(file: string): AmiFixture {
  return JSON.parse(readFileSync(join(AMI_FIXTURE_DIR, file), 'utf8')) as AmiFixture;
}

/** The Asterisk bytes that followed the client's write containing `ActionID: <id>`, up to the client's next write. */
export function recordedAnswer(file: string, actionId: string): string {
  const ex = loadAmiFixture(file).exchange;
  const i = ex.findIndex((c) => c.dir === 'server->asterisk' && (c.data ?? '').includes(`ActionID: ${actionId}\r\n`));
  if (i < 0) throw new Error(`${file}: no action ${actionId}`);
  let out = '';
  for (let j = i + 1; j < ex.length && ex[j]!.dir === 'asterisk->server'; j += 1) out += ex[j]!.data ?? '';
  return out;
}

export const AMI_BANNER = 'Asterisk Call Manager/11.0.0\r\n';
const MAX_LINE_BYTES = 1024; // manager.c: 1025-byte buffer incl. NUL; we count the CRLF like formatAmiAction

/** manager.c permission classes (EVENT_FLAG_*), as written in manager.conf read=/write=. */
export type AmiClass = 'system' | 'call' | 'log' | 'verbose' | 'command' | 'agent' | 'user' | 'config' | 'dtmf' | 'reporting' | 'cdr' | 'dialplan' | 'originate' | 'agi' | 'security' | 'all';

export interface AmiPeerUser {
  readonly secret: string;
  readonly read?: readonly AmiClass[];
  readonly write?: readonly AmiClass[];
  /**
   * manager.conf `eventfilter...` lines of the user, as [key, value] (`['eventfilter(action(exclude),name(X))', '']`):
   * parsed when the user is loaded (a bad one is dropped, as manager.c logs and skips it) and copied into each of its
   * sessions at Login (authenticate), before the Filter actions the session adds itself.
   */
  readonly eventFilters?: readonly (readonly [string, string])[];
}

/** Write classes an action needs (any one of them); `[]` = any logged-in user. From the ast_manager_register calls. */
const ACTION_AUTHORITY: Record<string, readonly AmiClass[]> = {
  ping: [],
  logoff: [],
  reload: ['system', 'config'],
  command: ['command'],
  coresettings: ['system', 'reporting'],
  corestatus: ['system', 'reporting'],
  pjsipshowendpoints: ['system'],
  pjsipshowcontacts: ['system'],
  pjsipshowregistrationsoutbound: ['system'],
  pjsipshowaors: ['system'],
  pjsipqualify: ['system'],
  pjsipregister: ['system'],
  pjsipunregister: ['system'],
  originate: ['originate'],
  updateconfig: ['config'],
  getconfig: ['system', 'config'],
  modulecheck: ['system'],
  pjsipshowendpoint: ['system'],
  // manager.c: Setvar EVENT_FLAG_CALL; res_manager_devicestate.c: DeviceStateList EVENT_FLAG_CALL | EVENT_FLAG_REPORTING.
  setvar: ['call'],
  devicestatelist: ['call', 'reporting'],
  // manager.c: Hangup EVENT_FLAG_SYSTEM | EVENT_FLAG_CALL, CoreShowChannels EVENT_FLAG_SYSTEM | EVENT_FLAG_REPORTING.
  // manager.c: Filter EVENT_FLAG_SYSTEM (per session; manager.conf eventfilter lines need no action at all).
  filter: ['system'],
  hangup: ['system', 'call'],
  coreshowchannels: ['system', 'reporting'],
};

/**
 * Modules a stock Asterisk 22 with fedpbx's deploy/ files has running. Observed: cdr_manager declines to load at
 * boot when cdr_manager.conf is missing and stays unloaded until `module load cdr_manager.so`; cdr_custom needs
 * res_cdrel_custom (22.10).
 */
export const DEFAULT_LOADED_MODULES: readonly string[] = ['res_pjsip', 'chan_pjsip', 'pbx_config', 'res_agi', 'app_mixmonitor', 'cdr_manager', 'cdr_custom', 'res_cdrel_custom'];

export interface PeerEndpoint {
  readonly name: string;
  readonly transport?: string;
  readonly aor?: string;
  readonly auths?: string;
  readonly outboundAuths?: string;
  /** Contact URIs of its aor (static or registered), shown in `Contacts:` as `aor/uri,`. */
  readonly contacts?: readonly string[];
  readonly deviceState?: string;
}

export interface PeerContact {
  readonly aor: string;
  readonly uri: string;
  readonly status: 'Reachable' | 'Unreachable' | 'NonQualified' | 'Unknown' | 'Created' | 'Removed';
  /** Static (aor `contact=`) contacts are not listed by PJSIPShowContacts (recorded on 22.10.1). */
  readonly dynamic: boolean;
  readonly roundtripUsec?: number | 'N/A';
  readonly objectName?: string;
  readonly viaAddr?: string;
  readonly viaPort?: number;
  readonly callId?: string;
  readonly regServer?: string;
  readonly userAgent?: string;
  readonly expirationTime?: number;
  readonly qualifyFrequency?: number;
  readonly endpoint?: string;
}

export interface PeerRegistration {
  readonly name: string;
  readonly serverUri: string;
  readonly clientUri: string;
  readonly contactUser?: string;
  readonly status: 'Registered' | 'Unregistered' | 'Rejected';
  readonly retryInterval?: number;
  readonly expiration?: number;
  readonly transport?: string;
  readonly endpoint?: string;
  readonly line?: boolean;
  /** Its outbound_auth: AMI prints it, password in clear, as AuthDetail after the registration. */
  readonly auth?: { readonly name: string; readonly username: string; readonly password: string };
}

export interface PeerPjsipState {
  endpoints: PeerEndpoint[];
  contacts: PeerContact[];
  registrations: PeerRegistration[];
}

export interface ReceivedAction {
  readonly session: number;
  readonly action: string;
  readonly actionId: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  /** The raw bytes of this message as received (lines and the closing empty line). */
  readonly raw: string;
  /** Case-insensitive first value. */
  get(key: string): string | undefined;
}

export interface PeerSession {
  readonly id: number;
  readonly socket: net.Socket;
  user: string | undefined;
  events: boolean;
  /** The session's event filters: the user's manager.conf ones from Login, then those its Filter actions added. */
  readonly filters: SessionFilters;
}

export interface ActionContext {
  readonly session: PeerSession;
  readonly request: ReceivedAction;
  readonly actionId: string | undefined;
  /** `Response: <status>`, the echoed ActionID, then the given headers; closed by an empty line. */
  respond(status: string, headers?: readonly (readonly [string, string])[]): void;
  /** Raw bytes, e.g. half of a list. */
  write(text: string): void;
  /** Cut the TCP connection at once (RST-like destroy). */
  destroy(): void;
  /** The peer's own behaviour for this action. */
  fallthrough(): void;
}

export type ActionHandler = (ctx: ActionContext) => void | Promise<void>;

export interface AmiPeerOptions {
  readonly users?: Readonly<Record<string, AmiPeerUser>>;
  readonly loginFailureDelayMs?: number;
  readonly systemName?: string;
  /**
   * How responses are written: everything one tick produces for a session in one write (default: cheap at thousands
   * of actions a second; the bytes are the same), one write per line (as manager.c does), or byte by byte.
   */
  readonly chunking?: 'whole' | 'per-line' | 'bytewise';
  /** Running modules (names without `.so`); default {@link DEFAULT_LOADED_MODULES}. */
  readonly modules?: readonly string[];
  /** false: keep no `received`/`rawReceived` log (benchmarks at thousands of actions a second). Default true. */
  readonly record?: boolean;
}

export const DEFAULT_AMI_USER = { name: 'fedpbx', secret: 'fedpbx-test-secret' } as const;

export class AmiPeer {
  readonly received: ReceivedAction[] = [];
  /** Every byte any client sent, in order. */
  rawReceived = '';
  pjsip: PeerPjsipState = { endpoints: [], contacts: [], registrations: [] };
  /** Device -> state name as ast_devstate_str gives it (`PJSIP/101` -> `INUSE`, `Custom:lamp` -> `BUSY`). */
  readonly deviceStates = new Map<string, string>();
  /** Global variables set through Setvar without a channel. */
  readonly globals = new Map<string, string>();
  private readonly hints: { readonly context: string; readonly exten: string; readonly device: string; last: number }[] = [];
  readonly reloads: string[] = [];
  readonly sessions = new Set<PeerSession>();
  connections = 0;
  /**
   * Running modules, lower case without `.so` (loader.c matches names case-insensitively, with or without `.so`).
   * ModuleCheck answers from it; `Command: module load|unload <name>` changes it.
   */
  readonly modules: Set<string>;
  private readonly handlers = new Map<string, ActionHandler>();
  /** Actions a model of Asterisk's modules serves (PjsipSim), after the permission check. */
  private readonly models = new Map<string, ActionHandler>();
  private readonly reloadListeners: ((module: string) => void)[] = [];
  private readonly customStateListeners: ((device: string, state: string) => void)[] = [];
  private readonly waiters: (() => void)[] = [];
  /** What this tick wrote to each session, sent in one write at its end ('whole' chunking). */
  private readonly outboxes = new Map<PeerSession, string[]>();
  private nextSession = 0;
  private readonly users: Readonly<Record<string, AmiPeerUser>>;
  private readonly systemName: string;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly opts: AmiPeerOptions,
  ) {
    this.users = opts.users ?? { [DEFAULT_AMI_USER.name]: { secret: DEFAULT_AMI_USER.secret, read: ['all'], write: ['all'] } };
    this.systemName = opts.systemName ?? 'site1';
    this.modules = new Set((opts.modules ?? DEFAULT_LOADED_MODULES).map(moduleBase));
  }

  /** Whether a module is running (as ModuleCheck would say). */
  moduleLoaded(name: string): boolean {
    return this.modules.has(moduleBase(name));
  }

  static async start(opts: AmiPeerOptions = {}, port = 0): Promise<AmiPeer> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const peer = new AmiPeer(server, address.port, opts);
    server.on('connection', (socket) => peer.accept(socket));
    return peer;
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Stops accepting (connections are refused) without cutting established ones; `listen()` again later. */
  stopListening(): void {
    this.server.close();
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Overrides one action (name case-insensitive) until `handle(name, undefined)`. */
  handle(action: string, handler: ActionHandler | undefined): void {
    if (handler === undefined) this.handlers.delete(action.toLowerCase());
    else this.handlers.set(action.toLowerCase(), handler);
  }

  /** A module model serves this action (name case-insensitive), behind the same permission check as the rest. */
  implement(action: string, handler: ActionHandler): void {
    this.models.set(action.toLowerCase(), handler);
  }

  /** Called for every Custom: device state written through AMI (Setvar of DEVICE_STATE, `devstate change`). */
  onCustomDeviceState(listener: (device: string, state: string) => void): void {
    this.customStateListeners.push(listener);
  }

  /**
   * A device changes state (a phone rings, answers, hangs up): remembered and raised as Asterisk's aggregate
   * `DeviceStateChange` (devicestate.c devstate_to_ami: `Device`, `State`).
   */
  setDeviceState(device: string, state: string): void {
    this.deviceStates.set(device, state);
    this.event('DeviceStateChange', [['Device', device], ['State', state]]);
    // pbx.c device_state_notify_callbacks -> manager_state_cb: the global callbacks run only when the hint's
    // extension state changed.
    for (const hint of this.hints) {
      if (hint.device !== device) continue;
      const ext = extensionState(state);
      if (ext === hint.last) continue;
      hint.last = ext;
      this.event('ExtensionStatus', [['Exten', hint.exten], ['Context', hint.context], ['Hint', hint.device], ['Status', String(ext)], ['StatusText', extensionStateText(ext)]]);
    }
  }

  /**
   * `exten => <exten>,hint,<device>` in `<context>` (one device, as fedpbx writes them): from now on a change of the
   * device's extension state raises `ExtensionStatus` (manager.c manager_state_cb: Exten, Context, Hint, Status,
   * StatusText; class call).
   */
  addHint(context: string, exten: string, device: string): void {
    this.hints.push({ context, exten, device, last: extensionState(this.deviceStates.get(device) ?? 'UNKNOWN') });
  }

  /** Called for every module reloaded (Reload action or `module reload` command), before the answer is written. */
  onReload(listener: (module: string) => void): void {
    this.reloadListeners.push(listener);
  }

  get loggedInSessions(): PeerSession[] {
    return [...this.sessions].filter((s) => s.user !== undefined);
  }

  /** Cuts every connection at once. */
  dropAll(): void {
    for (const s of this.sessions) this.cut(s);
  }

  /** An event as manager.c formats it: Event, Privilege, SystemName, then the fields; to every entitled session. */
  event(name: string, fields: readonly (readonly [string, string])[], privilege = eventPrivilege(name)): void {
    const text = formatMessage([['Event', name], ['Privilege', privilege], ['SystemName', this.systemName], ...fields]);
    // manager.c: an event goes to a session when (send_events & category) == category - EVERY class of the event
    // (Privilege lists them, then `all`) must be among the user's read classes.
    const classes = privilege.split(',').filter((c) => c !== 'all') as AmiClass[];
    for (const s of this.loggedInSessions) {
      if (s.events && classes.every((c) => this.may(s, 'read', [c])) && shouldSendEvent(s.filters, name, text)) this.write(s, text);
    }
  }

  /**
   * Bytes to every logged-in session with events on (e.g. recorded event chunks). Text that is one event
   * (`Event: <name>` first) passes each session's event filters like any event; other bytes go out as they are.
   */
  sendRaw(text: string): void {
    const name = /^Event: ([^\r\n]*)\r?\n/.exec(text)?.[1];
    for (const s of this.loggedInSessions) {
      if (s.events && (name === undefined || shouldSendEvent(s.filters, name, text))) this.write(s, text);
    }
  }

  /** The recorded event chunks of a fixture (everything Asterisk sent after the login answer, before Logoff). */
  replayEvents(file: string): void {
    for (const chunk of recordedEvents(file)) this.sendRaw(chunk);
  }

  /** Resolves once `predicate` holds (checked after every received action / connection change). */
  async waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error('AmiPeer.waitFor: timed out');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  actions(name: string): ReceivedAction[] {
    return this.received.filter((r) => r.action.toLowerCase() === name.toLowerCase());
  }

  // ------------------------------------------------------------------------------------------------------

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private accept(socket: net.Socket): void {
    const session: PeerSession = { id: ++this.nextSession, socket, user: undefined, events: true, filters: { include: [], exclude: [] } };
    this.sessions.add(session);
    this.connections += 1;
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // a client reset is normal here
    socket.on('close', () => {
      this.sessions.delete(session);
      this.notify();
    });
    let buffer = Buffer.alloc(0);
    let lines: { line: string; raw: string }[] = [];
    let tooLong = false;
    socket.on('data', (chunk: Buffer) => {
      if (this.opts.record !== false) this.rawReceived += chunk.toString('utf8');
      buffer = Buffer.concat([buffer, chunk]);
      for (let nl = buffer.indexOf(0x0a); nl >= 0; nl = buffer.indexOf(0x0a)) {
        const rawLine = buffer.subarray(0, nl + 1);
        buffer = buffer.subarray(nl + 1);
        if (rawLine.length > MAX_LINE_BYTES) {
          tooLong = true;
          continue;
        }
        const text = rawLine.toString('utf8');
        const line = text.endsWith('\r\n') ? text.slice(0, -2) : text.slice(0, -1);
        if (line !== '') {
          lines.push({ line, raw: text });
          continue;
        }
        const message = lines;
        lines = [];
        if (tooLong) {
          tooLong = false;
          this.write(session, formatMessage([['Response', 'Error'], ['Message', 'Failed to parse message: line too long']]));
          continue;
        }
        if (message.length > 0) this.onAction(session, message, text);
      }
      if (buffer.length > MAX_LINE_BYTES) {
        tooLong = true;
        buffer = Buffer.alloc(0);
      }
    });
    this.write(session, AMI_BANNER);
    this.notify();
  }

  private onAction(session: PeerSession, lines: readonly { line: string; raw: string }[], closing: string): void {
    const headers: [string, string][] = [];
    for (const { line } of lines) {
      const colon = line.indexOf(':');
      if (colon < 0) continue; // manager.c ignores a line without a colon
      headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).replace(/^ +/, '')]);
    }
    const get = (key: string): string | undefined => headers.find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
    const request: ReceivedAction = {
      session: session.id,
      action: get('Action') ?? '',
      actionId: get('ActionID'),
      headers,
      raw: lines.map((l) => l.raw).join('') + closing,
      get,
    };
    if (this.opts.record !== false) this.received.push(request);
    this.notify();
    const ctx = this.context(session, request);
    const handler = this.handlers.get(request.action.toLowerCase());
    if (handler !== undefined) void Promise.resolve(handler(ctx)).catch(() => this.cut(session));
    else this.standard(ctx);
  }

  private context(session: PeerSession, request: ReceivedAction): ActionContext {
    const actionId = request.actionId;
    return {
      session,
      request,
      actionId,
      respond: (status, headers = []) => this.write(session, this.response(status, actionId, headers)),
      write: (text) => this.write(session, text),
      destroy: () => this.cut(session),
      fallthrough: () => this.standard(this.context(session, request)),
    };
  }

  private response(status: string, actionId: string | undefined, headers: readonly (readonly [string, string])[]): string {
    return formatMessage([['Response', status], ...(actionId === undefined ? [] : [['ActionID', actionId] as const]), ...headers]);
  }

  private standard(ctx: ActionContext): void {
    const { session, request, actionId } = ctx;
    const name = request.action.toLowerCase();
    if (session.user === undefined && name !== 'login' && name !== 'challenge') {
      ctx.respond('Error', [['Message', 'Permission denied']]);
      return;
    }
    if (name === '') {
      ctx.respond('Error', [['Message', 'Missing action in request']]);
      return;
    }
    if (name === 'login') {
      this.login(ctx);
      return;
    }
    const authority = ACTION_AUTHORITY[name];
    if (authority === undefined) {
      ctx.respond('Error', [['Message', `Invalid/unknown command: ${request.action}. Use Action: ListCommands to show available commands.`]]);
      return;
    }
    if (authority.length > 0 && !this.may(session, 'write', authority)) {
      ctx.respond('Error', [['Message', 'Permission denied']]);
      return;
    }
    const model = this.models.get(name);
    if (model !== undefined) {
      void Promise.resolve(model(ctx)).catch(() => this.cut(session));
      return;
    }
    switch (name) {
      case 'ping':
        ctx.respond('Success', [['Ping', 'Pong'], ['Timestamp', (Date.now() / 1000).toFixed(6)]]);
        return;
      case 'logoff':
        ctx.respond('Goodbye', [['Message', 'Thanks for all the fish.']]);
        this.flush(session);
        session.socket.end();
        return;
      case 'reload':
        this.reload(ctx, request.get('Module') ?? '');
        return;
      case 'command':
        this.command(ctx, request.get('Command') ?? '');
        return;
      case 'modulecheck':
        // manager.c manager_modulecheck: ast_module_check(name) (loader.c find_resource: running modules only).
        if (this.moduleLoaded(request.get('Module') ?? '')) ctx.respond('Success', [['Version', '']]);
        else ctx.respond('Error', [['Message', 'Module not loaded']]);
        return;
      case 'devicestatelist':
        // res_manager_devicestate.c: the cached states, each as `Event: DeviceStateChange` + ActionID + the blob's fields.
        this.list(
          ctx,
          'Device State Changes will follow',
          'DeviceStateListComplete',
          [...this.deviceStates].map(([device, state]) => formatMessage([['Event', 'DeviceStateChange'], ...(actionId === undefined ? [] : [['ActionID', actionId] as [string, string]]), ['Device', device], ['State', state]])),
        );
        return;
      case 'setvar':
        this.setvar(ctx);
        return;
      case 'filter':
        this.filter(ctx);
        return;
      case 'pjsipshowendpoints':
        this.list(ctx, 'A listing of Endpoints follows, presented as EndpointList events', 'EndpointListComplete', this.pjsip.endpoints.map((e) => endpointListItem(e, actionId)));
        return;
      case 'pjsipshowcontacts': {
        const dynamic = this.pjsip.contacts.filter((c) => c.dynamic);
        // Recorded: `Message: No Contacts found\n` + CRLF CRLF - the value ends in a stray LF.
        if (dynamic.length === 0) ctx.write(`Response: Error\r\n${idLine(actionId)}Message: No Contacts found\n\r\n\r\n`);
        else this.list(ctx, 'A listing of Contacts follows, presented as ContactList events', 'ContactListComplete', dynamic.map((c) => contactListItem(c, actionId, this.systemName)));
        return;
      }
      case 'pjsipshowregistrationsoutbound': {
        const regs = this.pjsip.registrations;
        const registered = regs.filter((r) => r.status === 'Registered').length;
        this.list(
          ctx,
          'Following are Events for each Outbound registration',
          'OutboundRegistrationDetailComplete',
          regs.flatMap((r) => registrationItems(r, actionId)),
          [['Registered', String(registered)], ['NotRegistered', String(regs.length - registered)]],
          regs.length,
        );
        return;
      }
      default:
        ctx.respond('Success', []);
    }
  }

  private login(ctx: ActionContext): void {
    const { session, request, actionId } = ctx;
    const username = request.get('Username') ?? '';
    const user = Object.hasOwn(this.users, username) ? this.users[username] : undefined;
    if (user === undefined || user.secret !== (request.get('Secret') ?? '')) {
      // manager.c: sleep(1), error, then the session ends (fixture ami-06-login-failure.json).
      setTimeout(() => {
        if (session.socket.destroyed) return;
        ctx.respond('Error', [['Message', 'Authentication failed']]);
        this.flush(session);
        session.socket.end();
      }, this.opts.loginFailureDelayMs ?? 1000);
      return;
    }
    session.user = username;
    session.events = (request.get('Events') ?? '').toLowerCase() !== 'off';
    // authenticate(): the user's manager.conf filters are linked into the session's lists.
    for (const [key, value] of user.eventFilters ?? []) {
      if (!key.startsWith('eventfilter')) continue;
      const parsed = parseEventFilter(key, value);
      if (parsed.ok) addFilter(session.filters, parsed.entry);
    }
    // The recorded answer, then (events on) the recorded FullyBooted and this login's SuccessfulAuth, each only
    // if the user's read classes allow it (system / security).
    const [answer, fullyBooted, successfulAuth] = splitMessages(
      recordedAnswer('ami-06-login-ping-coresettings.json', 'login-1').replaceAll('ActionID: login-1\r\n', idLine(actionId)),
    );
    this.write(session, answer!);
    if (session.events && this.may(session, 'read', ['system'])) this.write(session, fullyBooted!);
    if (session.events && this.may(session, 'read', ['security'])) this.write(session, successfulAuth!.replace('AccountID: admin', `AccountID: ${username}`));
  }

  private reload(ctx: ActionContext, module: string): void {
    const known = ['res_pjsip.so', 'pbx_config.so', 'chan_pjsip.so', 'res_pjsip_session.so', 'app_voicemail.so', 'cdr_manager.so'];
    const ok = module === '' || known.includes(module);
    if (ok) this.reloads.push(module === '' ? '(all)' : module);
    if (ok) for (const l of this.reloadListeners) l(module === '' ? '(all)' : module);
    this.notify();
    if (ok) ctx.respond('Success', [['Message', 'Module Reloaded']]);
    else ctx.respond('Error', [['Message', 'No such module']]);
    if (module !== '') this.event('Reload', [['Module', module], ['Status', ok ? '0' : '2']]);
  }

  private command(ctx: ActionContext, command: string): void {
    const load = /^module (load|unload) (\S+)$/.exec(command);
    const m = /^module reload (\S+)$/.exec(command);
    if (load !== null) {
      const name = load[2]!;
      if (load[1] === 'load') this.modules.add(moduleBase(name));
      else this.modules.delete(moduleBase(name));
      ctx.respond('Success', [['Message', 'Command output follows'], ['Output', `${load[1] === 'load' ? 'Loaded' : 'Unloaded'} ${name}`]]);
    } else if (m !== null) {
      this.reloads.push(m[1]!);
      for (const l of this.reloadListeners) l(m[1]!);
      ctx.respond('Success', [['Message', 'Command output follows'], ['Output', `Module '${m[1]!}' reloaded successfully.`]]);
      this.event('Reload', [['Module', m[1]!], ['Status', '0']]);
    } else if (/^devstate change /.test(command)) {
      // func_devstate.c handle_cli_devstate_change: `devstate change Custom:<name> <state>`.
      const [, , device = '', state = ''] = command.split(/\s+/);
      const written = this.writeCustomState(device, state);
      ctx.respond(written ? 'Success' : 'Error', [['Message', 'Command output follows'], ['Output', written ? `Changing ${device.slice('Custom:'.length)} to ${state}` : 'The devstate command can only be used to set \'Custom:\' device state!']]);
    } else if (command === 'core show uptime seconds') {
      const up = String(Math.round(process.uptime()));
      ctx.respond('Success', [['Message', 'Command output follows'], ['Output', `System uptime: ${up}`], ['Output', `Last reload: ${up}`]]);
    } else if (command === 'dialplan reload') {
      this.reloads.push('pbx_config.so');
      ctx.respond('Success', [['Message', 'Command output follows'], ['Output', 'Dialplan reloaded.']]);
    } else {
      const first = command.split(' ').slice(0, 2).join(' ');
      ctx.respond('Error', [['Message', 'Command output follows'], ['Output', `No such command '${command}' (type 'core show help ${first}' for other possible commands)`]]);
    }
    this.notify();
  }

  /**
   * manager.c action_filter: `Operation: Add` (case-insensitive; nothing else is known), `MatchCriteria` (optional:
   * wrapped as `eventfilter(<MatchCriteria>)`, else plain `eventfilter`), `Filter` (the pattern). The filter holds
   * for this session only, from the next event on; there is no way to remove one but to log in again.
   */
  private filter(ctx: ActionContext): void {
    const { request, session } = ctx;
    if ((request.get('Operation') ?? '').toLowerCase() !== 'add') {
      ctx.respond('Error', [['Message', 'Unknown operation']]);
      return;
    }
    const match = request.get('MatchCriteria') ?? '';
    const parsed = parseEventFilter(match === '' ? 'eventfilter' : `eventfilter(${match})`, request.get('Filter') ?? '');
    if (!parsed.ok) {
      const message =
        parsed.error === 'compile'
          ? 'Filter did not compile.  Check the syntax of the filter given.'
          : 'Filter was formatted incorrectly.  Check the syntax of the filter given.';
      ctx.respond('Error', [['Message', message]]);
      return;
    }
    addFilter(session.filters, parsed.entry);
    ctx.respond('Success', [['Message', 'Success']]);
  }

  /** manager.c action_setvar with pbx_variables.c pbx_builtin_setvar_helper; channels are not modelled here. */
  private setvar(ctx: ActionContext): void {
    const { request } = ctx;
    const name = request.get('Variable') ?? '';
    const value = request.get('Value') ?? '';
    if (name === '') {
      ctx.respond('Error', [['Message', 'No variable specified']]);
      return;
    }
    if ((request.get('Channel') ?? '') !== '') {
      ctx.respond('Error', [['Message', 'No such channel']]);
      return;
    }
    let ok = true;
    if (name.endsWith(')')) {
      const fn = /^([A-Za-z_]+)\((.*)\)$/.exec(name);
      ok = fn !== null && fn[1] === 'DEVICE_STATE' && this.writeCustomState(fn[2]!, value);
    } else {
      this.globals.set(name, value);
    }
    if (ok) ctx.respond('Success', [['Message', 'Variable Set']]);
    else ctx.respond('Error', [['Message', 'Variable not set']]);
  }

  /**
   * func_devstate.c devstate_write: only `Custom:<name>` (prefix case-insensitive, name not empty), a value
   * ast_devstate_val knows (case-insensitive) other than UNKNOWN; the device is stored and announced as
   * `Custom:<name>` and the state as ast_devstate_str writes it (upper case).
   */
  private writeCustomState(device: string, value: string): boolean {
    if (device.slice(0, 'Custom:'.length).toLowerCase() !== 'custom:' || device.length === 'Custom:'.length) return false;
    const state = value.toUpperCase();
    if (!SETTABLE_DEVICE_STATES.has(state)) return false;
    const name = `Custom:${device.slice('Custom:'.length)}`;
    for (const l of this.customStateListeners) l(name, state);
    this.setDeviceState(name, state);
    return true;
  }

  private list(
    ctx: ActionContext,
    message: string,
    completeEvent: string,
    items: readonly string[],
    completeExtra: readonly (readonly [string, string])[] = [],
    listItems = items.length,
  ): void {
    ctx.respond('Success', [['EventList', 'start'], ['Message', message]]);
    for (const item of items) ctx.write(item);
    ctx.write(formatMessage([['Event', completeEvent], ...(ctx.actionId === undefined ? [] : [['ActionID', ctx.actionId] as const]), ['EventList', 'Complete'], ['ListItems', String(listItems)], ...completeExtra]));
  }

  private may(session: PeerSession, kind: 'read' | 'write', classes: readonly AmiClass[]): boolean {
    const user = session.user === undefined ? undefined : this.users[session.user];
    const granted = (kind === 'read' ? user?.read : user?.write) ?? [];
    return granted.includes('all') || classes.some((c) => granted.includes(c));
  }

  /** Cuts a session at once (RST-like), after what was already written to it. */
  private cut(session: PeerSession): void {
    this.flush(session);
    session.socket.destroy();
  }

  private flush(session: PeerSession): void {
    const box = this.outboxes.get(session);
    if (box === undefined) return;
    this.outboxes.delete(session);
    if (!session.socket.destroyed) session.socket.write(box.length === 1 ? box[0]! : box.join(''));
  }

  private write(session: PeerSession, text: string): void {
    if (session.socket.destroyed) return;
    switch (this.opts.chunking ?? 'whole') {
      case 'whole': {
        const box = this.outboxes.get(session);
        if (box !== undefined) box.push(text);
        else {
          this.outboxes.set(session, [text]);
          queueMicrotask(() => this.flush(session));
        }
        return;
      }
      case 'per-line':
        for (const part of text.split(/(?<=\n)/)) session.socket.write(part);
        return;
      case 'bytewise':
        for (const b of Buffer.from(text, 'utf8')) session.socket.write(Buffer.of(b));
        return;
    }
  }
}

/**
 * States ast_devstate_val (main/devicestate.c) maps to something other than AST_DEVICE_UNKNOWN, i.e. what
 * DEVICE_STATE(Custom:...) accepts; `INVALID` maps to AST_DEVICE_INVALID and is accepted too.
 */
const SETTABLE_DEVICE_STATES = new Set(['NOT_INUSE', 'INUSE', 'BUSY', 'INVALID', 'UNAVAILABLE', 'RINGING', 'RINGINUSE', 'ONHOLD']);

/** main/devicestate.c ast_devstate_to_extenstate, on ast_devstate_str names (AST_EXTENSION_* bits of pbx.h). */
function extensionState(deviceState: string): number {
  switch (deviceState) {
    case 'ONHOLD':
      return 16;
    case 'BUSY':
      return 2;
    case 'UNAVAILABLE':
    case 'INVALID':
      return 4;
    case 'RINGINUSE':
      return 1 | 8;
    case 'RINGING':
      return 8;
    case 'INUSE':
      return 1;
    default: // NOT_INUSE, UNKNOWN
      return 0;
  }
}

/** main/pbx.c ast_extension_state2str. */
function extensionStateText(state: number): string {
  const texts: Record<number, string> = { 0: 'Idle', 1: 'InUse', 2: 'Busy', 4: 'Unavailable', 8: 'Ringing', 9: 'InUse&Ringing', 16: 'Hold', 17: 'InUse&Hold' };
  return texts[state] ?? 'Unknown';
}

/** `Key: Value\r\n` lines (manager.c astman_append "%s: %s\r\n") and the closing empty line. */
export function formatMessage(headers: readonly (readonly [string, string])[]): string {
  return `${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

function idLine(actionId: string | undefined): string {
  return actionId === undefined ? '' : `ActionID: ${actionId}\r\n`;
}

/**
 * Per-call events and their class, from the manager_event / ast_manager_event_blob_create calls of Asterisk 22
 * (main/manager_channels.c, manager_bridges.c, stasis_bridges.c, stasis_channels.c, pbx.c manager_state_cb,
 * devicestate.c devstate_to_ami, presencestate.c, manager_mwi.c, channel.c): all EVENT_FLAG_CALL. A busy PBX raises
 * these for every call; a user with `read = call` gets them all unless its event filters drop them.
 */
export const CALL_CLASS_EVENTS: readonly string[] = [
  'Newchannel', 'Newstate', 'Hangup', 'HangupRequest', 'SoftHangupRequest', 'NewCallerid', 'NewConnectedLine', 'NewAccountCode',
  'DialBegin', 'DialEnd', 'DialState', 'Hold', 'Unhold', 'MusicOnHoldStart', 'MusicOnHoldStop', 'Flash', 'Wink',
  'ChanSpyStart', 'ChanSpyStop', 'MixMonitorMute', 'ChannelTalkingStart', 'ChannelTalkingStop',
  'BridgeCreate', 'BridgeDestroy', 'BridgeEnter', 'BridgeLeave', 'BridgeMerge', 'BridgeVideoSourceUpdate',
  'BlindTransfer', 'AttendedTransfer', 'LocalBridge', 'LocalOptimizationBegin', 'LocalOptimizationEnd', 'Rename',
  'DeviceStateChange', 'ExtensionStatus', 'PresenceStateChange', 'MessageWaiting',
];
const CALL_EVENTS = new Set(CALL_CLASS_EVENTS);

/** The Privilege header manager.c gives an event (its EVENT_FLAG class, then `all`). */
export function eventPrivilege(event: string): string {
  if (CALL_EVENTS.has(event)) return 'call,all';
  switch (event) {
    case 'Cdr':
      return 'cdr,all';
    case 'VarSet':
    case 'Newexten':
      return 'dialplan,all';
    case 'DTMFBegin':
    case 'DTMFEnd':
      return 'dtmf,all';
    case 'SuccessfulAuth':
    case 'ChallengeSent':
    case 'InvalidPassword':
      return 'security,all';
    default:
      return 'system,all';
  }
}

function endpointListItem(e: PeerEndpoint, actionId: string | undefined): string {
  const aor = e.aor ?? '';
  const fields: [string, string][] = [
    ['Event', 'EndpointList'],
    ...(actionId === undefined ? [] : [['ActionID', actionId] as [string, string]]),
    ['ObjectType', 'endpoint'],
    ['ObjectName', e.name],
    ['Transport', e.transport ?? 'transport-udp'],
    ['Aor', aor],
    ['Auths', e.auths ?? ''],
    ['OutboundAuths', e.outboundAuths ?? ''],
  ];
  // Recorded: "Contacts: peer/sip:127.0.0.1:5061," - absent when the endpoint has no contact.
  if ((e.contacts ?? []).length > 0) fields.push(['Contacts', e.contacts!.map((uri) => `${aor}/${uri},`).join('')]);
  fields.push(['DeviceState', e.deviceState ?? 'Not in use'], ['ActiveChannels', '0']);
  return formatMessage(fields);
}

function contactListItem(c: PeerContact, actionId: string | undefined, systemName: string): string {
  return formatMessage([
    ['Event', 'ContactList'],
    ...(actionId === undefined ? [] : [['ActionID', actionId] as [string, string]]),
    ['ObjectType', 'contact'],
    ['ObjectName', c.objectName ?? `${c.aor};@${'0'.repeat(32)}`],
    ['ViaAddr', c.viaAddr ?? '127.0.0.1'],
    ['QualifyTimeout', '3.000000'],
    ['Qualify2xxOnly', 'false'],
    ['CallId', c.callId ?? '00000000-0000-0000-0000-000000000000'],
    ['RegServer', c.regServer ?? systemName],
    ['PruneOnBoot', 'no'],
    ['Path', ''],
    ['Endpoint', c.endpoint ?? c.aor],
    ['ViaPort', String(c.viaPort ?? 5060)],
    ['AuthenticateQualify', 'no'],
    ['Uri', c.uri],
    ['QualifyFrequency', String(c.qualifyFrequency ?? 0)],
    ['UserAgent', c.userAgent ?? 'Asterisk PBX 22.10.1'],
    ['ExpirationTime', String(c.expirationTime ?? Math.floor(Date.now() / 1000) + 3600)],
    ['OutboundProxy', ''],
    ['Status', c.status],
    ['RoundtripUsec', String(c.roundtripUsec ?? 'N/A')],
  ]);
}

function registrationItems(r: PeerRegistration, actionId: string | undefined): string[] {
  const id = actionId === undefined ? [] : [['ActionID', actionId] as [string, string]];
  const items = [
    formatMessage([
      ['Event', 'OutboundRegistrationDetail'],
      ...id,
      ['ObjectType', 'registration'],
      ['ObjectName', r.name],
      ['MaxRetries', '10'],
      ['ClientUri', r.clientUri],
      ['SecurityNegotiation', 'no'],
      ['AuthRejectionPermanent', 'true'],
      ['ServerUri', r.serverUri],
      ['MaxRandomInitialDelay', '10'],
      ['SupportPath', 'false'],
      ['RetryInterval', String(r.retryInterval ?? 60)],
      ['ContactHeaderParams', ''],
      ['Expiration', String(r.expiration ?? 3600)],
      ['Transport', r.transport ?? 'transport-udp'],
      ['Line', r.line === true ? 'true' : 'false'],
      ['ContactUser', r.contactUser ?? ''],
      ['Endpoint', r.endpoint ?? ''],
      ['UserAgent', ''],
      ['ForbiddenRetryInterval', '600'],
      ['OutboundAuth', r.auth?.name ?? ''],
      ['OutboundProxy', ''],
      ['FatalRetryInterval', '0'],
      ['SupportOutbound', 'no'],
      ['Status', r.status],
      ['NextReg', '0'],
    ]),
  ];
  if (r.auth !== undefined) {
    items.push(
      formatMessage([
        ['Event', 'AuthDetail'],
        ...id,
        ['ObjectType', 'auth'],
        ['ObjectName', r.auth.name],
        ['OauthSecret', ''],
        ['PasswordDigest', ''],
        ['SupportedAlgorithmsUas', 'MD5'],
        ['RefreshToken', ''],
        ['Username', r.auth.username],
        ['Md5Cred', ''],
        ['Realm', ''],
        ['AuthType', 'userpass'],
        ['Password', r.auth.password],
        ['SupportedAlgorithmsUac', 'MD5'],
        ['NonceLifetime', '32'],
        ['OauthClientid', ''],
      ]),
    );
  }
  return items;
}

/** Splits a byte stream into its messages (each with its closing empty line). */
export function splitMessages(text: string): string[] {
  return text
    .split('\r\n\r\n')
    .filter((m) => m !== '')
    .map((m) => `${m}\r\n\r\n`);
}

/**
 * The events Asterisk sent in a recording between the login answer and the Logoff, as messages (answers to the
 * recorder's own actions and the AMI login's FullyBooted/SuccessfulAuth left out).
 */
export function recordedEvents(file: string): string[] {
  const ex = loadAmiFixture(file).exchange;
  const login = ex.findIndex((c) => c.dir === 'server->asterisk' && (c.data ?? '').startsWith('Action: Login'));
  const logoff = ex.findIndex((c) => c.dir === 'server->asterisk' && (c.data ?? '').startsWith('Action: Logoff'));
  const text = ex
    .slice(login + 1, logoff < 0 ? undefined : logoff)
    .filter((c) => c.dir === 'asterisk->server')
    .map((c) => c.data ?? '')
    .join('');
  return splitMessages(text).filter(
    (m) => !m.startsWith('Response:') && !m.startsWith('Event: FullyBooted') && !(m.startsWith('Event: SuccessfulAuth') && m.includes('Service: AMI')),
  );
}

/** loader.c resource_name_baselen: `cdr_custom.so` and `cdr_custom` are the same module. */
function moduleBase(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.so') ? lower.slice(0, -3) : lower;
}
