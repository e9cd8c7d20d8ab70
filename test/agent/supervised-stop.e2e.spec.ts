// A supervised agent (what the systemd unit runs) told to stop while it starts: the supervisor's SIGTERM reaches a
// child whose AGI socket is already served before start() returns. The child must stop once started - finishing its
// calls in progress - not die on the spot with Node's default for SIGTERM. The child here is runSupervisedChild in a
// process of its own with an IPC channel, around an agent whose start() waits until the test lets it go, so the
// signal lands inside the start every time.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/agent-process.js';
import { spawnOwned } from '../support/owned-process.js';

const CHILD = join(REPO_ROOT, 'apps', 'agent', 'src', 'supervisor', 'supervised-child.ts');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** runSupervisedChild in `mode` around an agent whose start (or prepare) says `starting` and waits for `{type:'go'}`. */
function supervisedChild(mode: 'now' | 'standby') {
  const script = `import(${JSON.stringify(CHILD)}).then(async ({ runSupervisedChild }) => {
    const say = (s) => process.stdout.write(s + '\\n');
    const held = () => new Promise((resolve) => {
      say('starting');
      process.on('message', (m) => { if (m && m.type === 'go') resolve(); });
    });
    const agent = { start: held, prepare: held, stop: async () => say('agent.stop'), startIo: async () => undefined };
    const log = { info: (o, m) => say('log ' + (m ?? o)), warn: (o, m) => say('log ' + (m ?? o)), error: (o, m) => say('log ' + (m ?? o)) };
    const code = await runSupervisedChild(agent, log, { listenFd: 4, io: ${JSON.stringify(mode)} }, () => undefined);
    say('exit ' + code);
    process.exit(code);
  }, (e) => { console.error(e); process.exit(1); });`;
  const child = spawnOwned(process.execPath, ['--conditions=@fedpbx/source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

describe('a supervised agent stopped while it starts', { timeout: 90_000 }, () => {
  it('SIGTERM during start(): the agent is stopped once started (its calls finished), and exits 0', async () => {
    const c = supervisedChild('now');
    await expect.poll(() => c.output(), { timeout: 60_000 }).toContain('starting');
    c.child.kill('SIGTERM');
    // The signal is in (a process handles a signal between two turns): the start may now end.
    await new Promise((r) => setTimeout(r, 200));
    c.child.send({ type: 'go' });
    expect(await c.exited, c.output()).toEqual({ code: 0, signal: null });
    expect(c.output()).toMatch(/log stopping: finishing calls in progress[\s\S]*agent\.stop[\s\S]*exit 0/);
  });

  it('SIGTERM to a standby while it prepares: it exits 0 once prepared, without serving', async () => {
    const c = supervisedChild('standby');
    await expect.poll(() => c.output(), { timeout: 60_000 }).toContain('starting');
    c.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    c.child.send({ type: 'go' });
    expect(await c.exited, c.output()).toEqual({ code: 0, signal: null });
    expect(c.output()).toContain('log standby exits');
    expect(c.output()).not.toContain('agent.stop');
  });

  it('SIGTERM to a prepared standby waiting to be activated (a planned restart replaces it): it exits 0', async () => {
    const c = supervisedChild('standby');
    await expect.poll(() => c.output(), { timeout: 60_000 }).toContain('starting');
    c.child.send({ type: 'go' });
    await expect.poll(() => c.output(), { timeout: 30_000 }).toContain('log standby agent ready to take over');
    c.child.kill('SIGTERM');
    expect(await c.exited, c.output()).toEqual({ code: 0, signal: null });
    expect(c.output()).toContain('log standby exits');
  });
});
