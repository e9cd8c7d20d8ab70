import { sign, verify } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, RemoteTrunk, SiteConfig, SNAPSHOT_FORMAT_VERSION, SnapshotSignature, type OutboundRoute, type SiteSnapshot } from '@fedpbx/contracts';
import { SnapshotRejectedError, type SigningKey, type VerifyingKey } from './snapshot-signer.js';
import { checkTextSteps, readDeferredMember, REUSE_MAX_PART_BYTES, runSteps, verifyEnvelopeOnly, verifyPartSteps, type CheckedText, type PartSpec, type Shape, type SnapshotParts, type VerifiedPart } from './snapshot-text.js';
import { sha256 } from './wire-text.js';
import { ChunkedSharedEnvelope, CHUNKED_SHARED_FORMAT, PAIRED_SHARED_FORMAT, chunkedContentHash, chunkedSharedContent, chunkedSharedText, sharedChunks, verifyChunkedSharedSteps, type SharedChunks } from './chunked-shared.js';
import { SizedMemberEncoder } from './sized-members.js';
import { encodeSnapshotValue } from './snapshot-wire.js';

/**
 * Snapshot format 2: a site's snapshot in two signed parts (README "Snapshot format at scale").
 *
 * - The **shared part**: what every site may know and every site's snapshot carried alike - the site directory, the
 *   numbering plan, the hub, the outbound routes of every site (`sites: []`), the public entries of the trunks they
 *   use, the classes of service. No secrets. Signed, hashed and compressed once per revision and published once,
 *   in one bucket every agent may read (`Subjects.SHARED_BUCKET`).
 * - The **site part**: the rest of the site's view (its own objects with their secrets, the routes only it uses),
 *   naming the shared part it goes with by content hash. The site part's content hash covers that reference, so the
 *   site's signature binds both parts: an agent applies a site part only with the shared part whose bytes hash to
 *   the named hash, and the shared part's own signature is checked too.
 *
 * The agent assembles the two into exactly the config `buildSiteConfig` gives (assembleSiteConfig): everything
 * after verification sees the same SiteConfig as with format 1. A plan-wide change costs the controller one
 * serialization, hash and signature of the plan instead of one per site, and each site part stays small.
 */
export const SPLIT_SNAPSHOT_FORMAT = 2 as const;

const S = SiteConfig.shape;
const ContentHash = z.string().regex(/^sha256:[0-9a-f]{64}$/);

/** The shared part's content (canonical JSON of this is what its contentHash is over). */
export const SharedPart = z.strictObject({
  sites: S.federation.shape.sites,
  numberRanges: S.federation.shape.numberRanges,
  hubSiteId: S.federation.shape.hubSiteId,
  /** The outbound routes that apply to every site (`sites: []`), in id order. */
  outboundRoutes: S.outboundRoutes,
  /** The public entries (id, site, name) of every trunk those routes use, the sites' own included, in id order. */
  remoteTrunks: z.array(RemoteTrunk),
  classesOfService: S.classesOfService,
});
export type SharedPart = z.infer<typeof SharedPart>;

/** A site part's content: its view without what the shared part holds, and the shared part's hash. */
export const SitePart = z.strictObject({
  site: S.site,
  /** The shared part this site part goes with. */
  shared: z.strictObject({ contentHash: ContentHash }),
  extensions: S.extensions,
  trunks: S.trunks,
  /** Entries of other sites' trunks that the routes of this part use and the shared part does not list. */
  remoteTrunks: S.remoteTrunks,
  links: S.links,
  /** The routes of this view that are not the shared part's (scoped to sites, or hopping off through its trunks). */
  outboundRoutes: S.outboundRoutes,
  inboundRoutes: S.inboundRoutes,
  callFlows: S.callFlows,
  remotePresence: S.remotePresence,
});
export type SitePart = z.infer<typeof SitePart>;

export const SitePartEnvelope = z.strictObject({
  format: z.literal(SPLIT_SNAPSHOT_FORMAT),
  siteId: z.string(),
  revision: z.number().int().min(1),
  generatedAt: z.iso.datetime(),
  contentHash: ContentHash,
  signature: SnapshotSignature,
});
export type SitePartEnvelope = z.infer<typeof SitePartEnvelope>;

export const SharedPartEnvelope = z.strictObject({
  format: z.literal(SPLIT_SNAPSHOT_FORMAT),
  /** Which part this is: a shared part's signature can never pass for a site's (its payload differs too). */
  part: z.literal('shared'),
  /** The federation version it was built from: the bucket is compare-and-set on it, never older over newer. */
  revision: z.number().int().min(1),
  generatedAt: z.iso.datetime(),
  contentHash: ContentHash,
  signature: SnapshotSignature,
});
export type SharedPartEnvelope = z.infer<typeof SharedPartEnvelope>;

/** The exact bytes the controller signs for a shared part (a prefix of its own: never a site snapshot's payload). */
export function sharedSigningPayload(e: Pick<SharedPartEnvelope | ChunkedSharedEnvelope, 'format' | 'revision' | 'generatedAt' | 'contentHash'>): string {
  return `fedpbx-shared\n${e.format}\n${e.revision}\n${e.generatedAt}\n${e.contentHash}`;
}

/** The bytes signed for a site part: format 1's layout (`snapshotSigningPayload`) with format 2 in it. */
export function sitePartSigningPayload(e: Pick<SitePartEnvelope, 'format' | 'siteId' | 'revision' | 'generatedAt' | 'contentHash'>): string {
  return `fedpbx-snapshot\n${e.format}\n${e.siteId}\n${e.revision}\n${e.generatedAt}\n${e.contentHash}`;
}

/** The controller's signature over a site part's envelope, by one of `keys`. */
export function verifySitePartSignature(e: SitePartEnvelope, keys: readonly VerifyingKey[]): void {
  const key = keys.find((k) => k.keyId === e.signature.keyId);
  if (key === undefined) throw new SnapshotRejectedError('unknown-key', `snapshot is signed with unknown key ${e.signature.keyId}`);
  if (!verify(null, Buffer.from(sitePartSigningPayload(e)), key.publicKey, Buffer.from(e.signature.value, 'base64'))) {
    throw new SnapshotRejectedError('bad-signature', `snapshot revision ${e.revision} has a bad signature`);
  }
}

/** A signed part in wire form: `head` (envelope and `,"config":`), then the part's canonical JSON, then `}`. */
export interface SignedPart<E> {
  readonly envelope: E;
  readonly head: string;
}

/**
 * Signs a shared part whose canonical JSON the caller assembled (the controller, from per-object cached JSON):
 * `contentHash` is `sha256(partJson)`, worked out here when not given.
 */
