import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ADMIN, PITER_ADMIN, artifactPath, consoleSuite } from './console-stack.js';

/**
 * The guided decommission on a site's page, in real Chromium against a real controller seeded with the founding
 * scenario: the preview lists what goes and what still needs the office (moscow's reception flow dials piter's
 * 301), the button stays off until the blockers are fixed and the site id is typed, and only head office sees it.
 */
describe('web console: decommissioning an office', () => {
  const suite = consoleSuite();

  const signIn = (user: { username: string; password: string }, path: string): Promise<Page> => suite.signIn(user, { path, viewportHeight: 1400 });

  it('a site admin sees the agent credentials but no way to decommission or revoke', async () => {
    const page = await signIn(PITER_ADMIN, '/sites/piter');
    await page.getByRole('heading', { name: 'Agent credentials' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Decommission this office' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /revoke its credentials/ }).count()).toBe(0);
    await page.context().close();
  });

  it('previews, names the blocker, and decommissions only after the site id is typed', async () => {
    const page = await signIn(ADMIN, '/sites/piter');
    await page.getByRole('heading', { name: 'Decommission this office' }).waitFor();
    await page.getByRole('button', { name: /^Decommission .*…$/ }).click();
    const preview = page.getByTestId('decommission-preview');
    await preview.waitFor();
    expect(await preview.locator('li[data-removes="Extensions"]').innerText()).toMatch(/\(2\): 301, 302/);
    expect(await preview.locator('li[data-removes="Links"]').innerText()).toMatch(/l-moscow-piter/);
    expect(await preview.innerText()).toContain('fedpbx-config-piter');
    await preview.locator('li[data-blocker="f-moscow-reception"]').waitFor();
    const go = page.getByRole('button', { name: 'Decommission piter now' });
    expect(await go.isDisabled()).toBe(true);
    await page.screenshot({ path: artifactPath('decommission-blocked.png'), fullPage: true });

    // Head office fixes moscow's flow (no more "2: Saint Petersburg"), then looks again.
    const flow = (await suite.stack.t.request('GET', '/api/v1/call-flows/f-moscow-reception', undefined, suite.stack.adminToken)).body['data'] as { id: string; nodes: { id: string; next?: Record<string, string> }[] };
    const { id: _id, ...rest } = flow;
    const nodes = flow.nodes.filter((n) => n.id !== 'spb').map((n) => (n.id === 'menu' ? { ...n, next: { ...n.next, 'digit:2': 'operator' } } : n));
    expect((await suite.stack.t.request('PUT', '/api/v1/call-flows/f-moscow-reception', { ...rest, nodes }, suite.stack.adminToken)).status).toBe(200);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: /^Decommission .*…$/ }).click();
    await preview.waitFor();
    expect(await preview.locator('[data-blocker]').count()).toBe(0);
    const confirm = page.getByLabel('Type piter to confirm');
    await confirm.fill('moscow');
    expect(await go.isDisabled()).toBe(true);
    await confirm.fill('piter');
    expect(await go.isDisabled()).toBe(false);
    await page.screenshot({ path: artifactPath('decommission-confirm.png'), fullPage: true });
    await go.click();
    await page.getByText('piter was decommissioned').waitFor();
    expect(new URL(page.url()).pathname).toBe('/sites');
    expect((await suite.stack.t.request('GET', '/api/v1/sites/piter', undefined, suite.stack.adminToken)).status).toBe(404);
    const audit = (await suite.stack.t.request('GET', '/api/v1/audit?limit=100', undefined, suite.stack.adminToken)).body['items'] as { action: string; objectId: string; actor: string }[];
    expect(audit.find((e) => e.action === 'site.decommission')).toMatchObject({ objectId: 'piter', actor: ADMIN.username });
    await page.context().close();
  });
});
