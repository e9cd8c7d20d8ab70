import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Subjects, type AgentEventEnvelope, type LiveEvent } from '@fedpbx/contracts';
import { jetstream, jetstreamManager, type Consumer, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { AgentPresenceWatch } from '../live/agent-presence.js';
import { LiveHub } from '../live/live-hub.js';
import { NatsBus } from '../nats/nats-bus.js';
import { RolloutRepository } from '../rollout/rollout.repository.js';
import { decodeCdrBatch, decodeEvent, type Decoded, type RejectReason } from './event-decoder.js';
import { groupEvents, type EventBatch } from './event-batch.js';
import { EventStore } from './event-store.js';
import { CDRS_CONSUMER, ensureCdrsStream, ensureEventsStream, INGEST_CONSUMER, type EventsStreamSettings } from './events-stream.js';

/** Messages taken per transaction at most: big enough for >= 5,000 CDR/s, small enough to commit well within ack_wait. */
const MAX_BATCH = 2000;
/** CDR batch messages taken per statement at most (each up to CDR_BATCH_MAX_CDRS CDRs; an agent sends up to 256). */
const MAX_CDR_BATCHES = 16;
/**
 * How long a batch that is not full waits for more messages before it is stored (ms): events trickling in one at a
 * time (CDRs of calls ending at 50/s) then share a transaction and its commit's WAL flush instead of paying one each
 * (bench:cdr-trickle: controller CPU per CDR). A backlog fills MAX_BATCH and is stored at once.
 */
const BATCH_LINGER_MS = 200;
/** Redelivery delay of a batch the database refused for a passing reason (down, failover). */
const RETRY_DELAY_MS = 2000;

export interface IngestStats {
  /** Transactions committed. */
  batches: number;
  /** CDRs stored, and CDRs that were already stored (a redelivery or a re-publish with a new msg-id). */
  cdrsStored: number;
  cdrsDuplicate: number;
  /** Status and rollout events stored (older ones are stored as no-ops). */
  statusEvents: number;
  /** Refused and terminated. */
  malformed: number;
  spoofed: number;
  /** A valid event the database cannot hold (terminated after it failed alone). */
  unstorable: number;
  /** Acknowledged without storing: the site does not exist (deleted, or never created here). */
  unknownSite: number;
  /** Batches the database refused and that were handed back for redelivery. */
  retried: number;
  /** Times the pulls heard nothing for two heartbeats (the consumer's leader moved: a cluster node died) and were made again. */
  heartbeatsMissed: number;
}

/** What a stored batch changed: the rows of known sites, and what was dropped for an unknown site. */
interface StoredBatch {
  readonly batch: EventBatch;
  readonly cdrs: number;
  readonly cdrsInserted: number;
  readonly others: number;
  readonly unknown: Set<string>;
  readonly dropped: number;
}

interface Accepted {
  readonly delivery: Delivery;
  readonly envelope: AgentEventEnvelope;
}

/**
 * A JetStream message and its events (one, or a batch's CDRs), settled together: acknowledged once every event in
 * it is stored (or dropped for good), handed back for redelivery as soon as one cannot be stored now (those already
 * stored are then duplicates the CDR unique key drops).
 */
class Delivery {
  private left: number;
  private settled = false;

  constructor(
    readonly msg: JsMsg,
    private readonly parts: number,
  ) {
    this.left = parts;
  }

  stored(): void {
    this.left -= 1;
    if (this.left === 0 && !this.settled) {
      this.settled = true;
      this.msg.ack();
    }
  }

  /** The event can never be stored: a message of its own is terminated; in a batch it only stops holding the ack. */
  dropped(): void {
    if (this.parts > 1) return this.stored();
    this.settled = true;
    this.msg.term();
  }

  retry(delayMs: number): void {
    if (this.settled) return;
    this.settled = true;
    this.msg.nak(delayMs);
  }
}

/** What a message holds: the events it carries that passed their checks, and those refused (with why). */
interface Unpacked {
  readonly envelopes: readonly AgentEventEnvelope[];
  readonly refused: readonly Extract<Decoded, { ok: false }>[];
}

/** A stream the ingest consumes, with the durable consumer all controller replicas share. */
interface IngestStream {
  readonly stream: string;
  readonly consumer: string;
  readonly ensure: (jsm: JetStreamManager, s: EventsStreamSettings) => Promise<void>;
  /** Messages stored together (one statement or transaction) at most. */
  readonly perBatch: number;
  readonly unpack: (msg: JsMsg) => Unpacked;
}

const EVENTS: IngestStream = {
  stream: Subjects.EVENTS_STREAM,
  consumer: INGEST_CONSUMER,
  ensure: ensureEventsStream,
  perBatch: MAX_BATCH,
  unpack: (msg) => {
    const d = decodeEvent(msg.subject, msg.data);
    return d.ok ? { envelopes: [d.envelope], refused: [] } : { envelopes: [], refused: [d] };
  },
};

/** CDR batches (issue #21 §4): a bad CDR in one is refused alone, the others are stored. */
const CDRS: IngestStream = {
  stream: Subjects.CDRS_STREAM,
  consumer: CDRS_CONSUMER,
  ensure: ensureCdrsStream,
  perBatch: MAX_CDR_BATCHES,
  unpack: (msg) => {
    const d = decodeCdrBatch(msg.subject, msg.data);
    return d.ok ? d : { envelopes: [], refused: [d] };
  },
};

/** A PostgreSQL error caused by the data (class 22 data exception, 23 integrity violation), not by the server being away. */
const isDataError = (e: unknown): boolean => {
  const code = (e as { code?: unknown; driverError?: { code?: unknown } }).driverError?.code ?? (e as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
};

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Events back from agents, exactly once: the durable pull consumers of `FEDPBX_EVENTS` and `FEDPBX_CDRS` (CDR
 * batches) hand over batches; each
 * batch is checked (malformed and spoofed messages are terminated, never block the stream), stored in ONE
 * PostgreSQL transaction, and acknowledged only after the commit. A crash between commit and ack redelivers
 * the batch, and the idempotent writes (CDR unique key, newest-wins status) store it once. Survives NATS
 * outages (the consumer resumes, and is re-created after a reconnect to a server that lost it) and controller
 * restarts (the consumer is durable).
 */
@Injectable()
export class EventIngestService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly stats: IngestStats = { batches: 0, cdrsStored: 0, cdrsDuplicate: 0, statusEvents: 0, malformed: 0, spoofed: 0, unstorable: 0, unknownSite: 0, retried: 0, heartbeatsMissed: 0 };
  private readonly stop = new AbortController();
  private readonly messages = new Set<ConsumerMessages>();
  private running: Promise<void> | undefined;
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'ingest' });

  constructor(
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(NatsBus) private readonly bus: NatsBus,
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(RolloutRepository) private readonly rollout: RolloutRepository,
    @Inject(LiveHub) private readonly live: LiveHub,
    @Inject(AgentPresenceWatch) private readonly presence: AgentPresenceWatch,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.bus.enabled) return;
    // After a reconnect the server may be a new one without the stream or consumer: start over, which re-ensures them.
    this.bus.onReconnect(() => {
      for (const m of this.messages) void m.close();
    });
    this.running = Promise.all([this.run(EVENTS), this.run(CDRS)]).then(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stop.abort();
    await Promise.all([...this.messages].map((m) => m.close()));
    await this.running;
  }

  private async run(from: IngestStream): Promise<void> {
    const nc = await Promise.race([this.bus.connection(), new Promise<undefined>((r) => this.stop.signal.addEventListener('abort', () => r(undefined)))]);
    if (nc === undefined) return;
    let failures = 0;
    while (!this.stop.signal.aborted) {
      try {
        await from.ensure(await jetstreamManager(nc), {
          duplicateWindowSec: this.config.FEDPBX_EVENTS_DUPLICATE_WINDOW_SEC,
          maxAgeSec: this.config.FEDPBX_EVENTS_MAX_AGE_SEC,
          ackWaitSec: this.config.FEDPBX_EVENTS_ACK_WAIT_SEC,
          replicas: this.bus.replicas,
        });
        const consumer = await jetstream(nc).consumers.get(from.stream, from.consumer);
        failures = 0;
        await this.consume(consumer, from);
      } catch (error) {
        if (this.stop.signal.aborted) break;
        failures += 1;
        this.log.warn({ stream: from.stream, err: error instanceof Error ? error.message : String(error) }, 'event ingest interrupted; retrying');
      }
      await sleep(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)), this.stop.signal);
    }
  }

  /**
   * Pulls continuously into a buffer and handles whatever is buffered (up to MAX_BATCH) as one batch, so a
   * backlog drains in full batches and a lone event is stored at once. The consumer pulls ahead while a batch
   * commits; the server holds back beyond the consumer's max_ack_pending. When the consumer closes after a
   * reconnect, what it already buffered is still stored and acknowledged; at shutdown it is left for redelivery.
   */
  private async consume(consumer: Consumer, from: IngestStream): Promise<void> {
    const buffer: JsMsg[] = [];
    let wake: (() => void) | undefined;
    // The pulls' heartbeat: when the consumer's leader dies with its cluster node, the pulls waiting there are lost
    // and nothing else says so. The client pulls again after two missed heartbeats - 30-45 s with its defaults, a
    // few seconds with these (a pull must outlast two heartbeats: expires is three, and at least 5 s).
    const heartbeatMs = this.config.FEDPBX_INGEST_HEARTBEAT_MS;
    const messages = await consumer.consume({
      max_messages: Math.max(64, from.perBatch),
      idle_heartbeat: heartbeatMs,
      expires: Math.max(5000, 3 * heartbeatMs),
      callback: (msg) => (buffer.push(msg), wake?.()),
    });
    this.messages.add(messages);
    void this.followStatus(messages, heartbeatMs, from);
    let open = !this.stop.signal.aborted;
    if (!open) await messages.close();
    void messages.closed().then(() => ((open = false), this.messages.delete(messages), wake?.()));
    this.log.info({ stream: from.stream, consumer: from.consumer }, 'ingesting agent events');
    // Checking the next batch (CPU here) overlaps the previous batch's commit (work in PostgreSQL); commits
    // still run one after another, in stream order.
    let storing: Promise<void> = Promise.resolve();
    while (!this.stop.signal.aborted) {
      if (buffer.length === 0) {
        if (!open) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        // The first message after a quiet spell: let the ones right behind it join its batch.
        if (buffer.length < from.perBatch && open) await sleep(BATCH_LINGER_MS, this.stop.signal);
        continue;
      }
      const accepted = this.check(buffer.splice(0, from.perBatch), from);
      await storing;
      storing = this.save(accepted);
    }
    await storing;
  }

  /** Says (and counts) when the pulls went unheard and were made again; the client re-pulls on its own. */
  private async followStatus(messages: ConsumerMessages, heartbeatMs: number, from: IngestStream): Promise<void> {
    for await (const s of messages.status()) {
      if (s.type !== 'heartbeats_missed') continue;
      this.stats.heartbeatsMissed += 1;
      this.log.warn({ stream: from.stream, consumer: from.consumer, heartbeatMs, missed: s.count }, 'event ingest heard no heartbeat from its consumer; pulling again');
    }
  }

  /**
   * Decodes a batch; malformed and spoofed events are counted and never stored. A message with nothing storable is
   * terminated (never redelivered). A CDR batch's refused CDRs are logged as an error (the agent sent something its
   * controller cannot take: a version skew or a tampered agent), whether or not the batch's other CDRs are stored;
   * the refused ones stay in the agent's outbox file, which keeps every CDR it made.
   */
  private check(batch: readonly JsMsg[], from: IngestStream): Accepted[] {
    const accepted: Accepted[] = [];
    const rejected = new Map<RejectReason, { count: number; example: string }>();
    const inBatches: { site: string | undefined; reason: RejectReason; detail: string }[] = [];
    for (const msg of batch) {
      const { envelopes, refused } = from.unpack(msg);
      for (const d of refused) {
        this.stats[d.reason] += 1;
        const r = rejected.get(d.reason);
        if (r === undefined) rejected.set(d.reason, { count: 1, example: `${msg.subject}: ${d.detail}` });
        else r.count += 1;
        if (from === CDRS) inBatches.push({ site: d.subjectSite, reason: d.reason, detail: d.detail });
      }
      if (envelopes.length === 0) {
        msg.term();
        continue;
      }
      const delivery = new Delivery(msg, envelopes.length);
      for (const envelope of envelopes) accepted.push({ delivery, envelope });
    }
    for (const [reason, r] of rejected) this.log.warn({ stream: from.stream, reason, count: r.count, example: r.example }, `refused ${reason} agent events`);
    if (inBatches.length > 0) {
      this.log.error({ refused: inBatches.slice(0, 10), count: inBatches.length }, 'CDRs refused inside batches (any others in them are stored); they stay in the agent\'s outbox');
    }
    return accepted;
  }

  /** Stores and acknowledges checked events. Never throws: what cannot be stored now is redelivered. */
  private async save(accepted: readonly Accepted[]): Promise<void> {
    if (accepted.length === 0) return;
    try {
      await this.commit(accepted);
      for (const a of accepted) a.delivery.stored();
    } catch (error) {
      if (isDataError(error) && accepted.length > 1) return this.handleOneByOne(accepted);
      if (isDataError(error)) return this.terminateUnstorable(accepted[0] as Accepted, error);
      this.retryLater(accepted, error);
      await sleep(RETRY_DELAY_MS, this.stop.signal);
    }
  }

  /** A batch with a row the database refuses: store the others, terminate that one. */
  private async handleOneByOne(accepted: readonly Accepted[]): Promise<void> {
    for (const [i, a] of accepted.entries()) {
      try {
        await this.commit([a]);
        a.delivery.stored();
      } catch (error) {
        if (!isDataError(error)) {
          this.retryLater(accepted.slice(i), error);
          return;
        }
        this.terminateUnstorable(a, error);
      }
    }
  }

  /** After the commit: what changed for the consoles (a redelivered batch of CDRs already stored is no news). */
  private tellConsoles(batch: EventBatch, newCdrs: boolean): void {
    const sites = (rows: readonly { site_id: string }[]): string[] => [...new Set(rows.map((r) => r.site_id))];
    const events: LiveEvent[] = [];
    if (newCdrs) events.push({ topic: 'cdrs', siteIds: sites(batch.cdrs) });
    if (batch.links.length + batch.trunks.length > 0) events.push({ topic: 'health', siteIds: sites([...batch.links, ...batch.trunks]) });
    const rollout = [...new Set([...batch.snapshots, ...batch.configs].map((s) => s.siteId))];
    if (rollout.length > 0) events.push({ topic: 'rollout', siteIds: rollout });
    this.live.emit(events);
    this.presence.heartbeats(batch.heartbeats);
  }

  private terminateUnstorable(a: Accepted, error: unknown): void {
    a.delivery.dropped();
    this.stats.unstorable += 1;
    this.log.error({ site: a.envelope.siteId, id: a.envelope.id, type: a.envelope.event.type, err: error instanceof Error ? error.message : String(error) }, 'agent event refused by the database; dropped');
  }

  private retryLater(accepted: readonly Accepted[], error: unknown): void {
    for (const a of accepted) a.delivery.retry(RETRY_DELAY_MS);
    this.stats.retried += 1;
    this.log.warn({ events: accepted.length, err: error instanceof Error ? error.message : String(error) }, 'could not store agent events; NATS redelivers them');
  }

  /**
   * Stores a batch at once: drop unknown sites, write every table, record rollout outcomes. A batch of CDRs alone
   * (calls ending one at a time: nearly every batch) is one statement; any other batch one transaction.
   */
  private async commit(accepted: readonly Accepted[]): Promise<void> {
    const outcome = accepted.every((a) => a.envelope.event.type === 'cdr') ? await this.storeCdrs(accepted) : await this.storeInTransaction(accepted);
    this.tellConsoles(outcome.batch, outcome.cdrsInserted > 0);
    this.stats.batches += 1;
    this.stats.cdrsStored += outcome.cdrsInserted;
    this.stats.cdrsDuplicate += outcome.cdrs - outcome.cdrsInserted;
    this.stats.statusEvents += outcome.others;
    this.stats.unknownSite += outcome.dropped;
    if (outcome.unknown.size > 0) this.log.warn({ sites: [...outcome.unknown], events: outcome.dropped }, 'events of unknown sites acknowledged and dropped');
  }

  /**
   * CDRs only: one self-committing statement checks the sites and inserts (`insertCdrsOfKnownSites`), instead of
   * BEGIN, a site query, the insert and COMMIT - four round trips per batch (a quarter of the controller's CPU at
   * 50 CDRs/s in bench:cdr-trickle). Exactly once as before: the unique key drops a CDR stored already, and the
   * caller acknowledges only after the statement (and so its commit) returned.
   */
  private async storeCdrs(accepted: readonly Accepted[]): Promise<StoredBatch> {
    const batch = groupEvents(accepted.map((a) => a.envelope));
    const { known, cdrsInserted } = await this.store.insertCdrsOfKnownSites(this.ds.manager, batch.cdrs);
    const cdrs = batch.cdrs.filter((r) => known.has(r.site_id));
    const unknown = new Set(batch.cdrs.filter((r) => !known.has(r.site_id)).map((r) => r.site_id));
    return { batch: { ...batch, cdrs }, cdrs: cdrs.length, cdrsInserted, others: 0, unknown, dropped: batch.cdrs.length - cdrs.length };
  }

  private async storeInTransaction(accepted: readonly Accepted[]): Promise<StoredBatch> {
    return this.ds.transaction(async (m) => {
      const known = await this.store.knownSites(m, [...new Set(accepted.map((a) => a.envelope.siteId))]);
      const envelopes: AgentEventEnvelope[] = [];
      const unknown = new Set<string>();
      for (const a of accepted) {
        if (known.has(a.envelope.siteId)) envelopes.push(a.envelope);
        else unknown.add(a.envelope.siteId);
      }
      const batch = groupEvents(envelopes);
      const { cdrsInserted } = await this.store.write(m, batch);
      await this.rollout.recordAppliedMany(m, batch.snapshots.filter((s) => s.refusedReason === undefined));
      for (const s of batch.snapshots) if (s.refusedReason !== undefined) await this.rollout.recordRefused(m, s.siteId, s.revision, s.refusedReason, s.at);
      for (const c of batch.configs) await this.rollout.recordConfig(m, c);
      return { batch, cdrs: batch.cdrs.length, cdrsInserted, others: envelopes.length - batch.cdrs.length, unknown, dropped: accepted.length - envelopes.length };
    });
  }
}
