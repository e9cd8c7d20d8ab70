// The agent on its own: no network at all, restarts, bad snapshots, more calls than it may take.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { TestController } from '../support/signed-snapshots.js';

const controller = new TestController();
const fed = foundingScenario();
const started: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.stop('SIGKILL')));
});

async function agent(env: Record<string, string>): Promise<AgentProcess> {
  const a = await startAgent({ ...controller.agentEnv('moscow', ''), ...env });
  started.push(a);
  return a;
}
const localCall = (a: AgentProcess, extra = {}) =>
  placeCall({ host: '127.0.0.1', port: a.agiPort, timeoutMs: 8000, callerId: { num: '101' }, channel: 'PJSIP/101-00000001', script: 'internal', extension: '102', onDial: () => ({ status: 'ANSWER' }), ...extra });

describe('agent survival', () => {
  it('restarted with no network and no bootstrap file, serves from its state dir within 1 s of start', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-state-'));
    const first = await agent({ FEDPBX_STATE_DIR: stateDir, FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 4) });
    await first.stop('SIGKILL');
    const second = await agent({ FEDPBX_STATE_DIR: stateDir, FEDPBX_NATS_URL: 'nats://127.0.0.1:1' });
    // Process uptime when the listener served (module loading, snapshot verification and compilation included), less
    // the time its main thread waited for a CPU on a loaded host: no wait for the network it does not have.
    expect(Number(second.ready.uptimeMs) - Number(second.ready.waitedForCpuMs ?? 0)).toBeLessThan(1000);
    expect(second.ready.revision).toBe(4);
    const c = await localCall(second);
    expect(c.dials.map((d) => d.rawData)).toEqual(['PJSIP/102,20,tT']);
    expect(c.variables.FEDPBX_REVISION).toBe('4');
  });

  it('refuses a bootstrap snapshot with a bad signature and keeps the last-known-good', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-state-'));
    const good = await agent({ FEDPBX_STATE_DIR: stateDir, FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 2) });
    await good.stop();
    const forger = new TestController();
    const forged = forger.writeSnapshot(fed, 'moscow', 3);
    const again = await agent({ FEDPBX_STATE_DIR: stateDir, FEDPBX_BOOTSTRAP_SNAPSHOT: forged });
    await expect.poll(() => again.logs.some((l) => l.msg === 'bootstrap snapshot not applied' && l.code === 'bad-signature')).toBe(true);
    expect((await localCall(again)).variables.FEDPBX_REVISION).toBe('2');
  });

  it('with no snapshot at all it leaves calls to the dialplan fallback (no FEDPBX_HANDLED)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-bad-'));
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"format":1,"siteId":"moscow"');
    const a = await agent({ FEDPBX_BOOTSTRAP_SNAPSHOT: file });
    const c = await localCall(a);
    expect(c.variables.FEDPBX_HANDLED).toBeUndefined();
    expect(c.dials).toEqual([]);
    expect(c.serverClosed).toBe(true);
  });

  it('over its session limit it refuses at once with `failure`, so Asterisk runs the fallback', async () => {
    const a = await agent({ FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 1), FEDPBX_AGI_MAX_SESSIONS: '1' });
    const long = localCall(a, { onDial: () => ({ status: 'ANSWER', talkMs: 800 }) });
    await new Promise((r) => setTimeout(r, 150));
    const refused = await localCall(a);
    expect(refused.agiStatus).toBe('FAILURE');
    expect(refused.failureLine).toBe(true);
    expect(refused.durationMs).toBeLessThan(500);
    expect((await long).agiStatus).toBe('SUCCESS');
  });

  it('drains calls in progress on SIGTERM and exits 0', async () => {
    const a = await agent({ FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 1) });
    const inProgress = localCall(a, { onDial: () => ({ status: 'ANSWER', talkMs: 300 }) });
    await new Promise((r) => setTimeout(r, 100));
    const code = await a.stop('SIGTERM');
    expect(code).toBe(0);
    expect((await inProgress).agiStatus).toBe('SUCCESS');
  });

  it('exits with a message naming the bad variable', async () => {
    await expect(startAgent({ FEDPBX_SITE_ID: 'Not A Site', FEDPBX_CONTROLLER_PUBLIC_KEY: 'x' }, { timeoutMs: 5000 })).rejects.toThrow(
      /FEDPBX_SITE_ID[\s\S]*FEDPBX_CONTROLLER_PUBLIC_KEY/,
    );
  });
});
