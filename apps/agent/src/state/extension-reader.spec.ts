// The worker that reads a head office's extensions (extension-reader.ts) runs the built extension-worker.js: build
// first (`npx nx run-many -t build --projects=@fedpbx/agent`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { canonicalJson, type SiteConfig } from '@fedpbx/contracts';
import { buildSiteConfig, generateFederation, siteIdOf } from '@fedpbx/dialplan';
import { generateSigningKey, signSitePart, signSplitSnapshot, type SitePart } from '@fedpbx/signing';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { EXTENSION_READER_ALARM, workerExtensionReader, type ExtensionReaderOptions } from './extension-reader.js';
import { RoutingState, type SnapshotInForce } from './routing-state.js';
import { SnapshotApplier, type ApplyResult } from './snapshot-applier.js';
import { SnapshotStore } from './snapshot-store.js';
import { revisionsSeenWhile } from './testing/applier-runs.js';

const BUILT_WORKER = new URL('../../dist/state/extension-worker.js', import.meta.url);
const key = generateSigningKey('controller-1');
const at = new Date('2026-12-07T03:00:00Z');
const bigId = siteIdOf(0);
// 6,000 extensions: ~1.2 MB of site part, its extensions over REUSE_MAX_PART_BYTES (read in the worker).
const big = buildSiteConfig(generateFederation({ sites: 2, extensionsPerSite: 6000, flows: 0 }), bigId);
const first = signSplitSnapshot(big, 1, 1, key, at);

/** An alarm board that keeps what was raised and cleared. */
function alarmLog() {
  const raised = new Map<string, string>();
  return { raised, raise: (code: string, _severity: string, message: string) => void raised.set(code, message), clear: (code: string) => void raised.delete(code) };
}

/** An applier on a fresh state dir, revision 1 of the big site in force; `reader`: read the extensions in a worker. */
async function setup(reader?: ExtensionReaderOptions | false) {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-extread-'));
  const store = new SnapshotStore(dir, bigId, [key], 3);
  await store.init();
  const state = new RoutingState();
  const log = pino({ level: 'silent' });
  // Revision 1 in force, read on the event loop.
  const boot = new SnapshotApplier(bigId, [key], store, state, new AgentMetrics(false), log);
  await boot.offerShared(first.sharedText, 'test');
  expect(await boot.offerText(first.siteText, 'test')).toMatchObject({ applied: true, revision: 1 });
  const read = reader === false ? undefined : workerExtensionReader({ script: BUILT_WORKER, ...reader });
  const applier = new SnapshotApplier(bigId, [key], store, state, new AgentMetrics(false), log, read);
  const applied: SnapshotInForce[] = [];
  applier.onApplied((snapshot) => applied.push(snapshot));
  await applier.offerShared(first.sharedText, 'test');
  return { dir, state, applier, applied };
}

/** The site part of revision 2 with its content made by `mutate` (as JSON text), hashed and signed as the controller would. */
function signedPart(mutate: (part: SitePart) => string): string {
  const part = JSON.parse(first.siteText.slice(first.siteText.indexOf(',"config":') + 10, -1)) as SitePart;
  const json = mutate(part);
  return `${signSitePart(bigId, json, 2, key, at).head}${json}}`;
}

const withExtension = (part: SitePart, index: number, change: Record<string, unknown>): SitePart => ({
  ...part,
  extensions: part.extensions.map((e, i) => (i === index ? ({ ...e, ...change } as SitePart['extensions'][number]) : e)),
});

/** Content changes, each signed: the worker's verdict must be the event loop's (valid, and refused in every way). */
const MUTATIONS: Record<string, (part: SitePart) => string> = {
  'a renamed extension (valid)': (p) => canonicalJson(withExtension(p, 0, { displayName: 'Renamed' })),
  'a number with a letter': (p) => canonicalJson(withExtension(p, 0, { number: '10a0' })),
  'an unknown key in the 4,000th': (p) => canonicalJson(withExtension(p, 3999, { bogus: 1 })),
  'a ring timeout below 5 in the last': (p) => canonicalJson(withExtension(p, p.extensions.length - 1, { ringTimeoutSec: 3 })),
  'voicemail without a PIN': (p) => canonicalJson(withExtension(p, 17, { voicemail: true, voicemailPin: undefined })),
  'a display name of the wrong type': (p) => canonicalJson(withExtension(p, 2500, { displayName: 42 })),
  'an extension that is not an object': (p) => canonicalJson({ ...p, extensions: [...p.extensions.slice(0, 10), 7, ...p.extensions.slice(10)] }),
  'extensions not JSON': (p) => canonicalJson(p).replace('},{"displayName"', '},,{"displayName"'),
  'extensions not an array': (p) => canonicalJson({ ...p, extensions: Object.fromEntries(p.extensions.map((e, i) => [i, e])) }),
  'a bad extension and a bad link after it: the extension is refused': (p) => canonicalJson({ ...withExtension(p, 5, { number: 'x' }), links: [{ bogus: true }] as unknown as SitePart['links'] }),
  'a bad link only': (p) => canonicalJson({ ...p, links: [{ bogus: true }] as unknown as SitePart['links'] }),
  'a bad call flow (before the extensions) and a bad extension: the flow is refused': (p) =>
    canonicalJson({ ...withExtension(p, 5, { number: 'x' }), callFlows: [{ id: 'f' }] as unknown as SitePart['callFlows'] }),
  'another site': (p) => canonicalJson({ ...p, site: { ...p.site, id: 'elsewhere' } }),
  'another shared part': (p) => canonicalJson({ ...p, shared: { contentHash: `sha256:${'1'.repeat(64)}` } }),
  'an unknown member': (p) => canonicalJson({ ...p, zzz: 1 }),
  'a repeated number (the table keeps the first)': (p) => canonicalJson(withExtension(p, 1, { number: p.extensions[0]!.number })),
};

