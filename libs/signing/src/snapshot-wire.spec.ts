import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeSnapshotValue, encodeSnapshotValue } from './snapshot-wire.js';
import { refusal } from './testing/refusal.js';

describe('snapshot KV values', () => {
  const json = JSON.stringify({ revision: 3, config: { extensions: Array.from({ length: 500 }, (_, i) => ({ id: `e-${i}`, number: String(100 + i), displayName: 'Имя' })) } });

  it('round-trips the JSON text, much smaller than it', () => {
    const value = encodeSnapshotValue(json);
    expect(value.length).toBeLessThan(json.length / 5);
    expect(decodeSnapshotValue(value)).toBe(json);
  });

  it('reads a plain JSON value as it is', () => {
    expect(decodeSnapshotValue(new TextEncoder().encode(json))).toBe(json);
  });

  it('refuses a value that expands past the bound, and broken gzip, as malformed', () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(refusal(() => decodeSnapshotValue(bomb, 1024 * 1024))).toBe('malformed');
    const broken = encodeSnapshotValue(json).slice(0, 40);
    expect(refusal(() => decodeSnapshotValue(broken))).toBe('malformed');
  });
});
