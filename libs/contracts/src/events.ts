import { z } from 'zod';
import { RouteKind } from './routing.js';
import { FederationCallId, ObjectId, SiteId } from './primitives.js';

/**
 * Something at the site that an admin must act on, raised and cleared by the agent (e.g. `pjsip-transport-failed`:
 * Asterisk could not start fedpbx's SIP transport). One alarm per code; every heartbeat carries the alarms in force,
 * and the agent sends a heartbeat at once when they change.
 */
export const AgentAlarm = z.strictObject({
  code: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'an alarm code is lower-case letters, digits, dots and dashes'),
  severity: z.enum(['critical', 'warning']),
  message: z.string().min(1).max(1000),
  /** When the agent raised it (agent clock). */
  since: z.iso.datetime(),
});
export type AgentAlarm = z.infer<typeof AgentAlarm>;

/** Everything an agent reports back. Each travels in an envelope whose `id` is the JetStream dedupe msg-id. */
export const HeartbeatEvent = z.strictObject({
  type: z.literal('heartbeat'),
  agentVersion: z.string().max(40),
  appliedRevision: z.number().int().min(0),
  uptimeSec: z.number().min(0),
  agiSessionsActive: z.number().int().min(0),
  amiConnected: z.boolean(),
  /** The alarms in force (absent from agents older than alarms: none). */
  alarms: z.array(AgentAlarm).max(32).optional(),
});
export const SnapshotAppliedEvent = z.strictObject({
  type: z.literal('snapshot.applied'),
  revision: z.number().int().min(1),
  contentHash: z.string(),
});
export const SnapshotRefusedEvent = z.strictObject({
  type: z.literal('snapshot.refused'),
  revision: z.number().int().min(0),
  reason: z.string().max(500),
});
/**
 * The agent rendered and wrote the Asterisk include files of `revision` (pjsip, extensions, voicemail): only the
 * files whose text changed are listed. Clears an earlier `config.failed`.
 */
export const ConfigWrittenEvent = z.strictObject({
  type: z.literal('config.written'),
  revision: z.number().int().min(0),
  files: z.array(z.string().max(80)).max(8),
});
/**
 * The agent could not render or write the Asterisk include files of `revision`: the files of the last good
 * revision stay in force (routing uses the new snapshot). `object`/`field` name what a renderer refused (never the
 * value); a write failure names the file.
 */
export const CONFIG_FAILURE_KINDS = ['render', 'write'] as const;
export const ConfigFailedEvent = z.strictObject({
  type: z.literal('config.failed'),
  revision: z.number().int().min(0),
  kind: z.enum(CONFIG_FAILURE_KINDS),
  /** RenderError code (UNSAFE_VALUE, MISSING_VALUE, ...) or the system error code (EACCES, ENOSPC, ...). */
  code: z.string().max(40),
  /** What was being rendered (`trunk t-moscow-city`, `extension e-m101`) or the file being written. */
  object: z.string().max(200),
  field: z.string().max(120),
  reason: z.string().max(500),
});
export type ConfigFailedEvent = z.infer<typeof ConfigFailedEvent>;
export const LinkStatusEvent = z.strictObject({
  type: z.literal('link.status'),
  peerSiteId: SiteId,
  state: z.enum(['up', 'down', 'unknown']),
  rttMs: z.number().min(0).optional(),
  source: z.enum(['ami', 'wireguard']),
  wireguardHandshakeAgeSec: z.number().min(0).optional(),
});
export const TrunkStatusEvent = z.strictObject({
  type: z.literal('trunk.status'),
  trunkId: ObjectId,
  state: z.enum(['up', 'down', 'unknown']),
  registration: z.enum(['Registered', 'Unregistered', 'Rejected', 'Failed']).optional(),
});
export const CdrEvent = z.strictObject({
  type: z.literal('cdr'),
  /** Unique per call leg at the site: Asterisk's uniqueid (with systemname) plus a sequence. */
  cdrId: z.string().min(1).max(128),
  uniqueId: z.string().max(128),
  linkedId: z.string().max(128),
  start: z.iso.datetime(),
  answer: z.iso.datetime().optional(),
  end: z.iso.datetime(),
  durationSec: z.number().int().min(0),
  billSec: z.number().int().min(0),
  src: z.string().max(80),
  dst: z.string().max(80),
  disposition: z.enum(['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION']),
  /** This leg's own route decision (which attempt of the plan the leg's Dial was). */
  routeKind: RouteKind.optional(),
  targetSiteId: SiteId.optional(),
  trunkId: ObjectId.optional(),
  /** The site where the call started (the same at every site the call passed through). */
  originSiteId: SiteId.optional(),
  /** The call across the federation: the origin site and the call's linkedid there (`moscow/1732600000.12`). */
  callId: FederationCallId.optional(),
  snapshotRevision: z.number().int().min(0).optional(),
  recordingFile: z.string().max(255).optional(),
});
export type CdrEvent = z.infer<typeof CdrEvent>;

export const AgentEvent = z.discriminatedUnion('type', [
  HeartbeatEvent,
  SnapshotAppliedEvent,
  SnapshotRefusedEvent,
  ConfigWrittenEvent,
  ConfigFailedEvent,
  LinkStatusEvent,
  TrunkStatusEvent,
  CdrEvent,
]);
export type AgentEvent = z.infer<typeof AgentEvent>;
export type AgentEventType = AgentEvent['type'];

export const AgentEventEnvelope = z.strictObject({
  v: z.literal(1),
  /** Unique and stable across retries: the JetStream `Nats-Msg-Id` and the controller's unique key. */
  id: z.string().min(1).max(160),
  siteId: SiteId,
  at: z.iso.datetime(),
  event: AgentEvent,
});
export type AgentEventEnvelope = z.infer<typeof AgentEventEnvelope>;

/**
 * Bounds of a CDR batch message (`Subjects.cdrBatch`): the agent never sends more, the controller refuses more, and
 * the stream's `max_msg_size` is the byte bound (nats-server's default max_payload is 1 MiB).
 */
export const CDR_BATCH_MAX_CDRS = 1000;
export const CDR_BATCH_MAX_BYTES = 512 * 1024;
