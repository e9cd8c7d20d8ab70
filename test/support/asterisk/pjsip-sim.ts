// Test support: the part of res_pjsip behind the AMI peer that fedpbx's link handling meets, modelled from
// Asterisk's source (22.x) and the facts observed on Asterisk 22.10.1 (asterisk-protocols.md, "Observed in the
// field"). It reads pjsip.conf (with #include) from a config dir the way the agent's files reach Asterisk, and:
// - transports: started in file order when the module loads; never reloaded (config_transport.c, allow_reload=no).
//   A UDP bind that overlaps one already started fails like the kernel's bind() (no SO_REUSEADDR for UDP; IPv6
//   sockets are V6ONLY, which is why pjsip.conf.sample's `0.0.0.0` and `::` transports both use 5060): logged as
//   `Transport '<id>' could not be started: Address already in use` + res_sorcery_config's `Could not create an
//   object of type 'transport' ...`, and the transport does not exist. PJSIPShowEndpoint of an endpoint naming it
//   answers `Unable to retrieve transport <id>` (config_transport.c format_ami_endpoint_transport).
// - outgoing requests: Via/Contact/SDP as pjsip_message_filter.c filter_on_tx_message and res_pjsip_sdp_rtp.c make
//   them: the kernel's source address toward the destination picks another UDP transport on the SAME PORT bound to
//   that address (get_udp_transport), whose address then goes into Via, Contact and a host-address SDP `c=`; the
//   packet still leaves from the endpoint's own transport; RTP binds to `media_address` (bind_rtp_to_media_address)
//   or the endpoint transport's address (create_rtp).
// - qualify (pjsip_options.c): a new or reloaded aor is first qualified at a random time within its
//   qualify_frequency, then every qualify_frequency - except that the first contact registering to an aor that had
//   none is qualified at once (sip_options_contact_add_task: "We immediately schedule the initial qualify"); an OPTIONS unanswered within qualify_timeout makes the contact
//   Unreachable, an answer Reachable; each change is a ContactStatus event, and PeerStatus when the endpoint goes
//   ONLINE/OFFLINE (persistent endpoints start OFFLINE: DeviceState Unavailable until a contact answers).
// - Dial (app_dial.c + chan_pjsip): no reachable contact (all Unreachable, or none) -> CHANUNAVAIL at once (`No URI
//   available` / invalid URI); a contact Asterisk believes reachable whose host is silently gone -> the INVITE gets
//   no answer until SIP timer B (64 x T1 = 32 s) and Dial ends `Everyone is busy/congested at this time (1:0/0/1)`,
//   DIALSTATUS CHANUNAVAIL. The outgoing leg is a channel `PJSIP/<endpoint>-<8 hex>` with Application AppDial /
//   `(Outgoing Line)` (CoreShowChannels); AMI `Hangup` of it ends Dial with app_dial's handle_cause() verdict.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ActionContext, AmiPeer, PeerEndpoint } from './ami-peer.js';
import { formatMessage } from './ami-peer.js';
import type { DialOutcome, DialRequest } from './fastagi-peer.js';

export interface ConfigSection {
  readonly name: string;
  readonly type: string;
  readonly options: readonly (readonly [string, string])[];
  readonly file: string;
  readonly line: number;
}

/** config.c, enough for pjsip.conf: `[name]`, `key = value`, `;` comments (`\;` literal), `#include`/`#tryinclude`. */
export function readAsteriskConfig(configDir: string, file: string, seen = new Set<string>()): ConfigSection[] {
  const path = isAbsolute(file) ? file : join(configDir, file);
  if (seen.has(path)) return [];
  seen.add(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: { name: string; type: string; options: [string, string][]; file: string; line: number }[] = [];
  let current: (typeof out)[number] | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const include = /^\s*#\s*(?:try)?include\s+"?([^"\s;]+)"?/.exec(raw);
    if (include !== null) {
      const nested = readAsteriskConfig(configDir, include[1]!, seen);
      out.push(...nested.map((s) => ({ ...s, options: s.options.map(([k, v]): [string, string] => [k, v]) })));
      current = undefined;
      return;
    }
    const line = raw.replace(/(?<!\\);.*$/, '').trim();
    if (line === '') return;
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header !== null) {
      current = { name: header[1]!, type: '', options: [], file, line: i + 1 };
      out.push(current);
      return;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq < 0) return;
    const key = line.slice(0, eq).replace(/>$/, '').trim().toLowerCase();
    const value = line.slice(eq + 1).replace(/^>/, '').trim();
    if (key === 'type') current.type = value;
    else current.options.push([key, value]);
  });
  return out;
}

