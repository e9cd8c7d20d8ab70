import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { Subjects, type EnrollmentToken, type EnrollmentTokenIssued, type EnrollmentTokenPage, type EnrollRequest, type EnrollResponse, type Site } from '@fedpbx/contracts';
import type { TunnelAddressPool } from '@fedpbx/dialplan';
import { DataSource } from 'typeorm';
import { AgentCredentialsService } from '../agent-credentials/agent-credentials.service.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { LoginRateLimiter } from '../auth/login-rate-limiter.js';
import { actorName, type Principal } from '../auth/principal.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { ForbiddenError, NotFoundError, RateLimitedError, StateConflictError, UnauthenticatedError } from '../errors.js';
import { FederationStore } from '../federation/federation-store.js';
import { FederationWriter } from '../federation/federation-writer.js';
import { NatsBus } from '../nats/nats-bus.js';
import { SnapshotSigningKey } from '../sync/snapshot-signing-key.js';
import { EnrollmentTokenRepository, tokenState, tokenView, type EnrollmentTokenRecord } from './enrollment-token.repository.js';

/** How long an issued token can be used (it is one-time either way). */
export const ENROLLMENT_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
const TOKEN_PREFIX = 'fpe_';
const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Why `POST /enroll` refuses a token, or undefined when it may be exchanged. A revoked token gets the answer of an
 * unknown one: whoever holds a leaked token learns nothing from it.
 */
function refusalOf(t: EnrollmentTokenRecord | undefined, now: Date): string | undefined {
  if (t === undefined) return 'enrollment token unknown';
  switch (tokenState(t, now)) {
    case 'pending':
      return undefined;
    case 'revoked':
      return 'enrollment token unknown';
    case 'used':
      return 'enrollment token already used';
    case 'expired':
      return 'enrollment token expired';
  }
}

/**
 * Enrollment: head office issues a one-time token for a site; the site's agent exchanges it (no login) for NATS
 * credentials limited to its site, the NATS URLs, its inbox prefix and the key that signs its snapshots. The
 * token is stored hashed and audited by id; the credentials are minted per request; only their user public key and lifetime are recorded (agent_credentials), never the seed.
 * Readers of a site see its tokens' metadata (as they see its agent and its audit entries); head office revokes.
 */
