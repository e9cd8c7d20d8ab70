import { describe, expect, it } from 'vitest';
import { CallFlow, canonicalJson, DEFAULT_SIP_PORT, Extension, NumberRange, PUBLISHED_SCHEMAS, Site, snapshotSigningPayload, toJsonSchema, Trunk } from './index.js';

describe('contracts', () => {
  it('rejects unknown properties instead of ignoring them', () => {
    const r = Site.safeParse({ id: 'moscow', name: 'Moscow', colour: 'red' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('colour');
  });

  it('applies defaults a site needs to route on its own', () => {
    const s = Site.parse({ id: 'piter', name: 'St Petersburg' });
    expect(s.emergencyNumbers).toEqual(['112']);
    expect(s.prefixRequired).toBe(false);
    expect(s.network.sipPort).toBe(DEFAULT_SIP_PORT);
    expect(DEFAULT_SIP_PORT).not.toBe(5060); // the stock pjsip.conf's transport binds 0.0.0.0:5060
  });

  it.each([
    ['Moscow', 'upper case'],
    ['1site', 'leading digit'],
    ['a'.repeat(32), 'too long'],
    ['site;x', 'separator'],
  ])('refuses site id %s (%s)', (id) => {
    expect(Site.safeParse({ id, name: 'x' }).success).toBe(false);
  });

  it('refuses a range whose bounds differ in length or are reversed', () => {
    expect(NumberRange.safeParse({ id: 'r', siteId: 'moscow', from: '100', to: '1999' }).success).toBe(false);
    expect(NumberRange.safeParse({ id: 'r', siteId: 'moscow', from: '299', to: '100' }).success).toBe(false);
    expect(NumberRange.safeParse({ id: 'r', siteId: 'moscow', from: '0100', to: '0199' }).success).toBe(true);
  });

  it('keeps injection characters out of names that reach Asterisk', () => {
    expect(Trunk.safeParse({ id: 't', siteId: 'moscow', name: 'city\nexten=>', host: 'sip.example' }).success).toBe(false);
    expect(Trunk.safeParse({ id: 't', siteId: 'moscow', name: 'city,U(x)', host: 'sip.example' }).success).toBe(false);
    expect(Extension.safeParse({ id: 'e', siteId: 'moscow', number: '101', displayName: 'x",,U(sub)' }).success).toBe(false);
  });

  it('validates flow nodes by their module type', () => {
    const ok = CallFlow.safeParse({
      id: 'f',
      siteId: 'moscow',
      name: 'Menu',
      entry: 'm',
      nodes: [{ id: 'm', type: 'ivr-menu', prompt: 'welcome', next: { 'digit:1': 'h', timeout: 'h' } }, { id: 'h', type: 'hangup' }],
    });
    expect(ok.success).toBe(true);
    const bad = CallFlow.safeParse({ id: 'f', siteId: 'moscow', name: 'x', entry: 'm', nodes: [{ id: 'm', type: 'ivr-menu', prompt: '../../etc/passwd' }] });
    expect(bad.success).toBe(false);
  });

  it('canonical JSON sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,1]},"b":1}');
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
  });

  it('binds site, revision, time and hash in the signing payload', () => {
    const p = snapshotSigningPayload({ format: 1, siteId: 'piter', revision: 7, generatedAt: '2026-11-26T10:00:00.000Z', contentHash: 'sha256:' + '0'.repeat(64) });
    expect(p.split('\n')).toEqual(['fedpbx-snapshot', '1', 'piter', '7', '2026-11-26T10:00:00.000Z', 'sha256:' + '0'.repeat(64)]);
  });

  it('exports every published schema as JSON Schema', () => {
    for (const name of Object.keys(PUBLISHED_SCHEMAS) as (keyof typeof PUBLISHED_SCHEMAS)[]) {
      const schema = toJsonSchema(name);
      expect(schema.$schema, name).toContain('json-schema.org');
    }
    const site = toJsonSchema('Site') as { properties: Record<string, unknown>; additionalProperties: unknown };
    expect(Object.keys(site.properties)).toContain('prefix');
    expect(site.additionalProperties).toBe(false);
  });
});
