import { canonicalJson, SiteConfig } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, generateFederation, siteIdOf } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, signBuiltConfig, signSnapshot, verifySnapshot } from './snapshot-signer.js';
import { membersLike, runSteps, topLevelMembers, topLevelMembersSteps, verifySnapshotEnvelope, verifySnapshotText, verifySnapshotTextInSlices } from './snapshot-text.js';
import { checkSitePartSteps, SiteConfigAssembler, signSplitSnapshot, verifySharedSteps, verifySitePartSteps } from './split-snapshot.js';
import { refusal } from './testing/refusal.js';
import { sha256, sha256Steps } from './wire-text.js';

const key = generateSigningKey('k1');
const other = generateSigningKey('k1');
const at = new Date('2026-11-26T10:00:00Z');
const fed = foundingScenario();
const config = buildSiteConfig(fed, 'piter');
const wire = (c = config, revision = 3, k = key) => signBuiltConfig(c, revision, k, at).json;

describe('verifying a snapshot from its text', () => {
  it('gives what the whole-object path gives', () => {
    const text = wire();
    const { snapshot, parts } = verifySnapshotText(text, 'piter', [key]);
    expect(snapshot).toEqual(verifySnapshot(JSON.parse(text), 'piter', [key]));
    expect(snapshot.config).toEqual(SiteConfig.parse(config));
    const kept = [...(parts?.values.keys() ?? [])];
    expect(kept.filter((id) => !id.includes('.')).sort()).toEqual(Object.keys(config).sort());
    expect(kept).toEqual(expect.arrayContaining(['federation.sites', 'federation.numberRanges']));
  });

  it('takes over the parts that did not change, and reads those that did', () => {
    const first = verifySnapshotText(wire(), 'piter', [key]);
    const renamed = { ...config, extensions: config.extensions.map((e, i) => (i === 0 ? { ...e, displayName: 'Renamed' } : e)) };
    const second = verifySnapshotText(wire(renamed, 4), 'piter', [key], first.parts);
    expect(second.snapshot.revision).toBe(4);
    expect(second.snapshot.config.extensions[0]?.displayName).toBe('Renamed');
    expect(second.snapshot.config.extensions).not.toBe(first.snapshot.config.extensions);
    expect(second.snapshot.config.federation).toBe(first.snapshot.config.federation);
    expect(second.snapshot.config.outboundRoutes).toBe(first.snapshot.config.outboundRoutes);
    expect(second.snapshot.config).toEqual(SiteConfig.parse(renamed));
  });

  it('reads the federation member by member: a new range leaves the site directory as it was', () => {
    const first = verifySnapshotText(wire(), 'piter', [key]);
    const range = { id: 'nr-new', siteId: 'moscow', from: '7000', to: '7099' };
    const ranged = { ...config, federation: { ...config.federation, numberRanges: [...config.federation.numberRanges, range] } };
    const second = verifySnapshotText(wire(ranged, 4), 'piter', [key], first.parts);
    expect(second.snapshot.config).toEqual(SiteConfig.parse(ranged));
    expect(second.snapshot.config.federation).not.toBe(first.snapshot.config.federation);
    expect(second.snapshot.config.federation.sites).toBe(first.snapshot.config.federation.sites);
    expect(second.snapshot.config.federation.numberRanges).toContainEqual(range);
    // Nothing changed: the federation is the same object (what the agent's compile keys its reuse on).
    const third = verifySnapshotText(wire(ranged, 5), 'piter', [key], second.parts);
    expect(third.snapshot.config.federation).toBe(second.snapshot.config.federation);
    // A member is refused as strictly as the whole part: unknown keys, bad values, missing ones get defaults.
    const extra = { ...config, federation: { ...config.federation, colour: 'red' } } as unknown as typeof config;
    expect(refusal(() => verifySnapshotText(wire(extra, 6), 'piter', [key], second.parts))).toBe('malformed');
    const badRange = { ...config, federation: { ...config.federation, numberRanges: [{ ...range, from: 'x' }] } };
    expect(refusal(() => verifySnapshotText(wire(badRange, 6), 'piter', [key], second.parts))).toBe('malformed');
    const { hubSiteId: _h, ...noHub } = config.federation;
    const hubless = { ...config, federation: noHub };
    expect(verifySnapshotText(wire(hubless, 6), 'piter', [key], second.parts).snapshot.config).toEqual(SiteConfig.parse(hubless));
  });

  it('keeps no part larger than the bound for reuse, and reads it again next time', () => {
    const bound = canonicalJson(config.site).length;
    expect(canonicalJson(config.federation).length).toBeGreaterThan(bound);
    const first = verifySnapshotText(wire(), 'piter', [key], undefined, bound);
    expect(first.parts?.values.has('federation')).toBe(false);
    expect(first.parts?.values.has('site')).toBe(true);
    const second = verifySnapshotText(wire(config, 4), 'piter', [key], first.parts, bound);
    expect(second.snapshot.config.federation).not.toBe(first.snapshot.config.federation);
    expect(second.snapshot.config.federation).toEqual(first.snapshot.config.federation);
    expect(second.snapshot.config.site).toBe(first.snapshot.config.site);
  });

  it('refuses tampering, forgery, another site and another format, whatever parts it had before', () => {
    const good = verifySnapshotText(wire(), 'piter', [key]);
    const tampered = wire().replace('"displayName":"', '"displayName":"Evil ');
    expect(refusal(() => verifySnapshotText(tampered, 'piter', [key], good.parts))).toBe('hash-mismatch');
    expect(refusal(() => verifySnapshotText(wire(config, 5, other), 'piter', [key], good.parts))).toBe('bad-signature');
    expect(refusal(() => verifySnapshotText(wire(), 'moscow', [key], good.parts))).toBe('wrong-site');
    expect(refusal(() => verifySnapshotText(wire().replace('{"format":1,', '{"format":99,'), 'piter', [key]))).toBe('format');
    expect(refusal(() => verifySnapshotText('not json', 'piter', [key]))).toBe('malformed');
    // A signed config that would not pass the schema (signed outside signSnapshot's checks) is refused by part.
    const bad = structuredClone(config) as unknown as { extensions: { number: string }[] };
    bad.extensions[0]!.number = 'not-a-number';
    expect(refusal(() => verifySnapshotText(wire(bad as unknown as typeof config), 'piter', [key], good.parts))).toBe('malformed');
    const extra = { ...config, colour: 'red' } as unknown as typeof config;
    expect(refusal(() => verifySnapshotText(wire(extra), 'piter', [key]))).toBe('malformed');
  });

  it('fills in defaults of parts the text leaves out, as the schema does', () => {
    const { remoteTrunks: _r, ...without } = config;
    const text = wire(without as typeof config);
    expect(verifySnapshotText(text, 'piter', [key]).snapshot.config.remoteTrunks).toEqual([]);
  });

  it('takes text in any other form through the whole-object path', () => {
    const pretty = JSON.stringify(signSnapshot(config, 3, key, at), null, 2);
    const { snapshot, parts } = verifySnapshotText(pretty, 'piter', [key]);
    expect(snapshot.revision).toBe(3);
    expect(parts).toBeUndefined();
  });
});

