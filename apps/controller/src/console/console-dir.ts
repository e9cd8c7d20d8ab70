import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the console's built files are by default: `apps/console/dist` beside this app. The same relative path
 * works from the sources (apps/controller/src/console), from the build (apps/controller/dist/console) and from
 * an npm install, where the two packages sit side by side (node_modules/@fedpbx/{controller,console}).
 */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../console/dist', import.meta.url));

/** The absolute console directory, or undefined when it holds no built console (no index.html). */
export function findConsoleDir(configured: string | undefined): { dir: string; found: boolean } {
  const dir = configured === undefined ? DEFAULT_CONSOLE_DIR : isAbsolute(configured) ? configured : resolve(process.cwd(), configured);
  const index = resolve(dir, 'index.html');
  return { dir, found: existsSync(index) && statSync(index).isFile() };
}
