import fc from 'fast-check';
import type { Federation } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { generateFederation, rangeStartOf, siteIdOf } from '../scenario/generated-federation.js';
import { buildSiteConfig } from '../snapshot/site-view.js';
import { validateFederation } from '../validation/federation-validator.js';
import { compileSite, type CompiledSite } from './compiled-site.js';
import { resolveRoute } from './route-resolver.js';

/**
 * Random conflict-free federations: N sites, each with 1-3 disjoint ranges of equal length carved out of one
 * number space, some sites with prefixes (some of those private, overlapping a flat site's numbers).
 */
const federationArb = fc
  .record({
    siteCount: fc.integer({ min: 2, max: 7 }),
    digits: fc.constantFrom(3, 4),
    rangesPerSite: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 7, maxLength: 7 }),
    widths: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 21, maxLength: 21 }),
    gaps: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 21, maxLength: 21 }),
    prefixed: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
    privatePlan: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
    mesh: fc.boolean(),
  })
  .map((p): Federation => {
    const fed: Federation = {
      sites: [], numberRanges: [], extensions: [], trunks: [], links: [], outboundRoutes: [], inboundRoutes: [], callFlows: [],
      classesOfService: [{ id: 'cos-all', name: 'all', allow: ['internal', 'local', 'national', 'international', 'premium'] }],
    };
    // Plain numbers start with 1-5; prefixes are 8x/9x and make longer numbers; PSTN numbers are 11 digits.
    let next = 10 ** (p.digits - 1);
    let k = 0;
    for (let i = 0; i < p.siteCount; i++) {
      const id = `s${i}`;
      const prefix = i > 0 && p.prefixed[i] ? `9${i}` : undefined;
      const isPrivate = prefix !== undefined && p.privatePlan[i] === true;
      fed.sites.push({
        id, name: id, prefixRequired: isPrivate, timezone: 'UTC', classOfServiceCeiling: ['internal', 'local', 'national', 'international', 'premium'],
        emergencyNumbers: ['0112'], network: { sipPort: 5060 }, recording: { interSite: false, external: false, retentionDays: 90 }, ringTimeoutSec: 30,
        ...(prefix !== undefined ? { prefix } : {}),
      });
      for (let r = 0; r < (p.rangesPerSite[i] ?? 1); r++, k++) {
        const width = p.widths[k] ?? 1;
        // A private site reuses the numbers of site 0 (an overlapping plan); flat sites take fresh numbers.
        const from = isPrivate ? 10 ** (p.digits - 1) + r * 50 : next + (p.gaps[k] ?? 0);
        const to = Math.min(from + width - 1, 6 * 10 ** (p.digits - 1) - 1);
        if (!isPrivate) next = to + 1;
        if (from > to) continue;
        fed.numberRanges.push({ id: `r${k}`, siteId: id, from: String(from), to: String(to) });
        fed.extensions.push({ id: `e${k}`, siteId: id, number: String(from), displayName: 'x', voicemail: false, ringTimeoutSec: 20 });
      }
      fed.trunks.push({ id: `t${i}`, siteId: id, name: 'city', host: 'sip.example', port: 5060, transport: 'udp', register: false, codecs: ['alaw'], emergency: true });
    }
    for (let i = 0; i < p.siteCount; i++) {
      for (let j = i + 1; j < p.siteCount; j++) {
        if (p.mesh || i === 0) fed.links.push({ id: `l${i}-${j}`, a: `s${i}`, b: `s${j}`, mode: 'ip', codecs: ['alaw'] });
      }
    }
    if (!p.mesh) fed.hubSiteId = 's0';
    fed.outboundRoutes.push({ id: 'or', name: 'national', patterns: ['_8XXXXXXXXXX'], callClass: 'national', sites: [], trunks: [{ trunkId: 't0', strip: 0, prepend: '' }] });
    return fed;
  });

function compileAll(fed: Federation): Map<string, CompiledSite> {
  return new Map(fed.sites.map((s) => [s.id, compileSite(buildSiteConfig(fed, s.id), 1)]));
}

