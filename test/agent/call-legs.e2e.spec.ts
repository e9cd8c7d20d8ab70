// #16 §2: each leg's CDR carries its own decision, the origin is carried across the link, a colleague's caller ID
// is dialable back. Real agent processes (moscow, piter, kazan; and piter of a federation where moscow's range is
// private behind prefix 5) driven by the faithful FastAGI peer, whose CDR chain behaves as main/cdr.c; each CDR it
// dispatches goes through the deployed cdr_manager mappings and the agent's own CDR mapper.
import { AmiHeaders } from '@fedpbx/asterisk';
import { Federation, type CdrEvent } from '@fedpbx/contracts';
import { foundingScenarioInput } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapCdr } from '../../apps/agent/src/ami/cdr-mapper.js';
import { parseCdrFileRecords } from '../../apps/agent/src/cdr/cdr-file-parser.js';
import { cdrFromFileRecord } from '../../apps/agent/src/cdr/cdr-record.js';
import { CdrCustomWriter } from '../support/asterisk/cdr-custom-writer.js';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { cdrEventFromPeer } from '../support/asterisk/cdr-event.js';
import { placeCall, type CallRecord, type DialScript, type PlaceCallOptions } from '../support/asterisk/fastagi-peer.js';
import { TestController } from '../support/signed-snapshots.js';

const controller = new TestController();
const agents: Record<string, AgentProcess> = {};

function federation(privateMoscow: boolean): Federation {
  const input = foundingScenarioInput();
  if (privateMoscow) {
    // moscow's range behind its prefix 5 only (as if it overlapped someone): piter reaches it as 5 + number.
    const moscow = input.sites.find((s) => s.id === 'moscow');
    if (moscow === undefined) throw new Error('no moscow in the founding scenario');
    moscow.prefixRequired = true;
  }
  // Flows dialling from moscow: a DID to a ring group of a local phone and piter's 301, and a DID to a dial step
  // to piter's 301 (which fails over to the PSTN when the link fails, as a phone's call would).
  input.callFlows.push(
    {
      id: 'f-msk-group',
      siteId: 'moscow',
      name: 'Moscow group',
      entry: 'group',
      nodes: [
        { id: 'group', type: 'ring-group', members: ['101', '301'], strategy: 'ringall', timeoutSec: 20, next: { noanswer: 'bye', busy: 'bye', unavailable: 'bye' } },
        { id: 'bye', type: 'hangup' },
      ],
    },
    {
      id: 'f-msk-spb',
      siteId: 'moscow',
      name: 'Moscow to St Petersburg',
      entry: 'spb',
      nodes: [
        { id: 'spb', type: 'dial-extension', number: '301', timeoutSec: 20, next: { noanswer: 'bye', busy: 'bye', unavailable: 'bye' } },
        { id: 'bye', type: 'hangup' },
      ],
    },
  );
  input.inboundRoutes.push(
    { id: 'ir-msk-group', siteId: 'moscow', did: '74955550177', destination: { type: 'flow', flowId: 'f-msk-group' } },
    { id: 'ir-msk-spb', siteId: 'moscow', did: '74955550178', destination: { type: 'flow', flowId: 'f-msk-spb' } },
  );
  return Federation.parse(input);
}

beforeAll(async () => {
  const fed = federation(false);
  const priv = federation(true);
  // One after the other: on a loaded machine four agents starting at once miss the start timeout.
  for (const site of ['moscow', 'piter', 'kazan']) {
    agents[site] = await startAgent({ ...controller.agentEnv(site, ''), FEDPBX_STATE_DIR: '', FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, site, 1) });
  }
  agents['piter-private'] = await startAgent({ ...controller.agentEnv('piter', ''), FEDPBX_STATE_DIR: '', FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(priv, 'piter', 2) });
}, 90_000);

afterAll(async () => {
  await Promise.all(Object.values(agents).map((a) => a.stop()));
});

const answer: DialScript = () => ({ status: 'ANSWER' });

function call(agent: string, opts: Omit<PlaceCallOptions, 'host' | 'port'>): Promise<CallRecord> {
  return placeCall({ host: '127.0.0.1', port: (agents[agent] as AgentProcess).agiPort, timeoutMs: 10_000, ...opts });
}
const phone = (num: string, uniqueid: string) => ({ callerId: { num, name: 'Ivan' }, channel: `PJSIP/${num}-0000001a`, uniqueid, script: 'internal', context: 'fedpbx-internal' });
const fromSite = (site: string, num: string, header?: string) => ({
  callerId: { num, name: 'Colleague' },
  channel: `PJSIP/site-${site}-0000002b`,
  script: 'from-sites',
  context: 'fedpbx-from-sites',
  // res_pjsip_header_funcs: PJSIP_HEADER(read,<name>) of the incoming INVITE; absent header -> empty.
  functions: { PJSIP_HEADER: (args: string) => (args.trim().toLowerCase() === 'read,x-fedpbx-call' ? (header ?? '') : undefined) },
});

