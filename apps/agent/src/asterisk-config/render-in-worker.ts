import { Worker } from 'node:worker_threads';
import { RenderError, type RenderErrorCode } from '@fedpbx/dialplan';
import { IncludeFileWriteError, type IncludeFilesJob, type IncludeFilesResult, type IncludeFilesRunner } from './include-files.js';

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
 * Runs each job in a worker thread of its own, which ends with it: `script` is render-worker.js (by default the one
 * next to this module in dist/; a test running from source names the built one). The event loop only copies the
 * snapshot's text in (a few ms for a head office's 20 MB) and the result out.
 */
export function workerRunner(script: URL = new URL('./render-worker.js', import.meta.url)): IncludeFilesRunner {
  return (job: IncludeFilesJob) =>
    new Promise<IncludeFilesResult>((resolve, reject) => {
      // No Node options of this process: the script is built JavaScript, and a resolution condition such as a test
      // runner's `@fedpbx/source` would send its imports to TypeScript sources. (V8 flags are process-wide anyway.)
      const worker = new Worker(script, { workerData: job, execArgv: [] });
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