describe('properties', () => {
  it('validation accepts every generated conflict-free plan', () => {
    fc.assert(
      fc.property(federationArb, (fed) => {
        expect(validateFederation(fed).errors).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('validation rejects every plan with an injected overlap between two flat sites, naming both', () => {
    fc.assert(
      fc.property(federationArb, fc.nat(), fc.nat(), (fed, pick, offset) => {
        const flatRanges = fed.numberRanges.filter((r) => !fed.sites.find((s) => s.id === r.siteId)?.prefixRequired);
        const victim = flatRanges[pick % flatRanges.length]!;
        const others = fed.sites.filter((s) => s.id !== victim.siteId && !s.prefixRequired);
        fc.pre(others.length > 0);
        const intruder = others[offset % others.length]!;
        const n = String(Number(victim.from) + (offset % (Number(victim.to) - Number(victim.from) + 1)));
        fed.numberRanges.push({ id: 'injected', siteId: intruder.id, from: n, to: n });
        const overlap = validateFederation(fed).errors.find((e) => e.code === 'range-overlap' && e.objects.some((o) => o.id === 'injected'));
        expect(overlap?.objects).toEqual(expect.arrayContaining([{ type: 'site', id: victim.siteId }, { type: 'site', id: intruder.id }]));
        expect(overlap?.span).toEqual({ from: n, to: n });
      }),
      { numRuns: 200 },
    );
  });

  it('the resolver never sends a number to a site other than its owner', () => {
    fc.assert(
      fc.property(federationArb, fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 30 }), (fed, calls) => {
        const compiled = compileAll(fed);
        const sitesById = new Map(fed.sites.map((s) => [s.id, s]));
        for (const [originPick, numberPick, usePrefix, linkDown] of calls) {
          const origin = fed.sites[originPick % fed.sites.length]!;
          const range = fed.numberRanges[numberPick % fed.numberRanges.length]!;
          const width = Number(range.to) - Number(range.from) + 1;
          const number = String(Number(range.from) + (numberPick % width));
          const owner = sitesById.get(range.siteId)!;
          const dialled = usePrefix && owner.prefix !== undefined ? owner.prefix + number : number;
          const health = linkDown ? { links: { [range.siteId]: 'down' as const }, trunks: {} } : undefined;
          const plan = resolveRoute(compiled.get(origin.id)!, { entry: 'internal', caller: '', dialled, health });
          // Who owns the number as dialled: by prefix its site; plain, the origin itself or the one flat owner.
          const holds = (siteId: string) => fed.numberRanges.some((r) => r.siteId === siteId && r.from.length === number.length && r.from <= number && number <= r.to);
          const expected = dialled !== number ? owner.id : holds(origin.id) ? origin.id : fed.sites.find((s) => !s.prefixRequired && holds(s.id))?.id;
          for (const a of plan.attempts) {
            if (a.kind !== 'site') continue;
            // Over the wire the number goes to its owner (directly, or through the hub to the owner).
            expect(holds(a.siteId)).toBe(true);
            expect(a.siteId).toBe(expected);
            if (a.via !== a.siteId) {
              const atHub = resolveRoute(compiled.get(a.via)!, { entry: 'from-sites', fromSiteId: origin.id, caller: '', dialled: a.number });
              for (const b of atHub.attempts) if (b.kind === 'site') expect(b.siteId).toBe(expected);
            }
          }
          if (origin.id === range.siteId && dialled === number) expect(plan.routeKind === 'local' || plan.deny?.code === 'unassigned').toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('generated federation (benchmark data)', () => {
  it('is valid and routes the benchmark mix', () => {
    const fed = generateFederation({ sites: 60, extensionsPerSite: 20, flows: 10 });
    expect(validateFederation(fed).errors).toEqual([]);
    const s5 = compileSite(buildSiteConfig(fed, siteIdOf(5)), 1);
    expect(resolveRoute(s5, { entry: 'internal', caller: String(rangeStartOf(5)), dialled: String(rangeStartOf(5) + 1) }).routeKind).toBe('local');
    expect(resolveRoute(s5, { entry: 'internal', caller: String(rangeStartOf(5)), dialled: String(rangeStartOf(17) + 2) }).attempts[0]).toMatchObject({ kind: 'site', siteId: siteIdOf(17) });
    expect(resolveRoute(s5, { entry: 'internal', caller: String(rangeStartOf(5)), dialled: '82017123456' }).routeKind).toBe('teho');
    expect(resolveRoute(s5, { entry: 'internal', caller: String(rangeStartOf(5) + 4), dialled: '82017123456' }).deny?.code).toBe('class-of-service');
  });
});
