import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeSnapshotValue, decodeSnapshotValueAsync, encodeSnapshotValue, SnapshotValueEncoder, textOfUtf8 } from './snapshot-wire.js';
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

  it('decodes off the event loop to the same text, with the same refusals', async () => {
    await expect(decodeSnapshotValueAsync(encodeSnapshotValue(json))).resolves.toBe(json);
    // Over the size from which the thread pool does the work (random text: it does not compress below it).
    const large = JSON.stringify({ noise: randomBytes(200 * 1024).toString('base64') });
    expect(encodeSnapshotValue(large).length).toBeGreaterThan(64 * 1024);
    await expect(decodeSnapshotValueAsync(encodeSnapshotValue(large))).resolves.toBe(large);
    await expect(decodeSnapshotValueAsync(encodeSnapshotValue(large).slice(0, 70 * 1024))).rejects.toMatchObject({ code: 'malformed' });
    await expect(decodeSnapshotValueAsync(encodeSnapshotValue(large), 100 * 1024)).rejects.toMatchObject({ code: 'malformed' });
    await expect(decodeSnapshotValueAsync(new TextEncoder().encode(json))).resolves.toBe(json);
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    await expect(decodeSnapshotValueAsync(bomb, 1024 * 1024)).rejects.toMatchObject({ code: 'malformed' });
    await expect(decodeSnapshotValueAsync(encodeSnapshotValue(json).slice(0, 40))).rejects.toMatchObject({ code: 'malformed' });
  });

  it('decodes a large value from the pieces out of the pool: characters split between them, bytes not UTF-8, several gzip members, a bomb over the pool size', async () => {
    // Two- and four-byte characters at every offset: some fall across the 256 KB pieces' boundaries.
    const wide = JSON.stringify({ names: Array.from({ length: 60_000 }, (_, i) => `Офис ${i} 😀${randomBytes(3).toString('hex')}`) });
    expect(Buffer.byteLength(wide)).toBeGreaterThan(1024 * 1024);
    await expect(decodeSnapshotValueAsync(encodeSnapshotValue(wide))).resolves.toBe(wide);
    const members = new SnapshotValueEncoder().encode([wide.slice(0, 500_000), wide.slice(500_000)]);
    expect(members.length).toBeGreaterThan(64 * 1024);
    await expect(decodeSnapshotValueAsync(members)).resolves.toBe(wide);
    // Bytes that are not UTF-8 (a lone continuation byte, a cut four-byte character) decode as the synchronous decode has them.
    const odd = Buffer.concat([Buffer.from(wide), Buffer.from([0x80, 0x22, 0xf0, 0x9f, 0x98]), Buffer.from(wide)]);
    const oddValue = gzipSync(odd);
    expect(oddValue.length).toBeGreaterThan(64 * 1024);
    await expect(decodeSnapshotValueAsync(oddValue)).resolves.toBe(decodeSnapshotValue(oddValue));
    const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeGreaterThan(64 * 1024);
    await expect(decodeSnapshotValueAsync(bomb, 8 * 1024 * 1024)).rejects.toMatchObject({ code: 'malformed' });
  });

  it('reads ASCII bytes by their fast path and any other bytes as UTF-8: the same text either way', async () => {
    const ascii = JSON.stringify({ noise: randomBytes(200 * 1024).toString('base64') });
    await expect(decodeSnapshotValueAsync(encodeSnapshotValue(ascii))).resolves.toBe(ascii);
    // One character past ASCII at the very end (latin1 would read its two bytes as two characters).
    const accented = `${ascii.slice(0, -2)}é"}`;
    await expect(decodeSnapshotValueAsync(encodeSnapshotValue(accented))).resolves.toBe(accented);
    expect(decodeSnapshotValue(encodeSnapshotValue(accented))).toBe(accented);
    expect(textOfUtf8(Buffer.from('caf\u00e9'))).toBe('caf\u00e9');
    expect(textOfUtf8(Buffer.from([0x7b, 0x7d]))).toBe('{}');
  });

  it('refuses a large value damaged on the way (a byte changed mid-stream, its CRC or its end cut off) as malformed', async () => {
    const large = JSON.stringify({ noise: randomBytes(600 * 1024).toString('base64') });
    const value = Buffer.from(encodeSnapshotValue(large));
    const flipped = Buffer.from(value);
    flipped[value.length >> 1] = (flipped[value.length >> 1] as number) ^ 0xff;
    await expect(decodeSnapshotValueAsync(flipped)).rejects.toMatchObject({ code: 'malformed' });
    const badCrc = Buffer.from(value);
    badCrc[value.length - 6] = (badCrc[value.length - 6] as number) ^ 0xff;
    await expect(decodeSnapshotValueAsync(badCrc)).rejects.toMatchObject({ code: 'malformed' });
    await expect(decodeSnapshotValueAsync(value.subarray(0, value.length - 4))).rejects.toMatchObject({ code: 'malformed' });
    // The same value whole still decodes: nothing was left behind by the refusals.
    await expect(decodeSnapshotValueAsync(value)).resolves.toBe(large);
  });

  describe('in pieces', () => {
    const plan = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: `r-${i}`, from: String(1000 + i * 10), to: String(1009 + i * 10), name: 'Офис' })));
    const own = (site: string) => JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: `${site}-${i}`, number: String(100 + i) })));
    const pieces = (site: string, revision: number) => [`{"revision":${revision},"config":{"extensions":`, own(site), ',"plan":', plan, '}}'];

    it('decodes to the pieces joined, with members of long pieces compressed once and reused', () => {
      const encoder = new SnapshotValueEncoder();
      const a = encoder.encode(pieces('a', 1));
      const b = encoder.encode(pieces('b', 1));
      const a2 = encoder.encode(pieces('a', 2));
      expect(decodeSnapshotValue(a)).toBe(pieces('a', 1).join(''));
      expect(decodeSnapshotValue(b)).toBe(pieces('b', 1).join(''));
      expect(decodeSnapshotValue(a2)).toBe(pieces('a', 2).join(''));
      // The plan's member is the same bytes in every value; only the short pieces differ between a and a2.
      const planMember = encodeSnapshotValue(plan);
      for (const value of [a, b, a2]) expect(Buffer.from(value).includes(Buffer.from(planMember))).toBe(true);
      const aMember = encodeSnapshotValue(own('a'));
      expect(Buffer.from(a2).includes(Buffer.from(aMember))).toBe(true);
      expect(Buffer.from(b).includes(Buffer.from(aMember))).toBe(false);
      expect(a.length).toBeLessThan(pieces('a', 1).join('').length / 5);
      expect(decodeSnapshotValue(encoder.encode(['{}']))).toBe('{}');
      expect(decodeSnapshotValue(encoder.encode([]))).toBe('');
    });

    it('stores short runs in their gzip member uncompressed, which any gunzip reads (CRC and length checked)', () => {
      const encoder = new SnapshotValueEncoder();
      const head = '{"revision":7,"signature":"Имя+/=","config":';
      const value = encoder.encode([head, own('a'), '}']);
      // The short runs are there as they are (no compressor set up for them), the long piece compressed.
      expect(Buffer.from(value).includes(Buffer.from(head))).toBe(true);
      expect(gunzipSync(value).toString('utf8')).toBe(`${head}${own('a')}}`);
      expect(value.length).toBeLessThan(own('a').length / 3);
      // A flipped byte in a stored run fails its member's CRC: refused, never decoded into other text.
      const bad = Buffer.from(value);
      const at = bad.indexOf(Buffer.from('revision'));
      bad[at] = (bad[at] as number) ^ 1;
      expect(refusal(() => decodeSnapshotValue(bad))).toBe('malformed');
    });

    it('stays correct when it may remember less than one piece, and the bound holds over all members', () => {
      const encoder = new SnapshotValueEncoder(1000);
      for (const revision of [1, 2, 3]) expect(decodeSnapshotValue(encoder.encode(pieces('a', revision)))).toBe(pieces('a', revision).join(''));
      const bomb = encoder.encode(['x'.repeat(600_000), 'y'.repeat(600_000)]);
      expect(refusal(() => decodeSnapshotValue(bomb, 1024 * 1024))).toBe('malformed');
    });
  });
});
