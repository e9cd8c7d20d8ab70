import type { CallFlow } from '@fedpbx/contracts';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ADMIN, PITER_ADMIN, PITER_VIEWER, artifactPath, consoleSuite } from './console-stack.js';

/**
 * The web console in real Chromium against a real controller (own PostgreSQL database) seeded with the founding
 * scenario: sign in, draw a call flow and save it, trace a call into it, a site admin's restricted view, and a
 * viewer's read-only one.
 */
describe('web console', () => {
  const suite = consoleSuite();

  // Fails on a missing element well inside the test's own timeout, with Playwright's explanation (8 s).
  const signIn = (user: { username: string; password: string }, path = '/'): Promise<Page> => suite.signIn(user, { path });

  it('serves the console at / with an SPA fallback, and keeps unknown API paths a JSON 404', async () => {
    const index = await fetch(`${suite.stack.url}/sites/moscow/flows`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="root">');
    const api = await fetch(`${suite.stack.url}/api/v1/no-such-thing`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: { code: 'not-found' } });
    expect((await fetch(`${suite.stack.url}/assets/missing.js`)).status).toBe(404);
  });

  it('signs in and shows the federation overview', async () => {
    const page = await signIn(ADMIN);
    await expect(page.getByRole('heading', { name: 'Federation overview' }).isVisible()).resolves.toBe(true);
    for (const site of ['moscow', 'piter', 'kazan']) await page.locator(`tr[data-site="${site}"]`).waitFor();
    // Link health matrix: a row and a column per site (it renders when the links have loaded, after the sites).
    await page.locator('table.matrix tbody tr').nth(2).waitFor();
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
    const before = await suite.stack.t.request('GET', '/api/v1/number-ranges?siteId=piter', undefined, suite.stack.adminToken);
    expect(before.body['items']).toHaveLength(1);

    await form.getByLabel('First number').fill('450');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByText('The change conflicts with the federation').waitFor();
    await page.locator('tr.row-conflict[data-range="r-piter"]').waitFor();
    await page.screenshot({ path: artifactPath('numbering-conflict.png'), fullPage: true });
    const after = await suite.stack.t.request('GET', '/api/v1/number-ranges?siteId=piter', undefined, suite.stack.adminToken);
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

    const list = await suite.stack.t.request('GET', '/api/v1/call-flows?siteId=moscow', undefined, suite.stack.adminToken);
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
      await page.goto(`${suite.stack.url}${path}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await page.getByText('Ivan Petrov').count()).toBe(0);
    }
    await page.screenshot({ path: artifactPath('site-admin-not-found.png'), fullPage: true });

    // Tablet width: the same screens, navigation above the content.
    await page.setViewportSize({ width: 820, height: 1100 });
    await page.goto(`${suite.stack.url}/numbering`);
    await page.locator('tr[data-range="r-kazan"]').waitFor();
    await page.screenshot({ path: artifactPath('site-admin-numbering-tablet.png'), fullPage: true });
    await page.context().close();
  });

  it("gives a viewer of piter a read-only console: piter's lists, flows and revisions without write controls; moscow is not found", async () => {
    const desk = await suite.stack.t.request(
      'POST',
      '/api/v1/call-flows',
      {
        siteId: 'piter',
        name: 'Piter front desk',
        entry: 'desk',
        nodes: [
          { id: 'desk', type: 'ring-group', members: ['301', '302'], strategy: 'ringall', timeoutSec: 20, next: { noanswer: 'vm' } },
          { id: 'vm', type: 'voicemail', mailbox: '301' },
        ],
      },
      suite.stack.adminToken,
    );
    expect(desk.status).toBe(201);
    const flowId = (desk.body['data'] as { id: string }).id;
    const writeButton = /^(Add|Edit|Delete|Save|Roll back|Preview impact|New call flow|Check)\b/;

    // The same screens as piter's site admin sees them, write controls included: what the viewer must not get.
    const admin = await signIn(PITER_ADMIN, '/sites/piter/extensions');
    await admin.getByRole('button', { name: 'Edit extension 301 (Olga Ivanova)' }).waitFor();
    await admin.getByRole('button', { name: 'Add extension' }).waitFor();
    await admin.goto(`${suite.stack.url}/sites/piter/flows`);
    await admin.getByRole('link', { name: 'New call flow' }).waitFor();
    await admin.context().close();

    const page = await signIn(PITER_VIEWER, '/sites/piter/extensions');
    const main = page.getByRole('main');
    await page.getByRole('cell', { name: 'Olga Ivanova', exact: true }).waitFor();
    expect(await main.getByRole('button', { name: writeButton }).count()).toBe(0);
    expect(await main.getByRole('columnheader', { name: 'Actions' }).count()).toBe(0);

    for (const [path, shown] of [['/sites/piter/trunks', 'piter-city'], ['/sites/piter/inbound', '78125550300']] as const) {
      await page.goto(`${suite.stack.url}${path}`);
      await main.getByRole('table').getByText(shown, { exact: false }).first().waitFor();
      expect(await main.getByRole('button', { name: writeButton }).count()).toBe(0);
    }

    // Call flows: listed and opened as a diagram, but nothing to draw with and nothing to save.
    await page.goto(`${suite.stack.url}/sites/piter/flows`);
    await main.getByRole('link', { name: 'Piter front desk' }).click();
    await page.locator('.react-flow__node[data-id="desk"]').waitFor();
    await page.getByText('Read only: you can see this flow').waitFor();
    expect(await main.getByRole('button', { name: writeButton }).count()).toBe(0);
    expect(await page.getByRole('toolbar', { name: 'Add a step' }).count()).toBe(0);
    expect(await page.getByLabel('Flow name').inputValue()).toBe('Piter front desk');
    expect(await page.getByLabel('Flow name').isEditable()).toBe(false);
    await page.getByRole('navigation', { name: 'Steps' }).getByRole('button', { name: /^desk/ }).click();
    const inspector = page.getByRole('region', { name: 'Settings of node desk' });
    expect(await inspector.getByLabel('Phones to ring').inputValue()).toBe('301, 302');
    expect(await inspector.getByLabel('Phones to ring').isDisabled()).toBe(true);
    expect(await inspector.getByRole('button').count()).toBe(0);
    await page.screenshot({ path: artifactPath('viewer-flow.png'), fullPage: true });
    await page.goto(`${suite.stack.url}/sites/piter/flows/new`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();

    // The site page, its revisions (diffs still open) and the numbering plan: read, never written.
    await page.goto(`${suite.stack.url}/sites/piter`);
    await page.getByRole('list', { name: 'Number ranges of this site' }).waitFor();
    expect(await main.getByRole('button', { name: writeButton }).count()).toBe(0);
    await page.goto(`${suite.stack.url}/sites/piter/revisions`);
    await main.getByRole('button', { name: /^Changes in revision / }).first().click();
    await page.getByTestId('revision-diff').waitFor();
    expect(await main.getByRole('button', { name: writeButton }).count()).toBe(0);
    await page.goto(`${suite.stack.url}/numbering`);
    await page.locator('tr[data-range="r-piter"]').waitFor();
    expect(await main.getByRole('button', { name: writeButton }).count()).toBe(0);

    for (const path of ['/sites/moscow/extensions', '/sites/moscow/flows/f-moscow-reception', '/sites/moscow']) {
      await page.goto(`${suite.stack.url}${path}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await page.getByText('Ivan Petrov').count()).toBe(0);
    }

    // What the console leaves out, the API refuses; and the session's rights come from the API.
    const token = await suite.stack.t.login(PITER_VIEWER.username, PITER_VIEWER.password);
    expect((await suite.stack.t.request('GET', '/api/v1/auth/me', undefined, token)).body).toMatchObject({ headOffice: false, readableSites: ['piter'], writableSites: [] });
    expect((await suite.stack.t.request('DELETE', `/api/v1/call-flows/${flowId}`, undefined, token)).status).toBe(403);
    expect((await suite.stack.t.request('DELETE', '/api/v1/extensions/e-p301', undefined, token)).status).toBe(403);
    await page.context().close();
  }, 45_000);

  it('lets head office create a site with a number range and issue its agent an enrollment token, shown once as the command to run, then revoke it', async () => {
    const page = await signIn(ADMIN, '/sites');
    await page.getByRole('button', { name: 'Add a site' }).click();
    const form = page.getByRole('form', { name: 'New site' });
    // A prefix no site and no internal number starts with (moscow 5, kazan 6; ranges 1xx-4xx).
    expect(await form.getByLabel('Site prefix').inputValue()).toBe('7');
    await form.getByLabel('Site id').fill('ufa');
    await form.getByLabel('Name', { exact: true }).fill('Ufa branch');
    await form.getByLabel('Time zone').fill('Asia/Yekaterinburg');
    await form.getByLabel('Site prefix').fill('12345');
    await form.getByRole('button', { name: 'Create' }).click();
    // The server's complaint lands beside the field it names; nothing is created.
    await form.locator('.field-invalid', { hasText: 'Site prefix' }).getByText('a site prefix is 1-4 digits').waitFor();
    expect((await suite.stack.t.request('GET', '/api/v1/sites/ufa', undefined, suite.stack.adminToken)).status).toBe(404);

    await form.getByLabel('Site prefix').fill('7');
    await form.getByLabel('Record calls between offices').check();
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Ufa branch ufa' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/sites/ufa');
    await page.getByText('Site created. Next: give it a number range').waitFor();

    await page.getByRole('button', { name: 'Add a number range' }).click();
    const range = page.getByRole('form', { name: 'New number range' });
    await range.getByLabel('First number').fill('600');
    await range.getByLabel('Last number').fill('699');
    await range.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('list', { name: 'Number ranges of this site' }).getByText('600–699').waitFor();

    await page.getByRole('button', { name: 'Issue an enrollment token' }).click();
    const command = await page.getByLabel('Enrollment command').inputValue();
    expect(command).toMatch(new RegExp(`^fedpbx-agent enroll --controller ${suite.stack.url.replace(/[.]/g, '\\.')} --token fpe_[A-Za-z0-9_-]{43}$`));
    expect(await page.getByTestId('enrollment-token').innerText()).toMatch(/works once and expires/);
    await page.screenshot({ path: artifactPath('site-enrollment.png'), fullPage: true });

    const site = await suite.stack.t.request('GET', '/api/v1/sites/ufa', undefined, suite.stack.adminToken);
    expect(site.body['data']).toMatchObject({ id: 'ufa', name: 'Ufa branch', prefix: '7', prefixRequired: false, timezone: 'Asia/Yekaterinburg', emergencyNumbers: ['112'], recording: { interSite: true, external: false, retentionDays: 90 } });
    const ranges = await suite.stack.t.request('GET', '/api/v1/number-ranges?siteId=ufa', undefined, suite.stack.adminToken);
    expect(ranges.body['items']).toEqual([expect.objectContaining({ siteId: 'ufa', from: '600', to: '699' })]);
    // The token is never shown again: a reload shows the button and the token's state, not the command.
    await page.reload();
    await page.getByRole('button', { name: 'Issue an enrollment token' }).waitFor();
    expect(await page.getByLabel('Enrollment command').count()).toBe(0);
    const tokens = page.getByRole('table', { name: 'Enrollment tokens of this site' });
    const pending = tokens.locator('tr[data-state="pending"]');
    await pending.waitFor();
    expect(await tokens.locator('tbody tr').count()).toBe(1);
    expect(await pending.innerText()).toMatch(/admin\s+pending\s+usable once until/);
    expect(await tokens.innerText()).not.toContain(command.split(' --token ')[1]!);

    // Revoking asks first: dismissed, nothing happens; accepted, the token is revoked and /enroll no longer knows it.
    const id = await pending.getAttribute('data-enrollment-token');
    page.once('dialog', (d) => void d.dismiss());
    await pending.getByRole('button', { name: /^Revoke the token issued / }).click();
    expect((await suite.stack.t.request('GET', '/api/v1/sites/ufa/enrollment-tokens', undefined, suite.stack.adminToken)).body['items']).toEqual([expect.objectContaining({ id, state: 'pending' })]);
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await pending.getByRole('button', { name: /^Revoke the token issued / }).click();
    await page.getByText('it can no longer be used.').waitFor();
    expect(asked).toMatch(/^Revoke the enrollment token issued .* by admin\?/);
    const revoked = tokens.locator(`tr[data-enrollment-token="${id}"][data-state="revoked"]`);
    await revoked.waitFor();
    expect(await revoked.innerText()).toMatch(/revoked .* by admin/);
    expect(await revoked.getByRole('button').count()).toBe(0);
    await page.screenshot({ path: artifactPath('site-enrollment-revoked.png'), fullPage: true });
    expect((await suite.stack.t.request('GET', '/api/v1/sites/ufa/enrollment-tokens', undefined, suite.stack.adminToken)).body['items']).toEqual([
      expect.objectContaining({ id, state: 'revoked', revokedBy: 'admin' }),
    ]);
    await page.context().close();
  }, 45_000);

  it('shows what an edit changed between two revisions and rolls the site back after a dry run', async () => {
    const headOf = async (): Promise<number> => {
      const r = await suite.stack.t.request('GET', '/api/v1/sites/piter/revisions?limit=1', undefined, suite.stack.adminToken);
      return (r.body['items'] as { revision: number }[])[0]?.revision ?? NaN;
    };
    const before = await headOf();
    const page = await signIn(ADMIN, '/sites/piter/extensions');
    await page.getByRole('button', { name: 'Edit extension 302 (Pavel Orlov)' }).click();
    await page.getByRole('form', { name: 'Edit extension 302 (Pavel Orlov)' }).getByLabel('Name shown to callers').fill('Pavel Sokolov');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved extension 302 (Pavel Sokolov).').waitFor();
    const edited = await headOf();
    expect(edited).toBeGreaterThan(before);

    await page.getByRole('link', { name: 'Revisions' }).click();
    await page.getByRole('button', { name: `Changes in revision ${edited}` }).click();
    const change = page.getByTestId('revision-diff').locator('[data-changed="e-p302"]');
    await change.waitFor();
    expect(await change.locator('tr[data-field="displayName"]').innerText()).toMatch(/displayName\s+Pavel Orlov\s+Pavel Sokolov/);
    expect(await page.getByTestId('revision-diff').locator('[data-changed]').count()).toBe(1);

    await page.getByRole('button', { name: `Roll back to revision ${before}` }).click();
    const panel = page.getByRole('region', { name: `Roll back piter to revision ${before}?` });
    await panel.getByTestId('impact-preview').getByText('Preview: this change is valid (not saved yet)').waitFor();
    expect(await panel.locator('[data-changed="e-p302"] tr[data-field="displayName"]').innerText()).toMatch(/Pavel Sokolov\s+Pavel Orlov/);
    // The dry run saved nothing.
    expect(await headOf()).toBe(edited);
    await page.screenshot({ path: artifactPath('revision-rollback.png'), fullPage: true });
    await panel.getByRole('button', { name: `Roll back to revision ${before}` }).click();
    await page.getByText(`restores revision ${before}.`).waitFor();

    const rolledBack = await headOf();
    expect(rolledBack).toBeGreaterThan(edited);
    await page.locator(`tr[data-revision="${rolledBack}"]`).getByText('current').waitFor();
    const ext = await suite.stack.t.request('GET', '/api/v1/extensions/e-p302', undefined, suite.stack.adminToken);
    expect(ext.body['data']).toMatchObject({ displayName: 'Pavel Orlov', sipSecretSet: true });
    await page.context().close();
  }, 45_000);

  it('offers a site admin no way to create sites, issue enrollment tokens or set head-office settings, as the API refuses them', async () => {
    const page = await signIn(PITER_ADMIN, '/sites');
    await page.locator('tr[data-site-row="piter"]').waitFor();
    expect(await page.locator('tr[data-site-row]').count()).toBe(1);
    await page.getByText('Head office creates sites').waitFor();
    expect(await page.getByRole('button', { name: 'Add a site' }).count()).toBe(0);

    // Head office issued a token for piter: its admin sees it and its state, with no way to revoke it.
    expect((await suite.stack.t.request('POST', '/api/v1/sites/piter/enrollment-tokens', undefined, suite.stack.adminToken)).status).toBe(201);
    await page.getByRole('link', { name: 'St Petersburg office', exact: true }).click();
    await page.getByText('Head office issues the enrollment token for this office’s agent').waitFor();
    expect(await page.getByRole('button', { name: /enrollment token/ }).count()).toBe(0);
    const pending = page.getByRole('table', { name: 'Enrollment tokens of this site' }).locator('tr[data-state="pending"]');
    await pending.waitFor();
    expect(await page.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
    const pendingId = await pending.getAttribute('data-enrollment-token');
    await page.getByRole('button', { name: 'Edit settings' }).click();
    const form = page.getByRole('form', { name: /^Settings of / });
    await form.getByLabel('Time zone').waitFor();
    expect(await form.getByLabel('Site prefix').count()).toBe(0);
    expect(await form.getByLabel('Site id').count()).toBe(0);

    await page.goto(`${suite.stack.url}/links`);
    await page.getByRole('heading', { name: 'Links between sites' }).waitFor();
    expect(await page.getByRole('form', { name: 'Generate links' }).count()).toBe(0);
    await page.screenshot({ path: artifactPath('site-admin-site.png'), fullPage: true });

    // What the console leaves out, the API refuses.
    const token = await suite.stack.t.login(PITER_ADMIN.username, PITER_ADMIN.password);
    expect((await suite.stack.t.request('POST', '/api/v1/sites', { id: 'tver', name: 'Tver' }, token)).status).toBe(403);
    expect((await suite.stack.t.request('POST', '/api/v1/sites/piter/enrollment-tokens', undefined, token)).status).toBe(403);
    expect((await suite.stack.t.request('DELETE', `/api/v1/enrollment-tokens/${pendingId}`, undefined, token)).status).toBe(403);
    await page.context().close();
  });

  it('routes a DID to a call flow and hands out an API token once, then revokes it', async () => {
    const page = await signIn(ADMIN, '/sites/moscow/inbound');
    await page.getByRole('button', { name: 'Add inbound route' }).click();
    const form = page.getByRole('form', { name: 'New inbound route' });
    await form.getByLabel('Number dialled (DID)').fill('74955550200');
    await form.getByLabel('Extension number').fill('101');
    // Switching the destination swaps the fields; the hidden extension number is not sent.
    await form.getByLabel('Send the call to').selectOption('flow');
    await form.getByLabel('Call flow').selectOption('f-moscow-reception');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('cell', { name: '74955550200', exact: true }).waitFor();
    const routes = await suite.stack.t.request('GET', '/api/v1/inbound-routes?siteId=moscow', undefined, suite.stack.adminToken);
    expect(routes.body['items']).toEqual(expect.arrayContaining([expect.objectContaining({ did: '74955550200', destination: { type: 'flow', flowId: 'f-moscow-reception' } })]));

    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByLabel('Token name').fill('provisioning script');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByLabel('API token', { exact: true }).inputValue();
    expect(token).toMatch(/^fpt_/);
    expect((await suite.stack.t.request('GET', '/api/v1/auth/me', undefined, token)).status).toBe(200);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke token provisioning script' }).click();
    await page.getByText('Revoked “provisioning script”.').waitFor();
    expect(await page.getByLabel('API token', { exact: true }).count()).toBe(0);
    expect((await suite.stack.t.request('GET', '/api/v1/auth/me', undefined, token)).status).toBe(401);
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
