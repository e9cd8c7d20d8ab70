import { Injectable } from '@nestjs/common';
import type { Federation, SurvivabilityChange, SurvivabilityReport } from '@fedpbx/contracts';
import { buildSiteConfig, survivabilityChanges, survivabilityReport } from '@fedpbx/dialplan';
import type { Principal } from '../auth/principal.js';
import { NotFoundError } from '../errors.js';
import { FederationStore } from '../federation/federation-store.js';

/**
 * A dry run compares the reports of at most this many changed sites (the caller's): each comparison compiles the
 * site twice, and a change to the numbering plan changes every site. The answer says when it stopped.
 */
export const MAX_SURVIVABILITY_SITES = 20;

export interface SurvivabilityPreview {
  readonly changes: readonly SurvivabilityChange[];
  /** Changed sites whose reports were not compared (over {@link MAX_SURVIVABILITY_SITES}). */
  readonly sitesNotCompared: readonly string[];
}

/** libs/dialplan's survivability report (#19 §2) of a site's current configuration, and what a write would change in it. */
@Injectable()
export class SurvivabilityService {
  /** The reports of the current federation version, by site: a report compiles the site and routes a few hundred calls. */
  private cached: { version: number; reports: Map<string, SurvivabilityReport> } = { version: -1, reports: new Map() };

  constructor(private readonly store: FederationStore) {}

  async report(caller: Principal, siteId: string): Promise<SurvivabilityReport> {
    // A site outside the caller's grants does not exist for them, as everywhere in the API.
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    const view = await this.store.read();
    if (!view.federation.sites.some((s) => s.id === siteId)) throw new NotFoundError('site', siteId);
    return this.currentReport(view.version, view.federation, siteId, view.heads.get(siteId)?.revision ?? 0);
  }

  /**
   * What a pending write changes in the reports of the sites it touches that the caller may read: `before` is the
   * federation the write starts from (the current one), `after` the federation it would make.
   */
  async preview(caller: Principal, before: Federation, after: Federation, changedSites: readonly string[]): Promise<SurvivabilityPreview> {
    const view = await this.store.read();
    const readable = changedSites.filter((s) => caller.scope.canRead(s));
    const compared = readable.slice(0, MAX_SURVIVABILITY_SITES);
    const changes: SurvivabilityChange[] = [];
    for (const siteId of compared) {
      const revision = view.heads.get(siteId)?.revision ?? 0;
      const old = before.sites.some((s) => s.id === siteId)
        ? before === view.federation
          ? this.currentReport(view.version, view.federation, siteId, revision)
          : survivabilityReport(buildSiteConfig(before, siteId), revision)
        : undefined;
      const next = after.sites.some((s) => s.id === siteId) ? survivabilityReport(buildSiteConfig(after, siteId), revision + 1) : undefined;
      changes.push(...survivabilityChanges(old, next));
    }
    const weight = (c: SurvivabilityChange): number => (c.after?.status === 'red-flag' ? 0 : c.before?.status === 'red-flag' ? 1 : 2);
    return { changes: changes.sort((a, b) => weight(a) - weight(b)), sitesNotCompared: readable.slice(MAX_SURVIVABILITY_SITES) };
  }

  private currentReport(version: number, federation: Federation, siteId: string, revision: number): SurvivabilityReport {
    if (this.cached.version !== version) this.cached = { version, reports: new Map() };
    let report = this.cached.reports.get(siteId);
    if (report === undefined) {
      report = survivabilityReport(buildSiteConfig(federation, siteId), revision);
      this.cached.reports.set(siteId, report);
    }
    return report;
  }
}
