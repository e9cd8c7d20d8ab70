import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { SiteSnapshot } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, generateFederation, siteIdOf } from '@fedpbx/dialplan';
import { checkSitePartSteps, encodeSnapshotValue, generateSigningKey, runSteps, SiteConfigAssembler, signSnapshot, signSplitSnapshot, verifySharedSteps, verifySitePartSteps } from '@fedpbx/signing';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { RoutingState } from './routing-state.js';
import { SnapshotApplier } from './snapshot-applier.js';
import { SnapshotStore } from './snapshot-store.js';
import { restartOnStoredPair, revisionsSeenWhile } from './testing/applier-runs.js';
import { replaceStored, storedBytes } from './testing/stored-snapshots.js';

const key = generateSigningKey('controller-1');
const at = new Date('2026-12-07T03:00:00Z');
const piter = buildSiteConfig(foundingScenario(), 'piter');
const split = (revision: number, config = piter, sharedRevision = revision) => signSplitSnapshot(config, revision, sharedRevision, key, at);
/** piter's config with one more number range: a plan-wide change (the shared part changes). */
const withRange = (id: string) => ({ ...piter, federation: { ...piter.federation, numberRanges: [...piter.federation.numberRanges, { id, siteId: 'piter', from: '700', to: '709' }] } });

async function setup(siteId = 'piter') {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-split-'));
  const store = new SnapshotStore(dir, siteId, [key], 3);
  await store.init();
  const state = new RoutingState();
  const applier = new SnapshotApplier(siteId, [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }));
  // The snapshot as applied (the routing state keeps the extensions compact, not in its config). Read here without
  // an extension reader, its extensions are the list they were read into.
  const applied: SiteSnapshot[] = [];
  applier.onApplied((snapshot) => applied.push(snapshot as SiteSnapshot));
  return { dir, store, state, applier, applied };
}

