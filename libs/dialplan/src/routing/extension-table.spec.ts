import type { Extension } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { ExtensionTable, runToEnd } from './extension-table.js';

const ext = (number: string, over: Partial<Extension> = {}): Extension => ({
  id: `e-${number}`,
  siteId: 's1',
  number,
  displayName: `Name ${number}`,
  voicemail: false,
  ringTimeoutSec: 20,
  ...over,
});

describe('ExtensionTable', () => {
  it('finds every extension by number with the fields routing reads', () => {
    const table = ExtensionTable.of([
      ext('101', { classOfServiceId: 'cos-a', voicemail: true, ringTimeoutSec: 45 }),
      ext('102', { endpoint: 'desk-102', displayName: 'Иван Петров' }),
      ext('0100', { classOfServiceId: 'cos-b' }),
      ext('100000000000009', { classOfServiceId: 'cos-a' }),
    ]);
    expect(table.size).toBe(4);
    expect(table.get('101')).toEqual({ number: '101', displayName: 'Name 101', classOfServiceId: 'cos-a', endpoint: undefined, voicemail: true, ringTimeoutSec: 45 });
    expect(table.get('102')).toEqual({ number: '102', displayName: 'Иван Петров', classOfServiceId: undefined, endpoint: 'desk-102', voicemail: false, ringTimeoutSec: 20 });
    expect(table.classOfServiceOf('0100')).toBe('cos-b');
    expect(table.classOfServiceOf('100000000000009')).toBe('cos-a');
    expect(table.get('100000000000009')?.displayName).toBe('Name 100000000000009');
  });

  it('keeps numbers of different lengths apart and refuses non-digits', () => {
    const table = ExtensionTable.of([ext('100'), ext('0100')]);
    expect(table.has('100')).toBe(true);
    expect(table.has('0100')).toBe(true);
    expect(table.has('00100')).toBe(false);
    expect(table.has('10a')).toBe(false);
    expect(table.has('')).toBe(false);
    expect(table.get('0100')?.number).toBe('0100');
  });

  it('agrees with a plain map on a large shuffled table', () => {
    const list: Extension[] = [];
    for (let i = 0; i < 5000; i++) {
      const n = String(((i * 7919) % 5000) + (i % 3 === 0 ? 10_000 : 1_000_000));
      list.push(ext(n, { classOfServiceId: i % 4 === 0 ? undefined : `cos-${i % 5}`, ringTimeoutSec: 5 + (i % 290), voicemail: i % 2 === 0 }));
    }
    const table = ExtensionTable.of(list);
    const map = new Map(list.map((e) => [e.number, e]));
    expect(table.size).toBe(map.size);
    for (const e of map.values()) {
      expect(table.get(e.number)).toEqual({
        number: e.number,
        displayName: e.displayName,
        classOfServiceId: e.classOfServiceId,
        endpoint: undefined,
        voicemail: e.voicemail,
        ringTimeoutSec: e.ringTimeoutSec,
      });
    }
    for (const miss of ['9999', '15000', '1005000', '0', '999999999999999']) expect(table.get(miss)).toBeUndefined();
  });

  it('answers every number alike whether its length is indexed directly (dense) or searched (sparse)', () => {
    // Length 4: 1000-1999 with every third number missing (dense: one read by offset). Length 6: 300 numbers
    // spread over 100000-999999 (sparse: the binary search). A repeat in each keeps its first row.
    const list: Extension[] = [];
    for (let n = 1000; n <= 1999; n++) if (n % 3 !== 0) list.push(ext(String(n), { ringTimeoutSec: 5 + (n % 100) }));
    for (let i = 0; i < 300; i++) list.push(ext(String(100_000 + i * 2999), { ringTimeoutSec: 5 + (i % 100) }));
    list.push(ext('1001', { displayName: 'repeat' }), ext('100000', { displayName: 'repeat' }));
    const map = new Map<string, Extension>();
    for (const e of list) if (!map.has(e.number)) map.set(e.number, e);
    const table = ExtensionTable.of(list);
    const moved = ExtensionTable.fromColumns(ExtensionTable.of(list).columns().columns);
    for (const t of [table, moved]) {
      for (let n = 990; n <= 2010; n++) expect(t.get(String(n))?.ringTimeoutSec).toBe(map.get(String(n))?.ringTimeoutSec);
      for (let n = 99_990; n <= 100_000 + 300 * 2999; n += 7) expect(t.has(String(n))).toBe(map.has(String(n)));
      for (const e of map.values()) expect(t.get(e.number)?.displayName).toBe(e.displayName);
      for (const miss of ['0999', '0000', '9999', '099999', '999999']) expect(t.has(miss)).toBe(map.has(miss));
    }
  });

  it('keeps the first of a repeated number', () => {
    const table = ExtensionTable.of([ext('200', { displayName: 'first' }), ext('200', { displayName: 'second' })]);
    expect(table.size).toBe(1);
    expect(table.get('200')?.displayName).toBe('first');
  });

  it('sorts numbers too long to pack with their row (15 digits) by comparator, keeping the first of a repeat', () => {
    const numbers = ['999999999999999', '100000000000000', '999999999999998', '500000000000000', '999999999999999', '123456789012345', '100000000000001', '000000000000001', '700000000000000'];
    const table = ExtensionTable.of(numbers.map((n, i) => ext(n, { displayName: `row ${i}` })));
    expect(table.size).toBe(8);
    expect(table.get('999999999999999')?.displayName).toBe('row 0');
    for (const [i, n] of numbers.entries()) if (i !== 4) expect(table.get(n)?.displayName).toBe(`row ${i}`);
    expect(table.has('999999999999997')).toBe(false);
  });

  it('takes only the extensions of the site it is built for', () => {
    const table = ExtensionTable.of([ext('100'), ext('101', { siteId: 's2' }), ext('102')], { siteId: 's1' });
    expect(table.size).toBe(2);
    expect(table.has('101')).toBe(false);
    expect(table.get('102')?.displayName).toBe('Name 102');
  });

  it('yields between slices of rows and gives the same table as a build at once', () => {
    const list = Array.from({ length: 95 }, (_, i) => ext(String(1000 + ((i * 37) % 95))));
    const steps = ExtensionTable.building(list, { rowsPerSlice: 10 });
    let yields = 0;
    let step = steps.next();
    for (; step.done !== true; step = steps.next()) yields++;
    expect(yields).toBe(10); // after rows 10, 20, ... 90, and before the index
    for (const e of list) expect(step.value.get(e.number)).toEqual(ExtensionTable.of(list).get(e.number));
  });
});

