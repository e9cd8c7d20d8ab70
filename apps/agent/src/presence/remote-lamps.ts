/**
 * The watcher's side of busy lamps across sites: other sites' presence events become the `Custom:fedpbx-<site>-<n>`
 * device states the hints of extensions_fedpbx.conf (`fedpbx-hints`) watch.
 *
 * - Writes: AMI `Setvar` of `DEVICE_STATE(Custom:fedpbx-<site>-<n>)` (funcs/func_devstate.c devstate_write: stored
 *   in AstDB, so it survives an Asterisk restart, and announced as a cachable state change that res_pjsip_exten_state
 *   sends to the subscribed phones; the `DeviceStateChange` and the hint's `ExtensionStatus` it raises are filtered out
 *   in Asterisk: OWN_LAMP_ECHO, OWN_LAMP_HINTS).
 *   Writes are coalesced per device (only the latest state of a lamp waits), those of one tick go out in one socket
 *   write (ami-stream.ts), at most `maxInFlight` outstanding. What Asterisk shows is
 *   read at every AMI connect (DeviceStateList lists the Custom: states too, AstDB's after a restart) and then kept
 *   as written, so a resync or a reconnect writes only what differs.
 * - Before a site's first state answer its lamps are left as Asterisk shows them - at most `requestTimeoutMs` once
 *   the bus is up, `startGraceMs` while the agent's first bus connect is under way: writing UNAVAILABLE first would
 *   double every write at start and flash every lamp. A lamp left from before (AstDB) may be stale meanwhile; a site
 *   that cannot be reached (bus lost, link down, the owner not answering) is written UNAVAILABLE at once.
 * - Reads: `fedpbx.presence.<site>.changes` of each watched site (the snapshot's remotePresence; nats-auth lets a site
 *   subscribe to those sites only). A batch whose sequence does not follow the last one (a lost message, a restarted
 *   owner) makes the lamps of that site ask for the full state, `fedpbx.presence.<site>.state` (request/reply,
 *   answered by the owner); batches arriving meanwhile wait and are applied after the answer when newer.
 * - Being watched: the owner publishes changes only while some site asked for its state in the last 95 s
 *   (LocalPresence `watcherTimeoutMs`), so every way of learning the state goes through a request - the periodic
 *   ones, and one on a full batch of a new epoch (a restarted owner knows no watchers).
 * - Peer gone. res_corosync drops the device states of a node that leaves the cluster, res_xmpp keeps the last
 *   published state until the buddy's presence says otherwise, res_pjsip_publish_asterisk keeps them until the next
 *   PUBLISH: only the first shows a dead peer as gone. Here a site's lamps show UNAVAILABLE as soon as either the link
 *   that reaches it (direct, or the hub's) is down - link health from qualify, the same signal that reroutes calls -
 *   or this agent's bus is down, or the owner does not answer a state request (it is off the bus). Each recovery asks
 *   the owner for the whole state, and the owner sends it whenever it comes back itself. A periodic state request
 *   (`recheckMs`, one site after the other over the period) catches an owner that left the bus while this agent did
 *   not notice.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { DEVICE_STATES, readPresenceBatch, Subjects, type DeviceState, type PresenceBatch } from '@fedpbx/contracts';
import type { ConfigInForce } from '../state/routing-state.js';
import { remotePresenceDevice } from '@fedpbx/dialplan';
import type { AmiEventFilter } from '../ami/ami-filter.js';
import type { Logger } from '../logger.js';
import { LampRights, type LampAlarms } from './lamp-rights.js';
import type { PresenceAmi, PresenceBus } from './presence-ports.js';

export interface RemoteLampsOptions {
  readonly siteId: string;
  readonly ami: PresenceAmi;
  readonly bus: PresenceBus;
  readonly log: Logger;
  /** Most Setvar actions outstanding at once (pipelined on the one AMI session). Default 2,000. */
  readonly maxInFlight?: number;
  /** A state request this old without an answer counts as failed. Default 2 s. */
  readonly requestTimeoutMs?: number;
  /** Every this many ms each watched site's full state is asked for again, the sites spread over it (0: never). Default 30 s. */
  readonly recheckMs?: number;
  /** Lamps are left as shown this long for the agent's first bus connect; then UNAVAILABLE. Default 10 s. */
  readonly startGraceMs?: number;
  /** Observer of every Setvar sent (benchmarks, tests). */
  readonly onWrite?: (device: string, state: DeviceState) => void;
  /** Observer of every change batch received from a watched site, before it is applied (benchmarks, tests). */
  readonly onBatch?: (batch: PresenceBatch) => void;
  /** The site's alarm board: writes refused for the AMI user's classes raise one alarm (lamp-rights.ts). */
  readonly alarms?: LampAlarms;
}

