import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, signSnapshot } from '@fedpbx/signing';
import {
  buildSiteConfig,
  EXTENSIONS_FILE_NAME,
  foundingScenario,
  generateFederation,
  PJSIP_FILE_NAME,
  RenderError,
  renderExtensions,
  renderPjsip,
  renderPjsipTo,
  renderVoicemail,
  siteIdOf,
  VOICEMAIL_FILE_NAME,
} from '@fedpbx/dialplan';
import type { Federation } from '@fedpbx/contracts';
import { SectionOptionsScanner, sectionOptions, writeIncludeFiles } from './include-files.js';

const key = generateSigningKey('controller-1');
const at = new Date('2026-11-26T09:00:00Z');
const extensions = { agiHost: '127.0.0.1', agiPort: 4573 };
const textOf = (fed: Federation, revision = 1) => JSON.stringify(signSnapshot(buildSiteConfig(fed, 'moscow'), revision, key, at));

describe('SectionOptionsScanner', () => {
  it('finds what sectionOptions finds in the whole text, however the text is cut into chunks', () => {
    const text = [
      '; a comment [fedpbx-transport]',
      '[fedpbx-transport]',
      'type=transport ; trailing comment',
      '  bind=1.2.3.4:5060  ',
      'password=a\\;b',
      '',
      '; Link to piter',
      '[site-piter]',
      'type=endpoint',
      'x[fedpbx-transport]',
      '[fedpbx-transport](!)',
      'protocol=udp',
    ].join('\n');
    const whole = sectionOptions(text, 'fedpbx-transport');
    expect(whole).toBe('[fedpbx-transport]\ntype=transport\nbind=1.2.3.4:5060\npassword=a\\;b\n[fedpbx-transport](!)\nprotocol=udp');
    for (const size of [1, 2, 3, 5, 7, 16, 64, text.length]) {
      const scanner = new SectionOptionsScanner('fedpbx-transport');
      for (let i = 0; i < text.length; i += size) scanner.feed(text.slice(i, i + size));
      expect(scanner.end(), `chunks of ${size}`).toBe(whole);
    }
  });

  it('finds nothing in a text without the section', () => {
    expect(sectionOptions('[a]\ntype=x\n', 'fedpbx-transport')).toBe('');
    expect(sectionOptions('', 'fedpbx-transport')).toBe('');
  });
});

describe('writeIncludeFiles, rendered straight into the files', () => {
  it('writes the bytes the renderers give, leaves unchanged files in place, and no temp file behind', async () => {
    const fed = foundingScenario();
    const dir = join(mkdtempSync(join(tmpdir(), 'fedpbx-include-')), 'fedpbx');
    const text = textOf(fed);
    expect(await writeIncludeFiles({ snapshotText: text, outDir: dir, extensions })).toEqual({
      written: [PJSIP_FILE_NAME, EXTENSIONS_FILE_NAME, VOICEMAIL_FILE_NAME],
      transportChanged: false,
    });
    const config = buildSiteConfig(fed, 'moscow');
    expect(readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8')).toBe(renderPjsip(config));
    expect(readFileSync(join(dir, EXTENSIONS_FILE_NAME), 'utf8')).toBe(renderExtensions(config, extensions));
    expect(readFileSync(join(dir, VOICEMAIL_FILE_NAME), 'utf8')).toBe(renderVoicemail(config));
    expect(statSync(join(dir, PJSIP_FILE_NAME)).mode & 0o777).toBe(0o640);
    const inode = statSync(join(dir, PJSIP_FILE_NAME)).ino;

    // The same snapshot again: nothing written, the very files stay.
    expect(await writeIncludeFiles({ snapshotText: text, outDir: dir, extensions })).toEqual({ written: [], transportChanged: false });
    expect(statSync(join(dir, PJSIP_FILE_NAME)).ino).toBe(inode);

    // A file edited by hand (same length) is put right: compared by its bytes, not its size.
    const pjsip = readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8');
    writeFileSync(join(dir, PJSIP_FILE_NAME), pjsip.replace('type=transport', 'type=TRANSPORT'));
    expect((await writeIncludeFiles({ snapshotText: text, outDir: dir, extensions })).written).toEqual([PJSIP_FILE_NAME]);
    expect(readFileSync(join(dir, PJSIP_FILE_NAME), 'utf8')).toBe(pjsip);
    expect(readdirSync(dir).sort()).toEqual([EXTENSIONS_FILE_NAME, PJSIP_FILE_NAME, VOICEMAIL_FILE_NAME].sort());
  });

  it('says when the transport changed, and only then', async () => {
    const fed = foundingScenario();
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-include-'));
    await writeIncludeFiles({ snapshotText: textOf(fed), outDir: dir, extensions });
    const moved: Federation = { ...fed, sites: fed.sites.map((s) => (s.id === 'moscow' ? { ...s, network: { ...s.network, sipPort: 5070 } } : s)) };
    expect(await writeIncludeFiles({ snapshotText: textOf(moved, 2), outDir: dir, extensions })).toEqual({ written: [PJSIP_FILE_NAME], transportChanged: true });
    const renamed: Federation = { ...moved, extensions: moved.extensions.map((e) => (e.id === 'e-m102' ? { ...e, displayName: 'Anna Smirnova-Ivanova' } : e)) };
    expect(await writeIncludeFiles({ snapshotText: textOf(renamed, 3), outDir: dir, extensions })).toMatchObject({ transportChanged: false });
  });

  it('a RenderError late in the file (chunks already written) leaves the files as they were, no temp file, and no directory it made', async () => {
    // Two sites of 2,000 phones: the pjsip file is several chunks long.
    const fed = generateFederation({ sites: 2, extensionsPerSite: 2000, flows: 0 });
    const siteId = siteIdOf(0);
    const signed = (f: Federation, revision: number) => signSnapshot(buildSiteConfig(f, siteId), revision, key, at);
    const base = mkdtempSync(join(tmpdir(), 'fedpbx-include-'));
    await writeIncludeFiles({ snapshotText: JSON.stringify(signed(fed, 1)), outDir: base, extensions });
    const before = readdirSync(base).map((name) => [name, readFileSync(join(base, name), 'utf8')]);
    // The site's last phone (in number order, as rendered) gets a display name that would inject a section.
    const last = fed.extensions.filter((e) => e.siteId === siteId).sort((a, b) => (a.number < b.number ? -1 : 1)).at(-1);
    const hostile = signed(fed, 2);
    const config = { ...hostile.config, extensions: hostile.config.extensions.map((e) => (e.id === last?.id ? { ...e, displayName: 'Ivan\n[evil]' } : e)) };
    let chunks = 0;
    expect(() => renderPjsipTo(config, () => void chunks++)).toThrow(RenderError);
    expect(chunks).toBeGreaterThan(1);
    const text = JSON.stringify({ ...hostile, config });
    await expect(writeIncludeFiles({ snapshotText: text, outDir: base, extensions })).rejects.toBeInstanceOf(RenderError);
    expect(readdirSync(base).map((name) => [name, readFileSync(join(base, name), 'utf8')])).toEqual(before);
    const fresh = join(base, 'new', 'fedpbx');
    await expect(writeIncludeFiles({ snapshotText: text, outDir: fresh, extensions })).rejects.toBeInstanceOf(RenderError);
    expect(existsSync(join(base, 'new'))).toBe(false);
  });
});
