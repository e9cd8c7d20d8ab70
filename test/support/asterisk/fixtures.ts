// Test support: the byte-exact Asterisk 22 FastAGI recordings (committed under libs/asterisk/fixtures) and
// what the peer needs to replay them: the environment block turned back into placeCall options, and the
// bytes each side wrote after it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlaceCallOptions } from './fastagi-peer.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const FIXTURE_DIR = join(REPO_ROOT, 'libs', 'asterisk', 'fixtures', 'asterisk-22');

export type Direction = 'asterisk->server' | 'server->asterisk';

export interface AgiFixture {
  readonly file: string;
  readonly scenario: string;
  readonly exchange: readonly { readonly t_ms: number; readonly dir: Direction; readonly data?: string; readonly data_base64?: string }[];
  readonly socket_events?: readonly { readonly t_ms: number; readonly event: string }[];
}

/** Did the server half-close before Asterisk's FIN (so Asterisk's last HANGUP answered that close)? */
export function serverClosedFirst(f: AgiFixture): boolean {
  const ev = f.socket_events ?? [];
  const half = ev.findIndex((e) => e.event.startsWith('server half-close'));
  const fin = ev.findIndex((e) => e.event === 'FIN from asterisk');
  return half >= 0 && fin >= 0 && half < fin;
}

export function loadAgiFixture(file: string): AgiFixture {
  const parsed = JSON.parse(readFileSync(join(FIXTURE_DIR, file), 'utf8')) as Omit<AgiFixture, 'file'>;
  return { file, ...parsed };
}

export function chunkBytes(c: AgiFixture['exchange'][number]): Buffer {
  return c.data_base64 !== undefined ? Buffer.from(c.data_base64, 'base64') : Buffer.from(c.data ?? '', 'utf8');
}

export interface SplitFixture {
  /** The environment block Asterisk sent, up to and including the empty line. */
  readonly env: Buffer;
  /** The server's writes, each with the Asterisk bytes that followed it (up to the next server write). */
  readonly steps: { readonly send: Buffer; readonly expect: Buffer }[];
  /** Asterisk bytes after the environment block and before the server's first write (normally none). */
  readonly beforeFirst: Buffer;
  readonly envLines: Map<string, string>;
}

export function splitFixture(f: AgiFixture): SplitFixture {
  const fromAsterisk: Buffer[] = [];
  const steps: { send: Buffer; expect: Buffer[] }[] = [];
  for (const c of f.exchange) {
    const bytes = chunkBytes(c);
    if (c.dir === 'server->asterisk') steps.push({ send: bytes, expect: [] });
    else if (steps.length === 0) fromAsterisk.push(bytes);
    else steps[steps.length - 1]?.expect.push(bytes);
  }
  const head = Buffer.concat(fromAsterisk);
  const end = head.indexOf('\n\n');
  if (end < 0) throw new Error(`${f.file}: no complete environment block before the first command`);
  const env = head.subarray(0, end + 2);
  const envLines = new Map<string, string>();
  for (const line of env.toString('utf8').split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) envLines.set(line.slice(0, i), line.slice(i + 2));
    else if (line.endsWith(':')) envLines.set(line.slice(0, -1), '');
  }
  return {
    env,
    steps: steps.map((s) => ({ send: s.send, expect: Buffer.concat(s.expect) })),
    beforeFirst: head.subarray(end + 2),
    envLines,
  };
}

/** placeCall options that make the peer send exactly the recorded environment block. */
export function optionsFromEnv(env: Map<string, string>): Omit<PlaceCallOptions, 'host' | 'port'> {
  const get = (k: string): string => {
    const v = env.get(k);
    if (v === undefined) throw new Error(`env has no ${k}`);
    return v;
  };
  const unknownToNull = (v: string): string | null => (v === 'unknown' ? null : v);
  const request = get('agi_request').replace(/^agi:\/\//, '');
  const slash = request.indexOf('/');
  const args: string[] = [];
  for (let i = 1; env.has(`agi_arg_${i}`); i += 1) args.push(get(`agi_arg_${i}`));
  return {
    script: env.get('agi_network_script') ?? '',
    requestHost: slash < 0 ? request : request.slice(0, slash),
    channel: get('agi_channel'),
    language: get('agi_language'),
    uniqueid: get('agi_uniqueid'),
    version: get('agi_version'),
    callerId: { num: unknownToNull(get('agi_callerid')), name: unknownToNull(get('agi_calleridname')) },
    callingPres: Number(get('agi_callingpres')),
    dnid: get('agi_dnid'),
    rdnis: get('agi_rdnis'),
    context: get('agi_context'),
    extension: get('agi_extension'),
    priority: Number(get('agi_priority')),
    accountCode: get('agi_accountcode'),
    threadId: get('agi_threadid'),
    args,
  };
}
