// Test support (not built): reads and damages what SnapshotStore stored, journal records or old-format files.
import { closeSync, existsSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeHeader, HEADER_BYTES, journalGenerations, journalName, payloadOf, scanJournal, type JournalRecord } from '../snapshot-journal.js';

/** The newest stored record of a revision (journal), with its file's path. */
export async function storedRecord(stateDir: string, revision: number): Promise<{ path: string; record: JournalRecord } | undefined> {
  const dir = join(stateDir, 'snapshots');
  for (const generation of await journalGenerations(dir)) {
    const path = join(dir, journalName(generation));
    const fh = await open(path, 'r');
    try {
      const record = (await scanJournal(fh, journalName(generation), generation)).records.reverse().find((r) => r.revision === revision);
      if (record !== undefined) return { path, record };
    } finally {
      await fh.close();
    }
  }
  return undefined;
}

/** The bytes stored for a revision: its journal record's payload, else its old-format file. */
export async function storedBytes(stateDir: string, revision: number): Promise<Buffer> {
  const found = await storedRecord(stateDir, revision);
  if (found === undefined) return readFileSync(join(stateDir, 'snapshots', `${revision}.json`));
  const payload = Buffer.alloc(found.record.length);
  const fd = openSync(found.path, 'r');
  try {
    readSync(fd, payload, 0, payload.length, found.record.offset + HEADER_BYTES);
  } finally {
    closeSync(fd);
  }
  return payload;
}

/**
 * Puts other bytes of the same length in a revision's record, header and checksum made to match (what someone
 * who can write the state dir could do: only the signature stands in the way); `checksum: false` leaves the old
 * checksum (damage: a bit flip on disk).
 */
export async function replaceStored(stateDir: string, revision: number, bytes: Uint8Array, options: { checksum?: boolean } = {}): Promise<void> {
  const found = await storedRecord(stateDir, revision);
  if (found === undefined) throw new Error(`revision ${revision} is not in the journal`);
  if (bytes.length !== found.record.length) throw new Error('replaceStored keeps the record\'s length');
  const fd = openSync(found.path, 'r+');
  try {
    if (options.checksum !== false) writeSync(fd, encodeHeader(revision, payloadOf(bytes)), 0, HEADER_BYTES, found.record.offset);
    writeSync(fd, bytes, 0, bytes.length, found.record.offset + HEADER_BYTES);
  } finally {
    closeSync(fd);
  }
}

/**
 * What a kill in the middle of storing a revision leaves: its record after the newest one, the header written and
 * only the first `written` bytes of its payload (zeros after them, as the journal's free space holds).
 */
export async function appendTornRecord(stateDir: string, revision: number, bytes: Uint8Array, written: number): Promise<void> {
  const dir = join(stateDir, 'snapshots');
  const generation = (await journalGenerations(dir))[0];
  if (generation === undefined) throw new Error('no journal');
  const path = join(dir, journalName(generation));
  const fh = await open(path, 'r');
  const { end } = await scanJournal(fh, journalName(generation), generation).finally(() => fh.close());
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, encodeHeader(revision, payloadOf(bytes)), 0, HEADER_BYTES, end);
    writeSync(fd, bytes, 0, written, end + HEADER_BYTES);
  } finally {
    closeSync(fd);
  }
}

export const hasOldFormatFile = (stateDir: string, revision: number): boolean => existsSync(join(stateDir, 'snapshots', `${revision}.json`));
