import { describe, expect, it } from 'vitest';
import { cidrsOverlap, hostPort, isNetworkAddress, parseCidr, parseIp } from './net.js';

describe('net', () => {
  it('parses IPv4 strictly', () => {
    expect(parseIp('10.77.0.1')).toEqual({ version: 4, value: 0x0a4d0001n });
    for (const bad of ['10.77.0', '10.77.0.256', '010.1.1.1', '1.2.3.4 ', 'a.b.c.d']) expect(parseIp(bad)).toBeUndefined();
  });

  it('parses IPv6 with and without ::', () => {
    expect(parseIp('fd00::1')?.value).toBe((0xfd00n << 112n) | 1n);
    expect(parseIp('::')?.value).toBe(0n);
    expect(parseIp('1:2:3:4:5:6:7:8')?.version).toBe(6);
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', 'fd00::1%eth0', '::ffff:1.2.3.4', '12345::', ':']) expect(parseIp(bad)).toBeUndefined();
  });

  it('parses CIDRs and compares blocks', () => {
    const a = parseCidr('10.77.0.0/24');
    const b = parseCidr('10.77.0.2/32');
    const c = parseCidr('10.78.0.0/16');
    expect(a && b && c).toBeTruthy();
    if (!a || !b || !c) return;
    expect(isNetworkAddress(a)).toBe(true);
    expect(isNetworkAddress(parseCidr('10.77.0.1/24') ?? a)).toBe(false);
    expect(cidrsOverlap(a, b)).toBe(true);
    expect(cidrsOverlap(a, c)).toBe(false);
    expect(cidrsOverlap(a, parseCidr('fd00::/8') ?? a)).toBe(false);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/08', 'fd00::/129']) expect(parseCidr(bad)).toBeUndefined();
  });

  it('brackets IPv6 in host:port', () => {
    expect(hostPort('10.0.0.1', 5060)).toBe('10.0.0.1:5060');
    expect(hostPort('fd00::1', 5060)).toBe('[fd00::1]:5060');
    expect(hostPort('sip.example', 5061)).toBe('sip.example:5061');
  });
});
