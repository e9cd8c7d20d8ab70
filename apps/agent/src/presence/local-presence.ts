/**
 * The owner's side of busy lamps across sites: the device states of this site's phones, as Asterisk reports them,
 * become presence events on NATS for the extensions the site shares.
 *
 * - In: AMI `DeviceStateChange` (main/devicestate.c devstate_to_ami: `Device: PJSIP/<endpoint>`, `State`), raised
 *   for every aggregate device state change - not only for devices with a hint, unlike `ExtensionStatus`, so it works
 *   before any hint exists. At every AMI (re)connect `DeviceStateList` (res/res_manager_devicestate.c) reads the
 *   cached state of every device; a device Asterisk does not list is UNAVAILABLE.
 * - Out: `fedpbx.presence.<site>.changes` - core NATS, no JetStream write per lamp change. At most one batch per
 *   `coalesceMs`: a change after a quiet spell (no batch in the last `coalesceMs`) goes out at once - with whatever
 *   else changed in the same turn of the event loop - and the changes that follow wait until `coalesceMs` after that
 *   batch (a later state of an extension replaces an earlier one). A PresenceBatch carries a sequence number per run
 *   (`epoch`), so that a receiver sees a loss as a gap. After every (re)connect to the bus or to
 *   Asterisk the full state goes out (`full: true`), and `fedpbx.presence.<site>.state` answers it on request.
 *
 * - Only while watched: a site that watches this one asks for its full state when it starts watching, when the owner
 *   restarted (a full batch of a new epoch), after any outage, and every `recheckMs` (RemoteLamps, 30 s) - so the
 *   owner knows it is watched, without the snapshot having to say by whom. Changes go out only while some state
 *   request came in the last `watcherTimeoutMs` (95 s: three periodic requests and a margin); a site nobody watches
 *   publishes none of its phones' changes (at 50 calls a second that was a NATS message per call, for no one). The
 *   full state still goes out at every bus and AMI (re)connect (a restarted owner's sign), and a request is always
 *   answered with it.
 *
 * Like res_pjsip_publish_asterisk (PUBLISH of device state to a peer Asterisk, whose states stay as last published
 * when the publisher goes away) the owner only publishes; unlike it, a receiver can always ask for the whole state,
 * and decides itself when an owner it cannot reach shows UNAVAILABLE (see RemoteLamps).
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Subjects, type DeviceState, type PresenceBatch } from '@fedpbx/contracts';
import { phoneDevice, type ExtensionTable } from '@fedpbx/dialplan';
import type { ConfigInForce } from '../state/routing-state.js';
import type { Logger } from '../logger.js';
import type { AmiEvent } from '../ami/ami-client.js';
import { LampRights, type LampAlarms } from './lamp-rights.js';
import { sharedDeviceState, type PresenceAmi, type PresenceBus } from './presence-ports.js';

export interface LocalPresenceOptions {
  readonly siteId: string;
  readonly ami: PresenceAmi;
  readonly bus: PresenceBus;
  readonly log: Logger;
  /** The shortest time between two batches: changes made meanwhile are gathered into the next. Default 25 ms. */
  readonly coalesceMs?: number;
  /** The site's alarm board: DeviceStateList refused for the AMI user's classes raises one alarm (lamp-rights.ts). */
  readonly alarms?: LampAlarms;
  /**
   * How long after the last state request this site still counts as watched (changes published). Default
   * {@link WATCHER_TIMEOUT_MS}; must exceed every watcher's `recheckMs`.
   */
  readonly watcherTimeoutMs?: number;
  /** Observer of every batch published (benchmarks, tests). */
  readonly onPublish?: (batch: PresenceBatch) => void;
}

const encoder = new TextEncoder();

/**
 * Three of RemoteLamps' default periodic requests (30 s) and a margin: a watcher that is still there has asked at
 * least twice more by then, so one lost request does not stop its lamps.
 */
export const WATCHER_TIMEOUT_MS = 95_000;

export class LocalPresence {
  /** Run id: a restarted agent's sequence starts again at 0 under a new epoch. */
  private readonly epoch = randomBytes(6).toString('hex');
  private seq = 0;
  /** Device -> extension numbers it shows (shared extensions only). */
  private numbersByDevice = new Map<string, string[]>();
  /** The last state of every device Asterisk told us of. */
  private readonly deviceStates = new Map<string, DeviceState>();
  /** Shared extension -> its state now. */
  private readonly states = new Map<string, DeviceState>();
  private readonly pending = new Map<string, DeviceState>();
  private firstPendingAt: number | undefined;
  /** performance.now() when the last batch went out (changes or full). */
  private lastSentAt = Number.NEGATIVE_INFINITY;
  /** performance.now() until which some site counts as watching (its last state request + watcherTimeoutMs). */
  private watchedUntil = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private nc: NatsConnection | undefined;
  private stateSub: Subscription | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;

  private readonly rights: LampRights;

  constructor(private readonly opts: LocalPresenceOptions) {
    this.rights = new LampRights(opts.alarms);
  }

  start(): void {
    const { ami, bus } = this.opts;
    this.unsubscribe.push(ami.onEvent((e) => this.onAmiEvent(e)));
    this.unsubscribe.push(ami.onConnected(() => void this.readAll()));
    bus.onConnected((nc) => this.onBusUp(nc));
    bus.onDisconnected(() => undefined);
    if (ami.connected) void this.readAll();
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stateSub?.unsubscribe();
  }

