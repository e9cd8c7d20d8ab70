// Behaviour of the peer beyond the recordings: hang-up injection, dead-channel rules, Dial bookkeeping,
// connect failures, parking, pipelining, environment chunking.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { placeCall, type CallRecord, type PlaceCallOptions } from '../support/asterisk/fastagi-peer.js';
import { startScriptedServer, type ServerConn } from '../support/asterisk/scripted-agi-server.js';

async function run(
  script: (conn: ServerConn) => Promise<void>,
  opts: Partial<PlaceCallOptions> = {},
): Promise<{ call: CallRecord; conn: ServerConn }> {
  let conn: ServerConn | undefined;
  const server = await startScriptedServer(async (c) => {
    conn = c;
    await c.env();
    await script(c);
  });
  try {
    const call = await placeCall({ host: '127.0.0.1', port: server.port, script: 'route', timeoutMs: 5000, ...opts });
    expect(server.errors).toEqual([]);
    if (!conn) throw new Error('no connection');
    await conn.closed;
    return { call, conn };
  } finally {
    await server.close();
  }
}

const R511 = '511 Command Not Permitted on a dead channel or intercept routine\n';

describe('environment block', () => {
  it.each<[string, PlaceCallOptions['chunking']]>([
    ['whole', 'whole'],
    ['lines', 'lines'],
    ['byte by byte', 'byte'],
    ['split at 37', { splitAt: 37 }],
    ['random', { random: { seed: 7, maxChunk: 9 } }],
  ])('arrives intact when written %s', async (_label, chunking) => {
    const { conn, call } = await run(async (c) => c.finish(), {
      chunking,
      callerId: { num: '101', name: 'Ivan' },
      extension: '305',
      context: 'fedpbx-internal',
      args: ['a1', ''],
    });
    const env = conn.envBlock?.toString('utf8') ?? '';
    expect(env.startsWith('agi_network: yes\nagi_network_script: route\nagi_request: agi://127.0.0.1:')).toBe(true);
    expect(env).toContain('\nagi_callerid: 101\nagi_calleridname: Ivan\nagi_callingpres: 0\n');
    expect(env).toContain('\nagi_dnid: 305\nagi_rdnis: unknown\nagi_context: fedpbx-internal\nagi_extension: 305\n');
    expect(env.endsWith('\nagi_arg_1: a1\nagi_arg_2: \n\n')).toBe(true);
    expect(call.agiStatus).toBe('SUCCESS');
    expect(call.commands).toEqual([]);
  });

  it('sends "unknown" caller ID and no agi_network_script without a script', async () => {
    const { conn } = await run(async (c) => c.finish(), { script: '', callerId: {} });
    const env = conn.envBlock?.toString('utf8') ?? '';
    expect(env).not.toContain('agi_network_script');
    expect(env).toMatch(/\nagi_request: agi:\/\/127\.0\.0\.1:\d+\n/);
    expect(env).toContain('\nagi_callerid: unknown\nagi_calleridname: unknown\nagi_callingpres: 67\n');
  });
});

