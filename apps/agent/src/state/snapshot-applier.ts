import { canonicalJson } from '@fedpbx/contracts';
import type { ExtensionTable } from '@fedpbx/dialplan';
import {
  checkPairedSitePartSteps,
  checkSitePartSteps,
  inflateSizedMember,
  isDeferredPairedSitePart,
  isDeferredSplit,
  PAIRED_FORMAT,
  pairedSnapshot,
  pairedSnapshotWithoutExtensions,
  pairingGap,
  REUSE_MAX_PART_BYTES,
  runStepsWithPauses,
  SiteConfigAssembler,
  snapshotFormatOf,
  SnapshotRejectedError,
  SPLIT_SNAPSHOT_FORMAT,
  verifySharedSteps,
  verifyPairedSitePartDeferringSteps,
  verifyPairedSitePartSteps,
  verifySharedValueSteps,
  verifySitePartDeferringSteps,
  verifySitePartSteps,
  verifySnapshot,
  verifySnapshotEnvelope,
  verifySnapshotTextInSlices,
  type CheckedPairedSitePart,
  type CheckedSitePart,
  type PairedSitePartWithoutExtensions,
  type SnapshotParts,
  type StoredPair,
  type VerifiedPairedSitePart,
  type VerifiedShared,
  type VerifyingKey,
} from '@fedpbx/signing';
import { gzipSync } from 'node:zlib';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import { joinedText, type SnapshotText } from '../asterisk-config/include-files.js';
import { ExtensionReaderFailure, type ExtensionRead, type ExtensionReader } from './extension-reader.js';
import type { RoutingState, SnapshotInForce, SnapshotToApply } from './routing-state.js';
import type { SnapshotStore } from './snapshot-store.js';

export type ApplyResult =
  | { readonly applied: true; readonly revision: number; readonly contentHash: string; readonly unchanged: boolean }
  | { readonly applied: false; readonly revision: number; readonly code: string; readonly reason: string; readonly waitingFor?: string };

/**
 * A shared part offered: refused, or verified and kept - and what it brought into force: the site part that waited
 * for it (format 2), or the pair it makes with the pending or in-force site part (paired format; `applied` is then
 * `site-part-missing` while the site part it lists has not come).
 */
export type SharedResult =
  | { readonly accepted: true; readonly revision: number; readonly contentHash: string; readonly applied?: ApplyResult }
  | { readonly accepted: false; readonly revision: number; readonly code: string; readonly reason: string };

/** Verified shared parts kept by hash: the one in force and the newest (a site part may name either). */
const SHARED_KEPT = 2;

/**
 * Something that must follow an applied snapshot before the next one is applied (Asterisk config files): awaited.
 * `text` is the snapshot's JSON as stored (what crosses to a worker thread cheaply), a pair as its pieces (never
 * joined on the event loop: SnapshotText). The snapshot's extensions are in the routing state's compiled table (a
 * head office's are never objects on the event loop), and in `text`.
 */
export type ApplyHook = (snapshot: SnapshotInForce, text: SnapshotText) => Promise<void>;

/**
 * Told of every applied snapshot once the awaited hooks are done; started, not awaited (a link re-read, the
 * WireGuard mesh, the recording sweep must not hold up the next apply). Must not throw and its work must not reject.
 * `text` makes the snapshot's text as stored (as the hooks get it) when called.
 */
export type ApplyListener = (snapshot: SnapshotInForce, text: () => SnapshotText) => void;

/** A verified shared part kept by its hash, and the value it came in when that was compressed (to store as it is). */
interface KeptShared {
  readonly verified: VerifiedShared;
  readonly compressed: Uint8Array | undefined;
}

/** A paired site part in force: its text and the value it came in (stored with the next shared part), verified. */
type PairedSite = VerifiedPaired & {
  readonly text: string;
  readonly value: Uint8Array | undefined;
};

