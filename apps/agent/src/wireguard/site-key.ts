import { join, resolve } from 'node:path';

/**
 * Where `fedpbx-agent enroll` makes the site's WireGuard key pair (the private key's 0600 file) and where the
 * agent's mesh config loads the private key from: one place, so the key the controller was given is the key
 * the tunnel uses.
 */
export function siteKeyDir(stateDir: string): string {
  return join(resolve(stateDir), 'wireguard');
}

export function siteKeyPath(stateDir: string): string {
  return join(siteKeyDir(stateDir), 'fedpbx0.key');
}