type LinkState = 'up' | 'down' | 'unknown';

interface WatchedSite {
  readonly siteId: string;
  /** The numbers shown here -> their lamp's device (`Custom:fedpbx-<site>-<n>`, made once, not per write). */
  numbers: Map<string, string>;
  /** The owner's latest states as received (also while the lamps show UNAVAILABLE). */
  readonly known: Map<string, DeviceState>;
  epoch: string | undefined;
  seq: number;
  /** The full state was received since the last outage. */
  synced: boolean;
  /** The owner did not answer the last state request. */
  ownerGone: boolean;
  /** Batches that arrived while a state request was out. */
  waiting: PresenceBatch[] | undefined;
  sub: Subscription | undefined;
}

const decoder = new TextDecoder();
const LAMP_PREFIX = 'Custom:fedpbx-';

/**
 * Each lamp written comes back as a `DeviceStateChange` event (devicestate.c), which nothing here reads: LocalPresence
 * shares PJSIP devices only, and what Asterisk shows is read with DeviceStateList (list items pass any filter). At
 * thousands of writes a second that echo is half of the agent's AMI input; Asterisk drops it for this session.
 */
export const OWN_LAMP_ECHO: AmiEventFilter = {
  action: 'exclude',
  event: 'DeviceStateChange',
  header: 'Device',
  method: 'starts_with',
  pattern: LAMP_PREFIX,
  reason: 'busy lamps: the echo of our own DEVICE_STATE writes',
};

/**
 * The other echo: the hint on each lamp (`exten => 301,hint,Custom:fedpbx-piter-301`) changes its extension state, and
 * manager.c manager_state_cb raises `ExtensionStatus` (Exten, Context, Hint, Status, StatusText) for it. Nothing in
 * the agent reads ExtensionStatus; the phones' own hints (`Hint: PJSIP/...`) are left alone.
 */
export const OWN_LAMP_HINTS: AmiEventFilter = {
  action: 'exclude',
  event: 'ExtensionStatus',
  header: 'Hint',
  method: 'starts_with',
  pattern: LAMP_PREFIX,
  reason: 'busy lamps: the hint state changes of our own DEVICE_STATE writes',
};
const SHOWABLE = new Set<string>(DEVICE_STATES);

export class RemoteLamps {
  /**
   * Counters for status and benchmarks: state requests made, batches out of sequence, Setvar actions sent, batches
   * held back while their site's state request was out.
   */
  readonly stats = { resyncs: 0, gaps: 0, writes: 0, held: 0 };
  private readonly sites = new Map<string, WatchedSite>();
  /** What Asterisk shows now, as far as we wrote it: device -> state. */
  private readonly shown = new Map<string, DeviceState>();
  /** Writes waiting for a free slot: device -> latest state. */
  private readonly queue = new Map<string, DeviceState>();
  private inFlight = 0;
  /** DeviceStateList is being read after an AMI connect: writes wait for it. */
  private listing = false;
  private amiConnects = 0;
  private readonly links = new Map<string, LinkState>();
  private directPeers = new Set<string>();
  private hub: string | undefined;
  private nc: NatsConnection | undefined;
  private busUp = false;
  /** Until the first bus connect (or startGraceMs): no outage seen yet, lamps not yet answered are left alone. */
  private starting = true;
  private graceTimer: NodeJS.Timeout | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  /** Where the periodic state requests are in the round of watched sites (a Map iterator survives changes to it). */
  private recheckCursor: Iterator<WatchedSite> | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;

  private readonly rights: LampRights;

  constructor(private readonly opts: RemoteLampsOptions) {
    this.rights = new LampRights(opts.alarms);
  }

  start(): void {
    const { ami, bus } = this.opts;
    ami.addEventFilter(OWN_LAMP_ECHO);
    ami.addEventFilter(OWN_LAMP_HINTS);
    // Asterisk (re)connected: read what it shows (its own restart brings AstDB's states back), write what differs.
    this.unsubscribe.push(ami.onConnected(() => void this.readShown()));
    bus.onConnected((nc) => this.onBusUp(nc));
    bus.onDisconnected(() => this.onBusDown());
    if (!this.busUp) {
      this.graceTimer = setTimeout(() => this.endStart(), this.opts.startGraceMs ?? 10_000);
      this.graceTimer.unref();
    }
    if ((this.opts.recheckMs ?? 30_000) > 0) this.scheduleRecheck();
  }