@Injectable()
export class EnrollmentService {
  private readonly log = new Logger('enrollment');
  private readonly limiter: LoginRateLimiter;
  private readonly vpnPool: TunnelAddressPool;

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(CONTROLLER_CONFIG) config: ControllerConfig,
    private readonly tokens: EnrollmentTokenRepository,
    private readonly audit: AuditRepository,
    private readonly store: FederationStore,
    private readonly writer: FederationWriter,
    private readonly bus: NatsBus,
    private readonly signing: SnapshotSigningKey,
    private readonly credentials: AgentCredentialsService,
  ) {
    this.limiter = new LoginRateLimiter(config.FEDPBX_LOGIN_MAX_ATTEMPTS, config.FEDPBX_LOGIN_WINDOW_SEC * 1000);
    this.vpnPool = config.FEDPBX_VPN_POOL;
  }

  async issue(caller: Principal, siteId: string): Promise<EnrollmentTokenIssued> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    if (!caller.scope.headOffice) throw new ForbiddenError('only head office issues enrollment tokens');
    const { federation } = await this.store.read();
    if (!federation.sites.some((s) => s.id === siteId)) throw new NotFoundError('site', siteId);
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + ENROLLMENT_TOKEN_TTL_MS);
    const actor = actorName(caller);
    const id = await this.ds.transaction(async (m) => {
      const t = await this.tokens.create(m, siteId, hashToken(token), actor, expiresAt);
      await this.audit.append(m, [
        { actor, action: 'enrollmentToken.create', objectType: 'enrollmentToken', objectId: t.id, siteIds: [siteId], after: { siteId, expiresAt: expiresAt.toISOString() } },
      ]);
      return t.id;
    });
    return { id, siteId, token, expiresAt: expiresAt.toISOString() };
  }

  /** The site's tokens, newest first, with their state now: for every reader of the site (404 outside it). */
  async list(caller: Principal, siteId: string, limit: number, before: string | undefined): Promise<EnrollmentTokenPage> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    if (!(await this.tokens.siteExists(this.ds.manager, siteId))) throw new NotFoundError('site', siteId);
    const now = new Date();
    const { items, more } = await this.tokens.listBySite(this.ds.manager, siteId, limit, before);
    const last = items[items.length - 1];
    const views = items.map((t) => tokenView(t, now));
    return more && last !== undefined ? { items: views, next: last.id } : { items: views };
  }

  /**
   * Head office only (a reader of the site gets 403, anyone else 404). A pending (or expired) token becomes
   * revoked: `POST /enroll` answers it as an unknown token from then on. Revoking a revoked token changes nothing
   * and answers it as it is; a used token cannot be revoked (409: its agent holds credentials already).
   */
  async revoke(caller: Principal, id: string, dryRun: boolean): Promise<{ dryRun: boolean; data: EnrollmentToken }> {
    const found = await this.tokens.byId(this.ds.manager, id);
    if (found === undefined || !caller.scope.canRead(found.siteId)) throw new NotFoundError('enrollmentToken', id);
    if (!caller.scope.headOffice) throw new ForbiddenError('only head office revokes enrollment tokens');
    const now = new Date();
    const actor = actorName(caller);
    const usedError = (t: EnrollmentTokenRecord): StateConflictError =>
      new StateConflictError('enrollmentToken', id, 'used', `enrollment token ${id} was used ${t.usedAt?.toISOString() ?? ''} by the agent of ${t.siteId}: it cannot be revoked`);
    const state = tokenState(found, now);
    if (state === 'used') throw usedError(found);
    if (state === 'revoked') return { dryRun, data: tokenView(found, now) };
    if (dryRun) return { dryRun, data: tokenView({ ...found, revokedAt: now, revokedBy: actor }, now) };
    const after = await this.ds.transaction(async (m) => {
      if (!(await this.tokens.revoke(m, id, now, actor))) {
        // An enrollment or another revocation got there first.
        const current = await this.tokens.byId(m, id);
        if (current === undefined) throw new NotFoundError('enrollmentToken', id);
        if (current.usedAt !== null) throw usedError(current);
        return current;
      }
      await this.audit.append(m, [
        {
          actor,
          action: 'enrollmentToken.revoke',
          objectType: 'enrollmentToken',
          objectId: id,
          siteIds: [found.siteId],
          before: { siteId: found.siteId, state, expiresAt: found.expiresAt.toISOString() },
          after: { siteId: found.siteId, state: 'revoked', revokedAt: now.toISOString() },
        },
      ]);
      return { ...found, revokedAt: now, revokedBy: actor };
    });
    return { dryRun, data: tokenView(after, now) };
  }

  /** `client` is the caller's address: failed attempts are rate-limited per address like logins. */
  async enroll(req: EnrollRequest, client: string): Promise<EnrollResponse> {
    const key = `enroll:${client}`;
    const wait = this.limiter.retryAfterSec(key);
    if (wait > 0) throw new RateLimitedError(wait);
    const issuer = this.bus.issuer;
    const signingKey = this.signing.key;
    if (issuer === undefined || signingKey === undefined) {
      throw new ServiceUnavailableException('enrollment is not configured on this controller: set FEDPBX_NATS_ISSUER_FILE (npm run nats:init writes it)');
    }
    if (this.bus.agentUrls.length === 0) throw new ServiceUnavailableException('enrollment is not configured on this controller: set FEDPBX_NATS_AGENT_URLS or FEDPBX_NATS_URL');

    const found = await this.tokens.byHash(this.ds.manager, hashToken(req.token));
    const refusal = refusalOf(found, new Date());
    if (found === undefined || refusal !== undefined) {
      this.limiter.fail(key);
      // The caller is told nothing; whoever watches the log learns that a revoked token is in someone's hands.
      if (found !== undefined && found.revokedAt !== null) this.log.warn(`refused revoked enrollment token ${found.id} of site ${found.siteId} from ${client}`);
      throw new UnauthenticatedError(refusal);
    }
    const siteId = found.siteId;
    const actor = `agent:${siteId}`;
    // The key (and a tunnel address) go in first, as a validated, audited, revisioned write: a refused key leaves
    // the token unused.
    if (req.wireguardPublicKey !== undefined) await this.joinMesh(siteId, req.wireguardPublicKey, actor);

    const at = new Date();
    // Minted before the transaction (pure), recorded in it: the token, the new key and the revocation of the
    // site's earlier keys (a re-enrolled or replaced box ends the old one) commit together.
    const minted = await this.credentials.mint(siteId, at);
    let revoked: string[] = [];
    const consumed = await this.ds.transaction(async (m) => {
      if (!(await this.tokens.consume(m, found.id, at))) return false;
      revoked = await this.credentials.issueAtEnrollment(m, siteId, minted, actor);
      await this.audit.append(m, [
        {
          actor,
          action: 'enrollmentToken.use',
          objectType: 'enrollmentToken',
          objectId: found.id,
          siteIds: [siteId],
          after: {
            siteId,
            usedAt: at.toISOString(),
            agentVersion: req.agentVersion ?? null,
            wireguardPublicKey: req.wireguardPublicKey ?? null,
            natsUserKey: minted.userKey,
            credentialsExpireAt: minted.expiresAt.toISOString(),
          },
        },
      ]);
      return true;
    });
    if (!consumed) {
      // Used, revoked or expired since it was read: refused as it would be now.
      this.limiter.fail(key);
      throw new UnauthenticatedError(refusalOf(await this.tokens.byId(this.ds.manager, found.id), new Date()) ?? 'enrollment token already used');
    }
    this.limiter.succeed(key);
    if (revoked.length > 0) this.credentials.pushRevocations();
    return {
      siteId,
      natsUrls: [...this.bus.agentUrls],
      natsCreds: minted.creds,
      inboxPrefix: Subjects.inboxPrefix(siteId),
      controllerKeyId: signingKey.keyId,
      controllerPublicKey: signingKey.publicKeyPem,
    };
  }

  /**
   * Stores the site's WireGuard public key and, when the site has no tunnel address yet, assigns the lowest free
   * one of FEDPBX_VPN_POOL - in one write, computed under the writer's lock from the federation it changes, so
   * two agents enrolling at once cannot get one address (and validation refuses two sites with one anyway).
   */
  private async joinMesh(siteId: string, wireguardPublicKey: string, actor: string): Promise<void> {
    const { federation } = await this.store.read();
    const site = federation.sites.find((s) => s.id === siteId);
    if (site === undefined) throw new UnauthenticatedError('the enrollment token\'s site no longer exists');
    if (site.network.wireguardPublicKey === wireguardPublicKey && site.network.vpnAddress !== undefined) return;
    const reason = `agent enrollment of ${siteId}: WireGuard public key${site.network.vpnAddress === undefined ? ' and tunnel address' : ''}`;
    await this.writer.write({ actor, reason, dryRun: false }, (fed) => {
      const current = fed.sites.find((s) => s.id === siteId);
      if (current === undefined) throw new NotFoundError('site', siteId);
      const vpnAddress = current.network.vpnAddress ?? this.freeTunnelAddress(fed.sites);
      return [{ collection: 'sites', op: 'upsert', value: { ...current, network: { ...current.network, wireguardPublicKey, vpnAddress } } }];
    });
  }

  private freeTunnelAddress(sites: readonly Site[]): string {
    const address = this.vpnPool.next(sites.flatMap((s) => (s.network.vpnAddress === undefined ? [] : [s.network.vpnAddress])));
    if (address === undefined) throw new ServiceUnavailableException(`FEDPBX_VPN_POOL ${this.vpnPool.text} has no free tunnel address left: widen it`);
    return address;
  }
}
