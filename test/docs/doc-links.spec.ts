// README's long histories live in docs/ and the two link to each other by heading anchor: a renamed heading or a moved
// file must fail here rather than leave a dead link (tools/doc-links.ts; `npm run lint:docs` prints them).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { brokenDocLinks, headingAnchors } from '../../tools/doc-links.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('README and docs/ links', () => {
  it('every relative link and #anchor in README.md and docs/ resolves', () => {
    expect(brokenDocLinks(ROOT)).toEqual([]);
  });

  it("makes GitHub's anchors: code, punctuation and links dropped, repeats numbered", () => {
    const anchors = headingAnchors(
      ['# fedpbx', '## Presence (busy lamps)', '### `npm run bench:agi`', '### Session 12', '### Session 12',
        '## See [the doc](x.md) — now', '```', '## not a heading', '```'].join('\n'),
    );
    expect([...anchors]).toEqual(['fedpbx', 'presence-busy-lamps', 'npm-run-benchagi', 'session-12', 'session-12-1', 'see-the-doc--now']);
  });

  describe('in a made-up tree', () => {
    let dir = '';
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('names each link to a missing file or heading, and only those', () => {
      dir = mkdtempSync(join(tmpdir(), 'doc-links-'));
      mkdirSync(join(dir, 'docs', 'design'), { recursive: true });
      writeFileSync(join(dir, 'docs', 'design', 'a.md'), '# A\n\n## Kept part\n\nBack to [README](../../README.md#top).\n');
      writeFileSync(
        join(dir, 'README.md'),
        [
          '# Top',
          'See [kept](docs/design/a.md#kept-part), [gone](docs/design/a.md#gone), [missing](docs/b.md),',
          '[self](#top), [no section](#nowhere), [web](https://example.com/x.md#y), [dir](docs/).',
          'Not links: `[a](c.md)` and',
          '```',
          '[b](d.md)',
          '```',
        ].join('\n'),
      );
      expect(brokenDocLinks(dir)).toEqual([
        { file: 'README.md', line: 2, target: 'docs/design/a.md#gone', reason: 'no heading with anchor #gone' },
        { file: 'README.md', line: 2, target: 'docs/b.md', reason: 'no such file' },
        { file: 'README.md', line: 3, target: '#nowhere', reason: 'no heading with anchor #nowhere' },
      ]);
    });
  });
});
