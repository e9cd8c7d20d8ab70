import { CdrQuery, TraceRequest, toJsonSchema, type PublishedSchemaName } from '@fedpbx/contracts';
import { foundingScenarioInput } from '@fedpbx/dialplan';
import { z } from 'zod';
import { DecommissionBody } from '../agent-credentials/site-decommission.service.js';
import { ApiTokenBody, ChangePasswordBody, LoginBody, RefreshBody } from '../auth/auth.controller.js';
import { CreateUserBody, DisabledBody, GrantsBody, ResetPasswordBody } from '../auth/users.controller.js';
import { RESOURCE_KINDS, type ResourceKind } from '../resources/resource-kinds.js';
import { GenerateLinksBody } from '../resources/links.controller.js';
import type { RouteInfo } from './route-catalog.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const ERROR = { description: 'error: `{ error: { code, message, ... } }`', content: { 'application/json': { schema: ref('Error') } } };

/** Request bodies of the routes that are not object CRUD, from the zod schemas the handlers parse with. */
const EXTRA_BODIES: Record<string, string> = {
  'POST /api/v1/auth/login': 'LoginBody',
  'POST /api/v1/auth/refresh': 'RefreshBody',
  'POST /api/v1/auth/password': 'ChangePasswordBody',
  'POST /api/v1/users/{id}/password': 'ResetPasswordBody',
  'POST /api/v1/api-tokens': 'ApiTokenBody',
  'POST /api/v1/users': 'CreateUserBody',
  'PUT /api/v1/users/{id}/grants': 'GrantsBody',
  'PUT /api/v1/users/{id}/disabled': 'DisabledBody',
  'POST /api/v1/links/generate': 'GenerateLinksBody',
  'POST /api/v1/trace': 'TraceRequest',
  'POST /api/v1/agents/{siteId}/live-trace': 'LiveTraceRequest',
  'POST /api/v1/enroll': 'EnrollRequest',
  'POST /api/v1/sites/{siteId}/decommission': 'DecommissionBody',
  'PUT /api/v1/call-flows/{id}/layout': 'CallFlowLayout',
};

const ISSUE = {
  type: 'object',
  required: ['code', 'severity', 'message', 'objects'],
  properties: {
    code: { type: 'string', description: 'e.g. `dangling-reference`, `extension-outside-range`, `range-overlap`, `call-flow`' },
    severity: { type: 'string', enum: ['error', 'warning'] },
    message: { type: 'string' },
    detail: { type: 'string' },
    objects: { type: 'array', description: 'the objects the finding names (those outside the caller\'s sites are left out)', items: { type: 'object', required: ['type', 'id'], properties: { type: { type: 'string' }, id: { type: 'string' }, siteId: { type: 'string' } } } },
  },
};

