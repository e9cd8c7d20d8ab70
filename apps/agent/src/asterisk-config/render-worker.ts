/**
 * Worker thread entry: runs one {@link IncludeFilesJob} (its `workerData`), posts the outcome, and ends. Started by
 * `workerRunner` for each applied snapshot, so what a head office's render holds (its parsed config; the files are
 * streamed to disk, include-files.ts) is given back when it is done rather than kept by a worker that waits for the next change.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { configOfStoredText } from '@fedpbx/signing';
import type { SiteConfig } from '@fedpbx/contracts';
import { writeIncludeFilesOf } from './include-files.js';
import { describeFailure, textOfBytes, type WorkerJob } from './render-in-worker.js';

const port = parentPort;
if (port === null) throw new Error('render-worker.js runs as a worker thread (see render-in-worker.ts)');
// The text is decoded and parsed here, off the event loop (the agent put it in shared memory as UTF-8 and posts it),
// and neither it nor the bytes are held through the render: only the config parsed from them.
port.once('message', (bytes: SharedArrayBuffer) => {
  let config: SiteConfig;
  try {
    config = configOfStoredText(textOfBytes(bytes));
  } catch (error) {
    port.postMessage({ ok: false, failure: describeFailure(error) });
    return;
  }
  writeIncludeFilesOf(config, workerData as WorkerJob).then(
    (result) => port.postMessage({ ok: true, result }),
    (error: unknown) => port.postMessage({ ok: false, failure: describeFailure(error) }),
  );
});
