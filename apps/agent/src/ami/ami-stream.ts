/**
 * The AMI byte stream of one connection, once `asterisk-manager` has connected and logged in (ami-client.ts).
 *
 * - Out: actions already serialised (formatAmiAction) are gathered and written in one socket write per tick, in the
 *   order they were sent. Asterisk reads one action at a time per session and answers each in turn with its
 *   ActionID, so a pipelined batch is answered like the same actions written one by one.
 * - In: every byte goes through @fedpbx/asterisk's AmiParser (bounded: line, header and message limits) from the
 *   banner on. Messages up to and including the Login answer belong to the package (its login callback); the first
 *   `Response: Success` ends that, the package's own reader is detached, and every later message is ours - also
 *   those that came in the same read as the Login answer, which the package had already split for itself (its
 *   `rawevent`s are not listened to).
 */
import net from 'node:net';
import { AmiParser, type AmiMessage } from '@fedpbx/asterisk';
import type { ManagerInstance } from 'asterisk-manager';

export interface AmiStreamHandlers {
  /** Every message after the Login answer, in order. */
  readonly message: (message: AmiMessage) => void;
  /** The stream cannot be read any further (AmiParseError: a limit or the banner); the connection must go. */
  readonly failed: (error: Error) => void;
}

/**
 * `manager.connect()`, keeping the socket the package opens: it creates it synchronously with
 * `net.createConnection` and exposes it nowhere, so that function is wrapped for exactly the length of the call.
 */
export function connectKeepingSocket(manager: ManagerInstance, port: number, host: string, onConnect: () => void): net.Socket {
  const original = net.createConnection;
  let socket: net.Socket | undefined;
  net.createConnection = ((...args: Parameters<typeof net.createConnection>) => (socket = original(...args))) as typeof net.createConnection;
  try {
    manager.connect(port, host, onConnect);
  } finally {
    net.createConnection = original;
  }
  if (socket === undefined) throw new Error('asterisk-manager did not open its socket with net.createConnection');
  return socket;
}

export class AmiStream {
  private readonly parser = new AmiParser({ expectBanner: true });
  private owned = false;
  private outbox: string[] = [];
  private failed = false;
  private readonly onData = (chunk: string | Buffer): void => this.read(chunk);

  constructor(
    private readonly socket: net.Socket,
    private readonly handlers: AmiStreamHandlers,
  ) {
    // Added after the package's own `data` listener: both see the bytes of the login exchange.
    socket.on('data', this.onData);
  }

  /** Queues one serialised action; the whole queue is written at the end of this tick. */
  write(text: string): void {
    if (this.outbox.push(text) === 1) queueMicrotask(() => this.flush());
  }

  /** Stops reading (the connection is being abandoned). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.outbox = [];
  }

  private flush(): void {
    const text = this.outbox.length === 1 ? this.outbox[0] : this.outbox.join('');
    this.outbox = [];
    if (text !== undefined && !this.socket.destroyed) this.socket.write(text);
  }

  private read(chunk: string | Buffer): void {
    if (this.failed) return;
    let messages;
    try {
      // The package set the socket's encoding to utf-8: chunks come as strings, whole characters only.
      messages = this.parser.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
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
        for (const l of this.socket.listeners('data')) if (l !== this.onData) this.socket.off('data', l as (...a: unknown[]) => void);
      }
    }
  }
}