const verdict = (r: ApplyResult) => (r.applied ? { applied: true, revision: r.revision, contentHash: r.contentHash } : { applied: false, code: r.code, reason: r.reason });

describe('a head office\'s extensions read in a worker thread', () => {
  it('gives the verdicts the event loop gives, for the same texts: valid, and refused at every member in the same order', async () => {
    for (const [name, mutate] of Object.entries(MUTATIONS)) {
      const text = signedPart(mutate);
      const here = await setup(false);
      const worker = await setup();
      const expected = await here.applier.offerText(text, 'test');
      expect(verdict(await worker.applier.offerText(text, 'test')), name).toEqual(verdict(expected));
      expect(worker.state.revision, name).toBe(here.state.revision);
      if (!expected.applied) continue;
      // The same table: every number with the same fields, and the same numbers missing.
      const a = here.state.site.extensions;
      const b = worker.state.site.extensions;
      expect(b.size, name).toBe(a.size);
      for (const e of big.extensions) expect(b.get(e.number), `${name}: ${e.number}`).toEqual(a.get(e.number));
      const rows = (t: typeof a) => {
        const out: [string, string | undefined][] = [];
        t.forEachExtension((n, endpoint) => out.push([n, endpoint]));
        return out;
      };
      expect(rows(b), name).toEqual(rows(a));
    }
  }, 120_000);

  it('hands on a snapshot with no extension objects; calls route on the site in force until the new one is swapped in whole', async () => {
    const { applier, state, applied } = await setup();
    const renamed: SiteConfig = { ...big, extensions: big.extensions.map((e, i) => (i === 0 ? { ...e, displayName: 'Renamed' } : e)) };
    const next = signSplitSnapshot(renamed, 2, 1, key, at);
    const { result, seen } = await revisionsSeenWhile(state, () => applier.offerText(next.siteText, 'test'));
    expect(result).toMatchObject({ applied: true, revision: 2 });
    expect(seen.length).toBeGreaterThanOrEqual(8);
    expect(new Set(seen)).toEqual(new Set([1]));
    expect(state.site.extensions.get(big.extensions[0]!.number)?.displayName).toBe('Renamed');
    expect(state.site.extensions.size).toBe(6000);
    // Listeners and hooks get the config without a list of extensions: they read the compiled table.
    expect('extensions' in (applied.at(-1)?.config ?? {})).toBe(false);
    expect('extensions' in (state.snapshot?.config ?? {})).toBe(false);
  }, 60_000);

  it('a warmed reader has the next read\'s worker started ahead: at a restart on a head office\'s stored pair, and after each read', async () => {
    const { dir } = await setup(false);
    // The real worker, counting its starts in a file.
    const log = join(dir, 'starts.log');
    writeFileSync(log, '');
    const counting = join(dir, 'counting.mjs');
    writeFileSync(counting, `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(log)}, 'start\\n');\nawait import(${JSON.stringify(BUILT_WORKER.href)});\n`);
    const starts = () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').length;
    const store = new SnapshotStore(dir, bigId, [key], 3);
    const loaded = await store.loadLastKnownGood();
    const state = new RoutingState();
    state.apply(loaded!.snapshot);
    const applier = new SnapshotApplier(bigId, [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }), workerExtensionReader({ script: pathToFileURL(counting) }));
    applier.resume(loaded!.pair!, loaded!.text);
    await expect.poll(starts).toBe(1);
    const change = (revision: number) => signSplitSnapshot({ ...big, extensions: big.extensions.map((e, i) => (i === 0 ? { ...e, displayName: `R${revision}` } : e)) }, revision, 1, key, at).siteText;
    for (const revision of [2, 3]) {
      expect(await applier.offerText(change(revision), 'test')).toMatchObject({ applied: true, revision });
      // The read took the worker waiting for it (its start was counted before it could answer); the next one is started.
      await expect.poll(starts).toBe(revision);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(starts()).toBe(revision);
    }
    expect(state.site.extensions.get(big.extensions[0]!.number)?.displayName).toBe('R3');
  }, 60_000);

  it('a waiting worker that died is not handed to the next read: the read starts its own, the change applies', async () => {
    const { dir } = await setup(false);
    // The real worker, except that the first one started (the spare warmed at the restart) exits at once.
    const log = join(dir, 'starts.log');
    writeFileSync(log, '');
    const dying = join(dir, 'first-dies.mjs');
    writeFileSync(
      dying,
      `import { appendFileSync, readFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(log)}, 'start\\n');\n` +
        `if (readFileSync(${JSON.stringify(log)}, 'utf8').trim().split('\\n').length === 1) process.exit(7);\nawait import(${JSON.stringify(BUILT_WORKER.href)});\n`,
    );
    const starts = () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').length;
    const store = new SnapshotStore(dir, bigId, [key], 3);
    const loaded = await store.loadLastKnownGood();
    const state = new RoutingState();
    state.apply(loaded!.snapshot);
    const alarms = alarmLog();
    const applier = new SnapshotApplier(bigId, [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }), workerExtensionReader({ script: pathToFileURL(dying), alarms }));
    applier.resume(loaded!.pair!, loaded!.text);
    await expect.poll(starts).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500)); // its exit is seen
    const change = signSplitSnapshot({ ...big, extensions: big.extensions.map((e, i) => (i === 0 ? { ...e, displayName: 'R2' } : e)) }, 2, 1, key, at).siteText;
    expect(await applier.offerText(change, 'test')).toMatchObject({ applied: true, revision: 2 });
    expect(state.site.extensions.get(big.extensions[0]!.number)?.displayName).toBe('R2');
    expect(alarms.raised.has(EXTENSION_READER_ALARM)).toBe(false);
  }, 60_000);

  it('a stopped reader ends its waiting worker and warms none after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-extread-stop-'));
    // The real worker, beating into a file while it lives.
    const beats = join(dir, 'beats.log');
    writeFileSync(beats, '');
    const beating = join(dir, 'beating.mjs');
    writeFileSync(beating, `import { appendFileSync } from 'node:fs';\nsetInterval(() => appendFileSync(${JSON.stringify(beats)}, 'b'), 10);\nawait import(${JSON.stringify(BUILT_WORKER.href)});\n`);
    const beatCount = () => readFileSync(beats, 'utf8').length;
    const reader = workerExtensionReader({ script: pathToFileURL(beating) });
    reader.warm!();
    await expect.poll(beatCount).toBeGreaterThan(0);
    reader.stop!();
    reader.warm!();
    await new Promise((resolve) => setTimeout(resolve, 300)); // its end is seen
    const after = beatCount();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(beatCount()).toBe(after);
  }, 30_000);

  it('a worker waiting for a read does not keep the process alive', () => {
    const reader = new URL('../../dist/state/extension-reader.js', import.meta.url).href;
    const script = `const { workerExtensionReader } = await import(${JSON.stringify(reader)}); workerExtensionReader().warm(); setTimeout(() => console.log('ended'), 300);`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
    expect(run.stdout.trim()).toBe('ended');
    expect(run.status).toBe(0);
  }, 30_000);

  it('a worker that crashes or does not answer is a refusal with an alarm: the snapshot in force stays, the next read clears it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-extread-bad-'));
    const crashing = join(dir, 'crashing.mjs');
    writeFileSync(crashing, "throw new Error('boom');\n");
    const silent = join(dir, 'silent.mjs');
    writeFileSync(silent, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => undefined);\n");
    const renamed = signedPart((p) => canonicalJson(withExtension(p, 0, { displayName: 'Renamed' })));
    for (const [script, timeoutMs, reason] of [
      [crashing, 30_000, /extension reader crashed: boom/],
      [silent, 300, /did not answer within 300 ms/],
    ] as const) {
      const alarms = alarmLog();
      const { applier, state } = await setup({ script: pathToFileURL(script), timeoutMs, alarms });
      const result = await applier.offerText(renamed, 'test');
      expect(result).toMatchObject({ applied: false, code: 'reader-failed', reason: expect.stringMatching(reason) as string });
      expect(state.revision).toBe(1);
      expect(state.site.extensions.get(big.extensions[0]!.number)?.displayName).toBe(big.extensions[0]!.displayName);
      expect(alarms.raised.get(EXTENSION_READER_ALARM)).toMatch(reason);
    }
    // The alarm goes with the next good read.
    const alarms = alarmLog();
    alarms.raised.set(EXTENSION_READER_ALARM, 'from before');
    const { applier, state } = await setup({ alarms });
    expect(await applier.offerText(renamed, 'test')).toMatchObject({ applied: true, revision: 2 });
    expect(state.revision).toBe(2);
    expect(alarms.raised.has(EXTENSION_READER_ALARM)).toBe(false);
  }, 60_000);
});
