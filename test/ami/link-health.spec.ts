// AMI status -> RoutingState -> route resolution, through the faithful AMI peer: the agent of `moscow` (founding
// scenario) follows its links and trunk, and an Unreachable link sends the next inter-site call to the alternate
// route. Also: registrations, CDRs with the agent's tags, and the least-privilege AMI user of deploy/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CdrEvent } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, resolveRoute } from '@fedpbx/dialplan';
import { generateSigningKey, signSnapshot } from '@fedpbx/signing';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AmiClient } from '../../apps/agent/src/ami/ami-client.js';
import { AsteriskStatus, type LinkStatus, type TrunkStatus } from '../../apps/agent/src/ami/asterisk-status.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { RoutingState } from '../../apps/agent/src/state/routing-state.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { AmiPeer, formatMessage, type AmiClass, type AmiPeerUser } from '../support/asterisk/ami-peer.js';

const REPO = join(import.meta.dirname, '..', '..');
const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The AMI user of deploy/asterisk/manager_fedpbx.conf, read from the file itself. */
function deployedAmiUser(): { name: string; user: AmiPeerUser } {
  const text = readFileSync(join(REPO, 'deploy', 'asterisk', 'manager_fedpbx.conf'), 'utf8');
  const name = /^\[([a-z0-9_-]+)\]/m.exec(text)![1]!;
  const classes = (key: string): AmiClass[] => new RegExp(`^${key}\\s*=\\s*(.+)$`, 'm').exec(text)![1]!.split(',').map((c) => c.trim() as AmiClass);
  return { name, user: { secret: 'test-ami-secret', read: classes('read'), write: classes('write') } };
}


async function moscowAgent() {
  const { name, user } = deployedAmiUser();
  const peer = await AmiPeer.start({ users: { [name]: user } });
  peer.pjsip = moscowPjsip();
  const state = new RoutingState();
  state.apply(signSnapshot(buildSiteConfig(foundingScenario(), 'moscow'), 7, generateSigningKey('controller-1'), new Date('2026-11-26T09:00:00Z')));
  const client = new AmiClient({ host: '127.0.0.1', port: peer.port, username: name, secret: user.secret, log: silent, keepaliveMs: 0, backoff: { initialMs: 20, maxMs: 100, jitter: 0 } });
  const links: LinkStatus[] = [];
  const trunks: TrunkStatus[] = [];
  const cdrs: CdrEvent[] = [];
  const metrics = new AgentMetrics(false);
  const status = new AsteriskStatus({ ami: client, state, log: silent, metrics, onLinkStatus: (e) => links.push(e), onTrunkStatus: (e) => trunks.push(e), onCdr: (e) => cdrs.push(e) });
  status.start();
  client.start();
  cleanups.push(async () => {
    status.stop();
    await client.stop();
    await peer.close();
  });
  await until(() => links.length === 2 && trunks.length === 1);
  return { peer, state, client, status, links, trunks, cdrs, metrics };
}

