// A burst of 1,000 AMI Cdr events (Asterisk writes many at once after a busy second) while calls come in: the agent
// maps them a slice at a time, so FastAGI keeps answering and the event-loop watchdog (which kills an agent stalled
// for FEDPBX_EVENT_LOOP_STALL_MS) has no reason to fire; every CDR is stored once.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { cdrEventFields } from '../support/asterisk/cdr-event.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { TestController } from '../support/signed-snapshots.js';
import { until } from '../support/until.js';

let ami: AmiPeer;
let agent: AgentProcess;

beforeAll(async () => {
  ami = await AmiPeer.start({ systemName: 'moscow' });
  ami.pjsip = moscowPjsip();
  const c = new TestController();
  agent = await startAgent({
    ...c.agentEnv('moscow', ''),
    FEDPBX_STATE_DIR: '',
    FEDPBX_BOOTSTRAP_SNAPSHOT: c.writeSnapshot(foundingScenario(), 'moscow', 1),
    FEDPBX_AMI_HOST: '127.0.0.1',
    FEDPBX_AMI_PORT: String(ami.port),
    FEDPBX_AMI_USER: DEFAULT_AMI_USER.name,
    FEDPBX_AMI_SECRET: DEFAULT_AMI_USER.secret,
  });
  await ami.waitFor(() => ami.loggedInSessions.length > 0, 10_000);
}, 30_000);

afterAll(async () => {
  await agent.stop();
  await ami.close();
});

it('a burst of 1,000 Cdr events: calls keep being answered, the agent is not killed, every CDR stored once', async () => {
  for (let n = 1; n <= 1000; n++) {
    ami.event('Cdr', cdrEventFields({ uniqueId: `moscow-1795700000.${n}`, sequence: n, dst: '301', destinationChannel: 'PJSIP/site-piter-0000000d', lastData: 'PJSIP/301@site-piter,30', route: 'site', target: 'piter' }));
  }
  const call = await placeCall({ host: '127.0.0.1', port: agent.agiPort, timeoutMs: 8000, callerId: { num: '101' }, channel: 'PJSIP/101-00000011', script: 'internal', extension: '301', onDial: () => ({ status: 'ANSWER' }) });
  expect(call.dials[0]?.rawData).toMatch(/^PJSIP\/301@site-piter,/);
  const stored = (): string[] => {
    const dir = join(agent.stateDir, 'cdr');
    return readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== ''))
      .map((l) => (JSON.parse(l) as { cdrId: string }).cdrId);
  };
  await until('1,000 CDRs stored', () => stored().length >= 1000, 20_000);
  expect(new Set(stored()).size).toBe(1000);
  expect(stored()).toHaveLength(1000);
  expect(agent.child.exitCode).toBeNull();
  expect(agent.child.signalCode).toBeNull();
  expect(agent.logs.some((l) => String(l.msg).includes('event loop stalled'))).toBe(false);
}, 40_000);
