import fc from 'fast-check';
import type { CallFlow, Extension, Federation, InboundRoute, NumberRange, Site, Trunk } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { generateFederation, rangeStartOf, siteIdOf } from '../scenario/generated-federation.js';
import { validateFederationFlows } from './call-flow-validation.js';
import { ValidatedFederation } from './validated-federation.js';

/**
 * Small federations crowded on purpose: 3-digit numbers in a narrow band, so ranges overlap, extensions
 * collide, fall outside ranges or on emergency numbers, inbound routes and flows point at numbers that may
 * or may not be handed out, and some objects name sites that do not exist.
 */
const SITE_IDS = ['s0', 's1', 's2', 's3', 'gone'];
const number = fc.integer({ min: 100, max: 135 }).map(String);
const siteId = fc.constantFrom(...SITE_IDS);
const cosId = fc.constantFrom(undefined, 'cos-low', 'cos-all', 'cos-missing');

const extensionArb = (id: string): fc.Arbitrary<Extension> =>
  fc.record({ siteId, number, cos: cosId }).map(({ siteId, number, cos }) => ({
    id,
    siteId,
    number,
    displayName: id,
    voicemail: false,
    ringTimeoutSec: 20,
    ...(cos !== undefined ? { classOfServiceId: cos } : {}),
  }));

const federationArb: fc.Arbitrary<Federation> = fc
  .record({
    siteCount: fc.integer({ min: 1, max: 4 }),
    prefixes: fc.array(fc.constantFrom(undefined, '7', '8', '81'), { minLength: 4, maxLength: 4 }),
    private: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    emergency: fc.array(fc.constantFrom('112', '120', '101'), { minLength: 4, maxLength: 4 }),
    ranges: fc.array(fc.tuple(siteId, fc.integer({ min: 100, max: 130 }), fc.integer({ min: 0, max: 12 })), { maxLength: 6 }),
    extensions: fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 1 })), { maxLength: 25 }).chain((ids) =>
      // Mostly distinct ids; now and then one used twice.
      fc.tuple(...ids.map(([k, twice]) => extensionArb(`e${twice === 1 && k < 3 ? 0 : k}`))),
    ),
    flows: fc.array(fc.tuple(siteId, fc.option(number, { nil: undefined }), number, number), { maxLength: 3 }),
    inbound: fc.array(fc.tuple(siteId, fc.constantFrom('extension', 'voicemail', 'hangup'), number, fc.constantFrom('', '7', '8')), { maxLength: 4 }),
  })
  .map((p): Federation => {
    const sites: Site[] = [];
    for (let i = 0; i < p.siteCount; i++) {
      const prefix = p.prefixes[i];
      sites.push({
        id: `s${i}`,
        name: `s${i}`,
        ...(prefix !== undefined ? { prefix } : {}),
        prefixRequired: prefix !== undefined && p.private[i] === true,
        timezone: 'UTC',
        classOfServiceCeiling: ['internal', 'local'],
        emergencyNumbers: [p.emergency[i] ?? '112'],
        network: { sipPort: 5060 },
        recording: { interSite: false, external: false, retentionDays: 90 },
        ringTimeoutSec: 30,
      });
    }
    const numberRanges: NumberRange[] = p.ranges.map(([site, from, width], k) => ({ id: `r${k}`, siteId: site, from: String(from), to: String(from + width) }));
    const callFlows = p.flows.map(([site, own, dial, mailbox], k): CallFlow => ({
      id: `f${k}`,
      siteId: site,
      name: `f${k}`,
      ...(own !== undefined ? { number: own } : {}),
      entry: 'dial',
      nodes: [
        { id: 'dial', type: 'dial-extension', number: dial, timeoutSec: 20, next: { noanswer: 'vm', busy: 'vm', unavailable: 'vm' } },
        { id: 'vm', type: 'voicemail', mailbox, next: {} },
      ] satisfies CallFlow['nodes'],
    }));
    const inboundRoutes: InboundRoute[] = p.inbound.map(([site, type, n, prefix], k) => ({
      id: `ir${k}`,
      siteId: site,
      did: `7495000${k}`,
      destination: type === 'extension' ? { type, number: prefix + n } : type === 'voicemail' ? { type, mailbox: prefix + n } : { type },
    }));
    return {
      sites,
      numberRanges,
      extensions: p.extensions,
      trunks: [],
      links: [],
      outboundRoutes: [],
      inboundRoutes,
      callFlows,
      classesOfService: [
        { id: 'cos-low', name: 'low', allow: ['internal'] },
        { id: 'cos-all', name: 'all', allow: ['internal', 'local', 'national'] },
      ],
      hubSiteId: 's0',
    };
  });

