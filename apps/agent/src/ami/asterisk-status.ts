/**
 * Link and trunk health from Asterisk, fed into route resolution at once (RoutingState.setLink/setTrunk) and
 * reported as LinkStatusEvent / TrunkStatusEvent; CDRs from `Event: Cdr`.
 *
 * Names (libs/dialplan render/names.ts): the link to site P is endpoint/aor/registration `site-P`; a PSTN trunk
 * named T is endpoint/aor/registration `trunk-T` (its id comes from the snapshot in force).
 *
 * On every (re)connect: PJSIPShowEndpoints (DeviceState `Unavailable` = every contact unreachable),
 * PJSIPShowContacts (only dynamic contacts - registrar side of a registration link; static ones are not listed),
 * PJSIPShowRegistrationsOutbound (status of our registrations, and the client/server URIs that let a later
 * `Registry` event - which names no registration - be tied to one). Then live:
 * - `ContactStatus` (AOR, URI, ContactStatus Reachable|Unreachable|NonQualified|Created|Removed|Unknown, RoundtripUsec)
 * - `PeerStatus` (Peer: PJSIP/<endpoint>, PeerStatus Reachable|Unreachable)
 * - `Registry` (Username = client_uri, Domain = server_uri, Status Registered|Unregistered|Rejected|Failed)
 * A link or trunk is down as soon as one of its signals says so (contacts, registration, WireGuard handshake via
 * {@link AsteriskStatus.setLinkSignal}), unknown while a signal is unknown, and up when every known signal says up.
 * While AMI is down nothing is changed: the last known health stays in force (calls keep routing; a dead link still
 * fails over per attempt).
 *
 * Only evidence of failure makes a link down: a contact whose qualify went unanswered (Unreachable), a registration
 * Rejected/Failed, an endpoint or transport Asterisk does not have. A state Asterisk has not established yet is
 * `unknown`, and an unknown link is tried (routing treats it as up): right after Asterisk starts, persistent endpoints
 * are OFFLINE (DeviceState `Unavailable`, PeerStatus) until their first qualify (pjsip_configuration.c,
 * pjsip_options.c), and a mode switch removes the static contact and makes a new one that is not qualified yet -
 * observed on 22.10.1 as 2-25 s of `FEDPBX_DENY=all-routes-down` for a link that worked. Trying costs nothing where
 * Asterisk knows better: a Dial to an endpoint without a reachable contact fails at once (res_pjsip_session.c
 * ast_sip_session_create_outgoing filters AST_SIP_CONTACT_FILTER_REACHABLE).
 *
 * When a link goes down, `onLinkDown` runs (the agent hangs up the unanswered outgoing legs towards it, so that
 * Dials waiting for an INVITE that will never be answered return at once instead of after timer B).
 */
import type { CdrEvent, HealthState } from '@fedpbx/contracts';
import type { z } from 'zod';
import type { LinkStatusEvent, TrunkStatusEvent } from '@fedpbx/contracts';
import { siteEndpointName, trunkEndpointName } from '@fedpbx/dialplan';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { ConfigInForce, RoutingState } from '../state/routing-state.js';
import { isEmptyListError, type AmiClient, type AmiEvent } from './ami-client.js';
import { mapCdr } from './cdr-mapper.js';

export type LinkStatus = z.infer<typeof LinkStatusEvent>;
export type TrunkStatus = z.infer<typeof TrunkStatusEvent>;
type Signal = 'up' | 'down' | 'unknown';
/** Cdr events mapped per turn of the event loop. */
const CDR_SLICE = 50;
type RegistrationStatus = NonNullable<TrunkStatus['registration']>;
type ReportedState = LinkStatus['state'];

/** The part of AmiClient this module uses (a fake in unit tests). */
export type AmiStatusSource = Pick<AmiClient, 'listAction' | 'onEvent' | 'onConnected' | 'connected'>;

export interface AsteriskStatusOptions {
  readonly ami: AmiStatusSource;
  readonly state: RoutingState;
  readonly log: Logger;
  readonly metrics?: AgentMetrics;
  /** A link changed state (or its round-trip time was first measured): for the sync layer. */
  readonly onLinkStatus?: (event: LinkStatus) => void;
  readonly onTrunkStatus?: (event: TrunkStatus) => void;
  /** A link went down (not at a first reading of an unknown link: only a transition from up or unknown). */
  readonly onLinkDown?: (peerSiteId: string) => void;
  /**
   * After each full read: the first fedpbx endpoint whose transport Asterisk does not have (PJSIPShowEndpoint answers
   * `Unable to retrieve transport <name>`), or undefined when none was seen (for the agent's transport alarm).
   */
  readonly onTransportCheck?: (missing: { readonly endpoint: string; readonly message: string } | undefined) => void;
  /** One per Cdr event (call leg); order relative to Hangup is not relied on. */
  readonly onCdr?: (event: CdrEvent) => void;
}

