// Replays the server side of every FastAGI recording of a real Asterisk 22.10.1 against the peer and checks
// that the peer writes byte for byte what Asterisk wrote: the environment block and every response,
// HANGUP notification and the final HANGUP (chunk boundaries aside).
import { describe, expect, it } from 'vitest';
import { placeCall, type PlaceCallOptions, type AgiStatus } from '../support/asterisk/fastagi-peer.js';
import { loadAgiFixture, optionsFromEnv, serverClosedFirst, splitFixture } from '../support/asterisk/fixtures.js';
import { startScriptedServer } from '../support/asterisk/scripted-agi-server.js';

type Extra = Partial<PlaceCallOptions> & { agiStatus?: AgiStatus; hungUp?: boolean; pipelined?: boolean; overlongLines?: number };

const CASES: Record<string, (fx: ReturnType<typeof splitFixture>) => Extra> = {
  'agi-01-env-args-query.json': () => ({ agiStatus: 'SUCCESS' }),
  'agi-01-env-args-tricky.json': () => ({ agiStatus: 'SUCCESS' }),
  'agi-01-env-local-originate.json': () => ({ agiStatus: 'SUCCESS' }),
  'agi-01-env-no-script.json': () => ({ agiStatus: 'SUCCESS' }),
  'agi-01-env-pjsip-special-callerid.json': () => ({
    functions: { PJSIP_HEADER: () => '"Ivan \\"The\\" Petrov, Jr; x\\\\y" <sip:1001@127.0.0.2>;tag=29650SIPpTag001' },
    agiStatus: 'SUCCESS',
  }),
  'agi-01-env-pjsip-utf8-callerid.json': () => ({
    functions: { PJSIP_HEADER: () => '"Иван Петров" <sip:1002@127.0.0.2>;tag=29668SIPpTag001' },
    agiStatus: 'SUCCESS',
  }),
  'agi-02-commands.json': () => ({
    onDial: (req) => ({ status: req.targets[0] === 'PJSIP/nosuchendpoint' ? 'CHANUNAVAIL' : 'NOANSWER' }),
    gosub: (req) => (req.context === 'fx-sub' ? { found: true, retval: 'sub-ok' } : { found: false }),
    agiStatus: 'FAILURE',
  }),
  'agi-02-after-caller-hangup.json': () => ({ hangup: { when: 'after-commands', count: 1 }, agiStatus: 'HANGUP', hungUp: true }),
  'agi-02-agistatus-after-failed-command.json': () => ({ agiStatus: 'FAILURE' }),
  'agi-02-dial-answered-farend-hangup.json': () => ({
    onDial: () => ({ status: 'ANSWER', talkMs: 1500, farEndHangsUp: true }),
    agiStatus: 'SUCCESS',
  }),
  'agi-03-hangup-during-dial-local.json': () => ({ hangup: { when: 'during-dial' }, agiStatus: 'HANGUP', hungUp: true }),
  'agi-03-hangup-during-dial-pjsip.json': () => ({ hangup: { when: 'during-dial', split: true }, agiStatus: 'HANGUP', hungUp: true }),
  'agi-03-hangup-during-wait-for-digit.json': () => ({ hangup: { when: 'during-command', command: 2 }, agiStatus: 'HANGUP', hungUp: true }),
  'agi-03-hangup-race-command-in-flight.json': (fx) => {
    const n = fx.steps.findIndex((s) => s.expect.toString().startsWith('HANGUP\n')) + 1;
    return { hangup: { when: 'race', command: n }, agiStatus: 'HANGUP', hungUp: true };
  },
  'agi-05-crlf-line-endings.json': () => ({ agiStatus: 'SUCCESS' }),
  'agi-05-failure-line.json': () => ({ agiStatus: 'FAILURE' }),
  'agi-05-long-command.json': () => ({ agiStatus: 'SUCCESS', overlongLines: 3 }),
  'agi-05-pipelined-commands.json': () => ({ agiStatus: 'SUCCESS', pipelined: true }),
};

describe('the peer answers like Asterisk 22 in every recorded FastAGI exchange', () => {
  for (const [file, extra] of Object.entries(CASES)) {
    it(file, async () => {
      const fixture = loadAgiFixture(file);
      const fx = splitFixture(fixture);
      const { agiStatus, hungUp, pipelined, overlongLines, ...opts } = extra(fx);
      let expectedAll = Buffer.alloc(0);
      const server = await startScriptedServer(async (conn) => {
        await conn.env();
        let want = fx.beforeFirst.length;
        // The final HANGUP answers the server's close: do not wait for it before closing.
        const closingHangup = serverClosedFirst(fixture) ? 'HANGUP\n'.length : 0;
        for (const [i, step] of fx.steps.entries()) {
          conn.send(step.send);
          want += step.expect.length - (i === fx.steps.length - 1 ? closingHangup : 0);
          expectedAll = Buffer.concat([expectedAll, step.expect]);
          await conn.until(() => conn.afterEnv.length >= want, 5000, `${want} bytes`);
        }
        await conn.finish();
      });
      try {
        const peerAt = { host: '127.0.0.1', port: server.port };
        const call = await placeCall({ ...peerAt, ...optionsFromEnv(fx.envLines), ...opts, transcript: true, timeoutMs: 15_000 });
        expect(server.errors).toEqual([]);
        const written = Buffer.concat((call.transcript ?? []).filter((c) => c.dir === 'asterisk->server').map((c) => c.data));
        // Same environment block (request host/port come from the recording, so this is byte-exact).
        expect(written.subarray(0, fx.env.length).toString('utf8')).toBe(fx.env.toString('utf8'));
        // Everything after it: responses, HANGUP notifications, the final HANGUP.
        const after = written.subarray(fx.env.length);
        const expected = Buffer.concat([fx.beforeFirst, ...fx.steps.map((s) => s.expect)]);
        expect(after.toString('utf8')).toBe(expected.toString('utf8'));
        expect(after.equals(expected)).toBe(true);
        expect(call.agiStatus).toBe(agiStatus);
        expect(call.hungUp).toBe(hungUp ?? false);
        expect(call.pipelined).toBe(pipelined ?? false);
        expect(call.overlongLines).toBe(overlongLines ?? 0);
        expect(call.parked).toBe(false);
        expect(call.serverClosed).toBe(serverClosedFirst(fixture));
      } finally {
        await server.close();
      }
    });
  }
});
