import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { PAIRED_FORMAT, pairedContentHash, signPairedSitePartHash, signSitePartHash, snapshotFormatOf, SizedMemberEncoder, SnapshotValueEncoder, SPLIT_SNAPSHOT_FORMAT, verifyPairedSitePartEnvelope, verifySitePartEnvelope, verifySnapshot } from '@fedpbx/signing';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { FederationStore, type FederationView } from '../federation/federation-store.js';
import { LiveHub } from '../live/live-hub.js';
import { NatsBus } from '../nats/nats-bus.js';
import { RolloutRepository } from '../rollout/rollout.repository.js';
import { ConfigBuckets } from './config-buckets.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { pairedSharedText, pairedSitePartText, sharedPartText, siteConfigText } from '../federation/site-config-hash.js';
import { SharedPartPublisher } from './shared-part-publisher.js';
import { SiteLanes } from './site-lanes.js';
import { invalidStoredValue, type InvalidValue } from './stored-value-check.js';
import { SnapshotSigningKey, type ControllerSigningKey } from './snapshot-signing-key.js';

/** What this process knows a site's bucket holds: the head revision it serves, its KV sequence, its paired part. */
interface Published {
  /** The site's head revision the bucket (with the shared bucket, in the paired format) brings to its agent. */
  readonly revision: number;
  readonly seq: number;
  /** The paired site part in the bucket: its hash and its own revision (older than `revision` after a plan-only write). */
  readonly part?: { readonly contentHash: string; readonly revision: number };
}

/**
 * A view's site ids, kept per `sites` array (a write that adds or removes no site hands the array on): every site's
 * sync asks whether its site still exists, and a search of the list each time made a plan-wide write O(sites²).
 */
const SITE_IDS = new WeakMap<FederationView['federation']['sites'], ReadonlySet<string>>();

function siteIdsOf(view: FederationView): ReadonlySet<string> {
  const sites = view.federation.sites;
  let ids = SITE_IDS.get(sites);
  if (ids === undefined) SITE_IDS.set(sites, (ids = new Set(sites.map((s) => s.id))));
  return ids;
}

/**
 * Sites published at once: enough to keep NATS and the database busy while the next snapshots are built, few
 * enough that a change to every site of a large federation does not hold every snapshot in memory together.
 */
const PUBLISHES_IN_FLIGHT = 32;

/** How long puts gather for one rollout statement: the rollout shows a put this much later at most. */
const RECORD_GATHER_MS = 50;

/**
 * Puts every site's signed snapshot into its KV bucket whenever its head revision is newer than what the bucket
 * holds: after each commit of this process, at start and after every NATS reconnect (reconcile). Runs beside
 * the API: a write never waits for NATS, and publishing retries with backoff while NATS is away. Only the
 * newest revision of a site is published (intermediate ones that were overtaken are skipped), and never over
 * a newer one. A deleted site's bucket is removed: its agent keeps serving the last snapshot it applied, and
 * the site's secrets do not stay on the bus.
 */
