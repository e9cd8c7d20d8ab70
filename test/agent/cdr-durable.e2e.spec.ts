// Issue 16 section 1: every call Asterisk makes gets exactly one CDR at the controller. A private nats-server, the
// controller on its own PostgreSQL database, moscow's agent enrolled and running with FEDPBX_CDR_FILE, and the
// faithful Asterisk side: the AMI peer (no replay, ModuleCheck) and its CDR engine, which hands every CDR to
// cdr_manager (a live `Cdr` event to whoever is logged in) and to cdr_custom (the record appended to the file, as
// res_cdrel_custom writes it for the shipped deploy/asterisk/cdr_custom.conf).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { AGENT_MAIN, startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { CdrCustomWriter, type PeerCdr } from '../support/asterisk/cdr-custom-writer.js';
import { PeerCdrEngine } from '../support/asterisk/cdr-engine.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { seedFoundingScenario, startController, type ControllerProcess } from '../support/controller-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';

const CONF = join(import.meta.dirname, '..', '..', 'deploy', 'asterisk', 'cdr_custom.conf');

let nats: TestNatsServer;
let db: TestDatabase;
let controller: ControllerProcess;
let ami: AmiPeer;
let writer: CdrCustomWriter;
let engine: PeerCdrEngine;
let agent: AgentProcess | undefined;
let env: Record<string, string>;
let stateDir: string;

let n = 0;
/** One answered call at moscow (101 -> piter 301), as Asterisk's CDR engine finishes it. */
function call(vars?: Readonly<Record<string, string>>, over: Partial<PeerCdr> = {}): PeerCdr {
  const i = ++n;
  const start = Date.now() - 5000;
  const cdr: PeerCdr = {
    uniqueid: `moscow-1796500000.${i}`,
    linkedid: `moscow-1796500000.${i}`,
    start,
    answer: start + 1000,
    end: start + 5000,
    src: '101',
    dst: '301',
    dcontext: 'fedpbx-internal',
    channel: `PJSIP/101-${i.toString(16).padStart(8, '0')}`,
    lastapp: 'Dial',
    lastdata: 'PJSIP/301@site-piter,30,tT',
    disposition: 'ANSWERED',
    sequence: i,
    vars: vars ?? { FEDPBX_ROUTE: 'site', FEDPBX_ORIGIN: 'moscow', FEDPBX_TARGET: 'piter', FEDPBX_REVISION: '1' },
    ...over,
  };
  engine.dispatch(cdr);
  return cdr;
}
const idOf = (c: PeerCdr): string => `${c.uniqueid}:${c.sequence}`;

