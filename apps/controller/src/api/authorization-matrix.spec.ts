import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createNatsTrust, issuerOf } from '@fedpbx/nats-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { groupEvents } from '../ingest/event-batch.js';
import { EventStore } from '../ingest/event-store.js';
import { cdrEnvelope } from '../ingest/testing/cdr-envelopes.js';
import { RouteCatalog } from '../openapi/route-catalog.js';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel, timeLimit } from '../testing/test-database.js';

/**
 * Every registered route x role x own/foreign site, with the status each must answer. The routes come from
 * Nest's route table at runtime: a new route without a row here fails the test. Writes run as dry runs, so the
 * rows do not depend on each other (the rights checks are the same as for a real write).
 */
type Role = 'headOffice' | 'siteAdmin' | 'viewer';
type Target = 'own' | 'foreign';
/** `token`: sent instead of the role's own (a fresh session of the role, for routes that end theirs). */
type Req = { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; url: string; body?: unknown; token?: string };
type Expect = Record<Role, [own: number, foreign: number]>;
interface Row {
  readonly req: (target: Target, role: Role) => Promise<Req> | Req;
  readonly expect: Expect;
  readonly public?: boolean;
  /** A stream that never ends (Server-Sent Events): asked over real HTTP, its status read and the stream dropped. */
  readonly stream?: boolean;
}

const SITE: Record<Target, string> = { own: 'moscow', foreign: 'piter' };
/**
 * What only head office and piter's or kazan's people may know (moscow's admin and viewer may not): ids, names,
 * credentials, addresses and DIDs of objects at those sites. (Site ids and ranges are the numbering plan, which
 * everyone reads; outbound routes used at moscow may name piter's trunk.) No answer to a moscow caller may hold
 * one of them unless the caller's own request did.
 */
const FOREIGN_ONLY = [
  'e-p301', 'e-p302', 'Olga Ivanova', 'Pavel Orlov', 'p301-secret-XYZ', 'spb-trunk-SECRET', 'sip.spb-carrier.example', '10.77.0.2',
  'ir-spb-main', 'ir-spb-did', '78125550300', 'f-piter', 'e-k101', 'Rustam Khasanov', 'k101-secret-XYZ', 'kzn-trunk-SECRET', '10.77.0.3', 'link-pk-SECRET',
];
const leaks = (req: Req, body: unknown): string[] => {
  const asked = `${req.url} ${JSON.stringify(req.body ?? null)}`;
  const answered = JSON.stringify(body);
  return FOREIGN_ONLY.filter((x) => answered.includes(x) && !asked.includes(x));
};
const PASSWORD = 'matrix-password-123';
const all = (s: number): Expect => ({ headOffice: [s, s], siteAdmin: [s, s], viewer: [s, s] });
const headOfficeOnly = (ok: number): Expect => ({ headOffice: [ok, ok], siteAdmin: [403, 403], viewer: [403, 403] });
const siteRead: Expect = { headOffice: [200, 200], siteAdmin: [200, 404], viewer: [200, 404] };
const siteWrite: Expect = { headOffice: [200, 200], siteAdmin: [200, 404], viewer: [403, 404] };
/** Live requests to a site's agent: readers of the site may ask (503 here: no NATS), others find no such site. */
const siteLive: Expect = { headOffice: [503, 503], siteAdmin: [503, 404], viewer: [503, 404] };
/** Head-office kinds: visible own objects are refused (403), invisible ones do not exist (404). */
const headOfficeObjectWrite: Expect = { headOffice: [200, 200], siteAdmin: [403, 404], viewer: [403, 404] };