describe('format 2: a site part and the shared part it names', () => {
  it('applies the pair as the site config buildSiteConfig gives, stores it as one file, and boots from it', async () => {
    const { dir, applier, applied } = await setup();
    const s = split(3);
    expect(await applier.offerShared(s.sharedText, 'test')).toMatchObject({ accepted: true, contentHash: s.sharedHash });
    expect(await applier.offerText(s.siteText, 'test')).toMatchObject({ applied: true, revision: 3, unchanged: false });
    expect(applied.at(-1)?.config).toEqual(piter);
    expect((await storedBytes(dir, 3)).toString('utf8')).toBe(`${s.siteText}\n${s.sharedText}`);
    const booted = await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood();
    expect(booted?.snapshot.revision).toBe(3);
    expect(booted?.snapshot.config).toEqual(piter);
    // The same site part again (a watch restart) is known by its envelope.
    expect(await applier.offerText(s.siteText, 'test')).toMatchObject({ applied: true, unchanged: true });
  });

  it('a site part whose shared part has not come waits, the last-known-good in force; it applies when the shared part comes', async () => {
    const { applier, state } = await setup();
    const first = split(1);
    await applier.offerShared(first.sharedText, 'test');
    await applier.offerText(first.siteText, 'test');
    const next = split(2, withRange('nr-new'));
    expect(next.sharedHash).not.toBe(first.sharedHash);
    expect(await applier.offerText(next.siteText, 'test')).toMatchObject({ applied: false, code: 'shared-missing', revision: 2, waitingFor: next.sharedHash });
    expect(state.revision).toBe(1);
    expect(await applier.offerShared(next.sharedText, 'test')).toMatchObject({ accepted: true, applied: { applied: true, revision: 2 } });
    expect(state.snapshot?.config.federation.numberRanges.map((r) => r.id)).toContain('nr-new');
  });

  it("a site part naming another revision's shared part waits while the newest shared part is held", async () => {
    const { applier, state } = await setup();
    const old = split(1);
    const newer = split(2, withRange('nr-newer'));
    await applier.offerShared(newer.sharedText, 'test');
    // The site part of revision 1 names the older shared part, which this agent never got.
    expect(await applier.offerText(old.siteText, 'test')).toMatchObject({ applied: false, code: 'shared-missing' });
    expect(state.ready).toBe(false);
    expect(await applier.offerText(newer.siteText, 'test')).toMatchObject({ applied: true, revision: 2 });
  });

  it('refuses a tampered shared part and one signed by another key; a site part altered to name another shared part', async () => {
    const { applier, state } = await setup();
    const good = split(4);
    const tampered = good.sharedText.replace('["numberRanges",[', '["numberRanges",[{"from":"900","id":"nr-evil","siteId":"piter","to":"999"},');
    expect(tampered).not.toBe(good.sharedText);
    expect(await applier.offerShared(tampered, 'test')).toMatchObject({ accepted: false, code: 'hash-mismatch' });
    const forged = signSplitSnapshot(piter, 4, 4, generateSigningKey('controller-1'), at);
    expect(await applier.offerShared(forged.sharedText, 'test')).toMatchObject({ accepted: false, code: 'bad-signature' });
    // Neither was kept: the good site part still waits for its own.
    expect(await applier.offerText(good.siteText, 'test')).toMatchObject({ applied: false, code: 'shared-missing' });
    expect(state.ready).toBe(false);
    // Naming another shared part breaks the site part's hash (its signature covers the reference).
    const renamed = good.siteText.replace(good.sharedHash, `sha256:${'0'.repeat(64)}`);
    expect(await applier.offerText(renamed, 'test')).toMatchObject({ applied: false, code: 'hash-mismatch' });
    expect(await applier.offerShared(good.sharedText, 'test')).toMatchObject({ accepted: true, applied: { applied: true, revision: 4 } });
    expect(state.revision).toBe(4);
  });

  it('a plan-wide change reads only what changed: the site directory and the extensions stay the same objects', async () => {
    const { applier, applied } = await setup();
    const a = split(1);
    await applier.offerShared(a.sharedText, 'test');
    await applier.offerText(a.siteText, 'test');
    const before = applied.at(-1)?.config;
    const b = split(2, withRange('nr-b'));
    await applier.offerShared(b.sharedText, 'test');
    await applier.offerText(b.siteText, 'test');
    const after = applied.at(-1)?.config;
    expect(after?.federation.numberRanges.map((r) => r.id)).toContain('nr-b');
    expect(after?.federation.sites).toBe(before?.federation.sites);
    expect(after?.extensions).toBe(before?.extensions);
    expect(after?.outboundRoutes).toBe(before?.outboundRoutes);
    expect(after?.federation.numberRanges).not.toBe(before?.federation.numberRanges);
  });

  it('checks each part\'s signature once per apply, and a site part that waited for its shared part too', async () => {
    /** The verifying keys, counting the signatures checked (each check looks its key up once). */
    class CountingKeys extends Array<typeof key> {
      looked = 0;
      override find(...args: Parameters<Array<typeof key>['find']>): ReturnType<Array<typeof key>['find']> {
        this.looked++;
        return super.find(...args);
      }
    }
    const keys = new CountingKeys();
    keys.push(key);
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-split-'));
    const store = new SnapshotStore(dir, 'piter', [key], 3);
    await store.init();
    const applier = new SnapshotApplier('piter', keys, store, new RoutingState(), new AgentMetrics(false), pino({ level: 'silent' }));
    const a = split(1);
    await applier.offerShared(a.sharedText, 'test');
    expect(keys.looked).toBe(1);
    expect(await applier.offerText(a.siteText, 'test')).toMatchObject({ applied: true, revision: 1 });
    expect(keys.looked).toBe(2);
    const b = split(2, withRange('nr-b'));
    expect(await applier.offerText(b.siteText, 'test')).toMatchObject({ applied: false, code: 'shared-missing' });
    expect(await applier.offerShared(b.sharedText, 'test')).toMatchObject({ accepted: true, applied: { applied: true, revision: 2 } });
    expect(keys.looked).toBe(4);
  });

  it('stores the pair as the compressed values it came in, which read back as the pair text, and boots from it', async () => {
    const { dir, applier, state } = await setup();
    const pairOf = (r: number) => {
      const s = split(r, withRange(`nr-${r}`));
      return { ...s, sharedValue: encodeSnapshotValue(s.sharedText), siteValue: encodeSnapshotValue(s.siteText) };
    };
    const a = pairOf(1);
    await applier.offerShared(a.sharedText, 'test', a.sharedValue);
    expect(await applier.offerText(a.siteText, 'test', a.siteValue)).toMatchObject({ applied: true, revision: 1 });
    const file = await storedBytes(dir, 1);
    expect(file.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(file.length).toBeLessThan(a.siteText.length + a.sharedText.length);
    expect(gunzipSync(file).toString('utf8')).toBe(`${a.siteText}\n${a.sharedText}`);
    // A site part that came uncompressed is stored beside the compressed shared part all the same.
    const b = pairOf(2);
    await applier.offerShared(b.sharedText, 'test', b.sharedValue);
    expect(await applier.offerText(b.siteText, 'test', new TextEncoder().encode(b.siteText))).toMatchObject({ applied: true, revision: 2 });
    expect(gunzipSync(await storedBytes(dir, 2)).toString('utf8')).toBe(`${b.siteText}\n${b.sharedText}`);
    const booted = await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood();
    expect(booted?.snapshot.revision).toBe(2);
    expect(booted?.text).toBe(`${b.siteText}\n${b.sharedText}`);
    expect(booted?.snapshot.config).toEqual(withRange('nr-2'));
    expect(state.revision).toBe(2);
    // A damaged compressed record is skipped for the older good one.
    const damaged = await storedBytes(dir, 2);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 20) ^ 0xff, damaged.length - 20);
    await replaceStored(dir, 2, damaged);
    const fallback = await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood();
    expect(fallback?.snapshot.revision).toBe(1);
    expect(fallback?.skipped).toHaveLength(1);
  });

  it('an agent upgraded from format 1 boots from its stored format-1 snapshot, then takes format 2 over it', async () => {
    const { dir, applier } = await setup();
    expect(await applier.offer(signSnapshot(piter, 5, key, at), 'test')).toMatchObject({ applied: true, revision: 5 });
    const store = new SnapshotStore(dir, 'piter', [key], 3);
    const loaded = await store.loadLastKnownGood();
    expect(loaded?.snapshot.revision).toBe(5);
    expect(loaded?.snapshot.config).toEqual(piter);
    const state = new RoutingState();
    state.apply(loaded!.snapshot);
    const upgraded = new SnapshotApplier('piter', [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }));
    const s = split(6);
    await upgraded.offerShared(s.sharedText, 'test');
    expect(await upgraded.offerText(s.siteText, 'test')).toMatchObject({ applied: true, revision: 6 });
    expect(await store.revisions()).toEqual([6, 5]);
    expect((await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood())?.snapshot.revision).toBe(6);
  });

  describe('a large site part (6,000 extensions, 1.2 MB: over a step of the scan and the hash)', () => {
    const bigId = siteIdOf(0);
    const big = buildSiteConfig(generateFederation({ sites: 2, extensionsPerSite: 6000, flows: 0 }), bigId);
    const renamed = { ...big, extensions: big.extensions.map((e, i) => (i === 0 ? { ...e, displayName: 'Renamed' } : e)) };

    it('is checked (scan, hash, signature) in steps, once: the content is read from what the check found', () => {
      const s = signSplitSnapshot(big, 2, 1, key, at);
      const steps = checkSitePartSteps(s.siteText, bigId, [key]);
      let yields = 0;
      let r = steps.next();
      for (; r.done !== true; r = steps.next()) yields += 1;
      const named = r.value;
      expect(yields).toBeGreaterThanOrEqual(2); // a step of the scan and one of the hash at least
      expect(named?.sharedHash).toBe(s.sharedHash);
      const shared = runSteps(verifySharedSteps(s.sharedText, [key]));
      const once = runSteps(verifySitePartSteps(s.siteText, bigId, [key], shared, new SiteConfigAssembler(), undefined, named?.checked));
      const again = runSteps(verifySitePartSteps(s.siteText, bigId, [key], shared, new SiteConfigAssembler()));
      expect(once.snapshot).toEqual(again.snapshot);
      expect(once.snapshot.config).toEqual(big);
      // A tampered text fails the check as it did in one piece.
      const tampered = s.siteText.replace('"displayName":"', '"displayName":"Evil ');
      expect(() => runSteps(checkSitePartSteps(tampered, bigId, [key]))).toThrow(/content hash/);
    });

    it('calls route on the site in force while it is checked and read, the event loop turning throughout; then it is in force', async () => {
      const { applier, state } = await setup(bigId);
      const first = signSplitSnapshot(big, 1, 1, key, at);
      await applier.offerShared(first.sharedText, 'test');
      expect(await applier.offerText(first.siteText, 'test')).toMatchObject({ applied: true, revision: 1 });
      const next = signSplitSnapshot(renamed, 2, 1, key, at);
      const { result, seen } = await revisionsSeenWhile(state, () => applier.offerText(next.siteText, 'test'));
      expect(result).toMatchObject({ applied: true, revision: 2 });
      // The check's steps, the extensions' six slices and the compile's: many turns, all of them on revision 1.
      expect(seen.length).toBeGreaterThanOrEqual(8);
      expect(new Set(seen)).toEqual(new Set([1]));
      expect(state.revision).toBe(2);
      expect(state.site.extensions.get(renamed.extensions[0]!.number)?.displayName).toBe('Renamed');
    });
  });

  it('after a restart on the stored pair, the first change reads only what changed and keeps what the start compiled', async () => {
    const { dir, applier } = await setup();
    const a = split(1);
    await applier.offerShared(a.sharedText, 'test');
    await applier.offerText(a.siteText, 'test');
    // A new agent process: the store's pair compiled at start, the applier resumed from it.
    const { store, loaded, state, applier: restarted, applied } = await restartOnStoredPair(dir, 'piter', [key]);
    expect(loaded.pair?.siteParts.values.has('outboundRoutes')).toBe(true);
    const booted = state.site;
    // The bus delivers the shared part in force again, then a change of one extension.
    expect(await restarted.offerShared(a.sharedText, 'test')).toMatchObject({ accepted: true });
    const renamed = { ...piter, extensions: piter.extensions.map((e, i) => (i === 0 ? { ...e, displayName: 'Renamed' } : e)) };
    expect(await restarted.offerText(split(2, renamed, 1).siteText, 'test')).toMatchObject({ applied: true, revision: 2 });
    expect(state.site).not.toBe(booted);
    expect(state.site.extensions.get(piter.extensions[0]!.number)?.displayName).toBe('Renamed');
    // The members that did not change are the objects the start read, so the compile took over its tries and plan.
    expect(applied[0]?.config.outboundRoutes).toBe(loaded.snapshot.config.outboundRoutes);
    expect(applied[0]?.config.federation).toBe(loaded.snapshot.config.federation);
    for (const kept of ['outbound', 'hopOff', 'inbound', 'plan', 'trunks'] as const) expect(state.site[kept], kept).toBe(booted[kept]);
    // Without resume (as before), the same change built them again.
    const state2 = new RoutingState();
    state2.apply((await store.loadLastKnownGood())!.snapshot);
    const fresh = new SnapshotApplier('piter', [key], new SnapshotStore(dir, 'piter', [key], 3), state2, new AgentMetrics(false), pino({ level: 'silent' }));
    const booted2 = state2.site;
    await fresh.offerShared(a.sharedText, 'test');
    expect(await fresh.offerText(split(3, renamed, 1).siteText, 'test')).toMatchObject({ applied: true, revision: 3 });
    expect(state2.site.outbound).not.toBe(booted2.outbound);
  });

  it('a damaged stored pair is skipped for the older good one', async () => {
    const { dir, applier } = await setup();
    for (const r of [1, 2]) {
      const s = split(r, withRange(`nr-${r}`));
      await applier.offerShared(s.sharedText, 'test');
      await applier.offerText(s.siteText, 'test');
    }
    await replaceStored(dir, 2, Buffer.from((await storedBytes(dir, 2)).toString('utf8').replace('nr-2', 'nr-X')));
    const loaded = await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood();
    expect(loaded?.snapshot.revision).toBe(1);
    expect(loaded?.skipped[0]?.reason).toMatch(/hash/);
  });
});
