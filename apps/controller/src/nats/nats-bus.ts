import { readFileSync } from 'node:fs';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { mintControllerCreds, type UserIssuer } from '@fedpbx/nats-auth';
import { pino } from 'pino';
import { z } from 'zod';
import { CONTROLLER_CONFIG, ConfigError, type ControllerConfig } from '../config.js';
import { replicasFor, replicasProblem } from './stream-replicas.js';

const AccountKey = z.string().regex(/^A[A-Z2-7]{55}$/);
const IssuerFile = z.strictObject({
  accountPublicKey: AccountKey,
  signerSeed: z.string().regex(/^SA[A-Z2-7]{56}$/),
  // Absent in files written before revocation existed: the controller then cannot revoke agents (it says so).
  revocation: z
    .strictObject({
      accountJwt: z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/),
      operatorSignerSeed: z.string().regex(/^SO[A-Z2-7]{56}$/),
      systemAccountPublicKey: AccountKey,
      systemSignerSeed: z.string().regex(/^SA[A-Z2-7]{56}$/),
    })
    .optional(),
});

/** Reads FEDPBX_NATS_ISSUER_FILE; a bad file is a configuration error naming the variable. */
export function loadIssuer(file: string): UserIssuer {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError([`FEDPBX_NATS_ISSUER_FILE: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`]);
  }
  const parsed = IssuerFile.safeParse(raw);
  if (!parsed.success) throw new ConfigError([`FEDPBX_NATS_ISSUER_FILE: ${file} is not {"accountPublicKey":"A...","signerSeed":"SA...","revocation":{...}} as npm run nats:init writes it: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`]);
  return parsed.data;
}

export function splitUrls(urls: string): string[] {
  return urls
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
}

/**
 * The controller's one NATS connection (JetStream KV publish, event ingest). Connecting never blocks start-up:
 * the controller serves its API with NATS down and the connection retries forever (the client's default gives
 * up after ~20 s); users of the bus await `connection()` and hear of reconnects to reconcile.
 */
@Injectable()
export class NatsBus implements OnModuleInit, OnApplicationShutdown {
  readonly enabled: boolean;
  readonly issuer: UserIssuer | undefined;
  readonly agentUrls: readonly string[];
  private nc: NatsConnection | undefined;
  private jsReplicas = 1;
  private closing = false;
  private readonly ready: Promise<NatsConnection>;
  private resolveReady!: (nc: NatsConnection) => void;
  private readonly reconnectListeners: (() => void)[] = [];
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'nats' });

  constructor(@Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig) {
    this.enabled = config.FEDPBX_NATS_URL !== undefined;
    this.issuer = config.FEDPBX_NATS_ISSUER_FILE !== undefined ? loadIssuer(config.FEDPBX_NATS_ISSUER_FILE) : undefined;
    this.agentUrls = splitUrls(config.FEDPBX_NATS_AGENT_URLS ?? config.FEDPBX_NATS_URL ?? '');
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  onModuleInit(): void {
    if (this.enabled) void this.connectForever();
  }

  /** Resolves once connected the first time (never, when NATS is not configured: check `enabled`). */
  connection(): Promise<NatsConnection> {
    return this.ready;
  }

  /**
   * Copies JetStream keeps of fedpbx's buckets and streams (FEDPBX_NATS_REPLICAS, or 3 on a cluster and 1 on a
   * single server): known once `connection()` resolved.
   */
  get replicas(): number {
    return this.jsReplicas;
  }

  isConnected(): boolean {
    return this.nc !== undefined && !this.nc.isClosed() && !this.closing;
  }

  /** Called after every reconnect (not the first connect). */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /** Drains when it can; with NATS unreachable the drain fails, and the connection is closed instead (no reconnecting on after shutdown). */
  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    const nc = this.nc;
    if (nc === undefined || nc.isClosed()) return;
    await nc.drain().catch(() => nc.close().catch(() => undefined));
  }

  private async connectForever(): Promise<void> {
    const servers = splitUrls(this.config.FEDPBX_NATS_URL ?? '');
    const creds = this.issuer !== undefined ? await mintControllerCreds(this.issuer) : undefined;
    const nc = await connect({
      servers,
      name: 'fedpbx-controller',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      waitOnFirstConnect: true,
      // Without it nats.js builds two Errors with stack traces up front for every request, in case it times out: every
      // KV put is one, and a plan-wide write at 1,000 sites puts 1,000 (~10% of the controller's CPU per such write in
      // bench:sync's profile). A timeout still fails with its TimeoutError; only the stack of the sending code is lost.
      noAsyncTraces: true,
      ...(creds !== undefined ? { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) } : {}),
    });
    if (this.closing) {
      await nc.close();
      return;
    }
    this.nc = nc;
    this.jsReplicas = replicasFor(this.config.FEDPBX_NATS_REPLICAS, nc.info);
    this.log.info({ server: nc.getServer(), cluster: nc.info?.cluster, replicas: this.jsReplicas }, 'connected to NATS');
    const problem = replicasProblem(this.jsReplicas, nc.info);
    // Said at once: every bucket and the events stream would be refused with a less telling JetStream error.
    if (problem !== undefined) this.log.error(problem);
    this.resolveReady(nc);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.log.warn({ server: s.server }, 'NATS disconnected');
        else if (s.type === 'reconnect') {
          this.log.info({ server: s.server }, 'NATS reconnected');
          for (const listener of this.reconnectListeners) listener();
        } else if (s.type === 'error') this.log.error({ err: s.error.message }, 'NATS error');
      }
    })();
  }
}
