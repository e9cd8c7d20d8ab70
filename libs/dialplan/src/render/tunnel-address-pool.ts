/**
 * The block tunnel addresses are handed out from (controller setting FEDPBX_VPN_POOL): each site gets one host
 * address of it, the lowest one no site holds yet. Pure: the caller passes the addresses in use.
 */
import { isNetworkAddress, parseCidr, parseIp, type CidrValue, type IpAddressValue } from './net.js';

export class TunnelAddressPool {
  private constructor(
    readonly text: string,
    private readonly cidr: CidrValue,
  ) {}

  /**
   * `10.77.0.0/16`, `fd77::/64`. Throws with the reason when the text is not a network block with room for at
   * least two hosts (an IPv4 /31 or /32 has no network and broadcast address to skip; neither is worth a pool).
   */
  static parse(text: string): TunnelAddressPool {
    const cidr = parseCidr(text);
    if (cidr === undefined) throw new Error('a network block, e.g. 10.77.0.0/16 or fd77::/64');
    if (!isNetworkAddress(cidr)) throw new Error('bits set after the prefix (write the network address)');
    if (cidr.prefix > width(cidr.ip) - 2) throw new Error(`a /${cidr.prefix} has no room for sites (at most /${width(cidr.ip) - 2})`);
    return new TunnelAddressPool(text, cidr);
  }

  /**
   * The lowest host address of the block that none of `used` is (compared as numbers, so `fd77::1` and
   * `fd77:0::1` are one address), or undefined when the block is full. Skips the network address, and in IPv4
   * the broadcast address.
   */
  next(used: Iterable<string>): string | undefined {
    const { ip, prefix } = this.cidr;
    const taken = new Set<bigint>();
    for (const text of used) {
      const u = parseIp(text);
      if (u?.version === ip.version) taken.add(u.value);
    }
    const size = 1n << BigInt(width(ip) - prefix);
    const last = ip.value + size - (ip.version === 4 ? 2n : 1n);
    for (let value = ip.value + 1n; value <= last; value++) {
      if (!taken.has(value)) return formatIp({ version: ip.version, value });
    }
    return undefined;
  }
}

function width(ip: IpAddressValue): number {
  return ip.version === 4 ? 32 : 128;
}

/** Dotted quad, or RFC 5952 text (lower case, the longest run of two or more zero groups as `::`). */
export function formatIp(ip: IpAddressValue): string {
  if (ip.version === 4) return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}
