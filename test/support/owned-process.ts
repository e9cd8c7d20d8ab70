import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * Every agent, controller and nats-server a test starts goes through here, so that none outlives the test process
 * (CI once found a built agent still running 45 minutes after its test file had ended):
 * - on Linux the child is started through `setpriv --pdeathsig KILL`, which execs the command in the same process
 *   (same pid) with the parent-death signal set: the kernel SIGKILLs it when the test process dies, however it
 *   dies (a timed-out vitest worker killed, a crash, Ctrl-C);
 * - the children still running when the test process exits normally are SIGKILLed by its exit handler.
 * A test still ends what it started itself (afterEach, try/finally): this is the net below that.
 */
const SETPRIV = '/usr/bin/setpriv';
const withDeathSignal = process.platform === 'linux' && existsSync(SETPRIV);
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * `spawn`, with the child bound to this process's life (above). `deathSignal` TERM suits a child that ends its own
 * children on SIGTERM (the demo), which SIGKILL would orphan.
 */
export function spawnOwned(command: string, args: readonly string[], options: SpawnOptions, deathSignal: 'KILL' | 'TERM' = 'KILL'): ChildProcess {
  const child = withDeathSignal ? spawn(SETPRIV, ['--pdeathsig', deathSignal, '--', command, ...args], options) : spawn(command, args, options);
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  return child;
}

/** Is a process with this pid alive (a zombie counts as gone)? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
