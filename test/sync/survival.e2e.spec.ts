// Issue 5's survivability cases, with every part real but Asterisk: a private nats-server (killed and restarted),
// the controller process on its own PostgreSQL database, agent processes enrolled with one-time tokens, each
// reaching NATS through a TCP relay that stands for its site's WAN, and the faithful Asterisk peers (FastAGI
// calls, AMI Cdr events).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { Subjects, type SiteSnapshot } from '@fedpbx/contracts';
import { decodeSnapshotValue } from '@fedpbx/signing';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { AGENT_MAIN, startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { cdrEventFields } from '../support/asterisk/cdr-event.js';
import { placeCall, type CallRecord, type DialScript } from '../support/asterisk/fastagi-peer.js';
import {
  seedFoundingScenario,
  startController,
  type ControllerProcess,
} from '../support/controller-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

interface Site {
  readonly id: string;
  readonly stateDir: string;
  readonly wan: TcpProxy;
  readonly ami: AmiPeer;
  agent: AgentProcess;
  env: Record<string, string>;
}

interface Rollout {
  siteId: string;
  currentRevision: number;
  appliedRevision: number | null;
  state: string;
  refused: { revision: number; reason: string } | null;
}

let nats: TestNatsServer;
let db: TestDatabase;
let controller: ControllerProcess;
const sites: Record<string, Site> = {};
let cdrSequence = 0;

const answer: DialScript = () => ({ status: 'ANSWER', ringMs: 1, talkMs: 1 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function site(id: string): Site {
  const s = sites[id];
  if (s === undefined) throw new Error(`no site ${id}`);
  return s;
}

async function call(
  siteId: string,
  caller: string,
  number: string,
  onDial: DialScript = answer,
): Promise<CallRecord> {
  return placeCall({
    host: '127.0.0.1',
    port: site(siteId).agent.agiPort,
    script: 'internal',
    context: 'fedpbx-internal',
    channel: `PJSIP/${caller}-0000001a`,
    callerId: { num: caller, name: 'Caller' },
    extension: number,
    onDial,
    timeoutMs: 10_000,
  });
}

/** moscow 101 -> piter 301 over the link, as the founding scenario says. */
function expectRoutedToPiter(c: CallRecord): void {
  expect(c.connectError).toBeNull();
  expect(c.agiStatus).toBe('SUCCESS');
  // Target and timeout; the options also carry the pre-dial handler that passes the call id to piter.
  expect(c.dials).toHaveLength(1);
  expect(c.dials[0]!.rawData).toMatch(/^PJSIP\/301@site-piter,30,/);
}

async function agentRevision(s: Site): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${s.agent.metricsPort}/healthz`);
  const body = (await res.json()) as { revision?: number };
  return body.revision ?? 0;
}

async function rollout(siteId: string): Promise<Rollout> {
  const r = await controller.api<{ data: Rollout }>(
    'GET',
    `/api/v1/sites/${siteId}/rollout`,
    undefined,
    await controller.adminToken(),
  );
  if (r.status !== 200) throw new Error(`rollout ${siteId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data;
}

async function inSync(siteId: string, ms = 15_000): Promise<Rollout> {
  let last: Rollout | undefined;
  try {
    return await until(
      `${siteId} in sync`,
      async () => {
        last = await rollout(siteId);
        return last.state === 'in-sync' && last.appliedRevision === last.currentRevision ? last : undefined;
      },
      ms,
    );
  } catch (error) {
    const logs = sites[siteId]?.agent?.logs.slice(-15).map((l) => JSON.stringify(l)) ?? [];
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\nrollout: ${JSON.stringify(last)}\nagent log:\n${logs.join('\n')}\ncontroller:\n${controller.output.slice(-15).join('\n')}`,
      { cause: error },
    );
  }
}

/** A change of moscow's own config through the API (a new extension); answers the extension number. */
let nextExtension = 120;
async function addMoscowExtension(): Promise<string> {
  const number = String(nextExtension++);
  const r = await controller.api(
    'POST',
    '/api/v1/extensions',
    { id: `e-moscow-${number}`, siteId: 'moscow', number, displayName: `Added ${number}` },
    await controller.adminToken(),
  );
  if (r.status !== 201) throw new Error(`add extension ${number}: ${r.status} ${JSON.stringify(r.body)}`);
  return number;
}

/** One Cdr event from moscow's Asterisk (AMI), as cdr_manager writes it with the agent's route tags. */
function emitCdr(s: Site): string {
  const n = ++cdrSequence;
  const uniqueId = `moscow-1795700000.${n}`;
  s.ami.event(
    'Cdr',
    cdrEventFields({
      uniqueId,
      sequence: n,
      dst: '301',
      channel: `PJSIP/101-${n.toString(16).padStart(8, '0')}`,
      destinationChannel: 'PJSIP/site-piter-0000000d',
      lastData: 'PJSIP/301@site-piter,30',
      route: 'site',
      target: 'piter',
    }),
  );
  return uniqueId;
}

/** Every CDR of moscow the controller stored, through the paged API. */
async function storedCdrIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  const token = await controller.adminToken();
  do {
    const q: string = `/api/v1/cdrs?siteId=moscow&limit=500${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await controller.api<{ items: { uniqueId: string }[]; nextCursor: string | null }>(
      'GET',
      q,
      undefined,
      token,
    );
    if (r.status !== 200) throw new Error(`cdrs: ${r.status} ${JSON.stringify(r.body)}`);
    ids.push(...r.body.items.map((i) => i.uniqueId));
    cursor = r.body.nextCursor;
  } while (cursor !== null);
  return ids;
}

async function startSiteAgent(s: Site): Promise<AgentProcess> {
  return startAgent(s.env);
}

beforeAll(async () => {
  expect(AGENT_MAIN).toBeTruthy();
  nats = await startNatsServer();
  db = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-survival-'));
  const issuerFile = join(dir, 'issuer.json');
  writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
  controller = await startController({
    FEDPBX_DATA_DIR: join(dir, 'controller'),
    FEDPBX_NATS_URL: nats.url,
    FEDPBX_NATS_ISSUER_FILE: issuerFile,
    ...db.env,
  });
  await seedFoundingScenario(controller);
  const token = await controller.adminToken();
  for (const id of ['moscow', 'piter']) {
    const stateDir = mkdtempSync(join(tmpdir(), `fedpbx-agent-${id}-`));
    const issued = await controller.api<{ token: string }>(
      'POST',
      `/api/v1/sites/${id}/enrollment-tokens`,
      {},
      token,
    );
    expect(issued.status).toBe(201);
    const enroll = spawnSync(
      process.execPath,
      [AGENT_MAIN, 'enroll', '--controller', controller.url, '--token', issued.body.token],
      {
        env: { PATH: process.env.PATH ?? '', FEDPBX_STATE_DIR: stateDir, FEDPBX_SITE_ID: id },
        encoding: 'utf8',
      },
    );
    expect(enroll.status, enroll.stderr).toBe(0);
    const wan = await TcpProxy.start(nats.port);
    const ami = await AmiPeer.start({ systemName: id });
    // moscow's Asterisk knows its link to piter is reachable (piter's own Asterisk state does not matter here).
    if (id === 'moscow') ami.pjsip = moscowPjsip();
    const env = {
      FEDPBX_SITE_ID: id,
      FEDPBX_STATE_DIR: stateDir,
      FEDPBX_NATS_URL: wan.url,
      FEDPBX_AMI_HOST: '127.0.0.1',
      FEDPBX_AMI_PORT: String(ami.port),
      FEDPBX_AMI_USER: DEFAULT_AMI_USER.name,
      FEDPBX_AMI_SECRET: DEFAULT_AMI_USER.secret,
      FEDPBX_LOG_LEVEL: 'info',
    };
    const s: Site = { id, stateDir, wan, ami, env, agent: undefined as unknown as AgentProcess };
    sites[id] = s;
    s.agent = await until(`agent ${id} started`, () => startSiteAgent(s), 20_000);
  }
  await inSync('moscow', 30_000);
  await inSync('piter', 30_000);
}, 180_000);

afterAll(async () => {
  for (const s of Object.values(sites)) {
    await s.agent?.stop();
    await s.wan.close();
    await s.ami.close();
  }
  await controller?.stop();
  await nats?.stop();
  await db?.drop();
});

describe('survivability (issue 5 section 5)', () => {
  it('a. NATS killed during a burst of calls: every call still routes', async () => {
    const moscow = site('moscow');
    const calls: Promise<CallRecord>[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        if (i === 100) await nats.kill();
        calls.push(call('moscow', '101', '301'));
        if (i % 20 === 19) await Promise.all(calls.slice(-20));
      }
      const done = await Promise.all(calls);
      for (const c of done) expectRoutedToPiter(c);
      expect(nats.running()).toBe(false);
      expect(moscow.agent.child.exitCode).toBeNull();
    } finally {
      await nats.start();
    }
  }, 60_000);

  it('b. agent restarted while NATS is down serves from disk within 1 s', async () => {
    const moscow = site('moscow');
    const revision = await agentRevision(moscow);
    await nats.kill();
    try {
      await moscow.agent.stop();
      moscow.agent = await startSiteAgent(moscow);
      expect(Number(moscow.agent.ready.uptimeMs)).toBeLessThan(1000);
      expect(moscow.agent.ready.revision).toBe(revision);
      expectRoutedToPiter(await call('moscow', '101', '301'));
    } finally {
      await nats.start();
    }
    await inSync('moscow');
  }, 60_000);

  it('c. controller down while 1,000 CDRs are produced: all arrive exactly once after recovery', async () => {
    const moscow = site('moscow');
    const before = new Set(await storedCdrIds());
    await controller.stop();
    const produced: string[] = [];
    try {
      for (let i = 0; i < 1000; i++) {
        produced.push(emitCdr(moscow));
        if (i % 100 === 99) await sleep(10);
      }
      await sleep(1000);
    } finally {
      await controller.start();
    }
    const ids = await until(
      '1,000 CDRs stored',
      async () => {
        const all = (await storedCdrIds()).filter((id) => !before.has(id));
        return all.length >= 1000 ? all : undefined;
      },
      60_000,
    );
    await sleep(1000);
    const settled = (await storedCdrIds()).filter((id) => !before.has(id));
    expect(settled.length).toBe(1000);
    expect(new Set(settled).size).toBe(1000);
    expect(new Set(ids)).toEqual(new Set(produced));
  }, 120_000);

  it('d. a change made while a site is cut off reaches it after reconnection, in revision order', async () => {
    const moscow = site('moscow');
    const start = await agentRevision(moscow);
    moscow.wan.cut();
    let first: string, second: string, target: number;
    try {
      first = await addMoscowExtension();
      second = await addMoscowExtension();
      target = (await rollout('moscow')).currentRevision;
      expect(target).toBe(start + 2);
      await sleep(1500);
      expect(await agentRevision(moscow)).toBe(start);
      // Cut off, the site still calls with what it has.
      expectRoutedToPiter(await call('moscow', '101', '301'));
    } finally {
      moscow.wan.restore();
    }
    await until(
      'moscow applied the newest revision',
      async () => (await agentRevision(moscow)) === target,
      20_000,
    );
    const applied = moscow.agent.logs
      .filter((l) => typeof l.revision === 'number' && /applied/i.test(String(l.msg)))
      .map((l) => Number(l.revision));
    expect(applied).toEqual([...applied].sort((a, b) => a - b));
    expect(applied.at(-1)).toBe(target);
    for (const number of [first, second]) {
      const c = await call('moscow', '101', number);
      expect(c.dials.map((d) => d.rawData)).toEqual([`PJSIP/${number},20,tT`]);
    }
    await inSync('moscow');
  }, 60_000);

  it('e. a snapshot with a bad signature or hash is refused; the last-known-good stays in force', async () => {
    const moscow = site('moscow');
    const good = await agentRevision(moscow);
    const nc: NatsConnection = await connect({
      servers: nats.url,
      authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())),
    });
    try {
      const kv = await new Kvm(nc).open(Subjects.configBucket('moscow'));
      const stored = await kv.get(Subjects.SNAPSHOT_KEY);
      if (stored === null) throw new Error('no snapshot in the bucket');
      const current = JSON.parse(decodeSnapshotValue(stored.value)) as SiteSnapshot;
      const forgedConfig = structuredClone(current);
      forgedConfig.revision = good + 1;
      forgedConfig.config.extensions = forgedConfig.config.extensions.map((e) => ({
        ...e,
        displayName: 'forged',
      }));
      await kv.put(Subjects.SNAPSHOT_KEY, JSON.stringify(forgedConfig));
      const refusedHash = await until(
        'hash mismatch reported',
        async () => {
          const r = await rollout('moscow');
          return r.refused !== null && r.refused.revision === good + 1 ? r.refused : undefined;
        },
        10_000,
      );
      expect(refusedHash.reason).toMatch(/hash|content/i);
      expect(await agentRevision(moscow)).toBe(good);

      const forgedSignature = structuredClone(current);
      forgedSignature.revision = good + 2;
      forgedSignature.signature = {
        ...forgedSignature.signature,
        value: Buffer.alloc(64, 7).toString('base64'),
      };
      await kv.put(Subjects.SNAPSHOT_KEY, JSON.stringify(forgedSignature));
      const refusedSig = await until(
        'bad signature reported',
        async () => {
          const r = await rollout('moscow');
          return r.refused !== null && r.refused.revision === good + 2 ? r.refused : undefined;
        },
        10_000,
      );
      expect(refusedSig.reason).toMatch(/signature/i);
      expect(await agentRevision(moscow)).toBe(good);
      expectRoutedToPiter(await call('moscow', '101', '301'));
    } finally {
      await nc.close();
    }
    // The next real change still gets through.
    await addMoscowExtension();
    await inSync('moscow', 20_000);
  }, 60_000);

  it('f. NATS flapping for a minute: no event lost or doubled, routing correct', async () => {
    const moscow = site('moscow');
    const before = new Set(await storedCdrIds());
    const produced: string[] = [];
    let flapping = true;
    const flapper = (async () => {
      while (flapping) {
        await nats.kill();
        await sleep(1500);
        await nats.start();
        await sleep(2500);
      }
    })();
    flapper.catch(() => undefined);
    const calls: Promise<CallRecord>[] = [];
    const deadline = Date.now() + 60_000;
    let changes = 0;
    let tick = 0;
    while (Date.now() < deadline) {
      produced.push(emitCdr(moscow));
      if (tick % 5 === 0) calls.push(call('moscow', '101', '301'));
      if (tick % 200 === 199) {
        await addMoscowExtension().then(
          () => changes++,
          () => undefined,
        );
      }
      tick++;
      await sleep(50);
    }
    flapping = false;
    await flapper;
    if (!nats.running()) await nats.start();
    for (const c of await Promise.all(calls)) expectRoutedToPiter(c);
    await until(
      'every CDR stored',
      async () => (await storedCdrIds()).filter((id) => !before.has(id)).length >= produced.length,
      90_000,
    );
    await sleep(2000);
    const stored = (await storedCdrIds()).filter((id) => !before.has(id));
    expect(stored.length).toBe(produced.length);
    expect(new Set(stored)).toEqual(new Set(produced));
    expect(changes).toBeGreaterThan(0);
    await inSync('moscow', 30_000);
  }, 240_000);
});
