import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Reads of many sockets into one reused buffer: Node's `onread` option (`new net.Socket({ onread: { buffer,
 * callback } })`), for sockets a `net.Server` accepted, which Node 20 makes without it.
 *
 * Why: by default every read of a socket allocates a Buffer (and its ArrayBuffer) for the bytes, pushes it through
 * the Readable stream's bookkeeping and schedules a `process.nextTick` (`maybeReadMore`), and every pass of the tick
 * queue makes a new `Map` (Node 20's `processPromiseRejections`). A FastAGI call is ~5 reads of a few bytes each;
 * read into a reused buffer, they cost none of that. `'end'`, `'error'` and `'close'` are emitted as before.
 *
 * How: `onread` is kept in two symbol-keyed slots of the socket, read by Node's `onStreamRead` on every read, and
 * the handle is told to read into the buffer (`useUserBuffer`). The slots are found once by making a socket with
 * the option and looking for the values given; if they are not found (another Node), sockets keep `'data'`.
 */
interface OnreadSlots {
  readonly buffer: symbol;
  readonly callback: symbol;
}

/** The callback Node calls on each read, with the socket as `this` (`stream[kBufferCb](nread, buffer)`). */
export type SharedReadCallback = (this: Duplex, byteCount: number, buffer: Buffer) => void;

/**
 * One buffer for every socket: Node calls the callback synchronously from each read, one read at a time, and the
 * callback copies out whatever it keeps. 16 KiB holds any FastAGI answer; a longer one comes in several reads.
 */
const SHARED_BUFFER = Buffer.allocUnsafe(16 * 1024);

let slots: OnreadSlots | null | undefined;

function findSlots(): OnreadSlots | null {
  const buffer = Buffer.alloc(1);
  const callback = (): void => undefined;
  // @types/node puts `onread` on connect()'s options only; Node's Socket constructor is where it is read.
  const probe = new Socket({ onread: { buffer, callback } } as ConstructorParameters<typeof Socket>[0]);
  let bufferSlot: symbol | undefined;
  let callbackSlot: symbol | undefined;
  for (const key of Object.getOwnPropertySymbols(probe)) {
    const value: unknown = (probe as unknown as Record<symbol, unknown>)[key];
    if (value === buffer) bufferSlot = key;
    else if (value === callback) callbackSlot = key;
  }
  probe.destroy();
  return bufferSlot !== undefined && callbackSlot !== undefined ? { buffer: bufferSlot, callback: callbackSlot } : null;
}

interface UserBufferHandle {
  useUserBuffer(buffer: Buffer): void;
}

/**
 * Makes `socket` deliver its reads to `callback` in the shared buffer instead of `'data'` events. Only for a socket
 * of a live TCP handle with nothing read into its stream yet (as in a server's `connection` listener); returns false
 * (nothing changed: use `'data'`) otherwise, or where this Node keeps `onread` elsewhere.
 */
export function readIntoSharedBuffer(socket: Duplex, callback: SharedReadCallback): boolean {
  if (!(socket instanceof Socket) || socket.destroyed || socket.readableLength > 0 || socket.readableFlowing !== null) return false;
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function') return false;
  if (slots === undefined) slots = findSlots();
  if (slots === null) return false;
  const target = socket as unknown as Record<symbol, unknown>;
  target[slots.buffer] = SHARED_BUFFER;
  target[slots.callback] = callback;
  handle.useUserBuffer(SHARED_BUFFER);
  return true;
}
