import { constants } from 'node:fs';
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * The agent's applied snapshots as records in a journal file (`applied-<generation>.journal`), each written in one
 * synchronous write (O_DSYNC) into space the file already holds, then in force.
 *
 * Why not a file per snapshot: an atomic file write is eight file-system calls (create, write, fsync, close, chmod,
 * rename, directory fsync, unlink of the oldest), each a round trip through libuv's thread pool and most of its CPU
 * the kernel's (ext4's journal commits for the new inode, the rename, the directory) - ~2 ms of CPU per apply at
 * 1,000 sites, more than the rest of the apply. A record written over zeros the file already holds changes no
 * metadata (not even the size), so the one synchronous write is a data flush only: one pool trip, ~0.2 ms.
 *
 * A record: a 24-byte header - magic `FPJ1`, CRC-32 of the rest of the header, payload length, CRC-32 of the
 * payload, revision (u64) - then the payload (the bytes SnapshotStore.save was given). Records follow one another
 * from offset 0; zeros follow the last. A write torn by a crash leaves a header that does not check (the chain ends
 * before it) or a payload that does not (the record is skipped); either way the records before it stand. A
 * journal whose end is not clean (anything but zeros after its last good record) is never appended to: the writer
 * starts the next generation.
 *
 * Pruning: a generation holds at most `historyLimit` records and is created with room for that many of the size of
 * the one that starts it (zeros written and synced once, with the directory). When it is full, or a record does
 * not fit, the next generation starts with that record, and generations older than the one before are removed - so
 * between `historyLimit` and twice that many revisions are kept, and nothing is ever copied. A generation's room is
 * bounded (`maxGenerationBytes`, 64 MB): a head office's records (several MB each) fill it with fewer than
 * `historyLimit`, so its history is shorter (at least the previous generation's records) rather than hundreds of
 * MB of zeros written at a time.
 */

export const JOURNAL_FILE = /^applied-(\d{1,12})\.journal$/;
export const journalName = (generation: number): string => `applied-${generation}.journal`;

const MAGIC = 0x314a5046; // 'FPJ1' little-endian
export const HEADER_BYTES = 24;
/** A journal never grows past what a record can say: the payload length is a u32. */
const MAX_PAYLOAD = 0xffff_ffff;
/** Zeros written per call when a generation is created (a pool trip each). */
const ZERO_CHUNK = 1 << 20;
/** Space a new generation starts with at least, and the multiple its size is rounded to. */
const MIN_CAPACITY = 256 << 10;
/** The room a generation is created with at most, unless one record needs more. */
const MAX_CAPACITY = 64 << 20;
const CAPACITY_STEP = 64 << 10;

export interface JournalRecord {
  readonly file: string;
  readonly generation: number;
  readonly offset: number;
  readonly revision: number;
  readonly length: number;
  readonly crc: number;
}

/** A journal's records as its headers chain them, and where the chain ends. */
export interface JournalScan {
  readonly records: JournalRecord[];
  /** Offset after the last record whose header checks. */
  readonly end: number;
  /** Whether only zeros (or the end of the file) follow the chain, the writer may append there (checkTail only). */
  readonly cleanEnd: boolean;
  readonly size: number;
}

/** A record's payload: its bytes (in pieces, as a long text is encoded), their length and CRC-32. */
export interface Payload {
  readonly pieces: readonly Uint8Array[];
  readonly length: number;
  readonly crc: number;
}

/** A payload of these bytes, one piece or several written one after the other (never joined: one writev). */
export function payloadOf(bytes: Uint8Array | readonly Uint8Array[]): Payload {
  const pieces = bytes instanceof Uint8Array ? [bytes] : bytes;
  let crc = 0;
  let length = 0;
  for (const piece of pieces) {
    crc = crc32(piece, crc);
    length += piece.length;
  }
  return { pieces, length, crc };
}

/** Characters encoded at a time from a long text: ~1-3 ms of UTF-8 encoding and checksum each. */
const PIECE_CHARS = 1 << 20;

/**
 * A text's UTF-8 bytes as a payload, encoded a piece at a time with `pause` between the pieces: a head office's
 * stored snapshot is 20 MB, ~20 ms with the event loop held in one piece. A piece never ends between the halves of
 * a surrogate pair, so the bytes are those of the whole text.
 */
export async function payloadOfText(text: string, pause: () => Promise<void>): Promise<Payload> {
  if (text.length <= PIECE_CHARS) return payloadOf(Buffer.from(text, 'utf8'));
  const pieces: Buffer[] = [];
  let crc = 0;
  let length = 0;
  for (let i = 0; i < text.length; ) {
    let end = Math.min(text.length, i + PIECE_CHARS);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end += 1;
    const piece = Buffer.from(text.slice(i, end), 'utf8');
    pieces.push(piece);
    crc = crc32(piece, crc);
    length += piece.length;
    i = end;
    if (i < text.length) await pause();
  }
  return { pieces, length, crc };
}

export function encodeHeader(revision: number, payload: Payload): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(payload.length, 8);
  header.writeUInt32LE(payload.crc, 12);
  header.writeBigUInt64LE(BigInt(revision), 16);
  header.writeUInt32LE(crc32(header.subarray(8)), 4);
  return header;
}

