/**
 * The site's side of the WireGuard mesh (ARCHITECTURE.md: "site-to-site tunnel mesh, keys made on site").
 *
 * - Key pair: made here, once (`wg genkey`, or X25519 from node:crypto in dry-run). The private key is written to a
 *   0600 file and never leaves it: this class never returns it, logs it or puts it on a command line; the wg-quick
 *   config loads it with `PostUp = wg set %i private-key <path>` (libs/dialplan renderWireguard). Only the public
 *   key is handed out (enrollment/status).
 * - Config: rendered by libs/dialplan, written (0600) only when the text changed, applied with `wg-quick up <conf>`
 *   when the interface is down, otherwise with `wg syncconf <if> <setconf file>` (peers change without dropping
 *   the tunnel; an Address/MTU change needs `wg-quick down`/`up`, which is logged).
 * - Health: `wg show <if> latest-handshakes` -> handshake age per peer. A peer whose last handshake is older than
 *   REJECT_AFTER_TIME (180 s, WireGuard's own limit after which the session keys are dropped) or never happened
 *   is down. Traffic keeps handshakes fresh: SIP qualify every 30 s over the tunnel, or PersistentKeepalive.
 */
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { renderWireguard, renderWireguardSetconf, type WireguardInterfaceInput } from '@fedpbx/dialplan';
import type { Logger } from '../logger.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { WG_KEY, WireguardError, type WgRunner } from './wg-runner.js';

/** Linux IFNAMSIZ-1 and the characters wg-quick accepts in an interface name. */
const INTERFACE_NAME = /^[A-Za-z0-9_=+.-]{1,15}$/;
/** WireGuard REJECT_AFTER_TIME. */
export const HANDSHAKE_STALE_SEC = 180;

export interface WireguardManagerOptions {
  readonly runner: WgRunner;
  readonly log: Logger;
  /** Default `fedpbx0`. */
  readonly interfaceName?: string;
  /** Where `<if>.conf` goes. Default /etc/wireguard. */
  readonly configDir?: string;
  /** Default `<configDir>/<if>.key`. */
  readonly privateKeyPath?: string;
  /** Clock (tests). */
  readonly now?: () => Date;
}

export type WireguardConfigInput = Omit<WireguardInterfaceInput, 'privateKeyPath'>;

export interface WireguardApplyResult {
  readonly changed: boolean;
  readonly action: 'none' | 'up' | 'syncconf';
}

export interface PeerHandshake {
  readonly publicKey: string;
  /** Seconds since the last handshake; undefined = never. */
  readonly ageSec: number | undefined;
  readonly state: 'up' | 'down';
}

export class WireguardManager {
  readonly interfaceName: string;
  readonly configDir: string;
  readonly privateKeyPath: string;
  private readonly runner: WgRunner;
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(opts: WireguardManagerOptions) {
    this.interfaceName = opts.interfaceName ?? 'fedpbx0';
    if (!INTERFACE_NAME.test(this.interfaceName)) throw new WireguardError('BAD_ARGUMENT', 'interface name: 1-15 of A-Z a-z 0-9 _ = + . -');
    this.configDir = opts.configDir ?? '/etc/wireguard';
    this.privateKeyPath = opts.privateKeyPath ?? join(this.configDir, `${this.interfaceName}.key`);
    for (const p of [this.configDir, this.privateKeyPath]) {
      if (!/^\/[A-Za-z0-9_./-]*$/.test(p) || p.includes('/../')) throw new WireguardError('BAD_ARGUMENT', `not a plain absolute path: ${JSON.stringify(p)}`);
    }
    this.runner = opts.runner;
    this.log = opts.log;
    this.now = opts.now ?? (() => new Date());
  }

  get configPath(): string {
    return join(this.configDir, `${this.interfaceName}.conf`);
  }

  /**
   * The site's public key, making the key pair on first use. An existing key file with group/other permissions is
   * tightened to 0600 (and said so).
   */
  async ensureKeyPair(): Promise<{ publicKey: string; created: boolean }> {
    let privateKey = await this.readPrivateKey();
    let created = false;
    if (privateKey === undefined) {
      privateKey = (await this.runner.run('wg', ['genkey'])).stdout.trim();
      if (!WG_KEY.test(privateKey)) throw new WireguardError('BAD_OUTPUT', 'wg genkey printed something that is not a key');
      await writeSecretFile(this.privateKeyPath, `${privateKey}\n`);
      created = true;
    }
    const publicKey = (await this.runner.run('wg', ['pubkey'], `${privateKey}\n`)).stdout.trim();
    if (!WG_KEY.test(publicKey)) throw new WireguardError('BAD_OUTPUT', 'wg pubkey printed something that is not a key');
    if (created) this.log.info({ publicKey, file: this.privateKeyPath }, 'WireGuard key pair made on site (private key stays in its 0600 file)');
    return { publicKey, created };
  }