/**
 * A paired site part verified: with its extensions as objects, or - a head office's, read in the worker - without
 * them and with their table (kept for the next shared part: it is compiled with the same table, never read again).
 */
type VerifiedPaired =
  | { readonly verified: VerifiedPairedSitePart; readonly extensionTable?: undefined }
  | { readonly verified: PairedSitePartWithoutExtensions; readonly extensionTable: ExtensionTable };

/**
 * Raised while a snapshot cannot be applied for a reason that is not its own (the state dir full: the store's write
 * throws), by whichever path offered it (the bucket's watch, a bootstrap file at start or at a SIGHUP restart);
 * cleared when a snapshot is applied.
 */
export const CONFIG_APPLY_ALARM = 'config-apply-failed';

/** A verified snapshot, and the parts it was read from when it came as text (for the next one's reuse). */
interface Verification {
  readonly snapshot: SnapshotToApply;
  readonly parts: SnapshotParts | undefined;
}

/**
 * The one way a snapshot comes into force: verify (shape, site, hash, signature), refuse anything not newer than
 * what is in force, store it atomically, then swap it into the routing state. A refused snapshot changes
 * nothing: the last-known-good stays.
 */
export class SnapshotApplier {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly hooks: ApplyHook[] = [];
  private readonly listeners: ApplyListener[] = [];
  /** The parts of the snapshot in force as verifySnapshotText read them (undefined after any other apply). */
  private parts: SnapshotParts | undefined;
  /** Verified shared parts by content hash, oldest first; and the last one verified, for the next one's reuse. */
  private readonly shared = new Map<string, KeptShared>();
  private lastShared: VerifiedShared | undefined;
  /** The newest site part whose shared part has not come yet: applied when it does. */
  private pending: { readonly text: string; readonly source: string; readonly value: Uint8Array | undefined; readonly sharedHash: string; readonly revision: number; readonly checked: CheckedSitePart } | undefined;
  private assembler = new SiteConfigAssembler();
  /** The paired site part (format 4) in force: a newer shared part is applied with it, not verifying it again. */
  private pairedSite: PairedSite | undefined;
  /** The newest paired site part that pairs with no shared part held yet: applied when one comes. */
  private pendingPaired: { readonly text: string; readonly source: string; readonly value: Uint8Array | undefined; readonly checked: CheckedPairedSitePart } | undefined;

  constructor(
    private readonly siteId: string,
    private readonly keys: readonly VerifyingKey[],
    private readonly store: SnapshotStore,
    private readonly state: RoutingState,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    /**
     * Reads a head office's extensions (a site part's over REUSE_MAX_PART_BYTES) off the event loop: a worker
     * thread (workerExtensionReader). Without it they are read here, in slices.
     */
    private readonly readExtensions?: ExtensionReader,
  ) {}

  /**
   * Takes over what reading a stored pair at start gave (the snapshot in force, compiled from `pair.snapshot`): its
   * shared part, its site part's members and its assembler, as if this applier had applied it. The first change
   * after a restart then reads only its changed members and the compile keeps what it built at start (the route
   * tries of a head office: ~90 ms in one piece at load 5 when built again). Before any offer. `storedText`, the
   * pair's text as stored: a head office's (its site part read in a worker) has the worker started now, ready for
   * its first change.
   */
  resume(pair: StoredPair, storedText?: string): void {
    if (storedText !== undefined && this.readsInWorker(storedText.indexOf('\n'))) this.readExtensions?.warm?.();
    this.shared.set(pair.shared.envelope.contentHash, { verified: pair.shared, compressed: undefined });
    this.lastShared = pair.shared;
    this.parts = pair.siteParts;
    this.assembler = pair.assembler;
    this.pairedSite = pair.site === undefined ? undefined : { text: pair.site.text, value: undefined, verified: pair.site.verified };
  }

  addHook(hook: ApplyHook): void {
    this.hooks.push(hook);
  }

  onApplied(listener: ApplyListener): void {
    this.listeners.push(listener);
  }