describe('ExtensionTable built over the table before', () => {
  const base = Array.from({ length: 2000 }, (_, i) => ext(String(((i * 7919) % 2000) + 5000), { classOfServiceId: `cos-${i % 3}`, ringTimeoutSec: 10 + (i % 50) }));
  const before = ExtensionTable.of(base);
  const view = (t: ExtensionTable, list: readonly Extension[]) => list.map((e) => t.get(e.number));

  it('takes over the number index when every row keeps its number (a rename), and leaves the table before as it was', () => {
    const renamed = base.map((e, i) => (i === 700 ? { ...e, displayName: 'Renamed', voicemail: true } : e));
    const after = ExtensionTable.of(renamed, { previous: before });
    expect(after.sharesIndexWith(before)).toBe(true);
    expect(after.get(base[700]!.number)).toMatchObject({ displayName: 'Renamed', voicemail: true });
    expect(before.get(base[700]!.number)).toMatchObject({ displayName: base[700]!.displayName, voicemail: false });
    expect(view(after, renamed)).toEqual(view(ExtensionTable.of(renamed), renamed));
  });

  it('sorts again when a number changes, one is added or one is removed, and answers as a fresh build', () => {
    const renumbered = base.map((e, i) => (i === 3 ? { ...e, number: '9999' } : e));
    const added = [...base, ext('4999')];
    const removed = base.slice(1);
    for (const list of [renumbered, added, removed]) {
      const after = ExtensionTable.of(list, { previous: before });
      expect(after.sharesIndexWith(before)).toBe(false);
      expect(after.size).toBe(ExtensionTable.of(list).size);
      expect(view(after, base)).toEqual(view(ExtensionTable.of(list), base));
      expect(view(after, list)).toEqual(view(ExtensionTable.of(list), list));
    }
    expect(ExtensionTable.of(renumbered, { previous: before }).has(base[3]!.number)).toBe(false);
  });

  it('agrees with a fresh build over random edits', () => {
    let previous = before;
    let list: Extension[] = base;
    let seed = 7;
    const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 30; round++) {
      const i = random(list.length);
      const kind = random(4);
      const e = list[i]!;
      if (kind === 0) list = list.map((x, j) => (j === i ? { ...x, displayName: `N${round}` } : x));
      else if (kind === 1) list = list.map((x, j) => (j === i ? { ...x, classOfServiceId: undefined, endpoint: `desk-${round}` } : x));
      else if (kind === 2) list = [...list.slice(0, i), ...list.slice(i + 1)];
      else list = [...list, ext(String(7000 + round))];
      const after = runToEnd(ExtensionTable.building(list, { previous, rowsPerSlice: 333 }));
      expect(view(after, [...list, e])).toEqual(view(ExtensionTable.of(list), [...list, e]));
      previous = after;
    }
  });
});
