import { Worker } from 'node:worker_threads';
import { startWithSemiSpace } from '../state/heap.js';
import { RenderError, type RenderErrorCode } from '@fedpbx/dialplan';
import { IncludeFileWriteError, type IncludeFilesJob, type IncludeFilesOptions, type IncludeFilesResult, type IncludeFilesRunner, type SnapshotText } from './include-files.js';

/** An error as it crosses back from the worker: a RenderError keeps its fields, any other error its message and code. */
export type WorkerFailure =
  | { readonly kind: 'render'; readonly code: RenderErrorCode; readonly object: string; readonly field: string; readonly reason: string }
  | { readonly kind: 'write'; readonly file: string; readonly code: string; readonly message: string }
  | { readonly kind: 'other'; readonly message: string; readonly code: string | undefined };

type WorkerReply = { readonly ok: true; readonly result: IncludeFilesResult } | { readonly ok: false; readonly failure: WorkerFailure };

export function describeFailure(error: unknown): WorkerFailure {
  if (error instanceof RenderError) return { kind: 'render', code: error.code, object: error.object, field: error.field, reason: error.reason };
  if (error instanceof IncludeFileWriteError) return { kind: 'write', file: error.file, code: error.code, message: error.detail };
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  return { kind: 'other', message: error instanceof Error ? error.message : String(error), code };
}

function revive(failure: WorkerFailure): Error {
  if (failure.kind === 'render') return new RenderError(failure.code, failure.object, failure.field, failure.reason);
  if (failure.kind === 'write') return new IncludeFileWriteError(failure.file, failure.code, failure.message);
  return Object.assign(new Error(failure.message), failure.code === undefined ? {} : { code: failure.code });
}

/**
 * The job as it crosses to the worker: its options as `workerData`, and the snapshot's text as UTF-8 bytes,
 * transferred to it (the one message it gets). A string in `workerData` is copied by the structured
 * clone in one piece on the event loop: 40-170 ms for a head office's 20 MB, measured in bench:apply, where every
 * call waited for it. Posted rather than in `workerData` (which the worker holds to its end): the worker lets the
 * bytes and the text go once it has parsed them, not 20 MB of each held through the seconds of its render.
 */
export type WorkerJob = IncludeFilesOptions;

/** Characters measured or encoded between two turns of the event loop: a few ms. */
const CHARS_PER_SLICE = 1 << 18;

/**
 * `text` as UTF-8 in a SharedArrayBuffer, measured then encoded a slice at a time, with `pause` (a turn of the event
 * loop) between slices: Buffer.byteLength over a head office's whole 20 MB text took 250 ms at its first call on
 * the loaded development machine. A slice never ends between the halves of a surrogate pair, so each slice
 * measures and encodes as it does within the whole. Pieces (SnapshotText) are sliced each on its own: a slice
 * across two would join them, and the first slice of a joined 20 MB string copies all of it.
 */
export function sharedUtf8(text: SnapshotText, pause: () => Promise<void>, charsPerSlice = CHARS_PER_SLICE): Promise<SharedArrayBuffer> {
  return utf8In((length) => new SharedArrayBuffer(length), text, pause, charsPerSlice);
}

/**
 * {@link sharedUtf8} into an ArrayBuffer of its own, for a worker to take over (postMessage's transfer list): the
 * bytes then leave this thread at once. A SharedArrayBuffer stays until both threads' collectors have dropped it, and
 * here that waited for a full collection of the agent's heap: a head office's 20 MB held through its render.
 */
export function transferableUtf8(text: SnapshotText, pause: () => Promise<void>, charsPerSlice = CHARS_PER_SLICE): Promise<ArrayBuffer> {
  return utf8In((length) => new ArrayBuffer(length), text, pause, charsPerSlice);
}

async function utf8In<B extends ArrayBufferLike>(alloc: (length: number) => B, text: SnapshotText, pause: () => Promise<void>, charsPerSlice: number): Promise<B> {
  const slices = (typeof text === 'string' ? [text] : text).flatMap((piece) => slicesOf(piece, charsPerSlice));
  let length = 0;
  for (const [i, slice] of slices.entries()) {
    if (i > 0) await pause();
    length += Buffer.byteLength(slice(), 'utf8');
  }
  const bytes = alloc(length);
  const view = Buffer.from(bytes);
  let written = 0;
  for (const slice of slices) {
    await pause();
    written += view.write(slice(), written, 'utf8');
  }
  return bytes;
}

/** `text` in slices of about `charsPerSlice` characters, none ending between the halves of a surrogate pair. */
function slicesOf(text: string, charsPerSlice: number): (() => string)[] {
  const slices: (() => string)[] = [];
  for (let from = 0; from < text.length; ) {
    let to = Math.min(text.length, from + charsPerSlice);
    const last = text.charCodeAt(to - 1);
    // A slice of one high surrogate takes its pair along instead (it cannot end before it).
    if (to < text.length && last >= 0xd800 && last <= 0xdbff) to += to - 1 > from ? -1 : 1;
    const [start, end] = [from, to];
    slices.push(() => text.slice(start, end));
    from = to;
  }
  return slices;
}

/** The text the worker renders from (render-worker.ts): the bytes posted to it. */
export function textOfBytes(bytes: ArrayBufferLike): string {
  return Buffer.from(bytes).toString('utf8');
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs each job in a worker thread of its own, which ends with it: `script` is render-worker.js (by default the one
 * next to this module in dist/; a test running from source names the built one). The event loop only encodes the
 * snapshot's text into shared memory (in slices) and takes the result back.
 */
export function workerRunner(script: URL = new URL('./render-worker.js', import.meta.url)): IncludeFilesRunner {
  return async (job: IncludeFilesJob) => {
    const { snapshotText, ...options } = job;
    return answerOf(startWorker(script, options, await transferableUtf8(snapshotText, nextTurn)));
  };
}

/**
 * The render worker's semi-spaces: 4 MB, not the 16 MB the agent's unit gives its own heap (a young generation of
 * 32 MB, all of it resident through a render that keeps little of what it makes). bench:render-memory-style run on
 * the 100,000-extension pair: the render's peak +115 -> +90 MB.
 */
const RENDER_SEMI_SPACE_MB = 4;

/**
 * A render worker started on `bytes`, handed over to it (queued until it listens: its one message): this thread
 * keeps none of a head office's 20 MB through the seconds of its render.
 */
function startWorker(script: URL, options: WorkerJob, bytes: ArrayBuffer): Worker {
  // No Node options of this process: the script is built JavaScript, and a resolution condition such as a test
  // runner's `@fedpbx/source` would send its imports to TypeScript sources. (V8 flags are process-wide anyway.)
  const worker = startWithSemiSpace(RENDER_SEMI_SPACE_MB, () => new Worker(script, { workerData: options, execArgv: [] }));
  worker.postMessage(bytes, [bytes]);
  return worker;
}

/** The worker's one reply: its result, or its failure as an error of the kind it was. */
function answerOf(worker: Worker): Promise<IncludeFilesResult> {
  return new Promise<IncludeFilesResult>((resolve, reject) => {
    let settled = false;
    worker.once('message', (reply: WorkerReply) => {
      settled = true;
      if (reply.ok) resolve(reply.result);
      else reject(revive(reply.failure));
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the include file renderer stopped (exit code ${code}) before it answered`));
    });
  });
}
