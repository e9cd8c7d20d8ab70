import { foundingScenario } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { siteOwnedConfig } from '../federation/site-impact.js';
import type { SiteOwnedConfig } from '../federation/site-owned-config.js';
import { diffOwnedConfig } from './revision-diff.js';

const fed = foundingScenario();
const moscow = siteOwnedConfig(fed, 'moscow') as SiteOwnedConfig;

describe('diff of the objects a site owns between two revisions', () => {
  it('is empty for the same content, whatever the order of objects and keys', () => {
    const reordered = { ...moscow, extensions: [...moscow.extensions].reverse().map((e) => Object.fromEntries(Object.entries(e).reverse()) as typeof e) };
    const d = diffOwnedConfig(moscow, reordered);
    expect(d.site).toBeNull();
    for (const c of Object.values(d.collections)) expect(c).toEqual({ added: [], removed: [], changed: [] });
  });

  it('lists added, removed and changed objects by id, with the changed properties', () => {
    const [first, second, ...rest] = moscow.extensions;
    const next: SiteOwnedConfig = {
      ...moscow,
      site: { ...moscow.site, name: 'Moscow HQ' },
      extensions: [{ ...first!, displayName: 'Ivan P.', sipSecret: 'rotated-secret-1' }, ...rest, { id: 'e-new', siteId: 'moscow', number: '109', displayName: 'New', sipSecret: 'new-secret-2' } as never],
    };
    const d = diffOwnedConfig(moscow, next);
    expect(d.site?.fields).toEqual(['name']);
    expect(d.collections.extensions.added.map((o) => o['id'])).toEqual(['e-new']);
    expect(d.collections.extensions.removed.map((o) => o['id'])).toEqual([second!.id]);
    expect(d.collections.extensions.changed).toEqual([
      expect.objectContaining({ id: first!.id, fields: ['displayName', 'sipSecret'], before: expect.objectContaining({ displayName: first!.displayName, sipSecretSet: true }) }),
    ]);
    expect(d.collections.numberRanges).toEqual({ added: [], removed: [], changed: [] });
  });

  it('never shows a credential: neither the old nor the new value, in any list', () => {
    const [first] = moscow.extensions;
    const next: SiteOwnedConfig = { ...moscow, extensions: [{ ...first!, sipSecret: 'rotated-secret-1' }, { id: 'e-new', siteId: 'moscow', number: '109', displayName: 'New', sipSecret: 'new-secret-2' } as never] };
    const text = JSON.stringify(diffOwnedConfig(moscow, next));
    expect(moscow.extensions.every((e) => e.sipSecret !== undefined)).toBe(true);
    for (const e of moscow.extensions) expect(text).not.toContain(e.sipSecret);
    expect(text).not.toContain('rotated-secret-1');
    expect(text).not.toContain('new-secret-2');
    for (const t of moscow.trunks) if (t.secret !== undefined) expect(text).not.toContain(t.secret);
  });
});
