import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgiSessionError } from '../errors.js';
import { EXEC_LINE_END, execLinePrefix, splitAgiCommandLine } from './agi-command.js';
import { AgiEnvParser } from './agi-env-parser.js';
import { AgiResponseParser } from './agi-response-parser.js';
import { AgiSession, createAgiConnectionHandler, type AgiCommandSink, type AgiSessionOptions } from './agi-session.js';
import { chunkBytes, chunksFrom, loadFixture, loadFixtures } from '../testing/asterisk-fixtures.js';

const ENV = [
  'agi_network: yes',
  'agi_network_script: route/in?site=piter',
  'agi_request: agi://127.0.0.1:4573/route/in?site=piter',
  'agi_channel: PJSIP/sipp-00000001',
  'agi_uniqueid: site1-1.1',
  'agi_callerid: 1001',
  'agi_calleridname: Иван',
  'agi_arg_1: a',
  '',
  '',
].join('\n');

/** Plays Asterisk on the client side of a loopback TCP connection. */
class FakeAsterisk {
  readonly lines: string[] = [];
  /** Socket errors seen by the peer (e.g. EPIPE after we destroyed the connection). */
  readonly errors: Error[] = [];
  /** Commands received while an earlier one was still unanswered: must stay empty. */
  readonly pipelined: string[] = [];
  readonly ended: Promise<unknown>;
  /** Like Asterisk: on our FIN, write the closing HANGUP and close. */
  autoHangupOnFin = true;
  private buffer = '';
  private waiters: ((line: string) => void)[] = [];
  private queued: string[] = [];
  private unanswered = 0;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('error', (error) => this.errors.push(error));
    socket.on('data', (data: string) => this.onData(data));
    this.ended = once(socket, 'end');
    socket.on('end', () => {
      if (!this.autoHangupOnFin) return;
      socket.write('HANGUP\n');
      socket.end();
    });
  }

  private onData(data: string): void {
    this.buffer += data;
    for (let lf = this.buffer.indexOf('\n'); lf >= 0; lf = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, lf);
      this.buffer = this.buffer.slice(lf + 1);
      this.lines.push(line);
      if (this.unanswered > 0) this.pipelined.push(line);
      this.unanswered += 1;
      const waiter = this.waiters.shift();
      if (waiter) waiter(line);
      else this.queued.push(line);
    }
  }

  nextCommand(): Promise<string> {
    const line = this.queued.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Writes a final answer (and marks the current command answered). */
  answer(text: string): void {
    this.unanswered = Math.max(0, this.unanswered - 1);
    this.socket.write(text);
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }
}

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function loopback(): Promise<{ serverSide: Socket; fake: FakeAsterisk }> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  // Like Asterisk, the peer keeps writing after our FIN (the closing HANGUP).
  const client = connect({ port: address.port, host: '127.0.0.1', allowHalfOpen: true });
  sockets.push(client);
  const [serverSide] = await accepted;
  sockets.push(serverSide);
  return { serverSide, fake: new FakeAsterisk(client) };
}

async function open(options: AgiSessionOptions = {}): Promise<{ session: AgiSession; fake: FakeAsterisk; serverSide: Socket }> {
  const { serverSide, fake } = await loopback();
  const started = AgiSession.start(serverSide, options);
  fake.write(ENV);
  return { session: await started, fake, serverSide };
}

async function sessionError(promise: Promise<unknown>): Promise<AgiSessionError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgiSessionError);
  return error as AgiSessionError;
}

