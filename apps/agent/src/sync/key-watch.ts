import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { createInbox, nanos, nuid } from '@nats-io/transport-node';

/** One value of the watched key, as the bucket stores it. */
export interface KeyEntry {
  readonly key: string;
  /** The bucket's revision of this value (its stream sequence): grows with every write to the bucket. */
  readonly revision: number;
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
  readonly value: Uint8Array;
}

/**
 * Why a watch ended on its own. `silent`: two of its consumer's idle heartbeats missed - the consumer is gone with
 * the server it lived on (a cluster node died) while the agent's own connection is fine, so nothing else would tell.
 * `gap`: a value was lost on the way (the delivery sequence skipped one, or a heartbeat names a later one).
 * `consumer-gone`: the server says the consumer was deleted. `closed`: the subscription or connection closed.
 */
export type KeyWatchEnd = 'silent' | 'gap' | 'consumer-gone' | 'closed' | 'stopped';

export interface KeyWatchOptions {
  readonly bucket: string;
  readonly key: string;
  /** The reply subjects' prefix the agent's permissions allow (its site's inbox prefix). */
  readonly inboxPrefix: string;
  /** The idle heartbeat asked of the consumer; two missed in a row end the watch as `silent`. */
  readonly heartbeatMs: number;
}

/**
 * A watch of one KV key on a push consumer of its own, instead of the client's `kv.watch()`. That one is an
 * ordered consumer whose idle heartbeat the client fixes at 30 s and checks for two misses - a watch whose
 * one-replica consumer died with its cluster node stays silent for 60-90 s before the client re-creates it, and
 * meanwhile the site keeps the revision in force. Here the heartbeat is `heartbeatMs`, and the watch does not
 * repair itself: it ends with the reason, and its owner re-creates it (and logs and counts that).
 *
 * The consumer starts at the key's latest value (snapshots are whole: older values are never needed), keeps no
 * state worth replicating (one replica, in memory, no acks) and is removed when the watch ends or, if its server
 * is gone, by the server's inactivity threshold once it is back.
 */
export class KeyWatch implements AsyncIterable<KeyEntry> {
  private endReason: KeyWatchEnd | undefined;
  /** The consumer's delivery sequence of the last value received (counted on arrival, before it is handled). */
  private received = 0;
  private readonly queue: KeyEntry[] = [];
  private wake: (() => void) | undefined;
  private messages: ConsumerMessages | undefined;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly name: string,
    private readonly key: string,
  ) {}

  /** Creates the consumer and starts receiving; rejects when the bucket cannot be watched (missing, denied, no JetStream). */
  static async open(js: JetStreamClient, o: KeyWatchOptions): Promise<KeyWatch> {
    const stream = `KV_${o.bucket}`;
    const deliver = createInbox(o.inboxPrefix);
    const name = `fedpbx_watch_${nuid.next()}`;
    const jsm = await js.jetstreamManager(false);
    await jsm.consumers.add(stream, {
      name,
      deliver_subject: deliver,
      filter_subject: `$KV.${o.bucket}.${o.key}`,
      deliver_policy: DeliverPolicy.LastPerSubject,
      ack_policy: AckPolicy.None,
      flow_control: true,
      idle_heartbeat: nanos(o.heartbeatMs),
      // Left behind only when its server died with it: removed once that server is back and sees nobody listening.
      inactive_threshold: nanos(Math.max(60_000, 10 * o.heartbeatMs)),
      num_replicas: 1,
      mem_storage: true,
    });
    const watch = new KeyWatch(js, stream, name, o.key);
    const consumer = await js.consumers.getBoundPushConsumer({ deliver_subject: deliver, idle_heartbeat: nanos(o.heartbeatMs) });
    watch.messages = await consumer.consume({ abort_on_missing_resource: true, callback: (m) => watch.receive(m) });
    void watch.messages.closed().then(() => watch.stop('closed'));
    void watch.follow(watch.messages);
    return watch;
  }

  /** Why the watch ended; undefined while it runs. */
  get ended(): KeyWatchEnd | undefined {
    return this.endReason;
  }

  /** Ends the watch (iteration finishes) and removes its consumer, without waiting for the server. */
  stop(reason: KeyWatchEnd = 'stopped'): void {
    if (this.endReason !== undefined) return;
    this.endReason = reason;
    this.wake?.();
    void this.messages?.close().catch(() => undefined);
    // Best effort: a consumer on a dead server cannot be removed now (its inactivity threshold does it later).
    void this.js
      .jetstreamManager(false)
      .then((jsm) => jsm.consumers.delete(this.stream, this.name))
      .catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<KeyEntry> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (this.endReason !== undefined) return;
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.stop();
    }
  }

  private receive(m: JsMsg): void {
    if (this.endReason !== undefined) return;
    if (m.info.deliverySequence !== this.received + 1) return this.stop('gap');
    this.received = m.info.deliverySequence;
    const op = m.headers?.get('KV-Operation');
    this.queue.push({ key: this.key, revision: m.seq, operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: m.data });
    this.wake?.();
  }

  /** The consumer's notices: missed heartbeats, a heartbeat naming a value not received, a deleted consumer. */
  private async follow(messages: ConsumerMessages): Promise<void> {
    for await (const s of messages.status()) {
      if (s.type === 'heartbeats_missed') this.stop('silent');
      else if (s.type === 'heartbeat' && s.lastConsumerSequence > this.received) this.stop('gap');
      else if (s.type === 'consumer_deleted') this.stop('consumer-gone');
    }
  }
}
