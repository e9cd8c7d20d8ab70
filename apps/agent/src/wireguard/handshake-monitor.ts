/**
 * Polls WireGuard handshake ages and turns them into link health per peer site: a `wireguard` signal for
 * AsteriskStatus.setLinkSignal (a link is down as soon as any of its signals is) and LinkStatusEvents
 * (`source: 'wireguard'`, `wireguardHandshakeAgeSec`) for the status reports.
 */
import type { z } from 'zod';
import type { LinkStatusEvent } from '@fedpbx/contracts';
import type { Logger } from '../logger.js';
import type { WireguardManager } from './wireguard-manager.js';

export interface WireguardPeerSite {
  readonly siteId: string;
  readonly publicKey: string;
}

export interface HandshakeMonitorOptions {
  readonly wireguard: Pick<WireguardManager, 'handshakes'>;
  readonly log: Logger;
  /** The peers to watch (from the snapshot in force); re-read on every poll. */
  readonly peers: () => readonly WireguardPeerSite[];
  /** Where the link signal goes, e.g. `(site, s) => status.setLinkSignal('wireguard', site, s)`. */
  readonly onSignal: (peerSiteId: string, state: 'up' | 'down' | undefined) => void;
  readonly onLinkStatus?: (event: z.infer<typeof LinkStatusEvent>) => void;
  /** Default 15 s. */
  readonly intervalMs?: number;
}

export class HandshakeMonitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<string, 'up' | 'down'>();
  private failing = false;

  constructor(private readonly opts: HandshakeMonitorOptions) {}

  start(): void {
    if (this.timer !== undefined) return;
    const tick = (): void => {
      void this.poll().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.opts.intervalMs ?? 15_000);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One poll; never rejects (a failing `wg` withdraws the signals rather than declaring links down). */
  async poll(): Promise<void> {
    let handshakes;
    try {
      handshakes = await this.opts.wireguard.handshakes();
    } catch (error) {
      if (!this.failing) this.opts.log.warn({ err: error }, 'cannot read WireGuard handshakes; link health from SIP only');
      this.failing = true;
      for (const site of this.last.keys()) this.opts.onSignal(site, undefined);
      this.last.clear();
      return;
    }
    this.failing = false;
    const byKey = new Map(handshakes.map((h) => [h.publicKey, h]));
    for (const peer of this.opts.peers()) {
      const h = byKey.get(peer.publicKey);
      const state = h?.state ?? 'down';
      this.opts.onSignal(peer.siteId, state);
      if (this.last.get(peer.siteId) === state) continue;
      this.last.set(peer.siteId, state);
      this.opts.onLinkStatus?.({
        type: 'link.status',
        peerSiteId: peer.siteId,
        state,
        source: 'wireguard',
        ...(h?.ageSec === undefined ? {} : { wireguardHandshakeAgeSec: h.ageSec }),
      });
    }
  }
}