  /**
   * The periodic state requests, one watched site per step, round robin, so each site is still asked every recheckMs.
   * All at once, a head office watching 199 sites asked 199 owners together and took 199 full states (~20,000 lamps
   * to parse and compare) in one go every 30 s: a stall that held up every lamp change arriving meanwhile.
   */
  private scheduleRecheck(): void {
    const period = this.opts.recheckMs ?? 30_000;
    this.recheckTimer = setTimeout(() => {
      if (this.stopped) return;
      let next = this.recheckCursor?.next();
      if (next === undefined || next.done === true) {
        this.recheckCursor = this.sites.values();
        next = this.recheckCursor.next();
      }
      if (next.done !== true && this.reachable(next.value)) void this.resync(next.value);
      this.scheduleRecheck();
    }, period / Math.max(1, this.sites.size));
    this.recheckTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    clearTimeout(this.recheckTimer);
    clearTimeout(this.graceTimer);
    for (const s of this.sites.values()) s.sub?.unsubscribe();
  }

  /** The lamps of the snapshot in force (remotePresence) and the links that reach their sites. */
  configure(config: ConfigInForce): void {
    const self = config.site.id;
    this.directPeers = new Set(config.links.flatMap((l) => (l.a === self ? [l.b] : l.b === self ? [l.a] : [])));
    this.hub = config.federation.hubSiteId;
    const wanted = new Map((config.remotePresence ?? []).map((r) => [r.siteId, new Map(r.numbers.map((n) => [n, remotePresenceDevice(r.siteId, n)]))]));
    for (const [siteId, site] of this.sites) {
      if (wanted.has(siteId)) continue;
      site.sub?.unsubscribe();
      this.sites.delete(siteId);
    }
    for (const [siteId, numbers] of wanted) {
      const existing = this.sites.get(siteId);
      if (existing !== undefined) {
        existing.numbers = numbers;
        this.render(existing);
        continue;
      }
      const site: WatchedSite = { siteId, numbers, known: new Map(), epoch: undefined, seq: 0, synced: false, ownerGone: false, waiting: undefined, sub: undefined };
      this.sites.set(siteId, site);
      this.subscribe(site);
      this.render(site);
      if (this.busUp) void this.resync(site);
    }
  }

  /** Link health towards a peer site (AsteriskStatus): down turns the lamps it carries UNAVAILABLE, up resyncs them. */
  setLink(peerSiteId: string, state: LinkState): void {
    const before = this.links.get(peerSiteId) ?? 'unknown';
    this.links.set(peerSiteId, state);
    if ((before === 'down') === (state === 'down')) return;
    for (const s of this.sites.values()) {
      if (this.viaOf(s.siteId) !== peerSiteId) continue;
      if (state === 'down') s.synced = false;
      this.render(s);
      if (state !== 'down' && this.busUp) void this.resync(s);
    }
  }

  /** Lamp writes not yet answered by Asterisk (queued or in flight). */
  get pendingWrites(): number {
    return this.queue.size + this.inFlight;
  }

  /** What the lamps of a site show now (tests, status). */
  shownState(siteId: string, number: string): DeviceState | undefined {
    return this.shown.get(remotePresenceDevice(siteId, number));
  }

  private async readShown(): Promise<void> {
    const connect = ++this.amiConnects;
    this.listing = true;
    this.shown.clear();
    try {
      const list = await this.opts.ami.listAction('DeviceStateList');
      this.rights.allowed();
      for (const item of list.items) {
        const device = item.headers.get('Device') ?? '';
        const state = item.headers.get('State') ?? '';
        if (device.startsWith(LAMP_PREFIX) && SHOWABLE.has(state)) this.shown.set(device, state as DeviceState);
      }
    } catch (err) {
      if (!this.stopped && !this.rights.refused('DeviceStateList', err)) this.opts.log.warn({ err }, 'DeviceStateList failed: every lamp is written again');
      this.shown.clear();
    }
    if (connect !== this.amiConnects || this.stopped) return;
    this.listing = false;
    this.queue.clear();
    for (const s of this.sites.values()) this.render(s);
  }

