import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CdrEvent } from '@fedpbx/contracts';
import { loadAgentConfig } from '../config.js';
import { cdrDir, listCdrFiles } from '../state/cdr-outbox.js';

const USAGE = 'usage: fedpbx-agent cdrs [--since ISO-DATETIME] [--limit N] [--json]\n';

/**
 * `fedpbx-agent cdrs [--since ISO] [--limit N] [--json]`: the site's own call records from the CDR outbox in the
 * state dir - no network, no controller. Prints the newest `limit` (default 50) that ended at or after `since`,
 * oldest first.
 */
export async function runCdrsCommand(args: readonly string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { since: { type: 'string' }, limit: { type: 'string', default: '50' }, json: { type: 'boolean', default: false } },
    }));
  } catch (error) {
    err.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  const since = values.since !== undefined ? Date.parse(values.since) : undefined;
  const limit = Number(values.limit);
  if ((since !== undefined && Number.isNaN(since)) || !Number.isInteger(limit) || limit < 1) {
    err.write(`--since takes an ISO date/time (2026-11-26 or 2026-11-26T09:00:00Z), --limit a positive whole number\n${USAGE}`);
    return 2;
  }
  const { FEDPBX_STATE_DIR: stateDir } = loadAgentConfig(env, ['FEDPBX_STATE_DIR']);
  const sinceDay = since !== undefined ? new Date(since).toISOString().slice(0, 10) : undefined;
  const picked: CdrEvent[] = [];
  let skipped = 0;
  // Day files newest first, until `limit` records are found.
  for (const file of (await listCdrFiles(stateDir)).reverse()) {
    if (sinceDay !== undefined && file.slice(0, 10) < sinceDay) break;
    const records: CdrEvent[] = [];
    for (const line of (await readFile(join(cdrDir(stateDir), file), 'utf8')).split('\n')) {
      if (line === '') continue;
      try {
        const cdr = CdrEvent.parse(JSON.parse(line));
        if (since === undefined || Date.parse(cdr.end) >= since) records.push(cdr);
      } catch {
        skipped += 1;
      }
    }
    picked.unshift(...records.slice(-(limit - picked.length)));
    if (picked.length >= limit) break;
  }
  for (const cdr of picked) out.write(values.json ? `${JSON.stringify(cdr)}\n` : formatCdr(cdr));
  if (!values.json) out.write(`${picked.length} call record${picked.length === 1 ? '' : 's'} from ${cdrDir(stateDir)}\n`);
  if (skipped > 0) err.write(`${skipped} unreadable line(s) skipped\n`);
  return 0;
}

function formatCdr(c: CdrEvent): string {
  const route = [c.routeKind, c.targetSiteId !== undefined ? `to ${c.targetSiteId}` : undefined, c.trunkId !== undefined ? `trunk ${c.trunkId}` : undefined].filter((x) => x !== undefined).join(' ');
  return `${c.end}  ${c.src.padStart(8)} -> ${c.dst.padEnd(16)} ${c.disposition.padEnd(10)} ${String(c.billSec).padStart(5)} s  ${route.padEnd(24)} ${c.cdrId}\n`;
}
