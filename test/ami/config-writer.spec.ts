// The Asterisk config writer against a temp config dir and the faithful AMI peer: only fedpbx's include files are
// written, only when their text changed, with one Reload per changed module; owed reloads follow AMI back; the
// admin's files are never touched; a value that could inject config text stops the whole write. Every case runs
// twice: rendering in-process, and in a worker thread as the agent does (the built render-worker.js).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Federation, SiteSnapshot } from '@fedpbx/contracts';
import {
  buildSiteConfig,
  EXTENSIONS_FILE_NAME,
  foundingScenario,
  PJSIP_FILE_NAME,
  RenderError,
  VOICEMAIL_FILE_NAME,
} from '@fedpbx/dialplan';
import { generateSigningKey, signSnapshot } from '@fedpbx/signing';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AmiClient } from '../../apps/agent/src/ami/ami-client.js';
import { AsteriskConfigWriter, type ConfigOutcome } from '../../apps/agent/src/asterisk-config/config-writer.js';
import type { IncludeFilesRunner } from '../../apps/agent/src/asterisk-config/include-files.js';
import { workerRunner } from '../../apps/agent/src/asterisk-config/render-in-worker.js';
import { BENCH_SITE, benchFederation } from '../bench/agent-bench-setup.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';

const key = generateSigningKey('controller-1');
const snap = (fed: Federation, revision: number): SiteSnapshot =>
  signSnapshot(buildSiteConfig(fed, 'moscow'), revision, key, new Date('2026-11-26T09:00:00Z'));

/** The agent's worker script as built (`npx nx build agent`; CI builds before it tests). */
const BUILT_WORKER = new URL('../../apps/agent/dist/asterisk-config/render-worker.js', import.meta.url);
const RUNNERS: [string, IncludeFilesRunner | undefined][] = [
  ['in-process', undefined],
  ['in a worker thread', workerRunner(BUILT_WORKER)],
];

const ADMIN_PJSIP =
  '[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n\n#include pjsip_fedpbx.conf\n';
const ADMIN_EXTENSIONS = '[general]\nstatic=yes\n\n[from-internal]\nexten => 100,1,Dial(PJSIP/100)\n';
const ADMIN_VOICEMAIL = '[general]\nformat=wav49|gsm|wav\n\n#include voicemail_fedpbx.conf\n';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(predicate: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The longest the event loop went without running a 1 ms timer while `work` ran (ms). */
async function longestTimerGap(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    await work();
  } finally {
    clearInterval(ticker);
  }
  return Math.max(longest, performance.now() - last);
}

async function setup(runner: IncludeFilesRunner | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-asterisk-etc-'));
  writeFileSync(join(dir, 'pjsip.conf'), ADMIN_PJSIP);
  writeFileSync(join(dir, 'extensions.conf'), ADMIN_EXTENSIONS);
  writeFileSync(join(dir, 'manager.conf'), '[general]\nenabled=yes\n');
  writeFileSync(join(dir, 'voicemail.conf'), ADMIN_VOICEMAIL);
  const peer = await AmiPeer.start();
  const logs: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const client = new AmiClient({
    host: '127.0.0.1',
    port: peer.port,
    username: DEFAULT_AMI_USER.name,
    secret: DEFAULT_AMI_USER.secret,
    log,
    keepaliveMs: 0,
    backoff: { initialMs: 20, maxMs: 50, jitter: 0 },
  });
  const outcomes: ConfigOutcome[] = [];
  const writer = new AsteriskConfigWriter({
    configDir: dir,
    agiHost: '0.0.0.0',
    agiPort: 4573,
    reloader: client,
    log,
    onOutcome: (o) => outcomes.push(o),
    ...(runner !== undefined ? { runner } : {}),
  });
  client.onConnected(() => void writer.flushReloads());
  client.start();
  await until(() => client.connected);
  const ctx = { dir, peer, client, writer, logs, outcomes };
  cleanups.push(async () => {
    await client.stop();
    await ctx.peer.close();
  });
  return ctx;
}

