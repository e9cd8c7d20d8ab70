#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { Agent } from './agent.js';
import { runCdrsCommand } from './cli/cdrs-command.js';
import { runEnrollCommand } from './cli/enroll-command.js';
import { runSurvivabilityCommand } from './cli/survivability-command.js';
import { runTraceCommand } from './cli/trace-command.js';
import { ConfigError, loadAgentConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { startEventLoopWatchdog, type EventLoopWatchdog } from './supervisor/event-loop-watchdog.js';
import { runSupervisedChild, supervisedMode } from './supervisor/supervised-child.js';
import { runSupervisor } from './supervisor/supervisor.js';

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'trace') return runTraceCommand(argv.slice(1), process.env, process.stdout);
  if (argv[0] === 'survivability') return runSurvivabilityCommand(argv.slice(1), process.env, process.stdout);
  if (argv[0] === 'enroll') return runEnrollCommand(argv.slice(1), process.env, process.stdout, process.stderr);
  if (argv[0] === 'cdrs') return runCdrsCommand(argv.slice(1), process.env, process.stdout, process.stderr);
  if (argv[0] === 'supervise') {
    // Validates the agent's whole configuration here too: a bad value stops it before any child starts.
    const config = loadAgentConfig(process.env);
    return runSupervisor({ config, env: process.env, log: createLogger(config.FEDPBX_LOG_LEVEL, 'fedpbx-supervisor'), main: fileURLToPath(import.meta.url) });
  }
  if (argv[0] !== undefined && argv[0] !== 'run') {
    process.stderr.write(
      'usage: fedpbx-agent [run]\n' +
        '       fedpbx-agent supervise     (what the systemd unit runs: the agent as a watched child; SIGHUP = restart without losing a call)\n' +
        '       fedpbx-agent trace <caller> <number> [--link-down SITE] [--trunk-down TRUNK] [--entry E] [--from-site S] [--json]\n' +
        '       fedpbx-agent survivability [--scenario ID]... [--red-flags] [--json]   (what this site keeps when things fail)\n' +
        '       fedpbx-agent enroll --controller <url> --token <token> [--no-wireguard] [--force]\n' +
        '       fedpbx-agent cdrs [--since ISO] [--limit N] [--json]\n',
    );
    return 2;
  }
  const supervised = supervisedMode(process.env);
  const config = loadAgentConfig(process.env);
  const log = createLogger(config.FEDPBX_LOG_LEVEL);
  installTestHooks(process.env, log);
  const agent = new Agent(config, log);
  let watchdog: EventLoopWatchdog | undefined;
  const startWatchdog = (): void => {
    watchdog = startEventLoopWatchdog(config.FEDPBX_EVENT_LOOP_STALL_MS, (err) => log.error({ err }, 'event-loop watchdog failed'));
    if (watchdog.measures === 'wall time') log.warn({ stallMs: config.FEDPBX_EVENT_LOOP_STALL_MS }, 'event-loop watchdog measures wall time (no schedstat): a starved agent on a loaded host may be killed too');
  };
  if (supervised !== undefined) {
    const code = await runSupervisedChild(agent, log, supervised, startWatchdog);
    watchdog?.stop();
    return code;
  }
  // Taken before the start: a SIGTERM while it runs (the AGI port is open before start() returns) is a stop once it
  // is done, not Node's default of dying on the spot.
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  await agent.start();
  startWatchdog();
  log.info({ signal: await stopSignal }, 'stopping: finishing calls in progress');
  // Bounded: a stop that hangs (a connection never closed, a drain never answered) ends the process all the same
  // - as systemd would, 90 s later - and says at which step (bench:apply once waited 53 min on such an agent).
  const stopped = await Promise.race([agent.stop().then(() => true), sleep(STOP_DEADLINE_MS).then(() => false)]);
  watchdog?.stop();
  if (!stopped) {
    log.error({ step: agent.stopping, deadlineMs: STOP_DEADLINE_MS }, 'stop did not finish in time: exiting anyway');
    return 1;
  }
  log.info('stopped');
  return 0;
}

/** The calls' grace (5 s) and the IO parts' release: far more than a stop takes. */
const STOP_DEADLINE_MS = 20_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Test only: `FEDPBX_TEST_BLOCK_EVENT_LOOP_ON_SIGUSR2=1` makes SIGUSR2 block the event loop (a busy loop of up to
 * 60 s; `=sleep`: asleep in a synchronous wait of 60 s instead, burning no CPU), so that the tests can show the
 * watchdog at work on a real process. Refused under systemd (INVOCATION_ID
 * is set for every unit), so a stray variable in /etc/fedpbx/agent.env cannot arm it in production.
 */
function installTestHooks(env: NodeJS.ProcessEnv, log: Logger): void {
  const mode = env.FEDPBX_TEST_BLOCK_EVENT_LOOP_ON_SIGUSR2;
  if (mode !== '1' && mode !== 'sleep') return;
  if (env.INVOCATION_ID !== undefined) {
    log.error('FEDPBX_TEST_BLOCK_EVENT_LOOP_ON_SIGUSR2 is for tests only and ignored under systemd');
    return;
  }
  log.warn({ mode }, 'test hook armed: SIGUSR2 blocks the event loop');
  process.on('SIGUSR2', () => {
    if (mode === 'sleep') {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
      return;
    }
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      // blocked on purpose
    }
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`fedpbx-agent: ${error.message}\n`);
    else process.stderr.write(`fedpbx-agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
