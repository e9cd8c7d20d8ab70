import { Federation, type PresenceSettingsInput } from '@fedpbx/contracts';
import { validateFederation } from '../validation/federation-validator.js';
import { describe, expect, it } from 'vitest';
import { foundingScenarioInput } from '../scenario/founding-scenario.js';
import { buildSiteConfig } from '../snapshot/site-view.js';
import { renderExtensions } from './extensions-renderer.js';
import { FEDPBX_CONTEXTS } from './names.js';
import { renderPjsip } from './pjsip-renderer.js';
import { parseDialplan, parseIniStrict } from './render-fixtures.test.js';

/**
 * Busy-lamp hints in extensions_fedpbx.conf (founding scenario: moscow prefix 5, piter flat 300-499, kazan prefix 6
 * with a private plan overlapping moscow's 100-299).
 */
function federation(presence: Record<string, PresenceSettingsInput>): Federation {
  const input = foundingScenarioInput();
  for (const site of input.sites) {
    const p = presence[site.id];
    if (p !== undefined) site.presence = p;
  }
  return Federation.parse(input);
}

function hintsOf(fed: Federation, siteId: string): { name: string; device: string | undefined }[] {
  const text = renderExtensions(buildSiteConfig(fed, siteId), { agiHost: '127.0.0.1', agiPort: 4573 });
  return parseDialplan(text)
    .filter((e) => e.context === FEDPBX_CONTEXTS.hints)
    .map((e) => ({ name: e.name, device: e.hint }));
}

describe('busy-lamp hints', () => {
  it('every phone of the site gets a hint on its PJSIP endpoint, in the context its phones subscribe in, and nothing else by default', () => {
    const fed = federation({});
    expect(hintsOf(fed, 'moscow')).toEqual([
      { name: '101', device: 'PJSIP/101' },
      { name: '102', device: 'PJSIP/102' },
      { name: '150', device: 'PJSIP/150' },
    ]);
    const pjsip = parseIniStrict(renderPjsip(buildSiteConfig(fed, 'moscow')));
    const phones = pjsip.filter((s) => s.type === 'endpoint' && !s.name.startsWith('site-') && !s.name.startsWith('trunk-'));
    expect(phones.map((p) => p.name).sort()).toEqual(['101', '102', '150']);
    for (const phone of phones) {
      expect(phone.options.get('context')).toBe(FEDPBX_CONTEXTS.internal);
      expect(phone.options.get('subscribe_context')).toBe(FEDPBX_CONTEXTS.hints);
    }
  });

  it('a hint line is the extension\'s only priority, and no hint lands in a context calls are dialled in', () => {
    const fed = federation({ moscow: { remoteHints: 'all' } });
    const text = renderExtensions(buildSiteConfig(fed, 'moscow'), { agiHost: '127.0.0.1', agiPort: 4573 });
    const all = parseDialplan(text);
    for (const e of all.filter((x) => x.hint !== undefined)) {
      expect(e.context).toBe(FEDPBX_CONTEXTS.hints);
      expect(e.steps).toEqual([]);
    }
    expect(all.filter((e) => e.context === FEDPBX_CONTEXTS.hints && e.hint === undefined)).toEqual([]);
    // The hint lines read as Asterisk's config.c does: `exten => 301,hint,Custom:fedpbx-piter-301`.
    expect(text).toContain('\nexten => 301,hint,Custom:fedpbx-piter-301\n');
  });

  it('remote hints are in the numbering a local phone dials: flat where the plan is flat, with the prefix where it is private or shadowed', () => {
    const fed = federation({ moscow: { remoteHints: 'all' }, piter: { remoteHints: 'all' }, kazan: { remoteHints: 'all' } });
    // moscow dials piter flat and kazan (private plan) with prefix 6.
    expect(hintsOf(fed, 'moscow')).toEqual([
      { name: '101', device: 'PJSIP/101' },
      { name: '102', device: 'PJSIP/102' },
      { name: '150', device: 'PJSIP/150' },
      { name: '301', device: 'Custom:fedpbx-piter-301' },
      { name: '302', device: 'Custom:fedpbx-piter-302' },
      { name: '6101', device: 'Custom:fedpbx-kazan-101' },
      { name: '6102', device: 'Custom:fedpbx-kazan-102' },
    ]);
    // kazan's own 101/102 shadow moscow's: moscow's lamps are 5101 and 5102 there.
    expect(hintsOf(fed, 'kazan')).toEqual([
      { name: '101', device: 'PJSIP/101' },
      { name: '102', device: 'PJSIP/102' },
      { name: '301', device: 'Custom:fedpbx-piter-301' },
      { name: '302', device: 'Custom:fedpbx-piter-302' },
      { name: '5101', device: 'Custom:fedpbx-moscow-101' },
      { name: '5102', device: 'Custom:fedpbx-moscow-102' },
      { name: '5150', device: 'Custom:fedpbx-moscow-150' },
    ]);
  });

  it('listed: only the watched extensions, only those their site shares, only of sites this site can reach', () => {
    const fed = federation({
      moscow: { remoteHints: 'listed', watch: [{ siteId: 'piter', numbers: ['301', '399'] }, { siteId: 'kazan' }] },
      kazan: { share: 'listed', sharedNumbers: ['102'] },
    });
    expect(hintsOf(fed, 'moscow').filter((h) => h.device?.startsWith('Custom:'))).toEqual([
      { name: '301', device: 'Custom:fedpbx-piter-301' },
      { name: '6102', device: 'Custom:fedpbx-kazan-102' },
    ]);
    expect(buildSiteConfig(fed, 'moscow').remotePresence).toEqual([
      { siteId: 'kazan', numbers: ['102'] },
      { siteId: 'piter', numbers: ['301'] },
    ]);
    // A site that shares nothing gives no lamp; without a link (and no hub) no lamp either.
    const closed = federation({ piter: { share: 'none' }, moscow: { remoteHints: 'all' } });
    expect(buildSiteConfig(closed, 'moscow').remotePresence).toEqual([{ siteId: 'kazan', numbers: ['101', '102'] }]);
    const input = foundingScenarioInput();
    input.links = input.links?.filter((l) => l.id !== 'l-moscow-piter');
    for (const s of input.sites) if (s.id === 'moscow') s.presence = { remoteHints: 'all' };
    expect(buildSiteConfig(Federation.parse(input), 'moscow').remotePresence).toEqual([{ siteId: 'kazan', numbers: ['101', '102'] }]);
  });

  it('a site without a presence setting keeps the snapshot it had (no remotePresence key)', () => {
    const config = buildSiteConfig(federation({}), 'moscow');
    expect('remotePresence' in config).toBe(false);
    expect('presence' in config.site).toBe(false);
  });
});

describe('presence setting validation', () => {
  it('a site cannot watch itself; a watched site that does not exist is a warning', () => {
    const fed = federation({ moscow: { remoteHints: 'listed', watch: [{ siteId: 'moscow' }, { siteId: 'ufa' }] } });
    const result = validateFederation(fed);
    const issues = [...result.errors, ...result.warnings].filter((i) => i.message.includes('presence'));
    expect(issues.map((i) => [i.severity, i.code])).toEqual([
      ['error', 'dangling-reference'],
      ['warning', 'dangling-reference'],
    ]);
  });
});
