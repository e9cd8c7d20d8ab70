// An agent that starts before its NATS server can be reached: the first connect fails (a server that answers
// "Authentication Timeout", as a loaded nats-server does, then nothing listening at all), and the agent must keep
// trying, keep routing calls and show an alarm - then sync as soon as a real nats-server comes up on that address.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foundingScenario } from '@fedpbx/dialplan';
import { createNatsTrust, issuerOf, mintAgentCreds } from '@fedpbx/nats-auth';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { freePort, startNatsServer } from '../support/nats-server.js';
import { TestController } from '../support/signed-snapshots.js';
import { controllerSide } from './agent-harness.js';

const controller = new TestController();
const fed = foundingScenario();
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * What nats-server sends a client that did not authenticate within auth_timeout (server/client.go
 * authTimeout: `-ERR 'Authentication Timeout'`, then it closes the connection), for every connection.
 */
async function authTimeoutServer(port: number): Promise<{ connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    connections += 1;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.write(`INFO {"server_id":"FAKE","server_name":"fake","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576,"auth_required":true,"nonce":"bm9uY2U"}\r\n`);
    setTimeout(() => s.end(`-ERR 'Authentication Timeout'\r\n`), 50);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Health {
  revision: number;
  alarms: { code: string; severity: string; message: string }[];
}
const health = async (a: AgentProcess): Promise<Health> => (await (await fetch(`http://127.0.0.1:${a.metricsPort}/healthz`)).json()) as Health;
const alarmMetric = async (a: AgentProcess): Promise<number | undefined> => {
  const text = await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text();
  const m = /^fedpbx_alarm\{code="nats-unreachable",severity="warning"\} (\S+)$/m.exec(text);
  return m === null ? undefined : Number(m[1]);
};
const revisionOf = async (a: AgentProcess): Promise<number> => {
  const c = await placeCall({ host: '127.0.0.1', port: a.agiPort, timeoutMs: 8000, callerId: { num: '101' }, channel: 'PJSIP/101-00000001', script: 'internal', extension: '102', onDial: () => ({ status: 'ANSWER' }) });
  return Number(c.variables.FEDPBX_REVISION ?? 0);
};

describe('agent whose first NATS connect fails', () => {
  it('retries with backoff, routes calls and shows nats-unreachable meanwhile, then syncs and clears it when a nats-server comes up', async () => {
    const trust = await createNatsTrust();
    const port = await freePort();
    const fake = await authTimeoutServer(port);
    cleanups.push(() => fake.close());

    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-first-connect-'));
    const creds = join(stateDir, 'nats.creds');
    writeFileSync(creds, await mintAgentCreds(issuerOf(trust), 'moscow'), { mode: 0o600 });
    chmodSync(creds, 0o600);
    const agent = await startAgent(
      controller.agentEnv('moscow', stateDir, {
        FEDPBX_NATS_URL: `nats://127.0.0.1:${port}`,
        FEDPBX_NATS_CREDS: creds,
        FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 1),
      }),
    );
    cleanups.push(() => agent.stop('SIGKILL'));

    // Refused: the alarm says why, the metric shows it, and calls route from the snapshot in force.
    await expect.poll(async () => (await health(agent)).alarms.find((a) => a.code === 'nats-unreachable')?.message ?? '', { timeout: 10_000 }).toMatch(/Authentication Timeout/);
    expect(await alarmMetric(agent)).toBe(1);
    expect(await revisionOf(agent)).toBe(1);
    // It keeps trying, with backoff rather than a hot loop (0.5 s doubling: a handful of rounds in a few seconds).
    await expect.poll(() => fake.connections(), { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    const before = fake.connections();
    await new Promise((r) => setTimeout(r, 1000));
    expect(fake.connections() - before).toBeLessThanOrEqual(3);

    // Nothing listening for a while: still trying, still routing.
    await fake.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect((await health(agent)).alarms.map((a) => a.code)).toContain('nats-unreachable');
    expect(await revisionOf(agent)).toBe(1);

    // The real server on that address: the agent connects on its own, syncs the next revision, clears the alarm.
    const server = await startNatsServer({ trust, port });
    cleanups.push(() => server.stop());
    const ctl = await controllerSide(server);
    cleanups.push(() => ctl.close());
    await ctl.eventsStream();
    await ctl.put('moscow', controller.snapshot(fed, 'moscow', 2));
    await expect.poll(() => revisionOf(agent), { timeout: 45_000, interval: 250 }).toBe(2);
    await expect.poll(async () => (await health(agent)).alarms.map((a) => a.code), { timeout: 5000 }).not.toContain('nats-unreachable');
    expect(await alarmMetric(agent)).toBe(0);
    expect(agent.logs.some((l) => l.msg === 'connected to NATS')).toBe(true);
  }, 90_000);
});
