import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDiallable } from './route-resolver.js';

/** What isDiallable replaced in resolveRoute. */
const DIALLABLE = /^\+?[0-9*#]{1,32}$/;

describe('isDiallable', () => {
  it('answers as /^\\+?[0-9*#]{1,32}$/ does', () => {
    const numberLike = fc.string({ unit: fc.constantFrom(...'+0189*#,a \n/'), maxLength: 36 });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), numberLike), (s) => {
        expect(isDiallable(s)).toBe(DIALLABLE.test(s));
      }),
      { numRuns: 10000 },
    );
    for (const s of ['', '+', '++1', '1', '+1', '*#', '1'.repeat(32), '1'.repeat(33), `+${'1'.repeat(32)}`, `+${'1'.repeat(33)}`, '1+', '١٢']) {
      expect(isDiallable(s)).toBe(DIALLABLE.test(s));
    }
  });
});