describe.each(RUNNERS)('AsteriskConfigWriter, rendering %s', (_where, runner) => {
  it('writes the three include files once, reloads each module once, and leaves the admin files alone', async () => {
    const { dir, peer, writer, logs, outcomes } = await setup(runner);
    const fed = foundingScenario();
    const first = await writer.apply(snap(fed, 1));
    expect(first.written).toEqual([PJSIP_FILE_NAME, EXTENSIONS_FILE_NAME, VOICEMAIL_FILE_NAME]);
    expect(first.reloaded).toEqual(['res_pjsip.so', 'pbx_config.so', 'app_voicemail.so']);
    expect(peer.reloads).toEqual(['res_pjsip.so', 'pbx_config.so', 'app_voicemail.so']);
    expect(peer.actions('Reload').map((a) => a.get('Module'))).toEqual(['res_pjsip.so', 'pbx_config.so', 'app_voicemail.so']);
    expect(outcomes).toEqual([{ revision: 1, ok: true, written: [PJSIP_FILE_NAME, EXTENSIONS_FILE_NAME, VOICEMAIL_FILE_NAME] }]);
    // Moscow's 101 has voicemail (the reception flow leaves messages there): its mailbox, where VoiceMail(101@fedpbx) looks.
    const voicemail = readFileSync(join(dir, VOICEMAIL_FILE_NAME), 'utf8');
    expect(voicemail).toContain('\n[fedpbx]\n101 => 510101,Ivan Petrov\n');
    expect(voicemail).toContain('; Include it at the end of voicemail.conf with this line: #include voicemail_fedpbx.conf\n');

    const pjsip = readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8');
    expect(pjsip).toContain('[site-piter]');
    expect(pjsip).toMatch(/DO NOT EDIT/);
    expect(readFileSync(join(dir, EXTENSIONS_FILE_NAME), 'utf8')).toContain(
      'AGI(agi://127.0.0.1:4573/internal)',
    );
    expect((statSync(join(dir, PJSIP_FILE_NAME)).mode & 0o777).toString(8)).toBe('640');

    // The same configuration at a new revision: nothing written, nothing reloaded.
    const mtime = statSync(join(dir, PJSIP_FILE_NAME)).mtimeMs;
    const second = await writer.apply(snap(fed, 2));
    expect(second).toEqual({ revision: 2, written: [], reloaded: [], owed: [] });
    expect(peer.actions('Reload')).toHaveLength(3);
    expect(statSync(join(dir, PJSIP_FILE_NAME)).mtimeMs).toBe(mtime);

    // Admin files byte for byte, no temp files left, nothing else created.
    expect(readFileSync(join(dir, 'pjsip.conf'), 'utf8')).toBe(ADMIN_PJSIP);
    expect(readFileSync(join(dir, 'extensions.conf'), 'utf8')).toBe(ADMIN_EXTENSIONS);
    expect(readFileSync(join(dir, 'voicemail.conf'), 'utf8')).toBe(ADMIN_VOICEMAIL);
    expect(readdirSync(dir).sort()).toEqual(
      ['extensions.conf', EXTENSIONS_FILE_NAME, 'manager.conf', 'pjsip.conf', PJSIP_FILE_NAME, 'voicemail.conf', VOICEMAIL_FILE_NAME].sort(),
    );

    // extensions.conf lacks the include: said once, with the exact line; pjsip.conf has it: nothing said.
    const warnings = logs.filter((l) => typeof l.add === 'string');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      add: `#include ${EXTENSIONS_FILE_NAME}`,
      file: join(dir, 'extensions.conf'),
    });
  });

  it('rewrites and reloads only what a change touches', async () => {
    const { dir, peer, writer } = await setup(runner);
    const fed = foundingScenario();
    await writer.apply(snap(fed, 1));
    const pjsipBefore = readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8');
    // Moscow's DID block no longer goes straight to the extensions: only the dialplan fallback changes.
    const changed: Federation = {
      ...fed,
      inboundRoutes: fed.inboundRoutes.filter((r) => r.id !== 'ir-msk-did'),
    };
    const result = await writer.apply(snap(changed, 2));
    expect(result.written).toEqual([EXTENSIONS_FILE_NAME]);
    expect(result.reloaded).toEqual(['pbx_config.so']);
    expect(peer.reloads).toEqual(['res_pjsip.so', 'pbx_config.so', 'app_voicemail.so', 'pbx_config.so']);
    expect(readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8')).toBe(pjsipBefore);

    // A mailbox of its own for 102: only the voicemail include changes, and only app_voicemail is reloaded
    // (its reload re-reads voicemail.conf; app_voicemail.c `reload`).
    const mailbox: Federation = {
      ...changed,
      extensions: changed.extensions.map((e) => (e.id === 'e-m102' ? { ...e, voicemail: true, voicemailPin: '4321', email: 'anna@moscow.example' } : e)),
    };
    const third = await writer.apply(snap(mailbox, 3));
    expect(third.written).toEqual([VOICEMAIL_FILE_NAME]);
    expect(third.reloaded).toEqual(['app_voicemail.so']);
    expect(readFileSync(join(dir, VOICEMAIL_FILE_NAME), 'utf8')).toContain('\n102 => 4321,Anna Smirnova,anna@moscow.example\n');
  });

  it('owes the reload while AMI is down and sends it when AMI is back', async () => {
    const ctx = await setup(runner);
    const fed = foundingScenario();
    await ctx.writer.apply(snap(fed, 1));
    const port = ctx.peer.port;
    await ctx.peer.close();
    await until(() => !ctx.client.connected);
    const changed: Federation = {
      ...fed,
      extensions: fed.extensions.map((e) =>
        e.id === 'e-m102' ? { ...e, displayName: 'Anna Smirnova-Ivanova' } : e,
      ),
    };
    const result = await ctx.writer.apply(snap(changed, 2));
    expect(result.written).toContain(PJSIP_FILE_NAME);
    expect(result.reloaded).toEqual([]);
    expect(result.owed).toContain('res_pjsip.so');
    ctx.peer = await AmiPeer.start({}, port);
    await until(() => ctx.peer.reloads.includes('res_pjsip.so'));
    // The peer counts the reload before it answers; the debt is settled when the answer arrives.
    await until(() => ctx.writer.pendingReloads.length === 0);
  });

  it('writes nothing and reloads nothing when a value could inject config text, and reports what was refused', async () => {
    const { dir, peer, writer, outcomes } = await setup(runner);
    const fed = foundingScenario();
    await writer.apply(snap(fed, 1));
    const before = [
      readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8'),
      readFileSync(join(dir, EXTENSIONS_FILE_NAME), 'utf8'),
    ];
    const good = snap(fed, 2);
    // Signed snapshots are schema-checked, so build the hostile one by hand: the renderer is the last gate.
    const attacks = [
      (s: SiteSnapshot) => ({
        ...s,
        config: {
          ...s.config,
          extensions: s.config.extensions.map((e) => ({ ...e, displayName: 'Ivan\n[evil]\ntype=endpoint' })),
        },
      }),
      (s: SiteSnapshot) => ({
        ...s,
        config: { ...s.config, links: s.config.links.map((l) => ({ ...l, secret: 'abc\npassword=x' })) },
      }),
      (s: SiteSnapshot) => ({
        ...s,
        config: { ...s.config, trunks: s.config.trunks.map((t) => ({ ...t, host: 'sip.example,evil' })) },
      }),
      (s: SiteSnapshot) => ({
        ...s,
        config: {
          ...s.config,
          extensions: s.config.extensions.map((e) => ({ ...e, number: '101&PJSIP/evil' })),
        },
      }),
    ];
    for (const attack of attacks) {
      await expect(writer.apply(attack(good) as SiteSnapshot)).rejects.toBeInstanceOf(RenderError);
    }
    // Each refusal is reported with the object and field, never the value (the agent sends it as config.failed).
    const failures = outcomes.filter((o) => !o.ok);
    expect(failures).toHaveLength(attacks.length);
    expect(failures[1]).toEqual({ revision: 2, ok: false, failure: expect.objectContaining({ kind: 'render', code: 'UNSAFE_VALUE', field: 'secret' }) });
    expect(JSON.stringify(failures)).not.toMatch(/evil|password=x/);
    expect([
      readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8'),
      readFileSync(join(dir, EXTENSIONS_FILE_NAME), 'utf8'),
    ]).toEqual(before);
    expect(peer.actions('Reload')).toHaveLength(3);
    // And the writer still works afterwards; its success is reported too (the controller clears config-failed).
    await expect(writer.apply(good)).resolves.toMatchObject({ written: [] });
    expect(outcomes.at(-1)).toEqual({ revision: 2, ok: true, written: [] });
  });

  it('recognises the include forms config.c accepts and ignores commented-out ones', async () => {
    const { dir, writer } = await setup(runner);
    writeFileSync(join(dir, 'extensions.conf'), `${ADMIN_EXTENSIONS}\n;#include ${EXTENSIONS_FILE_NAME}\n`);
    writeFileSync(join(dir, 'pjsip.conf'), `#tryinclude "/etc/asterisk/${PJSIP_FILE_NAME}"\n`);
    expect(await writer.checkIncludes()).toEqual(['extensions.conf']);
    writeFileSync(join(dir, 'extensions.conf'), `${ADMIN_EXTENSIONS}\n#include "${EXTENSIONS_FILE_NAME}"\n`);
    expect(await writer.checkIncludes()).toEqual([]);
  });

  it('writes into a directory of its own when asked, and names it in the include line', async () => {
    const { dir, peer } = await setup(runner);
    writeFileSync(join(dir, 'pjsip.conf'), '#include fedpbx/pjsip_fedpbx.conf\n');
    const client = new AmiClient({
      host: '127.0.0.1',
      port: peer.port,
      username: DEFAULT_AMI_USER.name,
      secret: DEFAULT_AMI_USER.secret,
      log: pino({ level: 'silent' }),
      keepaliveMs: 0,
    });
    cleanups.push(() => client.stop());
    client.start();
    await until(() => client.connected);
    const log = pino({ level: 'silent' });
    const writer = new AsteriskConfigWriter({
      configDir: dir,
      includeDir: join(dir, 'fedpbx'),
      agiHost: '127.0.0.1',
      agiPort: 4573,
      reloader: client,
      log,
      ...(runner !== undefined ? { runner } : {}),
    });
    const warned: unknown[] = [];
    const spy = new AsteriskConfigWriter({
      configDir: dir,
      includeDir: join(dir, 'fedpbx'),
      agiHost: '127.0.0.1',
      agiPort: 4573,
      log: pino(
        { level: 'warn' },
        new Writable({
          write(c: Buffer, _e, cb) {
            warned.push(JSON.parse(c.toString()));
            cb();
          },
        }),
      ),
    });
    const result = await writer.apply(snap(foundingScenario(), 1));
    expect(result.written).toEqual([PJSIP_FILE_NAME, EXTENSIONS_FILE_NAME, VOICEMAIL_FILE_NAME]);
    expect(readdirSync(join(dir, 'fedpbx')).sort()).toEqual([EXTENSIONS_FILE_NAME, PJSIP_FILE_NAME, VOICEMAIL_FILE_NAME]);
    // Each file's header names the exact line for this include dir (config.c resolves a relative include against
    // the config dir, not against the including file's folder).
    expect(readFileSync(join(dir, 'fedpbx', PJSIP_FILE_NAME), 'utf8')).toContain('with this line: #include fedpbx/pjsip_fedpbx.conf\n');
    expect(readFileSync(join(dir, 'fedpbx', EXTENSIONS_FILE_NAME), 'utf8')).toContain('with this line: #include fedpbx/extensions_fedpbx.conf\n');
    expect(readFileSync(join(dir, 'fedpbx', VOICEMAIL_FILE_NAME), 'utf8')).toContain('with this line: #include fedpbx/voicemail_fedpbx.conf\n');
    expect(await spy.checkIncludes()).toEqual(['extensions.conf']);
    expect(warned).toEqual([expect.objectContaining({ add: '#include fedpbx/extensions_fedpbx.conf' })]);
  });

  it('says that Asterisk must restart when the federation transport changes (transports are not reloaded)', async () => {
    const { writer, logs } = await setup(runner);
    const fed = foundingScenario();
    await writer.apply(snap(fed, 1));
    const moved: Federation = {
      ...fed,
      sites: fed.sites.map((site) => (site.id === 'moscow' ? { ...site, network: { ...site.network, sipPort: 5070 } } : site)),
    };
    const result = await writer.apply(snap(moved, 2));
    expect(result.written).toContain(PJSIP_FILE_NAME);
    expect(logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('restart Asterisk'))).toHaveLength(1);
    // A change elsewhere in pjsip leaves the transport alone: no restart asked for.
    const renamed: Federation = {
      ...moved,
      extensions: moved.extensions.map((e) => (e.id === 'e-m102' ? { ...e, displayName: 'Anna Smirnova-Ivanova' } : e)),
    };
    expect((await writer.apply(snap(renamed, 3))).written).toContain(PJSIP_FILE_NAME);
    expect(logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('restart Asterisk'))).toHaveLength(1);
  });

  it('a link switched between ip and registration mode is not a transport change (observed: warned on every switch)', async () => {
    const { writer, logs, dir } = await setup(runner);
    const fed = foundingScenario();
    await writer.apply(snap(fed, 1));
    // moscow's first link section (to kazan) follows [fedpbx-transport]; its comment names the mode.
    const pjsipBefore = readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8');
    expect(pjsipBefore).toMatch(/bind=10\.77\.0\.1:5060\n\n; Link l-moscow-kazan to site kazan \(registration, kazan registers\)\n/);
    const switched = (mode: 'ip' | 'registration'): Federation => ({
      ...fed,
      links: fed.links.map((l) => (l.id !== 'l-moscow-kazan' ? l : mode === 'ip' ? { id: l.id, a: l.a, b: l.b, codecs: l.codecs, mode: 'ip', ...(l.secret !== undefined ? { secret: l.secret } : {}) } : { ...l, registrant: 'moscow' })),
    });
    for (const [revision, mode] of [[2, 'ip'], [3, 'registration'], [4, 'ip']] as const) {
      expect((await writer.apply(snap(switched(mode), revision))).written).toContain(PJSIP_FILE_NAME);
    }
    expect(logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('restart Asterisk'))).toEqual([]);
  });

  it('reports a directory it cannot write with the system error, and writes nothing', async () => {
    const { dir, peer } = await setup(runner);
    writeFileSync(join(dir, 'not-a-dir'), '');
    const outcomes: ConfigOutcome[] = [];
    const writer = new AsteriskConfigWriter({
      configDir: dir,
      includeDir: join(dir, 'not-a-dir', 'fedpbx'),
      agiHost: '127.0.0.1',
      agiPort: 4573,
      log: pino({ level: 'silent' }),
      onOutcome: (o) => outcomes.push(o),
      ...(runner !== undefined ? { runner } : {}),
    });
    await expect(writer.apply(snap(foundingScenario(), 1))).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(peer.actions('Reload')).toHaveLength(0);
    expect(outcomes).toEqual([
      { revision: 1, ok: false, failure: { kind: 'write', code: 'ENOTDIR', object: join(dir, 'not-a-dir', 'fedpbx', PJSIP_FILE_NAME), field: 'file', reason: expect.stringContaining('ENOTDIR') } },
    ]);
  });
});

