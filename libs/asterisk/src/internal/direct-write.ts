import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { getSystemErrorName } from 'node:util';

/**
 * Writes of short lines straight to a TCP socket's handle (`handle.writeUtf8String`), past the Writable stream - the
 * write side of {@link readIntoSharedBuffer}'s `onread`.
 *
 * Why: `socket.write(line)` goes through the Writable's state (`writeOrBuffer`, `_write`, `writeGeneric`), makes a
 * `WriteWrap` for the handle, and when the kernel took the bytes at once - always, for a FastAGI command of a few
 * hundred bytes on a fresh socket - schedules a `process.nextTick` to run the write's callback and update the
 * stream's counters, whose pass of the tick queue makes a `Map` in Node 20 (`processPromiseRejections`). A FastAGI
 * call writes 3-4 commands. Written here, a line the kernel takes at once costs one native call and nothing else:
 * the `WriteWrap` is reused until a write is left queued in libuv (the handle then holds it until done, and a new one
 * is made for the next write).
 *
 * Order and close are as before: libuv queues a write it could not finish, later writes go behind it, and
 * `socket.end()`'s shutdown waits for the queue. A write that fails (the peer reset) destroys the socket with the
 * error, as `socket.write` would ('error' then 'close'). Where the handle or Node's `WriteWrap` is not there (another
 * Node, a socket without a TCP handle, a test double), lines go through `socket.write`.
 */
interface StreamWrapBinding {
  readonly WriteWrap: new () => WriteReq;
  readonly streamBaseState: Int32Array;
  readonly kLastWriteWasAsync: number;
}

interface WriteReq {
  /** Called by the handle when a queued write is done (status < 0: failed). */
  oncomplete?: (this: WriteReq, status: number) => void;
  /** Set on a req the handle keeps: the socket to destroy if the queued write fails. */
  socket?: Socket;
}

interface StringWriteHandle {
  writeUtf8String(req: WriteReq, line: string): number;
}

type HandleSocket = Socket & { _handle?: Partial<StringWriteHandle> | null };

let binding: StreamWrapBinding | null | undefined;
/** The req lent to every write the kernel finishes at once (such a write leaves nothing attached to it). */
let spareReq: WriteReq | undefined;

function loadBinding(): StreamWrapBinding | null {
  try {
    // process.binding('stream_wrap') is the one public way to Node's WriteWrap (on its allow list, no warning).
    const found = (process as unknown as { binding?: (name: string) => Partial<StreamWrapBinding> }).binding?.('stream_wrap');
    if (found === undefined || typeof found.WriteWrap !== 'function' || !(found.streamBaseState instanceof Int32Array) || typeof found.kLastWriteWasAsync !== 'number') return null;
    return found as StreamWrapBinding;
  } catch {
    return null;
  }
}

/**
 * Whether {@link writeLine} can write to `socket`'s handle: a net.Socket with a live handle that writes strings, on a
 * Node whose WriteWrap was found. Checked once per socket (a session keeps the answer).
 */
export function canWriteDirect(socket: Duplex): boolean {
  if (!(socket instanceof Socket) || socket.destroyed) return false;
  const handle = (socket as HandleSocket)._handle;
  if (handle === null || handle === undefined || typeof handle.writeUtf8String !== 'function') return false;
  if (binding === undefined) binding = loadBinding();
  return binding !== null;
}

/**
 * Writes `line` (UTF-8) to `socket`, for which {@link canWriteDirect} said yes. Falls back to `socket.write` when the
 * socket is no longer writable (destroyed, ended: the stream then reports as it would have).
 */
export function writeLine(socket: Duplex, line: string): void {
  const handle = (socket as HandleSocket)._handle;
  if (binding == null || handle == null || socket.destroyed || !socket.writable || typeof handle.writeUtf8String !== 'function') {
    socket.write(line);
    return;
  }
  const req = spareReq ?? new binding.WriteWrap();
  spareReq = undefined;
  const error = handle.writeUtf8String(req, line);
  if (error !== 0) {
    spareReq = req;
    socket.destroy(writeError(error));
    return;
  }
  if (binding.streamBaseState[binding.kLastWriteWasAsync] !== 0) {
    // Queued in libuv: the handle holds this req until the write is done.
    req.socket = socket as Socket;
    req.oncomplete = onQueuedWriteDone;
    return;
  }
  spareReq = req;
}

function onQueuedWriteDone(this: WriteReq, status: number): void {
  const socket = this.socket;
  this.socket = undefined;
  if (status < 0 && socket !== undefined && !socket.destroyed) socket.destroy(writeError(status));
}

function writeError(status: number): Error {
  const code = errorName(status);
  const error = new Error(`write ${code}`) as NodeJS.ErrnoException;
  error.errno = status;
  error.code = code;
  error.syscall = 'write';
  return error;
}

function errorName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return `E${-status}`;
  }
}
