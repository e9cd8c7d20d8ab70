import type { Federation, Health, RoutePlan } from '@fedpbx/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { foundingScenario } from '../scenario/founding-scenario.js';
import { buildSiteConfig } from '../snapshot/site-view.js';
import { compileSite, type CompiledSite } from './compiled-site.js';
import { resolveRoute, traceRoute, type RouteRequest } from './route-resolver.js';

let fed: Federation;
const sites: Record<string, CompiledSite> = {};

beforeAll(() => {
  fed = foundingScenario();
  for (const s of fed.sites) sites[s.id] = compileSite(buildSiteConfig(fed, s.id), 1);
});

function call(siteId: string, caller: string, dialled: string, extra: Partial<RouteRequest> = {}): RoutePlan {
  return resolveRoute(sites[siteId] as CompiledSite, { entry: 'internal', caller, dialled, ...extra });
}
const down = (links: string[] = [], trunks: string[] = []): Health => ({
  links: Object.fromEntries(links.map((l) => [l, 'down'])),
  trunks: Object.fromEntries(trunks.map((t) => [t, 'down'])),
});

describe('founding scenario: moscow 100-299 and piter 300-499 call each other directly', () => {
  it('moscow 101 dials piter 301 over the moscow-piter link', () => {
    const plan = call('moscow', '101', '301');
    expect(plan.outcome).toBe('route');
    expect(plan.routeKind).toBe('site');
    expect(plan.attempts[0]).toEqual({ kind: 'site', siteId: 'piter', via: 'piter', number: '301', endpoint: 'site-piter', timeoutSec: 30 });
    expect(plan.tags).toMatchObject({ routeKind: 'site', originSiteId: 'moscow', targetSiteId: 'piter' });
  });

  it('piter 301 dials moscow 101 over the same link, mirrored', () => {
    const plan = call('piter', '301', '101');
    expect(plan.attempts[0]).toMatchObject({ kind: 'site', siteId: 'moscow', number: '101', endpoint: 'site-moscow' });
  });

  it('piter receives the call from moscow and rings its own phone', () => {
    const plan = resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', caller: '101', dialled: '301' });
    expect(plan.routeKind).toBe('local');
    expect(plan.attempts).toEqual([
      { kind: 'endpoint', number: '301', endpoint: '301', timeoutSec: 20 },
      { kind: 'voicemail', mailbox: '301' },
    ]);
  });

  it('the receiving site tags the call with the site it started at, not with itself (field: FEDPBX_ORIGIN=piter)', () => {
    const plan = resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', caller: '101', dialled: '301' });
    expect(plan.tags).toMatchObject({ originSiteId: 'moscow', targetSiteId: 'piter', routeKind: 'local' });
    // Through a hub the calling site says where the call started (X-Fedpbx-Call); an unknown site is not believed.
    const viaHub = resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', originSiteId: 'kazan', caller: '101', dialled: '301' });
    expect(viaHub.tags.originSiteId).toBe('kazan');
    const forged = resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', originSiteId: 'nowhere', caller: '101', dialled: '301' });
    expect(forged.tags.originSiteId).toBe('moscow');
  });

  it('shows a colleague as the receiving site dials them back: moscow 101 reads 5101 at kazan, 101 at piter', () => {
    const atKazan = resolveRoute(sites.kazan as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', caller: '101', dialled: '101' });
    expect(atKazan.callerId).toBe('5101');
    const atPiter = resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', caller: '101', dialled: '301' });
    expect(atPiter.callerId).toBeUndefined();
    // kazan 101 (private behind 6) calling piter reads 6101 there.
    expect(resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'kazan', caller: '101', dialled: '301' }).callerId).toBe('6101');
    // Not a number of the calling site's plan (a PSTN caller relayed by it): left as it arrived.
    expect(resolveRoute(sites.kazan as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', caller: '79161234567', dialled: '101' }).callerId).toBeUndefined();
    // A call passed on (hop-off through our trunk) is not rewritten here.
    expect(resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'kazan', caller: '101', dialled: '88125551234' }).callerId).toBeUndefined();
  });

  it('moscow private behind prefix 5: piter shows its caller 101 as 5101 (field: shown as 101, refused on call-back)', () => {
    const privateMoscow = structuredClone(fed);
    const moscow = privateMoscow.sites.find((x) => x.id === 'moscow');
    if (moscow === undefined) throw new Error('no moscow');
    moscow.prefixRequired = true;
    const piter = compileSite(buildSiteConfig(privateMoscow, 'piter'), 2);
    const plan = resolveRoute(piter, { entry: 'from-sites', fromSiteId: 'moscow', caller: '101', dialled: '301' });
    expect(plan.callerId).toBe('5101');
    // ... and 5101 is what piter dials to reach moscow's 101.
    expect(resolveRoute(piter, { entry: 'internal', caller: '301', dialled: '5101' }).attempts[0]).toMatchObject({ kind: 'site', siteId: 'moscow', number: '101' });
  });

  it('a call inside moscow rings the local phone, then its mailbox (101 has voicemail: the reception flow leaves messages there)', () => {
    const plan = call('moscow', '102', '101');
    expect(plan.routeKind).toBe('local');
    expect(plan.attempts).toEqual([{ kind: 'endpoint', number: '101', endpoint: '101', timeoutSec: 20 }, { kind: 'voicemail', mailbox: '101' }]);
    expect(plan.record).toBe(false);
  });

  it('an unassigned number in the own range is denied as unassigned', () => {
    expect(call('moscow', '101', '250').deny?.code).toBe('unassigned');
  });
});

