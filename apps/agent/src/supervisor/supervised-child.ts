import type { Agent } from '../agent.js';
import type { Logger } from '../logger.js';
import { CHILD_LISTEN_FD, HEARTBEAT_EVERY_MS, type ChildMessage, type ChildMode, type SupervisorMessage } from './supervisor.js';

/** How the supervisor started this agent (environment it sets), or undefined when run on its own. */
export interface SupervisedMode {
  readonly listenFd: number;
  /**
   * `now`: take sync, AMI and the state dir at once; `wait`: serve FastAGI only until told (planned restart);
   * `standby`: prepare, then wait to be activated (the serving agent died).
   */
  readonly io: ChildMode;
}

export function supervisedMode(env: NodeJS.ProcessEnv): SupervisedMode | undefined {
  const io = env.FEDPBX_SUPERVISED_IO;
  if (io === undefined || io === '') return undefined;
  if ((io !== 'now' && io !== 'wait' && io !== 'standby') || env.FEDPBX_AGI_LISTEN_FD !== String(CHILD_LISTEN_FD) || typeof process.send !== 'function') {
    throw new Error('FEDPBX_SUPERVISED_IO / FEDPBX_AGI_LISTEN_FD are set by `fedpbx-agent supervise` only; unset them');
  }
  return { listenFd: CHILD_LISTEN_FD, io };
}

/**
 * The supervised agent's side: starts the agent as told (serving, or prepared as a standby until activated), tells
 * the supervisor, heartbeats from the event loop (a stopped or hung agent goes silent and is killed), takes the IO
 * parts when told, hands over on a planned restart, and stops when told (SIGTERM) or when the supervisor is gone.
 * `onStarted` runs once the agent is prepared (the event-loop watchdog). Resolves with the exit code.
 */
export async function runSupervisedChild(agent: Agent, log: Logger, mode: SupervisedMode, onStarted: () => void): Promise<number> {
  const send = (m: ChildMessage): void => {
    if (process.connected) process.send?.(m);
  };
  // The supervisor can die at any moment, also while this agent starts (seconds on a loaded machine): the watch
  // begins before the first await. Registered later, it would miss a 'disconnect' already emitted, and the agent
  // would run on for ever on its own (a test run once left one so for 45 minutes).
  const gone = new Promise<void>((resolve) => {
    if (!process.connected) resolve();
    else process.once('disconnect', () => resolve());
  });
  // SIGTERM and SIGINT are taken before the first await too: the AGI socket is served before start() (or a standby's
  // serve()) returns, and a signal then - the supervisor stopping while this agent starts - would kill it with Node's
  // default, its calls in progress cut off, instead of stopping it once it has started (as main.ts does unsupervised).
  let signalled: string | undefined;
  let onSignal: ((signal: string) => void) | undefined;
  const signal = new Promise<void>((resolve) => {
    const take = (name: string): void => {
      if (signalled !== undefined) return;
      signalled = name;
      resolve();
      onSignal?.(name);
    };
    process.once('SIGTERM', () => take('SIGTERM'));
    process.once('SIGINT', () => take('SIGINT'));
  });
  let beat: NodeJS.Timeout | undefined;
  const startBeating = (): void => {
    beat ??= setInterval(() => send({ type: 'beat' }), HEARTBEAT_EVERY_MS);
  };
  if (mode.io === 'standby') {
    const started = process.hrtime.bigint();
    await agent.prepare({ agiListenFd: mode.listenFd, standby: true });
    if (signalled !== undefined) {
      log.info({ reason: signalled }, 'standby exits');
      return 0;
    }
    const activated = new Promise<void>((resolve) => {
      const onMessage = (m: SupervisorMessage): void => {
        if (m.type !== 'activate') return;
        process.off('message', onMessage);
        resolve();
      };
      process.on('message', onMessage);
    });
    startBeating();
    onStarted();
    send({ type: 'standby' });
    log.info({ prepareMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6) }, 'standby agent ready to take over');
    const outcome = await Promise.race([activated.then(() => 'activated' as const), gone.then(() => 'gone' as const), signal.then(() => 'signal' as const)]);
    if (outcome === 'activated') {
      log.warn('the serving agent is gone: this standby takes over');
      await agent.serve(true, process.hrtime.bigint(), true);
    } else {
      if (beat !== undefined) clearInterval(beat);
      log.info({ reason: outcome === 'gone' ? 'supervisor gone' : signalled }, outcome === 'gone' ? 'supervisor gone: standby exits' : 'standby exits');
      return 0;
    }
  } else {
    const started = agent.start({ agiListenFd: mode.listenFd, startIo: mode.io === 'now' }).then(() => true);
    if (!(await Promise.race([started, gone.then(() => false)]))) {
      log.warn('supervisor gone while this agent started: exiting');
      // A start still under way is left to the process exit; a finished part is stopped (bounded: nothing waits).
      await Promise.race([agent.stop(1000).catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
      return 0;
    }
    startBeating();
    onStarted();
  }
  send({ type: 'serving' });
  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (beat !== undefined) clearInterval(beat);
      process.removeAllListeners('message');
      if (process.connected) process.disconnect();
      log.info('stopped');
      resolve(0);
    };
    const stop = (reason: string): void => {
      log.info({ reason }, 'stopping: finishing calls in progress');
      agent.stop(5000).then(finish, (err: unknown) => {
        log.error({ err }, 'stop failed');
        finish();
      });
    };
    process.on('message', (m: SupervisorMessage) => {
      switch (m.type) {
        case 'io':
          agent.startIo().catch((err: unknown) => log.error({ err }, 'taking over sync, AMI and the state dir failed'));
          return;
        case 'handover':
          log.info({ drainMs: m.drainMs }, 'planned restart: stop accepting, release the state dir, finish the calls in progress');
          agent.handOver(m.drainMs, () => send({ type: 'released' })).then(finish, (err: unknown) => {
            log.error({ err }, 'handover failed');
            finish();
          });
          return;
        case 'activate':
          return; // only a standby is activated, before it serves
      }
    });
    onSignal = stop;
    if (signalled !== undefined) stop(signalled);
    void gone.then(() => {
      if (!finished) stop('supervisor gone');
    });
  });
}
