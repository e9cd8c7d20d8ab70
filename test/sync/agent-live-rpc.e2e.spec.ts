// Live request/reply from the controller to one agent, through @nestjs/microservices' real NATS ClientProxy (what
// the controller uses) against a real agent process that answers without Nest, over a private nats-server with the
// agent's real permissions.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { credsAuthenticator } from '@nats-io/transport-node';
import { firstValueFrom } from 'rxjs';
import { LiveHealth, LiveTraceResponse, Subjects } from '@fedpbx/contracts';
import { compileSite, foundingScenario, traceRoute } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { TestController } from '../support/signed-snapshots.js';
import { controllerSide, writeAgentCreds, type ControllerSide } from './agent-harness.js';

const controller = new TestController();
const fed = foundingScenario();
const snapshot = controller.snapshot(fed, 'moscow', 3);
let server: TestNatsServer;
let ctl: ControllerSide;
let agent: AgentProcess;
let client: ClientProxy;

beforeAll(async () => {
  server = await startNatsServer();
  ctl = await controllerSide(server);
  await ctl.put('moscow', snapshot);
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-rpc-'));
  const creds = await writeAgentCreds(server, 'moscow', dir);
  agent = await startAgent(controller.agentEnv('moscow', dir, { FEDPBX_NATS_URL: server.url, FEDPBX_NATS_CREDS: creds }));
  for (let i = 0; !agent.logs.some((l) => l.msg === 'snapshot applied' && l.revision === 3); i++) {
    if (i > 200) throw new Error('revision 3 not applied over NATS');
    await new Promise((r) => setTimeout(r, 50));
  }
  client = ClientProxyFactory.create({
    transport: Transport.NATS,
    options: { servers: [server.url], authenticator: credsAuthenticator(new TextEncoder().encode(await server.controllerCreds())), maxReconnectAttempts: -1 },
  });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await agent?.stop('SIGKILL');
  await ctl?.close();
  await server?.stop();
});

const send = <T>(pattern: string, data: unknown): Promise<T> => firstValueFrom(client.send<T>(pattern, data));

describe('live request/reply through Nest’s NATS ClientProxy', () => {
  it('answers health with the live view', async () => {
    const health = LiveHealth.parse(await send(Subjects.rpcHealth('moscow'), {}));
    expect(health).toMatchObject({ siteId: 'moscow', revision: 3, natsConnected: true, amiConnected: false, cdrBacklog: 0, agiSessionsActive: 0 });
    expect(health.snapshotAgeSec).toBeGreaterThan(0);
  });

  it('traces against the snapshot in force, with the request’s what-ifs merged into the live health', async () => {
    const site = compileSite(snapshot.config, snapshot.revision);
    const plain = LiveTraceResponse.parse(await send(Subjects.rpcTrace('moscow'), { caller: '101', number: '301' }));
    expect(plain.result).toEqual(traceRoute(site, { entry: 'internal', caller: '101', dialled: '301', health: { links: {}, trunks: {} } }));
    expect(plain).toMatchObject({ siteId: 'moscow', revision: 3, health: { links: {}, trunks: {} } });

    const whatIf = LiveTraceResponse.parse(await send(Subjects.rpcTrace('moscow'), { caller: '101', number: '301', health: { links: { piter: 'down' } } }));
    expect(whatIf.health).toEqual({ links: { piter: 'down' }, trunks: {} });
    expect(whatIf.result).toEqual(traceRoute(site, { entry: 'internal', caller: '101', dialled: '301', health: { links: { piter: 'down' }, trunks: {} } }));
    expect(whatIf.result.plan.attempts).not.toEqual(plain.result.plan.attempts);
  });

  it('answers an invalid request with an error reply (ClientProxy rejects) and keeps serving', async () => {
    await expect(send(Subjects.rpcTrace('moscow'), { number: '' })).rejects.toMatchObject({ status: 'error', code: 'bad-request', message: expect.stringContaining('number') });
    await expect(send(Subjects.rpcTrace('moscow'), { number: '301', entry: 'nowhere' })).rejects.toMatchObject({ status: 'error', code: 'bad-request' });
    // Not Nest at all: raw bytes that are not JSON still get an error packet, not silence.
    const raw = await ctl.nc.request(Subjects.rpcTrace('moscow'), 'not json', { timeout: 2000 });
    expect(raw.json()).toEqual({ err: { status: 'error', code: 'bad-request', message: 'request is not JSON' }, isDisposed: true });
    expect(LiveHealth.parse(await send(Subjects.rpcHealth('moscow'), {})).revision).toBe(3);
    expect(agent.child.exitCode).toBeNull();
  });

  it('cannot be reached on another site’s subject (nobody answers for moscow there)', async () => {
    await expect(ctl.nc.request(Subjects.rpcHealth('piter'), '{}', { timeout: 500 })).rejects.toThrow();
  });
});