/**
 * One write: mostly as the controller applies changes (replace in place, delete, append), sometimes what it
 * never does (an id appended twice, extensions reordered): revalidate must hold for any next federation.
 */
type Change =
  | { readonly kind: 'upsert'; readonly extension: Extension }
  | { readonly kind: 'push'; readonly extension: Extension }
  | { readonly kind: 'rotate'; readonly by: number }
  | { readonly kind: 'delete'; readonly id: string }
  | { readonly kind: 'site-prefix'; readonly site: number; readonly prefix: string | undefined }
  | { readonly kind: 'range'; readonly range: NumberRange }
  | { readonly kind: 'hub'; readonly hub: string | undefined }
  // Writes that leave the extensions alone (revalidate keeps each site's numbers whose inputs are the same):
  | { readonly kind: 'range-edit'; readonly at: number; readonly from: number; readonly width: number; readonly site: string }
  | { readonly kind: 'range-delete'; readonly at: number }
  | { readonly kind: 'emergency'; readonly site: number; readonly numbers: readonly string[] }
  | { readonly kind: 'private'; readonly site: number }
  | { readonly kind: 'site-delete'; readonly site: number }
  | { readonly kind: 'site-copy'; readonly site: number }
  | { readonly kind: 'trunk'; readonly site: string; readonly emergency: boolean }
  | { readonly kind: 'trunk-delete' }
  | { readonly kind: 'inbound'; readonly site: string; readonly type: 'extension' | 'voicemail'; readonly number: string }
  | { readonly kind: 'flow-number'; readonly at: number; readonly number: string | undefined }
  | { readonly kind: 'cos'; readonly allow: readonly ('internal' | 'local' | 'national')[] | undefined }
  | { readonly kind: 'route'; readonly sites: readonly string[]; readonly trunk: number; readonly pattern: string }
  | { readonly kind: 'route-delete' }
  | { readonly kind: 'link'; readonly a: string; readonly b: string }
  | { readonly kind: 'address'; readonly site: number; readonly trunkTo: number };

