import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CdrEvent } from '@fedpbx/contracts';
import type { AlarmBoard } from '../alarms/alarm-board.js';

/** Raised while CDRs cannot be written to the outbox (disk full, a read-only or broken state dir). */
export const CDR_OUTBOX_ALARM = 'cdr-outbox-write-failed';

/**
 * The site's own call records, kept at the site first (ARCHITECTURE.md flow 3): one JSON line per CDR in
 * `<state dir>/cdr/<YYYY-MM-DD>.jsonl` (the day of the CDR's end, UTC), appended in order. The sync layer (issue #5)
 * publishes from here with the CDR id as dedupe id (sync/cdr-publisher.ts); this is also where a site's statistics
 * live, queryable with no network at all (`fedpbx-agent cdrs`).
 *
 * Each CDR is stored once: a CDR reaches the agent from two sources (the live AMI event and the CDR file, which is
 * read again from its cursor after a crash), and the second arrival of an id is dropped. The ids of a day file are
 * read from it the first time a CDR of that day arrives (a CDR and its duplicate have the same end, so the same
 * day file), and kept for the two most recently used days only (a head office's 100,000 CDRs a day are ~8 MB of
 * ids): a CDR of an older day - a catch-up after a long outage - reads that day's file again.
 *
 * Writes are batched in time: a write starts `lingerMs` after the first CDR waiting for it (at once when
 * `MAX_PENDING` are waiting), and CDRs that arrive meanwhile or while a write is in progress go together, one
 * append and one fdatasync per day file, and one wake-up of the publisher, which follows each write at once. Calls
 * ending one at a time (50/s) then cost one fsync and one JetStream round per ~12 CDRs instead of one each
 * (bench:cdr-trickle). `add` resolves once the CDR is on disk; nothing is acknowledged before: the CDR file's
 * cursor moves only then, so a crash while a CDR waits loses nothing the file does not give again.
 */
export class CdrOutbox {
  private readonly dir: string;
  private readonly listeners: StoredListener[] = [];
  private pending: { readonly cdr: CdrEvent; readonly done: (added: boolean) => void; readonly fail: (error: unknown) => void }[] = [];
  private writing = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private dirMade = false;
  /** The day file last appended to, kept open between writes (closed by `settled`). */
  private appending: { readonly day: string; readonly handle: FileHandle } | undefined;
  /** Ids of the write in progress: known, not yet on disk. */
  private readonly inFlight = new Set<string>();
  private readonly lingerMs: number;
  /** Day -> the ids stored in its file; most recently used last. */
  private readonly known = new Map<string, Set<string>>();
  private readonly keepDays: number;
  private readonly alarms: Pick<AlarmBoard, 'raise' | 'clear'> | undefined;

  constructor(stateDir: string, opts: { readonly keepDays?: number; readonly lingerMs?: number; readonly alarms?: Pick<AlarmBoard, 'raise' | 'clear'> } = {}) {
    this.dir = cdrDir(stateDir);
    this.keepDays = opts.keepDays ?? 2;
    this.lingerMs = opts.lingerMs ?? DEFAULT_LINGER_MS;
    this.alarms = opts.alarms;
  }

  /**
   * Called once per write that stored new CDRs, with how many, the days (`YYYY-MM-DD`) of their files and the lines
   * as written (the publisher wakes up, and need not parse again what it reads back).
   */
  onStored(listener: StoredListener): void {
    this.listeners.push(listener);
  }

  /** Stores a CDR unless its id is stored already; resolves with whether it was new, once it is on disk. */
  add(cdr: CdrEvent): Promise<boolean> {
    return new Promise((done, fail) => {
      this.pending.push({ cdr, done, fail });
      if (this.writing) return;
      if (this.pending.length >= MAX_PENDING || this.lingerMs === 0) {
        clearTimeout(this.lingerTimer);
        this.lingerTimer = undefined;
        void this.drain();
      } else this.lingerTimer ??= setTimeout(() => void this.drain(), this.lingerMs);
    });
  }

  /**
   * Whether this CDR id is on disk already (in a day file read or written since start, of the days kept in memory).
   * The CDR file source skips mapping such records again; an id whose write is still in progress is not counted
   * (that write may fail, and the record must then be stored from the file).
   */
  isStored(cdrId: string): boolean {
    if (this.inFlight.has(cdrId)) return false;
    for (const ids of this.known.values()) if (ids.has(cdrId)) return true;
    return false;
  }

  /** Resolves once nothing is waiting to be written (a planned restart hands the outbox to another process). */
  async settled(): Promise<void> {
    if (!this.writing && this.pending.length > 0) {
      // No need to wait out the linger: write what is waiting now.
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      void this.drain();
    }
    while (this.writing || this.pending.length > 0) await new Promise((r) => setTimeout(r, 5));
    const appending = this.appending;
    this.appending = undefined;
    await appending?.handle.close().catch(() => undefined);
  }

  /** Stores several (e.g. one read of the CDR file); resolves with how many were new. */
  async addAll(cdrs: readonly CdrEvent[]): Promise<number> {
    const added = await Promise.all(cdrs.map((c) => this.add(c)));
    return added.filter(Boolean).length;
  }

