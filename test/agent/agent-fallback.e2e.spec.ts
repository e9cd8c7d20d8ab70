// Issue #15 §2: every call the agent does not take runs the fallback within 3 s, and the fallback still reaches
// the other sites. Real agent processes (run on their own, and under `fedpbx-agent supervise` as systemd runs
// them); Asterisk is the dialplan peer running the rendered extensions_fedpbx.conf around the FastAGI peer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foundingScenario, renderExtensions } from '@fedpbx/dialplan';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { AgiServer } from '../../apps/agent/src/agi/agi-server.js';
import { ActiveCalls } from '../../apps/agent/src/call/active-calls.js';
import { CallHandler } from '../../apps/agent/src/call/call-handler.js';
import { CallLegBook } from '../../apps/agent/src/call/call-legs.js';
import { CDR_COLUMNS, type CdrColumnKey } from '../../apps/agent/src/cdr/cdr-columns.js';
import { cdrFromColumns } from '../../apps/agent/src/cdr/cdr-record.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { RoutingState } from '../../apps/agent/src/state/routing-state.js';
import { SnapshotStore } from '../../apps/agent/src/state/snapshot-store.js';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { Dialplan, type DialplanCall } from '../support/asterisk/dialplan-peer.js';
import { TestController } from '../support/signed-snapshots.js';
import { until } from '../support/until.js';

const controller = new TestController();
const fed = foundingScenario();
const dialplan = new Dialplan(renderExtensions(controller.snapshot(fed, 'moscow', 1).config, { agiHost: '127.0.0.1', agiPort: 4573 }));
const started: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.stop('SIGKILL')));
});

async function agent(env: Record<string, string> = {}, supervise = false): Promise<AgentProcess> {
  const a = await startAgent(
    { ...controller.agentEnv('moscow', ''), FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 1), ...env },
    { supervise },
  );
  started.push(a);
  // Steady state under the supervisor: a standby agent prepared beside the serving one (a loaded 2-core test
  // machine takes seconds to start a Node process: that is why the standby exists).
  if (supervise) await a.waitForLog((l) => l.msg === 'standby agent ready to take over', 30_000, true);
  return a;
}

/** A phone at moscow (101) dials `exten`; piter's 305 by default (an inter-site number). */
function call(port: number, exten = '305', text?: Dialplan): Promise<DialplanCall> {
  return (text ?? dialplan).run({ context: 'fedpbx-internal', exten, callerId: { num: '101' }, channel: 'PJSIP/101-00000001', agi: { host: '127.0.0.1', port }, agiTimeoutMs: 10_000 });
}

/** The agent took the call and dialled piter over the link; the dialplan's fallback did nothing. */
function expectHandled(c: DialplanCall): void {
  expect(c.variables.FEDPBX_HANDLED).toBe('1');
  expect(c.agi?.dials.map((d) => d.rawData)).toEqual([expect.stringMatching(/^PJSIP\/305@site-piter,30,/)]);
  expect(c.dials).toEqual([]);
}

/** The fallback dialled piter over the same link within 3 s of the call's start. */
function expectFallback(c: DialplanCall): void {
  expect(c.variables.FEDPBX_HANDLED ?? '').toBe('');
  // With the call id the agent would have given it (the peer's uniqueid), on the INVITE to piter.
  expect(c.dials.map((d) => d.data)).toEqual(['PJSIP/305@site-piter,30,tTb(fedpbx-predial^s^1(moscow/1795700000.1))']);
  expect(c.dials[0]?.headers).toEqual({ 'X-Fedpbx-Call': 'moscow/1795700000.1' });
  expect(c.msToFirstDial).toBeLessThan(3000);
}

/**
 * The call's one CDR is the fallback's Dial (main/cdr.c): it says what the fallback did - the call and its origin, no
 * route, leg list or revision of the agent's plan, and a recording only when one runs - as the agent reports it.
 */
