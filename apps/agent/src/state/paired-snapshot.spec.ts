import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { canonicalJson, type SiteConfig, type SiteSnapshot } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, generateFederation, siteIdOf } from '@fedpbx/dialplan';
import { generateSigningKey, signPairedSitePartHash, signPairedSnapshot, signSplitSnapshot, verifySnapshotTextInSlices, type PairedSitePart, type SitePartRef } from '@fedpbx/signing';
import { describe, expect, it } from 'vitest';
import { joinedText } from '../asterisk-config/include-files.js';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { EXTENSION_READER_ALARM, workerExtensionReader, type ExtensionReader, type ExtensionReaderOptions } from './extension-reader.js';
import { RoutingState, type SnapshotInForce } from './routing-state.js';
import { SnapshotApplier, type ApplyResult } from './snapshot-applier.js';
import { SnapshotStore } from './snapshot-store.js';
import { restartOnStoredPair } from './testing/applier-runs.js';
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
  /** The text each apply's listener is given, made when it asks (joined from the pair's pieces). */
  const texts: (() => string)[] = [];
  applier.onApplied((snapshot, text) => {
    applied.push(snapshot as SiteSnapshot);
    texts.push(() => joinedText(text()));
  });
  return { dir, store, state, applier, applied, texts };
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
    const { dir, applier, state, applied, texts, first } = await inForceAt1();
    expect(applied.at(-1)?.config).toEqual(piter);
    // Version 2 changes the plan only: the controller puts the shared part and no site part.
    const plan = paired(withRange(piter, 'nr-2'), { site: 1, requires: 1, shared: 2 });
    expect(plan.siteText).toBe(first.siteText);
    expect(await applier.offerSharedValue(plan.sharedValue, 'test')).toMatchObject({ accepted: true, revision: 2, applied: { applied: true, revision: 2, unchanged: false } });
    expect(state.revision).toBe(2);
    expect(applied.at(-1)?.config).toEqual(withRange(piter, 'nr-2'));
    // The store holds the pair applied: the site part of version 1 with the shared part of version 2 - and the
    // listeners are given that text when they ask for it.
    expect(gunzipSync(await storedBytes(dir, 2)).toString('utf8')).toBe(`${first.siteText}\n${plan.sharedText}`);
    expect(texts.at(-1)?.()).toBe(`${first.siteText}\n${plan.sharedText}`);
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
    const { loaded, applier: restarted, applied } = await restartOnStoredPair(dir, 'piter', [key]);
    expect(loaded.snapshot.revision).toBe(1);
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

// A head office's paired site part: its extensions read in the worker (extension-reader.ts) as format 2's are. The
// worker runs the built extension-worker.js: build first (`npx nx run-many -t build --projects=@fedpbx/agent`).
const BUILT_WORKER = new URL('../../dist/state/extension-worker.js', import.meta.url);
const hqId = siteIdOf(0);
// 6,000 extensions: ~1.2 MB of site part, its extensions over REUSE_MAX_PART_BYTES.
const hq = buildSiteConfig(generateFederation({ sites: 2, extensionsPerSite: 6000, flows: 0 }), hqId);
const hqFirst = signPairedSnapshot(hq, 1, 1, 1, [{ id: hqId, contentHash: 'self' }], key, at);

/** hq's paired site part of revision 2 (requiring shared part 1) with its content made by `mutate`, signed. */
function hqPart(mutate: (part: PairedSitePart) => string): string {
  const part = JSON.parse(hqFirst.siteText.slice(hqFirst.siteText.indexOf(',"config":') + 10, -1)) as PairedSitePart;
  const json = mutate(part);
  const hash = `sha256:${createHash('sha256').update(json).digest('hex')}`;
  return `${signPairedSitePartHash(hqId, hash, 2, 1, key, at).head}${json}}`;
}
const hqExtension = (part: PairedSitePart, index: number, change: Record<string, unknown>): PairedSitePart => ({
  ...part,
  extensions: part.extensions.map((e, i) => (i === index ? ({ ...e, ...change } as PairedSitePart['extensions'][number]) : e)),
});

/**
 * An applier for hq with the pair of version 1 in force; `reader`: its extensions read in a worker (reads counted),
 * false: on the event loop.
 */