  /** Offers have to be applied in order; concurrent offers are serialised. `raw` is a parsed snapshot (a bootstrap file). */
  offer(raw: unknown, source: string): Promise<ApplyResult> {
    return this.serialised(() => {
      const claimed = typeof raw === 'object' && raw !== null && 'revision' in raw && typeof raw.revision === 'number' ? raw.revision : 0;
      return this.verified(claimed, source, () => ({ snapshot: verifySnapshot(raw, this.siteId, this.keys), parts: undefined }));
    });
  }

  /**
   * A snapshot as its JSON text (a KV value): verified part by part, the parts unchanged since the snapshot in
   * force taken over without parsing or validating them again, a large one read in slices with the event loop
   * turning between them (verifySnapshotTextInSlices), and stored as received. The snapshot in force offered again
   * is known by its envelope alone.
   */
  offerText(text: string, source: string, value?: Uint8Array): Promise<ApplyResult> {
    return this.serialised(async () => {
      const format = snapshotFormatOf(text);
      if (format === SPLIT_SNAPSHOT_FORMAT) return this.sitePart(text, source, value);
      if (format === PAIRED_FORMAT) return this.pairedSitePart(text, source, value);
      const claimed = claimedRevision(text) ?? 0;
      const inForce = this.state.snapshot;
      if (inForce !== undefined && claimed === inForce.revision && this.holdsInForce(text, inForce)) {
        return { applied: true, revision: inForce.revision, contentHash: inForce.contentHash, unchanged: true };
      }
      // In slices, the event loop turning between them: calls are answered from the snapshot in force meanwhile.
      return this.verified(claimed, source, () => verifySnapshotTextInSlices(text, this.siteId, this.keys, nextTurn, this.parts), text);
    });
  }

  /**
   * A shared part (from the shared bucket) as its text: verified once per revision - envelope, hash, signature, then
   * its content, what is unchanged since the last one taken over - and kept by its hash. A site part that waited for
   * it is applied now. A refused one changes nothing.
   */
  offerShared(text: string, source: string, value?: Uint8Array): Promise<SharedResult> {
    return this.serialised(() => this.acceptShared(() => runStepsWithPauses(verifySharedSteps(text, this.keys, this.lastShared), nextTurn), () => text, source, value));
  }

  /**
   * A chunked shared part as its bucket value (sized gzip members: isSizedMembers), read from the value: only the
   * chunks not held in the same bytes are inflated, hashed and parsed. Any other value is refused as malformed
   * (offer its text to offerShared).
   */
  offerSharedValue(value: Uint8Array, source: string): Promise<SharedResult> {
    return this.serialised(() => this.acceptShared(() => runStepsWithPauses(verifySharedValueSteps(value, this.keys, this.lastShared), nextTurn), () => firstMemberText(value), source, value));
  }

  private async acceptShared(verify: () => Promise<VerifiedShared>, envelopeText: () => string, source: string, value: Uint8Array | undefined): Promise<SharedResult> {
    let verified: VerifiedShared;
    try {
      verified = await verify();
    } catch (error) {
      if (!(error instanceof SnapshotRejectedError)) throw error;
      const revision = claimedRevisionOf(envelopeText);
      this.metrics.snapshotRefused(error.code);
      this.log.warn({ revision, code: error.code, reason: error.message, source }, 'shared part refused; last-known-good stays in force');
      return { accepted: false, revision, code: error.code, reason: error.message };
    }
    const { revision, contentHash } = verified.envelope;
    this.shared.delete(contentHash);
    const kept = { verified, compressed: isGzip(value) ? value : undefined };
    this.shared.set(contentHash, kept);
    for (const old of this.shared.keys()) if (this.shared.size > SHARED_KEPT) this.shared.delete(old);
    this.lastShared = verified;
    if (verified.siteParts !== undefined) return { accepted: true, revision, contentHash, applied: await this.pairWithShared(kept) };
    const waiting = this.pending;
    if (waiting === undefined || waiting.sharedHash !== contentHash) return { accepted: true, revision, contentHash };
    this.pending = undefined;
    return { accepted: true, revision, contentHash, applied: await this.applySitePart(waiting.text, waiting.source, kept, waiting.checked, waiting.value) };
  }

