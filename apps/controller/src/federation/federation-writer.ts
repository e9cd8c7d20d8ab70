import { Inject, Injectable } from '@nestjs/common';
import type { Federation, LiveEvent } from '@fedpbx/contracts';
import { ValidatedFederation, validateFederationFlows, type FederationIssue, type ValidationResult } from '@fedpbx/dialplan';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditRepository, type AuditRecord } from '../audit/audit.repository.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { WriteLock } from '../database/write-lock.js';
import { LiveHub } from '../live/live-hub.js';
import { ValidationConflictError } from '../errors.js';
import { RevisionRepository, type NewRevision, type SiteHead } from '../revisions/revision.repository.js';
import { applyChanges, changedId, type FederationChange } from './federation-change.js';
import { FederationRepository } from './federation.repository.js';
import { FederationStore, type FederationView } from './federation-store.js';
import { OBJECT_TYPE, sitesOfObject } from './object-sites.js';
import { carryPairedParts, pairedSiteHash, sharedPartText, siteConfigHash, type ExtensionsAt } from './site-config-hash.js';
import { candidateSites, lookupOnce, siteOwnedConfigs, type BeforeLookup } from './site-impact.js';

export interface WriteRequest {
  /** Who, for the audit log and revisions. */
  readonly actor: string;
  /** Why, for revisions ("extension e-101 created", "rollback to 12"). */
  readonly reason: string;
  readonly dryRun: boolean;
  /**
   * More of the same write, inside its transaction after the federation, audit and revisions are written (not
   * called for a dry run or a refused write): what must commit or fail with the federation change.
   */
  readonly alsoInTransaction?: (m: EntityManager) => Promise<void>;
}

/** Decides the changes from the current federation (inside the lock); may throw a DomainError to refuse. */
export type ChangePlanner = (current: Federation) => readonly FederationChange[];

export interface SiteImpact {
  readonly siteId: string;
  /** Snapshot content hash before and after; absent when the site does not exist on that side. */
  readonly before?: string;
  readonly after?: string;
}

export interface WriteOutcome {
  readonly dryRun: boolean;
  /** Every issue; the warnings that concern the write (it brought them, or they name an object it changes) first. */
  readonly validation: { readonly ok: boolean; readonly errors: readonly FederationIssue[]; readonly warnings: readonly FederationIssue[] };
  /** Sites whose snapshot changes (would change, for a dry run). */
  readonly changedSites: readonly SiteImpact[];
  /** Revisions written (empty for a dry run). */
  readonly revisions: readonly { readonly siteId: string; readonly revision: number }[];
  /** The federation after the write (before it, for a refused dry run). */
  readonly federation: Federation;
  /** The federation the write started from. */
  readonly before: Federation;
}

const VALIDATE_OPTIONS = { validateCallFlows: validateFederationFlows };

/**
 * The one way the federation changes: inside one transaction holding the federation lock, apply the planned
 * changes to the whole federation, validate it with libs/dialplan (numbering plan and call flows), and only
 * if it is valid write the changes, the audit entries and a new revision for every site whose snapshot hash
 * changed. A dry run stops after working out the validation and the impact. All or nothing.
 *
 * The whole federation is validated at every write, but not from scratch: the validation of the federation
 * the write starts from is kept (by federation object: the store's current one), and
 * ValidatedFederation.revalidate re-checks only the sites whose extensions changed when nothing else did -
 * the same result as a whole validation, which it falls back to for any other change.
 */
