import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { canonicalJson } from '@fedpbx/contracts';
import { foundingScenario } from '@fedpbx/dialplan';
import { generateSigningKey, signBuiltConfig, signSnapshot } from '@fedpbx/signing';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { describe, expect, it, vi } from 'vitest';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { RoutingState } from './routing-state.js';
import { SnapshotApplier } from './snapshot-applier.js';
import { SnapshotStore } from './snapshot-store.js';
import { replaceStored, storedBytes } from './testing/stored-snapshots.js';

const key = generateSigningKey('controller-1');
const fed = foundingScenario();
const snap = (revision: number, site = 'piter') => signSnapshot(buildSiteConfig(fed, site), revision, key, new Date('2026-11-26T09:00:00Z'));
const silent = pino({ level: 'silent' });

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-store-'));
  const store = new SnapshotStore(dir, 'piter', [key], 3);
  await store.init();
  const state = new RoutingState();
  const metrics = new AgentMetrics(false);
  const applier = new SnapshotApplier('piter', [key], store, state, metrics, silent);
  return { dir, store, state, metrics, applier };
}

describe('snapshot store and applier', () => {
  it('applies a verified snapshot, stores it, and a new store finds it again', async () => {
    const { dir, applier, state } = await setup();
    expect(await applier.offer(snap(1), 'test')).toMatchObject({ applied: true, revision: 1 });
    expect(state.revision).toBe(1);
    const again = new SnapshotStore(dir, 'piter', [key]);
    expect((await again.loadLastKnownGood())?.snapshot.revision).toBe(1);
  });

  it('refuses a bad signature, a wrong hash, another site and an older revision; the last-known-good stays', async () => {
    const { applier, state, store, metrics } = await setup();
    await applier.offer(snap(5), 'test');
    const forged = { ...snap(6), revision: 7 };
    const tampered = structuredClone(snap(8));
    tampered.config.extensions[0]!.displayName = 'Mallory';
    const results = [
      await applier.offer(forged, 'test'),
      await applier.offer(tampered, 'test'),
      await applier.offer(snap(9, 'moscow'), 'test'),
      await applier.offer(snap(4), 'test'),
      await applier.offer('not json at all', 'test'),
    ];
    expect(results.map((r) => (r.applied ? 'applied' : r.code))).toEqual(['bad-signature', 'hash-mismatch', 'wrong-site', 'stale-revision', 'malformed']);
    expect(state.revision).toBe(5);
    expect(await store.revisions()).toEqual([5]);
    const refused = await metrics.registry.getSingleMetricAsString('fedpbx_rejected_inputs_total');
    expect(refused).toContain('reason="snapshot-bad-signature"} 1');
  });

  it('runs the awaited hooks, then tells the listeners, of each applied snapshot only', async () => {
    const { applier } = await setup();
    const order: string[] = [];
    applier.addHook(async (s) => {
      await new Promise((r) => setTimeout(r, 5));
      order.push(`hook ${s.revision}`);
    });
    applier.onApplied((s) => order.push(`listener ${s.revision}`));
    await applier.offer(snap(1), 'test');
    await applier.offer(snap(1), 'test');
    await applier.offer(snap(2, 'moscow'), 'test');
    expect(order).toEqual(['hook 1', 'listener 1']);
  });

  it('re-offering the snapshot in force is a no-op, not a refusal', async () => {
    const { applier } = await setup();
    const s = snap(2);
    await applier.offer(s, 'test');
    expect(await applier.offer(s, 'test')).toMatchObject({ applied: true, unchanged: true });
  });

  it('answers the snapshot in force, offered again as text, from its verified envelope; other bytes get the full check', async () => {
    const { applier, metrics } = await setup();
    const text = signBuiltConfig(buildSiteConfig(fed, 'piter'), 2, key, new Date('2026-11-26T09:00:00Z')).json;
    // In force from the bootstrap file (parsed there), then delivered by the bucket, as at every watch start: no
    // part of the config's text is parsed again.
    expect(await applier.offer(JSON.parse(text), 'bootstrap')).toMatchObject({ applied: true, unchanged: false });
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(await applier.offerText(text, 'nats')).toMatchObject({ applied: true, revision: 2, unchanged: true });
      expect(parse.mock.calls.filter(([arg]) => typeof arg === 'string' && arg.length > 1000)).toEqual([]);
    } finally {
      parse.mockRestore();
    }
    // The same revision and declared hash over other bytes is not taken for it: refused, and counted.
    const tampered = text.replace('"displayName":"', '"displayName":"Evil ');
    expect(await applier.offerText(tampered, 'nats')).toMatchObject({ applied: false, code: 'hash-mismatch' });
    expect(await metrics.registry.getSingleMetricAsString('fedpbx_rejected_inputs_total')).toContain('reason="snapshot-hash-mismatch"} 1');
  });

  it('skips a damaged newest record and falls back to the newest snapshot that verifies', async () => {
    const { dir, applier, store } = await setup();
    await applier.offer(snap(1), 'test');
    await applier.offer(snap(2), 'test');
    // Checksum made to match: only the signature check stands in the way.
    await replaceStored(dir, 2, Buffer.from((await storedBytes(dir, 2)).toString('utf8').replace('"displayName":"', '"displayNamf":"')));
    const loaded = await store.loadLastKnownGood();
    expect(loaded?.snapshot.revision).toBe(1);
    expect(loaded?.skipped[0]).toMatchObject({ file: expect.stringContaining('applied-1.journal@'), reason: expect.stringMatching(/hash/) });
  });

  it('keeps between historyLimit and twice that many revisions, in two journal files at most, no temporary files', async () => {
    const { dir, applier, store } = await setup();
    for (let r = 1; r <= 6; r++) await applier.offer(snap(r), 'test');
    expect(await store.revisions()).toEqual([6, 5, 4, 3, 2, 1]);
    await applier.offer(snap(7), 'test');
    expect(await store.revisions()).toEqual([7, 6, 5, 4]);
    for (let r = 8; r <= 10; r++) await applier.offer(snap(r), 'test');
    expect(await store.revisions()).toEqual([10, 9, 8, 7]);
    expect(readdirSync(join(dir, 'snapshots')).sort()).toEqual(['applied-3.journal', 'applied-4.journal']);
    expect((await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood())?.snapshot.revision).toBe(10);
  });

  it('boots an agent upgraded from the file-per-revision build from its files, then journals over them, files left for a downgrade', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-store-upgrade-'));
    // As the build before the journal stored them: snapshots/<revision>.json, the canonical text.
    mkdirSync(join(dir, 'snapshots'), { mode: 0o750 });
    for (const r of [3, 4]) writeFileSync(join(dir, 'snapshots', `${r}.json`), canonicalJson(snap(r)), { mode: 0o640 });
    const store = new SnapshotStore(dir, 'piter', [key], 3);
    await store.init();
    const loaded = await store.loadLastKnownGood();
    expect(loaded?.snapshot.revision).toBe(4);
    const state = new RoutingState();
    state.apply(loaded!.snapshot);
    const applier = new SnapshotApplier('piter', [key], store, state, new AgentMetrics(false), silent);
    expect(await applier.offer(snap(5), 'test')).toMatchObject({ applied: true, revision: 5 });
    await store.close();
    expect(await store.revisions()).toEqual([5, 4, 3]);
    expect(readdirSync(join(dir, 'snapshots')).sort()).toEqual(['3.json', '4.json', 'applied-1.journal']);
    expect((await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood())?.snapshot.revision).toBe(5);
    // Its record damaged on disk: the newest file is the last-known-good.
    const bytes = await storedBytes(dir, 5);
    bytes[100] = (bytes[100] as number) ^ 0x04;
    await replaceStored(dir, 5, bytes, { checksum: false });
    const fallback = await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood();
    expect(fallback?.snapshot.revision).toBe(4);
    expect(fallback?.skipped).toEqual([{ file: expect.stringContaining('applied-1.journal@0'), reason: expect.stringMatching(/checksum/) }]);
  });

  it('stores with the modes of the state dir: directory 0750, journal 0640', async () => {
    const { dir, applier, store } = await setup();
    const umask = process.umask(0o002);
    try {
      await applier.offer(snap(1), 'test');
    } finally {
      process.umask(umask);
    }
    await store.close();
    expect(statSync(join(dir, 'snapshots')).mode & 0o777).toBe(0o750);
    expect(statSync(join(dir, 'snapshots', 'applied-1.journal')).mode & 0o777).toBe(0o640);
  });
});
