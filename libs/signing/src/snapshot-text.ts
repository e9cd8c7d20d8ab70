import { Extension, SiteConfig, SiteSnapshot, SNAPSHOT_FORMAT_VERSION } from '@fedpbx/contracts';
import { SnapshotRejectedError, verifySignature, verifySnapshot, type VerifyingKey } from './snapshot-signer.js';
import { ZodArray, type ZodType } from 'zod';
import { configSpan, sha256, sha256Steps } from './wire-text.js';

const Envelope = SiteSnapshot.omit({ config: true });
const PART_SCHEMAS = SiteConfig.shape as Shape;

/**
 * Parts larger than this are not kept for reuse: the values of a 100,000-extension head office's extensions
 * would hold tens of MB for as long as the snapshot is in force, where the agent otherwise keeps them compact.
 * Such a part is parsed again at the next snapshot (a rollout, not a call, pays for it).
 */
export const REUSE_MAX_PART_BYTES = 512 * 1024;

/**
 * What a verified snapshot's config was made of, by part (`extensions`) and member of a nested part
 * (`federation.sites`): each one's value and the hash of its text (parts up to REUSE_MAX_PART_BYTES).
 */
export interface SnapshotParts {
  readonly values: ReadonlyMap<string, unknown>;
  readonly hashes: ReadonlyMap<string, string>;
  /**
   * The verified text itself and where its content's members were (kinds of text whose spec says `keepText`: a
   * shared part, whose text the agent keeps anyway). The next one's members are then compared with these texts -
   * found without scanning them, taken over without hashing them (a plan-only change at 1,000 sites: 2 ms of
   * scanning and 0.7 ms of hashing the unchanged site directory and routes, for a comparison of bytes).
   */
  readonly source?: MemberTexts;
  /**
   * With `source`: the array members' elements, by their text (each element's bytes -> its validated value). A
   * member that changed is read element by element, and only the elements not among these are parsed and
   * validated: a range added to 1,000 sites' plan reads one range, not 1,001.
   */
  readonly elements?: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
}

/** A text and the [start, end) of each top-level member's value in its content. */
export interface MemberTexts {
  readonly text: string;
  readonly members: ReadonlyMap<string, readonly [number, number]>;
}

export interface VerifiedText {
  readonly snapshot: SiteSnapshot;
  /** Hand these to the next verification to reuse the parts that did not change; undefined when the text was not in wire form. */
  readonly parts: SnapshotParts | undefined;
}

/**
 * Verifies a snapshot from its JSON text, as the controller writes it (envelope fields, then `,"config":` and the
 * canonical config as its last member): envelope shape and format first, then the content hash over the config's
 * bytes and the controller's signature, and only then the content - part by part. A part (`extensions`,
 * `federation`, ...) whose text hashes as the same part of `previous` did is taken over as the value already
 * validated then, neither parsed nor validated again: a new extension re-reads only the extensions, and a range
 * added anywhere only the federation's numbering plan, not its site directory (NESTED_PARTS). Text in any other
 * form gets the whole-object path (`verifySnapshot`). Throws {@link SnapshotRejectedError}, as verifySnapshot does.
 */
export function verifySnapshotText(text: string, expectedSiteId: string, keys: readonly VerifyingKey[], previous?: SnapshotParts, reuseMaxPartBytes = REUSE_MAX_PART_BYTES): VerifiedText {
  return runSteps(verifySteps(text, expectedSiteId, keys, previous, reuseMaxPartBytes));
}

/**
 * {@link verifySnapshotText} in slices: between them it awaits `pause` (the agent: one turn of the event loop).
 * A head office's extensions - 100,000 of them, ~20 MB of JSON - take ~400 ms to parse and validate; read
 * ELEMENTS_PER_SLICE at a time, no slice holds the loop for more than a few ms, and calls are answered meanwhile
 * from the snapshot still in force. The same checks, in the same order, with the same result.
 */
export async function verifySnapshotTextInSlices(
  text: string,
  expectedSiteId: string,
  keys: readonly VerifyingKey[],
  pause: () => Promise<void>,
  previous?: SnapshotParts,
  reuseMaxPartBytes = REUSE_MAX_PART_BYTES,
): Promise<VerifiedText> {
  return runStepsWithPauses(verifySteps(text, expectedSiteId, keys, previous, reuseMaxPartBytes), pause);
}

