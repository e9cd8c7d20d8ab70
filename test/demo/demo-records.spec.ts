// The demo's call records (tools/demo-records.ts): the fallback sample's refused first attempt - Asterisk's CDR for a
// Dial that got CONGESTION says FAILED (cdr.conf congestion = no) - printed under its call as attempt 1 of 2 that
// went on, never as a TEHO call of its own that failed.
import { describe, expect, it } from 'vitest';
import { callRecordLines, type DemoCdr } from '../../tools/demo-records.js';

const cdr = (siteId: string, uniqueId: string, sequence: number, disposition: string, route: Partial<DemoCdr>, dst = '88125551234'): DemoCdr => ({
  siteId,
  uniqueId,
  cdrId: `${uniqueId}:${sequence}`,
  src: '101',
  dst,
  disposition,
  ...route,
});

describe('the demo call records', () => {
  // As the controller lists them (newest first, reversed by the demo): the two TEHO calls' records interleaved by start.
  const teho = { routeKind: 'teho', targetSiteId: 'piter', trunkId: 't-piter-city' };
  const cdrs = [
    cdr('moscow', '1796669481.19', 40, 'ANSWERED', teho),
    cdr('moscow', '1796669481.20', 42, 'ANSWERED', { routeKind: 'pstn', trunkId: 't-moscow-city' }),
    cdr('moscow', '1796669481.20', 41, 'FAILED', teho),
    cdr('piter', '1796669481.19', 7, 'ANSWERED', { routeKind: 'site', targetSiteId: 'moscow' }, '102'),
  ];
  const lines = callRecordLines(
    [
      { title: 'moscow 101 calls a St Petersburg number', siteId: 'moscow', uniqueId: '1796669481.19' },
      { title: 'the same call when piter cannot hop it off', siteId: 'moscow', uniqueId: '1796669481.20', refusedBecause: 'piter answered CONGESTION, as this sample makes it' },
      { title: 'piter 302 calls moscow 102', siteId: 'piter', uniqueId: '1796669481.19' },
    ],
    cdrs,
  );

  it("puts each record under its own call (site and uniqueid), in the call's attempt order", () => {
    expect(lines).toEqual([
      '  moscow 101 calls a St Petersburg number',
      '    moscow  101   -> 88125551234  ANSWERED  teho to piter via t-piter-city',
      '  the same call when piter cannot hop it off',
      '    moscow  101   -> 88125551234  FAILED    teho to piter via t-piter-city   (attempt 1 of 2: not answered - piter answered CONGESTION, as this sample makes it; the call went on to attempt 2, not a failed call)',
      '    moscow  101   -> 88125551234  ANSWERED  pstn via t-moscow-city   (attempt 2 of 2)',
      '  piter 302 calls moscow 102',
      '    piter   101   -> 102          ANSWERED  site to moscow',
    ]);
  });

  it('a last attempt that did not answer is not explained away, and a record of no sample is still shown', () => {
    const out = callRecordLines(
      [{ title: 'a call nobody answers', siteId: 'moscow', uniqueId: '1.1' }],
      [cdr('moscow', '1.1', 1, 'NO ANSWER', { routeKind: 'local' }, '102'), cdr('kazan', '9.9', 3, 'ANSWERED', {}, '101')],
    );
    expect(out).toEqual(['  a call nobody answers', '    moscow  101   -> 102          NO ANSWER local', '  other records', '    kazan   101   -> 101          ANSWERED  -']);
  });
});