export interface BindAddress {
  readonly family: 4 | 6;
  readonly host: string;
  readonly port: number;
  readonly any: boolean;
}

/** A transport's `bind` (config_transport.c transport_bind_handler: address, optional port, default 5060 for udp). */
export function parseBind(bind: string): BindAddress | undefined {
  const v6 = /^\[([0-9a-fA-F:.]*)\](?::(\d+))?$/.exec(bind) ?? (/^([0-9a-fA-F]*:[0-9a-fA-F:]*)$/.test(bind) ? ([bind, bind] as unknown as RegExpExecArray) : null);
  if (v6 !== null) {
    const host = v6[1]!;
    return { family: 6, host, port: v6[2] === undefined ? 5060 : Number(v6[2]), any: /^[0:]*$/.test(host) };
  }
  const v4 = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(bind);
  if (v4 === null) return undefined;
  return { family: 4, host: v4[1]!, port: v4[2] === undefined ? 5060 : Number(v4[2]), any: v4[1] === '0.0.0.0' };
}

/** bind() on Linux without SO_REUSEADDR, IPv6 sockets V6ONLY: the same port in the same family overlaps when either is a wildcard or both name the same address. */
export function bindsOverlap(a: BindAddress, b: BindAddress): boolean {
  return a.family === b.family && a.port === b.port && (a.any || b.any || a.host === b.host);
}

interface SimTransport {
  readonly name: string;
  readonly bind: BindAddress;
}

interface SimContact {
  readonly aor: string;
  readonly uri: string;
  readonly dynamic: boolean;
  status: 'Created' | 'Reachable' | 'Unreachable';
  rttUsec: number | undefined;
}

interface SimAor {
  readonly name: string;
  readonly staticContacts: readonly string[];
  readonly qualifyFrequencySec: number;
  readonly qualifyTimeoutSec: number;
  readonly maxContacts: number;
  timer: NodeJS.Timeout | undefined;
}

interface SimEndpoint {
  readonly name: string;
  readonly transport: string | undefined;
  readonly aors: readonly string[];
  readonly mediaAddress: string | undefined;
  readonly bindRtpToMediaAddress: boolean;
  online: boolean;
}

export interface SimChannel {
  readonly name: string;
  readonly uniqueid: string;
  /** AST_STATE_*: 0 Down, 4 Ring, 5 Ringing, 6 Up. */
  state: 0 | 4 | 5 | 6;
  readonly application: string;
  readonly applicationData: string;
  readonly context: string;
  readonly exten: string;
  readonly createdAt: number;
  /** Set by AMI Hangup: the cause the channel hangs up with. */
  hangup?: (cause: number) => void;
}

export interface OutgoingRequest {
  /** The address the UDP packet leaves from (the endpoint's transport socket). */
  readonly source: string;
  readonly via: string;
  readonly contact: string;
  /** INVITE only. */
  readonly sdpConnection?: string;
  readonly rtpBind?: string;
}

export interface PjsipSimOptions {
  readonly ami: AmiPeer;
  readonly configDir: string;
  /** pjsip's T1; timer B is 64 x T1 (32 s with the default 500 ms). */
  readonly t1Ms?: number;
  /** ast_random_double() for the first qualify of an aor. */
  readonly random?: () => number;
  /** The box's main address (ast_sip_get_host_ip): what SDP `c=` says without media_address. */
  readonly hostIp?: string;
  /** The kernel's source address toward a host (`ip route get`); loopback destinations default to 127.0.0.1. */
  readonly sourceAddressFor?: (host: string) => string;
  /** What the far end does with an INVITE that reaches it (default: answers after 50 ms, talks 50 ms). */
  readonly farEnd?: (req: DialRequest, endpoint: string) => DialOutcome;
}

