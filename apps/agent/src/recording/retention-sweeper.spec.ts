import { existsSync, mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RecordingRetentionSweeper } from './retention-sweeper.js';

const NOW = new Date('2026-11-26T12:00:00Z');
const DAY = 24 * 3600 * 1000;

function setup(retentionDays: number | undefined = 30) {
  const base = mkdtempSync(join(tmpdir(), 'fedpbx-rec-'));
  const monitor = join(base, 'monitor');
  const site = join(monitor, 'fedpbx', 'moscow');
  mkdirSync(site, { recursive: true });
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(c: Buffer, _e, cb) {
        lines.push(JSON.parse(c.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const registry = new Registry();
  let days: number | undefined = retentionDays;
  const sweeper = new RecordingRetentionSweeper({ recordingsDir: monitor, siteId: 'moscow', retentionDays: () => days, log, registry, now: () => NOW });
  /** A file whose last change was `ageDays` before NOW. */
  const file = (path: string, ageDays: number): string => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'RIFF');
    const t = new Date(NOW.getTime() - ageDays * DAY);
    utimesSync(path, t, t);
    return path;
  };
  const deletedMetric = async () => (await registry.getSingleMetric('fedpbx_recordings_deleted_total')?.get())?.values[0]?.value;
  return { base, monitor, site, lines, sweeper, file, deletedMetric, setDays: (d: number | undefined) => (days = d) };
}

describe('RecordingRetentionSweeper', () => {
  it("deletes the site's recordings older than its retention, in sub-directories too, and counts them", async () => {
    const { site, sweeper, file, deletedMetric, lines } = setup(30);
    const old = file(join(site, '20261001-120000-101-301-1.wav'), 56);
    const oldNested = file(join(site, '2026', '10', '20261010-120000-101-301-2.wav'), 47);
    const fresh = file(join(site, '20261120-120000-101-301-3.wav'), 6);
    const edge = file(join(site, '20261027-120000-101-301-4.wav'), 29.9);
    expect(await sweeper.sweep()).toEqual({ deleted: 2, kept: 2, skipped: 0, failed: 0 });
    expect([old, oldNested, fresh, edge].map((p) => existsSync(p))).toEqual([false, false, true, true]);
    expect(existsSync(join(site, '2026', '10'))).toBe(true);
    expect(await deletedMetric()).toBe(2);
    expect(lines.find((l) => l['msg'] === 'recording retention sweep')).toMatchObject({ deleted: 2, kept: 2, retentionDays: 30 });
  });

  it("never leaves the site's subtree: other sites, files beside it, and links (followed or not) stay", async () => {
    const { base, monitor, site, sweeper, file } = setup(1);
    const otherSite = file(join(monitor, 'fedpbx', 'piter', 'old.wav'), 400);
    const beside = file(join(monitor, 'admin-recording.wav'), 400);
    const outside = file(join(base, 'elsewhere', 'precious.wav'), 400);
    symlinkSync(join(base, 'elsewhere'), join(site, 'linked-dir'));
    symlinkSync(outside, join(site, 'linked-file.wav'));
    expect(await sweeper.sweep()).toEqual({ deleted: 0, kept: 0, skipped: 2, failed: 0 });
    for (const p of [otherSite, beside, outside, join(site, 'linked-file.wav')]) expect(existsSync(p)).toBe(true);
  });

  it('refuses a site directory that is a link', async () => {
    const { base, monitor, sweeper, file, lines } = setup(1);
    const target = join(base, 'target');
    const precious = file(join(target, 'old.wav'), 400);
    const { rmSync } = await import('node:fs');
    rmSync(join(monitor, 'fedpbx', 'moscow'), { recursive: true });
    symlinkSync(target, join(monitor, 'fedpbx', 'moscow'));
    expect(await sweeper.sweep()).toEqual({ deleted: 0, kept: 0, skipped: 1, failed: 0 });
    expect(existsSync(precious)).toBe(true);
    expect(lines.some((l) => String(l['msg']).includes('not a plain directory'))).toBe(true);
  });

  it('sweeps again after a snapshot only when the retention changed', async () => {
    const { site, sweeper, file, setDays } = setup(0);
    const old = file(join(site, 'old.wav'), 10);
    expect(await sweeper.sweepIfRetentionChanged()).toBeUndefined();
    setDays(30);
    expect(await sweeper.sweepIfRetentionChanged()).toEqual({ deleted: 0, kept: 1, skipped: 0, failed: 0 });
    expect(await sweeper.sweepIfRetentionChanged()).toBeUndefined();
    setDays(7);
    expect(await sweeper.sweepIfRetentionChanged()).toEqual({ deleted: 1, kept: 0, skipped: 0, failed: 0 });
    expect(existsSync(old)).toBe(false);
  });

  it('keeps everything while no retention is in force, and does nothing when the directory is missing', async () => {
    const { site, sweeper, file, setDays } = setup(0);
    const old = file(join(site, 'old.wav'), 4000);
    expect(await sweeper.sweep()).toBeUndefined();
    setDays(undefined);
    expect(await sweeper.sweep()).toBeUndefined();
    expect(existsSync(old)).toBe(true);

    const missing = new RecordingRetentionSweeper({ recordingsDir: '/nonexistent/monitor', siteId: 'moscow', retentionDays: () => 1, log: pino({ level: 'silent' }), now: () => NOW });
    expect(await missing.sweep()).toEqual({ deleted: 0, kept: 0, skipped: 0, failed: 0 });
  });
});
