import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import {
  canonicalJson,
  SiteConfig,
  SiteSnapshot,
  SNAPSHOT_FORMAT_VERSION,
  snapshotSigningPayload,
  type SiteConfigInput,
} from '@fedpbx/contracts';
import { configSpan, sha256 } from './wire-text.js';

/** Why a snapshot was refused. */
export type SnapshotRejectionCode = 'malformed' | 'format' | 'wrong-site' | 'hash-mismatch' | 'bad-signature' | 'unknown-key' | 'stale-revision' | 'shared-missing'
  /** The agent could not read the content (its worker thread failed or timed out): no verdict on the bytes. */
  | 'reader-failed';

export class SnapshotRejectedError extends Error {
  constructor(
    readonly code: SnapshotRejectionCode,
    message: string,
  ) {
    super(message);
    this.name = 'SnapshotRejectedError';
  }
}

export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

export interface VerifyingKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;
}

export interface VerifyOptions {
  /**
   * The content was schema-validated when this agent first applied it and comes back from its own state dir:
   * check the envelope, the hash and the signature (integrity and origin), but skip re-validating every object of
   * the config. Keeps a 100,000-extension snapshot under the 1 s boot budget. Never for snapshots from outside.
   */
  readonly contentAlreadyValidated?: boolean;
  /**
   * The JSON text `raw` was parsed from, when the caller has it (a KV value, a stored file). The content hash is
   * then checked over the config's bytes in that text when they are the last member, as the controller writes
   * them, instead of serializing the parsed config again.
   */
  readonly receivedText?: string;
}

const TrustedShape = SiteSnapshot.omit({ config: true }).extend({
  config: z.looseObject({ site: z.looseObject({ id: z.string() }) }),
});

/** `sha256:<hex>` over the canonical JSON of the config. */
export function contentHash(config: unknown): string {
  return sha256(canonicalJson(config));
}

export function generateSigningKey(keyId = 'controller-1'): SigningKey & VerifyingKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyId, privateKey, publicKey };
}

