import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Msg } from '@nats-io/transport-node';
import { AgentCredsRenewRequest, Subjects, type AgentCredsRenewResponse, type InterSiteLink } from '@fedpbx/contracts';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { mintAgentCredentials, mintAgentJwt, verifyRenewal, type MintedAgentCreds, type PresencePeers } from '@fedpbx/nats-auth';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository.js';
import { actorName, type Principal } from '../auth/principal.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { FederationChange } from '../federation/federation-change.js';
import { FederationWriter } from '../federation/federation-writer.js';
import { FederationStore } from '../federation/federation-store.js';
import { NatsBus } from '../nats/nats-bus.js';
import { generateSecret } from '../resources/resource.service.js';
import { AccountRevocations, type RevocationPushState } from './account-revocations.js';
import { AgentCredentialRepository, type AgentCredentialRecord } from './agent-credential.repository.js';

/** How far a renewal request's time may be from the controller's clock. */
const RENEWAL_CLOCK_SKEW_MS = 5 * 60_000;

export interface AgentCredentialView {
  readonly userKey: string;
  readonly origin: 'enrollment' | 'renewal';
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly state: 'active' | 'expired' | 'revoked';
  readonly revokedAt?: string;
  readonly revokedBy?: string;
}

/** What needs someone's attention about a site's agent credentials (absent when nothing does). */
export interface AgentCredentialsAlarm {
  /**
   * `agent-credentials-expired`: the newest credentials expired (the box was offline past their lifetime, or cannot
   * renew): it routes calls from its last snapshot but cannot sync until re-enrolled. `agent-credentials-revoked`:
   * revoked and not re-enrolled since. `agent-credentials-renewal-overdue`: the agent should have renewed at half the
   * lifetime and has not (three quarters have passed).
   */
  readonly code: 'agent-credentials-expired' | 'agent-credentials-revoked' | 'agent-credentials-renewal-overdue';
  readonly severity: 'critical' | 'warning';
  readonly message: string;
}

export interface AgentCredentialsPage {
  readonly items: readonly AgentCredentialView[];
  readonly alarm?: AgentCredentialsAlarm;
  /** Lifetime of new credentials (FEDPBX_AGENT_CREDS_TTL_SEC). */
  readonly lifetimeSec: number;
  readonly revocation: RevocationPushState;
}

export interface AgentCredentialsRevocation {
  readonly dryRun: boolean;
  readonly siteId: string;
  /** Keys revoked (that would be, for a dry run). */
  readonly revokedKeys: readonly string[];
  /** Links of the site whose secret was replaced: the old box knew them; the peers' snapshots change. */
  readonly rotatedLinks: readonly string[];
  readonly changedSites: readonly string[];
  readonly revisions: readonly { readonly siteId: string; readonly revision: number }[];
  readonly revocation: RevocationPushState;
}

const view = (r: AgentCredentialRecord, now: Date): AgentCredentialView => ({
  userKey: r.userKey,
  origin: r.origin,
  issuedAt: r.issuedAt.toISOString(),
  expiresAt: r.expiresAt.toISOString(),
  state: r.revokedAt !== null ? 'revoked' : r.expiresAt <= now ? 'expired' : 'active',
  ...(r.revokedAt !== null ? { revokedAt: r.revokedAt.toISOString() } : {}),
  ...(r.revokedBy !== null ? { revokedBy: r.revokedBy } : {}),
});

/**
 * Agent NATS credentials: short-lived (FEDPBX_AGENT_CREDS_TTL_SEC), recorded by user key, renewed by the agent over
 * NATS before they expire, and revoked - in the database (renewal refused) and at the hub (account JWT
 * revocations, {@link AccountRevocations}) - when the site is decommissioned, its box replaced, or it re-enrolls.
 *
 * Renewal goes over NATS rather than HTTPS: the agent already holds a NATS connection authenticated by the very
 * credentials being renewed, the subject `Subjects.credsRenew(site)` is one only that site's agent may publish
 * (and the answer lands in its private inbox), and the agent needs no second secret or route to the controller's
 * HTTP port. The request is also signed with the current user key, so the controller knows which credential asks:
 * one that is unknown, revoked or expired gets nothing, however it reached the subject.
 */
