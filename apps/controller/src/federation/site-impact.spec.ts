import { generateFederation, ValidatedFederation } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { siteOwnedConfig, siteOwnedConfigs } from './site-impact.js';

describe('siteOwnedConfigs', () => {
  it('equals siteOwnedConfig site by site, in one pass', () => {
    const fed = generateFederation({ sites: 6, extensionsPerSite: 3, flows: 3 });
    const ids = [...fed.sites.map((s) => s.id), 'nowhere'];
    const all = siteOwnedConfigs(fed, ids);
    expect(all.size).toBe(6);
    for (const id of ids) expect(all.get(id)).toEqual(siteOwnedConfig(fed, id));
  });

  it('takes the extensions from a per-site index when given one, with the same result', () => {
    const fed = generateFederation({ sites: 6, extensionsPerSite: 3, flows: 3 });
    const validated = ValidatedFederation.validate(fed);
    const ids = [fed.sites[1]!.id, fed.sites[4]!.id, 'nowhere'];
    expect(siteOwnedConfigs(fed, ids, (s) => validated.extensionsAt(s))).toEqual(siteOwnedConfigs(fed, ids));
  });
});