/** The verification, yielding where a pause may come (between slices of a large array part). */
function* verifySteps(text: string, expectedSiteId: string, keys: readonly VerifyingKey[], previous: SnapshotParts | undefined, reuseMaxPartBytes: number): Generator<void, VerifiedText> {
  const read = yield* verifyPartSteps(text, wholeSnapshotSpec(expectedSiteId, keys), previous, reuseMaxPartBytes);
  if (read === undefined) return { snapshot: wholeObject(text, expectedSiteId, keys), parts: undefined };
  const config = read.content as SiteConfig;
  if (config.site.id !== expectedSiteId) throw new SnapshotRejectedError('wrong-site', `snapshot is for site ${config.site.id}, this agent serves ${expectedSiteId}`);
  return { snapshot: { ...read.envelope, config }, parts: read.parts };
}

/**
 * How one kind of signed text is read (a format-1 snapshot, a format-2 site part or shared part): its envelope's
 * checks and signature, and its content's members with their schemas.
 */
export interface PartSpec<E extends { readonly contentHash: string }> {
  /** Shape, format and site of the envelope's JSON (throws SnapshotRejectedError); its signature is checked apart. */
  readonly envelope: (raw: unknown) => E;
  readonly signature: (envelope: E) => void;
  readonly shape: Shape;
  /** Members read member by member (`federation`). */
  readonly nested?: ReadonlyMap<string, Shape>;
  /** Keep the text in the parts (SnapshotParts.source) for the next one's members to be compared with. */
  readonly keepText?: boolean;
}

/** A text read by {@link verifyPartSteps}: its verified envelope, its validated content, and its parts for reuse. */
export interface VerifiedPart<E> {
  readonly envelope: E;
  readonly content: Record<string, unknown>;
  readonly parts: SnapshotParts;
  /** The member left unread (`defer`), when it was. */
  readonly deferred?: DeferredMember;
}

/**
 * Verifies a signed text in wire form - envelope, the content hash over the content's bytes, the signature, and
 * only then the content, member by member, those unchanged since `previous` taken over - yielding between slices.
 * Undefined when the text is not in wire form (the caller reads it whole or refuses it).
 */
export function* verifyPartSteps<E extends { readonly contentHash: string }>(
  text: string,
  spec: PartSpec<E>,
  previous: SnapshotParts | undefined,
  reuseMaxPartBytes = REUSE_MAX_PART_BYTES,
  checked?: CheckedText<E>,
  /** A top-level member left unread when its text is over `reuseMaxPartBytes`: see {@link DeferredMember}. */
  defer?: string,
): Generator<void, VerifiedPart<E> | undefined> {
  // What was found for this very text only: any other text gets every check.
  const head = checked !== undefined && checked.text === text ? checked : yield* checkTextSteps(text, spec, previous?.source);
  if (head === undefined) return undefined;
  // The signed bytes: now the content, part by part.
  const reader = new PartReader(text, previous, reuseMaxPartBytes, spec.nested ?? NO_NESTED, spec.keepText === true, head.same, defer);
  let content: Record<string, unknown>;
  let after: SnapshotRejectedError | undefined;
  try {
    content = yield* reader.object(head.members, spec.shape, []);
  } catch (error) {
    // Past the deferred member, a refusal waits for its verdict: refusing the deferred member would have come first.
    if (reader.deferred === undefined || !(error instanceof SnapshotRejectedError)) throw error;
    content = {};
    after = error;
  }
  const source = spec.keepText === true ? { source: { text, members: head.members }, elements: reader.elements } : {};
  const deferred = reader.deferred === undefined ? {} : { deferred: { ...reader.deferred, ...(after !== undefined ? { after } : {}) } };
  return { envelope: head.envelope, content, parts: { values: reader.kept, hashes: reader.hashes, ...source }, ...deferred };
}

/**
 * A member verifyPartSteps left unread (`defer`) for another reader - a worker thread, readDeferredMember - and
 * what the verdict waits on: the content is complete but for it, unless `after` is set - the refusal a member read
 * after it gave (the content is then not to be used). Its refusal, if any, comes first; `after` next.
 */
