import { Injectable } from '@nestjs/common';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { decodeSnapshotValue } from '@fedpbx/signing';
import { ensureStreamReplicas, explainReplicasError } from '../nats/stream-replicas.js';
import { KvUpdates } from './kv-updates.js';

/** What a site's bucket holds now: the snapshot revision and the KV sequence to update against. */
export interface BucketHead {
  readonly revision: number;
  readonly contentHash: string;
  readonly seq: number;
  /** When it was put. */
  readonly at: Date;
  /** The stored snapshot's JSON text (to check whose signature it carries). */
  readonly text: string;
}

/** What the shared bucket holds now: the shared part's revision and hash, and the KV sequence to update against. */
export interface SharedHead {
  readonly revision: number;
  readonly contentHash: string;
  readonly seq: number;
  readonly text: string;
}

/** The envelope's first fields as signSharedPart orders them. */
const SHARED_START = /^\{"format":[0-9]+,"part":"shared","revision":([0-9]+),"generatedAt":"[^"]*","contentHash":"([^"]+)",/;

/** Versions kept per site: enough to look at the last few publishes, small enough to not keep old secrets long. */
const HISTORY = 5;
/** The shared part is read by every agent at its latest: two versions are kept, one to look back at. */
const SHARED_HISTORY = 2;
const BUCKET_PREFIX = Subjects.configBucket('');
/** The envelope's first fields as `signSnapshot` orders them: the revision is read without parsing a large config. */
const ENVELOPE_START = /^\{"format":[0-9]+,"siteId":"[a-z0-9-]+","revision":([0-9]+),(?:"requiresShared":[0-9]+,)?"generatedAt":"[^"]*","contentHash":"([^"]+)",/;

function envelopeOf(text: string): { revision: number; contentHash: string } {
  const m = ENVELOPE_START.exec(text.slice(0, 512));
  if (m?.[1] !== undefined && m[2] !== undefined) return { revision: Number(m[1]), contentHash: m[2] };
  const parsed = JSON.parse(text) as { revision?: unknown; contentHash?: unknown };
  return { revision: typeof parsed.revision === 'number' ? parsed.revision : 0, contentHash: typeof parsed.contentHash === 'string' ? parsed.contentHash : '' };
}

/**
 * The per-site JetStream KV buckets (`Subjects.configBucket(site)`, key `SNAPSHOT_KEY`) on one NATS connection:
 * each agent's credentials allow reading only its own bucket. Handles are cached per site; an error drops the
 * handle so the next attempt looks the bucket up (or creates it) again.
 */
@Injectable()
export class ConfigBuckets {
  private kvm: Kvm | undefined;
  private nc: NatsConnection | undefined;
  private replicas = 1;
  private readonly open = new Map<string, Promise<KV>>();
  private shared: Promise<KV> | undefined;
  /** Site snapshot updates (the bulk of every plan-wide write's puts) without a nats.js request each. */
  private readonly updates = new KvUpdates(5000);

  /** Binds to the connection (the bus's one, which reconnects on its own); buckets keep `replicas` copies (FEDPBX_NATS_REPLICAS). */
  attach(nc: NatsConnection, replicas = 1): void {
    if (this.nc === nc && this.replicas === replicas) return;
    this.nc = nc;
    this.replicas = replicas;
    this.kvm = new Kvm(jetstream(nc, { timeout: 5000 }));
    this.updates.close();
    this.open.clear();
    this.shared = undefined;
  }

  /** The snapshot currently in the site's bucket, or null when the bucket or the key is empty. */
  async head(siteId: string): Promise<BucketHead | null> {
    return this.guard(siteId, async (kv) => {
      const e = await kv.get(Subjects.SNAPSHOT_KEY);
      if (e === null || e.operation !== 'PUT') return null;
      const text = decodeSnapshotValue(e.value);
      return { ...envelopeOf(text), seq: e.revision, at: e.created, text };
    });
  }

  /**
   * Writes the snapshot (its KV value: `encodeSnapshotValue` of the signed JSON) only if the key is still at `expectedSeq` (0: no value yet), so two writers can never
   * put an older revision over a newer one; a lost race throws and the caller looks again. Resolves to the
   * key's new sequence.
   */
  async put(siteId: string, bytes: Uint8Array, expectedSeq: number): Promise<number> {
    return this.guard(siteId, (kv) => {
      if (expectedSeq === 0) return kv.create(Subjects.SNAPSHOT_KEY, bytes);
      const nc = this.nc;
      if (nc === undefined) throw new Error('config buckets used before the NATS connection was attached');
      // The bucket exists (its handle opened or created it): what kv.update sends, with its PubAck on the shared inbox.
      return this.updates.update(nc, Subjects.configBucket(siteId), Subjects.SNAPSHOT_KEY, bytes, expectedSeq);
    });
  }

  /** The shared part in the shared bucket, or null when it is empty (or holds something not shaped as one: replaced). */
  async sharedHead(): Promise<SharedHead | null> {
    const kv = await this.sharedBucket();
    const e = await kv.get(Subjects.SHARED_KEY);
    if (e === null || e.operation !== 'PUT') return null;
    const text = decodeSnapshotValue(e.value);
    const m = SHARED_START.exec(text.slice(0, 512));
    return { revision: m?.[1] !== undefined ? Number(m[1]) : 0, contentHash: m?.[2] ?? '', seq: e.revision, text };
  }

  /** Writes the shared part only if the key is still at `expectedSeq` (0: empty), as {@link put} does. */
  async putShared(bytes: Uint8Array, expectedSeq: number): Promise<number> {
    const kv = await this.sharedBucket();
    try {
      return await (expectedSeq === 0 ? kv.create(Subjects.SHARED_KEY, bytes) : kv.update(Subjects.SHARED_KEY, bytes, expectedSeq));
    } catch (error) {
      this.shared = undefined;
      throw error;
    }
  }

  private sharedBucket(): Promise<KV> {
    this.shared ??= (async () => {
      const kvm = this.kvmOrThrow();
      const name = Subjects.SHARED_BUCKET;
      const kv = await kvm.create(name, { history: SHARED_HISTORY, replicas: this.replicas, description: 'fedpbx: the part of every site snapshot that every site may know' }).catch((error: unknown) => {
        throw explainReplicasError(error, `KV_${name}`, this.replicas);
      });
      await ensureStreamReplicas(await kvm.js.jetstreamManager(), `KV_${name}`, this.replicas);
      return kv;
    })();
    const kv = this.shared;
    kv.catch(() => {
      if (this.shared === kv) this.shared = undefined;
    });
    return kv;
  }

  /** Removes a deleted site's bucket (and with it every snapshot of the site, secrets included). */
  async remove(siteId: string): Promise<void> {
    const jsm = await this.kvmOrThrow().js.jetstreamManager();
    this.open.delete(siteId);
    try {
      await jsm.streams.delete(`KV_${Subjects.configBucket(siteId)}`);
    } catch (error) {
      if (!(error instanceof Error) || !/stream not found/i.test(error.message)) throw error;
    }
  }

  /** Sites that have a bucket. */
  async sitesWithBuckets(): Promise<string[]> {
    const out: string[] = [];
    for await (const status of this.kvmOrThrow().list()) if (status.bucket.startsWith(BUCKET_PREFIX)) out.push(status.bucket.slice(BUCKET_PREFIX.length));
    return out;
  }

  private async guard<T>(siteId: string, f: (kv: KV) => Promise<T>): Promise<T> {
    let kv = this.open.get(siteId);
    if (kv === undefined) {
      kv = this.createBucket(siteId);
      this.open.set(siteId, kv);
    }
    try {
      return await f(await kv);
    } catch (error) {
      this.open.delete(siteId);
      throw error;
    }
  }

  /** Opens the site's bucket, creating it when missing; one made with another replica count is brought to this one. */
  private async createBucket(siteId: string): Promise<KV> {
    const kvm = this.kvmOrThrow();
    const name = Subjects.configBucket(siteId);
    const kv = await kvm.create(name, { history: HISTORY, replicas: this.replicas, description: `fedpbx signed config snapshots of site ${siteId}` }).catch((error: unknown) => {
      throw explainReplicasError(error, `KV_${name}`, this.replicas);
    });
    await ensureStreamReplicas(await kvm.js.jetstreamManager(), `KV_${name}`, this.replicas);
    return kv;
  }

  private kvmOrThrow(): Kvm {
    if (this.kvm === undefined) throw new Error('config buckets used before the NATS connection was attached');
    return this.kvm;
  }
}
