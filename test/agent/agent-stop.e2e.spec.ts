// An agent told to stop ends even when a part of its stop never finishes: twice a bench:apply run printed its
// figures and then waited on its agent, which ran on for 53 min after SIGTERM. Here the part that never finishes is
// the metrics listener's close, held by a client whose request never completes (an HTTP server closes only its idle
// connections). Within its deadline (20 s, main.ts) the agent says at which step it hung and exits.
import { connect, type Socket } from 'node:net';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_MAIN, startAgent } from '../support/agent-process.js';
import { TestController } from '../support/signed-snapshots.js';

// A/B: FEDPBX_TEST_AGENT_MAIN=<another build's main.js> runs this test against that build.
const MAIN = process.env.FEDPBX_TEST_AGENT_MAIN ?? AGENT_MAIN;
const controller = new TestController();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('agent stop', { timeout: 90_000 }, () => {
  it('ends within its deadline when a step of the stop hangs, naming the step', async () => {
    const agent = await startAgent(
      { ...controller.agentEnv('moscow', ''), FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(foundingScenario(), 'moscow', 1), FEDPBX_LOG_LEVEL: 'info' },
      { main: MAIN, timeoutMs: 60_000 },
    );
    cleanups.push(() => agent.stop('SIGKILL'));
    // A request to /metrics that never ends: the listener's close waits for it.
    const client: Socket = connect(agent.metricsPort, '127.0.0.1');
    cleanups.push(() => client.destroy());
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    client.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const exited = new Promise<number | null>((resolve) => agent.child.once('exit', (code) => resolve(code)));
    const asked = Date.now();
    agent.child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 40_000))]);
    expect(code).toBe(1);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(19_000);
    expect(agent.logs.find((l) => l.msg === 'stop did not finish in time: exiting anyway')).toMatchObject({ step: 'metrics listener', deadlineMs: 20_000 });
  });
});
