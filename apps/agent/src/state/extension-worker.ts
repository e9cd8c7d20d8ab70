/**
 * Worker thread entry (extension-reader.ts): waits for one {@link ExtensionJob}, reads the site part's extensions
 * from it - parsed and validated exactly as on the event loop (readSitePartExtensions: the same refusals, the same
 * texts) - builds their ExtensionTable, posts its columns (the buffers moved) and ends. A worker per read: the
 * 100,000 parsed extensions it held are given back with it.
 */
import { parentPort } from 'node:worker_threads';
import { ExtensionTable } from '@fedpbx/dialplan';
import { readSitePartExtensions, SnapshotRejectedError } from '@fedpbx/signing';
import type { ExtensionReply } from './extension-reader.js';

const port = parentPort;
if (port === null) throw new Error('extension-worker.js runs as a worker thread (see extension-reader.ts)');

// Once: the reader stops this worker when the answer is in (and it never keeps the agent's process alive).
port.once('message', (job: { bytes?: SharedArrayBuffer; readonly siteId: string }) => {
  // The text decoded, the bytes let go (the reader posted them without keeping them): 20 MB of a head office's not
  // held through the parse.
  const text = Buffer.from(job.bytes as SharedArrayBuffer).toString('utf8');
  job.bytes = undefined;
  const { reply, transfer } = read(text, job.siteId);
  port.postMessage(reply, transfer);
});

function read(text: string, siteId: string): { reply: ExtensionReply; transfer: ArrayBuffer[] } {
  try {
    const extensions = readSitePartExtensions(text);
    const { columns, transfer } = ExtensionTable.of(extensions, { siteId }).columns();
    return { reply: { ok: true, columns }, transfer };
  } catch (error) {
    if (error instanceof SnapshotRejectedError) return { reply: { ok: false, refusal: { code: error.code, message: error.message } }, transfer: [] };
    return { reply: { ok: false, failure: error instanceof Error ? error.message : String(error) }, transfer: [] };
  }
}
