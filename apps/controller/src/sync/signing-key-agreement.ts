import { createPublicKey } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { CONTROLLER_CONFIG, ConfigError, type ControllerConfig } from '../config.js';
import { ControllerKeys } from '../database/controller-keys.js';
import { derivedKeyId, SnapshotSigningKey } from './snapshot-signing-key.js';

/** Where the federation's snapshot signing public key (PEM) is recorded, by the first replica that signs. */
export const SIGNING_PUBLIC_KEY = 'snapshot-signing-public-key';

/**
 * Controller replicas must sign with one key: agents verify every snapshot with the public key they were given at
 * enrollment, so a replica with another key file would publish snapshots every agent refuses (each replica
 * replacing the other's as "not signed by this controller"). The first replica to start records the public key
 * in the database; a replica whose key differs refuses to start, naming the setting, before it publishes
 * anything. A key that lives only in memory (an in-memory data dir without a key file: tests, demos) is neither
 * recorded nor checked.
 */
@Injectable()
export class SigningKeyAgreement implements OnModuleInit {
  constructor(
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    private readonly signing: SnapshotSigningKey,
    private readonly keys: ControllerKeys,
  ) {}

  async onModuleInit(): Promise<void> {
    const key = this.signing.key;
    if (key === undefined) return;
    const fromFile = this.config.FEDPBX_SIGNING_KEY_FILE !== undefined;
    if (!fromFile && this.config.FEDPBX_DATA_DIR === 'memory://') return;
    const recorded = await this.keys.recordedOr(SIGNING_PUBLIC_KEY, key.publicKeyPem);
    if (recorded.value === key.publicKeyPem) return;
    const setting = fromFile ? `FEDPBX_SIGNING_KEY_FILE (${this.config.FEDPBX_SIGNING_KEY_FILE})` : `FEDPBX_SIGNING_KEY_FILE (unset: ${this.config.FEDPBX_DATA_DIR}/signing-key.pem)`;
    throw new ConfigError([
      `${setting}: this controller's snapshot signing key ${derivedKeyId(key.publicKey)} is not the one the other replicas sign with ` +
        `(${recordedKeyId(recorded.value)}, recorded in the database ${recorded.recordedAt.toISOString()}): agents would refuse its snapshots. ` +
        'Give every replica the same key file. (To replace the key on purpose - every agent must then be given the new public key - stop all ' +
        `replicas and delete the row '${SIGNING_PUBLIC_KEY}' from controller_keys.)`,
    ]);
  }
}

function recordedKeyId(pem: string): string {
  try {
    return derivedKeyId(createPublicKey(pem));
  } catch {
    return 'an unreadable key';
  }
}
