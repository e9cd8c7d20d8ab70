import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ADMIN, PITER_ADMIN, PITER_VIEWER, artifactPath, consoleSuite } from './console-stack.js';

/**
 * Sessions, passwords and API tokens in the console (issue #17 §2, §3), in real Chromium against a real controller:
 * sign-out ends the session on the server, the access token is renewed before it expires (and after a 401), head
 * office ends a user's sessions and resets their password, the user must choose a new one, and API tokens with a
 * scope, an expiry and their last use, listed and revoked by head office.
 */
describe('web console: sessions, passwords and API tokens', () => {
  const suite = consoleSuite();

  const signIn = (user: { username: string; password: string }, path = '/'): Promise<Page> => suite.signIn(user, { path });

  type Stored = { accessToken: string; expiresAt: string; refreshToken: string; sessionExpiresAt: string };
  // The test project has no DOM types; these functions run in the page, where sessionStorage exists.
  type PageGlobal = { sessionStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void } };
  const stored = async (page: Page): Promise<Stored> => JSON.parse((await page.evaluate(() => (globalThis as unknown as PageGlobal).sessionStorage.getItem('fedpbx.session'))) ?? 'null') as Stored;
  const meWith = async (token: string): Promise<number> => (await fetch(`${suite.stack.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('renews the access token before it expires and after a refused request, and signs out on the server', async () => {
    const page = await signIn(ADMIN);
    const first = await stored(page);
    // The access token is about to expire (a minute and a few seconds left): after the user does something, the
    // console renews it without a word.
    await page.evaluate((s) => (globalThis as unknown as PageGlobal).sessionStorage.setItem('fedpbx.session', JSON.stringify({ ...s, expiresAt: new Date(Date.now() + 63_000).toISOString() })), first);
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.getByRole('heading', { name: 'Federation overview' }).click();
    await page.waitForFunction((old) => (JSON.parse((globalThis as unknown as PageGlobal).sessionStorage.getItem('fedpbx.session') ?? '{}') as Stored).accessToken !== old, first.accessToken, { timeout: 10_000 });
    const renewed = await stored(page);
    expect(renewed.refreshToken).not.toBe(first.refreshToken);
    expect(await meWith(renewed.accessToken)).toBe(200);

    // An access token the server refuses (expired while the tab slept): one renewal, the request again, no sign-in.
    await page.evaluate((s) => (globalThis as unknown as PageGlobal).sessionStorage.setItem('fedpbx.session', JSON.stringify({ ...s, accessToken: 'fpa.not-a-valid-token.x' })), renewed);
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    const again = await stored(page);
    expect(again.accessToken).not.toBe('fpa.not-a-valid-token.x');
    expect(again.refreshToken).not.toBe(renewed.refreshToken);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // Signed out on the server: the tokens the tab held no longer work anywhere.
    expect(await meWith(again.accessToken)).toBe(401);
    const refresh = await fetch(`${suite.stack.url}/api/v1/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: again.refreshToken }) });
    expect(refresh.status).toBe(401);
    await page.context().close();
  }, 60_000);

  it('lets head office end a user\'s sessions and reset their password; the user then chooses a new one', async () => {
    const viewer = await signIn(PITER_VIEWER);
    const admin = await signIn(ADMIN, '/users');
    admin.on('dialog', (d) => void d.accept());
    await admin.getByRole('button', { name: `Password and sessions of ${PITER_VIEWER.username}` }).click();
    const panel = admin.getByRole('region', { name: `Password and sessions of ${PITER_VIEWER.username}` });
    await panel.getByRole('rowheader', { name: '127.0.0.1' }).first().waitFor();
    await panel.getByRole('button', { name: 'End all sessions' }).click();
    await admin.getByText(`of ${PITER_VIEWER.username}.`).waitFor();

    // The viewer's next request finds the session ended: back to the sign-in page, told why.
    await viewer.getByRole('link', { name: 'Sites' }).click();
    await viewer.getByText('Your session has ended. Please sign in again.').waitFor();

    await admin.getByRole('button', { name: `Password and sessions of ${PITER_VIEWER.username}` }).click();
    await panel.getByLabel('New password').fill('password2024');
    await panel.getByRole('button', { name: 'Reset password' }).click();
    await panel.getByText('is a common password (found in breach lists)').waitFor();
    await panel.getByLabel('New password').fill('Given-By-Head-Office-71');
    await panel.getByRole('button', { name: 'Reset password' }).click();
    await admin.getByText(`Reset the password of ${PITER_VIEWER.username}`).waitFor();
    await admin.screenshot({ path: artifactPath('users-password-reset.png'), fullPage: true });

    await viewer.getByLabel('User name').fill(PITER_VIEWER.username);
    await viewer.getByLabel('Password').fill('Given-By-Head-Office-71');
    await viewer.getByRole('button', { name: 'Sign in' }).click();
    const form = viewer.getByRole('form', { name: 'Change password' });
    await form.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    expect(await viewer.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
    await viewer.screenshot({ path: artifactPath('forced-password-change.png'), fullPage: true });
    await form.getByLabel('Password you were given').fill('Given-By-Head-Office-71');
    await form.getByLabel('New password', { exact: true }).fill('Neva-Bridges-At-Night-5');
    await form.getByLabel('New password again').fill('Neva-Bridges-At-Night-5');
    await form.getByRole('button', { name: 'Change password' }).click();
    await viewer.getByRole('navigation', { name: 'Main' }).waitFor();
    const r = await suite.stack.t.request('POST', '/api/v1/auth/login', { username: PITER_VIEWER.username, password: 'Neva-Bridges-At-Night-5' });
    expect(r.body['mustChangePassword']).toBe(false);

    // Changing one's own password on the account screen: the current one is checked.
    await viewer.getByRole('link', { name: PITER_VIEWER.username }).click();
    const own = viewer.getByRole('form', { name: 'Change password' });
    await own.getByLabel('Current password').fill('not-my-password');
    await own.getByLabel('New password', { exact: true }).fill('Hermitage-Cats-Sleep-8');
    await own.getByLabel('New password again').fill('Hermitage-Cats-Sleep-8');
    await own.getByRole('button', { name: 'Change password' }).click();
    await own.getByText('not your current password').waitFor();
    await viewer.context().close();
    await admin.context().close();
  }, 60_000);

  it('makes API tokens with a site, read-only and an expiry, shows their last use, and lets head office list and revoke everyone\'s', async () => {
    const page = await signIn(PITER_ADMIN, '/api-tokens');
    await page.getByLabel('Token name').fill('piter monitoring');
    await page.getByLabel('Expires in (days)').fill('7');
    await page.getByLabel('Limited to').selectOption('piter');
    await page.getByLabel('Read-only').check();
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByLabel('API token', { exact: true }).inputValue();
    expect(token).toMatch(/^fpt_/);
    const get = await fetch(`${suite.stack.url}/api/v1/extensions?siteId=piter`, { headers: { authorization: `Bearer ${token}` } });
    expect(get.status).toBe(200);
    const write = await fetch(`${suite.stack.url}/api/v1/extensions?dryRun=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ siteId: 'piter', number: '399', displayName: 'x' }),
    });
    expect(write.status).toBe(403);
    await page.reload();
    const row = page.getByRole('row', { name: /piter monitoring/ });
    await row.getByText('read-only · viewer of piter').waitFor();
    expect(await row.getByText('never').count()).toBe(0);
    await page.context().close();

    const admin = await signIn(ADMIN, '/api-tokens');
    await admin.getByLabel('Show every user\'s tokens').check();
    const theirs = admin.getByRole('row', { name: /piter monitoring/ });
    await theirs.getByRole('cell', { name: PITER_ADMIN.username }).waitFor();
    await admin.screenshot({ path: artifactPath('api-tokens-all-users.png'), fullPage: true });
    admin.once('dialog', (d) => void d.accept());
    await theirs.getByRole('button', { name: 'Revoke token piter monitoring' }).click();
    await theirs.getByText(`by ${ADMIN.username}`).waitFor();
    expect((await fetch(`${suite.stack.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    await admin.context().close();
  }, 60_000);
});
