import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, journalGenerations, journalName, JournalWriter, payloadOf, payloadOfText, readPayload, scanJournal } from './snapshot-journal.js';

const payloads = [1, 2, 3].map((r) => Buffer.from(`{"revision":${r},"body":"${'x'.repeat(500 + r * 97)}"}`));

async function written(limit = 20): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-journal-'));
  const writer = new JournalWriter(dir, limit);
  for (const [i, p] of payloads.entries()) await writer.append(i + 1, payloadOf(p));
  await writer.close();
  return dir;
}

/** Every record a reader finds, newest generation first: revision and payload (or the error reading it). */
async function readAll(dir: string): Promise<{ revision: number; payload: Buffer | string }[]> {
  const out: { revision: number; payload: Buffer | string }[] = [];
  for (const generation of await journalGenerations(dir)) {
    const fh = await open(join(dir, journalName(generation)), 'r');
    try {
      for (const record of (await scanJournal(fh, journalName(generation), generation)).records) {
        out.push({ revision: record.revision, payload: await readPayload(fh, record).catch((e: Error) => e.message) });
      }
    } finally {
      await fh.close();
    }
  }
  return out;
}

describe('snapshot journal', () => {
  it('writes records over zeros the file already holds, 0640, and reads them back', async () => {
    const dir = await written();
    expect(readdirSync(dir)).toEqual(['applied-1.journal']);
    const file = join(dir, 'applied-1.journal');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    const bytes = readFileSync(file);
    const used = payloads.reduce((n, p) => n + HEADER_BYTES + p.length, 0);
    expect(bytes.length).toBeGreaterThan(used);
    expect(bytes.subarray(used).every((b) => b === 0)).toBe(true);
    expect(await readAll(dir)).toEqual(payloads.map((p, i) => ({ revision: i + 1, payload: p })));
  });

  it('a journal cut or zeroed at any byte of its last record keeps the records before it; the writer then starts a new generation', async () => {
    const dir = await written();
    const file = join(dir, 'applied-1.journal');
    const whole = readFileSync(file);
    const start = HEADER_BYTES * 2 + (payloads[0] as Buffer).length + (payloads[1] as Buffer).length;
    const end = start + HEADER_BYTES + (payloads[2] as Buffer).length;
    for (let cut = start; cut < end; cut += cut < start + HEADER_BYTES + 4 ? 1 : 37) {
      for (const how of ['truncated', 'zeroed'] as const) {
        const copy = mkdtempSync(join(tmpdir(), 'fedpbx-journal-torn-'));
        const torn = Buffer.from(whole);
        if (how === 'zeroed') torn.fill(0, cut, end);
        writeFileSync(join(copy, 'applied-1.journal'), how === 'truncated' ? torn.subarray(0, cut) : torn);
        const found = await readAll(copy);
        expect(found.slice(0, 2), `${how} at ${cut}`).toEqual([1, 2].map((r) => ({ revision: r, payload: payloads[r - 1] })));
        // The torn record: no header that checks, or a payload that does not.
        if (found.length > 2) expect(found[2]?.payload, `${how} at ${cut}`).toMatch(/checksum|cut short/);
        // The next write goes where a reader finds it, never after the torn bytes unless they were only zeros.
        const writer = new JournalWriter(copy, 20);
        await writer.append(4, payloadOf(Buffer.from('{"revision":4}')));
        await writer.close();
        const after = await readAll(copy);
        expect(after.find((r) => r.revision === 4)?.payload, `${how} at ${cut}`).toEqual(Buffer.from('{"revision":4}'));
        expect(after.filter((r) => Buffer.isBuffer(r.payload)).map((r) => r.revision).sort()).toEqual([1, 2, 4]);
      }
    }
  }, 60_000);

  it('detects every bit flip: a record read back is the record written, or refused', async () => {
    const dir = await written();
    const file = join(dir, 'applied-1.journal');
    const whole = readFileSync(file);
    const used = payloads.reduce((n, p) => n + HEADER_BYTES + p.length, 0);
    const copy = mkdtempSync(join(tmpdir(), 'fedpbx-journal-flip-'));
    let refused = 0;
    for (let trial = 0; trial < 400; trial++) {
      const at = trial < 3 * HEADER_BYTES ? headerByte(trial) : Math.floor(Math.random() * used);
      const flipped = Buffer.from(whole);
      flipped[at] = (flipped[at] as number) ^ (1 << trial % 8);
      writeFileSync(join(copy, 'applied-1.journal'), flipped);
      const found = await readAll(copy);
      for (const record of found) {
        if (Buffer.isBuffer(record.payload)) expect(record.payload, `flip at ${at}`).toEqual(payloads[record.revision - 1]);
        else refused++;
      }
      // The flipped record is never among the intact ones.
      expect(found.filter((r) => Buffer.isBuffer(r.payload)).length, `flip at ${at}`).toBeLessThan(3);
    }
    expect(refused).toBeGreaterThan(0);
    function headerByte(i: number): number {
      const record = Math.floor(i / HEADER_BYTES);
      const offsets = [0, HEADER_BYTES + (payloads[0] as Buffer).length, 2 * HEADER_BYTES + (payloads[0] as Buffer).length + (payloads[1] as Buffer).length];
      return (offsets[record] as number) + (i % HEADER_BYTES);
    }
  });

  it('prunes by generation: at most historyLimit records each, the two newest kept, a damaged newest never appended to', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-journal-gen-'));
    const writer = new JournalWriter(dir, 4);
    for (let r = 1; r <= 9; r++) await writer.append(r, payloadOf(Buffer.from(`{"revision":${r}}`)));
    expect(readdirSync(dir).sort()).toEqual(['applied-2.journal', 'applied-3.journal']);
    expect((await readAll(dir)).map((r) => r.revision)).toEqual([9, 5, 6, 7, 8]);
    // A record larger than the generation's room starts a generation sized for it.
    const big = Buffer.alloc(1 << 20, 0x61);
    await writer.append(10, payloadOf(big));
    // (Buffer.equals: vitest compares a large buffer byte by byte, slowly.)
    expect(big.equals((await readAll(dir)).find((r) => r.revision === 10)?.payload as Buffer)).toBe(true);
    await writer.close();
    // Garbage after the newest generation's records (not zeros): a new writer leaves it and starts another.
    const newest = join(dir, 'applied-4.journal');
    const bytes = readFileSync(newest);
    bytes.write('garbage', HEADER_BYTES + big.length + 100);
    writeFileSync(newest, bytes);
    const again = new JournalWriter(dir, 4);
    await again.append(11, payloadOf(Buffer.from('{"revision":11}')));
    await again.close();
    expect(readdirSync(dir).sort()).toEqual(['applied-4.journal', 'applied-5.journal']);
    expect((await readAll(dir)).map((r) => r.revision)).toEqual([11, 10]);
  });

  it('a generation left without a record (a crash while it was created) does not cost the history', async () => {
    // Generations 1 and 2 full; killed after creating the third (nothing in it yet), or while writing its zeros.
    for (const size of [0, 1000]) {
      const dir = mkdtempSync(join(tmpdir(), 'fedpbx-journal-empty-'));
      const writer = new JournalWriter(dir, 3);
      for (let r = 1; r <= 6; r++) await writer.append(r, payloadOf(Buffer.from(`{"revision":${r}}`)));
      await writer.close();
      writeFileSync(join(dir, 'applied-3.journal'), Buffer.alloc(size));
      const again = new JournalWriter(dir, 3);
      await again.append(7, payloadOf(Buffer.from('{"revision":7}')));
      await again.close();
      // As without the crash: the full generation before kept with the new one.
      expect((await readAll(dir)).map((r) => r.revision), `${size} bytes`).toEqual([7, 4, 5, 6]);
      expect(readdirSync(dir).sort()).toEqual(['applied-2.journal', 'applied-3.journal']);
    }
  });

  it('bounds a generation\'s room: large records fill it with fewer than historyLimit, one larger than it gets its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-journal-room-'));
    const writer = new JournalWriter(dir, 20, 0o640, 1 << 20);
    const record = Buffer.alloc(300 << 10, 0x62);
    for (let r = 1; r <= 4; r++) await writer.append(r, payloadOf(record));
    // 1 MB of room: three 300 KB records, the fourth in the next generation, not 20 x 300 KB of zeros.
    expect(statSync(join(dir, 'applied-1.journal')).size).toBe(1 << 20);
    expect((await readAll(dir)).map((r) => r.revision)).toEqual([4, 1, 2, 3]);
    await writer.append(5, payloadOf(Buffer.alloc(3 << 20, 0x63)));
    expect(statSync(join(dir, 'applied-3.journal')).size).toBeGreaterThanOrEqual(3 << 20);
    expect((await readAll(dir)).map((r) => r.revision)).toEqual([5, 4]);
    await writer.close();
  });

  it('removes the temporary files a crash of an earlier version left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-journal-tmp-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, '.7.json.123.abcd.tmp'), 'half');
    copyFileSync(join(dir, '.7.json.123.abcd.tmp'), join(dir, '7.json'));
    const writer = new JournalWriter(dir, 4);
    await writer.append(8, payloadOf(Buffer.from('{}')));
    await writer.close();
    expect(readdirSync(dir).sort()).toEqual(['7.json', 'applied-1.journal', 'sub']);
  });

  it('encodes a long text a piece at a time to the same bytes and checksum, surrogate pairs across the pieces included', async () => {
    const unit = 'aé€😀';
    const text = `${'a'.repeat(2 ** 20 - 1)}😀${unit.repeat(Math.ceil((2 * 2 ** 20 + 7) / unit.length))}{"end":true}`;
    let pauses = 0;
    const payload = await payloadOfText(text, async () => void pauses++);
    const whole = Buffer.from(text, 'utf8');
    expect(pauses).toBeGreaterThanOrEqual(2);
    expect(Buffer.concat(payload.pieces).equals(whole)).toBe(true);
    expect(payload).toMatchObject({ length: whole.length, crc: crc32(whole) });
    // Written and read back whole.
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-journal-long-'));
    const writer = new JournalWriter(dir, 2);
    await writer.append(1, payload);
    await writer.close();
    expect(whole.equals((await readAll(dir))[0]?.payload as Buffer)).toBe(true);
    truncateSync(join(dir, 'applied-1.journal'), HEADER_BYTES + whole.length - 1);
    expect((await readAll(dir))).toEqual([]);
  });
});
