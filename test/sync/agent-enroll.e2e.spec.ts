// `fedpbx-agent enroll` (the built CLI) against a tiny HTTP server that answers like the controller's
// POST /api/v1/enroll, then the agent started with nothing but its state dir: site, NATS and the controller key all
// come from the enrollment, and it syncs from a private nats-server with the credentials it was given.
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnrollRequest, Subjects, type EnrollResponse } from '@fedpbx/contracts';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_MAIN, startAgent } from '../support/agent-process.js';
import { freePort, startNatsServer } from '../support/nats-server.js';
import { spawnOwned } from '../support/owned-process.js';
import { TestController } from '../support/signed-snapshots.js';
import { controllerSide } from './agent-harness.js';

const controller = new TestController('controller-7');
const TOKEN = 'enroll-tok-0123456789abcdef';
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface FakeController {
  readonly url: string;
  readonly requests: unknown[];
}

/** Answers one valid token with `answer`, anything else with 401 as the controller does. */
async function fakeController(answer: () => Promise<EnrollResponse>): Promise<FakeController> {
  const requests: unknown[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      void (async () => {
        const parsed = req.url === '/api/v1/enroll' && req.method === 'POST' ? EnrollRequest.safeParse(JSON.parse(body)) : undefined;
        requests.push(JSON.parse(body || 'null'));
        if (parsed?.success !== true || parsed.data.token !== TOKEN) {
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ statusCode: 401, message: 'enrollment token unknown, used or expired' }));
          return;
        }
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(await answer()));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, requests };
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnOwned(process.execPath, [AGENT_MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('fedpbx-agent enroll', () => {
  it('exchanges the token for credentials and the controller key; the agent then runs from the enrollment alone', async () => {
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const ctl = await controllerSide(nats);
    cleanups.push(() => ctl.close());
    await ctl.put('kazan', controller.snapshot(foundingScenario(), 'kazan', 4));
    const creds = await nats.agentCreds('kazan');
    const fake = await fakeController(async () => ({
      siteId: 'kazan',
      natsUrls: [nats.url],
      natsCreds: creds,
      inboxPrefix: Subjects.inboxPrefix('kazan'),
      controllerKeyId: controller.key.keyId,
      controllerPublicKey: controller.publicKeyPem,
    }));
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-enroll-'));

    const r = await cli(['enroll', '--controller', fake.url, '--token', TOKEN], { FEDPBX_STATE_DIR: stateDir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('enrolled as site kazan');
    expect(r.stdout).not.toContain(creds.slice(-80)); // no secret on the terminal
    const sent = EnrollRequest.parse(fake.requests[0]);
    expect(sent.token).toBe(TOKEN);
    expect(sent.wireguardPublicKey).toMatch(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/);
    const privateKey = readFileSync(join(stateDir, 'wireguard', 'fedpbx0.key'), 'utf8').trim();
    expect(JSON.stringify(fake.requests)).not.toContain(privateKey);
    expect(statSync(join(stateDir, 'wireguard', 'fedpbx0.key')).mode & 0o777).toBe(0o600);

    expect(statSync(join(stateDir, 'nats.creds')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(stateDir, 'nats.creds'), 'utf8')).toBe(creds.endsWith('\n') ? creds : `${creds}\n`);
    expect(JSON.parse(readFileSync(join(stateDir, 'enrollment.json'), 'utf8'))).toEqual({
      siteId: 'kazan',
      natsUrls: [nats.url],
      inboxPrefix: '_INBOX.fedpbx.kazan',
      controllerKeyId: 'controller-7',
      controllerPublicKey: controller.publicKeyPem,
      enrolledAt: expect.any(String),
    });

    // Nothing but the state dir: the rest comes from the enrollment.
    const agent = await startAgent({ FEDPBX_STATE_DIR: stateDir, FEDPBX_LOG_LEVEL: 'info' });
    cleanups.push(() => agent.stop('SIGKILL'));
    await expect.poll(() => agent.logs.some((l) => l.msg === 'snapshot applied' && l.revision === 4), { timeout: 10_000 }).toBe(true);

    // A second enrollment of the same state dir needs --force.
    const again = await cli(['enroll', '--controller', fake.url, '--token', TOKEN], { FEDPBX_STATE_DIR: stateDir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already enrolled as site kazan; pass --force');
  });

  it('reports the controller’s refusal and writes nothing; the token can come from the environment', async () => {
    const fake = await fakeController(() => Promise.reject(new Error('not reached')));
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-enroll-'));
    const r = await cli(['enroll', '--controller', fake.url, '--no-wireguard'], { FEDPBX_STATE_DIR: stateDir, FEDPBX_ENROLL_TOKEN: 'wrong-token-0123456789' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('fedpbx-agent enroll: the controller refused the enrollment (HTTP 401): enrollment token unknown, used or expired\n');
    expect(fake.requests).toEqual([{ token: 'wrong-token-0123456789', agentVersion: expect.any(String) }]);
    expect(existsSync(join(stateDir, 'enrollment.json'))).toBe(false);
    expect(existsSync(join(stateDir, 'nats.creds'))).toBe(false);
  });

  it('refuses an answer that is not an enrollment, and an unreachable controller, with a clear message', async () => {
    const fake = await fakeController(() => Promise.resolve({ siteId: 'kazan', natsUrls: [], natsCreds: '', inboxPrefix: '_INBOX', controllerKeyId: 'k', controllerPublicKey: 'x' }));
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-enroll-'));
    const bad = await cli(['enroll', '--controller', fake.url, '--token', TOKEN, '--no-wireguard'], { FEDPBX_STATE_DIR: stateDir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("the controller's answer is not an enrollment");
    expect(bad.stderr).toContain('natsUrls');
    const closed = await freePort();
    const down = await cli(['enroll', '--controller', `http://127.0.0.1:${closed}`, '--token', TOKEN, '--no-wireguard'], { FEDPBX_STATE_DIR: stateDir });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`^fedpbx-agent enroll: cannot reach http://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`));
    expect(existsSync(join(stateDir, 'enrollment.json'))).toBe(false);
    const usage = await cli(['enroll', '--token', TOKEN], { FEDPBX_STATE_DIR: stateDir });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: fedpbx-agent enroll');
  });
});
