import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { canWriteDirect, writeLine } from './direct-write.js';

/** A server whose accepted socket is handed over, and a client connected to it. */
async function socketPair(pauseOnConnect = false): Promise<{ server: Server; accepted: Socket; client: Socket }> {
  const server = createServer({ pauseOnConnect });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  const client = connect(address.port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [Socket];
  await once(client, 'connect');
  return { server, accepted, client };
}

function collect(socket: Socket): { text: () => string; ended: Promise<unknown> } {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { text: () => Buffer.concat(chunks).toString('utf8'), ended: once(socket, 'end') };
}

describe('direct writes to a TCP handle', () => {
  const open: { server: Server; sockets: Socket[] }[] = [];
  afterEach(() => {
    for (const { server, sockets } of open.splice(0)) {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('writes to an accepted socket, in order, UTF-8, and end() sends them all before the FIN', async () => {
    const { server, accepted, client } = await socketPair();
    open.push({ server, sockets: [accepted, client] });
    expect(canWriteDirect(accepted)).toBe(true);
    const received = collect(client);
    const lines = ['EXEC "MSet" "A=1"\n', 'SET VARIABLE "CALLERID(name)" "Иван"\n', 'GET VARIABLE "DIALSTATUS"\n'];
    for (const line of lines) writeLine(accepted, line);
    accepted.end();
    await received.ended;
    expect(received.text()).toBe(lines.join(''));
    // The stream itself never saw them: nothing was buffered in it.
    expect(accepted.writableLength).toBe(0);
  });

  it('keeps the order and delivers everything when the kernel cannot take a write at once (the peer does not read)', async () => {
    const { server, accepted, client } = await socketPair();
    open.push({ server, sockets: [accepted, client] });
    client.pause();
    // 64 MiB in 8 KiB lines: far beyond loopback's socket buffers, so libuv queues most of them.
    const line = (i: number): string => `${String(i).padStart(8, '0')}${'x'.repeat(8183)}\n`;
    const count = 8192;
    for (let i = 0; i < count; i++) writeLine(accepted, line(i));
    accepted.end();
    let expected = 0;
    let pending = '';
    let ok = true;
    client.setEncoding('utf8');
    client.on('data', (text: string) => {
      pending += text;
      for (let lf = pending.indexOf('\n'); lf >= 0; lf = pending.indexOf('\n')) {
        if (pending.slice(0, lf + 1) !== line(expected)) ok = false;
        expected += 1;
        pending = pending.slice(lf + 1);
      }
    });
    client.resume();
    await once(client, 'end');
    expect(ok).toBe(true);
    expect(expected).toBe(count);
  }, 60_000);

  it('destroys the socket with the write error when the peer is gone', async () => {
    // Not reading: the peer's FIN does not end the socket first (as a session busy elsewhere would not have seen it).
    const { server, accepted, client } = await socketPair(true);
    open.push({ server, sockets: [accepted, client] });
    // The peer closes (FIN) and is gone: the first write draws its RST, a later one fails (EPIPE or ECONNRESET).
    client.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const failed = new Promise<NodeJS.ErrnoException>((resolve) => accepted.once('error', resolve));
    // The first write after a reset may still be taken by the kernel; one of a few fails.
    for (let i = 0; i < 20 && !accepted.destroyed; i++) {
      writeLine(accepted, 'GET VARIABLE "DIALSTATUS"\n');
      await new Promise((r) => setTimeout(r, 5));
    }
    const error = await failed;
    expect(error.syscall).toBe('write');
    expect(['EPIPE', 'ECONNRESET']).toContain(error.code);
    expect(accepted.destroyed).toBe(true);
  });

  it('goes through socket.write for streams without a TCP handle, and for a socket already ended', async () => {
    const stream = new PassThrough();
    expect(canWriteDirect(stream)).toBe(false);
    const { server, accepted, client } = await socketPair();
    open.push({ server, sockets: [accepted, client] });
    accepted.end();
    const error = new Promise<Error>((resolve) => accepted.once('error', resolve));
    writeLine(accepted, 'late\n');
    expect((await error).message).toMatch(/write after end/);
  });
});
