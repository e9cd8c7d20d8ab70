// Test support: a tiny FastAGI server driven step by step from a test, to exercise the peer.
import net from 'node:net';

export class ServerConn {
  /** Everything the peer sent after the environment block. */
  afterEnv: Buffer = Buffer.alloc(0);
  envBlock: Buffer | null = null;
  closedByPeer = false;
  private head: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  /** Position in afterEnv up to which command() has consumed responses. */
  private cursor = 0;
  hangupsSeen = 0;
  readonly closed: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.envBlock === null) {
        this.head = Buffer.concat([this.head, chunk]);
        const end = this.head.indexOf('\n\n');
        if (end >= 0) {
          this.envBlock = this.head.subarray(0, end + 2);
          this.afterEnv = this.head.subarray(end + 2);
        }
      } else {
        this.afterEnv = Buffer.concat([this.afterEnv, chunk]);
      }
      this.notify();
    });
    this.closed = new Promise((resolve) => {
      socket.on('end', () => {
        this.closedByPeer = true;
        this.notify();
      });
      socket.on('close', () => {
        this.notify();
        resolve();
      });
    });
    socket.on('error', () => {
      // The peer may reset the connection (parked-call tests); the test asserts on what was received.
      this.notify();
    });
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when cond() holds; rejects after timeoutMs. */
  async until(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.afterEnv.toString())}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  env(timeoutMs = 3000): Promise<void> {
    return this.until(() => this.envBlock !== null, timeoutMs, 'environment block');
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /**
   * Sends one command line (a `\n` is added) and returns its final response: one line, or a whole 520 block;
   * `100 ...` interim lines and `HANGUP` notifications are skipped (counted in hangupsSeen).
   */
  async command(line: string, timeoutMs = 3000): Promise<string> {
    this.send(`${line}\n`);
    return this.response(timeoutMs);
  }

  async response(timeoutMs = 3000): Promise<string> {
    let block = '';
    for (;;) {
      await this.until(() => this.afterEnv.indexOf(10, this.cursor) >= 0, timeoutMs, `a response line (${block})`);
      const nl = this.afterEnv.indexOf(10, this.cursor);
      const line = this.afterEnv.toString('utf8', this.cursor, nl);
      this.cursor = nl + 1;
      if (line === 'HANGUP') {
        this.hangupsSeen += 1;
        continue;
      }
      if (block !== '' || line.startsWith('520-')) {
        block += `${line}\n`;
        if (line.startsWith('520 ')) return block;
        continue;
      }
      if (line.startsWith('100 ')) continue;
      return `${line}\n`;
    }
  }

  /** Lines the peer sent after what command()/response() consumed. */
  rest(): string {
    return this.afterEnv.toString('utf8', this.cursor);
  }

  /** Half-close like the fixtures' recorder, then wait for the peer to close. */
  async finish(timeoutMs = 3000): Promise<void> {
    this.socket.end();
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  }
}

export interface ScriptedServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:<free port>; `script` runs once per accepted connection. */
export async function startScriptedServer(script: (conn: ServerConn) => Promise<void>): Promise<ScriptedServer & { errors: unknown[] }> {
  const errors: unknown[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const conn = new ServerConn(socket);
    script(conn).catch((err: unknown) => {
      errors.push(err);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