interface Target {
  readonly kind: 'link' | 'trunk';
  /** Peer site id or trunk id. */
  readonly id: string;
}

interface Health {
  readonly signals: Map<string, Signal>;
  /** Contact URI -> signal, for the `contacts` signal. */
  readonly contacts: Map<string, Signal>;
  reported: ReportedState | undefined;
  rttMs: number | undefined;
  registration: RegistrationStatus | undefined;
}

export class AsteriskStatus {
  private readonly health = new Map<string, Health>(); // key `${kind}:${id}`
  /** `${client_uri} ${server_uri}` -> registration name, from PJSIPShowRegistrationsOutbound. */
  private registrations = new Map<string, string>();
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly cdrQueue: AmiEvent[] = [];
  private cdrScheduled = false;

  constructor(private readonly opts: AsteriskStatusOptions) {}

  start(): void {
    this.unsubscribe.push(
      this.opts.ami.onEvent((e) => this.onEvent(e)),
      this.opts.ami.onConnected(() => void this.resync()),
    );
    if (this.opts.ami.connected) void this.resync();
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Current view, for status reports: `link:<site>` / `trunk:<id>` -> state. */
  get states(): ReadonlyMap<string, ReportedState | undefined> {
    return new Map([...this.health].map(([k, h]) => [k, h.reported]));
  }

  /**
   * Re-reads endpoints, contacts and registrations (after a connect, or after a reload changed the objects).
   * Concurrent calls coalesce into one more run. Never rejects: failures are logged, health is left as it was.
   */
  resync(): Promise<void> {
    if (this.syncing !== undefined) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        try {
          await this.readAll();
        } catch (error) {
          this.opts.log.warn({ err: error }, 'AMI status sync failed; keeping the last known link/trunk health');
        }
      } while (this.syncAgain && this.opts.ami.connected);
    })().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /** Another source's view of a link (e.g. `wireguard` from handshake ages); `undefined` withdraws it. */
  setLinkSignal(source: string, peerSiteId: string, signal: Signal | undefined): void {
    const h = this.entry({ kind: 'link', id: peerSiteId });
    if (signal === undefined) h.signals.delete(source);
    else h.signals.set(source, signal);
    this.publish({ kind: 'link', id: peerSiteId }, h);
  }

  // ------------------------------------------------------------------------------------------------------

  private async readAll(): Promise<void> {
    const { ami } = this.opts;
    // AMI is one ordered stream: an event that arrives after a list completed is newer than that list, and the
    // list must not overwrite it (the lists are applied only once all three are in).
    this.transportMissing = undefined;
    const endpoints = await ami.listAction('PJSIPShowEndpoints');
    const endpointsAt = this.eventSeq;
    const unavailable: { target: Target; name: string }[] = [];
    const contacts = await ami.listAction('PJSIPShowContacts').then((r) => r.items, (e: unknown) => (isEmptyListError(e) ? [] : Promise.reject(e)));
    const contactsAt = this.eventSeq;
    const registrations = await ami.listAction('PJSIPShowRegistrationsOutbound');
    const registrationsAt = this.eventSeq;
    const newer = (target: Target, at: number): boolean => (this.lastEventAt.get(keyOf(target)) ?? 0) > at;

    const config = this.config();
    const seen = new Set<string>();
    for (const item of endpoints.items) {
      if (item.event !== 'EndpointList') continue;
      const name = item.headers.get('ObjectName') ?? '';
      const target = this.targetOf(name, config);
      if (target === undefined) continue;
      seen.add(keyOf(target));
      if (newer(target, endpointsAt)) continue;
      const device = (item.headers.get('DeviceState') ?? '').trim();
      const h = this.entry(target);
      h.contacts.clear();
      // Unavailable = no aor with an available contact: unqualified as yet, none registered, or all Unreachable.
      // Which one, only the contacts' own statuses say (PJSIPShowEndpoint, below).
      if (device === 'Unavailable') unavailable.push({ target, name });
      else if (device === 'Unknown' || device === 'Invalid' || device === '') h.signals.delete('contacts');
      else h.signals.set('contacts', 'up');
    }
    for (const { target, name } of unavailable) {
      const signal = await this.endpointContacts(target, name);
      if (!newer(target, endpointsAt)) this.entry(target).signals.set('contacts', signal);
    }
    for (const item of contacts) {
      if (item.event !== 'ContactList') continue;
      const target = this.targetOf(item.headers.get('Endpoint') ?? '', config);
      const signal = contactSignal(item.headers.get('Status'));
      if (target === undefined || signal === undefined || newer(target, contactsAt)) continue;
      const h = this.entry(target);
      h.contacts.set(item.headers.get('Uri') ?? '', signal);
      h.signals.set('contacts', aggregate(h.contacts));
      h.rttMs = rtt(item.headers.get('RoundtripUsec')) ?? h.rttMs;
    }
    const uris = new Map<string, string>();
    for (const item of registrations.items) {
      if (item.event !== 'OutboundRegistrationDetail') continue; // AuthDetail carries a clear-text password: never kept
      const name = item.headers.get('ObjectName') ?? '';
      uris.set(`${item.headers.get('ClientUri') ?? ''} ${item.headers.get('ServerUri') ?? ''}`, name);
      const target = this.targetOf(name, config);
      if (target !== undefined && !newer(target, registrationsAt)) this.registration(target, registrationStatus(item.headers.get('Status')));
    }
    this.registrations = uris;

    // A link or trunk of the snapshot whose endpoint Asterisk does not have cannot carry calls.
    for (const target of this.expected(config)) {
      if (seen.has(keyOf(target))) continue;
      const h = this.entry(target);
      if (h.signals.get('contacts') !== 'down') {
        this.opts.log.warn({ endpoint: this.endpointOf(target, config) }, 'endpoint not loaded in Asterisk (is pjsip_fedpbx.conf included and reloaded?)');
      }
      h.signals.set('contacts', 'down');
    }
    for (const [key, h] of this.health) this.publish(parseKey(key), h);
    this.opts.onTransportCheck?.(this.transportMissing);
  }

  private transportMissing: { readonly endpoint: string; readonly message: string } | undefined;

  /**
   * The `contacts` signal of an endpoint Asterisk shows as Unavailable, from its contacts' own statuses
   * (PJSIPShowEndpoint's ContactStatusDetail lists static contacts too, which PJSIPShowContacts does not). An
   * endpoint whose transport Asterisk could not start answers `Unable to retrieve transport <name>`: down.
   */
  private async endpointContacts(target: Target, name: string): Promise<Signal> {
    const h = this.entry(target);
    let items: readonly AmiEvent[];
    try {
      items = (await this.opts.ami.listAction('PJSIPShowEndpoint', { Endpoint: name })).items;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/Unable to retrieve transport/.test(message)) {
        this.opts.log.warn({ endpoint: name, reason: message }, 'endpoint without its transport in Asterisk: it cannot carry calls');
        this.transportMissing ??= { endpoint: name, message: message.replace(/^PJSIPShowEndpoint failed: /, '') };
        return 'down';
      }
      throw error;
    }
    for (const item of items) {
      if (item.event !== 'ContactStatusDetail') continue;
      const signal = contactSignal(item.headers.get('Status'));
      if (signal !== undefined) h.contacts.set(item.headers.get('URI') ?? '', signal);
    }
    return aggregate(h.contacts);
  }

  /** Status events are numbered so that a list read in flight cannot overwrite a newer event. */
  private eventSeq = 0;
  private readonly lastEventAt = new Map<string, number>();

  private noteEvent(target: Target): void {
    this.eventSeq += 1;
    this.lastEventAt.set(keyOf(target), this.eventSeq);
  }

  private onEvent(event: AmiEvent): void {
    switch (event.event) {
      case 'ContactStatus':
        return this.onContactStatus(event);
      case 'PeerStatus':
        return this.onPeerStatus(event);
      case 'Registry':
        return this.onRegistry(event);
      case 'Cdr':
        return this.onCdr(event);
      default:
        return;
    }
  }

  private onContactStatus(event: AmiEvent): void {
    const config = this.config();
    const target = this.targetOf(event.headers.get('AOR') ?? event.headers.get('EndpointName') ?? '', config);
    if (target === undefined) return;
    const status = event.headers.get('ContactStatus');
    const signal = contactSignal(status);
    const h = this.entry(target);
    const uri = event.headers.get('URI') ?? '';
    if (signal === undefined || status === 'Removed') h.contacts.delete(uri);
    else h.contacts.set(uri, signal);
    this.noteEvent(target);
    // The last contact removed (a mode switch, a registrant that un-registered): unknown, not down - a Dial with no
    // contact fails at once, and a new contact is on its way in a mode switch.
    if (signal !== undefined || status === 'Removed') h.signals.set('contacts', aggregate(h.contacts));
    const measured = rtt(event.headers.get('RoundtripUsec'));
    if (measured !== undefined && measured > 0) h.rttMs = measured;
    this.publish(target, h);
  }

  private onPeerStatus(event: AmiEvent): void {
    const peer = event.headers.get('Peer') ?? '';
    if (!peer.startsWith('PJSIP/')) return;
    const target = this.targetOf(peer.slice('PJSIP/'.length), this.config());
    const status = event.headers.get('PeerStatus');
    if (target === undefined || (status !== 'Reachable' && status !== 'Unreachable')) return;
    // Unreachable = the endpoint went OFFLINE: also when its last contact was removed (a mode switch). The contacts'
    // own ContactStatus events say whether a qualify failed; PeerStatus only confirms Reachable.
    if (status !== 'Reachable') return;
    const h = this.entry(target);
    this.noteEvent(target);
    h.signals.set('contacts', 'up');
    this.publish(target, h);
  }

  private onRegistry(event: AmiEvent): void {
    if ((event.headers.get('ChannelType') ?? 'PJSIP') !== 'PJSIP') return;
    const key = `${event.headers.get('Username') ?? ''} ${event.headers.get('Domain') ?? ''}`;
    const name = this.registrations.get(key);
    if (name === undefined) {
      // A registration we have not listed yet (added by the last reload): read them again.
      void this.resync();
      return;
    }
    const target = this.targetOf(name, this.config());
    if (target === undefined) return;
    this.noteEvent(target);
    this.registration(target, registrationStatus(event.headers.get('Status')));
    this.publish(target, this.entry(target));
  }

  /**
   * Cdr events are mapped (schema-checked) {@link CDR_SLICE} at a time with the event loop turning in between: after
   * a busy second Asterisk sends many in one write, and mapping them all at once held FastAGI calls up (1,000 took
   * 0.3-0.9 s on a loaded 2-core machine, enough for the event-loop watchdog). Order is kept.
   */
  private onCdr(event: AmiEvent): void {
    this.cdrQueue.push(event);
    if (this.cdrScheduled) return;
    this.cdrScheduled = true;
    setImmediate(() => this.mapCdrs());
  }

  private mapCdrs(): void {
    for (const event of this.cdrQueue.splice(0, CDR_SLICE)) {
      const result = mapCdr(event.headers);
      if (!result.ok) {
        this.opts.log.error({ reason: result.reason }, 'Cdr event not usable');
        continue;
      }
      this.opts.onCdr?.(result.cdr);
    }
    if (this.cdrQueue.length > 0) setImmediate(() => this.mapCdrs());
    else this.cdrScheduled = false;
  }

  private registration(target: Target, status: RegistrationStatus | undefined): void {
    const h = this.entry(target);
    h.registration = status;
    if (status === undefined) h.signals.delete('registration');
    // Unregistered is where a registration starts (and is again after a reload or mode switch): not yet, not failed.
    else h.signals.set('registration', status === 'Registered' ? 'up' : status === 'Unregistered' ? 'unknown' : 'down');
  }

  private publish(target: Target, h: Health): void {
    const values = [...h.signals.values()];
    const state: ReportedState = values.includes('down') ? 'down' : values.includes('unknown') || values.length === 0 ? 'unknown' : 'up';
    // A first view that knows nothing yet says nothing (absent = tried); later, unknown is reported like any state.
    if (state === h.reported || (state === 'unknown' && h.reported === undefined)) return;
    const before = h.reported;
    h.reported = state;
    const { state: routing, metrics, log } = this.opts;
    // Routing knows up and down; unknown is tried, i.e. routed as up.
    const routed: HealthState = state === 'down' ? 'down' : 'up';
    if (target.kind === 'link') {
      routing.setLink(target.id, routed);
      if (state === 'unknown') metrics?.linkUp.remove({ peer_site: target.id });
      else metrics?.linkUp.set({ peer_site: target.id }, state === 'up' ? 1 : 0);
      log.info({ peerSite: target.id, state, signals: Object.fromEntries(h.signals) }, 'inter-site link health changed');
      this.opts.onLinkStatus?.({ type: 'link.status', peerSiteId: target.id, state, source: 'ami', ...(h.rttMs === undefined ? {} : { rttMs: h.rttMs }) });
      if (state === 'down' && before !== undefined) this.opts.onLinkDown?.(target.id);
    } else {
      routing.setTrunk(target.id, routed);
      if (state === 'unknown') metrics?.trunkUp.remove({ trunk: target.id });
      else metrics?.trunkUp.set({ trunk: target.id }, state === 'up' ? 1 : 0);
      log.info({ trunk: target.id, state, signals: Object.fromEntries(h.signals) }, 'trunk health changed');
      this.opts.onTrunkStatus?.({ type: 'trunk.status', trunkId: target.id, state, ...(h.registration === undefined ? {} : { registration: h.registration }) });
    }
  }

  private entry(target: Target): Health {
    const key = keyOf(target);
    let h = this.health.get(key);
    if (h === undefined) {
      h = { signals: new Map(), contacts: new Map(), reported: undefined, rttMs: undefined, registration: undefined };
      this.health.set(key, h);
    }
    return h;
  }

  private config(): ConfigInForce | undefined {
    return this.opts.state.snapshot?.config;
  }

  /** `site-P` of a link of this site, or `trunk-T` of one of its own trunks; anything else is the admin's. */
  private targetOf(name: string, config: ConfigInForce | undefined): Target | undefined {
    if (config === undefined) return undefined;
    const self = config.site.id;
    if (name.startsWith('site-')) {
      const peer = name.slice('site-'.length);
      const linked = config.links.some((l) => (l.a === self && l.b === peer) || (l.b === self && l.a === peer));
      return linked ? { kind: 'link', id: peer } : undefined;
    }
    if (name.startsWith('trunk-')) {
      const trunk = config.trunks.find((t) => t.siteId === self && trunkEndpointName(t.name) === name);
      return trunk === undefined ? undefined : { kind: 'trunk', id: trunk.id };
    }
    return undefined;
  }

  private expected(config: ConfigInForce | undefined): Target[] {
    if (config === undefined) return [];
    const self = config.site.id;
    return [
      ...config.links.filter((l) => l.a === self || l.b === self).map((l): Target => ({ kind: 'link', id: l.a === self ? l.b : l.a })),
      ...config.trunks.filter((t) => t.siteId === self).map((t): Target => ({ kind: 'trunk', id: t.id })),
    ];
  }

  private endpointOf(target: Target, config: ConfigInForce | undefined): string {
    if (target.kind === 'link') return siteEndpointName(target.id);
    const trunk = config?.trunks.find((t) => t.id === target.id);
    return trunk === undefined ? target.id : trunkEndpointName(trunk.name);
  }
}