@Injectable()
export class FederationWriter {
  private readonly lock = new WriteLock();
  private readonly validations = new WeakMap<Federation, ValidatedFederation>();

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly repo: FederationRepository,
    private readonly store: FederationStore,
    private readonly revisions: RevisionRepository,
    private readonly audit: AuditRepository,
    private readonly live: LiveHub,
    @Inject(CONTROLLER_CONFIG) private readonly config: Pick<ControllerConfig, 'FEDPBX_SNAPSHOT_FORMAT'>,
  ) {}

  async write(req: WriteRequest, plan: ChangePlanner): Promise<WriteOutcome> {
    if (req.dryRun) return this.evaluate(await this.store.read(), plan, req).outcome;
    let committed: FederationView | undefined;
    let changed: LiveEvent[] = [];
    const outcome = await this.lock.run(() =>
      this.ds.transaction(async (m) => {
        const current = await this.store.locked(m);
        const { outcome, changes, heads, extensionsAt, previous } = this.evaluate(current, plan, req);
        if (!outcome.validation.ok) throw new ValidationConflictError(outcome.validation.errors, outcome.validation.warnings);
        const state = await this.repo.persist(m, changes, current.state);
        const records = auditRecords(req.actor, current.federation, changes, previous);
        await this.audit.append(m, records);
        const rows: NewRevision[] = [];
        // A revision records the site's own objects when they changed (or the site is new - or re-created under
        // the id of a deleted site, whose revisions remain); otherwise they are its previous revision's.
        const ownersChanged = sitesWithOwnedChanges(changes, previous);
        const recordOwned = outcome.changedSites.map((s) => s.siteId).filter((id) => ownersChanged.has(id) || !current.heads.has(id));
        const ownedBySite = siteOwnedConfigs(outcome.federation, recordOwned, extensionsAt);
        for (const impact of outcome.changedSites) {
          if (impact.after === undefined) continue;
          const head = current.heads.get(impact.siteId);
          const revision = this.nextRevision((head?.revision ?? (await this.revisions.lastRevision(m, impact.siteId))) + 1, state.version);
          heads.set(impact.siteId, { revision, contentHash: impact.after });
          rows.push({ siteId: impact.siteId, revision, contentHash: impact.after, owned: ownedBySite.get(impact.siteId) ?? null, reason: req.reason, actor: req.actor });
        }
        await this.revisions.insert(m, rows);
        await req.alsoInTransaction?.(m);
        committed = { version: state.version, state, federation: outcome.federation, heads };
        changed = [
          ...records.map((r): LiveEvent => ({ topic: 'config', kind: r.objectType, siteIds: r.siteIds })),
          ...(rows.length > 0 ? [{ topic: 'rollout' as const, siteIds: rows.map((r) => r.siteId) }] : []),
        ];
        return { ...outcome, revisions: rows.map((r) => ({ siteId: r.siteId, revision: r.revision })) };
      }),
    );
    if (committed !== undefined) {
      this.store.committed(committed);
      // After the commit: a console that reads at once sees the change.
      this.live.emit(changed);
    }
    return outcome;
  }

  /**
   * A site's next revision: its own counter, or in the paired format the federation version of the write (never
   * below the counter). Paired agents compare a site part's revision with the shared part's (the version it was
   * built at): "written after the shared part" must mean the same in both (split-snapshot.ts PAIRED_FORMAT).
   */
  private nextRevision(counter: number, version: number): number {
    return this.config.FEDPBX_SNAPSHOT_FORMAT === 'paired' ? Math.max(counter, version) : counter;
  }

  /** The validation of the current federation: the one its write kept, or (after a reload) worked out once. */
  async currentValidation(): Promise<ValidationResult> {
    const { federation } = await this.store.read();
    let validated = this.validations.get(federation);
    if (validated === undefined) this.validations.set(federation, (validated = ValidatedFederation.validate(federation, VALIDATE_OPTIONS)));
    return validated.result;
  }

  private evaluate(current: FederationView, plan: ChangePlanner, req: WriteRequest) {
    const changes = plan(current.federation);
    const next = applyChanges(current.federation, changes);
    const kept = this.validations.get(current.federation);
    const validated = kept?.revalidate(next) ?? ValidatedFederation.validate(next, VALIDATE_OPTIONS);
    this.validations.set(next, validated);
    const { result } = validated;
    const extensionsAt: ExtensionsAt = (siteId) => validated.extensionsAt(siteId);
    const heads = new Map<string, SiteHead>(current.heads);
    const previous = lookupOnce(current.federation);
    const changedSites = result.ok || req.dryRun ? impactOf(this.config.FEDPBX_SNAPSHOT_FORMAT, current, next, changes, previous, extensionsAt) : [];
    for (const s of changedSites) if (s.after === undefined) heads.delete(s.siteId);
    const outcome: WriteOutcome = {
      dryRun: req.dryRun,
      validation: { ok: result.ok, errors: result.errors, warnings: concernsFirst(result.warnings, changes, kept?.result.warnings) },
      changedSites,
      revisions: [],
      federation: next,
      before: current.federation,
    };
    return { outcome, changes, heads, extensionsAt, previous };
  }
}

/**
 * The warnings with those that concern the write first: the ones it brought (not among `before`'s, when known)
 * and the ones naming an object it changes, each group in validation order. An answer lists only the first few
 * of a large federation's standing warnings (write-validation.ts): what the write did must be among them.
 */
function concernsFirst(warnings: readonly FederationIssue[], changes: readonly FederationChange[], before: readonly FederationIssue[] | undefined): FederationIssue[] {
  const changed = new Set(changes.map((c) => (c.collection === 'hub' ? 'site\n' + (c.hubSiteId ?? '') : `${OBJECT_TYPE[c.collection]}\n${changedId(c)}`)));
  const standing = before === undefined ? undefined : issueKeys(before);
  const concerns = (w: FederationIssue): boolean => (standing !== undefined && !standing.has(issueKey(w))) || w.objects.some((o) => changed.has(`${o.type}\n${o.id}`));
  const first: FederationIssue[] = [];
  const rest: FederationIssue[] = [];
  for (const w of warnings) (concerns(w) ? first : rest).push(w);
  return rest.length === 0 || first.length === 0 ? [...warnings] : [...first, ...rest];
}

