import type { CallFlow, Federation, Site } from '@fedpbx/contracts';
import type { NumberingPlan } from '../numbering/numbering-plan.js';
import type { ObjectRef } from './federation-issues.js';
import { IssueList, siteRef } from './issue-list.js';

/** The numbers a call flow rings: its dial-extension and ring-group targets, each once, in node order. */
export function flowDialTargets(flow: CallFlow): string[] {
  const numbers = new Set<string>();
  for (const node of flow.nodes) {
    if (node.type === 'dial-extension') numbers.add(node.number);
    else if (node.type === 'ring-group') for (const m of node.members) numbers.add(m);
  }
  return [...numbers];
}

/**
 * The site a host name or address belongs to, when it is one of the federation's sites (its tunnel address or
 * SIP host): a "trunk" that points there is another site's PBX, so what leaves through it depends on that site.
 */
export function siteAddresses(sites: readonly Pick<Site, 'id' | 'network'>[]): Map<string, string> {
  const bySiteAddress = new Map<string, string>();
  for (const s of sites) {
    if (s.network.vpnAddress !== undefined) bySiteAddress.set(s.network.vpnAddress.toLowerCase(), s.id);
    if (s.network.sipHost !== undefined) bySiteAddress.set(s.network.sipHost.toLowerCase(), s.id);
  }
  return bySiteAddress;
}

/**
 * A `route-only-remote-trunks` warning lists among its objects the sites its message names, not every site it
 * counts. A route for every site through one site's trunks (tail-end hop-off) lacks a trunk at every other site: at
 * 1,000 sites, 1,000 such routes made a million object references - 33 MB of JSON in the answer to every write,
 * more controller CPU than everything else a write costs. Each site's survivability report lists what it depends on.
 */
const MAX_NAMED = 5;
const nameSome = (ids: readonly string[]): string =>
  ids.length <= MAX_NAMED ? ids.join(', ') : `${ids.slice(0, MAX_NAMED).join(', ')} and ${ids.length - MAX_NAMED} more`;

// Warnings from the survivability report's red flags (#19 §2) that hold whatever fails: what a site can only do while
// another site (and the link to it) is up (the full picture per failure is the report itself). Three checks, each
// reading only what it is given: federation-checks.ts takes one over while its inputs are the same.

/** Emergency calls leave through the site's own trunks; a trunk whose host is another site is that site's PBX. Reads the sites and trunks. */
export function checkEmergencySurvivability(fed: Pick<Federation, 'sites' | 'trunks'>, sites: ReadonlyMap<string, Site>, out: IssueList): void {
  const addresses = siteAddresses(fed.sites);
  const emergencyTrunksBySite = new Map<string, { id: string; dependsOn: string | undefined }[]>();
  for (const t of fed.trunks) {
    if (!t.emergency || !sites.has(t.siteId)) continue;
    const owner = addresses.get(t.host.toLowerCase());
    const list = emergencyTrunksBySite.get(t.siteId) ?? [];
    list.push({ id: t.id, dependsOn: owner !== undefined && owner !== t.siteId ? owner : undefined });
    emergencyTrunksBySite.set(t.siteId, list);
  }
  for (const [siteId, trunks] of emergencyTrunksBySite) {
    if (!trunks.every((t) => t.dependsOn !== undefined)) continue;
    const others = [...new Set(trunks.map((t) => t.dependsOn as string))];
    out.warning(
      'emergency-depends-on-site',
      `site ${siteId}'s emergency calls depend on ${others.join(', ')}: every emergency-capable trunk of ${siteId} points at another site's PBX (a trunk to the local carrier keeps them working when that site or the link fails)`,
      [siteRef(siteId), ...trunks.map((t): ObjectRef => ({ type: 'trunk', id: t.id, siteId })), ...others.map(siteRef)],
    );
  }
}

/** Call flows that ring only other sites' numbers. Reads the flows and the plan. */
export function checkFlowSurvivability(fed: Pick<Federation, 'callFlows'>, sites: ReadonlyMap<string, Site>, plan: NumberingPlan, out: IssueList): void {
  for (const f of fed.callFlows) {
    if (!sites.has(f.siteId)) continue;
    const targets = flowDialTargets(f);
    if (targets.length === 0) continue;
    const remoteSites = new Set<string>();
    let allRemote = true;
    for (const n of targets) {
      const target = plan.classify(f.siteId, n);
      if (target?.kind === 'site') remoteSites.add(target.siteId);
      else allRemote = false;
    }
    if (!allRemote) continue;
    out.warning(
      'flow-only-remote-targets',
      `call flow "${f.name}" at ${f.siteId} rings only numbers of ${[...remoteSites].join(', ')} (${nameSome(targets)}): without the link it reaches no one at ${f.siteId}`,
      [{ type: 'callFlow', id: f.id, siteId: f.siteId }, ...[...remoteSites].map(siteRef)],
    );
  }
}

/** Outbound routes without a trunk at some of the sites that use them. Reads the routes and trunks. */
export function checkRouteSurvivability(fed: Pick<Federation, 'outboundRoutes' | 'trunks'>, sites: ReadonlyMap<string, Site>, out: IssueList): void {
  const trunkSite = new Map(fed.trunks.map((t) => [t.id, t.siteId]));
  for (const r of fed.outboundRoutes) {
    if (r.trunks.length === 0) continue;
    const withTrunk = new Set(r.trunks.map((p) => trunkSite.get(p.trunkId)));
    const lacking = r.sites.length > 0 ? countedIds(r.sites.filter((s) => sites.has(s) && !withTrunk.has(s))) : sitesWithout(sites, withTrunk);
    if (lacking.count === 0) continue;
    const named = lacking.first.length < lacking.count ? `${lacking.first.join(', ')} and ${lacking.count - lacking.first.length} more` : lacking.first.join(', ');
    out.warning(
      'route-only-remote-trunks',
      `outbound route "${r.name}" has no trunk at ${named}: calls from there through it depend on another site (and the link to it)`,
      [{ type: 'outboundRoute', id: r.id }, ...lacking.first.map(siteRef)],
    );
  }
}

/** The first MAX_NAMED of `ids`, and how many there are. */
function countedIds(ids: readonly string[]): { first: string[]; count: number } {
  return { first: ids.slice(0, MAX_NAMED), count: ids.length };
}

/**
 * The sites (in federation order) not in `excluded`, as countedIds gives them, without listing them all: a route
 * for every site is checked against every site, 1,000 routes x 1,000 sites in a federation of 1,000 sites.
 */
function sitesWithout(sites: ReadonlyMap<string, Site>, excluded: ReadonlySet<string | undefined>): { first: string[]; count: number } {
  const first: string[] = [];
  for (const id of sites.keys()) {
    if (first.length === MAX_NAMED) break;
    if (!excluded.has(id)) first.push(id);
  }
  let count = sites.size;
  for (const id of excluded) if (id !== undefined && sites.has(id)) count--;
  return { first, count };
}
