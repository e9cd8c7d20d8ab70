import { describe, expect, it } from 'vitest';
import { Federation, type FederationInput } from '@fedpbx/contracts';
import { foundingScenario, foundingScenarioInput } from '../scenario/founding-scenario.js';
import { buildSiteConfig } from '../snapshot/site-view.js';
import { validateFederation } from '../validation/federation-validator.js';
import { formatSurvivabilityReport, patternSamples, survivabilityChanges, survivabilityReport } from './survivability-report.js';

const reportOf = (fed: Federation, siteId: string) => survivabilityReport(buildSiteConfig(fed, siteId), 7);
const text = (fed: Federation, siteId: string) => formatSurvivabilityReport(reportOf(fed, siteId)).trimEnd().split('\n');
/** The report's lines without the rows that work as usual (or never did): red flags and degraded rows. */
const flagsOnly = (lines: string[]) => lines.filter((l) => !l.startsWith('   ') || l.startsWith('   RED FLAG') || l.startsWith('   degraded'));

describe('survivability report of the founding scenario', () => {
  // The expected tables: what each office keeps when the centre, a link, all links, a trunk or the agent fails.
  it('moscow: every scenario, every row, with its path and reason', () => {
    expect(text(foundingScenario(), 'moscow')).toEqual([
      "moscow at revision 7: 18 red flag(s)",
      "",
      "== Centre / NATS down: 0 red flag(s)",
      "   assumes: the controller and the message bus are unreachable; the agent routes from its last signed snapshot; links and trunks up",
      "   degraded      cdrs      call records -> kept in the agent's outbox: kept locally and delivered exactly once when the bus is back",
      "   works         emergency emergency 112 -> trunk moscow-city: emergency calls leave through the site's own emergency trunks, whatever the class of service",
      "   works         numbers   own 100-111 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   own 113-299 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   kazan 6100-6111 -> direct over the link to kazan: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         numbers   kazan 6113-6299 -> direct over the link to kazan: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         numbers   piter 300-499 -> direct over the link to piter: over the link; if it fails, PSTN 88125550300 via trunk moscow-city",
      "   works         outbound  International (international) -> trunk moscow-city: 81000000000 leaves through trunk moscow-city",
      "   works         outbound  Moscow city (local) -> trunk moscow-city: 2000000 leaves through trunk moscow-city",
      "   works         outbound  Russia from Moscow (national) -> trunk moscow-city: 83000000000 leaves through trunk moscow-city",
      "   works         outbound  Premium rate (premium) -> trunk moscow-city: 88090000000 leaves through trunk moscow-city",
      "   works         outbound  St Petersburg city via piter (national) -> trunk piter-city at piter (over the link to piter; tail-end hop-off): 88120000000 leaves through trunk piter-city at piter",
      "   works         inbound   DID _749555501XX -> phone 101: rings the phone here",
      "   works         inbound   DID 74955550100 -> call flow Moscow reception: the agent runs the call flow",
      "   works         call-flow Moscow reception -> 101: phone 101; 102: phone 102; 301: direct over the link to piter: every number it rings is reachable",
      "   works         presence  busy lamps -> local lamps: local lamps keep working (Asterisk's own hints); no lamp here shows another site",
      "",
      "== Link to kazan down: 2 red flag(s)",
      "   assumes: the inter-site link between moscow and kazan is down; everything else up",
      "   RED FLAG      numbers   kazan 6100-6111 -> -: kazan is unreachable: link down and no PSTN fallback",
      "   RED FLAG      numbers   kazan 6113-6299 -> -: kazan is unreachable: link down and no PSTN fallback",
      "   works         emergency emergency 112 -> trunk moscow-city: emergency calls leave through the site's own emergency trunks, whatever the class of service",
      "   works         numbers   own 100-111 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   own 113-299 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   piter 300-499 -> direct over the link to piter: over the link; if it fails, PSTN 88125550300 via trunk moscow-city",
      "   works         outbound  International (international) -> trunk moscow-city: 81000000000 leaves through trunk moscow-city",
      "   works         outbound  Moscow city (local) -> trunk moscow-city: 2000000 leaves through trunk moscow-city",
      "   works         outbound  Russia from Moscow (national) -> trunk moscow-city: 83000000000 leaves through trunk moscow-city",
      "   works         outbound  Premium rate (premium) -> trunk moscow-city: 88090000000 leaves through trunk moscow-city",
      "   works         outbound  St Petersburg city via piter (national) -> trunk piter-city at piter (over the link to piter; tail-end hop-off): 88120000000 leaves through trunk piter-city at piter",
      "   works         inbound   DID _749555501XX -> phone 101: rings the phone here",
      "   works         inbound   DID 74955550100 -> call flow Moscow reception: the agent runs the call flow",
      "   works         call-flow Moscow reception -> 101: phone 101; 102: phone 102; 301: direct over the link to piter: every number it rings is reachable",
      "   works         cdrs      call records -> delivered to the centre: records travel over the bus, not over inter-site links or trunks",
      "   works         presence  busy lamps -> local lamps: local lamps keep working (Asterisk's own hints); no lamp here shows kazan",
      "",
      "== Link to piter down: 0 red flag(s)",
      "   assumes: the inter-site link between moscow and piter is down; everything else up",
      "   degraded      numbers   piter 300-499 -> PSTN 88125550300 via trunk moscow-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "   degraded      outbound  St Petersburg city via piter (national) -> trunk moscow-city: 88120000000 leaves through trunk moscow-city",
      "   degraded      call-flow Moscow reception -> 101: phone 101; 102: phone 102; 301: PSTN 88125550301 via trunk moscow-city: every number it rings is reachable",
      "   works         emergency emergency 112 -> trunk moscow-city: emergency calls leave through the site's own emergency trunks, whatever the class of service",
      "   works         numbers   own 100-111 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   own 113-299 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   kazan 6100-6111 -> direct over the link to kazan: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         numbers   kazan 6113-6299 -> direct over the link to kazan: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         outbound  International (international) -> trunk moscow-city: 81000000000 leaves through trunk moscow-city",
      "   works         outbound  Moscow city (local) -> trunk moscow-city: 2000000 leaves through trunk moscow-city",
      "   works         outbound  Russia from Moscow (national) -> trunk moscow-city: 83000000000 leaves through trunk moscow-city",
      "   works         outbound  Premium rate (premium) -> trunk moscow-city: 88090000000 leaves through trunk moscow-city",
      "   works         inbound   DID _749555501XX -> phone 101: rings the phone here",
      "   works         inbound   DID 74955550100 -> call flow Moscow reception: the agent runs the call flow",
      "   works         cdrs      call records -> delivered to the centre: records travel over the bus, not over inter-site links or trunks",
      "   works         presence  busy lamps -> local lamps: local lamps keep working (Asterisk's own hints); no lamp here shows piter",
      "",
      "== All links down (WAN): 2 red flag(s)",
      "   assumes: every inter-site link of moscow is down; its own trunks up (a carrier access of their own)",
      "   RED FLAG      numbers   kazan 6100-6111 -> -: kazan is unreachable: link down and no PSTN fallback",
      "   RED FLAG      numbers   kazan 6113-6299 -> -: kazan is unreachable: link down and no PSTN fallback",
      "   degraded      numbers   piter 300-499 -> PSTN 88125550300 via trunk moscow-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "   degraded      outbound  St Petersburg city via piter (national) -> trunk moscow-city: 88120000000 leaves through trunk moscow-city",
      "   degraded      call-flow Moscow reception -> 101: phone 101; 102: phone 102; 301: PSTN 88125550301 via trunk moscow-city: every number it rings is reachable",
      "   works         emergency emergency 112 -> trunk moscow-city: emergency calls leave through the site's own emergency trunks, whatever the class of service",
      "   works         numbers   own 100-111 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   own 113-299 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         outbound  International (international) -> trunk moscow-city: 81000000000 leaves through trunk moscow-city",
      "   works         outbound  Moscow city (local) -> trunk moscow-city: 2000000 leaves through trunk moscow-city",
      "   works         outbound  Russia from Moscow (national) -> trunk moscow-city: 83000000000 leaves through trunk moscow-city",
      "   works         outbound  Premium rate (premium) -> trunk moscow-city: 88090000000 leaves through trunk moscow-city",
      "   works         inbound   DID _749555501XX -> phone 101: rings the phone here",
      "   works         inbound   DID 74955550100 -> call flow Moscow reception: the agent runs the call flow",
      "   works         cdrs      call records -> delivered to the centre: records travel over the bus, not over inter-site links or trunks",
      "   works         presence  busy lamps -> local lamps: local lamps keep working (Asterisk's own hints); no lamp here shows another site",
      "",
      "== Trunk moscow-city down: 7 red flag(s)",
      "   assumes: trunk moscow-city is down; links and other trunks up",
      "   RED FLAG      emergency emergency 112 -> -: every emergency trunk (moscow-city) is down (still tried, last)",
      "   RED FLAG      outbound  International (international) -> -: 81000000000: every trunk of route \"International\" is unavailable",
      "   RED FLAG      outbound  Moscow city (local) -> -: 2000000: every trunk of route \"Moscow city\" is unavailable",
      "   RED FLAG      outbound  Russia from Moscow (national) -> -: 83000000000: every trunk of route \"Russia from Moscow\" is unavailable",
      "   RED FLAG      outbound  Premium rate (premium) -> -: 88090000000: every trunk of route \"Premium rate\" is unavailable",
      "   RED FLAG      inbound   DID _749555501XX -> -: every trunk of moscow is down: no call comes in",
      "   RED FLAG      inbound   DID 74955550100 -> -: every trunk of moscow is down: no call comes in",
      "   works         numbers   own 100-111 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   own 113-299 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   kazan 6100-6111 -> direct over the link to kazan: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         numbers   kazan 6113-6299 -> direct over the link to kazan: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         numbers   piter 300-499 -> direct over the link to piter: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         outbound  St Petersburg city via piter (national) -> trunk piter-city at piter (over the link to piter; tail-end hop-off): 88120000000 leaves through trunk piter-city at piter",
      "   works         call-flow Moscow reception -> 101: phone 101; 102: phone 102; 301: direct over the link to piter: every number it rings is reachable",
      "   works         cdrs      call records -> delivered to the centre: records travel over the bus, not over inter-site links or trunks",
      "   works         presence  busy lamps -> local lamps: presence does not use trunks",
      "",
      "== Trunk piter-city at piter down: 0 red flag(s)",
      "   assumes: trunk piter-city (piter's, used for tail-end hop-off) is down; links and other trunks up",
      "   degraded      outbound  St Petersburg city via piter (national) -> trunk moscow-city: 88120000000 leaves through trunk moscow-city",
      "   works         emergency emergency 112 -> trunk moscow-city: emergency calls leave through the site's own emergency trunks, whatever the class of service",
      "   works         numbers   own 100-111 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   own 113-299 -> own phones: this site's own phones ring directly, whatever else fails",
      "   works         numbers   kazan 6100-6111 -> direct over the link to kazan: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         numbers   kazan 6113-6299 -> direct over the link to kazan: over the link; no PSTN fallback (no DID, no route, or its trunks are down)",
      "   works         numbers   piter 300-499 -> direct over the link to piter: over the link; if it fails, PSTN 88125550300 via trunk moscow-city",
      "   works         outbound  International (international) -> trunk moscow-city: 81000000000 leaves through trunk moscow-city",
      "   works         outbound  Moscow city (local) -> trunk moscow-city: 2000000 leaves through trunk moscow-city",
      "   works         outbound  Russia from Moscow (national) -> trunk moscow-city: 83000000000 leaves through trunk moscow-city",
      "   works         outbound  Premium rate (premium) -> trunk moscow-city: 88090000000 leaves through trunk moscow-city",
      "   works         inbound   DID _749555501XX -> phone 101: rings the phone here",
      "   works         inbound   DID 74955550100 -> call flow Moscow reception: the agent runs the call flow",
      "   works         call-flow Moscow reception -> 101: phone 101; 102: phone 102; 301: direct over the link to piter: every number it rings is reachable",
      "   works         cdrs      call records -> delivered to the centre: records travel over the bus, not over inter-site links or trunks",
      "   works         presence  busy lamps -> local lamps: presence does not use trunks",
      "",
      "== Agent down (fallback dialplan only): 7 red flag(s)",
      "   assumes: the fedpbx agent does not answer; Asterisk runs the generated fallback dialplan; links and trunks up",
      "   RED FLAG      outbound  International (international) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  Moscow city (local) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  Russia from Moscow (national) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  Premium rate (premium) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  St Petersburg city via piter (national) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      inbound   DID 74955550100 -> -: call flows run in the agent: the fallback dialplan refuses calls to them",
      "   RED FLAG      call-flow Moscow reception -> -: call flows run in the agent: the fallback dialplan refuses their number and their DIDs",
      "   degraded      emergency emergency 112 -> fallback dialplan: trunk moscow-city: the emergency number is a literal extension of the fallback dialplan: it dials the site's emergency trunks without the agent",
      "   degraded      numbers   own 100-111 -> own phones (fallback dialplan): this site's own phones ring directly, whatever else fails",
      "   degraded      numbers   own 113-299 -> own phones (fallback dialplan): this site's own phones ring directly, whatever else fails",
      "   degraded      cdrs      call records -> Asterisk's CDR file: Asterisk keeps writing its cdr_custom file; the agent reads it when it starts again and delivers them",
      "   degraded      presence  busy lamps -> local lamps: local lamps keep working (Asterisk's own hints); other sites see moscow's lamps as UNAVAILABLE",
      "   works         numbers   kazan 6100-6111 -> direct over the link to kazan: the fallback dialplan dials other sites over their links, as the agent would with every link up",
      "   works         numbers   kazan 6113-6299 -> direct over the link to kazan: the fallback dialplan dials other sites over their links, as the agent would with every link up",
      "   works         numbers   piter 300-499 -> direct over the link to piter: the fallback dialplan dials other sites over their links, as the agent would with every link up",
      "   works         inbound   DID _749555501XX -> phone 101: the fallback dialplan dials other sites over their links, as the agent would with every link up",
    ]);
  });

  it('piter: red flags and degraded rows per scenario', () => {
    expect(flagsOnly(text(foundingScenario(), 'piter'))).toEqual([
      "piter at revision 7: 18 red flag(s)",
      "",
      "== Centre / NATS down: 0 red flag(s)",
      "   degraded      cdrs      call records -> kept in the agent's outbox: kept locally and delivered exactly once when the bus is back",
      "",
      "== Link to kazan down: 2 red flag(s)",
      "   RED FLAG      numbers   kazan 6100-6111 -> -: kazan is unreachable: link down and no PSTN fallback",
      "   RED FLAG      numbers   kazan 6113-6299 -> -: kazan is unreachable: link down and no PSTN fallback",
      "",
      "== Link to moscow down: 2 red flag(s)",
      "   RED FLAG      outbound  International (international) -> -: 81000000000: every trunk of route \"International\" is unavailable",
      "   RED FLAG      outbound  Premium rate (premium) -> -: 88090000000: every trunk of route \"Premium rate\" is unavailable",
      "   degraded      numbers   moscow 100-111 -> PSTN 84955550100 via trunk piter-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "   degraded      numbers   moscow 113-299 -> PSTN 84955550113 via trunk piter-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "",
      "== All links down (WAN): 4 red flag(s)",
      "   RED FLAG      numbers   kazan 6100-6111 -> -: kazan is unreachable: link down and no PSTN fallback",
      "   RED FLAG      numbers   kazan 6113-6299 -> -: kazan is unreachable: link down and no PSTN fallback",
      "   RED FLAG      outbound  International (international) -> -: 81000000000: every trunk of route \"International\" is unavailable",
      "   RED FLAG      outbound  Premium rate (premium) -> -: 88090000000: every trunk of route \"Premium rate\" is unavailable",
      "   degraded      numbers   moscow 100-111 -> PSTN 84955550100 via trunk piter-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "   degraded      numbers   moscow 113-299 -> PSTN 84955550113 via trunk piter-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "",
      "== Trunk piter-city down: 4 red flag(s)",
      "   RED FLAG      emergency emergency 112 -> -: every emergency trunk (piter-city) is down (still tried, last)",
      "   RED FLAG      outbound  St Petersburg city (local) -> -: 2000000: every trunk of route \"St Petersburg city\" is unavailable",
      "   RED FLAG      inbound   DID _7812555030X -> -: every trunk of piter is down: no call comes in",
      "   RED FLAG      inbound   DID 78125550300 -> -: every trunk of piter is down: no call comes in",
      "   degraded      outbound  Russia from St Petersburg (national) -> trunk moscow-city at moscow (over the link to moscow; tail-end hop-off): 83000000000 leaves through trunk moscow-city at moscow",
      "",
      "== Trunk moscow-city at moscow down: 2 red flag(s)",
      "   RED FLAG      outbound  International (international) -> -: 81000000000: every trunk of route \"International\" is unavailable",
      "   RED FLAG      outbound  Premium rate (premium) -> -: 88090000000: every trunk of route \"Premium rate\" is unavailable",
      "",
      "== Agent down (fallback dialplan only): 4 red flag(s)",
      "   RED FLAG      outbound  International (international) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  Premium rate (premium) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  St Petersburg city (local) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  Russia from St Petersburg (national) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   degraded      emergency emergency 112 -> fallback dialplan: trunk piter-city: the emergency number is a literal extension of the fallback dialplan: it dials the site's emergency trunks without the agent",
      "   degraded      numbers   own 300-499 -> own phones (fallback dialplan): this site's own phones ring directly, whatever else fails",
      "   degraded      cdrs      call records -> Asterisk's CDR file: Asterisk keeps writing its cdr_custom file; the agent reads it when it starts again and delivers them",
      "   degraded      presence  busy lamps -> local lamps: local lamps keep working (Asterisk's own hints); other sites see piter's lamps as UNAVAILABLE",
    ]);
  });

  it('kazan: red flags and degraded rows per scenario', () => {
    expect(flagsOnly(text(foundingScenario(), 'kazan'))).toEqual([
      "kazan at revision 7: 7 red flag(s)",
      "",
      "== Centre / NATS down: 0 red flag(s)",
      "   degraded      cdrs      call records -> kept in the agent's outbox: kept locally and delivered exactly once when the bus is back",
      "",
      "== Link to moscow down: 0 red flag(s)",
      "   degraded      numbers   moscow 5100-5111 -> PSTN 84955550100 via trunk kazan-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "   degraded      numbers   moscow 5113-5299 -> PSTN 84955550113 via trunk kazan-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "",
      "== Link to piter down: 0 red flag(s)",
      "   degraded      numbers   piter 300-499 -> PSTN 88125550300 via trunk moscow-city at moscow: the link is down or missing: the agent calls the number's PSTN DID instead",
      "   degraded      outbound  St Petersburg city via piter (national) -> trunk moscow-city at moscow (over the link to moscow; tail-end hop-off): 88120000000 leaves through trunk moscow-city at moscow",
      "",
      "== All links down (WAN): 2 red flag(s)",
      "   RED FLAG      numbers   piter 300-499 -> -: piter is unreachable: link down and no PSTN fallback",
      "   RED FLAG      outbound  St Petersburg city via piter (national) -> -: 88120000000: every trunk of route \"St Petersburg city via piter\" is unavailable",
      "   degraded      numbers   moscow 5100-5111 -> PSTN 84955550100 via trunk kazan-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "   degraded      numbers   moscow 5113-5299 -> PSTN 84955550113 via trunk kazan-city: the link is down or missing: the agent calls the number's PSTN DID instead",
      "",
      "== Trunk kazan-city down: 2 red flag(s)",
      "   RED FLAG      emergency emergency 112 -> -: every emergency trunk (kazan-city) is down (still tried, last)",
      "   RED FLAG      outbound  Kazan city (local) -> -: 2000000: every trunk of route \"Kazan city\" is unavailable",
      "   degraded      outbound  Russia from Kazan (national) -> trunk moscow-city at moscow (over the link to moscow; tail-end hop-off): 83000000000 leaves through trunk moscow-city at moscow",
      "",
      "== Trunk moscow-city at moscow down: 0 red flag(s)",
      "",
      "== Trunk piter-city at piter down: 0 red flag(s)",
      "   degraded      outbound  St Petersburg city via piter (national) -> trunk moscow-city at moscow (over the link to moscow; tail-end hop-off): 88120000000 leaves through trunk moscow-city at moscow",
      "",
      "== Agent down (fallback dialplan only): 3 red flag(s)",
      "   RED FLAG      outbound  Kazan city (local) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  Russia from Kazan (national) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   RED FLAG      outbound  St Petersburg city via piter (national) -> -: the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)",
      "   degraded      emergency emergency 112 -> fallback dialplan: trunk kazan-city: the emergency number is a literal extension of the fallback dialplan: it dials the site's emergency trunks without the agent",
      "   degraded      numbers   own 100-111 -> own phones (fallback dialplan): this site's own phones ring directly, whatever else fails",
      "   degraded      numbers   own 113-299 -> own phones (fallback dialplan): this site's own phones ring directly, whatever else fails",
      "   degraded      cdrs      call records -> Asterisk's CDR file: Asterisk keeps writing its cdr_custom file; the agent reads it when it starts again and delivers them",
      "   degraded      presence  busy lamps -> local lamps: local lamps keep working (Asterisk's own hints); other sites see kazan's lamps as UNAVAILABLE",
    ]);
  });
});

