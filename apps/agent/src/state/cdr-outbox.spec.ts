import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CdrEvent } from '@fedpbx/contracts';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AlarmBoard } from '../alarms/alarm-board.js';
import { CDR_OUTBOX_ALARM, CdrOutbox, cdrDir } from './cdr-outbox.js';

const cdr = (i: number): CdrEvent => ({
  type: 'cdr',
  cdrId: `moscow-1.${i}:1`,
  uniqueId: `moscow-1.${i}`,
  linkedId: `moscow-1.${i}`,
  start: '2026-12-07T10:00:00.000Z',
  end: '2026-12-07T10:00:10.000Z',
  durationSec: 10,
  billSec: 8,
  src: '101',
  dst: '301',
  disposition: 'ANSWERED',
});

describe('CdrOutbox', () => {
  it('a write that fails (disk full, a broken state dir) raises a critical alarm, cleared by the next write that works', async () => {
    // The live AMI CDR's only trace is a log line otherwise, and with FEDPBX_CDR_FILE the file source's alarm blames
    // the CDR file it read fine: the site's admin must see that CDRs are not being stored, and why.
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-outbox-'));
    try {
      const registry = new Registry();
      const alarms = new AlarmBoard(pino({ level: 'silent' }), registry);
      const outbox = new CdrOutbox(stateDir, { lingerMs: 0, alarms });
      writeFileSync(cdrDir(stateDir), 'not a directory'); // every write fails, as root too (no permission trick)
      await expect(outbox.add(cdr(1))).rejects.toThrow();
      expect(alarms.get(CDR_OUTBOX_ALARM)).toMatchObject({ severity: 'critical', message: expect.stringMatching(/CDRs cannot be stored in .*cdr \((EEXIST|ENOTDIR)\)/) });
      expect(await registry.getSingleMetricAsString('fedpbx_alarm')).toContain(`fedpbx_alarm{code="${CDR_OUTBOX_ALARM}",severity="critical"} 1`);

      rmSync(cdrDir(stateDir));
      mkdirSync(cdrDir(stateDir));
      expect(await outbox.add(cdr(1))).toBe(true);
      expect(alarms.get(CDR_OUTBOX_ALARM)).toBeUndefined();
      expect(readFileSync(join(cdrDir(stateDir), '2026-12-07.jsonl'), 'utf8')).toContain('"cdrId":"moscow-1.1:1"');
      await outbox.settled();
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