const changeArb: fc.Arbitrary<Change> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 33 }).chain((k) => extensionArb(`e${k}`)).map((extension) => ({ kind: 'upsert' as const, extension })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 33 }).map((k) => ({ kind: 'delete' as const, id: `e${k}` })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 33 }).chain((k) => extensionArb(`e${k}`)).map((extension) => ({ kind: 'push' as const, extension })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((by) => ({ kind: 'rotate' as const, by })) },
  { weight: 1, arbitrary: fc.record({ site: fc.nat(3), prefix: fc.constantFrom(undefined, '7', '9', '12') }).map((c) => ({ kind: 'site-prefix' as const, ...c })) },
  { weight: 1, arbitrary: fc.record({ site: siteId, from: fc.integer({ min: 100, max: 130 }) }).map(({ site, from }) => ({ kind: 'range' as const, range: { id: `r-new-${from}`, siteId: site, from: String(from), to: String(from + 3) } })) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 's1', 'gone').map((hub) => ({ kind: 'hub' as const, hub })) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(7), from: fc.integer({ min: 100, max: 130 }), width: fc.integer({ min: 0, max: 12 }), site: siteId }).map((c) => ({ kind: 'range-edit' as const, ...c })) },
  { weight: 1, arbitrary: fc.nat(7).map((at) => ({ kind: 'range-delete' as const, at })) },
  { weight: 1, arbitrary: fc.record({ site: fc.nat(3), numbers: fc.array(fc.constantFrom('112', '120', '101', '131'), { maxLength: 2 }) }).map((c) => ({ kind: 'emergency' as const, ...c })) },
  { weight: 1, arbitrary: fc.nat(3).map((site) => ({ kind: 'private' as const, site })) },
  { weight: 1, arbitrary: fc.nat(3).map((site) => ({ kind: 'site-delete' as const, site })) },
  { weight: 1, arbitrary: fc.nat(3).map((site) => ({ kind: 'site-copy' as const, site })) },
  { weight: 2, arbitrary: fc.record({ site: siteId, emergency: fc.boolean() }).map((c) => ({ kind: 'trunk' as const, ...c })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'trunk-delete' as const }) },
  { weight: 1, arbitrary: fc.record({ site: siteId, type: fc.constantFrom('extension' as const, 'voicemail' as const), number: fc.tuple(fc.constantFrom('', '7', '8'), number).map(([p, n]) => p + n) }).map((c) => ({ kind: 'inbound' as const, ...c })) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(2), number: fc.option(number, { nil: undefined }) }).map((c) => ({ kind: 'flow-number' as const, ...c })) },
  { weight: 1, arbitrary: fc.option(fc.subarray(['internal', 'local', 'national'] as const), { nil: undefined }).map((allow) => ({ kind: 'cos' as const, allow })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ sites: fc.subarray(SITE_IDS, { maxLength: 2 }), trunk: fc.nat(4), pattern: fc.constantFrom('_1XX', '_9X.', '105', '121', '_8XXXXXXX', '_X.') })
      .map((c) => ({ kind: 'route' as const, ...c })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'route-delete' as const }) },
  { weight: 1, arbitrary: fc.record({ a: siteId, b: siteId }).map((c) => ({ kind: 'link' as const, ...c })) },
  { weight: 1, arbitrary: fc.record({ site: fc.nat(3), trunkTo: fc.nat(4) }).map((c) => ({ kind: 'address' as const, ...c })) },
);

const trunkAt = (site: string, k: number, emergency: boolean): Trunk => ({
  id: `t${k}`,
  siteId: site,
  name: `t${k}`,
  host: `carrier${k}.example`,
  port: 5060,
  transport: 'udp',
  register: false,
  codecs: ['alaw'],
  emergency,
});

