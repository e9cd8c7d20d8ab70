// The "Observed in the field" facts of issue #15 §2 (asterisk-protocols.md), reproduced by the faithful peers:
// the FastAGI peer (AGISTATUS after each way a server can end) and the dialplan peer (what the rendered
// extensions_fedpbx.conf then does with the call).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Federation } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenarioInput, renderExtensions } from '@fedpbx/dialplan';
import { afterEach, describe, expect, it } from 'vitest';
import { siteConfigFor } from '../../libs/dialplan/src/render/render-fixtures.test.js';
import { Dialplan, substitute } from '../support/asterisk/dialplan-peer.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A FastAGI server that reads the environment, then does `then` with the socket. */
async function server(then: (socket: net.Socket) => void): Promise<number> {
  const s = net.createServer((socket) => {
    let head = '';
    socket.on('data', (d: Buffer) => {
      if (head.includes('\n\n')) return;
      head += d.toString();
      if (head.includes('\n\n')) then(socket);
    });
    socket.on('error', () => socket.destroy());
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as net.AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('FastAGI peer: AGISTATUS as Asterisk 22.10.1 sets it (Observed in the field)', () => {
  it('a server that reads the environment and closes without a command: SUCCESS', async () => {
    const port = await server((s) => s.end());
    const call = await placeCall({ host: '127.0.0.1', port, script: 'internal', timeoutMs: 3000 });
    expect(call.agiStatus).toBe('SUCCESS');
    expect(call.commands).toEqual([]);
  });

  it('a server that holds the connection, then drops it: SUCCESS (a reset too)', async () => {
    const held = await server((s) => setTimeout(() => s.end(), 400));
    const call = await placeCall({ host: '127.0.0.1', port: held, script: 'internal', timeoutMs: 3000 });
    expect(call.agiStatus).toBe('SUCCESS');
    expect(call.durationMs).toBeGreaterThanOrEqual(380);
    const reset = await server((s) => setTimeout(() => s.resetAndDestroy(), 100));
    expect((await placeCall({ host: '127.0.0.1', port: reset, script: 'internal', timeoutMs: 3000 })).agiStatus).toBe('SUCCESS');
  });

  it('only a failure line gives FAILURE; a refused connection gives FAILURE at once', async () => {
    const port = await server((s) => s.end('failure\n'));
    expect((await placeCall({ host: '127.0.0.1', port, script: 'internal', timeoutMs: 3000 })).agiStatus).toBe('FAILURE');
    const refused = await placeCall({ host: '127.0.0.1', port: await freePort(), script: 'internal' });
    expect(refused).toMatchObject({ agiStatus: 'FAILURE', connectError: 'refused' });
    expect(refused.durationMs).toBeLessThan(100);
  });

  it('no read timeout: a stopped server process holds the call in AGI() until it is resumed', async () => {
    // A real process, stopped with SIGSTOP once it listens (the kernel still completes the TCP handshake).
    const script = `const net=require('node:net');const s=net.createServer((c)=>{let h='';c.on('data',(d)=>{h+=d;if(h.includes('\\n\\n'))c.end()})});s.listen(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'))`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      child.kill('SIGSTOP');
      const parked = await placeCall({ host: '127.0.0.1', port, script: 'internal', timeoutMs: 1500 });
      expect(parked).toMatchObject({ agiStatus: null, parked: true, connectError: null });
      const pending = placeCall({ host: '127.0.0.1', port, script: 'internal', timeoutMs: 5000 });
      setTimeout(() => child.kill('SIGCONT'), 800);
      const resumed = await pending;
      expect(resumed.agiStatus).toBe('SUCCESS');
      expect(resumed.durationMs).toBeGreaterThanOrEqual(750);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('dialplan peer: the rendered entry steps and fallback, after each AGI outcome', () => {
  const moscow = new Dialplan(renderExtensions(siteConfigFor('moscow'), { agiHost: '127.0.0.1', agiPort: 4573 }));

  it('substitutes variables, FILTER and substrings as Asterisk does', () => {
    const vars = new Map([['EXTEN', '7-495+555']]);
    expect(substitute('${FILTER(0-9,${EXTEN})}', vars)).toBe('7495555');
    expect(substitute('${FILTER(0-9+,${EXTEN})}', vars)).toBe('7495+555');
    expect(substitute('${FILTER(0-9,${EXTEN}):-3}/${EXTEN:1}/${EXTEN:1:3}', vars)).toBe('555/-495+555/-49');
  });

  it.each([
    ['closes without a command (no snapshot, unknown entry, an exception)', (s: net.Socket) => s.end()],
    ['holds, then drops', (s: net.Socket) => setTimeout(() => s.destroy(), 200)],
    ['answers failure', (s: net.Socket) => s.end('failure\n')],
  ])('agent %s: an inter-site number is dialled over the link by the fallback', async (_label, then) => {
    const port = await server(then);
    const call = await moscow.run({ context: 'fedpbx-internal', exten: '305', callerId: { num: '101' }, agi: { host: '127.0.0.1', port }, uniqueId: '1795700000.5' });
    expect(call.dials.map((d) => d.data)).toEqual(['PJSIP/305@site-piter,30,tTb(fedpbx-predial^s^1(moscow/1795700000.5))']);
    expect(call.gosubs).toEqual(['fedpbx-record,s,1(305)']);
    expect(call.logs[0]).toMatch(/^WARNING,fedpbx agent did not take the call - AGISTATUS=(SUCCESS|FAILURE)/);
  });

  it('agent refused: own extension, kazan by prefix, emergency via the own trunk; an unknown number is not dialled', async () => {
    const agi = { host: '127.0.0.1', port: await freePort() };
    const dial = async (context: string, exten: string): Promise<string[]> => (await moscow.run({ context, exten, agi })).dials.map((d) => d.data);
    expect(await dial('fedpbx-internal', '101')).toEqual(['PJSIP/101,20,tT']);
    expect(await dial('fedpbx-internal', '6101')).toEqual(['PJSIP/101@site-kazan,30,tTb(fedpbx-predial^s^1(moscow/1795700000.1))']);
    expect(await dial('fedpbx-internal', '112')).toEqual(['PJSIP/112@trunk-moscow-city']);
    expect(await dial('fedpbx-internal', '999')).toEqual([]);
    // From another site, moscow (not the hub) only rings its own numbers: never a bounce to a third site.
    expect(await dial('fedpbx-from-sites', '101')).toEqual(['PJSIP/101,20,tT']);
    expect(await dial('fedpbx-from-sites', '305')).toEqual([]);
  });

  it('the agent took the call (FEDPBX_HANDLED=1 in its first MSet): no fallback, whatever AGISTATUS says', async () => {
    const port = await server((s) => {
      s.once('data', () => s.end('failure\n')); // the MSet's answer arrives; then a failure ends it with FAILURE
      s.write('EXEC MSet FEDPBX_HANDLED=1,FEDPBX_ROUTE=site\n');
    });
    const call = await moscow.run({ context: 'fedpbx-internal', exten: '305', agi: { host: '127.0.0.1', port } });
    expect(call.agiStatus).toBe('FAILURE');
    expect(call.variables.FEDPBX_HANDLED).toBe('1');
    expect(call.dials).toEqual([]);
  });

  it('an emergency call whose agent went away after a Dial that failed on the route: the fallback dials the emergency trunks', async () => {
    // The agent took 112 (FEDPBX_HANDLED=1), its trunk answered CONGESTION, then it was gone (killed by its
    // supervisor or watchdog, a crash) before the next trunk: the caller is still up, and the site's emergency trunks
    // are a working path. After an answered Dial, or with the caller gone, nothing more is dialled.
    const agentThatDies = (dialled: string) =>
      server((s) => {
        let answers = 0;
        s.on('data', () => {
          answers += 1;
          if (answers === 1) s.write(`EXEC Dial PJSIP/112@${dialled},60,T\n`);
          if (answers === 2) s.write('GET VARIABLE DIALSTATUS\n');
          if (answers === 3) s.destroy();
        });
        s.write('EXEC MSet FEDPBX_HANDLED=1,FEDPBX_ROUTE=emergency\n');
      });
    const run = async (agiStatus: string, ...results: ('CONGESTION' | 'CHANUNAVAIL' | 'ANSWER')[]) => {
      const port = await agentThatDies('trunk-moscow-city');
      const outcomes = [...results];
      const call = await moscow.run({ context: 'fedpbx-internal', exten: '112', callerId: { num: '101' }, agi: { host: '127.0.0.1', port }, onDial: () => ({ status: outcomes.shift() ?? 'ANSWER' }) });
      expect(call.agiStatus).toBe(agiStatus);
      return call;
    };
    for (const failed of ['CONGESTION', 'CHANUNAVAIL'] as const) {
      const call = await run('SUCCESS', failed, 'ANSWER');
      expect(call.agi?.dials.map((d) => d.status)).toEqual([failed]);
      expect(call.dials.map((d) => [d.data, d.status])).toEqual([['PJSIP/112@trunk-moscow-city', 'ANSWER']]);
    }
    const answered = await run('SUCCESS', 'ANSWER');
    expect(answered.dials).toEqual([]);
  });

  // #16: calls through the fallback to other sites carried no call id, so the receiving site and the CDRs could not
  // link the call. Now the fallback gives it the id the agent would, sends it on the INVITE, and a site receiving
  // it in its own fallback keeps it on its CDR.
  it('a fallback call to another site carries its call id on the INVITE and on the CDRs at both ends', async () => {
    const agi = { host: '127.0.0.1', port: await freePort() };
    const m = await moscow.run({ context: 'fedpbx-internal', exten: '305', callerId: { num: '101' }, agi, uniqueId: '1795700000.21' });
    expect(m.dials).toHaveLength(1);
    expect(m.dials[0]?.headers).toEqual({ 'X-Fedpbx-Call': 'moscow/1795700000.21' });
    expect(m.cdr).toMatchObject({ FEDPBX_CALL: 'moscow/1795700000.21', FEDPBX_ORIGIN: 'moscow' });
    // piter's agent is down too: its fallback reads the header and keeps the same id on its CDR.
    const piter = new Dialplan(renderExtensions(siteConfigFor('piter'), { agiHost: '127.0.0.1', agiPort: 4573 }));
    const p = await piter.run({ context: 'fedpbx-from-sites', exten: '305', agi, uniqueId: '1795799999.3', inviteHeaders: m.dials[0]?.headers ?? {} });
    expect(p.dials.map((d) => d.data)).toEqual(['PJSIP/305,20,tT']);
    expect(p.cdr.FEDPBX_CALL).toBe('moscow/1795700000.21');
    // No header: the id is piter's own, as the controller would give it.
    expect((await piter.run({ context: 'fedpbx-from-sites', exten: '305', agi, uniqueId: '1795799999.4' })).cdr.FEDPBX_CALL).toBe('piter/1795799999.4');
  });

  it('a call from the PSTN to a DID of another site\'s extension, through the fallback: the id is this site\'s', async () => {
    const agi = { host: '127.0.0.1', port: await freePort() };
    const piter = new Dialplan(renderExtensions(siteConfigFor('piter'), { agiHost: '127.0.0.1', agiPort: 4573 }));
    const p = await piter.run({ context: 'fedpbx-from-pstn', exten: '78125550300', agi, uniqueId: '1795799999.8' });
    expect(p.cdr).toMatchObject({ FEDPBX_CALL: 'piter/1795799999.8', FEDPBX_ORIGIN: 'piter' });
    expect(p.dials.map((d) => d.data)).toEqual(['PJSIP/301,20,tT']);
  });

  it('at the hub the fallback passes the id it received on to the next site, filtered to call id characters', async () => {
    const agi = { host: '127.0.0.1', port: await freePort() };
    const config = siteConfigFor('moscow');
    const hub = new Dialplan(renderExtensions({ ...config, federation: { ...config.federation, hubSiteId: 'moscow' } }, { agiHost: '127.0.0.1', agiPort: 4573 }));
    const passed = await hub.run({ context: 'fedpbx-from-sites', exten: '6101', agi, inviteHeaders: { 'x-fedpbx-call': 'piter/1795799999.9' } });
    expect(passed.dials.map((d) => d.headers)).toEqual([{ 'X-Fedpbx-Call': 'piter/1795799999.9' }]);
    expect(passed.cdr.FEDPBX_CALL).toBe('piter/1795799999.9');
    // A header that would split the Dial data (`,`, `(`, `)`) loses those characters: one Dial, its own options only.
    const forged = await hub.run({ context: 'fedpbx-from-sites', exten: '6101', agi, inviteHeaders: { 'X-Fedpbx-Call': 'piter/1,U(x)' } });
    expect(forged.dials.map((d) => d.data)).toEqual(['PJSIP/101@site-kazan,30,tTb(fedpbx-predial^s^1(piter/1Ux))']);
  });

  it('a stopped agent: the call waits in AGI() (dead air) - the supervisor must end it', async () => {
    const port = await server(() => undefined);
    const call = await moscow.run({ context: 'fedpbx-internal', exten: '305', agi: { host: '127.0.0.1', port }, agiTimeoutMs: 800 });
    expect(call.end).toBe('parked');
    expect(call.dials).toEqual([]);
  });
});

describe('busy-lamp hints beside the call contexts', () => {
  it('a phone subscribes in fedpbx-hints, and a dialled number still reaches the agent in fedpbx-internal', () => {
    const input = foundingScenarioInput();
    for (const s of input.sites) if (s.id === 'moscow') s.presence = { remoteHints: 'all' };
    const plan = new Dialplan(renderExtensions(buildSiteConfig(Federation.parse(input), 'moscow'), { agiHost: '127.0.0.1', agiPort: 4573 }));
    expect(plan.hint('fedpbx-hints', '101')).toBe('PJSIP/101');
    expect(plan.hint('fedpbx-hints', '301')).toBe('Custom:fedpbx-piter-301');
    expect(plan.hint('fedpbx-internal', '301')).toBeUndefined();
    expect(plan.find('fedpbx-internal', '301')?.[1]?.app).toBe('AGI');
    expect(plan.find('fedpbx-hints', '301')).toBeUndefined();
  });
});