const CAUSE_TO_DIALSTATUS = (cause: number): DialOutcome['status'] =>
  // app_dial.c handle_cause(): busy, congestion, NO_ANSWER/NORMAL_CLEARING counted as neither, anything else nochan.
  cause === 17 ? 'BUSY' : cause === 34 ? 'CONGESTION' : cause === 16 || cause === 19 ? 'NOANSWER' : 'CHANUNAVAIL';

export class PjsipSim {
  /** Asterisk's log lines (ERROR/WARNING/VERBOSE as `LEVEL file: text`). */
  readonly log: string[] = [];
  readonly transports = new Map<string, SimTransport>();
  private readonly endpoints = new Map<string, SimEndpoint>();
  private readonly aors = new Map<string, SimAor>();
  private readonly contacts = new Map<string, SimContact>(); // `${aor} ${uri}`
  private readonly dead = new Set<string>(); // hosts that answer nothing
  readonly channels: SimChannel[] = [];
  private channelSeq = 0x1a;
  private loaded = false;

  constructor(private readonly o: PjsipSimOptions) {
    o.ami.implement('pjsipshowendpoint', (ctx) => this.showEndpoint(ctx));
    o.ami.implement('coreshowchannels', (ctx) => this.showChannels(ctx));
    o.ami.implement('hangup', (ctx) => this.hangupAction(ctx));
    o.ami.onReload((module) => {
      if (module === 'res_pjsip.so' || module === '(all)') this.load();
    });
  }

  get t1Ms(): number {
    return this.o.t1Ms ?? 500;
  }

  /** Asterisk starts (or res_pjsip loads): everything read, transports started. */
  start(): this {
    this.load();
    return this;
  }

  /** Stops every qualify timer (Asterisk stopped). */
  stop(): void {
    for (const aor of this.aors.values()) clearTimeout(aor.timer);
  }

  /** The far side at `host` stops answering (the link dies silently) or answers again. */
  setHostAlive(host: string, alive: boolean): void {
    if (alive) this.dead.delete(host);
    else this.dead.add(host);
  }

  /** The peer at `uri` registers to our aor (registrar side of a registration link). */
  register(aor: string, uri: string): void {
    const a = this.aors.get(aor);
    if (a === undefined) return;
    for (const c of [...this.contacts.values()]) if (c.aor === aor && c.dynamic && a.maxContacts <= 1) this.removeContact(c);
    const first = ![...this.contacts.values()].some((c) => c.aor === aor);
    this.addContact(aor, uri, true);
    this.sync();
    if (first && a.qualifyFrequencySec > 0) this.scheduleQualify(a, 'now');
  }

  contactStatus(aor: string): string[] {
    return [...this.contacts.values()].filter((c) => c.aor === aor).map((c) => c.status);
  }

  // ------------------------------------------------------------------------------------------------------
  // Configuration
  // ------------------------------------------------------------------------------------------------------

