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
});
