import { foundingScenario } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { emergencyTrunkWarnings } from './emergency-trunk-warnings.js';

const at = '2026-12-06T22:00:00.000Z';
const trunk = (trunkId: string, state: 'up' | 'down' | 'unknown') => ({ trunkId, state, at });

describe('health view: emergency-capable trunk down (#17 §1)', () => {
  const fed = foundingScenario();

  it("warns when piter's only emergency trunk is down, and not while it is up or unknown", () => {
    expect(emergencyTrunkWarnings(fed.trunks, { siteId: 'piter', trunks: [trunk('t-piter-city', 'down')] })).toEqual([
      {
        code: 'emergency-trunk-down',
        message: 'every emergency-capable trunk of piter is down (t-piter-city): its emergency calls are still tried there, but may fail',
        trunkIds: ['t-piter-city'],
      },
    ]);
    expect(emergencyTrunkWarnings(fed.trunks, { siteId: 'piter', trunks: [trunk('t-piter-city', 'up')] })).toEqual([]);
    expect(emergencyTrunkWarnings(fed.trunks, { siteId: 'piter', trunks: [trunk('t-piter-city', 'unknown')] })).toEqual([]);
    // Another site's trunk being down is not piter's emergency path.
    expect(emergencyTrunkWarnings(fed.trunks, { siteId: 'piter', trunks: [trunk('t-moscow-city', 'down')] })).toEqual([]);
  });

  it('says how many remain when one of several is down; a trunk that may not carry emergency calls does not count', () => {
    const trunks = [...fed.trunks, { ...fed.trunks[1]!, id: 't-piter-2', name: 'piter-2' }, { ...fed.trunks[1]!, id: 't-piter-data', name: 'piter-data', emergency: false }];
    const [w] = emergencyTrunkWarnings(trunks, { siteId: 'piter', trunks: [trunk('t-piter-city', 'down'), trunk('t-piter-data', 'down')] });
    expect(w).toMatchObject({ trunkIds: ['t-piter-city'], message: 'emergency-capable trunk t-piter-city of piter is down; 1 other remains' });
  });
});
