import { gunzipSync } from 'node:zlib';
import { canonicalJson, type NumberRange } from '@fedpbx/contracts';
import { buildSiteConfig, generateFederation, siteIdOf } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { chunksContent, sharedChunks } from './chunked-shared.js';
import { generateSigningKey, SnapshotRejectedError } from './snapshot-signer.js';
import { runSteps } from './snapshot-text.js';
import { sizedMember, sizedMembers } from './sized-members.js';
import { listedSitePart, pairingGap, signPairedSnapshot, signSplitSnapshot, verifySharedSteps, verifySharedValueSteps, type PairedSitePartEnvelope, type VerifiedShared } from './split-snapshot.js';

const key = generateSigningKey('controller-1');
const at = new Date('2026-12-07T09:00:00Z');

function refusal(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    if (error instanceof SnapshotRejectedError) return error.code;
    throw error;
  }
  return undefined;
}

/** A seeded generator (mulberry32): the randomized runs are the same runs every time. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the chunked shared part (format 3)', () => {
  const fed = generateFederation({ sites: 60, extensionsPerSite: 2, flows: 0 });

  it('its chunks make the shared part back, and a value of sized members decompresses with plain gunzip to its text', () => {
    const s = signSplitSnapshot(buildSiteConfig(fed, siteIdOf(3)), 1, 1, key, at);
    expect(gunzipSync(s.sharedValue).toString('utf8')).toBe(s.sharedText);
    const byText = runSteps(verifySharedSteps(s.sharedText, [key]));
    const byValue = runSteps(verifySharedValueSteps(s.sharedValue, [key]));
    expect(byValue.part).toEqual(byText.part);
    expect(byValue.envelope.contentHash).toBe(s.sharedHash);
    expect(canonicalJson(chunksContent(s.sharedText.split('\n').slice(1)))).toBe(canonicalJson(byText.part));
    // The chunks kept for the next part hold copies of their bytes, not the value they came in.
    const kept = [...(byValue.chunks?.byHash.values() ?? [])];
    expect(kept.length).toBeGreaterThan(1);
    for (const chunk of kept) expect(chunk.bytes?.buffer).not.toBe(s.sharedValue.buffer);
  });

  it('over random plan changes, each part read over the one before is the part read afresh, reading only the chunks that changed', () => {
    const next = random(20);
    const ranges: NumberRange[] = [...fed.numberRanges];
    let previous: VerifiedShared | undefined;
    for (let revision = 1; revision <= 25; revision++) {
      // Add, remove or change ranges anywhere in the id order.
      for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
        const pick = Math.floor(next() * ranges.length);
        const roll = next();
        const from = 500_000 + Math.floor(next() * 90_000) * 10;
        const range = { id: `nr-${Math.floor(next() * 1e9).toString(36)}`, siteId: siteIdOf(Math.floor(next() * 60)), from: String(from), to: String(from + 9) };
        if (roll < 0.5) ranges.push(range);
        else if (roll < 0.75 && ranges.length > 1) ranges.splice(pick, 1);
        else ranges[pick] = { ...(ranges[pick] as NumberRange), to: String(Number((ranges[pick] as NumberRange).from) + 5) };
      }
      const config = buildSiteConfig({ ...fed, numberRanges: [...ranges] }, siteIdOf(5));
      const s = signSplitSnapshot(config, revision, revision, key, at);
      const over = runSteps(verifySharedValueSteps(s.sharedValue, [key], previous));
      const afresh = runSteps(verifySharedValueSteps(s.sharedValue, [key]));
      expect(over.part).toEqual(afresh.part);
      expect(over.part.numberRanges).toEqual(config.federation.numberRanges);
      if (previous !== undefined) {
        // What did not change is the very object read before (the compile takes it over by identity).
        expect(over.part.sites).toBe(previous.part.sites);
        const kept = (over.chunks?.byHash.size ?? 0) - [...(over.chunks?.byHash.keys() ?? [])].filter((h) => !previous?.chunks?.byHash.has(h)).length;
        expect(kept).toBeGreaterThan(0);
      }
      previous = over;
    }
  });

  it('an element added changes the chunk it falls in, not the chunks after it', () => {
    const json = (v: unknown) => canonicalJson(v);
    const { numberRanges } = generateFederation({ sites: 400, extensionsPerSite: 1, flows: 0 });
    const before = sharedChunks({ numberRanges }, json);
    const added = [...numberRanges, { id: 'r-site-0000a', siteId: siteIdOf(0), from: '990000', to: '990099' }].sort((a, b) => (a.id < b.id ? -1 : 1));
    const after = sharedChunks({ numberRanges: added }, json);
    expect(before.length).toBeGreaterThan(5);
    // One chunk changed (or split in two when the new element ends a run).
    const same = after.filter((c) => before.includes(c)).length;
    expect(same).toBe(before.length - 1);
    expect(after.length - same).toBeLessThanOrEqual(2);
  });

  it('refuses a tampered chunk (in the value and in the text), a chunk list that does not hash to the signed hash, and another key', () => {
    const s = signSplitSnapshot(buildSiteConfig(fed, siteIdOf(3)), 2, 2, key, at);
    const good = runSteps(verifySharedValueSteps(s.sharedValue, [key]));
    const lines = s.sharedText.split('\n');
    // A chunk's member replaced by another with the same text but one range more, in place.
    const evil = (lines[3] as string).replace('[{', '[{"from":"100","id":"evil","siteId":"site-0000","to":"199"},{');
    const tamperedText = [...lines.slice(0, 3), evil, ...lines.slice(4)].join('\n');
    expect(refusal(() => runSteps(verifySharedSteps(tamperedText, [key], good)))).toBe('hash-mismatch');
    const members = sizedMembers(s.sharedValue) as Uint8Array[];
    const tamperedValue = Buffer.concat([...members.slice(0, 3), sizedMember(`\n${evil}`), ...members.slice(4)]);
    expect(refusal(() => runSteps(verifySharedValueSteps(tamperedValue, [key], good)))).toBe('hash-mismatch');
    // The envelope names other chunk hashes than it signed.
    const envelope = JSON.parse(lines[0] as string) as { chunks: string[] };
    envelope.chunks[0] = `sha256:${'0'.repeat(64)}`;
    expect(refusal(() => runSteps(verifySharedSteps([JSON.stringify(envelope), ...lines.slice(1)].join('\n'), [key])))).toBe('hash-mismatch');
    const forged = signSplitSnapshot(buildSiteConfig(fed, siteIdOf(3)), 2, 2, generateSigningKey('controller-1'), at);
    expect(refusal(() => runSteps(verifySharedValueSteps(forged.sharedValue, [key], good)))).toBe('bad-signature');
    // A chunk dropped: the count differs from the signed list.
    expect(refusal(() => runSteps(verifySharedSteps(lines.slice(0, -1).join('\n'), [key])))).toBe('malformed');
    // A chunk list that is not one (missing, not an array, a hash that is not one, a key of its own), or no envelope.
    const withEnvelope = (e: unknown) => [JSON.stringify(e), ...lines.slice(1)].join('\n');
    const { chunks, ...head } = JSON.parse(lines[0] as string) as { chunks: string[] };
    for (const bad of [head, { ...head, chunks: 'sha256:' }, { ...head, chunks: [...chunks.slice(1), 42] }, { ...head, chunks, extra: 1 }, [head], null, 'envelope']) {
      const error = (() => {
        try {
          runSteps(verifySharedSteps(withEnvelope(bad), [key]));
        } catch (e) {
          return e as { code?: string; message?: string };
        }
        return undefined;
      })();
      expect(error?.code, JSON.stringify(bad).slice(0, 80)).toBe('malformed');
      if (typeof bad === 'object' && bad !== null && !Array.isArray(bad)) expect(error?.message).toMatch(/^shared part is malformed at (chunks|\(root\))/);
    }
  });

  it('finds members by their sizes and never reads past the value: truncated, garbled or foreign bytes are not sized members', () => {
    const s = signSplitSnapshot(buildSiteConfig(fed, siteIdOf(3)), 1, 1, key, at);
    const members = sizedMembers(s.sharedValue) as Uint8Array[];
    expect(members.length).toBe(s.sharedText.split('\n').length);
    expect(sizedMembers(s.sharedValue.subarray(0, s.sharedValue.length - 1))).toBeUndefined();
    expect(sizedMembers(Buffer.from('{"format":3}'))).toBeUndefined();
    const next = random(7);
    for (let n = 0; n < 300; n++) {
      const bytes = Buffer.from(s.sharedValue);
      for (let k = 0; k < 4; k++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      // Either not sized members, or refused - never a crash, a hang or a part other than the signed one.
      let outcome: string | undefined;
      try {
        outcome = runSteps(verifySharedValueSteps(bytes, [key])).envelope.contentHash;
      } catch (error) {
        if (!(error instanceof SnapshotRejectedError)) throw error;
        outcome = error.code;
      }
      expect(['malformed', 'hash-mismatch', 'bad-signature', 'format', s.sharedHash]).toContain(outcome);
    }
  });
});

describe('the paired shared part (format 4): the chunked layout with every site part revision listed', () => {
  const fed = generateFederation({ sites: 300, extensionsPerSite: 1, flows: 0 });
  const config = buildSiteConfig(fed, siteIdOf(3));
  const hashOf = (id: string, bumped: boolean) => `sha256:${(bumped ? 'f' : '0').repeat(56)}${id.replace(/[^0-9]/g, '').padStart(8, '0')}`;
  const refs = (bump?: string) => fed.sites.map((s) => ({ id: s.id, contentHash: hashOf(s.id, s.id === bump) }));
  const withRange = { ...config, federation: { ...config.federation, numberRanges: [...config.federation.numberRanges, { id: 'nr-x', siteId: siteIdOf(3), from: '990000', to: '990009' } as NumberRange] } };

  it('reads the list; a plan-wide change keeps it the same object, one site part changed reads one chunk of it', () => {
    const first = runSteps(verifySharedValueSteps(signPairedSnapshot(config, 1, 1, 1, refs(), key, at).sharedValue, [key]));
    expect(first.envelope.format).toBe(4);
    expect(first.siteParts).toHaveLength(300);
    expect(listedSitePart(first, siteIdOf(7))).toBe(hashOf(siteIdOf(7), false));
    expect(listedSitePart(first, 'no-such-site')).toBeUndefined();
    expect(first.part).not.toHaveProperty('siteParts');
    const plan = runSteps(verifySharedValueSteps(signPairedSnapshot(withRange, 1, 1, 2, refs(), key, at).sharedValue, [key], first));
    expect(plan.siteParts).toBe(first.siteParts);
    expect(plan.part.numberRanges.map((r) => r.id)).toContain('nr-x');
    const bumped = signPairedSnapshot(withRange, 1, 1, 3, refs(siteIdOf(7)), key, at);
    const listChunks = (text: string) => text.split('\n').filter((l) => l.startsWith('["siteParts"'));
    const changed = listChunks(bumped.sharedText).filter((c) => !listChunks(signPairedSnapshot(withRange, 1, 1, 3, refs(), key, at).sharedText).includes(c));
    expect(changed).toHaveLength(1);
    const third = runSteps(verifySharedValueSteps(bumped.sharedValue, [key], plan));
    expect(listedSitePart(third, siteIdOf(7))).toBe(hashOf(siteIdOf(7), true));
    expect(listedSitePart(third, siteIdOf(8))).toBe(hashOf(siteIdOf(8), false));
  });

  it('pairs a site part with a shared part that lists it, or that it was written after, never below what it requires', () => {
    const s = signPairedSnapshot(config, 5, 4, 6, [{ id: siteIdOf(3), contentHash: 'self' }], key, at);
    const shared = runSteps(verifySharedSteps(s.sharedText, [key]));
    const own = pairedEnvelope(s.siteText);
    const other = { ...own, contentHash: hashOf(siteIdOf(3), true) };
    expect(pairingGap(own, shared)).toBeUndefined();
    // Another site part: only one written after the shared part (a site-only write since) pairs with it.
    expect(pairingGap({ ...other, revision: 5 }, shared)).toMatch(/another site part/);
    expect(pairingGap({ ...other, revision: 7, requiresShared: 6 }, shared)).toBeUndefined();
    expect(pairingGap({ ...other, revision: 8, requiresShared: 7 }, shared)).toMatch(/requires shared part 7/);
    // A site not listed (none from the controller) pairs only with a part written after the shared part.
    const unlisted = runSteps(verifySharedSteps(signPairedSnapshot(config, 5, 4, 6, [], key, at).sharedText, [key]));
    expect(pairingGap(own, unlisted)).toMatch(/another site part/);
    // A format-3 shared part pairs with no paired site part.
    const old = runSteps(verifySharedSteps(signSplitSnapshot(config, 6, 6, key, at).sharedText, [key]));
    expect(pairingGap(own, old)).toMatch(/format 3/);
  });

  it('a paired shared part relabelled format 3 is refused: the format is signed', () => {
    const s = signPairedSnapshot(config, 1, 1, 1, refs(), key, at);
    const asFormat3 = s.sharedText.replace('{"format":4', '{"format":3');
    expect(refusal(() => runSteps(verifySharedSteps(asFormat3, [key])))).toBe('bad-signature');
  });
});

function pairedEnvelope(siteText: string): PairedSitePartEnvelope {
  const { config: _config, ...envelope } = JSON.parse(siteText) as PairedSitePartEnvelope & { config: unknown };
  return envelope;
}
