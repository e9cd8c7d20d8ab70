// Which finished CDRs reach the backends, as main/cdr.c decides it (post_cdr(), with cdr.conf's defaults
// DEFAULT_UNANSWERED "0" / DEFAULT_CONGESTION "0") - and that the two peers agree, because both use the one model
// in test/support/asterisk/cdr-post.ts: the FastAGI peer's CDR chain (CdrChain.hangup) and the AMI peer's CDR engine
// (PeerCdrEngine.dispatch, feeding cdr_custom's file and cdr_manager's events). Before, the engine dropped every
// record that was not ANSWERED, while the chain (rightly) kept an unanswered Dial record that has its party B.
import { mkdirSync, mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmiPeer } from '../support/asterisk/ami-peer.js';
import { CdrCustomWriter, type PeerCdr } from '../support/asterisk/cdr-custom-writer.js';
import { PeerCdrEngine } from '../support/asterisk/cdr-engine.js';
import { CDR_CONF_DEFAULTS, postedToBackends } from '../support/asterisk/cdr-post.js';
import { placeCall, type CallRecord, type PlaceCallOptions } from '../support/asterisk/fastagi-peer.js';
import { startScriptedServer, type ServerConn } from '../support/asterisk/scripted-agi-server.js';

const CONF = join(import.meta.dirname, '..', '..', 'deploy', 'asterisk', 'cdr_custom.conf');

async function call(script: (c: ServerConn) => Promise<void>, opts: Partial<PlaceCallOptions> = {}): Promise<CallRecord> {
  const server = await startScriptedServer(async (c) => {
    await c.env();
    await script(c);
  });
  try {
    return await placeCall({ host: '127.0.0.1', port: server.port, script: 'internal', channel: 'PJSIP/101-0000000a', timeoutMs: 5000, ...opts });
  } finally {
    await server.close();
  }
}

describe('post_cdr(): what cdr.conf lets through (main/cdr.c)', () => {
  it('defaults: unanswered off, so an unanswered record WITHOUT a far-end channel is skipped; with one it is posted', () => {
    expect(CDR_CONF_DEFAULTS).toEqual({ unanswered: false, congestion: false });
    const a = 'PJSIP/101-0000000a';
    const b = 'PJSIP/site-piter-0000000b';
    // "Unanswered calls which get offered to an outgoing line will always receive log entries regardless of this option".
    for (const disposition of ['NO ANSWER', 'BUSY', 'FAILED'] as const) {
      expect(postedToBackends({ disposition, channel: a, dstChannel: b }), disposition).toBe(true);
      expect(postedToBackends({ disposition, channel: a, dstChannel: '' }), disposition).toBe(false);
      expect(postedToBackends({ disposition, channel: a, dstChannel: '' }, { ...CDR_CONF_DEFAULTS, unanswered: true }), disposition).toBe(true);
    }
    // AST_CDR_ANSWERED (8) and AST_CDR_CONGESTION (16, only with congestion=yes) are not below ANSWERED.
    expect(postedToBackends({ disposition: 'ANSWERED', channel: a, dstChannel: '' })).toBe(true);
    expect(postedToBackends({ disposition: 'CONGESTION', channel: a, dstChannel: '' })).toBe(true);
  });
});

describe('the two peers agree on what reaches the backends', () => {
  let ami: AmiPeer;
  let engine: PeerCdrEngine;
  let writer: CdrCustomWriter;

  beforeAll(async () => {
    ami = await AmiPeer.start({ systemName: 'moscow' });
    const logDir = mkdtempSync(join(tmpdir(), 'fedpbx-cdr-post-'));
    mkdirSync(join(logDir, 'cdr-custom'));
    writer = CdrCustomWriter.fromFile(CONF, logDir);
    engine = new PeerCdrEngine(ami, writer);
  });
  afterAll(async () => {
    await ami.close();
  });

  /** The FastAGI peer's dispatched records, handed to the AMI peer's engine: what its cdr_custom file gets. */
  function throughEngine(c: CallRecord): string[] {
    const path = writer.paths[0] as string;
    const before = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').length : 0;
    const start = Date.now();
    for (const r of c.cdrs) {
      const cdr: PeerCdr = { uniqueid: r.uniqueId, start, end: start + 1000, channel: r.channel, dstchannel: r.dstChannel, lastdata: r.lastData, disposition: r.disposition, sequence: r.sequence, vars: r.variables };
      engine.dispatch(cdr);
    }
    const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
    return lines.slice(before).map((l) => (JSON.parse(l) as { dstchannel: string; disposition: string }).disposition);
  }

  it('a Dial nobody answers: one NO ANSWER record with its party B, posted by both (the engine used to drop it)', async () => {
    const c = await call(async (conn) => {
      await conn.command('EXEC Dial PJSIP/301@site-piter,30,tT');
      await conn.finish();
    }, { onDial: () => ({ status: 'NOANSWER' }) });
    expect(c.cdrs.map((r) => [r.dstChannel.replace(/-[0-9a-f]{8}$/, ''), r.disposition])).toEqual([['PJSIP/site-piter', 'NO ANSWER']]);
    expect(throughEngine(c)).toEqual(['NO ANSWER']);
  });

  it('an unanswered call with no Dial (a playback, then hang-up): no record from either', async () => {
    const c = await call(async (conn) => {
      await conn.command('EXEC Playback ss-noservice,noanswer');
      await conn.finish();
    });
    expect(c.cdrs).toEqual([]);
    const start = Date.now();
    const before = engine.dispatched;
    engine.dispatch({ uniqueid: '1795700000.77', start, end: start + 1000, channel: 'PJSIP/101-0000000a', dstchannel: '', lastdata: 'ss-noservice,noanswer', disposition: 'NO ANSWER', sequence: 77 });
    expect(engine.dispatched).toBe(before);
  });

  it('with unanswered = yes the record without a far end is posted by both', async () => {
    const c = await call(async (conn) => {
      await conn.command('EXEC Playback ss-noservice,noanswer');
      await conn.finish();
    }, { cdrUnanswered: true });
    expect(c.cdrs.map((r) => [r.dstChannel, r.disposition])).toEqual([['', 'FAILED']]);
    const yes = new PeerCdrEngine(ami, writer, { ...CDR_CONF_DEFAULTS, unanswered: true });
    const start = Date.now();
    const r = c.cdrs[0];
    if (r === undefined) throw new Error('no record');
    yes.dispatch({ uniqueid: r.uniqueId, start, end: start + 1000, channel: r.channel, dstchannel: '', disposition: r.disposition, sequence: r.sequence });
    expect(yes.dispatched).toBe(1);
  });

  it('a failover call: the failed site leg and the answered trunk leg, both posted by both', async () => {
    const c = await call(async (conn) => {
      await conn.command('EXEC Dial PJSIP/301@site-piter,30,tT');
      await conn.command('EXEC Dial PJSIP/88125550301@trunk-moscow-city,60,T');
      await conn.finish();
    }, { onDial: (req) => (req.rawData.includes('site-piter') ? { status: 'CHANUNAVAIL' } : { status: 'ANSWER' }) });
    expect(c.cdrs.map((r) => r.disposition)).toEqual(['FAILED', 'ANSWERED']);
    expect(throughEngine(c)).toEqual(['FAILED', 'ANSWERED']);
  });
});