export function signSharedPart(partJson: string, revision: number, key: SigningKey, generatedAt: Date, contentHash = sha256(partJson)): SignedPart<SharedPartEnvelope> {
  const unsigned = { format: SPLIT_SNAPSHOT_FORMAT, part: 'shared' as const, revision, generatedAt: generatedAt.toISOString(), contentHash };
  const signature = { alg: 'ed25519' as const, keyId: key.keyId, value: sign(null, Buffer.from(sharedSigningPayload(unsigned)), key.privateKey).toString('base64') };
  const envelope = { ...unsigned, signature };
  return { envelope, head: `${JSON.stringify(envelope).slice(0, -1)},"config":` };
}

/**
 * Signs a chunked shared part (format 3) given as its chunk texts (sharedChunks) and their hashes: its envelope
 * line, which lists the hashes; the text is chunkedSharedText(line, chunks), the bucket value each line a sized
 * gzip member (encodeChunkedShared).
 */
export function signSharedChunks(chunkHashes: readonly string[], revision: number, key: SigningKey, generatedAt: Date): { envelope: ChunkedSharedEnvelope; line: string } {
  const unsigned = { format: CHUNKED_SHARED_FORMAT, part: 'shared' as const, revision, generatedAt: generatedAt.toISOString(), contentHash: chunkedContentHash(chunkHashes) };
  const signature = { alg: 'ed25519' as const, keyId: key.keyId, value: sign(null, Buffer.from(sharedSigningPayload(unsigned)), key.privateKey).toString('base64') };
  const envelope = { ...unsigned, signature, chunks: [...chunkHashes] };
  return { envelope, line: JSON.stringify(envelope) };
}

/** A chunked shared part's bucket value: its envelope line and each `"\n" + chunk` a sized gzip member. */
export function encodeChunkedShared(line: string, chunks: readonly string[], encoder = new SizedMemberEncoder()): Uint8Array {
  return encoder.encode([line, ...chunks.map((c) => `\n${c}`)]);
}

/** Signs a site part (canonical JSON `partJson`, which names its shared part) for `siteId` at `revision`. */
export function signSitePart(siteId: string, partJson: string, revision: number, key: SigningKey, generatedAt: Date, contentHash = sha256(partJson)): SignedPart<SitePartEnvelope> {
  return signSitePartHash(siteId, contentHash, revision, key, generatedAt);
}

/** Signs a site part by its content hash (the controller hashes the part's text in pieces, never joining them). */
export function signSitePartHash(siteId: string, contentHash: string, revision: number, key: SigningKey, generatedAt: Date): SignedPart<SitePartEnvelope> {
  const unsigned = { format: SPLIT_SNAPSHOT_FORMAT, siteId, revision, generatedAt: generatedAt.toISOString(), contentHash };
  const signature = { alg: 'ed25519' as const, keyId: key.keyId, value: sign(null, Buffer.from(sitePartSigningPayload(unsigned)), key.privateKey).toString('base64') };
  const envelope = { ...unsigned, signature };
  return { envelope, head: `${JSON.stringify(envelope).slice(0, -1)},"config":` };
}

/** The controller's signature over a shared part's envelope, by one of `keys`. */
export function verifySharedSignature(e: SharedPartEnvelope | ChunkedSharedEnvelope, keys: readonly VerifyingKey[]): void {
  const key = keys.find((k) => k.keyId === e.signature.keyId);
  if (key === undefined) throw new SnapshotRejectedError('unknown-key', `shared part is signed with unknown key ${e.signature.keyId}`);
  if (!verify(null, Buffer.from(sharedSigningPayload(e)), key.publicKey, Buffer.from(e.signature.value, 'base64'))) {
    throw new SnapshotRejectedError('bad-signature', `shared part revision ${e.revision} has a bad signature`);
  }
}

/** Which routes go to the shared part: those that apply to every site. */
export function isSharedRoute(route: Pick<OutboundRoute, 'sites'>): boolean {
  return route.sites.length === 0;
}

/**
 * The format of a snapshot text, read from its first member without parsing it (`{"format":2,...`); undefined
 * when the text does not start so (it then gets the whole-object path, which names what is wrong).
 */
export function snapshotFormatOf(text: string): number | undefined {
  const m = /^\{"format":([0-9]{1,3})[,}]/.exec(text.slice(0, 16));
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/**
 * A site's config from its two verified parts, exactly as `buildSiteConfig` builds it: the directory, plan and hub
 * as `federation`, the shared routes merged with the site's in id order, the shared trunk entries of other sites
 * merged with the site's. Memoized on the very objects given, so when neither part changed a member, the assembled
 * member is the same object as the time before (the agent's compile reuses what it compiled for an unchanged part).
 */
export class SiteConfigAssembler {
  private routes: { shared: readonly OutboundRoute[]; own: readonly OutboundRoute[]; out: OutboundRoute[] } | undefined;
  private trunks: { shared: readonly RemoteTrunk[]; own: readonly RemoteTrunk[]; out: RemoteTrunk[] } | undefined;
  private federation: { shared: SharedPart; out: SiteConfig['federation'] } | undefined;

  assemble(part: SitePart, shared: SharedPart): SiteConfig {
    return { ...this.assembleWithoutExtensions(part, shared), extensions: part.extensions };
  }

  /** {@link assemble} for a part whose extensions are read elsewhere (a worker thread builds their table). */
  assembleWithoutExtensions(part: Omit<SitePart, 'extensions'>, shared: SharedPart): Omit<SiteConfig, 'extensions'> {
    const siteId = part.site.id;
    if (this.routes?.shared !== shared.outboundRoutes || this.routes.own !== part.outboundRoutes) {
      this.routes = { shared: shared.outboundRoutes, own: part.outboundRoutes, out: mergeById(shared.outboundRoutes, part.outboundRoutes) };
    }
    if (this.trunks?.shared !== shared.remoteTrunks || this.trunks.own !== part.remoteTrunks) {
      this.trunks = { shared: shared.remoteTrunks, own: part.remoteTrunks, out: mergeById(shared.remoteTrunks.filter((t) => t.siteId !== siteId), part.remoteTrunks) };
    }
    const f = this.federation;
    if (f === undefined || f.shared.sites !== shared.sites || f.shared.numberRanges !== shared.numberRanges || f.shared.hubSiteId !== shared.hubSiteId) {
      this.federation = { shared, out: { sites: shared.sites, numberRanges: shared.numberRanges, ...(shared.hubSiteId !== undefined ? { hubSiteId: shared.hubSiteId } : {}) } };
    }
    return {
      site: part.site,
      federation: (this.federation as { out: SiteConfig['federation'] }).out,
      trunks: part.trunks,
      remoteTrunks: this.trunks.out,
      links: part.links,
      outboundRoutes: this.routes.out,
      inboundRoutes: part.inboundRoutes,
      callFlows: part.callFlows,
      classesOfService: shared.classesOfService,
      ...(part.remotePresence !== undefined ? { remotePresence: part.remotePresence } : {}),
    };
  }
}

/** Two id-ordered lists as one id-ordered list; an id in both is taken once. */
function mergeById<T extends { readonly id: string }>(a: readonly T[], b: readonly T[]): T[] {
  if (b.length === 0) return a as T[];
  if (a.length === 0) return b as T[];
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.id < y.id)) {
      out.push(x as T);
      i++;
    } else if (x === undefined || y.id < x.id) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  return out;
}

