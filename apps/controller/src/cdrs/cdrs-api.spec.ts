import type { AgentEventEnvelope, CdrRecord } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupEvents } from '../ingest/event-batch.js';
import { EventStore } from '../ingest/event-store.js';
import { cdrEnvelope } from '../ingest/testing/cdr-envelopes.js';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel, timeLimit } from '../testing/test-database.js';

/**
 * The CDR and agent status APIs over rows written by the ingest's own store (the NATS path is covered in
 * test/sync/controller-ingest.e2e.spec.ts): filters, keyset paging, per-site scope, newest-wins status.
 */
describe(`GET /api/v1/cdrs and /api/v1/agents (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let admin: string;
  let viewer: string;
  const store = new EventStore();
  const write = (envelopes: AgentEventEnvelope[]) => t.app.get(DataSource).transaction((m) => store.write(m, groupEvents(envelopes)));
  const get = async (url: string, token: string) => t.request('GET', url, undefined, token);
  const page = async (url: string, token = admin) => {
    const r = await get(url, token);
    expect(r.status).toBe(200);
    return r.body as unknown as { items: CdrRecord[]; nextCursor: string | null };
  };
  const all = async (query: string, token = admin, limit = 3): Promise<CdrRecord[]> => {
    const out: CdrRecord[] = [];
    let cursor: string | null = null;
    do {
      const p = await page(`/api/v1/cdrs?limit=${limit}${query}${cursor !== null ? `&cursor=${cursor}` : ''}`, token);
      expect(p.items.length).toBeLessThanOrEqual(limit);
      out.push(...p.items);
      cursor = p.nextCursor;
    } while (cursor !== null);
    return out;
  };

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    const r = await t.request('POST', '/api/v1/users', { username: 'cdr-viewer', password: 'viewer-password-123', grants: [{ role: 'viewer', siteId: 'moscow' }] }, admin);
    expect(r.status).toBe(201);
    viewer = await t.login('cdr-viewer', 'viewer-password-123');
    await write([
      ...Array.from({ length: 6 }, (_, n) => cdrEnvelope('moscow', n)),
      // Same start as moscow #5: ties are broken by (site, CDR id), so paging neither skips nor repeats them.
      cdrEnvelope('moscow', 105, { start: '2026-01-01T09:00:05.000Z' }),
      // Microseconds: stored and paged at millisecond precision.
      cdrEnvelope('moscow', 7, { start: '2026-01-01T09:00:07.123456Z', src: '102', disposition: 'BUSY', routeKind: 'pstn', trunkId: 't-moscow-city' }),
      cdrEnvelope('piter', 1, { src: '301', dst: '101', targetSiteId: 'moscow' }),
      cdrEnvelope('piter', 2, { src: '301', dst: '102', disposition: 'NO ANSWER' }),
    ]);
  }, timeLimit(60_000));
  afterAll(async () => t?.close());

  it('pages every record newest first, once, whatever the page size', async () => {
    const everything = await all('', admin, 100);
    expect(everything).toHaveLength(10);
    for (const size of [1, 3, 4]) expect(await all('', admin, size)).toEqual(everything);
    const keys = everything.map((c) => [c.start, c.siteId, c.cdrId].join(' '));
    expect(keys).toEqual([...keys].sort().reverse());
    expect(new Set(everything.map((c) => `${c.siteId}/${c.cdrId}`)).size).toBe(10);
  });

  it('returns the record as the agent sent it, plus site and receipt time, optional fields absent', async () => {
    const [busy] = (await page('/api/v1/cdrs?disposition=BUSY')).items;
    expect(busy).toEqual({
      siteId: 'moscow',
      cdrId: 'moscow-1700000000.7',
      uniqueId: '1700000000.7',
      linkedId: '1700000000.7',
      start: '2026-01-01T09:00:07.123Z',
      answer: '2026-01-01T09:00:12.123Z',
      end: '2026-01-01T09:00:37.123Z',
      durationSec: 30,
      billSec: 25,
      src: '102',
      dst: '302',
      disposition: 'BUSY',
      routeKind: 'pstn',
      targetSiteId: 'piter',
      trunkId: 't-moscow-city',
      snapshotRevision: 1,
      // No call id from the agent: this site and the record's linkedid.
      callId: 'moscow/1700000000.7',
      receivedAt: expect.stringMatching(/Z$/),
    });
  });

  it('filters by site, time range, caller, callee, disposition and route kind', async () => {
    const ids = async (q: string) => (await all(q, admin, 100)).map((c) => c.cdrId);
    expect(await ids('&siteId=piter')).toEqual(['piter-1700000000.2', 'piter-1700000000.1']);
    expect(await ids('&src=301&dst=101')).toEqual(['piter-1700000000.1']);
    expect(await ids('&disposition=NO%20ANSWER')).toEqual(['piter-1700000000.2']);
    expect(await ids('&routeKind=pstn')).toEqual(['moscow-1700000000.7']);
    expect(await ids('&siteId=moscow&from=2026-01-01T09:00:02Z&to=2026-01-01T09:00:04Z')).toEqual(['moscow-1700000000.3', 'moscow-1700000000.2']);
  });

  it('shows a site viewer only their sites, and nothing of a foreign site they filter on', async () => {
    const seen = await all('', viewer, 100);
    expect(seen).toHaveLength(8);
    expect(new Set(seen.map((c) => c.siteId))).toEqual(new Set(['moscow']));
    expect((await page('/api/v1/cdrs?siteId=piter', viewer)).items).toEqual([]);
  });

  it('refuses a bad cursor, an unknown filter and an out-of-range limit with 400', async () => {
    for (const q of ['cursor=not-a-cursor', `cursor=${Buffer.from('["x","y"]').toString('base64url')}`, 'caller=101', 'limit=0', 'limit=501', 'from=yesterday']) {
      const r = await get(`/api/v1/cdrs?${q}`, admin);
      expect(r.status, q).toBe(400);
      expect(r.body.error?.code).toBe('invalid-input');
    }
  });

  describe('agent status', () => {
    const hb = (siteId: string, at: Date, appliedRevision: number): AgentEventEnvelope => ({
      v: 1,
      id: `${siteId}-hb-${at.toISOString()}`,
      siteId,
      at: at.toISOString(),
      event: { type: 'heartbeat', agentVersion: '0.9.0', appliedRevision, uptimeSec: 1, agiSessionsActive: 0, amiConnected: false },
    });
    const status = async (siteId: string, token = admin) => (await get(`/api/v1/agents/${siteId}`, token)).body['data'] as { online: boolean; appliedRevision: number | null; lastSeenAt: string | null };

    it('lists every site of the caller, with nulls for an agent that never reported', async () => {
      const r = await get('/api/v1/agents', admin);
      const items = r.body['items'] as { siteId: string; online: boolean; lastSeenAt: string | null; links: unknown[] }[];
      expect(items.map((i) => i.siteId)).toEqual(['kazan', 'moscow', 'piter']);
      expect(items.find((i) => i.siteId === 'kazan')).toEqual({
        siteId: 'kazan',
        online: false,
        lastSeenAt: null,
        agentVersion: null,
        appliedRevision: null,
        uptimeSec: null,
        agiSessionsActive: null,
        amiConnected: null,
        alarms: [],
        links: [],
        trunks: [],
        warnings: [],
      });
      expect(((await get('/api/v1/agents', viewer)).body['items'] as { siteId: string }[]).map((i) => i.siteId)).toEqual(['moscow']);
      expect((await get('/api/v1/agents/piter', viewer)).status).toBe(404);
      expect((await get('/api/v1/agents/nowhere', admin)).status).toBe(404);
    });

    it('keeps the newest heartbeat and is online only within three intervals', async () => {
      const now = Date.now();
      await write([hb('piter', new Date(now - 5000), 3)]);
      await write([hb('piter', new Date(now - 9000), 2)]);
      expect(await status('piter')).toMatchObject({ online: true, appliedRevision: 3, lastSeenAt: new Date(now - 5000).toISOString() });
      // A heartbeat older than 30 s (drained from a backlog) does not make the agent online.
      await write([hb('kazan', new Date(now - 31_000), 1)]);
      expect(await status('kazan')).toMatchObject({ online: false, appliedRevision: 1 });
      // An agent with a fast clock that went silent: received long ago, so offline although its `at` looks fresh.
      await t.app.get(DataSource).query(`UPDATE agent_status SET received_at = now() - interval '31 seconds' WHERE site_id = 'piter'`);
      expect(await status('piter')).toMatchObject({ online: false, appliedRevision: 3 });
    });
  });

  describe('one call across sites (GET /api/v1/calls/:originSiteId/:linkedId)', () => {
    const callId = 'moscow/1795696107.41';
    beforeAll(async () => {
      await write([
        // moscow: the link leg failed, the PSTN leg answered (two CDRs of one channel, each with its own leg).
        cdrEnvelope('moscow', 41, { start: '2026-02-01T10:00:00.000Z', disposition: 'FAILED', routeKind: 'site', targetSiteId: 'piter', originSiteId: 'moscow', callId }),
        cdrEnvelope('moscow', 42, { start: '2026-02-01T10:00:05.000Z', routeKind: 'pstn', targetSiteId: 'piter', trunkId: 't-moscow-city', originSiteId: 'moscow', callId }),
        // piter: the same call arriving at its DID.
        cdrEnvelope('piter', 43, { start: '2026-02-01T10:00:06.000Z', routeKind: 'local', targetSiteId: 'piter', originSiteId: 'moscow', callId, src: '101', dst: '301' }),
        // A call only at piter, and a record from an agent that sent no call id.
        cdrEnvelope('piter', 44, { start: '2026-02-01T11:00:00.000Z', routeKind: 'local', targetSiteId: 'piter', originSiteId: 'piter', callId: 'piter/1795696999.1' }),
        cdrEnvelope('moscow', 45, { start: '2026-02-01T12:00:00.000Z', linkedId: '1795690000.9' }),
      ]);
    });
    const call = async (path: string, token = admin) => get(`/api/v1/calls/${path}`, token);

    it('shows head office the call with its legs at both sites, oldest first', async () => {
      const r = await call(callId);
      expect(r.status).toBe(200);
      const body = r.body as unknown as { legs: CdrRecord[]; sites: string[]; legsElsewhere: number; originSiteId: string; answered: boolean; start: string };
      expect(body.legs.map((l) => [l.siteId, l.routeKind, l.trunkId ?? null, l.disposition])).toEqual([
        ['moscow', 'site', null, 'FAILED'],
        ['moscow', 'pstn', 't-moscow-city', 'ANSWERED'],
        ['piter', 'local', null, 'ANSWERED'],
      ]);
      expect(body).toMatchObject({ callId, originSiteId: 'moscow', sites: ['moscow', 'piter'], legsElsewhere: 0, answered: true, start: '2026-02-01T10:00:00.000Z' });
      expect(body.legs.every((l) => l.callId === callId && l.originSiteId === 'moscow')).toBe(true);
    });

    it('shows a moscow viewer only the moscow legs; the piter leg is counted, never shown; a piter-only call is 404', async () => {
      const r = await call(callId, viewer);
      expect(r.status).toBe(200);
      const body = r.body as unknown as { legs: CdrRecord[]; sites: string[]; legsElsewhere: number };
      expect(body.legs.map((l) => l.siteId)).toEqual(['moscow', 'moscow']);
      expect(body.sites).toEqual(['moscow']);
      expect(body.legsElsewhere).toBe(1);
      expect(JSON.stringify(r.body)).not.toContain('"301"');
      expect((await call('piter/1795696999.1', viewer)).status).toBe(404);
      expect((await call('piter/1795696999.1', admin)).status).toBe(200);
      for (const bad of ['nowhere/1.2', 'moscow/0.0', 'Moscow/1.2', 'moscow/a%20b']) expect((await call(bad)).status, bad).toBe(404);
    });

    it('lists legs with their call id, filters by it, and gives a record without one its site and linkedid', async () => {
      const legs = await all(`&callId=${encodeURIComponent(callId)}`, admin, 2);
      expect(legs.map((l) => l.cdrId).sort()).toEqual(['moscow-1700000000.41', 'moscow-1700000000.42', 'piter-1700000000.43']);
      const viewerLegs = await all(`&callId=${encodeURIComponent(callId)}`, viewer, 10);
      expect(viewerLegs.map((l) => l.siteId)).toEqual(['moscow', 'moscow']);
      const [old] = await all('&from=2026-02-01T12:00:00.000Z', admin, 10);
      expect(old).toMatchObject({ callId: 'moscow/1795690000.9' });
      expect(old?.originSiteId).toBeUndefined();
      expect((await get('/api/v1/cdrs?callId=not-a-call', admin)).status).toBe(400);
    });
  });
});
