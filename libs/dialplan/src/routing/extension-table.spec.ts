import type { Extension } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { ExtensionTable } from './extension-table.js';

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
    const table = new ExtensionTable([
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
    const table = new ExtensionTable([ext('100'), ext('0100')]);
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
    const table = new ExtensionTable(list);
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

  it('keeps the first of a repeated number', () => {
    const table = new ExtensionTable([ext('200', { displayName: 'first' }), ext('200', { displayName: 'second' })]);
    expect(table.size).toBe(1);
    expect(table.get('200')?.displayName).toBe('first');
  });
});
