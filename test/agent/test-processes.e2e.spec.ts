// No process a test starts outlives it (CI once found a built agent running 45 minutes after its test file ended,
// its supervisor gone): a failed start ends what it started, a supervised agent whose supervisor died while it was
// starting exits, and the test process dying takes its agents along.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_MAIN, REPO_ROOT, startAgent } from '../support/agent-process.js';
import { startController } from '../support/controller-process.js';
import { processAlive, spawnOwned } from '../support/owned-process.js';
import { TestController } from '../support/signed-snapshots.js';

const controller = new TestController();
const fed = foundingScenario();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The pids of the live processes whose environment holds `NAME=value` (children inherit it). */
function processesWith(name: string, value: string): number[] {
  const needle = `${name}=${value}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(needle) && processAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return pids;
}

function agentEnv(mark: string): Record<string, string> {
  return {
    ...controller.agentEnv('moscow', mkdtempSync(join(tmpdir(), 'fedpbx-leak-'))),
    FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'moscow', 1),
    FEDPBX_LOG_LEVEL: 'info',
    TEST_PROCESS_MARK: mark,
  };
}

/** Resolves when none of `pids` is alive; rejects after `timeoutMs` naming the living. */
async function allGone(pids: readonly number[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(processAlive)) {
    if (Date.now() > deadline) throw new Error(`still running: ${pids.filter(processAlive).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('processes started by tests', { timeout: 120_000 }, () => {
  it('a supervised agent that does not get ready in time: the supervisor and every agent it started are gone', async () => {
    const mark = randomUUID();
    const children: number[] = [];
    // "Ready" never comes: the start fails on its timeout, long after the supervisor has started its first agent.
    const ready = (l: Record<string, unknown>): boolean => {
      if (l.msg === 'agent started') children.push(Number(l.agentPid));
      return false;
    };
    await expect(startAgent(agentEnv(mark), { supervise: true, ready, timeoutMs: 20_000 })).rejects.toThrow(/not ready in time/);
    expect(children.length).toBeGreaterThan(0);
    await allGone(children);
    await expect.poll(() => processesWith('TEST_PROCESS_MARK', mark), { timeout: 15_000 }).toEqual([]);
  });

  it('a supervised agent whose supervisor is gone before it has started exits', async () => {
    // The agent as the supervisor starts it (IPC channel, listening socket as fd 4), the channel closed at once:
    // the supervisor died while the agent was loading.
    const listener: Server = createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    cleanups.push(() => listener.close());
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    const env = agentEnv(randomUUID());
    const child = spawnOwned(process.execPath, [AGENT_MAIN, 'run'], {
      env: { PATH: process.env.PATH ?? '', ...env, FEDPBX_SUPERVISED_IO: 'now', FEDPBX_AGI_LISTEN_FD: '4', FEDPBX_METRICS_LISTEN: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', fd],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(() => child.kill('SIGKILL'));
    child.disconnect();
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/supervisor gone/);
  });

  it('the test process dying takes the agent it started along', async () => {
    // A stand-in for a vitest worker: starts an agent through the test helper, says its pid, and is SIGKILLed.
    const helper = join(REPO_ROOT, 'test', 'support', 'agent-process.ts');
    const script = `import(${JSON.stringify(helper)}).then(async (m) => {
      const a = await m.startAgent(JSON.parse(process.env.AGENT_ENV));
      process.stdout.write('agent ' + a.pid + '\\n');
      setInterval(() => undefined, 1000);
    }, (e) => { console.error(e); process.exit(1); });`;
    const parent = spawnOwned(process.execPath, ['--conditions=@fedpbx/source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, AGENT_ENV: JSON.stringify(agentEnv(randomUUID())) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => parent.kill('SIGKILL'));
    let out = '';
    parent.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    parent.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    await expect.poll(() => /agent (\d+)/.exec(out)?.[1], { timeout: 60_000 }).toBeDefined();
    const agentPid = Number(/agent (\d+)/.exec(out)?.[1]);
    expect(processAlive(agentPid)).toBe(true);
    parent.kill('SIGKILL');
    await allGone([agentPid], 10_000);
  });

  it('a controller that does not serve in time is killed, not left running', async () => {
    // A "database" that accepts connections and never answers: the controller cannot get ready.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => silent.close());
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const mark = randomUUID();
    await expect(startController({ DATABASE_URL: `postgres://nobody@127.0.0.1:${port}/none`, TEST_PROCESS_MARK: mark }, [], 5000)).rejects.toThrow(/controller/);
    await expect.poll(() => processesWith('TEST_PROCESS_MARK', mark), { timeout: 15_000 }).toEqual([]);
  });
});
