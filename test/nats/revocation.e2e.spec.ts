import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { accountUpdateSubject, credsFile, credsInfo, renderLeafConfig, encodeAccountWithRevocations, mintAgentCredentials, mintAgentJwt, mintSystemCreds, newUserKey, type RevocationAuthority } from '@fedpbx/nats-auth';
import { freePort, NATS_SERVER_BINARY, startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { spawnOwned } from '../support/owned-process.js';

/**
 * Ending an agent's NATS user on the real nats-server 2.9 the hub runs: the account JWT's `revocations`, pushed by
 * a system-account user to the full resolver, close the revoked user's connection and refuse it from then on (also
 * after the hub restarts); a JWT's expiry closes the connection when it passes and refuses a reconnect.
 */

const encoder = new TextEncoder();
let nats: TestNatsServer;
let authority: RevocationAuthority;

async function agent(creds: string | (() => string), siteId = 'moscow', reconnect = false): Promise<NatsConnection> {
  return connect({
    servers: nats.url,
    authenticator: credsAuthenticator(typeof creds === 'string' ? encoder.encode(creds) : () => encoder.encode(creds())),
    inboxPrefix: Subjects.inboxPrefix(siteId),
    maxReconnectAttempts: reconnect ? -1 : 0,
    reconnectTimeWait: 100,
    ignoreAuthErrorAbort: true,
  });
}

/** Pushes the account JWT with these revocations the way the controller does; resolves to the server's answer. */
async function pushRevocations(revocations: Record<string, number>): Promise<string> {
  const sys = await connect({ servers: nats.url, authenticator: credsAuthenticator(encoder.encode(await mintSystemCreds(authority, new Date(Date.now() + 60_000)))) });
  try {
    const jwt = await encodeAccountWithRevocations(authority, revocations);
    const reply = await sys.request(accountUpdateSubject(nats.trust.account.publicKey), jwt, { timeout: 3000 });
    return reply.string();
  } finally {
    await sys.close();
  }
}

/** Every status the connection reports until it closes (or `ms` pass). */
async function statusesUntilClosed(nc: NatsConnection, ms: number): Promise<string[]> {
  const seen: string[] = [];
  const timer = setTimeout(() => void nc.close(), ms);
  for await (const s of nc.status()) {
    seen.push(s.type === 'error' ? `error: ${s.error.message}` : s.type);
    if (s.type === 'close') break;
  }
  clearTimeout(timer);
  await nc.closed();
  return seen;
}

beforeAll(async () => {
  nats = await startNatsServer({ leafnodes: true });
  const r = nats.issuer.revocation;
  if (r === undefined) throw new Error('the test trust has no revocation authority');
  authority = r;
}, 30_000);

afterAll(async () => {
  await nats?.stop();
});

describe('agent credentials on a real nats-server (full resolver)', () => {
  it('a revoked agent is disconnected at once, cannot reconnect, and another site is untouched', async () => {
    const moscow = await mintAgentCredentials(nats.issuer, 'moscow', new Date(Date.now() + 3600_000));
    const piter = await mintAgentCredentials(nats.issuer, 'piter', new Date(Date.now() + 3600_000));
    const m = await agent(moscow.creds);
    const p = await agent(piter.creds, 'piter');
    const closed = statusesUntilClosed(m, 5000);
    const answer = await pushRevocations({ [moscow.userKey]: Math.floor(Date.now() / 1000) });
    expect(answer).toMatch(/jwt updated/);
    const seen = await closed;
    expect(seen.join('|')).toMatch(/User Authentication Revoked|Authorization Violation/i);
    expect(nats.log.some((l) => /Revocation|Revoked/i.test(l)) || seen.some((s) => /Revoked/i.test(s))).toBe(true);
    await expect(agent(moscow.creds)).rejects.toThrow(/Authorization Violation/i);
    expect(p.isClosed()).toBe(false);
    await p.flush();
    await p.close();
  });

  it('the revocation survives a restart of the hub with its original config (the preload never replaces a newer JWT)', async () => {
    const moscow = await mintAgentCredentials(nats.issuer, 'moscow', new Date(Date.now() + 3600_000));
    await pushRevocations({ [moscow.userKey]: Math.floor(Date.now() / 1000) });
    await nats.stop();
    await nats.start();
    await expect(agent(moscow.creds)).rejects.toThrow(/Authorization Violation/i);
    const fresh = await mintAgentCredentials(nats.issuer, 'moscow', new Date(Date.now() + 3600_000));
    const nc = await agent(fresh.creds);
    await nc.flush();
    await nc.close();
  });

  it('an expired JWT is disconnected when it expires and refused at reconnect', async () => {
    const short = await mintAgentCredentials(nats.issuer, 'kazan', new Date(Date.now() + 2000));
    const nc = await agent(short.creds, 'kazan');
    const seen = await statusesUntilClosed(nc, 6000);
    expect(seen.join('|')).toMatch(/Expired|Authorization Violation/i);
    // The JWT's exp is in whole seconds and nats-server refuses it once the clock is past that second.
    const exp = credsInfo(short.creds).expiresAt?.getTime() ?? 0;
    await new Promise((r) => setTimeout(r, Math.max(0, exp + 1100 - Date.now())));
    await expect(agent(short.creds, 'kazan')).rejects.toThrow(/Authorization Violation|expired/i);
  });

  it('a branch leaf node connected with revoked agent credentials is cut off and refused too (a stolen box with a leaf)', async () => {
    const moscow = await mintAgentCredentials(nats.issuer, 'moscow', new Date(Date.now() + 3600_000));
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-leaf-revoke-'));
    const creds = join(dir, 'moscow.creds');
    writeFileSync(creds, moscow.creds, { mode: 0o600 });
    const conf = join(dir, 'leaf.conf');
    writeFileSync(conf, renderLeafConfig({ siteId: 'moscow', hubLeafUrls: [`nats-leaf://127.0.0.1:${nats.leafPort}`], credsFile: creds, port: await freePort() }));
    const leaf = spawnOwned(NATS_SERVER_BINARY, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    leaf.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    try {
      for (let i = 0; i < 200 && !/Leafnode connection created/i.test(log); i++) await new Promise((r) => setTimeout(r, 50));
      expect(log).toMatch(/Leafnode connection created/i);
      const hubBefore = nats.log.length;
      await pushRevocations({ [moscow.userKey]: Math.floor(Date.now() / 1000) });
      // The hub closes the leaf connection and refuses each reconnect of the leaf with these credentials.
      for (let i = 0; i < 100 && !/Leafnode connection closed/i.test(log); i++) await new Promise((r) => setTimeout(r, 50));
      expect(log).toMatch(/Leafnode connection closed/i);
      const hubSays = (re: RegExp): boolean => nats.log.slice(hubBefore).some((l) => re.test(l));
      expect(hubSays(/Leafnode connection closed: Credentials Revoked/)).toBe(true);
      // The leaf keeps trying (every second by default) and the hub refuses each attempt.
      for (let i = 0; i < 160 && !hubSays(/Leafnode connection closed: Authentication Failure/); i++) await new Promise((r) => setTimeout(r, 50));
      expect(hubSays(/Leafnode connection closed: Authentication Failure/)).toBe(true);
    } finally {
      leaf.kill('SIGTERM');
    }
  });

  it('a renewed user key (the agent keeps its seed) takes over on reconnect without waiting for the old one to expire', async () => {
    const first = await mintAgentCredentials(nats.issuer, 'kazan', new Date(Date.now() + 3600_000));
    let current = first.creds;
    const nc = await agent(() => current, 'kazan', true);
    const next = newUserKey();
    const { jwt } = await mintAgentJwt(nats.issuer, 'kazan', next.publicKey, new Date(Date.now() + 3600_000));
    current = credsFile(jwt, next.seed);
    const reconnected = (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') return true;
      return false;
    })();
    await nc.reconnect();
    expect(await reconnected).toBe(true);
    await nc.flush();
    // The old key is revoked now; the connection, on the new key, stays.
    await pushRevocations({ [first.userKey]: Math.floor(Date.now() / 1000) });
    await new Promise((r) => setTimeout(r, 300));
    expect(nc.isClosed()).toBe(false);
    await nc.flush();
    await nc.close();
  });
});