/** The CDRs the call leaves, as the agent reports them (peer CDR chain -> cdr_manager mappings -> mapCdr). */
function reportedCdrs(c: CallRecord, src: string, dst: string): CdrEvent[] {
  return c.cdrs.map((rec) => {
    const fields = cdrEventFromPeer(rec, { src, dst });
    const mapped = mapCdr(new AmiHeaders(fields.map(([key, value]) => ({ key, value }))));
    if (!mapped.ok) throw new Error(mapped.reason);
    return mapped.cdr;
  });
}

/** The same CDRs read back from the durable file (cdr_custom with the shipped cdr_custom.conf). */
function fileCdrs(c: CallRecord, src: string, dst: string): CdrEvent[] {
  const logDir = mkdtempSync(join(tmpdir(), 'fedpbx-legs-'));
  mkdirSync(join(logDir, 'cdr-custom'));
  const w = CdrCustomWriter.fromFile(join(import.meta.dirname, '..', '..', 'deploy', 'asterisk', 'cdr_custom.conf'), logDir);
  const start = Date.now();
  const text = c.cdrs
    .map((rec) => w.format({
      uniqueid: rec.uniqueId,
      linkedid: rec.uniqueId,
      start,
      ...(rec.disposition === 'ANSWERED' ? { answer: start + 2000 } : {}),
      end: start + 62_000,
      src,
      dst,
      channel: rec.channel,
      dstchannel: rec.dstChannel,
      lastdata: rec.lastData,
      disposition: rec.disposition,
      sequence: rec.sequence,
      vars: rec.variables,
    })[0])
    .join('\n') + '\n';
  return parseCdrFileRecords(Buffer.from(text)).records.map((r) => {
    const mapped = cdrFromFileRecord(r.record);
    if (!mapped.ok) throw new Error(mapped.reason);
    return mapped.cdr;
  });
}

/** The pre-dial handler argument (the call id) of a Dial, as app_dial would pass it to fedpbx-predial. */
function preDialArg(c: CallRecord, i: number): string | undefined {
  const b = c.dials[i]?.options.find((o) => o.flag === 'b');
  const m = /^fedpbx-predial\^s\^1\((.*)\)$/.exec(b?.arg ?? '');
  return m?.[1];
}

describe('each leg of a failover call carries its own decision', () => {
  it('reproduces the field fact with per-Dial CDR variables, then: two CDRs, each with its own leg', async () => {
    const c = await call('moscow', {
      ...phone('101', '1795696107.41'),
      extension: '301',
      onDial: (req) => (req.rawData.includes('site-piter') ? { status: 'CHANUNAVAIL' } : { status: 'ANSWER' }),
    });
    expect(c.dials.map((d) => d.rawData.split(',')[0])).toEqual(['PJSIP/301@site-piter', 'PJSIP/88125550301@trunk-moscow-city']);
    // Asterisk's own record of the call: one CDR per Dial, the first finalized before the second began.
    expect(c.cdrs.map((r) => [r.dstChannel.replace(/-[0-9a-f]{8}$/, ''), r.disposition])).toEqual([
      ['PJSIP/site-piter', 'FAILED'],
      ['PJSIP/trunk-moscow-city', 'ANSWERED'],
    ]);
    // No CDR variable is set between the Dials any more (it would land on the first leg's record).
    const msets = c.apps.filter((a) => a.app.toLowerCase() === 'mset');
    expect(msets).toHaveLength(2);
    expect(msets[1]?.data).not.toContain('CDR(');
    const [first, second] = reportedCdrs(c, '101', '301');
    expect(first).toMatchObject({ routeKind: 'site', targetSiteId: 'piter', originSiteId: 'moscow', callId: 'moscow/1795696107.41', disposition: 'FAILED' });
    expect(first?.trunkId).toBeUndefined();
    expect(second).toMatchObject({ routeKind: 'pstn', targetSiteId: 'piter', trunkId: 't-moscow-city', originSiteId: 'moscow', callId: 'moscow/1795696107.41', disposition: 'ANSWERED' });
    expect(first?.cdrId).not.toBe(second?.cdrId);
    // The durable CDR file gives the same records, field for field.
    expect(fileCdrs(c, '101', '301').map((x) => [x.cdrId, x.routeKind, x.targetSiteId, x.trunkId, x.callId])).toEqual(
      [first, second].map((x) => [x?.cdrId, x?.routeKind, x?.targetSiteId, x?.trunkId, x?.callId]),
    );
  });

  it('tail-end hop-off failing over to the local trunk: teho leg at piter, then pstn leg', async () => {
    const c = await call('moscow', {
      ...phone('101', '1795696107.42'),
      extension: '88125551234',
      onDial: (r) => (r.rawData.includes('site-piter') ? { status: 'CONGESTION' } : { status: 'ANSWER' }),
    });
    const [first, second] = reportedCdrs(c, '101', '88125551234');
    expect(first).toMatchObject({ routeKind: 'teho', targetSiteId: 'piter', trunkId: 't-piter-city' });
    expect(second).toMatchObject({ routeKind: 'pstn', trunkId: 't-moscow-city' });
    expect(second?.targetSiteId).toBeUndefined();
  });
});

