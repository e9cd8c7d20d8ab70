// npm run bench:agent-store - the agent's snapshot store alone (issue #20 §1): CPU per stored snapshot of the ways
// to store it durably, alternating in one run, so the choice is made on this machine's figures:
// - `file`: the build before the journal - a file per revision, written atomically (writeFileAtomic: create, write,
//   fsync, close, chmod, rename, directory fsync) and the oldest unlinked: eight trips through libuv's pool;
// - `file-worker`: the same sequence done synchronously in a worker thread of its own: one message round trip;
// - `journal`: SnapshotStore as it is - one O_DSYNC write of a record into a journal's preallocated zeros.
// Records of BENCH_RECORD_BYTES random bytes (default 68,000: a 1,000-site pair as stored), BENCH_STORES per
// strategy and round, BENCH_ROUNDS rounds. CPU: process.cpuUsage (all threads, kernel time included) and the main
// thread's own (/proc/thread-self/schedstat). One JSON line on stdout.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SiteSnapshot } from '@fedpbx/contracts';
import { writeFileAtomic } from '../../apps/agent/src/state/atomic-file.js';
import { SnapshotStore } from '../../apps/agent/src/state/snapshot-store.js';

const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : Number(raw);
};
const RECORD_BYTES = envInt('BENCH_RECORD_BYTES', 68_000);
const STORES = envInt('BENCH_STORES', 100);
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const HISTORY = 20;
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const mainMs = (): number => (existsSync('/proc/thread-self/schedstat') ? Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6 : 0);

type Store = { save(revision: number, bytes: Uint8Array): Promise<void>; close(): Promise<void> };

async function fileStore(dir: string): Promise<Store> {
  const dirHandle = await open(dir, 'r');
  return {
    async save(revision, bytes) {
      await writeFileAtomic(join(dir, `${revision}.json`), bytes, { dirHandle });
      if (revision > HISTORY) await rm(join(dir, `${revision - HISTORY}.json`), { force: true });
    },
    close: () => dirHandle.close(),
  };
}

/** The same sequence as `file`, synchronous, in a thread of its own. */
const WORKER_SOURCE = `
const fs = require('node:fs'), path = require('node:path');
const { parentPort, workerData: dir } = require('node:worker_threads');
const dirFd = fs.openSync(dir, 'r');
parentPort.on('message', ({ revision, bytes }) => {
  const tmp = path.join(dir, '.' + revision + '.json.tmp');
  const fd = fs.openSync(tmp, 'wx', 0o640);
  fs.writeSync(fd, bytes);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.chmodSync(tmp, 0o640);
  fs.renameSync(tmp, path.join(dir, revision + '.json'));
  fs.fsyncSync(dirFd);
  if (revision > ${HISTORY}) fs.rmSync(path.join(dir, (revision - ${HISTORY}) + '.json'), { force: true });
  parentPort.postMessage(revision);
});`;

async function workerStore(dir: string): Promise<Store> {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: dir });
  let done: (() => void) | undefined;
  worker.on('message', () => done?.());
  return {
    save: (revision, bytes) =>
      new Promise<void>((resolve) => {
        done = resolve;
        worker.postMessage({ revision, bytes });
      }),
    close: async () => void (await worker.terminate()),
  };
}

async function journalStore(dir: string): Promise<Store> {
  const store = new SnapshotStore(dir, 'bench', [], HISTORY);
  await store.init();
  return { save: (revision, bytes) => store.save({ revision } as SiteSnapshot, bytes), close: () => store.close() };
}

async function main(): Promise<void> {
  const strategies = { file: fileStore, 'file-worker': workerStore, journal: journalStore };
  const bytes = randomBytes(RECORD_BYTES);
  const base = mkdtempSync(join(tmpdir(), 'fedpbx-bench-agent-store-'));
  const totals = Object.fromEntries(Object.keys(strategies).map((k) => [k, { cpu: 0, main: 0, wall: 0 }]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, make] of Object.entries(strategies)) {
        const dir = mkdtempSync(join(base, `${name}-`));
        const store = await make(dir);
        await store.save(1, bytes); // the first opens what the others keep open
        const [c0, m0, w0] = [cpuMs(), mainMs(), performance.now()];
        for (let r = 2; r <= STORES + 1; r++) await store.save(r, bytes);
        const t = totals[name] as { cpu: number; main: number; wall: number };
        t.cpu += cpuMs() - c0;
        t.main += mainMs() - m0;
        t.wall += performance.now() - w0;
        await store.close();
      }
    }
    const per = (x: number): number => Math.round((x / (ROUNDS * STORES)) * 1000) / 1000;
    const result = {
      record_bytes: RECORD_BYTES,
      stores: ROUNDS * STORES,
      ms_per_store: Object.fromEntries(Object.entries(totals).map(([k, t]) => [k, { cpu: per(t.cpu), main_thread: per(t.main), wall: per(t.wall) }])),
      load_average: loadavg().map((l) => Math.round(l * 10) / 10),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:agent-store: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
