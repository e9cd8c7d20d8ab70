import { AmiHeaders, type AmiHeader } from '@fedpbx/asterisk';
import { describe, expect, it } from 'vitest';
import { CDR_COLUMNS } from '../cdr/cdr-columns.js';
import { cdrFromColumns, isoTime } from '../cdr/cdr-record.js';
import { mapCdr, parseCdrTime } from './cdr-mapper.js';

/**
 * mapCdr reads the Cdr event's headers in one pass into the columns (names remembered as they come). It must read
 * what AmiHeaders.get reads - the first header of a name, compared case-insensitively - whatever the event holds.
 */
describe('mapCdr reads each column as AmiHeaders.get does', () => {
  let seed = 5;
  const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const pick = <T>(xs: readonly T[]): T => xs[next(xs.length)]!;
  const recase = (name: string): string => [...name].map((c) => (next(2) === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
  const VALUES = ['', ' x ', '1795696107.1', 'moscow', 'site', 'ANSWERED', 'NO ANSWER', '2026-11-26 12:28:27', '2026-11-26 12:28:37', '60', '-1', 'PJSIP/site-piter-00000001', 'x'.repeat(200)];
  const OTHER = ['Event', 'Privilege', 'SystemName', 'AccountCode', 'Channel', 'AMAFlags', 'UserField', ''];

  it('for 3,000 events of shuffled, re-cased, repeated and foreign headers', () => {
    for (let i = 0; i < 3000; i++) {
      const list: AmiHeader[] = [];
      const count = 5 + next(40);
      for (let h = 0; h < count; h++) {
        const name = next(4) === 0 ? pick(OTHER) : pick(CDR_COLUMNS).ami;
        list.push({ key: next(3) === 0 ? recase(name) : name, value: pick(VALUES) });
      }
      const headers = new AmiHeaders(list);
      const ami = new Map(CDR_COLUMNS.map((c) => [c.key, c.ami]));
      const reference = cdrFromColumns(
        (key) => headers.get(ami.get(key)!),
        (key) => {
          const text = headers.get(ami.get(key)!);
          return text === undefined || text === '' ? undefined : isoTime(parseCdrTime(text));
        },
      );
      expect(mapCdr(headers)).toEqual(reference);
    }
  });
});
