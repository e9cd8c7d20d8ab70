/**
 * IPv4/IPv6 addresses and CIDR blocks, parsed strictly enough to be written into config text: no leading
 * zeros in IPv4 octets, no zone ids, no embedded IPv4 in IPv6 (none of which fedpbx needs).
 */

export interface IpAddressValue {
  readonly version: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  readonly value: bigint;
}

export interface CidrValue {
  readonly ip: IpAddressValue;
  readonly prefix: number;
}

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function parseIp(text: string): IpAddressValue | undefined {
  if (IPV4.test(text)) {
    let value = 0n;
    for (const octet of text.split('.')) value = (value << 8n) | BigInt(Number(octet));
    return { version: 4, value };
  }
  return parseIpv6(text);
}

function parseIpv6(text: string): IpAddressValue | undefined {
  if (text.length < 2 || text.length > 39 || !/^[0-9A-Fa-f:]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): string[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    return groups.every((g) => HEX_GROUP.test(g)) ? groups : undefined;
  };
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  const present = head.length + tail.length;
  if (halves.length === 2 ? present > 7 : present !== 8) return undefined;
  const groups = [...head, ...Array<string>(8 - present).fill('0'), ...tail];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(parseInt(group, 16));
  return { version: 6, value };
}

/** `10.77.0.0/24`, `fd00::/64`. The prefix is required. */
export function parseCidr(text: string): CidrValue | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (ip === undefined || !/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bits(ip)) return undefined;
  return { ip, prefix };
}

/** Whether the CIDR has no bits set after its prefix (`10.77.0.0/24` yes, `10.77.0.1/24` no). */
export function isNetworkAddress(cidr: CidrValue): boolean {
  return (cidr.ip.value & hostMask(cidr)) === 0n;
}

/** Whether two blocks share at least one address (same IP version and one contains the other). */
export function cidrsOverlap(a: CidrValue, b: CidrValue): boolean {
  if (a.ip.version !== b.ip.version) return false;
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = networkMask(bits(a.ip), prefix);
  return (a.ip.value & mask) === (b.ip.value & mask);
}

/** `host:port`, with IPv6 literals in brackets as SIP URIs, `bind=` and WireGuard `Endpoint` want them. */
export function hostPort(host: string, port: number): string {
  return parseIp(host)?.version === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function bits(ip: IpAddressValue): number {
  return ip.version === 4 ? 32 : 128;
}

function networkMask(width: number, prefix: number): bigint {
  const all = (1n << BigInt(width)) - 1n;
  return all ^ ((1n << BigInt(width - prefix)) - 1n);
}

function hostMask(cidr: CidrValue): bigint {
  return (1n << BigInt(bits(cidr.ip) - cidr.prefix)) - 1n;
}
