import type { Federation } from '@fedpbx/contracts';
import { generateFederation } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { applyChanges, type FederationChange } from './federation-change.js';
import { carryPairedParts, pairedSitePartText, siteConfigHash } from './site-config-hash.js';
import { candidateSites, lookupOnce } from './site-impact.js';

const COLLECTIONS = ['sites', 'numberRanges', 'extensions', 'trunks', 'links', 'outboundRoutes', 'inboundRoutes', 'callFlows', 'classesOfService', 'hub'] as const;

/**
 * A federation with what makes one site's part depend on other sites' objects: presence shown at two sites (every
 * reachable site's numbers, and a listed one), a hub, routes for every site and routes scoped to some.
 */
function federation(): Federation {
  const fed = generateFederation({ sites: 10, extensionsPerSite: 3, flows: 2, prefixEvery: 3 });
  const [first, second] = [fed.sites[0]!, fed.sites[1]!];
  const presence = { share: 'all' as const, sharedNumbers: [], watch: [] };
  return {
    ...fed,
    hubSiteId: fed.sites[2]!.id,
    sites: fed.sites.map((s) =>
      s === first ? { ...s, presence: { ...presence, remoteHints: 'all' as const } } : s === second ? { ...s, presence: { ...presence, remoteHints: 'listed' as const, watch: [{ siteId: fed.sites[3]!.id }] } } : s,
    ),
  };
}

/**
 * One seeded random write: an object of one collection added (a copy under a new id, sometimes at another site),
 * changed (renamed, or moved to another site) or removed, or the hub set or cleared. Not necessarily valid: the
 * hashing does not validate, and a write the API would refuse still must not escape the narrowing.
 */
function randomWrite(fed: Federation, random: (n: number) => number, step: number): FederationChange[] {
  const name = COLLECTIONS[random(COLLECTIONS.length)]!;
  if (name === 'hub') return [{ collection: 'hub', op: 'set', hubSiteId: random(3) === 0 ? undefined : fed.sites[random(fed.sites.length)]!.id }];
  const items = fed[name] as readonly { id: string; siteId?: string; name?: string }[];
  const picked = items[random(items.length)];
  if (picked === undefined) return [];
  const elsewhere = (x: { siteId?: string }) => (x.siteId !== undefined && random(2) === 0 ? { siteId: fed.sites[random(fed.sites.length)]!.id } : {});
  const op = random(3);
  let value: { id: string };
  if (op === 0) value = { ...structuredClone(picked), id: `${picked.id}-w${step}`, ...elsewhere(picked) };
  else if (op === 1 || name === 'sites') value = { ...structuredClone(picked), ...(picked.name !== undefined ? { name: `${picked.name} ${step}` } : {}), ...elsewhere(picked) };
  else return [{ collection: name, op: 'delete', id: picked.id } as FederationChange];
  return [{ collection: name, op: 'upsert', value } as FederationChange];
}

/** A site's part hashes worked out afresh: from a deep copy, so nothing kept for the federation object is used. */
function fresh(fed: Federation): { paired: (siteId: string) => string; split: (siteId: string) => string } {
  const copy = structuredClone(fed);
  return { paired: (siteId) => pairedSitePartText(copy, siteId).contentHash, split: (siteId) => siteConfigHash(copy, siteId) };
}

describe('candidateSites over seeded random writes', () => {
  it('names every site whose paired site part (scope site-part) or whole snapshot (scope config) changes; the parts handed on are those built afresh', () => {
    let seed = 12;
    const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    let fed = federation();
    let narrowed = 0;
    let partsMoved = 0;
    for (let step = 0; step < 150; step++) {
      const changes = randomWrite(fed, random, step);
      const next = applyChanges(fed, changes);
      const [before, after] = [fresh(fed), fresh(next)];
      const what = `step ${step}: ${JSON.stringify(changes).slice(0, 160)}`;
      const parts = candidateSites(fed, next, changes, lookupOnce(fed), 'site-part');
      const configs = candidateSites(fed, next, changes, lookupOnce(fed), 'config');
      const kept = next.sites.filter((s) => fed.sites.some((o) => o.id === s.id)).map((s) => s.id);
      for (const siteId of kept) {
        const moved = before.paired(siteId) !== after.paired(siteId);
        if (moved) partsMoved++;
        if (parts !== 'all' && !parts.has(siteId)) expect(moved, `${what}: ${siteId}'s site part changed`).toBe(false);
        if (configs !== 'all' && !configs.has(siteId)) expect(before.split(siteId), `${what}: ${siteId}'s snapshot changed`).toBe(after.split(siteId));
      }
      if (parts !== 'all' && parts.size < kept.length) narrowed++;
      // As the writer does: the parts of the sites not named are handed on, and then read as the new federation's.
      for (const s of fed.sites) pairedSitePartText(fed, s.id);
      carryPairedParts(fed, next, parts);
      for (const s of next.sites) expect(pairedSitePartText(next, s.id).contentHash, `${what}: ${s.id}`).toBe(after.paired(s.id));
      fed = next;
    }
    // The series narrows and moves parts: a narrowing that named every site, or writes that changed nothing, would pass the checks above too.
    expect(narrowed).toBeGreaterThan(50);
    expect(partsMoved).toBeGreaterThan(30);
  });

  it('names no site part for a change to the numbering plan or the classes of service, and every snapshot', () => {
    const fed = federation();
    const range = { id: 'nr-plan-only', siteId: fed.sites[4]!.id, from: '990000', to: '990099' };
    const changes: FederationChange[] = [
      { collection: 'numberRanges', op: 'upsert', value: range },
      { collection: 'classesOfService', op: 'upsert', value: { ...fed.classesOfService[0]!, name: 'renamed' } },
    ];
    const next = applyChanges(fed, changes);
    expect(candidateSites(fed, next, changes, lookupOnce(fed), 'site-part')).toEqual(new Set());
    expect(candidateSites(fed, next, changes, lookupOnce(fed), 'config')).toBe('all');
  });

  it('names the sites that show remote presence for an extension at another site (their presence lists its number)', () => {
    const fed = federation();
    const ext = { ...fed.extensions.find((e) => e.siteId === fed.sites[3]!.id)!, id: 'e-new-for-presence', number: '3999' };
    const changes: FederationChange[] = [{ collection: 'extensions', op: 'upsert', value: ext }];
    const parts = candidateSites(fed, applyChanges(fed, changes), changes, lookupOnce(fed), 'site-part');
    expect(parts).toEqual(new Set([fed.sites[0]!.id, fed.sites[1]!.id, fed.sites[3]!.id]));
  });
});