describe('hang-ups', () => {
  it('before the first command: HANGUP follows the env block, live-only commands get 511', async () => {
    const { call, conn } = await run(async (c) => {
      await c.until(() => c.afterEnv.toString().startsWith('HANGUP\n'));
      expect(await c.command('ANSWER')).toBe(R511);
      expect(await c.command('STREAM FILE beep ""')).toBe(R511);
      expect(await c.command('WAIT FOR DIGIT 10')).toBe(R511);
      expect(await c.command('GET VARIABLE DIALSTATUS')).toBe('200 result=0\n');
      expect(await c.command('SET VARIABLE X y')).toBe('200 result=1\n');
      expect(await c.command('EXEC NoOp x')).toBe('200 result=0\n');
      expect(await c.command('VERBOSE "dead" 1')).toBe('200 result=1\n');
      expect(await c.command('DATABASE PUT fam key v')).toBe('200 result=1\n');
      expect(await c.command('FOO')).toBe('510 Invalid or unknown command\n');
      await c.finish();
    }, { hangup: { when: 'before-first-command' } });
    expect(call.hungUp).toBe(true);
    expect(call.agiStatus).toBe('HANGUP');
    expect(conn.hangupsSeen).toBe(1);
    expect(conn.rest()).toBe('HANGUP\n'); // again at AGI end
    expect(call.variables.X).toBe('y');
  });

  it('during Dial in two chunks: 200 result=-1, then HANGUP, DIALSTATUS=CANCEL', async () => {
    const { call } = await run(async (c) => {
      expect(await c.command('EXEC Dial "PJSIP/101,20,tT"')).toBe('200 result=-1\n');
      await c.until(() => c.rest() === 'HANGUP\n');
      expect(await c.command('GET VARIABLE DIALSTATUS')).toBe('200 result=1 (CANCEL)\n');
      await c.finish();
    }, { hangup: { when: 'during-dial', split: true }, transcript: true });
    const out = (call.transcript ?? []).filter((t) => t.dir === 'asterisk->server').map((t) => t.data.toString());
    expect(out.slice(-4)).toEqual(['200 result=-1\n', 'HANGUP\n', '200 result=1 (CANCEL)\n', 'HANGUP\n']);
    expect(call.dials[0]?.status).toBe('CANCEL');
    expect(call.agiStatus).toBe('HANGUP');
  });

  it('race: HANGUP is written after the command arrives and before its answer', async () => {
    const { call, conn } = await run(async (c) => {
      expect(await c.command('NOOP')).toBe('200 result=0\n');
      expect(await c.command('ANSWER')).toBe(R511);
      expect(c.hangupsSeen).toBe(1);
      await c.finish();
    }, { hangup: { when: 'race', command: 2, delayMs: 20 } });
    expect(conn.afterEnv.toString()).toBe(`200 result=0\nHANGUP\n${R511}HANGUP\n`);
    expect(call.commands[1]?.dead).toBe(true);
  });

  it('after N commands while idle', async () => {
    const { conn } = await run(async (c) => {
      await c.command('ANSWER');
      await c.until(() => c.rest() === 'HANGUP\n');
      await c.finish();
    }, { hangup: { when: 'after-commands', count: 1, delayMs: 30 } });
    expect(conn.afterEnv.toString()).toBe('200 result=0\nHANGUP\nHANGUP\n');
  });

  it('the HANGUP command hangs the channel up; the notification follows its answer', async () => {
    const { call, conn } = await run(async (c) => {
      expect(await c.command('HANGUP')).toBe('200 result=1\n');
      await c.until(() => c.rest() === 'HANGUP\n');
      await c.finish();
    });
    expect(call.agiStatus).toBe('HANGUP');
    expect(conn.afterEnv.toString()).toBe('200 result=1\nHANGUP\nHANGUP\n');
  });

  it('AGISIGHUP=no: no HANGUP lines at all', async () => {
    const { conn, call } = await run(async (c) => {
      await c.command('EXEC Dial PJSIP/1');
      await c.finish();
    }, { hangup: { when: 'during-dial' }, agiSighup: false });
    expect(conn.afterEnv.toString()).toBe('200 result=-1\n');
    expect(call.hungUp).toBe(true);
  });
});