  private load(): void {
    const sections = readAsteriskConfig(this.o.configDir, 'pjsip.conf');
    const first = !this.loaded;
    this.loaded = true;
    for (const s of sections.filter((x) => x.type === 'transport')) {
      // allow_reload=no: a transport that exists is left as it is; one that failed is tried again (it is new).
      if (this.transports.has(s.name)) continue;
      const bindText = s.options.find(([k]) => k === 'bind')?.[1] ?? '0.0.0.0';
      const bind = parseBind(bindText);
      if (bind === undefined) continue;
      const clash = [...this.transports.values()].find((t) => bindsOverlap(t.bind, bind));
      if (clash !== undefined) {
        this.log.push(`ERROR res_pjsip/config_transport.c: Transport '${s.name}' could not be started: Address already in use`);
        this.log.push(`ERROR res_sorcery_config.c: Could not create an object of type 'transport' with id '${s.name}' from configuration file 'pjsip.conf'`);
        continue;
      }
      this.transports.set(s.name, { name: s.name, bind });
    }
    const opt = (s: ConfigSection, key: string): string | undefined => s.options.find(([k]) => k === key)?.[1];
    const aorSections = sections.filter((s) => s.type === 'aor');
    const newAors = new Map<string, SimAor>();
    for (const s of aorSections) {
      const old = this.aors.get(s.name);
      clearTimeout(old?.timer);
      newAors.set(s.name, {
        name: s.name,
        staticContacts: s.options.filter(([k]) => k === 'contact').map(([, v]) => v.replace(/\\;/g, ';')),
        qualifyFrequencySec: Number(opt(s, 'qualify_frequency') ?? 0),
        qualifyTimeoutSec: Number(opt(s, 'qualify_timeout') ?? 3),
        maxContacts: Number(opt(s, 'max_contacts') ?? 0),
        timer: undefined,
      });
    }
    // Contacts: static ones follow the aors; dynamic ones stay while their aor does. A contact that stays keeps its status.
    for (const c of [...this.contacts.values()]) {
      const aor = newAors.get(c.aor);
      if (aor === undefined || (!c.dynamic && !aor.staticContacts.includes(c.uri))) this.removeContact(c);
    }
    this.aors.clear();
    for (const [name, a] of newAors) this.aors.set(name, a);
    for (const a of this.aors.values()) for (const uri of a.staticContacts) if (!this.contacts.has(`${a.name} ${uri}`)) this.addContact(a.name, uri, false);

    const wasOnline = new Map([...this.endpoints].map(([n, e]) => [n, e.online]));
    this.endpoints.clear();
    for (const s of sections.filter((x) => x.type === 'endpoint')) {
      this.endpoints.set(s.name, {
        name: s.name,
        transport: opt(s, 'transport'),
        aors: (opt(s, 'aors') ?? '').split(',').map((x) => x.trim()).filter((x) => x !== ''),
        mediaAddress: opt(s, 'media_address'),
        bindRtpToMediaAddress: /^(yes|true|on|1)$/i.test(opt(s, 'bind_rtp_to_media_address') ?? 'no'),
        // pjsip_configuration.c persistent_endpoint_find_or_create: a new persistent endpoint starts OFFLINE.
        online: wasOnline.get(s.name) ?? false,
      });
    }
    this.registrations = sections
      .filter((s) => s.type === 'registration')
      .map((s) => ({ name: s.name, serverUri: opt(s, 'server_uri') ?? '', clientUri: opt(s, 'client_uri') ?? '', transport: opt(s, 'transport'), endpoint: opt(s, 'endpoint') }));
    for (const a of this.aors.values()) this.scheduleQualify(a, true);
    for (const e of this.endpoints.values()) this.updateEndpointState(e, !first);
    this.sync();
  }

  private registrations: { name: string; serverUri: string; clientUri: string; transport: string | undefined; endpoint: string | undefined }[] = [];

  private addContact(aor: string, uri: string, dynamic: boolean): void {
    const c: SimContact = { aor, uri, dynamic, status: 'Created', rttUsec: undefined };
    this.contacts.set(`${aor} ${uri}`, c);
    this.contactEvent(c, 'Created');
    // A non-qualified contact (qualify_frequency 0) counts as available (pjsip_options.c: no qualify -> available).
    const a = this.aors.get(aor);
    if (a !== undefined && a.qualifyFrequencySec === 0) for (const e of this.endpointsOf(aor)) this.updateEndpointState(e, true);
  }

  private removeContact(c: SimContact): void {
    this.contacts.delete(`${c.aor} ${c.uri}`);
    this.contactEvent(c, 'Removed');
    for (const e of this.endpointsOf(c.aor)) this.updateEndpointState(e, true);
  }

  private endpointsOf(aor: string): SimEndpoint[] {
    return [...this.endpoints.values()].filter((e) => e.aors.includes(aor));
  }

  /** The AMI peer's view (PJSIPShowEndpoints / Contacts / RegistrationsOutbound). */
  private sync(): void {
    const endpoints: PeerEndpoint[] = [...this.endpoints.values()].map((e) => ({
      name: e.name,
      ...(e.transport !== undefined ? { transport: e.transport } : {}),
      aor: e.aors.join(','),
      contacts: [...this.contacts.values()].filter((c) => e.aors.includes(c.aor)).map((c) => c.uri),
      deviceState: e.online ? 'Not in use' : 'Unavailable',
    }));
    this.o.ami.pjsip = {
      endpoints,
      contacts: [...this.contacts.values()].map((c) => ({
        aor: c.aor,
        uri: c.uri,
        dynamic: c.dynamic,
        status: c.status === 'Created' ? 'NonQualified' : c.status,
        ...(c.rttUsec !== undefined ? { roundtripUsec: c.rttUsec } : {}),
      })),
      registrations: this.registrations.map((r) => ({ name: r.name, serverUri: r.serverUri, clientUri: r.clientUri, status: 'Registered', ...(r.endpoint !== undefined ? { endpoint: r.endpoint } : {}) })),
    };
  }

