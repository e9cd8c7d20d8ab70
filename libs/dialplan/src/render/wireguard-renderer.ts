/**
 * WireGuard config text for the site-to-site tunnel mesh.
 *
 * The private key never appears in generated text: it is made on the site (ARCHITECTURE.md, "keys made on
 * site") and stays in a root-only file. The wg-quick config loads it with
 * `PostUp = wg set %i private-key <path>` (wg-quick brings the interface up without a key, then runs PostUp);
 * keep `SaveConfig` off (the default), or `wg-quick down` would write the key into the file. The `wg setconf`
 * variant has no PrivateKey line, which leaves the interface's key as it is - the agent sets it once with
 * `wg set <if> private-key <path>` and can then apply peer changes with `wg syncconf <if> <file>`.
 *
 * Everything written is checked: keys are base64 of 32 bytes, addresses and AllowedIPs are CIDRs, AllowedIPs
 * are network addresses that no two peers share (WireGuard would silently move an overlapping block to the
 * last peer), endpoints are `host:port` or `[ipv6]:port`, and paths are plain absolute paths (PostUp runs
 * through bash).
 */
import { cidrsOverlap, isNetworkAddress, parseCidr, parseIp, type CidrValue } from './net.js';
import { RenderError } from './render-errors.js';
import { safeAbsolutePath, safeHost, safeInt, safePort, safeSiteId, safeWireguardKey, type ValueSite } from './safe-values.js';

export interface WireguardPeerInput {
  /** The site at the other end (used in a comment only). */
  readonly siteId: string;
  readonly publicKey: string;
  /** `host:port` or `[ipv6]:port`; absent for a peer that only connects to us (dynamic address). */
  readonly endpoint?: string;
  /** Network blocks routed to this peer, e.g. `10.77.0.2/32`. */
  readonly allowedIps: readonly string[];
  /** Seconds; set on the side behind NAT (e.g. 25). */
  readonly persistentKeepalive?: number;
  /** Optional pre-shared key file, loaded by PostUp like the private key. */
  readonly presharedKeyPath?: string;
}

export interface WireguardInterfaceInput {
  /** This site (used in the header comment). */
  readonly siteId?: string;
  /** Absolute path of this site's private key file, e.g. `/etc/wireguard/fedpbx.key`. */
  readonly privateKeyPath: string;
  /** Tunnel address(es) with prefix, e.g. `10.77.0.1/24`. */
  readonly address: string | readonly string[];
  readonly listenPort?: number;
  readonly mtu?: number;
  readonly peers: readonly WireguardPeerInput[];
}

export type WireguardSetconfInput = Pick<WireguardInterfaceInput, 'siteId' | 'listenPort' | 'peers'>;

/** A `wg-quick` config (`/etc/wireguard/<if>.conf`). */
export function renderWireguard(input: WireguardInterfaceInput): string {
  const object = 'wireguard interface';
  const privateKeyPath = safeAbsolutePath(input.privateKeyPath, { object, field: 'privateKeyPath' });
  const addresses = (typeof input.address === 'string' ? [input.address] : input.address).map((a, i) =>
    cidrText(a, { object, field: `address[${i}]` }),
  );
  if (addresses.length === 0) throw new RenderError('MISSING_VALUE', object, 'address', 'at least one tunnel address');
  const peers = checkPeers(input.peers);
  const lines = header(input.siteId, 'wg-quick');
  lines.push(`# The private key is not in this file: PostUp loads it from ${privateKeyPath}.`, '[Interface]');
  lines.push(`Address = ${addresses.join(', ')}`);
  if (input.listenPort !== undefined) lines.push(`ListenPort = ${safePort(input.listenPort, { object, field: 'listenPort' })}`);
  if (input.mtu !== undefined) lines.push(`MTU = ${safeInt(input.mtu, 1280, 9000, { object, field: 'mtu' })}`);
  lines.push(`PostUp = wg set %i private-key ${privateKeyPath}`);
  for (const peer of peers) {
    if (peer.presharedKeyPath !== undefined) lines.push(`PostUp = wg set %i peer ${peer.publicKey} preshared-key ${peer.presharedKeyPath}`);
  }
  for (const peer of peers) lines.push(...peerLines(peer));
  return `${lines.join('\n')}\n`;
}

/**
 * The `wg setconf` / `wg syncconf` form: ListenPort and peers only (no Address, MTU or PostUp, which are
 * wg-quick's; no PrivateKey, so the interface keeps the key set with `wg set <if> private-key <path>`).
 * Pre-shared key paths are not expressible here; apply them with `wg set` as well.
 */
