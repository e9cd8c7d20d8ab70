import type { Extension, Federation } from '@fedpbx/contracts';
import type { ExtensionNumbers } from './call-flow-validation.js';
import { diffExtensions, type ExtensionDiff } from './extension-diff.js';
import { checkFederation, type FederationSections, type NumberingContext } from './federation-checks.js';
import type { FederationIssue, ValidationResult } from './federation-issues.js';
import { IdSet } from './id-set.js';
import { IssueList } from './issue-list.js';
import { checkSiteNumbers, sameSiteInputs, siteInputs, type SiteNumbers } from './site-number-checks.js';

/**
 * Flow validation is supplied by the flow engine; kept as a port so this module stays about the numbering
 * plan. `numbers` are the federation's extension numbers by site (see validateFederationFlows).
 */
export type CallFlowValidator = (federation: Federation, numbers: ExtensionNumbers, mailboxes: ExtensionNumbers) => FederationIssue[];

export interface ValidateOptions {
  readonly validateCallFlows?: CallFlowValidator;
}

/** The part of a validation that only the rest of the federation (everything but its extensions) decides. */
interface FederationPart {
  readonly issues: readonly FederationIssue[];
  readonly context: NumberingContext & { readonly sections: FederationSections };
}

/**
 * A federation with its validation, kept so the next write can be validated by redoing only what it can
 * change.
 *
 * The validation is split in parts, each a pure function of what it is given:
 * 1. the rest of the federation ({@link checkFederation}): every check that does not look at extensions;
 * 2. extension ids used twice;
 * 3. one {@link checkSiteNumbers} per site, given that site's extensions (sites in federation order, then the
 *    ids of missing sites that extensions name, sorted);
 * 4. call flows (they may dial any site's numbers), given the extension numbers of every site.
 * The result lists their issues in that order. {@link validate} computes every part. {@link revalidate}
 * reuses what the change cannot reach: when only extensions changed, part 1 and the part 3 of every untouched
 * site as they were computed for the very same input, recomputing the part 3 of the sites whose extensions
 * changed, part 2 from the ids appended, and part 4; when the extensions are the very same and anything else
 * changed (a range, a site, a route, the hub...), part 2 and the part 3 of every site whose slice of part 1's
 * context is the same ({@link sameSiteInputs}: a range added at one site re-checks that site's numbers, not
 * the other 999 sites'), recomputing part 1 and part 4. Both give exactly the same result for the same federation
 * (validated-federation.spec.ts holds them to it over random federations and write sequences).
 */
export class ValidatedFederation {
  private constructor(
    readonly federation: Federation,
    readonly result: ValidationResult,
    /**
     * How this one was computed: 'whole'; 'extensions' when only extensions changed and their sites were
     * re-checked; 'rest' when the extensions did not change and the rest was checked, with the numbers of the
     * sites it reaches.
     */
    readonly computed: 'whole' | 'extensions' | 'rest',
    /** How many sites' numbers ({@link checkSiteNumbers}) were checked for this result; the others' were kept. */
    readonly sitesChecked: number,
    private readonly options: ValidateOptions,
    private readonly rest: FederationPart,
    private readonly extensionIds: IdSet,
    private readonly extensionIdIssues: readonly FederationIssue[],
    private readonly bySite: ReadonlyMap<string, SiteNumbers>,
  ) {}

  /** Validates the whole federation. */
  static validate(fed: Federation, options: ValidateOptions = {}): ValidatedFederation {
    const out = new IssueList();
    const context = checkFederation(fed, out);
    const rest: FederationPart = { issues: out.issues, context };

    const ids = new Set<string>();
    const idIssues = new IssueList();
    for (const e of fed.extensions) {
      if (ids.has(e.id)) duplicateId(idIssues, e.id);
      ids.add(e.id);
    }
    const extensionsBySite = new Map<string, Extension[]>([...context.sites.keys()].map((id) => [id, []]));
    for (const e of fed.extensions) {
      const list = extensionsBySite.get(e.siteId);
      if (list === undefined) extensionsBySite.set(e.siteId, [e]);
      else list.push(e);
    }
    const bySite = new Map<string, SiteNumbers>();
    for (const [siteId, list] of extensionsBySite) bySite.set(siteId, checkSiteNumbers(siteInputs(context, siteId), list));
    return ValidatedFederation.assemble(fed, 'whole', bySite.size, options, rest, IdSet.of(ids), idIssues.issues, bySite);
  }

