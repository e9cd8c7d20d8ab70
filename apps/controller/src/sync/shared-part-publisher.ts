import { chunkedContentHash, encodeChunkedShared, PAIRED_SHARED_FORMAT, signPairedSharedChunks, signSharedChunks, verifySharedEnvelope, type SigningKey, type SizedMemberEncoder, type VerifyingKey } from '@fedpbx/signing';
import type { Logger } from 'pino';
import type { ConfigBuckets } from './config-buckets.js';

/** A shared part to publish: its chunks (texts and hashes), its content hash, and the federation version it was built from. */
export interface SharedToPublish {
  readonly revision: number;
  readonly chunks: readonly string[];
  readonly chunkHashes: readonly string[];
  readonly contentHash: string;
  /**
   * The paired format (PAIRED_SHARED_FORMAT): the content hash without the `siteParts` list, and `since`, the
   * federation version from which the shared content (the list aside) has been what it is now. A part in the bucket
   * with the same `baseHash` and a revision of at least `since` is kept: its list names older site parts, which is
   * fine, since a site part written after it pairs with it by revision (split-snapshot.ts pairingGap).
   */
  readonly paired?: { readonly baseHash: string; readonly since: number; readonly listed: ReadonlyMap<string, string> };
}

/** What this process knows the shared bucket holds. */
interface Known {
  readonly revision: number;
  readonly contentHash: string;
  readonly seq: number;
  /** The paired part's content hash without its list, and the list (undefined: not a paired part). */
  readonly baseHash: string | undefined;
  readonly listed?: ReadonlyMap<string, string>;
}

/** Rounds of compare-and-set one call makes before it leaves the retry to its caller's backoff. */
const ROUNDS = 3;

/**
 * Keeps the shared bucket (Subjects.SHARED_BUCKET) at the newest shared part, from any number of controller
 * replicas. The bucket decides, never this process's memory:
 * - a put is a compare-and-set on the key's KV sequence (create when empty, else update at the sequence read or
 *   last written), so of two replicas writing at once one wins and the other reads again;
 * - the revision (the federation version the part was built from: every replica builds the same part for the same
 *   committed version) orders them: a part already there with the same hash is not put again (idempotent per
 *   revision), and one with a newer revision is never overwritten - the caller's view is superseded;
 * - a value this controller's key did not sign is replaced whatever revision it claims.
 * Every site lane of a plan-wide change waits for the same put.
 */
export class SharedPartPublisher {
  private known: Known | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly buckets: Pick<ConfigBuckets, 'sharedHead' | 'putShared'>,
    /** Each chunk's gzip member made once: a plan-wide write compresses the chunk that changed and the envelope. */
    private readonly encoder: SizedMemberEncoder,
    private readonly log: Logger,
  ) {}

  /**
   * Whether an agent pairs the shared part in the bucket with a site part of revision `revision` and hash
   * `contentHash` (split-snapshot.ts pairingGap): it lists that part, or the part was written after it.
   */
  pairs(siteId: string, contentHash: string, revision: number): boolean {
    const known = this.known;
    return known?.baseHash !== undefined && (revision > known.revision || known.listed?.get(siteId) === contentHash);
  }

  /** The content hash of the shared part in the bucket, as far as this process knows. */
  get contentHash(): string | undefined {
    return this.known?.contentHash;
  }

  /** Forget what the bucket was thought to hold (after a reconnect: it may hold anything). */
  forget(): void {
    this.known = undefined;
  }

  /**
   * Resolves true once `shared` (or the same content) is in the bucket, false when a newer revision is there (the
   * caller's view is superseded: do not publish site parts that name this one). Throws to be retried.
   */
  async ensure(shared: SharedToPublish, key: SigningKey & VerifyingKey): Promise<boolean> {
    for (let round = 0; ; round++) {
      const known = this.known;
      if (known !== undefined && holds(known, shared)) return true;
      if (known !== undefined && known.revision > shared.revision) return false;
      this.inFlight ??= this.put(shared, key).finally(() => (this.inFlight = undefined));
      try {
        await this.inFlight;
      } catch (error) {
        // A lost compare-and-set is answered by reading the bucket again at once; the rest by the caller's backoff.
        if (round >= ROUNDS - 1) throw error;
      }
    }
  }

  private async put(shared: SharedToPublish, key: SigningKey & VerifyingKey): Promise<void> {
    let expectedSeq = this.known?.seq;
    if (expectedSeq === undefined) {
      const current = await this.buckets.sharedHead();
      const ours = current !== null && this.signedBy(current.text, key);
      if (current !== null && ours) {
        this.known = { ...current, ...pairedContent(current.text) };
        if (holds(this.known, shared) || current.revision > shared.revision) return;
      }
      expectedSeq = current?.seq ?? 0;
    }
    const sign = shared.paired !== undefined ? signPairedSharedChunks : signSharedChunks;
    const signed = sign(shared.chunkHashes, shared.revision, key, new Date());
    try {
      const seq = await this.buckets.putShared(encodeChunkedShared(signed.line, shared.chunks, this.encoder), expectedSeq);
      this.known = { revision: shared.revision, contentHash: shared.contentHash, seq, baseHash: shared.paired?.baseHash, ...(shared.paired !== undefined ? { listed: shared.paired.listed } : {}) };
      this.log.debug({ revision: shared.revision }, 'shared part published');
    } catch (error) {
      this.known = undefined;
      throw error;
    }
  }

  private signedBy(text: string, key: VerifyingKey): boolean {
    try {
      return verifySharedEnvelope(text, [key]) !== undefined;
    } catch (error) {
      this.log.warn({ reason: error instanceof Error ? error.message : String(error) }, 'the shared bucket holds a value this controller did not sign: replacing it');
      return false;
    }
  }
}

/**
 * Whether the bucket's part serves `shared`: the same part; or, in the paired format, a paired part with the same
 * content but the list, built at or after the version since which that content is in force (any such part pairs
 * with every site part of `shared`'s version: listed, or written after it).
 */
function holds(known: Known, shared: SharedToPublish): boolean {
  if (shared.paired === undefined) return known.contentHash === shared.contentHash && known.baseHash === undefined;
  return known.contentHash === shared.contentHash || (known.baseHash === shared.paired.baseHash && known.revision >= shared.paired.since && known.revision <= shared.revision);
}

/**
 * A paired shared part's content hash without its `siteParts` chunks, and the list (baseHash undefined: another
 * format). Read from a value this controller's key signed (checked by the caller), so the chunks are taken as given.
 */
export function pairedContent(text: string): { baseHash: string | undefined; listed?: ReadonlyMap<string, string> } {
  const lines = text.split('\n');
  const envelope = JSON.parse(lines[0] ?? '{}') as { format?: unknown; chunks?: unknown };
  if (envelope.format !== PAIRED_SHARED_FORMAT || !Array.isArray(envelope.chunks) || envelope.chunks.length !== lines.length - 1) return { baseHash: undefined };
  const isList = (i: number): boolean => (lines[i + 1] ?? '').startsWith(LIST_CHUNK);
  const listed = new Map<string, string>();
  lines.forEach((line, i) => {
    if (i > 0 && isList(i - 1)) for (const r of (JSON.parse(line) as [string, { id: string; contentHash: string }[]])[1]) listed.set(r.id, r.contentHash);
  });
  return { baseHash: chunkedContentHash((envelope.chunks as string[]).filter((_, i) => !isList(i))), listed };
}

const LIST_CHUNK = '["siteParts",';