describe('verifying a snapshot text in slices', () => {
  // A site with 3,000 extensions: its extensions part (~0.6 MB) is read 1,000 elements at a time.
  const bigSite = siteIdOf(0);
  const big = buildSiteConfig(generateFederation({ sites: 2, extensionsPerSite: 3000, flows: 0 }), bigSite);
  const bigWire = (c = big, revision = 3) => signBuiltConfig(c, revision, key, at).json;
  const pauses = () => {
    let count = 0;
    return { pause: async () => void (count += 1), count: () => count };
  };

  it('gives what reading the whole text at once gives, pausing between slices of the extensions', async () => {
    const text = bigWire();
    const p = pauses();
    const { snapshot } = await verifySnapshotTextInSlices(text, bigSite, [key], p.pause);
    // After each of the first two slices: the scan and the hash of its 0.6 MB are one step each (SCAN_CHARS_PER_STEP).
    expect(p.count()).toBe(2);
    expect(snapshot).toEqual(verifySnapshot(JSON.parse(text), bigSite, [key]));
    expect(snapshot.config.extensions).toHaveLength(3000);
    // A small site's text is read at once: no pause.
    const small = pauses();
    await verifySnapshotTextInSlices(wire(), 'piter', [key], small.pause);
    expect(small.count()).toBe(0);
  });

  it('refuses a bad element wherever it is, naming it as the whole-object path does', async () => {
    const bad = structuredClone(big) as unknown as { extensions: { number: string }[] };
    bad.extensions[2500]!.number = 'not-a-number';
    const text = bigWire(bad as unknown as typeof big, 4);
    const whole = (() => {
      try {
        verifySnapshot(JSON.parse(text), bigSite, [key]);
      } catch (error) {
        return (error as Error).message;
      }
      return undefined;
    })();
    expect(whole).toContain('config.extensions.2500.number');
    await expect(verifySnapshotTextInSlices(text, bigSite, [key], async () => {})).rejects.toMatchObject({ code: 'malformed', message: whole });
    expect(refusal(() => verifySnapshotText(text, bigSite, [key]))).toBe('malformed');
  });

  it('takes over an unchanged small part and reads the changed large one', async () => {
    const first = await verifySnapshotTextInSlices(bigWire(), bigSite, [key], async () => {});
    const renamed = { ...big, extensions: big.extensions.map((e, i) => (i === 2999 ? { ...e, displayName: 'Renamed' } : e)) };
    const second = await verifySnapshotTextInSlices(bigWire(renamed, 4), bigSite, [key], async () => {}, first.parts);
    expect(second.snapshot.config.extensions[2999]?.displayName).toBe('Renamed');
    expect(second.snapshot.config.site).toBe(first.snapshot.config.site);
    expect(second.snapshot.config).toEqual(SiteConfig.parse(renamed));
  });
});

