import { describe, expect, it } from 'vitest';
import type { Federation } from '@fedpbx/contracts';
import { foundingScenario } from '../scenario/founding-scenario.js';
import { generateFederation } from '../scenario/generated-federation.js';
import { buildSiteConfig, SiteViews, UnknownSiteError } from './site-view.js';

function reversed(fed: Federation): Federation {
  return {
    ...fed,
    sites: [...fed.sites].reverse(),
    numberRanges: [...fed.numberRanges].reverse(),
    extensions: [...fed.extensions].reverse(),
    trunks: [...fed.trunks].reverse(),
    links: [...fed.links].reverse(),
    outboundRoutes: [...fed.outboundRoutes].reverse(),
    inboundRoutes: [...fed.inboundRoutes].reverse(),
    callFlows: [...fed.callFlows].reverse(),
    classesOfService: [...fed.classesOfService].reverse(),
  };
}

describe('a site view', () => {
  it('does not depend on the order the federation lists its objects in (so its content hash is stable across a reload)', () => {
    const fed = foundingScenario();
    for (const site of ['moscow', 'piter', 'kazan']) {
      expect(JSON.stringify(buildSiteConfig(reversed(fed), site))).toBe(JSON.stringify(buildSiteConfig(fed, site)));
    }
  });

  it('lists every collection in id order', () => {
    const view = buildSiteConfig(reversed(foundingScenario()), 'moscow');
    for (const list of [view.federation.sites, view.federation.numberRanges, view.extensions, view.trunks, view.links, view.outboundRoutes, view.classesOfService]) {
      const ids = list.map((x) => x.id);
      expect(ids).toEqual([...ids].sort());
    }
  });
});

describe("a site view's outbound routes", () => {
  it('are the routes for every site, those scoped to it and those through its trunks, as a test of every route gives', () => {
    const generated = generateFederation({ sites: 30, extensionsPerSite: 2, flows: 0 });
    const [a, b, c] = [generated.sites[3]!.id, generated.sites[4]!.id, generated.sites[5]!.id];
    const trunkOf = (siteId: string) => generated.trunks.find((t) => t.siteId === siteId)!.id;
    const tricky: Federation = {
      ...generated,
      outboundRoutes: [
        ...generated.outboundRoutes,
        // Scoped to two sites (one named twice), through a third site's trunk (which therefore carries it too).
        { id: 'or-z-two-sites', name: 'two', patterns: ['_9X.'], callClass: 'national', sites: [a, b, a], trunks: [{ trunkId: trunkOf(c), strip: 0, prepend: '' }, { trunkId: trunkOf(c), strip: 1, prepend: '' }] },
        // Listed before routes it sorts after: the view is in id order whatever the federation's order.
        { id: 'or-0-first', name: 'first', patterns: ['_8X.'], callClass: 'national', sites: [b], trunks: [{ trunkId: 't-unknown', strip: 0, prepend: '' }] },
      ],
    };
    for (const fed of [foundingScenario(), generated, tricky, reversed(tricky)]) {
      const views = new SiteViews(fed);
      for (const site of fed.sites) {
        const own = new Set(fed.trunks.filter((t) => t.siteId === site.id).map((t) => t.id));
        const expected = fed.outboundRoutes
          .filter((r) => r.sites.length === 0 || r.sites.includes(site.id) || r.trunks.some((p) => own.has(p.trunkId)))
          .map((r) => r.id)
          .sort();
        expect(views.of(site.id).outboundRoutes.map((r) => r.id)).toEqual(expected);
      }
    }
    expect(new SiteViews(tricky).of(c).outboundRoutes.some((r) => r.id === 'or-z-two-sites')).toBe(true);
  });
});

describe("a site view's directory", () => {
  it("carries every site's public WireGuard endpoint and key, and sites without them lack the fields", () => {
    const fed = foundingScenario();
    const key = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
    const sites = fed.sites.map((s) => (s.id === 'piter' ? { ...s, network: { ...s.network, wireguardEndpoint: 'vpn.piter.example:51820', wireguardPublicKey: key } } : s));
    const view = buildSiteConfig({ ...fed, sites }, 'moscow');
    expect(view.federation.sites.find((s) => s.id === 'piter')?.network).toEqual({
      vpnAddress: '10.77.0.2',
      sipPort: 5060,
      wireguardEndpoint: 'vpn.piter.example:51820',
      wireguardPublicKey: key,
    });
    expect(view.federation.sites.find((s) => s.id === 'kazan')?.network).toEqual({ vpnAddress: '10.77.0.3', sipPort: 5060 });
  });
});

