import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { exportPrivateKey, generateSigningKey, importPublicKey, signSnapshot, verifySnapshot } from '@fedpbx/signing';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config.js';
import { loadSigningKey } from './snapshot-signing-key.js';

const dir = () => mkdtempSync(join(tmpdir(), 'fedpbx-key-'));
const problems = (f: () => unknown): readonly string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe('the controller\'s snapshot signing key', () => {
  it('is created once in the data dir (owner-only) and the same key is loaded on the next start', () => {
    const d = join(dir(), 'data');
    const first = loadSigningKey({ FEDPBX_DATA_DIR: d, FEDPBX_SIGNING_KEY_FILE: undefined, FEDPBX_SIGNING_KEY_ID: undefined });
    expect(statSync(join(d, 'signing-key.pem')).mode & 0o777).toBe(0o600);
    const again = loadSigningKey({ FEDPBX_DATA_DIR: d, FEDPBX_SIGNING_KEY_FILE: undefined, FEDPBX_SIGNING_KEY_ID: undefined });
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    expect(again.keyId).toBe(first.keyId);
    expect(first.keyId).toMatch(/^ctl-[0-9a-f]{16}$/);
    // What it signs verifies with what enrollment hands out (key id + PEM).
    const snap = signSnapshot(buildSiteConfig(foundingScenario(), 'piter'), 1, again, new Date());
    expect(verifySnapshot(JSON.parse(JSON.stringify(snap)), 'piter', [importPublicKey(first.keyId, first.publicKeyPem)]).revision).toBe(1);
  });

  it('takes a named file and key id; a different key gets a different derived id', () => {
    const file = join(dir(), 'k.pem');
    writeFileSync(file, exportPrivateKey(generateSigningKey().privateKey));
    const named = loadSigningKey({ FEDPBX_DATA_DIR: 'unused', FEDPBX_SIGNING_KEY_FILE: file, FEDPBX_SIGNING_KEY_ID: 'hq-2026' });
    expect(named.keyId).toBe('hq-2026');
    const derived = loadSigningKey({ FEDPBX_DATA_DIR: 'unused', FEDPBX_SIGNING_KEY_FILE: file, FEDPBX_SIGNING_KEY_ID: undefined });
    const other = loadSigningKey({ FEDPBX_DATA_DIR: join(dir(), 'x'), FEDPBX_SIGNING_KEY_FILE: undefined, FEDPBX_SIGNING_KEY_ID: undefined });
    expect(derived.keyId).not.toBe(other.keyId);
  });

  it('refuses a missing file, a file that is no key, and a key that is not ed25519, naming the variable', () => {
    const d = dir();
    const missing = problems(() => loadSigningKey({ FEDPBX_DATA_DIR: d, FEDPBX_SIGNING_KEY_FILE: join(d, 'nope.pem'), FEDPBX_SIGNING_KEY_ID: undefined }));
    expect(missing).toEqual([expect.stringMatching(/^FEDPBX_SIGNING_KEY_FILE: cannot read .*nope\.pem/)]);
    writeFileSync(join(d, 'junk.pem'), 'hello');
    expect(problems(() => loadSigningKey({ FEDPBX_DATA_DIR: d, FEDPBX_SIGNING_KEY_FILE: join(d, 'junk.pem'), FEDPBX_SIGNING_KEY_ID: undefined }))).toEqual([
      expect.stringMatching(/^FEDPBX_SIGNING_KEY_FILE: .*junk\.pem is not a PEM private key/),
    ]);
    writeFileSync(join(d, 'rsa.pem'), generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(problems(() => loadSigningKey({ FEDPBX_DATA_DIR: d, FEDPBX_SIGNING_KEY_FILE: join(d, 'rsa.pem'), FEDPBX_SIGNING_KEY_ID: undefined }))).toEqual([
      expect.stringMatching(/^FEDPBX_SIGNING_KEY_FILE: .*rsa\.pem holds a rsa key, not ed25519/),
    ]);
    const dataDir = dir();
    writeFileSync(join(dataDir, 'signing-key.pem'), 'broken');
    expect(problems(() => loadSigningKey({ FEDPBX_DATA_DIR: dataDir, FEDPBX_SIGNING_KEY_FILE: undefined, FEDPBX_SIGNING_KEY_ID: undefined }))[0]).toMatch(/^FEDPBX_DATA_DIR .*signing-key\.pem is not a PEM private key/);
    expect(readFileSync(join(dataDir, 'signing-key.pem'), 'utf8')).toBe('broken');
  });
});
