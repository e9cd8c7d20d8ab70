import type { NumberRange } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { generateFederation } from '../scenario/generated-federation.js';
import { NumberingPlan } from './numbering-plan.js';

const fed = generateFederation({ sites: 40, extensionsPerSite: 2, flows: 0, prefixEvery: 5 });
/** Numbers in and around every range, a prefix in front of some: what a plan is asked. */
const probes = (ranges: readonly NumberRange[]) =>
  ranges.flatMap((r) => [r.from, r.to, String(Number(r.to) + 1), `${fed.sites.find((s) => s.prefix !== undefined)?.prefix ?? ''}${r.from}`]);
const classified = (plan: NumberingPlan, ranges: readonly NumberRange[]) => fed.sites.slice(0, 5).flatMap((s) => probes(ranges).map((d) => plan.classify(s.id, d)));
const indexOf = (plan: NumberingPlan, siteId: string) => (plan as unknown as { bySite: Map<string, unknown> }).bySite.get(siteId);

describe('a numbering plan built over the one before', () => {
  const first = new NumberingPlan(fed.sites, fed.numberRanges);

  it('takes over the index of every site whose ranges are the same, and classifies as a plan built afresh', () => {
    const added = { id: 'nr-added', siteId: fed.sites[7]!.id, from: '990000', to: '990099' };
    const ranges = [...fed.numberRanges, added];
    const next = new NumberingPlan(fed.sites, ranges, first);
    expect(classified(next, ranges)).toEqual(classified(new NumberingPlan(fed.sites, ranges), ranges));
    expect(next.siteRanges(added.siteId)).toContainEqual(added);
    expect(indexOf(next, added.siteId)).not.toBe(indexOf(first, added.siteId));
    for (const s of fed.sites.filter((x) => x.id !== added.siteId)) expect(indexOf(next, s.id), s.id).toBe(indexOf(first, s.id));
  });

  it('indexes again a site whose ranges changed, moved or went, even when equal in value', () => {
    const [a, b] = fed.numberRanges as [NumberRange, NumberRange, ...NumberRange[]];
    const ranges = fed.numberRanges.map((r) => (r === a ? { ...a, to: String(Number(a.from) + 9) } : r === b ? { ...b } : r));
    const next = new NumberingPlan(fed.sites, ranges, first);
    expect(classified(next, fed.numberRanges)).toEqual(classified(new NumberingPlan(fed.sites, ranges), fed.numberRanges));
    expect(indexOf(next, a.siteId)).not.toBe(indexOf(first, a.siteId));
    expect(indexOf(next, b.siteId)).not.toBe(indexOf(first, b.siteId));
    const moved = fed.numberRanges.map((r) => (r === a ? { ...a, siteId: fed.sites[9]!.id } : r));
    expect(classified(new NumberingPlan(fed.sites, moved, first), moved)).toEqual(classified(new NumberingPlan(fed.sites, moved), moved));
    const gone = fed.numberRanges.filter((r) => r.siteId !== a.siteId);
    const without = new NumberingPlan(fed.sites, gone, first);
    expect(without.siteRanges(a.siteId)).toEqual([]);
    expect(classified(without, fed.numberRanges)).toEqual(classified(new NumberingPlan(fed.sites, gone), fed.numberRanges));
  });

  it('over random changes (added, removed, replaced, moved, reordered, overlapping, new lengths), a plan built over the one before is the plan built afresh', () => {
    let seed = 11;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    let ranges: NumberRange[] = [...fed.numberRanges];
    let plan = first;
    for (let round = 0; round < 150; round++) {
      const roll = next();
      const from = String(100_000 + Math.floor(next() * 40) * 1000 * (roll < 0.9 ? 1 : 10));
      const fresh = { id: `nr-${round}`, siteId: pick(fed.sites).id, from, to: String(Number(from) + Math.floor(next() * 999)) };
      if (roll < 0.35) ranges = [...ranges, fresh].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      else if (roll < 0.55 && ranges.length > 1) ranges = ranges.filter((r) => r !== pick(ranges));
      else if (roll < 0.7) ranges = ranges.map((r) => (r === pick(ranges) ? { ...r, to: String(Number(r.from) + 3) } : r));
      else if (roll < 0.8) ranges = ranges.map((r) => (r === pick(ranges) ? { ...r, siteId: pick(fed.sites).id } : r));
      else if (roll < 0.9) ranges = [...ranges].reverse();
      else ranges = [...ranges, fresh, { ...fresh, id: `nr-${round}-same-from` }];
      plan = new NumberingPlan(fed.sites, ranges, plan);
      const afresh = new NumberingPlan(fed.sites, ranges);
      // Compared as JSON (deep equality of thousands of answers per round is slow).
      expect(JSON.stringify(classified(plan, ranges)), `round ${round}`).toBe(JSON.stringify(classified(afresh, ranges)));
      expect(JSON.stringify(fed.sites.map((s) => plan.siteRanges(s.id)))).toBe(JSON.stringify(fed.sites.map((s) => afresh.siteRanges(s.id))));
      expect(JSON.stringify([...plan.flat])).toBe(JSON.stringify([...afresh.flat]));
      expect(JSON.stringify(plan.flat.overlapping())).toBe(JSON.stringify(afresh.flat.overlapping()));
    }
  });

  it('a plan built over a long chain of plans, each adding or removing a range at another site, is the plan built afresh (the changes held over the first plan, then flattened)', () => {
    const big = generateFederation({ sites: 150, extensionsPerSite: 1, flows: 0, prefixEvery: 7 });
    let ranges: NumberRange[] = [...big.numberRanges];
    let plan = new NumberingPlan(big.sites, ranges);
    for (let k = 0; k < 200; k++) {
      const site = big.sites[(k * 37) % big.sites.length]!;
      const own = ranges.filter((r) => r.siteId === site.id);
      ranges = k % 5 === 4 && own.length > 0 ? ranges.filter((r) => r !== own[0]) : [...ranges, { id: `nr-chain-${k}`, siteId: site.id, from: String(700_000 + k * 100), to: String(700_000 + k * 100 + 99) }];
      plan = new NumberingPlan(big.sites, ranges, plan);
      if (k % 40 !== 39) continue;
      const afresh = new NumberingPlan(big.sites, ranges);
      expect(JSON.stringify(big.sites.map((s) => plan.siteRanges(s.id))), `write ${k}`).toBe(JSON.stringify(big.sites.map((s) => afresh.siteRanges(s.id))));
      expect(JSON.stringify(big.sites.map((s) => plan.ownRanges(s.id)))).toBe(JSON.stringify(big.sites.map((s) => afresh.ownRanges(s.id))));
      const asked = ranges.flatMap((r) => [r.from, r.to]);
      expect(JSON.stringify(big.sites.slice(0, 3).flatMap((s) => asked.map((d) => plan.classify(s.id, d))))).toBe(JSON.stringify(big.sites.slice(0, 3).flatMap((s) => asked.map((d) => afresh.classify(s.id, d)))));
    }
  });
});
