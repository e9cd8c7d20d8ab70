import { Federation, type FederationInput } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { foundingScenario, foundingScenarioInput } from '../scenario/founding-scenario.js';
import { generateFederation } from '../scenario/generated-federation.js';
import { validateFederation } from './federation-validator.js';

function variant(change: (f: FederationInput) => void): Federation {
  const input = foundingScenarioInput();
  change(input);
  return Federation.parse(input);
}
const codes = (f: Federation) => validateFederation(f).errors.map((e) => e.code);

describe('validateFederation', () => {
  it('accepts the founding scenario, with warnings a telecom admin would want', () => {
    const result = validateFederation(foundingScenario());
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
    // Survivability (#19 §2): routes some sites can only use through another site's trunk.
    expect(result.warnings.map((w) => w.message)).toEqual([
      'outbound route "St Petersburg city via piter" has no trunk at kazan: calls from there through it depend on another site (and the link to it)',
      'outbound route "International" has no trunk at piter: calls from there through it depend on another site (and the link to it)',
      'outbound route "Premium rate" has no trunk at piter, kazan: calls from there through it depend on another site (and the link to it)',
    ]);
    expect(result.warnings.map((w) => w.code)).toEqual(['route-only-remote-trunks', 'route-only-remote-trunks', 'route-only-remote-trunks']);
  });

  it('a route for every site through one site\'s trunk warns once, counting every site without a trunk and listing the 5 it names', () => {
    const fed = generateFederation({ sites: 30, extensionsPerSite: 1, flows: 0 });
    const route = fed.outboundRoutes.find((r) => r.sites.length === 0 && r.trunks.length > 0)!;
    const warning = validateFederation(fed).warnings.find((w) => w.code === 'route-only-remote-trunks' && w.objects.some((o) => o.id === route.id));
    expect(warning?.message).toMatch(/ and 24 more: /);
    expect(warning?.objects).toHaveLength(6);
    for (const o of warning?.objects.slice(1) ?? []) expect(warning?.message).toContain(o.id);
    expect(warning?.objects.slice(1).every((o) => o.type === 'site' && fed.sites.some((s) => s.id === o.id) && !route.trunks.some((p) => fed.trunks.find((t) => t.id === p.trunkId)?.siteId === o.id))).toBe(true);
  });

  it('rejects overlapping flat ranges, naming both sites and the overlapping span', () => {
    const f = variant((x) => x.numberRanges.push({ id: 'r-piter-2', siteId: 'piter', from: '250', to: '349' }));
    const issue = validateFederation(f).errors.find((e) => e.code === 'range-overlap');
    expect(issue?.span).toEqual({ from: '250', to: '299' });
    expect(issue?.objects).toEqual(expect.arrayContaining([{ type: 'site', id: 'moscow' }, { type: 'site', id: 'piter' }]));
    expect(issue?.message).toContain('moscow');
    expect(issue?.message).toContain('piter');
  });

  it('allows an overlap when one site is prefix-required, and warns when the flat site has no prefix to reach it', () => {
    expect(codes(foundingScenario())).not.toContain('range-overlap');
    const f = variant((x) => delete x.sites[0]!.prefix);
    const w = validateFederation(f).warnings.find((i) => i.code === 'range-hidden-from-site');
    expect(w?.message).toMatch(/moscow.*kazan/);
  });

  it('rejects prefix-required without a prefix', () => {
    expect(codes(variant((x) => delete x.sites[2]!.prefix))).toContain('prefix-required-without-prefix');
  });

  it('rejects prefixes that a caller cannot tell apart', () => {
    expect(codes(variant((x) => (x.sites[1]!.prefix = '5')))).toContain('prefix-conflict');
    expect(codes(variant((x) => (x.sites[1]!.prefix = '56')))).toContain('prefix-conflict');
  });

  it('rejects a prefixed number that is also a plain number', () => {
    const f = variant((x) => x.numberRanges.push({ id: 'r-piter-4d', siteId: 'piter', from: '6000', to: '6199' }));
    const issues = validateFederation(f).errors.filter((e) => e.code === 'prefixed-number-collision');
    expect(issues.map((i) => i.span)).toEqual([{ from: '6100', to: '6111' }, { from: '6113', to: '6199' }]);
  });

  it('rejects a route pattern that shadows a range, and accepts catch-alls that sort after it', () => {
    const shadow = variant((x) => x.outboundRoutes.push({ id: 'or-bad', name: 'bad', patterns: ['_10X'], callClass: 'local', trunks: [{ trunkId: 't-moscow-city' }] }));
    const issue = validateFederation(shadow).errors.find((e) => e.code === 'range-shadowed-by-pattern');
    expect(issue?.objects).toEqual([{ type: 'outboundRoute', id: 'or-bad' }, { type: 'numberRange', id: 'r-moscow', siteId: 'moscow' }]);
    const catchAll = variant((x) => x.outboundRoutes.push({ id: 'or-any', name: 'any', patterns: ['_X.'], callClass: 'national', trunks: [{ trunkId: 't-moscow-city' }] }));
    expect(codes(catchAll)).toEqual([]);
  });

  it("does not count a private range as shadowed by a route of other sites", () => {
    const f = variant((x) => x.outboundRoutes.push({ id: 'or-short', name: 'short', patterns: ['105'], callClass: 'local', sites: ['piter'], trunks: [{ trunkId: 't-piter-city' }] }));
    const errors = validateFederation(f).errors.filter((e) => e.code === 'range-shadowed-by-pattern');
    expect(errors.map((e) => e.objects[1]?.id)).toEqual(['r-moscow']);
  });

  it('rejects a DID owned twice, by inbound routes or by DID blocks', () => {
    const twice = variant((x) => x.inboundRoutes.push({ id: 'ir-x', siteId: 'piter', did: '_74955550XXX', destination: { type: 'hangup' } }));
    expect(codes(twice)).toContain('did-owned-twice');
    const blocks = variant((x) => (x.numberRanges.find((r) => r.id === 'r-kazan-2')!.pstnPrefix = '84955550'));
    const issue = validateFederation(blocks).errors.find((e) => e.code === 'did-owned-twice');
    expect(issue?.span).toEqual({ from: '84955550113', to: '84955550299' });
  });

  it('rejects references that point at nothing', () => {
    const f = variant((x) => {
      x.outboundRoutes[0]!.trunks.push({ trunkId: 't-nowhere' });
      x.inboundRoutes.push({ id: 'ir-y', siteId: 'moscow', did: '74955559999', destination: { type: 'flow', flowId: 'f-missing' } });
      x.extensions.push({ id: 'e-z', siteId: 'moscow', number: '103', displayName: 'Z', classOfServiceId: 'cos-missing' });
    });
    const messages = validateFederation(f).errors.filter((e) => e.code === 'dangling-reference').map((e) => e.message);
    expect(messages).toHaveLength(3);
    expect(messages.join('\n')).toMatch(/t-nowhere[\s\S]*f-missing|f-missing[\s\S]*t-nowhere/);
  });

  it('rejects extensions outside their ranges, twice-used numbers, and extensions on emergency numbers', () => {
    expect(codes(variant((x) => x.extensions.push({ id: 'e-o', siteId: 'moscow', number: '305', displayName: 'X' })))).toContain('extension-outside-range');
    expect(codes(variant((x) => x.extensions.push({ id: 'e-d', siteId: 'moscow', number: '101', displayName: 'X' })))).toContain('duplicate-extension');
    expect(codes(variant((x) => x.extensions.push({ id: 'e-112', siteId: 'moscow', number: '112', displayName: 'X' })))).toContain('emergency-extension');
    expect(codes(variant((x) => (x.callFlows[0]!.number = '101')))).toContain('flow-number-conflict');
  });

  it('rejects duplicate ids and duplicate links', () => {
    expect(codes(variant((x) => x.extensions.push({ ...x.extensions[0]!, number: '199' })))).toContain('duplicate-id');
    expect(codes(variant((x) => x.links.push({ id: 'l-again', a: 'piter', b: 'moscow' })))).toContain('duplicate-link');
  });

  it('rejects two sites with one tunnel address (however written) or one WireGuard key, naming both sites', () => {
    const twice = variant((x) => {
      x.sites[1]!.network = { vpnAddress: '10.77.0.1' };
    });
    expect(validateFederation(twice).errors.filter((e) => e.code === 'duplicate-vpn-address').map((e) => e.objects)).toEqual([
      [
        { type: 'site', id: 'moscow' },
        { type: 'site', id: 'piter' },
      ],
    ]);
    expect(codes(variant((x) => x.sites.forEach((s, i) => (s.network = { vpnAddress: i === 0 ? 'fd77::1' : 'fd77:0:0::1' }))))).toContain('duplicate-vpn-address');
    const key = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
    expect(codes(variant((x) => x.sites.slice(0, 2).forEach((s) => (s.network = { ...s.network, wireguardPublicKey: key }))))).toEqual(['duplicate-wireguard-key']);
    expect(codes(foundingScenario())).toEqual([]);
  });

  it('warns about a site with no link and about a class of service above the site ceiling', () => {
    const f = variant((x) => {
      x.links = x.links.filter((l) => l.a !== 'kazan' && l.b !== 'kazan');
      x.extensions.find((e) => e.id === 'e-k101')!.classOfServiceId = 'cos-international';
    });
    const warnings = validateFederation(f).warnings.map((w) => w.code);
    expect(warnings).toContain('site-unreachable');
    expect(warnings).toContain('class-of-service-above-ceiling');
  });
});

