import { CdrEvent } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { CDR_COLUMNS, type CdrColumnKey } from './cdr-columns.js';
import { cdrFromFileRecord } from './cdr-record.js';

/**
 * cdrFromColumns no longer runs the CdrEvent schema over what it built (a third of the agent's CPU per CDR): every
 * field is made to fit. These hold it to the schema over hostile column values of both kinds of source.
 */
describe('cdrFromColumns: every record it makes is a CdrEvent', () => {
  const HOSTILE = ['', ' ', '0', '-1', '1.5', '1e3', '1e20', '9007199254740993', 'Infinity', 'NaN', '0x10', 'x'.repeat(300), 'a\nb', '"\\', '٣', 'moscow', 'site', 'moscow/1.2', 'PJSIP/site-piter-00000001', '253402300800', '99999999999999'];
  const KEYS = CDR_COLUMNS.map((c) => c.key);
  /** A small deterministic generator: the same cases on every run. */
  let seed = 17;
  const pick = <T>(xs: readonly T[]): T => xs[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % xs.length]!;

  it('for 5,000 records of hostile column values', () => {
    let made = 0;
    for (let i = 0; i < 5000; i++) {
      const record = new Map<CdrColumnKey, string>(KEYS.map((k) => [k, pick(HOSTILE)]));
      record.set('uniqueId', pick(['1795696107.1', ...HOSTILE]));
      if (i % 2 === 0) for (const k of ['start', 'answer', 'end'] as const) record.set(k, pick(['1795696107', '1795696107.5', ...HOSTILE]));
      const result = cdrFromFileRecord(record);
      if (!result.ok) continue;
      made += 1;
      const parsed = CdrEvent.safeParse(result.cdr);
      expect(parsed.success, `${JSON.stringify([...record])}: ${parsed.error?.message}`).toBe(true);
    }
    expect(made).toBeGreaterThan(100);
  });

  it('leaves out what does not fit: unsafe integers, a time past year 9999', () => {
    const base = new Map<CdrColumnKey, string>([
      ['uniqueId', '1795696107.1'],
      ['start', '1795696107'],
      ['end', '1795696117'],
      ['duration', '9007199254740993'],
      ['billsec', '10'],
      ['revision', '1e300'],
      ['disposition', 'ANSWERED'],
    ]);
    const ok = cdrFromFileRecord(base);
    expect(ok).toMatchObject({ ok: true, cdr: { durationSec: 0, billSec: 10, end: '2026-11-26T12:28:37.000Z' } });
    expect(ok.ok && 'snapshotRevision' in ok.cdr).toBe(false);
    expect(cdrFromFileRecord(new Map([...base, ['end', '253402300800']]))).toEqual({ ok: false, reason: 'CDR 1795696107.1: unreadable start/end time' });
  });
});