describe('verifying only the envelope of a snapshot text', () => {
  it('checks format, site, content hash and signature, and never reads the config', () => {
    const text = wire();
    const { config: _config, ...envelope } = verifySnapshotText(text, 'piter', [key]).snapshot;
    expect(verifySnapshotEnvelope(text, 'piter', [key])).toEqual(envelope);
    // Signed content that the schema refuses: the full check refuses it, the envelope check does not look.
    const bad = structuredClone(config) as unknown as { extensions: { number: string }[] };
    bad.extensions[0]!.number = 'not-a-number';
    const signedBad = wire(bad as unknown as typeof config, 4);
    expect(refusal(() => verifySnapshotText(signedBad, 'piter', [key]))).toBe('malformed');
    expect(verifySnapshotEnvelope(signedBad, 'piter', [key])?.revision).toBe(4);

    expect(refusal(() => verifySnapshotEnvelope(text.replace('"displayName":"', '"displayName":"Evil '), 'piter', [key]))).toBe('hash-mismatch');
    expect(refusal(() => verifySnapshotEnvelope(wire(config, 5, other), 'piter', [key]))).toBe('bad-signature');
    expect(refusal(() => verifySnapshotEnvelope(text, 'moscow', [key]))).toBe('wrong-site');
    expect(refusal(() => verifySnapshotEnvelope(text.replace('{"format":1,', '{"format":99,'), 'piter', [key]))).toBe('format');
    expect(verifySnapshotEnvelope(JSON.stringify(signSnapshot(config, 3, key, at), null, 2), 'piter', [key])).toBeUndefined();
    expect(verifySnapshotEnvelope('not json', 'piter', [key])).toBeUndefined();
  });
});

