import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../../apps/controller/src/live/live-hub.js';
import { ADMIN, PITER_ADMIN, artifactPath, launchChromium, startConsoleStack, type ConsoleStack } from './console-stack.js';

/**
 * Live updates (issue #18 §1) in real Chromium against a real controller: what one browser writes appears in
 * another without a reload, within a second; a console that lost its event stream says so, and catches up when
 * it is back.
 */
describe('web console: live updates', () => {
  let stack: ConsoleStack;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let browser: Browser;

  beforeAll(async () => {
    [stack, chrome] = await Promise.all([startConsoleStack(), launchChromium()]);
    browser = chrome.browser;
  }, 180_000);
  afterAll(async () => {
    await chrome?.close();
    await stack?.close();
  });

  async function signIn(user: { username: string; password: string }, path = '/'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(8000);
    await page.goto(`${stack.url}${path}`);
    await page.getByLabel('User name').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.locator('[data-live="live"]').waitFor();
    return page;
  }

  const rename = async (siteId: string, name: string): Promise<void> => {
    const site = (await stack.t.request('GET', `/api/v1/sites/${siteId}`, undefined, stack.adminToken)).body['data'] as Record<string, unknown>;
    expect((await stack.t.request('PUT', `/api/v1/sites/${siteId}`, { ...site, name }, stack.adminToken)).status).toBe(200);
  };

  it('shows a site renamed in one browser on the overview of another within a second, without a reload', async () => {
    const watcher = await signIn(ADMIN, '/');
    const piterWatcher = await signIn(PITER_ADMIN, '/');
    const editor = await signIn(PITER_ADMIN, '/sites/piter');
    let reloaded = false;
    watcher.on('load', () => (reloaded = true));
    // When the write committed (the controller tells its streams right after), and when the other browser showed
    // it (a DOM observer in that page): both on this machine's clock, without Playwright's polling in between.
    let committedAt = 0;
    const off = stack.t.app.get(LiveHub).subscribe(
      (e) => {
        if (e.topic === 'config' && e.siteIds.includes('piter') && committedAt === 0) committedAt = Date.now();
      },
      () => undefined,
    );
    const seen = watcher.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const doc = (globalThis as unknown as { document: { body: object; querySelector(s: string): { textContent: string | null } | null } }).document;
          const shown = (): boolean => doc.querySelector('[data-site="piter"]')?.textContent?.includes('Saint Petersburg office') === true;
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
    const shownAfterMs = seenAt - committedAt;
    await watcher.screenshot({ path: artifactPath('live-overview.png') });
    expect(reloaded).toBe(false);
    // The bar: a write in one browser shows in another within 1 s.
    expect(committedAt).toBeGreaterThan(0);
    expect(shownAfterMs).toBeLessThan(1000);
    console.log(`live update shown ${shownAfterMs} ms after the commit`);

    // The piter admin's console is told nothing of moscow: its overview has no moscow row to update.
    await rename('moscow', 'Moscow head office');
    await watcher.locator('[data-site="moscow"]').getByText('Moscow head office').waitFor();
    expect(await piterWatcher.locator('[data-site="moscow"]').count()).toBe(0);
    for (const p of [watcher, piterWatcher, editor]) await p.context().close();
  }, 60_000);

  it('says when the stream is lost, reconnects by itself and catches up with what changed meanwhile', async () => {
    const page = await signIn(ADMIN, '/');
    // The stream breaks and cannot be reopened for now (as when the controller restarts or the network drops).
    await page.route('**/api/v1/events', (route) => route.abort('connectionreset'));
    await stack.t.app.get(LiveHub).beforeApplicationShutdown();
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
  }, 60_000);
});
