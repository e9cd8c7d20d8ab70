/**
 * npm run bench:controller - the controller's REST API at federation scale (issue #4, section 7).
 * On a database of its own (fedpbx_bench_<random> on the shared PostgreSQL, dropped at the end), with the app
 * in-process on a free port:
 *   1. import generateFederation({ sites: 1000, extensionsPerSite: 100, flows: 0 }) through POST /api/v1/import
 *      (one request: one validation of the whole federation, all or nothing);
 *   2. page through the extensions (keyset paging, 100 per page);
 *   3. validated writes: POST one extension at each of 50 different sites (each validated against the whole
 *      federation: the writer keeps the current federation's ValidatedFederation and revalidates what changed);
 *   4. a CSV import (text/csv, ?kind=extensions) of one more extension per site into the full federation.
 * Beside them, in-process: one whole validation of the generated federation, and the same 50 extension adds as
 * ValidatedFederation.revalidate calls (what a write spends validating).
 * Prints a table, then one final JSON line: {"import_s","list_p99_ms","write_p99_ms", ...}.
 * Targets: import < 60 s; list p99 < 50 ms; validated write p99 < 100 ms.
 *
 * The app is loaded from apps/controller/dist (built first with tsc): Nest's dependency injection needs the
 * decorator metadata that tsc emits and tsx (esbuild) does not.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Extension, Federation } from '@fedpbx/contracts';
import { generateFederation, rangeStartOf, siteIdOf, ValidatedFederation, validateFederationFlows } from '@fedpbx/dialplan';
import pg from 'pg';

const SITES = Number(process.env['BENCH_SITES'] ?? 1000);
const EXT_PER_SITE = Number(process.env['BENCH_EXT_PER_SITE'] ?? 100);
const LIST_PAGES = Number(process.env['BENCH_LIST_PAGES'] ?? 200);
const PAGE_SIZE = 100;
const WRITES = Number(process.env['BENCH_WRITES'] ?? 50);
const ADMIN_URL = process.env['FEDPBX_TEST_PG_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ADMIN = { username: 'bench-admin', password: 'bench-password-123' };

const here = dirname(fileURLToPath(import.meta.url));
const appDir = join(here, '..');
const now = () => performance.now();
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
};
const r1 = (x: number) => Math.round(x * 10) / 10;
const log = (msg: string) => process.stderr.write(`${msg}\n`);

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  log('building apps/controller (tsc -p tsconfig.app.json) ...');
  const build = spawnSync('npx', ['tsc', '-p', join(appDir, 'tsconfig.app.json')], { stdio: 'inherit', cwd: appDir });
  if (build.status !== 0) throw new Error('controller build failed');

  const dbName = `fedpbx_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  let close: () => Promise<void> = async () => undefined;
  try {
    await import('reflect-metadata');
    const dist = (p: string) => pathToFileURL(join(appDir, 'dist', p)).href;
    const { NestFactory } = await import('@nestjs/core');
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const { AppModule } = (await import(dist('app.module.js'))) as typeof import('../src/app.module.js');
    const { loadControllerConfig } = (await import(dist('config.js'))) as typeof import('../src/config.js');
    const config = loadControllerConfig({
      DATABASE_URL: dbUrl.toString(),
      FEDPBX_BOOTSTRAP_ADMIN_USER: ADMIN.username,
      FEDPBX_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
      FEDPBX_LOG_LEVEL: 'warn',
    });
    const app = await NestFactory.create(AppModule.forRoot(config), new FastifyAdapter({ bodyLimit: 256 * 1024 * 1024 }), { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    close = () => app.close();
    const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    log(`controller on ${base}, database ${dbName}`);

    const call = async (method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
    };
    const login = await call('POST', '/api/v1/auth/login', ADMIN);
    if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
    const token = login.body['accessToken'] as string;

    // 1. Import.
    const fed = generateFederation({ sites: SITES, extensionsPerSite: EXT_PER_SITE, flows: 0 });
    const payload = JSON.stringify(fed);
    const v0 = now();
    const offline = ValidatedFederation.validate(fed, { validateCallFlows: validateFederationFlows });
    const validateMs = now() - v0;
    if (!offline.result.ok) throw new Error(`generated federation invalid: ${offline.result.errors.length} errors`);
    const revalidateMs = measureRevalidate(offline);
    log(`importing ${fed.sites.length} sites, ${fed.extensions.length} extensions (${(payload.length / 1e6).toFixed(1)} MB JSON) ...`);
    const i0 = now();
    const imported = await call('POST', '/api/v1/import', payload, token);
    const importS = (now() - i0) / 1000;
    if (imported.status !== 201) throw new Error(`import: ${imported.status} ${JSON.stringify(imported.body).slice(0, 2000)}`);
    log(`imported in ${importS.toFixed(1)} s: ${JSON.stringify(imported.body['imported'])}`);

    // 2. Paged list of extensions (keyset paging).
    const listMs: number[] = [];
    let after: string | undefined;
    for (let p = 0; p < LIST_PAGES; p++) {
      const t0 = now();
      const r = await call('GET', `/api/v1/extensions?limit=${PAGE_SIZE}${after !== undefined ? `&after=${encodeURIComponent(after)}` : ''}`, undefined, token);
      listMs.push(now() - t0);
      if (r.status !== 200 || (r.body['items'] as unknown[]).length !== PAGE_SIZE) throw new Error(`list page ${p}: ${r.status}`);
      after = r.body['next'] as string | undefined;
    }

    // 3. Validated writes: one new extension at each of 50 different (unprefixed) sites.
    const writeMs: number[] = [];
    for (let k = 0; k < WRITES; k++) {
      const body = benchExtension(k);
      const t0 = now();
      const r = await call('POST', '/api/v1/extensions', body, token);
      writeMs.push(now() - t0);
      if (r.status !== 201) throw new Error(`write ${k}: ${r.status} ${JSON.stringify(r.body).slice(0, 1000)}`);
    }

    const slowest = writeMs.map((ms, k) => ({ k, ms })).sort((a, b) => b.ms - a.ms).slice(0, 3);
    log(`slowest writes: ${slowest.map((w) => `#${w.k} ${r1(w.ms)} ms`).join(', ')}`);

    // 4. A CSV import into the full federation: one more extension at every site (one request, one validation).
    const csvText = ['id,siteId,number,displayName', ...fed.sites.map((s, i) => `e-csv-${i},${s.id},${Number(fed.numberRanges[i]?.from ?? 0) + 160},CSV ${i}`)].join('\n');
    const c0 = now();
    const csvRes = await fetch(`${base}/api/v1/import?kind=extensions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: csvText });
    const csvS = (now() - c0) / 1000;
    if (csvRes.status !== 201) throw new Error(`csv import: ${csvRes.status} ${(await csvRes.text()).slice(0, 2000)}`);

    const rows: [string, string, string][] = [
      ['federation', `${fed.sites.length} sites, ${fed.extensions.length} extensions, ${fed.outboundRoutes.length} routes, ${fed.links.length} links`, ''],
      ['validateFederation (in-process, once)', `${r1(validateMs)} ms`, ''],
      [`revalidate x ${WRITES} (in-process)`, `p50 ${r1(pct(revalidateMs, 50))} ms, p99 ${r1(pct(revalidateMs, 99))} ms`, 'one extension added each'],
      ['import (1 request, 1 validation)', `${importS.toFixed(2)} s`, importS < 60 ? 'target < 60 s: met' : 'target < 60 s: MISSED'],
      [`list ${LIST_PAGES} pages x ${PAGE_SIZE}`, `p50 ${r1(pct(listMs, 50))} ms, p99 ${r1(pct(listMs, 99))} ms`, pct(listMs, 99) < 50 ? 'target p99 < 50 ms: met' : 'target p99 < 50 ms: MISSED'],
      [`CSV import of ${fed.sites.length} extensions`, `${csvS.toFixed(2)} s`, 'into the full federation'],
      [`${WRITES} validated writes`, `p50 ${r1(pct(writeMs, 50))} ms, p99 ${r1(pct(writeMs, 99))} ms`, pct(writeMs, 99) < 100 ? 'target p99 < 100 ms: met' : 'target p99 < 100 ms: MISSED'],
    ];
    for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(40)} ${b.padEnd(52)} ${c}\n`);
    process.stdout.write(
      `${JSON.stringify({
        import_s: Math.round(importS * 100) / 100,
        list_p99_ms: r1(pct(listMs, 99)),
        write_p99_ms: r1(pct(writeMs, 99)),
        list_p50_ms: r1(pct(listMs, 50)),
        write_p50_ms: r1(pct(writeMs, 50)),
        validate_ms: r1(validateMs),
        revalidate_p99_ms: r1(pct(revalidateMs, 99)),
        csv_import_s: Math.round(csvS * 100) / 100,
        sites: fed.sites.length,
        extensions: fed.extensions.length + WRITES + fed.sites.length,
      })}\n`,
    );
  } finally {
    await close();
    await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
}

/** The extension the k-th validated write adds: at 50 different (unprefixed) sites, inside their ranges. */
function benchExtension(k: number): { id: string; siteId: string; number: string; displayName: string } {
  const i = (20 * k + 3) % SITES;
  return { id: `e-bench-${k}`, siteId: siteIdOf(i), number: String(rangeStartOf(i) + 150), displayName: `Bench ${k}` };
}

/** The validation part of the writes, in-process: the same extensions added one by one through revalidate. */
function measureRevalidate(start: ValidatedFederation): number[] {
  const ms: number[] = [];
  let validated = start;
  for (let k = 0; k < WRITES; k++) {
    const extension: Extension = { ...benchExtension(k), voicemail: false, ringTimeoutSec: 20 };
    const next: Federation = { ...validated.federation, extensions: [...validated.federation.extensions, extension] };
    const t0 = now();
    validated = validated.revalidate(next);
    ms.push(now() - t0);
    if (!validated.result.ok || validated.computed !== 'extensions') throw new Error(`revalidate ${k}: ${validated.computed}, ${validated.result.errors.length} errors`);
  }
  return ms;
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:controller: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
