import { AgentEventEnvelope } from '@fedpbx/contracts';
import { isPlainCdrEnvelope } from './cdr-envelope-check.js';

const SUBJECT_PREFIX = 'fedpbx.events.';
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Why a message was refused. A refused message is terminated (never redelivered) and counted, never stored. */
export type RejectReason =
  /** Not UTF-8 JSON, not an AgentEventEnvelope, or a subject that is not `fedpbx.events.<site>.<type>` of that event. */
  | 'malformed'
  /** A well-formed envelope whose `siteId` is not the site its subject (what nats-server permissions enforce) names. */
  | 'spoofed';

export type Decoded =
  | { readonly ok: true; readonly envelope: AgentEventEnvelope }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string; readonly subjectSite: string | undefined };

/** `fedpbx.events.<site>.<type>` -> site and type (site ids hold no dots; types may: `snapshot.applied`). */
export function parseEventSubject(subject: string): { site: string; type: string } | undefined {
  if (!subject.startsWith(SUBJECT_PREFIX)) return undefined;
  const rest = subject.slice(SUBJECT_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  return { site: rest.slice(0, dot), type: rest.slice(dot + 1) };
}

/**
 * One JetStream message -> a checked envelope, or why it is refused. Pure: the subject is the sender's
 * identity (an agent may publish only under its own site: nats-auth `agentPermissions`), so an envelope that
 * claims another site is spoofing, not a typo.
 */
export function decodeEvent(subject: string, data: Uint8Array): Decoded {
  const target = parseEventSubject(subject);
  const reject = (reason: RejectReason, detail: string): Decoded => ({ ok: false, reason, detail, subjectSite: target?.site });
  if (target === undefined) return reject('malformed', `subject ${subject} is not fedpbx.events.<site>.<type>`);
  let text: string;
  let json: unknown;
  try {
    text = decoder.decode(data);
    json = JSON.parse(text);
  } catch {
    return reject('malformed', `not UTF-8 JSON (${data.length} bytes)`);
  }
  // PostgreSQL text and jsonb cannot hold U+0000: such an event could never be stored, so refuse it here.
  if (text.includes('\\u0000')) return reject('malformed', 'contains U+0000');
  let envelope: AgentEventEnvelope;
  if (isPlainCdrEnvelope(json)) envelope = json;
  else {
    // Everything but a plain CDR (and any envelope the quick check is unsure of): zod decides, and says why not.
    const parsed = AgentEventEnvelope.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return reject('malformed', `not an AgentEventEnvelope: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
    }
    envelope = parsed.data;
  }
  if (envelope.siteId !== target.site) return reject('spoofed', `envelope says site ${envelope.siteId}, subject says ${target.site}`);
  if (envelope.event.type !== target.type) return reject('malformed', `a ${envelope.event.type} event on subject type ${target.type}`);
  return { ok: true, envelope };
}
