import { describe, expect, it } from 'vitest';
import { Scope } from '../access/scope.js';
import { liveEventFor, mergeLiveEvents } from './live-scope.js';

describe('live events by scope', () => {
  const piterAdmin = Scope.of([{ role: 'site-admin', siteId: 'piter' }]);
  const headOffice = Scope.of([{ role: 'head-office-admin', siteId: null }]);

  it('names only the sites the receiver may read, and drops events of none of them', () => {
    expect(liveEventFor(piterAdmin, { topic: 'config', kind: 'link', siteIds: ['moscow', 'piter'] })).toEqual({ topic: 'config', kind: 'link', siteIds: ['piter'] });
    expect(liveEventFor(piterAdmin, { topic: 'cdrs', siteIds: ['moscow'] })).toBeUndefined();
    expect(liveEventFor(headOffice, { topic: 'cdrs', siteIds: ['moscow'] })).toEqual({ topic: 'cdrs', siteIds: ['moscow'] });
    // A class of service belongs to no site: everyone reads it, everyone hears of it.
    expect(liveEventFor(piterAdmin, { topic: 'config', kind: 'classOfService', siteIds: [] })).toEqual({ topic: 'config', kind: 'classOfService', siteIds: [] });
    expect(liveEventFor(Scope.of([]), { topic: 'agents', siteIds: ['piter'] })).toBeUndefined();
  });

  it('merges events of one topic and kind into one naming every site', () => {
    expect(
      mergeLiveEvents([
        { topic: 'cdrs', siteIds: ['piter'] },
        { topic: 'cdrs', siteIds: ['moscow', 'piter'] },
        { topic: 'config', kind: 'extension', siteIds: ['kazan'] },
        { topic: 'config', kind: 'site', siteIds: ['kazan'] },
        { topic: 'config', kind: 'classOfService', siteIds: [] },
        { topic: 'config', kind: 'classOfService', siteIds: ['kazan'] },
      ]),
    ).toEqual([
      { topic: 'cdrs', siteIds: ['moscow', 'piter'] },
      { topic: 'config', kind: 'extension', siteIds: ['kazan'] },
      { topic: 'config', kind: 'site', siteIds: ['kazan'] },
      { topic: 'config', kind: 'classOfService', siteIds: [] },
    ]);
  });
});
