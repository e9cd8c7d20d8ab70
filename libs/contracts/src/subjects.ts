import type { AgentEventType } from './events.js';

/**
 * NATS names. Per-site names let nats-server permissions isolate sites: an agent may read only
 * `configBucket(its site)` and publish only under `eventSubject(its site, *)`.
 * (nats-server 2.9: no multi-subject consumer filters, so each stream has one wildcard subject.)
 */
export const Subjects = {
  /** JetStream KV bucket holding one site's signed snapshot under key `SNAPSHOT_KEY`. */
  configBucket: (siteId: string) => `fedpbx-config-${siteId}`,
  SNAPSHOT_KEY: 'snapshot',
  /**
   * JetStream KV bucket every agent may read: the shared part of the snapshots (format 2) under `SHARED_KEY`. Not
   * under the `configBucket` prefix, so no site id can name it.
   */
  SHARED_BUCKET: 'fedpbx-shared-config',
  SHARED_KEY: 'federation',
  /** Events back from agents: `fedpbx.events.<site>.<type>`. */
  eventSubject: (siteId: string, type: AgentEventType) => `fedpbx.events.${siteId}.${type}`,
  EVENTS_WILDCARD: 'fedpbx.events.>',
  EVENTS_STREAM: 'FEDPBX_EVENTS',
  /**
   * Several CDRs of one site in ONE JetStream message (issue #21 §4): `fedpbx.cdrs.<site>`, the envelopes as
   * newline-separated JSON. A subject of its own, in a stream (`CDRS_STREAM`) only controllers that read it create,
   * and allowed only by credentials such controllers mint: an old controller's setup answers 503 or a permission
   * violation, and the agent falls back to one CDR per message on `eventSubject(site, 'cdr')`.
   */
  cdrBatch: (siteId: string) => `fedpbx.cdrs.${siteId}`,
  CDRS_WILDCARD: 'fedpbx.cdrs.*',
  CDRS_STREAM: 'FEDPBX_CDRS',
  /** Live request/reply to one agent. */
  rpcTrace: (siteId: string) => `fedpbx.rpc.${siteId}.trace`,
  rpcHealth: (siteId: string) => `fedpbx.rpc.${siteId}.health`,
  /**
   * An agent asks the controller for new credentials before its own expire: only that site's agent (and the
   * controller) may publish here, and the request is signed with the agent's current user key.
   */
  credsRenew: (siteId: string) => `fedpbx.creds.${siteId}.renew`,
  CREDS_RENEW_WILDCARD: 'fedpbx.creds.*.renew',
  /**
   * Busy lamps: one site's coalesced device-state changes (core NATS, no JetStream write per lamp change). Only the
   * owning agent publishes; a site may subscribe only to the sites whose lamps it shows (nats-auth).
   */
  presenceChanges: (siteId: string) => `fedpbx.presence.${siteId}.changes`,
  /** Request/reply answered by the owning agent: the full state of its shared extensions (a PresenceBatch, full). */
  presenceState: (siteId: string) => `fedpbx.presence.${siteId}.state`,
  /**
   * An agent's calls in progress (core NATS, not stored: a report replaces the previous one). Only that site's
   * agent may publish here; every controller replica subscribes to the wildcard.
   */
  activeCalls: (siteId: string) => `fedpbx.live.${siteId}.calls`,
  ACTIVE_CALLS_WILDCARD: 'fedpbx.live.*.calls',
  /** Per-agent inbox prefix so replies cannot be read by other agents. */
  inboxPrefix: (siteId: string) => `_INBOX.fedpbx.${siteId}`,
} as const;