describe('validateFederation: emergency calls (#17 §1)', () => {
  const errorsOf = (f: Federation, code: string) => validateFederation(f).errors.filter((e) => e.code === code);

  it('rejects a site with no emergency number', () => {
    const f = variant((x) => (x.sites.find((s) => s.id === 'piter')!.emergencyNumbers = []));
    expect(errorsOf(f, 'site-without-emergency-number').map((e) => e.objects)).toEqual([[{ type: 'site', id: 'piter' }]]);
  });

  it("rejects an emergency number inside any site's range: piter's 112 inside moscow's 100-299 (the reported defect's plan)", () => {
    const f = variant((x) => {
      x.numberRanges = x.numberRanges.filter((r) => r.id !== 'r-moscow-2');
      x.numberRanges.find((r) => r.id === 'r-moscow')!.to = '299';
    });
    const issues = errorsOf(f, 'emergency-number-in-range');
    expect(issues.map((i) => i.objects)).toEqual(['moscow', 'piter', 'kazan'].map((id) => [{ type: 'numberRange', id: 'r-moscow', siteId: 'moscow' }, { type: 'site', id }]));
    expect(issues[1]?.message).toBe("emergency number 112 of piter is inside moscow's range 100-299: it must never be an internal number (renumber the range around it)");
    expect(issues[1]?.span).toEqual({ from: '112', to: '112' });
  });

  it('rejects an emergency number that is a prefixed internal number (prefix + range)', () => {
    const f = variant((x) => (x.sites.find((s) => s.id === 'piter')!.emergencyNumbers = ['112', '5101']));
    expect(errorsOf(f, 'emergency-number-in-range')[0]?.message).toContain("moscow's prefix 5 + range 100-111");
  });

  it('rejects a site with extensions but no emergency-capable trunk of its own, and warns while it has no extension', () => {
    const noTrunk = variant((x) => {
      x.trunks = x.trunks.filter((t) => t.siteId !== 'piter');
      x.outboundRoutes = x.outboundRoutes.flatMap((r) => {
        const trunks = r.trunks.filter((t) => t.trunkId !== 't-piter-city');
        return trunks.length === 0 ? [] : [{ ...r, trunks }];
      });
      x.inboundRoutes = x.inboundRoutes.filter((r) => r.siteId !== 'piter');
    });
    expect(errorsOf(noTrunk, 'no-emergency-trunk').map((e) => e.objects)).toEqual([[{ type: 'site', id: 'piter' }]]);
    const notEmergency = variant((x) => (x.trunks.find((t) => t.id === 't-piter-city')!.emergency = false));
    expect(errorsOf(notEmergency, 'no-emergency-trunk').map((e) => e.objects)).toEqual([[{ type: 'site', id: 'piter' }]]);
    const newSite = variant((x) => x.sites.push({ id: 'ufa', name: 'Ufa' }));
    expect(codes(newSite)).toEqual([]);
    expect(validateFederation(newSite).warnings.filter((w) => w.code === 'no-emergency-trunk').map((w) => w.objects)).toEqual([[{ type: 'site', id: 'ufa' }]]);
  });
});

