import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** One JetStream message: its subject, its bytes (text), and its `Nats-Msg-Id` (JetStream's dedupe key). */
export interface JsMessage {
  readonly subject: string;
  readonly text: string;
  readonly msgId: string;
}

interface Waiting {
  /** Reply token of the batch's first message; the others follow it. */
  readonly first: number;
  readonly acked: Uint8Array;
  left: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const decoder = new TextDecoder();

/**
 * JetStream publishes of a batch whose PubAcks all come back to ONE subscription of the connection (the reply
 * subject's last token says which message) and are awaited with one timer per batch. nats.js's `js.publish` is a
 * request per message: a RequestOne with its own timer, a deferred, a mux entry, JSON decoding through a fresh
 * TextDecoder, and an Error made every time a request ends, even on success (request.js `cancel`) - the largest part
 * of the agent's CPU per published CDR (bench:cdr-trickle profile at 50/s). On the wire nothing changes: each message
 * is a PUB with a reply subject and its `Nats-Msg-Id` header, and the stream answers each with its PubAck (or an
 * error, or the server a 503 when no stream takes the subject).
 *
 * One batch at a time (the CDR publisher awaits each): PubAcks of a batch given up on (timed out) are ignored.
 */
export class PubAcks {
  private readonly inbox: string;
  private nc: NatsConnection | undefined;
  private sub: Subscription | undefined;
  private next = 0;
  private waiting: Waiting | undefined;

  constructor(inboxPrefix: string) {
    this.inbox = createInbox(inboxPrefix);
  }

  /**
   * Publishes every message and resolves once JetStream acknowledged each (stored, or a duplicate within its
   * window); rejects at the first refusal, or after `timeoutMs` without all PubAcks. Nothing is known to be stored
   * then: the caller sends the batch again (the msg-ids make that safe).
   */
  publishAll(nc: NatsConnection, messages: readonly JsMessage[], timeoutMs: number): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    this.subscribe(nc);
    this.giveUp(new Error('superseded by the next batch'));
    const first = this.next;
    this.next += messages.length;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.giveUp(new Error(`no PubAck for ${this.waiting?.left ?? 0} of ${messages.length} messages within ${timeoutMs} ms`)), timeoutMs);
      this.waiting = { first, acked: new Uint8Array(messages.length), left: messages.length, resolve, reject, timer };
    });
    try {
      messages.forEach((m, i) => {
        const h = headers();
        h.set('Nats-Msg-Id', m.msgId);
        nc.publish(m.subject, m.text, { reply: `${this.inbox}.${first + i}`, headers: h });
      });
    } catch (error) {
      // Closed or draining connection: publish throws at once.
      this.giveUp(error instanceof Error ? error : new Error(String(error)));
    }
    return done;
  }

  /** Gives up on the batch awaited now, if any (the server refused a publish on the connection: a permission violation). */
  fail(error: Error): void {
    this.giveUp(error);
  }

  /** Stops listening (the publisher stops). */
  close(): void {
    this.giveUp(new Error('closed'));
    this.unsubscribe();
    this.nc = undefined;
  }

  /** One subscription per connection object (nats.js subscribes it again by itself after a reconnect). */
  private subscribe(nc: NatsConnection): void {
    if (this.nc === nc && this.sub !== undefined && !this.sub.isClosed()) return;
    this.unsubscribe();
    this.nc = nc;
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => (err === null ? this.onAck(msg) : undefined) });
  }

  private unsubscribe(): void {
    try {
      this.sub?.unsubscribe();
    } catch {
      // its connection is closed already: so is the subscription
    }
    this.sub = undefined;
  }

  private onAck(msg: Msg): void {
    const w = this.waiting;
    if (w === undefined) return;
    const token = Number(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
    const i = token - w.first;
    if (!Number.isInteger(i) || i < 0 || i >= w.acked.length || w.acked[i] === 1) return; // a late one of a batch given up on
    const refusal = refusalOf(msg);
    if (refusal !== undefined) {
      this.giveUp(new Error(refusal));
      return;
    }
    w.acked[i] = 1;
    w.left -= 1;
    if (w.left === 0) {
      clearTimeout(w.timer);
      this.waiting = undefined;
      w.resolve();
    }
  }

  private giveUp(error: Error): void {
    const w = this.waiting;
    if (w === undefined) return;
    this.waiting = undefined;
    clearTimeout(w.timer);
    w.reject(error);
  }
}

/** Why a reply is not a PubAck that stored the message (undefined when it is one). */
function refusalOf(msg: Msg): string | undefined {
  if (msg.data.length === 0) {
    // A status without a body: 503 when no stream takes the subject (no responders).
    const code = msg.headers?.code ?? 0;
    return code === 503 ? 'no stream takes the subject (503 no responders)' : `empty reply (status ${code} ${msg.headers?.description ?? ''})`.trim();
  }
  let ack: { stream?: unknown; error?: { code?: unknown; err_code?: unknown; description?: unknown } };
  try {
    ack = JSON.parse(decoder.decode(msg.data)) as typeof ack;
  } catch {
    return 'a reply that is not JSON';
  }
  if (ack.error !== undefined) return `JetStream refused the message: ${String(ack.error.description ?? '')} (${String(ack.error.code ?? '')}/${String(ack.error.err_code ?? '')})`;
  if (typeof ack.stream !== 'string' || ack.stream === '') return 'a reply that is not a PubAck';
  return undefined;
}