/** Objects of each kind at the own and the foreign site, and a new one to create there. */
const OBJECTS: Record<string, { ids: Record<Target, string>; create: (site: string) => unknown }> = {
  sites: { ids: { own: 'moscow', foreign: 'piter' }, create: () => ({ id: 'newsite', name: 'New office' }) },
  'number-ranges': { ids: { own: 'r-moscow', foreign: 'r-piter' }, create: (siteId) => ({ siteId, from: '700', to: '709' }) },
  extensions: { ids: { own: 'e-m101', foreign: 'e-p301' }, create: (siteId) => ({ siteId, number: siteId === 'moscow' ? '105' : '305', displayName: 'New' }) },
  trunks: { ids: { own: 't-moscow-city', foreign: 't-piter-city' }, create: (siteId) => ({ siteId, name: 'extra', host: 'sip.example.net' }) },
  links: { ids: { own: 'l-moscow-kazan', foreign: 'l-piter-kazan' }, create: () => ({ a: 'moscow', b: 'piter' }) },
  'outbound-routes': {
    ids: { own: 'or-msk-local', foreign: 'or-spb-local' },
    create: (site) => ({ name: 'x', patterns: ['_9XXX'], callClass: 'local', sites: [site], trunks: [{ trunkId: `t-${site}-city` }] }),
  },
  'inbound-routes': { ids: { own: 'ir-msk-main', foreign: 'ir-spb-main' }, create: (siteId) => ({ siteId, did: '74950000000', destination: { type: 'hangup' } }) },
  'call-flows': { ids: { own: 'f-moscow-reception', foreign: 'f-piter' }, create: (siteId) => ({ siteId, name: 'x', entry: 'a', nodes: [{ id: 'a', type: 'hangup' }] }) },
  'classes-of-service': { ids: { own: 'cos-local', foreign: 'cos-national' }, create: () => ({ name: 'extra', allow: ['internal'] }) },
};

