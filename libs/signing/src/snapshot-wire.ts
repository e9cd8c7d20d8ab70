import { isAscii } from 'node:buffer';
import { crc32, createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import { MemberCache } from './member-cache.js';
import { SnapshotRejectedError } from './snapshot-signer.js';

/**
 * How a signed snapshot's JSON text travels in its KV bucket: gzip-compressed. The canonical JSON of a site
 * config is keys and ids over and over - it shrinks about ten times - and every change to the numbering plan
 * sends every site its snapshot at once: ten times less for NATS to store and deliver, and at 100,000
 * extensions a snapshot fits the bus's 8 MB payload limit. The signature and hash are over the JSON text,
 * not these bytes. Plain JSON (a value that starts with `{`) is read as it is.
 */
export function encodeSnapshotValue(json: string): Uint8Array {
  return gzipSync(json, GZIP);
}

/** Level 3: as small as the default level within 1%, at half its cost. */
const GZIP = { level: 3 } as const;

/** Pieces at least this long get a gzip member of their own; shorter ones are compressed with their neighbours. */
const MEMBER_MIN_CHARS = 4096;

/** For the short runs between them: a small window and state, which halve the cost of setting up a compressor. */
const GZIP_SHORT = { level: 3, windowBits: 10, memLevel: 2 } as const;

/**
 * Runs shorter than this are stored in their gzip member, not compressed: they are a value's envelope (hashes and a
 * signature, which do not compress) and the few hundred bytes around a site part's shared-part reference, and
 * setting up a compressor for them cost more than all the rest of a site's publish after a plan-wide change.
 */
const STORE_MAX_CHARS = 1024;

function compressRun(text: string): Buffer {
  if (text.length < STORE_MAX_CHARS) return storedMember(text);
  return gzipSync(text, text.length < MEMBER_MIN_CHARS ? GZIP_SHORT : GZIP);
}

/**
 * A gzip member (RFC 1952) holding `text` in one stored deflate block (RFC 1951 3.2.4: BFINAL=1, BTYPE=00, LEN,
 * NLEN, the bytes): read by any gunzip like a compressed member, at the cost of a CRC-32.
 */
function storedMember(text: string): Buffer {
  const data = Buffer.from(text, 'utf8');
  // At most 3 bytes a UTF-16 unit, so under 65,535 bytes: one stored block holds it.
  const out = Buffer.allocUnsafe(10 + 5 + data.length + 8);
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], 0);
  out[10] = 1;
  out.writeUInt16LE(data.length, 11);
  out.writeUInt16LE(~data.length & 0xffff, 13);
  data.copy(out, 15);
  out.writeUInt32LE(crc32(data), 15 + data.length);
  out.writeUInt32LE(data.length, 19 + data.length);
  return out;
}

/**
 * encodeSnapshotValue for texts given in pieces (a snapshot's envelope, then its config as SiteConfigJson
 * assembles it: each part's JSON between the keys), where many pieces recur - the federation part is the same in
 * every site's snapshot, a site's extensions and routes the same in its every snapshot until they change. A gzip
 * value may be several gzip members one after the other, which decompress to their texts concatenated (RFC 1952
 * 2.2; zlib and gunzip read them so), so each long piece is compressed once into a member of its own and
 * remembered by its text, and only the pieces between them are compressed per value: a change to the numbering
 * plan compresses the plan once, not in each of 200 snapshots. Remembers the most recently used pieces up to
 * `maxCachedChars` of text; past that it compresses as encodeSnapshotValue would (a larger federation's every
 * snapshot costs the same as before, never more than a few per cent of size).
 */
export class SnapshotValueEncoder {
  private readonly members: MemberCache;

  constructor(maxCachedChars = 32 * 1024 * 1024) {
    this.members = new MemberCache((piece) => gzipSync(piece, GZIP), maxCachedChars);
  }

  encode(pieces: readonly string[]): Uint8Array {
    const out: Buffer[] = [];
    let pending = '';
    for (const piece of pieces) {
      if (piece.length < MEMBER_MIN_CHARS) {
        pending += piece;
        continue;
      }
      if (pending !== '') out.push(compressRun(pending));
      pending = '';
      out.push(this.members.member(piece));
    }
    if (pending !== '' || out.length === 0) out.push(compressRun(pending));
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }
}

/** The most JSON text a value may expand to: far above a 100,000-extension snapshot, far below a gzip bomb. */
export const MAX_SNAPSHOT_TEXT_BYTES = 256 * 1024 * 1024;

