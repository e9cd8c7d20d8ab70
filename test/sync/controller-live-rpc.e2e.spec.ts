import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, credsAuthenticator, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { Subjects, type LiveHealth } from '@fedpbx/contracts';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';

const TIMEOUT_MS = 1000;

/**
 * Live request/reply from the controller (Nest ClientProxy over NATS) to an agent answering WITHOUT Nest: a raw
 * @nats-io responder holding the site's agent credentials answers in the wire format documented in
 * apps/controller/src/agents/agent-rpc.client.ts - the format the agent implements.
 */
describe('controller live request/reply to agents (nats-server)', () => {
  let nats: TestNatsServer;
  let ctl: TestApp;
  let token: string;
  let viewerToken: string;
  let agent: NatsConnection;
  const health = (siteId: string): LiveHealth => ({
    siteId,
    revision: 4,
    snapshotAgeSec: 12,
    uptimeSec: 360,
    agiSessionsActive: 1,
    natsConnected: true,
    amiConnected: true,
    health: { links: { piter: 'up' }, trunks: { 't-moscow-city': 'down' } },
    cdrBacklog: 0,
  });

  /** Answers each request on `subject` with `reply(request)` as the raw bytes given (or not at all for undefined). */
  const respond = (subject: string, reply: (request: { pattern: string; data: unknown; id: string }, msg: Msg) => string | undefined): Subscription =>
    agent.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        const out = reply(msg.json(), msg);
        if (out !== undefined) msg.respond(out);
      },
    });

  beforeAll(async () => {
    nats = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-rpc-'));
    const issuerFile = join(dir, 'issuer.json');
    writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
    ctl = await startTestApp({ env: { FEDPBX_NATS_URL: nats.url, FEDPBX_NATS_ISSUER_FILE: issuerFile, FEDPBX_DATA_DIR: dir, FEDPBX_RPC_TIMEOUT_MS: String(TIMEOUT_MS) } });
    token = await ctl.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(ctl, token);
    const viewer = await ctl.request('POST', '/api/v1/users', { username: 'moscow-viewer', password: 'viewer-password-123', grants: [{ role: 'viewer', siteId: 'moscow' }] }, token);
    expect(viewer.status).toBe(201);
    viewerToken = await ctl.login('moscow-viewer', 'viewer-password-123');
    // The moscow agent: its own credentials (subscribe only fedpbx.rpc.moscow.>, one reply per request) and inbox prefix.
    agent = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.agentCreds('moscow'))), inboxPrefix: Subjects.inboxPrefix('moscow') });
    // The controller's RPC connection comes up in the background: wait until it answers something other than 503.
    const deadline = Date.now() + 10_000;
    while ((await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token)).status === 503 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await ctl?.close();
    await nats?.stop();
  });

  it('asks for live health in Nest\'s format and returns the validated reply', async () => {
    const seen: unknown[] = [];
    const sub = respond(Subjects.rpcHealth('moscow'), (req, msg) => {
      seen.push({ req, reply: msg.reply?.startsWith('_INBOX.'), headers: msg.headers === undefined });
      return JSON.stringify({ id: req.id, response: health('moscow'), isDisposed: true });
    });
    try {
      const r = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
      expect(r.status).toBe(200);
      expect(r.body['data']).toEqual(health('moscow'));
      expect(seen).toEqual([{ req: { pattern: 'fedpbx.rpc.moscow.health', data: {}, id: expect.any(String) }, reply: true, headers: true }]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('sends the live trace request with its defaults applied and returns the agent\'s trace', async () => {
    const trace = await ctl.request('POST', '/api/v1/trace', { siteId: 'moscow', caller: '101', number: '302' }, token);
    expect(trace.status).toBe(200);
    const result = trace.body as Record<string, unknown>;
    const requests: unknown[] = [];
    const sub = respond(Subjects.rpcTrace('moscow'), (req) => {
      requests.push(req.data);
      return JSON.stringify({ id: req.id, response: { siteId: 'moscow', revision: 4, health: { links: { piter: 'down' }, trunks: {} }, result: { plan: result['plan'], steps: result['steps'] } }, isDisposed: true });
    });
    try {
      const r = await ctl.request('POST', '/api/v1/agents/moscow/live-trace', { number: '302', health: { links: { piter: 'down' } } }, viewerToken);
      expect(r.status).toBe(200);
      expect(r.body['data']).toEqual({ siteId: 'moscow', revision: 4, health: { links: { piter: 'down' }, trunks: {} }, result: { plan: result['plan'], steps: result['steps'] } });
      expect(requests).toEqual([{ entry: 'internal', caller: '', number: '302', health: { links: { piter: 'down' }, trunks: {} } }]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('answers 504 "agent did not answer" when the agent is subscribed but silent', async () => {
    const sub = respond(Subjects.rpcHealth('moscow'), () => undefined);
    try {
      const t0 = Date.now();
      const r = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
      expect(r.status).toBe(504);
      expect(r.body.error?.message).toMatch(/^agent did not answer/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    } finally {
      sub.unsubscribe();
    }
  });

  it('answers 504 at once when no agent of the site is connected (no responders)', async () => {
    const t0 = Date.now();
    const r = await ctl.request('GET', '/api/v1/agents/piter/live-health', undefined, token);
    expect(r.status).toBe(504);
    expect(r.body.error?.message).toMatch(/^agent did not answer: no agent of site piter/);
    expect(Date.now() - t0).toBeLessThan(TIMEOUT_MS);
  });

  it('answers 502 for a reply that is not the contract\'s shape, or an agent error', async () => {
    let reply = (id: string) => JSON.stringify({ id, response: { ...health('moscow'), cdrBacklog: -1 }, isDisposed: true });
    const sub = respond(Subjects.rpcHealth('moscow'), (req) => reply(req.id));
    try {
      const bad = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
      expect(bad.status).toBe(502);
      expect(bad.body.error?.message).toMatch(/malformed reply: cdrBacklog/);
      reply = (id) => JSON.stringify({ id, err: { status: 'error', message: 'no snapshot applied yet' }, isDisposed: true });
      const failed = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
      expect(failed.status).toBe(502);
      expect(failed.body.error?.message).toBe('agent of site moscow answered with an error: no snapshot applied yet');
      reply = (id) => JSON.stringify({ id, response: health('piter'), isDisposed: true });
      const other = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
      expect(other.status).toBe(502);
    } finally {
      sub.unsubscribe();
    }
  });

  it('validates the live trace request (400) and keeps other sites invisible (404)', async () => {
    expect((await ctl.request('POST', '/api/v1/agents/moscow/live-trace', { number: '302', extra: 1 }, token)).status).toBe(400);
    expect((await ctl.request('POST', '/api/v1/agents/piter/live-trace', { number: '302' }, viewerToken)).status).toBe(404);
    expect((await ctl.request('GET', '/api/v1/agents/nowhere/live-health', undefined, token)).status).toBe(404);
  });

  it('answers 503 while the controller has no NATS connection, and recovers when NATS is back', async () => {
    await nats.kill();
    const deadline = Date.now() + 10_000;
    let r = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
    while (r.status !== 503 && Date.now() < deadline) r = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
    expect(r.status).toBe(503);
    expect(r.body.error?.message).toMatch(/not connected to NATS/);
    await nats.start();
    const sub = respond(Subjects.rpcHealth('moscow'), (req) => JSON.stringify({ id: req.id, response: health('moscow'), isDisposed: true }));
    try {
      const back = Date.now() + 15_000;
      do r = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
      while (r.status !== 200 && Date.now() < back && (await new Promise((res) => setTimeout(res, 100, true))));
      expect(r.status).toBe(200);
    } finally {
      sub.unsubscribe();
    }
  }, 40_000);
});

describe('live request/reply without NATS configured', () => {
  let ctl: TestApp;
  beforeAll(async () => {
    ctl = await startTestApp();
    const token = await ctl.login(ADMIN.username, ADMIN.password);
    expect((await ctl.request('POST', '/api/v1/sites', { id: 'moscow', name: 'Moscow' }, token)).status).toBe(201);
  }, 60_000);
  afterAll(async () => ctl?.close());

  it('answers 503 naming the missing variable', async () => {
    const token = await ctl.login(ADMIN.username, ADMIN.password);
    const r = await ctl.request('GET', '/api/v1/agents/moscow/live-health', undefined, token);
    expect(r.status).toBe(503);
    expect(r.body.error?.message).toMatch(/FEDPBX_NATS_URL/);
  });
});
