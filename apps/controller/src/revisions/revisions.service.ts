import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { actorName, type Principal } from '../auth/principal.js';
import { ForbiddenError, NotFoundError, PropertyForbiddenError, ValidationConflictError } from '../errors.js';
import type { CollectionName, FederationChange } from '../federation/federation-change.js';
import { FederationWriter } from '../federation/federation-writer.js';
import { siteOwnedConfig } from '../federation/site-impact.js';
import type { SiteOwnedConfig } from '../federation/site-owned-config.js';
import { redactIssues } from '../resources/issue-redaction.js';
import { headOfficeChanges, RESOURCE_KINDS, toResponse } from '../resources/resource-kinds.js';
import type { WriteResponse } from '../resources/resource.service.js';
import { diffOwnedConfig, type OwnedConfigDiff } from './revision-diff.js';
import { RevisionRepository, type RevisionSummary } from './revision.repository.js';
import { answeredValidation } from '../federation/write-validation.js';

type OwnedCollection = Exclude<keyof SiteOwnedConfig, 'site'> & CollectionName;
const OWNED: readonly OwnedCollection[] = ['numberRanges', 'extensions', 'trunks', 'inboundRoutes', 'callFlows'];

/** Site revisions: list, show, roll back. */
@Injectable()
export class RevisionsService {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly revisions: RevisionRepository,
    private readonly writer: FederationWriter,
  ) {}

  list(caller: Principal, siteId: string, limit: number, before: number | undefined): Promise<RevisionSummary[]> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    return this.revisions.list(this.ds.manager, siteId, limit, before);
  }

  /** A revision with the objects the site owned then (credentials removed). */
  async get(caller: Principal, siteId: string, revision: number): Promise<RevisionSummary & { owned: Record<string, unknown> }> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    const r = await this.revisions.get(this.ds.manager, siteId, revision);
    if (r === undefined) throw new NotFoundError('revision', `${siteId}@${revision}`);
    const owned: Record<string, unknown> = { site: toResponse(RESOURCE_KINDS.sites, r.owned.site) };
    for (const c of OWNED) owned[c] = (r.owned[c] as readonly never[]).map((o) => toResponse(RESOURCE_KINDS[c], o));
    return { ...r, owned };
  }

  /** What changed in the objects the site owns from revision `from` to revision `to` (either order). */
  async diff(caller: Principal, siteId: string, from: number, to: number): Promise<{ siteId: string; from: RevisionSummary; to: RevisionSummary } & OwnedConfigDiff> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    const [a, b] = await Promise.all([this.revisions.get(this.ds.manager, siteId, from), this.revisions.get(this.ds.manager, siteId, to)]);
    if (a === undefined) throw new NotFoundError('revision', `${siteId}@${from}`);
    if (b === undefined) throw new NotFoundError('revision', `${siteId}@${to}`);
    const { owned: before, ...fromSummary } = a;
    const { owned: after, ...toSummary } = b;
    return { siteId, from: fromSummary, to: toSummary, ...diffOwnedConfig(before, after) };
  }

  /**
   * Restores what the site owned at that revision (site settings, ranges, extensions, trunks, inbound routes,
   * call flows), validated against today's federation like any write; it becomes a new revision.
   */
  async rollback(caller: Principal, siteId: string, revision: number, dryRun: boolean): Promise<WriteResponse> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    if (!caller.scope.canWrite(siteId)) throw new ForbiddenError(`read-only access to site ${siteId}`);
    const target = await this.revisions.get(this.ds.manager, siteId, revision);
    if (target === undefined) throw new NotFoundError('revision', `${siteId}@${revision}`);
    const write = () => this.writer.write({ actor: actorName(caller), reason: `rollback of ${siteId} to revision ${revision}`, dryRun }, (fed) => {
      const current = siteOwnedConfig(fed, siteId);
      if (current === undefined) throw new NotFoundError('site', siteId);
      if (!caller.scope.headOffice) {
        const changed = headOfficeChanges(RESOURCE_KINDS.sites, current.site, target.owned.site);
        if (changed.length > 0) throw new PropertyForbiddenError(changed);
      }
      const changes: FederationChange[] = [{ collection: 'sites', op: 'upsert', value: target.owned.site }];
      for (const c of OWNED) {
        const keep = new Set((target.owned[c] as readonly { id: string }[]).map((o) => o.id));
        for (const o of current[c] as readonly { id: string }[]) if (!keep.has(o.id)) changes.push({ collection: c, op: 'delete', id: o.id } as FederationChange);
        for (const o of target.owned[c]) changes.push({ collection: c, op: 'upsert', value: o } as FederationChange);
      }
      return changes;
    });
    // A refused rollback answers with the issues the caller may see, as every other write does.
    const outcome = await write().catch((e: unknown) => {
      throw e instanceof ValidationConflictError ? new ValidationConflictError(redactIssues(e.issues, caller.scope), redactIssues(e.warnings, caller.scope)) : e;
    });
    return {
      dryRun,
      validation: answeredValidation(outcome.validation, caller.scope),
      changedSites: outcome.changedSites.map((s) => s.siteId).filter((s) => caller.scope.canRead(s)),
      revisions: outcome.revisions.filter((r) => caller.scope.canRead(r.siteId)),
    };
  }
}
