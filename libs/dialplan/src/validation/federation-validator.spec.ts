import { Federation, type FederationInput } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { foundingScenario, foundingScenarioInput } from '../scenario/founding-scenario.js';
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
    expect(result.warnings.map((w) => w.code)).toEqual(['emergency-number-in-range', 'emergency-number-in-range']);
    expect(result.warnings[0]?.message).toContain('112');
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
    const issue = validateFederation(f).errors.find((e) => e.code === 'prefixed-number-collision');
    expect(issue?.span).toEqual({ from: '6100', to: '6199' });
  });

  it('rejects a route pattern that shadows a range, and accepts catch-alls that sort after it', () => {
    const shadow = variant((x) => x.outboundRoutes.push({ id: 'or-bad', name: 'bad', patterns: ['_10X'], callClass: 'local', trunks: [{ trunkId: 't-moscow-city' }] }));
    const issue = validateFederation(shadow).errors.find((e) => e.code === 'range-shadowed-by-pattern');
    expect(issue?.objects).toEqual([{ type: 'outboundRoute', id: 'or-bad' }, { type: 'numberRange', id: 'r-moscow', siteId: 'moscow' }]);
    const catchAll = variant((x) => x.outboundRoutes.push({ id: 'or-any', name: 'any', patterns: ['_X.'], callClass: 'national', trunks: [{ trunkId: 't-moscow-city' }] }));
    expect(codes(catchAll)).toEqual([]);
  });

  it("does not count a private range as shadowed by a route of other sites", () => {
    const f = variant((x) => x.outboundRoutes.push({ id: 'or-short', name: 'short', patterns: ['_1XX'], callClass: 'local', sites: ['piter'], trunks: [{ trunkId: 't-piter-city' }] }));
    const errors = validateFederation(f).errors.filter((e) => e.code === 'range-shadowed-by-pattern');
    expect(errors.map((e) => e.objects[1]?.id)).toEqual(['r-moscow']);
  });

  it('rejects a DID owned twice, by inbound routes or by DID blocks', () => {
    const twice = variant((x) => x.inboundRoutes.push({ id: 'ir-x', siteId: 'piter', did: '_74955550XXX', destination: { type: 'hangup' } }));
    expect(codes(twice)).toContain('did-owned-twice');
    const blocks = variant((x) => (x.numberRanges[2]!.pstnPrefix = '84955550'));
    const issue = validateFederation(blocks).errors.find((e) => e.code === 'did-owned-twice');
    expect(issue?.span).toEqual({ from: '84955550100', to: '84955550299' });
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