describe('topLevelMembers', () => {
  it('finds each member of an object, brackets and escapes in strings included', () => {
    const text = canonicalJson({ a: '}{][,"', b: [1, { c: 'x\\"y' }], d: { e: null }, f: -1.5e3, g: true, h: ['ends with \\', '\\\\"}', { i: '\\' }] });
    const m = topLevelMembers(text, 0, text.length);
    expect(Object.fromEntries([...(m ?? [])].map(([k, [s, e]]) => [k, JSON.parse(text.slice(s, e))]))).toEqual(JSON.parse(text));
    const spaced = ' { "a" : [ 1 ] , "b" : "x" } ';
    expect([...(topLevelMembers(spaced, 0, spaced.length) ?? [])].map(([k]) => k)).toEqual(['a', 'b']);
  });

  it('says undefined for what is not a well-formed object', () => {
    for (const text of ['[]', '{"a":1', '{"a" 1}', '{"a":[1}', '{"a":"x}', '{"a":1}x', '{a:1}', '']) expect(topLevelMembers(text, 0, text.length), text).toBeUndefined();
  });

  it('in steps, finds the same members (or the same undefined) whatever the step, yielding once per step of a long value', () => {
    const texts = [
      canonicalJson({ a: '}{][,"', b: [1, { c: 'x\\"y' }, [[[]]]], d: { e: null, f: ['\\', '"]'] }, g: 'x'.repeat(50), h: -1 }),
      canonicalJson(config),
      ...['[]', '{"a":1', '{"a":[1}', '{"a":[[[1]]', '{"a":"x}', '{"a":{"b":[1,2]}}x', '{"a":[1,2,3],"b":{"c":"]"}'],
    ];
    for (const text of texts) {
      const whole = topLevelMembers(text, 0, text.length);
      for (const step of [1, 2, 3, 7, 64, 4096]) {
        const steps = topLevelMembersSteps(text, 0, text.length, step);
        let yields = 0;
        let r = steps.next();
        for (; r.done !== true; r = steps.next()) yields += 1;
        expect(r.value?.members, `${text.slice(0, 40)} / ${step}`).toEqual(whole);
        // Never more yields than steps over the text, and at least one per step of its longest value.
        expect(yields).toBeLessThanOrEqual(Math.ceil(text.length / step));
        if (whole !== undefined && step === 64) {
          const longest = Math.max(...[...whole.values()].map(([from, to]) => to - from));
          expect(yields).toBeGreaterThanOrEqual(Math.floor(longest / step) - 1);
        }
      }
    }
  });
});

describe('sha256Steps', () => {
  it('gives sha256 of the range whatever the step, a surrogate pair never split between two pieces', () => {
    const text = `{"a":"${'😀é'.repeat(40)}x${'\u{1F600}'.repeat(3)}"}`;
    for (const [from, to] of [
      [0, text.length],
      [5, text.length - 1],
      [6, 6],
    ] as const) {
      for (const step of [1, 2, 3, 5, 1000]) {
        const steps = sha256Steps(text, from, to, step);
        let yields = 0;
        let r = steps.next();
        for (; r.done !== true; r = steps.next()) yields += 1;
        expect(r.value, `${from}-${to} / ${step}`).toBe(sha256(text.slice(from, to)));
        expect(yields).toBeLessThanOrEqual(Math.max(0, Math.ceil((to - from) / step) - 1));
        if (to - from > 2 * step) expect(yields).toBeGreaterThan(0);
      }
    }
    // Whole: one piece, no yield.
    expect(runSteps(sha256Steps(text, 0, text.length, text.length))).toBe(sha256(text));
  });
});

describe('membersLike: members compared with the text before', () => {
  const membersOf = (text: string) => ({ text, members: topLevelMembers(text, 0, text.length) ?? new Map() });

  it('finds the members whose bytes are as before without scanning them, and scans the others', () => {
    const before = membersOf(canonicalJson({ a: [1, { b: '}]' }], c: 'x', d: { e: [] }, f: 7 }));
    const text = canonicalJson({ a: [1, { b: '}]' }], c: 'xy', d: { e: [] }, f: 7 });
    const found = membersLike(text, 0, text.length, before);
    expect(found?.same).toEqual(new Set(['a', 'd', 'f']));
    expect([...(found?.members ?? [])]).toEqual([...(topLevelMembers(text, 0, text.length) ?? [])]);
  });

  it('never takes a longer value for the same one because it starts alike', () => {
    const before = membersOf(canonicalJson({ a: 1, b: 'x', c: [1] }));
    const text = canonicalJson({ a: 12, b: 'x\\"', c: [1, 2] });
    const found = membersLike(text, 0, text.length, before);
    expect(found?.same.size).toBe(0);
    expect(Object.fromEntries([...(found?.members ?? [])].map(([k, [s, e]]) => [k, JSON.parse(text.slice(s, e))]))).toEqual(JSON.parse(text));
    // A member renamed or moved is scanned; a value that is not well formed is still refused.
    const renamed = canonicalJson({ a: 1, bb: 'x', c: [1] });
    expect(membersLike(renamed, 0, renamed.length, before)?.same).toEqual(new Set(['a', 'c']));
    for (const bad of ['{"a":1,"b":"x","c":[1]x}', '{"a":1,"b":"x","c":[1}', '{"a":1,"b":"x","c":[1]']) expect(membersLike(bad, 0, bad.length, before), bad).toBeUndefined();
  });

  it('is topLevelMembers when there is no text before', () => {
    const text = canonicalJson({ a: 1, b: [2] });
    expect(membersLike(text, 0, text.length, undefined)).toEqual({ members: topLevelMembers(text, 0, text.length), same: new Set() });
  });
});