  /**
   * A site part (format 2): its envelope checked first (hash and signature: it names its shared part), then applied
   * with that shared part - or, when the shared part has not come yet, kept as pending (newest only) and answered
   * `shared-missing` with `waitingFor`: the last-known-good stays in force meanwhile. The check reads all of a head
   * office's 20 MB (a scan and a hash): in steps, the event loop turning between them, and done once - the content
   * is read from what it found.
   */
  private sitePart(text: string, source: string, value: Uint8Array | undefined): Promise<ApplyResult> {
    // A head office's extensions will be read in a worker: started now, it loads while the text is checked here.
    return this.withExtensionRead(text, undefined, (read) => this.checkedSitePart(text, source, value, read));
  }

  private async checkedSitePart(text: string, source: string, value: Uint8Array | undefined, read: ExtensionRead | undefined): Promise<ApplyResult> {
    const claimed = claimedRevision(text) ?? 0;
    let named: CheckedSitePart | undefined;
    try {
      named = await runStepsWithPauses(checkSitePartSteps(text, this.siteId, this.keys), nextTurn);
    } catch (error) {
      if (!(error instanceof SnapshotRejectedError)) throw error;
      return this.refuse(claimed, error.code, error.message, source);
    }
    if (named === undefined) return this.refuse(claimed, 'malformed', 'snapshot is not in wire form (envelope, then "config" as its last member)', source);
    const inForce = this.state.snapshot;
    if (inForce !== undefined && named.envelope.revision <= inForce.revision) {
      if (named.envelope.revision === inForce.revision && named.envelope.contentHash === inForce.contentHash) {
        return { applied: true, revision: inForce.revision, contentHash: inForce.contentHash, unchanged: true };
      }
      return this.refuse(named.envelope.revision, 'stale-revision', `revision ${named.envelope.revision} is not newer than ${inForce.revision} in force`, source);
    }
    const shared = this.shared.get(named.sharedHash);
    if (shared === undefined) {
      if (this.pending === undefined || this.pending.revision <= named.envelope.revision) this.pending = { text, source, value, sharedHash: named.sharedHash, revision: named.envelope.revision, checked: named };
      return { applied: false, revision: named.envelope.revision, code: 'shared-missing', reason: `waiting for shared part ${named.sharedHash}`, waitingFor: named.sharedHash };
    }
    if (this.pending !== undefined && this.pending.revision <= named.envelope.revision) this.pending = undefined;
    return this.applySitePart(text, source, shared, named, value, read);
  }

  /**
   * A paired site part (format 4, split-snapshot.ts PAIRED_FORMAT): its envelope checked (hash, signature), then
   * applied with the newest shared part held that it pairs with - or kept as pending (newest only) and answered
   * `shared-missing` with `waitingFor` while the last-known-good stays in force.
   */
  private pairedSitePart(text: string, source: string, value: Uint8Array | undefined): Promise<ApplyResult> {
    // As sitePart: a head office's worker loads while the text is checked here.
    return this.withExtensionRead(text, undefined, (read) => this.checkedPairedSitePart(text, source, value, read));
  }

