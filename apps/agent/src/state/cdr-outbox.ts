import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CdrEvent } from '@fedpbx/contracts';

/**
 * The site's own call records, kept at the site first (ARCHITECTURE.md flow 3): one JSON line per CDR in
 * `<state dir>/cdr/<YYYY-MM-DD>.jsonl`, appended in order. The sync layer (issue #5) publishes from here with the
 * CDR id as dedupe id; until then this is where a site's statistics live, queryable with no network at all.
 * Appends are serialised, so lines never interleave.
 */
export class CdrOutbox {
  private chain: Promise<void> = Promise.resolve();
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'cdr');
  }

  add(cdr: CdrEvent): Promise<void> {
    const line = `${JSON.stringify(cdr)}\n`;
    const file = join(this.dir, `${cdr.end.slice(0, 10)}.jsonl`);
    const next = this.chain.then(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
      await appendFile(file, line, { mode: 0o640 });
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