describe('a shared part read against the one before', () => {
  const ranged = (id: string) => ({ ...config, federation: { ...config.federation, numberRanges: [...config.federation.numberRanges, { id, siteId: 'moscow', from: '7000', to: '7099' }] } });
  const shared = (c: typeof config, revision: number, k = key) => signSplitSnapshot(c, revision, revision, k, at, 2).sharedText;

  it('takes over the members whose bytes are as before (not hashed again) and reads the plan that changed', () => {
    const first = runSteps(verifySharedSteps(shared(config, 1), [key]));
    expect(first.parts?.source?.text).toBe(first.text);
    const second = runSteps(verifySharedSteps(shared(ranged('nr-a'), 2), [key], first));
    expect(second.part.numberRanges.map((r) => r.id)).toContain('nr-a');
    expect(second.part.numberRanges).not.toBe(first.part.numberRanges);
    for (const same of ['sites', 'outboundRoutes', 'remoteTrunks', 'classesOfService'] as const) expect(second.part[same], same).toBe(first.part[same]);
    // The plan is read range by range: the ranges that were there are taken over, only the new one is parsed.
    const added = second.part.numberRanges.findIndex((r) => r.id === 'nr-a');
    second.part.numberRanges.forEach((r, i) => (i === added ? expect(first.part.numberRanges).not.toContain(r) : expect(r).toBe(first.part.numberRanges[i < added ? i : i - 1])));
    // Compared by text, so no member hashes are kept; what it gives is what reading it alone gives.
    expect(second.parts?.hashes.size).toBe(0);
    expect(second.part).toEqual(runSteps(verifySharedSteps(shared(ranged('nr-a'), 2), [key])).part);
  });

  it('still checks the hash and signature of the whole, and every member that changed', () => {
    const first = runSteps(verifySharedSteps(shared(config, 1), [key]));
    const next = shared(ranged('nr-b'), 2);
    const tampered = next.replace('"nr-b"', '"nr-c"');
    expect(refusal(() => runSteps(verifySharedSteps(tampered, [key], first)))).toBe('hash-mismatch');
    expect(refusal(() => runSteps(verifySharedSteps(shared(ranged('nr-b'), 2, other), [key], first)))).toBe('bad-signature');
    // A new element is validated as reading the whole array validates it, and named by its index.
    const badRange = { ...config, federation: { ...config.federation, numberRanges: [...config.federation.numberRanges, { id: 'nr-x', siteId: 'moscow', from: '7100', to: '70' }] } };
    expect(() => runSteps(verifySharedSteps(shared(badRange, 3), [key], first))).toThrow(`snapshot is malformed at config.numberRanges.${config.federation.numberRanges.length}.to:`);
    expect(() => runSteps(verifySharedSteps(shared(badRange, 3), [key]))).toThrow(`snapshot is malformed at config.numberRanges.${config.federation.numberRanges.length}.to:`);
  });
});

describe('a site part whose envelope was checked', () => {
  it('is not checked again for the same text, and is for any other', () => {
    const a = signSplitSnapshot(config, 1, 1, key, at);
    const shared = runSteps(verifySharedSteps(a.sharedText, [key]));
    const checked = runSteps(checkSitePartSteps(a.siteText, 'piter', [key]))?.checked;
    expect(checked?.envelope.revision).toBe(1);
    const read = (text: string) => runSteps(verifySitePartSteps(text, 'piter', [key], shared, new SiteConfigAssembler(), undefined, checked));
    expect(read(a.siteText).snapshot).toEqual(runSteps(verifySitePartSteps(a.siteText, 'piter', [key], shared, new SiteConfigAssembler())).snapshot);
    // Another text with that envelope's hash and signature (its content altered) gets its own checks.
    const last = a.siteText.lastIndexOf('"piter"');
    expect(refusal(() => read(`${a.siteText.slice(0, last)}"pitex"${a.siteText.slice(last + 7)}`))).toBe('hash-mismatch');
  });
});