const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
/** Success answers described by their schema (the other routes answer a plain "ok"). */
const SUCCESS: Record<string, Record<string, unknown>> = {
  'POST /api/v1/sites/{siteId}/enrollment-tokens': { '201': { description: 'the token, shown only in this answer', ...json(ref('EnrollmentTokenIssued')) } },
  'GET /api/v1/sites/{siteId}/enrollment-tokens': { '200': { description: 'the site\'s tokens, newest first, with their state; never the token', ...json(ref('EnrollmentTokenPage')) } },
  'DELETE /api/v1/enrollment-tokens/{id}': {
    '200': {
      description: 'the token, revoked (also when it already was); 409 `state-conflict` when it was used',
      ...json({ type: 'object', required: ['dryRun', 'data'], properties: { dryRun: { type: 'boolean' }, data: ref('EnrollmentToken') } }),
    },
  },
  'GET /api/v1/warnings': {
    '200': {
      description: 'the current federation\'s validation warnings (a write\'s answer lists the first 20 and counts them all), redacted for the caller as in a write\'s answer',
      ...json({
        type: 'object',
        required: ['items', 'warningCount', 'warningsByCode'],
        properties: {
          items: { type: 'array', items: ISSUE },
          warningCount: { type: 'integer', description: 'all warnings, of every code' },
          warningsByCode: { type: 'object', additionalProperties: { type: 'integer' } },
          next: { type: 'string', description: '`?after=` for the next page, while there is one' },
        },
      }),
    },
  },
  'POST /api/v1/enroll': { '200': { description: 'the site\'s NATS credentials (secret); 401 for an unknown, used, expired or revoked token', ...json(ref('EnrollResponse')) } },
  'POST /api/v1/auth/login': {
    '200': { description: 'a new session; 429 with Retry-After while the account and address (or address, or account from a new address) back off', ...json(ref('SessionTokens')) },
    '429': ERROR,
  },
  'POST /api/v1/auth/refresh': { '200': { description: 'the session\'s new tokens; the presented refresh token is used up (presenting it again revokes the session)', ...json(ref('SessionTokens')) } },
  'GET /api/v1/sites/{siteId}/agent-credentials': {
    '200': { description: 'the site\'s agent NATS users newest first (public key, origin, issuedAt, expiresAt, state active|expired|revoked; never a secret), `lifetimeSec`, and `revocation`: whether the hub has every revocation (`current`, `pending`, `failing`, `unavailable`)' },
  },
  'POST /api/v1/sites/{siteId}/agent-credentials/revoke': {
    '200': { description: 'box replaced or lost (head office): `revokedKeys`, `rotatedLinks` (the site\'s links get new secrets), `changedSites`, `revisions`, `revocation`; the agent is disconnected and must be re-enrolled' },
  },
  'POST /api/v1/sites/{siteId}/decommission': {
    '200': {
      description:
        'head office: `removes` (numberRanges, extensions, trunks, links, inboundRoutes, callFlows, outboundRoutesRemoved, outboundRoutesChanged, hubCleared, rotatedLinks, peers), `revokedKeys`, `bucket`, `validation`, `blockers` (other sites\' objects that still need the site), `changedSites`, `revisions`, `revocation`. `?dryRun=true` previews; a real run needs `{"confirm":"<siteId>"}` (400 otherwise) and answers 409 while blockers remain',
    },
  },
  'GET /api/v1/call-flows/{id}/layout': {
    '200': { description: 'where the console draws the flow\'s nodes: `{ data: { flowId, nodes: { <nodeId>: { x, y } }, updatedAt } }` (console metadata: not in any snapshot)' },
  },
  'PUT /api/v1/call-flows/{id}/layout': {
    '200': { description: 'the layout, saved: no revision and no rollout (positions of nodes the flow does not have answer 400)' },
  },
  'GET /api/v1/cdrs': { '200': { description: 'call records of the caller\'s sites, newest first; `callId` groups the legs of a call across sites', ...json(ref('CdrPage')) } },
  'GET /api/v1/active-calls': {
    '200': {
      description:
        'calls in progress at the caller\'s sites as their agents reported them within the last 30 s (core NATS `fedpbx.live.<site>.calls`, not stored): `sites` [{siteId, total, reportedAt}] (a site missing has no current report), `calls` [{callId, caller, callee, routeKind, since, sites, legs}] with the parts of a call across sites joined by its call id (FEDPBX_CALL); each site lists at most 200 calls, `total` counts all',
    },
  },
  'GET /healthz': { '200': { description: 'liveness: the process answers (`{status:"ok"}`); a load balancer restarts a replica that does not' } },
  'GET /readyz': {
    '200': { description: 'readiness: the database and NATS answer now, `{status:"ready", checks:{database, nats}}` (each `up`, or `not-configured` for NATS without FEDPBX_NATS_URL)' },
    '503': { description: '`{status:"unavailable", down:["database"|"nats"], checks}`: send this replica no requests until it answers 200' },
  },
  'GET /api/v1/events': {
    '200': {
      description:
        'Server-Sent Events (text/event-stream) of changes the caller may see, for live consoles: `event: <topic>` with `data: {"topic","siteIds","kind"?}` naming only the caller\'s sites (empty `siteIds`: a federation-wide object). Topics: `config` (an object of `kind` was written), `rollout`, `agents` (online/offline, alarms), `health` (links, trunks), `cdrs`, `calls` (calls in progress). Also `resync` (events were dropped for a slow reader: read everything again) and `end` (the token no longer works). A `: keep-alive` comment every FEDPBX_LIVE_HEARTBEAT_SEC, at which the token and rights are checked again. Authenticate with the Authorization header (fetch streaming), never a token in the URL; no Last-Event-ID replay (read again after a reconnect)',
      content: { 'text/event-stream': { schema: { type: 'string' }, example: 'event: config\ndata: {"topic":"config","kind":"site","siteIds":["moscow"]}\n\n' } },
    },
  },
  'GET /api/v1/calls/{originSiteId}/{linkedId}': {
    '200': { description: 'one call (id `<originSiteId>/<linkedId>`) with its legs at the caller\'s sites; legs elsewhere only counted; 404 when none is readable', ...json(ref('CallDetail')) },
  },
};

