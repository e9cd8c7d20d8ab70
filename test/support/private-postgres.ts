import { spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './nats-server.js';
import { spawnOwned } from './owned-process.js';

/** Debian's PostgreSQL server binaries; FEDPBX_PG_BIN_DIR for another layout. */
export const PG_BIN_DIR = process.env.FEDPBX_PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  readonly port: number;
  /** URL of database `name` (trust auth, user postgres). */
  url(name?: string): string;
  createDatabase(name: string): Promise<string>;
  pid(): number | undefined;
  /** Fast shutdown (SIGINT: open sessions are ended, as in a restart) and wait for the process to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves when it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL server of the test's own (initdb into a temp dir, a free port, fsync off), which a test may stop and
 * start - the shared server on 5432 is never touched. PostgreSQL refuses to run as root: as root, it runs as the
 * `postgres` user (Debian's package makes it).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!existsSync(join(PG_BIN_DIR, 'postgres'))) throw new Error(`${PG_BIN_DIR}/postgres not found: install the Debian package postgresql (or set FEDPBX_PG_BIN_DIR)`);
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-pg-'));
  const dataDir = join(dir, 'data');
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  const initdb = spawnSync(join(PG_BIN_DIR, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    encoding: 'utf8',
    ...(owner !== undefined ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  if (initdb.status !== 0) throw new Error(`initdb failed: ${initdb.stderr}`);
  const port = await freePort();
  const log: string[] = [];
  let child: ChildProcess | undefined;
  const url = (name = 'postgres'): string => `postgres://postgres@127.0.0.1:${port}/${name}`;

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const c = spawnOwned(
      join(PG_BIN_DIR, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      { stdio: ['ignore', 'ignore', 'pipe'], ...(owner !== undefined ? { uid: owner.uid, gid: owner.gid } : {}) },
    );
    child = c;
    c.stderr?.on('data', (d: Buffer) => {
      log.push(d.toString());
      if (log.length > 500) log.splice(0, log.length - 500);
    });
    c.once('exit', () => {
      if (child === c) child = undefined;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child === undefined) throw new Error(`postgres exited at start:\n${log.join('').slice(-2000)}`);
      const client = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 1000 });
      const ok = await client.connect().then(
        () => true,
        () => false,
      );
      await client.end().catch(() => undefined);
      if (ok) return;
      if (Date.now() > deadline) {
        c.kill('SIGKILL'); // the caller has no handle to stop a server that never started
        throw new Error(`postgres not accepting connections within 30 s:\n${log.join('').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (c === undefined) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGINT');
    });
    child = undefined;
  };
  await start();
  return {
    port,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    pid: () => child?.pid,
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root and there is no postgres user to run a private PostgreSQL as');
  return { uid, gid };
}