  /**
   * The validation of `next`, the same as `validate(next, options)` gives. When `next` differs from this
   * federation in its extensions only (every other property the very same value), the rest is reused and
   * only the sites whose extensions were added, replaced or deleted are checked again; otherwise (a site, a
   * range, a route, the hub... changed, or this federation has extension ids used twice) it is validated whole.
   */
  revalidate(next: Federation): ValidatedFederation {
    if (next === this.federation) return this;
    if (next.extensions === this.federation.extensions) return this.revalidateRest(next);
    if (!sameButExtensions(this.federation, next) || this.extensionIdIssues.length > 0) return ValidatedFederation.validate(next, this.options);

    const { deleted, replaced, appended } = diffExtensions(this.federation.extensions, next.extensions);
    const touched = new Set<string>();
    for (const e of deleted) touched.add(e.siteId);
    for (const { before, after } of replaced) touched.add(before.siteId).add(after.siteId);
    for (const e of appended) touched.add(e.siteId);

    // The ids of the kept and replaced extensions are ids this federation had once each: only an appended one
    // can repeat one of those, or an earlier appended one.
    const deletedIds = deleted.map((e) => e.id);
    const surviving = this.extensionIds.edited(deletedIds, []);
    const seen = new Set<string>();
    const idIssues = new IssueList();
    for (const e of appended) {
      if (surviving.has(e.id) || seen.has(e.id)) duplicateId(idIssues, e.id);
      seen.add(e.id);
    }

    const lists = this.siteListsAfter(next, touched, { deleted, replaced, appended });
    const bySite = new Map(this.bySite);
    for (const [siteId, list] of lists) {
      // A site that exists is checked even with no extensions (its flows and emergency numbers are).
      if (list.length === 0 && !this.rest.context.sites.has(siteId)) bySite.delete(siteId);
      else bySite.set(siteId, checkSiteNumbers(siteInputs(this.rest.context, siteId), list));
    }
    return ValidatedFederation.assemble(next, 'extensions', lists.size, this.options, this.rest, surviving.edited([], seen), idIssues.issues, bySite);
  }

  /**
   * `next` has this federation's very extensions (the same array) and anything else may differ: part 1 is
   * checked again, and each site's numbers only when its slice of the new context differs from its slice of
   * this one. The extension ids and each site's extensions are this federation's.
   */
  private revalidateRest(next: Federation): ValidatedFederation {
    const out = new IssueList();
    // Part 1's sections given the very collections they were given before are taken over (federation-checks.ts).
    let context = checkFederation(next, out, this.rest.context.sections);
    // The same classes of service (the very objects) are the same input to every site: keep the one map, so
    // that sameSiteInputs can compare it by identity.
    if (sameValues(context.classesOfService, this.rest.context.classesOfService)) context = { ...context, classesOfService: this.rest.context.classesOfService };
    const bySite = new Map<string, SiteNumbers>();
    let checked = 0;
    const numbersOf = (siteId: string): SiteNumbers => {
      const before = this.bySite.get(siteId);
      const inputs = siteInputs(context, siteId);
      if (before !== undefined && sameSiteInputs(siteInputs(this.rest.context, siteId), inputs)) return before;
      checked++;
      return checkSiteNumbers(inputs, before?.extensions ?? []);
    };
    for (const siteId of context.sites.keys()) bySite.set(siteId, numbersOf(siteId));
    // Sites that do not exist but that extensions name (the same extensions, so the same names as before).
    for (const [siteId, before] of this.bySite) if (!context.sites.has(siteId) && before.extensions.length > 0) bySite.set(siteId, numbersOf(siteId));
    return ValidatedFederation.assemble(next, 'rest', checked, this.options, { issues: out.issues, context }, this.extensionIds, this.extensionIdIssues, bySite);
  }

