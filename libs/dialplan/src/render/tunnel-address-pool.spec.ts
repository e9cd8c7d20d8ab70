import { describe, expect, it } from 'vitest';
import { parseIp } from './net.js';
import { formatIp, TunnelAddressPool } from './tunnel-address-pool.js';

describe('TunnelAddressPool', () => {
  it('hands out the lowest free host address, skipping the network address and addresses in use', () => {
    const pool = TunnelAddressPool.parse('10.77.0.0/16');
    expect(pool.next([])).toBe('10.77.0.1');
    expect(pool.next(['10.77.0.1', '10.77.0.2', '10.77.0.4', '192.168.1.1', 'fd77::3'])).toBe('10.77.0.3');
    expect(pool.next(Array.from({ length: 255 }, (_, i) => `10.77.0.${i + 1}`))).toBe('10.77.1.0');
  });

  it('is full when every host is taken (IPv4 skips the broadcast address)', () => {
    const pool = TunnelAddressPool.parse('10.77.0.0/30');
    expect(pool.next(['10.77.0.1'])).toBe('10.77.0.2');
    expect(pool.next(['10.77.0.1', '10.77.0.2'])).toBeUndefined();
  });

  it('works in IPv6 and compares addresses as numbers', () => {
    const pool = TunnelAddressPool.parse('fd77::/64');
    expect(pool.next(['fd77:0:0::1'])).toBe('fd77::2');
  });

  it('refuses text that is not a usable network block, saying why', () => {
    expect(() => TunnelAddressPool.parse('10.77.0.0')).toThrow(/network block/);
    expect(() => TunnelAddressPool.parse('10.77.0.1/16')).toThrow(/after the prefix/);
    expect(() => TunnelAddressPool.parse('10.77.0.0/31')).toThrow(/no room/);
    expect(() => TunnelAddressPool.parse('10.77.0.0/16\nx')).toThrow(/network block/);
  });
});

describe('formatIp', () => {
  it('writes what parseIp reads, in canonical form', () => {
    for (const [text, canonical] of [
      ['10.0.255.7', '10.0.255.7'],
      ['fd77:0:0:0:0:0:0:1', 'fd77::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
      ['::', '::'],
      ['FD77:1::', 'fd77:1::'],
    ] as const) {
      expect(formatIp(parseIp(text)!)).toBe(canonical);
    }
  });
});
