import { createHash } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { chunkedContentHash, chunkedSharedContent, generateSigningKey, SizedMemberEncoder } from '@fedpbx/signing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigBuckets } from '../../apps/controller/src/sync/config-buckets.js';
import { SharedPartPublisher, type SharedToPublish } from '../../apps/controller/src/sync/shared-part-publisher.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { connectWithCreds, readSharedText } from './controller-harness.js';

const key = generateSigningKey('controller-1');
const silent = pino({ level: 'silent' });
const sha256Text = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const part = (revision: number, marker = `v${revision}`): SharedToPublish => {
  const chunks = [`["marker",${JSON.stringify(marker)}]`];
  const chunkHashes = chunks.map(sha256Text);
  return { revision, chunks, chunkHashes, contentHash: chunkedContentHash(chunkHashes) };
};

/** A paired shared part: content `base` and a site list (`siteParts`), content in force since version `since`. */
const pairedPart = (revision: number, base: string, since: number, listed: Record<string, string>): SharedToPublish => {
  const list = `["siteParts",${JSON.stringify(Object.entries(listed).map(([id, contentHash]) => ({ contentHash, id })))}]`;
  const baseChunk = `["marker",${JSON.stringify(base)}]`;
  const chunks = [baseChunk, list];
  const chunkHashes = chunks.map(sha256Text);
  const baseHash = chunkedContentHash([sha256Text(baseChunk)]);
  return { revision, chunks, chunkHashes, contentHash: chunkedContentHash(chunkHashes), paired: { baseHash, since, listed: new Map(Object.entries(listed)) } };
};
const h = (s: string): string => sha256Text(s);

/**
 * Two controller replicas (each its own connection, buckets and publisher) keeping the shared part on one real
 * nats-server: compare-and-set on the KV sequence, ordered by revision.
 */
describe('the shared part is compare-and-set by revision across replicas (private nats-server)', () => {
  let nats: TestNatsServer;
  const connections: NatsConnection[] = [];
  const replica = async () => {
    const nc = await connectWithCreds(nats.url, await nats.controllerCreds());
    connections.push(nc);
    const buckets = new ConfigBuckets();
    buckets.attach(nc);
    return { buckets, publisher: new SharedPartPublisher(buckets, new SizedMemberEncoder(), silent) };
  };
  const inBucket = async () => {
    const nc = connections[0]!;
    const shared = await readSharedText(nc);
    return { revision: shared?.revision, seq: shared?.seq, marker: shared === null ? undefined : (chunkedSharedContent(shared.text) as { marker: string }).marker };
  };

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    for (const nc of connections) await nc.close();
    await nats?.stop();
  });

  it('an older revision never overwrites a newer one; the same revision is put once; a newer one wins', async () => {
    const a = await replica();
    const b = await replica();
    expect(await a.publisher.ensure(part(5), key)).toBe(true);
    expect(await inBucket()).toMatchObject({ revision: 5, marker: 'v5', seq: 1 });
    // B is behind (its view is of version 3): it must not put its part over A's.
    expect(await b.publisher.ensure(part(3), key)).toBe(false);
    expect(await inBucket()).toMatchObject({ revision: 5, seq: 1 });
    // B publishing the same revision finds it there: no second put.
    expect(await b.publisher.ensure(part(5), key)).toBe(true);
    expect((await inBucket()).seq).toBe(1);
    // B moves on to 7; A, still believing the bucket at its own put, tries 6: its update loses the
    // compare-and-set, it reads the bucket again and finds the newer revision.
    expect(await b.publisher.ensure(part(7), key)).toBe(true);
    expect(await a.publisher.ensure(part(6), key)).toBe(false);
    expect(await inBucket()).toMatchObject({ revision: 7, marker: 'v7', seq: 2 });
  });

  it('two replicas racing with different revisions converge on the newest', async () => {
    const a = await replica();
    const b = await replica();
    const results = await Promise.all([a.publisher.ensure(part(20), key), b.publisher.ensure(part(21), key), a.publisher.ensure(part(19), key)]);
    expect(results[1]).toBe(true);
    expect(await inBucket()).toMatchObject({ revision: 21, marker: 'v21' });
  });

  it('replaces a value the controller did not sign, whatever revision it claims', async () => {
    const nc = connections[0]!;
    const kv = await new Kvm(jetstream(nc)).open(Subjects.SHARED_BUCKET);
    const forged = `{"format":2,"part":"shared","revision":9999,"generatedAt":"2026-12-07T03:00:00.000Z","contentHash":"${sha256Text('{}')}","signature":{"alg":"ed25519","keyId":"controller-1","value":"AAAA"},"config":{}}`;
    await kv.put(Subjects.SHARED_KEY, new TextEncoder().encode(forged));
    const fresh = await replica();
    expect(await fresh.publisher.ensure(part(30), key)).toBe(true);
    expect(await inBucket()).toMatchObject({ revision: 30, marker: 'v30' });
  });

  it('paired: a part that differs only in its site list is not put again, by either replica; a content change is', async () => {
    const a = await replica();
    const b = await replica();
    expect(await a.publisher.ensure(pairedPart(40, 'plan-1', 40, { s1: h('s1@40'), s2: h('s2@40') }), key)).toBe(true);
    const first = await inBucket();
    expect(first).toMatchObject({ revision: 40, marker: 'plan-1' });
    // B (which never saw the bucket) at version 42, after a site-only write of s1 at 41: same content, a newer list.
    expect(await b.publisher.ensure(pairedPart(42, 'plan-1', 40, { s1: h('s1@41'), s2: h('s2@40') }), key)).toBe(true);
    expect(await inBucket()).toMatchObject({ revision: 40, seq: first.seq });
    // What the agent's rule says of site parts against the part in the bucket (40): listed, or written after it.
    expect(b.publisher.pairs('s2', h('s2@40'), 12)).toBe(true);
    expect(b.publisher.pairs('s1', h('s1@41'), 41)).toBe(true);
    expect(b.publisher.pairs('s1', h('s1@39'), 39)).toBe(false);
    // A view whose content has been in force only since after the bucket's part: put.
    expect(await b.publisher.ensure(pairedPart(44, 'plan-1', 43, { s1: h('s1@41'), s2: h('s2@40') }), key)).toBe(true);
    expect(await inBucket()).toMatchObject({ revision: 44, seq: first.seq! + 1 });
    // A plan change on A (stale: it believes 40 is there): its compare-and-set loses, it reads 44 and puts 45.
    expect(await a.publisher.ensure(pairedPart(45, 'plan-2', 45, { s1: h('s1@41'), s2: h('s2@40') }), key)).toBe(true);
    expect(await inBucket()).toMatchObject({ revision: 45, marker: 'plan-2', seq: first.seq! + 2 });
    // B, behind at 44 with the old content, never puts it over 45 (a fresh view of B's finds 45 newer than its own).
    await b.publisher.ensure(pairedPart(44, 'plan-1', 43, { s1: h('s1@41'), s2: h('s2@40') }), key);
    b.publisher.forget();
    expect(await b.publisher.ensure(pairedPart(44, 'plan-1', 43, { s1: h('s1@41'), s2: h('s2@40') }), key)).toBe(false);
    expect(await inBucket()).toMatchObject({ revision: 45, marker: 'plan-2', seq: first.seq! + 2 });
  });
});