/** The founding scenario with a change made to its input. */
function changed(edit: (input: FederationInput) => void): Federation {
  const input = foundingScenarioInput();
  edit(input);
  return Federation.parse(input);
}

describe('survivability report', () => {
  it('flags emergency calls that depend on another site: a trunk pointing at that site\'s PBX fails with the link', () => {
    // kazan's only emergency trunk goes to moscow's PBX over the tunnel.
    const fed = changed((f) => {
      const trunk = f.trunks?.find((t) => t.id === 't-kazan-city');
      if (trunk !== undefined) trunk.host = '10.77.0.1';
    });
    const report = reportOf(fed, 'kazan');
    const emergency = (scenarioId: string) => report.scenarios.find((s) => s.id === scenarioId)?.rows.find((r) => r.area === 'emergency');
    expect(emergency('link-down:moscow')).toMatchObject({ status: 'red-flag', reason: expect.stringContaining('point at moscow, which is unreachable') });
    expect(emergency('link-down:piter')?.status).toBe('works');
    expect(emergency('all-links-down')?.status).toBe('red-flag');
    expect(validateFederation(fed).warnings.filter((w) => w.code === 'emergency-depends-on-site').map((w) => w.objects)).toEqual([
      [{ type: 'site', id: 'kazan' }, { type: 'trunk', id: 't-kazan-city', siteId: 'kazan' }, { type: 'site', id: 'moscow' }],
    ]);
  });

  it('says what a pending change changes: red flags it adds come first', () => {
    const before = reportOf(foundingScenario(), 'moscow');
    // Without the St Petersburg DIDs, moscow can no longer reach piter's phones when the link is down.
    const after = reportOf(changed((f) => {
      const range = f.numberRanges?.find((r) => r.id === 'r-piter');
      if (range !== undefined) delete range.pstnPrefix;
      const piter = f.sites.find((s) => s.id === 'piter');
      if (piter !== undefined) delete piter.mainNumber;
    }), 'moscow');
    const changes = survivabilityChanges(before, after);
    expect(changes[0]).toMatchObject({ siteId: 'moscow', scenarioId: 'link-down:piter', area: 'numbers', subject: 'piter 300-499', before: { status: 'degraded' }, after: { status: 'red-flag' } });
    expect(changes.filter((c) => c.after?.status === 'red-flag').map((c) => `${c.scenarioId} ${c.area} ${c.subject}`)).toEqual([
      'link-down:piter numbers piter 300-499',
      'link-down:piter call-flow Moscow reception',
      'all-links-down numbers piter 300-499',
      'all-links-down call-flow Moscow reception',
    ]);
    expect(survivabilityChanges(before, before)).toEqual([]);
  });

  it('a call flow that rings only another site is lost with the link, and validation warns about it', () => {
    const fed = changed((f) => {
      f.callFlows?.push({ id: 'f-spb-desk', siteId: 'moscow', name: 'St Petersburg desk', number: '250', entry: 'd', nodes: [{ id: 'd', type: 'dial-extension', number: '301' }] });
    });
    const row = reportOf(fed, 'moscow').scenarios.find((s) => s.id === 'link-down:piter')?.rows.find((r) => r.flowId === 'f-spb-desk');
    expect(row).toMatchObject({ status: 'degraded', path: '301: PSTN 88125550301 via trunk moscow-city' });
    expect(validateFederation(fed).warnings.filter((w) => w.code === 'flow-only-remote-targets').map((w) => w.message)).toEqual([
      'call flow "St Petersburg desk" at moscow rings only numbers of piter (301): without the link it reaches no one at moscow',
    ]);
  });

  it('presence: the lamps of other sites a site shows go UNAVAILABLE with the bus or their link; local lamps keep working', () => {
    const fed = changed((f) => {
      const moscow = f.sites.find((s) => s.id === 'moscow');
      if (moscow !== undefined) moscow.presence = { remoteHints: 'all' };
    });
    const presence = (scenarioId: string) => reportOf(fed, 'moscow').scenarios.find((s) => s.id === scenarioId)?.rows.find((r) => r.area === 'presence');
    expect(presence('centre-down')).toMatchObject({ status: 'degraded', path: 'local lamps; kazan\'s 2, piter\'s 2 remote lamps UNAVAILABLE' });
    expect(presence('link-down:piter')).toMatchObject({ status: 'degraded', path: 'local lamps; piter\'s 2 remote lamps UNAVAILABLE' });
    expect(presence('trunk-down:t-moscow-city')).toMatchObject({ status: 'works', path: 'local and remote lamps' });
    expect(presence('agent-down')?.reason).toContain('its 4 lamps of other sites stop updating');
    // Without remote hints (the founding scenario), a link going down changes no lamp here.
    expect(reportOf(foundingScenario(), 'moscow').scenarios.find((s) => s.id === 'link-down:piter')?.rows.find((r) => r.area === 'presence')?.status).toBe('works');
  });

  it('samples the numbers a pattern matches', () => {
    expect(patternSamples('_8[3-9]XXXXXXXXX')).toEqual(['83000000000', '89999999999', '83000000009']);
    expect(patternSamples('_810X.')).toEqual(['81000000000', '81090000000']);
    expect(patternSamples('112')).toEqual(['112']);
  });
});
