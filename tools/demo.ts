/**
 * `npm run demo` - the demo federation on one machine, every part real but Asterisk:
 *   a nats-server (the installed binary, operator mode, its own port and store), the controller on the embedded
 *   database, and three agents - moscow (100-299), piter (300-499) and kazan (100-299 too, reached through its
 *   site prefix 6) - enrolled with one-time tokens and synced over NATS. It seeds the founding scenario through
 *   the REST API, places sample calls through each agent's real FastAGI port with the faithful Asterisk peer,
 *   prints what Asterisk was told to do and the traces, then keeps running until Ctrl-C, which stops everything
 *   it started.
 *
 * Options: --port N (controller HTTP, default 8080 or a free one), --no-wait (exit after the sample calls).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { foundingScenarioRequests } from '../apps/controller/src/testing/scenario.js';
import { createNatsTrust, issuerOf, renderHubConfig } from '@fedpbx/nats-auth';
import { placeCall, type CallRecord, type PlaceCallOptions } from '../test/support/asterisk/fastagi-peer.js';
import { freePort } from '../test/support/nats-server.js';

const ROOT = join(import.meta.dirname, '..');
const CONTROLLER_MAIN = join(ROOT, 'apps', 'controller', 'dist', 'main.js');
const AGENT_MAIN = join(ROOT, 'apps', 'agent', 'dist', 'main.js');
/** FEDPBX_NATS_SERVER_BIN, else `nats-server` on the PATH, else Debian's location. */
const NATS_SERVER =
  process.env.FEDPBX_NATS_SERVER_BIN ??
  (process.env.PATH ?? '')
    .split(':')
    .filter((d) => d !== '')
    .map((d) => join(d, 'nats-server'))
    .find((f) => existsSync(f)) ??
  '/usr/sbin/nats-server';
const SITES = ['moscow', 'piter', 'kazan'] as const;

const { values } = parseArgs({ options: { port: { type: 'string' }, 'no-wait': { type: 'boolean', default: false } } });

const children: { name: string; child: ChildProcess }[] = [];
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s = '') => process.stdout.write(`${s}\n`);

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  stopAll();
  process.exit(1);
}

function stopAll(): void {
  for (const { child } of children.reverse()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

/** Spawns a child we own; its output goes to a log line prefix only when it dies early. */
function start(name: string, command: string, args: string[], env: Record<string, string>, oneShot = false): { child: ChildProcess; output: () => string; waitFor: (re: RegExp, ms: number) => Promise<RegExpExecArray> } {
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push({ name, child });
  let out = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > 1_000_000) out = out.slice(-500_000);
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', (code, signal) => {
    if (!stopping && !(oneShot && code === 0)) fail(`${name} exited (${signal ?? code}):\n${out.slice(-3000)}`);
  });
  return {
    child,
    output: () => out,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const m = re.exec(out);
        if (m) return resolve(m);
        const timer = setTimeout(() => reject(new Error(`${name}: no ${re} within ${ms} ms:\n${out.slice(-3000)}`)), ms);
        waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolve(x)) });
      }),
  };
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopping = true;
    say('\nstopping the demo federation ...');
    stopAll();
    setTimeout(() => process.exit(0), 500).unref();
  });
}