describe(`authorization matrix: every route x role x own/foreign site (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let base = '';
  /** The status of a stream, and its first bytes as the body (a refused one answers JSON and ends). */
  const streamStatus = async (url: string, token: string | undefined): Promise<{ status: number; body: unknown }> => {
    const abort = new AbortController();
    const res = await fetch(`${base}${url}`, { headers: token !== undefined ? { authorization: `Bearer ${token}` } : {}, signal: abort.signal });
    const body: unknown = res.ok ? null : await res.json();
    abort.abort();
    return { status: res.status, body };
  };
  const tokens = {} as Record<Role, string>;
  const users = {} as Record<Role, string>;
  let adminToken: string;

  /** The object as head office reads it, ready to PUT back (credential flags removed). */
  const current = async (path: string, id: string): Promise<unknown> => {
    const r = await t.request('GET', `/api/v1/${path}/${id}`, undefined, adminToken);
    const { id: _id, ...rest } = r.body['data'] as Record<string, unknown>;
    for (const k of Object.keys(rest)) if (k.endsWith('Set') && typeof rest[k] === 'boolean') delete rest[k];
    return rest;
  };

  const rows: Record<string, Row> = {
    'GET /api/v1/health': { req: () => ({ method: 'GET', url: '/api/v1/health' }), expect: all(200), public: true },
    'GET /healthz': { req: () => ({ method: 'GET', url: '/healthz' }), expect: all(200), public: true },
    'GET /readyz': { req: () => ({ method: 'GET', url: '/readyz' }), expect: all(200), public: true },
    'GET /api/openapi.json': { req: () => ({ method: 'GET', url: '/api/openapi.json' }), expect: all(200), public: true },
    'GET /api/docs': { req: () => ({ method: 'GET', url: '/api/docs' }), expect: all(200), public: true },
    'GET /api/docs/:file': { req: () => ({ method: 'GET', url: '/api/docs/swagger-ui.css' }), expect: all(200), public: true },
    'GET /api/v1': { req: () => ({ method: 'GET', url: '/api/v1' }), expect: all(200), public: true },
    'POST /api/v1/auth/login': { req: (_, role) => ({ method: 'POST', url: '/api/v1/auth/login', body: { username: users[role], password: PASSWORD } }), expect: all(200), public: true },
    'GET /api/v1/auth/me': { req: () => ({ method: 'GET', url: '/api/v1/auth/me' }), expect: all(200) },
    'GET /api/v1/api-tokens': { req: () => ({ method: 'GET', url: '/api/v1/api-tokens' }), expect: all(200) },
    'POST /api/v1/api-tokens': { req: () => ({ method: 'POST', url: '/api/v1/api-tokens', body: { name: 'matrix' } }), expect: all(201) },
    'DELETE /api/v1/api-tokens/:id': {
      req: async (_, role) => {
        const created = await t.request('POST', '/api/v1/api-tokens', { name: 'to-revoke' }, tokens[role]);
        return { method: 'DELETE', url: `/api/v1/api-tokens/${String(created.body['id'])}` };
      },
      expect: all(204),
    },
    'POST /api/v1/auth/refresh': {
      req: async (_, role) => {
        const s = await t.request('POST', '/api/v1/auth/login', { username: users[role], password: PASSWORD });
        return { method: 'POST', url: '/api/v1/auth/refresh', body: { refreshToken: s.body['refreshToken'] } };
      },
      expect: all(200),
      public: true,
    },
    'POST /api/v1/auth/logout': { req: async (_, role) => ({ method: 'POST', url: '/api/v1/auth/logout', token: await t.login(users[role], PASSWORD) }), expect: all(204) },
    // Every role may change its own password: reaching the check of the current one (wrong here) shows it.
    'POST /api/v1/auth/password': {
      req: async (_, role) => ({ method: 'POST', url: '/api/v1/auth/password', body: { currentPassword: 'not-the-password', newPassword: 'Velvet-Otter-Ladder-42' }, token: await t.login(users[role], PASSWORD) }),
      expect: all(400),
    },
    'GET /api/v1/users': { req: () => ({ method: 'GET', url: '/api/v1/users' }), expect: headOfficeOnly(200) },
    'POST /api/v1/users/:id/password': { req: async () => ({ method: 'POST', url: `/api/v1/users/${await victim()}/password`, body: { newPassword: 'Velvet-Otter-Ladder-42' } }), expect: headOfficeOnly(200) },
    'GET /api/v1/users/:id/sessions': { req: (_, role) => ({ method: 'GET', url: `/api/v1/users/${userIds[role]}/sessions` }), expect: headOfficeOnly(200) },
    'DELETE /api/v1/users/:id/sessions': { req: async () => ({ method: 'DELETE', url: `/api/v1/users/${await victim()}/sessions` }), expect: headOfficeOnly(200) },
    'GET /api/v1/users/:id': { req: (_, role) => ({ method: 'GET', url: `/api/v1/users/${userIds[role]}` }), expect: headOfficeOnly(200) },
    'POST /api/v1/users': {
      req: () => ({ method: 'POST', url: '/api/v1/users', body: { username: `u${Math.random().toString(36).slice(2, 10)}`, password: PASSWORD, grants: [] } }),
      expect: headOfficeOnly(201),
    },
    'PUT /api/v1/users/:id/grants': {
      req: () => ({ method: 'PUT', url: `/api/v1/users/${userIds.viewer}/grants`, body: { grants: [{ role: 'viewer', siteId: 'moscow' }] } }),
      expect: headOfficeOnly(200),
    },
    'PUT /api/v1/users/:id/disabled': {
      req: async () => {
        const victim = await t.request('POST', '/api/v1/users', { username: `d${Math.random().toString(36).slice(2, 10)}`, password: PASSWORD }, adminToken);
        return { method: 'PUT', url: `/api/v1/users/${String((victim.body['data'] as { id: string }).id)}/disabled`, body: { disabled: true } };
      },
      expect: headOfficeOnly(200),
    },
    'DELETE /api/v1/users/:id': {
      req: async () => {
        const victim = await t.request('POST', '/api/v1/users', { username: `v${Math.random().toString(36).slice(2, 10)}`, password: PASSWORD }, adminToken);
        return { method: 'DELETE', url: `/api/v1/users/${String((victim.body['data'] as { id: string }).id)}` };
      },
      expect: headOfficeOnly(204),
    },
    'GET /api/v1/numbering-plan': { req: () => ({ method: 'GET', url: '/api/v1/numbering-plan' }), expect: all(200) },
    'GET /api/v1/sites/:siteId/survivability': { req: (target) => ({ method: 'GET', url: `/api/v1/sites/${SITE[target]}/survivability` }), expect: siteRead },
    'POST /api/v1/trace': { req: (target) => ({ method: 'POST', url: '/api/v1/trace', body: { siteId: SITE[target], caller: '101', number: '302' } }), expect: siteRead },
    'GET /api/v1/audit': { req: () => ({ method: 'GET', url: '/api/v1/audit' }), expect: all(200) },
    'GET /api/v1/warnings': { req: () => ({ method: 'GET', url: '/api/v1/warnings' }), expect: all(200) },
    'POST /api/v1/import': {
      req: (target) => ({ method: 'POST', url: '/api/v1/import?dryRun=true', body: { extensions: [{ siteId: SITE[target], number: SITE[target] === 'moscow' ? '106' : '306', displayName: 'Imported' }] } }),
      expect: headOfficeOnly(200),
    },
    'POST /api/v1/links/generate': { req: () => ({ method: 'POST', url: '/api/v1/links/generate?dryRun=true', body: { topology: 'full-mesh' } }), expect: headOfficeOnly(200) },
    'GET /api/v1/sites/:siteId/revisions': { req: (target) => ({ method: 'GET', url: `/api/v1/sites/${SITE[target]}/revisions` }), expect: siteRead },
    'GET /api/v1/sites/:siteId/revisions/diff': { req: (target) => ({ method: 'GET', url: `/api/v1/sites/${SITE[target]}/revisions/diff?from=1&to=1` }), expect: siteRead },
    'GET /api/v1/sites/:siteId/revisions/:revision': { req: (target) => ({ method: 'GET', url: `/api/v1/sites/${SITE[target]}/revisions/1` }), expect: siteRead },
    'GET /api/v1/cdrs': { req: (target) => ({ method: 'GET', url: `/api/v1/cdrs?siteId=${SITE[target]}` }), expect: all(200) },
    // A call with a leg at the own site only, and one at the foreign site only (written in beforeAll).
    'GET /api/v1/calls/:originSiteId/:linkedId': { req: (target) => ({ method: 'GET', url: `/api/v1/calls/${SITE[target]}/1795696107.${target === 'own' ? 1 : 2}` }), expect: siteRead },
    'GET /api/v1/agents': { req: () => ({ method: 'GET', url: '/api/v1/agents' }), expect: all(200) },
    'GET /api/v1/agents/:siteId': { req: (target) => ({ method: 'GET', url: `/api/v1/agents/${SITE[target]}` }), expect: siteRead },
    // The matrix app runs without NATS: a live request the caller may make answers 503.
    'GET /api/v1/agents/:siteId/live-health': { req: (target) => ({ method: 'GET', url: `/api/v1/agents/${SITE[target]}/live-health` }), expect: siteLive },
    'POST /api/v1/agents/:siteId/live-trace': { req: (target) => ({ method: 'POST', url: `/api/v1/agents/${SITE[target]}/live-trace`, body: { number: '302' } }), expect: siteLive },
    'POST /api/v1/sites/:siteId/enrollment-tokens': {
      req: (target) => ({ method: 'POST', url: `/api/v1/sites/${SITE[target]}/enrollment-tokens` }),
      expect: { headOffice: [201, 201], siteAdmin: [403, 404], viewer: [403, 404] },
    },
    'GET /api/v1/sites/:siteId/enrollment-tokens': { req: (target) => ({ method: 'GET', url: `/api/v1/sites/${SITE[target]}/enrollment-tokens` }), expect: siteRead },
    // A fresh pending token per request (revoked for real: no row depends on another).
    'DELETE /api/v1/enrollment-tokens/:id': {
      req: async (target) => {
        expect((await t.request('POST', `/api/v1/sites/${SITE[target]}/enrollment-tokens`, undefined, adminToken)).status).toBe(201);
        const listed = await t.request('GET', `/api/v1/sites/${SITE[target]}/enrollment-tokens?limit=1`, undefined, adminToken);
        return { method: 'DELETE', url: `/api/v1/enrollment-tokens/${String((listed.body['items'] as { id: string }[])[0]?.id)}` };
      },
      expect: headOfficeObjectWrite,
    },
    'POST /api/v1/enroll': {
      req: async (target) => {
        const issued = await t.request('POST', `/api/v1/sites/${SITE[target]}/enrollment-tokens`, undefined, adminToken);
        return { method: 'POST', url: '/api/v1/enroll', body: { token: issued.body['token'] } };
      },
      expect: all(200),
      public: true,
    },
    'GET /api/v1/sites/:siteId/agent-credentials': { req: (target) => ({ method: 'GET', url: `/api/v1/sites/${SITE[target]}/agent-credentials` }), expect: siteRead },
    'POST /api/v1/sites/:siteId/agent-credentials/revoke': {
      req: (target) => ({ method: 'POST', url: `/api/v1/sites/${SITE[target]}/agent-credentials/revoke?dryRun=true` }),
      expect: headOfficeObjectWrite,
    },
    // A flow's layout: read and written with the flow's rights (a real write: it changes no revision).
    'GET /api/v1/call-flows/:id/layout': { req: (target) => ({ method: 'GET', url: `/api/v1/call-flows/${OBJECTS['call-flows']?.ids[target]}/layout` }), expect: siteRead },
    'PUT /api/v1/call-flows/:id/layout': { req: (target) => ({ method: 'PUT', url: `/api/v1/call-flows/${OBJECTS['call-flows']?.ids[target]}/layout`, body: { nodes: {} } }), expect: siteWrite },
    'POST /api/v1/sites/:siteId/decommission': {
      req: (target) => ({ method: 'POST', url: `/api/v1/sites/${SITE[target]}/decommission?dryRun=true`, body: {} }),
      expect: headOfficeObjectWrite,
    },
    'GET /api/v1/rollout': { req: () => ({ method: 'GET', url: '/api/v1/rollout' }), expect: all(200) },
    // Everyone may listen; what each hears is scoped (live/live-events.spec.ts).
    'GET /api/v1/active-calls': { req: () => ({ method: 'GET', url: '/api/v1/active-calls' }), expect: all(200) },
    'GET /api/v1/events': { req: () => ({ method: 'GET', url: '/api/v1/events' }), expect: all(200), stream: true },
    'GET /api/v1/sites/:siteId/rollout': { req: (target) => ({ method: 'GET', url: `/api/v1/sites/${SITE[target]}/rollout` }), expect: siteRead },
    'POST /api/v1/sites/:siteId/revisions/:revision/rollback': {
      req: (target) => ({ method: 'POST', url: `/api/v1/sites/${SITE[target]}/revisions/1/rollback?dryRun=true` }),
      expect: siteWrite,
    },
  };
  const userIds = {} as Record<Role, string>;
  /** A fresh user with no rights, signed in once: a target for head office's user writes. */
  const victim = async (): Promise<string> => {
    const name = `v${Math.random().toString(36).slice(2, 10)}`;
    const r = await t.request('POST', '/api/v1/users', { username: name, password: PASSWORD }, adminToken);
    await t.login(name, PASSWORD);
    return (r.body['data'] as { id: string }).id;
  };

  for (const [path, o] of Object.entries(OBJECTS)) {
    const headOfficeKind = path === 'links' || path === 'outbound-routes' || path === 'classes-of-service';
    const global = path === 'classes-of-service';
    rows[`GET /api/v1/${path}`] = { req: (target) => ({ method: 'GET', url: `/api/v1/${path}?siteId=${SITE[target]}` }), expect: all(200) };
    rows[`GET /api/v1/${path}/:id`] = { req: (target) => ({ method: 'GET', url: `/api/v1/${path}/${o.ids[target]}` }), expect: global ? all(200) : siteRead };
    rows[`POST /api/v1/${path}`] = {
      req: (target) => ({ method: 'POST', url: `/api/v1/${path}?dryRun=true`, body: o.create(SITE[target]) }),
      expect: path === 'sites' || headOfficeKind ? headOfficeOnly(200) : siteWrite,
    };
    const objectWrite = global ? headOfficeOnly(200) : path === 'sites' ? siteWrite : headOfficeKind ? headOfficeObjectWrite : siteWrite;
    rows[`PUT /api/v1/${path}/:id`] = { req: async (target) => ({ method: 'PUT', url: `/api/v1/${path}/${o.ids[target]}?dryRun=true`, body: await current(path, o.ids[target]) }), expect: objectWrite };
    rows[`DELETE /api/v1/${path}/:id`] = {
      req: (target) => ({ method: 'DELETE', url: `/api/v1/${path}/${o.ids[target]}?dryRun=true` }),
      expect: global ? headOfficeOnly(200) : path === 'sites' || headOfficeKind ? headOfficeObjectWrite : siteWrite,
    };
  }

  beforeAll(async () => {
    // Enrollment configured (an issuer to mint agent credentials with; no NATS connection needed for that).
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-matrix-'));
    writeFileSync(join(dir, 'nats-issuer.json'), JSON.stringify(issuerOf(await createNatsTrust())));
    t = await startTestApp({ env: { FEDPBX_DATA_DIR: dir, FEDPBX_NATS_ISSUER_FILE: join(dir, 'nats-issuer.json'), FEDPBX_NATS_AGENT_URLS: 'nats://127.0.0.1:4222' } });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    adminToken = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, adminToken);
    const flow = { id: 'f-piter', siteId: 'piter', name: 'Piter', number: '350', entry: 'a', nodes: [{ id: 'a', type: 'hangup' }] };
    expect((await t.request('POST', '/api/v1/call-flows', flow, adminToken)).status).toBe(201);
    const store = new EventStore();
    await t.app.get(DataSource).transaction((m) =>
      store.write(m, groupEvents([cdrEnvelope('moscow', 1, { callId: 'moscow/1795696107.1' }), cdrEnvelope('piter', 2, { callId: 'piter/1795696107.2' })])),
    );
    const grants: Record<Role, unknown[]> = {
      headOffice: [{ role: 'head-office-admin', siteId: null }],
      siteAdmin: [{ role: 'site-admin', siteId: 'moscow' }],
      viewer: [{ role: 'viewer', siteId: 'moscow' }],
    };
    for (const role of Object.keys(grants) as Role[]) {
      users[role] = `matrix-${role}`;
      const r = await t.request('POST', '/api/v1/users', { username: users[role], password: PASSWORD, grants: grants[role] }, adminToken);
      expect(r.status).toBe(201);
      userIds[role] = (r.body['data'] as { id: string }).id;
      tokens[role] = await t.login(users[role], PASSWORD);
    }
  }, 60_000);
  afterAll(async () => t?.close());

  it('has a row for every registered route, and a route for every row', () => {
    const registered = t.app.get(RouteCatalog).routes().map((r) => `${r.method} ${r.path}`);
    expect(registered.filter((r) => rows[r] === undefined)).toEqual([]);
    expect(Object.keys(rows).filter((r) => !registered.includes(r))).toEqual([]);
  });

  it('answers every route x role x own/foreign site as the matrix says, telling nobody about foreign objects', async () => {
    const mismatches: string[] = [];
    for (const [route, row] of Object.entries(rows)) {
      for (const role of ['headOffice', 'siteAdmin', 'viewer'] as const) {
        for (const [i, target] of (['own', 'foreign'] as const).entries()) {
          const req = await row.req(target, role);
          const token = row.public === true ? undefined : (req.token ?? tokens[role]);
          const res = row.stream === true ? await streamStatus(req.url, token) : await t.request(req.method, req.url, req.body, token);
          const want = row.expect[role][i];
          if (res.status !== want) mismatches.push(`${route} as ${role} (${target}): ${res.status}, want ${want} ${JSON.stringify(res.body).slice(0, 200)}`);
          // Ids in bodies and dry-run answers: whatever the status, nothing of another site's objects (#17 §5).
          const leaked = role === 'headOffice' ? [] : leaks(req, res.body);
          if (leaked.length > 0) mismatches.push(`${route} as ${role} (${target}) tells ${leaked.join(', ')}: ${JSON.stringify(res.body).slice(0, 300)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    // Every route x 3 roles x 2 sites, some of them real writes: ~20 s on a busy 2-core machine.
  }, timeLimit(90_000));

  it('refuses every non-public route without a token (401)', async () => {
    const wrong: string[] = [];
    for (const [route, row] of Object.entries(rows)) {
      if (row.public === true) continue;
      const req = await row.req('own', 'headOffice');
      const res = row.stream === true ? await streamStatus(req.url, undefined) : await t.request(req.method, req.url, req.body);
      if (res.status !== 401) wrong.push(`${route}: ${res.status}`);
    }
    expect(wrong).toEqual([]);
  });

  it('refuses head-office properties to a site admin of the site', async () => {
    const site = (await current('sites', 'moscow')) as Record<string, unknown>;
    const r = await t.request('PUT', '/api/v1/sites/moscow', { ...site, prefix: '9' }, tokens.siteAdmin);
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'property-forbidden', properties: ['prefix'] });
    const ok = await t.request('PUT', '/api/v1/sites/moscow', { ...site, name: 'Moscow HQ' }, tokens.siteAdmin);
    expect(ok.status).toBe(200);
  });

  it('names a foreign range in a site admin\'s 409 only as far as the numbering plan shows', async () => {
    const r = await t.request('POST', '/api/v1/number-ranges', { siteId: 'moscow', from: '390', to: '399' }, tokens.siteAdmin);
    expect(r.status).toBe(409);
    const issues = r.body.error?.['issues'] as { code: string; objects: { type: string; id: string }[] }[];
    expect(issues.find((i) => i.code === 'range-overlap')?.objects).toEqual(expect.arrayContaining([{ type: 'numberRange', id: 'r-piter', siteId: 'piter' }]));
  });

  it("answers a site admin's POST with a foreign object's id exactly as one with an unused id: ids are the server's", async () => {
    const body = (id: string) => ({ id, siteId: 'moscow', number: '105', displayName: 'New' });
    const foreign = await t.request('POST', '/api/v1/extensions?dryRun=true', body('e-p301'), tokens.siteAdmin);
    const unused = await t.request('POST', '/api/v1/extensions?dryRun=true', body('e-unused'), tokens.siteAdmin);
    expect(foreign.status).toBe(400);
    expect(foreign.body).toEqual(unused.body);
    expect(foreign.body.error).toMatchObject({ code: 'invalid-input', problems: [{ path: 'id', message: 'ids are chosen by the server for callers with site grants: leave id out' }] });
    const generated = await t.request('POST', '/api/v1/extensions?dryRun=true', { siteId: 'moscow', number: '105', displayName: 'New' }, tokens.siteAdmin);
    expect(generated.status).toBe(200);
    expect((generated.body['data'] as { id: string }).id).toMatch(/^e-[0-9a-f-]{36}$/);
    // Head office sees every object, so a taken id may be named to it.
    expect((await t.request('POST', '/api/v1/extensions?dryRun=true', body('e-p301'), adminToken)).body.error).toMatchObject({ code: 'already-exists' });
  });

  it("refuses a site admin's dry run of another site's VPN address without naming that site (tunnel identity is head office's)", async () => {
    const site = (await current('sites', 'moscow')) as { network: Record<string, unknown> };
    for (const network of [{ ...site.network, vpnAddress: '10.77.0.2' }, { ...site.network, wireguardPublicKey: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=' }]) {
      const r = await t.request('PUT', '/api/v1/sites/moscow?dryRun=true', { ...site, network }, tokens.siteAdmin);
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({ code: 'property-forbidden' });
      expect(JSON.stringify(r.body)).not.toContain('piter');
    }
    // Head office is told which site has the address.
    const ho = await t.request('PUT', '/api/v1/sites/moscow?dryRun=true', { ...site, network: { ...site.network, vpnAddress: '10.77.0.2' } }, adminToken);
    expect(ho.body['validation']).toMatchObject({ ok: false, errors: [{ code: 'duplicate-vpn-address', objects: [{ type: 'site', id: 'moscow' }, { type: 'site', id: 'piter' }] }] });
  });

  it("names no foreign object in a site admin's refused dry run (a DID another site owns), nor its site or numbers", async () => {
    const r = await t.request('POST', '/api/v1/inbound-routes?dryRun=true', { siteId: 'moscow', did: '78125550301', destination: { type: 'hangup' } }, tokens.siteAdmin);
    expect(r.status).toBe(200);
    const issues = (r.body['validation'] as { errors: unknown }).errors as { code: string; message: string; objects: { type: string; id: string; siteId?: string }[]; span?: unknown }[];
    const clash = issues.find((i) => i.code === 'did-owned-twice');
    expect(clash?.message).toBe('did-owned-twice: conflicts with something outside your sites');
    expect(clash?.objects).toContainEqual({ type: 'inboundRoute', id: '(hidden)' });
    expect(JSON.stringify(r.body)).not.toMatch(/piter|ir-spb|7812555030X/);
    const ho = await t.request('POST', '/api/v1/inbound-routes?dryRun=true', { siteId: 'moscow', did: '78125550301', destination: { type: 'hangup' } }, adminToken);
    expect(JSON.stringify(ho.body['validation'])).toContain('ir-spb-did');
    // A real write is refused (409) with the same redaction.
    const real = await t.request('POST', '/api/v1/inbound-routes', { siteId: 'moscow', did: '78125550301', destination: { type: 'hangup' } }, tokens.siteAdmin);
    expect(real.status).toBe(409);
    expect(JSON.stringify(real.body)).not.toMatch(/piter|ir-spb|7812555030X/);
  });

  it("refuses emergency numbers to a site admin with 403 naming the field; an empty list is refused even to head office", async () => {
    const site = (await current('sites', 'piter')) as Record<string, unknown>;
    const r = await t.request('PUT', '/api/v1/sites/moscow?dryRun=true', { ...((await current('sites', 'moscow')) as object), emergencyNumbers: [] }, tokens.siteAdmin);
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'property-forbidden', message: 'only head office may set emergencyNumbers', properties: ['emergencyNumbers'] });
    const ho = await t.request('PUT', '/api/v1/sites/piter', { ...site, emergencyNumbers: [] }, adminToken);
    expect(ho.status).toBe(409);
    expect((ho.body.error?.['issues'] as { code: string }[]).map((i) => i.code)).toEqual(['site-without-emergency-number']);
  });
});
