import { z } from 'zod';
import { AgentAlarm, CdrEvent } from './events.js';
import { RouteEntry, Health, TraceResult } from './routing.js';
import { FederationCallId, SiteId } from './primitives.js';
import { WireguardKey } from './config-values.js';

/**
 * Sync between controller and agents: rollout status, agent status, CDRs as the API shows them, enrollment,
 * and the live request/reply payloads (controller -> one agent over NATS).
 */

/** Where one site's configuration stands: what the controller has, what it published, what the agent applied. */
/**
 * `config-failed`: the agent applied the snapshot (calls route by it) but could not render or write its Asterisk
 * include files; Asterisk keeps the files of the last good revision until the object named is fixed.
 */
export const ROLLOUT_STATES = ['in-sync', 'publishing', 'applying', 'refused', 'config-failed', 'never-seen'] as const;
export const RolloutState = z.enum(ROLLOUT_STATES);
export type RolloutState = z.infer<typeof RolloutState>;

export const SiteRollout = z.strictObject({
  siteId: SiteId,
  /** The newest revision the controller holds for this site. */
  currentRevision: z.number().int().min(0),
  currentHash: z.string().nullable(),
  /** The revision in the site's KV bucket (null before the first publish). */
  publishedRevision: z.number().int().min(0).nullable(),
  publishedAt: z.iso.datetime().nullable(),
  /** The revision the agent reports as applied (null when it never reported). */
  appliedRevision: z.number().int().min(0).nullable(),
  appliedAt: z.iso.datetime().nullable(),
  /** The last refusal of a revision newer than the applied one, with the agent's reason. */
  refused: z.strictObject({ revision: z.number().int().min(0), reason: z.string(), at: z.iso.datetime() }).nullable(),
  /** The agent's last report that it could not render or write the Asterisk files (null when its last write went through). */
  configFailure: z
    .strictObject({
      revision: z.number().int().min(0),
      kind: z.enum(['render', 'write']),
      code: z.string(),
      object: z.string(),
      field: z.string(),
      reason: z.string(),
      at: z.iso.datetime(),
    })
    .nullable(),
  state: RolloutState,
  /** When the site first fell behind `currentRevision` (null when in sync), and for how long, in seconds. */
  behindSince: z.iso.datetime().nullable(),
  behindSec: z.number().min(0),
});
export type SiteRollout = z.infer<typeof SiteRollout>;

export const HEALTH_STATES = ['up', 'down', 'unknown'] as const;