describe('each Dial a call flow makes registers its own leg', () => {
  const fromPstn = (uniqueid: string, did: string) => ({
    callerId: { num: '79161234567', name: 'Client' },
    channel: 'PJSIP/trunk-moscow-city-0000004e',
    uniqueid,
    script: 'from-pstn',
    context: 'fedpbx-from-pstn',
    extension: did,
  });

  it('a DID to a ring group rings a local phone and piter at once: the phone\'s CDR is local at moscow, piter\'s is a site leg', async () => {
    const c = await call('moscow', { ...fromPstn('1795696107.61', '74955550177'), onDial: answer });
    expect(c.dials).toHaveLength(1);
    expect(c.dials[0]?.rawData).toBe('PJSIP/101&PJSIP/301@site-piter,20,tTb(fedpbx-predial^s^1(moscow/1795696107.61))');
    // The flow's leg list is written to the CDR before its Dial (the plan itself has no Dial attempt).
    expect(c.cdrs.map((r) => r.dstChannel.replace(/-[0-9a-f]{8}$/, ''))).toEqual(['PJSIP/101', 'PJSIP/site-piter']);
    const cdrs = reportedCdrs(c, '79161234567', '74955550177');
    expect(cdrs[0]).toMatchObject({ routeKind: 'local', targetSiteId: 'moscow', originSiteId: 'moscow', callId: 'moscow/1795696107.61' });
    expect(cdrs[0]?.trunkId).toBeUndefined();
    expect(cdrs[1]).toMatchObject({ routeKind: 'site', targetSiteId: 'piter', originSiteId: 'moscow', callId: 'moscow/1795696107.61' });
    expect(cdrs[1]?.trunkId).toBeUndefined();
    expect(fileCdrs(c, '79161234567', '74955550177').map((x) => [x.cdrId, x.routeKind, x.targetSiteId, x.trunkId])).toEqual(cdrs.map((x) => [x.cdrId, x.routeKind, x.targetSiteId, x.trunkId]));
  });

  it('a flow\'s dial step to piter fails over to the PSTN as a phone\'s call would: the failed site leg and the trunk leg each carry their own decision', async () => {
    const c = await call('moscow', {
      ...fromPstn('1795696107.62', '74955550178'),
      onDial: (req) => (req.rawData.includes('site-piter') ? { status: 'CHANUNAVAIL' } : { status: 'ANSWER' }),
    });
    expect(c.dials.map((d) => d.rawData.split(',')[0])).toEqual(['PJSIP/301@site-piter', 'PJSIP/88125550301@trunk-moscow-city']);
    expect(c.cdrs.map((r) => r.disposition)).toEqual(['FAILED', 'ANSWERED']);
    const [first, second] = reportedCdrs(c, '79161234567', '74955550178');
    expect(first).toMatchObject({ routeKind: 'site', targetSiteId: 'piter', originSiteId: 'moscow', disposition: 'FAILED' });
    expect(first?.trunkId).toBeUndefined();
    expect(second).toMatchObject({ routeKind: 'pstn', targetSiteId: 'piter', trunkId: 't-moscow-city', originSiteId: 'moscow', disposition: 'ANSWERED' });
    expect(fileCdrs(c, '79161234567', '74955550178').map((x) => [x.cdrId, x.routeKind, x.targetSiteId, x.trunkId])).toEqual(
      [first, second].map((x) => [x?.cdrId, x?.routeKind, x?.targetSiteId, x?.trunkId]),
    );
  });
});