function expectFallbackRecord(c: DialplanCall, recording?: string): void {
  expect(c.cdr).toMatchObject({ FEDPBX_CALL: 'moscow/1795700000.1', FEDPBX_ORIGIN: 'moscow' });
  const fixed: Partial<Record<CdrColumnKey, string>> = {
    uniqueId: '1795700000.1', start: '2026-12-07 10:00:00', end: '2026-12-07 10:01:00', disposition: 'ANSWERED',
    dstChannel: 'PJSIP/site-piter-00000002', lastData: c.dials[0]?.data ?? '',
  };
  const mapped = cdrFromColumns(
    (key) => fixed[key] ?? c.cdr[CDR_COLUMNS.find((col) => col.key === key)?.file ?? ''],
    (key) => (fixed[key] === undefined ? undefined : new Date(`${fixed[key]!.replace(' ', 'T')}Z`).toISOString()),
  );
  expect(mapped.ok && mapped.cdr).toEqual(expect.objectContaining({ callId: 'moscow/1795700000.1', originSiteId: 'moscow' }));
  const cdr = mapped.ok ? mapped.cdr : undefined;
  expect([cdr?.routeKind, cdr?.targetSiteId, cdr?.trunkId, cdr?.snapshotRevision, cdr?.recordingFile]).toEqual([undefined, undefined, undefined, undefined, recording]);
}

/** A connection the agent has accepted, with the environment not yet sent: a call before its first command. */
async function acceptedConnection(port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  await new Promise((r) => setTimeout(r, 100)); // accepted by the running agent
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => {
    let since = 0;
    socket.once('data', () => undefined);
    const t0 = Date.now();
    socket.once('close', () => resolve(Date.now() - t0 + since));
    since = 0;
  });
  return { socket, closed };
}

const ENV = 'agi_network: yes\nagi_network_script: internal\nagi_request: agi://127.0.0.1/internal\nagi_channel: PJSIP/101-00000009\nagi_callerid: 101\nagi_extension: 305\nagi_uniqueid: 1.9\n\n';

