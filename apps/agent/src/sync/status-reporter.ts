import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AgentEventEnvelope, type AgentEvent } from '@fedpbx/contracts';
import type { Logger } from '../logger.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { Backoff, sleep } from './backoff.js';
import { agentJetStream, envelope, eventId, publishEnvelope } from './event-envelope.js';
import type { NatsLink } from './nats-link.js';

type LinkStatus = Extract<AgentEvent, { type: 'link.status' }>;
type TrunkStatus = Extract<AgentEvent, { type: 'trunk.status' }>;
type ConfigFailure = Omit<Extract<AgentEvent, { type: 'config.failed' }>, 'type' | 'revision'>;

const StatusFile = z.strictObject({ v: z.literal(1), entries: z.record(z.string(), AgentEventEnvelope) });

/**
 * The site's current state as status events - applied/refused snapshot, each link, each trunk - with
 * latest-state semantics: one entry per subject of the report, replaced when it changes, kept in
 * `<state>/sync/status.json` so a change seen while NATS was down (or before a restart) is still reported.
 * Every entry is (re)published on each connect; a re-send of an unchanged entry carries the same id, so
 * JetStream and the controller drop it.
 */
export class StatusReporter {
  private readonly file: string;
  private entries = new Map<string, AgentEventEnvelope>();
  private readonly pending = new Set<string>();
  private pumping = false;
  private persistChain: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();

  constructor(
    private readonly opts: { readonly stateDir: string; readonly siteId: string; readonly link: NatsLink; readonly log: Logger },
  ) {
    this.file = join(opts.stateDir, 'sync', 'status.json');
  }

  /** Loads the entries of the previous run (an unreadable file is logged and replaced). */
  async init(): Promise<void> {
    await mkdir(join(this.opts.stateDir, 'sync'), { recursive: true, mode: 0o750 });
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.warn({ err: error, file: this.file }, 'status file unreadable; starting empty');
      return;
    }
    try {
      const parsed = StatusFile.parse(JSON.parse(text));
      this.entries = new Map(Object.entries(parsed.entries).filter(([, e]) => e.siteId === this.opts.siteId));
    } catch (error) {
      this.opts.log.warn({ err: error, file: this.file }, 'status file is not valid; starting empty');
    }
  }

  start(): void {
    this.opts.link.onConnected(() => {
      for (const key of this.entries.keys()) this.pending.add(key);
      void this.pump();
    });
  }

  stop(): Promise<void> {
    this.abort.abort();
    return this.persistChain;
  }

  /** The current entries (tests, and the live health answer). */
  get current(): readonly AgentEventEnvelope[] {
    return [...this.entries.values()];
  }

  snapshotApplied(revision: number, contentHash: string): void {
    const existing = this.entries.get('snapshot.applied')?.event;
    if (existing?.type === 'snapshot.applied' && existing.revision === revision && existing.contentHash === contentHash) return;
    // Not written to the status file: at every start the sync client reports the snapshot in force again (same
    // event id for the same revision), so the file would only cost every apply a second fsynced write.
    this.set('snapshot.applied', eventId('snapshot.applied', this.opts.siteId, String(revision)), { type: 'snapshot.applied', revision, contentHash }, new Date(), false);
  }

  snapshotRefused(revision: number, reason: string): void {
    const at = new Date();
    this.set('snapshot.refused', eventId('snapshot.refused', this.opts.siteId, `${revision}:${at.getTime()}`), { type: 'snapshot.refused', revision, reason }, at);
  }

  /**
   * The Asterisk include files of `revision` were written (`failure` undefined) or not. One entry for both, so a
   * success replaces a failure; kept in the status file, so a failure seen before a restart or while NATS was down
   * still reaches the controller. An unchanged report is not sent again.
   */
  config(revision: number, failure?: ConfigFailure, files: readonly string[] = []): void {
    const existing = this.entries.get('config')?.event;
    if (failure === undefined && existing?.type === 'config.written' && existing.revision === revision && files.length === 0) return;
    if (
      failure !== undefined &&
      existing?.type === 'config.failed' &&
      existing.revision === revision &&
      existing.object === failure.object &&
      existing.field === failure.field &&
      existing.code === failure.code
    ) {
      return;
    }
    const at = new Date();
    const event: AgentEvent =
      failure === undefined ? { type: 'config.written', revision, files: [...files] } : { type: 'config.failed', revision, ...failure };
    this.set('config', eventId(event.type, this.opts.siteId, `${revision}:${at.getTime()}`), event, at);
  }

  link(event: LinkStatus): void {
    const at = new Date();
    this.set(`link.status:${event.peerSiteId}`, eventId('link.status', this.opts.siteId, `${event.peerSiteId}:${at.getTime()}`), event, at);
  }

  trunk(event: TrunkStatus): void {
    const at = new Date();
    this.set(`trunk.status:${event.trunkId}`, eventId('trunk.status', this.opts.siteId, `${event.trunkId}:${at.getTime()}`), event, at);
  }

  private set(key: string, id: string, event: AgentEvent, at = new Date(), persist = true): void {
    this.entries.set(key, envelope(this.opts.siteId, id, event, at));
    if (persist) this.persist();
    this.pending.add(key);
    void this.pump();
  }

  /** Writes the whole (small) map atomically; writes are chained, so the last one holds the latest state. */
  private persist(): void {
    this.persistChain = this.persistChain
      .then(() => writeFileAtomic(this.file, JSON.stringify({ v: 1, entries: Object.fromEntries(this.entries) })))
      .catch((error: unknown) => this.opts.log.error({ err: error, file: this.file }, 'status file not written'));
  }

  /**
   * Publishes pending entries one by one while connected; retries with a growing pause, at most 5 s: the failures
   * met while connected are short (a cluster node died and JetStream elects new leaders: "jetstream is not enabled"
   * for some seconds), and a longer pause would leave the rollout showing the site behind long after they ended.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const backoff = new Backoff(500, 5_000);
    try {
      while (!this.abort.signal.aborted && this.pending.size > 0) {
        const nc = this.opts.link.connected ? this.opts.link.connection : undefined;
        if (nc === undefined) return; // the next connect re-queues everything
        const key = this.pending.values().next().value as string;
        const env = this.entries.get(key);
        if (env === undefined) {
          this.pending.delete(key);
          continue;
        }
        try {
          await publishEnvelope(agentJetStream(nc), env);
          if (this.entries.get(key) === env) this.pending.delete(key);
          backoff.reset();
        } catch (error) {
          if (backoff.failures === 0) this.opts.log.warn({ err: error instanceof Error ? error.message : String(error), id: env.id }, 'status event not published; retrying');
          await sleep(backoff.next(), this.abort.signal);
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}
