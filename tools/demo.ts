/**
 * `npm run demo` - the demo federation on one machine, every part real but Asterisk:
 *   a nats-server (the installed binary, operator mode, its own port and store), the controller on the embedded
 *   database, and three agents - moscow (100-299), piter (300-499) and kazan (100-299 too, reached through its
 *   site prefix 6) - enrolled with one-time tokens and synced over NATS. Beside each agent runs that site's
 *   Asterisk as the faithful peers model it (AMI, the PJSIP model reading the files the agent writes, the CDR
 *   engine), so link health is live and every call leaves its CDRs at the controller. It seeds the founding
 *   scenario through the REST API, places sample calls through each agent's real FastAGI port, prints what Asterisk
 *   was told to do, the traces, the CDRs and the link health the controller has, then keeps running: `l` (or a line
 *   with `l`) takes the moscow-piter link down or back up and shows the next call's reroute; Ctrl-C (or `q`) stops
 *   everything it started and removes its work dir.
 *
 * Options: --port N (controller HTTP, default 8080 or a free one), --no-wait (exit after the sample calls),
 * --keep (keep the work dir - keys, credentials, databases - on exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { foundingScenarioRequests } from '../apps/controller/src/testing/scenario.js';
import { foundingScenario } from '@fedpbx/dialplan';
import { createNatsTrust, issuerOf, renderHubConfig } from '@fedpbx/nats-auth';
import { AsteriskSite, type SiteCall } from '@fedpbx/e2e/support/asterisk/asterisk-site.js';
import type { CallRecord } from '@fedpbx/e2e/support/asterisk/fastagi-peer.js';
import { freePort } from '@fedpbx/e2e/support/nats-server.js';
import { buildIfStale } from './build-if-stale.js';
import { callRecordLines, type DemoCdr, type DemoSampleCall } from './demo-records.js';

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

const { values } = parseArgs({ options: { port: { type: 'string' }, 'no-wait': { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } } });
/** The link `l` toggles, and the address its far ends have (the founding scenario's VPN addresses). */
const TOGGLED_LINK = { a: 'moscow', b: 'piter' } as const;
/** How long a start-up step may take: seconds when the machine is idle, minutes on a shared and loaded one. */
const STARTUP_MS = 180_000;

const children: { name: string; child: ChildProcess }[] = [];
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s = '') => process.stdout.write(`${s}\n`);

const asterisks: AsteriskSite[] = [];
/** The work dir (keys, credentials, databases): removed on exit unless --keep. */
let workDir: string | undefined;

/** Prints the reason and shuts everything down (exit code 1); safe to call from any event handler. */
function abort(message: string): void {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`demo: ${message}\n`);
  void shutDown(1);
}

/** Thrown by {@link fail} so the rest of the demo's steps do not run while it shuts down. */
class DemoStopped extends Error {}

function fail(message: string): never {
  abort(message);
  throw new DemoStopped(message);
}

