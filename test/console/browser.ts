import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from '../support/agent-process.js';

export const CONSOLE_ROOT = join(REPO_ROOT, 'apps', 'console');
export const ARTIFACTS = join(REPO_ROOT, 'test', 'console', 'artifacts');

/** Builds the console from its current sources into a fresh directory (the same `vite build` as the Nx target). */
export async function buildConsole(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'fedpbx-console-'));
  await promisify(execFile)(process.execPath, [join(CONSOLE_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: CONSOLE_ROOT });
  return outDir;
}

/**
 * Debian's chromium, headless (never `npx playwright install`). Playwright gives every launch a fresh temporary
 * profile (its own --user-data-dir, removed on close).
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: process.env['FEDPBX_CHROMIUM'] ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}