describe('AgiSession over loopback TCP', () => {
  it('parses the environment and sets TCP_NODELAY', async () => {
    const { serverSide, fake } = await loopback();
    const noDelay = vi.spyOn(serverSide, 'setNoDelay');
    const started = AgiSession.start(serverSide);
    // The env block arrives in pieces, cut inside the UTF-8 name.
    const bytes = Buffer.from(ENV);
    const cut = bytes.indexOf(Buffer.from('Иван')) + 1;
    fake.write(bytes.subarray(0, cut));
    await delay(10);
    fake.write(bytes.subarray(cut));
    const session = await started;
    expect(noDelay).toHaveBeenCalledWith(true);
    expect(session.env).toMatchObject({ entry: 'route', scriptQuery: 'site=piter', callerIdName: 'Иван', args: ['a'] });
    await session.close();
  });

  it('accepted sockets read into one shared buffer: interleaved sessions, lines cut anywhere, never mix their bytes', async () => {
    const a = await loopback();
    const b = await loopback();
    const startedA = AgiSession.start(a.serverSide);
    const startedB = AgiSession.start(b.serverSide);
    // The shared-buffer read path (no 'data' listener on an accepted socket), not the stream's.
    expect(a.serverSide.listenerCount('data')).toBe(0);
    // Each environment in two pieces, cut mid-line, the pieces of the two sessions interleaved.
    const envB = ENV.replace('site1-1.1', 'site1-2.2').replace('Иван', 'Пётр');
    const cutA = ENV.indexOf('uniqueid') + 3;
    const cutB = envB.indexOf('calleridname') + 5;
    a.fake.write(ENV.slice(0, cutA));
    await delay(10);
    b.fake.write(envB.slice(0, cutB));
    await delay(10);
    a.fake.write(ENV.slice(cutA));
    await delay(10);
    b.fake.write(envB.slice(cutB));
    const [sessionA, sessionB] = await Promise.all([startedA, startedB]);
    expect(sessionA.env).toMatchObject({ uniqueId: 'site1-1.1', callerIdName: 'Иван' });
    expect(sessionB.env).toMatchObject({ uniqueId: 'site1-2.2', callerIdName: 'Пётр' });
    // Answers cut mid-line, interleaved likewise. The commands go to the TCP handle, not through the stream.
    const streamWrite = vi.spyOn(a.serverSide, 'write');
    const getA = sessionA.getVariable('X');
    const getB = sessionB.getVariable('Y');
    expect(await a.fake.nextCommand()).toBe('GET VARIABLE "X"');
    expect(await b.fake.nextCommand()).toBe('GET VARIABLE "Y"');
    a.fake.write('200 result=1 (first');
    await delay(10);
    b.fake.write('200 result=1 (sec');
    await delay(10);
    a.fake.answer(' value)\n');
    await delay(10);
    b.fake.answer('ond value)\n');
    expect(await getA).toBe('first value');
    expect(await getB).toBe('second value');
    expect(streamWrite).not.toHaveBeenCalled();
    await Promise.all([sessionA.close(), sessionB.close()]);
  });

  it('keeps exactly one command on the wire: concurrent calls queue', async () => {
    const { session, fake } = await open();
    const answering = (async () => {
      for (let i = 0; i < 4; i += 1) {
        const argv = splitAgiCommandLine(await fake.nextCommand());
        await delay(30); // give the session every chance to pipeline
        fake.answer(`200 result=1 (${argv.at(-1) ?? ''})\n`);
      }
    })();
    const values = await Promise.all([session.getVariable('A'), session.getVariable('B'), session.getVariable('C'), session.getFullVariable('${D}')]);
    await answering;
    expect(values).toEqual(['A', 'B', 'C', '${D}']);
    expect(fake.lines).toEqual(['GET VARIABLE "A"', 'GET VARIABLE "B"', 'GET VARIABLE "C"', 'GET FULL VARIABLE "${D}"']);
    expect(fake.pipelined).toEqual([]);
    await session.close();
  });

  it('HANGUP while a command waits is a notification; the command still gets its own answer', async () => {
    const { session, fake } = await open();
    const order: string[] = [];
    session.onHangup(() => order.push('hangup'));
    const noop = session.command('NOOP').then((r) => {
      order.push(`response ${r.raw}`);
      return r;
    });
    expect(await fake.nextCommand()).toBe('NOOP');
    fake.write('HANGUP\n');
    await delay(40);
    expect(session.hungUp).toBe(true);
    fake.answer('200 result=0\n');
    expect((await noop).code).toBe(200);
    expect(order).toEqual(['hangup', 'response 200 result=0']);
    await session.close();
  });

  it('after HANGUP, 511 answers are responses, not exceptions; dead-channel commands still work', async () => {
    const { session, fake } = await open();
    fake.write('HANGUP\n');
    const script = (async () => {
      expect(await fake.nextCommand()).toBe('ANSWER');
      fake.answer('511 Command Not Permitted on a dead channel or intercept routine\n');
      expect(await fake.nextCommand()).toBe('STREAM FILE "beep" ""');
      fake.answer('511 Command Not Permitted on a dead channel or intercept routine\n');
      expect(await fake.nextCommand()).toBe('GET VARIABLE "DIALSTATUS"');
      fake.answer('200 result=1 (CANCEL)\n');
      expect(await fake.nextCommand()).toBe('GET VARIABLE "X"');
      fake.answer('510 Invalid or unknown command\n');
    })();
    const answer = await session.answer();
    expect(session.hungUp).toBe(true);
    expect(answer).toMatchObject({ code: 511, text: 'Command Not Permitted on a dead channel or intercept routine' });
    expect(await session.streamFile('beep')).toMatchObject({ kind: 'failed', response: { code: 511 } });
    expect(await session.getVariable('DIALSTATUS')).toBe('CANCEL');
    await expect(session.getVariable('X')).rejects.toMatchObject({ code: 'COMMAND_REJECTED', response: { code: 510 } });
    await script;
    await session.close();
  });

  it('a command timeout ends the session: the late answer can never be taken for the next command', async () => {
    const { session, fake } = await open();
    const closed = new Promise<AgiSessionError | undefined>((resolve) => session.onClose(resolve));
    const first = session.command('WAIT FOR DIGIT', ['5000'], { timeoutMs: 100 });
    const second = session.command('NOOP');
    expect((await sessionError(first)).code).toBe('COMMAND_TIMEOUT');
    const queued = await sessionError(second);
    expect(queued.code).toBe('SESSION_CLOSED');
    expect(queued.cause).toMatchObject({ code: 'COMMAND_TIMEOUT' });
    expect((await closed)?.code).toBe('COMMAND_TIMEOUT');
    await fake.ended;
    expect(session.closed).toBe(true);
    expect(fake.lines).toEqual(['WAIT FOR DIGIT "5000"']);
    expect((await sessionError(session.command('NOOP'))).code).toBe('COMMAND_TIMEOUT');
  });

  it('execThenGetVariable sends the variable read only once the application has answered, and resolves with it', async () => {
    const { session, fake } = await open();
    const status = session.execThenGetVariable('Dial', 'PJSIP/101,20,tT', 'DIALSTATUS', { timeoutMs: 5000 });
    expect(await fake.nextCommand()).toBe('EXEC "Dial" "PJSIP/101,20,tT"');
    await delay(40); // the read must not go out while Dial runs
    expect(fake.lines).toHaveLength(1);
    // The answer and the hang-up in one read, as Asterisk writes them when the caller leaves during the Dial.
    fake.answer('200 result=-1\nHANGUP\n');
    expect(await fake.nextCommand()).toBe('GET VARIABLE "DIALSTATUS"');
    fake.answer('200 result=1 (CANCEL)\n');
    expect(await status).toBe('CANCEL');
    expect(session.hungUp).toBe(true);
    expect(fake.pipelined).toEqual([]);
    await session.close();
  });

  it('execThenGetVariable behind queued commands, and commands queued behind it, keep their order', async () => {
    const { session, fake } = await open();
    const first = session.command('NOOP', ['1']);
    const dial = session.execThenGetVariable('Dial', 'PJSIP/101', 'DIALSTATUS');
    const after = session.command('NOOP', ['2']);
    const seen: string[] = [];
    for (const answer of ['200 result=0', '200 result=0', '200 result=1 (BUSY)', '200 result=0']) {
      seen.push(await fake.nextCommand());
      fake.answer(`${answer}\n`);
    }
    expect(seen).toEqual(['NOOP "1"', 'EXEC "Dial" "PJSIP/101"', 'GET VARIABLE "DIALSTATUS"', 'NOOP "2"']);
    expect((await first).code).toBe(200);
    expect(await dial).toBe('BUSY');
    expect((await after).code).toBe(200);
    // Nothing in flight: the variable read waits beside the Dial, and a command queued meanwhile goes after it.
    const dial2 = session.execThenGetVariable('Dial', 'PJSIP/102', 'DIALSTATUS');
    const third = session.command('NOOP', ['3']);
    const seen2: string[] = [];
    for (const answer of ['200 result=0', '200 result=0', '200 result=0']) {
      seen2.push(await fake.nextCommand());
      fake.answer(`${answer}\n`);
    }
    expect(seen2).toEqual(['EXEC "Dial" "PJSIP/102"', 'GET VARIABLE "DIALSTATUS"', 'NOOP "3"']);
    expect(await dial2).toBeUndefined();
    expect((await third).code).toBe(200);
    expect(fake.pipelined).toEqual([]);
  });

  it('execThenGetVariable rejects with the application\'s failure, and refuses unsendable input before writing', async () => {
    const { session, fake } = await open();
    await expect(session.execThenGetVariable('Dial;x', 'PJSIP/101', 'DIALSTATUS')).rejects.toThrow();
    await expect(session.execThenGetVariable('Dial', 'a\nb', 'DIALSTATUS')).rejects.toThrow();
    const status = session.execThenGetVariable('Dial', 'PJSIP/101', 'DIALSTATUS', { timeoutMs: 100 });
    expect((await sessionError(status)).code).toBe('COMMAND_TIMEOUT');
    await fake.ended;
    expect(fake.lines).toEqual(['EXEC "Dial" "PJSIP/101"']);
  });

  it('a command sink hears the answer once its read is handled: a HANGUP in the same read is already counted', async () => {
    const { session, fake } = await open();
    const seen: string[] = [];
    // A call's sink: sends its next command from the answer, unless the caller has gone.
    const sink: AgiCommandSink = {
      commandAnswered: (response) => {
        seen.push(`${response.raw} hungUp=${session.hungUp}`);
        if (!session.hungUp) session.execTo(sink, 'Dial', 'PJSIP/101');
      },
      commandFailed: (error) => seen.push(`failed ${error.message}`),
    };
    session.execTo(sink, 'MSet', 'A=1');
    expect(await fake.nextCommand()).toBe('EXEC "MSet" "A=1"');
    fake.answer('200 result=0\nHANGUP\n');
    await delay(40);
    expect(seen).toEqual(['200 result=0 hungUp=true']);
    expect(fake.lines).toEqual(['EXEC "MSet" "A=1"']);
    await session.close();
  });

  it('a command sink is told exactly once: a refusal from inside the call, a pair\'s failure, commands queued at the end', async () => {
    const { session, fake } = await open({ commandTimeoutMs: 100 });
    const told: string[] = [];
    const sink = (name: string): AgiCommandSink => ({
      commandAnswered: (response) => told.push(`${name} answered ${response.raw}`),
      commandFailed: (error) => told.push(`${name} failed ${(error as AgiSessionError).code ?? error.message}`),
    });
    session.execTo(sink('bad'), 'Dial;x');
    session.execLineThenGetVariableTo(sink('bad line'), 'EXEC "Dial" "PJSIP/101\nHANGUP"\n', 'DIALSTATUS');
    // Told before the call returned, nothing written.
    expect(told).toEqual(['bad failed INVALID_APPLICATION', 'bad line failed BAD_ARGUMENT']);
    told.length = 0;
    session.execLineThenGetVariableTo(sink('dial'), `${execLinePrefix('Dial')}PJSIP/101${EXEC_LINE_END}`, 'DIALSTATUS', { timeoutMs: 5000 });
    session.execThenGetVariableTo(sink('queued pair'), 'Dial', 'PJSIP/102', 'DIALSTATUS');
    session.getVariableTo(sink('queued'), 'X');
    expect(await fake.nextCommand()).toBe('EXEC "Dial" "PJSIP/101"');
    fake.answer('200 result=0\n');
    expect(await fake.nextCommand()).toBe('GET VARIABLE "DIALSTATUS"');
    // No answer to the variable read: its timeout ends the session, and each sink hears of it once.
    await fake.ended;
    expect(told).toEqual(['dial failed COMMAND_TIMEOUT', 'queued pair failed SESSION_CLOSED', 'queued failed SESSION_CLOSED']);
    session.commandTo(sink('late'), 'NOOP');
    expect(told.at(-1)).toBe('late failed COMMAND_TIMEOUT');
  });

  it('an idle session is closed (Asterisk never times out on its own)', async () => {
    const { session, fake } = await open({ idleTimeoutMs: 100 });
    const closed = new Promise<AgiSessionError | undefined>((resolve) => session.onClose(resolve));
    expect((await closed)?.code).toBe('IDLE_TIMEOUT');
    await fake.ended;
  });

  it('the idle timer does not run while a command is in flight', async () => {
    const { session, fake } = await open({ idleTimeoutMs: 80 });
    const pending = session.command('EXEC', ['Wait', '1']);
    await fake.nextCommand();
    await delay(200);
    fake.answer('200 result=0\n');
    expect((await pending).code).toBe(200);
    await session.close();
  });

  it('each bound runs from when it is armed, whether it is longer or shorter than the one before', async () => {
    // The session's one timer, set for the short environment bound, is reused for the longer ones after it.
    // (The idle bound is far from the 90 ms one below, so that a loaded machine's late timer cannot pass for it.)
    const { session, fake } = await open({ envTimeoutMs: 40, idleTimeoutMs: 900 });
    const answered = session.command('NOOP', [], { timeoutMs: 120 });
    await fake.nextCommand();
    await delay(80);
    fake.answer('200 result=0\n');
    expect((await answered).code).toBe(200);
    const started = performance.now();
    const closed = new Promise<AgiSessionError | undefined>((resolve) => session.onClose(resolve));
    const timedOut = session.command('WAIT FOR DIGIT', ['-1'], { timeoutMs: 90 });
    const error = await sessionError(timedOut);
    expect(error.code).toBe('COMMAND_TIMEOUT');
    expect(error.message).toBe('no answer within 90 ms');
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(85);
    expect(waited).toBeLessThan(600);
    expect((await closed)?.code).toBe('COMMAND_TIMEOUT');
  });

  it('bounds of a second or more share one timer across sessions, and fire no earlier than set', async () => {
    const refTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const t0 = performance.now();
    const idle = await Promise.all(Array.from({ length: 3 }, () => open({ idleTimeoutMs: 1_000 })));
    const closed = idle.map(({ session }) => new Promise<AgiSessionError | undefined>((resolve) => session.onClose(resolve)));
    // Twelve more sessions, each armed with its environment bound as it starts: no timer more than the one the
    // sweep has already set for the first three (a timer per session would be twelve).
    const links = await Promise.all(Array.from({ length: 12 }, () => loopback()));
    const before = refTimers();
    const starts = links.map(({ serverSide }) => AgiSession.start(serverSide));
    expect(refTimers()).toBe(before);
    for (const { fake } of links) fake.write(ENV);
    const more = await Promise.all(starts);
    await Promise.all(more.map((session) => session.close()));
    // The first three went idle when they opened: each closes once its 1 s has passed, not before.
    expect((await Promise.all(closed)).map((reason) => reason?.code)).toEqual(['IDLE_TIMEOUT', 'IDLE_TIMEOUT', 'IDLE_TIMEOUT']);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1_000);
  });

  it('waiting out the close grace does not keep the process alive, whether the grace is swept or timed', async () => {
    const refTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    for (const closeGraceMs of [1_000, 300]) {
      const { session, fake, serverSide } = await open({ closeGraceMs, idleTimeoutMs: closeGraceMs });
      fake.autoHangupOnFin = false; // Asterisk does not close: the grace runs, then the socket is destroyed
      // The session's idle bound keeps the process alive, its grace does not (measured with no await between).
      const before = refTimers();
      session.end();
      expect(refTimers(), `grace ${closeGraceMs} ms`).toBe(before - 1);
      await once(serverSide, 'close');
      expect(serverSide.destroyed).toBe(true);
    }
  });

  it('the environment bound holds when the session\'s one timer is made for a shorter close grace', async () => {
    const { serverSide, fake } = await loopback();
    const t0 = performance.now();
    const started = AgiSession.start(serverSide, { envTimeoutMs: 120, closeGraceMs: 30 });
    fake.write('agi_network: yes\n');
    expect((await sessionError(started)).code).toBe('ENV_TIMEOUT');
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(115);
    expect(waited).toBeLessThan(400);
  });

  it('accept() tells its starter, with the context, from the read that completes the environment', async () => {
    const { serverSide, fake } = await loopback();
    const told: { what: string; context: number; hungUp?: boolean; code?: string }[] = [];
    let sent: Promise<unknown> | undefined;
    AgiSession.accept(serverSide, {}, {
      sessionStarted: (session, context) => {
        // Bytes that came after the environment in the same read are handled first: here a HANGUP.
        told.push({ what: 'started', context, hungUp: session.hungUp });
        sent = session.command('NOOP'); // commands may go out at once, from inside the read
      },
      sessionFailed: (error, context) => told.push({ what: 'failed', context, code: error.code }),
    }, 7);
    fake.write(`${ENV}HANGUP\n`);
    expect(await fake.nextCommand()).toBe('NOOP');
    fake.answer('200 result=0\n');
    expect(await sent).toMatchObject({ code: 200 });
    expect(told).toEqual([{ what: 'started', context: 7, hungUp: true }]);

    const b = await loopback();
    const failures: { context: string; code: string }[] = [];
    AgiSession.accept(b.serverSide, { envTimeoutMs: 5000 }, {
      sessionStarted: () => failures.push({ context: 'started', code: '' }),
      sessionFailed: (error, context) => failures.push({ context, code: error.code }),
    }, 'b');
    b.fake.write('GET / HTTP/1.1\r\n\r\n');
    await once(b.serverSide, 'close');
    await delay(20);
    // Told once: the refusal, not again for the close that follows it.
    expect(failures).toEqual([{ context: 'b', code: 'PROTOCOL_ERROR' }]);
  });

  it('an incomplete environment times out', async () => {
    const { serverSide, fake } = await loopback();
    const started = AgiSession.start(serverSide, { envTimeoutMs: 100 });
    fake.write('agi_network: yes\n');
    expect((await sessionError(started)).code).toBe('ENV_TIMEOUT');
    await fake.ended;
  });

  it('a malformed or oversized environment is refused', async () => {
    const a = await loopback();
    const started = AgiSession.start(a.serverSide);
    a.fake.write(`agi_x: ${'y'.repeat(5000)}`);
    expect((await sessionError(started)).code).toBe('INPUT_TOO_LARGE');
    const b = await loopback();
    const startedB = AgiSession.start(b.serverSide);
    b.fake.write('GET / HTTP/1.1\r\n\r\n');
    expect((await sessionError(startedB)).code).toBe('PROTOCOL_ERROR');
  });

  it('close() rejects pending commands, half-closes, and resolves once Asterisk closes', async () => {
    const { session, fake } = await open();
    fake.autoHangupOnFin = false;
    let reason: AgiSessionError | undefined = new AgiSessionError('SOCKET_ERROR', 'not called');
    session.onClose((r) => (reason = r));
    const pending = session.command('NOOP');
    await fake.nextCommand();
    const closing = session.close();
    expect((await sessionError(pending)).code).toBe('SESSION_CLOSED');
    await fake.ended;
    // As recorded: Asterisk writes HANGUP after our FIN, then closes.
    fake.write('200 result=0\nHANGUP\n');
    fake.socket.end();
    await closing;
    expect(session.closed).toBe(true);
    expect(session.hungUp).toBe(true);
    expect(reason).toBeUndefined();
    expect((await sessionError(session.command('NOOP'))).code).toBe('SESSION_CLOSED');
    await session.close();
  });

  it('end() closes as close() does, without a promise: pending commands rejected, half-closed, grace bound', async () => {
    const { session, fake, serverSide } = await open({ closeGraceMs: 60 });
    fake.autoHangupOnFin = false;
    const pending = session.command('WAIT FOR DIGIT', ['-1']);
    await fake.nextCommand();
    session.end();
    session.end(); // a second end does nothing
    expect((await sessionError(pending)).code).toBe('SESSION_CLOSED');
    expect(session.closed).toBe(true);
    await fake.ended; // our FIN
    // Asterisk does not close: destroyed after the grace.
    await once(serverSide, 'close');
    expect(serverSide.destroyed).toBe(true);
  });

  it('endNow() closes the socket at once: pending commands rejected, Asterisk reads the end, an orderly close', async () => {
    const { session, fake, serverSide } = await open({ closeGraceMs: 60_000 });
    fake.autoHangupOnFin = false; // an Asterisk that never closes: end() would wait out the 60 s grace
    let reason: AgiSessionError | undefined = new AgiSessionError('SOCKET_ERROR', 'not called');
    session.onClose((r) => (reason = r));
    const pending = session.command('NOOP');
    await fake.nextCommand();
    session.endNow();
    session.endNow(); // a second end does nothing
    session.end(); // nor does end() after it
    expect((await sessionError(pending)).code).toBe('SESSION_CLOSED');
    expect(session.closed).toBe(true);
    // Closed without waiting for Asterisk's close or the grace; Asterisk reads the end of the stream.
    await once(serverSide, 'close');
    await fake.ended;
    expect(reason).toBeUndefined();
    expect(fake.pipelined).toEqual([]);
    expect((await sessionError(session.command('NOOP'))).code).toBe('SESSION_CLOSED');
    await session.close();
  });

  it('close() destroys the socket if Asterisk does not close', async () => {
    const { session, fake } = await open({ closeGraceMs: 50 });
    fake.autoHangupOnFin = false; // a peer that never answers our FIN
    await session.close();
    expect(session.closed).toBe(true);
  });

  it('Asterisk closing during a command rejects it with SOCKET_CLOSED', async () => {
    const { session, fake } = await open();
    const pending = session.command('NOOP');
    await fake.nextCommand();
    fake.write('HANGUP\n');
    fake.socket.end();
    expect((await sessionError(pending)).code).toBe('SOCKET_CLOSED');
    expect(session.hungUp).toBe(true);
  });

  it('an answer with no command in flight is a protocol error', async () => {
    const { session, fake } = await open();
    const closed = new Promise<AgiSessionError | undefined>((resolve) => session.onClose(resolve));
    fake.write('200 result=0\n');
    expect((await closed)?.code).toBe('PROTOCOL_ERROR');
  });

  it('an endless line is cut off at the parser limit', async () => {
    const { session, fake } = await open({ responseLimits: { maxLineBytes: 1024 } });
    const pending = session.command('GET FULL VARIABLE', ['${X}']);
    await fake.nextCommand();
    fake.write(`200 result=1 (${'A'.repeat(4096)}`);
    const error = await sessionError(pending);
    expect(error.code).toBe('INPUT_TOO_LARGE');
    expect(error.cause).toMatchObject({ code: 'RESPONSE_LINE_TOO_LONG' });
  });

  it('unsendable commands are refused before anything is written', async () => {
    const { session, fake } = await open();
    await expect(session.setVariable('X', 'a\nEXEC Dial PJSIP/evil')).rejects.toMatchObject({ code: 'ARG_FORBIDDEN_CHAR' });
    await expect(session.exec('Dial,U', 'x')).rejects.toMatchObject({ code: 'INVALID_APPLICATION' });
    await expect(session.streamFile('x', 'abc')).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    // A joined EXEC line goes out only as exec() would have made it: no escaping needed, nothing after its LF.
    await expect(session.execLine(`${execLinePrefix('MSet')}A="1"${EXEC_LINE_END}`)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(session.execLine(`${execLinePrefix('MSet')}A=1${EXEC_LINE_END}EXEC "Dial" "PJSIP/evil"\n`)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    const script = (async () => {
      expect(await fake.nextCommand()).toBe('VERBOSE "ok" "1"');
      fake.answer('200 result=1\n');
      expect(await fake.nextCommand()).toBe('EXEC "MSet" "A=1,B=2"');
      fake.answer('200 result=0\n');
    })();
    expect((await session.verbose('ok')).code).toBe(200);
    expect((await session.execLine(`${execLinePrefix('MSet')}A=1,B=2${EXEC_LINE_END}`)).code).toBe(200);
    await script;
    expect(fake.lines).toEqual(['VERBOSE "ok" "1"', 'EXEC "MSet" "A=1,B=2"']);
    await session.close();
  });

  it('helpers decode digits, GET DATA results and GOSUB intermediates', async () => {
    const { session, fake } = await open();
    const script = (async () => {
      expect(await fake.nextCommand()).toBe('WAIT FOR DIGIT "1000"');
      fake.answer('200 result=50\n');
      expect(await fake.nextCommand()).toBe('WAIT FOR DIGIT "1000"');
      fake.answer('200 result=0\n');
      expect(await fake.nextCommand()).toBe('GET DATA "enter-number" "3000" "4"');
      fake.answer('200 result=0042 (timeout)\n');
      expect(await fake.nextCommand()).toBe('STREAM FILE "hello" "#"');
      fake.answer('200 result=35 endpos=8000\n');
      expect(await fake.nextCommand()).toBe('GOSUB "fx-sub" "s" "1" "a1,a2"');
      fake.write('100 result=0 Trying...\n');
      await delay(20);
      fake.answer('200 result=0 Gosub complete\n');
      expect(await fake.nextCommand()).toBe('EXEC "Dial" "PJSIP/305@site-piter,30,tT"');
      fake.answer('200 result=-1\nHANGUP\n');
    })();
    expect(await session.waitForDigit(1000)).toEqual({ kind: 'digit', digit: '2' });
    expect(await session.waitForDigit(1000)).toEqual({ kind: 'timeout' });
    expect(await session.getData('enter-number', 3000, 4)).toEqual({ kind: 'digits', digits: '0042', timedOut: true });
    expect(await session.streamFile('hello', '#')).toEqual({ kind: 'digit', digit: '#', endpos: 8000 });
    expect((await session.command('GOSUB', ['fx-sub', 's', '1', 'a1,a2'])).text).toBe('Gosub complete');
    expect((await session.exec('Dial', 'PJSIP/305@site-piter,30,tT')).resultNumber).toBe(-1);
    await script;
    await delay(10);
    expect(session.hungUp).toBe(true);
    await session.close();
  });

  it('createAgiConnectionHandler runs the handler and always closes; errors go to onError', async () => {
    const errors: unknown[] = [];
    const seen: string[] = [];
    const handler = createAgiConnectionHandler(
      async (session) => {
        seen.push(session.env.channel);
        throw new Error('handler failed');
      },
      { onError: (error) => errors.push(error) },
    );
    const { serverSide, fake } = await loopback();
    handler(serverSide);
    fake.write(ENV);
    await fake.ended;
    expect(seen).toEqual(['PJSIP/sipp-00000001']);
    fake.socket.end();
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toMatchObject({ message: 'handler failed' });
  });
});

/** Recordings whose every command our API can express (no CR, no 8 KiB lines, no pipelining, no "failure"). */
const REPLAYABLE = loadFixtures('agi-').filter(
  (f) =>
    f.exchange.length > 0 &&
    f.exchange.every((c) => c.dir === 'asterisk->server' || (c.data !== undefined && /^[A-Z][^\r\n]*\n$/.test(c.data) && c.data.length < 8000)),
);

const VERBS = ['GET FULL VARIABLE', 'GET VARIABLE', 'SET VARIABLE', 'STREAM FILE', 'WAIT FOR DIGIT', 'CHANNEL STATUS', 'EXEC', 'NOOP', 'ANSWER', 'VERBOSE', 'GOSUB', 'FOO'];

describe('AgiSession against replayed Asterisk recordings', () => {
  it('replays every recording whose commands our API can express', () => {
    expect(REPLAYABLE).toHaveLength(14);
  });

  it.each(REPLAYABLE.map((f) => [f.file]))('%s', async (file) => {
    const fixture = loadFixture(file);
    const expected = expectedResponses(chunksFrom(fixture, 'asterisk->server'));
    // Chunks Asterisk wrote after the recorder's FIN (the closing HANGUP) are written after ours.
    const finAt = fixture.socket_events?.find((e) => e.event.includes('half-close'))?.t_ms ?? Number.POSITIVE_INFINITY;

    const { serverSide, fake } = await loopback();
    fake.autoHangupOnFin = false;
    const started = AgiSession.start(serverSide);
    const peer = (async () => {
      const afterFin: Buffer[] = [];
      for (const chunk of fixture.exchange) {
        if (chunk.dir === 'server->asterisk') {
          const ours = await fake.nextCommand();
          expect(splitAgiCommandLine(ours)).toEqual(splitAgiCommandLine((chunk.data ?? '').slice(0, -1)));
          fake.answer('');
        } else if (chunk.t_ms > finAt) {
          afterFin.push(chunkBytes(chunk));
        } else {
          fake.write(chunkBytes(chunk));
          await delay(2); // keep recorded chunk boundaries apart on the wire (HANGUP before an answer)
        }
      }
      await fake.ended;
      for (const chunk of afterFin) fake.write(chunk);
      fake.socket.end();
    })();

    const session = await started;
    const got: string[] = [];
    for (const chunk of fixture.exchange.filter((c) => c.dir === 'server->asterisk')) {
      const argv = splitAgiCommandLine((chunk.data ?? '').slice(0, -1));
      const verb = VERBS.find((v) => argv.slice(0, v.split(' ').length).join(' ') === v) ?? '';
      got.push((await session.command(verb, argv.slice(verb.split(' ').length))).raw);
    }
    await session.close();
    await peer;
    expect(got).toEqual(expected);
    expect(fake.pipelined).toEqual([]);
    expect(session.hungUp).toBe(true);
  });
});

/** The final responses in a recording, from the pure parsers. */
function expectedResponses(inbound: readonly Buffer[]): string[] {
  const envParser = new AgiEnvParser();
  const parser = new AgiResponseParser();
  const raws: string[] = [];
  let inEnv = true;
  for (const chunk of inbound) {
    let bytes: Buffer = chunk;
    if (inEnv) {
      const done = envParser.push(chunk);
      if (!done) continue;
      inEnv = false;
      bytes = done.leftover;
    }
    for (const e of parser.push(bytes)) if (e.type === 'response') raws.push(e.response.raw);
  }
  return raws;
}
