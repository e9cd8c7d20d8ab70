import { gunzipSync, gzipSync } from 'node:zlib';
import { SnapshotRejectedError } from './snapshot-signer.js';

/**
 * How a signed snapshot's JSON text travels in its KV bucket: gzip-compressed. The canonical JSON of a site
 * config is keys and ids over and over - it shrinks about ten times - and every change to the numbering plan
 * sends every site its snapshot at once: ten times less for NATS to store and deliver, and at 100,000
 * extensions a snapshot fits the bus's 8 MB payload limit. The signature and hash are over the JSON text,
 * not these bytes. Plain JSON (a value that starts with `{`) is read as it is.
 */
export function encodeSnapshotValue(json: string): Uint8Array {
  // Level 3: as small as the default level within 1%, at half its cost.
  return gzipSync(json, { level: 3 });
}

/** The most JSON text a value may expand to: far above a 100,000-extension snapshot, far below a gzip bomb. */
export const MAX_SNAPSHOT_TEXT_BYTES = 256 * 1024 * 1024;

/** The JSON text of a KV value: gunzipped (bounded) when it is gzip, else decoded as UTF-8. */
export function decodeSnapshotValue(value: Uint8Array, maxBytes = MAX_SNAPSHOT_TEXT_BYTES): string {
  if (value.length < 2 || value[0] !== 0x1f || value[1] !== 0x8b) return new TextDecoder().decode(value);
  try {
    return gunzipSync(value, { maxOutputLength: maxBytes }).toString('utf8');
  } catch (error) {
    throw new SnapshotRejectedError('malformed', `the snapshot value does not decompress: ${error instanceof Error ? error.message : String(error)}`);
  }
}
