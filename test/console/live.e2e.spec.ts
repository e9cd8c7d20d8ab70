import { cpus, loadavg } from 'node:os';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { Subjects } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { generateSigningKey, signSnapshot } from '@fedpbx/signing';
import { AgiServer } from '../../apps/agent/src/agi/agi-server.js';
import { ActiveCalls } from '../../apps/agent/src/call/active-calls.js';
import { CallHandler } from '../../apps/agent/src/call/call-handler.js';
import { createLogger } from '../../apps/agent/src/logger.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { RoutingState } from '../../apps/agent/src/state/routing-state.js';
import { ActiveCallsService } from '../../apps/controller/src/live/active-calls.js';
import { LiveHub } from '../../apps/controller/src/live/live-hub.js';
import { timeLimit } from '../../apps/controller/src/testing/test-database.js';
import { placeCall, type DialOutcome } from '../support/asterisk/fastagi-peer.js';
import { ADMIN, PITER_ADMIN, artifactPath, consoleSuite } from './console-stack.js';
import { watchNetwork, type NetworkLog } from './network-log.js';

/**
 * Live updates (issue #18 §1) in real Chromium against a real controller: what one browser writes appears in
 * another without a reload, brought by the event stream (not by polling) within a second of the commit; a
 * console that lost its event stream says so, and catches up when it is back.
 */