/** A header's fields, or undefined when these bytes are not a header (zeros, a torn or flipped one). */
export function decodeHeader(header: Buffer): { length: number; crc: number; revision: number } | undefined {
  if (header.length < HEADER_BYTES || header.readUInt32LE(0) !== MAGIC) return undefined;
  if (header.readUInt32LE(4) !== crc32(header.subarray(8, HEADER_BYTES))) return undefined;
  const revision = header.readBigUInt64LE(16);
  if (revision > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { length: header.readUInt32LE(8), crc: header.readUInt32LE(12), revision: Number(revision) };
}

/**
 * Reads the chain of headers of an open journal (a pread per record: payloads are not read). `checkTail`: also
 * read what follows the chain to the end of the file, to tell whether it is all zeros (the writer's question).
 */
export async function scanJournal(fh: FileHandle, file: string, generation: number, checkTail = false): Promise<JournalScan> {
  const size = (await fh.stat()).size;
  const records: JournalRecord[] = [];
  const header = Buffer.alloc(HEADER_BYTES);
  let offset = 0;
  while (offset + HEADER_BYTES <= size) {
    const { bytesRead } = await fh.read(header, 0, HEADER_BYTES, offset);
    const fields = bytesRead === HEADER_BYTES ? decodeHeader(header) : undefined;
    if (fields === undefined || offset + HEADER_BYTES + fields.length > size) break;
    records.push({ file, generation, offset, ...fields });
    offset += HEADER_BYTES + fields.length;
  }
  return { records, end: offset, cleanEnd: checkTail && (await zerosFrom(fh, offset, size)), size };
}

/** A record's payload, or why it cannot be used (a torn or flipped payload fails its CRC). */
export async function readPayload(fh: FileHandle, record: JournalRecord): Promise<Buffer> {
  const payload = Buffer.alloc(record.length);
  const { bytesRead } = await fh.read(payload, 0, record.length, record.offset + HEADER_BYTES);
  if (bytesRead !== record.length) throw new Error(`record of revision ${record.revision} at ${record.offset} is cut short`);
  if (crc32(payload) !== record.crc) throw new Error(`record of revision ${record.revision} at ${record.offset} fails its checksum`);
  return payload;
}

/** The journal generations in a directory, newest first. */
export async function journalGenerations(dir: string): Promise<number[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .map((n) => JOURNAL_FILE.exec(n)?.[1])
    .filter((g): g is string => g !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
}

/**
 * The one writer of a directory's journal. Opened lazily by the first append (a standby agent that only read the
 * journal at start takes over from whatever the serving one left).
 */
export class JournalWriter {
  /** The generation appended to; undefined before the first append, or when the newest cannot be appended to. */
  private current: { fh: FileHandle; generation: number; end: number; capacity: number; records: number } | undefined;
  private opened = false;
  private dirHandle: FileHandle | undefined;

  constructor(
    private readonly dir: string,
    private readonly historyLimit: number,
    private readonly mode = 0o640,
    private readonly maxGenerationBytes = MAX_CAPACITY,
  ) {}

  /** Appends a record and returns once it is on disk (O_DSYNC: the write returns after the data is). */
  async append(revision: number, payload: Payload): Promise<void> {
    if (payload.length > MAX_PAYLOAD) throw new RangeError(`snapshot of ${payload.length} bytes is too large to store`);
    const header = encodeHeader(revision, payload);
    const size = HEADER_BYTES + payload.length;
    if (!this.opened) {
      this.current = await this.openNewest();
      this.opened = true;
    }
    const journal = this.current;
    if (journal === undefined || journal.records >= this.historyLimit || journal.end + size > journal.capacity) return this.startGeneration(header, payload);
    await writeAll(journal.fh, [header, ...payload.pieces], journal.end);
    journal.end += size;
    journal.records += 1;
  }

  async close(): Promise<void> {
    const { current, dirHandle } = this;
    this.current = undefined;
    this.opened = false;
    this.dirHandle = undefined;
    await current?.fh.close();
    await dirHandle?.close();
  }

  /**
   * The newest generation, open for appending where its records end - when that end is clean: only zeros after it,
   * and the last record intact. Anything else (a write torn by a crash, damage) and the next generation starts
   * rather than writing after bytes no reader could step over. Temporaries left by a crash are removed first.
   */
  private async openNewest(): Promise<JournalWriter['current']> {
    await this.removeTemporaries();
    const generation = (await journalGenerations(this.dir))[0];
    if (generation === undefined) return undefined;
    const path = join(this.dir, journalName(generation));
    const fh = await open(path, constants.O_RDWR | constants.O_DSYNC);
    let empty = false;
    try {
      const scan = await scanJournal(fh, journalName(generation), generation, true);
      const last = scan.records.at(-1);
      const lastIntact = last === undefined || (await readPayload(fh, last).then(() => true, () => false));
      if (scan.cleanEnd && lastIntact && last !== undefined) return { fh, generation, end: scan.end, capacity: scan.size, records: scan.records.length };
      empty = last === undefined;
    } catch {
      // Unreadable: not appended to (the reader still tries its records).
    }
    await fh.close();
    // No record at all (a crash while it was created): removed, so that the generation started instead does not
    // prune the one before it, which holds the history.
    if (empty) await rm(path, { force: true });
    return undefined;
  }

  /**
   * The next generation, with room for about historyLimit records like this one, holding this record; then the
   * generations before the previous one removed. Crash-safe at every step: the zeros are synced and the directory
   * entry too before the record is written, and the old generations go only once the record is on disk.
   */
  private async startGeneration(header: Buffer, payload: Payload): Promise<void> {
    const generation = ((await journalGenerations(this.dir))[0] ?? 0) + 1;
    const size = HEADER_BYTES + payload.length;
    const room = Math.min(size * Math.max(1, this.historyLimit), Math.max(size, this.maxGenerationBytes));
    const capacity = roundUp(Math.max(MIN_CAPACITY, room), CAPACITY_STEP);
    const path = join(this.dir, journalName(generation));
    let journal: FileHandle | undefined;
    const zeroing = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, this.mode);
    try {
      await zeroing.chmod(this.mode); // in case an ACL widened it
      await writeZeros(zeroing, capacity);
      await zeroing.sync();
      await (this.dirHandle ??= await open(this.dir, 'r')).sync();
      journal = await open(path, constants.O_RDWR | constants.O_DSYNC);
      await writeAll(journal, [header, ...payload.pieces], 0);
    } catch (error) {
      await journal?.close();
      await rm(path, { force: true });
      throw error;
    } finally {
      await zeroing.close();
    }
    await this.current?.fh.close();
    this.current = { fh: journal, generation, end: size, capacity, records: 1 };
    for (const old of await journalGenerations(this.dir)) {
      if (old < generation - 1) await rm(join(this.dir, journalName(old)), { force: true });
    }
  }

  /** Temporary files a crash left (`.name.pid.random.tmp`, from earlier versions' atomic writes). */
  private async removeTemporaries(): Promise<void> {
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name.startsWith('.') && name.endsWith('.tmp')) await rm(join(this.dir, name), { force: true });
    }
  }
}

