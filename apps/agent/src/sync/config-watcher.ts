import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KvEntry } from '@nats-io/kv';
import { Subjects } from '@fedpbx/contracts';
import { decodeSnapshotValueAsync } from '@fedpbx/signing';
import type { Logger } from '../logger.js';
import { claimedRevision, type ApplyResult, type SnapshotApplier } from '../state/snapshot-applier.js';
import type { RoutingState } from '../state/routing-state.js';
import { Backoff, sleep } from './backoff.js';
import { agentJetStream } from './event-envelope.js';
import type { NatsLink } from './nats-link.js';

export interface ConfigWatcherOptions {
  readonly siteId: string;
  readonly link: NatsLink;
  readonly applier: Pick<SnapshotApplier, 'offerText'>;
  readonly state: Pick<RoutingState, 'revision' | 'ready'>;
  /** A snapshot from the bucket was refused (bad signature/hash/site, not JSON...): for the status report. */
  readonly onRefused: (revision: number, reason: string) => void;
  /**
   * The refused snapshot broke a value rule of one object (the renderers' rules are the contracts'): reported as
   * the revision's config failure too, so the site reads config-failed with the object named, as a render refusal.
   */
  readonly onValueRefused?: (revision: number, failure: RefusedValue) => void;
  readonly log: Logger;
}

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

/**
 * Watches the site's KV bucket key `snapshot` and offers every value to the applier (which verifies, stores and
 * swaps). Each watch starts from the bucket's latest value, so after an agent restart or a NATS outage the site
 * catches up straight to the newest revision; a value not newer than the revision in force (a restart, a
 * re-delivery) is a no-op, not a refusal. The watch (an ordered consumer) is re-created whenever it ends - the
 * bucket does not exist yet, the server restarted, a permission is missing - with a growing pause between tries.
 */
export class ConfigWatcher {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;

  constructor(private readonly opts: ConfigWatcherOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.stopWatch?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { link, log } = this.opts;
    const bucket = Subjects.configBucket(this.opts.siteId);
    const backoff = new Backoff(500, 30_000);
    let lastProblem = '';
    while (!this.abort.signal.aborted) {
      const nc = link.connected ? link.connection : undefined;
      if (nc === undefined) {
        await sleep(250, this.abort.signal);
        continue;
      }
      try {
        await this.watchOnce(nc, bucket, () => {
          backoff.reset();
          lastProblem = '';
        });
        if (!this.abort.signal.aborted) log.info({ bucket }, 'config watch ended; re-creating it');
      } catch (error) {
        const problem = error instanceof Error ? error.message : String(error);
        // Logged once per kind of problem, not once per retry.
        if (problem !== lastProblem) log.warn({ bucket, err: problem, retries: backoff.failures }, 'cannot watch the config bucket; retrying');
        lastProblem = problem;
      }
      await sleep(backoff.next(), this.abort.signal);
    }
  }

  private async watchOnce(nc: NatsConnection, bucket: string, onWatching: () => void): Promise<void> {
    const kv = await new Kvm(agentJetStream(nc)).open(bucket);
    const watch = await kv.watch({ key: Subjects.SNAPSHOT_KEY });
    this.stopWatch = () => watch.stop();
    onWatching();
    this.opts.log.info({ bucket, revision: this.opts.state.revision }, 'watching the config bucket');
    try {
      for await (const entry of watch) {
        if (this.abort.signal.aborted) break;
        await this.handle(entry);
      }
    } finally {
      this.stopWatch = undefined;
      watch.stop();
    }
  }

  private async handle(entry: KvEntry): Promise<void> {
    const { log, state } = this.opts;
    if (entry.operation !== 'PUT') {
      log.warn({ operation: entry.operation, kvRevision: entry.revision }, 'config key removed; the snapshot in force stays');
      return;
    }
    let text: string;
    try {
      text = await decodeSnapshotValueAsync(entry.value);
    } catch (error) {
      this.refused(0, error instanceof Error ? `malformed: ${error.message}` : 'malformed');
      return;
    }
    const claimed = claimedRevision(text);
    if (claimed !== undefined && state.ready && claimed < state.revision) {
      log.debug({ revision: claimed, inForce: state.revision }, 'config value older than the snapshot in force: nothing to do');
      return;
    }
    // A throw here is not a verdict on the snapshot (e.g. the state dir is full): it ends this watch, and the
    // re-created one offers the latest value again.
    const result: ApplyResult = await this.opts.applier.offerText(text, 'nats');
    if (!result.applied) {
      this.refused(result.revision, `${result.code}: ${result.reason}`);
      const value = this.opts.onValueRefused === undefined ? undefined : refusedValueOf(result.code, result.reason, text);
      if (value !== undefined) this.opts.onValueRefused?.(result.revision, value);
    }
  }

  private refused(revision: number, reason: string): void {
    this.opts.onRefused(revision, reason.slice(0, 500));
  }
}