describe('validateFederation: ranges that meet a prefix, risky patterns (#17 §1)', () => {
  const warningsOf = (f: Federation, code: string) => validateFederation(f).warnings.filter((w) => w.code === code);

  it("warns about a range equal to another site's prefix (5 when moscow's prefix is 5)", () => {
    const f = variant((x) => x.numberRanges.push({ id: 'r-piter-5', siteId: 'piter', from: '5', to: '5' }));
    expect(codes(f)).toEqual([]);
    const [w] = warningsOf(f, 'range-meets-prefix');
    expect(w?.message).toBe("piter's range 5-5 holds 5, the start of moscow's prefix 5: a caller dialling moscow as 5 + number may reach piter's 5 instead");
    expect(w?.objects).toEqual([{ type: 'numberRange', id: 'r-piter-5', siteId: 'piter' }, { type: 'site', id: 'piter' }, { type: 'site', id: 'moscow' }]);
  });

  it("warns about a range covered by another site's prefix plus digits", () => {
    const f = variant((x) => x.numberRanges.push({ id: 'r-piter-50', siteId: 'piter', from: '5000', to: '5099' }));
    expect(codes(f)).toEqual([]);
    expect(warningsOf(f, 'range-meets-prefix').map((w) => w.span)).toEqual([{ from: '5000', to: '5099' }]);
    expect(warningsOf(foundingScenario(), 'range-meets-prefix')).toEqual([]);
  });

  it('refuses _!, _. and _[]X with the reason, and warns about an early match', () => {
    const route = (pattern: string) => variant((x) => x.outboundRoutes.push({ id: 'or-x', name: 'x', patterns: [pattern], callClass: 'national', sites: ['moscow'], trunks: [{ trunkId: 't-moscow-city' }] }));
    for (const p of ['_!', '_.', '_[]X']) {
      const issue = validateFederation(route(p)).errors.find((e) => e.code === 'invalid-pattern');
      expect(issue?.message, p).toMatch(p === '_[]X' ? /empty set \[\]: Asterisk never matches/ : /matches every number, internal numbers and emergency numbers included/);
      expect(issue?.objects).toEqual([{ type: 'outboundRoute', id: 'or-x' }]);
    }
    const early = route('_89!');
    expect(codes(early)).toEqual([]);
    expect(warningsOf(early, 'risky-pattern')[0]?.message).toContain('early match');
    const did = variant((x) => x.inboundRoutes.push({ id: 'ir-any', siteId: 'piter', did: '_.', destination: { type: 'hangup' } }));
    expect(validateFederation(did).errors.find((e) => e.code === 'invalid-pattern')?.objects).toEqual([{ type: 'inboundRoute', id: 'ir-any', siteId: 'piter' }]);
  });
});