describe('web console: live updates', () => {
  const suite = consoleSuite({ timeoutMs: 180_000 });

  async function signIn(user: { username: string; password: string }, path = '/'): Promise<Page> {
    const page = await suite.signIn(user, { path });
    await page.locator('[data-live="live"]').waitFor();
    return page;
  }

  const rename = async (siteId: string, name: string): Promise<void> => {
    const site = (await suite.stack.t.request('GET', `/api/v1/sites/${siteId}`, undefined, suite.stack.adminToken)).body['data'] as Record<string, unknown>;
    expect((await suite.stack.t.request('PUT', `/api/v1/sites/${siteId}`, { ...site, name }, suite.stack.adminToken)).status).toBe(200);
  };

  /** A reader of the overview whose network is watched from its first request, and which counts its reloads. */
  async function watchedOverview(user: { username: string; password: string }): Promise<{ page: Page; net: NetworkLog; loads: () => number }> {
    let net: NetworkLog | undefined;
    let loads = 0;
    const page = await suite.signIn(user, {
      path: '/',
      beforeOpen: async (p) => {
        net = await watchNetwork(p);
        p.on('load', () => (loads += 1));
      },
    });
    await page.locator('[data-live="live"]').waitFor();
    await page.locator('tr[data-site="piter"]').waitFor();
    if (net === undefined) throw new Error('no network log');
    const loadsAtStart = loads;
    return { page, net, loads: () => loads - loadsAtStart };
  }
  const apiReads = (net: NetworkLog, from: number, to = Infinity) => net.requests.filter((r) => r.sentAt >= from && r.sentAt < to && r.url.includes('/api/') && !r.url.endsWith('/api/v1/events'));
  const piterRow = (page: Page) => page.locator('tr[data-site="piter"]');

  /**
   * What makes the console live, and nothing else: it reads again when the stream says something changed, and
   * only then. A change made without telling the stream stays unseen for a quiet window in which the console
   * asks the server nothing (a console that polled at that period or faster would have asked, and shown it);
   * the event alone, sent with no change at all, then brings it - before any poll of a slower period could.
   */
  it('reads again when the event stream says so, and only then: no polling, no reload', async () => {
    const QUIET_MS = 5000;
    const { page, net, loads } = await watchedOverview(ADMIN);
    const hub = suite.stack.t.app.get(LiveHub);
    const emit = hub.emit.bind(hub);
    hub.emit = () => undefined;
    let quietFrom: number;
    try {
      await rename('piter', 'Piter, renamed quietly');
      quietFrom = Date.now();
      await new Promise((r) => setTimeout(r, QUIET_MS));
    } finally {
      hub.emit = emit;
    }
    expect(apiReads(net, quietFrom)).toEqual([]);
    expect(await piterRow(page).innerText()).not.toContain('Piter, renamed quietly');

    const eventAt = Date.now();
    hub.emit([{ topic: 'config', kind: 'site', siteIds: ['piter'] }]);
    await piterRow(page).getByText('Piter, renamed quietly').waitFor({ timeout: QUIET_MS });
    const shownAt = Date.now();
    // The event reached the browser, then the page read what it shows again.
    const streamed = net.received.find((c) => c.url.endsWith('/api/v1/events') && c.at >= eventAt);
    expect(streamed).toBeDefined();
    const reads = apiReads(net, eventAt);
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.sentAt >= (streamed?.at ?? Infinity))).toBe(true);
    expect(reads.some((r) => r.url.includes('/api/v1/sites?'))).toBe(true);
    expect(shownAt - eventAt).toBeLessThan(QUIET_MS);
    expect(loads()).toBe(0);
    await page.context().close();
  }, timeLimit(60_000));

  it('shows a site renamed in one browser on the overview of another without a reload; the stream brings it within a second', async () => {
    const watcher = await watchedOverview(ADMIN);
    const piterWatcher = await signIn(PITER_ADMIN, '/');
    const editor = await signIn(PITER_ADMIN, '/sites/piter');
    // When the write committed (the controller tells its streams right after this hub delivery), and when the
    // other browser showed it (a DOM observer in that page): both on this machine's clock.
    let committedAt = 0;
    const off = suite.stack.t.app.get(LiveHub).subscribe(
      (e) => {
        if (e.topic === 'config' && e.siteIds.includes('piter') && committedAt === 0) committedAt = Date.now();
      },
      () => undefined,
    );
    const seen = watcher.page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const doc = (globalThis as unknown as { document: { body: object; querySelector(s: string): { textContent: string | null } | null } }).document;
          const shown = (): boolean => doc.querySelector('tr[data-site="piter"]')?.textContent?.includes('Saint Petersburg office') === true;
          const Observer = (globalThis as unknown as { MutationObserver: new (cb: () => void) => { observe(n: object, o: object): void; disconnect(): void } }).MutationObserver;
          const observer = new Observer(() => {
            if (!shown()) return;
            observer.disconnect();
            resolve(Date.now());
          });
          observer.observe(doc.body, { subtree: true, childList: true, characterData: true });
        }),
    );

    await editor.getByRole('button', { name: 'Edit settings' }).click();
    const form = editor.getByRole('form', { name: /^Settings of / });
    await form.getByLabel('Name', { exact: true }).fill('Saint Petersburg office');
    await form.getByRole('button', { name: 'Save' }).click();
    const seenAt = await seen;
    off();
    await piterWatcher.locator('[data-site="piter"]').getByText('Saint Petersburg office').waitFor({ timeout: 5000 });
    await watcher.page.screenshot({ path: artifactPath('live-overview.png') });
    expect(committedAt).toBeGreaterThan(0);
    expect(watcher.loads()).toBe(0);

    // The path from the commit to the screen, as Chromium's network layer timed it: the event's bytes, then the read.
    const streamedAt = watcher.net.received.find((c) => c.url.endsWith('/api/v1/events') && c.at >= committedAt)?.at ?? NaN;
    const readAt = apiReads(watcher.net, committedAt).find((r) => r.url.includes('/api/v1/sites?'))?.sentAt ?? NaN;
    const load = (loadavg()[0] ?? 0) / cpus().length;
    console.log(
      `live update: at the browser ${Math.round(streamedAt - committedAt)} ms after the commit, read sent at +${Math.round(readAt - committedAt)} ms, shown at +${seenAt - committedAt} ms (load ${load.toFixed(1)} per CPU)`,
    );
    // The bar, a write in one browser shown in another within 1 s, for the part that is the controller's
    // and the stream's: the event is at the other browser within a second of the commit. (Drawing it needs the
    // page's renderer, which on an over-committed machine waits for a CPU: that part is printed above.)
    expect(streamedAt - committedAt).toBeLessThan(1000);
    expect(readAt).toBeGreaterThanOrEqual(streamedAt);

    // The piter admin's console is told nothing of moscow: its overview has no moscow row to update.
    await rename('moscow', 'Moscow head office');
    await watcher.page.locator('[data-site="moscow"]').getByText('Moscow head office').waitFor();
    expect(await piterWatcher.locator('[data-site="moscow"]').count()).toBe(0);
    for (const p of [watcher.page, piterWatcher, editor]) await p.context().close();
  }, timeLimit(60_000));

  it('shows calls in progress, a call across sites as one, while the faithful FastAGI peer holds them', async () => {
    // The agents' call path in-process (moscow and piter): their reports reach the controller as a NATS delivery
    // would (this stack runs without NATS; test/agent/active-calls.e2e.spec.ts covers the bus and its permissions).
    const log = createLogger('warn');
    const key = generateSigningKey('controller-1');
    const agi: Record<string, { server: AgiServer; port: number }> = {};
    for (const site of ['moscow', 'piter']) {
      const metrics = new AgentMetrics(false);
      const state = new RoutingState();
      state.apply(signSnapshot(buildSiteConfig(foundingScenario(), site), 1, key, new Date()));
      const calls = new ActiveCalls();
      calls.onChange(() => suite.stack.t.app.get(ActiveCallsService).receive(Subjects.activeCalls(site), JSON.stringify(calls.report(site, new Date()))));
      suite.stack.t.app.get(ActiveCallsService).receive(Subjects.activeCalls(site), JSON.stringify(calls.report(site, new Date())));
      const server = new AgiServer({ host: '127.0.0.1', port: 0, maxSessions: 8, idleTimeoutMs: 20_000, listenFd: undefined }, new CallHandler(state, metrics, log, undefined, calls), metrics, log);
      agi[site] = { server, port: (await server.start()).port };
    }
    const overview = await signIn(ADMIN, '/');
    const piterCalls = await signIn(PITER_ADMIN, '/calls');
    await overview.locator('[data-calls="moscow"]').getByText('0', { exact: true }).waitFor();

    // moscow 101 dials piter's 301: moscow sends it over the link, piter's agent takes it from the link with the call id.
    const hold: ((o: DialOutcome) => void)[] = [];
    const held = (): Promise<DialOutcome> => new Promise((resolve) => hold.push(resolve));
    const callId = 'moscow/1796600000.7';
    const moscowLeg = placeCall({
      host: '127.0.0.1', port: agi['moscow']?.port ?? 0, script: 'internal', context: 'fedpbx-internal', extension: '301',
      channel: 'PJSIP/101-0000001a', uniqueid: '1796600000.7', callerId: { num: '101', name: 'Ivan' }, timeoutMs: 30_000, onDialAsync: held,
    });
    const piterLeg = placeCall({
      host: '127.0.0.1', port: agi['piter']?.port ?? 0, script: 'from-sites', context: 'fedpbx-from-sites', extension: '301',
      channel: 'PJSIP/site-moscow-0000002b', uniqueid: '1796600001.3', callerId: { num: '101', name: 'Ivan' }, timeoutMs: 30_000, onDialAsync: held,
      // res_pjsip_header_funcs: PJSIP_HEADER(read,X-Fedpbx-Call) of the INVITE moscow sent.
      functions: { PJSIP_HEADER: (args: string) => (args.trim().toLowerCase() === 'read,x-fedpbx-call' ? callId : undefined) },
    });
    await overview.locator('[data-calls="moscow"]').getByText('1', { exact: true }).waitFor();
    await overview.locator('[data-calls="piter"]').getByText('1', { exact: true }).waitFor();
    const admin = await signIn(ADMIN, '/calls');
    const row = admin.locator(`[data-call="${callId}"]`);
    await row.getByText('moscow → piter').waitFor();
    const text = await row.innerText();
    expect(text).toContain('101');
    expect(text).toContain('301');
    expect(text).toContain('site');
    expect(await admin.locator('[data-call]').count()).toBe(1);
    await admin.screenshot({ path: artifactPath('live-calls.png') });
    // piter's admin sees the call at piter only, and no count of moscow.
    await piterCalls.locator(`[data-call="${callId}"]`).getByText('piter', { exact: true }).waitFor();
    expect(await piterCalls.getByTestId('calls-per-site').innerText()).toBe('piter: 1');

    for (const answer of hold) answer({ status: 'ANSWER', talkMs: 10 });
    await Promise.all([moscowLeg, piterLeg]);
    await admin.getByText('No calls in progress.').waitFor();
    await piterCalls.getByText('No calls in progress.').waitFor();
    await overview.locator('[data-calls="moscow"]').getByText('0', { exact: true }).waitFor();
    for (const a of Object.values(agi)) await a.server.stop(1000);
    for (const p of [overview, piterCalls, admin]) await p.context().close();
  }, timeLimit(90_000));

  it('says when the stream is lost, reconnects by itself and catches up with what changed meanwhile', async () => {
    const page = await signIn(ADMIN, '/');
    // The stream breaks and cannot be reopened for now (as when the controller restarts or the network drops).
    await page.route('**/api/v1/events', (route) => route.abort('connectionreset'));
    await suite.stack.t.app.get(LiveHub).beforeApplicationShutdown();
    await page.getByRole('status').filter({ hasText: 'live updates lost, reconnecting…' }).waitFor();
    // A change while the console is deaf.
    await rename('kazan', 'Kazan branch');
    await page.unroute('**/api/v1/events');
    await page.locator('[data-live="live"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-site="kazan"]').getByText('Kazan branch').waitFor({ timeout: 5000 });
    // And live again: the next change shows without a reload.
    await rename('kazan', 'Kazan office');
    await page.locator('[data-site="kazan"]').getByText('Kazan office').waitFor({ timeout: 5000 });
    await page.context().close();
  }, timeLimit(60_000));
});