/** PEM (SPKI) of a public key: what agents are given at enrollment. */
export function exportPublicKey(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export function exportPrivateKey(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function importPublicKey(keyId: string, pem: string): VerifyingKey {
  return { keyId, publicKey: createPublicKey(pem) };
}

export function importPrivateKey(keyId: string, pem: string): SigningKey {
  return { keyId, privateKey: createPrivateKey(pem) };
}

/** A signed snapshot and its wire form. */
export interface SignedSnapshot {
  readonly snapshot: SiteSnapshot;
  /**
   * The JSON text to publish: the envelope fields first, in the order `signSnapshot` writes them (readers pick
   * the revision out of the first bytes), then the config as its canonical JSON - the exact bytes that were hashed.
   */
  readonly json: string;
  /** `json` up to the config: the envelope fields and `,"config":` (json is head + the config's JSON + `}`). */
  readonly head: string;
}

export interface SignBuiltConfigOptions {
  /**
   * `canonicalJson(config)` when the caller has it already (e.g. assembled from per-object cached parts). It
   * must be exactly that: it is what gets hashed and sent.
   */
  readonly canonicalConfigJson?: string;
  /** `sha256:<hex>` of `canonicalConfigJson` when the caller has worked it out already; exactly that, or agents refuse the snapshot. */
  readonly contentHash?: string;
}

/**
 * Builds, hashes and signs a site's snapshot from any input: the config is validated (and its defaults filled
 * in) first, so nothing that would not pass `SiteConfig` is ever signed. The safe path, for configs that did not
 * come out of `buildSiteConfig` over a validated federation.
 */
export function signSnapshot(config: SiteConfigInput, revision: number, key: SigningKey, generatedAt: Date): SiteSnapshot {
  const json = canonicalJson(SiteConfig.parse(config));
  // Keys sorted at every depth: the bytes on the wire are then canonical already, and verifying them needs no copy.
  return signCanonical(JSON.parse(json) as SiteConfig, json, revision, key, generatedAt).snapshot;
}

/**
 * The controller's fast path: signs a config it built itself with `buildSiteConfig` from a federation that
 * passed validation, so it is a `SiteConfig` by construction and is not parsed again (the parse was most of the
 * cost of a publish). The canonical JSON is serialized once (or taken from the caller) and serves both as the
 * hashed bytes and as the config in the returned wire text. Anything else must go through {@link signSnapshot}.
 */
export function signBuiltConfig(config: SiteConfig, revision: number, key: SigningKey, generatedAt: Date, options: SignBuiltConfigOptions = {}): SignedSnapshot {
  const configJson = options.canonicalConfigJson ?? canonicalJson(config);
  return signCanonical(config, configJson, revision, key, generatedAt, options.canonicalConfigJson !== undefined ? options.contentHash : undefined);
}

function signCanonical(config: SiteConfig, configJson: string, revision: number, key: SigningKey, generatedAt: Date, knownHash?: string): SignedSnapshot {
  const unsigned = {
    format: SNAPSHOT_FORMAT_VERSION,
    siteId: config.site.id,
    revision,
    generatedAt: generatedAt.toISOString(),
    contentHash: knownHash ?? sha256(configJson),
  };
  const signature = { alg: 'ed25519' as const, keyId: key.keyId, value: sign(null, Buffer.from(snapshotSigningPayload(unsigned)), key.privateKey).toString('base64') };
  const envelope = JSON.stringify({ ...unsigned, signature });
  const head = `${envelope.slice(0, -1)},"config":`;
  return { snapshot: { ...unsigned, signature, config }, json: `${head}${configJson}}`, head };
}

/**
 * The content hash of a config as received. First the config's own bytes in the received text, if any; else a
 * config parsed from canonical text (what the controller sends and the agent stores) serializes back to exactly
 * that text without re-sorting, and when those bytes hash to the declared value they are the bytes the controller
 * hashed - the same content. Only when neither matches is the canonical form computed (key order differs, or the
 * content was changed).
 */
function receivedContentHash(config: unknown, declared: string, receivedText: string | undefined): string {
  const span = receivedText !== undefined ? configSpan(receivedText) : undefined;
  const configText = span !== undefined ? receivedText?.slice(span.configStart, -1) : undefined;
  if (configText !== undefined && sha256(configText) === declared) return declared;
  const plain = JSON.stringify(config) as string | undefined;
  if (plain !== undefined && sha256(plain) === declared) return declared;
  return contentHash(config);
}


/**
 * Checks a snapshot received from anywhere (NATS, disk, a bootstrap file) before it may be applied: shape,
 * format version, that it is for this site, that the content matches its hash, and the controller's signature
 * over site, revision, time and hash. Throws {@link SnapshotRejectedError}; never applies anything itself.
 */
export function verifySnapshot(raw: unknown, expectedSiteId: string, keys: readonly VerifyingKey[], options: VerifyOptions = {}): SiteSnapshot {
  if (typeof raw === 'object' && raw !== null && 'format' in raw && raw.format !== SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotRejectedError('format', `snapshot format ${String(raw.format)} is not supported (this agent knows ${SNAPSHOT_FORMAT_VERSION})`);
  }
  const parsed = (options.contentAlreadyValidated === true ? TrustedShape : SiteSnapshot).safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new SnapshotRejectedError('malformed', `snapshot is malformed at ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}`);
  }
  const snapshot = parsed.data as SiteSnapshot;
  // The hash covers the content as received (defaults were filled in by the controller before signing).
  const receivedConfig = (raw as { config: unknown }).config;
  if (snapshot.siteId !== expectedSiteId || snapshot.config.site.id !== expectedSiteId) {
    throw new SnapshotRejectedError('wrong-site', `snapshot is for site ${snapshot.siteId}, this agent serves ${expectedSiteId}`);
  }
  const actual = receivedContentHash(receivedConfig, snapshot.contentHash, options.receivedText);
  if (actual !== snapshot.contentHash) {
    throw new SnapshotRejectedError('hash-mismatch', `snapshot content hash ${actual} does not match the declared ${snapshot.contentHash}`);
  }
  verifySignature(snapshot, keys);
  return snapshot;
}

/** The controller's signature over the envelope (site, revision, time, content hash), by one of `keys`. */
export function verifySignature(envelope: Omit<SiteSnapshot, 'config'>, keys: readonly VerifyingKey[]): void {
  const key = keys.find((k) => k.keyId === envelope.signature.keyId);
  if (key === undefined) throw new SnapshotRejectedError('unknown-key', `snapshot is signed with unknown key ${envelope.signature.keyId}`);
  const ok = verify(null, Buffer.from(snapshotSigningPayload(envelope)), key.publicKey, Buffer.from(envelope.signature.value, 'base64'));
  if (!ok) throw new SnapshotRejectedError('bad-signature', `snapshot revision ${envelope.revision} has a bad signature`);
}
