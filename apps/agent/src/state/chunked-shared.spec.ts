import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { Federation } from '@fedpbx/contracts';
import { buildSiteConfig, generateFederation, siteIdOf } from '@fedpbx/dialplan';
import { encodeSnapshotValue, generateSigningKey, signSplitSnapshot, sizedMember, sizedMembers } from '@fedpbx/signing';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { RoutingState } from './routing-state.js';
import { SnapshotApplier } from './snapshot-applier.js';
import { SnapshotStore } from './snapshot-store.js';
import { appendTornRecord, storedBytes } from './testing/stored-snapshots.js';

const key = generateSigningKey('controller-1');
const at = new Date('2026-12-07T09:30:00Z');
const base = generateFederation({ sites: 80, extensionsPerSite: 3, flows: 0 });
const siteId = siteIdOf(4);

/** The federation at `revision`: one range more per revision (a plan-wide change), each at another site. */
function federationAt(revision: number): Federation {
  const added = Array.from({ length: revision - 1 }, (_, k) => ({ id: `nr-w${k + 1}`, siteId: siteIdOf((k * 13 + 1) % 80), from: String(700_000 + k * 100), to: String(700_099 + k * 100) }));
  return { ...base, numberRanges: [...base.numberRanges, ...added] };
}

/** What the controller puts for `revision`: the chunked shared part's value and the site part's value. */
function published(revision: number) {
  const s = signSplitSnapshot(buildSiteConfig(federationAt(revision), siteId), revision, revision, key, at);
  return { ...s, siteValue: encodeSnapshotValue(s.siteText) };
}

async function agent(dir = mkdtempSync(join(tmpdir(), 'fedpbx-chunked-'))) {
  const store = new SnapshotStore(dir, siteId, [key], 5);
  await store.init();
  const state = new RoutingState();
  const applier = new SnapshotApplier(siteId, [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }));
  return { dir, store, state, applier };
}

/** Offers a revision as ConfigWatcher does: the shared value, then the site part. */
async function offer(applier: SnapshotApplier, p: ReturnType<typeof published>) {
  const shared = await applier.offerSharedValue(p.sharedValue, 'test');
  return { shared, site: await applier.offerText(p.siteText, 'test', p.siteValue) };
}