/** The JSON text of a KV value: gunzipped (bounded) when it is gzip, else decoded as UTF-8. */
export function decodeSnapshotValue(value: Uint8Array, maxBytes = MAX_SNAPSHOT_TEXT_BYTES): string {
  if (!isGzip(value)) return new TextDecoder().decode(value);
  try {
    return textOfUtf8(gunzipSync(value, { maxOutputLength: maxBytes }));
  } catch (error) {
    throw notDecompressed(error);
  }
}

/** Compressed values from this size on (a site of a few thousand extensions) are gunzipped in the pool. */
const ASYNC_MIN_BYTES = 64 * 1024;
/** Bytes per piece out of the pool (off the V8 heap until the text is decoded from them). */
const GUNZIP_CHUNK_BYTES = 256 * 1024;

/**
 * {@link decodeSnapshotValue} with the decompression in libuv's thread pool: a head office's value expands to
 * 20 MB, ~40 ms of gunzip the event loop does not spend. The pieces are gathered as bytes (outside the V8 heap) and
 * the text decoded from them once. Decoded piece by piece and joined, as before, the pieces were strings
 * of 256 KB each - V8's large objects, which only a full collection frees: 20 MB of a head office's garbage on the
 * event loop at every change, and the join a 20 MB copy in one piece as long as this decode (~30 ms for ASCII at
 * load 12). Each piece is copied into one growing buffer as it comes out of the pool (a resizable ArrayBuffer grows
 * in place) and let go: no Buffer.concat of 20 MB in one piece at the end. The pieces held to the end and copied
 * then (2 MB a turn) left the text's making its own 20 MB of fresh pages to touch: 13-18 ms of CPU against 6-8 in the
 * agent at load 20-30 (a CPU profile, latin1Slice). An ASCII text is made as latin1, which Node makes an external
 * string over 1 MB (its characters outside the V8 heap, counted as external memory, which starts V8's next full
 * collection). The same result and the same refusals.
 */
export async function decodeSnapshotValueAsync(value: Uint8Array, maxBytes = MAX_SNAPSHOT_TEXT_BYTES): Promise<string> {
  // A small value is quicker to gunzip here than to hand to a pool thread and back.
  if (!isGzip(value) || value.length < ASYNC_MIN_BYTES) return decodeSnapshotValue(value, maxBytes);
  const gathered = growableBuffer(maxBytes);
  let bytes = 0;
  // Checked piece by piece as they come (textOfUtf8's check, not left to the one piece at the end).
  let ascii = true;
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
  try {
    gunzip.end(value);
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (bytes + chunk.length > maxBytes) throw new RangeError(`Cannot create a string longer than the limit of ${maxBytes} bytes`);
      gathered.resize(bytes + chunk.length);
      new Uint8Array(gathered, bytes, chunk.length).set(chunk);
      bytes += chunk.length;
      ascii &&= isAscii(chunk);
    }
  } catch (error) {
    gunzip.destroy();
    throw notDecompressed(error);
  }
  const whole = Buffer.from(gathered, 0, bytes);
  const text = ascii ? whole.toString('latin1') : whole.toString('utf8');
  // Making the text is a piece of its own (a head office's 20 MB: a copy of 3-8 ms): the caller's first work on it
  // (the agent's scan of it) starts on the next turn of the event loop, not in the same piece.
  await new Promise((resolve) => setImmediate(resolve));
  return text;
}

/** An ArrayBuffer that grows in place up to `maxByteLength` (ES2024, in Node 20; this project's lib is ES2023). */
interface GrowableBuffer extends ArrayBuffer {
  resize(byteLength: number): void;
}

function growableBuffer(maxByteLength: number): GrowableBuffer {
  const Growable = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => GrowableBuffer;
  return new Growable(0, { maxByteLength });
}

/**
 * The text of UTF-8 bytes. Bytes that are all ASCII - a snapshot's JSON is, but for names written in other scripts -
 * are the same characters read as latin1, a copy into a one-byte string (over 1 MB an external one, outside the V8
 * heap): ~3 ms of CPU for a head office's 20 MB against ~18 ms for UTF-8's decode, either in one piece on the event
 * loop (#21 §3: the longest single piece of an apply). The check is simdutf's (~1 ms). Any other bytes decode as
 * UTF-8, as before.
 */
export function textOfUtf8(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

function isGzip(value: Uint8Array): boolean {
  return value.length >= 2 && value[0] === 0x1f && value[1] === 0x8b;
}

function notDecompressed(error: unknown): SnapshotRejectedError {
  return new SnapshotRejectedError('malformed', `the snapshot value does not decompress: ${error instanceof Error ? error.message : String(error)}`);
}
