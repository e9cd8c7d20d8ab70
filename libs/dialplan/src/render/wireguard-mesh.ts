/**
 * A site's side of the WireGuard mesh, derived from its snapshot alone: the site's own tunnel address and
 * listen port, and one peer per other site of the federation that has a public key and a tunnel address.
 * Everything used is public (site directory: vpnAddress, wireguardEndpoint, wireguardPublicKey); the private
 * key is the agent's, added at render time as a file path ({@link renderWireguard}).
 */
import type { SiteConfig, SiteDirectoryEntry } from '@fedpbx/contracts';
import { parseIp } from './net.js';
import type { WireguardInterfaceInput, WireguardPeerInput } from './wireguard-renderer.js';

/** Keeps a NAT mapping open: sent by a side that the other cannot dial (it has no endpoint, or we have none). */
export const WIREGUARD_KEEPALIVE_SEC = 25;

/** The interface input without the private key path (the agent knows where its key lives). */
export type WireguardMesh = Omit<WireguardInterfaceInput, 'privateKeyPath'> & { readonly siteId: string };

/**
 * The mesh input for `config.site`, or undefined while the site has no tunnel address (the controller assigns
 * one when the site's agent enrolls). A peer without an endpoint can only be reached after it dials in, so both
 * sides of such a pair keep the path open with a keepalive; the same holds when this site has no endpoint.
 */
export function wireguardMeshFor(config: Omit<SiteConfig, 'extensions'>): WireguardMesh | undefined {
  const self = config.site;
  const address = self.network.vpnAddress;
  if (address === undefined) return undefined;
  const ownEndpoint = self.network.wireguardEndpoint;
  const peers = config.federation.sites.filter((s) => s.id !== self.id).flatMap((s) => peerOf(s, ownEndpoint !== undefined));
  return {
    siteId: self.id,
    address: hostBlock(address),
    ...(ownEndpoint !== undefined ? { listenPort: endpointPort(ownEndpoint) } : {}),
    peers,
  };
}

function peerOf(site: SiteDirectoryEntry, weHaveEndpoint: boolean): WireguardPeerInput[] {
  const { vpnAddress, wireguardPublicKey, wireguardEndpoint } = site.network ?? {};
  if (vpnAddress === undefined || wireguardPublicKey === undefined) return [];
  return [
    {
      siteId: site.id,
      publicKey: wireguardPublicKey,
      allowedIps: [hostBlock(vpnAddress)],
      ...(wireguardEndpoint !== undefined ? { endpoint: wireguardEndpoint } : {}),
      ...(wireguardEndpoint === undefined || !weHaveEndpoint ? { persistentKeepalive: WIREGUARD_KEEPALIVE_SEC } : {}),
    },
  ];
}

/** `10.77.0.2` -> `10.77.0.2/32`, `fd77::2` -> `fd77::2/128`. */
function hostBlock(address: string): string {
  return `${address}/${parseIp(address)?.version === 6 ? 128 : 32}`;
}

/** The port of a `host:port` endpoint (the contract's pattern guarantees one). */
function endpointPort(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}
