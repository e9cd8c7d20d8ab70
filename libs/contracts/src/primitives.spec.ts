import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FederationCallId, isFederationCallId } from './primitives.js';

describe('isFederationCallId', () => {
  it('answers as the FederationCallId schema does', () => {
    const edge = fc.array(fc.constantFrom(...'az09AZ-_./:;`{@[\n é'), { maxLength: 40 }).map((cs) => cs.join(''));
    const callIdLike = fc
      .tuple(fc.string({ unit: fc.constantFrom(...'abz09-A_/'), maxLength: 33 }), fc.constantFrom('/', '', '//'), fc.string({ unit: fc.constantFrom(...'azAZ09_.-/:é'), maxLength: 66 }))
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 120 }), edge, callIdLike), (s) => {
        expect(isFederationCallId(s)).toBe(FederationCallId.safeParse(s).success);
      }),
      { numRuns: 10000 },
    );
    const cases = ['site-0000/1733000000.12', 'a/b', 'A/b', '1a/b', `a${'b'.repeat(30)}/x`, `a${'b'.repeat(31)}/x`, `a/${'x'.repeat(64)}`, `a/${'x'.repeat(65)}`, 'a/', '/x', 'a/b/c', 'a/b c', 'a-/x.y_z-1'];
    for (const s of cases) expect(isFederationCallId(s)).toBe(FederationCallId.safeParse(s).success);
  });
});
