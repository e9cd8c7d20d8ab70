import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Subjects } from '@fedpbx/contracts';
import { renderLeafConfig } from '@fedpbx/nats-auth';
import { freePort, NATS_SERVER_BINARY, startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { spawnOwned } from '../support/owned-process.js';

/**
 * The per-agent permissions of libs/nats-auth, enforced by a real nats-server: an agent reads only its own
 * site's config, publishes only its own site's events, and listens only on its own inbox and request subjects.
 * Every denial is shown twice: the client sees it, and the server logs the violation.
 */

const encoder = new TextEncoder();
let nats: TestNatsServer;
let controller: NatsConnection;
let moscowKv: KV;
let sharedKv: KV;

async function agentConnection(siteId: string, servers = nats.url, creds?: string): Promise<NatsConnection> {
  const c = creds ?? (await nats.agentCreds(siteId));
  return connect({ servers, authenticator: credsAuthenticator(encoder.encode(c)), inboxPrefix: Subjects.inboxPrefix(siteId), maxReconnectAttempts: 0 });
}

/** The first error status (permission violation) the connection reports within the time given. */
async function nextError(nc: NatsConnection, ms = 2000): Promise<string> {
  const timer = setTimeout(() => void nc.close(), ms);
  for await (const s of nc.status()) {
    if (s.type === 'error') {
      clearTimeout(timer);
      return s.error.message;
    }
  }
  return '';
}

async function violationLogged(subject: string): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    if (nats.log.some((l) => l.includes('Violation') && l.includes(subject))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

beforeAll(async () => {
  nats = await startNatsServer({ leafnodes: true });
  controller = await connect({ servers: nats.url, authenticator: credsAuthenticator(encoder.encode(await nats.controllerCreds())) });
  const kvm = new Kvm(controller);
  moscowKv = await kvm.create(Subjects.configBucket('moscow'), { history: 5 });
  await moscowKv.put(Subjects.SNAPSHOT_KEY, 'moscow-rev-1');
  const piterKv = await kvm.create(Subjects.configBucket('piter'), { history: 5 });
  await piterKv.put(Subjects.SNAPSHOT_KEY, 'piter-secret-rev-1');
  sharedKv = await kvm.create(Subjects.SHARED_BUCKET, { history: 2 });
  await sharedKv.put(Subjects.SHARED_KEY, 'shared-rev-1');
  const jsm = await jetstreamManager(controller);
  await jsm.streams.add({ name: Subjects.EVENTS_STREAM, subjects: [Subjects.EVENTS_WILDCARD] });
  await jsm.streams.add({ name: Subjects.CDRS_STREAM, subjects: [Subjects.CDRS_WILDCARD] });
}, 30_000);

afterAll(async () => {
  await controller?.close();
  await nats?.stop();
});

describe('an agent with its site credentials', () => {
  it('reads and watches its own site config', async () => {
    const nc = await agentConnection('moscow');
    const kv = await new Kvm(nc).open(Subjects.configBucket('moscow'));
    expect((await kv.get(Subjects.SNAPSHOT_KEY))?.string()).toBe('moscow-rev-1');
    const watch = await kv.watch({ key: Subjects.SNAPSHOT_KEY });
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of watch) {
        seen.push(e.string());
        if (seen.length === 2) break;
      }
    })();
    await moscowKv.put(Subjects.SNAPSHOT_KEY, 'moscow-rev-2');
    await done;
    expect(seen).toEqual(['moscow-rev-1', 'moscow-rev-2']);
    await nc.close();
  });

  it('reads and watches the shared part every site may know, and cannot write it', async () => {
    const nc = await agentConnection('moscow');
    const kv = await new Kvm(nc).open(Subjects.SHARED_BUCKET);
    expect((await kv.get(Subjects.SHARED_KEY))?.string()).toBe('shared-rev-1');
    const watch = await kv.watch({ key: Subjects.SHARED_KEY });
    const first = await watch[Symbol.asyncIterator]().next();
    expect((first.value as { string(): string }).string()).toBe('shared-rev-1');
    watch.stop();
    await expect(kv.put(Subjects.SHARED_KEY, 'forged', { timeout: 1000 } as never)).rejects.toThrow();
    expect(await violationLogged(`$KV.${Subjects.SHARED_BUCKET}.${Subjects.SHARED_KEY}`)).toBe(true);
    expect((await sharedKv.get(Subjects.SHARED_KEY))?.string()).toBe('shared-rev-1');
    await nc.close();
  });

  it('cannot read another site config', async () => {
    const nc = await agentConnection('moscow');
    const piter = await new Kvm(nc).open(Subjects.configBucket('piter'));
    await expect(piter.get(Subjects.SNAPSHOT_KEY)).rejects.toThrow(/Permissions Violation/);
    expect(await violationLogged('KV_fedpbx-config-piter')).toBe(true);
    await nc.close();
  });

  it('cannot watch another site config', async () => {
    const nc = await agentConnection('moscow');
    const piter = await new Kvm(nc).open(Subjects.configBucket('piter'));
    await expect(piter.watch({ key: Subjects.SNAPSHOT_KEY })).rejects.toThrow(/Permissions Violation/);
    await nc.close();
  });

  it('cannot write its own config (a tampered snapshot never reaches the bucket)', async () => {
    const nc = await agentConnection('moscow');
    const kv = await new Kvm(nc).open(Subjects.configBucket('moscow'));
    const before = (await moscowKv.get(Subjects.SNAPSHOT_KEY))?.revision;
    await expect(kv.put(Subjects.SNAPSHOT_KEY, 'forged', { timeout: 1000 } as never)).rejects.toThrow();
    expect(await violationLogged('$KV.fedpbx-config-moscow.snapshot')).toBe(true);
    expect((await moscowKv.get(Subjects.SNAPSHOT_KEY))?.revision).toBe(before);
    await nc.close();
  });

  it('publishes its own site events and cannot publish as another site', async () => {
    const nc = await agentConnection('moscow');
    const js = jetstream(nc);
    const own = await js.publish(Subjects.eventSubject('moscow', 'heartbeat'), '{}', { msgID: 'own-1' });
    expect(own.stream).toBe(Subjects.EVENTS_STREAM);
    const error = nextError(nc);
    nc.publish(Subjects.eventSubject('piter', 'cdr'), '{"forged":true}');
    expect(await error).toMatch(/Permissions Violation for Publish to "fedpbx.events.piter.cdr"/);
    const jsm = await jetstreamManager(controller);
    const info = await jsm.streams.info(Subjects.EVENTS_STREAM, { subjects_filter: 'fedpbx.events.piter.>' });
    expect(info.state.subjects ?? {}).toEqual({});
  });

  it('publishes CDR batches for its own site only', async () => {
    const nc = await agentConnection('moscow');
    const own = await jetstream(nc).publish(Subjects.cdrBatch('moscow'), '{}', { msgID: 'own-batch-1' });
    expect(own.stream).toBe(Subjects.CDRS_STREAM);
    const error = nextError(nc);
    nc.publish(Subjects.cdrBatch('piter'), '{"forged":true}');
    expect(await error).toMatch(/Permissions Violation for Publish to "fedpbx.cdrs.piter"/);
    expect(await violationLogged('fedpbx.cdrs.piter')).toBe(true);
    const info = await (await jetstreamManager(controller)).streams.info(Subjects.CDRS_STREAM, { subjects_filter: 'fedpbx.cdrs.>' });
    expect(info.state.subjects ?? {}).toEqual({ 'fedpbx.cdrs.moscow': 1 });
  });

  it('cannot listen on another site inbox or request subjects', async () => {
    for (const subject of [`${Subjects.inboxPrefix('piter')}.x`, Subjects.rpcTrace('piter'), 'fedpbx.events.>', '>']) {
      const nc = await agentConnection('moscow');
      const error = nextError(nc);
      nc.subscribe(subject);
      expect(await error).toMatch(/Permissions Violation for Subscription to/);
      expect(await violationLogged(`Subscription Violation`)).toBe(true);
    }
  });

  it('cannot administer JetStream (create streams, delete buckets, purge events)', async () => {
    const nc = await agentConnection('moscow');
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await expect(jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] })).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.delete(`KV_${Subjects.configBucket('moscow')}`)).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.purge(Subjects.EVENTS_STREAM)).rejects.toThrow(/Permissions Violation/);
    await nc.close();
  });

  it('cannot connect with credentials signed by a foreign account key', async () => {
    const stranger = await startNatsServer();
    try {
      await expect(agentConnection('moscow', nats.url, await stranger.agentCreds('moscow'))).rejects.toThrow(/Authorization/i);
    } finally {
      await stranger.stop();
    }
  });
});