async function hqApplier(reader: ExtensionReaderOptions | false) {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-paired-hq-'));
  const store = new SnapshotStore(dir, hqId, [key], 3);
  await store.init();
  const state = new RoutingState();
  const reads = { started: 0, given: 0, cancelled: 0 };
  const inner = reader === false ? undefined : workerExtensionReader({ script: BUILT_WORKER, ...reader });
  const counted: ExtensionReader | undefined =
    inner === undefined
      ? undefined
      : () => {
          reads.started++;
          const read = inner();
          return { read: (...args) => (reads.given++, read.read(...args)), cancel: () => (reads.cancelled++, read.cancel()) };
        };
  const applier = new SnapshotApplier(hqId, [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }), counted);
  const applied: SnapshotInForce[] = [];
  applier.onApplied((snapshot) => applied.push(snapshot));
  await applier.offerSharedValue(hqFirst.sharedValue, 'test');
  const first = await applier.offerText(hqFirst.siteText, 'test');
  return { dir, store, state, applier, applied, reads, first };
}

/** The compiled table's rows, in its order: what routing reads. */
function tableRows(state: RoutingState): [string, string | undefined, unknown][] {
  const rows: [string, string | undefined, unknown][] = [];
  state.site.extensions.forEachExtension((n, endpoint) => rows.push([n, endpoint, state.site.extensions.get(n)]));
  return rows;
}

const outcome = (r: ApplyResult) => (r.applied ? { applied: true, revision: r.revision, contentHash: r.contentHash } : { applied: false, code: r.code, reason: r.reason });