async function until(predicate: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const callTo301 = (state: RoutingState) => resolveRoute(state.site, { entry: 'internal', caller: '101', dialled: '301', health: state.health });

describe('link and trunk health from AMI', () => {
  it('reads endpoints, contacts and registrations on connect (with the least-privilege user of deploy/)', async () => {
    const { links, trunks, state, metrics } = await moscowAgent();
    expect(links).toEqual(
      expect.arrayContaining([
        { type: 'link.status', peerSiteId: 'piter', state: 'up', source: 'ami' },
        { type: 'link.status', peerSiteId: 'kazan', state: 'up', source: 'ami', rttMs: 2.15 },
      ]),
    );
    expect(trunks).toEqual([{ type: 'trunk.status', trunkId: 't-moscow-city', state: 'up', registration: 'Registered' }]);
    // RoutingState: absent means up.
    expect(Object.values(state.health.links).concat(Object.values(state.health.trunks))).not.toContain('down');
    expect(await metrics.registry.getSingleMetricAsString('fedpbx_link_up')).toContain('fedpbx_link_up{peer_site="piter"} 1');
  });

  it('ContactStatus Unreachable: the next call to piter takes the alternate route; Reachable brings it back', async () => {
    const { peer, state, links } = await moscowAgent();
    const before = callTo301(state);
    expect(before.attempts[0]).toMatchObject({ kind: 'site', siteId: 'piter' });

    // The recorded sequence (ami-09-events-contactstatus.json) with moscow's names.
    peer.event('PeerStatus', [['ChannelType', 'PJSIP'], ['Peer', 'PJSIP/site-piter'], ['PeerStatus', 'Unreachable']]);
    peer.event('ContactStatus', [['URI', 'sip:10.77.0.2:5060'], ['ContactStatus', 'Unreachable'], ['AOR', 'site-piter'], ['EndpointName', 'site-piter'], ['RoundtripUsec', '0']]);
    await until(() => state.health.links.piter === 'down');
    expect(links.at(-1)).toEqual({ type: 'link.status', peerSiteId: 'piter', state: 'down', source: 'ami' });

    const after = callTo301(state);
    expect(after.attempts.some((a) => a.kind === 'site' && a.siteId === 'piter')).toBe(false);
    expect(after.attempts[0]).toMatchObject({ kind: 'trunk', reason: 'link-down-fallback', number: '88125550301' });

    peer.event('ContactStatus', [['URI', 'sip:10.77.0.2:5060'], ['ContactStatus', 'Reachable'], ['AOR', 'site-piter'], ['EndpointName', 'site-piter'], ['RoundtripUsec', '1024']]);
    await until(() => state.health.links.piter !== 'down');
    expect(callTo301(state).attempts[0]).toMatchObject({ kind: 'site', siteId: 'piter' });
    expect(links.at(-1)).toMatchObject({ peerSiteId: 'piter', state: 'up', rttMs: 1.02 });
  });

  it('a ContactStatus event that arrives while the lists are being re-read is not overwritten by them', async () => {
    const { peer, state, status } = await moscowAgent();
    // The contacts list (Reachable) is in; the registrations list is held back while the link goes down.
    peer.handle('PJSIPShowRegistrationsOutbound', async (ctx) => {
      peer.event('ContactStatus', [['URI', 'sip:10.77.0.2:5060'], ['ContactStatus', 'Unreachable'], ['AOR', 'site-piter'], ['EndpointName', 'site-piter'], ['RoundtripUsec', '0']]);
      await new Promise((r) => setTimeout(r, 50));
      ctx.fallthrough();
    });
    await status.resync();
    expect(state.health.links.piter).toBe('down');
  });

  it('registrar side: the last contact removed (un-registered, or a mode switch) leaves the link unknown and tried, not down', async () => {
    // Issue #15 §3: a mode switch removed the contact and the link counted as down for 2-25 s although it worked.
    // A Dial to an endpoint without a contact fails at once (res_pjsip_session.c), so trying it costs nothing.
    const { peer, state, links } = await moscowAgent();
    peer.event('ContactStatus', [['URI', 'sip:site-moscow@10.77.0.3:5060'], ['ContactStatus', 'Removed'], ['AOR', 'site-kazan'], ['EndpointName', 'site-kazan'], ['RoundtripUsec', '0']]);
    peer.event('PeerStatus', [['ChannelType', 'PJSIP'], ['Peer', 'PJSIP/site-kazan'], ['PeerStatus', 'Unreachable']]);
    await until(() => links.at(-1)?.peerSiteId === 'kazan' && links.at(-1)?.state === 'unknown');
    expect(state.health.links.kazan).not.toBe('down');
    peer.event('ContactStatus', [['URI', 'sip:site-moscow@10.77.0.3:5060'], ['ContactStatus', 'Created'], ['AOR', 'site-kazan'], ['EndpointName', 'site-kazan'], ['RoundtripUsec', '0']]);
    peer.event('ContactStatus', [['URI', 'sip:site-moscow@10.77.0.3:5060'], ['ContactStatus', 'Unreachable'], ['AOR', 'site-kazan'], ['EndpointName', 'site-kazan'], ['RoundtripUsec', '0']]);
    await until(() => state.health.links.kazan === 'down');
    peer.event('ContactStatus', [['URI', 'sip:site-moscow@10.77.0.3:5060'], ['ContactStatus', 'Reachable'], ['AOR', 'site-kazan'], ['EndpointName', 'site-kazan'], ['RoundtripUsec', '900']]);
    await until(() => state.health.links.kazan !== 'down' && links.at(-1)?.state === 'up');
  });

  it('Registry Rejected (which names no registration) is tied to the trunk by its URIs', async () => {
    const { peer, state, trunks } = await moscowAgent();
    const registry = (status: string) =>
      peer.event('Registry', [['ChannelType', 'PJSIP'], ['Username', 'sip:fedpbx-msk@sip.msk-carrier.example:5060'], ['Domain', 'sip:sip.msk-carrier.example:5060'], ['Status', status]]);
    registry('Rejected');
    await until(() => state.health.trunks['t-moscow-city'] === 'down');
    expect(trunks.at(-1)).toEqual({ type: 'trunk.status', trunkId: 't-moscow-city', state: 'down', registration: 'Rejected' });
    registry('Registered');
    await until(() => state.health.trunks['t-moscow-city'] !== 'down');
  });

  it('ignores the admin’s own endpoints and events of other channel types', async () => {
    const { peer, state, links } = await moscowAgent();
    const n = links.length;
    peer.event('PeerStatus', [['ChannelType', 'PJSIP'], ['Peer', 'PJSIP/101'], ['PeerStatus', 'Unreachable']]);
    peer.event('ContactStatus', [['URI', 'sip:x'], ['ContactStatus', 'Unreachable'], ['AOR', 'site-nowhere'], ['EndpointName', 'site-nowhere'], ['RoundtripUsec', '0']]);
    peer.event('Ping', []); // any event: a barrier
    await new Promise((r) => setTimeout(r, 100));
    expect(links.length).toBe(n);
    expect(Object.values(state.health.links)).not.toContain('down');
  });

  it('an endpoint of the snapshot that Asterisk has not loaded counts as down', async () => {
    const { name, user } = deployedAmiUser();
    const peer = await AmiPeer.start({ users: { [name]: user } });
    peer.pjsip = { ...moscowPjsip(), endpoints: moscowPjsip().endpoints.filter((e) => e.name !== 'site-piter') };
    const state = new RoutingState();
    state.apply(signSnapshot(buildSiteConfig(foundingScenario(), 'moscow'), 7, generateSigningKey('k'), new Date('2026-11-26T09:00:00Z')));
    const client = new AmiClient({ host: '127.0.0.1', port: peer.port, username: name, secret: user.secret, log: silent, keepaliveMs: 0 });
    const status = new AsteriskStatus({ ami: client, state, log: silent });
    status.start();
    client.start();
    cleanups.push(async () => {
      status.stop();
      await client.stop();
      await peer.close();
    });
    await until(() => state.health.links.piter === 'down');
    await new Promise((r) => setTimeout(r, 50));
    expect(state.health.links.kazan ?? 'up').toBe('up');
  });

  it('turns Cdr events with the agent’s tags into CdrEvents, whether Hangup comes before or after', async () => {
    const { peer, cdrs } = await moscowAgent();
    const cdr = (uniqueId: string, seq: string): [string, string][] => [
      ['AccountCode', ''],
      ['Source', '101'],
      ['Destination', '301'],
      ['DestinationContext', 'fedpbx-internal'],
      ['CallerID', '"Ivan \\\\\\"The\\\\\\" Petrov, Jr; x\\\\\\\\y" <101>'],
      ['Channel', 'PJSIP/101-0000000c'],
      ['DestinationChannel', 'PJSIP/site-piter-0000000d'],
      ['LastApplication', 'Dial'],
      ['LastData', 'PJSIP/301@site-piter,30'],
      ['StartTime', '2026-11-26 12:28:27'],
      ['AnswerTime', '2026-11-26 12:28:29'],
      ['EndTime', '2026-11-26 12:29:29'],
      ['Duration', '62'],
      ['BillableSeconds', '60'],
      ['Disposition', 'ANSWERED'],
      ['AMAFlags', 'DOCUMENTATION'],
      ['UniqueID', uniqueId],
      ['UserField', ''],
      ['FEDPBX_ROUTE', 'site'],
      ['FEDPBX_ORIGIN', 'moscow'],
      ['FEDPBX_TARGET', 'piter'],
      ['FEDPBX_TRUNK', ''],
      ['FEDPBX_REVISION', '7'],
      ['FEDPBX_REC_FILE', '20261126-122827_101_301_moscow.wav'],
      ['LinkedID', 'moscow-1795696107.36'],
      ['Sequence', seq],
    ];
    const hangup = formatMessage([['Event', 'Hangup'], ['Privilege', 'call,all'], ['Channel', 'PJSIP/101-0000000c'], ['Uniqueid', 'moscow-1795696107.36'], ['Cause', '16']]);
    peer.event('Cdr', cdr('moscow-1795696107.36', '3'));
    peer.sendRaw(hangup);
    peer.sendRaw(hangup);
    peer.event('Cdr', cdr('moscow-1795696200.40', '4'));
    await until(() => cdrs.length === 2);
    expect(cdrs[0]).toEqual({
      type: 'cdr',
      cdrId: 'moscow-1795696107.36:3',
      uniqueId: 'moscow-1795696107.36',
      linkedId: 'moscow-1795696107.36',
      start: new Date(2026, 10, 26, 12, 28, 27).toISOString(),
      answer: new Date(2026, 10, 26, 12, 28, 29).toISOString(),
      end: new Date(2026, 10, 26, 12, 29, 29).toISOString(),
      durationSec: 62,
      billSec: 60,
      src: '101',
      dst: '301',
      disposition: 'ANSWERED',
      routeKind: 'site',
      targetSiteId: 'piter',
      originSiteId: 'moscow',
      snapshotRevision: 7,
      recordingFile: '20261126-122827_101_301_moscow.wav',
    });
  });

  it('maps the recorded Asterisk 22 call (Cdr before Hangup, escaped caller ID) without route tags', async () => {
    const { peer, cdrs } = await moscowAgent();
    peer.replayEvents('ami-09-events-call-cdr.json');
    await until(() => cdrs.length === 1);
    expect(cdrs[0]).toMatchObject({ cdrId: 'site1-1795696107.36:0', uniqueId: 'site1-1795696107.36', linkedId: 'site1-1795696107.36', src: '1001', dst: 'call-events', disposition: 'ANSWERED', durationSec: 1, billSec: 1 });
    expect(cdrs[0]).not.toHaveProperty('routeKind');
  });
});