function apply(fed: Federation, c: Change): Federation {
  switch (c.kind) {
    case 'upsert': {
      const present = fed.extensions.some((e) => e.id === c.extension.id);
      return { ...fed, extensions: present ? fed.extensions.map((e) => (e.id === c.extension.id ? c.extension : e)) : [...fed.extensions, c.extension] };
    }
    case 'push':
      return { ...fed, extensions: [...fed.extensions, c.extension] };
    case 'rotate':
      return { ...fed, extensions: [...fed.extensions.slice(c.by), ...fed.extensions.slice(0, c.by)] };
    case 'delete':
      return { ...fed, extensions: fed.extensions.filter((e) => e.id !== c.id) };
    case 'site-prefix':
      return {
        ...fed,
        sites: fed.sites.map((s, i) => {
          if (i !== c.site) return s;
          const { prefix: _, ...rest } = s;
          return c.prefix === undefined ? { ...rest, prefixRequired: false } : { ...rest, prefix: c.prefix };
        }),
      };
    case 'range':
      return { ...fed, numberRanges: [...fed.numberRanges, c.range] };
    case 'hub': {
      const { hubSiteId: _, ...rest } = fed;
      return c.hub === undefined ? rest : { ...rest, hubSiteId: c.hub };
    }
    case 'range-edit': {
      const old = fed.numberRanges[c.at % Math.max(1, fed.numberRanges.length)];
      if (old === undefined) return fed;
      const edited = { ...old, siteId: c.site, from: String(c.from), to: String(c.from + c.width) };
      return { ...fed, numberRanges: fed.numberRanges.map((r) => (r === old ? edited : r)) };
    }
    case 'range-delete':
      return { ...fed, numberRanges: fed.numberRanges.filter((_, i) => i !== c.at % Math.max(1, fed.numberRanges.length)) };
    case 'emergency':
      return { ...fed, sites: fed.sites.map((s, i) => (i === c.site ? { ...s, emergencyNumbers: [...c.numbers] } : s)) };
    case 'private':
      return { ...fed, sites: fed.sites.map((s, i) => (i === c.site ? { ...s, prefixRequired: !s.prefixRequired } : s)) };
    case 'site-delete':
      return { ...fed, sites: fed.sites.filter((_, i) => i !== c.site) };
    case 'site-copy': {
      // A new site object, equal to the old one: re-checked (by identity), with the same result.
      const copy = fed.sites[c.site];
      return copy === undefined ? fed : { ...fed, sites: fed.sites.map((s) => (s === copy ? { ...copy } : s)) };
    }
    case 'trunk':
      return { ...fed, trunks: [...fed.trunks, trunkAt(c.site, fed.trunks.length, c.emergency)] };
    case 'trunk-delete':
      return { ...fed, trunks: fed.trunks.slice(1) };
    case 'inbound': {
      const id = `ir-new-${fed.inboundRoutes.length}`;
      const destination = c.type === 'extension' ? { type: c.type, number: c.number } : { type: c.type, mailbox: c.number };
      return { ...fed, inboundRoutes: [...fed.inboundRoutes, { id, siteId: c.site, did: `7496${fed.inboundRoutes.length}`, destination }] };
    }
    case 'flow-number': {
      const flow = fed.callFlows[c.at];
      if (flow === undefined) return fed;
      const { number: _, ...rest } = flow;
      const edited: CallFlow = c.number === undefined ? rest : { ...rest, number: c.number };
      return { ...fed, callFlows: fed.callFlows.map((f) => (f === flow ? edited : f)) };
    }
    case 'route': {
      const id = `or-${fed.outboundRoutes.length}`;
      const route = { id, name: id, patterns: [c.pattern], callClass: 'national' as const, sites: [...c.sites], trunks: [{ trunkId: `t${c.trunk}`, strip: 0, prepend: '' }] };
      return { ...fed, outboundRoutes: [...fed.outboundRoutes, route] };
    }
    case 'route-delete':
      return { ...fed, outboundRoutes: fed.outboundRoutes.slice(1) };
    case 'link':
      return { ...fed, links: [...fed.links, { id: `l-${fed.links.length}`, a: c.a, b: c.b, mode: 'ip', secret: 'link-secret-0123456789', codecs: ['alaw'] }] };
    case 'address': {
      // A trunk points at another site's tunnel address: it is that site's PBX (emergency calls would depend on it).
      const trunk = fed.trunks[c.trunkTo % Math.max(1, fed.trunks.length)];
      const others = fed.sites.filter((x) => x.id !== trunk?.siteId);
      const target = others[c.site % Math.max(1, others.length)];
      if (trunk === undefined || target === undefined) return fed;
      const address = `10.9.0.${fed.sites.indexOf(target) + 1}`;
      const sites = fed.sites.map((x) => (x === target ? { ...x, network: { ...x.network, vpnAddress: address } } : x));
      return { ...fed, sites, trunks: fed.trunks.map((t) => (t === trunk ? { ...t, host: address } : t)) };
    }
    case 'cos':
      // Equal classes as new objects (the same input), or one class allowed more or less.
      return { ...fed, classesOfService: fed.classesOfService.map((k) => (k.id === 'cos-low' && c.allow !== undefined ? { ...k, allow: [...c.allow] } : { ...k })) };
  }
}

