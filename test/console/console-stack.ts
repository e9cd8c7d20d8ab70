import { rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { startTestApp, ADMIN, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { timeLimit } from '../../apps/controller/src/testing/test-database.js';
import { buildConsole, launchChromium } from './browser.js';

export { artifactPath, launchChromium } from './browser.js';
export const PITER_ADMIN = { username: 'piter-admin', password: 'piter-password-123' } as const;
export const PITER_VIEWER = { username: 'piter-viewer', password: 'viewer-password-123' } as const;
export { ADMIN };

export interface ConsoleStack {
  /** The controller's base URL, serving the console at / and the API at /api. */
  readonly url: string;
  readonly t: TestApp;
  readonly adminToken: string;
  readonly consoleDir: string;
  close(): Promise<void>;
}

/**
 * A real controller (own PostgreSQL database) listening on a free port, serving a freshly built console, seeded
 * with the founding scenario, a site admin of piter and a viewer of piter.
 */
export async function startConsoleStack(): Promise<ConsoleStack> {
  const consoleDir = await buildConsole();
  const t = await startTestApp({ env: { FEDPBX_CONSOLE_DIR: consoleDir, FEDPBX_LOG_LEVEL: 'warn' } });
  await t.app.listen(0, '127.0.0.1');
  const address = t.app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const adminToken = await t.login(ADMIN.username, ADMIN.password);
  await buildFoundingScenario(t, adminToken);
  for (const [user, role] of [[PITER_ADMIN, 'site-admin'], [PITER_VIEWER, 'viewer']] as const) {
    const u = await t.request('POST', '/api/v1/users', { ...user, grants: [{ role, siteId: 'piter' }] }, adminToken);
    if (u.status !== 201) throw new Error(`create ${user.username}: ${u.status} ${JSON.stringify(u.body)}`);
  }
  return {
    url: `http://127.0.0.1:${address.port}`,
    t,
    adminToken,
    consoleDir,
    async close() {
      await t.close();
      rmSync(consoleDir, { recursive: true, force: true });
    },
  };
}


export interface SignInOptions {
  /** Where the browser starts (the sign-in form comes first, then this page). */
  readonly path?: string;
  readonly viewportHeight?: number;
  /** Playwright's default timeout for the page's actions. */
  readonly timeoutMs?: number;
  /** Runs on the new page before it opens the console (to watch its network from the first request). */
  readonly beforeOpen?: (page: Page) => Promise<void>;
}

/** A fresh browser context on the console, signed in as `user` through the sign-in form, with the main navigation shown. */
export async function signInPage(browser: Browser, stack: ConsoleStack, user: { username: string; password: string }, options: SignInOptions = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: options.viewportHeight ?? 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(options.timeoutMs ?? 8000);
  page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
  await options.beforeOpen?.(page);
  await page.goto(`${stack.url}${options.path ?? '/'}`);
  await page.getByLabel('User name').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  return page;
}

export interface ConsoleSuite {
  /** The stack and the browser, once the suite's beforeAll has run. */
  readonly stack: ConsoleStack;
  readonly browser: Browser;
  /** signInPage with the suite's defaults, which `options` override. */
  signIn(user: { username: string; password: string }, options?: SignInOptions): Promise<Page>;
}

/**
 * The set-up every browser suite shares, registered in the calling describe: a console stack and Chromium started
 * side by side before its tests (then `setUp`, to seed what the suite needs), both closed after them.
 */
export function consoleSuite(options: { signIn?: SignInOptions; setUp?: (stack: ConsoleStack) => Promise<void>; timeoutMs?: number } = {}): ConsoleSuite {
  let stack: ConsoleStack | undefined;
  let chrome: Awaited<ReturnType<typeof launchChromium>> | undefined;
  beforeAll(async () => {
    [stack, chrome] = await Promise.all([startConsoleStack(), launchChromium()]);
    await options.setUp?.(stack);
  }, timeLimit(options.timeoutMs ?? 180_000));
  afterAll(async () => {
    await chrome?.close();
    await stack?.close();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the console suite is not set up (used outside its tests?)');
    return v;
  };
  return {
    get stack() {
      return ready(stack);
    },
    get browser() {
      return ready(chrome).browser;
    },
    signIn(user, signInOptions) {
      return signInPage(ready(chrome).browser, ready(stack), user, { ...options.signIn, ...signInOptions });
    },
  };
}