  private async drain(): Promise<void> {
    this.lingerTimer = undefined;
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          const fresh = await this.write(batch.map((b) => b.cdr));
          this.alarms?.clear(CDR_OUTBOX_ALARM);
          batch.forEach((b, i) => b.done(fresh[i]!));
        } catch (error) {
          // Calls do not wait on this (they route from memory), so nothing else would tell: the CDR file's records
          // stay behind its cursor and are stored once a write works; a live AMI CDR alone is not kept.
          const e = error as NodeJS.ErrnoException;
          this.alarms?.raise(
            CDR_OUTBOX_ALARM,
            'critical',
            `CDRs cannot be stored in ${this.dir} (${e.code ?? e.message}): calls keep routing; the CDR file's records (FEDPBX_CDR_FILE) are stored once a write works, live AMI CDRs meanwhile are lost`,
          );
          for (const b of batch) b.fail(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** Appends the batch's new CDRs, grouped by day file; returns per CDR whether it was new. */
  private async write(cdrs: readonly CdrEvent[]): Promise<boolean[]> {
    if (!this.dirMade) {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
      this.dirMade = true;
    }
    const byDay = new Map<string, string[]>();
    const written: StoredLine[] = [];
    const fresh: boolean[] = [];
    const claimed: [Set<string>, string][] = [];
    for (const cdr of cdrs) {
      const day = cdr.end.slice(0, 10);
      const ids = await this.idsOf(day);
      if (ids.has(cdr.cdrId)) {
        fresh.push(false);
        continue;
      }
      ids.add(cdr.cdrId);
      this.inFlight.add(cdr.cdrId);
      claimed.push([ids, cdr.cdrId]);
      fresh.push(true);
      let lines = byDay.get(day);
      if (lines === undefined) byDay.set(day, (lines = []));
      const text = JSON.stringify(cdr);
      written.push({ text, cdrId: cdr.cdrId, end: cdr.end });
      lines.push(`${text}\n`);
    }
    try {
      for (const [day, lines] of byDay) {
        const handle = await this.appendHandle(day);
        try {
          await handle.writeFile(lines.join(''));
          await handle.datasync();
        } catch (error) {
          // Opened afresh next time (the file may have been removed or its disk remounted).
          if (this.appending?.handle === handle) this.appending = undefined;
          await handle.close().catch(() => undefined);
          throw error;
        }
      }
    } catch (error) {
      // Not stored: the ids must not count as known (the CDR file is read again from its cursor).
      for (const [ids, id] of claimed) ids.delete(id);
      this.dirMade = false; // removed under us? made again next time
      throw error;
    } finally {
      for (const [, id] of claimed) this.inFlight.delete(id);
    }
    if (claimed.length > 0) {
      const days = new Set(byDay.keys());
      for (const l of this.listeners) l(claimed.length, days, written);
    }
    return fresh;
  }

  /** The open append handle of a day file: CDRs end in order, so nearly always the one of the last write. */
  private async appendHandle(day: string): Promise<FileHandle> {
    if (this.appending?.day === day) return this.appending.handle;
    const previous = this.appending;
    this.appending = undefined;
    await previous?.handle.close().catch(() => undefined);
    const handle = await open(join(this.dir, `${day}.jsonl`), 'a', 0o640);
    this.appending = { day, handle };
    return handle;
  }

  private async idsOf(day: string): Promise<Set<string>> {
    let ids = this.known.get(day);
    if (ids !== undefined) {
      this.known.delete(day);
      this.known.set(day, ids);
      return ids;
    }
    ids = await readIds(join(this.dir, `${day}.jsonl`));
    this.known.set(day, ids);
    while (this.known.size > this.keepDays) this.known.delete(this.known.keys().next().value!);
    return ids;
  }
}

/** The cdrIds of one day file (none if it does not exist); a line that is not a CDR is ignored here. */
async function readIds(path: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const stream = createReadStream(path, { encoding: 'utf8' });
  try {
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      const m = /"cdrId":"((?:[^"\\]|\\.)*)"/.exec(line);
      if (m !== null) ids.add(JSON.parse(`"${m[1]!}"`) as string);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  } finally {
    stream.destroy();
  }
  return ids;
}

/** An outbox line as written (without its newline), with the CDR's id and end (what the publisher needs of it). */
export interface StoredLine {
  readonly text: string;
  readonly cdrId: string;
  readonly end: string;
}

export type StoredListener = (count: number, days: ReadonlySet<string>, lines: readonly StoredLine[]) => void;

/**
 * How long the first CDR waits for others to share its write (ms): the CDR path's one batching window at the site
 * (the publisher follows each write at once), well inside its 2 s end to end.
 */
export const DEFAULT_LINGER_MS = 250;
/** CDRs waiting that start a write at once (a CDR file being caught up). */
const MAX_PENDING = 500;

export function cdrDir(stateDir: string): string {
  return join(stateDir, 'cdr');
}

const DAY_FILE = /^\d{4}-\d{2}-\d{2}\.jsonl$/;

/** The outbox's day files, oldest first (names sort by date). */
export async function listCdrFiles(stateDir: string): Promise<string[]> {
  try {
    return (await readdir(cdrDir(stateDir))).filter((f) => DAY_FILE.test(f)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