const options = { validateCallFlows: validateFederationFlows };

describe('ValidatedFederation.revalidate', () => {
  it('gives exactly the result of validating the changed federation whole, write after write', () => {
    let incremental = 0;
    let rest = 0;
    let keptSites = 0;
    const seen = new Set<string>();
    fc.assert(
      fc.property(federationArb, fc.array(changeArb, { minLength: 1, maxLength: 10 }), (fed, changes) => {
        let state = ValidatedFederation.validate(fed, options);
        for (const c of changes) {
          const next = apply(state.federation, c);
          state = state.revalidate(next);
          if (state.computed === 'extensions') incremental++;
          if (state.computed === 'rest') rest++;
          if (state.computed === 'rest' && state.sitesChecked < next.sites.length) keptSites++;
          expect(state.result).toEqual(ValidatedFederation.validate(next, options).result);
          for (const i of [...state.result.errors, ...state.result.warnings]) seen.add(i.detail ?? i.code);
          for (const s of [...SITE_IDS, 'elsewhere']) expect(state.extensionsAt(s)).toEqual(next.extensions.filter((e) => e.siteId === s));
        }
      }),
      // Seeded: a failure here is a run anyone can repeat (fast-check prints the seed and path of a failure too).
      { numRuns: 600, seed: 20_11 },
    );
    // The property is about the incremental paths and what they re-check: make sure each was exercised.
    expect(incremental).toBeGreaterThan(400);
    expect(rest).toBeGreaterThan(1000);
    expect(keptSites).toBeGreaterThan(500);
    for (const code of ['range-meets-prefix', 'range-shadowed-by-pattern', 'route-only-remote-trunks', 'site-unreachable', 'emergency-depends-on-site', 'duplicate-id', 'no-emergency-trunk', 'site-without-emergency-number', 'range-overlap', 'duplicate-extension', 'flow-number-conflict', 'extension-outside-range', 'emergency-extension', 'emergency-number-in-range', 'class-of-service-above-ceiling', 'dangling-reference', 'unknown-extension', 'unknown-mailbox']) {
      expect(seen).toContain(code);
    }
  }, 120_000);

  it('re-checks only the sites whose extensions changed, and validates whole when anything else changed', () => {
    const fed = generateFederation({ sites: 30, extensionsPerSite: 10, flows: 5 });
    const state = ValidatedFederation.validate(fed, options);
    expect(state.result.ok).toBe(true);

    const taken = { id: 'e-taken', siteId: siteIdOf(7), number: String(rangeStartOf(7)), displayName: 'Taken', voicemail: false, ringTimeoutSec: 20 };
    const clash = state.revalidate({ ...fed, extensions: [...fed.extensions, taken] });
    expect(clash.computed).toBe('extensions');
    expect(clash.result.errors.map((e) => e.code)).toEqual(['duplicate-extension']);
    expect(clash.result.errors[0]?.objects).toEqual([
      { type: 'extension', id: `e-${siteIdOf(7)}-0`, siteId: siteIdOf(7) },
      { type: 'extension', id: 'e-taken', siteId: siteIdOf(7) },
    ]);

    // A flow at site 1 rings extensions of site 1: deleting one is found there, though site 1's own numbers are fine.
    const ringed = fed.extensions.filter((e) => e.id !== `e-${siteIdOf(1)}-1`);
    const gone = state.revalidate({ ...fed, extensions: ringed });
    expect(gone.computed).toBe('extensions');
    expect(gone.result.errors.map((e) => e.code)).toEqual(['call-flow']);

    const renumbered = state.revalidate({ ...fed, sites: fed.sites.map((s, i) => (i === 3 ? { ...s, prefix: '7100' } : s)) });
    expect(renumbered.computed).toBe('rest');
    expect(renumbered.result.errors.map((e) => e.code)).toContain('prefix-conflict');
    // Only the site with the new prefix (a new site object) has its numbers checked again. Changing extensions
    // and anything else at once is checked whole.
    expect(renumbered.sitesChecked).toBe(1);
    const both = state.revalidate({ ...fed, sites: renumbered.federation.sites, extensions: [...fed.extensions, taken] });
    expect(both.computed).toBe('whole');
    expect(both.result).toEqual(ValidatedFederation.validate(both.federation, options).result);
  });

  it('a range write re-checks the numbers of the site it belongs to, and refuses what it refused before', () => {
    const fed = generateFederation({ sites: 40, extensionsPerSite: 5, flows: 3 });
    const state = ValidatedFederation.validate(fed, options);
    expect(state.result.ok).toBe(true);
    const write = (range: NumberRange) => state.revalidate({ ...fed, numberRanges: [...fed.numberRanges, range] });

    const added = write({ id: 'r-new', siteId: siteIdOf(5), from: '900000', to: '900099' });
    expect(added.computed).toBe('rest');
    expect(added.sitesChecked).toBe(1);
    expect(added.result).toEqual(ValidatedFederation.validate(added.federation, options).result);

    // A range over another site's numbers, and one holding the emergency number: refused as a whole validation refuses them.
    const start = rangeStartOf(9);
    for (const [range, code] of [
      [{ id: 'r-over', siteId: siteIdOf(5), from: String(start + 10), to: String(start + 20) }, 'range-overlap'],
      [{ id: 'r-112', siteId: siteIdOf(5), from: '110', to: '115' }, 'emergency-number-in-range'],
    ] as const) {
      const refused = write(range);
      expect(refused.computed).toBe('rest');
      expect(refused.result.ok).toBe(false);
      expect(refused.result.errors.map((e) => e.code)).toContain(code);
      expect(refused.result).toEqual(ValidatedFederation.validate(refused.federation, options).result);
    }

    // A route whose pattern takes the new range's numbers: the range is checked against the routes again.
    const withRoute = { ...fed, outboundRoutes: [...fed.outboundRoutes, { id: 'or-9', name: 'Nines', patterns: ['900050'], callClass: 'national' as const, sites: [], trunks: [{ trunkId: `t-${siteIdOf(0)}`, strip: 0, prepend: '' }] }] };
    const routed = state.revalidate(withRoute);
    expect(routed.result.ok).toBe(true);
    const shadowed = routed.revalidate({ ...withRoute, numberRanges: [...fed.numberRanges, { id: 'r-new', siteId: siteIdOf(5), from: '900000', to: '900099' }] });
    expect(shadowed.result.errors.map((e) => e.code)).toEqual(['range-shadowed-by-pattern']);
    expect(shadowed.result).toEqual(ValidatedFederation.validate(shadowed.federation, options).result);

    // Taking a range away re-checks its site: its extensions fall outside every range.
    const gone = state.revalidate({ ...fed, numberRanges: fed.numberRanges.filter((r) => r.siteId !== siteIdOf(7)) });
    expect(gone.sitesChecked).toBe(1);
    expect(gone.result.errors.map((e) => e.code)).toContain('extension-outside-range');
    expect(gone.result).toEqual(ValidatedFederation.validate(gone.federation, options).result);

    // A site's last emergency trunk gone: that site's numbers are checked again, and refused.
    const noTrunk = state.revalidate({ ...fed, trunks: fed.trunks.filter((t) => t.siteId !== siteIdOf(3)) });
    expect(noTrunk.result.errors.map((e) => e.code)).toContain('no-emergency-trunk');
    expect(noTrunk.result).toEqual(ValidatedFederation.validate(noTrunk.federation, options).result);
  });
});
