// The founding scenario end to end: three real agent processes (moscow, piter, kazan) with signed bootstrap
// snapshots, driven by the faithful Asterisk FastAGI peer.
import { Federation } from '@fedpbx/contracts';
import { foundingScenarioInput } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { placeCall, type CallRecord, type DialScript, type PlaceCallOptions } from '../support/asterisk/fastagi-peer.js';
import { TestController } from '../support/signed-snapshots.js';

const controller = new TestController();
const agents: Record<string, AgentProcess> = {};

function federation(): Federation {
  const input = foundingScenarioInput();
  // A switchboard without a time condition, so the test does not depend on the wall clock.
  input.callFlows!.push({
    id: 'f-switchboard',
    siteId: 'moscow',
    name: 'Switchboard',
    entry: 'menu',
    nodes: [
      { id: 'menu', type: 'ivr-menu', prompt: 'fedpbx/welcome', timeoutSec: 3, retries: 0, next: { 'digit:1': 'sales', 'digit:2': 'spb', timeout: 'op', invalid: 'op' } },
      { id: 'sales', type: 'ring-group', members: ['101', '102'], strategy: 'ringall', timeoutSec: 20, next: {} },
      { id: 'spb', type: 'dial-extension', number: '301', timeoutSec: 20, next: {} },
      { id: 'op', type: 'dial-extension', number: '101', timeoutSec: 20, next: {} },
    ],
  });
  input.inboundRoutes!.push({ id: 'ir-switchboard', siteId: 'moscow', did: '74955550199', destination: { type: 'flow', flowId: 'f-switchboard' } });
  return Federation.parse(input);
}

beforeAll(async () => {
  const fed = federation();
  for (const site of ['moscow', 'piter', 'kazan']) {
    const file = controller.writeSnapshot(fed, site, 1);
    agents[site] = await startAgent({ ...controller.agentEnv(site, ''), FEDPBX_STATE_DIR: '', FEDPBX_BOOTSTRAP_SNAPSHOT: file });
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(agents).map((a) => a.stop()));
});

const answer: DialScript = () => ({ status: 'ANSWER' });
const sounds = { 'fedpbx/welcome': 100, 'ss-noservice': 50, 'cannot-complete-as-dialed': 50 };

function call(site: string, opts: Omit<PlaceCallOptions, 'host' | 'port'>): Promise<CallRecord> {
  const agent = agents[site] as AgentProcess;
  return placeCall({ host: '127.0.0.1', port: agent.agiPort, timeoutMs: 10_000, sounds, ...opts });
}
const phone = (num: string, name = 'Caller') => ({ callerId: { num, name }, channel: `PJSIP/${num}-0000001a`, script: 'internal', context: 'fedpbx-internal' });
const fromSite = (site: string, num: string) => ({ callerId: { num, name: 'Colleague' }, channel: `PJSIP/site-${site}-0000002b`, script: 'from-sites', context: 'fedpbx-from-sites' });

/**
 * Each Dial's data without the pre-dial handler that carries the call id to another site (`b(fedpbx-predial^s^1(<call id>))`,
 * asserted in full by the first test and by call-legs.e2e.spec.ts).
 */
function dialData(c: CallRecord): string[] {
  return c.dials.map((d) => d.rawData.replace(/b\(fedpbx-predial\^s\^1\([a-z][a-z0-9-]*\/[0-9.]+\)\)$/, ''));
}

/** Every session: closed by the agent, nothing pipelined, AGI ended normally. */
function expectCleanSession(c: CallRecord): void {
  expect(c.connectError).toBeNull();
  expect(c.parked).toBe(false);
  expect(c.serverClosed).toBe(true);
  expect(c.pipelined).toBe(false);
  expect(c.overlongLines).toBe(0);
}

