import { crc32, deflateRawSync, gunzipSync } from 'node:zlib';
import { MemberCache } from './member-cache.js';
import { SnapshotRejectedError } from './snapshot-signer.js';

/**
 * Gzip members that say how long they are, so a reader can find each one without inflating the ones before it (the
 * chunked shared part: an agent inflates only the chunks it does not hold). Each member's header carries an extra
 * field (RFC 1952 2.3.1.1, FEXTRA) with subfield `FP` holding the member's total size as 32 bits little-endian - the
 * way BGZF (SAM/BAM) marks its blocks. Any gunzip ignores the field: a value of such members decompresses, with
 * plain gunzip, to the texts one after the other.
 */
const HEADER_BYTES = 20;
const TRAILER_BYTES = 8;
const FEXTRA = 0x04;
const SUBFIELD = [0x46, 0x50] as const; // 'F', 'P'

/** Texts shorter than this are compressed with a small window and state (a cheaper compressor to set up). */
const SHORT_CHARS = 4096;

/** One sized gzip member holding `text`. */
export function sizedMember(text: string): Buffer {
  const data = Buffer.from(text, 'utf8');
  const raw = deflateRawSync(data, text.length < SHORT_CHARS ? { level: 3, windowBits: 10, memLevel: 2 } : { level: 3 });
  const size = HEADER_BYTES + raw.length + TRAILER_BYTES;
  const out = Buffer.allocUnsafe(size);
  out.set([0x1f, 0x8b, 8, FEXTRA, 0, 0, 0, 0, 0, 0xff], 0);
  out.writeUInt16LE(8, 10); // XLEN: one subfield of 4 + 4 bytes
  out.set(SUBFIELD, 12);
  out.writeUInt16LE(4, 14);
  out.writeUInt32LE(size, 16);
  raw.copy(out, HEADER_BYTES);
  out.writeUInt32LE(crc32(data), HEADER_BYTES + raw.length);
  out.writeUInt32LE(data.length >>> 0, HEADER_BYTES + raw.length + 4);
  return out;
}

/**
 * The members of a value made of sized members only, as views into it; undefined when it is anything else (plain
 * text, or gzip without the sizes: the caller decompresses it whole). Bounds are checked, nothing is inflated.
 */
export function sizedMembers(value: Uint8Array): Uint8Array[] | undefined {
  const ends = sizedMemberEnds(value);
  return ends?.map((end, i) => value.subarray(i === 0 ? 0 : (ends[i - 1] as number), end));
}

/**
 * Where each sized member of a value ends (member i is bytes ends[i-1] - 0 for the first - to ends[i]), as
 * {@link sizedMembers} finds them: numbers, not a view per member. A 1,000-site shared part has ~140 members and an
 * agent inflates one or two at a plan-wide apply: 140 views were ~20 KB of garbage per apply, promoted in a real
 * agent (the apply spans scavenges) and collected later.
 */
export function sizedMemberEnds(value: Uint8Array): number[] | undefined {
  const ends: number[] = [];
  const view = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  for (let at = 0; at < view.length; ) {
    if (view.length - at < HEADER_BYTES + TRAILER_BYTES) return undefined;
    if (view[at] !== 0x1f || view[at + 1] !== 0x8b || view[at + 2] !== 8 || view[at + 3] !== FEXTRA) return undefined;
    if (view.readUInt16LE(at + 10) !== 8 || view[at + 12] !== SUBFIELD[0] || view[at + 13] !== SUBFIELD[1] || view.readUInt16LE(at + 14) !== 4) return undefined;
    const size = view.readUInt32LE(at + 16);
    if (size < HEADER_BYTES + TRAILER_BYTES || at + size > view.length) return undefined;
    at += size;
    ends.push(at);
  }
  return ends.length > 0 ? ends : undefined;
}

/** Whether a value is made of sized members (a chunked shared part's), read from its first header only. */
export function isSizedMembers(value: Uint8Array): boolean {
  return value.length >= HEADER_BYTES && value[0] === 0x1f && value[1] === 0x8b && value[3] === FEXTRA && value[12] === SUBFIELD[0] && value[13] === SUBFIELD[1];
}

/** One member's text (CRC and length checked by zlib), at most `maxBytes` of it. */
export function inflateSizedMember(member: Uint8Array, maxBytes: number): string {
  if (maxBytes <= 0) throw new SnapshotRejectedError('malformed', 'the snapshot value expands past its limit');
  try {
    return gunzipSync(member, { maxOutputLength: maxBytes }).toString('utf8');
  } catch (error) {
    throw new SnapshotRejectedError('malformed', `the snapshot value does not decompress: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Sized members for texts of which many recur from one value to the next (a chunked shared part's chunks: one or
 * two change per plan-wide write): each text's member is made once and remembered, the most recently used up to
 * `maxCachedChars` of text.
 */
export class SizedMemberEncoder {
  private readonly members: MemberCache;

  constructor(maxCachedChars = 32 * 1024 * 1024) {
    this.members = new MemberCache(sizedMember, maxCachedChars);
  }

  encode(texts: readonly string[]): Buffer {
    return Buffer.concat(texts.map((t) => this.members.member(t)));
  }
}
