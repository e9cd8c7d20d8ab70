// The agent's sync client end to end: real agent processes (apps/agent/dist), a private nats-server with the
// agents' real permissions, and the controller's side simulated by a raw NATS client with controller credentials.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subjects } from '@fedpbx/contracts';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer } from '../support/asterisk/ami-peer.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { freePort, startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { TestController } from '../support/signed-snapshots.js';
import { controllerSide, writeAgentCreds, type ControllerSide } from './agent-harness.js';
import { cdrEventFields } from '../support/asterisk/cdr-event.js';

const controller = new TestController();
const fed = foundingScenario();
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function nats(): Promise<{ server: TestNatsServer; ctl: ControllerSide }> {
  const server = await startNatsServer();
  cleanups.push(() => server.stop());
  const ctl = await controllerSide(server);
  cleanups.push(() => ctl.close());
  await ctl.eventsStream();
  return { server, ctl };
}

async function agent(server: TestNatsServer, stateDir: string, extra: Record<string, string> = {}, site = 'moscow'): Promise<AgentProcess> {
  const creds = await writeAgentCreds(server, site, stateDir);
  const a = await startAgent(controller.agentEnv(site, stateDir, { FEDPBX_NATS_URL: server.url, FEDPBX_NATS_CREDS: creds, ...extra }));
  cleanups.push(() => a.stop('SIGKILL'));
  return a;
}

const stateDir = () => mkdtempSync(join(tmpdir(), 'fedpbx-sync-'));
const revisionOf = async (a: AgentProcess): Promise<number> => {
  const c = await placeCall({ host: '127.0.0.1', port: a.agiPort, timeoutMs: 8000, callerId: { num: '101' }, channel: 'PJSIP/101-00000001', script: 'internal', extension: '102', onDial: () => ({ status: 'ANSWER' }) });
  return Number(c.variables.FEDPBX_REVISION ?? 0);
};
const metric = async (a: AgentProcess, line: string): Promise<number | undefined> => {
  const text = await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text();
  const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
};

