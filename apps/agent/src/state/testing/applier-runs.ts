// Test support (not built): an agent restarted on what its store holds, and what calls see while an apply runs.
import { pino } from 'pino';
import type { SiteSnapshot } from '@fedpbx/contracts';
import type { VerifyingKey } from '@fedpbx/signing';
import { AgentMetrics } from '../../metrics/agent-metrics.js';
import { RoutingState } from '../routing-state.js';
import { SnapshotApplier } from '../snapshot-applier.js';
import { SnapshotStore } from '../snapshot-store.js';

/**
 * A new agent process on `dir`: the store's last-known-good (a stored pair) compiled at start and an applier
 * resumed from it, as the agent's start does; `applied` collects what it applies next.
 */
export async function restartOnStoredPair(dir: string, siteId: string, keys: readonly VerifyingKey[]) {
  const store = new SnapshotStore(dir, siteId, keys, 3);
  const loaded = await store.loadLastKnownGood();
  if (loaded?.pair === undefined) throw new Error(`no stored pair in ${dir}`);
  const state = new RoutingState();
  state.apply(loaded.snapshot);
  const applier = new SnapshotApplier(siteId, keys, store, state, new AgentMetrics(false), pino({ level: 'silent' }));
  applier.resume(loaded.pair);
  const applied: SiteSnapshot[] = [];
  applier.onApplied((snapshot) => applied.push(snapshot as SiteSnapshot));
  return { store, loaded, state, applier, applied };
}

/** `run`'s result, and the revision in force at each turn of the event loop while it ran (what a call would route on). */
export async function revisionsSeenWhile<T>(state: RoutingState, run: () => Promise<T>): Promise<{ result: T; seen: number[] }> {
  let done = false;
  const seen: number[] = [];
  const turn = (): void => {
    seen.push(state.revision);
    if (!done) setImmediate(turn);
  };
  setImmediate(turn);
  try {
    return { result: await run(), seen };
  } finally {
    done = true;
  }
}
