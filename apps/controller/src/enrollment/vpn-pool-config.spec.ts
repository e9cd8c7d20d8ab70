import { describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../config.js';

describe('FEDPBX_VPN_POOL', () => {
  it('defaults to 10.77.0.0/16 and refuses a block that is no pool, naming the variable', () => {
    expect(loadControllerConfig({}).FEDPBX_VPN_POOL.next([])).toBe('10.77.0.1');
    expect(loadControllerConfig({ FEDPBX_VPN_POOL: 'fd77::/64' }).FEDPBX_VPN_POOL.next(['fd77::1'])).toBe('fd77::2');
    expect(() => loadControllerConfig({ FEDPBX_VPN_POOL: '10.77.0.1/16' })).toThrow(/FEDPBX_VPN_POOL: bits set after the prefix/);
    expect(() => loadControllerConfig({ FEDPBX_VPN_POOL: '10.77.0.0/32' })).toThrow(/FEDPBX_VPN_POOL: a \/32 has no room/);
    expect(() => loadControllerConfig({ FEDPBX_VPN_POOL: 'vpn' })).toThrow(/FEDPBX_VPN_POOL: a network block/);
  });
});