describe('paired format 4: a head office\'s extensions read in the worker, as format 2\'s', () => {
  it('applies the pair with the worker\'s table: the config and table the event loop\'s read gives; a plan-only shared part reads nothing again', async () => {
    const here = await hqApplier(false);
    const worker = await hqApplier({});
    expect(worker.first).toEqual(here.first);
    expect(worker.first).toMatchObject({ applied: true, revision: 1 });
    // The paired path used the worker (one read, given the text) - not the event loop.
    expect(worker.reads).toEqual({ started: 1, given: 1, cancelled: 1 });
    expect(worker.state.site.extensions.size).toBe(6000);
    expect(tableRows(worker.state)).toEqual(tableRows(here.state));
    // Hooks and listeners get no extension objects (the table is what the worker built), the rest as the event loop's.
    const { extensionTable, ...config } = worker.applied.at(-1)?.config as SnapshotInForce['config'] & { extensionTable?: unknown };
    expect(extensionTable).toBe(worker.state.site.extensions);
    expect('extensions' in config).toBe(false);
    expect({ ...worker.applied.at(-1), config }).toEqual(here.state.snapshot);
    // A plan-only write: applied with the site part in force, its table taken over (no read, no extension object).
    const plan = signPairedSnapshot(withRange(hq, 'nr-hq'), 1, 1, 2, [{ id: hqId, contentHash: 'self' }], key, at);
    for (const t of [here, worker]) expect(await t.applier.offerSharedValue(plan.sharedValue, 'test')).toMatchObject({ applied: { applied: true, revision: 2 } });
    expect(worker.reads).toEqual({ started: 1, given: 1, cancelled: 1 });
    expect(worker.state.snapshot).toEqual(here.state.snapshot);
    expect(tableRows(worker.state)).toEqual(tableRows(here.state));
    // The stored pair boots to the same config as the event loop's (content taken as validated, as format 2's).
    const booted = await new SnapshotStore(worker.dir, hqId, [key]).loadLastKnownGood();
    expect(booted?.snapshot.revision).toBe(2);
    expect(booted?.snapshot.config).toEqual(withRange(hq, 'nr-hq'));
  }, 120_000);

  it('gives the event loop\'s verdicts for the same signed texts: valid, and refused at every member in the same order', async () => {
    // Each text, and whether the worker is given it (a member before the extensions is refused here first).
    const cases: Record<string, [(p: PairedSitePart) => string, boolean]> = {
      'a renamed extension (valid)': [(p) => canonicalJson(hqExtension(p, 0, { displayName: 'Renamed' })), true],
      'a number with a letter': [(p) => canonicalJson(hqExtension(p, 0, { number: '10a0' })), true],
      'a bad extension and a bad link after it: the extension is refused': [(p) => canonicalJson({ ...hqExtension(p, 5, { number: 'x' }), links: [{ bogus: true }] as unknown as PairedSitePart['links'] }), true],
      'a bad link only': [(p) => canonicalJson({ ...p, links: [{ bogus: true }] as unknown as PairedSitePart['links'] }), true],
      'a bad call flow (before the extensions) and a bad extension: the flow is refused': [
        (p) => canonicalJson({ ...hqExtension(p, 5, { number: 'x' }), callFlows: [{ id: 'f' }] as unknown as PairedSitePart['callFlows'] }),
        false,
      ],
      'extensions not JSON': [(p) => canonicalJson(p).replace('},{"displayName"', '},,{"displayName"'), true],
      'another site': [(p) => canonicalJson({ ...p, site: { ...p.site, id: 'elsewhere' } }), true],
    };
    for (const [name, [mutate, givenToWorker]] of Object.entries(cases)) {
      const text = hqPart(mutate);
      const here = await hqApplier(false);
      const worker = await hqApplier({});
      const expected = await here.applier.offerText(text, 'test');
      expect(outcome(await worker.applier.offerText(text, 'test')), name).toEqual(outcome(expected));
      expect(worker.reads, name).toEqual({ started: 2, given: givenToWorker ? 2 : 1, cancelled: 2 });
      expect(worker.state.revision, name).toBe(here.state.revision);
      expect(tableRows(worker.state), name).toEqual(tableRows(here.state));
    }
  }, 180_000);

  it('a site part that waits for its shared part ends its worker; the one read when the shared part comes is the worker\'s', async () => {
    const t = await hqApplier({});
    const next = signPairedSnapshot(renamed(hq, 'Waited'), 3, 3, 3, [{ id: hqId, contentHash: 'self' }], key, at);
    expect(await t.applier.offerText(next.siteText, 'test')).toMatchObject({ applied: false, code: 'shared-missing' });
    // Started early (it loads while the text is checked), ended unused: no worker left running for a waiting part.
    expect(t.reads).toEqual({ started: 2, given: 1, cancelled: 2 });
    expect(await t.applier.offerSharedValue(next.sharedValue, 'test')).toMatchObject({ applied: { applied: true, revision: 3 } });
    expect(t.reads).toEqual({ started: 3, given: 2, cancelled: 3 });
    expect(t.state.site.extensions.get(hq.extensions[0]!.number)?.displayName).toBe('Waited');
  }, 60_000);

  it('a worker that crashes is a refusal (reader-failed) with the alarm: the pair in force stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-paired-crash-'));
    const crashing = join(dir, 'crashing.mjs');
    writeFileSync(crashing, "throw new Error('boom');\n");
    const here = await hqApplier(false);
    const raised = new Map<string, string>();
    const alarms = { raise: (code: string, _s: string, message: string) => void raised.set(code, message), clear: (code: string) => void raised.delete(code) };
    // Revision 1 in force read by a good worker; then the reader crashes for revision 2.
    const t = await hqApplier({});
    const broken = new SnapshotApplier(hqId, [key], t.store, t.state, new AgentMetrics(false), pino({ level: 'silent' }), workerExtensionReader({ script: pathToFileURL(crashing), alarms }));
    await broken.offerSharedValue(hqFirst.sharedValue, 'test');
    const before = tableRows(t.state);
    const result = await broken.offerText(hqPart((p) => canonicalJson(hqExtension(p, 0, { displayName: 'Renamed' }))), 'test');
    expect(result).toMatchObject({ applied: false, code: 'reader-failed', reason: expect.stringMatching(/extension reader crashed: boom/) as string });
    expect(raised.get(EXTENSION_READER_ALARM)).toMatch(/crashed: boom/);
    expect(t.state.revision).toBe(1);
    expect(tableRows(t.state)).toEqual(before);
    expect(tableRows(t.state)).toEqual(tableRows(here.state));
    expect((await t.store.loadLastKnownGood())?.snapshot.revision).toBe(1);
  }, 60_000);
});
