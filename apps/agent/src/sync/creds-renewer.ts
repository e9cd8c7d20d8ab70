import { readFile } from 'node:fs/promises';
import { AgentCredsRenewResponse, Subjects, type AgentCredsRenewRequest } from '@fedpbx/contracts';
import { credsFile as formatCreds, credsInfo, newUserKey, presencePeersOfCreds, seedOfCreds, signRenewal } from '@fedpbx/nats-auth';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import type { NatsLink } from './nats-link.js';

export interface CredsRenewerOptions {
  readonly siteId: string;
  /** The credentials file NatsLink reads at every (re)connect. */
  readonly credsFile: string;
  readonly link: NatsLink;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** Renew once this fraction of the lifetime has passed (default 0.5). */
  readonly renewAtFraction?: number;
  /** Wait after a failed attempt (default 60 s). */
  readonly retryMs?: number;
  readonly requestTimeoutMs?: number;
}

/** setTimeout's limit (~24.8 days); longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Renews the agent's NATS credentials before they expire: makes a new user key (its seed never leaves the box),
 * asks the controller on `Subjects.credsRenew(site)` with a request signed by the current key, stores the new
 * credentials file atomically (0600) and reconnects, so the link runs on the new JWT from then on. Nothing here
 * touches the call path: routing goes on from the local snapshot whatever happens to NATS or to the renewal.
 *
 * While NATS is unreachable it waits for the link; if the credentials expire meanwhile, the hub refuses the
 * reconnect and the agent says so (log, `fedpbx_nats_credentials_expiry_timestamp_seconds`): the way back is a
 * new enrollment token (`fedpbx-agent enroll`). A refusal by the controller (revoked, unknown, expired) is final
 * for these credentials and is logged as an error; other failures are retried.
 */
export class CredsRenewer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private waitingForLink = false;
  /** Set when the controller refused: no more attempts with these credentials. */
  private refused = false;
  /** The watched sites a renewal was last made for (coverPresence), so that it is not asked again for them. */
  private renewedForPresence: string | undefined;

  constructor(private readonly opts: CredsRenewerOptions) {
    opts.link.onConnected(() => {
      if (this.waitingForLink) {
        this.waitingForLink = false;
        this.kick();
      }
    });
  }

  start(): void {
    void this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** Renews now (tests, and the scheduled moment). Resolves when this attempt is over. */
  renewNow(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.running = this.attempt().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * The snapshot in force shows busy lamps of these sites: if the credentials do not let the agent read the presence
   * of one of them (they were minted before the site was watched), renews now - the controller mints the new ones
   * from the same remotePresence - instead of leaving those lamps UNAVAILABLE until the renewal at half the lifetime.
   * Off the bus, the renewal runs when the link is back. Asked once per set of missing sites.
   */
  async coverPresence(siteIds: readonly string[]): Promise<void> {
    const missing = await this.unreadable(siteIds);
    if (missing === undefined) return;
    const key = missing.join(',');
    if (missing.length === 0 || key === this.renewedForPresence) return;
    this.renewedForPresence = key;
    this.opts.log.info({ sites: missing }, 'the snapshot shows busy lamps of sites these NATS credentials cannot read: renewing them now');
    await this.renewNow();
    const still = this.waitingForLink ? [] : await this.unreadable(missing);
    if (still !== undefined && still.length > 0) this.opts.log.warn({ sites: still }, 'the renewed NATS credentials still cannot read the presence of these sites: their lamps stay UNAVAILABLE');
  }

  /** The sites among `siteIds` whose presence the credentials file does not cover (sorted); undefined if unreadable. */
  private async unreadable(siteIds: readonly string[]): Promise<string[] | undefined> {
    let readable: ReturnType<typeof presencePeersOfCreds>;
    try {
      readable = presencePeersOfCreds(await readFile(this.opts.credsFile, 'utf8'));
    } catch {
      return undefined; // schedule() says why the file cannot be read
    }
    return readable === 'all' ? [] : siteIds.filter((s) => s !== this.opts.siteId && !readable.includes(s)).sort();
  }

  private kick(): void {
    if (this.stopped) return;
    void this.renewNow();
  }

  /** Reads the current credentials and sets the timer to the renewal moment. */
  private async schedule(delayOverrideMs?: number): Promise<void> {
    if (this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const { log } = this.opts;
    let info: ReturnType<typeof credsInfo>;
    try {
      info = credsInfo(await readFile(this.opts.credsFile, 'utf8'));
    } catch (error) {
      log.error({ err: error instanceof Error ? error.message : String(error), file: this.opts.credsFile }, 'cannot read the NATS credentials; not renewing them');
      return;
    }
    if (info.expiresAt === undefined) {
      log.warn('the NATS credentials never expire (enrolled before credentials had a lifetime): re-enroll to get renewable ones');
      return;
    }
    this.opts.metrics.natsCredsExpiry.set(info.expiresAt.getTime() / 1000);
    const lifetime = info.expiresAt.getTime() - info.issuedAt.getTime();
    const renewAt = info.issuedAt.getTime() + lifetime * (this.opts.renewAtFraction ?? 0.5);
    const delay = delayOverrideMs ?? Math.max(0, renewAt - Date.now());
    this.timer = setTimeout(() => (delay > MAX_TIMER_MS ? void this.schedule() : this.kick()), Math.min(delay, MAX_TIMER_MS));
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    if (this.stopped || this.refused) return;
    const { link, log, siteId } = this.opts;
    const nc = link.connection;
    if (nc === undefined || !link.connected) {
      // Renewed as soon as the link is back; if the credentials expire first, the hub refuses them and only a new
      // enrollment helps (README "Agent credentials").
      this.waitingForLink = true;
      return;
    }
    try {
      const current = await readFile(this.opts.credsFile, 'utf8');
      const { userKey, expiresAt } = credsInfo(current);
      const seed = seedOfCreds(current);
      const next = newUserKey();
      const at = new Date().toISOString();
      const request: AgentCredsRenewRequest = { userKey, newUserKey: next.publicKey, at, sig: signRenewal(seed, siteId, next.publicKey, at) };
      const reply = await nc.request(Subjects.credsRenew(siteId), JSON.stringify(request), { timeout: this.opts.requestTimeoutMs ?? 10_000 });
      const answer = AgentCredsRenewResponse.parse(reply.json());
      if (!answer.ok) {
        switch (answer.code) {
          case 'revoked':
          case 'unknown':
          case 'expired':
            this.refused = true;
            log.error({ code: answer.code, reason: answer.message, expiresAt: expiresAt?.toISOString() }, 'the controller refused to renew the NATS credentials: re-enroll this agent with a new token (fedpbx-agent enroll)');
            return;
          case 'bad-request':
          case 'unavailable':
            throw new Error(`${answer.code}: ${answer.message}`);
        }
      }
      // Stored before it is used: a restart (or the reconnect below) reads the new file.
      await writeFileAtomic(this.opts.credsFile, formatCreds(answer.jwt, next.seed), { mode: 0o600 });
      log.info({ expiresAt: answer.expiresAt }, 'NATS credentials renewed; reconnecting with them');
      await link.reconnect();
      await this.schedule();
    } catch (error) {
      log.warn({ err: error instanceof Error ? error.message : String(error) }, 'renewing the NATS credentials failed; trying again');
      await this.schedule(this.opts.retryMs ?? 60_000);
    }
  }
}
