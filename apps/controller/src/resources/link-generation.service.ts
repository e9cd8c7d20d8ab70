import { Injectable } from '@nestjs/common';
import type { Federation, InterSiteLink } from '@fedpbx/contracts';
import { actorName, type Principal } from '../auth/principal.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { FederationChange } from '../federation/federation-change.js';
import { FederationWriter } from '../federation/federation-writer.js';
import { SurvivabilityService } from '../survivability/survivability.service.js';
import { generateSecret, type WriteResponse } from './resource.service.js';
import { answeredValidation } from '../federation/write-validation.js';

/** Inter-site links derived from the sites: every pair, or hub and spokes. */
@Injectable()
export class LinkGenerationService {
  constructor(
    private readonly writer: FederationWriter,
    private readonly survivability: SurvivabilityService,
  ) {}

  /**
   * Links for a topology (head office): `full-mesh` links every pair of sites, `hub-and-spoke` links the hub to
   * every other site and makes it the federation's hub. Existing links are kept; missing ones are created with
   * generated secrets. Both ends are derived from the sites.
   */
  async generate(caller: Principal, topology: 'full-mesh' | 'hub-and-spoke', hubSiteId: string | undefined, dryRun: boolean): Promise<WriteResponse> {
    if (!caller.scope.headOffice) throw new ForbiddenError('only head office may generate links');
    const outcome = await this.writer.write({ actor: actorName(caller), reason: `links generated (${topology})`, dryRun }, (fed) => linkChanges(fed, topology, hubSiteId));
    const changedSites = outcome.changedSites.map((s) => s.siteId);
    // Links are what survivability is most about: the preview says which red flags the new links clear.
    const survivability = dryRun && outcome.validation.ok ? await this.survivability.preview(caller, outcome.before, outcome.federation, changedSites) : undefined;
    return {
      dryRun,
      validation: answeredValidation(outcome.validation, caller.scope),
      changedSites,
      revisions: outcome.revisions,
      ...(survivability !== undefined ? { survivability } : {}),
    };
  }
}

function linkChanges(fed: Federation, topology: 'full-mesh' | 'hub-and-spoke', hubSiteId: string | undefined): FederationChange[] {
  const have = new Set(fed.links.map((l) => [l.a, l.b].sort().join('|')));
  const ids = fed.sites.map((s) => s.id).sort();
  const pairs: [string, string][] = [];
  if (topology === 'full-mesh') {
    for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) pairs.push([ids[i] as string, ids[j] as string]);
  } else {
    if (hubSiteId === undefined || !ids.includes(hubSiteId)) throw new NotFoundError('site', hubSiteId ?? '(no hub given)');
    for (const s of ids) if (s !== hubSiteId) pairs.push([hubSiteId, s]);
  }
  const changes: FederationChange[] = pairs
    .filter(([a, b]) => !have.has([a, b].sort().join('|')))
    .map(([a, b]): FederationChange => {
      const value: InterSiteLink = { id: `l-${a}-${b}`, a, b, mode: 'ip', secret: generateSecret(), codecs: ['alaw', 'ulaw'] };
      return { collection: 'links', op: 'upsert', value };
    });
  if (topology === 'hub-and-spoke') changes.push({ collection: 'hub', op: 'set', hubSiteId });
  return changes;
}