describe('AsteriskConfigWriter in a worker thread', () => {
  it('writes the same bytes as in-process rendering, and leaves the event loop free meanwhile', async () => {
    // A head office of 20,000 phones (the bench's has 100,000): rendering it takes the event loop hundreds of ms.
    const s = signSnapshot(buildSiteConfig(benchFederation(20_000), BENCH_SITE), 1, key, new Date('2026-11-26T09:00:00Z'));
    const text = JSON.stringify(s);
    const [inline, worker] = [mkdtempSync(join(tmpdir(), 'fedpbx-inline-')), mkdtempSync(join(tmpdir(), 'fedpbx-worker-'))];
    const options = { agiHost: '127.0.0.1', agiPort: 4573, log: pino({ level: 'silent' }) };
    const inlineGap = await longestTimerGap(() => new AsteriskConfigWriter({ ...options, configDir: inline }).apply(s, text));
    const workerGap = await longestTimerGap(() => new AsteriskConfigWriter({ ...options, configDir: worker, runner: workerRunner(BUILT_WORKER) }).apply(s, text));
    expect(inlineGap).toBeGreaterThan(100);
    expect(workerGap).toBeLessThan(inlineGap / 4);
    for (const name of [PJSIP_FILE_NAME, EXTENSIONS_FILE_NAME, VOICEMAIL_FILE_NAME]) {
      expect(readFileSync(join(worker, name), 'utf8')).toBe(readFileSync(join(inline, name), 'utf8'));
    }
  });

  it('rejects when the worker cannot run, and leaves the files as they were', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-worker-'));
    mkdirSync(join(dir, 'x'));
    const writer = new AsteriskConfigWriter({
      configDir: dir,
      agiHost: '127.0.0.1',
      agiPort: 4573,
      log: pino({ level: 'silent' }),
      runner: workerRunner(new URL('./no-such-worker.js', BUILT_WORKER)),
    });
    await expect(writer.apply(snap(foundingScenario(), 1))).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['x']);
  });
});