export interface DeferredMember {
  readonly key: string;
  /** Its value's text: [start, end) of the verified text. */
  readonly start: number;
  readonly end: number;
  readonly after?: SnapshotRejectedError;
}

/** A signed text whose envelope, hash and signature were checked, and where its content's members are. */
export interface CheckedText<E> {
  /** The text checked (a CheckedText is taken only for it). */
  readonly text: string;
  readonly envelope: E;
  /** Member key -> [start, end) of its value text, in the content (the `config` object). */
  readonly members: Map<string, [number, number]>;
  /** The members whose text is byte for byte that of `before` (membersLike). */
  readonly same: ReadonlySet<string>;
}

/**
 * The first half of {@link verifyPartSteps}: the content's members found (those as in `before` by a comparison of
 * bytes), then the envelope checked, the content hashed and the signature checked - the content not read. A head
 * office's site part is 20 MB: the scan over it and its hash (~50 and ~60 ms at load 5, each in one piece before)
 * go SCAN_CHARS_PER_STEP characters at a time, with a pause between steps. Undefined when the text is not in wire form.
 */
export function* checkTextSteps<E extends { readonly contentHash: string }>(text: string, spec: PartSpec<E>, before?: MemberTexts): Generator<void, CheckedText<E> | undefined> {
  const span = configSpan(text);
  if (span === undefined) return undefined;
  const scan = yield* topLevelMembersSteps(text, span.configStart, text.length - 1, SCAN_CHARS_PER_STEP, before);
  if (scan === undefined) return undefined;
  const envelope = yield* checkSignedEnvelopeSteps(text, span, spec);
  return envelope === undefined ? undefined : { text, envelope, members: scan.members, same: scan.same };
}

/** Runs a verification generator to its end at once. */
export function runSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** Runs a verification generator, awaiting `pause` between its steps. */
export async function runStepsWithPauses<T>(steps: Generator<void, T>, pause: () => Promise<void>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await pause();
  }
}

function wholeSnapshotSpec(expectedSiteId: string, keys: readonly VerifyingKey[]): PartSpec<Omit<SiteSnapshot, 'config'>> {
  return {
    envelope: (raw) => {
      if (typeof raw === 'object' && raw !== null && 'format' in raw && raw.format !== SNAPSHOT_FORMAT_VERSION) {
        throw new SnapshotRejectedError('format', `snapshot format ${String(raw.format)} is not supported (this agent knows ${SNAPSHOT_FORMAT_VERSION})`);
      }
      const envelope = Envelope.safeParse(raw);
      if (!envelope.success) throw malformed(envelope.error.issues[0], []);
      if (envelope.data.siteId !== expectedSiteId) throw new SnapshotRejectedError('wrong-site', `snapshot is for site ${envelope.data.siteId}, this agent serves ${expectedSiteId}`);
      return envelope.data;
    },
    signature: (e) => verifySignature(e, keys),
    shape: PART_SCHEMAS,
    nested: NESTED_PARTS,
  };
}

/**
 * The envelope of a snapshot in wire form (site, revision, time, content hash, signature), checked as
 * {@link verifySnapshotText} checks it - shape, format, site, the hash over the config's bytes, the controller's
 * signature - without reading the config: enough to know that a value holds exactly the snapshot already in force
 * (same revision and hash: the same signed bytes) at a twentieth of the cost for a head office. Undefined when the
 * text is not in wire form; throws {@link SnapshotRejectedError} as verifySnapshotText does.
 */
export function verifySnapshotEnvelope(text: string, expectedSiteId: string, keys: readonly VerifyingKey[]): Omit<SiteSnapshot, 'config'> | undefined {
  return verifyEnvelopeOnly(text, wholeSnapshotSpec(expectedSiteId, keys));
}

/** {@link verifySnapshotEnvelope} for any kind of signed text. */
export function verifyEnvelopeOnly<E extends { readonly contentHash: string }>(text: string, spec: PartSpec<E>): E | undefined {
  const span = configSpan(text);
  return span === undefined ? undefined : checkSignedEnvelope(text, span, spec);
}

