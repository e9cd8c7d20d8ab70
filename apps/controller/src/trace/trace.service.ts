import { Injectable } from '@nestjs/common';
import type { TraceRequest, TraceResult } from '@fedpbx/contracts';
import { buildSiteConfig, compileSite, traceRoute, type CompiledSite } from '@fedpbx/dialplan';
import type { Principal } from '../auth/principal.js';
import { NotFoundError } from '../errors.js';
import { FederationStore } from '../federation/federation-store.js';

/** "What happens when this number is dialled here?" - libs/dialplan's step-by-step explanation. */
@Injectable()
export class TraceService {
  private readonly compiled = new Map<string, { version: number; site: CompiledSite }>();

  constructor(private readonly store: FederationStore) {}

  async trace(caller: Principal, req: TraceRequest): Promise<TraceResult> {
    if (!caller.scope.canRead(req.siteId)) throw new NotFoundError('site', req.siteId);
    const view = await this.store.read();
    if (!view.federation.sites.some((s) => s.id === req.siteId)) throw new NotFoundError('site', req.siteId);
    let entry = this.compiled.get(req.siteId);
    if (entry?.version !== view.version) {
      const revision = view.heads.get(req.siteId)?.revision ?? 0;
      entry = { version: view.version, site: compileSite(buildSiteConfig(view.federation, req.siteId), revision) };
      this.compiled.set(req.siteId, entry);
    }
    return traceRoute(entry.site, { entry: req.entry, caller: req.caller, fromSiteId: req.fromSiteId, dialled: req.number, health: req.health });
  }
}
