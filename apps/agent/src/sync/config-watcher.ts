import type { NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { decodeSnapshotValueAsync, isSizedMembers } from '@fedpbx/signing';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import { CONFIG_APPLY_ALARM, claimedRevision, type ApplyResult, type SharedResult, type SnapshotApplier } from '../state/snapshot-applier.js';
import type { RoutingState } from '../state/routing-state.js';
import { Backoff, sleep } from './backoff.js';
import { agentJetStream } from './event-envelope.js';
import { KeyWatch, type KeyEntry, type KeyWatchEnd } from './key-watch.js';
import type { NatsLink } from './nats-link.js';

export interface ConfigWatcherOptions {
  readonly siteId: string;
  readonly link: NatsLink;
  readonly applier: Pick<SnapshotApplier, 'offerText' | 'offerShared' | 'offerSharedValue'>;
  readonly state: Pick<RoutingState, 'revision' | 'ready'>;
  /** A snapshot from the bucket was refused (bad signature/hash/site, not JSON...): for the status report. */
  readonly onRefused: (revision: number, reason: string) => void;
  /**
   * The refused snapshot broke a value rule of one object (the renderers' rules are the contracts'): reported as
   * the revision's config failure too, so the site reads config-failed with the object named, as a render refusal.
   */
  readonly onValueRefused?: (revision: number, failure: RefusedValue) => void;
  /**
   * The idle heartbeat of each watch's consumer (FEDPBX_CONFIG_WATCH_HEARTBEAT_MS); a watch that misses two in a
   * row is re-created. Default {@link WATCH_HEARTBEAT_MS}.
   */
  readonly heartbeatMs?: number;
  /**
   * Where re-created watches are counted (`fedpbx_config_watch_recreated_total`), and values refused before the
   * applier sees them (`fedpbx_rejected_inputs_total{reason="snapshot-undecodable"}`; the applier counts its own).
   */
  readonly metrics?: Pick<AgentMetrics, 'configWatchRecreated' | 'snapshotRefused'>;
  /** Where {@link CONFIG_APPLY_ALARM} is raised while a value cannot be applied (no verdict on it: a full disk). */
  readonly alarms?: { raise(code: string, severity: 'critical', message: string): void; clear(code: string): void };
  readonly log: Logger;
}

export { CONFIG_APPLY_ALARM };

/** A value's handling threw (not a refusal: the applier could not finish, e.g. the state dir is full). */
class HandleFailure extends Error {}

/** A value rule a snapshot broke, named as the renderers name objects (`trunk t-moscow-city`, field `secret`). */
export interface RefusedValue {
  readonly kind: 'render';
  readonly code: 'invalid-value';
  readonly object: string;
  readonly field: string;
  readonly reason: string;
}

const OBJECT_KIND: Readonly<Record<string, string>> = {
  extensions: 'extension',
  trunks: 'trunk',
  remoteTrunks: 'remote trunk',
  links: 'link',
  outboundRoutes: 'outbound route',
  inboundRoutes: 'inbound route',
  callFlows: 'call flow',
  classesOfService: 'class of service',
};

/**
 * The object and field of a `malformed` refusal at `config.<collection>.<index>.<field>` (or `config.site.<field>`),
 * with the object's id read from the snapshot text; undefined for any other refusal (signature, hash, format...).
 * Only on this failure path is the text parsed again.
 */
export function refusedValueOf(code: string, reason: string, text: string): RefusedValue | undefined {
  if (code !== 'malformed') return undefined;
  const m = /^snapshot is malformed at config\.([A-Za-z]+)\.((?:[0-9]+\.)?)([^:]+): (.*)$/s.exec(reason);
  if (m === null) return undefined;
  const [, collection, indexPart, field, message] = m as unknown as [string, string, string, string, string];
  let config: Record<string, unknown>;
  try {
    config = (JSON.parse(text) as { config: Record<string, unknown> }).config;
  } catch {
    return undefined;
  }
  const idOf = (o: unknown): string => (typeof o === 'object' && o !== null && typeof (o as { id?: unknown }).id === 'string' ? (o as { id: string }).id : '?');
  if (collection === 'site' && indexPart === '') return { kind: 'render', code: 'invalid-value', object: `site ${idOf(config['site'])}`, field, reason: message };
  const kind = OBJECT_KIND[collection];
  const items = config[collection];
  if (kind === undefined || indexPart === '' || !Array.isArray(items)) return undefined;
  return { kind: 'render', code: 'invalid-value', object: `${kind} ${idOf(items[Number(indexPart.slice(0, -1))])}`, field, reason: message };
}

/** How long a site part may wait for its shared part before the site reports it (the rollout shows the refusal). */
export const SHARED_WAIT_MS = 10_000;

/**
 * The default idle heartbeat of a config watch's consumer: a watch whose consumer died with its cluster node is
 * re-created after 4-6 s of silence (two heartbeats missed, checked once per heartbeat), at the cost of one tiny
 * message per watch every 2 s while nothing changes.
 */
export const WATCH_HEARTBEAT_MS = 2000;

/** One watched key: the site's snapshot, or the shared part every site's format-2 snapshot names. */
interface WatchedKey {
  readonly bucket: string;
  readonly key: string;
  readonly handle: (entry: KeyEntry) => Promise<void>;
}

/** The same write to the bucket: its revision, and the same bytes (a bucket deleted and made again restarts revisions). */
function sameValue(a: KeyEntry | undefined, b: KeyEntry): boolean {
  return a !== undefined && a.revision === b.revision && a.operation === b.operation && Buffer.compare(a.value, b.value) === 0;
}

/** How a watch that ended on its own is logged (re-created either way). */
const ENDED: Readonly<Record<Exclude<KeyWatchEnd, 'stopped'>, string>> = {
  silent: 'config watch fell silent; re-creating it',
  gap: 'config watch lost a value on the way; re-creating it',
  'consumer-gone': 'config watch consumer was deleted; re-creating it',
  closed: 'config watch closed; re-creating it',
};

/**
 * Watches the site's KV bucket key `snapshot` and the shared bucket's key (format 2: the part of every snapshot
 * that every site may know) and offers every value to the applier (which verifies, stores and swaps). Each watch
 * starts from the bucket's latest value, so after an agent restart or a NATS outage the site catches up straight
 * to the newest revision; a value not newer than the revision in force (a restart, a re-delivery) is a no-op, not
 * a refusal, and the bucket revision handled last is not even offered again. Each watch (a {@link KeyWatch}) is
 * re-created on its own whenever it ends - the bucket does not exist yet (a controller from before format 2 has
 * no shared bucket), the server restarted, a permission is missing - with a growing pause between tries that
 * fail. A watch that falls silent (its consumer's node died while the agent stayed connected to another), loses a
 * value or loses its consumer is re-created at once, logged and counted. A site part whose shared part has not come is kept by the applier
 * and applied when it comes; if it has not come within `sharedWaitMs`, that is reported as a refusal.
 */
export class ConfigWatcher {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private readonly stopWatches = new Set<() => void>();
  private waitTimer: NodeJS.Timeout | undefined;
  /** Per bucket: the value handled last, so a re-created watch does not offer it again. */
  private readonly handled = new Map<string, KeyEntry>();

  constructor(
    private readonly opts: ConfigWatcherOptions,
    private readonly sharedWaitMs = SHARED_WAIT_MS,
  ) {}

  start(): void {
    if (this.running !== undefined) return;
    // After a reconnect a watch's consumer may have lived on the server that went away (a cluster node that died):
    // its missing heartbeats would tell only seconds later. Start the watches over at once; a new watch begins at
    // the bucket's latest value, which is not offered again when nothing changed meanwhile.
    this.opts.link.onConnected(() => {
      for (const stop of [...this.stopWatches]) stop();
    });
    this.running = Promise.all([
      this.loop({ bucket: Subjects.configBucket(this.opts.siteId), key: Subjects.SNAPSHOT_KEY, handle: (e) => this.handle(e) }),
      this.loop({ bucket: Subjects.SHARED_BUCKET, key: Subjects.SHARED_KEY, handle: (e) => this.handleShared(e) }),
    ]).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const stop of this.stopWatches) stop();
    clearTimeout(this.waitTimer);
    await this.running;
  }

  private async loop(watched: WatchedKey): Promise<void> {
    const { link, log } = this.opts;
    const { bucket } = watched;
    const backoff = new Backoff(500, 30_000);
    let lastProblem = '';
    // A value whose handling threw: the re-created watch offers it again, after a wait that grows until one is
    // handled - not every 500 ms, each time verifying it anew (a head office's 20 MB) while calls wait for the loop.
    let failing = false;
    while (!this.abort.signal.aborted) {
      const nc = link.connected ? link.connection : undefined;
      if (nc === undefined) {
        await sleep(250, this.abort.signal);
        continue;
      }
      try {
        const ended = await this.watchOnce(
          nc,
          watched,
          () => {
            if (!failing) backoff.reset();
            lastProblem = '';
          },
          () => {
            if (!failing) return;
            failing = false;
            backoff.reset();
            this.opts.alarms?.clear(CONFIG_APPLY_ALARM);
          },
        );
        if (this.abort.signal.aborted) break;
        if (ended === 'stopped') log.info({ bucket }, 'config watch ended; re-creating it');
        else {
          log.warn({ bucket, reason: ended, heartbeatMs: this.heartbeatMs, revision: this.opts.state.revision }, ENDED[ended]);
          this.opts.metrics?.configWatchRecreated.inc({ reason: ended });
        }
      } catch (error) {
        const problem = error instanceof Error ? error.message : String(error);
        if (error instanceof HandleFailure) {
          failing = true;
          this.opts.alarms?.raise(CONFIG_APPLY_ALARM, 'critical', `a config value from ${bucket} could not be applied (${problem}): the last-known-good stays in force and calls keep routing; retried, at most every 30 s`);
        }
        // Logged once per kind of problem, not once per retry.
        if (problem !== lastProblem) log.warn({ bucket, err: problem, retries: backoff.failures }, 'cannot watch the config bucket; retrying');
        lastProblem = problem;
      }
      await sleep(backoff.next(), this.abort.signal);
    }
  }

  private get heartbeatMs(): number {
    return this.opts.heartbeatMs ?? WATCH_HEARTBEAT_MS;
  }

  /** Watches until the watch ends; resolves with why (rejects when it cannot be created or a value cannot be handled). */
  private async watchOnce(nc: NatsConnection, watched: WatchedKey, onWatching: () => void, onHandled: () => void): Promise<KeyWatchEnd> {
    const { bucket, key } = watched;
    const watch = await KeyWatch.open(agentJetStream(nc), { bucket, key, inboxPrefix: Subjects.inboxPrefix(this.opts.siteId), heartbeatMs: this.heartbeatMs });
    const stop = (): void => watch.stop();
    this.stopWatches.add(stop);
    onWatching();
    this.opts.log.info({ bucket, revision: this.opts.state.revision }, 'watching the config bucket');
    try {
      for await (const entry of watch) {
        if (this.abort.signal.aborted) break;
        // A re-created watch starts at the key's latest value: the one handled last is not offered twice.
        if (sameValue(this.handled.get(bucket), entry)) continue;
        try {
          await watched.handle(entry);
        } catch (error) {
          throw new HandleFailure(error instanceof Error ? error.message : String(error), { cause: error });
        }
        this.handled.set(bucket, entry);
        onHandled();
      }
    } finally {
      this.stopWatches.delete(stop);
      watch.stop();
    }
    return watch.ended ?? 'stopped';
  }

  private async decoded(entry: KeyEntry): Promise<string | undefined> {
    if (entry.operation !== 'PUT') {
      this.opts.log.warn({ key: entry.key, operation: entry.operation, kvRevision: entry.revision }, 'config key removed; the snapshot in force stays');
      return undefined;
    }
    try {
      return await decodeSnapshotValueAsync(entry.value);
    } catch (error) {
      this.opts.metrics?.snapshotRefused('undecodable');
      this.refused(0, error instanceof Error ? `malformed: ${error.message}` : 'malformed');
      return undefined;
    }
  }

  private async handle(entry: KeyEntry): Promise<void> {
    const { log, state } = this.opts;
    const text = await this.decoded(entry);
    if (text === undefined) return;
    const claimed = claimedRevision(text);
    if (claimed !== undefined && state.ready && claimed < state.revision) {
      log.debug({ revision: claimed, inForce: state.revision }, 'config value older than the snapshot in force: nothing to do');
      return;
    }
    // A throw here is not a verdict on the snapshot (e.g. the state dir is full): it ends this watch, and the
    // re-created one offers the latest value again.
    this.outcome(await this.opts.applier.offerText(text, 'nats', entry.value), text);
  }

  private async handleShared(entry: KeyEntry): Promise<void> {
    // A chunked shared part is read from its value: only the chunks the agent does not hold are decompressed.
    if (entry.operation === 'PUT' && isSizedMembers(entry.value)) return this.sharedOutcome(await this.opts.applier.offerSharedValue(entry.value, 'nats'));
    const text = await this.decoded(entry);
    if (text === undefined) return;
    this.sharedOutcome(await this.opts.applier.offerShared(text, 'nats', entry.value));
  }

  private sharedOutcome(result: SharedResult): void {
    if (!result.accepted) this.refused(result.revision, `${result.code}: ${result.reason}`);
    else if (result.applied !== undefined) this.outcome(result.applied, undefined);
  }

  /** Reports a site part's outcome: a refusal at once, a wait for its shared part only once it has lasted. */
  private outcome(result: ApplyResult, text: string | undefined): void {
    if (result.applied || result.waitingFor === undefined) clearTimeout(this.waitTimer);
    if (result.applied) return;
    if (result.waitingFor !== undefined) {
      const { revision, code, reason } = result;
      clearTimeout(this.waitTimer);
      this.waitTimer = setTimeout(() => {
        if (!this.opts.state.ready || this.opts.state.revision < revision) this.refused(revision, `${code}: ${reason} (not in the shared bucket after ${this.sharedWaitMs} ms; the last-known-good stays in force)`);
      }, this.sharedWaitMs);
      this.waitTimer.unref();
      return;
    }
    this.refused(result.revision, `${result.code}: ${result.reason}`);
    const value = this.opts.onValueRefused === undefined || text === undefined ? undefined : refusedValueOf(result.code, result.reason, text);
    if (value !== undefined) this.opts.onValueRefused?.(result.revision, value);
  }

  private refused(revision: number, reason: string): void {
    this.opts.onRefused(revision, reason.slice(0, 500));
  }
}
