import { appendFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CdrEvent } from '@fedpbx/contracts';

/**
 * The site's own call records, kept at the site first (ARCHITECTURE.md flow 3): one JSON line per CDR in
 * `<state dir>/cdr/<YYYY-MM-DD>.jsonl`, appended in order. The sync layer (issue #5) publishes from here with the
 * CDR id as dedupe id (sync/cdr-publisher.ts); this is also where a site's statistics live, queryable with no
 * network at all (`fedpbx-agent cdrs`). Appends are serialised, so lines never interleave.
 */
export class CdrOutbox {
  private chain: Promise<void> = Promise.resolve();
  private readonly dir: string;
  private readonly listeners: (() => void)[] = [];

  constructor(stateDir: string) {
    this.dir = cdrDir(stateDir);
  }

  /** Called after each CDR is on disk (the publisher wakes up). */
  onStored(listener: () => void): void {
    this.listeners.push(listener);
  }

  add(cdr: CdrEvent): Promise<void> {
    const line = `${JSON.stringify(cdr)}\n`;
    const file = join(this.dir, `${cdr.end.slice(0, 10)}.jsonl`);
    const next = this.chain.then(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
      await appendFile(file, line, { mode: 0o640 });
      for (const l of this.listeners) l();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

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