describe('founding scenario through real agents', () => {
  it('moscow 101 calls piter 301 over the link, tagged and recorded', async () => {
    const c = await call('moscow', { ...phone('101', 'Ivan Petrov'), extension: '301', onDial: answer });
    expectCleanSession(c);
    expect(c.agiStatus).toBe('SUCCESS');
    expect(dialData(c)).toEqual(['PJSIP/301@site-piter,30,tT']);
    expect(c.dials[0]?.rawData).toMatch(/^PJSIP\/301@site-piter,30,tTb\(fedpbx-predial\^s\^1\(moscow\/[0-9.]+\)\)$/);
    expect(c.variables).toMatchObject({ FEDPBX_HANDLED: '1', FEDPBX_ROUTE: 'site', FEDPBX_ORIGIN: 'moscow', FEDPBX_TARGET: 'piter', FEDPBX_REVISION: '1' });
    // The CDR carries the same tags (cdr_manager [mappings] read CDR variables) and the recording.
    expect(c.cdr).toMatchObject({ FEDPBX_ROUTE: 'site', FEDPBX_ORIGIN: 'moscow', FEDPBX_TARGET: 'piter', FEDPBX_TRUNK: '', FEDPBX_REVISION: '1' });
    expect(c.cdr.FEDPBX_REC_FILE).toMatch(/^fedpbx\/moscow\/.*\.wav$/);
    const rec = c.apps.find((a) => a.app.toLowerCase() === 'mixmonitor');
    expect(rec?.data).toMatch(/^fedpbx\/moscow\/\d{8}-\d{6}-101-301-[0-9.]+\.wav,b$/);
  });

  it('piter takes the call from moscow, rings 301 and records the incoming side too', async () => {
    const c = await call('piter', { ...fromSite('moscow', '101'), extension: '301', onDial: answer });
    expectCleanSession(c);
    expect(dialData(c)).toEqual(['PJSIP/301,20,tT']);
    expect(c.apps.some((a) => a.app.toLowerCase() === 'mixmonitor' && a.data.startsWith('fedpbx/piter/'))).toBe(true);
  });

  it('piter 302 calls moscow 102 the mirrored way', async () => {
    const c = await call('piter', { ...phone('302'), extension: '102', onDial: answer });
    expect(dialData(c)).toEqual(['PJSIP/102@site-moscow,30,tT']);
  });

  it('an unanswered extension with voicemail goes to voicemail', async () => {
    const c = await call('piter', { ...fromSite('moscow', '101'), extension: '301', onDial: () => ({ status: 'NOANSWER' }) });
    expect(c.apps.filter((a) => a.app.toLowerCase() === 'voicemail').map((a) => a.data)).toEqual(['301@fedpbx,u']);
  });

  it('when the link attempt fails the call reaches piter over the PSTN at its DID', async () => {
    const c = await call('moscow', {
      ...phone('101'),
      extension: '301',
      onDial: (req) => (req.rawData.includes('site-piter') ? { status: 'CHANUNAVAIL' } : { status: 'ANSWER' }),
    });
    expect(dialData(c)).toEqual(['PJSIP/301@site-piter,30,tT', 'PJSIP/88125550301@trunk-moscow-city,60,T']);
    expect(c.variables.FEDPBX_TRUNK).toBe('t-moscow-city');
  });

  it('a busy callee is not retried over another route', async () => {
    const c = await call('moscow', { ...phone('101'), extension: '301', onDial: () => ({ status: 'BUSY' }) });
    expect(c.dials).toHaveLength(1);
  });

  it("tail-end hop-off: moscow sends a St Petersburg number to piter, piter dials it out on its own trunk", async () => {
    const m = await call('moscow', { ...phone('101'), extension: '88125551234', onDial: answer });
    expect(dialData(m)).toEqual(['PJSIP/88125551234@site-piter,60,T']);
    expect(m.variables).toMatchObject({ FEDPBX_ROUTE: 'teho', FEDPBX_TRUNK: 't-piter-city', FEDPBX_TARGET: 'piter' });
    const p = await call('piter', { ...fromSite('moscow', '101'), extension: '88125551234', onDial: answer });
    expect(dialData(p)).toEqual(['PJSIP/5551234@trunk-piter-city,60,T']);
  });

  it("falls back to moscow's trunk when piter cannot hop the call off", async () => {
    const m = await call('moscow', { ...phone('101'), extension: '88125551234', onDial: (r) => (r.rawData.includes('site-piter') ? { status: 'CONGESTION' } : { status: 'ANSWER' }) });
    expect(dialData(m)).toEqual(['PJSIP/88125551234@site-piter,60,T', 'PJSIP/88125551234@trunk-moscow-city,60,T']);
  });

  it('overlapping plans: moscow dials kazan as 6 + number, kazan rings its own 101', async () => {
    const m = await call('moscow', { ...phone('101'), extension: '6101', onDial: answer });
    expect(dialData(m)).toEqual(['PJSIP/101@site-kazan,30,tT']);
    const k = await call('kazan', { ...fromSite('moscow', '101'), extension: '101', onDial: answer });
    expect(dialData(k)).toEqual(['PJSIP/101,20,tT']);
    const own = await call('kazan', { ...phone('102'), extension: '101', onDial: answer });
    expect(dialData(own)).toEqual(['PJSIP/101,20,tT']);
  });

  it('denies by class of service with an announcement and no Dial', async () => {
    const c = await call('moscow', { ...phone('102'), extension: '8101234567890', onDial: answer });
    expectCleanSession(c);
    expect(c.dials).toEqual([]);
    expect(c.variables).toMatchObject({ FEDPBX_HANDLED: '1', FEDPBX_ROUTE: 'none', FEDPBX_DENY: 'class-of-service' });
    expect(c.apps.map((a) => a.app.toLowerCase())).toEqual(['mset', 'progress', 'playback']);
  });

  it('emergency numbers leave through the local trunk even for the lobby phone', async () => {
    const c = await call('moscow', { ...phone('150'), extension: '112', onDial: answer });
    expect(dialData(c)).toEqual(['PJSIP/112@trunk-moscow-city,60,T']);
  });

  it("an emergency call whose own trunk fails goes nowhere else: never over the link or another site's trunk (#17)", async () => {
    const c = await call('piter', { ...phone('302'), extension: '112', onDial: () => ({ status: 'CHANUNAVAIL' }) });
    expectCleanSession(c);
    expect(c.dials.map((d) => d.rawData)).toEqual(['PJSIP/112@trunk-piter-city,60,T']);
    expect(c.variables).toMatchObject({ FEDPBX_HANDLED: '1', FEDPBX_ROUTE: 'emergency' });
    // Nor does moscow place an emergency call another site hands it.
    const relayed = await call('moscow', { ...fromSite('piter', '302'), extension: '112', onDial: answer });
    expect(relayed.dials).toEqual([]);
    expect(relayed.variables).toMatchObject({ FEDPBX_HANDLED: '1', FEDPBX_DENY: 'no-route' });
  });

  it('a PSTN call through the switchboard: press 1 rings the sales group at once', async () => {
    const c = await call('moscow', {
      callerId: { num: '79161234567', name: 'x,,U(sub)&PJSIP/999' },
      channel: 'PJSIP/trunk-moscow-city-0000003c',
      script: 'from-pstn',
      context: 'fedpbx-from-pstn',
      extension: '74955550199',
      digits: '1',
      onDial: answer,
    });
    expectCleanSession(c);
    expect(dialData(c)).toEqual(['PJSIP/101&PJSIP/102,20,tT']);
    expect(c.commands.some((x) => x.argv[0] === 'STREAM' && x.argv[2] === 'fedpbx/welcome')).toBe(true);
  });

  it('press 2 in the switchboard reaches piter over the link', async () => {
    const c = await call('moscow', { callerId: { num: '79161234567', name: 'A' }, channel: 'PJSIP/trunk-moscow-city-0000003d', script: 'from-pstn', context: 'fedpbx-from-pstn', extension: '74955550199', digits: '2', onDial: answer });
    expect(dialData(c)).toEqual(['PJSIP/301@site-piter,20,tT']);
  });
});