/** Envelope checks, content hash and signature; undefined when the envelope's text is not JSON. */
function checkSignedEnvelope<E extends { readonly contentHash: string }>(text: string, span: { envelopeEnd: number; configStart: number }, spec: PartSpec<E>): E | undefined {
  return runSteps(checkSignedEnvelopeSteps(text, span, spec));
}

/** {@link checkSignedEnvelope}, the hash a step at a time (sha256Steps). */
function* checkSignedEnvelopeSteps<E extends { readonly contentHash: string }>(text: string, span: { envelopeEnd: number; configStart: number }, spec: PartSpec<E>): Generator<void, E | undefined> {
  let envelopeRaw: unknown;
  try {
    envelopeRaw = JSON.parse(`${text.slice(0, span.envelopeEnd)}}`);
  } catch {
    return undefined;
  }
  const e = spec.envelope(envelopeRaw);
  const actual = yield* sha256Steps(text, span.configStart, text.length - 1, SCAN_CHARS_PER_STEP);
  if (actual !== e.contentHash) throw new SnapshotRejectedError('hash-mismatch', `snapshot content hash ${actual} does not match the declared ${e.contentHash}`);
  spec.signature(e);
  return e;
}

export type Shape = Record<string, ZodType>;

/**
 * Parts read member by member, each member reused on its own. A federation's numbering plan changes with every
 * range added anywhere, its site directory (twice the plan's size) only when a site changes.
 */
const NESTED_PARTS: ReadonlyMap<string, Shape> = new Map([['federation', SiteConfig.shape.federation.shape as Shape]]);
const NO_NESTED: ReadonlyMap<string, Shape> = new Map();

/**
 * Array parts read element by element, in slices (see verifySnapshotTextInSlices), with each element's schema:
 * the whole part's schema is `z.array(<element>)` with no checks of its own (libs/contracts SiteConfig), so this
 * is what parsing the array at once gives.
 */
const SLICED_PARTS: ReadonlyMap<string, ZodType> = new Map([['extensions', Extension]]);
/** Parts (and texts) smaller than this are read at once. */
const SLICE_MIN_BYTES = 256 * 1024;
/**
 * Characters scanned or hashed between two pauses: 2-4 ms at load 5 (a head office's 20 MB was ~50 ms of scan and
 * ~60 ms of hash, each in one piece). A text shorter than this takes no pause for them.
 */
export const SCAN_CHARS_PER_STEP = 1 << 20;
/** ~2 ms of JSON.parse and ~3 ms of validation for a head office's extensions on the development machine. */
const ELEMENTS_PER_SLICE = 1000;

/** Reads a config's parts from the verified text, taking over those whose text hashes as in the snapshot before. */
class PartReader {
  readonly kept = new Map<string, unknown>();
  readonly hashes = new Map<string, string>();
  /** Array members' elements by their text (parts compared by text only). */
  readonly elements = new Map<string, ReadonlyMap<string, unknown>>();

  constructor(
    private readonly text: string,
    private readonly previous: SnapshotParts | undefined,
    private readonly reuseMaxPartBytes: number,
    private readonly nestedParts: ReadonlyMap<string, Shape>,
    /** Parts compared by their text (a spec's `keepText`; top-level members only), not by hashes. */
    private readonly byText = false,
    /** Top-level members whose text is byte for byte the previous text's (membersLike). */
    private readonly same: ReadonlySet<string> = NONE,
    /** A top-level member left unread when over reuseMaxPartBytes (verifyPartSteps' `defer`). */
    private readonly defer?: string,
  ) {}

  /** Where the member left unread is, once it was reached. */
  deferred: { readonly key: string; readonly start: number; readonly end: number } | undefined;