  // ------------------------------------------------------------------------------------------------------
  // Qualify
  // ------------------------------------------------------------------------------------------------------

  /** `initial`: a new or reloaded aor; `'now'`: its first contact registered (qualified after 1 ms). */
  private scheduleQualify(a: SimAor, initial: boolean | 'now'): void {
    clearTimeout(a.timer);
    if (a.qualifyFrequencySec <= 0) return;
    // pjsip_options.c sip_options_determine_initial_qualify_time: random within the frequency (max_initial_qualify_time unset).
    const delay = initial === 'now' ? 1 : initial ? Math.max(1, Math.floor(a.qualifyFrequencySec * 1000 * (this.o.random ?? Math.random)())) : a.qualifyFrequencySec * 1000;
    a.timer = setTimeout(() => {
      if (this.aors.get(a.name) !== a) return;
      for (const c of [...this.contacts.values()].filter((x) => x.aor === a.name)) this.qualify(a, c);
      this.scheduleQualify(a, false);
    }, delay);
    a.timer.unref();
  }

  private qualify(a: SimAor, c: SimContact): void {
    // The OPTIONS goes out with the endpoint's transport: without it the request cannot be made, and the contact's
    // status stays as it was (pjsip_options.c sip_options_qualify_contact: "Unable to create request to qualify").
    const endpoint = this.endpointsOf(a.name)[0];
    if (endpoint?.transport !== undefined && !this.transports.has(endpoint.transport)) {
      this.log.push(`ERROR res_pjsip/pjsip_options.c: Unable to create request to qualify contact ${c.uri} on AOR ${a.name}`);
      return;
    }
    const host = hostOf(c.uri);
    const alive = !this.dead.has(host);
    // An answer comes back after the round trip; no answer ends the OPTIONS transaction at qualify_timeout.
    const t = setTimeout(() => {
      if (this.contacts.get(`${c.aor} ${c.uri}`) !== c) return;
      this.setStatus(c, alive ? 'Reachable' : 'Unreachable', alive ? 1000 : undefined);
    }, alive ? 1 : a.qualifyTimeoutSec * 1000);
    t.unref();
  }

  private setStatus(c: SimContact, status: SimContact['status'], rttUsec: number | undefined): void {
    c.rttUsec = rttUsec;
    if (c.status === status) return;
    c.status = status;
    this.contactEvent(c, status);
    for (const e of this.endpointsOf(c.aor)) this.updateEndpointState(e, true);
    this.sync();
  }

  private contactEvent(c: SimContact, status: string): void {
    const endpoint = this.endpointsOf(c.aor)[0]?.name ?? '';
    this.o.ami.event('ContactStatus', [
      ['URI', c.uri],
      ['ContactStatus', status],
      ['AOR', c.aor],
      ['EndpointName', endpoint],
      ['RoundtripUsec', String(status === 'Reachable' ? (c.rttUsec ?? 0) : 0)],
    ]);
  }

  /** sip_options_get_endpoint_state_compositor_state: ONLINE when an aor has an available contact. */
  private updateEndpointState(e: SimEndpoint, announce: boolean): void {
    const available = e.aors.some((name) => {
      const a = this.aors.get(name);
      const cs = [...this.contacts.values()].filter((c) => c.aor === name);
      return a !== undefined && (a.qualifyFrequencySec === 0 ? cs.length > 0 : cs.some((c) => c.status === 'Reachable'));
    });
    if (available === e.online) return;
    e.online = available;
    if (announce) this.o.ami.event('PeerStatus', [['ChannelType', 'PJSIP'], ['Peer', `PJSIP/${e.name}`], ['PeerStatus', available ? 'Reachable' : 'Unreachable']]);
    this.sync();
  }

  // ------------------------------------------------------------------------------------------------------
  // Outgoing requests: Via / Contact / SDP
  // ------------------------------------------------------------------------------------------------------

