import { canonicalJson, SiteConfig } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { contentHash, exportPublicKey, generateSigningKey, importPublicKey, signBuiltConfig, signSnapshot, verifySnapshot } from './snapshot-signer.js';
import { refusal } from './testing/refusal.js';

const key = generateSigningKey('k1');
const config = buildSiteConfig(foundingScenario(), 'piter');
const at = new Date('2026-11-26T10:00:00Z');

describe('snapshot signing', () => {
  it('round-trips through JSON and a PEM-exported public key', () => {
    const snap = signSnapshot(config, 3, key, at);
    const wire = JSON.parse(JSON.stringify(snap)) as unknown;
    const verified = verifySnapshot(wire, 'piter', [importPublicKey('k1', exportPublicKey(key.publicKey))]);
    expect(verified.revision).toBe(3);
    expect(verified.contentHash).toBe(contentHash(verified.config));
  });

  it('refuses tampered content, a forged revision, another site, an unknown key, a foreign signature', () => {
    const snap = signSnapshot(config, 3, key, at);
    const keys = [key];
    const tampered = structuredClone(snap);
    tampered.config.extensions[0]!.number = '399';
    expect(refusal(() => verifySnapshot(tampered, 'piter', keys))).toBe('hash-mismatch');
    expect(refusal(() => verifySnapshot({ ...snap, revision: 4 }, 'piter', keys))).toBe('bad-signature');
    expect(refusal(() => verifySnapshot(snap, 'moscow', keys))).toBe('wrong-site');
    expect(refusal(() => verifySnapshot(snap, 'piter', [generateSigningKey('k2')]))).toBe('unknown-key');
    expect(refusal(() => verifySnapshot(snap, 'piter', [{ keyId: 'k1', publicKey: generateSigningKey().publicKey }]))).toBe('bad-signature');
    expect(refusal(() => verifySnapshot({ ...snap, format: 2 }, 'piter', keys))).toBe('format');
    expect(refusal(() => verifySnapshot({ nonsense: true }, 'piter', keys))).toBe('malformed');
  });

  it('hashes canonically: key order does not change the hash', () => {
    const reordered = Object.fromEntries(Object.entries(config).reverse());
    expect(contentHash(reordered)).toBe(contentHash(config));
  });
});

describe('verifying a snapshot from the own state dir', () => {
  it('skips re-validating the content but still refuses tampering and forgery', () => {
    const snap = signSnapshot(config, 3, key, at);
    const trusted = { contentAlreadyValidated: true };
    expect(verifySnapshot(JSON.parse(JSON.stringify(snap)), 'piter', [key], trusted).revision).toBe(3);
    const tampered = structuredClone(snap);
    tampered.config.trunks[0]!.host = 'evil.example';
    expect(refusal(() => verifySnapshot(tampered, 'piter', [key], trusted))).toBe('hash-mismatch');
    expect(refusal(() => verifySnapshot({ ...snap, revision: 9 }, 'piter', [key], trusted))).toBe('bad-signature');
    expect(refusal(() => verifySnapshot({ ...snap, config: null }, 'piter', [key], trusted))).toBe('malformed');
  });
});

describe('signing a config the controller built (no re-parse)', () => {
  it('verifies on the agent and carries the same hash and content as the safe path', () => {
    const fast = signBuiltConfig(config, 3, key, at);
    const verified = verifySnapshot(JSON.parse(fast.json), 'piter', [importPublicKey('k1', exportPublicKey(key.publicKey))]);
    expect(verified.revision).toBe(3);
    expect(verified.contentHash).toBe(signSnapshot(config, 3, key, at).contentHash);
    expect(verified.config).toEqual(SiteConfig.parse(config));
    expect(JSON.parse(fast.json)).toEqual(JSON.parse(JSON.stringify(fast.snapshot)));
  });

  it('sends the config as the canonical bytes it hashed, after the envelope fields in their usual order', () => {
    const fast = signBuiltConfig(config, 12, key, at);
    expect(fast.json.endsWith(`,"config":${canonicalJson(config)}}`)).toBe(true);
    expect(Object.keys(JSON.parse(fast.json) as object)).toEqual(Object.keys(JSON.parse(JSON.stringify(signSnapshot(config, 12, key, at))) as object));
  });

  it('hashes and sends the canonical JSON the caller passes instead of serializing again', () => {
    const json = canonicalJson(config);
    const given = signBuiltConfig(config, 3, key, at, { canonicalConfigJson: json });
    expect(given.json).toBe(signBuiltConfig(config, 3, key, at).json);
    expect(given.json).toBe(`${given.head}${json}}`);
    expect(given.snapshot.contentHash).toBe(contentHash(config));
  });

  it('leaves the safe path refusing what would not pass the schema', () => {
    const unknownField = { ...config, colour: 'red' };
    expect(() => signSnapshot(unknownField, 3, key, at)).toThrow(/colour/);
    const badNumber = structuredClone(config);
    badNumber.extensions[0]!.number = 'not-a-number';
    expect(() => signSnapshot(badNumber, 3, key, at)).toThrow();
  });
});

describe('the content hash of a received config', () => {
  it('accepts content whose keys arrive in another order (hashed canonically) and refuses changed content', () => {
    const snap = JSON.parse(signBuiltConfig(config, 3, key, at).json) as { config: Record<string, unknown> };
    const reordered = { ...snap, config: Object.fromEntries(Object.entries(snap.config).reverse()) };
    expect(verifySnapshot(reordered, 'piter', [key]).revision).toBe(3);
    const changed = structuredClone(snap) as unknown as { config: { extensions: { displayName: string }[] } };
    changed.config.extensions[0]!.displayName = 'Someone else';
    expect(refusal(() => verifySnapshot(changed, 'piter', [key]))).toBe('hash-mismatch');
  });
});

describe('the content hash over the received text', () => {
  const wire = signBuiltConfig(config, 3, key, at).json;
  const verifyText = (text: string) => verifySnapshot(JSON.parse(text), 'piter', [key], { receivedText: text });

  it('accepts the wire text as sent and as the agent stores it', () => {
    expect(verifyText(wire).contentHash).toBe(contentHash(config));
    const pretty = JSON.stringify(JSON.parse(wire), null, 2);
    expect(verifyText(pretty).revision).toBe(3); // not the wire form: falls back to serializing the parsed config
  });

  it('refuses changed content whatever the text says', () => {
    const changed = wire.replace('"displayName":"', '"displayName":"Evil ');
    expect(changed).not.toBe(wire);
    expect(refusal(() => verifyText(changed))).toBe('hash-mismatch');
  });

  it('hashes what JSON.parse keeps: a signed config smuggled in beside other content is not taken for it', () => {
    const signedConfig = wire.slice(wire.indexOf(',"config":') + ',"config":'.length, -1);
    const evil = structuredClone(config);
    evil.extensions[0]!.displayName = 'Evil';
    const envelope = wire.slice(0, wire.indexOf(',"config":'));
    // The signed bytes nested one level down, the evil config as the root's last member.
    const nested = `${envelope},"x":{"config":${signedConfig}},"config":${canonicalJson(evil)}}`;
    expect(refusal(() => verifyText(nested))).not.toBe('accepted');
    // The evil config first and the signed one last: JSON.parse keeps the last, so the content is the signed one.
    const duplicated = `${envelope},"config":${canonicalJson(evil)},"config":${signedConfig}}`;
    expect(verifyText(duplicated).config.extensions[0]?.displayName).toBe(config.extensions[0]?.displayName);
  });
});