  /** The object whose members are at `members` (strict: unknown keys are refused, left-out ones get their defaults). */
  *object(members: ReadonlyMap<string, [number, number]>, shape: Shape, path: readonly string[]): Generator<void, Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [key, [start, end]] of members) {
      const schema = shape[key];
      if (schema === undefined) throw new SnapshotRejectedError('malformed', `snapshot is malformed at ${['config', ...path].join('.')}: unrecognized key "${key}"`);
      if (path.length === 0 && key === this.defer && end - start > this.reuseMaxPartBytes) {
        this.deferred = { key, start, end };
        continue;
      }
      const at = [...path, key];
      const nestedShape = this.nestedParts.get(at.join('.'));
      const nested = nestedShape === undefined ? undefined : topLevelMembers(this.text, start, end);
      out[key] = nested !== undefined && nestedShape !== undefined ? yield* this.nested(nested, nestedShape, at) : yield* this.part(start, end, schema, at);
    }
    for (const [key, schema] of Object.entries(shape)) {
      if (members.has(key)) continue;
      const parsed = schema.safeParse(undefined);
      if (!parsed.success) throw malformed(parsed.error.issues[0], ['config', ...path, key]);
      if (parsed.data !== undefined) out[key] = parsed.data;
    }
    return out;
  }

  /** A part read member by member: the object before it when every member was taken over (so it stays the same object). */
  private *nested(members: ReadonlyMap<string, [number, number]>, shape: Shape, path: readonly string[]): Generator<void, unknown> {
    const value = yield* this.object(members, shape, path);
    const id = path.join('.');
    const before = this.previous?.values.get(id);
    const same = typeof before === 'object' && before !== null && Object.keys(before).length === Object.keys(value).length && Object.entries(value).every(([k, v]) => (before as Record<string, unknown>)[k] === v);
    const result = same ? before : value;
    // Kept only when all of it was (a member over the bound must not stay in memory through its parent).
    if ([...members.keys()].every((key) => this.hashes.has(`${id}.${key}`))) this.kept.set(id, result);
    return result;
  }

  /** One part (or member of a nested part): taken over when its text hashes as the same part's did before. */
  private *part(start: number, end: number, schema: ZodType, path: readonly string[]): Generator<void, unknown> {
    const id = path.join('.');
    const reusable = end - start <= this.reuseMaxPartBytes;
    let hash: string | undefined;
    if (this.byText && reusable) {
      // The same bytes as the member of the text before (verified and validated then): taken over, not hashed.
      if (this.same.has(id) && this.previous?.values.has(id) === true) {
        const elements = this.previous.elements?.get(id);
        if (elements !== undefined) this.elements.set(id, elements);
        return this.keep(id, undefined, this.previous.values.get(id));
      }
      const element = plainArrayElement(schema);
      const value = element === undefined ? undefined : this.byElements(start, end, element, id);
      if (value !== undefined) return this.keep(id, undefined, value);
    } else if (reusable && !this.byText) {
      hash = sha256(this.text.slice(start, end));
      if (this.previous !== undefined && this.previous.hashes.get(id) === hash && this.previous.values.has(id)) return this.keep(id, hash, this.previous.values.get(id));
    }
    const element = SLICED_PARTS.get(id);
    if (element !== undefined && end - start >= SLICE_MIN_BYTES) {
      const value = yield* slicedArray(this.text, start, end, element, path);
      if (value !== undefined) return reusable ? this.keep(id, hash, value) : value;
    }
    const value = wholePart(this.text, start, end, schema, path);
    return reusable ? this.keep(id, hash, value) : value;
  }

  /**
   * An array member read element by element: an element whose bytes are those of an element of the member before
   * is taken over (it was validated then), the others parsed and validated with the element's schema - what
   * validating the whole array gives, as its schema has no checks of its own (plainArrayElement). Undefined when
   * the text is not an array as far as the element scan can tell: the caller reads it whole (and reports it).
   */
  private byElements(start: number, end: number, element: ZodType, id: string): unknown[] | undefined {
    const texts = arrayElements(this.text, start, end);
    if (texts === undefined) return undefined;
    const before = this.previous?.elements?.get(id);
    const out: unknown[] = new Array<unknown>(texts.length);
    const fresh: number[] = [];
    texts.forEach((t, i) => {
      if (before?.has(t) === true) out[i] = before.get(t);
      else fresh.push(i);
    });
    if (fresh.length > 0) {
      let raw: unknown[];
      try {
        raw = JSON.parse(`[${fresh.map((i) => texts[i]).join(',')}]`) as unknown[];
      } catch {
        return undefined;
      }
      if (raw.length !== fresh.length) return undefined;
      fresh.forEach((at, k) => {
        const parsed = element.safeParse(raw[k]);
        if (!parsed.success) throw malformed(parsed.error.issues[0], ['config', id, String(at)]);
        out[at] = parsed.data;
      });
    }
    this.elements.set(id, new Map(texts.map((t, i) => [t, out[i]])));
    return out;
  }

  /** Keeps a part's value (and its text's hash, unless parts are compared by text) for the next one's reuse. */
  private keep(id: string, hash: string | undefined, value: unknown): unknown {
    if (hash !== undefined) this.hashes.set(id, hash);
    this.kept.set(id, value);
    return value;
  }
}

