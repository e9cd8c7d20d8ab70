import type { SiteSnapshot } from '@fedpbx/contracts';
import { SnapshotRejectedError, verifySnapshot, type VerifyingKey } from '@fedpbx/signing';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { RoutingState } from './routing-state.js';
import type { SnapshotStore } from './snapshot-store.js';

export type ApplyResult =
  | { readonly applied: true; readonly revision: number; readonly contentHash: string; readonly unchanged: boolean }
  | { readonly applied: false; readonly revision: number; readonly code: string; readonly reason: string };

/** Something that must follow an applied snapshot before the next one is applied (Asterisk config files): awaited. */
export type ApplyHook = (snapshot: SiteSnapshot) => Promise<void>;

/**
 * Told of every applied snapshot once the awaited hooks are done; started, not awaited (a link re-read, the
 * WireGuard mesh, the recording sweep must not hold up the next apply). Must not throw and its work must not reject.
 */
export type ApplyListener = (snapshot: SiteSnapshot) => void;

/**
 * The one way a snapshot comes into force: verify (shape, site, hash, signature), refuse anything not newer than
 * what is in force, store it atomically, then swap it into the routing state. A refused snapshot changes
 * nothing: the last-known-good stays.
 */
export class SnapshotApplier {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly hooks: ApplyHook[] = [];
  private readonly listeners: ApplyListener[] = [];

  constructor(
    private readonly siteId: string,
    private readonly keys: readonly VerifyingKey[],
    private readonly store: SnapshotStore,
    private readonly state: RoutingState,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
  ) {}

  addHook(hook: ApplyHook): void {
    this.hooks.push(hook);
  }

  onApplied(listener: ApplyListener): void {
    this.listeners.push(listener);
  }

  /**
   * Offers have to be applied in order; concurrent offers are serialised. `text`, when the caller has it, is the
   * JSON text `raw` was parsed from: its config bytes are hashed as they are, and it is what gets stored.
   */
  offer(raw: unknown, source: string, text?: string): Promise<ApplyResult> {
    const next = this.chain.then(() => this.apply(raw, source, text));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async apply(raw: unknown, source: string, text: string | undefined): Promise<ApplyResult> {
    const claimed = typeof raw === 'object' && raw !== null && 'revision' in raw && typeof raw.revision === 'number' ? raw.revision : 0;
    let snapshot: SiteSnapshot;
    try {
      snapshot = verifySnapshot(raw, this.siteId, this.keys, text !== undefined ? { receivedText: text } : {});
    } catch (error) {
      if (!(error instanceof SnapshotRejectedError)) throw error;
      return this.refuse(claimed, error.code, error.message, source);
    }
    const current = this.state.snapshot;
    if (current !== undefined && snapshot.revision <= current.revision) {
      if (snapshot.revision === current.revision && snapshot.contentHash === current.contentHash) {
        return { applied: true, revision: snapshot.revision, contentHash: snapshot.contentHash, unchanged: true };
      }
      return this.refuse(snapshot.revision, 'stale-revision', `revision ${snapshot.revision} is not newer than ${current.revision} in force`, source);
    }
    await this.store.save(snapshot, text);
    this.state.apply(snapshot);
    this.metrics.snapshotApplied(snapshot);
    this.log.info({ revision: snapshot.revision, contentHash: snapshot.contentHash, source }, 'snapshot applied');
    for (const hook of this.hooks) {
      try {
        await hook(snapshot);
      } catch (error) {
        this.log.error({ err: error, revision: snapshot.revision }, 'post-apply step failed; routing uses the new snapshot');
      }
    }
    for (const listener of this.listeners) listener(snapshot);
    return { applied: true, revision: snapshot.revision, contentHash: snapshot.contentHash, unchanged: false };
  }

  private refuse(revision: number, code: string, reason: string, source: string): ApplyResult {
    this.metrics.snapshotRefused(code);
    this.log.warn({ revision, code, reason, source }, 'snapshot refused; last-known-good stays in force');
    return { applied: false, revision, code, reason };
  }
}
