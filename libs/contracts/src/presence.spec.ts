import { describe, expect, it } from 'vitest';
import { PresenceBatch, readPresenceBatch } from './index.js';

const valid = { siteId: 'piter', epoch: 'a1b2c3', seq: 7, full: false, states: { '301': 'INUSE', '302': 'NOT_INUSE' }, firstChangeAt: 1_700_000_000_000 };

/** Each a change of one thing in a valid batch (or something else entirely), as a hostile or broken sender may send it. */
const variants: [string, unknown][] = [
  ['valid', valid],
  ['valid without firstChangeAt', { ...valid, firstChangeAt: undefined }],
  ['valid, full, no states', { ...valid, full: true, states: {} }],
  ['every state name', { ...valid, states: Object.fromEntries(['NOT_INUSE', 'INUSE', 'BUSY', 'RINGING', 'RINGINUSE', 'ONHOLD', 'UNAVAILABLE'].map((s, i) => [String(100 + i), s])) }],
  ['an unknown key', { ...valid, extra: 1 }],
  ['__proto__ as a key (JSON)', JSON.parse('{"siteId":"piter","epoch":"e","seq":1,"full":false,"states":{},"__proto__":{"x":1}}')],
  ['siteId upper case', { ...valid, siteId: 'Piter' }],
  ['siteId too long', { ...valid, siteId: `p${'x'.repeat(31)}` }],
  ['siteId 31 characters', { ...valid, siteId: `p${'x'.repeat(30)}` }],
  ['siteId a number', { ...valid, siteId: 5 }],
  ['siteId missing', { ...valid, siteId: undefined }],
  ['epoch empty', { ...valid, epoch: '' }],
  ['epoch 64', { ...valid, epoch: 'e'.repeat(64) }],
  ['epoch 65', { ...valid, epoch: 'e'.repeat(65) }],
  ['epoch a number', { ...valid, epoch: 1 }],
  ['seq negative', { ...valid, seq: -1 }],
  ['seq -0', { ...valid, seq: -0 }],
  ['seq fractional', { ...valid, seq: 1.5 }],
  ['seq unsafe', { ...valid, seq: 2 ** 53 }],
  ['seq NaN', { ...valid, seq: Number.NaN }],
  ['seq Infinity', { ...valid, seq: Number.POSITIVE_INFINITY }],
  ['seq a string', { ...valid, seq: '7' }],
  ['full a string', { ...valid, full: 'false' }],
  ['full missing', { ...valid, full: undefined }],
  ['states an array', { ...valid, states: ['INUSE'] }],
  ['states null', { ...valid, states: null }],
  ['states a string', { ...valid, states: 'INUSE' }],
  ['a number with a letter', { ...valid, states: { '30a': 'INUSE' } }],
  ['a number of 16 digits', { ...valid, states: { '1234567890123456': 'INUSE' } }],
  ['a number of 15 digits', { ...valid, states: { '123456789012345': 'INUSE' } }],
  ['an empty number', { ...valid, states: { '': 'INUSE' } }],
  ['UNKNOWN (not shared)', { ...valid, states: { '301': 'UNKNOWN' } }],
  ['a state in lower case', { ...valid, states: { '301': 'inuse' } }],
  ['a state that is a number', { ...valid, states: { '301': 1 } }],
  ['a state that is an object', { ...valid, states: { '301': { toString: 'INUSE' } } }],
  ['firstChangeAt negative', { ...valid, firstChangeAt: -5 }],
  ['firstChangeAt a string', { ...valid, firstChangeAt: '5' }],
  ['firstChangeAt null', { ...valid, firstChangeAt: null }],
  ['null', null],
  ['an array', [valid]],
  ['a string', JSON.stringify(valid)],
  ['a number', 42],
];

describe('readPresenceBatch (the watcher hot path check)', () => {
  it.each(variants)('accepts exactly what PresenceBatch accepts: %s', (_name, input) => {
    const read = readPresenceBatch(input);
    const parsed = PresenceBatch.safeParse(input);
    expect(read !== undefined).toBe(parsed.success);
    if (parsed.success) expect(read).toEqual(parsed.data);
  });

  it('refuses a batch naming __proto__ as an extension (the schema drops that key silently; the batch is not what was sent)', () => {
    const input = JSON.parse('{"siteId":"piter","epoch":"e","seq":1,"full":false,"states":{"__proto__":"INUSE"}}') as unknown;
    expect(PresenceBatch.safeParse(input).success).toBe(true);
    expect(readPresenceBatch(input)).toBeUndefined();
  });

  it('returns the batch itself, not a copy', () => {
    const input = JSON.parse(JSON.stringify(valid)) as unknown;
    expect(readPresenceBatch(input)).toBe(input);
  });
});
