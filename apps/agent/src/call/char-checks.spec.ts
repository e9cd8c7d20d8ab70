import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLegField, isPjsipChannel, isTagValue } from './char-checks.js';

// The regular expressions the loops replace, as they were in call-handler.ts and call-legs.ts.
const TAG_VALUE = /^[A-Za-z0-9_.:/-]*$/;
const FIELD = /^[A-Za-z0-9_.:+*#-]{0,64}$/;
const PJSIP_CHANNEL = /^PJSIP\/.+-[0-9a-f]{8}$/;

/** Strings near the edges: the characters around each class's bounds, line terminators, non-ASCII. */
const EDGE = [...'-./09:;@AZ[`az{_+*#,$ \n\r\u2028\u2029\u00e9\u0416PJSI', '\uD83D\uDE00'];
const edgeString = (maxLength: number) => fc.array(fc.constantFrom(...EDGE), { maxLength }).map((cs) => cs.join(''));
const anyString = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), edgeString(80));

describe('char checks: the same answers as the regular expressions they replace', () => {
  it('isTagValue is /^[A-Za-z0-9_.:/-]*$/', () => {
    fc.assert(fc.property(anyString, (s) => {
      expect(isTagValue(s)).toBe(TAG_VALUE.test(s));
    }), { numRuns: 5000 });
    for (const s of ['', 'local', 'site-0017/1733000000.12', 'fedpbx/site-0000/20261207-x.wav', 'a,b', 'a b', 'é']) expect(isTagValue(s)).toBe(TAG_VALUE.test(s));
  });

  it('isLegField is /^[A-Za-z0-9_.:+*#-]{0,64}$/', () => {
    fc.assert(fc.property(anyString, (s) => {
      expect(isLegField(s)).toBe(FIELD.test(s));
    }), { numRuns: 5000 });
    for (const s of ['', 'x'.repeat(64), 'x'.repeat(65), '+7495*#', 'a/b', 'site-0017', 'trunk-city']) expect(isLegField(s)).toBe(FIELD.test(s));
  });

  it('isPjsipChannel is /^PJSIP\\/.+-[0-9a-f]{8}$/', () => {
    const hex = fc.array(fc.constantFrom(...'0123456789abcdefABg'), { minLength: 7, maxLength: 9 }).map((cs) => cs.join(''));
    const channelLike = fc.tuple(fc.constantFrom('PJSIP/', 'PJSIP', 'pjsip/', 'SIP/', ''), edgeString(12), fc.constantFrom('-', '', '_'), hex).map((parts) => parts.join(''));
    fc.assert(fc.property(fc.oneof(anyString, channelLike), (s) => {
      expect(isPjsipChannel(s)).toBe(PJSIP_CHANNEL.test(s));
    }), { numRuns: 10000 });
    for (const s of ['PJSIP/101-0000002a', 'PJSIP/-0000002a', 'PJSIP/x-0000002A', 'PJSIP/a-b-0000002a', 'PJSIP/\n-0000002a', 'PJSIP/trunk-city-0000002b', 'Local/101@x-0000002a;1']) {
      expect(isPjsipChannel(s)).toBe(PJSIP_CHANNEL.test(s));
    }
  });
});
