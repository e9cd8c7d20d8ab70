/**
 * Keeps the site's WireGuard interface in step with the snapshot in force: after every applied snapshot the
 * mesh ({@link wireguardMeshFor}: own tunnel address, one peer per other site with a key and an address) is
 * rendered and applied through {@link WireguardManager} (`wg-quick up` the first time, `wg syncconf` after).
 *
 * Nothing here touches the call path: applies run one after another off the snapshot applier's hook, never
 * reject, and a failure is logged once per kind (not once per snapshot) until an apply succeeds again.
 * Handshake ages (when `monitor` is given) feed link health through {@link HandshakeMonitor}.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SnapshotInForce } from '../state/routing-state.js';
import { RenderError, wireguardMeshFor } from '@fedpbx/dialplan';
import type { Logger } from '../logger.js';
import { HandshakeMonitor, type HandshakeMonitorOptions, type WireguardPeerSite } from './handshake-monitor.js';
import { WireguardError } from './wg-runner.js';
import type { WireguardApplyResult, WireguardManager } from './wireguard-manager.js';

export interface WireguardMeshOptions {
  readonly manager: WireguardManager;
  readonly log: Logger;
  /** Feed link health from handshake ages (only where the tunnels are real). */
  readonly monitor?: Pick<HandshakeMonitorOptions, 'onSignal' | 'onLinkStatus' | 'intervalMs'>;
}

export class WireguardMesh {
  private peerSites: readonly WireguardPeerSite[] = [];
  private publicKey: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Kinds of failure already logged since the last success. */
  private readonly failing = new Set<string>();
  private readonly monitor: HandshakeMonitor | undefined;

  constructor(private readonly opts: WireguardMeshOptions) {
    const m = opts.monitor;
    this.monitor = m === undefined ? undefined : new HandshakeMonitor({ ...m, wireguard: opts.manager, log: opts.log, peers: () => this.peerSites });
  }

  /** The peers of the last mesh applied (what the handshake monitor watches). */
  get peers(): readonly WireguardPeerSite[] {
    return this.peerSites;
  }

  /** Starts watching handshakes; the first apply brings the interface up. */
  start(): void {
    this.monitor?.start();
  }

  stop(): void {
    this.monitor?.stop();
  }

  /** Applies the snapshot's mesh after those offered before it; resolves with what was done, never rejects. */
  apply(snapshot: SnapshotInForce): Promise<WireguardApplyResult | undefined> {
    const next = this.chain.then(() => this.applyNow(snapshot));
    this.chain = next;
    return next;
  }

  private async applyNow(snapshot: SnapshotInForce): Promise<WireguardApplyResult | undefined> {
    const { log, manager } = this.opts;
    const config = snapshot.config;
    const mesh = wireguardMeshFor(config);
    if (mesh === undefined) {
      this.once('no-address', () => log.warn({ site: config.site.id }, 'WireGuard: the site has no tunnel address yet (the controller assigns one when the agent enrolls with its key); mesh not applied'));
      return undefined;
    }
    this.clear('no-address');
    try {
      if (this.publicKey === undefined) {
        // Root-only, as wg-quick wants /etc/wireguard; enrollment made the key dir already, unless it was skipped.
        for (const dir of new Set([dirname(manager.privateKeyPath), manager.configDir])) await mkdir(dir, { recursive: true, mode: 0o700 });
        this.publicKey = (await manager.ensureKeyPair()).publicKey;
      }
      const known = config.site.network.wireguardPublicKey;
      if (known !== this.publicKey) {
        this.once('key-unknown', () =>
          log.warn(
            { publicKey: this.publicKey, controllerHas: known ?? null },
            "WireGuard: the controller does not have this site's public key, so no peer accepts this site (re-run `fedpbx-agent enroll` or set the site's wireguardPublicKey)",
          ),
        );
      } else this.clear('key-unknown');
      const result = await manager.applyConfig(mesh);
      this.peerSites = mesh.peers.map((p) => ({ siteId: p.siteId, publicKey: p.publicKey }));
      if (this.clear('apply:') || result.changed) {
        log.info({ revision: snapshot.revision, action: result.action, peers: mesh.peers.map((p) => p.siteId) }, 'WireGuard mesh applied');
      }
      return result;
    } catch (error) {
      const kind = error instanceof WireguardError ? error.code : error instanceof RenderError ? 'RENDER' : 'IO';
      this.once(`apply:${kind}`, () => log.error({ err: error, revision: snapshot.revision, kind }, 'WireGuard mesh not applied; calls are not affected (links without a tunnel fail over)'));
      return undefined;
    }
  }

  /** Logs a kind of trouble the first time only (until it is cleared). */
  private once(kind: string, log: () => void): void {
    if (this.failing.has(kind)) return;
    this.failing.add(kind);
    log();
  }

  /** Forgets the kinds of trouble starting with `prefix`; whether there were any. */
  private clear(prefix: string): boolean {
    let had = false;
    for (const kind of this.failing) {
      if (!kind.startsWith(prefix)) continue;
      this.failing.delete(kind);
      had = true;
    }
    return had;
  }
}