  /** Renders, writes if changed, brings the interface up or syncs its peers. */
  async applyConfig(input: WireguardConfigInput): Promise<WireguardApplyResult> {
    const text = renderWireguard({ ...input, privateKeyPath: this.privateKeyPath });
    const setconf = renderWireguardSetconf({ siteId: input.siteId, listenPort: input.listenPort, peers: input.peers });
    const current = await readFile(this.configPath, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    const changed = current !== text;
    if (changed) await writeSecretFile(this.configPath, text);
    if (!(await this.isUp())) {
      await this.runner.run('wg-quick', ['up', this.configPath]);
      this.log.info({ interface: this.interfaceName }, 'WireGuard interface up');
      return { changed, action: 'up' };
    }
    if (!changed) return { changed, action: 'none' };
    if (current !== undefined && interfaceLines(current) !== interfaceLines(text)) {
      this.log.warn({ interface: this.interfaceName }, 'WireGuard Address/MTU/PostUp changed: peers are synced now, the rest needs `wg-quick down` + `up`');
    }
    const setconfPath = join(this.configDir, `${this.interfaceName}.setconf`);
    await writeSecretFile(setconfPath, setconf);
    await this.runner.run('wg', ['syncconf', this.interfaceName, setconfPath]);
    this.log.info({ interface: this.interfaceName }, 'WireGuard peers synced');
    return { changed, action: 'syncconf' };
  }

  async isUp(): Promise<boolean> {
    try {
      await this.runner.run('wg', ['show', this.interfaceName]);
      return true;
    } catch (error) {
      if (error instanceof WireguardError && error.code === 'COMMAND_FAILED') return false;
      throw error;
    }
  }

  /** Handshake age of every peer of the interface. */
  async handshakes(): Promise<PeerHandshake[]> {
    const { stdout } = await this.runner.run('wg', ['show', this.interfaceName, 'latest-handshakes']);
    const nowSec = Math.floor(this.now().getTime() / 1000);
    const out: PeerHandshake[] = [];
    for (const line of stdout.split('\n')) {
      if (line.trim() === '') continue;
      const [publicKey, time] = line.split('\t');
      if (publicKey === undefined || time === undefined || !WG_KEY.test(publicKey) || !/^\d+$/.test(time.trim())) {
        throw new WireguardError('BAD_OUTPUT', 'unexpected `wg show latest-handshakes` line');
      }
      const t = Number(time.trim());
      const ageSec = t === 0 ? undefined : Math.max(0, nowSec - t);
      out.push({ publicKey, ageSec, state: ageSec !== undefined && ageSec <= HANDSHAKE_STALE_SEC ? 'up' : 'down' });
    }
    return out;
  }

  private async readPrivateKey(): Promise<string | undefined> {
    let mode: number;
    try {
      mode = (await stat(this.privateKeyPath)).mode;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WireguardError('BAD_KEY_FILE', `cannot read ${this.privateKeyPath}`, { cause: error });
    }
    if ((mode & 0o077) !== 0) {
      await chmod(this.privateKeyPath, 0o600);
      this.log.warn({ file: this.privateKeyPath, was: (mode & 0o777).toString(8) }, 'WireGuard private key file was readable by others: now 0600');
    }
    const key = (await readFile(this.privateKeyPath, 'utf8')).trim();
    if (!WG_KEY.test(key)) throw new WireguardError('BAD_KEY_FILE', `${this.privateKeyPath} does not hold a WireGuard private key`);
    return key;
  }
}

/** `[Interface]` part of a wg-quick config (what `wg syncconf` cannot apply). */
function interfaceLines(text: string): string {
  const end = text.indexOf('\n[Peer]');
  return (end < 0 ? text : text.slice(0, end)).split('\n').filter((l) => !l.startsWith('#')).join('\n');
}

/** A file only its owner may read, written atomically. */
function writeSecretFile(path: string, data: string): Promise<void> {
  return writeFileAtomic(path, data, { mode: 0o600 });
}
