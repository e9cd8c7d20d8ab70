import { generateFederation } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { applyChanges, findObject } from './federation-change.js';

describe('findObject', () => {
  it('finds by id in small and large collections, before and after indexing, and in changed federations', () => {
    const fed = generateFederation({ sites: 3, extensionsPerSite: 50, flows: 0 });
    for (let i = 0; i < 40; i++) expect(findObject(fed, 'extensions', `e-site-0001-${i}`)?.number).toBe(String(100200 + i));
    expect(findObject(fed, 'extensions', 'nope')).toBeUndefined();
    expect(findObject(fed, 'sites', 'site-0002')?.name).toBe('Office 2');
    const next = applyChanges(fed, [{ collection: 'extensions', op: 'delete', id: 'e-site-0001-3' }]);
    for (let i = 0; i < 20; i++) expect(findObject(next, 'extensions', 'e-site-0001-3')).toBeUndefined();
    expect(findObject(fed, 'extensions', 'e-site-0001-3')).toBeDefined();
  });
});
