import { describe, expect, it } from 'vitest';
import { CallFlow, Extension, NumberRange, OutboundRoute, Site, toJsonSchema } from './index.js';

/** #17 §1: no blank names, no line breaks or control characters in any name (one rule: names.ts). */
describe('names', () => {
  const site = (name: string) => Site.safeParse({ id: 'moscow', name });
  const route = (name: string) => OutboundRoute.safeParse({ id: 'or-x', name, patterns: ['_8X.'], callClass: 'national', trunks: [{ trunkId: 't' }] });
  const flow = (name: string, label?: string) =>
    CallFlow.safeParse({ id: 'f', siteId: 'moscow', name, entry: 'a', nodes: [{ id: 'a', type: 'hangup', ...(label !== undefined ? { label } : {}) }] });
  const ext = (displayName: string) => Extension.safeParse({ id: 'e', siteId: 'moscow', number: '101', displayName });
  const range = (description: string) => NumberRange.safeParse({ id: 'r', siteId: 'moscow', from: '100', to: '111', description });

  const BAD = ['', ' ', '   ', '\t', 'Moscow\r\nX-Injected: 1', 'Mos\ncow', 'Mos\rcow', 'Mos\u0000cow', 'Mos\u001bcow', 'Mos\u0085cow', 'Mos\u2028cow', 'Moscow \u202egnp.exe', '\u00a0\u3000'];
  const GOOD = ['Moscow', 'St Petersburg office', 'Москва, головной офис', 'R&D (3rd floor)', 'Tab-free "quotes" ok'];

  it.each(BAD)('refuses the name %j in sites, outbound routes, call flows and flow node labels', (name) => {
    expect(site(name).success).toBe(false);
    expect(route(name).success).toBe(false);
    expect(flow(name).success).toBe(false);
    expect(flow('Reception', name).success).toBe(false);
  });

  it.each(GOOD)('accepts the name %j everywhere', (name) => {
    expect(site(name).success).toBe(true);
    expect(route(name).success).toBe(true);
    expect(flow(name, name).success).toBe(true);
  });

  it('says why', () => {
    expect(site('Mos\ncow').error?.issues[0]?.message).toBe('a name is not blank and holds no line breaks, control or text-direction characters');
    expect(site('').error?.issues[0]?.message).toBe('a name is not empty');
  });

  it('refuses empty and blank display names, and names without a letter or digit', () => {
    for (const bad of ['', ' ', '   ', '-', '. _', 'Ivan\nPetrov']) expect(ext(bad).success, JSON.stringify(bad)).toBe(false);
    for (const good of ['Ivan Petrov', 'Лобби', '101', "O'Brien"]) expect(ext(good).success, good).toBe(true);
  });

  it('lets a description be empty but never hold a line break or control character', () => {
    expect(range('').success).toBe(true);
    expect(range('Moscow phones').success).toBe(true);
    expect(range('a\nb').success).toBe(false);
    expect(range('a\u0007b').success).toBe(false);
  });

  it('publishes the rule in the JSON Schemas', () => {
    const s = toJsonSchema('Site') as { properties: { name: { pattern?: string } } };
    expect(s.properties.name.pattern).toBeDefined();
    expect(new RegExp(s.properties.name.pattern as string).test('Mos\ncow')).toBe(false);
  });
});
