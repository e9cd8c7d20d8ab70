/**
 * The AMI byte stream of one connection, once `asterisk-manager` has connected and logged in (ami-client.ts).
 *
 * - Out: actions already serialised (formatAmiAction) are gathered and written in one socket write per tick, in the
 *   order they were sent. Asterisk reads one action at a time per session and answers each in turn with its
 *   ActionID, so a pipelined batch is answered like the same actions written one by one.
 * - In: the socket reads into one buffer of the connection's own (net.connect's `onread`), and every read goes
 *   through @fedpbx/asterisk's AmiParser (bounded: line, header and message limits) from the banner on, lines decoded
 *   straight from that buffer. A `'data'` event per read allocated a Buffer, ran the stream's bookkeeping and a
 *   nextTick, and the package's `setEncoding('utf-8')` decoded it to a string that was encoded back to bytes for the
 *   parser; at 50 calls a second each call's `Cdr` and DeviceStateChange events are reads of their own.
 *   Messages up to and including the Login answer belong to the package (its login callback), which reads `'data'`
 *   events: until then each read is also handed to it as one, as text. The first `Response: Success` ends that,
 *   the package's reader is detached, and every later message is ours - also those that came in the same read as the
 *   Login answer, which the package had already split for itself (its `rawevent`s are not listened to).
 * - Reads held in time: calls ending one at a time bring one read each (a call's DeviceStateChange pair and its
 *   `Cdr` come together), and each read is a wake-up of the process from idle - at 50 calls a second that wake-up,
 *   not the parsing, was most of the agent's CPU per call (bench:cdr-trickle: the same calls sent in 100 ms bursts
 *   cost the agent 0.28 ms each instead of 0.4-0.6). A read that comes less than `holdMs()` after the previous read
 *   (or the end of a hold) stops reading for that long: what Asterisk sends meanwhile waits in the socket buffer and
 *   comes in one read. So events come late by at most the hold while they come densely; a lone event is read at
 *   once; a backlog is read through (a read that fills the buffer is not held); an answer is never held (no hold
 *   while one is awaited, and sending an action ends a hold). Asterisk's `writetimeout` (1000 ms in
 *   deploy/asterisk/manager_fedpbx.conf) is far above the hold: it never drops the session for it.
 */
import net from 'node:net';
import { AmiParser, type AmiMessage } from '@fedpbx/asterisk';
import type { ManagerInstance } from 'asterisk-manager';

export interface AmiStreamHandlers {
  /** Every message after the Login answer, in order. */
  readonly message: (message: AmiMessage) => void;
  /** The stream cannot be read any further (AmiParseError: a limit or the banner); the connection must go. */
  readonly failed: (error: Error) => void;
  /** Whether an answer is awaited (an action in flight): reads are not held then. */
  readonly answerAwaited: () => boolean;
}

/** Bytes one read may bring: a few whole events, or a slice of a large list (DeviceStateList at connect). */
const READ_BUFFER_BYTES = 64 * 1024;

export class AmiStream {
  private readonly parser = new AmiParser({ expectBanner: true });
  private owned = false;
  private outbox: string[] = [];
  private failed = false;
  private detached = false;
  /** When the last read came or the last hold ended (performance.now()). */
  private lastWake = Number.NEGATIVE_INFINITY;
  private held = false;
  private holdTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly handlers: AmiStreamHandlers,
    private readonly holdMs: () => number,
  ) {}

  /**
   * `manager.connect()`, with the socket the package opens made by us: it calls `net.createConnection(port, host)`
   * synchronously and exposes the socket nowhere, so that function is replaced for exactly the length of the call by
   * one that adds `onread` (reads into this stream's buffer, no `'data'` events).
   */
  static open(manager: ManagerInstance, port: number, host: string, holdMs: () => number, onConnect: () => void, handlers: AmiStreamHandlers): AmiStream {
    const original = net.createConnection;
    const opened: { stream?: AmiStream } = {};
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      // Node calls it for each read, never before connect() has returned (reads are asynchronous); false would pause.
      callback: (length: number, buffer: Uint8Array): boolean => {
        opened.stream?.read(length, buffer);
        return true;
      },
    };
    let socket: net.Socket | undefined;
    net.createConnection = ((p: number, h: string) => (socket = original({ port: p, host: h, onread }))) as typeof net.createConnection;
    try {
      manager.connect(port, host, onConnect);
    } finally {
      net.createConnection = original;
    }
    if (socket === undefined) throw new Error('asterisk-manager did not open its socket with net.createConnection');
    const stream = new AmiStream(socket, handlers, holdMs);
    opened.stream = stream;
    return stream;
  }

  /** Queues one serialised action; the whole queue is written at the end of this tick. Its answer is not held. */
  write(text: string): void {
    if (this.outbox.push(text) === 1) queueMicrotask(() => this.flush());
    if (this.held) this.release();
  }

  /**
   * Stops reading (the connection is being abandoned). A held socket is resumed first: paused, it would never read
   * the end of the connection, and an ended socket closes only once it has (its handle kept the process alive).
   */
  detach(): void {
    this.release();
    this.detached = true;
    this.outbox = [];
  }

  private flush(): void {
    const text = this.outbox.length === 1 ? this.outbox[0] : this.outbox.join('');
    this.outbox = [];
    if (text !== undefined && !this.socket.destroyed) this.socket.write(text);
  }

  private read(length: number, buffer: Uint8Array): void {
    if (this.failed || this.detached) return;
    // Until the Login answer the package reads too. Its reader expects text (it set utf-8); the login exchange is ASCII.
    if (!this.owned) this.socket.emit('data', Buffer.from(buffer.buffer, buffer.byteOffset, length).toString('utf8'));
    let messages;
    try {
      messages = this.parser.pushRead(buffer, length);
    } catch (error) {
      this.failed = true;
      this.handlers.failed(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    for (const event of messages) {
      if (event.type !== 'message') continue;
      if (this.owned) {
        this.handlers.message(event.message);
      } else if (event.message.kind === 'response' && event.message.response.toLowerCase() === 'success') {
        // The Login answer (nothing else is sent before it): the package's reader is done, the rest is ours.
        this.owned = true;
        this.socket.removeAllListeners('data');
      }
    }
    if (this.owned) this.holdIfDense(length === buffer.byteLength);
  }

  /**
   * After a read: reads stop for the hold when this one came within it of the last (see the file's comment). A read
   * that filled the buffer left more waiting: holding then would read a backlog one buffer per hold (64 KB per 200 ms)
   * and, with events coming faster than that, fall ever further behind until Asterisk's writes time out.
   */
  private holdIfDense(filledBuffer: boolean): void {
    const holdMs = this.holdMs();
    const now = performance.now();
    const dense = now - this.lastWake < holdMs;
    this.lastWake = now;
    if (!dense || filledBuffer || this.failed || this.detached || this.handlers.answerAwaited()) return;
    this.held = true;
    this.socket.pause();
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.release(), holdMs);
  }

  /** Reads again: the hold is over, or an answer is awaited. */
  private release(): void {
    if (!this.held) return;
    this.held = false;
    clearTimeout(this.holdTimer);
    this.lastWake = performance.now();
    if (!this.detached && !this.socket.destroyed) this.socket.resume();
  }
}
