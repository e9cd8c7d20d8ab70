import { encodeChunkedShared, signSharedChunks, verifySharedEnvelope, type SigningKey, type SizedMemberEncoder, type VerifyingKey } from '@fedpbx/signing';
import type { Logger } from 'pino';
import type { ConfigBuckets } from './config-buckets.js';

/** A shared part to publish: its chunks (texts and hashes), its content hash, and the federation version it was built from. */
export interface SharedToPublish {
  readonly revision: number;
  readonly chunks: readonly string[];
  readonly chunkHashes: readonly string[];
  readonly contentHash: string;
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
  private known: { revision: number; contentHash: string; seq: number } | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly buckets: Pick<ConfigBuckets, 'sharedHead' | 'putShared'>,
    /** Each chunk's gzip member made once: a plan-wide write compresses the chunk that changed and the envelope. */
    private readonly encoder: SizedMemberEncoder,
    private readonly log: Logger,
  ) {}

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
      if (known?.contentHash === shared.contentHash) return true;
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
        this.known = current;
        if (current.contentHash === shared.contentHash || current.revision > shared.revision) return;
      }
      expectedSeq = current?.seq ?? 0;
    }
    const signed = signSharedChunks(shared.chunkHashes, shared.revision, key, new Date());
    try {
      const seq = await this.buckets.putShared(encodeChunkedShared(signed.line, shared.chunks, this.encoder), expectedSeq);
      this.known = { revision: shared.revision, contentHash: shared.contentHash, seq };
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