describe('hostile caller data and awkward hangups', () => {
  it('caller-ID text never reaches application data', async () => {
    const c = await call('moscow', {
      callerId: { num: '101,U(evil)&PJSIP/999', name: 'x",,U(sub)&PJSIP/666\\' },
      channel: 'PJSIP/101-0000004e',
      script: 'internal',
      extension: '301',
      onDial: answer,
    });
    expectCleanSession(c);
    // The only caller data that reaches an application is the recording name, filtered to its digits. The injected
    // targets are matched whole: a bare 666 also matches the recording's time-based unique id for hours at a time.
    for (const a of c.apps.filter((x) => x.app.toLowerCase() !== 'mset')) {
      expect(a.data).not.toMatch(/U\(|&|PJSIP\/666|PJSIP\/999|evil|"/);
    }
    expect(c.apps.find((a) => a.app.toLowerCase() === 'mixmonitor')?.data).toMatch(/^fedpbx\/moscow\/\d{8}-\d{6}-101999-301-[0-9.]+\.wav,b$/);
    expect(c.dials.map((d) => d.targets)).toEqual([['PJSIP/301@site-piter']]);
  });

  it('a dialled number with injection characters is refused as invalid', async () => {
    const c = await call('moscow', { ...phone('101'), extension: '301&PJSIP/999', onDial: answer });
    expectCleanSession(c);
    expect(c.dials).toEqual([]);
    expect(c.variables.FEDPBX_DENY).toBe('invalid-number');
  });

  it('the caller hanging up during Dial ends the session: no further attempt, socket closed', async () => {
    const c = await call('moscow', { ...phone('101'), extension: '301', onDial: () => ({ status: 'CHANUNAVAIL', ringMs: 50 }), hangup: { when: 'during-dial', dial: 1, split: true } });
    expectCleanSession(c);
    expect(c.dials).toHaveLength(1);
    expect(c.agiStatus).toBe('HANGUP');
  });

  it('a caller gone before the first command is still tagged and closed quickly', async () => {
    const c = await call('moscow', { ...phone('101'), extension: '301', onDial: answer, hangup: { when: 'before-first-command' } });
    expectCleanSession(c);
    expect(c.dials).toHaveLength(0);
    expect(c.durationMs).toBeLessThan(2000);
  });

  it('HANGUP racing a command in flight does not confuse the session', async () => {
    const c = await call('moscow', { ...phone('101'), extension: '301', onDial: answer, hangup: { when: 'race', command: 1, delayMs: 20 } });
    expectCleanSession(c);
    expect(c.variables.FEDPBX_HANDLED).toBe('1');
  });

  it.each(['byte', 'lines', { splitAt: 7 }, { random: { seed: 7, maxChunk: 5 } }] as const)('the environment split as %j still routes', async (chunking) => {
    const c = await call('moscow', { ...phone('101'), extension: '102', onDial: answer, chunking });
    expectCleanSession(c);
    expect(dialData(c)).toEqual(['PJSIP/102,20,tT']);
  });
});

describe('operating the agent', () => {
  it('exposes Prometheus metrics for sessions, first-command latency, outcomes and the snapshot', async () => {
    await call('moscow', { ...phone('101'), extension: '102', onDial: answer });
    const res = await fetch(`http://127.0.0.1:${(agents.moscow as AgentProcess).metricsPort}/metrics`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toMatch(/^fedpbx_agi_sessions_total\{result="completed"\} [1-9]/m);
    expect(text).toMatch(/^fedpbx_agi_time_to_first_command_seconds_count [1-9]/m);
    expect(text).toMatch(/^fedpbx_calls_total\{entry="internal",route_kind="local",outcome="answered"\} [1-9]/m);
    expect(text).toMatch(/^fedpbx_snapshot_revision 1$/m);
    expect(text).toMatch(/^fedpbx_snapshot_age_seconds \d/m);
    expect(text).toMatch(/^fedpbx_connection_up\{peer="nats"\} 0$/m);
    const health = await fetch(`http://127.0.0.1:${(agents.moscow as AgentProcess).metricsPort}/healthz`);
    expect(await health.json()).toMatchObject({ site: 'moscow', revision: 1 });
  });

  it('`fedpbx-agent trace` explains a call against the snapshot on the box, with a what-if', async () => {
    const { execFile } = await import('node:child_process');
    const { AGENT_MAIN } = await import('../support/agent-process.js');
    const moscow = agents.moscow as AgentProcess;
    const run = (args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, [AGENT_MAIN, 'trace', ...args], { env: { ...controller.agentEnv('moscow', moscow.stateDir) } }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
    const normal = await run(['101', '88125551234']);
    expect(normal).toContain('_8812XXXXXXX');
    expect(normal).toMatch(/=> teho \(national\)/);
    expect(normal).toContain('Dial PJSIP/88125551234@site-piter');
    const linkDown = await run(['101', '88125551234', '--link-down', 'piter']);
    expect(linkDown).toContain('the link to piter is down');
    expect(linkDown).toMatch(/=> pstn \(national\)/);
    const json = JSON.parse(await run(['150', '88125551234', '--json'])) as { plan: { deny: { code: string } } };
    expect(json.plan.deny.code).toBe('class-of-service');
  });
});