/**
 * An array part ELEMENTS_PER_SLICE elements at a time, yielding after each slice: each slice's text (from its first
 * element to its last, commas between) parsed as one array, each element validated. Undefined when the text is not
 * a JSON array as far as the element scan can tell: the caller then reads the part at once (and reports it).
 */
function* slicedArray(text: string, start: number, end: number, element: ZodType, path: readonly string[]): Generator<void, unknown[] | undefined> {
  let i = skipWs(text, start, end);
  if (text.charCodeAt(i) !== 0x5b /* [ */) return undefined;
  i = skipWs(text, i + 1, end);
  const out: unknown[] = [];
  if (text.charCodeAt(i) === 0x5d /* ] */) return skipWs(text, i + 1, end) === end ? out : undefined;
  for (;;) {
    // The next slice: up to ELEMENTS_PER_SLICE elements from i, ending at the last one's end.
    const sliceStart = i;
    let sliceEnd = i;
    let closed = false;
    for (let n = 0; n < ELEMENTS_PER_SLICE; n++) {
      const valueEndAt = valueEnd(text, i, end);
      if (valueEndAt < 0) return undefined;
      sliceEnd = valueEndAt;
      i = skipWs(text, valueEndAt, end);
      const c = text.charCodeAt(i);
      if (c === 0x5d) {
        if (skipWs(text, i + 1, end) !== end) return undefined;
        closed = true;
        break;
      }
      if (c !== 0x2c /* , */) return undefined;
      i = skipWs(text, i + 1, end);
    }
    let raw: unknown[];
    try {
      raw = JSON.parse(`[${text.slice(sliceStart, sliceEnd)}]`) as unknown[];
    } catch {
      return undefined;
    }
    for (const value of raw) {
      const parsed = element.safeParse(value);
      if (!parsed.success) throw malformed(parsed.error.issues[0], ['config', ...path, String(out.length)]);
      out.push(parsed.data);
    }
    if (closed) return out;
    yield;
  }
}

