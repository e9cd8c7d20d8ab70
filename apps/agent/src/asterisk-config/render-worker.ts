/**
 * Worker thread entry: runs one {@link IncludeFilesJob} (its `workerData`), posts the outcome, and ends. Started by
 * `workerRunner` for each applied snapshot, so what a head office's render holds (its parsed config; the files are
 * streamed to disk, include-files.ts) is given back when it is done rather than kept by a worker that waits for the next change.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { configOfStoredText } from '@fedpbx/signing';
import type { SiteConfig } from '@fedpbx/contracts';
import { fullCollection } from '../state/heap.js';
import { writeIncludeFilesOf } from './include-files.js';
import { describeFailure, textOfBytes, type WorkerJob } from './render-in-worker.js';

const port = parentPort;
if (port === null) throw new Error('render-worker.js runs as a worker thread (see render-in-worker.ts)');
// The bytes (handed over by the agent, which encoded the text as UTF-8) are decoded in the message's own turn and
// parsed in the next one: `bytes` is held by the message's dispatch while this listener runs, and through a parse's
// scavenges its buffer would be promoted and its 20 MB kept until a full collection (bench:render-memory: to the
// middle of the second file).
let received: string | undefined;
port.once('message', (bytes: ArrayBuffer) => {
  received = textOfBytes(bytes);
  setImmediate(render);
});

function render(): void {
  let config: SiteConfig;
  try {
    config = configOfStoredText(received as string);
  } catch (error) {
    port?.postMessage({ ok: false, failure: describeFailure(error) });
    return;
  } finally {
    received = undefined;
  }
  // A full collection before each file: the text and the parse's garbage go before the first (a head office's 20 MB
  // text is a large object, freed only so), and what one file's render left (the section names it checked, sorted
  // lists, grown-and-dropped hash tables) before the next, rather than V8 letting the heap grow by half again first.
  // bench:render-memory: the render's peak +170 -> +1xx MB for ~0.1 s of this thread's CPU.
  writeIncludeFilesOf(config, workerData as WorkerJob, fullCollection()).then(
    (result) => port?.postMessage({ ok: true, result }),
    (error: unknown) => port?.postMessage({ ok: false, failure: describeFailure(error) }),
  );
}