describe('the chunked shared part at the agent (format 3)', () => {
  it('applies each revision as buildSiteConfig gives it, stores the pair as the values it came in, and boots from it', async () => {
    const { dir, applier, state, store } = await agent();
    for (const revision of [1, 2, 3]) {
      const p = published(revision);
      expect((await offer(applier, p)).site).toMatchObject({ applied: true, revision });
      expect(gunzipSync(await storedBytes(dir, revision)).toString('utf8')).toBe(`${p.siteText}\n${p.sharedText}`);
    }
    expect(state.snapshot?.config.federation.numberRanges).toEqual(buildSiteConfig(federationAt(3), siteId).federation.numberRanges);
    await store.close();
    const booted = await new SnapshotStore(dir, siteId, [key]).loadLastKnownGood();
    expect(booted?.snapshot.revision).toBe(3);
    expect(booted?.snapshot.config).toEqual(buildSiteConfig(federationAt(3), siteId));
  });

  it('an agent offline across several revisions converges on the newest (it needs no revision in between)', async () => {
    const { applier, state, store } = await agent();
    await offer(applier, published(1));
    // Revisions 2-6 went by while it was away; the buckets hold revision 7 only.
    const latest = published(7);
    expect(await offer(applier, latest)).toMatchObject({ shared: { accepted: true, revision: 7 }, site: { applied: true, revision: 7 } });
    expect(state.snapshot?.config.federation.numberRanges).toEqual(buildSiteConfig(federationAt(7), siteId).federation.numberRanges);
    // A site part that comes before its shared part waits for it, and is applied when it comes.
    const next = published(8);
    expect(await applier.offerText(next.siteText, 'test', next.siteValue)).toMatchObject({ applied: false, code: 'shared-missing' });
    expect(await applier.offerSharedValue(next.sharedValue, 'test')).toMatchObject({ accepted: true, applied: { applied: true, revision: 8 } });
    await store.close();
  });

  it('refuses a shared part with a tampered chunk: the last-known-good stays in force and on disk', async () => {
    const { applier, state, store } = await agent();
    await offer(applier, published(1));
    const p = published(2);
    const members = sizedMembers(p.sharedValue) as Uint8Array[];
    const lines = p.sharedText.split('\n');
    // The chunk holding the new range, with a range of the attacker's added (compressed as the controller would).
    const at = lines.findIndex((l) => l.includes('nr-w1'));
    const evil = (lines[at] as string).replace('[{', '[{"from":"100","id":"evil","siteId":"site-0000","to":"199"},{');
    const tampered = Buffer.concat([...members.slice(0, at), sizedMember(`\n${evil}`), ...members.slice(at + 1)]);
    expect(await applier.offerSharedValue(tampered, 'test')).toMatchObject({ accepted: false, revision: 2, code: 'hash-mismatch' });
    expect(await applier.offerText(p.siteText, 'test', p.siteValue)).toMatchObject({ applied: false, code: 'shared-missing' });
    expect(state.revision).toBe(1);
    expect(await store.revisions()).toEqual([1]);
    // Garbage where the value should be is refused too, and the genuine value still applies after.
    expect(await applier.offerSharedValue(Buffer.concat([members[0] as Uint8Array, Buffer.from('garbage')]), 'test')).toMatchObject({ accepted: false, code: 'malformed' });
    expect(await applier.offerSharedValue(p.sharedValue, 'test')).toMatchObject({ accepted: true, applied: { applied: true, revision: 2 } });
    await store.close();
  });

  it('a restart in the middle of an apply (its file torn) boots from the one before and resumes: the next apply takes over its chunks', async () => {
    const first = await agent();
    await offer(first.applier, published(1));
    await offer(first.applier, published(2));
    await first.store.close();
    // Killed while writing revision 3: its record holds part of the pair.
    const p3 = published(3);
    const whole = Buffer.concat([p3.siteValue, p3.sharedValue]);
    await appendTornRecord(first.dir, 3, whole, whole.length >> 1);
    const again = await agent(first.dir);
    const loaded = await again.store.loadLastKnownGood();
    expect(loaded?.snapshot.revision).toBe(2);
    expect(loaded?.skipped).toHaveLength(1);
    again.state.apply(loaded!.snapshot);
    again.applier.resume(loaded!.pair!);
    const plan = again.state.site.plan;
    // Revision 3 comes again from the buckets: applied over what the boot read.
    expect(await offer(again.applier, p3)).toMatchObject({ shared: { accepted: true }, site: { applied: true, revision: 3 } });
    expect(again.state.snapshot?.config.federation.sites).toBe(loaded!.snapshot.config.federation.sites);
    expect(again.state.site.plan).not.toBe(plan);
    expect(again.state.snapshot?.config.federation.numberRanges).toEqual(buildSiteConfig(federationAt(3), siteId).federation.numberRanges);
    expect((await new SnapshotStore(first.dir, siteId, [key]).loadLastKnownGood())?.snapshot.revision).toBe(3);
    await again.store.close();
  });

  it('still applies what a controller before format 3 publishes (one shared text, format 2)', async () => {
    const { applier, state, store } = await agent();
    const s = signSplitSnapshot(buildSiteConfig(federationAt(2), siteId), 2, 2, key, at, 2);
    expect(await applier.offerShared(s.sharedText, 'test', s.sharedValue)).toMatchObject({ accepted: true });
    expect(await applier.offerText(s.siteText, 'test')).toMatchObject({ applied: true, revision: 2 });
    // And a chunked one after it.
    expect((await offer(applier, published(3))).site).toMatchObject({ applied: true, revision: 3 });
    expect(state.snapshot?.config.federation.numberRanges).toEqual(buildSiteConfig(federationAt(3), siteId).federation.numberRanges);
    await store.close();
  });
});