/**
 * An issue as far as telling one from another goes: its code and its message (which names its objects). Kept per
 * issue object, and the set per warning list: a revalidation hands on the issues of what it did not re-check, and
 * the list of one write is the `before` of the next (1,000 sites have ~1,000 standing warnings, every write).
 */
const KEYS = new WeakMap<FederationIssue, string>();
const KEY_SETS = new WeakMap<readonly FederationIssue[], ReadonlySet<string>>();

function issueKey(i: FederationIssue): string {
  let key = KEYS.get(i);
  if (key === undefined) KEYS.set(i, (key = `${i.code}\n${i.message}`));
  return key;
}

function issueKeys(issues: readonly FederationIssue[]): ReadonlySet<string> {
  let keys = KEY_SETS.get(issues);
  if (keys === undefined) KEY_SETS.set(issues, (keys = new Set(issues.map(issueKey))));
  return keys;
}

/**
 * Sites whose snapshot hash differs after the change (hashes computed only for sites the change can reach). In the
 * paired format a site's head hash is over its site part and the shared part without its list (pairedSiteHash):
 * a change to what the shared part carries moves every site's head, yet builds only the site parts the change can
 * reach - the others are handed on from the federation before.
 */
function impactOf(format: ControllerConfig['FEDPBX_SNAPSHOT_FORMAT'], current: FederationView, next: Federation, changes: readonly FederationChange[], previous: BeforeLookup, extensionsAt: ExtensionsAt): SiteImpact[] {
  if (format === 'split') return impactOn(current, next, candidateSites(current.federation, next, changes, previous), (siteId) => siteConfigHash(next, siteId, extensionsAt));
  const parts = candidateSites(current.federation, next, changes, previous, 'site-part');
  carryPairedParts(current.federation, next, parts, extensionsAt);
  const sharedMoved = sharedPartText(current.federation).contentHash !== sharedPartText(next, extensionsAt).contentHash;
  return impactOn(current, next, sharedMoved ? 'all' : parts, (siteId) => pairedSiteHash(next, siteId, extensionsAt));
}

/** The sites among `candidates` whose head hash (`hashOf` in `next`) differs from the current head's. */
function impactOn(current: FederationView, next: Federation, candidates: ReadonlySet<string> | 'all', hashOf: (siteId: string) => string): SiteImpact[] {
  const ids = candidates === 'all' ? new Set([...current.federation.sites.map((s) => s.id), ...next.sites.map((s) => s.id)]) : candidates;
  const nextSites = new Set(next.sites.map((s) => s.id));
  const out: SiteImpact[] = [];
  for (const siteId of [...ids].sort()) {
    const before = current.heads.get(siteId)?.contentHash;
    const after = nextSites.has(siteId) ? hashOf(siteId) : undefined;
    if (before !== after) out.push({ siteId, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) });
  }
  return out;
}

/** Collections whose objects make up a site's owned config (site-owned-config.ts). */
const OWNED_COLLECTIONS = new Set<string>(['sites', 'numberRanges', 'extensions', 'trunks', 'inboundRoutes', 'callFlows']);

/** Sites whose own objects a change touches (where an object was, and where it is now). */
function sitesWithOwnedChanges(changes: readonly FederationChange[], previous: BeforeLookup): Set<string> {
  const out = new Set<string>();
  for (const c of changes) {
    if (c.collection === 'hub' || !OWNED_COLLECTIONS.has(c.collection)) continue;
    const old = previous(c.collection, changedId(c));
    if (old !== undefined) for (const s of sitesOfObject(c.collection, old)) out.add(s);
    if (c.op === 'upsert') for (const s of sitesOfObject(c.collection, c.value)) out.add(s);
  }
  return out;
}

function auditRecords(actor: string, before: Federation, changes: readonly FederationChange[], previous: BeforeLookup): AuditRecord[] {
  return changes.map((c): AuditRecord => {
    if (c.collection === 'hub') {
      return { actor, action: 'hub.set', objectType: 'federation', objectId: 'hub', siteIds: [], before: { hubSiteId: before.hubSiteId ?? null }, after: { hubSiteId: c.hubSiteId ?? null } };
    }
    const old = previous(c.collection, changedId(c));
    const after = c.op === 'upsert' ? c.value : undefined;
    const siteIds = [...new Set([...(old !== undefined ? sitesOfObject(c.collection, old) : []), ...(after !== undefined ? sitesOfObject(c.collection, after) : [])])];
    const action = c.op === 'delete' ? 'delete' : old === undefined ? 'create' : 'update';
    return {
      actor,
      action: `${OBJECT_TYPE[c.collection]}.${action}`,
      objectType: OBJECT_TYPE[c.collection],
      objectId: changedId(c),
      siteIds,
      ...(old !== undefined ? { before: old } : {}),
      ...(after !== undefined ? { after } : {}),
    };
  });
}
