import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CdrOutboxPruner } from './cdr-outbox-pruner.js';

const line = (id: string, day: string) => `${JSON.stringify({ type: 'cdr', cdrId: id, end: `${day}T10:00:00.000Z` })}\n`;

/** A state dir with these day files (each `lines` CDRs) and a durable cursor at `acked` bytes per file. */
function stateDir(days: Record<string, number>, acked: (file: string, size: number) => number | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-prune-'));
  mkdirSync(join(dir, 'cdr'));
  mkdirSync(join(dir, 'sync'));
  const cursor: Record<string, number> = {};
  for (const [day, n] of Object.entries(days)) {
    const file = `${day}.jsonl`;
    writeFileSync(join(dir, 'cdr', file), Array.from({ length: n }, (_, i) => line(`${day}-${i}`, day)).join(''));
    const at = acked(file, statSync(join(dir, 'cdr', file)).size);
    if (at !== undefined) cursor[file] = at;
  }
  writeFileSync(join(dir, 'sync', 'cdr-cursor.json'), JSON.stringify({ v: 1, files: cursor }));
  return dir;
}

function pruner(dir: string, settled: () => Promise<void> = () => Promise.resolve()) {
  const forgotten: string[] = [];
  const p = new CdrOutboxPruner({
    stateDir: dir,
    retentionDays: 7,
    publisher: { forgetFile: (f) => void forgotten.push(f) },
    outbox: { settled },
    log: pino({ level: 'silent' }),
    now: () => new Date('2026-12-07T12:00:00Z'),
  });
  return { p, forgotten };
}

const files = (dir: string) => readdirSync(join(dir, 'cdr')).sort();

describe('CdrOutboxPruner', () => {
  it('removes only day files older than the retention whose every record the durable cursor has passed', async () => {
    const dir = stateDir({ '2026-11-20': 3, '2026-11-21': 3, '2026-11-22': 3, '2026-11-30': 2, '2026-12-01': 2, '2026-12-07': 2 }, (file, size) =>
      file === '2026-11-21.jsonl' ? size - 10 : file === '2026-11-22.jsonl' ? undefined : size,
    );
    const { p, forgotten } = pruner(dir);
    expect(await p.prune()).toEqual(['2026-11-20.jsonl', '2026-11-30.jsonl']);
    // 11-21: its last record not acknowledged; 11-22: never published; 12-01: within 7 days; 12-07: today's.
    expect(files(dir)).toEqual(['2026-11-21.jsonl', '2026-11-22.jsonl', '2026-12-01.jsonl', '2026-12-07.jsonl']);
    expect(forgotten).toEqual(['2026-11-20.jsonl', '2026-11-30.jsonl']);
    expect(await p.prune()).toEqual([]);
  });

  it('never removes the newest file, however old, nor any file when the cursor is missing', async () => {
    const dir = stateDir({ '2026-10-01': 2 }, (_f, size) => size);
    expect(await pruner(dir).p.prune()).toEqual([]);
    const none = stateDir({ '2026-10-01': 2, '2026-10-02': 2 }, () => undefined);
    expect(await pruner(none).p.prune()).toEqual([]);
    expect(files(none)).toEqual(['2026-10-01.jsonl', '2026-10-02.jsonl']);
  });

  it('a late CDR written into the file while it is pruned is kept in a new day file, read from its start', async () => {
    const dir = stateDir({ '2026-11-20': 3, '2026-12-07': 1 }, (_f, size) => size);
    // The outbox opened the day file before it moved: its write ends in the moved file before settled() resolves.
    const late = line('late-1', '2026-11-20');
    const { p, forgotten } = pruner(dir, () => Promise.resolve(appendFileSync(join(dir, 'cdr', '2026-11-20.jsonl.pruning'), late)));
    await p.prune();
    expect(files(dir)).toEqual(['2026-11-20.jsonl', '2026-12-07.jsonl']);
    expect(readFileSync(join(dir, 'cdr', '2026-11-20.jsonl'), 'utf8')).toBe(late);
    expect(forgotten).toEqual(['2026-11-20.jsonl']);
  });

  it('after a crash mid-pruning, the next run (a restart) puts the records back and publishes the day again', async () => {
    const dir = stateDir({ '2026-11-20': 3, '2026-12-07': 1 }, (_f, size) => size);
    const path = join(dir, 'cdr', '2026-11-20.jsonl');
    const before = readFileSync(path, 'utf8');
    // Crashed after the rename and a late CDR's write into the moved file, before its tail was carried over.
    writeFileSync(`${path}.pruning`, before + line('late-1', '2026-11-20'));
    rmSync(path);
    const { p, forgotten } = pruner(dir);
    expect(await p.prune()).toEqual([]);
    // Back whole (the late record past the acknowledged size: the file is kept), and published again from its start.
    expect(files(dir)).toEqual(['2026-11-20.jsonl', '2026-12-07.jsonl']);
    expect(readFileSync(path, 'utf8')).toBe(before + line('late-1', '2026-11-20'));
    expect(forgotten).toEqual(['2026-11-20.jsonl']);
    expect(existsSync(`${path}.pruning`)).toBe(false);
  });
});
