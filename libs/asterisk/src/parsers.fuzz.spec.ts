// Property tests: whatever bytes arrive and however they are chunked, the parsers only ever throw their own
// typed errors, hold no more than their limits allow, and reach the same outcome.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgiEnvParser, type AgiEnvLimits } from './agi/agi-env-parser.js';
import { AgiResponseParser, type AgiResponseLimits } from './agi/agi-response-parser.js';
import { AmiParser, type AmiParserLimits } from './ami/ami-codec.js';
import { AgiEnvError, AgiResponseParseError, AmiParseError } from './errors.js';
import { chunksFrom, loadFixtures } from './testing/asterisk-fixtures.js';

const agiLines = loadFixtures('agi-').flatMap((f) => Buffer.concat(chunksFrom(f, 'asterisk->server')).toString('utf8').split('\n'));
const amiLines = loadFixtures('ami-').flatMap((f) => Buffer.concat(chunksFrom(f, 'asterisk->server')).toString('utf8').split('\n'));

/** Byte soup: random binary (NULs, CR, LF, invalid UTF-8), fixture lines, long runs, multi-byte text. */
function streamArb(lines: readonly string[]): fc.Arbitrary<Uint8Array> {
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...lines).map((l) => Buffer.from(`${l}\n`)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.constantFrom('\n', '\r\n', '\r', '\0', 'HANGUP\n', '520-x\n', '520 end\n', ': ', 'Иван').map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom(0x41, 0x00, 0x0d, 0xd0)).map(([n, b]) => Buffer.alloc(n, b)) },
  );
  return fc.array(piece, { maxLength: 40 }).map((pieces) => new Uint8Array(Buffer.concat(pieces)));
}

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

type Outcome = { ok: true; value: string } | { ok: false };

const smallOrDefault = <T>(small: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(small, { nil: undefined });

describe('FastAGI parsers under fuzzing', () => {
  const envLimits = smallOrDefault(
    fc.record({ maxLineBytes: fc.integer({ min: 1, max: 300 }), maxLines: fc.integer({ min: 1, max: 40 }), maxTotalBytes: fc.integer({ min: 1, max: 3000 }) }),
  );
  const responseLimits = smallOrDefault(
    fc.record({ maxLineBytes: fc.integer({ min: 1, max: 300 }), maxBlockLines: fc.integer({ min: 1, max: 10 }), maxBlockBytes: fc.integer({ min: 1, max: 600 }) }),
  );

  /** Env parser, then the response parser on the leftover and the rest: what AgiSession does. */
  function run(chunks: readonly Uint8Array[], env?: AgiEnvLimits, resp?: AgiResponseLimits): Outcome {
    const envParser = new AgiEnvParser(env);
    const responses = new AgiResponseParser(resp);
    const envMax = env?.maxLineBytes ?? 4096;
    const respMax = (resp?.maxLineBytes ?? 16 * 1024) + (resp?.maxBlockBytes ?? 32 * 1024);
    const out: unknown[] = [];
    let done = false;
    try {
      for (const chunk of chunks) {
        if (!done) {
          const result = envParser.push(chunk);
          expect(envParser.bufferedBytes).toBeLessThanOrEqual(envMax);
          if (!result) continue;
          done = true;
          out.push({ ...result.env, raw: [...result.env.raw] });
          out.push(...responses.push(result.leftover));
        } else {
          out.push(...responses.push(chunk));
        }
        expect(responses.bufferedBytes).toBeLessThanOrEqual(respMax);
      }
    } catch (error) {
      if (error instanceof AgiEnvError || error instanceof AgiResponseParseError) return { ok: false };
      throw error;
    }
    return { ok: true, value: JSON.stringify(out) };
  }

  it('throw only typed errors, stay bounded, and do not depend on chunking', () => {
    fc.assert(
      fc.property(streamArb(agiLines), fc.array(fc.nat(), { maxLength: 12 }), envLimits, responseLimits, (bytes, offsets, env, resp) => {
        const whole = run([bytes], env, resp);
        const split = run(cut(bytes, offsets), env, resp);
        expect(split.ok).toBe(whole.ok);
        if (whole.ok && split.ok) expect(split.value).toBe(whole.value);
      }),
      { numRuns: 400 },
    );
  });

  it('a valid environment followed by byte soup: the response parser alone', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 30 }), (bytes, offsets) => {
        const parsers = [new AgiResponseParser(), new AgiResponseParser({ maxLineBytes: 16, maxBlockLines: 3, maxBlockBytes: 40 })];
        for (const parser of parsers) {
          try {
            for (const chunk of cut(bytes, offsets)) {
              parser.push(chunk);
              expect(parser.bufferedBytes).toBeLessThanOrEqual(16 * 1024 + 32 * 1024);
            }
          } catch (error) {
            expect(error).toBeInstanceOf(AgiResponseParseError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a 16 MiB line without LF is refused as soon as it passes the limit', () => {
    const parser = new AgiResponseParser();
    const block = Buffer.alloc(64 * 1024, 0x41);
    let pushed = 0;
    let error: unknown;
    try {
      while (pushed < 16 * 1024 * 1024) {
        parser.push(block.subarray(0, 1000));
        pushed += 1000;
      }
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AgiResponseParseError);
    expect(pushed).toBeLessThanOrEqual(16 * 1024 + 1000);
  });
});

describe('AMI parser under fuzzing', () => {
  const limits = smallOrDefault(
    fc.record({ maxLineBytes: fc.integer({ min: 1, max: 300 }), maxHeaders: fc.integer({ min: 1, max: 30 }), maxMessageBytes: fc.integer({ min: 1, max: 2000 }) }),
  );

  /** `reused`: each chunk through pushRead from one buffer, overwritten after every read (a socket's `onread`). */
  function run(chunks: readonly Uint8Array[], l?: AmiParserLimits, expectBanner = true, reused = false): Outcome {
    const parser = new AmiParser({ limits: l, expectBanner });
    const max = (l?.maxLineBytes ?? 64 * 1024) + (l?.maxMessageBytes ?? 1024 * 1024);
    const out: unknown[] = [];
    const shared = Buffer.alloc(Math.max(1, ...chunks.map((c) => c.length)));
    try {
      for (const chunk of chunks) {
        shared.set(chunk);
        const events = reused ? parser.pushRead(shared, chunk.length) : parser.push(chunk);
        shared.fill(0x0a);
        for (const e of events) out.push(e.type === 'message' ? { ...e.message, headers: e.message.headers.list } : e);
        expect(parser.bufferedBytes).toBeLessThanOrEqual(max);
      }
    } catch (error) {
      if (error instanceof AmiParseError) return { ok: false };
      throw error;
    }
    return { ok: true, value: JSON.stringify(out) };
  }

  it('throws only typed errors, stays bounded, and does not depend on chunking', () => {
    const banner = Buffer.from('Asterisk Call Manager/11.0.0\r\n');
    fc.assert(
      fc.property(fc.boolean(), streamArb(amiLines), fc.array(fc.nat(), { maxLength: 12 }), limits, (withBanner, soup, offsets, l) => {
        const bytes = withBanner ? new Uint8Array(Buffer.concat([banner, soup])) : soup;
        const whole = run([bytes], l, withBanner);
        const split = run(cut(bytes, offsets), l, withBanner);
        expect(split.ok).toBe(whole.ok);
        if (whole.ok && split.ok) expect(split.value).toBe(whole.value);
        const reads = run(cut(bytes, offsets), l, withBanner, true);
        expect(reads).toEqual(split);
      }),
      { numRuns: 400 },
    );
  });
});
