import { open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { cdrDir, listCdrFiles } from '../state/cdr-outbox.js';

/** Where a day file is while it is pruned: not a day file's name, so the publisher and the `cdrs` command skip it. */
const PRUNING = '.pruning';
const HOUR_MS = 3_600_000;

export interface CdrOutboxPrunerOptions {
  readonly stateDir: string;
  /** Day files whose day is at least this many days before today (UTC) may go, once acknowledged. */
  readonly retentionDays: number;
  /** The publisher drops its cursor entry of a day file that goes (a late CDR of that day makes a new file, read from its start). */
  readonly publisher: { forgetFile(file: string): void };
  /** Writes in progress end and the outbox's open day file is closed (a write that opened a day file before it moved ends in it). */
  readonly outbox: { settled(): Promise<void> };
  readonly log: Logger;
  readonly now?: () => Date;
  readonly intervalMs?: number;
}

/**
 * Removes the CDR outbox's old day files (a head office writes ~60 MB a day): a file goes only when its day is
 * `retentionDays` or more before today (UTC), it is not the newest file, and the publisher's durable cursor
 * (`<state>/sync/cdr-cursor.json`, as written: not the acknowledgements still in memory) has passed its last byte.
 *
 * A crash at any point loses no record; at worst a day is published again (JetStream's duplicate window and the
 * controller's unique key absorb that): the file is first renamed to `<day>.jsonl.pruning` and the publisher forgets
 * its cursor entry; then the outbox settles, so a late CDR of that day written through a handle opened before the
 * rename is in the renamed file, and any bytes past the acknowledged size are appended to the day's file anew
 * (made again if need be, read from its start); then it is removed. A `.pruning` file found at the start of a run
 * (a crash mid-way) is put back whole as the day's file, or appended to it, and that file is published again from its
 * start.
 */
export class CdrOutboxPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: CdrOutboxPrunerOptions) {}

  /** Prunes now and then every hour (by default). */
  start(): void {
    const run = (): void => {
      this.running = this.prune().catch((error: unknown) => this.opts.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'CDR outbox not pruned; trying again later'));
    };
    run();
    this.timer = setInterval(run, this.opts.intervalMs ?? HOUR_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One run; resolves with the day files removed. */
  async prune(): Promise<string[]> {
    const dir = cdrDir(this.opts.stateDir);
    await this.recover(dir);
    const acked = await this.durableCursor();
    const files = await listCdrFiles(this.opts.stateDir);
    const today = (this.opts.now?.() ?? new Date()).toISOString().slice(0, 10);
    const cutoff = new Date(Date.parse(`${today}T00:00:00Z`) - this.opts.retentionDays * 86_400_000).toISOString().slice(0, 10);
    const pruned: string[] = [];
    let bytes = 0;
    for (const file of files.slice(0, -1)) {
      const day = file.slice(0, 10);
      if (day > cutoff || day >= today) continue;
      const path = join(dir, file);
      const size = (await stat(path)).size;
      if (acked.get(file) !== size) continue; // not every record acknowledged (or the cursor not written yet)
      const moved = path + PRUNING;
      await rename(path, moved);
      this.opts.publisher.forgetFile(file);
      await this.opts.outbox.settled();
      await appendTail(moved, size, path);
      await unlink(moved);
      pruned.push(file);
      bytes += size;
    }
    if (pruned.length > 0) this.opts.log.info({ files: pruned, bytes, retentionDays: this.opts.retentionDays }, 'CDR outbox day files pruned (every record acknowledged)');
    return pruned;
  }

  /** `.pruning` files left by a crash: their records go back to their day's file (published again if need be). */
  private async recover(dir: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const name of names.filter((n) => n.endsWith(PRUNING))) {
      const moved = join(dir, name);
      const path = moved.slice(0, -PRUNING.length);
      await appendTail(moved, 0, path);
      await unlink(moved);
      // Its cursor entry may be the old file's size (the crash came before the cursor was written): read it all again.
      this.opts.publisher.forgetFile(name.slice(0, -PRUNING.length));
      this.opts.log.warn({ file: name }, 'CDR outbox day file left mid-pruning put back (its records are published again; duplicates are dropped)');
    }
  }

  private async durableCursor(): Promise<Map<string, number>> {
    let text: string;
    try {
      text = await readFile(join(this.opts.stateDir, 'sync', 'cdr-cursor.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
    const files = (JSON.parse(text) as { files?: Record<string, unknown> }).files ?? {};
    return new Map(Object.entries(files).filter((e): e is [string, number] => typeof e[1] === 'number'));
  }
}

/** Appends `from`'s bytes after `offset` to `to` (made if absent), on disk before it resolves; nothing if there are none. */
async function appendTail(from: string, offset: number, to: string): Promise<void> {
  const length = (await stat(from)).size - offset;
  if (length <= 0) return;
  const tail = Buffer.alloc(length);
  const source = await open(from, 'r');
  try {
    await source.read(tail, 0, length, offset);
  } finally {
    await source.close();
  }
  const handle = await open(to, 'a', 0o640);
  try {
    await handle.writeFile(tail);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
