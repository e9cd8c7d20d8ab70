import { foundingScenario, buildSiteConfig, compileSite, resolveRoute, type CompiledSite } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { CallLegBook, channelEndpoint, decodeLegs, encodeLegs, isDialAttempt, legOf, legOfCdr, MAX_LEGS, type CallLeg } from './call-legs.js';

const fed = foundingScenario();
const site = (id: string): CompiledSite => compileSite(buildSiteConfig(fed, id), 1);

describe('call legs', () => {
  it('gives each attempt of a failover plan its own kind, target and trunk, and survives the round trip', () => {
    const moscow = site('moscow');
    const plan = resolveRoute(moscow, { entry: 'internal', caller: '101', dialled: '301' });
    const legs = plan.attempts.filter(isDialAttempt).map((a) => legOf('moscow', plan, a));
    expect(legs).toEqual([
      { routeKind: 'site', endpoint: 'site-piter', number: '301', targetSiteId: 'piter' },
      { routeKind: 'pstn', endpoint: 'trunk-moscow-city', number: '88125550301', trunkId: 't-moscow-city', targetSiteId: 'piter' },
    ]);
    const text = encodeLegs(legs);
    expect(text).toBe('site/site-piter/301/piter/;pstn/trunk-moscow-city/88125550301/piter/t-moscow-city');
    expect(decodeLegs(text)).toEqual(legs);
  });

  it('matches a CDR by its dstchannel endpoint, and by its Dial data when two legs share an endpoint', () => {
    const legs: CallLeg[] = [
      { routeKind: 'teho', endpoint: 'site-piter', number: '88125551234', targetSiteId: 'piter', trunkId: 't-a' },
      { routeKind: 'teho', endpoint: 'site-piter', number: '+78125551234', targetSiteId: 'piter', trunkId: 't-b' },
      { routeKind: 'pstn', endpoint: 'trunk-moscow-city', number: '88125551234', trunkId: 't-moscow-city' },
    ];
    expect(legOfCdr(legs, 'PJSIP/trunk-moscow-city-0000000f', 'PJSIP/88125551234@trunk-moscow-city,60,T')?.trunkId).toBe('t-moscow-city');
    expect(legOfCdr(legs, 'PJSIP/site-piter-00000010', 'PJSIP/+78125551234@site-piter,60,Tb(fedpbx-predial^s^1(moscow/1.2))')?.trunkId).toBe('t-b');
    expect(legOfCdr(legs, 'PJSIP/site-piter-00000010', 'PJSIP/88125551234@site-piter,60,T')?.trunkId).toBe('t-a');
    expect(legOfCdr(legs, '', 'ss-noservice')).toBeUndefined();
    expect(legOfCdr(legs, 'PJSIP/102-00000011', 'PJSIP/102,20,tT')).toBeUndefined();
    expect(channelEndpoint('PJSIP/site-piter-0000001a')).toBe('site-piter');
    expect(channelEndpoint('Local/101@x-00000001;1')).toBeUndefined();
  });

  it('never throws on what comes back from Asterisk, and keeps the list bounded', () => {
    for (const junk of ['', ';;;', 'a/b', 'bogus/x/1//', 'site//1//', 'site/x,y/1//', `${'site/e/1//;'.repeat(50)}`, 'x'.repeat(10_000)]) {
      expect(() => decodeLegs(junk)).not.toThrow();
      expect(decodeLegs(junk).length).toBeLessThanOrEqual(MAX_LEGS);
    }
    const many = Array.from({ length: 20 }, (_, i): CallLeg => ({ routeKind: 'pstn', endpoint: `trunk-${i}`, number: '1' }));
    expect(decodeLegs(encodeLegs(many))).toHaveLength(MAX_LEGS);
    // A field with a character MSet would split on drops that leg, not the list.
    expect(decodeLegs(encodeLegs([{ routeKind: 'local', endpoint: 'a,b', number: '1' }, many[0] as CallLeg]))).toEqual([many[0]]);
  });

  it('a call\'s book: the plan\'s legs written first, a flow\'s legs added later only grow the list, and long lists stay within one AGI line', () => {
    const site: CallLeg = { routeKind: 'site', endpoint: 'site-piter', number: '301', targetSiteId: 'piter' };
    const phone: CallLeg = { routeKind: 'local', endpoint: '101', number: '101', targetSiteId: 'moscow' };
    // A leg the plan repeats is written once.
    expect(new CallLegBook([site, phone, { ...site }, phone]).encoded).toBe(encodeLegs([site, phone]));
    const book = new CallLegBook([site]);
    expect(book.encoded).toBe('site/site-piter/301/piter/');
    expect(book.takeUpdate()).toBeUndefined();
    book.add(phone);
    book.add(site);
    const grown = book.takeUpdate();
    expect(decodeLegs(grown ?? '')).toEqual([site, phone]);
    expect(book.takeUpdate()).toBeUndefined();
    book.add({ ...phone });
    expect(book.takeUpdate()).toBeUndefined();
    const wide = new CallLegBook(Array.from({ length: 40 }, (_, i): CallLeg => ({ routeKind: 'teho', endpoint: `trunk-a-long-trunk-name-${i}`, number: '+7812555123456', targetSiteId: 'some-site', trunkId: 't-a-long-trunk-id' })));
    expect(wide.encoded.length).toBeLessThanOrEqual(1024);
    expect(decodeLegs(wide.encoded).length).toBeGreaterThan(8);
  });
});
