import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, PITER_ADMIN, PITER_VIEWER, artifactPath, launchChromium, signInPage, startConsoleStack, type ConsoleStack } from './console-stack.js';

/**
 * A site's busy-lamp setting (what it shares, which other offices' lamps it shows) on the site page, in real
 * Chromium against a real controller seeded with the founding scenario; scoped like the site's other settings.
 */
describe('web console: busy lamps (presence) on the site page', { timeout: 90_000 }, () => {
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

  const signIn = (user: { username: string; password: string }, path: string): Promise<Page> => signInPage(browser, stack, user, { path, viewportHeight: 1600 });
  const presenceOf = async (siteId: string): Promise<unknown> => {
    const r = await stack.t.request('GET', `/api/v1/sites/${siteId}`, undefined, stack.adminToken);
    return ((r.body['data'] ?? r.body) as { presence?: unknown }).presence;
  };

  it('a site admin sets what the office shares and whose lamps it shows; the summary and the API say the same', async () => {
    const page = await signIn(PITER_ADMIN, '/sites/piter');
    const summary = page.locator('.summary-list');
    await summary.getByText('shares every extension; shows no other office').waitFor();
    await page.getByRole('button', { name: 'Edit settings' }).click();
    const form = page.getByRole('form', { name: /^Settings of / });
    // The numbers and watch boxes show only for the "listed" choices.
    expect(await form.getByLabel('Extensions whose state is shared').count()).toBe(0);
    expect(await form.getByLabel('Offices whose lamps are shown').count()).toBe(0);
    await form.getByLabel('Busy lamps: whose state other offices may see').selectOption('listed');
    await form.getByLabel('Extensions whose state is shared').fill('301');
    await form.getByLabel('Busy lamps of other offices shown here').selectOption('listed');
    await form.getByLabel('Offices whose lamps are shown').fill('moscow: 101 102, kazan');
    await form.getByRole('button', { name: 'Save' }).click();
    await summary.getByText('shares 301; shows moscow: 101 102, kazan').waitFor();
    expect(await presenceOf('piter')).toEqual({ share: 'listed', sharedNumbers: ['301'], remoteHints: 'listed', watch: [{ siteId: 'moscow', numbers: ['101', '102'] }, { siteId: 'kazan' }] });
    await page.screenshot({ path: artifactPath('site-presence.png'), fullPage: true });

    // Editing again starts from what is stored.
    await page.getByRole('button', { name: 'Edit settings' }).click();
    expect(await form.getByLabel('Offices whose lamps are shown').inputValue()).toBe('moscow: 101 102, kazan');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await page.context().close();
  });

  it('a site that watches itself is refused beside the form, and nothing is saved', async () => {
    const before = await presenceOf('piter');
    const page = await signIn(PITER_ADMIN, '/sites/piter');
    await page.getByRole('button', { name: 'Edit settings' }).click();
    const form = page.getByRole('form', { name: /^Settings of / });
    await form.getByLabel('Offices whose lamps are shown').fill('piter');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText(/watches the site itself/).first().waitFor();
    expect(await presenceOf('piter')).toEqual(before);
    await page.context().close();
  });

  it('is not editable where the user may not write the site (another office, a viewer); head office edits any', async () => {
    // Another office's page does not exist for piter's admin (404, as for a site that does not exist).
    const admin = await signIn(PITER_ADMIN, '/sites/moscow');
    await admin.getByText('No site “moscow”').waitFor();
    expect(await admin.getByRole('button', { name: 'Edit settings' }).count()).toBe(0);
    await admin.context().close();
    const viewer = await signIn(PITER_VIEWER, '/sites/piter');
    await viewer.locator('.summary-list').getByText('shares 301; shows moscow: 101 102, kazan').waitFor();
    expect(await viewer.getByRole('button', { name: 'Edit settings' }).count()).toBe(0);
    await viewer.context().close();

    const head = await signIn(ADMIN, '/sites/moscow');
    await head.getByRole('button', { name: 'Edit settings' }).click();
    const form = head.getByRole('form', { name: /^Settings of / });
    await form.getByLabel('Busy lamps of other offices shown here').selectOption('all');
    await form.getByRole('button', { name: 'Save' }).click();
    await head.locator('.summary-list').getByText('shares every extension; shows every office it reaches').waitFor();
    expect(await presenceOf('moscow')).toMatchObject({ share: 'all', remoteHints: 'all' });
    await head.context().close();
  });
});