describe('agent config sync over NATS', () => {
  it('applies a new revision within a second and reports it; refuses a bad signature and keeps the last-known-good', async () => {
    const { server, ctl } = await nats();
    await ctl.put('moscow', controller.snapshot(fed, 'moscow', 1));
    const a = await agent(server, stateDir());
    await expect.poll(() => revisionOf(a), { timeout: 5000 }).toBe(1);
    await expect.poll(() => metric(a, 'fedpbx_connection_up{peer="nats"}')).toBe(1);

    const putAt = Date.now();
    await ctl.put('moscow', controller.snapshot(fed, 'moscow', 2));
    await expect.poll(() => a.logs.some((l) => l.msg === 'snapshot applied' && l.revision === 2), { interval: 10 }).toBe(true);
    expect(Date.now() - putAt).toBeLessThan(1000);
    expect(await revisionOf(a)).toBe(2);

    const forged = new TestController().snapshot(fed, 'moscow', 3);
    await ctl.put('moscow', forged);
    await expect.poll(async () => (await ctl.events(Subjects.eventSubject('moscow', 'snapshot.refused'))).length).toBe(1);
    const [refused] = await ctl.events(Subjects.eventSubject('moscow', 'snapshot.refused'));
    expect(refused?.event).toMatchObject({ type: 'snapshot.refused', revision: 3, reason: expect.stringContaining('bad-signature') });
    expect(await revisionOf(a)).toBe(2);
    await ctl.put('moscow', '{"not": "a snapshot"');
    await expect.poll(async () => (await ctl.events(Subjects.eventSubject('moscow', 'snapshot.refused'))).length).toBe(2);
    expect(await revisionOf(a)).toBe(2);
    // Every refusal is counted where Prometheus alerts on it (FedpbxSnapshotRefused), a value that does not even
    // decode (gzip's magic, then no gzip stream) as well as one the applier refuses.
    const refusals = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text();
      return [...text.matchAll(/^fedpbx_rejected_inputs_total\{reason="snapshot-[^"]*"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    expect(await refusals()).toBe(2);
    await (await ctl.bucket('moscow')).put(Subjects.SNAPSHOT_KEY, Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6]));
    await expect.poll(async () => (await ctl.events(Subjects.eventSubject('moscow', 'snapshot.refused'))).length).toBe(3);
    expect(await refusals()).toBe(3);
    expect(await metric(a, 'fedpbx_rejected_inputs_total{reason="snapshot-undecodable"}')).toBe(1);
    expect(await revisionOf(a)).toBe(2);

    const applied = (await ctl.events(Subjects.eventSubject('moscow', 'snapshot.applied'))).map((e) => e.event);
    expect(applied).toEqual([
      { type: 'snapshot.applied', revision: 1, contentHash: expect.any(String) },
      { type: 'snapshot.applied', revision: 2, contentHash: expect.any(String) },
    ]);
  });

  it('waits for a bucket that does not exist yet, resumes after a restart without re-applying, and survives a NATS restart', { timeout: 60_000 }, async () => {
    const { server, ctl } = await nats();
    const dir = stateDir();
    const first = await agent(server, dir);
    await expect.poll(() => first.logs.some((l) => l.msg === 'cannot watch the config bucket; retrying'), { timeout: 10_000 }).toBe(true);
    await ctl.put('moscow', controller.snapshot(fed, 'moscow', 5));
    await expect.poll(() => revisionOf(first), { timeout: 10_000 }).toBe(5);
    await first.stop();

    const second = await agent(server, dir);
    expect(second.ready.revision).toBe(5); // from disk, before NATS
    await expect.poll(() => second.logs.some((l) => l.msg === 'watching the config bucket'), { timeout: 10_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(second.logs.filter((l) => l.msg === 'snapshot applied' || l.msg === 'snapshot refused; last-known-good stays in force')).toEqual([]);

    await server.kill();
    await expect.poll(() => metric(second, 'fedpbx_connection_up{peer="nats"}')).toBe(0);
    expect(await revisionOf(second)).toBe(5); // calls route with NATS gone
    await server.start();
    await retry(() => ctl.put('moscow', controller.snapshot(fed, 'moscow', 6)));
    await expect.poll(() => revisionOf(second), { timeout: 15_000 }).toBe(6);
    await expect.poll(() => metric(second, 'fedpbx_connection_up{peer="nats"}')).toBe(1);
    const applied = (await ctl.events(Subjects.eventSubject('moscow', 'snapshot.applied'))).map((e) => e.event.type === 'snapshot.applied' && e.event.revision);
    expect(applied).toEqual([5, 6]);
  });

  it('with another site’s credentials is denied, does not retry in a hot loop, and keeps serving calls', async () => {
    const { server, ctl } = await nats();
    await ctl.put('moscow', controller.snapshot(fed, 'moscow', 1));
    const dir = stateDir();
    const creds = await writeAgentCreds(server, 'piter', dir); // moscow's agent, piter's NATS user
    const a = await startAgent(controller.agentEnv('moscow', dir, { FEDPBX_NATS_URL: server.url, FEDPBX_NATS_CREDS: creds, FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 1) }));
    cleanups.push(() => a.stop('SIGKILL'));
    await new Promise((r) => setTimeout(r, 5000));
    const violations = server.log.filter((l) => / - (Publish|Subscription) Violation - /.test(l));
    expect(violations.length).toBeGreaterThan(0);
    // Bucket watch + status/heartbeat publishes, backing off: a handful in 5 s, not hundreds.
    expect(violations.length).toBeLessThan(40);
    expect(await ctl.events()).toEqual([]);
    expect(await revisionOf(a)).toBe(1);
  });
});

describe('agent events over NATS', () => {
  it('sends a heartbeat as soon as AMI comes or goes, not at the next interval (10 s)', async () => {
    const { server, ctl } = await nats();
    await ctl.put('moscow', controller.snapshot(fed, 'moscow', 1));
    const port = await freePort();
    const ami = { FEDPBX_AMI_HOST: '127.0.0.1', FEDPBX_AMI_PORT: String(port), FEDPBX_AMI_USER: 'fedpbx', FEDPBX_AMI_SECRET: 'fedpbx-test-secret' };
    await agent(server, stateDir(), ami);
    const latest = async () => (await ctl.events(Subjects.eventSubject('moscow', 'heartbeat'))).at(-1)?.event;
    await expect.poll(latest, { timeout: 5000 }).toMatchObject({ type: 'heartbeat', amiConnected: false });
    const peer = await AmiPeer.start({ systemName: 'moscow' }, port);
    cleanups.push(() => peer.close());
    await expect.poll(latest, { timeout: 5000 }).toMatchObject({ type: 'heartbeat', amiConnected: true });
    await peer.close();
    await expect.poll(latest, { timeout: 5000 }).toMatchObject({ type: 'heartbeat', amiConnected: false });
  });


  it('1,000 CDRs made while NATS is down arrive exactly once, in order, after it is back; heartbeats and link status too', async () => {
    const { server, ctl } = await nats();
    await ctl.put('moscow', controller.snapshot(fed, 'moscow', 1));
    const peer = await AmiPeer.start({ systemName: 'moscow' });
    cleanups.push(() => peer.close());
    peer.pjsip = moscowPjsip();
    const ami = { FEDPBX_AMI_HOST: '127.0.0.1', FEDPBX_AMI_PORT: String(peer.port), FEDPBX_AMI_USER: 'fedpbx', FEDPBX_AMI_SECRET: 'fedpbx-test-secret' };
    const a = await agent(server, stateDir(), ami);
    await expect.poll(() => revisionOf(a), { timeout: 5000 }).toBe(1);
    await expect.poll(async () => (await ctl.events(Subjects.eventSubject('moscow', 'link.status'))).length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => metric(a, 'fedpbx_connection_up{peer="ami"}')).toBe(1);

    await server.kill();
    await expect.poll(() => metric(a, 'fedpbx_connection_up{peer="nats"}')).toBe(0);
    for (let i = 0; i < 1000; i++) peer.event('Cdr', cdrFields(i));
    await expect.poll(() => metric(a, 'fedpbx_cdr_backlog'), { timeout: 10_000 }).toBe(1000);
    await a.stop(); // and the agent restarts while NATS is still down
    const b = await agent(server, a.stateDir, ami);
    await expect.poll(() => metric(b, 'fedpbx_cdr_backlog')).toBe(1000);
    await server.start();
    await expect.poll(() => metric(b, 'fedpbx_cdr_backlog'), { timeout: 20_000 }).toBe(0);

    const cdrs = await retry(() => ctl.events(Subjects.eventSubject('moscow', 'cdr')));
    expect(cdrs).toHaveLength(1000);
    expect(cdrs.map((e) => e.event.type === 'cdr' && e.event.cdrId)).toEqual(Array.from({ length: 1000 }, (_, i) => `moscow-1795696107.${i}:1`));
    expect(new Set(cdrs.map((e) => e.id)).size).toBe(1000);
    expect(cdrs[0]).toMatchObject({ v: 1, siteId: 'moscow', id: 'cdr:moscow:moscow-1795696107.0:1' });

    // A crash between the PubAcks and the cursor write, at its worst: the whole cursor is gone, everything is
    // published again - and JetStream's msg-id dedupe keeps exactly one of each.
    await b.stop('SIGKILL');
    rmSync(join(b.stateDir, 'sync', 'cdr-cursor.json'));
    const c = await agent(server, b.stateDir, ami);
    await expect.poll(() => c.logs.some((l) => l.msg === 'connected to NATS')).toBe(true);
    await expect.poll(() => metric(c, 'fedpbx_cdr_backlog'), { timeout: 20_000 }).toBe(0);
    expect(await ctl.events(Subjects.eventSubject('moscow', 'cdr'))).toHaveLength(1000);

    // The restarted agent's heartbeats: the first when NATS connects (AMI may not be up yet), another as soon as AMI is.
    await expect
      .poll(async () => (await ctl.events(Subjects.eventSubject('moscow', 'heartbeat'))).at(-1)?.event, { timeout: 5000 })
      .toMatchObject({ type: 'heartbeat', appliedRevision: 1, amiConnected: true });
  });
});

/** The controller's own connection needs a moment after a NATS restart too. */
async function retry<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function cdrFields(i: number): [string, string][] {
  return cdrEventFields({ uniqueId: `moscow-1795696107.${i}` });
}
