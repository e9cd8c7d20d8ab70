import { foundingScenarioInput } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

/**
 * What the API accepts, Asterisk can do (issue 16 §4): the API refuses at write time, with 400 naming the field,
 * every value a renderer would refuse (one rule: `@fedpbx/contracts` config-values.ts), and refuses with 409 a flow
 * or inbound route whose voicemail step names a mailbox its site does not have. Real PostgreSQL.
 */
describe(`values the renderers accept, refused at write time (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let token: string;
  const input = foundingScenarioInput();

  beforeAll(async () => {
    t = await startTestApp();
    token = await t.login(ADMIN.username, ADMIN.password);
    const post = async (path: string, body: unknown): Promise<void> => {
      const r = await t.request('POST', `/api/v1/${path}`, body, token);
      expect(r.status, `${path} -> ${JSON.stringify(r.body)}`).toBe(201);
    };
    for (const c of input.classesOfService) await post('classes-of-service', c);
    for (const s of input.sites) await post('sites', s);
    for (const r of input.numberRanges) await post('number-ranges', r);
    for (const tr of input.trunks) await post('trunks', tr);
    for (const e of input.extensions) await post('extensions', e);
    for (const f of input.callFlows) await post('call-flows', f);
    for (const i of input.inboundRoutes) await post('inbound-routes', i);
  });
  afterAll(async () => t?.close());

  type Problem = { path: string; message: string };
  const problems = (body: { error?: Record<string, unknown> }): Problem[] => (body.error?.['problems'] as Problem[] | undefined) ?? [];

  it('refuses a trunk secret starting with > (Asterisk reads "password=>x" as "=>") with 400 naming the field; nothing is saved', async () => {
    const trunk = { id: 't-gt', siteId: 'moscow', name: 'gt-carrier', host: 'sip.gt.example', username: 'gt', secret: '>secret-GT-123' };
    const created = await t.request('POST', '/api/v1/trunks', trunk, token);
    expect(created.status).toBe(400);
    expect(created.body.error?.code).toBe('invalid-input');
    expect(problems(created.body)).toEqual([expect.objectContaining({ path: 'secret', message: expect.stringContaining('must not start with >') })]);
    // The value itself is never echoed.
    expect(JSON.stringify(created.body)).not.toContain('secret-GT-123');
    expect((await t.request('GET', '/api/v1/trunks/t-gt', undefined, token)).status).toBe(404);

    const updated = await t.request('PUT', '/api/v1/trunks/t-moscow-city', { ...input.trunks[0], secret: '>still-bad-1' }, token);
    expect(updated.status).toBe(400);
    expect(problems(updated.body).map((p) => p.path)).toEqual(['secret']);

    // The same secret without the > is fine (`;` too: the renderer writes it as \;).
    expect((await t.request('POST', '/api/v1/trunks', { ...trunk, secret: 'secret;GT>123' }, token)).status).toBe(201);
  });

  it('refuses, naming the field, the other values a renderer would refuse: SIP users, time zones, PINs, e-mail addresses', async () => {
    const cases: { path: string; body: Record<string, unknown>; field: string }[] = [
      { path: 'trunks', body: { siteId: 'moscow', name: 'bad-user', host: 'sip.x.example', username: 'a;b' }, field: 'username' },
      { path: 'trunks', body: { siteId: 'moscow', name: 'bad-from', host: 'sip.x.example', fromUser: 'a b' }, field: 'fromUser' },
      { path: 'trunks', body: { siteId: 'moscow', name: 'bad host', host: 'sip.x.example' }, field: 'name' },
      { path: 'sites', body: { id: 'omsk', name: 'Omsk', timezone: 'Asia Omsk' }, field: 'timezone' },
      { path: 'extensions', body: { siteId: 'moscow', number: '120', displayName: 'Pin', voicemail: true, voicemailPin: '12,4' }, field: 'voicemailPin' },
      { path: 'extensions', body: { siteId: 'moscow', number: '121', displayName: 'Mail', voicemail: true, email: 'a,b@x.example' }, field: 'email' },
      { path: 'extensions', body: { siteId: 'moscow', number: '122', displayName: 'Mail', voicemail: true, email: 'a|attach=yes@x.example' }, field: 'email' },
    ];
    for (const c of cases) {
      const r = await t.request('POST', `/api/v1/${c.path}`, c.body, token);
      expect(r.status, JSON.stringify(c)).toBe(400);
      expect(problems(r.body).map((p) => p.path), JSON.stringify(c)).toContain(c.field);
    }
  });

  it('gives every new extension a mailbox PIN, write-only like the SIP secret', async () => {
    const r = await t.request('POST', '/api/v1/extensions', { siteId: 'moscow', number: '130', displayName: 'Mailbox Owner', voicemail: true, email: 'owner@moscow.example' }, token);
    expect(r.status).toBe(201);
    const data = r.body['data'] as Record<string, unknown>;
    expect(data).toMatchObject({ voicemail: true, voicemailPinSet: true, email: 'owner@moscow.example' });
    expect(data).not.toHaveProperty('voicemailPin');
    const all = await t.request('GET', '/api/v1/extensions?limit=1000', undefined, token);
    expect(JSON.stringify(all.body)).not.toMatch(/"voicemailPin"|510101|520301/);
    // An update that leaves the PIN out keeps it (and may still switch voicemail on and off).
    const id = data['id'] as string;
    const kept = await t.request('PUT', `/api/v1/extensions/${id}`, { siteId: 'moscow', number: '130', displayName: 'Mailbox Owner', voicemail: true }, token);
    expect(kept.status).toBe(200);
    expect(kept.body['data']).toMatchObject({ voicemailPinSet: true });
  });

  it('refuses a flow whose voicemail step names a mailbox its site does not have (409 naming the flow)', async () => {
    // 102 exists at moscow but has no voicemail: the observed "VoiceMail 101@default: No entry in voicemail config file".
    const flow = { id: 'f-vm-102', siteId: 'moscow', name: 'To 102 mailbox', entry: 'vm', nodes: [{ id: 'vm', type: 'voicemail', mailbox: '102' }] };
    const r = await t.request('POST', '/api/v1/call-flows', flow, token);
    expect(r.status).toBe(409);
    const issues = r.body.error?.['issues'] as { code: string; detail?: string; message: string; objects: { type: string; id: string }[] }[];
    expect(issues).toEqual([
      expect.objectContaining({ code: 'call-flow', detail: 'unknown-mailbox', objects: [expect.objectContaining({ type: 'callFlow', id: 'f-vm-102' })] }),
    ]);
    expect(issues[0]?.message).toContain('mailbox 102');
    // A mailbox of another site is no mailbox here either: piter's 301 has voicemail, moscow's flow cannot use it.
    const other = await t.request('POST', '/api/v1/call-flows', { ...flow, id: 'f-vm-301', nodes: [{ id: 'vm', type: 'voicemail', mailbox: '301' }] }, token);
    expect(other.status).toBe(409);
    expect((await t.request('GET', '/api/v1/call-flows/f-vm-102', undefined, token)).status).toBe(404);
  });

  it('refuses an inbound route to a mailbox that does not exist, naming the route and the extension', async () => {
    const route = { id: 'ir-vm-102', siteId: 'moscow', did: '74955550199', destination: { type: 'voicemail', mailbox: '102' } };
    const r = await t.request('POST', '/api/v1/inbound-routes', route, token);
    expect(r.status).toBe(409);
    const issues = r.body.error?.['issues'] as { code: string; objects: { type: string; id: string }[] }[];
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'unknown-mailbox',
        objects: [expect.objectContaining({ type: 'inboundRoute', id: 'ir-vm-102' }), expect.objectContaining({ type: 'extension', id: 'e-m102' })],
      }),
    ]);
    const ok = await t.request('POST', '/api/v1/inbound-routes', { ...route, id: 'ir-vm-101', did: '74955550198', destination: { type: 'voicemail', mailbox: '101' } }, token);
    expect(ok.status).toBe(201);
  });

  it('refuses a phone whose PJSIP endpoint name another phone of the site has (the renderer would write it twice)', async () => {
    const r = await t.request('POST', '/api/v1/extensions', { id: 'e-m140', siteId: 'moscow', number: '140', displayName: 'Clash', endpoint: '102' }, token);
    expect(r.status).toBe(409);
    const issues = r.body.error?.['issues'] as { code: string; objects: { id: string }[] }[];
    expect(issues).toEqual([expect.objectContaining({ code: 'duplicate-endpoint', objects: [expect.objectContaining({ id: 'e-m102' }), expect.objectContaining({ id: 'e-m140' })] })]);
    // A reserved prefix is refused at the field (400), before any federation check.
    const reserved = await t.request('POST', '/api/v1/extensions', { siteId: 'moscow', number: '141', displayName: 'Reserved', endpoint: 'trunk-x' }, token);
    expect(reserved.status).toBe(400);
    expect(problems(reserved.body).map((p) => p.path)).toEqual(['endpoint']);
  });

  it('refuses turning voicemail off on an extension a flow leaves messages with', async () => {
    const e101 = input.extensions.find((e) => e.id === 'e-m101');
    const r = await t.request('PUT', '/api/v1/extensions/e-m101', { ...e101, voicemail: false }, token);
    expect(r.status).toBe(409);
    const issues = r.body.error?.['issues'] as { code: string; detail?: string }[];
    expect(issues.map((i) => i.detail ?? i.code)).toEqual(expect.arrayContaining(['unknown-mailbox']));
  });
});
