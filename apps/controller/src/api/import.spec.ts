import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

/** POST /api/v1/import: JSON and CSV bulk import, all or nothing, one validation of the whole federation. */
describe(`bulk import (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let token: string;

  const csv = async (kind: string, text: string, dryRun = false) => {
    const res = await t.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'POST', url: `/api/v1/import?kind=${kind}${dryRun ? '&dryRun=true' : ''}`, payload: text, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' } });
    return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> & { error?: Record<string, unknown> } };
  };
  const count = async (path: string): Promise<number> => {
    const r = await t.request('GET', `/api/v1/${path}?limit=1000`, undefined, token);
    return (r.body['items'] as unknown[]).length;
  };

  beforeAll(async () => {
    t = await startTestApp();
    token = await t.login(ADMIN.username, ADMIN.password);
  }, 60_000);
  afterAll(async () => t?.close());

  it('imports a small federation from JSON in one write, generating SIP secrets it never returns', async () => {
    const body = {
      sites: [
        { id: 'moscow', name: 'Moscow' },
        { id: 'piter', name: 'Saint Petersburg' },
      ],
      numberRanges: [
        { id: 'r-moscow', siteId: 'moscow', from: '100', to: '111' },
        { id: 'r-piter', siteId: 'piter', from: '300', to: '399' },
      ],
      // Every site with extensions has an emergency-capable trunk of its own (#17).
      trunks: [
        { id: 't-moscow', siteId: 'moscow', name: 'city', host: 'sip.msk.example' },
        { id: 't-piter', siteId: 'piter', name: 'city', host: 'sip.spb.example' },
      ],
      extensions: [
        { id: 'e-m101', siteId: 'moscow', number: '101', displayName: 'Anna' },
        { id: 'e-m102', siteId: 'moscow', number: '102', displayName: 'Boris', sipSecret: 'given-secret-123456' },
        { id: 'e-p301', siteId: 'piter', number: '301', displayName: 'Pavel' },
      ],
    };
    const r = await t.request('POST', '/api/v1/import', body, token);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ dryRun: false, imported: { sites: 2, numberRanges: 2, trunks: 2, extensions: 3 }, validation: { ok: true } });
    expect((r.body['revisions'] as { siteId: string }[]).map((x) => x.siteId).sort()).toEqual(['moscow', 'piter']);
    expect(JSON.stringify(r.body)).not.toContain('given-secret');
    const ext = await t.request('GET', '/api/v1/extensions/e-m101', undefined, token);
    expect(ext.body['data']).toMatchObject({ number: '101', sipSecretSet: true });
    expect(JSON.stringify(ext.body)).not.toContain('"sipSecret"');
    expect(await count('extensions')).toBe(3);
    const audit = await t.request('GET', '/api/v1/audit?limit=1000', undefined, token);
    expect(JSON.stringify(audit.body)).not.toContain('given-secret');
  });

  it('imports extensions from CSV; a bad row is reported by its line number and nothing is saved', async () => {
    const bad = await csv('extensions', 'id,siteId,number,displayName,voicemail,ringTimeoutSec\ne-m103,moscow,103,Clara,true,25\ne-m104,moscow,1x4,Dmitry,false,20\n"e-m105",moscow,105,"Egorov Egor",no,\n');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.['code']).toBe('invalid-input');
    const problems = bad.body.error?.['problems'] as { kind: string; row: number; path: string; message: string }[];
    expect(problems).toEqual([expect.objectContaining({ kind: 'extensions', row: 3, path: 'number' })]);
    expect(await count('extensions')).toBe(3);

    const good = await csv('extensions', 'id,siteId,number,displayName,voicemail,ringTimeoutSec\r\ne-m103,moscow,103,Clara,true,25\r\n"e-m105",moscow,105,"Egorov Egor",no,\r\n');
    expect(good.status).toBe(201);
    expect(good.body).toMatchObject({ imported: { extensions: 2 }, changedSites: ['moscow'] });
    const e = await t.request('GET', '/api/v1/extensions/e-m105', undefined, token);
    expect(e.body['data']).toMatchObject({ displayName: 'Egorov Egor', voicemail: false, ringTimeoutSec: 20, sipSecretSet: true });
    const c = await t.request('GET', '/api/v1/extensions/e-m103', undefined, token);
    expect(c.body['data']).toMatchObject({ voicemail: true, ringTimeoutSec: 25 });
  });

  it('reports unknown CSV columns and kinds with 400', async () => {
    const col = await csv('sites', 'id,name,colour\nkazan,Kazan,red\n');
    expect(col.status).toBe(400);
    expect(col.body.error?.['problems']).toEqual([expect.objectContaining({ kind: 'sites', row: 1, path: 'colour' })]);
    expect((await csv('trunks', 'id\nx\n')).status).toBe(400);
    const json = await t.request('POST', '/api/v1/import', { extensions: [{ siteId: 'moscow', number: '106', displayName: 'X', colour: 'red' }], widgets: [] }, token);
    expect(json.status).toBe(400);
  });

  it('refuses a conflicting import with 409 naming both sites; nothing of it is saved', async () => {
    const r = await t.request(
      'POST',
      '/api/v1/import',
      { sites: [{ id: 'kazan', name: 'Kazan' }], numberRanges: [{ id: 'r-kazan', siteId: 'kazan', from: '105', to: '110' }], extensions: [{ id: 'e-k200', siteId: 'kazan', number: '110', displayName: 'Kamil' }] },
      token,
    );
    expect(r.status).toBe(409);
    expect(r.body.error?.['code']).toBe('validation-conflict');
    const issue = (r.body.error?.['issues'] as { code: string; objects: { type: string; id: string }[] }[]).find((i) => i.code === 'range-overlap');
    expect(issue?.objects.map((o) => o.id)).toEqual(expect.arrayContaining(['moscow', 'kazan', 'r-moscow', 'r-kazan']));
    expect((await t.request('GET', '/api/v1/sites/kazan', undefined, token)).status).toBe(404);
    expect((await t.request('GET', '/api/v1/extensions/e-k200', undefined, token)).status).toBe(404);
  });

  it('refuses ids that already exist, and duplicates inside the import, per row', async () => {
    const r = await t.request('POST', '/api/v1/import', { extensions: [{ id: 'e-m101', siteId: 'moscow', number: '107', displayName: 'Dup' }] }, token);
    expect(r.status).toBe(400);
    expect(r.body.error?.['problems']).toEqual([expect.objectContaining({ kind: 'extensions', row: 0, path: 'id' })]);
    const d = await t.request('POST', '/api/v1/import', { extensions: [{ id: 'e-x', siteId: 'moscow', number: '108', displayName: 'A' }, { id: 'e-x', siteId: 'moscow', number: '109', displayName: 'B' }] }, token);
    expect(d.status).toBe(400);
    expect(d.body.error?.['problems']).toEqual([expect.objectContaining({ row: 1, path: 'id' })]);
  });

  it('is described in the OpenAPI document (JSON and CSV bodies)', async () => {
    const doc = await t.request('GET', '/api/openapi.json');
    const op = (doc.body['paths'] as Record<string, Record<string, { requestBody: { content: Record<string, unknown> } }>>)['/api/v1/import']?.['post'];
    expect(Object.keys(op?.requestBody.content ?? {})).toEqual(['application/json', 'text/csv']);
  });

  it('answers a dry run with the validation and the impact, saving nothing', async () => {
    const body = { sites: [{ id: 'kazan', name: 'Kazan' }], numberRanges: [{ id: 'r-kazan', siteId: 'kazan', from: '500', to: '599' }] };
    const r = await t.request('POST', '/api/v1/import?dryRun=true', body, token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ dryRun: true, imported: { sites: 1, numberRanges: 1 }, validation: { ok: true }, revisions: [] });
    expect(r.body['changedSites']).toEqual(expect.arrayContaining(['kazan']));
    expect((await t.request('GET', '/api/v1/sites/kazan', undefined, token)).status).toBe(404);
    const hub = await t.request('POST', '/api/v1/import?dryRun=true', { hubSiteId: 'nowhere' }, token);
    expect(hub.status).toBe(200);
    expect(hub.body).toMatchObject({ dryRun: true, validation: { ok: false } });
    const csvDry = await csv('sites', 'id,name\nkazan,Kazan\n', true);
    expect(csvDry.status).toBe(200);
    expect((await t.request('GET', '/api/v1/sites/kazan', undefined, token)).status).toBe(404);
  });
});
