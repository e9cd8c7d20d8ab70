import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import {
  canonicalJson,
  SiteConfig,
  SiteSnapshot,
  SNAPSHOT_FORMAT_VERSION,
  snapshotSigningPayload,
  type SiteConfigInput,
} from '@fedpbx/contracts';

/** Why a snapshot was refused. */
export type SnapshotRejectionCode = 'malformed' | 'format' | 'wrong-site' | 'hash-mismatch' | 'bad-signature' | 'unknown-key' | 'stale-revision';

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
}

const TrustedShape = SiteSnapshot.omit({ config: true }).extend({
  config: z.looseObject({ site: z.looseObject({ id: z.string() }) }),
});

/** `sha256:<hex>` over the canonical JSON of the config. */
export function contentHash(config: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(config)).digest('hex')}`;
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

/** Builds, hashes and signs a site's snapshot. */
export function signSnapshot(config: SiteConfigInput, revision: number, key: SigningKey, generatedAt: Date): SiteSnapshot {
  // Keys sorted at every depth: the bytes on the wire are then canonical already, and verifying them needs no copy.
  const parsed = JSON.parse(canonicalJson(SiteConfig.parse(config))) as SiteConfig;
  const unsigned = {
    format: SNAPSHOT_FORMAT_VERSION,
    siteId: parsed.site.id,
    revision,
    generatedAt: generatedAt.toISOString(),
    contentHash: contentHash(parsed),
  };
  const value = sign(null, Buffer.from(snapshotSigningPayload(unsigned)), key.privateKey).toString('base64');
  return { ...unsigned, signature: { alg: 'ed25519', keyId: key.keyId, value }, config: parsed };
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
  const actual = contentHash(receivedConfig);
  if (actual !== snapshot.contentHash) {
    throw new SnapshotRejectedError('hash-mismatch', `snapshot content hash ${actual} does not match the declared ${snapshot.contentHash}`);
  }
  const key = keys.find((k) => k.keyId === snapshot.signature.keyId);
  if (key === undefined) throw new SnapshotRejectedError('unknown-key', `snapshot is signed with unknown key ${snapshot.signature.keyId}`);
  const ok = verify(null, Buffer.from(snapshotSigningPayload(snapshot)), key.publicKey, Buffer.from(snapshot.signature.value, 'base64'));
  if (!ok) throw new SnapshotRejectedError('bad-signature', `snapshot revision ${snapshot.revision} has a bad signature`);
  return snapshot;
}
