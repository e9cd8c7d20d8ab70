import type { Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { groupEvents } from '../../apps/controller/src/ingest/event-batch.js';
import { EventStore } from '../../apps/controller/src/ingest/event-store.js';
import { cdrEnvelope } from '../../apps/controller/src/ingest/testing/cdr-envelopes.js';
import { ADMIN, PITER_VIEWER, artifactPath, consoleSuite } from './console-stack.js';

/**
 * #16 §2 in the console: a call that failed over from the link to the PSTN at moscow and rang a phone at piter is
 * one call with three legs; a viewer of piter sees its own leg and only a count of moscow's.
 */
describe('web console: a multi-site call as one call', () => {
  const callId = 'moscow/1795696107.41';
  const suite = consoleSuite({
    setUp: async (stack) => {
      const store = new EventStore();
      await stack.t.app.get(DataSource).transaction((m) =>
        store.write(
          m,
          groupEvents([
            cdrEnvelope('moscow', 41, { start: '2026-02-01T10:00:00.000Z', disposition: 'FAILED', routeKind: 'site', targetSiteId: 'piter', originSiteId: 'moscow', callId, dst: '301' }),
            cdrEnvelope('moscow', 42, { start: '2026-02-01T10:00:05.000Z', routeKind: 'pstn', targetSiteId: 'piter', trunkId: 't-moscow-city', originSiteId: 'moscow', callId, dst: '301' }),
            cdrEnvelope('piter', 43, { start: '2026-02-01T10:00:06.000Z', routeKind: 'local', targetSiteId: 'piter', originSiteId: 'moscow', callId, src: '101', dst: '301' }),
          ]),
        ),
      );
    },
    timeoutMs: 120_000,
  });

  async function signIn(user: { username: string; password: string }): Promise<Page> {
    const page = await suite.signIn(user, { path: '/cdrs' });
    await page.getByRole('heading', { name: 'Call records' }).waitFor();
    return page;
  }

  it('head office opens the call from any of its legs and sees all three with their own routes', async () => {
    const page = await signIn(ADMIN);
    const buttons = page.getByRole('button', { name: '3 legs' });
    await buttons.first().waitFor();
    expect(await buttons.count()).toBe(3);
    await buttons.first().click();
    const panel = page.getByRole('region', { name: `Call ${callId}` });
    const legs = panel.getByRole('table', { name: 'Legs of the call' });
    await legs.locator('tbody tr').nth(2).waitFor();
    const text = await legs.innerText();
    expect(text).toContain('site → piter');
    expect(text).toContain('pstn → piter (t-moscow-city)');
    expect(text).toContain('local → piter');
    expect(await panel.innerText()).toContain('Started at moscow');
    await page.screenshot({ path: artifactPath('call-legs-head-office.png'), fullPage: true });
    await page.context().close();
  });

  it("a viewer of piter sees piter's leg and only that there are two more elsewhere", async () => {
    const page = await signIn(PITER_VIEWER);
    await page.getByRole('button', { name: 'legs' }).first().click();
    const panel = page.getByRole('region', { name: `Call ${callId}` });
    await panel.getByText('2 at sites you cannot see').waitFor();
    const legs = panel.getByRole('table', { name: 'Legs of the call' });
    expect(await legs.locator('tbody tr').count()).toBe(1);
    expect(await legs.innerText()).not.toContain('t-moscow-city');
    await page.context().close();
  });
});