  private async checkedPairedSitePart(text: string, source: string, value: Uint8Array | undefined, read: ExtensionRead | undefined): Promise<ApplyResult> {
    const claimed = claimedRevision(text) ?? 0;
    let checked: CheckedPairedSitePart | undefined;
    try {
      checked = await runStepsWithPauses(checkPairedSitePartSteps(text, this.siteId, this.keys), nextTurn);
    } catch (error) {
      if (!(error instanceof SnapshotRejectedError)) throw error;
      return this.refuse(claimed, error.code, error.message, source);
    }
    if (checked === undefined) return this.refuse(claimed, 'malformed', 'snapshot is not in wire form (envelope, then "config" as its last member)', source);
    const { envelope } = checked;
    const inForce = this.pairedSite?.verified.envelope;
    const current = this.state.snapshot;
    if (inForce !== undefined && current !== undefined && envelope.revision <= inForce.revision) {
      if (envelope.revision === inForce.revision && envelope.contentHash === inForce.contentHash) return { applied: true, revision: current.revision, contentHash: current.contentHash, unchanged: true };
      return this.refuse(envelope.revision, 'stale-revision', `site part revision ${envelope.revision} is not newer than ${inForce.revision} in force`, source);
    }
    // Newest first: a site part written after the newest shared part was built may still pair with the one in force.
    const shared = [...this.shared.values()].reverse().find((k) => pairingGap(envelope, k.verified) === undefined);
    if (shared === undefined) {
      if (this.pendingPaired === undefined || this.pendingPaired.checked.envelope.revision <= envelope.revision) this.pendingPaired = { text, source, value, checked };
      const waitingFor = `shared part revision ${envelope.requiresShared} or newer`;
      return { applied: false, revision: envelope.revision, code: 'shared-missing', reason: `waiting for ${waitingFor}`, waitingFor };
    }
    if (this.pendingPaired !== undefined && this.pendingPaired.checked.envelope.revision <= envelope.revision) this.pendingPaired = undefined;
    return this.applyPaired(text, source, value, shared, checked, read);
  }

  /**
   * A paired shared part just kept: applied with the pending site part when they pair, else with the site part in
   * force (nothing of it read again). When it requires a newer site part than either, nothing is applied and the
   * answer waits for one (`site-part-missing`, reported after the wait as `shared-missing` is).
   */
  private async pairWithShared(shared: KeptShared): Promise<ApplyResult | undefined> {
    const pending = this.pendingPaired;
    if (pending !== undefined && pairingGap(pending.checked.envelope, shared.verified) === undefined) {
      this.pendingPaired = undefined;
      return this.applyPaired(pending.text, pending.source, pending.value, shared, pending.checked);
    }
    const site = this.pairedSite;
    if (site === undefined) return undefined;
    const revision = Math.max(site.verified.envelope.revision, shared.verified.envelope.revision);
    // An older or the same shared part again (a watch starting over): nothing to do.
    if (revision <= (this.state.snapshot?.revision ?? 0)) return undefined;
    const gap = pairingGap(site.verified.envelope, shared.verified);
    if (gap !== undefined) return { applied: false, revision, code: 'site-part-missing', reason: gap, waitingFor: gap };
    // The site part's gzip as stored, kept for the next shared part: made once when it came as text (a stored pair
    // read at start), not at every plan-wide apply (a head office's 20 MB through crc32 each time).
    let siteValue = site.value;
    const result = await this.verified(
      revision,
      'nats',
      () => ({ snapshot: pairedSnapshotToApply(site, shared.verified, this.assembler), parts: this.parts }),
      () => pairPieces(site.text, shared.verified.text),
      shared.compressed === undefined
        ? undefined
        : () => {
            const pieces = storedPairBytes(site.text, site.value, shared.compressed as Uint8Array);
            siteValue = pieces[0];
            return pieces;
          },
    );
    if (result.applied) this.pairedSite = { ...site, value: siteValue };
    return result;
  }

