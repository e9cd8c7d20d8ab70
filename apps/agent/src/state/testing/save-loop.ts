// Child process for snapshot-store.crash.spec.ts (test support, not built): applies snapshot after snapshot to a state dir until killed.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { SiteSnapshot } from '@fedpbx/contracts';
import { importPublicKey } from '@fedpbx/signing';
import { AgentMetrics } from '../../metrics/agent-metrics.js';
import { RoutingState } from '../routing-state.js';
import { SnapshotApplier } from '../snapshot-applier.js';
import { SnapshotStore } from '../snapshot-store.js';

const [stateDir, snapshotsFile, pemFile] = process.argv.slice(2) as [string, string, string];
const snapshots = JSON.parse(readFileSync(snapshotsFile, 'utf8')) as SiteSnapshot[];
const keys = [importPublicKey('controller-1', readFileSync(pemFile, 'utf8'))];
const store = new SnapshotStore(stateDir, 'moscow', keys, 5);
const applier = new SnapshotApplier('moscow', keys, store, new RoutingState(), new AgentMetrics(false), pino({ level: 'silent' }));
await store.init();
const existing = await store.loadLastKnownGood();
// Revisions 1..N, each signed by the controller; carry on after the one in force. 'ready' once one is stored
// (on a loaded machine the first kill could otherwise come before anything was ever stored).
const rest = snapshots.slice(existing?.snapshot.revision ?? 0);
if (existing === undefined && rest[0] !== undefined) await applier.offer(rest.shift(), 'loop');
process.stdout.write('ready\n');
// Each revision reported once the applier returns (as the agent acks it): the parent checks it survives the kill.
for (const s of rest) {
  const result = await applier.offer(s, 'loop');
  if (result.applied) process.stdout.write(`applied ${result.revision}\n`);
}
