import { describe, expect, it } from 'vitest';
import { sharedUtf8, textOfBytes, transferableUtf8 } from './render-in-worker.js';

describe('sharedUtf8', () => {
  it('encodes in slices exactly as at once, a surrogate pair never split, with a pause between slices', async () => {
    // Cyrillic (2 bytes), an emoji (a surrogate pair, 4 bytes) falling on every slice boundary, ASCII.
    const text = `{"name":"Иван 😀 Петров","x":"${'a😀'.repeat(50)}"}`;
    for (const chars of [1, 2, 3, 7, 64, text.length, text.length + 1]) {
      let pauses = 0;
      const bytes = await sharedUtf8(text, async () => void pauses++, chars);
      expect(Buffer.from(bytes).equals(Buffer.from(text, 'utf8'))).toBe(true);
      expect(textOfBytes(bytes)).toBe(text);
      if (chars < text.length) expect(pauses).toBeGreaterThan(1);
      else expect(pauses).toBe(1); // between measuring and encoding
    }
  });

  it('encodes pieces as their concatenation, each sliced on its own', async () => {
    const pieces = [`{"site":"Иван ${'😀'.repeat(20)}"}`, '\n', '', `{"shared":"${'b😀'.repeat(30)}"}`];
    for (const chars of [1, 3, 16, 1000]) {
      const bytes = await sharedUtf8(pieces, async () => {}, chars);
      expect(Buffer.from(bytes).toString('utf8')).toBe(pieces.join(''));
    }
  });

  it('handles the empty text', async () => {
    expect((await sharedUtf8('', async () => {})).byteLength).toBe(0);
  });
});

describe('transferableUtf8', () => {
  it('gives the bytes sharedUtf8 gives, in a buffer a worker can take over (this thread keeps none of them)', async () => {
    const pieces = [`{"site":"Иван ${'😀'.repeat(20)}"}`, '\n', `{"shared":"${'b😀'.repeat(30)}"}`];
    const bytes = await transferableUtf8(pieces, async () => {}, 7);
    expect(bytes).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(bytes).equals(Buffer.from(await sharedUtf8(pieces, async () => {}, 7)))).toBe(true);
    expect(textOfBytes(bytes)).toBe(pieces.join(''));
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(bytes, [bytes]);
    expect(bytes.byteLength).toBe(0); // handed over: detached here
    port1.close();
    port2.close();
  });
});
