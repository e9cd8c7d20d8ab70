import type { NumberRange } from '@fedpbx/contracts';
import { IntervalIndex } from './interval-index.js';

/** What the numbering plan needs to know of a site. */
export interface PlanSite {
  readonly id: string;
  readonly prefix?: string | undefined;
  readonly prefixRequired?: boolean | undefined;
}

/** Where a dialled internal number leads, as seen from one origin site. */
export type NumberTarget =
  /** One of the origin's own ranges. */
  | { readonly kind: 'own'; readonly siteId: string; readonly number: string; readonly range: NumberRange }
  /** Another site's range, dialled flat (no prefix) or as prefix + number (`number` is without the prefix). */
  | {
      readonly kind: 'site';
      readonly siteId: string;
      readonly number: string;
      readonly range: NumberRange;
      readonly prefix?: string;
    }
  /** prefix + a number of the right length that no range of that site holds. */
  | { readonly kind: 'prefix-unassigned'; readonly siteId: string; readonly number: string; readonly prefix: string };

/**
 * The federation numbering plan: which ranges live at which site, and how each site dials the others.
 *
 * - prefix + number reaches a site with a prefix from anywhere; the receiving site sees the number alone.
 * - A site without `prefixRequired` is in the flat plan: its ranges are dialled as they are from every site.
 *   Flat ranges never overlap (validation); a site's own ranges take precedence over the flat plan inside it.
 * - A site with `prefixRequired` has a private plan (it overlaps someone): others reach it only by prefix.
 */
export class NumberingPlan {
  readonly sites: ReadonlyMap<string, PlanSite>;
  /** Ranges of flat-plan sites. */
  readonly flat: IntervalIndex<NumberRange>;
  /** Prefixes, longest first. */
  readonly prefixes: ReadonlyArray<{ readonly prefix: string; readonly siteId: string }>;
  /** Site by prefix, and the distinct prefix lengths (longest first): a lookup per length, not per prefix. */
  private readonly siteByPrefix: ReadonlyMap<string, string>;
  private readonly prefixLengths: readonly number[];
  private readonly bySite: SiteValues<IntervalIndex<NumberRange>>;
  /** Each site's ranges as given (for the next plan to take over the index of a site whose ranges are the same). */
  private readonly rangesBySite: SiteValues<readonly NumberRange[]>;

  /** The ranges as given (for the next plan to find what changed). */
  private readonly ranges: readonly NumberRange[];

  /**
   * `previous`: the plan before, built from the same `sites`. What depends on the sites alone is taken over; the
   * ranges are compared with the plan before's by identity (the agent's snapshot keeps unchanged ranges the same
   * objects): only the sites whose ranges were added, removed or replaced are indexed again, and the flat plan's
   * index is updated in place of being built again (a range added anywhere: that site and one bucket of the flat
   * plan, not 1,000 sites and a sort of every flat range). The result is the plan built afresh.
   */
  constructor(sites: Iterable<PlanSite>, ranges: Iterable<NumberRange>, previous?: NumberingPlan) {
    this.sites = previous?.sites ?? new Map([...sites].map((s) => [s.id, s]));
    this.ranges = Array.isArray(ranges) ? (ranges as NumberRange[]) : [...ranges];
    if (previous !== undefined) {
      this.prefixes = previous.prefixes;
      this.siteByPrefix = previous.siteByPrefix;
      this.prefixLengths = previous.prefixLengths;
    } else {
      this.prefixes = [...this.sites.values()]
        .filter((s): s is PlanSite & { prefix: string } => s.prefix !== undefined)
        .map((s) => ({ prefix: s.prefix, siteId: s.id }))
        .sort((a, b) => b.prefix.length - a.prefix.length);
      this.siteByPrefix = new Map(this.prefixes.map((p) => [p.prefix, p.siteId]));
      this.prefixLengths = [...new Set(this.prefixes.map((p) => p.prefix.length))];
    }
    const changes = previous === undefined ? undefined : rangeChanges(previous.ranges, this.ranges);
    const updated = previous !== undefined && changes !== undefined ? this.updatedFrom(previous, changes) : undefined;
    if (updated !== undefined) {
      ({ rangesBySite: this.rangesBySite, bySite: this.bySite, flat: this.flat } = updated);
      return;
    }
    const perSite = new Map<string, NumberRange[]>();
    const flat: NumberRange[] = [];
    for (const r of this.ranges) {
      const list = perSite.get(r.siteId) ?? [];
      list.push(r);
      perSite.set(r.siteId, list);
      if (this.isFlat(r)) flat.push(r);
    }
    this.rangesBySite = new SiteValues(perSite);
    this.bySite = new SiteValues(
      new Map(
        [...perSite].map(([id, list]) => {
          const before = previous?.rangesBySite.get(id);
          const same = before !== undefined && before.length === list.length && before.every((r, i) => r === list[i]);
          return [id, same ? (previous?.bySite.get(id) ?? toIndex(list)) : toIndex(list)];
        }),
      ),
    );
    this.flat = toIndex(flat);
  }

