import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from '../app.module.js';
import { loadControllerConfig } from '../config.js';
import { fastifyOptions, limitPublicBodies } from '../http/http-options.js';
import { createTestDatabase, seedEmbeddedDataDir, testDatabaseKind, type TestDatabase } from './test-database.js';

export const ADMIN = { username: 'admin', password: 'admin-password-123' } as const;

export interface ApiResponse {
  readonly status: number;
  readonly body: Record<string, unknown> & { error?: { code: string; message: string; [k: string]: unknown } };
  readonly headers: Record<string, unknown>;
}

export interface TestApp {
  readonly app: NestFastifyApplication;
  /** `headers` are added to (and override) the bearer and content-type headers; a string body is sent as it is. */
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, token?: string, headers?: Record<string, string>): Promise<ApiResponse>;
  login(username: string, password: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The controller on its own fresh test database (PostgreSQL, or the embedded one when no PostgreSQL is reachable:
 * createTestDatabase), or on PGlite in memory with `embedded: true`; requests injected in-process. A data dir the
 * caller gives in `env` (without DATABASE_URL) holds an embedded run's database, as it would for a user.
 */
export async function startTestApp(options: { embedded?: boolean; env?: Record<string, string> } = {}): Promise<TestApp> {
  let db: TestDatabase | undefined;
  let database: Record<string, string>;
  const givenDataDir = options.env?.['FEDPBX_DATA_DIR'];
  if (options.embedded === true) {
    database = { FEDPBX_DATA_DIR: 'memory://' };
  } else if ((await testDatabaseKind()).kind === 'embedded' && options.env?.['DATABASE_URL'] === undefined && givenDataDir !== undefined) {
    if (givenDataDir !== 'memory://') seedEmbeddedDataDir(givenDataDir);
    database = {};
  } else {
    db = await createTestDatabase();
    database = db.env;
  }
  const config = loadControllerConfig({
    ...database,
    FEDPBX_BOOTSTRAP_ADMIN_USER: ADMIN.username,
    FEDPBX_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    FEDPBX_TOKEN_SECRET: 'test-secret-test-secret-test-secret-123',
    ...options.env,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), new FastifyAdapter(fastifyOptions(config)), { logger: false });
  limitPublicBodies(app.getHttpAdapter().getInstance());
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const request: TestApp['request'] = async (method, url, body, token, headers) => {
    const res = await app.getHttpAdapter().getInstance().inject({
      method,
      url,
      ...(body !== undefined ? { payload: body as object } : {}),
      headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    });
    const text = res.body;
    return { status: res.statusCode, body: text === '' ? {} : (res.headers['content-type']?.toString().includes('json') ? JSON.parse(text) : { text }), headers: res.headers };
  };
  return {
    app,
    request,
    async login(username, password) {
      const r = await request('POST', '/api/v1/auth/login', { username, password });
      if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body['accessToken'] as string;
    },
    async close() {
      await app.close();
      await db?.drop();
    },
  };
}