  private endStart(): void {
    clearTimeout(this.graceTimer);
    if (!this.starting) return;
    this.starting = false;
    for (const s of this.sites.values()) this.render(s);
  }

  private onBusUp(nc: NatsConnection): void {
    this.busUp = true;
    this.starting = false;
    clearTimeout(this.graceTimer);
    if (this.nc !== nc) {
      this.nc = nc;
      for (const s of this.sites.values()) s.sub = undefined;
    }
    // The client re-subscribes by itself after a reconnect; a subscription the server refused (credentials minted
    // before the site was watched, renewed since: CredsRenewer.coverPresence) is made again here.
    for (const s of this.sites.values()) {
      this.subscribe(s);
      void this.resync(s);
    }
  }

  private onBusDown(): void {
    this.busUp = false;
    this.starting = false;
    for (const s of this.sites.values()) {
      s.synced = false;
      this.render(s);
    }
  }

  private subscribe(site: WatchedSite): void {
    const nc = this.nc;
    if (nc === undefined || site.sub !== undefined) return;
    const sub: Subscription = nc.subscribe(Subjects.presenceChanges(site.siteId), {
      callback: (err, msg) => {
        if (err !== null) {
          this.opts.log.warn({ err: err.message, site: site.siteId }, 'presence subscription refused: its lamps show UNAVAILABLE until the credentials allow it');
          if (site.sub === sub) site.sub = undefined;
          return;
        }
        const batch = parseBatch(msg.data, site.siteId);
        if (batch === undefined) return;
        this.opts.onBatch?.(batch);
        this.onBatch(site, batch);
      },
    });
    site.sub = sub;
  }

  private onBatch(site: WatchedSite, batch: PresenceBatch): void {
    if (this.sites.get(site.siteId) !== site) return;
    if (site.waiting !== undefined) {
      this.stats.held += 1;
      site.waiting.push(batch);
      return;
    }
    if (batch.full) {
      const newRun = batch.epoch !== site.epoch;
      this.applyFull(site, batch);
      // A restarted owner (or one that never answered us) does not know this site watches it, and publishes its
      // changes only while watched (LocalPresence): asking for its state says so.
      if (newRun) void this.resync(site);
      return;
    }
    if (batch.epoch !== site.epoch || batch.seq !== site.seq + 1 || site.ownerGone) {
      // A gap (lost message) or an owner that restarted: what we hold may be wrong; ask for all of it. An owner that did
      // not answer its last state request (its lamps UNAVAILABLE) and now sends is back: asked now, not at the next
      // periodic request up to recheckMs later (a request timed out on a busy owner left its lamps dark that long).
      if (!site.ownerGone) this.stats.gaps += 1;
      this.applyStates(site, batch);
      site.epoch = batch.epoch;
      site.seq = batch.seq;
      void this.resync(site);
      return;
    }
    site.seq = batch.seq;
    this.applyStates(site, batch);
  }

  private applyFull(site: WatchedSite, batch: PresenceBatch): void {
    site.known.clear();
    site.epoch = batch.epoch;
    site.seq = batch.seq;
    site.ownerGone = false;
    site.synced = true;
    this.applyStates(site, batch);
  }

  private applyStates(site: WatchedSite, batch: PresenceBatch): void {
    const { states } = batch;
    for (const n in states) site.known.set(n, states[n]!);
    if (batch.full) {
      this.render(site);
      return;
    }
    const shows = this.showing(site);
    for (const n in states) this.renderLamp(site, n, shows);
  }

  /** Asks the owner for the whole state; batches arriving meanwhile are applied after it when newer. */
  private async resync(site: WatchedSite): Promise<void> {
    const nc = this.nc;
    if (nc === undefined || !this.busUp || site.waiting !== undefined || this.stopped) return;
    site.waiting = [];
    this.stats.resyncs += 1;
    let answer: PresenceBatch | undefined;
    try {
      const msg = await nc.request(Subjects.presenceState(site.siteId), undefined, { timeout: this.opts.requestTimeoutMs ?? 2000 });
      answer = parseBatch(msg.data, site.siteId);
    } catch (err) {
      // No responders: the owner is off the bus; a timeout: it or its path is stuck. Either way it cannot be shown.
      if (!site.ownerGone) this.opts.log.info({ site: site.siteId, err: err instanceof Error ? err.message : String(err) }, 'presence owner not answering: its lamps show UNAVAILABLE');
    }
    const waiting = site.waiting;
    site.waiting = undefined;
    if (this.sites.get(site.siteId) !== site) return;
    if (answer === undefined) {
      site.ownerGone = true;
      site.synced = false;
      this.render(site);
      return;
    }
    this.applyFull(site, answer);
    for (const b of waiting) {
      if (b.epoch === site.epoch && b.seq <= site.seq) continue;
      this.onBatch(site, b);
    }
  }

