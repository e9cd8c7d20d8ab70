import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { FederationStore } from '../federation/federation-store.js';
import { NatsBus } from '../nats/nats-bus.js';
import { SnapshotPublisher } from '../sync/snapshot-publisher.js';

/** How often the database is asked for revisions nobody published. */
const WATCH_MS = 2000;
/**
 * How long an unpublished head revision must stay unpublished before this replica publishes it: the replica that
 * committed it publishes within a second or so (then records it), and doing its work twice would only cost signing
 * time.
 */
export const TAKEOVER_AFTER_SEC = 5;
/** The same sites found again: their publishes are retrying with backoff already (NATS refusing?); kick them this seldom. */
const RETRY_SAME_MS = 30_000;

/**
 * Sites whose newest revision is newer than what was published, except those whose snapshot the publisher withholds
 * on purpose (a stored value the rules refuse: config-failed, invalid-stored-value).
 */
const UNPUBLISHED_SQL = `
  SELECT s.id AS site_id, h.revision
    FROM sites s
    JOIN LATERAL (SELECT revision FROM site_config_revisions r
                   WHERE r.site_id = s.id ORDER BY r.revision DESC LIMIT 1) h ON true
    LEFT JOIN site_rollouts o ON o.site_id = s.id
   WHERE h.revision > COALESCE(o.published_revision, 0)
     AND NOT (COALESCE(o.config_failure->>'code', '') = 'invalid-stored-value' AND COALESCE(o.config_revision, 0) >= h.revision)
   ORDER BY s.id`;

/**
 * The replica that commits a write publishes its snapshots (right after the commit, from memory). If it dies in
 * between - killed, host lost - its client may already have been told the write succeeded, and no other replica
 * would hear of the commit until its own next start or NATS reconnect. Every replica therefore looks, every
 * WATCH_MS, for head revisions nobody published, and publishes those it has seen unpublished for TAKEOVER_AFTER_SEC
 * (counted from its own first sighting, not from the revision's time, which is its transaction's start: long
 * before the commit for a big import). Two replicas doing so at once is harmless: a put is a compare-and-set on the
 * bucket's sequence and never puts an older revision over a newer one (snapshot-publisher.ts).
 */
@Injectable()
export class UnpublishedRevisionsWatch implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private looking = false;
  /** What the last catch-up was for, and when: the same sites still unpublished are being retried already. */
  private last = { sites: '', at: 0 };
  /** When this replica first saw each unpublished head (`site@revision`). */
  private readonly firstSeen = new Map<string, number>();
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'unpublished-revisions' });

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly store: FederationStore,
    private readonly bus: NatsBus,
    private readonly publisher: SnapshotPublisher,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.publisher.enabled) return;
    this.timer = setInterval(() => void this.look(), WATCH_MS);
    this.timer.unref();
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One look; publishes what it found. Returns the sites found (tests). */
  async look(): Promise<readonly string[]> {
    // With NATS away every replica's publisher is retrying anyway; the database being away is the readiness probe's news.
    if (this.looking || !this.bus.isConnected()) return [];
    this.looking = true;
    try {
      const rows: { site_id: string; revision: number }[] = await this.ds.query(UNPUBLISHED_SQL);
      const now = Date.now();
      const sinceBefore = new Map(this.firstSeen);
      this.firstSeen.clear();
      const sites: string[] = [];
      for (const r of rows) {
        const key = `${r.site_id}@${r.revision}`;
        const since = sinceBefore.get(key) ?? now;
        this.firstSeen.set(key, since);
        if (now - since >= TAKEOVER_AFTER_SEC * 1000) sites.push(r.site_id);
      }
      if (sites.length === 0) return [];
      const key = sites.join(',');
      if (key === this.last.sites && now - this.last.at < RETRY_SAME_MS) return sites;
      this.last = { sites: key, at: now };
      this.log.warn({ sites: sites.slice(0, 20), count: sites.length }, `publishing revisions left unpublished for ${TAKEOVER_AFTER_SEC} s (the replica that committed them stopped?)`);
      await this.store.catchUp();
      return sites;
    } catch (error) {
      this.log.debug({ err: error instanceof Error ? error.message : String(error) }, 'unpublished revisions not looked at now');
      return [];
    } finally {
      this.looking = false;
    }
  }
}
