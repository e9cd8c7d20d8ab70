import type { Extension, Federation } from '@fedpbx/contracts';
import type { ExtensionNumbers } from './call-flow-validation.js';
import { diffExtensions, type ExtensionDiff } from './extension-diff.js';
import { checkFederation, type NumberingContext } from './federation-checks.js';
import type { FederationIssue, ValidationResult } from './federation-issues.js';
import { IdSet } from './id-set.js';
import { IssueList } from './issue-list.js';
import { checkSiteNumbers, type SiteNumbers } from './site-number-checks.js';

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
  readonly context: NumberingContext;
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
 * does too when anything but the extensions changed (a site, its prefix, a range, a route, the hub...); when
 * only extensions changed it reuses part 1 and the part 3 of every untouched site as they were computed for
 * the very same input, and recomputes the part 3 of the sites whose extensions changed, part 2 from the ids
 * appended, and part 4. Both give exactly the same result for the same federation (validated-federation.spec.ts
 * holds them to it over random federations and write sequences).
 */
export class ValidatedFederation {
  private constructor(
    readonly federation: Federation,
    readonly result: ValidationResult,
    /** How this one was computed: 'whole', or 'extensions' when only changed sites were re-checked. */
    readonly computed: 'whole' | 'extensions',
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
    for (const [siteId, list] of extensionsBySite) bySite.set(siteId, checkSiteNumbers(context, siteId, list));
    return ValidatedFederation.assemble(fed, 'whole', options, rest, IdSet.of(ids), idIssues.issues, bySite);
  }

  /**
   * The validation of `next`, the same as `validate(next, options)` gives. When `next` differs from this
   * federation in its extensions only (every other property the very same value), the rest is reused and
   * only the sites whose extensions were added, replaced or deleted are checked again; otherwise (a site, a
   * range, a route, the hub... changed, or this federation has extension ids used twice) it is validated whole.
   */
  revalidate(next: Federation): ValidatedFederation {
    if (next === this.federation) return this;
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
      else bySite.set(siteId, checkSiteNumbers(this.rest.context, siteId, list));
    }
    return ValidatedFederation.assemble(next, 'extensions', this.options, this.rest, surviving.edited([], seen), idIssues.issues, bySite);
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
    computed: 'whole' | 'extensions',
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
    return new ValidatedFederation(fed, result, computed, options, rest, extensionIds, extensionIdIssues, bySite);
  }
}

function duplicateId(out: IssueList, id: string): void {
  out.error('duplicate-id', `two extension objects share the id ${id}`, [{ type: 'extension', id }]);
}

/** Whether every property but `extensions` is the very same value (arrays compared by identity). */
function sameButExtensions(a: Federation, b: Federation): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (k !== 'extensions' && a[k as keyof Federation] !== b[k as keyof Federation]) return false;
  return true;
}