  /**
   * The extensions the site shares, from the snapshot in force: `extensions` is its compiled table (the site's own
   * extensions: a head office's are never objects on the event loop). A change of the set sends the full state.
   */
  configure(config: Pick<ConfigInForce, 'site'>, extensions: Pick<ExtensionTable, 'forEachExtension'>): void {
    const presence = config.site.presence;
    const share = presence?.share ?? 'all';
    const listed = new Set(presence?.sharedNumbers ?? []);
    const next = new Map<string, string[]>();
    if (share !== 'none') {
      extensions.forEachExtension((number, endpoint) => {
        if (share === 'listed' && !listed.has(number)) return;
        const device = phoneDevice({ number, endpoint });
        next.set(device, [...(next.get(device) ?? []), number]);
      });
    }
    this.numbersByDevice = next;
    const before = new Map(this.states);
    this.states.clear();
    for (const [device, numbers] of next) for (const n of numbers) this.states.set(n, this.deviceStates.get(device) ?? 'UNAVAILABLE');
    const same = before.size === this.states.size && [...this.states].every(([n, s]) => before.get(n) === s);
    if (!same && this.watched) this.publishFull();
  }

  /** Some site asked for this site's state within the last `watcherTimeoutMs`: changes are published. */
  get watched(): boolean {
    return performance.now() < this.watchedUntil;
  }

  /** The full state now (what a state request is answered with). */
  fullState(): Record<string, DeviceState> {
    return Object.fromEntries(this.states);
  }

  private onAmiEvent(event: AmiEvent): void {
    if (event.event !== 'DeviceStateChange' || event.actionId !== undefined) return;
    this.deviceChanged(event.headers.get('Device') ?? '', event.headers.get('State'));
  }

  private deviceChanged(device: string, asteriskState: string | undefined): void {
    // Custom:fedpbx-* are the lamps this agent sets for other sites: never shared back.
    if (!device.startsWith('PJSIP/')) return;
    const state = sharedDeviceState(asteriskState);
    this.deviceStates.set(device, state);
    const numbers = this.numbersByDevice.get(device);
    if (numbers === undefined) return;
    // Unwatched, the state is only kept (a state request is answered with it): no batch, no timer.
    const watched = this.watched;
    for (const n of numbers) {
      if (this.states.get(n) === state) continue;
      this.states.set(n, state);
      if (watched) this.pending.set(n, state);
    }
    if (this.pending.size > 0 && this.timer === undefined) {
      this.firstPendingAt = Date.now();
      this.timer = setTimeout(() => this.flush(), this.sendDelay());
    }
  }

  /**
   * How long a first pending change waits: nothing after a quiet spell - the timer still lets the rest of this turn's
   * AMI events join it - else until `coalesceMs` after the last batch. A fixed window made every change wait for it
   * (on average half of it, most of the lamps' latency at a few changes a second), while under load batches go out
   * once per window as before.
   */
  private sendDelay(): number {
    const since = performance.now() - this.lastSentAt;
    return Math.max(0, (this.opts.coalesceMs ?? 25) - since);
  }

  /** Every device state Asterisk has cached, at each AMI (re)connect; then the full state goes out. */
  private async readAll(): Promise<void> {
    try {
      const list = await this.opts.ami.listAction('DeviceStateList');
      this.rights.allowed();
      const seen = new Set<string>();
      for (const item of list.items) {
        const device = item.headers.get('Device') ?? '';
        seen.add(device);
        this.deviceChanged(device, item.headers.get('State'));
      }
      for (const device of this.numbersByDevice.keys()) if (!seen.has(device)) this.deviceChanged(device, 'UNAVAILABLE');
      this.flush();
      this.publishFull();
    } catch (err) {
      if (!this.stopped && !this.rights.refused('DeviceStateList', err)) this.opts.log.warn({ err }, 'DeviceStateList failed; lamps follow live events until the next AMI connect');
    }
  }

  private onBusUp(nc: NatsConnection): void {
    if (this.stopped) return;
    if (this.nc !== nc) {
      this.nc = nc;
      // The client re-subscribes by itself after a reconnect: one subscription per connection object.
      this.stateSub = nc.subscribe(Subjects.presenceState(this.opts.siteId), {
        callback: (err, msg) => {
          if (err !== null) return;
          this.watchedUntil = performance.now() + (this.opts.watcherTimeoutMs ?? WATCHER_TIMEOUT_MS);
          msg.respond(encoder.encode(JSON.stringify(this.batch(true, this.seq, Object.fromEntries(this.states)))));
        },
      });
    }
    // Whatever changed while the bus was away: the whole state, to every watcher at once.
    this.pending.clear();
    this.publishFull();
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const states = Object.fromEntries(this.pending);
    const firstChangeAt = this.firstPendingAt;
    this.pending.clear();
    this.firstPendingAt = undefined;
    // Off the bus nothing is queued: the full state goes out at the reconnect. Nobody watching any more: no one to tell.
    if (!this.opts.bus.connected || this.nc === undefined || !this.watched) return;
    this.send(this.batch(false, ++this.seq, states, firstChangeAt));
  }

  private publishFull(): void {
    if (!this.opts.bus.connected || this.nc === undefined || this.stopped) return;
    this.send(this.batch(true, ++this.seq, Object.fromEntries(this.states)));
  }

  private batch(full: boolean, seq: number, states: Record<string, DeviceState>, firstChangeAt?: number): PresenceBatch {
    return { siteId: this.opts.siteId, epoch: this.epoch, seq, full, states, ...(firstChangeAt !== undefined ? { firstChangeAt } : {}) };
  }

  private send(batch: PresenceBatch): void {
    this.lastSentAt = performance.now();
    try {
      this.nc?.publish(Subjects.presenceChanges(this.opts.siteId), encoder.encode(JSON.stringify(batch)));
      this.opts.onPublish?.(batch);
    } catch (err) {
      this.opts.log.warn({ err }, 'presence batch not published');
    }
  }
}