  /**
   * A paired site part's content read (what is as in force taken over) and applied with `shared`. `read`: a
   * worker's read of the extensions started for this text (one is started here when needed and there is none).
   */
  private applyPaired(text: string, source: string, value: Uint8Array | undefined, shared: KeptShared, checked: CheckedPairedSitePart, read?: ExtensionRead): Promise<ApplyResult> {
    return this.withExtensionRead(text, read, async (reader) => {
      let site: VerifiedPaired | undefined;
      const result = await this.verified(
        checked.envelope.revision,
        source,
        async () => {
          site =
            reader === undefined
              ? { verified: await runStepsWithPauses(verifyPairedSitePartSteps(text, this.siteId, this.keys, this.parts, checked.checked), nextTurn) }
              : await this.pairedWithWorker(text, checked, reader);
          return { snapshot: pairedSnapshotToApply(site, shared.verified, this.assembler), parts: site.verified.parts };
        },
        () => pairPieces(text, shared.verified.text),
        shared.compressed === undefined ? undefined : () => storedPairBytes(text, value, shared.compressed as Uint8Array),
      );
      if (result.applied && site !== undefined) this.pairedSite = { ...site, text, value };
      return result;
    });
  }

  /**
   * A paired site part verified with its extensions read in the worker when they are large, as verifiedWithWorker
   * does for format 2: every other member read here first, then the worker's verdict, then the checks after them;
   * a worker that fails is `reader-failed`. The pairing is checked after (pairedSnapshotToApply), as on the event loop.
   */
  private async pairedWithWorker(text: string, checked: CheckedPairedSitePart, read: ExtensionRead): Promise<VerifiedPaired> {
    const split = await runStepsWithPauses(verifyPairedSitePartDeferringSteps(text, this.siteId, this.keys, this.parts, checked.checked), nextTurn);
    if (!isDeferredPairedSitePart(split)) return { verified: split };
    const extensionTable = await this.extensionTable(text, split.extensions, read);
    return { verified: split.finish(), extensionTable };
  }

  /**
   * `f` given a worker's read of the extensions: `read` when there is one, else one started here for a text long
   * enough that they may be over REUSE_MAX_PART_BYTES (undefined: they are read on the event loop), and ended on
   * every way out (a read not used, or not finished, stops its worker).
   */
  private async withExtensionRead<T>(text: string, read: ExtensionRead | undefined, f: (read: ExtensionRead | undefined) => Promise<T>): Promise<T> {
    const own = read === undefined && this.readsInWorker(text.length) ? this.readExtensions?.() : undefined;
    try {
      return await f(read ?? own);
    } finally {
      own?.cancel();
      // The next change of this site will want one too: started now (after the hooks' render), not when it comes.
      if (own !== undefined) this.readExtensions?.warm?.();
    }
  }

  /** Whether a site part of this many characters may have its extensions over REUSE_MAX_PART_BYTES (read in a worker). */
  private readsInWorker(sitePartLength: number): boolean {
    return this.readExtensions !== undefined && sitePartLength > REUSE_MAX_PART_BYTES;
  }

  /**
   * `value`: the bucket value the site part's text came in (undefined: none, e.g. a test's text). `read`: a worker's
   * read of the extensions started for this text (one is started here when needed and there is none).
   */
  private applySitePart(text: string, source: string, shared: KeptShared, named: CheckedSitePart, value: Uint8Array | undefined, read?: ExtensionRead): Promise<ApplyResult> {
    const claimed = claimedRevision(text) ?? 0;
    // Stored as one file, site part and shared part: the pair that was applied, and the pair the agent boots from -
    // as the compressed values they came in when the shared part came compressed (storedPairBytes).
    const compressed = shared.compressed;
    return this.withExtensionRead(text, read, (reader) =>
      this.verified(
        claimed,
        source,
        reader === undefined
          ? () => runStepsWithPauses(verifySitePartSteps(text, this.siteId, this.keys, shared.verified, this.assembler, this.parts, named.checked), nextTurn)
          : () => this.verifiedWithWorker(text, shared, named, reader),
        () => pairPieces(text, shared.verified.text),
        compressed === undefined ? undefined : () => storedPairBytes(text, value, compressed),
      ),
    );
  }