/**
 * The OpenAPI 3.1 document: every registered route, with request bodies from the same zod schemas the API
 * validates with (libs/contracts' published JSON Schemas for federation objects).
 */
export function openApiDocument(routes: readonly RouteInfo[]): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string' },
            message: { type: 'string' },
            issues: { type: 'array', description: '`validation-conflict`: every error' },
            warnings: { type: 'array', description: '`validation-conflict`: the first 20 warnings' },
            warningCount: { type: 'integer' },
            warningsByCode: { type: 'object', additionalProperties: { type: 'integer' } },
            problems: { type: 'array' },
          },
        },
      },
    },
  };
  schemas['SessionTokens'] = {
    type: 'object',
    required: ['accessToken', 'expiresAt', 'refreshToken', 'sessionId', 'sessionExpiresAt', 'mustChangePassword'],
    properties: {
      accessToken: { type: 'string', description: 'send as `Authorization: Bearer <token>` until expiresAt' },
      expiresAt: { type: 'string', format: 'date-time' },
      refreshToken: { type: 'string', description: 'one use: POST /api/v1/auth/refresh answers a new one' },
      sessionId: { type: 'string', format: 'uuid' },
      sessionExpiresAt: { type: 'string', format: 'date-time', description: 'the absolute end of the session (FEDPBX_SESSION_MAX_SEC)' },
      mustChangePassword: { type: 'boolean', description: 'head office reset the password: only auth/me, auth/password and auth/logout answer until it is changed' },
    },
  };
  const published = new Set<PublishedSchemaName>([
    'TraceRequest',
    'TraceResult',
    'LiveTraceRequest',
    'LiveTraceResponse',
    'LiveHealth',
    'AgentStatus',
    'CdrPage',
    'CdrRecord',
    'CallDetail',
    'SiteRollout',
    'EnrollmentTokenIssued',
    'EnrollmentToken',
    'EnrollmentTokenPage',
    'EnrollRequest',
    'EnrollResponse',
    'CallFlowLayout',
    ...Object.values(RESOURCE_KINDS).map((k) => k.schemaName),
  ]);
  for (const name of published) schemas[name] = stripDialect(toJsonSchema(name));
  const own = { LoginBody, RefreshBody, ChangePasswordBody, ApiTokenBody, CreateUserBody, GrantsBody, DisabledBody, ResetPasswordBody, GenerateLinksBody, DecommissionBody };
  for (const [name, schema] of Object.entries(own)) schemas[name] = stripDialect(z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>);
  void TraceRequest;
  // POST /api/v1/import: arrays of federation objects by kind (JSON), or one kind as CSV (?kind=).
  schemas['ImportBody'] = {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...Object.fromEntries(Object.entries(RESOURCE_KINDS).map(([collection, k]) => [collection, { type: 'array', items: ref(k.schemaName) }])),
      hubSiteId: { type: 'string' },
    },
  };

  schemas['WriteResponse'] = WRITE_RESPONSE;
  const kindByPath = new Map<string, ResourceKind>(Object.values(RESOURCE_KINDS).map((k) => [`/api/v1/${k.path}`, k as ResourceKind]));
  const bodyByPath = new Map<string, string>([...kindByPath].map(([path, k]) => [path, k.schemaName]));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    // The query parameters the handler reads by name; the cases below describe some of them more closely.
    const query = new Map<string, Record<string, unknown>>(r.query.map((name) => [name, { name, in: 'query', required: false, schema: { type: name === 'dryRun' ? 'boolean' : 'string' } }]));
    const describeQuery = (param: { name: string } & Record<string, unknown>): void => void query.set(param.name, { in: 'query', required: false, ...param });
    const op: Record<string, unknown> = {
      operationId: `${r.controller}.${r.handler}`,
      tags: [r.controller.replace(/Controller$/, '')],
      parameters: params,
      responses: { '200': { description: 'ok' }, '400': ERROR, '401': ERROR, '403': ERROR, '404': ERROR, '409': ERROR },
    };
    const objectSchema = bodyByPath.get(path.replace(/\/\{id\}$/, ''));
    const body = EXTRA_BODIES[`${r.method} ${path}`] ?? ((r.method === 'POST' || r.method === 'PUT') && objectSchema !== undefined ? objectSchema : undefined);
    if (body !== undefined) op['requestBody'] = { required: true, content: { 'application/json': { schema: ref(body) } } };
    // Federation object writes: an example body (from the founding scenario) and the write answer, whose dry run
    // (`?dryRun=true`) is the impact preview of a create, a change or a delete.
    const kind = kindByPath.get(path.replace(/\/\{id\}$/, ''));
    if (kind !== undefined && r.method !== 'GET') {
      if (body === kind.schemaName) {
        const example = exampleOf(kind);
        if (example !== undefined) op['requestBody'] = { required: true, content: { 'application/json': { schema: ref(body), example } } };
      }
      const answer = { description: 'the write (or with `?dryRun=true`, its preview: nothing saved)', content: { 'application/json': { schema: ref('WriteResponse'), ...(r.method === 'DELETE' ? { example: DELETE_PREVIEW_EXAMPLE } : {}) } } };
      const { '200': _plain, ...errors } = op['responses'] as Record<string, unknown>;
      op['responses'] = { [r.method === 'POST' ? '201' : '200']: answer, ...(r.method === 'POST' ? { '200': { ...answer, description: 'the preview of a `?dryRun=true` create' } } : {}), ...errors };
    }
    if (r.method === 'POST' && path === '/api/v1/import') {
      op['requestBody'] = {
        required: true,
        content: {
          'application/json': { schema: ref('ImportBody') },
          'text/csv': { schema: { type: 'string', description: 'one kind (?kind=sites|numberRanges|extensions); a header row naming scalar properties' } },
        },
      };
      describeQuery({ name: 'kind', schema: { type: 'string', enum: ['sites', 'numberRanges', 'extensions'] } });
    }
    if (r.method === 'GET' && path === '/api/v1/cdrs') {
      const cdrQuery = z.toJSONSchema(CdrQuery, { io: 'input' }) as { properties: Record<string, unknown> };
      for (const [name, schema] of Object.entries(cdrQuery.properties)) describeQuery({ name, schema });
    }
    const success = SUCCESS[`${r.method} ${path}`];
    if (success !== undefined) {
      const { '200': _plain, ...errors } = op['responses'] as Record<string, unknown>;
      op['responses'] = { ...success, ...errors };
    }
    if (r.method === 'GET' && path === '/api/v1/warnings') {
      describeQuery({ name: 'code', schema: { type: 'string' }, description: 'one kind of warning only (`route-only-remote-trunks`, `range-meets-prefix`...)' });
      describeQuery({ name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } });
      describeQuery({ name: 'after', schema: { type: 'string' }, description: '`next` of the previous page' });
    }
    if (r.method === 'GET' && path === '/api/v1/sites/{siteId}/enrollment-tokens') {
      describeQuery({ name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } });
      describeQuery({ name: 'before', schema: { type: 'string', format: 'uuid' }, description: '`next` of the previous page' });
    }
    if (path.startsWith('/api/v1/agents/{siteId}/live-')) {
      Object.assign(op['responses'] as object, { '502': ERROR, '503': ERROR, '504': { ...ERROR, description: 'the agent did not answer in time' } });
    }
    op['parameters'] = [...params, ...query.values()];
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'fedpbx controller', version: '1', description: 'Sites, numbering plan, routes and call flows of the federation. The writes that list a dryRun parameter validate and report without saving when it is true.' },
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

