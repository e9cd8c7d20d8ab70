import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';

interface Pending {
  readonly resolve: (seq: number) => void;
  readonly reject: (error: Error) => void;
  readonly deadline: number;
}

const decoder = new TextDecoder();

/**
 * Compare-and-set puts of KV values (`update`: the key must still be at the sequence given) whose PubAcks all come
 * back to ONE subscription of the connection, the reply subject's last token naming the put, with one timer for
 * all of them. nats.js's `kv.update` is a JetStream publish, i.e. a request per put: a RequestOne with its own
 * timer, a deferred, a mux entry, a fresh TextDecoder for the PubAck, and an Error made each time a request ends,
 * even on success (request.js `cancel`) - and a plan-wide write at 1,000 sites puts 1,000 values. On the wire
 * nothing changes: a PUB to `$KV.<bucket>.<key>` with the reply subject and the `Nats-Expected-Last-Subject-Sequence`
 * header nats.js sends, answered by the stream with its PubAck (or an error: `wrong last sequence`, or the server's
 * 503 when no stream takes the subject). (The agent's CDR publisher does the same for its batches: pub-acks.ts.)
 */
export class KvUpdates {
  private readonly inbox = createInbox();
  private nc: NatsConnection | undefined;
  private sub: Subscription | undefined;
  private next = 0;
  private readonly pending = new Map<number, Pending>();
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Puts `bytes` as `key` of `bucket` if the key is still at `expectedSeq` (> 0); resolves to its new sequence. */
  update(nc: NatsConnection, bucket: string, key: string, bytes: Uint8Array, expectedSeq: number): Promise<number> {
    if (expectedSeq <= 0) return Promise.reject(new Error('an update needs the sequence the key is at'));
    this.subscribe(nc);
    const token = this.next++;
    const done = new Promise<number>((resolve, reject) => this.pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs }));
    try {
      const h = headers();
      h.set('Nats-Expected-Last-Subject-Sequence', String(expectedSeq));
      nc.publish(`$KV.${bucket}.${key}`, bytes, { reply: `${this.inbox}.${token}`, headers: h });
    } catch (error) {
      // A closed or draining connection throws at once.
      this.settle(token, error instanceof Error ? error : new Error(String(error)));
    }
    this.sweep ??= setInterval(() => this.expire(), Math.min(1000, this.timeoutMs));
    return done;
  }

  /** Fails whatever is still waiting (the connection is being replaced or closed). */
  close(): void {
    for (const token of [...this.pending.keys()]) this.settle(token, new Error('closed'));
    try {
      this.sub?.unsubscribe();
    } catch {
      // its connection is closed already: so is the subscription
    }
    this.sub = undefined;
    this.nc = undefined;
  }

  /** One subscription per connection object (nats.js subscribes it again by itself after a reconnect). */
  private subscribe(nc: NatsConnection): void {
    if (this.nc === nc && this.sub !== undefined && !this.sub.isClosed()) return;
    if (this.nc !== nc) this.close();
    this.nc = nc;
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => (err === null ? this.onAck(msg) : undefined) });
  }

  private onAck(msg: Msg): void {
    const token = Number(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
    if (!this.pending.has(token)) return; // expired already
    const ack = pubAckOf(msg);
    this.settle(token, typeof ack === 'number' ? undefined : new Error(ack), typeof ack === 'number' ? ack : 0);
  }

  private settle(token: number, error: Error | undefined, seq = 0): void {
    const p = this.pending.get(token);
    if (p === undefined) return;
    this.pending.delete(token);
    if (error !== undefined) p.reject(error);
    else p.resolve(seq);
    if (this.pending.size === 0 && this.sweep !== undefined) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }

  private expire(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) if (p.deadline <= now) this.settle(token, new Error(`no PubAck within ${this.timeoutMs} ms`));
  }
}

/** The stream sequence a PubAck reports, or why the reply is not one that stored the value. */
function pubAckOf(msg: Msg): number | string {
  if (msg.data.length === 0) {
    const code = msg.headers?.code ?? 0;
    return code === 503 ? 'no stream takes the subject (503 no responders)' : `empty reply (status ${code} ${msg.headers?.description ?? ''})`.trim();
  }
  let ack: { stream?: unknown; seq?: unknown; error?: { code?: unknown; err_code?: unknown; description?: unknown } };
  try {
    ack = JSON.parse(decoder.decode(msg.data)) as typeof ack;
  } catch {
    return 'a reply that is not JSON';
  }
  if (ack.error !== undefined) return `JetStream refused the value: ${String(ack.error.description ?? '')} (${String(ack.error.code ?? '')}/${String(ack.error.err_code ?? '')})`;
  if (typeof ack.stream !== 'string' || typeof ack.seq !== 'number') return 'a reply that is not a PubAck';
  return ack.seq;
}
