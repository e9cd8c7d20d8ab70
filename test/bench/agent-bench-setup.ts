// The agent's side of bench:agi: a federation of 1,000 sites whose hub "site-0000" is a large head office with
// 100,000 extensions of its own, signed like the controller would, and the call mix the agent is measured on:
// local, inter-site, tail-end hop-off, denied by class of service, and a PSTN call through an IVR flow.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Federation } from '@fedpbx/contracts';
import { cityPrefixOf, generateFederation, rangeStartOf, siteIdOf } from '@fedpbx/dialplan';
import { TestController } from '../support/signed-snapshots.js';
import { agentNodeArgs, type AgentBenchConfig } from './bench-servers.js';
import type { CallTemplate } from './call-mix.js';

export const BENCH_SITE = siteIdOf(0);
/** The Node options deploy/systemd/fedpbx-agent.service runs the agent with (its young generation's size). */
export const AGENT_NODE_OPTIONS = '--max-semi-space-size=16';
const BIG_RANGE_START = 10_000_000;

export function benchFederation(extensions = 100_000): Federation {
  const fed = generateFederation({ sites: 1000, extensionsPerSite: 100, flows: 0 });
  const hq = BENCH_SITE;
  fed.numberRanges.push({ id: 'r-hq-big', siteId: hq, from: String(BIG_RANGE_START), to: String(BIG_RANGE_START + 99_999) });
  const cos = ['cos-national', 'cos-national', 'cos-international', 'cos-local', 'cos-internal'];
  for (let i = 0; i < extensions; i++) {
    fed.extensions.push({
      id: `e-hq-${i}`,
      siteId: hq,
      number: String(BIG_RANGE_START + i),
      displayName: `Employee ${i}`,
      classOfServiceId: cos[i % cos.length] as string,
      sipSecret: `hq-${i}-sip-secret`,
      voicemail: false,
      ringTimeoutSec: 20,
    });
  }
  fed.callFlows.push({
    id: 'f-hq-ivr',
    siteId: hq,
    name: 'HQ switchboard',
    entry: 'menu',
    nodes: [
      { id: 'menu', type: 'ivr-menu', prompt: 'fedpbx/welcome', timeoutSec: 3, retries: 0, next: { 'digit:1': 'sales', 'digit:2': 'op', timeout: 'op', invalid: 'op' } },
      { id: 'sales', type: 'ring-group', members: [String(BIG_RANGE_START + 10), String(BIG_RANGE_START + 11)], strategy: 'ringall', timeoutSec: 20, next: { noanswer: 'op' } },
      { id: 'op', type: 'dial-extension', number: String(BIG_RANGE_START), timeoutSec: 20, next: {} },
    ],
  });
  fed.inboundRoutes.push({ id: 'ir-hq-main', siteId: hq, did: '74950000000', destination: { type: 'flow', flowId: 'f-hq-ivr' } });
  return fed;
}

/** Writes the signed snapshot and key into `dir`; returns the agent config for bench-servers.ts. */
export function prepareAgentBench(dir: string, main = 'apps/agent/dist/main.js'): AgentBenchConfig {
  const controller = new TestController();
  const snapshot = controller.snapshot(benchFederation(), BENCH_SITE, 1);
  const snapshotFile = join(dir, 'hq-snapshot.json');
  writeFileSync(snapshotFile, JSON.stringify(snapshot));
  return { siteId: BENCH_SITE, main, snapshotFile, controllerPublicKeyPem: controller.publicKeyPem, extraEnv: { FEDPBX_LOG_LEVEL: 'warn', NODE_OPTIONS: AGENT_NODE_OPTIONS }, nodeArgs: agentNodeArgs() };
}

const answer = () => ({ status: 'ANSWER' as const });
const ext = (i: number) => String(BIG_RANGE_START + i);
const internal = (caller: number) => ({ channel: `PJSIP/${ext(caller)}-0000002a` });

export const AGENT_MIX: readonly CallTemplate[] = [
  { label: 'local', weight: 4, callerNum: ext(0), callerName: 'Ivan Petrov', extension: ext(4242), context: 'fedpbx-internal', script: 'internal', onDial: answer, extra: internal(0) },
  { label: 'other-site', weight: 3, callerNum: ext(1), callerName: 'Anna "A" Smirnova, x', extension: String(rangeStartOf(17) + 3), context: 'fedpbx-internal', script: 'internal', onDial: answer, extra: internal(1) },
  { label: 'teho', weight: 2, callerNum: ext(2), callerName: 'Oleg', extension: `${cityPrefixOf(5)}123456`, context: 'fedpbx-internal', script: 'internal', onDial: answer, extra: internal(2) },
  { label: 'denied', weight: 1, callerNum: ext(4), callerName: 'Lobby', extension: `${cityPrefixOf(7)}123456`, context: 'fedpbx-internal', script: 'internal', onDial: answer, extra: internal(4) },
  {
    label: 'ivr-flow',
    weight: 1,
    callerNum: '79161234567',
    callerName: 'x,,U(sub)&PJSIP/999',
    extension: '74950000000',
    context: 'fedpbx-from-pstn',
    script: 'from-pstn',
    onDial: answer,
    extra: { channel: 'PJSIP/trunk-city-0000002b', digits: '1', sounds: { 'fedpbx/welcome': 0, 'cannot-complete-as-dialed': 0, 'ss-noservice': 0 } },
  },
];