/** What every federation object write answers (resource.service.ts WriteResponse). */
const WRITE_RESPONSE = {
  type: 'object',
  required: ['dryRun', 'validation', 'changedSites', 'revisions'],
  properties: {
    dryRun: { type: 'boolean' },
    data: { type: 'object', description: 'the object after the write (absent after a delete); credentials replaced by `<name>Set` flags' },
    validation: {
      type: 'object',
      description: 'the whole federation checked as it would be after the write: `ok` false means the write is (or would be) refused with 409, and `errors` say what would break',
      required: ['ok', 'errors', 'warnings', 'warningCount', 'warningsByCode'],
      properties: {
        ok: { type: 'boolean' },
        errors: { type: 'array', items: ISSUE, description: 'every error' },
        warnings: { type: 'array', items: ISSUE, description: 'the first 20 warnings; `GET /api/v1/warnings` pages through all of the current federation\'s' },
        warningCount: { type: 'integer', description: 'how many warnings there are in all' },
        warningsByCode: { type: 'object', additionalProperties: { type: 'integer' }, description: 'every warning counted by its code' },
      },
    },
    changedSites: { type: 'array', items: { type: 'string' }, description: 'sites whose configuration changes (would change, for a dry run)' },
    revisions: { type: 'array', items: { type: 'object', properties: { siteId: { type: 'string' }, revision: { type: 'integer' } } }, description: 'the revisions written (none for a dry run)' },
  },
};
/** A delete that would break other objects (an extension still named by an inbound route and a flow). */
const DELETE_PREVIEW_EXAMPLE = {
  dryRun: true,
  validation: {
    ok: false,
    errors: [
      { code: 'dangling-reference', severity: 'error', message: 'inbound route ir-branch-main leads to 301, which is not assigned', objects: [{ type: 'inboundRoute', id: 'ir-branch-main', siteId: 'branch' }] },
      { code: 'call-flow', severity: 'error', detail: 'unknown-extension', message: 'call flow f-hq-reception, node branch: extension 301 does not exist', objects: [{ type: 'callFlow', id: 'f-hq-reception', siteId: 'hq' }] },
    ],
    warnings: [],
    warningCount: 0,
    warningsByCode: {},
  },
  changedSites: ['branch'],
  revisions: [],
};

/**
 * The founding scenario's first object of the kind as a create body, without credentials (generated or
 * write-only); without an id where site admins create the kind (the server chooses theirs).
 */
function exampleOf(kind: ResourceKind): Record<string, unknown> | undefined {
  const first = (foundingScenarioInput()[kind.collection] as readonly Record<string, unknown>[] | undefined)?.[0];
  if (first === undefined) return undefined;
  const out: Record<string, unknown> = { ...first };
  if (kind.create === 'site') delete out['id'];
  for (const f of kind.secretFields) delete out[f];
  return out;
}

function stripDialect(s: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = s;
  return rest;
}
