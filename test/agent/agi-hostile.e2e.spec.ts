// Hostile and broken FastAGI peers against the real agent process: it must never crash, hang or hold memory.
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { TestController } from '../support/signed-snapshots.js';

let agent: AgentProcess;
const ENV = 'agi_network: yes\nagi_network_script: internal\nagi_request: agi://127.0.0.1/internal\nagi_channel: PJSIP/101-00000001\nagi_uniqueid: 1.1\nagi_callerid: 101\nagi_extension: 102\n\n';

beforeAll(async () => {
  const c = new TestController();
  agent = await startAgent({ ...c.agentEnv('moscow', ''), FEDPBX_STATE_DIR: '', FEDPBX_BOOTSTRAP_SNAPSHOT: c.writeSnapshot(foundingScenario(), 'moscow', 1), FEDPBX_AGI_IDLE_TIMEOUT_MS: '1500', FEDPBX_LOG_LEVEL: 'info' });
}, 30_000);
afterAll(async () => {
  await agent.stop();
});

/** Opens a connection, runs `script`, resolves with how it ended and when. */
function session(script: (s: Socket) => void, limitMs = 10_000): Promise<{ closedBy: 'agent' | 'limit'; ms: number; received: string }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = connect(agent.agiPort, '127.0.0.1');
    let received = '';
    let done = false;
    const finish = (closedBy: 'agent' | 'limit') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ closedBy, ms: Date.now() - t0, received });
    };
    const timer = setTimeout(() => finish('limit'), limitMs);
    s.on('data', (d) => (received += d.toString('latin1')));
    s.on('close', () => finish('agent'));
    s.on('error', () => finish('agent'));
    s.on('connect', () => script(s));
  });
}

async function stillServes(): Promise<void> {
  const c = await placeCall({ host: '127.0.0.1', port: agent.agiPort, timeoutMs: 5000, callerId: { num: '101' }, channel: 'PJSIP/101-00000009', script: 'internal', extension: '102', onDial: () => ({ status: 'ANSWER' }) });
  expect(c.dials.map((d) => d.rawData)).toEqual(['PJSIP/102,20,tT']);
}

describe('hostile FastAGI input', () => {
  it('an endless environment line is cut off, not buffered', async () => {
    const r = await session((s) => s.write(Buffer.alloc(256 * 1024, 0x41)));
    expect(r.closedBy).toBe('agent');
    expect(r.received).toBe('');
    await stillServes();
  });

  it('random binary garbage never crashes the agent (60 generated connections at once)', async () => {
    const cases = fc.sample(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 4096 }), fc.boolean()), { numRuns: 60, seed: 20261126 });
    const results = await Promise.all(
      cases.map(([bytes, thenEnd]) =>
        session((s) => {
          s.write(bytes);
          if (thenEnd) s.end();
        }, 9000),
      ),
    );
    // Each one refused outright, or closed by the agent's own environment timeout (5 s): never left open.
    expect(results.filter((r) => r.closedBy !== 'agent')).toEqual([]);
    await stillServes();
  }, 30_000);

  it('a slow drip of the environment is closed by the environment timeout', async () => {
    const r = await session((s) => {
      let i = 0;
      const drip = setInterval(() => {
        if (s.destroyed || i >= ENV.length) return clearInterval(drip);
        s.write(ENV[i++] as string);
      }, 400);
    }, 12_000);
    expect(r.closedBy).toBe('agent');
    expect(r.ms).toBeGreaterThanOrEqual(4500);
    expect(r.ms).toBeLessThan(8000);
  }, 20_000);

  it('a peer that sends the environment, half-closes and never answers is closed', async () => {
    const r = await session((s) => s.end(ENV));
    expect(r.closedBy).toBe('agent');
    expect(r.received).toMatch(/^EXEC "MSet"/);
  });

  it('a peer that never answers a command is closed by the idle timeout', async () => {
    const r = await session((s) => s.write(ENV));
    expect(r.closedBy).toBe('agent');
    expect(r.ms).toBeLessThan(5000);
  });

  it('garbage and over-long answers to commands end the session cleanly', async () => {
    for (const answer of [`200 result=0 (${'x'.repeat(40_000)})\n`, '\u0000\u0001\u0002\n\n\n', `520-${'y'.repeat(100)}\n`.repeat(200), 'HANGUP\n'.repeat(1000)]) {
      const r = await session((s) => {
        s.write(ENV);
        s.once('data', () => s.write(answer));
      });
      expect(r.closedBy).toBe('agent');
    }
    await stillServes();
  });

  it('a flood of 300 concurrent junk connections leaves memory bounded and calls working', async () => {
    const before = agent.rssMb() ?? 0;
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        session((s) => {
          s.write(i % 2 === 0 ? Buffer.alloc(3000, 0x42) : ENV.slice(0, 50));
          s.end();
        }),
      ),
    );
    const after = agent.rssMb() ?? 0;
    expect(after - before).toBeLessThan(60);
    await stillServes();
    expect(agent.child.exitCode).toBeNull();
  }, 30_000);
});
