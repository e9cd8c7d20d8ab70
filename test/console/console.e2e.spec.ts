import type { CallFlow } from '@fedpbx/contracts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, PITER_ADMIN, artifactPath, launchChromium, startConsoleStack, type ConsoleStack } from './console-stack.js';

/**
 * The web console in real Chromium against a real controller (own PostgreSQL database) seeded with the founding
 * scenario: sign in, draw a call flow and save it, trace a call into it, and a site admin's restricted view.
 */
describe('web console', () => {
  let stack: ConsoleStack;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let browser: Browser;

  beforeAll(async () => {
    [stack, chrome] = await Promise.all([startConsoleStack(), launchChromium()]);
    browser = chrome.browser;
  });
  afterAll(async () => {
    await chrome?.close();
    await stack?.close();
  });

  async function signIn(user: { username: string; password: string }, path = '/'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // Fail on a missing element well inside the test's own timeout, with Playwright's explanation.
    page.setDefaultTimeout(8000);
    await page.goto(`${stack.url}${path}`);
    await page.getByLabel('User name').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    return page;
  }

  it('serves the console at / with an SPA fallback, and keeps unknown API paths a JSON 404', async () => {
    const index = await fetch(`${stack.url}/sites/moscow/flows`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="root">');
    const api = await fetch(`${stack.url}/api/v1/no-such-thing`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: { code: 'not-found' } });
    expect((await fetch(`${stack.url}/assets/missing.js`)).status).toBe(404);
  });

  it('signs in and shows the federation overview', async () => {
    const page = await signIn(ADMIN);
    await expect(page.getByRole('heading', { name: 'Federation overview' }).isVisible()).resolves.toBe(true);
    for (const site of ['moscow', 'piter', 'kazan']) await page.locator(`tr[data-site="${site}"]`).waitFor();
    // Link health matrix: a row and a column per site.
    expect(await page.locator('table.matrix tbody tr').count()).toBe(3);
    await page.screenshot({ path: artifactPath('overview.png'), fullPage: true });
    await page.context().close();
  });

  it('previews a number range before saving and shows a conflict on the ranges it names', async () => {
    const page = await signIn(ADMIN, '/numbering');
    await page.getByRole('button', { name: 'Add a number range' }).click();
    const form = page.getByRole('form', { name: 'New number range' });
    await form.getByLabel('Site').selectOption('piter');
    await form.getByLabel('First number').fill('500');
    await form.getByLabel('Last number').fill('599');
    await form.getByRole('button', { name: 'Preview impact' }).click();
    await page.getByTestId('impact-preview').getByText('Preview: this change is valid (not saved yet)').waitFor();
    expect(await page.getByTestId('impact-preview').innerText()).toMatch(/configuration changes: .*piter/);
    const before = await stack.t.request('GET', '/api/v1/number-ranges?siteId=piter', undefined, stack.adminToken);
    expect(before.body['items']).toHaveLength(1);

    await form.getByLabel('First number').fill('450');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByText('The change conflicts with the federation').waitFor();
    await page.locator('tr.row-conflict[data-range="r-piter"]').waitFor();
    await page.screenshot({ path: artifactPath('numbering-conflict.png'), fullPage: true });
    const after = await stack.t.request('GET', '/api/v1/number-ranges?siteId=piter', undefined, stack.adminToken);
    expect(after.body['items']).toHaveLength(1);
    await page.context().close();
  });

  it('builds a call flow by drawing, shows validation on the nodes, saves it through the API, and traces a call into it', async () => {
    const page = await signIn(ADMIN, '/sites/moscow/flows/new');
    await page.getByLabel('Flow name').fill('Sales line');
    await page.getByLabel('Internal number (optional)').fill('210');
    await page.getByRole('button', { name: '+ IVR menu' }).click();
    await page.getByRole('button', { name: '+ Ring group' }).click();
    await page.getByRole('button', { name: '+ Voicemail' }).click();
    const node = (id: string) => page.locator(`.react-flow__node[data-id="${id}"]`);
    for (const id of ['menu1', 'group1', 'vm1']) await node(id).waitFor();

    // Not connected yet: the server's check puts the IVR's problem on the IVR node.
    await page.getByRole('button', { name: 'Check' }).click();
    await node('menu1').locator('.flow-node-issues').waitFor();
    expect(await node('menu1').locator('.flow-node-issues').innerText()).toMatch(/no choice/);
    await page.screenshot({ path: artifactPath('flow-issues.png'), fullPage: true });

    await drawEdge(page, 'menu1', 'digit:1', 'group1');
    await drawEdge(page, 'group1', 'noanswer', 'vm1');
    expect(await page.locator('.react-flow__edge').count()).toBe(2);
    await page.getByRole('button', { name: 'Save flow' }).click();
    await page.getByText('Saved. The sites’ configuration is being updated.').waitFor();
    expect(await node('menu1').locator('.flow-node-issues').count()).toBe(0);
    await page.screenshot({ path: artifactPath('flow-saved.png'), fullPage: true });

    const list = await stack.t.request('GET', '/api/v1/call-flows?siteId=moscow', undefined, stack.adminToken);
    const flow = (list.body['items'] as CallFlow[]).find((f) => f.name === 'Sales line');
    expect(flow).toBeDefined();
    expect(flow?.number).toBe('210');
    expect(flow?.entry).toBe('menu1');
    const byId = new Map(flow?.nodes.map((n) => [n.id, n]));
    expect(byId.get('menu1')?.next).toEqual({ 'digit:1': 'group1' });
    expect(byId.get('group1')?.next).toEqual({ noanswer: 'vm1' });
    expect(byId.get('vm1')?.type).toBe('voicemail');
    expect(page.url()).toContain(`/sites/moscow/flows/${flow?.id}`);

    // Trace a call to the new flow's number, then a what-if: the link to piter down.
    await page.getByRole('link', { name: 'Route tracer' }).click();
    await page.getByLabel('At site').selectOption('moscow');
    await page.getByLabel('Caller').fill('101');
    await page.getByLabel('Number dialled').fill('210');
    await page.getByRole('button', { name: 'Trace' }).click();
    await page.getByText('Routed: flow').waitFor();
    expect(await page.locator('.trace-step').allInnerTexts()).toEqual(expect.arrayContaining([expect.stringMatching(/210 runs call flow "Sales line"/)]));
    await page.getByRole('link', { name: flow?.id ?? '?' }).waitFor();
    await page.screenshot({ path: artifactPath('trace-flow.png'), fullPage: true });

    await page.getByLabel('Number dialled').fill('88125551234');
    await page.getByLabel('link to piter').check();
    await page.getByRole('button', { name: 'Trace' }).click();
    await page.locator('.trace-step.skipped').waitFor();
    expect(await page.locator('.trace-step.skipped').innerText()).toMatch(/link to piter is down/);
    expect(await page.locator('.attempts').innerText()).toMatch(/t-moscow-city/);
    await page.screenshot({ path: artifactPath('trace-link-down.png'), fullPage: true });
    await page.context().close();
  }, 45_000);

  it("shows a site admin only their site; another site's URL is not found", async () => {
    const page = await signIn(PITER_ADMIN);
    await page.locator('tr[data-site="piter"]').waitFor();
    expect(await page.locator('tr[data-site]').count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Users and grants' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Extensions' }).click();
    await page.getByRole('cell', { name: 'Olga Ivanova', exact: true }).waitFor();

    for (const path of ['/sites/moscow/extensions', '/sites/moscow/flows/f-moscow-reception', '/sites/piter/flows/f-moscow-reception']) {
      await page.goto(`${stack.url}${path}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await page.getByText('Ivan Petrov').count()).toBe(0);
    }
    await page.screenshot({ path: artifactPath('site-admin-not-found.png'), fullPage: true });

    // Tablet width: the same screens, navigation above the content.
    await page.setViewportSize({ width: 820, height: 1100 });
    await page.goto(`${stack.url}/numbering`);
    await page.locator('tr[data-range="r-kazan"]').waitFor();
    await page.screenshot({ path: artifactPath('site-admin-numbering-tablet.png'), fullPage: true });
    await page.context().close();
  });
});

/** Drags from a node's outcome handle to another node, as a person draws a connection. */
async function drawEdge(page: Page, from: string, outcome: string, to: string): Promise<void> {
  const handle = page.locator(`.react-flow__node[data-id="${from}"] [data-outcome="${outcome}"]`);
  const target = page.locator(`.react-flow__node[data-id="${to}"] .react-flow__handle.target`);
  const a = await handle.boundingBox();
  const b = await target.boundingBox();
  if (a === null || b === null) throw new Error(`cannot see ${from}:${outcome} or ${to}`);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
  await page.locator(`[data-testid="rf__edge-${from}:${outcome}"]`).waitFor();
}
