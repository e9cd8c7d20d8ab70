// #18 §1: the agent reports its calls in progress - the FastAGI sessions it serves - on core NATS for the console.
// The agent's call path (AgiServer + CallHandler) is driven by the faithful FastAGI peer; the report goes through a
// real nats-server in operator mode with the site agent's own credentials and permissions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActiveCallsReport, Subjects } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { generateSigningKey, signSnapshot } from '@fedpbx/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgiServer } from '../../apps/agent/src/agi/agi-server.js';
import { ActiveCalls } from '../../apps/agent/src/call/active-calls.js';
import { CallHandler } from '../../apps/agent/src/call/call-handler.js';
import { createLogger } from '../../apps/agent/src/logger.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { RoutingState } from '../../apps/agent/src/state/routing-state.js';
import { ActiveCallsPublisher } from '../../apps/agent/src/sync/active-calls-publisher.js';
import { NatsLink } from '../../apps/agent/src/sync/nats-link.js';
import type { DialOutcome } from '../support/asterisk/fastagi-peer.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';

describe('agent: calls in progress reported to the controller', () => {
  let nats: TestNatsServer;
  let dir: string;
  let link: NatsLink;
  let publisher: ActiveCallsPublisher;
  let agi: AgiServer;
  let port: number;
  let controller: NatsConnection;
  const calls = new ActiveCalls();
  const reports: ActiveCallsReport[] = [];
  const log = createLogger('warn');

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'fedpbx-active-calls-'));
    const credsFile = join(dir, 'moscow.creds');
    writeFileSync(credsFile, await nats.agentCreds('moscow'), { mode: 0o600 });
    controller = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())) });
    controller.subscribe(Subjects.ACTIVE_CALLS_WILDCARD, {
      callback: (_e, msg) => {
        reports.push(ActiveCallsReport.parse(msg.json()));
      },
    });
    await controller.flush();

    const metrics = new AgentMetrics(false);
    const state = new RoutingState();
    state.apply(signSnapshot(buildSiteConfig(foundingScenario(), 'moscow'), 1, generateSigningKey('controller-1'), new Date()));
    agi = new AgiServer({ host: '127.0.0.1', port: 0, maxSessions: 16, idleTimeoutMs: 10_000, listenFd: undefined }, new CallHandler(state, metrics, log, undefined, calls), metrics, log);
    port = (await agi.start()).port;
    link = new NatsLink({ siteId: 'moscow', servers: [nats.url], credsFile, metrics, log });
    publisher = new ActiveCallsPublisher({ siteId: 'moscow', link, calls, log, refreshMs: 60_000 });
    publisher.start();
    link.start();
  }, 60_000);

  afterAll(async () => {
    publisher?.stop();
    await agi?.stop(1000);
    await link?.stop();
    await controller?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function until<T>(what: string, find: () => T | undefined, ms = 10_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; reports: ${JSON.stringify(reports)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('reports a call while its Dial is up, with who calls whom and the route, and none once it hung up', async () => {
    await until('the report at connect', () => reports.find((r) => r.total === 0));
    let answer!: (o: DialOutcome) => void;
    const dialling = new Promise<void>((ringing) => {
      const call = placeCall({
        host: '127.0.0.1',
        port,
        script: 'internal',
        context: 'fedpbx-internal',
        extension: '301',
        channel: 'PJSIP/101-0000001a',
        uniqueid: '1796600000.7',
        callerId: { num: '101', name: 'Ivan' },
        timeoutMs: 10_000,
        onDialAsync: () =>
          new Promise<DialOutcome>((resolve) => {
            answer = resolve;
            ringing();
          }),
      });
      void call.catch(() => undefined);
    });
    await dialling;
    const during = await until('the call in a report', () => reports.find((r) => r.total === 1));
    expect(during.siteId).toBe('moscow');
    expect(during.calls).toEqual([
      expect.objectContaining({ callId: 'moscow/1796600000.7', caller: '101', callee: '301', routeKind: 'site', targetSiteId: 'piter' }),
    ]);
    expect(Date.parse(during.calls[0]?.since ?? '')).toBeLessThanOrEqual(Date.now());
    const before = reports.length;
    answer({ status: 'ANSWER', talkMs: 10 });
    await until('a report without the call', () => reports.slice(before).find((r) => r.total === 0));
    expect(calls.count).toBe(0);
  });

  it('counts every call and lists the oldest ones when there are many', () => {
    const ids = Array.from({ length: 205 }, (_, i) => calls.begin({ callId: `moscow/1.${i}`, caller: '101', callee: String(200 + i) }, Date.UTC(2026, 0, 1, 9, 0, i)));
    const report = ActiveCallsReport.parse(calls.report('moscow', new Date()));
    expect(report.total).toBe(205);
    expect(report.calls).toHaveLength(200);
    expect(report.calls[0]?.callId).toBe('moscow/1.0');
    expect(report.calls[0]?.since).toBe('2026-01-01T09:00:00.000Z');
    for (const id of ids) calls.end(id);
    expect(calls.report('moscow', new Date())).toMatchObject({ total: 0, calls: [] });
  });

  it('may publish only its own site\'s calls (nats-auth)', async () => {
    const nc = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.agentCreds('moscow'))), maxReconnectAttempts: 0 });
    const before = reports.length;
    nc.publish(Subjects.activeCalls('piter'), JSON.stringify({ siteId: 'piter', at: new Date().toISOString(), total: 9, calls: [] }));
    nc.publish(Subjects.activeCalls('moscow'), JSON.stringify({ siteId: 'moscow', at: new Date().toISOString(), total: 0, calls: [] }));
    await nc.flush().catch(() => undefined);
    await until('the permitted report', () => reports.slice(before).find((r) => r.siteId === 'moscow'));
    expect(reports.slice(before).some((r) => r.siteId === 'piter')).toBe(false);
    await nc.close().catch(() => undefined);
  });
});