export function renderWireguardSetconf(input: WireguardSetconfInput): string {
  const peers = checkPeers(input.peers);
  const lines = header(input.siteId, 'wg setconf');
  lines.push('[Interface]');
  if (input.listenPort !== undefined) lines.push(`ListenPort = ${safePort(input.listenPort, { object: 'wireguard interface', field: 'listenPort' })}`);
  for (const peer of peers) lines.push(...peerLines(peer));
  return `${lines.join('\n')}\n`;
}

interface CheckedPeer {
  readonly siteId: string;
  readonly publicKey: string;
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  readonly persistentKeepalive?: number;
  readonly presharedKeyPath?: string;
}

function header(siteId: string | undefined, form: string): string[] {
  const site = siteId === undefined ? '' : ` for site ${safeSiteId(siteId, { object: 'wireguard interface', field: 'siteId' })}`;
  return [`# ${form} config - generated by fedpbx${site}. DO NOT EDIT: fedpbx rewrites it.`];
}

function checkPeers(peers: readonly WireguardPeerInput[]): CheckedPeer[] {
  const keys = new Set<string>();
  const blocks: { cidr: CidrValue; object: string; field: string }[] = [];
  const checked = peers.map((peer, index): CheckedPeer => {
    const object = `wireguard peer ${typeof peer.siteId === 'string' ? peer.siteId : index}`;
    const siteId = safeSiteId(peer.siteId, { object, field: 'siteId' });
    const publicKey = safeWireguardKey(peer.publicKey, { object, field: 'publicKey' });
    if (keys.has(publicKey)) throw new RenderError('DUPLICATE_OBJECT', object, 'publicKey', 'two peers with the same public key');
    keys.add(publicKey);
    if (peer.allowedIps.length === 0) throw new RenderError('MISSING_VALUE', object, 'allowedIps', 'at least one block');
    const allowedIps = peer.allowedIps.map((text, i) => {
      const where = { object, field: `allowedIps[${i}]` };
      const cidr = parseCidr(cidrText(text, where));
      if (cidr === undefined) throw new RenderError('UNSAFE_VALUE', object, where.field, 'not a CIDR');
      if (!isNetworkAddress(cidr)) throw new RenderError('UNSAFE_VALUE', object, where.field, 'bits set after the prefix (write the network address)');
      const clash = blocks.find((b) => cidrsOverlap(b.cidr, cidr));
      if (clash !== undefined) {
        throw new RenderError('CONFLICT', object, where.field, `overlaps ${clash.object} ${clash.field}: WireGuard routes a block to one peer only`);
      }
      blocks.push({ cidr, ...where });
      return text;
    });
    const endpoint = peer.endpoint === undefined ? undefined : endpointText(peer.endpoint, { object, field: 'endpoint' });
    const persistentKeepalive =
      peer.persistentKeepalive === undefined ? undefined : safeInt(peer.persistentKeepalive, 1, 65535, { object, field: 'persistentKeepalive' });
    const presharedKeyPath =
      peer.presharedKeyPath === undefined ? undefined : safeAbsolutePath(peer.presharedKeyPath, { object, field: 'presharedKeyPath' });
    return { siteId, publicKey, endpoint, allowedIps, persistentKeepalive, presharedKeyPath };
  });
  return checked.sort((a, b) => (a.siteId < b.siteId ? -1 : a.siteId > b.siteId ? 1 : 0));
}

function peerLines(peer: CheckedPeer): string[] {
  const lines = ['', `# site ${peer.siteId}`, '[Peer]', `PublicKey = ${peer.publicKey}`, `AllowedIPs = ${peer.allowedIps.join(', ')}`];
  if (peer.endpoint !== undefined) lines.push(`Endpoint = ${peer.endpoint}`);
  if (peer.persistentKeepalive !== undefined) lines.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
  return lines;
}

function cidrText(value: unknown, where: ValueSite): string {
  if (typeof value !== 'string' || parseCidr(value) === undefined) {
    throw new RenderError('UNSAFE_VALUE', where.object, where.field, 'not a CIDR (address/prefix)');
  }
  return value;
}

function endpointText(value: unknown, where: ValueSite): string {
  const match = typeof value === 'string' ? /^(?:\[([0-9A-Fa-f:]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(value) : null;
  if (match === null) throw new RenderError('UNSAFE_VALUE', where.object, where.field, 'host:port or [ipv6]:port');
  const [, v6, host, port] = match;
  if (v6 !== undefined && parseIp(v6)?.version !== 6) throw new RenderError('UNSAFE_VALUE', where.object, where.field, 'not an IPv6 address');
  if (host !== undefined) safeHost(host, where);
  safePort(Number(port), where);
  return value as string;
}