describe('Dial', () => {
  it('records raw data, targets and options; the script decides the outcome; DIALSTATUS readable', async () => {
    const seen: string[][] = [];
    const { call } = await run(async (c) => {
      expect(await c.command('EXEC Dial "PJSIP/101&PJSIP/102,20,tT"')).toBe('200 result=0\n');
      expect(await c.command('GET FULL VARIABLE "${DIALSTATUS}"')).toBe('200 result=1 (BUSY)\n');
      expect(await c.command('EXEC Dial PJSIP/103,20,g')).toBe('200 result=0\n');
      expect(await c.command('EXEC Dial PJSIP/104,20')).toBe('200 result=-1\n');
      expect(await c.command('GET VARIABLE DIALSTATUS')).toBe('200 result=1 (ANSWER)\n');
      expect(await c.command('CHANNEL STATUS')).toBe('200 result=6\n');
      expect(await c.command('EXEC Dial ""')).toBe('200 result=-1\n');
      await c.finish();
    }, {
      onDial: (req) => {
        seen.push(req.targets);
        return req.targets.length === 2 ? { status: 'BUSY' } : { status: 'ANSWER', talkMs: 5 };
      },
    });
    expect(seen).toEqual([['PJSIP/101', 'PJSIP/102'], ['PJSIP/103'], ['PJSIP/104']]);
    expect(call.dials.map((d) => [d.rawData, d.status, d.result])).toEqual([
      ['PJSIP/101&PJSIP/102,20,tT', 'BUSY', 0],
      ['PJSIP/103,20,g', 'ANSWER', 0],
      ['PJSIP/104,20', 'ANSWER', -1],
      ['', null, -1],
    ]);
    expect(call.dials[0]?.timeoutSec).toBe(20);
    expect(call.dials[0]?.options.map((o) => o.flag)).toEqual(['t', 'T']);
    expect(call.agiStatus).toBe('SUCCESS');
  });

  it('makes an injected caller-ID name visible in the recorded Dial', async () => {
    const name = 'x,,U(sub)';
    const { call } = await run(async (c) => {
      const got = await c.command('GET VARIABLE CALLERID(name)');
      const value = got.slice('200 result=1 ('.length, -2);
      await c.command(`EXEC Dial PJSIP/101,20,tT${value}`); // what a careless server would do
      await c.finish();
    }, { callerId: { num: '101', name } });
    const d = call.dials[0];
    expect(d?.rawData).toContain(name);
    expect(d?.options.some((o) => o.flag === 'U')).toBe(false);
    expect(d?.rawOptions).toBe('tTx');
  });
});

describe('CDR chain (main/cdr.c)', () => {
  it('reproduces the field fact: CDR variables set between two Dials land on the first Dial\'s record too', async () => {
    const { call } = await run(async (c) => {
      await c.command('EXEC MSet CDR(FEDPBX_TARGET)=piter,CDR(FEDPBX_TRUNK)=');
      await c.command('EXEC Dial PJSIP/301@site-piter,30,tT');
      await c.command('EXEC MSet CDR(FEDPBX_TARGET)=piter,CDR(FEDPBX_TRUNK)=t-msk-pstn');
      await c.command('EXEC Dial PJSIP/88125550301@trunk-msk-pstn,60,T');
      await c.finish();
    }, { channel: 'PJSIP/101-0000001a', onDial: (r) => (r.rawData.includes('site-piter') ? { status: 'NOANSWER' } : { status: 'ANSWER' }) });
    // Two records, one per Dial, dispatched together at hangup; the first (NO ANSWER to site-piter) took the
    // second MSet's trunk because it was finalized but still the chain's last record (ast_cdr_setvar()).
    expect(call.cdrs.map((r) => [r.dstChannel.replace(/-[0-9a-f]{8}$/, ''), r.disposition, r.variables.FEDPBX_TRUNK])).toEqual([
      ['PJSIP/site-piter', 'NO ANSWER', 't-msk-pstn'],
      ['PJSIP/trunk-msk-pstn', 'ANSWERED', 't-msk-pstn'],
    ]);
    expect(call.cdrs[0]?.sequence).toBeLessThan(call.cdrs[1]?.sequence ?? 0);
    expect(call.cdrs.every((r) => r.uniqueId === call.cdrs[0]?.uniqueId && r.channel === 'PJSIP/101-0000001a')).toBe(true);
  });

  it('a record finalized before a later one began keeps its values; a new record copies the last one\'s variables', async () => {
    const { call } = await run(async (c) => {
      await c.command('EXEC Set CDR(LEG)=one');
      await c.command('EXEC Dial PJSIP/301@site-piter,30,tT');
      await c.command('EXEC Dial PJSIP/302@site-piter,30,tT');
      await c.command('EXEC Set CDR(LEG)=three');
      expect(await c.command('GET VARIABLE CDR(LEG)')).toBe('200 result=1 (three)\n');
      await c.finish();
    }, { onDial: () => ({ status: 'BUSY' }) });
    expect(call.cdrs.map((r) => [r.disposition, r.variables.LEG])).toEqual([
      ['BUSY', 'one'],
      ['BUSY', 'three'],
    ]);
  });

  it('one record per dialled peer; with unanswered=no an unanswered call without a Dial leaves none', async () => {
    const { call } = await run(async (c) => {
      await c.command('EXEC Dial PJSIP/101&PJSIP/102,20,tT');
      await c.finish();
    }, { onDial: () => ({ status: 'ANSWER' }) });
    expect(call.cdrs.map((r) => [r.dstChannel.replace(/-[0-9a-f]{8}$/, ''), r.disposition])).toEqual([
      ['PJSIP/101', 'ANSWERED'],
      ['PJSIP/102', 'NO ANSWER'],
    ]);
    const none = await run(async (c) => {
      await c.command('EXEC Playback ss-noservice,noanswer');
      await c.finish();
    });
    expect(none.call.cdrs).toEqual([]);
  });
});

