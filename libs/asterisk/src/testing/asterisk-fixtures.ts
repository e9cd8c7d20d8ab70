// Test support (not part of the public API, excluded from the build): loads the byte-exact Asterisk 22
// recordings copied from /work/shared/fixtures/asterisk-22 into ../../fixtures/asterisk-22.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'asterisk-22');

export type FixtureDirection = 'asterisk->server' | 'server->asterisk';

export interface FixtureChunk {
  readonly t_ms: number;
  readonly dir: FixtureDirection;
  readonly data?: string;
  readonly data_base64?: string;
}

export interface Fixture {
  readonly file: string;
  readonly scenario: string;
  readonly protocol: string;
  readonly exchange: readonly FixtureChunk[];
  readonly socket_events?: readonly { readonly t_ms: number; readonly event: string }[];
}

export function loadFixtures(prefix: 'agi-' | 'ami-'): Fixture[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(readFileSync(join(FIXTURE_DIR, file), 'utf8')) as Omit<Fixture, 'file'>) }));
}

export function loadFixture(file: string): Fixture {
  const found = [...loadFixtures('agi-'), ...loadFixtures('ami-')].find((f) => f.file === file);
  if (!found) throw new Error(`no fixture ${file}`);
  return found;
}

export function chunkBytes(chunk: FixtureChunk): Buffer {
  if (chunk.data_base64 !== undefined) return Buffer.from(chunk.data_base64, 'base64');
  return Buffer.from(chunk.data ?? '', 'utf8');
}

/** The chunks one side wrote, as recorded. */
export function chunksFrom(fixture: Fixture, dir: FixtureDirection): Buffer[] {
  return fixture.exchange.filter((c) => c.dir === dir).map(chunkBytes);
}

/** Every way we re-chunk a stream: as recorded, [0,k)+[k,n) for every k, and one byte at a time. */
export function* rechunkings(recorded: readonly Buffer[]): Generator<{ label: string; chunks: Buffer[] }> {
  yield { label: 'recorded', chunks: [...recorded] };
  const all = Buffer.concat(recorded);
  for (let k = 0; k <= all.length; k += 1) {
    yield { label: `split@${k}`, chunks: [all.subarray(0, k), all.subarray(k)] };
  }
  yield { label: 'byte-at-a-time', chunks: Array.from({ length: all.length }, (_, i) => all.subarray(i, i + 1)) };
}
