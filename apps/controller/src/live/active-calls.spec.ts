import type { LiveEvent } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { Scope } from '../access/scope.js';
import type { NatsBus } from '../nats/nats-bus.js';
import { ActiveCallsService } from './active-calls.js';
import { LiveHub } from './live-hub.js';

const noNats = { enabled: false, isConnected: () => false } as unknown as NatsBus;
const T0 = Date.parse('2026-12-07T10:00:00Z');
const report = (siteId: string, calls: object[], total = calls.length) => JSON.stringify({ siteId, at: new Date(T0).toISOString(), total, calls });

describe('calls in progress at the controller', () => {
  const setup = () => {
    const hub = new LiveHub(noNats);
    const heard: LiveEvent[] = [];
    hub.subscribe((e) => heard.push(e), () => undefined);
    return { service: new ActiveCallsService(noNats, hub), heard };
  };
  const headOffice = Scope.of([{ role: 'head-office-admin', siteId: null }]);
  const piterViewer = Scope.of([{ role: 'viewer', siteId: 'piter' }]);
  const crossSite = [
    report('moscow', [{ callId: 'moscow/1.1', caller: '101', callee: '301', routeKind: 'site', targetSiteId: 'piter', since: '2026-12-07T09:59:50.000Z' }]),
    report('piter', [{ callId: 'moscow/1.1', caller: '101', callee: '301', routeKind: 'local', originSiteId: 'moscow', since: '2026-12-07T09:59:51.000Z' }, { callId: 'piter/2.2', caller: '302', callee: '303', routeKind: 'local', since: '2026-12-07T09:59:55.000Z' }]),
  ];

  it('joins the parts of a call at several sites into one call, scoped to the reader\'s sites', () => {
    const { service } = setup();
    service.receive('fedpbx.live.moscow.calls', crossSite[0] as string, T0);
    service.receive('fedpbx.live.piter.calls', crossSite[1] as string, T0);
    const all = service.view(headOffice, T0);
    expect(all.sites).toEqual([{ siteId: 'moscow', total: 1, reportedAt: '2026-12-07T10:00:00.000Z' }, { siteId: 'piter', total: 2, reportedAt: '2026-12-07T10:00:00.000Z' }]);
    expect(all.calls.map((c) => [c.callId, c.sites, c.caller, c.callee, c.routeKind, c.since])).toEqual([
      ['moscow/1.1', ['moscow', 'piter'], '101', '301', 'site', '2026-12-07T09:59:50.000Z'],
      ['piter/2.2', ['piter'], '302', '303', 'local', '2026-12-07T09:59:55.000Z'],
    ]);
    const piter = service.view(piterViewer, T0);
    expect(piter.sites.map((s) => s.siteId)).toEqual(['piter']);
    expect(piter.calls.find((c) => c.callId === 'moscow/1.1')).toMatchObject({ sites: ['piter'], routeKind: 'local' });
    expect(JSON.stringify(piter)).not.toContain('"siteId":"moscow"');
  });

  it('tells consoles of changes only, and forgets a site whose agent stopped reporting', () => {
    const { service, heard } = setup();
    service.receive('fedpbx.live.moscow.calls', crossSite[0] as string, T0);
    service.receive('fedpbx.live.moscow.calls', crossSite[0] as string, T0 + 10_000);
    expect(heard).toEqual([{ topic: 'calls', siteIds: ['moscow'] }]);
    service.sweep(T0 + 35_000);
    expect(heard).toHaveLength(1);
    service.sweep(T0 + 45_000);
    expect(heard).toHaveLength(2);
    expect(service.view(headOffice, T0 + 45_000)).toEqual({ sites: [], calls: [] });
  });

  it('ignores a report naming another site than its subject, and malformed ones', () => {
    const { service, heard } = setup();
    service.receive('fedpbx.live.moscow.calls', crossSite[1] as string, T0);
    service.receive('fedpbx.live.moscow.calls', '{"siteId":"moscow"', T0);
    service.receive('fedpbx.live.moscow.calls', report('moscow', [], -1), T0);
    expect(heard).toEqual([]);
    expect(service.view(headOffice, T0).sites).toEqual([]);
  });
});
