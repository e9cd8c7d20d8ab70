// `npm run lint` is each project's `lint` script (nx run-many -t lint). A TypeScript file outside every project's
// lint paths is never linted, and one inside them but outside the nearest tsconfig.json is a parse error for
// typescript-eslint's project service ("was not found by the project service") - apps/controller/bench was both.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
/** Files no project owns, said so here rather than found by accident: the workspace's and the console's build configs. */
const NOT_LINTED = new Set(['vitest.config.ts', 'apps/console/vite.config.ts']);

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) tsFiles(path, out);
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every workspace project's directory and the paths its `lint` script gives eslint (absolute). */
function lintPaths(): { project: string; paths: string[] }[] {
  const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  const dirs = workspaces.flatMap((w) =>
    w.endsWith('/*') ? readdirSync(join(ROOT, w.slice(0, -2)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(ROOT, w.slice(0, -2), d.name)) : [join(ROOT, w)],
  );
  return dirs
    .filter((d) => existsSync(join(d, 'package.json')))
    .map((d) => {
      const lint = (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { scripts?: { lint?: string } }).scripts?.lint ?? '';
      const args = lint.split(/\s+/).filter((a) => a !== '' && a !== 'eslint' && !a.startsWith('-'));
      return { project: relative(ROOT, d), paths: args.map((a) => resolve(d, a)) };
    });
}

const tsconfigFiles = new Map<string, Set<string>>();
/** The files of the tsconfig.json nearest to `file` - the one typescript-eslint's project service opens for it. */
function nearestTsconfigHas(file: string): boolean {
  let dir = dirname(file);
  while (!existsSync(join(dir, 'tsconfig.json'))) {
    if (dir === ROOT || dirname(dir) === dir) return false;
    dir = dirname(dir);
  }
  const config = join(dir, 'tsconfig.json');
  let files = tsconfigFiles.get(config);
  if (files === undefined) {
    const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(config, ts.sys.readFile).config, ts.sys, dir);
    files = new Set(parsed.fileNames.map((f) => resolve(f)));
    tsconfigFiles.set(config, files);
  }
  return files.has(file);
}

describe('npm run lint covers every TypeScript file', () => {
  const projects = lintPaths();
  const files = ['apps', 'libs', 'test', 'tools'].flatMap((d) => tsFiles(join(ROOT, d))).concat(tsFiles(ROOT).filter((f) => dirname(f) === ROOT));
  const linted = (file: string): boolean => projects.some((p) => p.paths.some((path) => file === path || file.startsWith(path + sep)));

  it("every file is under some project's lint paths (bench/ and scripts/ folders too)", () => {
    const missed = files.map((f) => relative(ROOT, f)).filter((f) => !NOT_LINTED.has(f) && !linted(join(ROOT, f)));
    expect(missed).toEqual([]);
  });

  it('every linted file is in its nearest tsconfig.json, so eslint can parse it', () => {
    const unparsable = files.filter((f) => linted(f) && !nearestTsconfigHas(f)).map((f) => relative(ROOT, f));
    expect(unparsable).toEqual([]);
  });
});
