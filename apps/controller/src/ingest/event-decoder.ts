import { AgentEventEnvelope, CDR_BATCH_MAX_BYTES, CDR_BATCH_MAX_CDRS } from '@fedpbx/contracts';
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
  try {
    text = decoder.decode(data);
  } catch {
    return reject('malformed', `not UTF-8 JSON (${data.length} bytes)`);
  }
  return decodeEnvelopeText(text, target.site, target.type);
}

/** One envelope's JSON text, sent under `site`'s subject for events of `type`. */
function decodeEnvelopeText(text: string, site: string, type: string): Decoded {
  const reject = (reason: RejectReason, detail: string): Decoded => ({ ok: false, reason, detail, subjectSite: site });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return reject('malformed', `not UTF-8 JSON (${text.length} characters)`);
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
  if (envelope.siteId !== site) return reject('spoofed', `envelope says site ${envelope.siteId}, subject says ${site}`);
  if (envelope.event.type !== type) return reject('malformed', `a ${envelope.event.type} event on subject type ${type}`);
  return { ok: true, envelope };
}

const CDRS_PREFIX = 'fedpbx.cdrs.';

export type DecodedBatch =
  | { readonly ok: true; readonly envelopes: AgentEventEnvelope[]; readonly refused: Extract<Decoded, { ok: false }>[] }
  | Extract<Decoded, { ok: false }>;

/**
 * A CDR batch message (`fedpbx.cdrs.<site>`: CDR envelopes, one JSON text per line) -> its envelopes, each checked
 * exactly as a CDR sent alone (`decodeEvent`), and the lines refused with why. A bad line costs only itself: the
 * others are stored. The whole message is refused when it cannot be a batch at all: another subject, more than
 * CDR_BATCH_MAX_BYTES or CDR_BATCH_MAX_CDRS lines (checked before anything is parsed), not UTF-8.
 */
export function decodeCdrBatch(subject: string, data: Uint8Array): DecodedBatch {
  const site = subject.startsWith(CDRS_PREFIX) ? subject.slice(CDRS_PREFIX.length) : '';
  const reject = (detail: string): DecodedBatch => ({ ok: false, reason: 'malformed', detail, subjectSite: site === '' ? undefined : site });
  if (site === '' || site.includes('.')) return reject(`subject ${subject} is not fedpbx.cdrs.<site>`);
  if (data.length > CDR_BATCH_MAX_BYTES) return reject(`a CDR batch of ${data.length} bytes (at most ${CDR_BATCH_MAX_BYTES})`);
  let lines = 1;
  for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, i + 1)) lines += 1;
  if (lines > CDR_BATCH_MAX_CDRS) return reject(`a CDR batch of ${lines} lines (at most ${CDR_BATCH_MAX_CDRS})`);
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    return reject(`not UTF-8 (${data.length} bytes)`);
  }
  const envelopes: AgentEventEnvelope[] = [];
  const refused: Extract<Decoded, { ok: false }>[] = [];
  for (const line of text.split('\n')) {
    const d = decodeEnvelopeText(line, site, 'cdr');
    if (d.ok) envelopes.push(d.envelope);
    else refused.push(d);
  }
  return { ok: true, envelopes, refused };
}
