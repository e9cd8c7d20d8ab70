import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { SiteConfig, SiteSnapshot } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { generateSigningKey, signPairedSnapshot, signSplitSnapshot, verifySnapshotTextInSlices, type SitePartRef } from '@fedpbx/signing';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { RoutingState } from './routing-state.js';
import { SnapshotApplier } from './snapshot-applier.js';
import { SnapshotStore } from './snapshot-store.js';
import { storedBytes } from './testing/stored-snapshots.js';

const key = generateSigningKey('controller-1');
const at = new Date('2026-12-07T03:00:00Z');
const piter = buildSiteConfig(foundingScenario(), 'piter');

/** piter's config with one more number range (a plan-wide change: only the shared part changes). */
const withRange = (config: SiteConfig, id: string): SiteConfig => ({
  ...config,
  federation: { ...config.federation, numberRanges: [...config.federation.numberRanges, { id, siteId: 'piter', from: '700', to: '709' }] },
});
/** piter's config with its first extension renamed (a site-only change: only the site part changes). */
const renamed = (config: SiteConfig, name: string): SiteConfig => ({ ...config, extensions: config.extensions.map((e, i) => (i === 0 ? { ...e, displayName: name } : e)) });

const MOSCOW_PART: SitePartRef = { id: 'moscow', contentHash: `sha256:${'ab'.repeat(32)}` };

/**
 * The parts of `config` as the controller would publish them at federation versions: the site part written at `site`
 * against shared revision `requires`, the shared part at `shared`, listing this very site part for piter (the
 * federation at version `shared` has piter's objects as `config` has them).
 */
function paired(config: SiteConfig, v: { site: number; requires: number; shared: number }) {
  return signPairedSnapshot(config, v.site, v.requires, v.shared, [{ id: 'piter', contentHash: 'self' }, MOSCOW_PART], key, at);
}

/** The config of the last snapshot applied (the routing state keeps extensions compact, not in its config). */
const last = (applied: readonly SiteSnapshot[]): SiteConfig => applied.at(-1)?.config as SiteConfig;

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-paired-'));
  const store = new SnapshotStore(dir, 'piter', [key], 3);
  await store.init();
  const state = new RoutingState();
  const applier = new SnapshotApplier('piter', [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }));
  // Read here without an extension reader, the snapshot's extensions are the list they were read into.
  const applied: SiteSnapshot[] = [];
  applier.onApplied((snapshot) => applied.push(snapshot as SiteSnapshot));
  return { dir, store, state, applier, applied };
}

/** An applier with the pair of version 1 (site part 1, shared part 1) in force. */
async function inForceAt1() {
  const t = await setup();
  const first = paired(piter, { site: 1, requires: 1, shared: 1 });
  await t.applier.offerSharedValue(first.sharedValue, 'test');
  expect(await t.applier.offerText(first.siteText, 'test')).toMatchObject({ applied: true, revision: 1 });
  return { ...t, first };
}