@Injectable()
export class AgentCredentialsService implements OnModuleInit {
  private readonly log = new Logger('agent-credentials');
  private readonly ttlMs: number;

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(CONTROLLER_CONFIG) config: ControllerConfig,
    private readonly repo: AgentCredentialRepository,
    private readonly audit: AuditRepository,
    private readonly bus: NatsBus,
    private readonly revocations: AccountRevocations,
    private readonly store: FederationStore,
    private readonly writer: FederationWriter,
  ) {
    this.ttlMs = config.FEDPBX_AGENT_CREDS_TTL_SEC * 1000;
  }

  onModuleInit(): void {
    if (!this.bus.enabled || this.bus.issuer === undefined) return;
    void this.bus.connection().then((nc) => {
      // One controller answers each request (queue group); nats.js re-subscribes after reconnects by itself.
      nc.subscribe(Subjects.CREDS_RENEW_WILDCARD, { queue: 'fedpbx-controller', callback: (err, msg) => (err === null ? void this.answer(msg) : undefined) });
    });
  }

  /**
   * New credentials at enrollment, inside the enrollment's transaction: the site's earlier credentials are revoked
   * (a re-enrolled or replaced box ends the old one). Call {@link pushRevocations} after the commit.
   */
  async issueAtEnrollment(m: EntityManager, siteId: string, creds: MintedAgentCreds, actor: string): Promise<string[]> {
    const revoked = await this.repo.revokeSite(m, siteId, creds.issuedAt, actor);
    await this.repo.insert(m, { userKey: creds.userKey, siteId, origin: 'enrollment', issuedAt: creds.issuedAt, expiresAt: creds.expiresAt });
    if (revoked.length > 0) {
      await this.audit.append(m, [{ actor, action: 'agentCredentials.revoke', objectType: 'site', objectId: siteId, siteIds: [siteId], after: { reason: 're-enrollment', revokedKeys: revoked } }]);
    }
    return revoked;
  }

  /** Mints enrollment credentials (pure: nothing recorded yet). */
  async mint(siteId: string, now = new Date()): Promise<MintedAgentCreds> {
    const issuer = this.bus.issuer;
    if (issuer === undefined) throw new Error('no NATS issuer');
    return mintAgentCredentials(issuer, siteId, new Date(now.getTime() + this.ttlMs), await this.presencePeers(siteId));
  }

  /**
   * The sites whose busy lamps the site shows (its snapshot's remotePresence): its credentials may read their
   * presence and nothing else's. A new watched site is readable from the agent's next renewal (at half the lifetime)
   * or enrollment; until then its lamps show UNAVAILABLE.
   */
  private async presencePeers(siteId: string): Promise<PresencePeers> {
    const { federation } = await this.store.read();
    const site = federation.sites.find((s) => s.id === siteId);
    if (site === undefined) return [];
    // A site that shows every reachable site's lamps (a head office) may read every site's presence: one wildcard.
    if (site.presence?.remoteHints === 'all') return 'all';
    return (buildSiteConfig(federation, siteId).remotePresence ?? []).map((r) => r.siteId);
  }

  pushRevocations(): void {
    void this.revocations.push();
  }

  /** The site's credentials (newest first) and where the hub stands: every reader of the site. */
  async list(caller: Principal, siteId: string): Promise<AgentCredentialsPage> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    const { federation } = await this.store.read();
    const rows = await this.repo.listBySite(this.ds.manager, siteId, 100);
    if (!federation.sites.some((s) => s.id === siteId) && rows.length === 0) throw new NotFoundError('site', siteId);
    const now = new Date();
    const alarm = alarmOf(rows, now);
    return { items: rows.map((r) => view(r, now)), ...(alarm !== undefined ? { alarm } : {}), lifetimeSec: this.ttlMs / 1000, revocation: this.revocations.state() };
  }

  /**
   * The box was replaced or lost (head office): every credential of the site is revoked at once, and the secrets
   * of the site's links - which the old box held - are replaced, so its peers' snapshots change and roll out. The
   * new box enrolls with a new token. One write: the links and the revocation commit together.
   */
  async revokeSite(caller: Principal, siteId: string, dryRun: boolean): Promise<AgentCredentialsRevocation> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    if (!caller.scope.headOffice) throw new ForbiddenError('only head office revokes agent credentials');
    const { federation } = await this.store.read();
    if (!federation.sites.some((s) => s.id === siteId)) throw new NotFoundError('site', siteId);
    const actor = actorName(caller);
    const at = new Date();
    let revokedKeys: string[] = dryRun ? (await this.repo.liveOfSite(this.ds.manager, siteId, at)).map((r) => r.userKey) : [];
    let rotatedLinks: string[] = [];
    const outcome = await this.writer.write(
      {
        actor,
        reason: `agent credentials of ${siteId} revoked; its link secrets rotated`,
        dryRun,
        alsoInTransaction: async (m) => {
          revokedKeys = await this.revokeInTransaction(m, siteId, at, actor, 'box replaced or lost');
        },
      },
      (fed) => {
        const changes = rotateLinkSecrets(fed.links.filter((l) => l.a === siteId || l.b === siteId));
        rotatedLinks = changes.map((c) => (c.op === 'upsert' ? c.value.id : ''));
        return changes;
      },
    );
    if (!dryRun) await this.revocations.push();
    return {
      dryRun,
      siteId,
      revokedKeys,
      rotatedLinks,
      changedSites: outcome.changedSites.map((s) => s.siteId),
      revisions: outcome.revisions,
      revocation: this.revocations.state(),
    };
  }

  /** Revokes every credential of the site issued up to `at` and audits it, inside the caller's transaction. */
  async revokeInTransaction(m: EntityManager, siteId: string, at: Date, actor: string, reason: string): Promise<string[]> {
    const revoked = await this.repo.revokeSite(m, siteId, at, actor);
    await this.audit.append(m, [{ actor, action: 'agentCredentials.revoke', objectType: 'site', objectId: siteId, siteIds: [siteId], after: { reason, revokedKeys: revoked, revokedAt: at.toISOString() } }]);
    return revoked;
  }

  /** Answers one renewal request (never throws: the agent always hears why). */
  private async answer(msg: Msg): Promise<void> {
    const siteId = msg.subject.split('.')[2] ?? '';
    let response: AgentCredsRenewResponse;
    try {
      let body: unknown;
      try {
        body = msg.json();
      } catch {
        body = undefined;
      }
      const parsed = AgentCredsRenewRequest.safeParse(body);
      response = parsed.success ? await this.renew(siteId, parsed.data, new Date()) : { ok: false, code: 'bad-request', message: 'not a renewal request' };
    } catch (error) {
      this.log.error(`renewal of ${siteId} failed: ${error instanceof Error ? error.message : String(error)}`);
      response = { ok: false, code: 'unavailable', message: 'the controller could not renew now; try again later' };
    }
    if (!response.ok) this.log.warn(`refused credentials renewal for ${siteId}: ${response.code} (${response.message})`);
    if (msg.reply !== undefined) msg.respond(JSON.stringify(response));
  }

  /**
   * A JWT for the agent's new key, valid FEDPBX_AGENT_CREDS_TTL_SEC, when the signing key is a current credential
   * of this site (known, not revoked, not expired) and the site still exists. Under the federation lock, so a
   * decommission or revocation and a renewal never interleave (no fresh key escapes a revocation).
   */
  async renew(siteId: string, req: AgentCredsRenewRequest, now: Date): Promise<AgentCredsRenewResponse> {
    const issuer = this.bus.issuer;
    if (issuer === undefined) return { ok: false, code: 'unavailable', message: 'this controller mints no NATS credentials' };
    const at = Date.parse(req.at);
    if (Math.abs(at - now.getTime()) > RENEWAL_CLOCK_SKEW_MS) return { ok: false, code: 'bad-request', message: 'the request time is more than 5 minutes off the controller clock' };
    if (req.newUserKey === req.userKey || !verifyRenewal(req.userKey, req.sig, siteId, req.newUserKey, req.at)) {
      return { ok: false, code: 'bad-request', message: 'the renewal is not signed by the user key it names' };
    }
    // Read before the transaction: the federation store may read the database itself.
    const presencePeers = await this.presencePeers(siteId);
    return this.ds.transaction(async (m): Promise<AgentCredsRenewResponse> => {
      await m.query('SELECT "id" FROM "federation_state" WHERE "id" = 1 FOR UPDATE');
      const current = await this.repo.byKey(m, req.userKey);
      if (current === undefined || current.siteId !== siteId) return { ok: false, code: 'unknown', message: 'these credentials were not issued by this controller for this site: re-enroll with a new token' };
      if (current.revokedAt !== null) return { ok: false, code: 'revoked', message: `these credentials were revoked ${current.revokedAt.toISOString()}: re-enroll with a new token` };
      if (current.expiresAt <= now) return { ok: false, code: 'expired', message: 'these credentials have expired: re-enroll with a new token' };
      const site = (await m.query('SELECT "id" FROM "sites" WHERE "id" = $1', [siteId])) as unknown[];
      if (site.length === 0) return { ok: false, code: 'revoked', message: `site ${siteId} no longer exists` };
      if ((await this.repo.byKey(m, req.newUserKey)) !== undefined) return { ok: false, code: 'bad-request', message: 'that user key was issued before: make a new one' };
      const expiresAt = new Date(now.getTime() + this.ttlMs);
      const { jwt, issuedAt } = await mintAgentJwt(issuer, siteId, req.newUserKey, expiresAt, presencePeers);
      await this.repo.insert(m, { userKey: req.newUserKey, siteId, origin: 'renewal', issuedAt, expiresAt });
      await this.audit.append(m, [
        {
          actor: `agent:${siteId}`,
          action: 'agentCredentials.renew',
          objectType: 'site',
          objectId: siteId,
          siteIds: [siteId],
          after: { userKey: req.newUserKey, renewedKey: req.userKey, expiresAt: expiresAt.toISOString() },
        },
      ]);
      return { ok: true, jwt, expiresAt: expiresAt.toISOString() };
    });
  }
}

