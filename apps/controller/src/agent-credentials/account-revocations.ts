import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import type { RevocationPushState } from '@fedpbx/contracts';
import { accountUpdateSubject, encodeAccountWithRevocations, mintSystemCreds, type RevocationAuthority } from '@fedpbx/nats-auth';
import { pino } from 'pino';
import { DataSource, type EntityManager } from 'typeorm';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { NatsBus, splitUrls } from '../nats/nats-bus.js';
import { AgentCredentialRepository } from './agent-credential.repository.js';

/**
 * Where the hub stands with the revocations the database holds (the shape is the API's, in libs/contracts).
 * `current`: the hub has every revocation; `pending`: a push is due or under way; `failing`: the last push failed
 * and is retried; `unavailable`: this controller cannot revoke at the hub (no NATS, or an issuer file without the
 * revocation keys) - revoked credentials then end only when their JWT expires.
 */
export type { RevocationPushState } from '@fedpbx/contracts';

const RETRY_MS = 5000;
const SYSTEM_USER_TTL_MS = 5 * 60_000;
/** Key of the advisory lock one push round holds across replicas ("fedR" in ASCII). */
const REVOCATIONS_PUSH_LOCK = 0x66656452;

/**
 * Keeps the hub's FEDPBX account JWT carrying the revocations the database holds. Each push sends the whole list
 * (the account claims from nats:init plus `revocations`, re-signed by the operator signing key) as a short-lived
 * system-account user to `$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE`; the full resolver stores it and nats-server
 * closes the revoked users' connections at once. Pushes coalesce, are retried every 5 s until one succeeds, and are
 * repeated after every (re)connect of the controller's bus (a hub rebuilt from its config would otherwise forget).
 */
@Injectable()
export class AccountRevocations implements OnModuleInit, OnApplicationShutdown {
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'nats-revocations' });
  private readonly authority: RevocationAuthority | undefined;
  private readonly accountPublicKey: string;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private status: RevocationPushState;

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    private readonly bus: NatsBus,
    private readonly repo: AgentCredentialRepository,
  ) {
    this.authority = bus.issuer?.revocation;
    this.accountPublicKey = bus.issuer?.accountPublicKey ?? '';
    this.status = this.unavailableReason() !== undefined ? { state: 'unavailable', revokedKeys: 0, reason: this.unavailableReason() } : { state: 'pending', revokedKeys: 0 };
  }

  onModuleInit(): void {
    if (this.unavailableReason() !== undefined) return;
    void this.bus.connection().then(() => this.push());
    this.bus.onReconnect(() => void this.push());
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  state(): RevocationPushState {
    return this.status;
  }

  /** Brings the hub up to the database (never throws; resolves when this round is done, successful or not). */
  push(): Promise<void> {
    if (this.unavailableReason() !== undefined || this.stopped) return Promise.resolve();
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    if (this.status.state === 'current') this.status = { ...this.status, state: 'pending' };
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.push();
      }
    });
    return this.running;
  }

  private unavailableReason(): string | undefined {
    if (!this.bus.enabled) return 'FEDPBX_NATS_URL is not set';
    if (this.authority === undefined) return 'FEDPBX_NATS_ISSUER_FILE has no revocation keys (written before they existed): run npm run nats:init again and re-enroll the agents';
    return undefined;
  }

  private async round(): Promise<void> {
    const authority = this.authority;
    if (authority === undefined) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    let revokedKeys = this.status.revokedKeys;
    try {
      revokedKeys = await this.oneReplicaAtATime(async (m) => {
        const revocations = await this.repo.revocations(m, new Date());
        await this.send(authority, revocations);
        return Object.keys(revocations).length;
      });
      this.status = { state: 'current', revokedKeys, lastPushedAt: new Date().toISOString() };
      this.log.info({ revokedKeys }, 'account revocations pushed to the hub');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.status = { state: 'failing', revokedKeys, lastError: message, ...(this.status.lastPushedAt !== undefined ? { lastPushedAt: this.status.lastPushedAt } : {}) };
      this.log.error({ err: message }, 'pushing account revocations to the hub failed; revoked agents may still connect until it succeeds (retrying)');
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.push(), RETRY_MS);
        this.timer.unref();
      }
    }
  }

  /**
   * Read and push under a PostgreSQL advisory lock: controller replicas revoking at once must not have a push of
   * an older list (read before another replica's revocation committed) reach the hub after the newer one, which
   * would un-revoke until the next push. In the embedded database (one process) a transaction held across the
   * push would stall every other query, and nothing else pushes.
   */
  private async oneReplicaAtATime<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    if (this.config.DATABASE_URL === undefined) return fn(this.ds.manager);
    return this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [REVOCATIONS_PUSH_LOCK]);
      return fn(m);
    });
  }

  /** The account JWT with these revocations, to the hub as a short-lived system-account user. */
  private async send(authority: RevocationAuthority, revocations: Awaited<ReturnType<AgentCredentialRepository['revocations']>>): Promise<void> {
    const jwt = await encodeAccountWithRevocations(authority, revocations);
    const creds = await mintSystemCreds(authority, new Date(Date.now() + SYSTEM_USER_TTL_MS));
    const nc = await connect({
      servers: splitUrls(this.config.FEDPBX_NATS_URL ?? ''),
      name: 'fedpbx-controller-revocations',
      authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
      maxReconnectAttempts: 0,
      timeout: 5000,
    });
    try {
      const reply = await nc.request(accountUpdateSubject(this.accountPublicKey), jwt, { timeout: 5000 });
      const answer = reply.json<{ data?: { code?: number; message?: string }; error?: { code?: number; description?: string } }>();
      if (answer.error !== undefined || answer.data?.code !== 200) throw new Error(`the hub refused the account update: ${answer.error?.description ?? answer.data?.message ?? reply.string()}`);
    } finally {
      await nc.close().catch(() => undefined);
    }
  }
}
