/**
 * Builds the workspace when a project's `dist` is older than its sources (or missing), quietly otherwise: the demo
 * and `npm test` start the built agent and controller, and a fresh clone has no `dist` at all.
 *
 * The up-to-date check compares file times (newest source file vs newest output file per project), so it costs a
 * directory walk, not an Nx run: CI builds before `npm test` with the Nx cache off (NX_SKIP_NX_CACHE) and must not
 * pay for a second build. When something is stale, `nx run-many -t build` runs and only the names of the projects
 * it finished are printed (its own output is kept for a failure).
 *
 * Run as a script (`node --import tsx tools/build-if-stale.ts`) it exits 1 when the build fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
/** Inputs every project's build reads besides its own folder. */
const SHARED_INPUTS = ['tsconfig.base.json'];
/** Never build inputs: outputs, dependencies, caches, test artefacts. */
const SKIPPED_DIRS = new Set(['dist', 'node_modules', '.nx', 'coverage', 'test-results', 'artifacts']);
/**
 * When the last successful build started. Nx leaves a dist untouched when its cache says the outputs already match
 * (a checkout that changed a file's time, not its text): without this stamp such a project would look stale forever.
 */
const STAMP_FILE = join('node_modules', '.cache', 'fedpbx', 'last-build-started');

export interface StaleProject {
  readonly name: string;
  /** Why it counts as stale, e.g. "no dist" or "src/main.ts is newer than dist". */
  readonly reason: string;
}

/** The projects under apps/ and libs/ that have a build script and whose dist is missing or older than a source. */
export function staleProjects(root = ROOT): StaleProject[] {
  const shared = Math.max(0, ...SHARED_INPUTS.map((f) => mtimeOf(join(root, f))));
  const stamp = readStamp(root);
  const out: StaleProject[] = [];
  for (const group of ['libs', 'apps']) {
    const groupDir = join(root, group);
    if (!existsSync(groupDir)) continue;
    for (const entry of readdirSync(groupDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(groupDir, entry.name);
      const manifest = readManifest(join(dir, 'package.json'));
      if (manifest?.scripts?.build === undefined) continue;
      const name = manifest.name ?? `${group}/${entry.name}`;
      const dist = join(dir, 'dist');
      if (!existsSync(dist)) {
        out.push({ name, reason: 'no dist' });
        continue;
      }
      const built = { mtimeMs: Math.max(newest(dist, false).mtimeMs, stamp) };
      const source = newest(dir, true);
      if (shared > built.mtimeMs) out.push({ name, reason: `${SHARED_INPUTS.join(', ')} is newer than dist` });
      else if (source.mtimeMs > built.mtimeMs) out.push({ name, reason: `${source.path.slice(dir.length + 1)} is newer than dist` });
    }
  }
  return out;
}

/**
 * Builds when {@link staleProjects} finds anything; prints one line before and one per finished project through
 * `say`. Resolves false (after printing the build's output) when the build fails.
 */
export async function buildIfStale(say: (line: string) => void, root = ROOT): Promise<boolean> {
  const stale = staleProjects(root);
  if (stale.length === 0) return true;
  const first = stale.some((p) => p.reason === 'no dist');
  say(`building ${first ? '(first run takes ~1-2 min)' : `(${stale.map((p) => p.name).join(', ')} changed)`}...`);
  const started = performance.now();
  const startedAt = Date.now();
  const nx = spawn(join(root, 'node_modules', '.bin', 'nx'), ['run-many', '-t', 'build', '--output-style=static'], {
    cwd: root,
    env: { ...process.env, NX_DAEMON: 'false', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let pending = '';
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString();
    output += text;
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    // Static output prints a task's block, headed `> nx run <project>:build`, once the task has finished.
    for (const line of lines) {
      const done = /^> nx run (\S+):build/.exec(line.trim());
      if (done !== null) say(`  built ${done[1]}`);
    }
  };
  nx.stdout.on('data', onData);
  nx.stderr.on('data', onData);
  const code = await new Promise<number | null>((resolve) => nx.once('close', resolve));
  if (code !== 0) {
    say(output.slice(-20_000));
    say(`build failed (nx exited ${code})`);
    return false;
  }
  mkdirSync(dirname(join(root, STAMP_FILE)), { recursive: true });
  writeFileSync(join(root, STAMP_FILE), String(startedAt));
  say(`built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return true;
}

function readManifest(file: string): { name?: string; scripts?: Record<string, string> } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { name?: string; scripts?: Record<string, string> };
  } catch {
    return undefined;
  }
}

function readStamp(root: string): number {
  try {
    return Number(readFileSync(join(root, STAMP_FILE), 'utf8')) || 0;
  } catch {
    return 0;
  }
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** The newest file below `dir` (as a source tree: skipping outputs and specs, which no build reads). */
function newest(dir: string, asSources: boolean): { path: string; mtimeMs: number } {
  let best = { path: dir, mtimeMs: 0 };
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (!asSources || !SKIPPED_DIRS.has(e.name)) walk(p);
      } else if (!asSources || !/\.(spec|test)\.tsx?$/.test(e.name)) {
        const m = statSync(p).mtimeMs;
        if (m > best.mtimeMs) best = { path: p, mtimeMs: m };
      }
    }
  };
  walk(dir);
  return best;
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const ok = await buildIfStale((line) => process.stdout.write(`${line}\n`));
  process.exit(ok ? 0 : 1);
}