@Injectable()
export class SnapshotPublisher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private latest: FederationView | undefined;
  private stopped = false;
  /** Revision and KV sequence known to be in each site's bucket (a cache of the bucket; the bucket decides). */
  private readonly published = new Map<string, Published>();
  /** Publishing in the paired format (FEDPBX_SNAPSHOT_FORMAT=paired): site parts name no shared part. */
  private readonly paired: boolean;
  /**
   * The last commit of this process seen (paired format): its version, its shared content's hash without the site
   * list, and the version since which that content is in force - what a site part's `requiresShared` says.
   */
  private sharedSince: { version: number; baseHash: string; since: number } | undefined;
  /** Puts not yet in the rollout table, newest per site: written in batches beside the puts, not one by one. */
  private readonly unrecorded = new Map<string, { siteId: string; revision: number; contentHash: string; at: Date }>();
  private recording: Promise<void> | undefined;
  /** Compresses the parts sites share (and a site's unchanged ones) once, not in every site's value. */
  private readonly encoder = new SnapshotValueEncoder();
  private readonly lanes: SiteLanes;
  /** The shared part of format-2 snapshots, put once per revision before the site parts that name it. */
  private readonly shared: SharedPartPublisher;
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'snapshot-publisher' });

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly store: FederationStore,
    private readonly bus: NatsBus,
    private readonly buckets: ConfigBuckets,
    private readonly signing: SnapshotSigningKey,
    private readonly rollout: RolloutRepository,
    private readonly live: LiveHub,
    @Inject(CONTROLLER_CONFIG) config: Pick<ControllerConfig, 'FEDPBX_SNAPSHOT_FORMAT'>,
  ) {
    this.paired = config.FEDPBX_SNAPSHOT_FORMAT === 'paired';
    this.lanes = new SiteLanes(
      (siteId) => this.sync(siteId),
      (siteId, error, retryInMs) => this.log.warn({ siteId, err: error instanceof Error ? error.message : String(error), retryInMs }, 'snapshot not published yet'),
      undefined,
      PUBLISHES_IN_FLIGHT,
    );
    this.shared = new SharedPartPublisher(buckets, new SizedMemberEncoder(), this.log);
  }

  /** Publishing is on when NATS is configured (and with it the signing key). */
  get enabled(): boolean {
    return this.bus.enabled && this.signing.key !== undefined;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.store.onCommitted((view) => this.committed(view));
    this.bus.onReconnect(() => void this.reconcile());
    void this.bus.connection().then((nc) => {
      this.buckets.attach(nc, this.bus.replicas);
      return this.reconcile();
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.lanes.stop();
    await this.recording;
  }

  /** Resolves once every site's pending publish is done and recorded (tests). */
  async idle(): Promise<void> {
    await this.lanes.idle();
    while (this.recording !== undefined) await this.recording;
  }

  /**
   * Looks at every site's bucket again (after a start or a reconnect the buckets may hold anything: an older
   * revision, nothing after a lost JetStream store, a site deleted meanwhile) and publishes what is missing.
   */
  async reconcile(): Promise<void> {
    if (this.stopped) return;
    try {
      // Under the federation lock: the federation and the heads are of the same commit.
      const view = await this.ds.transaction((m) => this.store.locked(m));
      this.adopt(view);
      this.published.clear();
      this.shared.forget();
      const sites = siteIdsOf(view);
      for (const siteId of sites) this.lanes.kick(siteId);
      for (const siteId of await this.buckets.sitesWithBuckets()) if (!sites.has(siteId)) this.lanes.kick(siteId);
    } catch (error) {
      // NATS went away again mid-reconcile: the next reconnect reconciles; the lanes kicked so far retry.
      this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'reconcile interrupted');
    }
  }

  private committed(view: FederationView): void {
    const before = this.latest;
    this.adopt(view);
    if (this.paired) this.trackShared(view);
    for (const s of view.federation.sites) {
      const head = view.heads.get(s.id);
      if (head !== undefined && head.revision > (this.published.get(s.id)?.revision ?? 0)) this.lanes.kick(s.id);
    }
    const now = siteIdsOf(view);
    for (const s of before?.federation.sites ?? []) if (!now.has(s.id)) this.lanes.kick(s.id);
  }

  /**
   * Follows the shared content from commit to commit of this process: unchanged from the commit just before (its
   * version minus one: nothing committed in between), it has been in force since that one's `since`; otherwise
   * (changed, or another replica committed in between) since this version.
   */
  private trackShared(view: FederationView): void {
    const baseHash = sharedPartText(view.federation).contentHash;
    const last = this.sharedSince;
    const same = last !== undefined && last.baseHash === baseHash && (last.version === view.version - 1 || last.version === view.version);
    if (last === undefined || view.version >= last.version) this.sharedSince = { version: view.version, baseHash, since: same ? last.since : view.version };
  }

  /**
   * The shared revision a site part of `view` requires: the version since which its shared content is in force
   * when this process followed it there, else the view's own version (the shared part is then put at it: safe,
   * only not minimal). No shared part of a version in [since, view] differs from the view's but for its list.
   */
  private sinceOf(view: FederationView): number {
    const s = this.sharedSince;
    return s !== undefined && s.version === view.version ? s.since : view.version;
  }

  /** Keeps the newest view (a reconcile's read can finish after a later commit). */
  private adopt(view: FederationView): void {
    if (this.latest === undefined || view.version >= this.latest.version) this.latest = view;
  }

  /** Brings one site's bucket up to its head revision (or removes it for a deleted site). Throws to retry. */
  private async sync(siteId: string): Promise<void> {
    const view = this.latest;
    const key = this.signing.key;
    if (view === undefined || key === undefined) return;
    if (!siteIdsOf(view).has(siteId)) {
      await this.buckets.remove(siteId);
      this.published.delete(siteId);
      return;
    }
    const head = view.heads.get(siteId);
    const known = this.published.get(siteId);
    if (head === undefined || head.revision <= (known?.revision ?? 0)) return;
    if (this.paired) {
      await this.syncPaired(view, siteId, head, key, known);
      return;
    }
    if (known !== undefined) {
      // The bucket is where this process last put it (as far as it knows): update against that sequence without
      // reading the value back first. If anything else wrote meanwhile the update fails, and the retry reads it.
      try {
        await this.publish(view, siteId, head, key, known.seq);
        return;
      } catch (error) {
        this.published.delete(siteId);
        throw error;
      }
    }
    const current = await this.buckets.head(siteId);
    if (current !== null && current.revision >= head.revision && this.signedByUs(siteId, current.text, key)) {
      if (current.revision === head.revision) this.record(siteId, head.revision, current.contentHash, current.at);
      this.published.set(siteId, { revision: current.revision, seq: current.seq });
      return;
    }
    await this.publish(view, siteId, head, key, current?.seq ?? 0);
  }

  /**
   * The paired format (split-snapshot.ts PAIRED_FORMAT): the shared part first (put only when its content, the site
   * list aside, is not in the bucket since the version it is in force from), then the site part only when the
   * bucket's does not pair with it as it is: a plan-only write puts no site part, yet records the site's new head
   * as published (its agent applies the new shared part with the site part it holds).
   */
  private async syncPaired(view: FederationView, siteId: string, head: { revision: number; contentHash: string }, key: ControllerSigningKey, known: Published | undefined): Promise<void> {
    const at = new Date();
    const part = pairedSitePartText(view.federation, siteId);
    const since = this.sinceOf(view);
    const shared = pairedSharedText(view.federation);
    const sharedToPublish = { revision: view.version, chunks: shared.chunks, chunkHashes: shared.chunkHashes, contentHash: shared.contentHash, paired: { baseHash: shared.baseHash, since, listed: shared.listed } };
    if (!(await this.shared.ensure(sharedToPublish, key))) return;
    let bucket = known?.part;
    let expectedSeq = known?.seq;
    if (bucket === undefined) {
      const current = await this.buckets.head(siteId);
      expectedSeq = current?.seq ?? 0;
      if (current !== null && this.signedByUs(siteId, current.text, key)) {
        if (current.revision > head.revision) {
          // A newer view's part (another replica's): that view publishes the rest.
          this.published.set(siteId, { revision: current.revision, seq: current.seq });
          return;
        }
        if (snapshotFormatOf(current.text) === PAIRED_FORMAT) bucket = { contentHash: current.contentHash, revision: current.revision };
      }
    }
    const sharedHash = (): string => pairedContentHash(part.contentHash, this.shared.contentHash ?? shared.contentHash);
    if (bucket !== undefined && bucket.contentHash === part.contentHash && this.shared.pairs(siteId, bucket.contentHash, bucket.revision)) {
      this.published.set(siteId, { revision: head.revision, seq: expectedSeq ?? 0, part: bucket });
      this.record(siteId, head.revision, sharedHash(), at);
      return;
    }
    // Checked only for a site part to be signed: one already in the bucket was checked when it was put (a plan-wide
    // write would otherwise check every site's whole config again: 1.2 s of CPU in the last 60 s of a 1,000-site bench:sync).
    const invalid = invalidStoredValue(part.config);
    if (invalid !== undefined) {
      await this.withhold(siteId, head.revision, invalid, at);
      return;
    }
    const signed = signPairedSitePartHash(siteId, part.contentHash, head.revision, since, key, at);
    try {
      const seq = await this.buckets.put(siteId, this.encoder.encode([signed.head, ...part.pieces, '}']), expectedSeq ?? 0);
      this.published.set(siteId, { revision: head.revision, seq, part: { contentHash: part.contentHash, revision: head.revision } });
    } catch (error) {
      this.published.delete(siteId);
      throw error;
    }
    this.record(siteId, head.revision, sharedHash(), at);
    this.log.debug({ siteId, revision: head.revision, requiresShared: since }, 'site part published');
  }

  /**
   * A bucket value counts only when this controller's key signed it: anything else there (written with leaked
   * controller credentials, or corrupted) claims whatever revision it likes, and trusting that claim would stop
   * every later publish to the site. Such a value is overwritten with the site's real head.
   */
  private signedByUs(siteId: string, text: string, key: ControllerSigningKey): boolean {
    try {
      const format = snapshotFormatOf(text);
      if (format === SPLIT_SNAPSHOT_FORMAT) {
        if (verifySitePartEnvelope(text, siteId, [key]) === undefined) throw new Error('not in wire form');
      } else if (format === PAIRED_FORMAT) {
        if (verifyPairedSitePartEnvelope(text, siteId, [key]) === undefined) throw new Error('not in wire form');
      } else verifySnapshot(JSON.parse(text), siteId, [key], { contentAlreadyValidated: true, receivedText: text });
      return true;
    } catch (error) {
      this.log.warn({ siteId, reason: error instanceof Error ? error.message : String(error) }, 'the site bucket holds a snapshot this controller did not sign: replacing it');
      return false;
    }
  }

  private async publish(view: FederationView, siteId: string, head: { revision: number; contentHash: string }, key: ControllerSigningKey, expectedSeq: number): Promise<void> {
    const at = new Date();
    // Built here from a committed (validated) federation: the site part's canonical JSON assembled from objects
    // serialized once, hashed by the writer already (the same federation object), signed without a schema parse.
    const part = siteConfigText(view.federation, siteId);
    const invalid = invalidStoredValue(part.config);
    if (invalid !== undefined) {
      await this.withhold(siteId, head.revision, invalid, at);
      return;
    }
    if (part.contentHash !== head.contentHash) {
      // The view is consistent (a commit's, or read under the federation lock) and the parts list objects in id
      // order, so this means the writer and the publisher disagree on a site's content (or the head was hashed in
      // format 1 before an upgrade): worth a log line, not a reason to withhold the snapshot (the agent checks the
      // hash it is sent).
      this.log.warn({ siteId, revision: head.revision, built: part.contentHash, recorded: head.contentHash }, 'snapshot hash differs from the revision\'s');
    }
    // The shared part the site part names goes first: an agent never gets a site part whose shared part is not
    // in the bucket. A newer shared part there means a newer view (another replica's): its site parts follow it.
    const { chunks, chunkHashes, contentHash } = part.shared;
    if (!(await this.shared.ensure({ revision: view.version, chunks, chunkHashes, contentHash }, key))) return;
    const signed = signSitePartHash(siteId, part.contentHash, head.revision, key, at);
    const seq = await this.buckets.put(siteId, this.encoder.encode([signed.head, ...part.pieces, '}']), expectedSeq);
    this.published.set(siteId, { revision: head.revision, seq });
    this.record(siteId, head.revision, part.contentHash, at);
    this.log.debug({ siteId, revision: head.revision }, 'snapshot published');
  }

  /**
   * A snapshot whose stored values break today's rules (written before a rule existed, or straight into the
   * database) is not signed or shipped: the agent would refuse it whole, and its renderer could never write it. The
   * site keeps the revision it runs, its rollout reads config-failed with the object, field and reason (the same
   * record an agent's failed render makes) and the error is logged for the alarm. The next commit that fixes the
   * object publishes again (its revision is newer than the one withheld).
   */
  private async withhold(siteId: string, revision: number, invalid: InvalidValue, at: Date): Promise<void> {
    this.log.error({ siteId, revision, object: invalid.object, field: invalid.field, reason: invalid.reason }, 'snapshot withheld: a stored value breaks the value rules; fix the object named');
    await this.rollout.recordConfig(this.ds.manager, { siteId, revision, at, failure: { kind: 'render', code: 'invalid-stored-value', ...invalid } });
    this.live.emit([{ topic: 'rollout', siteIds: [siteId] }]);
  }

  /**
   * Notes a put for the rollout table. The bucket, not the table, decides what is published, so a put is done
   * when NATS has it; the rows follow in one statement per batch, retried while the database is away.
   */
  private record(siteId: string, revision: number, contentHash: string, at: Date): void {
    const pending = this.unrecorded.get(siteId);
    if (pending === undefined || pending.revision < revision) this.unrecorded.set(siteId, { siteId, revision, contentHash, at });
    this.recording ??= this.recordPending().finally(() => (this.recording = undefined));
  }

  private async recordPending(): Promise<void> {
    for (let failures = 0; this.unrecorded.size > 0; ) {
      // Let the puts finishing meanwhile join this batch: a plan-wide write's sites finish over many event-loop
      // turns (32 lanes at a time), and one statement per turn made ~30 statements of a few dozen rows per write.
      await new Promise<void>((resolve) => setTimeout(resolve, RECORD_GATHER_MS));
      const batch = [...this.unrecorded.values()];
      this.unrecorded.clear();
      try {
        await this.rollout.recordPublishedMany(this.ds.manager, batch);
        this.live.emit([{ topic: 'rollout', siteIds: batch.map((r) => r.siteId) }]);
        failures = 0;
      } catch (error) {
        for (const row of batch) if ((this.unrecorded.get(row.siteId)?.revision ?? 0) < row.revision) this.unrecorded.set(row.siteId, row);
        this.log.warn({ err: error instanceof Error ? error.message : String(error), sites: batch.length }, 'cannot record published revisions yet');
        if (this.stopped) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 200 * 2 ** failures++)));
      }
    }
  }
}
