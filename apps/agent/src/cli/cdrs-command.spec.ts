import { mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CdrEvent } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { CdrOutbox } from '../state/cdr-outbox.js';
import { runCdrsCommand } from './cdrs-command.js';

const cdr = (i: number, end: string): CdrEvent => ({
  type: 'cdr',
  cdrId: `moscow-1.${i}:1`,
  uniqueId: `moscow-1.${i}`,
  linkedId: `moscow-1.${i}`,
  start: end,
  end,
  durationSec: 10,
  billSec: 8,
  src: '101',
  dst: '301',
  disposition: 'ANSWERED',
  routeKind: 'site',
  targetSiteId: 'piter',
});

async function run(stateDir: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d: Buffer) => (o += d.toString()));
  err.on('data', (d: Buffer) => (e += d.toString()));
  const code = await runCdrsCommand(args, { FEDPBX_STATE_DIR: stateDir }, out, err);
  return { code, out: o, err: e };
}

describe('fedpbx-agent cdrs', () => {
  it('prints the newest records from the outbox, oldest first, filtered by --since and --limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cdrs-'));
    const outbox = new CdrOutbox(dir);
    for (let i = 0; i < 5; i++) await outbox.add(cdr(i, `2026-11-2${5 + (i >> 1)}T10:0${i}:00.000Z`));
    appendFileSync(join(dir, 'cdr', '2026-11-26.jsonl'), '{"torn":\n');

    const all = await run(dir, ['--json']);
    expect(all.code).toBe(0);
    expect(all.out.trim().split('\n').map((l) => (JSON.parse(l) as CdrEvent).cdrId)).toEqual([0, 1, 2, 3, 4].map((i) => `moscow-1.${i}:1`));
    expect(all.err).toBe('1 unreadable line(s) skipped\n');

    const recent = await run(dir, ['--since', '2026-11-26T10:02:30Z', '--json']);
    expect(recent.out.trim().split('\n').map((l) => (JSON.parse(l) as CdrEvent).cdrId)).toEqual(['moscow-1.3:1', 'moscow-1.4:1']);

    const last2 = await run(dir, ['--limit', '2']);
    expect(last2.out).toContain('moscow-1.3:1');
    expect(last2.out).toContain('site to piter');
    expect(last2.out).not.toContain('moscow-1.2:1');
    expect(last2.out).toContain(`2 call records from ${join(dir, 'cdr')}`);
  });

  it('works with no outbox at all and refuses bad options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cdrs-'));
    expect((await run(dir, [])).out).toBe(`0 call records from ${join(dir, 'cdr')}\n`);
    expect((await run(dir, ['--since', 'yesterday'])).code).toBe(2);
    expect((await run(dir, ['--limit', '0'])).code).toBe(2);
    expect((await run(dir, ['--bogus'])).code).toBe(2);
  });
});
