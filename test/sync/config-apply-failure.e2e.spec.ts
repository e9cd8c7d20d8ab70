// A config value the agent cannot apply for a reason that is not the value's (its state dir full: the store's write
// throws): no verdict on the snapshot, so the re-created watch offers it again - with a growing wait, not every
// 500 ms (each offer verifies the value again: a head office's 20 MB on the event loop the calls share), and with
// the alarm config-apply-failed raised until a value is applied. Real parts: a private nats-server with the site's
// own credentials, the agent's NatsLink and ConfigWatcher; the applier throws as a full disk makes it throw.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Subjects } from '@fedpbx/contracts';
import { foundingScenario } from '@fedpbx/dialplan';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { claimedRevision, type ApplyResult } from '../../apps/agent/src/state/snapshot-applier.js';
import { CONFIG_APPLY_ALARM, ConfigWatcher } from '../../apps/agent/src/sync/config-watcher.js';
import { NatsLink } from '../../apps/agent/src/sync/nats-link.js';
import { startNatsServer } from '../support/nats-server.js';
import { TestController } from '../support/signed-snapshots.js';
import { until } from '../support/until.js';
import { controllerSide, writeAgentCreds } from './agent-harness.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a config value that cannot be applied (the state dir full)', () => {
  it('is offered again with a growing wait, the alarm raised until it applies, then cleared', async () => {
    const server = await startNatsServer();
    cleanups.push(() => server.stop());
    const ctl = await controllerSide(server);
    cleanups.push(() => ctl.close());
    await ctl.put('moscow', new TestController().snapshot(foundingScenario(), 'moscow', 1));

    const logs: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
    const metrics = new AgentMetrics(false);
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-apply-fail-'));
    const link = new NatsLink({ siteId: 'moscow', servers: [server.url], credsFile: await writeAgentCreds(server, 'moscow', stateDir), metrics, log });
    const state = { revision: 0, ready: false };
    let offers = 0;
    const applier = {
      offerText: (text: string): Promise<ApplyResult> => {
        offers += 1;
        if (offers <= 3) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        const revision = claimedRevision(text) ?? 0;
        Object.assign(state, { revision, ready: true });
        return Promise.resolve({ applied: true, revision, contentHash: 'x', unchanged: false });
      },
      offerShared: () => new Promise<never>(() => undefined),
      offerSharedValue: () => new Promise<never>(() => undefined),
    };
    const alarms = new Map<string, string>();
    const seen: string[] = [];
    const board = {
      // As the AlarmBoard: raising an alarm in force again with the same message is no change.
      raise: (code: string, _severity: string, message: string) => (alarms.get(code) !== message && seen.push(`raise ${code}`), alarms.set(code, message)),
      clear: (code: string) => (alarms.delete(code) && seen.push(`clear ${code}`), undefined),
    };
    const watcher = new ConfigWatcher({ siteId: 'moscow', link, applier, state, metrics, log, alarms: board, onRefused: () => undefined });
    link.start();
    watcher.start();
    cleanups.push(async () => (await watcher.stop(), await link.stop()));

    await until('applied after three failed offers', () => state.revision === 1, 30_000);
    expect(offers).toBe(4);
    // Each failure counted on: the waits grew (0.25-0.5 s, 0.5-1 s, 1-2 s), where every re-created watch reset them.
    const retries = logs.filter((l) => l.msg === 'cannot watch the config bucket; retrying' && l.bucket === Subjects.configBucket('moscow')).map((l) => l.retries);
    expect(retries).toEqual([0, 1, 2]);
    expect(seen).toEqual([`raise ${CONFIG_APPLY_ALARM}`, `clear ${CONFIG_APPLY_ALARM}`]);
    expect(alarms.size).toBe(0);
  });
});