describe('channel state and commands', () => {
  it('variables, caller ID, functions, truncation', async () => {
    const { call } = await run(async (c) => {
      expect(await c.command('SET VARIABLE "CALLERID(name)" "Anna K"')).toBe('200 result=1\n');
      expect(await c.command('EXEC Set CALLERID(num)=202')).toBe('200 result=0\n');
      expect(await c.command('GET FULL VARIABLE ${CALLERID(num)}/${CALLERID(name)}')).toBe('200 result=1 (202/Anna K)\n');
      expect(await c.command('GET FULL VARIABLE ${BASE64_ENCODE(${CALLERID(name)})}')).toBe('200 result=1 (QW5uYSBL)\n');
      expect(await c.command('SET CALLERID "\\"Bob\\" <303>"')).toBe('200 result=1\n');
      expect(await c.command(`SET VARIABLE BIG ${'z'.repeat(2000)}`)).toBe('200 result=1\n');
      expect(await c.command('GET VARIABLE BIG')).toBe(`200 result=1 (${'z'.repeat(1023)})\n`);
      expect(await c.command('GET FULL VARIABLE ${LEN(${BIG})}')).toBe('200 result=1 (2000)\n');
      expect(await c.command('GET FULL VARIABLE ${NOPE}')).toBe('200 result=1 ()\n');
      expect(await c.command('GET VARIABLE NOPE')).toBe('200 result=0\n');
      expect(await c.command('SET VARIABLE ONLYNAME')).toBe(
        '520-Invalid command syntax.  Proper usage follows:\nSets a variable to the current channel.\n520 End of proper usage.\n',
      );
      expect(await c.command('EXEC NoSuchApp x')).toBe('200 result=-2\n');
      expect(await c.command('EXEC MixMonitor "rec.wav,b"')).toBe('200 result=0\n');
      expect(await c.command('noop lower case')).toBe('200 result=0\n');
      await c.finish();
    });
    expect(call.callerId).toEqual({ num: '303', name: 'Bob' });
    expect(call.apps.map((a) => a.app)).toEqual(['Set', 'NoSuchApp', 'MixMonitor']);
  });

  it('sounds, digits, GOSUB, failures', async () => {
    const { call, conn } = await run(async (c) => {
      expect(await c.command('STREAM FILE hello "#"')).toBe('200 result=0 endpos=80\n');
      expect(await c.command('STREAM FILE hello "1"')).toBe('200 result=49 endpos=40\n');
      expect(await c.command('WAIT FOR DIGIT 100')).toBe('200 result=50\n');
      expect(await c.command('GET DATA hello 50 4')).toBe('200 result=34\n');
      expect(await c.command('GET DATA hello 20 4')).toBe('200 result= (timeout)\n');
      expect(await c.command('GOSUB sub s 1 "a,b"')).toBe('200 result=0 Gosub complete\n');
      expect(await c.command('GET VARIABLE GOSUB_RETVAL')).toBe('200 result=1 (ok)\n');
      expect(await c.command('STREAM FILE missing ""')).toBe('200 result=-1 endpos=0\n');
      await c.finish();
    }, {
      sounds: { hello: 10 },
      digits: '1234#',
      gosub: (req) => ({ found: req.context === 'sub', retval: 'ok' }),
    });
    expect(conn.afterEnv.toString()).toContain('100 result=0 Trying...\n200 result=0 Gosub complete\n');
    expect(call.agiStatus).toBe('FAILURE'); // the missing file
  });

  it('a failure line ends the AGI with FAILURE', async () => {
    const { call, conn } = await run(async (c) => {
      c.send('failure\n');
      await c.until(() => c.closedByPeer);
      c.socket.end();
    });
    expect(call.agiStatus).toBe('FAILURE');
    expect(call.failureLine).toBe(true);
    expect(conn.afterEnv.toString()).toBe('HANGUP\n');
  });
});

