import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Federation, SiteSnapshot } from '@fedpbx/contracts';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { exportPublicKey, generateSigningKey, signSnapshot, type SigningKey, type VerifyingKey } from '@fedpbx/signing';

/** A controller key for tests, and helpers to sign and write per-site snapshots with it. */
export class TestController {
  readonly key: SigningKey & VerifyingKey;
  readonly publicKeyPem: string;

  constructor(keyId = 'controller-1') {
    this.key = generateSigningKey(keyId);
    this.publicKeyPem = exportPublicKey(this.key.publicKey);
  }

  snapshot(fed: Federation, siteId: string, revision: number, at = new Date('2026-11-26T09:00:00Z')): SiteSnapshot {
    return signSnapshot(buildSiteConfig(fed, siteId), revision, this.key, at);
  }

  /** Writes the snapshot to a fresh temp file; returns its path. */
  writeSnapshot(fed: Federation, siteId: string, revision: number, dir = mkdtempSync(join(tmpdir(), 'fedpbx-snap-'))): string {
    const file = join(dir, `${siteId}-r${revision}.json`);
    writeFileSync(file, JSON.stringify(this.snapshot(fed, siteId, revision)));
    return file;
  }

  /** Environment for an agent process of `siteId` using this controller's key. */
  agentEnv(siteId: string, stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      FEDPBX_SITE_ID: siteId,
      FEDPBX_STATE_DIR: stateDir,
      FEDPBX_CONTROLLER_PUBLIC_KEY: this.publicKeyPem,
      FEDPBX_CONTROLLER_KEY_ID: this.key.keyId,
      FEDPBX_AGI_LISTEN: '127.0.0.1:0',
      FEDPBX_METRICS_LISTEN: '127.0.0.1:0',
      FEDPBX_LOG_LEVEL: 'info',
      ...extra,
    };
  }
}