/** Every CDR of moscow the controller stored (cdrIds, with any repeats), through the paged API. */
async function controllerCdrIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  const token = await controller.adminToken();
  do {
    const q: string = `/api/v1/cdrs?siteId=moscow&limit=500${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await controller.api<{ items: { cdrId: string }[]; nextCursor: string | null }>('GET', q, undefined, token);
    if (r.status !== 200) throw new Error(`cdrs: ${r.status} ${JSON.stringify(r.body)}`);
    ids.push(...r.body.items.map((i) => i.cdrId));
    cursor = r.body.nextCursor;
  } while (cursor !== null);
  return ids;
}

/** The site's own outbox (what `fedpbx-agent cdrs` shows and the publisher sends), with any repeats. */
function outboxCdrIds(): string[] {
  const dir = join(stateDir, 'cdr');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== ''))
    .map((l) => (JSON.parse(l) as { cdrId: string }).cdrId);
}

/** Waits until the controller has every expected CDR, then checks it has each exactly once, here and at the site. */
async function expectExactlyOnce(expected: readonly PeerCdr[]): Promise<void> {
  const want = expected.map(idOf);
  try {
    await until('every CDR at the controller', async () => {
      const have = new Set(await controllerCdrIds());
      return want.every((id) => have.has(id));
    }, 20_000);
  } catch (error) {
    const warnings = (agent?.logs ?? []).filter((l) => Number(l.level) >= 40).slice(-10).map((l) => JSON.stringify(l));
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nagent warnings:\n${warnings.join('\n')}`, { cause: error });
  }
  const atController = (await controllerCdrIds()).filter((id) => want.includes(id));
  expect(atController.sort()).toEqual([...want].sort());
  const atSite = outboxCdrIds().filter((id) => want.includes(id));
  expect(atSite.sort()).toEqual([...want].sort());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  expect(AGENT_MAIN).toBeTruthy();
  nats = await startNatsServer();
  db = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cdr-durable-'));
  const issuerFile = join(dir, 'issuer.json');
  writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
  controller = await startController({ FEDPBX_DATA_DIR: join(dir, 'controller'), FEDPBX_NATS_URL: nats.url, FEDPBX_NATS_ISSUER_FILE: issuerFile, ...db.env });
  await seedFoundingScenario(controller);
  stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-agent-moscow-'));
  const issued = await controller.api<{ token: string }>('POST', '/api/v1/sites/moscow/enrollment-tokens', {}, await controller.adminToken());
  expect(issued.status).toBe(201);
  const enroll = spawnSync(process.execPath, [AGENT_MAIN, 'enroll', '--controller', controller.url, '--token', issued.body.token], {
    env: { PATH: process.env.PATH ?? '', FEDPBX_STATE_DIR: stateDir, FEDPBX_SITE_ID: 'moscow' },
    encoding: 'utf8',
  });
  expect(enroll.status, enroll.stderr).toBe(0);
  ami = await AmiPeer.start({ systemName: 'moscow' });
  ami.pjsip = moscowPjsip();
  const logDir = join(dir, 'log-asterisk');
  mkdirSync(join(logDir, 'cdr-custom'), { recursive: true }); // setup-asterisk-user.sh makes it; Asterisk does not
  writer = CdrCustomWriter.fromFile(CONF, logDir);
  engine = new PeerCdrEngine(ami, writer);
  env = {
    FEDPBX_SITE_ID: 'moscow',
    FEDPBX_STATE_DIR: stateDir,
    FEDPBX_AMI_HOST: '127.0.0.1',
    FEDPBX_AMI_PORT: String(ami.port),
    FEDPBX_AMI_USER: DEFAULT_AMI_USER.name,
    FEDPBX_AMI_SECRET: DEFAULT_AMI_USER.secret,
    FEDPBX_CDR_FILE: writer.paths[0]!,
  };
  agent = await startAgent(env);
  await ami.waitFor(() => ami.loggedInSessions.length > 0, 10_000);
  // The site's snapshot has arrived over NATS (calls are routed, not sent to the fallback).
  await until('moscow has a snapshot', async () => (await fetch(`http://127.0.0.1:${agent!.metricsPort}/healthz`)).status === 200, 20_000);
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await ami?.close();
  await controller?.stop();
  await nats?.stop();
  await db?.drop();
});