/** What the controller last heard from a site's agent. */
export const AgentStatus = z.strictObject({
  siteId: SiteId,
  /** A heartbeat within the last three heartbeat intervals. */
  online: z.boolean(),
  lastSeenAt: z.iso.datetime().nullable(),
  agentVersion: z.string().nullable(),
  appliedRevision: z.number().int().min(0).nullable(),
  uptimeSec: z.number().min(0).nullable(),
  agiSessionsActive: z.number().int().min(0).nullable(),
  amiConnected: z.boolean().nullable(),
  /** The alarms of the last heartbeat (empty when the agent never reported one). */
  alarms: z.array(AgentAlarm),
  links: z.array(
    z.strictObject({
      peerSiteId: SiteId,
      state: z.enum(HEALTH_STATES),
      source: z.enum(['ami', 'wireguard']),
      rttMs: z.number().min(0).optional(),
      wireguardHandshakeAgeSec: z.number().min(0).optional(),
      at: z.iso.datetime(),
    }),
  ),
  trunks: z.array(
    z.strictObject({
      trunkId: z.string(),
      state: z.enum(HEALTH_STATES),
      registration: z.string().optional(),
      at: z.iso.datetime(),
    }),
  ),
  /**
   * What the controller concludes from the above and the federation: `emergency-trunk-down` when an emergency-capable
   * trunk of the site is down (emergency calls leave only through the site's own trunks).
   */
  warnings: z.array(z.strictObject({ code: z.enum(['emergency-trunk-down']), message: z.string(), trunkIds: z.array(z.string()) })).default([]),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

/**
 * A call record as the API returns it: the agent's CDR event plus the site, when the controller stored it, and the
 * call it belongs to (`callId`: what the agent sent, else `<site>/<linkedid>`; every leg of a call across sites
 * has the same one).
 */
export const CdrRecord = CdrEvent.omit({ type: true }).extend({
  siteId: SiteId,
  callId: FederationCallId,
  receivedAt: z.iso.datetime(),
});
export type CdrRecord = z.infer<typeof CdrRecord>;

/** `GET /api/v1/cdrs` query: filters and keyset paging (newest first; `cursor` from the previous page). */
export const CdrQuery = z.strictObject({
  siteId: SiteId.optional(),
  from: z.iso.datetime().optional(),
  to: z.iso.datetime().optional(),
  src: z.string().max(80).optional(),
  dst: z.string().max(80).optional(),
  disposition: CdrEvent.shape.disposition.optional(),
  routeKind: CdrEvent.shape.routeKind.optional(),
  /** Only the legs of one call (`<origin site>/<linkedid>`). */
  callId: FederationCallId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});
export type CdrQuery = z.infer<typeof CdrQuery>;

export const CdrPage = z.strictObject({ items: z.array(CdrRecord), nextCursor: z.string().nullable() });
export type CdrPage = z.infer<typeof CdrPage>;

/**
 * `GET /api/v1/calls/:originSiteId/:linkedId`: one call across the federation with its legs, oldest first - only
 * the legs at sites the caller may read; `legsElsewhere` counts the others without showing any of their content.
 */
export const CallDetail = z.strictObject({
  callId: FederationCallId,
  originSiteId: SiteId,
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  /** The longest billed time of any readable leg. */
  billSec: z.number().int().min(0),
  answered: z.boolean(),
  sites: z.array(SiteId),
  legs: z.array(CdrRecord),
  legsElsewhere: z.number().int().min(0),
});
export type CallDetail = z.infer<typeof CallDetail>;

/** `POST /api/v1/sites/:siteId/enrollment-tokens` answer: the token is shown once, stored hashed. */
export const EnrollmentTokenIssued = z.strictObject({
  /** The token's id, as listed and revoked (`EnrollmentToken.id`). */
  id: z.string(),
  siteId: SiteId,
  token: z.string(),
  expiresAt: z.iso.datetime(),
});
export type EnrollmentTokenIssued = z.infer<typeof EnrollmentTokenIssued>;

/**
 * Where an enrollment token stands: `pending` (can still be exchanged), `used` (its agent enrolled), `expired`
 * (never used in time) or `revoked` (head office cancelled it before use).
 */
export const ENROLLMENT_TOKEN_STATES = ['pending', 'used', 'expired', 'revoked'] as const;
export type EnrollmentTokenState = (typeof ENROLLMENT_TOKEN_STATES)[number];

/** An issued enrollment token as listed and revoked: never the token itself or its hash. */
export const EnrollmentToken = z.strictObject({
  id: z.uuid(),
  siteId: SiteId,
  createdAt: z.iso.datetime(),
  /** Who issued it (as the audit log names them). */
  createdBy: z.string(),
  expiresAt: z.iso.datetime(),
  usedAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
  revokedBy: z.string().nullable(),
  state: z.enum(ENROLLMENT_TOKEN_STATES),
});
export type EnrollmentToken = z.infer<typeof EnrollmentToken>;

/** `GET /api/v1/sites/:siteId/enrollment-tokens`: newest first; `next` is the `before` of the next page. */
export const EnrollmentTokenPage = z.strictObject({ items: z.array(EnrollmentToken), next: z.string().optional() });
export type EnrollmentTokenPage = z.infer<typeof EnrollmentTokenPage>;

/** `POST /api/v1/enroll` (no login: the one-time token is the credential). */
export const EnrollRequest = z.strictObject({
  token: z.string().min(16).max(200),
  /** The agent's WireGuard public key (base64, 32 bytes); the private key never leaves the site. */
  wireguardPublicKey: WireguardKey.optional(),
  agentVersion: z.string().max(40).optional(),
});
export type EnrollRequest = z.infer<typeof EnrollRequest>;

export const EnrollResponse = z.strictObject({
  siteId: SiteId,
  /** NATS URLs the agent connects to (a leaf node at the site first, when there is one). */
  natsUrls: z.array(z.string()).min(1),
  /** A NATS credentials file (user JWT + nkey seed) limited to this site's subjects. Secret. */
  natsCreds: z.string(),
  /** The inbox prefix the agent must use; its permissions allow no other. */
  inboxPrefix: z.string(),
  controllerKeyId: z.string(),
  /** PEM (SPKI) ed25519 public key that signs snapshots. */
  controllerPublicKey: z.string(),
});
export type EnrollResponse = z.infer<typeof EnrollResponse>;

/** A NATS user public key (nkey, `U...`). */
const NatsUserKey = z.string().regex(/^U[A-Z2-7]{55}$/, 'a NATS user public key (U...)');

/**
 * `Subjects.credsRenew(site)`: the agent asks for a JWT for a user key it just made (the seed never leaves the
 * box), proving it holds its current credentials by signing `renewalChallenge(...)` with the current user key.
 */
export const AgentCredsRenewRequest = z.strictObject({
  /** The user key of the credentials the agent holds now. */
  userKey: NatsUserKey,
  /** The new user key the JWT is to be issued for. */
  newUserKey: NatsUserKey,
  /** When the request was made (ISO): the controller refuses one that is more than 5 minutes off. */
  at: z.iso.datetime(),
  /** base64url ed25519 signature of `renewalChallenge(siteId, newUserKey, at)` by `userKey`. */
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});
export type AgentCredsRenewRequest = z.infer<typeof AgentCredsRenewRequest>;

/** The text an agent signs to renew: binds the site, the new key and the time. */
export const renewalChallenge = (siteId: string, newUserKey: string, at: string): string => `fedpbx-creds-renew\n${siteId}\n${newUserKey}\n${at}`;

export const AgentCredsRenewResponse = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true), jwt: z.string().min(1), expiresAt: z.iso.datetime() }),
  z.strictObject({
    ok: z.literal(false),
    /** `revoked`/`unknown`: re-enroll with a new token; `unavailable`: try again later. */
    code: z.enum(['revoked', 'unknown', 'expired', 'bad-request', 'unavailable']),
    message: z.string(),
  }),
]);
export type AgentCredsRenewResponse = z.infer<typeof AgentCredsRenewResponse>;