/** The alarm of a site's credentials, newest first (none without any: the agent never enrolled). */
export function alarmOf(newestFirst: readonly AgentCredentialRecord[], now: Date): AgentCredentialsAlarm | undefined {
  const newest = newestFirst[0];
  if (newest === undefined) return undefined;
  const active = newestFirst.find((r) => r.revokedAt === null && r.expiresAt > now);
  if (active === undefined) {
    return newest.revokedAt !== null
      ? { code: 'agent-credentials-revoked', severity: 'warning', message: `the agent's credentials were revoked ${newest.revokedAt.toISOString()}: enroll the office's box with a new token` }
      : {
          code: 'agent-credentials-expired',
          severity: 'critical',
          message: `the agent's credentials expired ${newest.expiresAt.toISOString()}: it routes calls from its last configuration but cannot sync; enroll it again with a new token`,
        };
  }
  const lifetime = active.expiresAt.getTime() - active.issuedAt.getTime();
  if (now.getTime() > active.issuedAt.getTime() + lifetime * 0.75) {
    return { code: 'agent-credentials-renewal-overdue', severity: 'warning', message: `the agent has not renewed its credentials, which expire ${active.expiresAt.toISOString()}: is it offline?` };
  }
  return undefined;
}

/** New generated secrets for these links (what a box that held them can no longer use). */
export function rotateLinkSecrets(links: readonly InterSiteLink[]): FederationChange[] {
  return links.map((l): FederationChange => ({ collection: 'links', op: 'upsert', value: { ...l, secret: generateSecret() } }));
}