describe('paired format 4: parts that name each other by revision', () => {
  it('a plan-only write is one shared part: applied with the site part in force, stored as a pair, booted from', async () => {
    const { dir, applier, state, applied, first } = await inForceAt1();
    expect(applied.at(-1)?.config).toEqual(piter);
    // Version 2 changes the plan only: the controller puts the shared part and no site part.
    const plan = paired(withRange(piter, 'nr-2'), { site: 1, requires: 1, shared: 2 });
    expect(plan.siteText).toBe(first.siteText);
    expect(await applier.offerSharedValue(plan.sharedValue, 'test')).toMatchObject({ accepted: true, revision: 2, applied: { applied: true, revision: 2, unchanged: false } });
    expect(state.revision).toBe(2);
    expect(applied.at(-1)?.config).toEqual(withRange(piter, 'nr-2'));
    // The store holds the pair applied: the site part of version 1 with the shared part of version 2.
    expect(gunzipSync(await storedBytes(dir, 2)).toString('utf8')).toBe(`${first.siteText}\n${plan.sharedText}`);
    const booted = await new SnapshotStore(dir, 'piter', [key]).loadLastKnownGood();
    expect(booted?.snapshot.revision).toBe(2);
    expect(booted?.snapshot.config).toEqual(withRange(piter, 'nr-2'));
    // The same shared part again (a watch starting over) changes nothing.
    expect(await applier.offerSharedValue(plan.sharedValue, 'test')).toMatchObject({ accepted: true });
    expect(applied).toHaveLength(2);
  });

  it('a site-only write is one site part: applied with the shared part held', async () => {
    const { applier, applied } = await inForceAt1();
    const site = paired(renamed(piter, 'Only here'), { site: 2, requires: 1, shared: 1 });
    expect(await applier.offerText(site.siteText, 'test')).toMatchObject({ applied: true, revision: 2 });
    expect(last(applied).extensions[0]?.displayName).toBe('Only here');
    // The same site part again is known.
    expect(await applier.offerText(site.siteText, 'test')).toMatchObject({ applied: true, unchanged: true, revision: 2 });
  });

  it('site part first: it waits for the shared part it requires, the last-known-good in force', async () => {
    const { applier, state, applied } = await inForceAt1();
    // Version 2 changes piter's part and the shared part (a range and an extension at piter).
    const both = paired(renamed(withRange(piter, 'nr-2'), 'Both'), { site: 2, requires: 2, shared: 2 });
    expect(await applier.offerText(both.siteText, 'test')).toMatchObject({ applied: false, code: 'shared-missing', revision: 2, waitingFor: 'shared part revision 2 or newer' });
    expect(state.revision).toBe(1);
    expect(await applier.offerSharedValue(both.sharedValue, 'test')).toMatchObject({ accepted: true, applied: { applied: true, revision: 2 } });
    expect(last(applied)).toEqual(renamed(withRange(piter, 'nr-2'), 'Both'));
  });

  it('shared part first: it waits for the site part it was built beside, the last-known-good in force', async () => {
    const { applier, state, applied } = await inForceAt1();
    const both = paired(renamed(withRange(piter, 'nr-2'), 'Both'), { site: 2, requires: 2, shared: 2 });
    expect(await applier.offerSharedValue(both.sharedValue, 'test')).toMatchObject({ accepted: true, applied: { applied: false, code: 'site-part-missing', revision: 2 } });
    expect(state.revision).toBe(1);
    expect(last(applied)).toEqual(piter);
    expect(await applier.offerText(both.siteText, 'test')).toMatchObject({ applied: true, revision: 2 });
    expect(last(applied)).toEqual(renamed(withRange(piter, 'nr-2'), 'Both'));
  });

  it('a shared part newer than a site-only write still in flight waits for it: no pair of two versions is applied', async () => {
    const { applier, state, applied } = await inForceAt1();
    // Version 2: a site-only write (piter's part 2, against shared 1) - its put is slow.
    const siteOnly = paired(renamed(piter, 'Two'), { site: 2, requires: 1, shared: 1 });
    // Version 3: a plan change; its shared part lists piter's part of version 2, so part 1 with it would be no version's config.
    const plan = paired(withRange(renamed(piter, 'Two'), 'nr-3'), { site: 2, requires: 1, shared: 3 });
    expect(await applier.offerSharedValue(plan.sharedValue, 'test')).toMatchObject({ applied: { applied: false, code: 'site-part-missing' } });
    expect(state.revision).toBe(1);
    // The site part of version 2 comes: it pairs with the newest shared part, version 3's config.
    expect(await applier.offerText(siteOnly.siteText, 'test')).toMatchObject({ applied: true, revision: 3 });
    expect(last(applied)).toEqual(withRange(renamed(piter, 'Two'), 'nr-3'));
    expect(applied.map((s) => s.revision)).toEqual([1, 3]);
  });

  it('a site-only write newer than the newest shared part pairs with the one it was written against', async () => {
    const { applier, applied } = await inForceAt1();
    // Shared part 3 (a plan change, listing piter's part of version 2) came; that part has not.
    const plan3 = paired(withRange(renamed(piter, 'Two'), 'nr-3'), { site: 2, requires: 1, shared: 3 });
    await applier.offerSharedValue(plan3.sharedValue, 'test');
    // Version 4, a site-only write against shared 3, arrives before part 2 ever does: it pairs with shared 3.
    const four = paired(withRange(renamed(piter, 'Four'), 'nr-3'), { site: 4, requires: 3, shared: 3 });
    expect(await applier.offerText(four.siteText, 'test')).toMatchObject({ applied: true, revision: 4 });
    expect(last(applied)).toEqual(withRange(renamed(piter, 'Four'), 'nr-3'));
  });

  it('an older site part or shared part never replaces a newer pair', async () => {
    const { applier, state, first } = await inForceAt1();
    const two = paired(renamed(piter, 'Two'), { site: 2, requires: 1, shared: 1 });
    await applier.offerText(two.siteText, 'test');
    expect(await applier.offerText(first.siteText, 'test')).toMatchObject({ applied: false, code: 'stale-revision' });
    expect(state.revision).toBe(2);
    // Shared part 1 again: the pair (1, 2) is what is in force; nothing to do.
    expect(await applier.offerSharedValue(first.sharedValue, 'test')).toMatchObject({ accepted: true });
    expect(state.revision).toBe(2);
  });

  it('refuses a tampered site part, a tampered site-part list and a foreign key; the last-known-good stays', async () => {
    const { applier, state } = await inForceAt1();
    const next = paired(renamed(withRange(piter, 'nr-2'), 'Both'), { site: 2, requires: 2, shared: 2 });
    // The site part claiming it needs an older shared part than it was signed for.
    expect(await applier.offerText(next.siteText.replace('"requiresShared":2', '"requiresShared":1'), 'test')).toMatchObject({ applied: false, code: 'bad-signature' });
    // The shared part's list altered to name the site part in force (its chunk no longer hashes to the signed hash).
    const lowered = next.sharedText.replace(next.siteHash, paired(piter, { site: 1, requires: 1, shared: 1 }).siteHash);
    expect(lowered).not.toBe(next.sharedText);
    expect(await applier.offerShared(lowered, 'test')).toMatchObject({ accepted: false, code: 'hash-mismatch' });
    const forged = signPairedSnapshot(piter, 3, 1, 3, [{ id: 'piter', contentHash: 'self' }], generateSigningKey('controller-1'), at);
    expect(await applier.offerSharedValue(forged.sharedValue, 'test')).toMatchObject({ accepted: false, code: 'bad-signature' });
    expect(await applier.offerText(forged.siteText, 'test')).toMatchObject({ applied: false, code: 'bad-signature' });
    expect(state.revision).toBe(1);
  });

  it('after a restart on a stored pair, the next plan-only shared part is applied with the stored site part', async () => {
    const { dir, first } = await inForceAt1();
    const store = new SnapshotStore(dir, 'piter', [key], 3);
    const loaded = await store.loadLastKnownGood();
    expect(loaded?.snapshot.revision).toBe(1);
    const state = new RoutingState();
    state.apply(loaded!.snapshot);
    const restarted = new SnapshotApplier('piter', [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }));
    restarted.resume(loaded!.pair!);
    const applied: SiteSnapshot[] = [];
    restarted.onApplied((snapshot) => applied.push(snapshot as SiteSnapshot));
    // The site bucket delivers the part in force again: known.
    expect(await restarted.offerText(first.siteText, 'test')).toMatchObject({ applied: true, unchanged: true, revision: 1 });
    const plan = paired(withRange(piter, 'nr-2'), { site: 1, requires: 1, shared: 2 });
    expect(await restarted.offerSharedValue(plan.sharedValue, 'test')).toMatchObject({ applied: { applied: true, revision: 2 } });
    expect(last(applied)).toEqual(withRange(piter, 'nr-2'));
  });

  it('compatibility: takes the paired format over a format-2 pair in force and format 2 over a paired one', async () => {
    const { applier, applied } = await setup();
    const old = signSplitSnapshot(piter, 1, 1, key, at);
    await applier.offerShared(old.sharedText, 'test');
    expect(await applier.offerText(old.siteText, 'test')).toMatchObject({ applied: true, revision: 1 });
    // A format-3 shared part never pairs with a format-4 site part.
    const upgraded = paired(renamed(piter, 'New'), { site: 5, requires: 5, shared: 5 });
    expect(await applier.offerText(upgraded.siteText, 'test')).toMatchObject({ applied: false, code: 'shared-missing' });
    expect(await applier.offerSharedValue(upgraded.sharedValue, 'test')).toMatchObject({ applied: { applied: true, revision: 5 } });
    expect(last(applied).extensions[0]?.displayName).toBe('New');
    // A controller rolled back to format 2 publishes a newer revision: applied, and a later format-3 shared part
    // does not pair with the paired site part that is no longer in force.
    const back = signSplitSnapshot(piter, 6, 6, key, at);
    await applier.offerShared(back.sharedText, 'test');
    expect(await applier.offerText(back.siteText, 'test')).toMatchObject({ applied: true, revision: 6 });
    expect(last(applied)).toEqual(piter);
  });

  it('what an agent of format 2 does with the paired format: its site-snapshot path refuses it as `format`', async () => {
    // An agent before format 4 reads any format but 2 as a whole snapshot (format 1), whose check refuses the format
    // (and its shared path refuses shared format 4 as `format` too): it keeps its last-known-good.
    const p = paired(piter, { site: 1, requires: 1, shared: 1 });
    await expect(verifySnapshotTextInSlices(p.siteText, 'piter', [key], async () => undefined)).rejects.toMatchObject({ code: 'format' });
  });
});
