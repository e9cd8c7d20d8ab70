// A bootstrap snapshot that verifies but cannot be saved (the state dir full: the store's write throws), at a first
// start and at a SIGHUP restart (the new agent serves from its state dir and applies a newer file in the background):
// calls keep the snapshot in force (or the dialplan fallback), and the critical alarm config-apply-failed says so
// until a snapshot is applied - as the bucket's watch does for a value it cannot apply (config-apply-failure.e2e).
// In process: the real Agent, its store's save made to throw as a full disk makes it throw.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foundingScenario } from '@fedpbx/dialplan';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Agent } from '../../apps/agent/src/agent.js';
import { loadAgentConfig } from '../../apps/agent/src/config.js';
import { CONFIG_APPLY_ALARM } from '../../apps/agent/src/state/snapshot-applier.js';
import { SnapshotStore } from '../../apps/agent/src/state/snapshot-store.js';
import { TestController } from '../support/signed-snapshots.js';
import { until } from '../support/until.js';

const controller = new TestController();
const fed = foundingScenario();
const agents: Agent[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const a of agents.splice(0)) await a.stop(0);
});

function agent(stateDir: string, bootstrap: string): Agent {
  const a = new Agent(loadAgentConfig(controller.agentEnv('moscow', stateDir, { FEDPBX_BOOTSTRAP_SNAPSHOT: bootstrap })), pino({ level: 'silent' }));
  agents.push(a);
  return a;
}

/** The store's write fails as on a full disk, until `restore()`. */
function diskFull(): { restore: () => void } {
  const spy = vi.spyOn(SnapshotStore.prototype, 'save').mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  return { restore: () => spy.mockRestore() };
}

const alarm = (a: Agent) => a.alarms.get(CONFIG_APPLY_ALARM);

describe('a bootstrap snapshot that cannot be saved (the state dir full)', () => {
  it('at a first start: no snapshot in force, the alarm raised until one is applied', async () => {
    const disk = diskFull();
    const a = agent(mkdtempSync(join(tmpdir(), 'fedpbx-boot-fail-')), controller.writeSnapshot(fed, 'moscow', 1));
    await a.start();
    expect(a.state.ready).toBe(false);
    expect(alarm(a)).toMatchObject({ severity: 'critical' });
    expect(alarm(a)?.message).toContain('ENOSPC');
    expect(alarm(a)?.message).toContain('dialplan fallback');

    disk.restore();
    await a.applier.offer(controller.snapshot(fed, 'moscow', 2), 'test');
    expect(a.state.revision).toBe(2);
    expect(alarm(a)).toBeUndefined();
  });

  it('at a SIGHUP restart: the snapshot in force stays, the alarm raised until one is applied', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-boot-fail-'));
    const first = agent(stateDir, controller.writeSnapshot(fed, 'moscow', 1));
    await first.start();
    expect(first.state.revision).toBe(1);
    await first.stop(0);

    // A newer file dropped in, then the restart: the new agent serves revision 1 from its state dir at once and
    // offers the file afterwards, as a supervised child taking over does (startIo).
    const disk = diskFull();
    const next = agent(stateDir, controller.writeSnapshot(fed, 'moscow', 3));
    await next.start({ startIo: false });
    await next.startIo();
    const raised = await until('the alarm raised', () => alarm(next));
    expect(raised.severity).toBe('critical');
    expect(raised.message).toContain('revision 1 stays in force');
    expect(next.state.revision).toBe(1);

    disk.restore();
    await next.applier.offer(JSON.parse(readFileSync(controller.writeSnapshot(fed, 'moscow', 4), 'utf8')), 'test');
    expect(next.state.revision).toBe(4);
    expect(alarm(next)).toBeUndefined();
  });
});