  private viaOf(siteId: string): string | undefined {
    if (this.directPeers.has(siteId)) return siteId;
    return this.hub !== undefined && this.directPeers.has(this.hub) ? this.hub : undefined;
  }

  private linkUp(site: WatchedSite): boolean {
    const via = this.viaOf(site.siteId);
    return via !== undefined && this.links.get(via) !== 'down';
  }

  private reachable(site: WatchedSite): boolean {
    return this.busUp && this.linkUp(site);
  }

  /** Writes what each lamp of the site should show now. */
  private render(site: WatchedSite): void {
    const shows = this.showing(site);
    for (const n of site.numbers.keys()) this.renderLamp(site, n, shows);
  }

  /**
   * What the site's lamps show now: `unavailable` (the site cannot be reached), `known` (the owner's states), or
   * `known-only` - never answered yet (start, a newly watched site): a lamp whose state is not known is left as shown
   * until the answer or its failure.
   */
  private showing(site: WatchedSite): 'unavailable' | 'known' | 'known-only' {
    if (!this.linkUp(site) || site.ownerGone || (!this.busUp && !this.starting)) return 'unavailable';
    return site.epoch === undefined ? 'known-only' : 'known';
  }

  /** Writes what one lamp of the site should show (a number the site does not show here is ignored). */
  private renderLamp(site: WatchedSite, n: string, shows: 'unavailable' | 'known' | 'known-only'): void {
    const device = site.numbers.get(n);
    if (device === undefined) return;
    if (shows === 'unavailable') {
      this.write(device, 'UNAVAILABLE');
      return;
    }
    const known = site.known.get(n);
    if (known === undefined && shows === 'known-only') return;
    this.write(device, known ?? 'UNAVAILABLE');
  }

  private write(device: string, state: DeviceState): void {
    if (this.shown.get(device) === state && !this.queue.has(device)) return;
    this.queue.set(device, state);
    this.pump();
  }

  private pump(): void {
    const max = this.opts.maxInFlight ?? 2000;
    if (!this.opts.ami.connected || this.listing) return; // what differs is written after the connect's DeviceStateList
    // One pass in order, deleting as it goes (allowed while iterating a Map); `entries().next()` after each delete
    // would walk every deleted slot at the head of the table again - quadratic in a resync of thousands of lamps.
    for (const [device, state] of this.queue) {
      if (this.inFlight >= max) break;
      this.queue.delete(device);
      if (this.shown.get(device) === state) continue;
      this.inFlight += 1;
      this.shown.set(device, state);
      this.stats.writes += 1;
      this.opts.onWrite?.(device, state);
      // No promise per lamp: one callback for every Setvar, the fields themselves say which lamp it was.
      const setvar: SetvarFields = { Variable: `DEVICE_STATE(${device})`, Value: state };
      this.opts.ami.post('Setvar', setvar, this.setvarDone, setvar);
    }
  }

  private readonly setvarDone = (err: Error | undefined, setvar: SetvarFields): void => {
    if (err === undefined) this.rights.allowed();
    else this.setvarFailed(err, setvar);
    this.inFlight -= 1;
    this.pump();
  };

  private setvarFailed(err: Error, setvar: SetvarFields): void {
    const device = setvar.Variable.slice('DEVICE_STATE('.length, -1);
    // Not known to be shown: the next change or resync writes it again.
    if (this.shown.get(device) === setvar.Value) this.shown.delete(device);
    // Refused for the user's classes: one alarm for all of them, not a warning per lamp.
    if (!this.stopped && !this.rights.refused('Setvar', err)) this.opts.log.warn({ err, device }, 'lamp not set');
  }
}

/** A type, not an interface: it must fit AmiFields' index signature. */
type SetvarFields = { readonly Variable: string; readonly Value: DeviceState };

/** A batch from the bus (any sender's bytes): checked by hand (readPresenceBatch), and only for the site it names. */
function parseBatch(data: Uint8Array, siteId: string): PresenceBatch | undefined {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  const batch = readPresenceBatch(value);
  return batch?.siteId === siteId ? batch : undefined;
}