async function writeAll(fh: FileHandle, buffers: readonly Uint8Array[], position: number): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let written = (await fh.writev(buffers, position)).bytesWritten;
  // A short write (rare: a signal, a full disk) goes on from where it stopped.
  if (written === total) return;
  const all = Buffer.concat(buffers);
  while (written < total) written += (await fh.write(all, written, total - written, position + written)).bytesWritten;
}

async function writeZeros(fh: FileHandle, bytes: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(ZERO_CHUNK, bytes));
  for (let at = 0; at < bytes; ) at += (await fh.write(zeros, 0, Math.min(zeros.length, bytes - at), at)).bytesWritten;
}

/** Whether a file holds only zeros from `offset` to `size` (what a generation's unused space is), read a chunk at a time. */
async function zerosFrom(fh: FileHandle, offset: number, size: number): Promise<boolean> {
  const chunk = Buffer.alloc(Math.min(ZERO_CHUNK, Math.max(0, size - offset)));
  for (let at = offset; at < size; ) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - at), at);
    if (bytesRead === 0 || !isZeros(chunk.subarray(0, bytesRead))) return bytesRead === 0;
    at += bytesRead;
  }
  return true;
}

function isZeros(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

const roundUp = (n: number, step: number): number => Math.ceil(n / step) * step;