  /** An INVITE from `endpoint` to its first contact (or `to`), as it leaves Asterisk. undefined: no transport. */
  outgoingInvite(endpoint: string, to?: string): OutgoingRequest | undefined {
    const e = this.endpoints.get(endpoint);
    if (e === undefined) return undefined;
    const dst = to ?? hostOf([...this.contacts.values()].find((c) => e.aors.includes(c.aor))?.uri ?? '');
    const base = this.filterTx(e.transport, dst);
    if (base === undefined) return undefined;
    const own = e.transport === undefined ? undefined : this.transports.get(e.transport);
    const rtpBind = e.bindRtpToMediaAddress && e.mediaAddress !== undefined ? e.mediaAddress : (own?.bind.host ?? '0.0.0.0');
    const hostIp = this.o.hostIp ?? '127.0.0.1';
    let c = e.mediaAddress ?? hostIp;
    // multihomed_rewrite_sdp: only a `c=` that is the host address is rewritten to the address the message goes out on.
    if (c === hostIp) c = base.retAddr;
    return { source: base.source, via: `${base.retAddr}:${base.retPort}`, contact: `${base.retAddr}:${base.retPort}`, sdpConnection: c, rtpBind };
  }

  /** A REGISTER of registration `name`: its Contact as it leaves Asterisk. */
  outgoingRegister(name: string): OutgoingRequest | undefined {
    const r = this.registrations.find((x) => x.name === name);
    if (r === undefined) return undefined;
    const base = this.filterTx(r.transport, hostOf(r.serverUri));
    return base === undefined ? undefined : { source: base.source, via: `${base.retAddr}:${base.retPort}`, contact: `${base.retAddr}:${base.retPort}` };
  }

  private filterTx(transportName: string | undefined, dst: string): { source: string; retAddr: string; retPort: number } | undefined {
    const own = transportName === undefined ? [...this.transports.values()][0] : this.transports.get(transportName);
    if (own === undefined) return undefined;
    const kernelSource = (this.o.sourceAddressFor ?? ((h: string) => this.defaultSource(h)))(dst);
    let chosen = own;
    let retAddr = kernelSource;
    if (retAddr !== own.bind.host) {
      // get_udp_transport(ret_addr, port of the transport in use): a UDP transport bound to that address and port.
      const other = [...this.transports.values()].find((t) => t.bind.family === own.bind.family && t.bind.host === retAddr && t.bind.port === own.bind.port);
      if (other !== undefined) chosen = other;
      if (!chosen.bind.any) retAddr = chosen.bind.host;
    } else retAddr = own.bind.host;
    // pjsip_transport_send() already holds the transport it sends on: the packet leaves from the endpoint's own socket.
    return { source: own.bind.any ? kernelSource : own.bind.host, retAddr, retPort: own.bind.port };
  }

  // ------------------------------------------------------------------------------------------------------
  // Dial, channels, AMI actions
  // ------------------------------------------------------------------------------------------------------

