import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, type SiteSnapshot } from '@fedpbx/contracts';
import { decodeSnapshotValue, splitPairText, SnapshotRejectedError, verifySnapshot, verifyStoredPair, type StoredPair, type VerifyingKey } from '@fedpbx/signing';
import { writeFileAtomic } from './atomic-file.js';

export interface LoadedSnapshot {
  readonly snapshot: SiteSnapshot;
  /** The file's text, as verified. */
  readonly text: string;
  /** Snapshots skipped on the way (damaged or badly signed files), newest first. */
  readonly skipped: readonly { file: string; reason: string }[];
  /** A stored pair (format 2) as read: for the applier to take the next snapshot over it (SnapshotApplier.resume). */
  readonly pair?: StoredPair;
}

const SNAPSHOT_FILE = /^(\d{1,12})\.json$/;

/**
 * The agent's applied snapshots on disk: `snapshots/<revision>.json`, a bounded history. The newest is the one in
 * force - the applier never applies a revision older than the one in force, so there is nothing to name apart
 * (a `current.json` pointer, which earlier versions wrote, cost a second atomic write per apply and is removed).
 * Every file is written atomically and every snapshot is verified again when read, so a damaged or tampered file
 * is skipped and the newest good one is used (last-known-good).
 */
export class SnapshotStore {
  private readonly snapshotsDir: string;
  /**
   * The stored revisions, newest first, once save has read them; and the directory, open for its fsyncs. A plan-wide
   * change at 1,000 sites is one save per write: listing the directory and opening it each time were a third of
   * the store's CPU (bench:agent-apply).
   */
  private stored: number[] | undefined;
  private dirHandle: Promise<FileHandle> | undefined;

  constructor(
    readonly dir: string,
    private readonly siteId: string,
    private readonly keys: readonly VerifyingKey[],
    private readonly historyLimit = 20,
  ) {
    this.snapshotsDir = join(dir, 'snapshots');
  }

  async init(): Promise<void> {
    await mkdir(this.snapshotsDir, { recursive: true, mode: 0o750 });
    await rm(join(this.dir, 'current.json'), { force: true });
  }

  /** The snapshot in force: the newest that verifies. */
  async loadLastKnownGood(): Promise<LoadedSnapshot | undefined> {
    const skipped: { file: string; reason: string }[] = [];
    for (const rev of await this.revisions()) {
      const file = join(this.snapshotsDir, `${rev}.json`);
      try {
        const text = fileText(await readFile(file));
        // A format-2 snapshot is stored as its pair (site part and shared part, one file); format 1 as itself (an
        // agent upgraded from it boots from its last format-1 snapshot).
        const pair = splitPairText(text) !== undefined ? verifyStoredPair(text, this.siteId, this.keys) : undefined;
        const snapshot = pair?.snapshot ?? verifySnapshot(JSON.parse(text) as unknown, this.siteId, this.keys, { contentAlreadyValidated: true, receivedText: text });
        if (snapshot.revision !== rev) throw new SnapshotRejectedError('malformed', `file says revision ${snapshot.revision}`);
        return { snapshot, text, skipped, ...(pair !== undefined ? { pair } : {}) };
      } catch (error) {
        skipped.push({ file, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    return undefined;
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
   * Stores an already verified snapshot, which makes it the one in force at the next start; keeps the newest
   * `historyLimit`. `text` is the JSON
   * text it was verified from, stored as received (the controller's wire form: the config as the canonical bytes it
   * hashed, so verifying it again at boot hashes them as they are); without it, canonical JSON is written. Bytes
   * are that text gzipped (a format-2 pair as the compressed values it came in: storedPairBytes), read back as it.
   */
  async save(snapshot: SiteSnapshot, text?: string | Uint8Array): Promise<void> {
    this.dirHandle ??= open(this.snapshotsDir, 'r');
    const dirHandle = await this.dirHandle.catch((error: unknown) => {
      this.dirHandle = undefined;
      throw error;
    });
    await writeFileAtomic(join(this.snapshotsDir, `${snapshot.revision}.json`), text ?? canonicalJson(snapshot), { dirHandle });
    const revisions = (this.stored ??= await this.revisions());
    if (!revisions.includes(snapshot.revision)) {
      revisions.push(snapshot.revision);
      revisions.sort((a, b) => b - a);
    }
    while (revisions.length > this.historyLimit) {
      const old = revisions[revisions.length - 1] as number;
      if (old === snapshot.revision) break;
      await rm(join(this.snapshotsDir, `${old}.json`), { force: true });
      revisions.pop();
    }
  }

  /** Closes the directory kept open for the saves' fsyncs (a later save opens it again). */
  async close(): Promise<void> {
    const handle = this.dirHandle;
    this.dirHandle = undefined;
    await (await handle?.catch(() => undefined))?.close();
  }

  /** Stored revisions, newest first. */
  async revisions(): Promise<number[]> {
    const names = await readdir(this.snapshotsDir).catch(() => [] as string[]);
    return names
      .map((n) => SNAPSHOT_FILE.exec(n)?.[1])
      .filter((r): r is string => r !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
  }
}

/**
 * A stored file's text: as it is, or decompressed when it is gzip (a format-2 pair stored as the values it came
 * in; JSON text never starts with the gzip magic bytes). Bounded as a bucket value is (MAX_SNAPSHOT_TEXT_BYTES).
 */
function fileText(bytes: Buffer): string {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? decodeSnapshotValue(bytes) : bytes.toString('utf8');
}
