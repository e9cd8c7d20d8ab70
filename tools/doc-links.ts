// Checks that every relative link in README.md and docs/**/*.md resolves: the file exists and, for a `#fragment`,
// the target file has a heading with that anchor as GitHub makes it. README's long sections live in docs/ and link
// back to each other by anchor, so a renamed heading would otherwise break them silently.
// Run: `npm run lint:docs` (prints each broken link, exits 1 if there is one); test/docs/doc-links.spec.ts runs it too.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One link that does not resolve, named by the file and line it is on. */
export interface BrokenLink {
  file: string;
  line: number;
  target: string;
  reason: string;
}

/** The markdown files checked: README.md and everything under docs/. */
export function docFiles(root: string): string[] {
  const files = [join(root, 'README.md')];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  walk(join(root, 'docs'));
  return files;
}

/** Lines outside fenced code blocks, with their 1-based numbers (links and headings in code are not markdown). */
function proseLines(text: string): { text: string; line: number }[] {
  const lines: { text: string; line: number }[] = [];
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push({ text: line, line: i + 1 });
  });
  return lines;
}

/**
 * GitHub's heading anchor: the rendered text lower-cased, everything but letters, digits, spaces, `-` and `_`
 * dropped, spaces made `-`; a repeated anchor gets `-1`, `-2`, ... in order.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const rendered = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = rendered
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** The relative link targets on each prose line (inline code removed first: `[a](b)` in backticks is no link). */
function linksIn(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push({ target, line });
    }
  }
  return links;
}

export function brokenDocLinks(root: string): BrokenLink[] {
  const broken: BrokenLink[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (path: string): Set<string> => {
    let set = anchorsOf.get(path);
    if (!set) anchorsOf.set(path, (set = headingAnchors(readFileSync(path, 'utf8'))));
    return set;
  };
  for (const file of docFiles(root)) {
    for (const { target, line } of linksIn(readFileSync(file, 'utf8'))) {
      const [path = '', fragment] = target.split('#');
      const into = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      const at = { file: relative(root, file), line, target };
      if (!existsSync(into)) broken.push({ ...at, reason: 'no such file' });
      else if (fragment !== undefined && into.endsWith('.md') && !anchors(into).has(fragment))
        broken.push({ ...at, reason: `no heading with anchor #${fragment}` });
    }
  }
  return broken;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const broken = brokenDocLinks(root);
  for (const b of broken) console.error(`${b.file}:${b.line}: ${b.target} - ${b.reason}`);
  console.log(`${docFiles(root).length} files checked, ${broken.length} broken links`);
  process.exitCode = broken.length > 0 ? 1 : 0;
}