  /** For the FastAGI peer's `onDialAsync`: what Dial does with `PJSIP/<number>@<endpoint>` targets. */
  async dial(req: DialRequest): Promise<DialOutcome> {
    const target = req.targets[0] ?? '';
    const m = /^PJSIP\/(?:[^@]+@)?([^/@]+)$/.exec(target);
    const endpoint = m === null ? undefined : this.endpoints.get(m[1]!);
    if (endpoint === undefined) {
      this.log.push(`WARNING chan_pjsip.c: Unable to create PJSIP channel - endpoint '${m?.[1] ?? target}' was not found`);
      return this.unavailable();
    }
    if (endpoint.transport !== undefined && !this.transports.has(endpoint.transport)) {
      this.log.push(`ERROR res_pjsip.c: Unable to retrieve PJSIP transport '${endpoint.transport}'`);
      return this.unavailable();
    }
    // ast_sip_session_create_outgoing: contacts filtered to the reachable ones (not Unreachable).
    const contact = [...this.contacts.values()].find((c) => endpoint.aors.includes(c.aor) && c.status !== 'Unreachable');
    if (contact === undefined) {
      this.log.push(`ERROR res_pjsip.c: Endpoint '${endpoint.name}': Could not create dialog to invalid URI '${endpoint.aors.join(',')}'.  Is endpoint registered and reachable?`);
      return this.unavailable();
    }
    const channel: SimChannel = {
      name: `PJSIP/${endpoint.name}-${(this.channelSeq++).toString(16).padStart(8, '0')}`,
      uniqueid: `1796600000.${this.channelSeq}`,
      state: 0,
      application: 'AppDial',
      applicationData: '(Outgoing Line)',
      context: 'fedpbx-from-sites',
      exten: 's',
      createdAt: Date.now(),
    };
    this.channels.push(channel);
    const started = performance.now();
    try {
      const outcome = await new Promise<DialOutcome>((resolve) => {
        const timers: NodeJS.Timeout[] = [];
        const done = (o: DialOutcome): void => {
          for (const t of timers) clearTimeout(t);
          resolve(o);
        };
        channel.hangup = (cause) => done({ status: CAUSE_TO_DIALSTATUS(cause) });
        if (this.dead.has(hostOf(contact.uri))) {
          // No provisional response ever: the INVITE transaction ends at timer B (RFC 3261 17.1.1.2), 408 -> nochan.
          timers.push(setTimeout(() => {
            this.log.push('VERBOSE app_dial.c: Everyone is busy/congested at this time (1:0/0/1)');
            done({ status: 'CHANUNAVAIL' });
          }, 64 * this.t1Ms));
          return;
        }
        const far = this.o.farEnd?.(req, endpoint.name) ?? { status: 'ANSWER', ringMs: 50, talkMs: 50 };
        channel.state = 5;
        timers.push(setTimeout(() => {
          if (far.status === 'ANSWER') channel.state = 6;
          done({ ...far, ringMs: 0 });
        }, far.ringMs ?? 0));
      });
      this.dialDurationsMs.push(performance.now() - started);
      return outcome;
    } finally {
      this.channels.splice(this.channels.indexOf(channel), 1);
    }
  }

  /** How long each Dial through the sim took (ms), in order. */
  readonly dialDurationsMs: number[] = [];

  private unavailable(): DialOutcome {
    this.log.push('VERBOSE app_dial.c: Everyone is busy/congested at this time (1:0/0/1)');
    return { status: 'CHANUNAVAIL' };
  }

