import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { NatsBus } from '../nats/nats-bus.js';

/** How long one dependency may take to answer a readiness probe before it counts as down. */
const PROBE_TIMEOUT_MS = 2000;

/** `up`; `down` (refused, failed or did not answer in time); `not-configured` (no FEDPBX_NATS_URL: nothing to reach). */
export type DependencyState = 'up' | 'down' | 'not-configured';

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: { readonly database: DependencyState; readonly nats: DependencyState };
}

/**
 * What a load balancer's readiness probe asks: can this replica serve writes now? It needs the database (every
 * request reads or writes it) and NATS (snapshots out, events in). Each is asked for real - a query, a NATS
 * round trip - because a pooled connection or a reconnecting client says nothing about the server now.
 * The answer names the dependency that is down, never why (no addresses or errors for an unauthenticated caller).
 */
@Injectable()
export class Readiness {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly bus: NatsBus,
  ) {}

  async check(): Promise<ReadinessReport> {
    const [database, nats] = await Promise.all([this.database(), this.nats()]);
    return { ready: database === 'up' && nats !== 'down', checks: { database, nats } };
  }

  private async database(): Promise<DependencyState> {
    return (await answersInTime(() => this.ds.query('SELECT 1'))) ? 'up' : 'down';
  }

  private async nats(): Promise<DependencyState> {
    if (!this.bus.enabled) return 'not-configured';
    if (!this.bus.isConnected()) return 'down';
    // Until the first connect, connection() does not resolve: the timeout answers `down`.
    return (await answersInTime(async () => (await this.bus.connection()).flush())) ? 'up' : 'down';
  }
}

async function answersInTime(probe: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS)));
  try {
    return await Promise.race([probe().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