async function api<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as T };
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) fail(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  if (!existsSync(NATS_SERVER)) {
    fail(`nats-server not found at ${NATS_SERVER}.\n  Install it: sudo apt-get install nats-server   (Debian/Ubuntu; or set FEDPBX_NATS_SERVER_BIN)`);
  }
  for (const f of [CONTROLLER_MAIN, AGENT_MAIN]) if (!existsSync(f)) fail(`${f} is missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-demo-'));

  // 1. NATS hub in operator mode: users are JWTs the controller mints; nothing per site in the server config.
  const trust = await createNatsTrust();
  const natsPort = await freePort();
  writeFileSync(join(dir, 'nats-server.conf'), renderHubConfig(trust, { port: natsPort, storeDir: join(dir, 'jetstream'), resolverDir: join(dir, 'jwt'), serverName: 'fedpbx-demo' }));
  writeFileSync(join(dir, 'issuer.json'), JSON.stringify(issuerOf(trust)), { mode: 0o600 });
  const nats = start('nats-server', NATS_SERVER, ['-c', join(dir, 'nats-server.conf')], {});
  await nats.waitFor(/Server is ready/, 10_000);
  const natsUrl = `nats://127.0.0.1:${natsPort}`;

  // 2. Controller on the embedded database.
  const httpPort = values.port !== undefined ? Number(values.port) : (await portFree(8080)) ? 8080 : await freePort();
  const base = `http://127.0.0.1:${httpPort}`;
  const admin = { username: 'admin', password: `demo-${randomBytes(6).toString('hex')}` };
  const controller = start('controller', process.execPath, [CONTROLLER_MAIN], {
    FEDPBX_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    FEDPBX_DATA_DIR: join(dir, 'controller-db'),
    FEDPBX_NATS_URL: natsUrl,
    FEDPBX_NATS_ISSUER_FILE: join(dir, 'issuer.json'),
    FEDPBX_BOOTSTRAP_ADMIN_USER: admin.username,
    FEDPBX_BOOTSTRAP_ADMIN_PASSWORD: admin.password,
    FEDPBX_TOKEN_SECRET: randomBytes(32).toString('hex'),
    FEDPBX_LOG_LEVEL: 'warn',
  });
  await until('controller start', 60_000, async () => ((await api(base, 'GET', '/api/v1/health')).status === 200 ? true : undefined));
  void controller;
  const login = await api<{ accessToken: string }>(base, 'POST', '/api/v1/auth/login', admin);
  if (login.status !== 200) fail(`login failed: ${JSON.stringify(login.body)}`);
  const token = login.body.accessToken;

  // 3. The founding scenario through the REST API, as a head-office admin would.
  for (const [path, items] of foundingScenarioRequests()) {
    for (const body of items) {
      const r = await api(base, 'POST', `/api/v1/${path}`, body, token);
      if (r.status !== 201) fail(`POST /api/v1/${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  }

  // 4. Three agents, each enrolled with a one-time token, then running and synced over NATS.
  const agiPorts: Record<string, number> = {};
  for (const site of SITES) {
    const stateDir = join(dir, `agent-${site}`);
    const issued = await api<{ token: string }>(base, 'POST', `/api/v1/sites/${site}/enrollment-tokens`, {}, token);
    if (issued.status !== 201) fail(`enrollment token for ${site}: ${issued.status} ${JSON.stringify(issued.body)}`);
    const enroll = start(`enroll ${site}`, process.execPath, [AGENT_MAIN, 'enroll', '--controller', base, '--token', issued.body.token], { FEDPBX_STATE_DIR: stateDir, FEDPBX_SITE_ID: site }, true);
    if (enroll.child.exitCode === null) await new Promise((resolve) => enroll.child.once('exit', resolve));
    const agent = start(`agent ${site}`, process.execPath, [AGENT_MAIN], {
      FEDPBX_SITE_ID: site,
      FEDPBX_STATE_DIR: stateDir,
      FEDPBX_AGI_LISTEN: '127.0.0.1:0',
      FEDPBX_METRICS_LISTEN: '127.0.0.1:0',
      FEDPBX_LOG_LEVEL: 'info',
    });
    const ready = await agent.waitFor(/"msg":"agent serving FastAGI"[^\n]*/, 15_000);
    const line = JSON.parse(/\{[^\n]*"msg":"agent serving FastAGI"[^\n]*\}/.exec(agent.output())?.[0] ?? '{}') as { agi?: string };
    agiPorts[site] = Number(line.agi?.split(':').pop());
    void ready;
  }
  await until('every agent applied its snapshot', 30_000, async () => {
    const r = await api<{ items: { siteId: string; state: string }[] }>(base, 'GET', '/api/v1/rollout', undefined, token);
    return r.status === 200 && SITES.every((s) => r.body.items.find((x) => x.siteId === s)?.state === 'in-sync') ? true : undefined;
  });

  say(bold('\nfedpbx demo federation is up'));
  say(`  console     ${base}/`);
  say(`  REST API    ${base}/api/v1   (OpenAPI ${base}/api/openapi.json, docs ${base}/api/docs)`);
  say(`  log in as   ${admin.username} / ${admin.password}`);
  say(`  NATS        ${natsUrl}`);
  say(`  agents      ${SITES.map((s) => `${s} agi://127.0.0.1:${agiPorts[s]}`).join(', ')}`);
  say(`  work dir    ${dir}`);

  // 5. Sample calls through the agents' FastAGI ports, and their traces.
  const answer = () => ({ status: 'ANSWER' as const, ringMs: 10, talkMs: 10 });
  const samples: { title: string; site: (typeof SITES)[number]; caller: string; number: string; opts?: Partial<PlaceCallOptions> }[] = [
    { title: 'moscow 101 calls piter 301 (inter-site, recorded on both sides)', site: 'moscow', caller: '101', number: '301' },
    { title: 'moscow 101 calls kazan 101 through its prefix 6 (overlapping plans)', site: 'moscow', caller: '101', number: '6101' },
    { title: 'moscow 101 calls a St Petersburg number (trunk-preferred: out through piter)', site: 'moscow', caller: '101', number: '88125551234' },
    {
      title: 'the same call when piter cannot hop it off: moscow\'s own trunk',
      site: 'moscow',
      caller: '101',
      number: '88125551234',
      opts: { onDial: (r) => (r.rawData.includes('site-piter') ? { status: 'CONGESTION' } : answer()) },
    },
    { title: 'piter 302 calls moscow 102', site: 'piter', caller: '302', number: '102' },
  ];
  for (const s of samples) {
    const call: CallRecord = await placeCall({
      host: '127.0.0.1',
      port: agiPorts[s.site] ?? 0,
      script: 'internal',
      context: 'fedpbx-internal',
      channel: `PJSIP/${s.caller}-00000001`,
      callerId: { num: s.caller, name: 'Demo' },
      extension: s.number,
      onDial: answer,
      timeoutMs: 10_000,
      ...s.opts,
    });
    say(bold(`\n${s.title}`));
    for (const d of call.dials) say(`  Dial(${d.rawData}) -> ${d.status ?? 'no status'}`);
    for (const a of call.apps.filter((x) => x.app.toLowerCase() === 'mixmonitor')) say(`  MixMonitor(${a.data})`);
    say(`  route ${call.variables.FEDPBX_ROUTE ?? '?'} origin ${call.variables.FEDPBX_ORIGIN ?? '?'} target ${call.variables.FEDPBX_TARGET ?? '-'} trunk ${call.variables.FEDPBX_TRUNK || '-'} revision ${call.variables.FEDPBX_REVISION ?? '?'}`);
    const trace = await api<{ steps?: { step: string; detail: string }[] }>(base, 'POST', '/api/v1/trace', { siteId: s.site, caller: s.caller, number: s.number }, token);
    for (const step of trace.body.steps ?? []) say(`    ${step.step.padEnd(14)} ${step.detail}`);
  }

  if (values['no-wait']) {
    stopping = true;
    stopAll();
    return;
  }
  say(bold('\nrunning - change something in the console or the API and watch the agents apply it; Ctrl-C stops everything.'));
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
