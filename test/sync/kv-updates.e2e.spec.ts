import { Subjects } from '@fedpbx/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigBuckets } from '../../apps/controller/src/sync/config-buckets.js';
import { KvUpdates } from '../../apps/controller/src/sync/kv-updates.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { connectWithCreds } from './controller-harness.js';

/** A value the buckets can read back (head() reads an envelope's revision from JSON). */
const value = (marker: string): string => JSON.stringify({ marker });
const bytes = (marker: string): Uint8Array => new TextEncoder().encode(value(marker));

/**
 * The controller's site snapshot puts with their PubAcks on one shared inbox (KvUpdates): the same compare-and-set
 * as nats.js's kv.update, on a real nats-server.
 */
describe('KV updates with one reply subscription (private nats-server)', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let other: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectWithCreds(nats.url, await nats.controllerCreds());
    other = await connectWithCreds(nats.url, await nats.controllerCreds());
  });
  afterAll(async () => {
    await other?.close();
    await nc?.close();
    await nats?.stop();
  });

  it('puts at the expected sequence and answers the new one; refuses a stale sequence, as kv.update does', async () => {
    const buckets = new ConfigBuckets();
    buckets.attach(nc);
    const first = await buckets.put('kvu-a', bytes('one'), 0);
    const second = await buckets.put('kvu-a', bytes('two'), first);
    const updates = new KvUpdates(2000);
    const bucket = Subjects.configBucket('kvu-a');
    const third = await updates.update(nc, bucket, Subjects.SNAPSHOT_KEY, bytes('three'), second);
    expect(third).toBeGreaterThan(second);
    await expect(updates.update(nc, bucket, Subjects.SNAPSHOT_KEY, bytes('stale'), second)).rejects.toThrow(/wrong last sequence/);
    const head = await buckets.head('kvu-a');
    expect(head?.seq).toBe(third);
    expect(head?.text).toBe(value('three'));
    updates.close();
  });

  it('puts to many buckets at once, each answered by its own PubAck', async () => {
    const buckets = new ConfigBuckets();
    buckets.attach(nc);
    const sites = Array.from({ length: 40 }, (_, i) => `kvu-many-${i}`);
    const seqs = await Promise.all(sites.map((s) => buckets.put(s, bytes(`${s} v1`), 0)));
    const next = await Promise.all(sites.map((s, i) => buckets.put(s, bytes(`${s} v2`), seqs[i] as number)));
    for (const [i, s] of sites.entries()) {
      const head = await buckets.head(s);
      expect(head?.text).toBe(value(`${s} v2`));
      expect(head?.seq).toBe(next[i]);
    }
  });

  it('fails at once when no stream takes the subject, and after its timeout when nobody answers', async () => {
    const updates = new KvUpdates(300);
    await expect(updates.update(nc, 'fedpbx-no-such-bucket', Subjects.SNAPSHOT_KEY, bytes('x'), 1)).rejects.toThrow(/503|no stream/);
    // A subscriber that takes the subject and never answers: no PubAck.
    const sink = other.subscribe('$KV.fedpbx-silent.snapshot');
    await other.flush();
    const t0 = Date.now();
    await expect(updates.update(nc, 'fedpbx-silent', Subjects.SNAPSHOT_KEY, bytes('x'), 1)).rejects.toThrow(/no PubAck within 300 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    sink.unsubscribe();
    updates.close();
  });
});
