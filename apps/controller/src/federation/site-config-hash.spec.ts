import { canonicalJson, type Federation } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, generateFederation, ValidatedFederation } from '@fedpbx/dialplan';
import { chunkedContentHash, chunksContent, contentHash, SharedPart, SiteConfigAssembler, SitePart } from '@fedpbx/signing';
import { describe, expect, it } from 'vitest';
import { applyChanges, type FederationChange } from './federation-change.js';
import { siteConfigHash, siteConfigText } from './site-config-hash.js';

/** Every credential of the federation with the sites allowed to know it (ARCHITECTURE.md "Snapshot"). */
function secretsOf(fed: Federation): { secret: string; sites: readonly string[] }[] {
  return [
    ...fed.extensions.flatMap((e) => (e.sipSecret !== undefined ? [{ secret: e.sipSecret, sites: [e.siteId] }] : [])),
    ...fed.trunks.flatMap((x) => (x.secret !== undefined ? [{ secret: x.secret, sites: [x.siteId] }] : [])),
    ...fed.links.flatMap((l) => (l.secret !== undefined ? [{ secret: l.secret, sites: [l.a, l.b] }] : [])),
  ];
}

/**
 * Every site's two parts (format 2), built the cheap way, are what the agent checks: canonical JSON whose hash is
 * the site's content hash (with and without the per-site extensions), valid for the parts' schemas, assembling
 * into exactly buildSiteConfig; the shared part holds no secret, a site part no other site's.
 */
function expectAgentHashes(fed: Federation): void {
  const validated = ValidatedFederation.validate(fed);
  const secrets = secretsOf(fed);
  for (const site of fed.sites) {
    const text = siteConfigText(fed, site.id);
    const part = JSON.parse(text.json) as unknown;
    const shared = chunksContent(text.shared.chunks);
    expect(canonicalJson(part)).toBe(text.json);
    expect(text.shared.chunkHashes).toEqual(text.shared.chunks.map((c) => contentHash(JSON.parse(c))));
    expect(chunkedContentHash(text.shared.chunkHashes)).toBe(text.shared.contentHash);
    const expected = contentHash(part);
    expect(siteConfigHash(fed, site.id)).toBe(expected);
    expect(siteConfigHash(fed, site.id, (s) => validated.extensionsAt(s))).toBe(expected);
    expect(new SiteConfigAssembler().assemble(SitePart.parse(part), SharedPart.parse(shared))).toEqual(buildSiteConfig(fed, site.id));
    for (const { secret, sites } of secrets) {
      expect(text.shared.chunks.some((c) => c.includes(secret)), `the shared part holds ${secret}`).toBe(false);
      if (!sites.includes(site.id)) expect(text.json.includes(secret), `${site.id} holds ${secret} of ${sites.join(',')}`).toBe(false);
    }
  }
}

describe('siteConfigHash', () => {
  it('is the site part\'s hash, and the parts assemble into buildSiteConfig, for every site of the founding scenario and of a generated federation', () => {
    expectAgentHashes(foundingScenario());
    expectAgentHashes(generateFederation({ sites: 25, extensionsPerSite: 6, flows: 4, prefixEvery: 5 }));
  });

  it('stays the agent hash write after write, whichever collection a write changes (no stale cached part)', () => {
    let fed = generateFederation({ sites: 12, extensionsPerSite: 4, flows: 3, prefixEvery: 4 });
    expectAgentHashes(fed);
    const [site, range, ext, trunk, link, route, inbound, flow] = [fed.sites[2]!, fed.numberRanges[5]!, fed.extensions[7]!, fed.trunks[3]!, fed.links[4]!, fed.outboundRoutes[6]!, fed.inboundRoutes[1]!, fed.callFlows[0]!];
    const writes: FederationChange[][] = [
      [{ collection: 'sites', op: 'upsert', value: { ...site, name: 'Renamed office' } }],
      [{ collection: 'numberRanges', op: 'upsert', value: { ...range, to: String(Number(range.from) + 150) } }],
      [{ collection: 'hub', op: 'set', hubSiteId: fed.sites[1]!.id }],
      [{ collection: 'hub', op: 'set', hubSiteId: undefined }],
      [{ collection: 'extensions', op: 'upsert', value: { ...ext, displayName: 'Moved', number: String(Number(ext.number) + 100) } }],
      [{ collection: 'extensions', op: 'delete', id: fed.extensions[0]!.id }],
      [{ collection: 'trunks', op: 'upsert', value: { ...trunk, name: 'carrier-2' } }],
      [{ collection: 'links', op: 'upsert', value: { ...link, codecs: ['alaw'] } }],
      [{ collection: 'outboundRoutes', op: 'upsert', value: { ...route, name: 'Renamed route' } }],
      [{ collection: 'inboundRoutes', op: 'delete', id: inbound.id }],
      [{ collection: 'callFlows', op: 'upsert', value: { ...flow, name: 'Renamed flow' } }],
      [{ collection: 'classesOfService', op: 'upsert', value: { ...fed.classesOfService[0]!, name: 'renamed' } }],
      // Members a view makes anew each time (presence lists): the part kept from before must follow their content.
      [{ collection: 'sites', op: 'upsert', value: { ...fed.sites[0]!, presence: { remoteHints: 'all', share: 'all', sharedNumbers: [], watch: [] } } }],
      [{ collection: 'extensions', op: 'upsert', value: { ...ext, id: 'e-added-for-presence', siteId: fed.sites[1]!.id, number: String(Number(fed.extensions.find((e) => e.siteId === fed.sites[1]!.id)!.number) + 1) } }],
      // The numbering plan only: every site part changes by its shared-part reference alone.
      [{ collection: 'numberRanges', op: 'upsert', value: { ...range, id: 'nr-plan-only', from: '990000', to: '990099' } }],
    ];
    for (const changes of writes) {
      const before = fed.sites.map((s) => siteConfigHash(fed, s.id));
      fed = applyChanges(fed, changes);
      expectAgentHashes(fed);
      // Each write changes some site's snapshot: a hash that could not move would pass the check above too.
      expect(fed.sites.map((s) => siteConfigHash(fed, s.id))).not.toEqual(before);
    }
  });
});