  private isFlat(r: NumberRange): boolean {
    return this.sites.get(r.siteId)?.prefixRequired !== true;
  }

  /**
   * The plan before with `changes` applied: each site a change touches indexed again from its ranges in the order
   * given (as a build afresh does), the flat index updated; undefined when the flat index cannot be updated
   * exactly (IntervalIndex.withChanges).
   */
  private updatedFrom(previous: NumberingPlan, changes: RangeChanges): { flat: IntervalIndex<NumberRange>; rangesBySite: SiteValues<readonly NumberRange[]>; bySite: SiteValues<IntervalIndex<NumberRange>> } | undefined {
    const flat = previous.flat.withChanges(
      changes.added.filter((r) => this.isFlat(r)).map((r) => ({ from: r.from, to: r.to, value: r })),
      new Set(changes.removed.filter((r) => this.isFlat(r))),
    );
    if (flat === undefined) return undefined;
    const ranges = new Map<string, readonly NumberRange[] | undefined>();
    const indexes = new Map<string, IntervalIndex<NumberRange> | undefined>();
    const touched = new Set([...changes.added, ...changes.removed].map((r) => r.siteId));
    for (const id of touched) {
      const list = this.ranges.filter((r) => r.siteId === id);
      ranges.set(id, list.length === 0 ? undefined : list);
      indexes.set(id, list.length === 0 ? undefined : toIndex(list));
    }
    return { flat, rangesBySite: previous.rangesBySite.with(ranges), bySite: previous.bySite.with(indexes) };
  }

  /** The range of `siteId` holding `number`. */
  rangeAt(siteId: string, number: string): NumberRange | undefined {
    return this.bySite.get(siteId)?.find(number)?.value;
  }

  /** The site's ranges as given, in their order: all that {@link rangeAt} of the site looks at. */
  ownRanges(siteId: string): readonly NumberRange[] {
    return this.rangesBySite.get(siteId) ?? [];
  }

  siteRanges(siteId: string): readonly NumberRange[] {
    const index = this.bySite.get(siteId);
    return index ? [...index].map((i) => i.value) : [];
  }

  /**
   * Where `dialled` (digits only, `-` already removed) leads from `originSiteId`, if it is an internal number:
   * own ranges first, then site prefixes, then the flat plan. Undefined means "not an internal number".
   */
  classify(originSiteId: string, dialled: string): NumberTarget | undefined {
    const own = this.rangeAt(originSiteId, dialled);
    if (own) return { kind: 'own', siteId: originSiteId, number: dialled, range: own };
    for (const length of this.prefixLengths) {
      if (dialled.length <= length) continue;
      const prefix = dialled.slice(0, length);
      const siteId = this.siteByPrefix.get(prefix);
      if (siteId === undefined) continue;
      const rest = dialled.slice(length);
      const range = this.rangeAt(siteId, rest);
      if (range) {
        return siteId === originSiteId
          ? { kind: 'own', siteId, number: rest, range }
          : { kind: 'site', siteId, number: rest, range, prefix };
      }
      if (this.bySite.get(siteId)?.hasLength(rest.length) === true) return { kind: 'prefix-unassigned', siteId, number: rest, prefix };
    }
    const flat = this.flat.find(dialled)?.value;
    if (flat) return { kind: 'site', siteId: flat.siteId, number: dialled, range: flat };
    return undefined;
  }

