import { Inject, Injectable } from '@nestjs/common';
import { Subjects, type DecommissionOutcome as DecommissionAnswer, type DecommissionPlan, type Federation } from '@fedpbx/contracts';
import type { FederationIssue } from '@fedpbx/dialplan';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { AuditRepository } from '../audit/audit.repository.js';
import { actorName, type Principal } from '../auth/principal.js';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import type { FederationChange } from '../federation/federation-change.js';
import { FederationStore } from '../federation/federation-store.js';
import { FederationWriter } from '../federation/federation-writer.js';
import { AccountRevocations } from './account-revocations.js';
import { AgentCredentialRepository } from './agent-credential.repository.js';
import { AgentCredentialsService, rotateLinkSecrets } from './agent-credentials.service.js';
import { answeredValidation } from '../federation/write-validation.js';

/** `POST /sites/:siteId/decommission`: a real run names the site again (what the console's typed confirmation sends). */
export const DecommissionBody = z.strictObject({ confirm: z.string().max(64).optional() });

export type { DecommissionPlan } from '@fedpbx/contracts';
/** The decommission's answer (libs/contracts, which the console reads it with), with the validator's issues. */
export type DecommissionOutcome = DecommissionAnswer<FederationIssue>;

/** The changes that remove a site and everything that depends on it (pure). */
export function decommissionChanges(fed: Federation, siteId: string): { changes: FederationChange[]; plan: DecommissionPlan } {
  const own = <T extends { siteId: string }>(xs: readonly T[]): T[] => xs.filter((x) => x.siteId === siteId);
  const trunkIds = new Set(own(fed.trunks).map((t) => t.id));
  const links = fed.links.filter((l) => l.a === siteId || l.b === siteId);
  const linkIds = new Set(links.map((l) => l.id));
  const heldSecrets = new Set(links.flatMap((l) => (l.secret === undefined ? [] : [l.secret])));
  const changes: FederationChange[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const r of fed.outboundRoutes) {
    const usedBy = r.sites.includes(siteId);
    const trunks = r.trunks.filter((p) => !trunkIds.has(p.trunkId));
    if (!usedBy && trunks.length === r.trunks.length) continue;
    const sites = r.sites.filter((s) => s !== siteId);
    // A route that only this site used must not become a route of every site (empty `sites` means all).
    if ((usedBy && sites.length === 0) || trunks.length === 0) {
      changes.push({ collection: 'outboundRoutes', op: 'delete', id: r.id });
      removed.push(r.id);
    } else {
      changes.push({ collection: 'outboundRoutes', op: 'upsert', value: { ...r, sites, trunks } });
      changed.push(r.id);
    }
  }
  const del = <C extends 'callFlows' | 'inboundRoutes' | 'extensions' | 'numberRanges' | 'trunks' | 'links'>(collection: C, ids: readonly string[]): void => {
    for (const id of ids) changes.push({ collection, op: 'delete', id } as FederationChange);
  };
  const plan: DecommissionPlan = {
    numberRanges: own(fed.numberRanges).map((x) => x.id),
    extensions: own(fed.extensions).map((x) => ({ id: x.id, number: x.number })),
    trunks: [...trunkIds],
    links: [...linkIds],
    inboundRoutes: own(fed.inboundRoutes).map((x) => x.id),
    callFlows: own(fed.callFlows).map((x) => x.id),
    outboundRoutesRemoved: removed,
    outboundRoutesChanged: changed,
    hubCleared: fed.hubSiteId === siteId,
    rotatedLinks: fed.links.filter((l) => !linkIds.has(l.id) && l.secret !== undefined && heldSecrets.has(l.secret)).map((l) => l.id),
    peers: [...new Set(links.map((l) => (l.a === siteId ? l.b : l.a)))].sort(),
  };
  del('callFlows', plan.callFlows);
  del('inboundRoutes', plan.inboundRoutes);
  del('extensions', plan.extensions.map((e) => e.id));
  del('numberRanges', plan.numberRanges);
  del('links', plan.links);
  del('trunks', plan.trunks);
  changes.push(...rotateLinkSecrets(fed.links.filter((l) => plan.rotatedLinks.includes(l.id))));
  if (plan.hubCleared) changes.push({ collection: 'hub', op: 'set', hubSiteId: undefined });
  changes.push({ collection: 'sites', op: 'delete', id: siteId });
  return { changes, plan };
}

/**
 * Site decommission (head office): one validated write that removes the site and everything that depends on it,
 * all or nothing, together with the revocation of its agent's credentials (same transaction) and an audit entry
 * of the whole; then the hub is told (account revocations: the agent is disconnected and cannot reconnect) and the
 * snapshot publisher removes the site's config bucket and rolls out its peers' changed snapshots. `?dryRun=true`
 * previews exactly that, committing nothing.
 */
@Injectable()
export class SiteDecommissionService {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly store: FederationStore,
    private readonly writer: FederationWriter,
    private readonly audit: AuditRepository,
    private readonly credentials: AgentCredentialsService,
    private readonly repo: AgentCredentialRepository,
    private readonly revocations: AccountRevocations,
  ) {}

  async decommission(caller: Principal, siteId: string, body: z.infer<typeof DecommissionBody>, dryRun: boolean): Promise<DecommissionOutcome> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    if (!caller.scope.headOffice) throw new ForbiddenError('only head office decommissions a site');
    const { federation } = await this.store.read();
    if (!federation.sites.some((s) => s.id === siteId)) throw new NotFoundError('site', siteId);
    if (!dryRun && body.confirm !== siteId) {
      throw new InvalidInputError('invalid body', [{ path: 'confirm', message: `a decommission is confirmed by sending the site id: {"confirm":"${siteId}"}` }]);
    }
    const actor = actorName(caller);
    const at = new Date();
    let plan: DecommissionPlan | undefined;
    let revokedKeys: string[] = dryRun ? (await this.repo.liveOfSite(this.ds.manager, siteId, at)).map((r) => r.userKey) : [];
    const outcome = await this.writer.write(
      {
        actor,
        reason: `site ${siteId} decommissioned`,
        dryRun,
        alsoInTransaction: async (m) => {
          revokedKeys = await this.credentials.revokeInTransaction(m, siteId, at, actor, 'site decommissioned');
          await this.audit.append(m, [{ actor, action: 'site.decommission', objectType: 'site', objectId: siteId, siteIds: [siteId, ...(plan?.peers ?? [])], after: { ...plan, revokedKeys } }]);
        },
      },
      (fed) => {
        if (!fed.sites.some((s) => s.id === siteId)) throw new NotFoundError('site', siteId);
        const d = decommissionChanges(fed, siteId);
        plan = d.plan;
        return d.changes;
      },
    );
    if (plan === undefined) throw new NotFoundError('site', siteId);
    if (!dryRun) await this.revocations.push();
    const blockers = outcome.validation.errors.flatMap((e) =>
      e.objects.filter((o) => o.siteId !== siteId && !(o.type === 'site' && o.id === siteId)).map((o) => ({ type: o.type, id: o.id, ...(o.siteId !== undefined ? { siteId: o.siteId } : {}), message: e.message })),
    );
    return {
      dryRun,
      siteId,
      removes: plan,
      revokedKeys,
      bucket: Subjects.configBucket(siteId),
      validation: answeredValidation(outcome.validation, caller.scope),
      blockers,
      changedSites: outcome.changedSites.map((s) => s.siteId),
      revisions: outcome.revisions,
      revocation: this.revocations.state(),
    };
  }
}