describe('founding scenario: recording in both directions', () => {
  it('records the outgoing inter-site call at moscow and the incoming one at piter', () => {
    expect(call('moscow', '101', '301').record).toBe(true);
    const incoming = resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', caller: '101', dialled: '301' });
    expect(incoming.record).toBe(true);
  });

  it('does not record calls inside a site, nor where the policy is off', () => {
    expect(call('moscow', '101', '102').record).toBe(false);
    expect(call('kazan', '101', '301').record).toBe(false);
  });
});

describe('founding scenario: overlapping plans behind a site prefix', () => {
  it('kazan dials its own 101 without a prefix', () => {
    const plan = call('kazan', '102', '101');
    expect(plan.routeKind).toBe('local');
    expect(plan.attempts[0]).toMatchObject({ kind: 'endpoint', number: '101' });
  });

  it('moscow dials kazan as 6 + number; kazan sees the number without the prefix', () => {
    const plan = call('moscow', '101', '6101');
    expect(plan.attempts[0]).toMatchObject({ kind: 'site', siteId: 'kazan', number: '101', endpoint: 'site-kazan' });
    const incoming = resolveRoute(sites.kazan as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', caller: '101', dialled: '101' });
    expect(incoming.attempts[0]).toMatchObject({ kind: 'endpoint', number: '101' });
  });

  it('kazan reaches moscow through moscow prefix 5; piter dials moscow flat', () => {
    expect(call('kazan', '101', '5101').attempts[0]).toMatchObject({ kind: 'site', siteId: 'moscow', number: '101' });
    expect(call('piter', '301', '101').attempts[0]).toMatchObject({ kind: 'site', siteId: 'moscow', number: '101' });
  });

  it('kazan dials piter flat (piter overlaps nobody)', () => {
    expect(call('kazan', '101', '301').attempts[0]).toMatchObject({ kind: 'site', siteId: 'piter', number: '301' });
  });

  it('a prefix with a number outside the site ranges is unassigned', () => {
    expect(call('moscow', '101', '6999').deny?.code).toBe('unassigned');
  });
});

describe('founding scenario: trunk-preferred route (tail-end hop-off)', () => {
  it('moscow dialling a St Petersburg city number leaves through piter trunk, moscow trunk as fallback', () => {
    const plan = call('moscow', '101', '88125551234');
    expect(plan.routeKind).toBe('teho');
    expect(plan.callClass).toBe('national');
    expect(plan.attempts).toEqual([
      { kind: 'trunk', trunkId: 't-piter-city', trunkSiteId: 'piter', via: 'piter', number: '88125551234', endpoint: 'site-piter', timeoutSec: 60, reason: 'route' },
      { kind: 'trunk', trunkId: 't-moscow-city', trunkSiteId: 'moscow', number: '88125551234', endpoint: 'trunk-moscow-city', timeoutSec: 60, reason: 'route' },
    ]);
  });

  it('piter hops the call off through its own city trunk, with its strip rule', () => {
    const plan = resolveRoute(sites.piter as CompiledSite, { entry: 'from-sites', fromSiteId: 'moscow', caller: '101', dialled: '88125551234' });
    expect(plan.routeKind).toBe('teho');
    expect(plan.attempts).toEqual([
      { kind: 'trunk', trunkId: 't-piter-city', trunkSiteId: 'piter', number: '5551234', endpoint: 'trunk-piter-city', timeoutSec: 60, reason: 'route' },
    ]);
  });

  it("falls back to moscow's trunk when piter's trunk is down", () => {
    const plan = call('moscow', '101', '88125551234', { health: down([], ['t-piter-city']) });
    expect(plan.routeKind).toBe('pstn');
    expect(plan.attempts).toHaveLength(1);
    expect(plan.attempts[0]).toMatchObject({ trunkId: 't-moscow-city', endpoint: 'trunk-moscow-city' });
  });

  it("falls back to moscow's trunk when the link to piter is down", () => {
    const { plan, steps } = traceRoute(sites.moscow as CompiledSite, { entry: 'internal', caller: '101', dialled: '88125551234', health: down(['piter']) });
    expect(plan.attempts.map((a) => (a.kind === 'trunk' ? a.trunkId : a.kind))).toEqual(['t-moscow-city']);
    expect(steps.some((s) => s.step === 'trunk' && s.detail.includes('link to piter is down'))).toBe(true);
  });

  it('refuses a hop-off the route does not grant (piter has no route through kazan)', () => {
    const plan = resolveRoute(sites.kazan as CompiledSite, { entry: 'from-sites', fromSiteId: 'piter', caller: '301', dialled: '88435551234' });
    expect(plan.deny?.code).toBe('hop-off-not-allowed');
  });
});

describe('founding scenario: an inter-site call when the link is down goes over the PSTN to the DID', () => {
  it("moscow reaches piter's 301 at 88125550301 through moscow's own trunk, never through piter", () => {
    const plan = call('moscow', '101', '301', { health: down(['piter']) });
    expect(plan.outcome).toBe('route');
    expect(plan.routeKind).toBe('site');
    expect(plan.attempts).toEqual([
      { kind: 'trunk', trunkId: 't-moscow-city', trunkSiteId: 'moscow', number: '88125550301', endpoint: 'trunk-moscow-city', timeoutSec: 60, reason: 'link-down-fallback' },
    ]);
  });

  it('with the link up, the PSTN path stays as the alternative after the link attempt', () => {
    const plan = call('moscow', '101', '301');
    expect(plan.attempts.map((a) => a.kind)).toEqual(['site', 'trunk']);
    expect(plan.attempts[1]).toMatchObject({ reason: 'link-down-fallback', number: '88125550301', trunkId: 't-moscow-city' });
  });

  it('is denied with a clear reason when there is neither link nor DID', () => {
    const plan = call('moscow', '101', '6101', { health: down(['kazan']) });
    expect(plan.deny?.code).toBe('all-routes-down');
    expect(plan.deny?.message).toContain('kazan');
  });
});

describe('founding scenario: class of service', () => {
  it('denies an international call to a national-class phone with the reason', () => {
    const plan = call('moscow', '102', '8101234567890');
    expect(plan.outcome).toBe('denied');
    expect(plan.deny?.code).toBe('class-of-service');
    expect(plan.deny?.message).toContain('international');
    expect(plan.callClass).toBe('international');
  });

  it('allows it to the international-class phone', () => {
    expect(call('moscow', '101', '8101234567890').attempts[0]).toMatchObject({ trunkId: 't-moscow-city' });
  });

  it('the lobby phone may only call inside the federation', () => {
    expect(call('moscow', '150', '4951234').deny?.code).toBe('class-of-service');
    expect(call('moscow', '150', '301').outcome).toBe('route');
  });

  it("a caller without a class of service gets the site's default (kazan: local only)", () => {
    expect(call('kazan', '101', '88435551234').deny?.code).toBe('class-of-service');
    expect(call('kazan', '101', '2345678').outcome).toBe('route');
  });

  it("the site's ceiling clips a class of service: kazan may not go international even with the class", () => {
    const variant = structuredClone(fed);
    variant.extensions.find((e) => e.id === 'e-k101')!.classOfServiceId = 'cos-international';
    variant.outboundRoutes.find((r) => r.id === 'or-international')!.sites.push('kazan');
    const kazan = compileSite(buildSiteConfig(variant, 'kazan'), 2);
    const plan = resolveRoute(kazan, { entry: 'internal', caller: '101', dialled: '8101234567890' });
    expect(plan.deny?.code).toBe('class-of-service');
    expect(resolveRoute(kazan, { entry: 'internal', caller: '101', dialled: '88435551234' }).outcome).toBe('route');
  });

  it('emergency numbers always leave through a local trunk, whatever the class of service', () => {
    const plan = call('moscow', '150', '112');
    expect(plan.routeKind).toBe('emergency');
    expect(plan.attempts).toEqual([
      { kind: 'trunk', trunkId: 't-moscow-city', trunkSiteId: 'moscow', number: '112', endpoint: 'trunk-moscow-city', timeoutSec: 60, reason: 'emergency' },
    ]);
    const piter = call('piter', '302', '112', { health: down([], ['t-piter-city']) });
    expect(piter.attempts[0]).toMatchObject({ trunkId: 't-piter-city' });
  });

  it('emergency calls never leave through another site: own trunk only, with the trunk and the links down (#17)', () => {
    for (const health of [down([], ['t-piter-city']), down(['moscow', 'kazan'], ['t-piter-city']), down(['moscow'], []), down([], ['t-piter-city', 't-moscow-city'])]) {
      const plan = call('piter', '302', '112', { health });
      expect(plan.routeKind).toBe('emergency');
      expect(plan.attempts).toEqual([{ kind: 'trunk', trunkId: 't-piter-city', trunkSiteId: 'piter', number: '112', endpoint: 'trunk-piter-city', timeoutSec: 60, reason: 'emergency' }]);
    }
    // A site that receives an emergency number from another site does not place it.
    const relayed = resolveRoute(sites.moscow as CompiledSite, { entry: 'from-sites', fromSiteId: 'piter', caller: '302', dialled: '112' });
    expect(relayed).toMatchObject({ outcome: 'denied', attempts: [], deny: { code: 'no-route' } });
  });
});

describe('founding scenario: calls from the PSTN', () => {
  it("moscow's main number runs the reception flow", () => {
    const plan = resolveRoute(sites.moscow as CompiledSite, { entry: 'from-pstn', caller: '79161234567', dialled: '74955550100' });
    expect(plan.attempts).toEqual([{ kind: 'flow', flowId: 'f-moscow-reception' }]);
  });

  it('a DID rings the extension named by its last digits', () => {
    const plan = resolveRoute(sites.moscow as CompiledSite, { entry: 'from-pstn', caller: '79161234567', dialled: '74955550102' });
    expect(plan.attempts[0]).toMatchObject({ kind: 'endpoint', number: '102' });
    // The call ends at moscow: its target is moscow (field: inbound DID calls had an empty FEDPBX_TARGET).
    expect(plan.tags).toMatchObject({ targetSiteId: 'moscow', originSiteId: 'moscow' });
    const flow = resolveRoute(sites.moscow as CompiledSite, { entry: 'from-pstn', caller: '79161234567', dialled: '74955550100' });
    expect(flow.tags.targetSiteId).toBe('moscow');
  });

  it('an unknown DID is denied', () => {
    expect(resolveRoute(sites.moscow as CompiledSite, { entry: 'from-pstn', caller: '', dialled: '74950000000' }).deny?.code).toBe('unassigned');
  });
});

describe('trace', () => {
  it('explains each step of a decision, with the same result as the fast path', () => {
    const req: RouteRequest = { entry: 'internal', caller: '101', dialled: '88125551234' };
    const { plan, steps } = traceRoute(sites.moscow as CompiledSite, req);
    expect(plan).toEqual(resolveRoute(sites.moscow as CompiledSite, req));
    expect(steps.map((s) => s.step)).toEqual(['input', 'numbering-plan', 'outbound-route', 'class-of-service', 'trunk', 'trunk', 'decision']);
    expect(steps[2]?.detail).toContain('_8812XXXXXXX');
  });
});