/** Stops every child (SIGTERM, then SIGKILL after 5 s), the Asterisk models, removes the work dir, exits. */
async function shutDown(code: number): Promise<never> {
  const running = children.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  for (const { child } of [...running].reverse()) child.kill('SIGTERM');
  await Promise.all(
    running.map(({ child }) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => (clearTimeout(killer), resolve()));
      }),
    ),
  );
  await Promise.all(asterisks.map((a) => a.stop().catch(() => undefined)));
  if (workDir !== undefined) {
    if (values.keep) say(`work dir kept: ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
  process.exit(code);
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
    if (!stopping && !(oneShot && code === 0)) abort(`${name} exited (${signal ?? code}):\n${out.slice(-3000)}`);
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
function stop(): void {
  if (stopping) return;
  stopping = true;
  say('\nstopping the demo federation ...');
  void shutDown(0);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, stop);

async function api<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as T };
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>, detail: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) fail(`${what} did not happen within ${ms} ms${detail() === '' ? '' : `:\n${detail()}`}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  if (!existsSync(NATS_SERVER)) {
    fail(`nats-server not found at ${NATS_SERVER}.\n  Install it: sudo apt-get install nats-server   (Debian/Ubuntu; or set FEDPBX_NATS_SERVER_BIN)`);
  }
  // Before anything starts: a taken port would otherwise surface as the other server refusing our login.
  let httpPort: number;
  if (values.port !== undefined) {
    httpPort = Number(values.port);
    if (!Number.isInteger(httpPort) || httpPort < 1 || httpPort > 65535) fail(`--port ${values.port}: not a port number (1-65535)`);
    if (!(await portFree(httpPort))) fail(`port ${httpPort} is in use (127.0.0.1:${httpPort}): stop what listens there or pick another with --port`);
  } else {
    httpPort = (await portFree(8080)) ? 8080 : await freePort();
  }
  if (!(await buildIfStale(say))) fail('the build failed (its output is above)');
  for (const f of [CONTROLLER_MAIN, AGENT_MAIN]) if (!existsSync(f)) fail(`${f} is missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-demo-'));
  workDir = dir;

  // 1. NATS hub in operator mode: users are JWTs the controller mints; nothing per site in the server config.
  const trust = await createNatsTrust();
  const natsPort = await freePort();
  writeFileSync(join(dir, 'nats-server.conf'), renderHubConfig(trust, { port: natsPort, storeDir: join(dir, 'jetstream'), resolverDir: join(dir, 'jwt'), serverName: 'fedpbx-demo' }));
  writeFileSync(join(dir, 'issuer.json'), JSON.stringify(issuerOf(trust)), { mode: 0o600 });
  const nats = start('nats-server', NATS_SERVER, ['-c', join(dir, 'nats-server.conf')], {});
  await nats.waitFor(/Server is ready/, 60_000);
  const natsUrl = `nats://127.0.0.1:${natsPort}`;

  // 2. Controller on the embedded database.
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
  await until('controller start', STARTUP_MS, async () => ((await api(base, 'GET', '/api/v1/health')).status === 200 ? true : undefined), () => controller.output().slice(-3000));
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

  // 4. Three sites, each an Asterisk (the faithful peers) and its agent, enrolled with a one-time token, then
  //    running and synced over NATS; the agent writes its PJSIP file into the site's Asterisk config dir.
  const agiPorts: Record<string, number> = {};
  const asteriskOf: Record<string, AsteriskSite> = {};
  for (const site of SITES) {
    const stateDir = join(dir, `agent-${site}`);
    const asterisk = await AsteriskSite.start({ siteId: site, configDir: join(dir, `asterisk-${site}`) });
    asterisks.push(asterisk);
    asteriskOf[site] = asterisk;
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
      ...asterisk.agentEnv,
    });
    await agent.waitFor(/"msg":"agent serving FastAGI"[^\n]*/, STARTUP_MS);
    const line = JSON.parse(/\{[^\n]*"msg":"agent serving FastAGI"[^\n]*\}/.exec(agent.output())?.[0] ?? '{}') as { agi?: string };
    agiPorts[site] = Number(line.agi?.split(':').pop());
  }
  await until('every agent applied its snapshot', STARTUP_MS, async () => {
    const r = await api<{ items: { siteId: string; state: string }[] }>(base, 'GET', '/api/v1/rollout', undefined, token);
    return r.status === 200 && SITES.every((s) => r.body.items.find((x) => x.siteId === s)?.state === 'in-sync') ? true : undefined;
  });
  const federation = foundingScenario();
  const vpnAddress = (site: string): string => federation.sites.find((s) => s.id === site)?.network.vpnAddress ?? '';
  // A registration link: the registrant's Asterisk registers to the registrar's aor for it (res_pjsip_outbound_registration).
  for (const link of federation.links.filter((l) => l.mode === 'registration')) {
    const registrant = link.registrant ?? link.b;
    const registrar = registrant === link.a ? link.b : link.a;
    const at = asteriskOf[registrar];
    const port = federation.sites.find((s) => s.id === registrant)?.network.sipPort ?? 5060;
    if (at === undefined) continue;
    await until(`${registrar}'s Asterisk loaded the agent's PJSIP file`, STARTUP_MS, async () => (at.hasAor(`site-${registrant}`) ? true : undefined));
    at.pjsip.register(`site-${registrant}`, `sip:site-${registrar}@${vpnAddress(registrant)}:${port}`);
  }
  await until('every link up at the controller (qualified through AMI)', STARTUP_MS, async () => {
    const health = await linkHealth(base, token);
    // Both ends of every link report (an end that has heard nothing yet is absent, not unknown).
    return health.length === federation.links.length * 2 && health.every((l) => l.state === 'up') ? true : undefined;
  });

  say(bold('\nfedpbx demo federation is up'));
  say(`  console     ${base}/`);
  say(`  REST API    ${base}/api/v1   (OpenAPI ${base}/api/openapi.json, docs ${base}/api/docs)`);
  say(`  log in as   ${admin.username} / ${admin.password}`);
  say(`  NATS        ${natsUrl}`);
  say(`  agents      ${SITES.map((s) => `${s} agi://127.0.0.1:${agiPorts[s]}`).join(', ')}`);
  say(`  asterisk    ${SITES.map((s) => `${s} ami://127.0.0.1:${asteriskOf[s]?.ami.port}`).join(', ')} (the faithful peers)`);
  say(`  work dir    ${dir}${values.keep ? ' (kept on exit: --keep)' : ' (removed on exit; --keep keeps it)'}`);

  // 5. Sample calls through the agents' FastAGI ports, and their traces.
  const place = async (site: string, c: SiteCall): Promise<CallRecord> => {
    const asterisk = asteriskOf[site];
    if (asterisk === undefined) fail(`no Asterisk for ${site}`);
    return asterisk.call(agiPorts[site] ?? 0, c);
  };
  const samples: { title: string; site: (typeof SITES)[number]; call: SiteCall; refusedBecause?: string }[] = [
    { title: 'moscow 101 calls piter 301 (inter-site, recorded on both sides)', site: 'moscow', call: { caller: '101', number: '301' } },
    { title: 'moscow 101 calls kazan 101 through its prefix 6 (overlapping plans)', site: 'moscow', call: { caller: '101', number: '6101' } },
    { title: 'moscow 101 calls a St Petersburg number (trunk-preferred: out through piter)', site: 'moscow', call: { caller: '101', number: '88125551234' } },
    {
      title: "the same call when piter cannot hop it off: moscow's own trunk",
      site: 'moscow',
      call: { caller: '101', number: '88125551234', farEnd: (r) => (r.rawData.includes('site-piter') ? { status: 'CONGESTION' } : undefined) },
      // The demo has no PSTN: this sample makes piter answer CONGESTION, as a far end that cannot take the call would.
      refusedBecause: "piter answered CONGESTION, as this sample makes it (Asterisk's CDR calls that FAILED)",
    },
    { title: 'piter 302 calls moscow 102', site: 'piter', call: { caller: '302', number: '102' } },
  ];
  let recorded = 0; // the CDRs the sites' Asterisk dispatched for the sample calls (one per Dial attempt)
  const placed: DemoSampleCall[] = [];
  for (const s of samples) {
    const call = await place(s.site, s.call);
    recorded += call.cdrs.length;
    placed.push({ title: s.title, siteId: s.site, uniqueId: call.cdrs[0]?.uniqueId, ...(s.refusedBecause !== undefined ? { refusedBecause: s.refusedBecause } : {}) });
    say(bold(`\n${s.title}`));
    printCall(call);
    const trace = await api<{ steps?: { step: string; detail: string }[] }>(base, 'POST', '/api/v1/trace', { siteId: s.site, caller: s.call.caller, number: s.call.number }, token);
    for (const step of trace.body.steps ?? []) say(`    ${step.step.padEnd(14)} ${step.detail}`);
  }

  // 6. What the controller now knows from the sites' AMI: the calls' CDRs and live link health.
  const cdrs = await until('the sample calls\' CDRs at the controller', STARTUP_MS, async () => {
    const r = await api<{ items: DemoCdr[] }>(base, 'GET', '/api/v1/cdrs?limit=100', undefined, token);
    return r.status === 200 && r.body.items.length >= recorded ? r.body.items : undefined;
  });
  say(bold(`\ncall records at the controller (${cdrs.length} for ${samples.length} calls, from the sites' AMI - Asterisk writes one per Dial attempt):`));
  for (const line of callRecordLines(placed, [...cdrs].reverse())) say(line);
  await printLinkHealth(base, token);

  if (values['no-wait']) {
    stopping = true;
    await shutDown(0);
    return;
  }

  // 7. Interactive: `l` takes the moscow-piter link down (both Asterisks stop hearing each other) and up again.
  let linkDown = false;
  let busy = false;
  const toggle = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      linkDown = !linkDown;
      const state = linkDown ? 'down' : 'up';
      say(bold(`\nlink ${TOGGLED_LINK.a}-${TOGGLED_LINK.b} ${linkDown ? 'goes down (their Asterisks stop answering each other)' : 'comes back'} ...`));
      asteriskOf[TOGGLED_LINK.a]?.setHostAlive(vpnAddress(TOGGLED_LINK.b), !linkDown);
      asteriskOf[TOGGLED_LINK.b]?.setHostAlive(vpnAddress(TOGGLED_LINK.a), !linkDown);
      // Qualify (OPTIONS every 2 s, 3 s timeout) notices; the agents report it over NATS.
      await until(`the controller sees ${TOGGLED_LINK.a}-${TOGGLED_LINK.b} ${state}`, 30_000, async () => {
        const health = await linkHealth(base, token);
        const ends = health.filter((l) => (l.siteId === TOGGLED_LINK.a && l.peerSiteId === TOGGLED_LINK.b) || (l.siteId === TOGGLED_LINK.b && l.peerSiteId === TOGGLED_LINK.a));
        return ends.length === 2 && ends.every((l) => l.state === state) ? true : undefined;
      });
      await printLinkHealth(base, token);
      say(bold(`\nmoscow 101 calls piter 301 with the link ${state}`));
      printCall(await place('moscow', { caller: '101', number: '301' }));
      const live = await api<{ data?: { result: { steps: { step: string; detail: string }[] } } }>(base, 'POST', '/api/v1/agents/moscow/live-trace', { caller: '101', number: '301' }, token);
      say('  live trace at moscow (its agent, with the health it has now):');
      for (const step of live.body.data?.result.steps ?? []) say(`    ${step.step.padEnd(14)} ${step.detail}`);
      say(`\n${KEYS}`);
    } catch (error) {
      if (!(error instanceof DemoStopped)) say(`toggle failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      busy = false;
    }
  };
  say(bold(`\nrunning - change something in the console or the API and watch the agents apply it.`));
  say(KEYS);
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  process.stdin.on('data', (chunk: Buffer) => {
    for (const key of chunk.toString()) {
      if (key === 'l' || key === 'L') void toggle();
      else if (key === 'q' || key === '\u0003' /* Ctrl-C in raw mode */) stop();
    }
  });
  // Without a terminal (stdin at its end) the demo keeps running until a signal.
  process.stdin.on('end', () => undefined);
}

const KEYS = `keys: l = take the moscow-piter link ${'down/up'}, q or Ctrl-C = stop everything`;

function printCall(call: CallRecord): void {
  for (const d of call.dials) say(`  Dial(${d.rawData}) -> ${d.status ?? 'no status'}`);
  for (const a of call.apps.filter((x) => x.app.toLowerCase() === 'mixmonitor')) say(`  MixMonitor(${a.data})`);
  const v = call.variables;
  say(`  route ${v.FEDPBX_ROUTE ?? '?'} origin ${v.FEDPBX_ORIGIN ?? '?'} target ${v.FEDPBX_TARGET || '-'} trunk ${v.FEDPBX_TRUNK || '-'} revision ${v.FEDPBX_REVISION ?? '?'}`);
}

/** Every link end as the controller has it from the agents' heartbeats. */
async function linkHealth(base: string, token: string): Promise<{ siteId: string; peerSiteId: string; state: string; rttMs?: number }[]> {
  const r = await api<{ items: { siteId: string; links: { peerSiteId: string; state: string; rttMs?: number }[] }[] }>(base, 'GET', '/api/v1/agents', undefined, token);
  if (r.status !== 200) return [];
  return r.body.items.flatMap((a) => a.links.map((l) => ({ siteId: a.siteId, ...l })));
}

async function printLinkHealth(base: string, token: string): Promise<void> {
  say(bold('link health at the controller (live, from each site\'s AMI):'));
  for (const l of await linkHealth(base, token)) say(`  ${l.siteId.padEnd(7)} -> ${l.peerSiteId.padEnd(7)} ${l.state}${l.state === 'up' && l.rttMs !== undefined ? ` (round trip ${l.rttMs} ms)` : ''}`);
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

main().catch((error: unknown) => {
  if (!(error instanceof DemoStopped)) abort(error instanceof Error ? (error.stack ?? error.message) : String(error));
});