describe('site views of many sites (SiteViews)', () => {
  /** Each site's view the plain way: every collection filtered for the site. */
  function plainView(fed: Federation, siteId: string) {
    const own = <T extends { siteId: string }>(xs: readonly T[]) => xs.filter((x) => x.siteId === siteId);
    const ownTrunks = new Set(own(fed.trunks).map((t) => t.id));
    const applies = (r: Federation['outboundRoutes'][number]) => r.sites.length === 0 || r.sites.includes(siteId);
    const routes = fed.outboundRoutes.filter((r) => applies(r) || r.trunks.some((p) => ownTrunks.has(p.trunkId)));
    const remote = new Set(routes.filter(applies).flatMap((r) => r.trunks.map((p) => p.trunkId)));
    return {
      extensions: own(fed.extensions).map((e) => e.id).sort(),
      trunks: [...ownTrunks].sort(),
      remoteTrunks: fed.trunks.filter((t) => t.siteId !== siteId && remote.has(t.id)).map((t) => `${t.id}@${t.siteId}:${t.name}`).sort(),
      links: fed.links.filter((l) => l.a === siteId || l.b === siteId).map((l) => l.id).sort(),
      outboundRoutes: routes.map((r) => r.id).sort(),
      inboundRoutes: own(fed.inboundRoutes).map((r) => r.id).sort(),
      callFlows: own(fed.callFlows).map((f) => f.id).sort(),
    };
  }

  it('gives every site of a generated federation what plain filtering gives, with or without an extension index', () => {
    const fed = generateFederation({ sites: 30, extensionsPerSite: 5, flows: 1 });
    const bySite = new Map<string, Federation['extensions']>();
    for (const e of fed.extensions) bySite.set(e.siteId, [...(bySite.get(e.siteId) ?? []), e]);
    const views = new SiteViews(fed);
    const indexed = new SiteViews(fed, (id) => bySite.get(id) ?? []);
    for (const s of fed.sites) {
      const view = views.of(s.id);
      expect(indexed.of(s.id)).toEqual(view);
      expect(view).toEqual(buildSiteConfig(fed, s.id));
      const ids = <T extends { id: string }>(xs: readonly T[]) => xs.map((x) => x.id);
      expect({
        extensions: ids(view.extensions),
        trunks: ids(view.trunks),
        remoteTrunks: view.remoteTrunks.map((t) => `${t.id}@${t.siteId}:${t.name}`),
        links: ids(view.links),
        outboundRoutes: ids(view.outboundRoutes),
        inboundRoutes: ids(view.inboundRoutes),
        callFlows: ids(view.callFlows),
      }).toEqual(plainView(fed, s.id));
    }
  });

  it('over a series of writes that hand on the arrays they did not change, gives what views of a fresh copy give', () => {
    // Seeded: each step replaces one collection (an object added out of id order, one changed, one removed) and
    // keeps every other array, as the controller's writes do; the views are compared with views of a deep copy
    // (new arrays and objects: nothing derived from an earlier federation can be taken over).
    let seed = 20;
    const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const collections = ['sites', 'numberRanges', 'extensions', 'trunks', 'links', 'outboundRoutes', 'inboundRoutes', 'callFlows', 'classesOfService'] as const;
    let fed: Federation = generateFederation({ sites: 12, extensionsPerSite: 4, flows: 1 });
    for (let step = 0; step < 60; step++) {
      const name = collections[random(collections.length)]!;
      const items = fed[name] as readonly { id: string }[];
      const picked = items[random(items.length)];
      const op = random(3);
      let next: { id: string }[];
      if (op === 0 && picked !== undefined) next = [...items, { ...structuredClone(picked), id: `${picked.id.slice(0, -1)}-z${step}` }, ...[]].reverse();
      else if (op === 1 && picked !== undefined) next = items.map((x) => (x === picked ? structuredClone(x) : x));
      else next = name === 'sites' || items.length < 2 ? [...items] : items.filter((x) => x !== picked);
      fed = { ...fed, [name]: next };
      const views = new SiteViews(fed);
      const fresh = new SiteViews(structuredClone(fed));
      for (const site of fed.sites) expect(views.of(site.id), `step ${step} (${name}), ${site.id}`).toEqual(fresh.of(site.id));
    }
  });

  it("takes over a site's lists from the views of a federation with the same arrays (a range write leaves them as they were)", () => {
    const fed = generateFederation({ sites: 8, extensionsPerSite: 12, flows: 1 });
    const range = { id: 'nr-new', siteId: fed.sites[2]!.id, from: '900000', to: '900099' };
    const next: Federation = { ...fed, numberRanges: [...fed.numberRanges, range] };
    const [before, after] = [new SiteViews(fed).of(fed.sites[5]!.id), new SiteViews(next).of(fed.sites[5]!.id)];
    for (const key of ['extensions', 'trunks', 'links', 'inboundRoutes', 'callFlows'] as const) expect(after[key], key).toBe(before[key]);
    expect(after.federation.sites).toBe(before.federation.sites);
    expect(after.federation.numberRanges.map((r) => r.id)).toContain('nr-new');
  });

  it('shares what every view carries between the views of one federation', () => {
    const views = new SiteViews(foundingScenario());
    const [moscow, piter] = [views.of('moscow'), views.of('piter')];
    expect(moscow.federation.sites).toBe(piter.federation.sites);
    expect(moscow.classesOfService).toBe(piter.classesOfService);
    expect(() => views.of('atlantis')).toThrow(UnknownSiteError);
  });
});
