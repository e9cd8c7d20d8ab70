import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

/** The API's front door: `GET /api/v1` (an index of links) and `/api/docs` (Swagger UI served locally on the OpenAPI document). */
describe(`API index and documentation (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    t = await startTestApp();
    token = await t.login(ADMIN.username, ADMIN.password);
  });
  afterAll(async () => t?.close());

  it('answers GET /api/v1 without a token with links, and every resource it names answers', async () => {
    const r = await t.request('GET', '/api/v1');
    expect(r.status).toBe(200);
    expect(r.body['links']).toEqual({ docs: '/api/docs', openapi: '/api/openapi.json', health: '/api/v1/health', login: '/api/v1/auth/login', me: '/api/v1/auth/me' });
    const resources = r.body['resources'] as Record<string, string>;
    for (const name of ['sites', 'number-ranges', 'extensions', 'trunks', 'links', 'outbound-routes', 'inbound-routes', 'call-flows', 'classes-of-service', 'users', 'audit', 'numbering-plan', 'events']) {
      expect(resources[name]).toBe(`/api/v1/${name}`);
    }
    // Taken from the registered routes: nothing it names is missing (a resource may refuse a role, never 404).
    // The event stream never ends: it is there, as the route table says; the others are asked.
    const asked = Object.values(resources).filter((path) => path !== '/api/v1/events');
    for (const path of asked) expect([path, (await t.request('GET', path, undefined, token)).status]).not.toEqual([path, 404]);
  });

  it('serves Swagger UI at /api/docs from the installed package, and nothing else of it', async () => {
    const page = await t.request('GET', '/api/docs');
    expect(page.status).toBe(200);
    const html = String(page.body['text']);
    expect(html).toContain('/api/docs/swagger-ui-bundle.js');
    expect(html).toContain('/api/docs/swagger-ui.css');
    expect(html).not.toMatch(/https?:\/\//);
    for (const [file, type] of [['swagger-ui-bundle.js', 'javascript'], ['swagger-ui.css', 'text/css'], ['docs-init.js', 'javascript']] as const) {
      const r = await t.request('GET', `/api/docs/${file}`);
      expect(r.status, file).toBe(200);
      expect(String(r.headers['content-type'])).toContain(type);
    }
    expect(String((await t.request('GET', '/api/docs/docs-init.js')).body['text'])).toContain("url: '/api/openapi.json'");
    expect((await t.request('GET', '/api/docs/package.json')).status).toBe(404);
    expect((await t.request('GET', '/api/docs/..%2F..%2Fpackage.json')).status).toBe(404);
  });

  it('describes object writes with an example body and the write answer (the dry run is the preview)', async () => {
    const doc = (await t.request('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { example?: unknown }> }; responses: Record<string, { content?: Record<string, { schema: unknown; example?: unknown }> }> }>>; components: { schemas: Record<string, unknown> } };
    expect(doc.components.schemas['WriteResponse']).toMatchObject({ required: ['dryRun', 'validation', 'changedSites', 'revisions'] });
    const create = doc.paths['/api/v1/extensions']?.['post'];
    expect(create?.requestBody?.content['application/json']?.example).toEqual({ siteId: 'moscow', number: '101', displayName: 'Ivan Petrov', classOfServiceId: 'cos-international', voicemail: true });
    expect(create?.responses['201']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/WriteResponse' });
    const remove = doc.paths['/api/v1/number-ranges/{id}']?.['delete'];
    expect(remove?.responses['200']?.content?.['application/json']?.example).toMatchObject({ dryRun: true, validation: { ok: false } });
    expect(doc.paths['/api/v1']?.['get']).toBeDefined();
  });
});