function keyOf(t: Target): string {
  return `${t.kind}:${t.id}`;
}

function parseKey(key: string): Target {
  const i = key.indexOf(':');
  return { kind: key.slice(0, i) as Target['kind'], id: key.slice(i + 1) };
}

/**
 * res_pjsip contact states (pjsip_options.c): Reachable = a qualify was answered; Unreachable = one was not (the only
 * evidence of a dead link); Created/NonQualified = not qualified (yet); Unknown. Removed drops the contact.
 */
const CONTACT_SIGNAL: Readonly<Record<string, Signal>> = {
  Reachable: 'up',
  NonQualified: 'unknown',
  Created: 'unknown',
  Unknown: 'unknown',
  Unreachable: 'down',
};

function contactSignal(status: string | undefined): Signal | undefined {
  return status !== undefined && Object.hasOwn(CONTACT_SIGNAL, status) ? CONTACT_SIGNAL[status] : undefined;
}

/** Dial takes any contact that is not Unreachable: up if one answered, down only if every one failed; none = unknown. */
function aggregate(contacts: ReadonlyMap<string, Signal>): Signal {
  const values = [...contacts.values()];
  return values.includes('up') ? 'up' : values.includes('unknown') || values.length === 0 ? 'unknown' : 'down';
}

/** Registry events say Registered/Unregistered/Rejected/Failed; OutboundRegistrationDetail also NotRegistered. */
function registrationStatus(status: string | undefined): RegistrationStatus | undefined {
  if (status === 'Registered' || status === 'Unregistered' || status === 'Rejected' || status === 'Failed') return status;
  return status === 'NotRegistered' ? 'Unregistered' : undefined;
}

function rtt(usec: string | undefined): number | undefined {
  const n = Number(usec);
  return usec === undefined || usec === 'N/A' || !Number.isFinite(n) || n < 0 ? undefined : Math.round(n / 10) / 100;
}
