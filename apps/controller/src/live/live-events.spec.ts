import type { AddressInfo } from 'node:net';
import type { LiveEvent } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupEvents } from '../ingest/event-batch.js';
import { EventStore } from '../ingest/event-store.js';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { AgentPresenceWatch } from './agent-presence.js';

/** One open event stream, read as the console reads it: fetch() with the bearer token, the body parsed as SSE. */
interface Stream {
  readonly status: number;
  /** Every block received so far: `{ event, data }` for events, `{ comment }` for comments. */
  readonly blocks: { event?: string; data?: string; comment?: string }[];
  readonly ended: Promise<void>;
  close(): void;
}

async function open(base: string, token?: string): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/v1/events`, { headers: token !== undefined ? { authorization: `Bearer ${token}` } : {}, signal: abort.signal });
  const blocks: Stream['blocks'] = [];
  const read = async (): Promise<void> => {
    if (res.body === null) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block: Stream['blocks'][number] = {};
          for (const line of buffer.slice(0, cut).split('\n')) {
            if (line.startsWith(':')) block.comment = line.slice(1).trim();
            else if (line.startsWith('event: ')) block.event = line.slice(7);
            else if (line.startsWith('data: ')) block.data = line.slice(6);
          }
          blocks.push(block);
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch {
      // aborted by close()
    }
  };
  return { status: res.status, blocks, ended: res.ok ? read() : Promise.resolve(), close: () => abort.abort() };
}

const events = (s: Stream, topic?: string): LiveEvent[] =>
  s.blocks.filter((b) => b.data !== undefined && b.event !== undefined && (topic === undefined || b.event === topic)).map((b) => JSON.parse(b.data as string) as LiveEvent);

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('GET /api/v1/events (console live updates)', () => {
  let t: TestApp;
  let base: string;
  let admin: string;
  let piterAdmin: string;
  const streams: Stream[] = [];
  const stream = async (token?: string): Promise<Stream> => {
    const s = await open(base, token);
    streams.push(s);
    return s;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { FEDPBX_LIVE_HEARTBEAT_SEC: '1' } });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    const r = await t.request('POST', '/api/v1/users', { username: 'piter-admin', password: 'piter-password-123', grants: [{ role: 'site-admin', siteId: 'piter' }] }, admin);
    expect(r.status).toBe(201);
    piterAdmin = await t.login('piter-admin', 'piter-password-123');
  }, 60_000);
  afterAll(async () => {
    for (const s of streams) s.close();
    await t?.close();
  });

  it('refuses a caller without a token, as every read', async () => {
    const s = await stream();
    expect(s.status).toBe(401);
  });

  it('tells head office of a write to any site, and a branch admin only of their own sites', async () => {
    const everything = await stream(admin);
    const piter = await stream(piterAdmin);
    expect(everything.status).toBe(200);
    expect(piter.status).toBe(200);
    const rename = async (siteId: string, name: string): Promise<void> => {
      const site = (await t.request('GET', `/api/v1/sites/${siteId}`, undefined, admin)).body['data'] as Record<string, unknown>;
      expect((await t.request('PUT', `/api/v1/sites/${siteId}`, { ...site, name }, admin)).status).toBe(200);
    };
    await rename('moscow', 'Moscow HQ');
    await until('moscow config event at head office', () => events(everything, 'config').some((e) => e.kind === 'site' && e.siteIds.includes('moscow')));
    // The rename changes moscow's snapshot: a new revision waits for its rollout.
    await until('moscow rollout event', () => events(everything, 'rollout').some((e) => e.siteIds.includes('moscow')));
    await rename('piter', 'Saint Petersburg');
    await until('piter config event for the piter admin', () => events(piter, 'config').some((e) => e.kind === 'site' && e.siteIds.includes('piter')));
    // Events arrive in order: everything before piter's own event was seen, and none of it named moscow.
    expect(events(piter).flatMap((e) => e.siteIds)).not.toContain('moscow');
    expect(events(piter).length).toBeGreaterThan(0);
  });

  it('names only the receiver\'s sites in an event that concerns several', async () => {
    const piter = await stream(piterAdmin);
    const link = (await t.request('GET', '/api/v1/links', undefined, admin)).body['items'] as { id: string; a: string; b: string }[];
    const mp = link.find((l) => [l.a, l.b].includes('moscow') && [l.a, l.b].includes('piter'));
    expect(mp).toBeDefined();
    const current = (await t.request('GET', `/api/v1/links/${mp?.id ?? ''}`, undefined, admin)).body['data'] as Record<string, unknown>;
    const codecs = (current['codecs'] as string[]).includes('g722') ? ['alaw'] : ['g722', 'alaw'];
    const { secretSet: _secretSet, ...body } = current;
    const r = await t.request('PUT', `/api/v1/links/${mp?.id ?? ''}`, { ...body, codecs }, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await until('link config event', () => events(piter, 'config').some((e) => e.kind === 'link'));
    expect(events(piter, 'config').find((e) => e.kind === 'link')?.siteIds).toEqual(['piter']);
  });

  it('tells when an agent comes online, from the stored heartbeats', async () => {
    const everything = await stream(admin);
    const piter = await stream(piterAdmin);
    const presence = t.app.get(AgentPresenceWatch);
    await presence.poll();
    const at = new Date().toISOString();
    const heartbeat = (siteId: string) => ({
      v: 1 as const,
      id: `${siteId}-hb-${at}`,
      siteId,
      at,
      event: { type: 'heartbeat' as const, agentVersion: '1.0.0', appliedRevision: 1, uptimeSec: 5, agiSessionsActive: 0, amiConnected: true },
    });
    // As another replica's ingest would leave it: only the database knows.
    await t.app.get(DataSource).transaction((m) => new EventStore().write(m, groupEvents([heartbeat('moscow'), heartbeat('piter')])));
    await presence.poll();
    await until('agents event', () => events(everything, 'agents').some((e) => e.siteIds.includes('moscow')));
    await until('piter agents event', () => events(piter, 'agents').some((e) => e.siteIds.includes('piter')));
    expect(events(piter, 'agents').flatMap((e) => e.siteIds)).not.toContain('moscow');
  });

  it('sends keep-alive comments, and ends the stream when the session is signed out', async () => {
    const token = await t.login('piter-admin', 'piter-password-123');
    const s = await stream(token);
    expect(s.blocks[0]).toBeUndefined();
    await until('a keep-alive comment', () => s.blocks.some((b) => b.comment === 'keep-alive'), 10_000);
    expect((await t.request('POST', '/api/v1/auth/logout', undefined, token)).status).toBeLessThan(300);
    await until('the end of the stream', () => s.blocks.some((b) => b.event === 'end'), 10_000);
    await s.ended;
  });
});