describe('calls the agent does not take fall back at once, and the fallback reaches other sites', () => {
  it('no snapshot in force: the agent closes without a command (AGISTATUS=SUCCESS) and the fallback dials piter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-bad-'));
    writeFileSync(join(dir, 'broken.json'), '{"format":1');
    const a = await agent({ FEDPBX_BOOTSTRAP_SNAPSHOT: join(dir, 'broken.json') });
    const c = await call(a.agiPort);
    expect(c.agiStatus).toBe('SUCCESS');
    expectFallback(c);
  });

  it('an unknown entry: the fallback runs too', async () => {
    const a = await agent();
    const odd = new Dialplan(renderExtensions(controller.snapshot(fed, 'moscow', 1).config, { agiHost: '127.0.0.1', agiPort: 4573 }).replaceAll('/internal)', '/no-such-entry)'));
    const c = await call(a.agiPort, '305', odd);
    expect(c.agi?.serverClosed).toBe(true);
    expectFallback(c);
    expectHandled(await call(a.agiPort));
  });

  /**
   * The agent's own AgiServer and CallHandler in this process on moscow's snapshot, with `breakIt` planting a bug in
   * its routing state or its calls in progress; `run` calls in and sees the errors the call path logged.
   */
  async function withBrokenCallPath(
    breakIt: (parts: { state: RoutingState; activeCalls: ActiveCalls; metrics: AgentMetrics }) => void,
    run: (port: number, failed: unknown[]) => Promise<void>,
    federation = fed,
  ): Promise<void> {
    const state = new RoutingState();
    state.apply(controller.snapshot(federation, 'moscow', 1));
    const activeCalls = new ActiveCalls();
    const metrics = new AgentMetrics(false);
    breakIt({ state, activeCalls, metrics });
    const failed: unknown[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void failed.push(JSON.parse(line)) });
    const server = new AgiServer({ host: '127.0.0.1', port: 0, maxSessions: 4, idleTimeoutMs: 10_000 }, new CallHandler(state, metrics, log, undefined, activeCalls), metrics, log);
    const { port } = await server.start();
    try {
      await run(port, failed);
    } finally {
      await server.stop(0);
    }
  }

  const sessionFailed = (message: string) => [expect.objectContaining({ msg: 'FastAGI session failed', err: expect.objectContaining({ message }) })];

  it('an exception before the first command (a bug on the call path): the session closes without one and the fallback runs', async () => {
    // The routing state fails the way a bug would, on the first thing the call path reads from it.
    const breakIt = ({ state }: { state: RoutingState }) =>
      Object.defineProperty(state, 'health', { get: () => { throw new TypeError('a bug on the call path'); } });
    await withBrokenCallPath(breakIt, async (port, failed) => {
      const c = await call(port);
      expect(c.agiStatus).toBe('SUCCESS');
      expect(c.agi?.serverClosed).toBe(true);
      expectFallback(c);
      expect(failed).toEqual(sessionFailed('a bug on the call path'));
    });
  });

  it('an exception after the first command, before the caller heard anything: the guard is cleared and the fallback runs', async () => {
    // The first MSet has set FEDPBX_HANDLED=1; a bug on the call path right after its answer (counting the call as
    // in progress) must not leave the dialplan hanging up a call the agent never served.
    const breakIt = ({ activeCalls }: { activeCalls: ActiveCalls }) => {
      activeCalls.begin = () => {
        throw new TypeError('a bug after the first command');
      };
    };
    await withBrokenCallPath(breakIt, async (port, failed) => {
      const c = await call(port);
      expect(c.agi?.serverClosed).toBe(true);
      expectFallback(c);
      expect(failed).toEqual(sessionFailed('a bug after the first command'));
      expectFallbackRecord(c);
    });
  });

  it('an exception right after the first command went out (its metric): the release waits for its answer, then the fallback runs', async () => {
    // The first MSet is on the wire when the time to first command is observed: a throw there must not take the
    // first MSet's answer for the release's and end the session with the guard still set (the dialplan hanging up).
    const breakIt = ({ metrics }: { metrics: AgentMetrics }) => {
      metrics.observeTimeToFirstCommand = () => {
        throw new TypeError('a bug after the first write');
      };
    };
    await withBrokenCallPath(breakIt, async (port, failed) => {
      const c = await call(port);
      expect(c.agi?.serverClosed).toBe(true);
      expect(c.agi?.apps.map((a) => a.app)).toEqual(['MSet', 'MSet']);
      expectFallback(c);
      expect(failed).toEqual(sessionFailed('a bug after the first write'));
      expectFallbackRecord(c);
    });
  });

  it('a recorded call released after its MixMonitor ran: the CDR keeps the recording, not the route', async () => {
    // moscow records its inter-site calls: the first MSet names the file, MixMonitor starts it, then a bug before the
    // Dial (the leg list's update) - the caller has heard nothing, the fallback dials, the file exists.
    const takeUpdate = Object.getOwnPropertyDescriptor(CallLegBook.prototype, 'takeUpdate')!;
    Object.defineProperty(CallLegBook.prototype, 'takeUpdate', { configurable: true, value: () => { throw new TypeError('a bug before the Dial'); } });
    try {
      await withBrokenCallPath(() => undefined, async (port, failed) => {
        const c = await call(port);
        expect(c.agi?.apps.map((a) => a.app)).toContain('MixMonitor');
        expectFallback(c);
        expect(failed).toEqual(sessionFailed('a bug before the Dial'));
        expectFallbackRecord(c, c.agi?.variables.FEDPBX_REC_FILE);
      });
    } finally {
      Object.defineProperty(CallLegBook.prototype, 'takeUpdate', takeUpdate);
    }
  });

  /** The founding federation with two emergency trunks at moscow: moscow-city and moscow-backup. */
  function twoEmergencyTrunks(): typeof fed {
    const two = structuredClone(fed);
    const city = two.trunks.find((t) => t.id === 't-moscow-city')!;
    Object.assign(city, { emergency: true });
    two.trunks.push({ ...city, id: 't-moscow-backup', name: 'moscow-backup', host: 'sip2.msk-carrier.example', username: 'fedpbx-msk2' });
    return two;
  }

  /**
   * `takeUpdate` (the leg list's update before each Dial) throwing from its `failOn`-th call - a bug on the way to a
   * later Dial, after the earlier ones failed - in the agent's call path on `federation`.
   */
  async function withBugBeforeDial(failOn: number, federation: typeof fed, run: (port: number, failed: unknown[]) => Promise<void>): Promise<void> {
    const takeUpdate = Object.getOwnPropertyDescriptor(CallLegBook.prototype, 'takeUpdate')!;
    let calls = 0;
    Object.defineProperty(CallLegBook.prototype, 'takeUpdate', {
      configurable: true,
      value(this: CallLegBook) {
        if (++calls >= failOn) throw new TypeError('a bug before a later Dial');
        return (takeUpdate.value as () => string | undefined).call(this);
      },
    });
    try {
      await withBrokenCallPath(() => undefined, run, federation);
    } finally {
      Object.defineProperty(CallLegBook.prototype, 'takeUpdate', takeUpdate);
    }
  }

  it('an emergency call whose first trunk failed, then a bug before the next trunk: released, the fallback dials every emergency trunk', async () => {
    // The fallback of 112 dials each of the site's emergency trunks: the one the agent had not reached yet is a
    // working path, so the call is given back rather than hung up (the guard alone is cleared: the CDR keeps the
    // emergency route and the leg list, which the fallback's Dials to the same trunks match).
    const twoTrunks = twoEmergencyTrunks();
    const text = new Dialplan(renderExtensions(controller.snapshot(twoTrunks, 'moscow', 1).config, { agiHost: '127.0.0.1', agiPort: 4573 }));
    await withBugBeforeDial(2, twoTrunks, async (port, failed) => {
      const c = await text.run({
        context: 'fedpbx-internal', exten: '112', callerId: { num: '101' }, channel: 'PJSIP/101-00000001', agi: { host: '127.0.0.1', port }, agiTimeoutMs: 10_000,
        onDial: ({ data }) => ({ status: data.includes('@trunk-moscow-backup') ? 'CONGESTION' : 'ANSWER' }),
      });
      expect(c.agi?.dials.map((d) => d.rawData)).toEqual([expect.stringMatching(/^PJSIP\/112@trunk-moscow-backup,/)]);
      expect(c.variables.FEDPBX_HANDLED ?? '').toBe('');
      expect(c.dials.map((d) => [d.data, d.status])).toEqual([['PJSIP/112@trunk-moscow-backup', 'CONGESTION'], ['PJSIP/112@trunk-moscow-city', 'ANSWER']]);
      expect(c.cdr).toMatchObject({ FEDPBX_ROUTE: 'emergency', FEDPBX_TRUNK: 't-moscow-backup', FEDPBX_LEGS: expect.stringContaining('trunk-moscow-city') });
      expect(failed).toEqual(sessionFailed('a bug before a later Dial'));
    });
  });

  it('an inter-site call whose link Dial failed, then a bug before its PSTN attempt: hung up, not re-dialled over the same link', async () => {
    // The fallback of 305 is one Dial over the link the agent has just seen fail (fedpbx-fallback-sites uses the
    // agent's own hop, nextHop): releasing would hold the caller on a second try of a dead link (32 s of SIP timer B
    // when it died silently) only to hang up; the PSTN attempt the agent lost is not in any fallback.
    await withBugBeforeDial(2, fed, async (port, failed) => {
      const c = await dialplan.run({
        context: 'fedpbx-internal', exten: '305', callerId: { num: '101' }, channel: 'PJSIP/101-00000001', agi: { host: '127.0.0.1', port }, agiTimeoutMs: 10_000,
        onDial: ({ data }) => ({ status: data.includes('@site-piter') ? 'CHANUNAVAIL' : 'ANSWER' }),
      });
      expect(c.agi?.dials.map((d) => d.rawData)).toEqual([expect.stringMatching(/^PJSIP\/305@site-piter,/)]);
      expect(c.variables.FEDPBX_HANDLED).toBe('1');
      expect(c.dials).toEqual([]);
      expect(failed).toEqual(sessionFailed('a bug before a later Dial'));
    });
  });

  it('a call whose end throws (leaving the calls in progress) still ends its session at once, the failure told', async () => {
    const breakIt = ({ activeCalls }: { activeCalls: ActiveCalls }) => {
      activeCalls.end = () => {
        throw new TypeError('a bug at the end of the call');
      };
    };
    await withBrokenCallPath(breakIt, async (port, failed) => {
      const started = performance.now();
      const c = await call(port);
      expect(c.agi?.serverClosed).toBe(true);
      expect(performance.now() - started).toBeLessThan(3000); // not the 10 s idle bound
      expectHandled(c);
      expect(failed).toEqual(sessionFailed('a bug at the end of the call'));
    });
  });

  it('an agent stopped for a restart (its port refuses): the fallback dials piter over the link, not 404', async () => {
    const a = await agent();
    expectHandled(await call(a.agiPort));
    await a.stop('SIGTERM');
    const c = await call(a.agiPort);
    expect(c.agiStatus).toBe('FAILURE');
    expectFallback(c);
    // ... and kazan by its prefix, an own extension, emergency through the own trunk.
    expect((await call(a.agiPort, '6101')).dials.map((d) => d.data)).toEqual(['PJSIP/101@site-kazan,30,tTb(fedpbx-predial^s^1(moscow/1795700000.1))']);
    expect((await call(a.agiPort, '102')).dials.map((d) => d.data)).toEqual(['PJSIP/102,20,tT']);
    expect((await call(a.agiPort, '112')).dials.map((d) => d.data)).toEqual(['PJSIP/112@trunk-moscow-city']);
  });

  it('event loop stalled (no supervisor): the watchdog thread kills the agent, its calls fall back within 3 s', async () => {
    const a = await agent({ FEDPBX_TEST_BLOCK_EVENT_LOOP_ON_SIGUSR2: '1', FEDPBX_EVENT_LOOP_STALL_MS: '1000' });
    const held = await acceptedConnection(a.agiPort);
    const exited = new Promise<NodeJS.Signals | null>((r) => a.child.once('exit', (_code, signal) => r(signal)));
    const t0 = Date.now();
    process.kill(a.pid, 'SIGUSR2');
    held.socket.write(ENV);
    expect(await exited).toBe('SIGKILL');
    await held.closed; // closed without a command: AGISTATUS=SUCCESS, FEDPBX_HANDLED unset -> fallback
    const alarm = await a.waitForLog((l) => l.msg === 'event loop stalled longer than FEDPBX_EVENT_LOOP_STALL_MS: killing the agent so that Asterisk falls back at once', 1000, true);
    // Within 3 s of the agent's own time: the time its loop waited for a CPU on this loaded machine does not count
    // (the watchdog does not count it either: a starved agent is not a stuck one). On an idle box that is wall time.
    expect(Number(alarm.ownMs)).toBeLessThan(3000);
    expect(Date.now() - t0).toBeLessThan(3000 + Number(alarm.silentMs) - Number(alarm.ownMs) + 1000);
    expectFallback(await call(a.agiPort));
  });
});