describe('a branch leaf node with the site agent credentials', () => {
  let leaf: ChildProcess | undefined;
  let leafPort = 0;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-leaf-'));
    const credsFile = join(dir, 'moscow.creds');
    writeFileSync(credsFile, await nats.agentCreds('moscow'), { mode: 0o600 });
    leafPort = await freePort();
    const conf = join(dir, 'leaf.conf');
    writeFileSync(conf, renderLeafConfig({ siteId: 'moscow', hubLeafUrls: [`nats-leaf://127.0.0.1:${nats.leafPort}`], credsFile, port: leafPort }));
    leaf = spawnOwned(NATS_SERVER_BINARY, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    leaf.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    for (let i = 0; i < 100 && !/Leafnode connection created/i.test(log); i++) await new Promise((r) => setTimeout(r, 50));
    expect(log).toMatch(/Leafnode connection created/i);
  }, 15_000);

  afterAll(() => {
    leaf?.kill('SIGTERM');
  });

  it('carries the site own config to a local client and nothing of another site', async () => {
    const nc = await connect({ servers: `nats://127.0.0.1:${leafPort}`, inboxPrefix: Subjects.inboxPrefix('moscow') });
    const kvm = new Kvm(nc);
    const own = await kvm.open(Subjects.configBucket('moscow'));
    expect((await own.get(Subjects.SNAPSHOT_KEY))?.string()).toMatch(/^moscow-rev-/);
    const piter = await kvm.open(Subjects.configBucket('piter'));
    await expect(piter.get(Subjects.SNAPSHOT_KEY, { timeout: 1500 } as never)).rejects.toThrow();
    await nc.close();
  });
});