describe('the origin is where the call started, at both ends', () => {
  it('moscow sends the call id on the INVITE to piter; piter tags the call origin moscow with the same call id', async () => {
    const m = await call('moscow', { ...phone('101', '1795696107.43'), extension: '301', onDial: answer });
    expect(m.dials[0]?.rawData).toBe('PJSIP/301@site-piter,30,tTb(fedpbx-predial^s^1(moscow/1795696107.43))');
    const header = preDialArg(m, 0);
    expect(header).toBe('moscow/1795696107.43');

    const p = await call('piter', { ...fromSite('moscow', '101', header), uniqueid: '1795696999.7', extension: '301', onDial: answer });
    expect(p.commands[0]?.raw).toBe('GET VARIABLE "PJSIP_HEADER(read,X-Fedpbx-Call)"');
    expect(p.variables.FEDPBX_ORIGIN).toBe('moscow');
    // A local phone is not given the header.
    expect(p.dials[0]?.rawData).toBe('PJSIP/301,20,tT');
    const [atMoscow] = reportedCdrs(m, '101', '301');
    const [atPiter] = reportedCdrs(p, '101', '301');
    expect(atMoscow).toMatchObject({ originSiteId: 'moscow', callId: 'moscow/1795696107.43', routeKind: 'site', targetSiteId: 'piter' });
    expect(atPiter).toMatchObject({ originSiteId: 'moscow', callId: 'moscow/1795696107.43', routeKind: 'local', targetSiteId: 'piter' });
  });

  it('a forged or malformed header is not believed: origin is the calling site, no call id from it', async () => {
    for (const header of ['nowhere/1795696107.1', 'moscow/1,U(x)', 'moscow', 'kazan/../../etc']) {
      const p = await call('piter', { ...fromSite('moscow', '101', header), extension: '301', onDial: answer });
      const [cdr] = reportedCdrs(p, '101', '301');
      expect(cdr?.originSiteId, header).toBe('moscow');
      expect(cdr?.callId, header).toBeUndefined();
      expect(p.apps.every((a) => !a.data.includes('U(x)') && !a.data.includes('..')), header).toBe(true);
    }
  });

  it('a call from a trunk never has its header read', async () => {
    const p = await call('piter', {
      callerId: { num: '79161234567', name: 'x' },
      channel: 'PJSIP/trunk-piter-city-0000003c',
      uniqueid: '1795696999.9',
      script: 'from-pstn',
      context: 'fedpbx-from-pstn',
      extension: '78125550301',
      functions: { PJSIP_HEADER: () => 'moscow/1795696107.99' },
      onDial: answer,
    });
    expect(p.commands.some((cmd) => cmd.raw.includes('PJSIP_HEADER'))).toBe(false);
    const [cdr] = reportedCdrs(p, '79161234567', '78125550301');
    expect(cdr).toMatchObject({ originSiteId: 'piter', callId: 'piter/1795696999.9' });
  });
});

describe('a DID call has its target', () => {
  it('a DID ringing a phone at moscow targets moscow (field: empty FEDPBX_TARGET)', async () => {
    const c = await call('moscow', {
      callerId: { num: '79161234567', name: 'x' },
      channel: 'PJSIP/trunk-moscow-city-0000003d',
      script: 'from-pstn',
      context: 'fedpbx-from-pstn',
      extension: '74955550102',
      onDial: answer,
    });
    expect(c.dials[0]?.rawData.startsWith('PJSIP/102,')).toBe(true);
    expect(c.cdrs[0]?.variables.FEDPBX_TARGET).toBe('moscow');
    const [cdr] = reportedCdrs(c, '79161234567', '74955550102');
    expect(cdr).toMatchObject({ routeKind: 'local', targetSiteId: 'moscow', originSiteId: 'moscow' });
  });
});

describe('caller ID presented across sites is dialable back', () => {
  it('moscow private behind prefix 5: piter shows moscow 101 as 5101 (field: 101, refused on call-back)', async () => {
    const p = await call('piter-private', { ...fromSite('moscow', '101'), extension: '301', onDial: answer });
    expect(p.callerId.num).toBe('5101');
    expect(p.dials).toHaveLength(1);
    // ... and piter dials 5101 back to moscow's 101.
    const back = await call('piter-private', { ...phone('301', '1795696999.11'), extension: '5101', onDial: answer });
    expect(back.dials[0]?.rawData.split(',')[0]).toBe('PJSIP/101@site-moscow');
  });

  it('kazan (which has its own 101) shows moscow 101 as 5101; piter in the flat plan keeps 101', async () => {
    const k = await call('kazan', { ...fromSite('moscow', '101'), extension: '101', onDial: answer });
    expect(k.callerId.num).toBe('5101');
    const p = await call('piter', { ...fromSite('moscow', '101'), extension: '301', onDial: answer });
    expect(p.callerId.num).toBe('101');
  });
});