describe('fedpbx-agent supervise: stopped, hung, killed and restarting agents', { timeout: 60_000 }, () => {
  it('SIGKILL: calls arriving meanwhile wait in the backlog and the new agent takes them', async () => {
    const a = await agent({}, true);
    const first = a.agentPid();
    expectHandled(await call(a.agiPort));
    process.kill(first, 'SIGKILL');
    const calls = await Promise.all([0, 1, 2, 3, 4].map(() => call(a.agiPort)));
    for (const c of calls) {
      expectHandled(c);
      expect(c.durationMs).toBeLessThan(3000);
    }
    expect(a.agentPid()).not.toBe(first);
    // ... and a new standby is prepared for the next failure.
    await a.waitForLog((l) => l.msg === 'standby agent ready to take over' && l.pid !== a.agentPid(), 30_000);
  });

  it('the standby takes over with the newest snapshot in the state dir, not the one it prepared with', async () => {
    const a = await agent({}, true);
    const before = await call(a.agiPort);
    expect(before.variables.FEDPBX_REVISION).toBe('1');
    // As the serving agent stores a snapshot it applied (SnapshotStore: a record of <state>/snapshots' journal).
    const snapshot = controller.snapshot(fed, 'moscow', 2);
    const store = new SnapshotStore(a.stateDir, 'moscow', []);
    await store.save(snapshot, JSON.stringify(snapshot));
    await store.close();
    process.kill(a.agentPid(), 'SIGKILL');
    const c = await call(a.agiPort);
    expectHandled(c);
    expect(c.variables.FEDPBX_REVISION).toBe('2');
  });

  it('SIGTERM (systemctl stop): the call in progress finishes, the supervisor exits 0 and the port then refuses', async () => {
    const a = await agent({}, true);
    const inProgress = dialplan.run({
      context: 'fedpbx-internal',
      exten: '305',
      callerId: { num: '101' },
      agi: { host: '127.0.0.1', port: a.agiPort },
      onDial: () => ({ status: 'ANSWER', talkMs: 800 }),
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(await a.stop('SIGTERM')).toBe(0);
    expectHandled(await inProgress);
    const after = await call(a.agiPort);
    expect(after.agiStatus).toBe('FAILURE');
    expectFallback(after);
  });

  it('SIGSTOP before the first command: killed after 1.5 s of silence, the accepted call falls back, queued ones are served', async () => {
    const a = await agent({}, true);
    const stopped = a.agentPid();
    const held = await acceptedConnection(a.agiPort);
    const t0 = Date.now();
    process.kill(stopped, 'SIGSTOP');
    held.socket.write(ENV);
    const queued = call(a.agiPort);
    await held.closed;
    const heldMs = Date.now() - t0;
    // Silence counts from the child's last heartbeat (every 250 ms), which may come up to 250 ms before the stop.
    expect(heldMs).toBeGreaterThan(1500 - 250 - 50);
    expect(heldMs).toBeLessThan(3000);
    const q = await queued;
    expectHandled(q);
    expect(q.durationMs).toBeLessThan(3000);
    await a.waitForLog((l) => l.msg === 'agent silent (stopped or hung): killing it so that its calls fall back, and starting a new one' && l.agentPid === stopped, 1000, true);
  });

  it('serving agent and standby both stopped, no agent for a while: the refuser answers `failure`, calls fall back within 3 s', async () => {
    // "For a while": the agents started after the two stopped ones die at start while a gate file exists (as a box
    // whose agent crashes on start would). Without it a quiet machine starts a new agent in ~0.3 s, inside the
    // refuser's 0.5 s, and that agent takes the call from the backlog (the SIGKILL case above) - nothing refused.
    const gateDir = mkdtempSync(join(tmpdir(), 'fedpbx-start-gate-'));
    const gate = join(gateDir, 'closed');
    const preload = join(gateDir, 'gate.cjs');
    writeFileSync(preload, `if (require('node:fs').existsSync(${JSON.stringify(gate)})) process.exit(70);\n`);
    const a = await agent({ NODE_OPTIONS: `--require ${preload}` }, true);
    const standby = Number([...a.logs].reverse().find((l) => l.msg === 'standby agent ready to take over')?.pid);
    const serving = a.agentPid();
    writeFileSync(gate, '');
    process.kill(standby, 'SIGSTOP');
    process.kill(serving, 'SIGSTOP');
    const c = await call(a.agiPort);
    expect(c.agiStatus).toBe('FAILURE');
    expect(c.agi?.failureLine).toBe(true);
    expectFallback(c);
    await a.waitForLog((l) => l.msg === 'no agent serving: calls are answered `failure` so that Asterisk falls back at once', 1000, true);
    rmSync(gate);
    // Once a new agent serves, the refuser steps aside and the agent takes the calls again.
    await a.waitForLog((l) => l.msg === 'an agent serves again: the refuser stops', 30_000, true);
    expectHandled(await call(a.agiPort));
  });

  it('an agent stopped while it starts: killed once the start timeout of its own time has passed, and a new one serves', async () => {
    // The start is timed in the child's own time (FEDPBX_SUPERVISOR_START_TIMEOUT_MS), as the heartbeat is: a
    // stopped child is asleep in its own time, so it is killed; one merely waiting for a CPU would not be.
    const gateDir = mkdtempSync(join(tmpdir(), 'fedpbx-start-stop-'));
    const gate = join(gateDir, 'closed');
    const preload = join(gateDir, 'stop.cjs');
    // Agents only (`main.js run`): the supervisor's refuser (`node -e`) is spawned from the same environment.
    writeFileSync(preload, `if (process.argv.at(-1) === 'run' && require('node:fs').existsSync(${JSON.stringify(gate)})) process.kill(process.pid, 'SIGSTOP');\n`);
    const a = await startAgent(
      {
        ...controller.agentEnv('moscow', ''),
        FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 1),
        FEDPBX_SUPERVISOR_STANDBY: 'off',
        FEDPBX_SUPERVISOR_START_TIMEOUT_MS: '2000',
        NODE_OPTIONS: `--require ${preload}`,
      },
      { supervise: true },
    );
    started.push(a);
    expectHandled(await call(a.agiPort));
    writeFileSync(gate, '');
    const first = a.agentPid();
    const t0 = Date.now();
    process.kill(first, 'SIGKILL');
    const killed = await a.waitForLog((l) => l.msg === 'agent did not start in time: killing it', 15_000, true);
    const killedAfterMs = Date.now() - t0;
    rmSync(gate);
    expect(Number(killed.timeoutMs)).toBe(2000);
    expect(Number(killed.ownMs)).toBeGreaterThan(2000);
    expect(Number(killed.agentPid)).not.toBe(first);
    // Its own time while stopped is wall time past the meter's grace: about 2 s, plus the spawn on this machine.
    expect(killedAfterMs).toBeLessThan(2000 + 8000);
    // A child spawned before the gate went away stops too and is killed the same way; then one serves.
    const served = await until('a new agent serves', async () => {
      const c = await call(a.agiPort);
      return c.variables.FEDPBX_HANDLED === '1' ? c : undefined;
    }, 30_000);
    expectHandled(served);
    expect(a.agentPid()).not.toBe(first);
  });

  it('event loop stalled under the supervisor: the accepted call is released within 3 s and the next one is served', async () => {
    // The supervisor's wall-time heartbeat limit out of the way: the watchdog's alarm is what this test shows.
    const a = await agent({ FEDPBX_TEST_BLOCK_EVENT_LOOP_ON_SIGUSR2: '1', FEDPBX_SUPERVISOR_HEARTBEAT_TIMEOUT_MS: '30000' }, true);
    const stalled = a.agentPid();
    const held = await acceptedConnection(a.agiPort);
    const t0 = Date.now();
    process.kill(stalled, 'SIGUSR2');
    held.socket.write(ENV);
    await held.closed;
    const alarm = await a.waitForLog((l) => String(l.msg).startsWith('event loop stalled') && l.pid === stalled, 1000, true);
    expect(Number(alarm.ownMs)).toBeLessThan(3000); // the agent's own time, as above
    expect(Date.now() - t0).toBeLessThan(3000 + Number(alarm.silentMs) - Number(alarm.ownMs) + 1000);
    expectHandled(await call(a.agiPort));
  });

  it('planned restart (SIGHUP) under a steady call rate: no call refused or dropped, the call in progress finishes', async () => {
    const a = await agent({}, true);
    const old = a.agentPid();
    const long = dialplan.run({
      context: 'fedpbx-internal',
      exten: '305',
      callerId: { num: '101' },
      agi: { host: '127.0.0.1', port: a.agiPort },
      onDial: () => ({ status: 'ANSWER', talkMs: 1500 }),
    });
    const calls: Promise<DialplanCall>[] = [];
    const every = setInterval(() => calls.push(call(a.agiPort)), 40); // 25 calls/s
    await new Promise((r) => setTimeout(r, 500));
    process.kill(a.pid, 'SIGHUP');
    await a.waitForLog((l) => l.msg === 'old agent exited', 25_000);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(every);
    const done = await Promise.all(calls);
    expect(done.length).toBeGreaterThan(40);
    for (const c of done) expectHandled(c);
    expectHandled(await long);
    expect(a.agentPid()).not.toBe(old);
    // The old agent released sync, AMI and the state dir before the new one took them.
    const released = a.logs.findIndex((l) => l.msg === 'planned restart: stop accepting, release the state dir, finish the calls in progress');
    const took = a.logs.findIndex((l) => l.msg === 'agent took over sync, AMI and the state dir');
    expect(released).toBeGreaterThan(-1);
    expect(took).toBeGreaterThan(released);
  });
});