describe('server misbehaviour', () => {
  it('pipelined commands stall and are reported', async () => {
    const { call } = await run(async (c) => {
      c.send('SET VARIABLE A 1\nGET VARIABLE A\n');
      expect(await c.response()).toBe('200 result=1\n');
      await new Promise((r) => setTimeout(r, 50));
      expect(c.rest()).toBe(''); // the second one waits until more bytes arrive
      expect(await c.command('NOOP')).toBe('200 result=1 (1)\n');
      await c.finish();
    });
    expect(call.pipelined).toBe(true);
    expect(call.commands.map((x) => x.raw)).toEqual(['SET VARIABLE A 1', 'GET VARIABLE A', 'NOOP']);
  });

  it('a server that never closes leaves the call parked', async () => {
    const { call } = await run(async (c) => {
      await c.command('NOOP');
      await c.until(() => c.closedByPeer, 3000);
      c.socket.end();
    }, { timeoutMs: 300 });
    expect(call.parked).toBe(true);
    expect(call.serverClosed).toBe(false);
    expect(call.agiStatus).toBeNull();
    expect(call.timeToFirstCommandMs).not.toBeNull();
  });
});

describe('connect failures', () => {
  it('refused: FAILURE at once', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const call = await placeCall({ host: '127.0.0.1', port });
    expect(call.connectError).toBe('refused');
    expect(call.agiStatus).toBe('FAILURE');
    expect(call.durationMs).toBeLessThan(500);
  });

  it('a listener that never accepts: FAILURE after the connect timeout', async () => {
    // A listen(0) socket whose accept queue is full drops further SYNs, as in agi-04-connect-timeout.json.
    const py = spawn('python3', [
      '-c',
      'import socket,sys,time\ns=socket.socket();s.bind(("127.0.0.1",0));s.listen(0)\np=s.getsockname()[1]\n' +
        'cs=[]\nfor i in range(4):\n c=socket.socket();c.setblocking(False)\n try: c.connect(("127.0.0.1",p))\n except OSError: pass\n cs.append(c)\n' +
        'print(p,flush=True)\ntime.sleep(30)',
    ]);
    try {
      const [line] = (await once(py.stdout, 'data')) as [Buffer];
      const port = Number(line.toString().trim());
      const call = await placeCall({ host: '127.0.0.1', port, connectTimeoutMs: 300 });
      expect(call.connectError).toBe('timeout');
      expect(call.agiStatus).toBe('FAILURE');
      expect(call.durationMs).toBeGreaterThanOrEqual(290);
    } finally {
      py.kill();
    }
  });
});