  /**
   * A site part verified with its extensions read in the worker when they are large (DeferredSplit): every other
   * member read here first, then the worker's verdict on the extensions, then the checks after them - the refusal
   * the event loop's reading would give, in the same order. A worker that fails is a refusal of its own
   * (`reader-failed`, with the reader's alarm): the snapshot in force stays.
   */
  private async verifiedWithWorker(text: string, shared: KeptShared, named: CheckedSitePart, read: ExtensionRead): Promise<Verification> {
    const split = await runStepsWithPauses(verifySitePartDeferringSteps(text, this.siteId, this.keys, shared.verified, this.assembler, this.parts, named.checked), nextTurn);
    if (!isDeferredSplit(split)) return split;
    const extensionTable = await this.extensionTable(text, split.extensions, read);
    const { snapshot, parts } = split.finish();
    return { snapshot: { ...snapshot, config: { ...snapshot.config, extensionTable } }, parts };
  }

  private async extensionTable(text: string, extensions: { readonly start: number; readonly end: number }, read: ExtensionRead): Promise<ExtensionTable> {
    try {
      return await read.read(text, extensions.start, extensions.end, this.siteId);
    } catch (error) {
      if (error instanceof ExtensionReaderFailure) throw new SnapshotRejectedError('reader-failed', error.message);
      throw error;
    }
  }

  /**
   * Whether `text` is the snapshot in force: its envelope verified (hash over the config's bytes, signature) with
   * the same revision and hash - the same signed bytes, not read again. The bucket delivers its value again at
   * every watch start (agent start, NATS back); a head office's 20 MB took the event loop ~450 ms to parse and
   * validate each time, this ~25 ms. A value that fails the check gets the full verification (and its report).
   */
  private holdsInForce(text: string, inForce: { readonly revision: number; readonly contentHash: string }): boolean {
    try {
      const envelope = verifySnapshotEnvelope(text, this.siteId, this.keys);
      return envelope !== undefined && envelope.revision === inForce.revision && envelope.contentHash === inForce.contentHash;
    } catch (error) {
      if (error instanceof SnapshotRejectedError) return false;
      throw error;
    }
  }

