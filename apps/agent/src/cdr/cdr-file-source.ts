/**
 * The durable CDR source: follows the file Asterisk's cdr_custom appends every CDR to (deploy/asterisk/
 * cdr_custom.conf), from a cursor kept in `<state dir>/cdr/source-cursor.json`, into the CDR outbox. AMI does not
 * replay events, so this is how the CDRs of calls made while the agent was down (the fallback calls), restarting
 * or cut from AMI reach the controller: the file is read at start, after each AMI reconnect and every `pollMs`.
 *
 * Rotation is by rename (deploy/asterisk/logrotate-fedpbx-cdr): Asterisk opens the path anew for every record
 * (res/cdrel_custom/writers.c), so after a rename its next record creates a new file. The cursor names the file by
 * device and inode: when the path holds another inode, the renamed one is read to its end first - through the
 * descriptor the agent holds, or, after a restart, found among the files beside it by its inode - and then the new
 * one from 0. A record Asterisk was still writing into the renamed file is picked up by reading that one again on
 * the next passes for `renamedGraceMs`. A file truncated in place (copytruncate) is read from 0 again (duplicates
 * are dropped by the outbox) with an error in the log: records written between the copy and the truncation are lost
 * that way, which is why rotation must rename.
 *
 * Exactly once: records are stored (outbox, fdatasync) before the cursor moves past them; a crash in between reads
 * them again and the outbox drops them by id (uniqueid + sequence, the same id as the live AMI event's). The cursor
 * file is written at most every `cursorIntervalMs` while records keep coming (a crash reads up to that much again).
 */
import type { BigIntStats } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { CdrEvent } from '@fedpbx/contracts';
import type { Logger } from '../logger.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { cdrDir, type CdrOutbox } from '../state/cdr-outbox.js';
import { parseCdrFileRecords } from './cdr-file-parser.js';
import { cdrFromFileRecord, cdrIdOf } from './cdr-record.js';

/** What the source reports to the site's alarms (AlarmBoard). */
export interface CdrAlarmSink {
  raise(code: string, severity: 'critical' | 'warning', message: string): void;
  clear(code: string): void;
}

export interface CdrFileSourceOptions {
  /** FEDPBX_CDR_FILE. */
  readonly path: string;
  readonly stateDir: string;
  readonly outbox: Pick<CdrOutbox, 'addAll'> & Partial<Pick<CdrOutbox, 'isStored'>>;
  readonly log: Logger;
  readonly alarms?: CdrAlarmSink;
  /** Called with each read's counts (metrics). */
  readonly onRead?: (counts: { readonly stored: number; readonly duplicates: number; readonly rejected: number; readonly unreadable: number }) => void;
  /** Default 1000 ms. */
  readonly pollMs?: number;
  /** How long a renamed file is read again after the switch. Default 10 s. */
  readonly renamedGraceMs?: number;
  /**
   * While records keep coming, the cursor file is written at most this often (ms, default 5000); a rotation and
   * stop write it at once. A cursor behind the outbox only makes a restart read again records the outbox drops by
   * id, and each write is an atomic replace with two fsyncs.
   */
  readonly cursorIntervalMs?: number;
}

const Cursor = z.strictObject({ v: z.literal(1), dev: z.string(), ino: z.string(), offset: z.number().int().min(0) });
type Cursor = z.infer<typeof Cursor>;

/** Bytes read at a time; many records each. */
const CHUNK = 1 << 20;

export const CDR_FILE_ALARM = 'cdr-file-unreadable';

/** The outbox refused the records read (its own alarm, cdr-outbox-write-failed, says why): not the file's fault. */
class OutboxFailure extends Error {}

interface Tracked {
  readonly dev: string;
  readonly ino: string;
  offset: number;
  handle: FileHandle | undefined;
}

