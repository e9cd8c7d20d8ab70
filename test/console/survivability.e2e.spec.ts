import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ADMIN, PITER_ADMIN, artifactPath, consoleSuite } from './console-stack.js';

/**
 * The survivability screen in real Chromium against a real controller seeded with the founding scenario: one
 * table per failure scenario, scenarios with red flags first and red flags first in each table; scoped like every
 * site page; and a dry run ("Preview impact") that says what a change does to it.
 */
describe('web console: survivability report', { timeout: 90_000 }, () => {
  const suite = consoleSuite();

  const signIn = (user: { username: string; password: string }, path: string): Promise<Page> => suite.signIn(user, { path, viewportHeight: 1400 });

  const STATUS_RANK: Record<string, number> = { 'red-flag': 0, degraded: 1, works: 2, 'not-available': 3 };

  it('shows a table per scenario, scenarios with red flags first, red flags first in each table', async () => {
    const page = await signIn(ADMIN, '/sites/piter');
    await page.getByRole('main').getByRole('link', { name: 'Survivability' }).click();
    await page.getByRole('heading', { name: 'Survivability of piter' }).waitFor();
    await page.getByTestId('surv-summary').waitFor();
    expect(await page.getByTestId('surv-summary').innerText()).toMatch(/^Revision \d+: 18 red flags over 7 scenarios\.$/);
    const scenarios = await page.locator('section[data-scenario]').evaluateAll((els) => els.map((e) => e.getAttribute('data-scenario') ?? ''));
    expect(scenarios).toEqual(['all-links-down', 'trunk-down:t-piter-city', 'agent-down', 'link-down:kazan', 'link-down:moscow', 'trunk-down:t-moscow-city', 'centre-down']);
    for (const id of scenarios) {
      const statuses = await page.locator(`section[data-scenario="${id}"] tbody tr`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status') ?? ''));
      expect(statuses.length).toBeGreaterThan(0);
      expect([...statuses].sort((a, b) => (STATUS_RANK[a] ?? 9) - (STATUS_RANK[b] ?? 9)), id).toEqual(statuses);
    }
    const linkDown = page.getByRole('table', { name: 'Link to moscow down' });
    const redRows = linkDown.locator('tbody tr[data-status="red-flag"]');
    expect(await redRows.count()).toBe(2);
    expect(await redRows.first().innerText()).toMatch(/Red flag\s+Outbound\s+International \(international\)\s+—\s+81000000000: every trunk of route "International" is unavailable/i);
    const degraded = await linkDown.locator('tbody tr[data-status="degraded"]').allInnerTexts();
    expect(degraded.some((t) => /moscow 100-111\s+PSTN 84955550100 via trunk piter-city/.test(t))).toBe(true);
    await page.screenshot({ path: artifactPath('survivability-piter.png'), fullPage: true, timeout: 30_000 });
    await page.context().close();
  });

  it('a branch admin sees their site\'s report, kept current as the configuration changes, and no other site\'s', async () => {
    const page = await signIn(PITER_ADMIN, '/sites/piter/survivability');
    const summary = page.getByTestId('surv-summary');
    await summary.waitFor();
    expect(await summary.innerText()).toContain(': 18 red flags');
    // Head office drops moscow's trunk from piter's national route: the open screen follows (live config events).
    const route = (await suite.stack.t.request('GET', '/api/v1/outbound-routes/or-spb-national', undefined, suite.stack.adminToken)).body['data'] as Record<string, unknown>;
    const { id: _id, ...body } = route;
    expect((await suite.stack.t.request('PUT', '/api/v1/outbound-routes/or-spb-national', { ...body, trunks: [{ trunkId: 't-piter-city' }] }, suite.stack.adminToken)).status).toBe(200);
    await page.getByText(/: 19 red flags over 7 scenarios/).waitFor({ timeout: 15_000 });
    expect(await page.getByRole('table', { name: 'Trunk piter-city down' }).locator('tbody tr[data-status="red-flag"]').allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringMatching(/Russia from St Petersburg \(national\)/)]),
    );
    await page.goto(`${suite.stack.url}/sites/moscow/survivability`);
    await page.getByText('No site “moscow”').waitFor();
    expect(await page.locator('section[data-scenario]').count()).toBe(0);
    await page.context().close();
  });

  it('"Preview impact" of a change says what it does to the report', async () => {
    const page = await signIn(PITER_ADMIN, '/sites/piter/inbound');
    await page.getByRole('button', { name: 'Add inbound route' }).click();
    await page.getByLabel('Number dialled (DID)').fill('78125550399');
    await page.getByLabel('Extension number').fill('302');
    await page.getByRole('button', { name: 'Preview impact' }).click();
    const changes = page.getByTestId('surv-changes');
    await changes.waitFor();
    // The new DID works with everything up, and is lost when piter's only trunk or its agent is down.
    const red = await changes.locator('tbody tr[data-status="red-flag"]').allInnerTexts();
    expect(red.map((t) => t.split('\t').slice(0, 3).join(' | '))).toEqual([
      'piter | Trunk piter-city down | Inbound (DID): DID 78125550399',
    ]);
    expect(await changes.innerText()).toContain('Agent down (fallback dialplan only)');
    // Nothing was saved.
    const listed = (await suite.stack.t.request('GET', '/api/v1/inbound-routes?siteId=piter', undefined, suite.stack.adminToken)).body['items'] as { did: string }[];
    expect(listed.map((r) => r.did)).not.toContain('78125550399');
    await page.screenshot({ path: artifactPath('survivability-preview.png'), fullPage: true, timeout: 30_000 });
    await page.context().close();
  });
});