  /** The number as `fromSiteId` must dial it to reach `number` at `siteId` (flat, or prefix + number). */
  dialStringFrom(fromSiteId: string, siteId: string, number: string): string | undefined {
    if (fromSiteId === siteId) return number;
    const target = this.classify(fromSiteId, number);
    if (target?.kind === 'site' && target.siteId === siteId) return number;
    const prefix = this.sites.get(siteId)?.prefix;
    return prefix === undefined ? undefined : prefix + number;
  }
}

/** Sites changed on top of the shared map before flattening them into a copy of it. */
const MAX_SITE_CHANGES = 64;

/**
 * Per-site values of a plan, taken over by the plan after it: the sites a change touched held on top of a map the
 * plans share, flattened into a copy once MAX_SITE_CHANGES have piled up. Copying the 1,000 sites' entries of both
 * maps at every range added was most of the plan's update (~0.16 ms of the agent's ~2 ms apply).
 */
class SiteValues<V> {
  constructor(
    private readonly base: ReadonlyMap<string, V>,
    /** Changed since `base`: a site's new value, or undefined for a site that has none any more. */
    private readonly changed: ReadonlyMap<string, V | undefined> = new Map(),
  ) {}

  get(siteId: string): V | undefined {
    return this.changed.has(siteId) ? this.changed.get(siteId) : this.base.get(siteId);
  }

  /** These values with `changes` made (undefined: the site has none). */
  with(changes: ReadonlyMap<string, V | undefined>): SiteValues<V> {
    const changed = new Map([...this.changed, ...changes]);
    if (changed.size <= MAX_SITE_CHANGES) return new SiteValues(this.base, changed);
    const flat = new Map(this.base);
    for (const [id, value] of changed) {
      if (value === undefined) flat.delete(id);
      else flat.set(id, value);
    }
    return new SiteValues(flat);
  }
}

interface RangeChanges {
  readonly added: readonly NumberRange[];
  readonly removed: readonly NumberRange[];
}

/** Beyond this many changed ranges the plan is built afresh (the walk's bookkeeping would cost more). */
const MAX_RANGE_CHANGES = 64;

/**
 * The ranges taken out of `before` and put into `after`, found by walking both in step: the same object at both
 * places is unchanged, otherwise the smaller id is the one removed or added (both, for one id in another object).
 * Every element of each list is consumed once, so `after` is always `before` less `removed` plus `added` (as
 * multisets of objects), whatever the order; in id order (the controller's) the lists are the real changes.
 */
function rangeChanges(before: readonly NumberRange[], after: readonly NumberRange[]): RangeChanges | undefined {
  const added: NumberRange[] = [];
  const removed: NumberRange[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const a = before[i];
    const b = after[j];
    if (a !== undefined && a === b) {
      i++;
      j++;
      continue;
    }
    if (b === undefined || (a !== undefined && a.id < b.id)) {
      removed.push(a as NumberRange);
      i++;
    } else if (a === undefined || b.id < a.id) {
      added.push(b);
      j++;
    } else {
      removed.push(a);
      added.push(b);
      i++;
      j++;
    }
    if (added.length + removed.length > MAX_RANGE_CHANGES) return undefined;
  }
  return { added, removed };
}

function toIndex(ranges: readonly NumberRange[]): IntervalIndex<NumberRange> {
  return new IntervalIndex(ranges.map((r) => ({ from: r.from, to: r.to, value: r })));
}