export class CdrFileSource {
  private readonly cursorPath: string;
  private current: Tracked | undefined;
  /** A renamed file still read for a while, with when to let it go. */
  private renamed: { file: Tracked; until: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** The cursor's file moved on (records stored) and the cursor file does not say so yet. */
  private cursorDirty = false;
  private cursorSavedAt = 0;

  constructor(private readonly opts: CdrFileSourceOptions) {
    this.cursorPath = join(cdrDir(opts.stateDir), 'source-cursor.json');
  }

  /** Reads the cursor, catches up with the file, then follows it. */
  async start(): Promise<void> {
    await mkdir(cdrDir(this.opts.stateDir), { recursive: true, mode: 0o750 });
    this.current = await this.loadCursor();
    await this.readNow();
    if (this.stopped) return;
    this.timer = setInterval(() => void this.readNow(), this.opts.pollMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    if (this.cursorDirty) await this.saveCursor().catch((error: unknown) => this.opts.log.warn({ err: error }, 'CDR file cursor not saved at stop (the records after it are read again and dropped by id)'));
    await this.current?.handle?.close().catch(() => undefined);
    await this.renamed?.file.handle?.close().catch(() => undefined);
  }

  /** One pass now (coalesced with one in progress). Never rejects: trouble is logged and raised as an alarm. */
  readNow(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
          this.opts.alarms?.clear(CDR_FILE_ALARM);
        } catch (error) {
          if (error instanceof OutboxFailure) {
            // The file was read; the cursor stays before these records, so they are stored once the outbox works.
            this.opts.log.debug({ err: error.cause }, 'CDR file pass: the outbox did not store the records');
            continue;
          }
          const e = error as NodeJS.ErrnoException;
          this.opts.alarms?.raise(CDR_FILE_ALARM, 'critical', `CDR file ${this.opts.path} cannot be read (${e.code ?? e.message}): CDRs of calls made while AMI is away are not collected`);
          this.opts.log.debug({ err: error }, 'CDR file pass failed');
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const st = await statOrUndefined(this.opts.path);
    if (st === undefined) {
      // No file yet (no CDR since the last rotation, or cdr_custom not writing): its directory must exist though,
      // or res_cdrel_custom cannot create it (observed on 22.10: "No such file or directory").
      await stat(dirname(this.opts.path));
    }
    const cur = this.current;
    if (cur !== undefined && (st === undefined || String(st.ino) !== cur.ino || String(st.dev) !== cur.dev)) {
      // The file we read was renamed (rotation) or removed: read it to its end, then take the new one from 0.
      const old = await this.reopen(cur);
      if (old !== undefined) {
        await this.readFrom(old, true);
        this.renamed = { file: old, until: Date.now() + (this.opts.renamedGraceMs ?? 10_000) };
        // Rotated more than once since (the agent was down a long time): the files made after it, oldest first.
        await this.readLaterRotations(old, st);
      } else {
        this.opts.log.error({ file: this.opts.path, inode: cur.ino, offset: cur.offset }, 'the CDR file being read was rotated away and is gone (compressed or deleted before the agent read it): CDRs after the cursor may be missing; rotate with delaycompress');
      }
      this.current = st === undefined ? undefined : { dev: String(st.dev), ino: String(st.ino), offset: 0, handle: undefined };
      await this.saveCursor();
    } else if (this.renamed !== undefined) {
      // The cursor is on the new file now: a late record found here is stored, the cursor stays.
      await this.readFrom(this.renamed.file, false);
      if (Date.now() > this.renamed.until) {
        await this.renamed.file.handle?.close().catch(() => undefined);
        this.renamed = undefined;
      }
    }
    if (st === undefined) return;
    this.current ??= { dev: String(st.dev), ino: String(st.ino), offset: 0, handle: undefined };
    const file = this.current;
    if (st.size < BigInt(file.offset)) {
      this.opts.log.error({ file: this.opts.path, size: Number(st.size), offset: file.offset }, 'the CDR file was truncated in place (copytruncate?): reading it again from its start; records written meanwhile may be lost - rotate by rename');
      file.offset = 0;
    }
    if (st.size > BigInt(file.offset)) {
      file.handle ??= await open(this.opts.path, 'r');
      await this.readFrom(file, true);
    }
    // Records stopped coming: the cursor file catches up once its interval is over.
    if (this.cursorDirty && Date.now() - this.cursorSavedAt >= (this.opts.cursorIntervalMs ?? 5000)) await this.saveCursor();
  }

  /**
   * Reads a file from its offset to its end, storing each record and moving the offset after each chunk; `persist`:
   * the file is the cursor's, which is saved after each chunk's records are on disk.
   */
  private async readFrom(file: Tracked, persist: boolean): Promise<void> {
    const handle = file.handle;
    if (handle === undefined) return;
    for (;;) {
      const size = (await handle.stat()).size;
      if (size <= file.offset) return;
      const length = Math.min(CHUNK, size - file.offset);
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buf, 0, length, file.offset);
      // Most records are on disk already, from the live AMI event: passed over on their raw ids, not decoded.
      const isStored = this.opts.outbox.isStored?.bind(this.opts.outbox);
      const parsed = parseCdrFileRecords(buf.subarray(0, bytesRead), isStored === undefined ? {} : { skip: (uniqueId, sequence) => isStored(cdrIdOf(uniqueId.trim(), sequence)) });
      const cdrs: CdrEvent[] = [];
      let unreadable = 0;
      let storedBefore = parsed.skipped;
      for (const { record } of parsed.records) {
        // One the quick look could not pass over: not mapped a second time either when it is stored.
        if (this.opts.outbox.isStored?.(cdrIdOf((record.get('uniqueId') ?? '').trim(), (record.get('sequence') ?? '').trim())) === true) {
          storedBefore++;
          continue;
        }
        const mapped = cdrFromFileRecord(record);
        if (mapped.ok) cdrs.push(mapped.cdr);
        else {
          unreadable++;
          this.opts.log.warn({ file: this.opts.path, reason: mapped.reason }, 'CDR record not usable; skipped');
        }
      }
      for (const r of parsed.rejected) {
        this.opts.log.error({ file: this.opts.path, from: file.offset + r.start, to: file.offset + r.end, reason: r.reason }, 'bytes in the CDR file that are no record; skipped');
      }
      const stored = cdrs.length === 0 ? 0 : await this.opts.outbox.addAll(cdrs).catch((error: unknown) => Promise.reject(new OutboxFailure('CDR outbox write failed', { cause: error })));
      this.opts.onRead?.({ stored, duplicates: storedBefore + cdrs.length - stored, rejected: parsed.rejected.length, unreadable });
      if (parsed.consumed === 0) return; // an unfinished record: wait for the rest
      file.offset += parsed.consumed;
      if (persist) {
        this.cursorDirty = true;
        if (Date.now() - this.cursorSavedAt >= (this.opts.cursorIntervalMs ?? 5000)) await this.saveCursorOf(file);
      }
      if (bytesRead < CHUNK) return;
    }
  }

  /**
   * Rotated files beside the path that were written after `after` (by mtime) and are neither it nor the current
   * file: read whole, oldest first (what is in them already is dropped by id).
   */
  private async readLaterRotations(after: Tracked, current: BigIntStats | undefined): Promise<void> {
    const handle = after.handle;
    if (handle === undefined) return;
    const since = (await handle.stat({ bigint: true })).mtimeNs;
    const later: { path: string; st: BigIntStats }[] = [];
    for (const path of await this.siblings()) {
      const s = await statOrUndefined(path);
      if (s === undefined || !s.isFile() || s.mtimeNs < since) continue;
      if (String(s.ino) === after.ino && String(s.dev) === after.dev) continue;
      if (current !== undefined && s.ino === current.ino && s.dev === current.dev) continue;
      later.push({ path, st: s });
    }
    later.sort((a, b) => (a.st.mtimeNs < b.st.mtimeNs ? -1 : a.st.mtimeNs > b.st.mtimeNs ? 1 : 0));
    for (const { path, st } of later) {
      const file: Tracked = { dev: String(st.dev), ino: String(st.ino), offset: 0, handle: await open(path, 'r') };
      try {
        this.opts.log.info({ file: path }, 'reading a CDR file rotated while the agent was behind');
        await this.readFrom(file, false);
      } finally {
        await file.handle?.close();
      }
    }
  }

  /** Files beside the path whose names start with its name (logrotate's `.1`, `-20261206`; compressed ones skipped). */
  private async siblings(): Promise<string[]> {
    const dir = dirname(this.opts.path);
    const base = basename(this.opts.path);
    try {
      return (await readdir(dir)).filter((n) => n !== base && n.startsWith(base) && !/\.(gz|bz2|xz|zst)$/.test(n)).map((n) => join(dir, n));
    } catch {
      return [];
    }
  }

  /** The cursor's file again: the descriptor still held, else a file beside the path with the same inode. */
  private async reopen(cur: Tracked): Promise<Tracked | undefined> {
    if (cur.handle !== undefined) return cur;
    for (const path of await this.siblings()) {
      const s = await statOrUndefined(path);
      if (s !== undefined && s.isFile() && String(s.ino) === cur.ino && String(s.dev) === cur.dev) {
        return { ...cur, handle: await open(path, 'r') };
      }
    }
    return undefined;
  }

  private async loadCursor(): Promise<Tracked | undefined> {
    let text: string;
    try {
      text = await readFile(this.cursorPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = Cursor.safeParse(safeJson(text));
    if (!parsed.success) {
      this.opts.log.error({ file: this.cursorPath }, 'CDR file cursor unreadable: reading the CDR file from its start (duplicates are dropped)');
      return undefined;
    }
    return { dev: parsed.data.dev, ino: parsed.data.ino, offset: parsed.data.offset, handle: undefined };
  }

  private saveCursor(): Promise<void> {
    return this.current === undefined ? Promise.resolve() : this.saveCursorOf(this.current);
  }

  private async saveCursorOf(file: Tracked): Promise<void> {
    const cursor: Cursor = { v: 1, dev: file.dev, ino: file.ino, offset: file.offset };
    await writeFileAtomic(this.cursorPath, JSON.stringify(cursor));
    this.cursorDirty = false;
    this.cursorSavedAt = Date.now();
  }
}

async function statOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await stat(path, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