  private showEndpoint(ctx: ActionContext): void {
    const name = (ctx.request.get('Endpoint') ?? '').replace(/^pjsip\//i, '');
    const e = this.endpoints.get(name);
    if (e === undefined) {
      ctx.respond('Error', [['Message', `Unable to retrieve endpoint ${name}`]]);
      return;
    }
    const id = ctx.actionId === undefined ? [] : [['ActionID', ctx.actionId] as const];
    ctx.respond('Success', [['EventList', 'start'], ['Message', 'Following are Events for each object associated with the Endpoint']]);
    ctx.write(formatMessage([['Event', 'EndpointDetail'], ...id, ['ObjectType', 'endpoint'], ['ObjectName', e.name], ['Transport', e.transport ?? ''], ['Aors', e.aors.join(',')], ['DeviceState', e.online ? 'Not in use' : 'Unavailable']]));
    let count = 1;
    // Formatters in registration order: aor, auth, transport, identify, contact status (res_pjsip.c).
    for (const aor of e.aors) {
      ctx.write(formatMessage([['Event', 'AorDetail'], ...id, ['ObjectType', 'aor'], ['ObjectName', aor], ['EndpointName', e.name]]));
      count += 1;
    }
    if (e.transport !== undefined) {
      const t = this.transports.get(e.transport);
      if (t === undefined) {
        // config_transport.c format_ami_endpoint_transport: an error inside the list, then app's own error, then Complete.
        ctx.respond('Error', [['Message', `Unable to retrieve transport ${e.transport}`]]);
        ctx.respond('Error', [['Message', `Unable to format endpoint ${e.name}`]]);
        ctx.write(formatMessage([['Event', 'EndpointDetailComplete'], ...id, ['EventList', 'Complete'], ['ListItems', String(count + 1)]]));
        return;
      }
      const bind = t.bind.family === 6 ? `[${t.bind.host}]:${t.bind.port}` : `${t.bind.host}:${t.bind.port}`;
      ctx.write(formatMessage([['Event', 'TransportDetail'], ...id, ['ObjectType', 'transport'], ['ObjectName', t.name], ['Protocol', 'udp'], ['Bind', bind], ['EndpointName', e.name]]));
      count += 1;
    }
    for (const c of [...this.contacts.values()].filter((x) => e.aors.includes(x.aor))) {
      ctx.write(formatMessage([['Event', 'ContactStatusDetail'], ...id, ['AOR', c.aor], ['URI', c.uri], ['Status', c.status === 'Created' ? 'NonQualified' : c.status], ['RoundtripUsec', c.status === 'Reachable' ? String(c.rttUsec ?? 0) : 'N/A'], ['EndpointName', e.name]]));
      count += 1;
    }
    ctx.write(formatMessage([['Event', 'EndpointDetailComplete'], ...id, ['EventList', 'Complete'], ['ListItems', String(count + 1)]]));
  }

  private showChannels(ctx: ActionContext): void {
    const id = ctx.actionId === undefined ? [] : [['ActionID', ctx.actionId] as const];
    ctx.respond('Success', [['EventList', 'start'], ['Message', 'Channels will follow']]);
    const desc = { 0: 'Down', 4: 'Ring', 5: 'Ringing', 6: 'Up' } as const;
    for (const c of this.channels) {
      const secs = Math.floor((Date.now() - c.createdAt) / 1000);
      ctx.write(
        formatMessage([
          ['Event', 'CoreShowChannel'], ...id,
          ['Channel', c.name], ['ChannelState', String(c.state)], ['ChannelStateDesc', desc[c.state]],
          ['CallerIDNum', '<unknown>'], ['CallerIDName', '<unknown>'], ['ConnectedLineNum', '<unknown>'], ['ConnectedLineName', '<unknown>'],
          ['Language', 'en'], ['AccountCode', ''], ['Context', c.context], ['Exten', c.exten], ['Priority', '1'],
          ['Uniqueid', c.uniqueid], ['Linkedid', c.uniqueid],
          ['Application', c.application], ['ApplicationData', c.applicationData],
          ['Duration', `00:00:${String(secs).padStart(2, '0')}`], ['BridgeId', ''],
        ]),
      );
    }
    ctx.write(formatMessage([['Event', 'CoreShowChannelsComplete'], ...id, ['EventList', 'Complete'], ['ListItems', String(this.channels.length)]]));
  }

  private hangupAction(ctx: ActionContext): void {
    const name = ctx.request.get('Channel') ?? '';
    if (name === '') {
      ctx.respond('Error', [['Message', 'No channel specified']]);
      return;
    }
    const c = this.channels.find((x) => x.name === name);
    if (c === undefined) {
      ctx.respond('Error', [['Message', 'No such channel']]);
      return;
    }
    const cause = Number(ctx.request.get('Cause') ?? '16');
    ctx.respond('Success', [['Message', 'Channel Hungup']]);
    c.hangup?.(Number.isInteger(cause) && cause > 0 ? cause : 16);
  }

  /**
   * `ip route get <host>` on a box whose interfaces are the transports' addresses: every 127/8 destination is reached
   * from 127.0.0.1 (lo's primary address); another host from the transport address on its /24 (e.g. the WireGuard
   * interface's for a peer's tunnel address), else the host's main address.
   */
  private defaultSource(host: string): string {
    if (host.startsWith('127.')) return '127.0.0.1';
    const local = [...this.transports.values()].find((t) => !t.bind.any && t.bind.family === 4 && sameSubnet24(t.bind.host, host));
    return local?.bind.host ?? this.o.hostIp ?? '127.0.0.1';
  }

  /** A channel the sim did not make (e.g. a call arriving from a site, state Ring), listed by CoreShowChannels. */
  addChannel(c: Omit<SimChannel, 'createdAt'>): SimChannel {
    const ch = { ...c, createdAt: Date.now() };
    this.channels.push(ch);
    return ch;
  }
}

function sameSubnet24(a: string, b: string): boolean {
  return a.split('.').slice(0, 3).join('.') === b.split('.').slice(0, 3).join('.');
}

function hostOf(uri: string): string {
  const m = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>]+)/.exec(uri);
  return m === null ? '' : m[1]!.replace(/^\[|\]$/g, '');
}