/** Live request/reply (Nest microservice patterns `Subjects.rpcTrace(site)` / `rpcHealth(site)`). */
export const LiveTraceRequest = z.strictObject({
  entry: RouteEntry.default('internal'),
  caller: z.string().max(32).default(''),
  fromSiteId: SiteId.optional(),
  number: z.string().min(1).max(32),
  /** What-ifs on top of the agent's live health. */
  health: Health.optional(),
});
export type LiveTraceRequest = z.infer<typeof LiveTraceRequest>;

export const LiveTraceResponse = z.strictObject({
  siteId: SiteId,
  revision: z.number().int().min(0),
  /** The health the agent resolved with: its live view merged with the request's what-ifs. */
  health: Health,
  result: TraceResult,
});
export type LiveTraceResponse = z.infer<typeof LiveTraceResponse>;

export const LiveHealth = z.strictObject({
  siteId: SiteId,
  revision: z.number().int().min(0),
  snapshotAgeSec: z.number().min(0).nullable(),
  uptimeSec: z.number().min(0),
  agiSessionsActive: z.number().int().min(0),
  natsConnected: z.boolean(),
  amiConnected: z.boolean(),
  health: Health,
  /** CDRs stored at the site and not yet acknowledged by JetStream. */
  cdrBacklog: z.number().int().min(0),
});
export type LiveHealth = z.infer<typeof LiveHealth>;
