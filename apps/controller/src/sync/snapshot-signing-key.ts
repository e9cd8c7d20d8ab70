import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { exportPrivateKey, exportPublicKey, generateSigningKey, type SigningKey } from '@fedpbx/signing';
import { CONTROLLER_CONFIG, ConfigError, type ControllerConfig } from '../config.js';

/** The controller's snapshot signing key with what agents are given to verify it. */
export interface ControllerSigningKey extends SigningKey {
  readonly publicKey: KeyObject;
  /** PEM (SPKI): handed to agents at enrollment. */
  readonly publicKeyPem: string;
}

type KeySettings = Pick<ControllerConfig, 'FEDPBX_SIGNING_KEY_FILE' | 'FEDPBX_SIGNING_KEY_ID' | 'FEDPBX_DATA_DIR'>;

/** `ctl-` and the first 16 hex digits of the SHA-256 of the public key (DER): stable for a key, distinct between keys. */
export const derivedKeyId = (publicKey: KeyObject): string =>
  `ctl-${createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)}`;

function parsePrivateKey(pem: string, variable: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new ConfigError([`${variable}: ${file} is not a PEM private key (${error instanceof Error ? error.message : String(error)})`]);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError([`${variable}: ${file} holds a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`]);
  return key;
}

function readKeyFile(file: string, variable: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`${variable}: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`]);
  }
}

/** The default key file: read when present, else created with a new key, readable by the owner only. */
function defaultKeyPem(dataDir: string): { pem: string; file: string } {
  const file = join(dataDir, 'signing-key.pem');
  const variable = 'FEDPBX_DATA_DIR (default FEDPBX_SIGNING_KEY_FILE)';
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // 'wx': never overwrite a key another process made at the same moment; read theirs instead.
    writeFileSync(file, exportPrivateKey(generateSigningKey().privateKey), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError([`${variable}: cannot create ${file}: ${error instanceof Error ? error.message : String(error)}`]);
    }
  }
  return { pem: readKeyFile(file, variable), file };
}

/**
 * Loads the signing key: FEDPBX_SIGNING_KEY_FILE when set (it must exist), else `<FEDPBX_DATA_DIR>/signing-key.pem`
 * (created on first use), or a key that lives only in memory for an in-memory data dir. Problems are
 * configuration errors naming the variable.
 */
export function loadSigningKey(settings: KeySettings): ControllerSigningKey {
  let privateKey: KeyObject;
  if (settings.FEDPBX_SIGNING_KEY_FILE !== undefined) {
    const file = settings.FEDPBX_SIGNING_KEY_FILE;
    privateKey = parsePrivateKey(readKeyFile(file, 'FEDPBX_SIGNING_KEY_FILE'), 'FEDPBX_SIGNING_KEY_FILE', file);
  } else if (settings.FEDPBX_DATA_DIR === 'memory://') {
    privateKey = generateSigningKey().privateKey;
  } else {
    const { pem, file } = defaultKeyPem(settings.FEDPBX_DATA_DIR);
    privateKey = parsePrivateKey(pem, 'FEDPBX_DATA_DIR (default FEDPBX_SIGNING_KEY_FILE)', file);
  }
  const publicKey = createPublicKey(privateKey);
  return { keyId: settings.FEDPBX_SIGNING_KEY_ID ?? derivedKeyId(publicKey), privateKey, publicKey, publicKeyPem: exportPublicKey(publicKey) };
}

/**
 * The snapshot signing key, loaded at start whenever the controller syncs with agents (NATS or enrollment
 * configured, or a key file named): a bad key stops the start. Absent otherwise, so a controller without
 * agents never writes a key file.
 */
@Injectable()
export class SnapshotSigningKey {
  readonly key: ControllerSigningKey | undefined;

  constructor(@Inject(CONTROLLER_CONFIG) config: ControllerConfig) {
    const syncs = config.FEDPBX_NATS_URL !== undefined || config.FEDPBX_NATS_ISSUER_FILE !== undefined || config.FEDPBX_SIGNING_KEY_FILE !== undefined;
    this.key = syncs ? loadSigningKey(config) : undefined;
  }
}
