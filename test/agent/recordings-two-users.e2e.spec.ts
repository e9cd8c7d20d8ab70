// Issue 16 section 3, with two real users (the tests run as root; each side is a child process with its own uid):
// "asterisk" (uid 64001, gid 64000) writes a recording the way MixMonitor does - creating a missing folder itself,
// with its umask - and the agent's retention sweep (the built sweeper) runs as "fedpbx" (uid 64002, gid 64000: a
// member of group asterisk only). The monitor/fedpbx folder is what deploy/asterisk/setup-asterisk-user.sh makes:
// asterisk:asterisk 2770.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/agent-process.js';

const ASTERISK = { uid: 64001, gid: 64000 };
const FEDPBX = { uid: 64002, gid: 64000 };
const SWEEPER = join(REPO_ROOT, 'apps', 'agent', 'dist', 'recording', 'retention-sweeper.js');
const DAY = 86_400_000;

/**
 * The built sweeper and the one package it imports (prom-client, with its own), copied where the agent's uid can
 * read them: the checkout itself may sit in a folder only root may enter (CI clones into a 0700 temp dir).
 */
let sweeperCopy: { dir: string; module: string } | undefined;
function sweeperRuntime(): { dir: string; module: string } {
  if (sweeperCopy !== undefined) return sweeperCopy;
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-sweeper-'));
  chmodSync(dir, 0o755);
  const module = join(dir, 'retention-sweeper.js');
  copyFileSync(SWEEPER, module);
  for (const pkg of ['prom-client', 'tdigest', 'bintrees', '@opentelemetry/api']) {
    cpSync(join(REPO_ROOT, 'node_modules', pkg), join(dir, 'node_modules', pkg), { recursive: true, dereference: true });
  }
  chmodR(dir);
  sweeperCopy = { dir, module };
  return sweeperCopy;
}

function chmodR(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const name of readdirSync(path)) chmodR(join(path, name));
}

function monitorDir(): string {
  const base = mkdtempSync(join(tmpdir(), 'fedpbx-two-users-'));
  chmodSync(base, 0o755);
  const monitor = join(base, 'monitor');
  mkdirSync(join(monitor, 'fedpbx'), { recursive: true });
  chmodSync(monitor, 0o755);
  // setup-asterisk-user.sh: install -d -o asterisk -g asterisk -m 2770 /var/spool/asterisk/monitor/fedpbx
  chownSync(join(monitor, 'fedpbx'), ASTERISK.uid, ASTERISK.gid);
  chmodSync(join(monitor, 'fedpbx'), 0o2770);
  return monitor;
}

/** Asterisk's MixMonitor writing a finished recording 40 days old: ast_mkdir(0777 & ~umask) the folder, then the file. */
function asteriskRecords(monitor: string, umask: number): string {
  const file = join(monitor, 'fedpbx', 'moscow', '20261026-120000-101-301-moscow-1.1.wav');
  const script = `
    process.umask(${umask});
    const fs = require('node:fs');
    fs.mkdirSync(${JSON.stringify(join(monitor, 'fedpbx', 'moscow'))}, { recursive: true, mode: 0o777 });
    fs.writeFileSync(${JSON.stringify(file)}, 'RIFF', { mode: 0o666 });
    const t = new Date(Date.now() - 40 * ${DAY});
    fs.utimesSync(${JSON.stringify(file)}, t, t);`;
  const r = spawnSync(process.execPath, ['-e', script], { ...ASTERISK, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return file;
}

interface AgentRun {
  readonly prepared: boolean;
  readonly result: { deleted: number; failed: number } | undefined;
  readonly alarms: Record<string, string>;
  readonly failuresMetric: number;
}

/** The agent's sweeper as fedpbx (umask 0027 as in its unit): prepare (at start) and/or one sweep of 30 days' retention. */
function agentSweeps(monitor: string, what: { prepare: boolean; sweep: boolean }): AgentRun {
  const runtime = sweeperRuntime();
  const script = `
    process.umask(0o027);
    const { RecordingRetentionSweeper } = await import(${JSON.stringify(runtime.module)});
    const { Registry } = await import('prom-client');
    const quiet = () => undefined;
    const log = { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet, fatal: quiet, child: () => log };
    const alarms = {};
    const registry = new Registry();
    const sweeper = new RecordingRetentionSweeper({
      recordingsDir: ${JSON.stringify(monitor)}, siteId: 'moscow', retentionDays: () => 30,
      log, registry,
      alarms: { raise: (code, _s, message) => { alarms[code] = message; }, clear: (code) => { delete alarms[code]; } },
    });
    if (${what.prepare}) await sweeper.prepare();
    const result = ${what.sweep} ? await sweeper.sweep() : undefined;
    const failures = (await registry.getSingleMetric('fedpbx_recordings_sweep_failures_total').get()).values[0]?.value ?? 0;
    console.log(JSON.stringify({ prepared: ${what.prepare}, result, alarms, failuresMetric: failures }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { ...FEDPBX, cwd: runtime.dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as AgentRun;
}

describe('recordings written by asterisk, swept by the agent as another user (issue 16 section 3)', () => {
  it('observed: Asterisk makes the site folder itself with umask 022 (drwxr-sr-x) - the agent cannot delete, and says so', () => {
    const monitor = monitorDir();
    const file = asteriskRecords(monitor, 0o022);
    const folder = statSync(join(monitor, 'fedpbx', 'moscow'));
    expect((folder.mode & 0o7777).toString(8)).toBe('2755'); // setgid inherited from monitor/fedpbx
    expect(folder.uid).toBe(ASTERISK.uid);
    const run = agentSweeps(monitor, { prepare: true, sweep: true });
    expect(run.result).toMatchObject({ deleted: 0, failed: 1 });
    expect(existsSync(file)).toBe(true);
    expect(run.alarms['recordings-sweep-failed']).toContain('EACCES');
    expect(run.alarms['recordings-not-deletable']).toContain('chmod 2770');
    expect(run.failuresMetric).toBe(1);
  });

  it('fixed: the agent makes the site folder at start, then a recording Asterisk writes there with umask 022 is deleted by the agent', () => {
    const monitor = monitorDir();
    expect(agentSweeps(monitor, { prepare: true, sweep: false }).alarms).toEqual({});
    const folder = statSync(join(monitor, 'fedpbx', 'moscow'));
    expect(folder.uid).toBe(FEDPBX.uid);
    expect(folder.gid).toBe(ASTERISK.gid); // from the setgid parent
    expect(folder.mode & 0o070).toBe(0o070); // group asterisk may write: Asterisk records into it
    const file = asteriskRecords(monitor, 0o022);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('644');
    const run = agentSweeps(monitor, { prepare: true, sweep: true });
    expect(run.result).toMatchObject({ deleted: 1, failed: 0 });
    expect(existsSync(file)).toBe(false);
    expect(run.alarms).toEqual({});
  });

  it('fixed the other way: Asterisk with UMask=0002 (the drop-in) makes the folder group-writable, and the agent deletes', () => {
    const monitor = monitorDir();
    const file = asteriskRecords(monitor, 0o002);
    expect((statSync(join(monitor, 'fedpbx', 'moscow')).mode & 0o7777).toString(8)).toBe('2775');
    const run = agentSweeps(monitor, { prepare: true, sweep: true });
    expect(run.result).toMatchObject({ deleted: 1, failed: 0 });
    expect(existsSync(file)).toBe(false);
    expect(run.alarms).toEqual({});
  });
});
