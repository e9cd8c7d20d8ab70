/**
 * `npm run bench:console`: the console's bundle size (gzip) and first-load time in Chromium, served by the built
 * controller process (apps/controller/dist, own PostgreSQL database) seeded with the founding scenario. Cold
 * cache for every load (a new browser context each time). Final line: one JSON object.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createTestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { seedFoundingScenario, startController } from '../support/controller-process.js';
import { buildConsole, launchChromium } from './browser.js';

const RUNS = 7;

const gzipKb = (file: string): number => gzipSync(readFileSync(file), { level: 9 }).length / 1024;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

const dir = await buildConsole();
const db = await createTestDatabase({ require: 'postgres' });
const controller = await startController({ DATABASE_URL: db.url!, FEDPBX_CONSOLE_DIR: dir, FEDPBX_LOG_LEVEL: 'warn' });
const chrome = await launchChromium();
try {
  await seedFoundingScenario(controller);
  // What the first page load needs: index.html and the files it references; the rest loads on demand.
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const initial = ['index.html', ...[...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1] as string)];
  const all = ['index.html', ...readdirSync(join(dir, 'assets')).map((f) => `assets/${f}`)];
  const initialKb = initial.reduce((s, f) => s + gzipKb(join(dir, f)), 0);
  const totalKb = all.reduce((s, f) => s + gzipKb(join(dir, f)), 0);

  const token = await controller.adminToken();
  const session = JSON.stringify({ token, expiresAt: new Date(Date.now() + 600_000).toISOString() });
  const login: number[] = [];
  const overview: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Navigation start -> the sign-in form can be typed into.
    const a = await chrome.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await a.newPage();
    await p.goto(`${controller.url}/`);
    await p.locator('#username:enabled').waitFor();
    login.push(await p.evaluate<number>('performance.now()'));
    await a.close();
    // Navigation start -> a signed-in admin sees the overview with its sites (three API calls answered).
    const b = await chrome.browser.newContext({ viewport: { width: 1280, height: 900 } });
    await b.addInitScript(`sessionStorage.setItem('fedpbx.session', ${JSON.stringify(session)})`);
    const q = await b.newPage();
    await q.goto(`${controller.url}/`);
    await q.locator('tr[data-site="kazan"]').waitFor();
    overview.push(await q.evaluate<number>('performance.now()'));
    await b.close();
  }
  console.log(
    JSON.stringify({
      bundle_initial_gzip_kb: round(initialKb),
      bundle_total_gzip_kb: round(totalKb),
      login_interactive_ms_p50: round(median(login), 0),
      overview_ready_ms_p50: round(median(overview), 0),
      runs: RUNS,
    }),
  );
} finally {
  await chrome.close();
  await controller.stop();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}