describe('every call Asterisk makes gets exactly one CDR at the controller (issue 16 section 1)', () => {
  it('live: each CDR arrives both as the AMI event and in the file, and is stored once', async () => {
    const calls = Array.from({ length: 10 }, () => call());
    await expectExactlyOnce(calls);
  }, 30_000);

  it('agent down, N calls (the fallback calls: no AMI client to see them), agent up: N CDRs, none doubled', async () => {
    await agent!.stop();
    await ami.waitFor(() => ami.loggedInSessions.length === 0);
    const calls = Array.from({ length: 25 }, () => call());
    agent = await startAgent(env);
    await expectExactlyOnce(calls);
  }, 40_000);

  it('a call in progress while the agent is killed and restarted: its CDR (written while the agent is down) arrives once, with its route tags', async () => {
    const inProgress = placeCall({
      host: '127.0.0.1',
      port: agent!.agiPort,
      script: 'internal',
      context: 'fedpbx-internal',
      channel: 'PJSIP/101-000000aa',
      callerId: { num: '101', name: 'Ivan' },
      extension: '301',
      // The agent has tagged the call and handed it to Dial: it dies while the call is talking.
      onDial: () => {
        killed = agent!.stop('SIGKILL');
        return { status: 'ANSWER', ringMs: 100, talkMs: 1000 };
      },
      timeoutMs: 10_000,
    });
    let killed: Promise<unknown> | undefined;
    const record = await inProgress;
    await killed;
    expect(record.dials).toHaveLength(1);
    expect(record.dials[0]!.rawData).toMatch(/^PJSIP\/301@site-piter,30,/);
    // The call ends now, with no agent: the CDR goes to the file (and to no AMI client).
    const cdr = call(record.cdr, { dstchannel: 'PJSIP/site-piter-0000000d', lastdata: record.dials[0]!.rawData });
    expect(cdr.vars).toMatchObject({ FEDPBX_ROUTE: 'site', FEDPBX_TARGET: 'piter' });
    agent = await startAgent(env);
    await expectExactlyOnce([cdr]);
    const stored = await controller.api<{ items: { cdrId: string; routeKind?: string; targetSiteId?: string }[] }>('GET', '/api/v1/cdrs?siteId=moscow&limit=500', undefined, await controller.adminToken());
    expect(stored.body.items.find((i) => i.cdrId === idOf(cdr))).toMatchObject({ routeKind: 'site', targetSiteId: 'piter' });
  }, 40_000);

  it('the agent killed (-9) and restarted in the middle of a stream of calls: every CDR once', async () => {
    const calls: PeerCdr[] = [];
    const stream = setInterval(() => calls.push(call()), 15);
    try {
      await sleep(300);
      await agent!.stop('SIGKILL');
      await sleep(300);
      agent = await startAgent(env);
      await sleep(300);
    } finally {
      clearInterval(stream);
    }
    expect(calls.length).toBeGreaterThan(20);
    await expectExactlyOnce(calls);
    // They travelled as CDR batches (issue #21 §4: the agent's credentials, minted by this controller, allow them, and
    // the controller made their stream), none alone: the kill fell between a batch's send and its cursor write.
    const nc = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())) });
    try {
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(Subjects.CDRS_STREAM)).state.messages).toBeGreaterThan(1);
      expect((await jsm.streams.info(Subjects.EVENTS_STREAM, { subjects_filter: 'fedpbx.events.moscow.cdr' })).state.subjects ?? {}).toEqual({});
    } finally {
      await nc.close();
    }
  }, 40_000);

  it('rotation by rename in the middle of a stream, and again while the agent is down: nothing lost', async () => {
    const path = writer.paths[0]!;
    const calls: PeerCdr[] = [];
    const stream = setInterval(() => calls.push(call()), 10);
    try {
      await sleep(200);
      renameSync(path, `${path}.1`); // logrotate create-less rename (deploy/asterisk/logrotate-fedpbx-cdr)
      await sleep(200);
      await agent!.stop();
      calls.push(call(), call());
      renameSync(path, `${path}.2`);
      calls.push(call());
      agent = await startAgent(env);
      await sleep(200);
    } finally {
      clearInterval(stream);
    }
    await expectExactlyOnce(calls);
  }, 40_000);

  it('cdr_custom not loaded: alarm in the log, the metrics and the agent status at the controller; loaded again: cleared', async () => {
    ami.modules.delete('cdr_custom');
    ami.dropAll(); // the agent checks after every (re)connect
    await until('alarm logged', () => agent!.logs.some((l) => l.alarm === 'cdr-source-not-loaded'), 10_000);
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${agent!.metricsPort}/metrics`)).text();
    expect(await metrics()).toMatch(/^fedpbx_cdr_source_loaded\{module="cdr_custom"\} 0$/m);
    expect(await metrics()).toMatch(/^fedpbx_alarm\{code="cdr-source-not-loaded",severity="critical"\} 1$/m);
    // The agent status the controller shows (the heartbeat goes at once when an alarm changes).
    const status = async () => (await controller.api<{ data: { alarms: { code: string; message: string }[] } }>('GET', '/api/v1/agents/moscow', undefined, await controller.adminToken())).body.data.alarms;
    const shown = await until('alarm at the controller', async () => (await status()).find((a) => a.code === 'cdr-source-not-loaded'), 10_000);
    expect(shown.message).toContain("module load cdr_custom.so");
    ami.modules.add('cdr_custom');
    ami.dropAll();
    await until('cleared', async () => /^fedpbx_cdr_source_loaded\{module="cdr_custom"\} 1$/m.test(await metrics()), 10_000);
    expect(agent!.logs.some((l) => l.alarm === 'cdr-source-not-loaded' && String(l.msg).includes('cleared'))).toBe(true);
    await until('cleared at the controller', async () => !(await status()).some((a) => a.code === 'cdr-source-not-loaded'), 10_000);
  }, 30_000);
});
