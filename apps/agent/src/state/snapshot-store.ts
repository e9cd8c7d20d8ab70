import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SiteSnapshot } from '@fedpbx/contracts';
import { decodeSnapshotValue, splitPairText, SnapshotRejectedError, verifySnapshot, verifyStoredPair, type StoredPair, type VerifyingKey } from '@fedpbx/signing';
import { journalGenerations, journalName, JournalWriter, payloadOf, payloadOfText, readPayload, scanJournal, type JournalRecord } from './snapshot-journal.js';

export interface LoadedSnapshot {
  readonly snapshot: SiteSnapshot;
  /** The stored text, as verified. */
  readonly text: string;
  /** Snapshots skipped on the way (damaged or badly signed records or files), newest first. */
  readonly skipped: readonly { file: string; reason: string }[];
  /** A stored pair (format 2) as read: for the applier to take the next snapshot over it (SnapshotApplier.resume). */
  readonly pair?: StoredPair;
}

/** A file per revision, as agents before the journal stored them (still read: an upgraded agent boots from them). */
const SNAPSHOT_FILE = /^(\d{1,12})\.json$/;

/** A stored snapshot found at boot, not yet read: a journal record or an old-format file. */
interface Candidate {
  readonly revision: number;
  /** Where it is, for the report of a skipped one. */
  readonly where: string;
  readonly record?: JournalRecord;
}

/**
 * The agent's applied snapshots on disk, in `<state dir>/snapshots/`: records in a journal (snapshot-journal.ts),
 * each on disk before save returns, between `historyLimit` and twice that many kept. The newest is the one in force
 * - the applier never applies a revision older than the one in force. Every snapshot is verified again when read,
 * so a torn, damaged or tampered record is skipped and the newest good one is used (last-known-good).
 *
 * Agents before the journal stored a file per revision (`snapshots/<revision>.json`): those are still read, the
 * newest revision of both kinds in force, and left as they are (a downgraded agent boots from the newest of them -
 * older than what this build applied since - then takes the bucket's value).
 */
export class SnapshotStore {
  private readonly snapshotsDir: string;
  private readonly journal: JournalWriter;

  constructor(
    readonly dir: string,
    private readonly siteId: string,
    private readonly keys: readonly VerifyingKey[],
    historyLimit = 20,
  ) {
    this.snapshotsDir = join(dir, 'snapshots');
    this.journal = new JournalWriter(this.snapshotsDir, historyLimit);
  }

  async init(): Promise<void> {
    await mkdir(this.snapshotsDir, { recursive: true, mode: 0o750 });
    await rm(join(this.dir, 'current.json'), { force: true });
  }

  /** The snapshot in force: the newest that verifies. */
  async loadLastKnownGood(): Promise<LoadedSnapshot | undefined> {
    const skipped: { file: string; reason: string }[] = [];
    const journals = new Map<string, FileHandle>();
    try {
      for (const candidate of await this.candidates(journals)) {
        try {
          const text = fileText(await this.read(candidate, journals));
          // A format-2 snapshot is stored as its pair (site part and shared part, one record); format 1 as itself (an
          // agent upgraded from it boots from its last format-1 snapshot).
          const pair = splitPairText(text) !== undefined ? verifyStoredPair(text, this.siteId, this.keys) : undefined;
          const snapshot = pair?.snapshot ?? verifySnapshot(JSON.parse(text) as unknown, this.siteId, this.keys, { contentAlreadyValidated: true, receivedText: text });
          if (snapshot.revision !== candidate.revision) throw new SnapshotRejectedError('malformed', `stored as revision ${candidate.revision}, says ${snapshot.revision}`);
          return { snapshot, text, skipped, ...(pair !== undefined ? { pair } : {}) };
        } catch (error) {
          skipped.push({ file: candidate.where, reason: error instanceof Error ? error.message : String(error) });
        }
      }
      return undefined;
    } finally {
      for (const fh of journals.values()) await fh.close();
    }
  }

  /** Reads a snapshot file from outside (bootstrap) as JSON, not yet verified: offer it to the applier. */
  async readExternal(path: string): Promise<unknown> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as unknown;
    } catch (error) {
      throw new SnapshotRejectedError('malformed', `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * Stores an already verified snapshot, which makes it the one in force at the next start: on disk when this
   * returns. `text` is the JSON text it was verified from, stored as received (the controller's wire form: the
   * config as the canonical bytes it hashed, so verifying it again at boot hashes them as they are; the applier
   * makes canonical JSON of a snapshot that came as an object - only it has the extensions then, a head office's
   * are in its table). Bytes are that text gzipped (a format-2 pair as the compressed values it came in:
   * storedPairBytes, in pieces), read back as it.
   */
  async save(snapshot: Pick<SiteSnapshot, 'revision'>, text: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
    const payload = typeof text === 'string' ? await payloadOfText(text, nextTurn) : payloadOf(text);
    await this.journal.append(snapshot.revision, payload);
  }

  /** Closes the journal kept open for the saves (a later save opens it again). */
  async close(): Promise<void> {
    await this.journal.close();
  }

  /** Stored revisions, newest first. */
  async revisions(): Promise<number[]> {
    const journals = new Map<string, FileHandle>();
    try {
      return [...new Set((await this.candidates(journals)).map((c) => c.revision))];
    } finally {
      for (const fh of journals.values()) await fh.close();
    }
  }

  /** Every stored snapshot, newest revision first (a journal record before an old-format file of the same). */
  private async candidates(journals: Map<string, FileHandle>): Promise<Candidate[]> {
    const found: Candidate[] = [];
    for (const generation of await journalGenerations(this.snapshotsDir)) {
      const name = journalName(generation);
      const fh = await open(join(this.snapshotsDir, name), 'r').catch(() => undefined);
      if (fh === undefined) continue; // pruned since the listing
      journals.set(name, fh);
      const { records } = await scanJournal(fh, name, generation);
      for (const record of records.reverse()) found.push({ revision: record.revision, where: `${join(this.snapshotsDir, name)}@${record.offset}`, record });
    }
    const names = await readdir(this.snapshotsDir).catch(() => [] as string[]);
    for (const name of names) {
      const revision = SNAPSHOT_FILE.exec(name)?.[1];
      if (revision !== undefined) found.push({ revision: Number(revision), where: join(this.snapshotsDir, name) });
    }
    // Stable: within a revision, journal records (newest generation, latest offset first) before files.
    return found.sort((a, b) => b.revision - a.revision);
  }

  private read(candidate: Candidate, journals: Map<string, FileHandle>): Promise<Buffer> {
    const { record } = candidate;
    if (record === undefined) return readFile(candidate.where);
    return readPayload(journals.get(record.file) as FileHandle, record);
  }
}

/** One turn of the event loop, between the pieces of a long text's encoding. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A stored snapshot's text: as it is, or decompressed when it is gzip (a format-2 pair stored as the values it came
 * in; JSON text never starts with the gzip magic bytes). Bounded as a bucket value is (MAX_SNAPSHOT_TEXT_BYTES).
 */
function fileText(bytes: Buffer): string {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? decodeSnapshotValue(bytes) : bytes.toString('utf8');
}
