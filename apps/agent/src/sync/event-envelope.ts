import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { Subjects, type AgentEvent, type AgentEventEnvelope } from '@fedpbx/contracts';

const MAX_ID = 160;

/**
 * An envelope id: `<type>:<site>:<key>`, stable for the same fact so that a re-publish (after a crash between
 * the PubAck and the cursor write, or a lost ack) is a JetStream duplicate and the controller's unique key
 * absorbs it. A key that would make the id too long is replaced by its hash (still deterministic).
 */
export function eventId(type: AgentEvent['type'], siteId: string, key: string): string {
  const id = `${type}:${siteId}:${key}`;
  if (id.length <= MAX_ID) return id;
  return `${type}:${siteId}:sha256:${createHash('sha256').update(key).digest('base64url')}`;
}

export function envelope(siteId: string, id: string, event: AgentEvent, at = new Date()): AgentEventEnvelope {
  return { v: 1, id, siteId, at: at.toISOString(), event };
}

/**
 * JetStream through the agent's permissions: no `$JS.API.INFO` account check (an agent may not ask), a bounded
 * wait for each PubAck.
 */
export function agentJetStream(nc: NatsConnection, timeoutMs = 5000): JetStreamClient {
  return jetstream(nc, { checkAPI: false, timeout: timeoutMs });
}

/** Publishes one envelope on `fedpbx.events.<site>.<type>` with its id as `Nats-Msg-Id`; resolves with the PubAck. */
export function publishEnvelope(js: JetStreamClient, env: AgentEventEnvelope): Promise<PubAck> {
  return js.publish(Subjects.eventSubject(env.siteId, env.event.type), JSON.stringify(env), { msgID: env.id });
}

/**
 * The JSON of an envelope whose event is already JSON text (a CDR outbox line, validated when it was stored): the
 * same bytes `JSON.stringify(envelope(...))` gives, without parsing the event and encoding it again.
 */
export function envelopeText(siteId: string, id: string, eventJson: string, at: Date): string {
  return `{"v":1,"id":${JSON.stringify(id)},"siteId":${JSON.stringify(siteId)},"at":"${at.toISOString()}","event":${eventJson}}`;
}