/**
 * How the agent stores a format-2 snapshot: the site part's text, a newline, the shared part's text - one file,
 * written atomically, so the pair is always the pair that was applied. Neither text holds a raw newline (JSON
 * escapes them in strings, and the controller writes no white space).
 */
export function pairText(siteText: string, sharedText: string): string {
  return `${siteText}\n${sharedText}`;
}

/**
 * The two texts of a stored pair; undefined for a single snapshot text (format 1). The shared part is a string of
 * its own, not a slice of `text`: a slice keeps the whole text it was cut from alive, and the applier keeps a stored
 * pair's shared part (and its chunks, slices of it) for as long as no newer one comes - with a head office's pair,
 * 20 MB of site part that was no longer in force (bench:apply: resident from the boot to the end of the run). The
 * copy is of the shared part only (~540 KB at 1,000 sites).
 */
export function splitPairText(text: string): { siteText: string; sharedText: string } | undefined {
  const at = text.indexOf('\n');
  return at < 0 ? undefined : { siteText: text.slice(0, at), sharedText: ownString(text.slice(at + 1)) };
}

/** `text` copied into a string of its own (V8 makes a slice of a long string a view of it, not a copy). */
function ownString(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/**
 * The config of a stored snapshot text, not verified again (a text the applier verified and handed on, e.g. to
 * the renderer's worker thread): format 1's `config`, or a stored pair assembled.
 */
export function configOfStoredText(text: string): SiteConfig {
  const pair = splitPairText(text);
  if (pair === undefined) return (JSON.parse(text) as { config: SiteConfig }).config;
  const part = (JSON.parse(pair.siteText) as { config: SitePart }).config;
  const shared = isChunkedFormat(snapshotFormatOf(pair.sharedText)) ? (chunkedSharedContent(pair.sharedText) as SharedPart) : (JSON.parse(pair.sharedText) as { config: SharedPart }).config;
  return new SiteConfigAssembler().assemble(part, shared);
}

/**
 * A verified shared part: its envelope, its validated content, its text (stored with the site part) and what the
 * next one takes over - a format-2 part's members (`parts`), a chunked part's chunks (`chunks`).
 */
export interface VerifiedShared {
  readonly envelope: SharedPartEnvelope | ChunkedSharedEnvelope;
  readonly part: SharedPart;
  readonly text: string;
  readonly parts?: SnapshotParts;
  readonly chunks?: SharedChunks;
  /** A paired shared part's (format 4) site part revisions, in site id order: see {@link PAIRED_FORMAT}. */
  readonly siteParts?: readonly SitePartRef[];
}

const SHARED_SHAPE = SharedPart.shape as unknown as Shape;
const SITE_PART_SHAPE = SitePart.shape as unknown as Shape;

function refuseOtherFormat(raw: unknown, what: string, format: number): void {
  if (typeof raw === 'object' && raw !== null && 'format' in raw && raw.format !== format) {
    throw new SnapshotRejectedError('format', `${what} format ${String(raw.format)} is not supported here (expected ${format})`);
  }
}

function envelopeOf<T>(schema: z.ZodType<T>, raw: unknown, what: string, format: number = SPLIT_SNAPSHOT_FORMAT): T {
  refuseOtherFormat(raw, what, format);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new SnapshotRejectedError('malformed', `${what} is malformed at ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/**
 * Verifies a shared part from its text - chunked (format 3: chunkedSharedText) or whole (format 2: envelope, hash
 * over the content's bytes, the controller's signature, then the content member by member, the members whose text
 * is as in `previous` taken over without parsing them again). Yields between slices (runStepsWithPauses).
 */
export function* verifySharedSteps(text: string, keys: readonly VerifyingKey[], previous?: VerifiedShared): Generator<void, VerifiedShared> {
  if (isChunkedFormat(snapshotFormatOf(text))) return yield* chunkedSteps({ text }, keys, previous);
  const read = yield* verifyPartSteps(text, sharedSpec(keys), previous?.parts);
  if (read === undefined) throw new SnapshotRejectedError('malformed', 'shared part is not in wire form (envelope, then "config" as its last member)');
  return { envelope: read.envelope, part: read.content as SharedPart, text, parts: read.parts };
}

/**
 * A chunked shared part from its bucket value (sized gzip members, SizedMemberEncoder): only the chunks `previous`
 * does not hold in the same bytes are inflated, hashed and read (chunked-shared.ts).
 */
export function* verifySharedValueSteps(value: Uint8Array, keys: readonly VerifyingKey[], previous?: VerifiedShared): Generator<void, VerifiedShared> {
  return yield* chunkedSteps({ value }, keys, previous);
}

function* chunkedSteps(input: { readonly value: Uint8Array } | { readonly text: string }, keys: readonly VerifyingKey[], previous: VerifiedShared | undefined): Generator<void, VerifiedShared> {
  const read = yield* verifyChunkedSharedSteps(input, (format) => (format === PAIRED_SHARED_FORMAT ? PAIRED_SHARED_SHAPE : SHARED_SHAPE), (e) => verifySharedSignature(e, keys), previous?.chunks);
  const { siteParts, ...part } = read.content as SharedPart & { siteParts?: SitePartRef[] };
  return {
    envelope: read.envelope,
    // The assembler keeps what it built by member identity: a new object around the same members is as good.
    part: part as SharedPart,
    ...(siteParts !== undefined ? { siteParts } : {}),
    chunks: read.chunks,
    get text(): string {
      return read.text;
    },
  };
}

function sharedSpec(keys: readonly VerifyingKey[]): PartSpec<SharedPartEnvelope> {
  return { envelope: (raw) => envelopeOf(SharedPartEnvelope, raw, 'shared part'), signature: (e) => verifySharedSignature(e, keys), shape: SHARED_SHAPE, keepText: true };
}

/** A shared part's envelope, its hash and signature checked, its content not read; undefined when not in wire form. */
export function verifySharedEnvelope(text: string, keys: readonly VerifyingKey[]): SharedPartEnvelope | ChunkedSharedEnvelope | undefined {
  if (isChunkedFormat(snapshotFormatOf(text))) return verifyChunkedEnvelope(text, keys);
  return verifyEnvelopeOnly(text, sharedSpec(keys));
}

/** A chunked shared part's envelope line: its shape, its hash over the chunk list, its signature; chunks not read. */
function verifyChunkedEnvelope(text: string, keys: readonly VerifyingKey[]): ChunkedSharedEnvelope | undefined {
  const end = text.indexOf('\n');
  let raw: unknown;
  try {
    raw = JSON.parse(end < 0 ? text : text.slice(0, end)) as unknown;
  } catch {
    return undefined;
  }
  const e = envelopeOf(ChunkedSharedEnvelope, raw, 'shared part', (raw as { format?: unknown }).format === PAIRED_SHARED_FORMAT ? PAIRED_SHARED_FORMAT : CHUNKED_SHARED_FORMAT);
  const actual = chunkedContentHash(e.chunks);
  if (actual !== e.contentHash) throw new SnapshotRejectedError('hash-mismatch', `shared part content hash ${actual} does not match the declared ${e.contentHash}`);
  verifySharedSignature(e, keys);
  return e;
}

/** A site part's envelope and the shared part it names, its signature checked, its content not read (cheap). */
export function verifySitePartEnvelope(text: string, expectedSiteId: string, keys: readonly VerifyingKey[]): { envelope: SitePartEnvelope; sharedHash: string } | undefined {
  return runSteps(checkSitePartSteps(text, expectedSiteId, keys));
}

/** A site part checked as far as its signature, and the shared part it names: enough to know whether it can be applied. */
export interface CheckedSitePart {
  readonly envelope: SitePartEnvelope;
  readonly sharedHash: string;
  /** Hand this to {@link verifySitePartSteps} to read the content without scanning and hashing the text again. */
  readonly checked: CheckedText<SitePartEnvelope>;
}

/**
 * {@link verifySitePartEnvelope} a step at a time (the scan of a head office's 20 MB and its hash, checkTextSteps),
 * with what it found kept for the content's reading. Undefined when the text is not in wire form.
 */
export function* checkSitePartSteps(text: string, expectedSiteId: string, keys: readonly VerifyingKey[]): Generator<void, CheckedSitePart | undefined> {
  const checked = yield* checkTextSteps(text, sitePartSpec(expectedSiteId, keys));
  if (checked === undefined) return undefined;
  // The reference is a member of the signed bytes (hash checked above); read with the content's own reader.
  const at = checked.members.get('shared');
  if (at === undefined) throw new SnapshotRejectedError('malformed', 'snapshot is malformed at config.shared: required');
  const ref = SitePart.shape.shared.safeParse(safeJson(text.slice(at[0], at[1])));
  if (!ref.success) throw new SnapshotRejectedError('malformed', 'snapshot is malformed at config.shared: not a shared part reference');
  return { envelope: checked.envelope, sharedHash: ref.data.contentHash, checked };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function sitePartSpec(expectedSiteId: string, keys: readonly VerifyingKey[]): PartSpec<SitePartEnvelope> {
  return {
    envelope: (raw) => {
      const e = envelopeOf(SitePartEnvelope, raw, 'snapshot');
      if (e.siteId !== expectedSiteId) throw new SnapshotRejectedError('wrong-site', `snapshot is for site ${e.siteId}, this agent serves ${expectedSiteId}`);
      return e;
    },
    signature: (e) => verifySitePartSignature(e, keys),
    shape: SITE_PART_SHAPE,
  };
}

/** A verified site part assembled with its shared part: the snapshot in force, as format 1 would have given it. */
export interface VerifiedSplit {
  readonly snapshot: SiteSnapshot;
  readonly parts: SnapshotParts;
}

/**
 * Verifies a site part from its text with the (verified) shared part it names, and assembles the site's config.
 * The site part's signature covers its content hash, which covers the shared part's hash: a site part with any
 * other shared part is refused (`shared-missing`), as is one for another site. Yields between slices. `checked`:
 * what checkSitePartSteps found for this very text (its scan and hash are then not done again).
 */
export function* verifySitePartSteps(
  text: string,
  expectedSiteId: string,
  keys: readonly VerifyingKey[],
  shared: VerifiedShared,
  assembler: SiteConfigAssembler,
  previous?: SnapshotParts,
  checked?: CheckedText<SitePartEnvelope>,
): Generator<void, VerifiedSplit> {
  // Nothing deferred, the part is read whole: a VerifiedSplit.
  return (yield* sitePartSteps(text, expectedSiteId, keys, shared, assembler, previous, checked, undefined)) as VerifiedSplit;
}

/** The checks of a site part's content once it is read: the site it is for, the shared part it goes with. */
function checkedSitePart(read: VerifiedPart<SitePartEnvelope>, expectedSiteId: string, shared: VerifiedShared): Omit<SitePart, 'extensions'> {
  const part = read.content as Omit<SitePart, 'extensions'>;
  if (part.site.id !== expectedSiteId) throw new SnapshotRejectedError('wrong-site', `snapshot is for site ${part.site.id}, this agent serves ${expectedSiteId}`);
  if (part.shared.contentHash !== shared.envelope.contentHash) {
    throw new SnapshotRejectedError('shared-missing', `snapshot revision ${read.envelope.revision} goes with shared part ${part.shared.contentHash}, not ${shared.envelope.contentHash}`);
  }
  return part;
}

/** A verified site part whose extensions are not read here: its snapshot's config has none (see DeferredSplit). */
export type SnapshotWithoutExtensions = Omit<SiteSnapshot, 'config'> & { readonly config: Omit<SiteConfig, 'extensions'> };

/**
 * A site part read but for its extensions (a head office's: over REUSE_MAX_PART_BYTES), which another reader - a
 * worker thread - reads from `extensions` ({@link readSitePartExtensions}). The verdict is then `finish`'s: it
 * throws what a member read after the extensions was refused for, or the site's or shared part's refusal, as
 * verifySitePartSteps would have; call it only once the extensions read without refusal (theirs comes first).
 */
export interface DeferredSplit {
  readonly extensions: { readonly start: number; readonly end: number };
  readonly finish: () => { readonly snapshot: SnapshotWithoutExtensions; readonly parts: SnapshotParts };
}

/**
 * {@link verifySitePartSteps}, the extensions left unread when they are over REUSE_MAX_PART_BYTES (a DeferredSplit
 * then; a smaller site's part is read whole, a VerifiedSplit). The same checks in the same order: the envelope,
 * hash and signature, then every member but the extensions.
 */
export function* verifySitePartDeferringSteps(
  text: string,
  expectedSiteId: string,
  keys: readonly VerifyingKey[],
  shared: VerifiedShared,
  assembler: SiteConfigAssembler,
  previous?: SnapshotParts,
  checked?: CheckedText<SitePartEnvelope>,
): Generator<void, VerifiedSplit | DeferredSplit> {
  return yield* sitePartSteps(text, expectedSiteId, keys, shared, assembler, previous, checked, 'extensions');
}

/** verifySitePartSteps and its deferring form: `defer` names the member left to another reader when large. */
function* sitePartSteps(
  text: string,
  expectedSiteId: string,
  keys: readonly VerifyingKey[],
  shared: VerifiedShared,
  assembler: SiteConfigAssembler,
  previous: SnapshotParts | undefined,
  checked: CheckedText<SitePartEnvelope> | undefined,
  defer: 'extensions' | undefined,
): Generator<void, VerifiedSplit | DeferredSplit> {
  const read = yield* verifyPartSteps(text, sitePartSpec(expectedSiteId, keys), previous, undefined, checked, defer);
  if (read === undefined) throw new SnapshotRejectedError('malformed', 'snapshot is not in wire form (envelope, then "config" as its last member)');
  const { format: _wire, ...envelope } = read.envelope;
  const deferred = read.deferred;
  if (deferred === undefined) {
    const part = checkedSitePart(read, expectedSiteId, shared) as SitePart;
    // In memory the snapshot is the assembled config, the same as a format-1 snapshot's; the wire form stays in the stored text.
    return { snapshot: { ...envelope, format: SNAPSHOT_FORMAT_VERSION, config: assembler.assemble(part, shared.part) }, parts: read.parts };
  }
  const finish = (): { snapshot: SnapshotWithoutExtensions; parts: SnapshotParts } => {
    if (deferred.after !== undefined) throw deferred.after;
    const part = checkedSitePart(read, expectedSiteId, shared);
    return { snapshot: { ...envelope, format: SNAPSHOT_FORMAT_VERSION, config: assembler.assembleWithoutExtensions(part, shared.part) }, parts: read.parts };
  };
  return { extensions: { start: deferred.start, end: deferred.end }, finish };
}

/** Whether a site part's verification left its extensions to another reader. */
export function isDeferredSplit(v: VerifiedSplit | DeferredSplit): v is DeferredSplit {
  return 'finish' in v;
}

/**
 * A site part's extensions from their text (DeferredSplit.extensions), read and validated as verifySitePartSteps
 * reads them: the same refusals, with the same texts (SnapshotRejectedError). Runs where the text was sent: a
 * worker thread.
 */
export function readSitePartExtensions(extensionsText: string): SitePart['extensions'] {
  return readDeferredMember(extensionsText, 'extensions', SITE_PART_SHAPE) as SitePart['extensions'];
}

/**
 * A stored pair (pairText) read back at boot: both parts' hashes and signatures checked again (a damaged or
 * tampered file is refused), the shared part's content validated (it is modest), the site part's content taken as
 * validated when it was applied - as format 1's stored snapshots are (`contentAlreadyValidated`): a head office's
 * 100,000 extensions are not validated again at every start. Throws {@link SnapshotRejectedError}.
 */
export function verifyStoredPair(text: string, expectedSiteId: string, keys: readonly VerifyingKey[], assembler = new SiteConfigAssembler()): StoredPair {
  const pair = splitPairText(text);
  if (pair === undefined) throw new SnapshotRejectedError('malformed', 'not a stored pair of a site part and a shared part');
  const shared = runSteps(verifySharedSteps(pair.sharedText, keys));
  if (snapshotFormatOf(pair.siteText) === PAIRED_FORMAT) return storedPaired(pair.siteText, shared, expectedSiteId, keys, assembler);
  const named = runSteps(checkSitePartSteps(pair.siteText, expectedSiteId, keys));
  if (named === undefined) throw new SnapshotRejectedError('malformed', 'the stored site part is not in wire form');
  if (named.sharedHash !== shared.envelope.contentHash) throw new SnapshotRejectedError('shared-missing', `the stored site part goes with shared part ${named.sharedHash}, not the one stored beside it`);
  const part = (safeJson(pair.siteText) as { config?: SitePart } | undefined)?.config;
  if (part?.site?.id !== expectedSiteId) throw new SnapshotRejectedError('wrong-site', `the stored site part is not for ${expectedSiteId}`);
  const { format: _wire, ...envelope } = named.envelope;
  const siteParts = storedMembers(pair.siteText, named.checked.members, part);
  return { snapshot: { ...envelope, format: SNAPSHOT_FORMAT_VERSION, config: assembler.assemble(part, shared.part) }, shared, siteParts, assembler };
}

/**
 * A stored site part's members as the applier keeps them for the next snapshot's reuse (verifyPartSteps' parts):
 * the first change after a restart then reads only what changed, and assembles and compiles over what the boot built.
 */
function storedMembers(siteText: string, members: CheckedText<unknown>['members'], part: object): SnapshotParts {
  const values = new Map<string, unknown>();
  const hashes = new Map<string, string>();
  for (const [key, [start, end]] of members) {
    if (end - start > REUSE_MAX_PART_BYTES || !(key in part)) continue;
    values.set(key, (part as Record<string, unknown>)[key]);
    hashes.set(key, sha256(siteText.slice(start, end)));
  }
  return { values, hashes };
}

/**
 * A stored paired site part and its shared part (verifyStoredPair): the pair must still pair (pairingGap). As a
 * format-2 stored site part: hash and signature checked again, the content taken as validated when it was applied
 * (a head office's 100,000 extensions were read in a worker then; validating them here held a start ~1 s).
 */
function storedPaired(siteText: string, shared: VerifiedShared, expectedSiteId: string, keys: readonly VerifyingKey[], assembler: SiteConfigAssembler): StoredPair {
  const checked = runSteps(checkPairedSitePartSteps(siteText, expectedSiteId, keys));
  if (checked === undefined) throw new SnapshotRejectedError('malformed', 'the stored site part is not in wire form');
  const part = (safeJson(siteText) as { config?: PairedSitePart } | undefined)?.config;
  if (part?.site?.id !== expectedSiteId) throw new SnapshotRejectedError('wrong-site', `the stored site part is not for ${expectedSiteId}`);
  const site: VerifiedPairedSitePart = { envelope: checked.envelope, part, parts: storedMembers(siteText, checked.checked.members, part) };
  return { snapshot: pairedSnapshot(site, shared, assembler), shared, siteParts: site.parts, assembler, site: { text: siteText, verified: site } };
}

/**
 * A stored pair read back: the snapshot, and what the applier needs to take the next one over it as if it had
 * applied this one itself - the verified shared part, the site part's members (values and text hashes) and the
 * assembler that built the config. Without them the first change after a restart read every member again, and new
 * objects for unchanged routes made the compile build a head office's route tries again (~90 ms in one piece at
 * load 5).
 */
export interface StoredPair {
  readonly snapshot: SiteSnapshot;
  readonly shared: VerifiedShared;
  readonly siteParts: SnapshotParts;
  readonly assembler: SiteConfigAssembler;
  /** A paired site part (format 4): its text and what verifying it gave, to pair it with the next shared part. */
  readonly site?: { readonly text: string; readonly verified: VerifiedPairedSitePart };
}

/**
 * One site's config as its two parts, signed: the shared part as far as this config shows it (a federation's
 * shared part lists the trunks of every site that shared routes use; the controller builds that one from the whole
 * federation). For tools and tests; assembling the result gives `config` back.
 */
export function signSplitSnapshot(
  config: SiteConfig,
  revision: number,
  sharedRevision: number,
  key: SigningKey,
  generatedAt: Date,
  /** 3 (chunked, what the controller publishes) or 2 (one text: what a controller before it published). */
  sharedFormat: 2 | 3 = CHUNKED_SHARED_FORMAT,
): { siteText: string; sharedText: string; sharedHash: string; sharedValue: Uint8Array } {
  const { shared, part: own } = splitConfig(config);
  const sharedJson = sharedFormat === 2 ? canonicalJson(shared) : '';
  const chunks = sharedFormat === 2 ? [] : sharedChunks(shared, canonicalJson);
  const chunkHashes = chunks.map(sha256);
  const sharedHash = sharedFormat === 2 ? sha256(sharedJson) : chunkedContentHash(chunkHashes);
  const part: SitePart = { ...own, shared: { contentHash: sharedHash } };
  const partJson = canonicalJson(part);
  const signedSite = signSitePart(config.site.id, partJson, revision, key, generatedAt);
  const siteText = `${signedSite.head}${partJson}}`;
  if (sharedFormat === 2) {
    const sharedText = `${signSharedPart(sharedJson, sharedRevision, key, generatedAt, sharedHash).head}${sharedJson}}`;
    return { siteText, sharedText, sharedHash, sharedValue: encodeSnapshotValue(sharedText) };
  }
  const { line } = signSharedChunks(chunkHashes, sharedRevision, key, generatedAt);
  return { siteText, sharedText: chunkedSharedText(line, chunks), sharedHash, sharedValue: encodeChunkedShared(line, chunks) };
}

/** A site's config cut into what the shared part holds (as far as this config shows it) and the site's own part. */
function splitConfig(config: SiteConfig): { shared: SharedPart; part: PairedSitePart } {
  const sharedRoutes = config.outboundRoutes.filter(isSharedRoute);
  const used = new Set(sharedRoutes.flatMap((r) => r.trunks.map((t) => t.trunkId)));
  const ownEntries = config.trunks.filter((t) => used.has(t.id)).map((t) => ({ id: t.id, siteId: t.siteId, name: t.name }));
  const sharedTrunks = [...(config.remoteTrunks ?? []).filter((t) => used.has(t.id)), ...ownEntries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const sharedIds = new Set(sharedTrunks.map((t) => t.id));
  const shared: SharedPart = {
    sites: config.federation.sites,
    numberRanges: config.federation.numberRanges,
    ...(config.federation.hubSiteId !== undefined ? { hubSiteId: config.federation.hubSiteId } : {}),
    outboundRoutes: sharedRoutes,
    remoteTrunks: sharedTrunks,
    classesOfService: config.classesOfService,
  };
  const part: PairedSitePart = {
    site: config.site,
    extensions: config.extensions,
    trunks: config.trunks,
    remoteTrunks: (config.remoteTrunks ?? []).filter((t) => !sharedIds.has(t.id)),
    links: config.links,
    outboundRoutes: config.outboundRoutes.filter((r) => !isSharedRoute(r)),
    inboundRoutes: config.inboundRoutes,
    callFlows: config.callFlows,
    ...(config.remotePresence !== undefined ? { remotePresence: config.remotePresence } : {}),
  };
  return { shared, part };
}

/** Whether a shared part of this format is chunked (3, or the paired format's 4). */
function isChunkedFormat(format: number | undefined): boolean {
  return format === CHUNKED_SHARED_FORMAT || format === PAIRED_SHARED_FORMAT;
}

/**
 * The paired format (site part format 4, shared part format 4; README "Snapshot format at scale", issue #20 §1).
 * Format 2 had every site part name the shared part's content hash, so a change to the numbering plan alone made
 * the controller hash, sign and put 1,000 site parts whose own content had not changed, and every agent verify a
 * new site part too. Here the site part no longer names the shared part:
 *
 * - the site part (revision S: the federation version of the write that made it) carries `requiresShared: R0`, the
 *   revision of the shared part in force at version S (signed in its envelope);
 * - the shared part (revision R: the version it was built at) lists the content hash of every site's part at version
 *   R (`siteParts: [{id, contentHash}]`, in id order, chunked like any member: a plan-wide write changes no entry, a
 *   write that changes the shared part and one site's part changes the one chunk holding that site). The list is a
 *   function of the committed federation alone (no replica needs to know what any bucket holds to build it).
 *
 * An agent applies the pair (R, S) when R >= R0 and either the site part is the one the shared part lists for its
 * site (the same content hash) or was written after it (S > R: a site-only write since, against R0 <= R, so the
 * shared part did not change between R and S). Either way the pair is the config of one committed version - the
 * newer of the two - and never a mix: a site part older than the one listed (say a site-only write still in flight
 * when a later plan change's shared part comes, which may name a trunk only the newer site part holds) waits. The
 * pair's revision is max(R, S), its content hash {@link pairedContentHash}. A plan-wide write then puts one signed
 * shared part and no site part; a write that changes one site's objects puts that site's part and nothing else
 * while the shared part is unchanged.
 */
export const PAIRED_FORMAT = 4 as const;

/** A site's part as the shared part of the paired format lists it: by its content hash. */
export const SitePartRef = z.strictObject({ id: z.string(), contentHash: ContentHash });
export type SitePartRef = z.infer<typeof SitePartRef>;

const PAIRED_SHARED_SHAPE = { ...SharedPart.shape, siteParts: z.array(SitePartRef) } as unknown as Shape;

/** A paired site part's content: format 2's without the shared part's hash. */
export const PairedSitePart = SitePart.omit({ shared: true });
export type PairedSitePart = z.infer<typeof PairedSitePart>;
const PAIRED_SITE_PART_SHAPE = PairedSitePart.shape as unknown as Shape;

export const PairedSitePartEnvelope = z.strictObject({
  format: z.literal(PAIRED_FORMAT),
  siteId: z.string(),
  revision: z.number().int().min(1),
  /** The shared part's revision when this part was written: it is applied with that one or a newer one. */
  requiresShared: z.number().int().min(0),
  generatedAt: z.iso.datetime(),
  contentHash: ContentHash,
  signature: SnapshotSignature,
});
export type PairedSitePartEnvelope = z.infer<typeof PairedSitePartEnvelope>;

/** The bytes signed for a paired site part: format 2's layout with its format, and the shared revision it requires. */
export function pairedSitePartSigningPayload(e: Pick<PairedSitePartEnvelope, 'format' | 'siteId' | 'revision' | 'requiresShared' | 'generatedAt' | 'contentHash'>): string {
  return `fedpbx-snapshot\n${e.format}\n${e.siteId}\n${e.revision}\n${e.generatedAt}\n${e.contentHash}\nrequires-shared ${e.requiresShared}`;
}

/** Signs a paired site part by its content hash. */
export function signPairedSitePartHash(siteId: string, contentHash: string, revision: number, requiresShared: number, key: SigningKey, generatedAt: Date): SignedPart<PairedSitePartEnvelope> {
  const unsigned = { format: PAIRED_FORMAT, siteId, revision, requiresShared, generatedAt: generatedAt.toISOString(), contentHash };
  const signature = { alg: 'ed25519' as const, keyId: key.keyId, value: sign(null, Buffer.from(pairedSitePartSigningPayload(unsigned)), key.privateKey).toString('base64') };
  const envelope = { ...unsigned, signature };
  return { envelope, head: `${JSON.stringify(envelope).slice(0, -1)},"config":` };
}

function verifyPairedSitePartSignature(e: PairedSitePartEnvelope, keys: readonly VerifyingKey[]): void {
  const key = keys.find((k) => k.keyId === e.signature.keyId);
  if (key === undefined) throw new SnapshotRejectedError('unknown-key', `snapshot is signed with unknown key ${e.signature.keyId}`);
  if (!verify(null, Buffer.from(pairedSitePartSigningPayload(e)), key.publicKey, Buffer.from(e.signature.value, 'base64'))) {
    throw new SnapshotRejectedError('bad-signature', `snapshot revision ${e.revision} has a bad signature`);
  }
}

/** The signed paired shared part's chunks: the controller's, and signPairedSnapshot's. */
export function signPairedSharedChunks(chunkHashes: readonly string[], revision: number, key: SigningKey, generatedAt: Date): { envelope: ChunkedSharedEnvelope; line: string } {
  const unsigned = { format: PAIRED_SHARED_FORMAT, part: 'shared' as const, revision, generatedAt: generatedAt.toISOString(), contentHash: chunkedContentHash(chunkHashes) };
  const signature = { alg: 'ed25519' as const, keyId: key.keyId, value: sign(null, Buffer.from(sharedSigningPayload(unsigned)), key.privateKey).toString('base64') };
  const envelope = { ...unsigned, signature, chunks: [...chunkHashes] };
  return { envelope, line: JSON.stringify(envelope) };
}

/** The content hash of an applied pair: names both parts, so the same pair is known again and any other is not. */
export function pairedContentHash(siteHash: string, sharedHash: string): string {
  return sha256(`fedpbx-pair\n${siteHash}\n${sharedHash}`);
}

/** The content hash of the site part a paired shared part was built beside for `siteId` (undefined: none listed). */
export function listedSitePart(shared: VerifiedShared, siteId: string): string | undefined {
  const list = shared.siteParts;
  if (list === undefined) return undefined;
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const ref = list[mid] as SitePartRef;
    if (ref.id === siteId) return ref.contentHash;
    if (ref.id < siteId) lo = mid + 1;
    else hi = mid - 1;
  }
  // Not in id order (never from the controller): a plain search, so a listed site is never missed.
  return list.find((r) => r.id === siteId)?.contentHash;
}

/** Why the pair cannot be applied (yet), or undefined when it can (see {@link PAIRED_FORMAT}). */
export function pairingGap(site: PairedSitePartEnvelope, shared: VerifiedShared): string | undefined {
  const r = shared.envelope.revision;
  if (shared.envelope.format !== PAIRED_SHARED_FORMAT) return `shared part format ${shared.envelope.format} does not pair with site part format ${PAIRED_FORMAT}`;
  if (r < site.requiresShared) return `site part ${site.revision} requires shared part ${site.requiresShared} or newer, have ${r}`;
  if (site.revision > r || listedSitePart(shared, site.siteId) === site.contentHash) return undefined;
  return `shared part ${r} goes with another site part than ${site.revision} (a newer one)`;
}

/** A paired site part checked as far as its signature (its content not read). */
export interface CheckedPairedSitePart {
  readonly envelope: PairedSitePartEnvelope;
  readonly checked: CheckedText<PairedSitePartEnvelope>;
}

/** A paired site part verified: envelope, validated content, and its members for the next one's reuse. */
export interface VerifiedPairedSitePart {
  readonly envelope: PairedSitePartEnvelope;
  readonly part: PairedSitePart;
  readonly parts: SnapshotParts;
}

function pairedSitePartSpec(expectedSiteId: string, keys: readonly VerifyingKey[]): PartSpec<PairedSitePartEnvelope> {
  return {
    envelope: (raw) => {
      const e = envelopeOf(PairedSitePartEnvelope, raw, 'snapshot', PAIRED_FORMAT);
      if (e.siteId !== expectedSiteId) throw new SnapshotRejectedError('wrong-site', `snapshot is for site ${e.siteId}, this agent serves ${expectedSiteId}`);
      return e;
    },
    signature: (e) => verifyPairedSitePartSignature(e, keys),
    shape: PAIRED_SITE_PART_SHAPE,
  };
}

/** A paired site part's envelope, hash and signature checked in steps (content not read); undefined when not in wire form. */
export function* checkPairedSitePartSteps(text: string, expectedSiteId: string, keys: readonly VerifyingKey[]): Generator<void, CheckedPairedSitePart | undefined> {
  const checked = yield* checkTextSteps(text, pairedSitePartSpec(expectedSiteId, keys));
  return checked === undefined ? undefined : { envelope: checked.envelope, checked };
}

/** A paired site part's envelope, its signature checked, its content not read (the controller's check of its bucket). */
export function verifyPairedSitePartEnvelope(text: string, expectedSiteId: string, keys: readonly VerifyingKey[]): PairedSitePartEnvelope | undefined {
  return runSteps(checkPairedSitePartSteps(text, expectedSiteId, keys))?.envelope;
}

/** A paired site part's content read (members as in `previous` taken over), after checkPairedSitePartSteps. */
export function* verifyPairedSitePartSteps(
  text: string,
  expectedSiteId: string,
  keys: readonly VerifyingKey[],
  previous?: SnapshotParts,
  checked?: CheckedText<PairedSitePartEnvelope>,
): Generator<void, VerifiedPairedSitePart> {
  // Nothing deferred, the part is read whole: a VerifiedPairedSitePart.
  return (yield* pairedSitePartSteps(text, expectedSiteId, keys, previous, checked, undefined)) as VerifiedPairedSitePart;
}

/**
 * The snapshot a verified paired site part and shared part make, when they pair (pairingGap; else refused as
 * `shared-missing`): revision max(R, S), the pair's content hash, the site part's signature and time.
 */
export function pairedSnapshot(site: VerifiedPairedSitePart, shared: VerifiedShared, assembler: SiteConfigAssembler): SiteSnapshot {
  const snapshot = pairedSnapshotWithoutExtensions(site, shared, assembler);
  return { ...snapshot, config: { ...snapshot.config, extensions: site.part.extensions } };
}

/** {@link pairedSnapshot} of a site part whose extensions were read elsewhere (a worker thread built their table). */
export function pairedSnapshotWithoutExtensions(site: PairedSitePartWithoutExtensions, shared: VerifiedShared, assembler: SiteConfigAssembler): SnapshotWithoutExtensions {
  const gap = pairingGap(site.envelope, shared);
  if (gap !== undefined) throw new SnapshotRejectedError('shared-missing', gap);
  const { siteId, revision, generatedAt, contentHash, signature } = site.envelope;
  return {
    format: SNAPSHOT_FORMAT_VERSION,
    siteId,
    revision: Math.max(revision, shared.envelope.revision),
    generatedAt: shared.envelope.revision > revision ? shared.envelope.generatedAt : generatedAt,
    contentHash: pairedContentHash(contentHash, shared.envelope.contentHash),
    signature,
    config: assembler.assembleWithoutExtensions(site.part as Omit<SitePart, 'extensions'>, shared.part),
  };
}

/** A verified paired site part but for its extensions (a head office's, read in a worker: DeferredPairedSitePart). */
export interface PairedSitePartWithoutExtensions {
  readonly envelope: PairedSitePartEnvelope;
  readonly part: Omit<PairedSitePart, 'extensions'>;
  readonly parts: SnapshotParts;
}

/**
 * A paired site part read but for its extensions, which another reader - a worker thread - reads from `extensions`
 * ({@link readSitePartExtensions}: the member's schema is the format-2 one). As {@link DeferredSplit}: `finish`
 * throws what a member after the extensions was refused for, or the site's refusal; call it only once the
 * extensions read without refusal (theirs comes first).
 */
export interface DeferredPairedSitePart {
  readonly extensions: { readonly start: number; readonly end: number };
  readonly finish: () => PairedSitePartWithoutExtensions;
}

/**
 * {@link verifyPairedSitePartSteps}, the extensions left unread when they are over REUSE_MAX_PART_BYTES (a
 * DeferredPairedSitePart then; a smaller site's part is read whole). The same checks in the same order.
 */
export function* verifyPairedSitePartDeferringSteps(
  text: string,
  expectedSiteId: string,
  keys: readonly VerifyingKey[],
  previous?: SnapshotParts,
  checked?: CheckedText<PairedSitePartEnvelope>,
): Generator<void, VerifiedPairedSitePart | DeferredPairedSitePart> {
  return yield* pairedSitePartSteps(text, expectedSiteId, keys, previous, checked, 'extensions');
}

/** verifyPairedSitePartSteps and its deferring form: `defer` names the member left to another reader when large. */
function* pairedSitePartSteps(
  text: string,
  expectedSiteId: string,
  keys: readonly VerifyingKey[],
  previous: SnapshotParts | undefined,
  checked: CheckedText<PairedSitePartEnvelope> | undefined,
  defer: 'extensions' | undefined,
): Generator<void, VerifiedPairedSitePart | DeferredPairedSitePart> {
  const read = yield* verifyPartSteps(text, pairedSitePartSpec(expectedSiteId, keys), previous, undefined, checked, defer);
  if (read === undefined) throw new SnapshotRejectedError('malformed', 'snapshot is not in wire form (envelope, then "config" as its last member)');
  const deferred = read.deferred;
  const site = (): PairedSitePartWithoutExtensions => {
    const part = read.content as Omit<PairedSitePart, 'extensions'>;
    if (part.site.id !== expectedSiteId) throw new SnapshotRejectedError('wrong-site', `snapshot is for site ${part.site.id}, this agent serves ${expectedSiteId}`);
    return { envelope: read.envelope, part, parts: read.parts };
  };
  if (deferred === undefined) return site() as VerifiedPairedSitePart;
  const finish = (): PairedSitePartWithoutExtensions => {
    if (deferred.after !== undefined) throw deferred.after;
    return site();
  };
  return { extensions: { start: deferred.start, end: deferred.end }, finish };
}

/** Whether a paired site part's verification left its extensions to another reader. */
export function isDeferredPairedSitePart(v: VerifiedPairedSitePart | DeferredPairedSitePart): v is DeferredPairedSitePart {
  return 'finish' in v;
}

/**
 * One site's config as paired parts, signed (tools and tests): `siteRevision` and `requiresShared` for the site
 * part, `sharedRevision` and `siteParts` for the shared part's list - an entry whose contentHash is `"self"` lists
 * this very site part (its hash is worked out here).
 */
export function signPairedSnapshot(
  config: SiteConfig,
  siteRevision: number,
  requiresShared: number,
  sharedRevision: number,
  siteParts: readonly SitePartRef[],
  key: SigningKey,
  generatedAt: Date,
): { siteText: string; sharedText: string; sharedValue: Uint8Array; siteHash: string; sharedHash: string } {
  const { shared, part: own } = splitConfig(config);
  const partJson = canonicalJson(own);
  const siteHash = sha256(partJson);
  const list = siteParts.map((r) => (r.contentHash === 'self' ? { ...r, contentHash: siteHash } : r)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const chunks = sharedChunks({ ...shared, siteParts: list }, canonicalJson);
  const { line, envelope } = signPairedSharedChunks(chunks.map(sha256), sharedRevision, key, generatedAt);
  const signed = signPairedSitePartHash(config.site.id, siteHash, siteRevision, requiresShared, key, generatedAt);
  return { siteText: `${signed.head}${partJson}}`, sharedText: chunkedSharedText(line, chunks), sharedValue: encodeChunkedShared(line, chunks), siteHash, sharedHash: envelope.contentHash };
}