  private serialised<T>(f: () => Promise<T>): Promise<T> {
    const next = this.chain.then(f);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async verified(
    claimed: number,
    source: string,
    verify: () => Verification | Promise<Verification>,
    /** The text as stored and handed to hooks: made only when something needs it (a chunked shared part is joined). */
    text?: SnapshotText | (() => SnapshotText),
    /** What to write to disk instead of `text` (the same text, compressed): made only once the snapshot is verified. */
    bytes?: () => readonly Uint8Array[],
  ): Promise<ApplyResult> {
    let snapshot: SnapshotToApply;
    let parts: SnapshotParts | undefined;
    try {
      ({ snapshot, parts } = await verify());
    } catch (error) {
      if (!(error instanceof SnapshotRejectedError)) throw error;
      return this.refuse(claimed, error.code, error.message, source);
    }
    const current = this.state.snapshot;
    if (current !== undefined && snapshot.revision <= current.revision) {
      if (snapshot.revision === current.revision && snapshot.contentHash === current.contentHash) {
        return { applied: true, revision: snapshot.revision, contentHash: snapshot.contentHash, unchanged: true };
      }
      return this.refuse(snapshot.revision, 'stale-revision', `revision ${snapshot.revision} is not newer than ${current.revision} in force`, source);
    }
    let storedText = typeof text === 'function' ? undefined : text;
    // Without a text, the snapshot is a whole one (offer: a bootstrap file's), its extensions a list.
    const stored = (): SnapshotText => (storedText ??= typeof text === 'function' ? text() : canonicalJson(snapshot));
    // Joined only when written as text: the hooks take a pair's pieces (a head office's joined is a 20 MB copy).
    await this.store.save(snapshot, bytes?.() ?? joinedText(stored()));
    await this.state.applyInSlices(snapshot, nextTurn); // calls keep routing on the site in force while the new one compiles
    this.parts = parts;
    // Any snapshot but a paired one ends the pairing; the paired paths set it again (applyPaired, pairWithShared).
    this.pairedSite = undefined;
    this.metrics.snapshotApplied(snapshot);
    this.log.info({ revision: snapshot.revision, contentHash: snapshot.contentHash, source }, 'snapshot applied');
    for (const hook of this.hooks) {
      try {
        await hook(snapshot, stored());
      } catch (error) {
        this.log.error({ err: error, revision: snapshot.revision }, 'post-apply step failed; routing uses the new snapshot');
      }
    }
    // The text only for a listener that asks: most never do, and a paired apply's shared part (540 KB at 1,000 sites)
    // would be joined from its chunks at every apply for none of them.
    for (const listener of this.listeners) listener(snapshot, stored);
    return { applied: true, revision: snapshot.revision, contentHash: snapshot.contentHash, unchanged: false };
  }

  private refuse(revision: number, code: string, reason: string, source: string): ApplyResult {
    this.metrics.snapshotRefused(code);
    this.log.warn({ revision, code, reason, source }, 'snapshot refused; last-known-good stays in force');
    return { applied: false, revision, code, reason };
  }
}

/** The snapshot a verified paired site part makes with `shared`: its extensions as objects, or as the worker's table. */
function pairedSnapshotToApply(site: VerifiedPaired, shared: VerifiedShared, assembler: SiteConfigAssembler): SnapshotToApply {
  if (site.extensionTable === undefined) return pairedSnapshot(site.verified, shared, assembler);
  const snapshot = pairedSnapshotWithoutExtensions(site.verified, shared, assembler);
  return { ...snapshot, config: { ...snapshot.config, extensionTable: site.extensionTable } };
}

/** One turn of the event loop (I/O callbacks, hence FastAGI, run before it resolves). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The revision a snapshot's text claims, read from its envelope (the first bytes) without parsing the config. */
export function claimedRevision(text: string): number | undefined {
  const m = /"revision":([0-9]{1,15})[,}]/.exec(text.slice(0, 512));
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** The revision a shared part claims (for its refusal's report), from its envelope's text when that can be read. */
function claimedRevisionOf(envelopeText: () => string): number {
  try {
    return claimedRevision(envelopeText()) ?? 0;
  } catch {
    return 0;
  }
}

/** A sized-members value's first member (a chunked shared part's envelope line), bounded. */
function firstMemberText(value: Uint8Array): string {
  const size = Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32LE(16);
  return inflateSizedMember(value.subarray(0, size), 1 << 20);
}

function isGzip(value: Uint8Array | undefined): value is Uint8Array {
  return value !== undefined && value.length >= 2 && value[0] === 0x1f && value[1] === 0x8b;
}

/**
 * The stored pair (pairText: site part, newline, shared part) as its pieces, for the hooks: each is a flat string
 * already, and their concatenation - a head office's 20 MB - is made only where something reads it whole.
 */
function pairPieces(siteText: string, sharedText: string): readonly string[] {
  return [siteText, '\n', sharedText];
}

/** A gzip member of the newline between the two texts of a pair (a stored block: no compression to do). */
const NEWLINE_MEMBER = gzipSync('\n', { level: 0 });

/**
 * The stored pair (pairText) as gzip members: the site part's value as it came (or its text in stored blocks),
 * the newline, the shared part's value as it came. Concatenated members decompress to their texts one after the
 * other, so the file reads back as exactly the pair text (SnapshotStore), at a tenth of the bytes to write and
 * sync for a 1,000-site federation's shared part (~50 KB for ~540 KB), and nothing to encode or compress: the
 * bytes are those that came from the bucket, the text those that were verified. In pieces, written one after the
 * other by one writev: never joined (a 110 KB copy per apply at 1,000 sites, and as much garbage).
 */
export function storedPairBytes(siteText: string, siteValue: Uint8Array | undefined, sharedValue: Uint8Array): readonly Uint8Array[] {
  const site = isGzip(siteValue) ? siteValue : gzipSync(siteText, { level: 0 });
  return [site, NEWLINE_MEMBER, sharedValue];
}