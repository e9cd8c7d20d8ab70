import type { AgentEventEnvelope, SiteRollout } from '@fedpbx/contracts';
import type { Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { groupEvents } from '../../apps/controller/src/ingest/event-batch.js';
import { EventStore } from '../../apps/controller/src/ingest/event-store.js';
import { ADMIN, PITER_ADMIN, artifactPath, consoleSuite } from './console-stack.js';

const NO_GRANTS = { username: 'newcomer', password: 'Velvet-Otter-Ladder-42' } as const;

/**
 * The console's complete set (#18 §3), in real Chromium against a real controller seeded with the founding
 * scenario: deletes with the server's impact preview (what breaks, which sites change; cancel leaves everything),
 * a user without grants told so, the tracer's planned fallback worded as a plan, the API docs and index.
 */
describe('web console: deletes with previews, no-rights message, tracer plan, API docs', () => {
  const suite = consoleSuite({
    setUp: async (stack) => {
      const u = await stack.t.request('POST', '/api/v1/users', { ...NO_GRANTS, grants: [] }, stack.adminToken);
      if (u.status !== 201) throw new Error(`create ${NO_GRANTS.username}: ${u.status}`);
    },
  });

  const signIn = (user: { username: string; password: string }, path = '/'): Promise<Page> => suite.signIn(user, { path, viewportHeight: 1000 });
  const status = async (path: string): Promise<number> => (await suite.stack.t.request('GET', `/api/v1/${path}`, undefined, suite.stack.adminToken)).status;

  it("previews a number range's delete: names the phones, the inbound route and moscow's flow that need it; delete stays off; cancel keeps it", async () => {
    const page = await signIn(ADMIN, '/numbering');
    await page.getByRole('button', { name: 'Delete range 300–499 of piter' }).click();
    const preview = page.getByTestId('delete-preview');
    await preview.getByText('This delete would break the federation').waitFor();
    const affected = await preview.locator('[data-affected]').evaluateAll((els) => els.map((e) => e.getAttribute('data-affected')));
    expect(affected).toEqual(expect.arrayContaining(['extension:e-p301', 'extension:e-p302', 'inboundRoute:ir-spb-main', 'callFlow:f-moscow-reception']));
    expect(await preview.locator('[data-affected="callFlow:f-moscow-reception"]').innerText()).toBe('call flow f-moscow-reception at moscow');
    expect(await preview.locator('[data-changed-sites]').getAttribute('data-changed-sites')).toBe('kazan moscow piter');
    expect(await preview.getByRole('button', { name: 'Delete range 300–499 of piter' }).isDisabled()).toBe(true);
    await page.screenshot({ path: artifactPath('delete-range-preview.png'), fullPage: true });
    await preview.getByRole('button', { name: 'Cancel' }).click();
    await preview.waitFor({ state: 'detached' });
    expect(await status('number-ranges/r-piter')).toBe(200);
    await page.locator('tr[data-range="r-piter"]').waitFor();
    await page.context().close();
  });

  it('draws the federation map: a node per site with its rollout state, an edge per link coloured by the health its ends report', async () => {
    // What the agents would report over NATS, written by the ingest's own store: moscow and piter see their link
    // up, kazan sees its link to moscow down; moscow's agent is online.
    const now = new Date();
    const envelope = (siteId: string, n: number, event: AgentEventEnvelope['event']): AgentEventEnvelope => ({ v: 1, id: `${siteId}-map-${n}`, siteId, at: now.toISOString(), event });
    const events = [
      envelope('moscow', 1, { type: 'heartbeat', agentVersion: '0.9.0', appliedRevision: 1, uptimeSec: 5, agiSessionsActive: 0, amiConnected: true }),
      envelope('moscow', 2, { type: 'link.status', peerSiteId: 'piter', state: 'up', source: 'ami' }),
      envelope('piter', 3, { type: 'link.status', peerSiteId: 'moscow', state: 'up', source: 'ami' }),
      envelope('kazan', 4, { type: 'link.status', peerSiteId: 'moscow', state: 'down', source: 'ami' }),
    ];
    const store = new EventStore();
    await suite.stack.t.app.get(DataSource).transaction((m) => store.write(m, groupEvents(events)));

    const page = await signIn(ADMIN, '/');
    const map = page.getByTestId('federation-map');
    // A horizontal line has no height: Playwright calls it hidden, so wait for it to be there.
    await map.locator('line[data-link="l-moscow-piter"][data-health="up"]').waitFor({ state: 'attached' });
    expect((await map.locator('g[data-site]').evaluateAll((els) => els.map((e) => e.getAttribute('data-site')))).sort()).toEqual(['kazan', 'moscow', 'piter']);
    const links = (await suite.stack.t.request('GET', '/api/v1/links?limit=100', undefined, suite.stack.adminToken)).body['items'] as { id: string }[];
    expect((await map.locator('line[data-link]').evaluateAll((els) => els.map((e) => e.getAttribute('data-link')))).sort()).toEqual(links.map((l) => l.id).sort());
    const health = async (id: string) => map.locator(`line[data-link="${id}"]`).evaluate((el) => ({ health: el.getAttribute('data-health'), stroke: getComputedStyle(el).stroke }));
    expect(await health('l-moscow-piter')).toEqual({ health: 'up', stroke: 'rgb(22, 121, 76)' });
    expect(await health('l-moscow-kazan')).toEqual({ health: 'down', stroke: 'rgb(180, 35, 24)' });
    expect((await health('l-piter-kazan')).health).toBe('unknown');
    // Each site shows the rollout state the API reports, and whether its agent is online.
    const rollout = await suite.stack.t.request('GET', '/api/v1/rollout', undefined, suite.stack.adminToken);
    const states = rollout.status === 200 ? new Map(((rollout.body['items'] ?? rollout.body) as SiteRollout[]).map((r) => [r.siteId, r.state])) : undefined;
    for (const site of ['kazan', 'moscow', 'piter']) {
      const node = map.locator(`g[data-site="${site}"]`);
      expect(await node.getAttribute('data-rollout')).toBe(states?.get(site) ?? 'unavailable');
      expect(await node.getAttribute('data-agent')).toBe(site === 'moscow' ? 'online' : 'offline');
    }
    // Nodes do not overlap one another (their boxes, as drawn).
    const boxes = await map.locator('g[data-site] circle').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, y: r.y, w: r.width, h: r.height })));
    for (const [i, a] of boxes.entries()) for (const b of boxes.slice(i + 1)) expect(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y).toBe(true);
    await map.screenshot({ path: artifactPath('federation-map.png') });
    await map.locator('g[data-site="piter"]').click();
    await page.waitForURL(/\/sites\/piter$/);
    await page.context().close();
  });

  it("shows an agent's alarm on the overview and the site page: the federation transport Asterisk could not start, naming the conflicting bind (#15 §1)", async () => {
    // The alarm as moscow's agent raises it beside a stock pjsip.conf with sipPort 5060 (config-writer.ts
    // checkTransports; test/agent/federation-transport.e2e.spec.ts has the agent raise it), in its heartbeat.
    const message =
      "fedpbx-transport (10.77.0.1:5060) cannot start: transport 'transport-udp' (pjsip.conf:2, bind = 0.0.0.0) already takes UDP 0.0.0.0:5060, so Asterisk logs \"Address already in use\" and no inter-site call works. Set site moscow's sipPort to a UDP port no transport of pjsip.conf uses (the default is 5070), then restart Asterisk (transports are not reloaded).";
    const heartbeat: AgentEventEnvelope = {
      v: 1,
      id: 'moscow-alarm-1',
      siteId: 'moscow',
      at: new Date().toISOString(),
      event: { type: 'heartbeat', agentVersion: '0.9.0', appliedRevision: 1, uptimeSec: 65, agiSessionsActive: 0, amiConnected: true, alarms: [{ code: 'pjsip-transport-conflict', severity: 'critical', message, since: new Date().toISOString() }] },
    };
    await suite.stack.t.app.get(DataSource).transaction((m) => new EventStore().write(m, groupEvents([heartbeat])));

    const page = await signIn(ADMIN, '/');
    const pill = page.locator('tr[data-site="moscow"] [data-alarm="pjsip-transport-conflict"]');
    await pill.waitFor();
    expect(await pill.innerText()).toContain('alarm: pjsip-transport-conflict');
    expect(await pill.getAttribute('title')).toBe(message);
    expect(await page.locator('tr[data-site="piter"] [data-alarm]').count()).toBe(0);
    await page.goto(`${suite.stack.url}/sites/moscow`);
    const listed = page.getByRole('list', { name: 'agent alarms' }).locator('[data-alarm="pjsip-transport-conflict"]');
    await listed.waitFor();
    expect(await listed.innerText()).toContain("transport 'transport-udp' (pjsip.conf:2, bind = 0.0.0.0)");
    expect(await listed.innerText()).toMatch(/^critical pjsip-transport-conflict: /);
    await page.context().close();
  });

  it("deletes a link after a preview that says nothing breaks and which sites change; a cancelled first try left it", async () => {
    const page = await signIn(ADMIN, '/links');
    const ask = page.getByRole('button', { name: 'Delete link piter ⇄ kazan' });
    await ask.click();
    const preview = page.getByTestId('delete-preview');
    await preview.getByText('Nothing else breaks').waitFor();
    expect(await preview.locator('[data-changed-sites]').getAttribute('data-changed-sites')).toBe('kazan piter');
    await preview.getByRole('button', { name: 'Cancel' }).click();
    await preview.waitFor({ state: 'detached' });
    expect(await status('links/l-piter-kazan')).toBe(200);

    await ask.click();
    await preview.getByText('Nothing else breaks').waitFor();
    const confirm = preview.getByRole('button', { name: 'Delete link piter ⇄ kazan' });
    expect(await confirm.isDisabled()).toBe(false);
    await confirm.click();
    await page.getByText('Deleted link piter ⇄ kazan. Sites being updated: kazan, piter.').waitFor();
    await page.locator('tr[data-link="l-piter-kazan"]').waitFor({ state: 'detached' });
    expect(await status('links/l-piter-kazan')).toBe(404);
    expect(await page.locator('tr[data-link="l-moscow-piter"]').count()).toBe(1);
    await page.context().close();
  });

  it("gives a site admin the preview of deleting their phone without naming the other office's flow", async () => {
    const page = await signIn(PITER_ADMIN, '/sites/piter/extensions');
    await page.getByRole('button', { name: 'Delete extension 301 (Olga Ivanova)' }).click();
    const preview = page.getByTestId('delete-preview');
    await preview.getByText('This delete would break the federation').waitFor();
    expect(await preview.locator('[data-affected]').allInnerTexts()).toEqual(expect.arrayContaining(['inbound route ir-spb-main at piter', 'a call flow outside your sites']));
    expect(await preview.innerText()).not.toMatch(/moscow|reception/i);
    expect(await preview.getByRole('button', { name: 'Delete extension 301 (Olga Ivanova)' }).isDisabled()).toBe(true);
    await page.keyboard.press('Escape');
    await preview.waitFor({ state: 'detached' });
    expect(await status('extensions/e-p301')).toBe(200);

    // An object nothing else needs goes after its preview: piter's DID block.
    await page.goto(`${suite.stack.url}/sites/piter/inbound`);
    await page.getByRole('button', { name: 'Delete inbound route _7812555030X' }).click();
    await preview.getByText('Nothing else breaks').waitFor();
    await preview.getByRole('button', { name: 'Delete inbound route _7812555030X' }).click();
    await page.getByText('Deleted inbound route _7812555030X. Sites being updated: piter.').waitFor();
    expect(await status('inbound-routes/ir-spb-did')).toBe(404);
    await page.context().close();
  });

  it('tells a user without grants that they have no access and whom to ask, naming no site', async () => {
    const page = await signIn(NO_GRANTS);
    const message = page.getByTestId('no-access');
    await message.waitFor();
    expect(await message.innerText()).toMatch(/no access to any site/);
    expect(await message.innerText()).toMatch(/head-office administrator/);
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(/No sites yet|moscow|piter|kazan|three|3 sites/i);
    await page.screenshot({ path: artifactPath('no-access.png'), fullPage: true });
    await page.getByRole('link', { name: 'Sites', exact: true }).click();
    await page.getByText('No site is open to your account.').waitFor();
    expect(await page.locator('body').innerText()).not.toMatch(/No sites yet|Head office creates them/);
    await page.context().close();
  });

  it("words the link-down fallback of a call to piter as a plan, in neutral colour, while nothing is down", async () => {
    const page = await signIn(ADMIN, '/trace');
    await page.getByLabel('At site').selectOption('moscow');
    await page.getByLabel('Caller').fill('101');
    await page.getByLabel('Number dialled').fill('301');
    await page.getByRole('button', { name: 'Trace' }).click();
    await page.getByText('Routed: site').waitFor();
    const plan = page.locator('.trace-step.plan');
    expect(await plan.allInnerTexts()).toEqual(expect.arrayContaining([expect.stringMatching(/if piter is unreachable: not through piter-city, which is at piter/)]));
    // Nothing is down: no step is drawn as skipped, and none says piter is unreachable as a fact.
    expect(await page.locator('.trace-step.skipped').count()).toBe(0);
    expect((await page.locator('.trace-step').allInnerTexts()).filter((s) => /which is unreachable|skip piter-city/.test(s))).toEqual([]);
    const colours = await plan.first().evaluate((el) => ({ border: getComputedStyle(el).borderLeftColor, text: getComputedStyle(el).color }));
    const bad = await page.evaluate(() => {
      const probe = document.createElement('span');
      probe.style.color = getComputedStyle(document.documentElement).getPropertyValue('--bad');
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    expect(colours.border).not.toBe(bad);
    expect(colours.text).not.toBe(bad);
    await page.screenshot({ path: artifactPath('trace-plan.png'), fullPage: true });
    await page.context().close();
  });

  it('renders the API docs with Swagger UI served by the controller, showing a known path; GET /api/v1 is an index of links', async () => {
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    // Swagger UI parses a 1.5 MB bundle and the whole document: slow on a loaded machine.
    page.setDefaultTimeout(40_000);
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(suite.stack.url)) outside.push(r.url());
    });
    await page.goto(`${suite.stack.url}/api/docs`);
    await page.locator('.opblock-summary-path[data-path="/api/v1/number-ranges/{id}"]').first().waitFor();
    await page.getByText('WriteResponse').first().waitFor();
    expect(outside).toEqual([]);
    await page.screenshot({ path: artifactPath('api-docs.png') });

    const index = await page.goto(`${suite.stack.url}/api/v1`);
    expect(index?.status()).toBe(200);
    const body = JSON.parse(await page.locator('body').innerText()) as { links: Record<string, string>; resources: Record<string, string> };
    expect(body.links['docs']).toBe('/api/docs');
    expect(body.resources['number-ranges']).toBe('/api/v1/number-ranges');

    await page.goto(`${suite.stack.url}/`);
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toBe('/favicon.svg');
    const icon = await fetch(`${suite.stack.url}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toContain('image/svg+xml');
    await context.close();
  }, 90_000);
});