  /**
   * The extensions of each touched site in `next`, in federation order. Without a pass over `next`: the diff
   * says `next` is this federation's list with `deleted` taken out, `replaced` swapped in place and `appended`
   * at the end, so each site's list is its old one edited the same way - unless a replaced extension moved
   * to another site, where its place among that site's extensions takes a pass over `next` to find.
   * (Objects are found by identity: each is in its site's list once, as this federation has no id twice.)
   */
  private siteListsAfter(next: Federation, touched: ReadonlySet<string>, diff: ExtensionDiff): Map<string, Extension[]> {
    if (diff.replaced.some((r) => r.before.siteId !== r.after.siteId)) {
      const lists = new Map<string, Extension[]>([...touched].map((siteId) => [siteId, []]));
      for (const e of next.extensions) lists.get(e.siteId)?.push(e);
      return lists;
    }
    const lists = new Map<string, Extension[]>([...touched].map((siteId) => [siteId, [...this.extensionsAt(siteId)]]));
    const listOf = (siteId: string): Extension[] => lists.get(siteId) as Extension[];
    for (const e of diff.deleted) listOf(e.siteId).splice(listOf(e.siteId).indexOf(e), 1);
    for (const { before, after } of diff.replaced) listOf(before.siteId)[listOf(before.siteId).indexOf(before)] = after;
    for (const e of diff.appended) listOf(e.siteId).push(e);
    return lists;
  }

  /** The extensions of a site, in federation order (kept per site anyway; a site's snapshot needs them). */
  extensionsAt(siteId: string): readonly Extension[] {
    return this.bySite.get(siteId)?.extensions ?? [];
  }

  private static assemble(
    fed: Federation,
    computed: 'whole' | 'extensions' | 'rest',
    sitesChecked: number,
    options: ValidateOptions,
    rest: FederationPart,
    extensionIds: IdSet,
    extensionIdIssues: readonly FederationIssue[],
    bySite: ReadonlyMap<string, SiteNumbers>,
  ): ValidatedFederation {
    const issues: FederationIssue[] = [...rest.issues, ...extensionIdIssues];
    for (const siteId of rest.context.sites.keys()) issues.push(...(bySite.get(siteId)?.issues ?? []));
    const missingSites = [...bySite.keys()].filter((id) => !rest.context.sites.has(id)).sort();
    for (const id of missingSites) issues.push(...(bySite.get(id)?.issues ?? []));
    if (options.validateCallFlows !== undefined) issues.push(...options.validateCallFlows(
        fed,
        (siteId) => bySite.get(siteId)?.extensionNumbers,
        (siteId) => bySite.get(siteId)?.mailboxNumbers,
      ),
    );
    const errors = issues.filter((i) => i.severity === 'error');
    const result = { ok: errors.length === 0, errors, warnings: issues.filter((i) => i.severity === 'warning') };
    return new ValidatedFederation(fed, result, computed, sitesChecked, options, rest, extensionIds, extensionIdIssues, bySite);
  }
}

function duplicateId(out: IssueList, id: string): void {
  out.error('duplicate-id', `two extension objects share the id ${id}`, [{ type: 'extension', id }]);
}

/** Whether two maps hold the very same values under the same keys. */
function sameValues<K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** Whether every property but `extensions` is the very same value (arrays compared by identity). */
function sameButExtensions(a: Federation, b: Federation): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (k !== 'extensions' && a[k as keyof Federation] !== b[k as keyof Federation]) return false;
  return true;
}
