import { Worker } from 'node:worker_threads';
import { ExtensionTable, type ExtensionColumns } from '@fedpbx/dialplan';
import { SnapshotRejectedError, type SnapshotRejectionCode } from '@fedpbx/signing';
import { sharedUtf8 } from '../asterisk-config/render-in-worker.js';

/**
 * A head office's extensions read off the event loop (#21 §3): the site part's `extensions` text - 20 MB for
 * 100,000 phones - is parsed, validated and built into the ExtensionTable's columns in a worker thread, and only the
 * columns come back (their buffers moved, not copied). On the event loop, reading them into 100,000 validated
 * objects was ~700 ms of an apply's ~1 s and most of its GC; the table it then built from them was the one thing
 * routing kept.
 */

/** What crosses to the worker: the extensions' text as UTF-8 in shared memory (a string would be copied in one piece). */
export interface ExtensionJob {
  readonly bytes: SharedArrayBuffer;
  readonly siteId: string;
}

/** What the worker answers: the table's columns, the refusal the checks gave, or what broke. */
export type ExtensionReply =
  | { readonly ok: true; readonly columns: ExtensionColumns }
  | { readonly ok: false; readonly refusal: { readonly code: SnapshotRejectionCode; readonly message: string } }
  | { readonly ok: false; readonly failure: string };

/** The worker could not give a verdict (it crashed, ran out of memory, or took too long): not a verdict on the snapshot. */
export class ExtensionReaderFailure extends Error {
  override readonly name = 'ExtensionReaderFailure';
}

/** Raised while the last read failed (the snapshot was refused for it and the last-known-good stays in force). */
export const EXTENSION_READER_ALARM = 'extension-reader-failed';

export interface ExtensionReaderOptions {
  /** extension-worker.js: by default the one next to this module in dist/ (a test running from source names the built one). */
  readonly script?: URL;
  /** A read that has not answered this long after it was given its text is a failure (the worker is stopped). */
  readonly timeoutMs?: number;
  readonly alarms?: { raise(code: string, severity: 'critical' | 'warning', message: string): void; clear(code: string): void };
  /** Between slices of the encoding into shared memory: one turn of the event loop. */
  readonly pause?: () => Promise<void>;
}

/** Long enough for a head office's 100,000 extensions on a machine at load 30 (~5 s measured there). */
export const EXTENSION_READ_TIMEOUT_MS = 60_000;

/**
 * One read, its worker started at once (loading its modules - ~100 ms - while the event loop checks the text's
 * hash and signature) or taken ready (ExtensionReader.warm), and given the text only when `read` is called: the content is parsed only once the bytes are
 * known to be the controller's. `cancel` stops a worker whose read is not wanted (a refused or waiting site part).
 */
export interface ExtensionRead {
  /**
   * The table of `text[start, end)` (the site part's `extensions` member) for `siteId`. Rejects with the
   * SnapshotRejectedError the same text gives on the event loop (readSitePartExtensions), or an
   * ExtensionReaderFailure.
   */
  read(text: string, start: number, end: number, siteId: string): Promise<ExtensionTable>;
  cancel(): void;
}

/**
 * Starts a read. `warm`, when the reader has it: starts the next read's worker now, if none is waiting (a site whose
 * extensions are read in a worker - a head office - warms it at boot and after each such apply, so its next change
 * does not wait for a worker's start: ~250 ms of CPU, seconds on a loaded host, before routing can come into force).
 */
export interface ExtensionReader {
  (): ExtensionRead;
  readonly warm?: () => void;
  /**
   * Ends a waiting worker and warms none after: the agent is stopping, or handing over to its successor while its
   * calls drain (a spare kept ~30 MB until the process exited; in-process agents, as in tests, each left one).
   */
  readonly stop?: () => void;
}

/**
 * Reads in a worker thread of its own per read, which ends with it (what it held - the parsed extensions - is given
 * back). A worker started by `warm` waits, holding only its modules (~30 MB), and the next read takes it.
 */