/** A part's text parsed and validated in one piece. */
function wholePart(text: string, start: number, end: number, schema: ZodType, path: readonly string[]): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text.slice(start, end));
  } catch {
    throw new SnapshotRejectedError('malformed', `snapshot is malformed at config.${path.join('.')}: not JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw malformed(parsed.error.issues[0], ['config', ...path]);
  return parsed.data;
}

/**
 * A top-level member of a content left unread by {@link verifyPartSteps} (`defer`), read from its text `text[start,
 * end)` as verifyPartSteps would have read it - the same parse, the same schema, the same refusals with the same
 * texts (SnapshotRejectedError): what a worker thread runs on a head office's extensions. Only for members over
 * REUSE_MAX_PART_BYTES (those are never taken over from the text before, so reading them elsewhere loses nothing).
 */
export function readDeferredMember(text: string, key: string, shape: Shape, start = 0, end = text.length): unknown {
  const schema = shape[key];
  if (schema === undefined) throw new SnapshotRejectedError('malformed', `snapshot is malformed at config: unrecognized key "${key}"`);
  const element = SLICED_PARTS.get(key);
  if (element !== undefined && end - start >= SLICE_MIN_BYTES) {
    const value = runSteps(slicedArray(text, start, end, element, [key]));
    if (value !== undefined) return value;
  }
  return wholePart(text, start, end, schema, [key]);
}

function wholeObject(text: string, expectedSiteId: string, keys: readonly VerifyingKey[]): SiteSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SnapshotRejectedError('malformed', 'snapshot is not JSON');
  }
  return verifySnapshot(raw, expectedSiteId, keys, { receivedText: text });
}

function malformed(issue: { path: PropertyKey[]; message: string } | undefined, prefix: string[]): SnapshotRejectedError {
  const path = [...prefix, ...(issue?.path ?? []).map(String)].join('.');
  return new SnapshotRejectedError('malformed', `snapshot is malformed at ${path || '(root)'}: ${issue?.message ?? 'invalid'}`);
}


const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const NONE: ReadonlySet<string> = new Set();

/**
 * {@link topLevelMembers}, and which members' value text is byte for byte the same as in `before` (the previous
 * text of the same kind): such a value is found by one comparison of bytes (native), not scanned. Sound without
 * trusting `before`'s boundaries beyond its having been a complete JSON value: a text that starts with a complete
 * array, object or string value ends that value exactly where it ends (its brackets or quotes close there first),
 * and a number or literal is followed by the delimiter checked here. A value that differs is scanned.
 */
export function membersLike(text: string, from: number, to: number, before: MemberTexts | undefined): { members: Map<string, [number, number]>; same: ReadonlySet<string> } | undefined {
  return runSteps(topLevelMembersSteps(text, from, to, Infinity, before));
}

/**
 * The members of the JSON object spanning text[from, to): key -> [start, end) of its value text. Undefined when
 * it is not an object or not well formed as far as this scan can tell (every value is then checked by
 * JSON.parse anyway). Strings are skipped with their escapes, so brackets inside them do not count.
 */
export function topLevelMembers(text: string, from: number, to: number): Map<string, [number, number]> | undefined;
export function topLevelMembers(text: string, from: number, to: number, before: MemberTexts): { members: Map<string, [number, number]>; same: Set<string> } | undefined;
export function topLevelMembers(text: string, from: number, to: number, before?: MemberTexts): Map<string, [number, number]> | { members: Map<string, [number, number]>; same: Set<string> } | undefined {
  const scan = runSteps(topLevelMembersSteps(text, from, to, Infinity, before));
  return before === undefined ? scan?.members : scan;
}

/**
 * {@link membersLike} (topLevelMembers with `before`), yielding after every `charsPerStep` characters of a value
 * scanned: a head office's extensions are 20 MB of one member.
 */
export function* topLevelMembersSteps(
  text: string,
  from: number,
  to: number,
  charsPerStep = SCAN_CHARS_PER_STEP,
  before?: MemberTexts,
): Generator<void, { members: Map<string, [number, number]>; same: Set<string> } | undefined> {
  const out = new Map<string, [number, number]>();
  const same = new Set<string>();
  const result = () => ({ members: out, same });
  let i = skipWs(text, from, to);
  if (text.charCodeAt(i) !== 0x7b /* { */) return undefined;
  i = skipWs(text, i + 1, to);
  if (text.charCodeAt(i) === 0x7d /* } */) return skipWs(text, i + 1, to) === to ? result() : undefined;
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) return undefined;
    const keyEnd = stringEnd(text, i, to);
    if (keyEnd < 0) return undefined;
    let key: unknown;
    try {
      key = JSON.parse(text.slice(i, keyEnd));
    } catch {
      return undefined;
    }
    i = skipWs(text, keyEnd, to);
    if (text.charCodeAt(i) !== 0x3a /* : */) return undefined;
    const start = skipWs(text, i + 1, to);
    const was = before?.members.get(key as string);
    const asBefore = was !== undefined && before !== undefined && text.startsWith(before.text.slice(was[0], was[1]), start) && isMemberEnd(text, start + was[1] - was[0], to);
    if (asBefore) same.add(key as string);
    const end = asBefore ? start + was[1] - was[0] : yield* valueEndSteps(text, start, to, charsPerStep);
    if (end < 0) return undefined;
    out.set(key as string, [start, end]);
    i = skipWs(text, end, to);
    const c = text.charCodeAt(i);
    if (c === 0x7d) return skipWs(text, i + 1, to) === to ? result() : undefined;
    if (c !== 0x2c /* , */) return undefined;
    i = skipWs(text, i + 1, to);
  }
}

/** The element schema of an array schema with no checks of its own (so validating it is validating each element). */
export function plainArrayElement(schema: ZodType): ZodType | undefined {
  if (!(schema instanceof ZodArray)) return undefined;
  const checks = (schema._zod.def as { checks?: readonly unknown[] }).checks;
  return checks === undefined || checks.length === 0 ? (schema.element as ZodType) : undefined;
}

/** The texts of the elements of the JSON array spanning text[start, end); undefined when it is not one. */
export function arrayElements(text: string, start: number, end: number): string[] | undefined {
  let i = skipWs(text, start, end);
  if (text.charCodeAt(i) !== 0x5b /* [ */) return undefined;
  i = skipWs(text, i + 1, end);
  const out: string[] = [];
  if (text.charCodeAt(i) === 0x5d /* ] */) return skipWs(text, i + 1, end) === end ? out : undefined;
  for (;;) {
    const valueEndAt = valueEnd(text, i, end);
    if (valueEndAt < 0) return undefined;
    out.push(text.slice(i, valueEndAt));
    i = skipWs(text, valueEndAt, end);
    const c = text.charCodeAt(i);
    if (c === 0x5d) return skipWs(text, i + 1, end) === end ? out : undefined;
    if (c !== 0x2c /* , */) return undefined;
    i = skipWs(text, i + 1, end);
  }
}

/** Whether a member's value may end at `i`: a `,` or the object's `}` follows (white space between). */
function isMemberEnd(text: string, i: number, to: number): boolean {
  const c = text.charCodeAt(skipWs(text, i, to));
  return c === 0x2c || c === 0x7d;
}

function skipWs(text: string, i: number, to: number): number {
  while (i < to && WS.has(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Index just past the string starting at `i` (a `"`), or -1. Jumps from quote to quote (indexOf is a native
 * search; most of a config's bytes are in strings): a quote counts as closing when an even number of backslashes
 * precede it.
 */
function stringEnd(text: string, i: number, to: number): number {
  for (let j = text.indexOf('"', i + 1); j >= 0 && j < to; j = text.indexOf('"', j + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === 0x5c /* \ */) backslashes++;
    if (backslashes % 2 === 0) return j + 1;
  }
  return -1;
}

/** Index just past the value starting at `i`, or -1. */
function valueEnd(text: string, i: number, to: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return stringEnd(text, i, to);
  if (c !== 0x7b && c !== 0x5b) return scalarEnd(text, i, to);
  return bracketsEnd(text, { at: i, depth: 0 }, to, to);
}

/** {@link valueEnd}, an object or array scanned `charsPerStep` characters at a time with a yield between. */
function* valueEndSteps(text: string, i: number, to: number, charsPerStep: number): Generator<void, number> {
  const c = text.charCodeAt(i);
  if (c === 0x22) return stringEnd(text, i, to);
  if (c !== 0x7b && c !== 0x5b) return scalarEnd(text, i, to);
  const scan = { at: i, depth: 0 };
  for (;;) {
    const end = bracketsEnd(text, scan, to, Math.min(to, scan.at + charsPerStep));
    if (end !== 0) return end;
    yield;
  }
}

function scalarEnd(text: string, i: number, to: number): number {
  let j = i;
  while (j < to) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || WS.has(d)) break;
    j++;
  }
  return j > i ? j : -1;
}

/**
 * One pass over the characters of an object or array from `scan.at` (strings skipped whole, brackets counted in
 * `scan.depth`): index just past its end, -1 when it does not end well within `to`, or 0 when `limit` was reached
 * first - `scan` then says where to go on from (a string may take the pass a little past `limit`).
 */
function bracketsEnd(text: string, scan: { at: number; depth: number }, to: number, limit: number): number {
  let depth = scan.depth;
  let j = scan.at;
  for (; j < limit; j++) {
    const d = text.charCodeAt(j);
    if (d === 0x22) {
      const end = stringEnd(text, j, to);
      if (end < 0) return -1;
      j = end - 1;
    } else if (d === 0x7b || d === 0x5b) depth++;
    else if ((d === 0x7d || d === 0x5d) && --depth === 0) return j + 1;
  }
  if (j >= to) return -1;
  scan.at = j;
  scan.depth = depth;
  return 0;
}