export function workerExtensionReader(opts: ExtensionReaderOptions = {}): ExtensionReader {
  const script = opts.script ?? new URL('./extension-worker.js', import.meta.url);
  const timeoutMs = opts.timeoutMs ?? EXTENSION_READ_TIMEOUT_MS;
  const pause = opts.pause ?? nextTurn;
  let waiting: StartedWorker | undefined;
  let stopped = false;
  const reader = (): ExtensionRead => {
    const { worker, answer } = waiting ?? startWorker(script);
    waiting = undefined;
    let used = false;
    return {
      async read(text, start, end, siteId) {
        if (used) throw new Error('an ExtensionRead reads once');
        used = true;
        try {
          // Posted and not kept: the worker lets the bytes go once decoded (shared memory: freed when neither side
          // holds it), not 20 MB held here through the read.
          worker.postMessage({ bytes: await sharedUtf8(text.slice(start, end), pause), siteId } satisfies ExtensionJob);
          const table = tableOf(await within(answer, timeoutMs, worker));
          opts.alarms?.clear(EXTENSION_READER_ALARM);
          return table;
        } catch (error) {
          if (error instanceof ExtensionReaderFailure) opts.alarms?.raise(EXTENSION_READER_ALARM, 'critical', `a new snapshot's extensions could not be read (${error.message}); it was refused and the last-known-good stays in force until the next one`);
          throw error;
        } finally {
          void worker.terminate();
        }
      },
      cancel() {
        used = true;
        void worker.terminate();
      },
    };
  };
  return Object.assign(reader, {
    warm(): void {
      if (waiting !== undefined || stopped) return;
      const spare = startWorker(script);
      waiting = spare;
      // A spare cannot answer before it is given a job: its answer settling means it died (an error, an exit). The
      // next read then starts its own worker, as with none warmed - not fail, refusing a change for a spare's death.
      spare.answer.catch(() => {
        if (waiting === spare) waiting = undefined;
      });
    },
    stop(): void {
      stopped = true;
      if (waiting !== undefined) void waiting.worker.terminate();
      waiting = undefined;
    },
  });
}

/** A worker started, and its one answer (a failure when it errs or exits first). */
interface StartedWorker {
  readonly worker: Worker;
  readonly answer: Promise<ExtensionReply>;
}

function startWorker(script: URL): StartedWorker {
  // No Node options of this process: the script is built JavaScript (see render-in-worker.ts).
  const worker = new Worker(script, { execArgv: [] });
  const answer = workerAnswer(worker);
  // Never what keeps the process alive: an agent stopping mid-read, or with a worker waiting, ends. After the
  // listeners: adding a 'message' listener refs the worker's port again.
  worker.unref();
  // Until a read awaits it, a failure (a worker that could not start, or a spare that died) must not be an
  // unhandled rejection; the read that takes it then gets the failure.
  answer.catch(() => undefined);
  return { worker, answer };
}

function tableOf(reply: ExtensionReply): ExtensionTable {
  if (reply.ok) return ExtensionTable.fromColumns(reply.columns);
  if ('refusal' in reply) throw new SnapshotRejectedError(reply.refusal.code, reply.refusal.message);
  throw new ExtensionReaderFailure(`the extension reader failed: ${reply.failure}`);
}

/** The worker's one answer, or a failure when it errs or exits first. */
function workerAnswer(worker: Worker): Promise<ExtensionReply> {
  return new Promise<ExtensionReply>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', (error) => reject(new ExtensionReaderFailure(`the extension reader crashed: ${error.message}`)));
    worker.once('exit', (code) => reject(new ExtensionReaderFailure(`the extension reader stopped (exit code ${code}) before it answered`)));
  });
}

/** `answer`, or a failure once `timeoutMs` have passed (the worker is then stopped). */
async function within(answer: Promise<ExtensionReply>, timeoutMs: number, worker: Worker): Promise<ExtensionReply> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new ExtensionReaderFailure(`the extension reader did not answer within ${timeoutMs} ms`));
      void worker.terminate();
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
