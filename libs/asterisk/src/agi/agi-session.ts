import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AgiCommandError,
  AgiCommandRejectedError,
  AgiEnvError,
  AgiResponseParseError,
  AgiSessionError,
  AsteriskProtocolError,
} from '../errors.js';
import { canWriteDirect, writeLine } from '../internal/direct-write.js';
import { DeadlineSweep, type Swept } from '../internal/deadline-sweep.js';
import { readIntoSharedBuffer } from '../internal/shared-read-buffer.js';
import { assertApplicationName, formatAgiCommand, isReadyExecLine } from './agi-command.js';
import { AgiEnvParser, type AgiEnvironment, type AgiEnvLimits } from './agi-env-parser.js';
import {
  AgiResponseParser,
  type AgiResponse,
  type AgiResponseEvent,
  type AgiResponseLimits,
} from './agi-response-parser.js';

export interface AgiSessionOptions {
  /** Time allowed for the whole environment block after connect. Default 5 s. */
  readonly envTimeoutMs?: number;
  /** Default time allowed for one command's final answer. Default 60 s; override per call for long Dials. */
  readonly commandTimeoutMs?: number;
  /**
   * Close the session when no command is in flight or queued for this long. Asterisk has no read timeout
   * of its own: a server that forgets a session leaves the channel parked in AGI. Default 120 s.
   */
  readonly idleTimeoutMs?: number;
  /** After `close()` half-closes the socket, destroy it if Asterisk has not closed within this time. Default 2 s. */
  readonly closeGraceMs?: number;
  /** Most commands waiting behind the one in flight. Default 32. */
  readonly maxQueuedCommands?: number;
  readonly envLimits?: Partial<AgiEnvLimits>;
  readonly responseLimits?: Partial<AgiResponseLimits>;
}

export interface AgiCommandOptions {
  /** Overrides {@link AgiSessionOptions.commandTimeoutMs} for this command. */
  readonly timeoutMs?: number;
}

/** Outcome of STREAM FILE. */
export type AgiPlaybackResult =
  | { readonly kind: 'completed'; readonly endpos: number | undefined }
  | { readonly kind: 'digit'; readonly digit: string; readonly endpos: number | undefined }
  /** result=-1 (file missing, channel gone) or 511 on a dead channel. */
  | { readonly kind: 'failed'; readonly response: AgiResponse };

/** Outcome of WAIT FOR DIGIT. */
export type AgiDigitResult =
  | { readonly kind: 'digit'; readonly digit: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'failed'; readonly response: AgiResponse };

/** Outcome of GET DATA. */
export type AgiGetDataResult =
  | { readonly kind: 'digits'; readonly digits: string; readonly timedOut: boolean }
  | { readonly kind: 'failed'; readonly response: AgiResponse };

/**
 * Told the outcome of one command sent with a `...To` method of {@link AgiSession} (`execTo`, `setVariableTo`, ...):
 * exactly once, with the final answer or with the failure. The callback face of the session, for a call path that
 * runs as a state machine: one sink object for all of a call's commands, where the promise face costs a promise,
 * its resolving functions and an `await` per command.
 *
 * The answer is told once every event of the read that brought it is handled (a `HANGUP` in the same read has set
 * {@link AgiSession.hungUp}), as a promise's reaction would see it. A failure is told at once, possibly from inside
 * the `...To` call itself (a command refused before sending): a sink sends its next command as its last action.
 */
export interface AgiCommandSink {
  /** The command's final answer, any code (510/511/520 included). */
  commandAnswered(response: AgiResponse): void;
  /** The command was refused (nothing sent), timed out, or the session ended before its answer. */
  commandFailed(error: Error): void;
}

interface PendingCommand {
  readonly line: string;
  readonly timeoutMs: number;
  readonly sink: AgiCommandSink;
  /**
   * The first of a pair queued by {@link SessionCore.enqueueThen}: its answer is dropped, its failure is the pair's
   * (the second is then not told again).
   */
  readonly chained: boolean;
}

// `new Promise(takeResolvers)` hands the new promise's resolving functions over here, to be read at once by
// takeResolve / takeReject: a promise per command without a closure (and its context) made to capture them.
let takenResolve: ((value: never) => void) | undefined;
let takenReject: ((reason: Error) => void) | undefined;

function takeResolvers(resolve: (value: never) => void, reject: (reason: Error) => void): void {
  takenResolve = resolve;
  takenReject = reject;
}

/** The resolve function of the promise `new Promise(takeResolvers)` just made (not kept here: no call stays reachable). */
function takeResolve<T>(): (value: T) => void {
  const resolve = takenResolve as (value: T) => void;
  takenResolve = undefined;
  return resolve;
}

function takeReject(): (reason: Error) => void {
  const reject = takenReject as (reason: Error) => void;
  takenReject = undefined;
  return reject;
}

/** The promise face of a command: a sink that settles its promise (with the answer, or a `GET VARIABLE`'s value). */
class PromiseSink<T> implements AgiCommandSink {
  readonly promise: Promise<T>;
  private readonly resolve: (value: T) => void;
  private readonly reject: (error: Error) => void;

  /** `variable`: the answer is a `GET VARIABLE`'s, settled as {@link agiVariableValue} reads it. */
  constructor(private readonly variable: boolean) {
    this.promise = new Promise<T>(takeResolvers);
    this.resolve = takeResolve<T>();
    this.reject = takeReject();
  }

  commandAnswered(response: AgiResponse): void {
    if (!this.variable) return this.resolve(response as T);
    let value: string | undefined;
    try {
      value = agiVariableValue(response);
    } catch (error) {
      return this.reject(error as Error);
    }
    this.resolve(value as T);
  }

  commandFailed(error: Error): void {
    this.reject(error);
  }
}

const DEFAULTS = {
  envTimeoutMs: 5_000,
  commandTimeoutMs: 60_000,
  idleTimeoutMs: 120_000,
  closeGraceMs: 2_000,
  maxQueuedCommands: 32,
};

/** The options with their defaults filled in, by the object given: a server passes the same one for every call. */
const resolvedOptions = new WeakMap<AgiSessionOptions, typeof DEFAULTS>();
/** The last options object resolved, and what it resolved to: a server's, found without a WeakMap lookup at accept. */
let lastOptions: AgiSessionOptions | undefined;
let lastResolved: typeof DEFAULTS = DEFAULTS;

function resolveOptions(options: AgiSessionOptions): typeof DEFAULTS {
  if (options === lastOptions) return lastResolved;
  let resolved = resolvedOptions.get(options);
  if (resolved === undefined) {
    resolved = {
      envTimeoutMs: options.envTimeoutMs ?? DEFAULTS.envTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      closeGraceMs: options.closeGraceMs ?? DEFAULTS.closeGraceMs,
      maxQueuedCommands: options.maxQueuedCommands ?? DEFAULTS.maxQueuedCommands,
    };
    resolvedOptions.set(options, resolved);
  }
  lastOptions = options;
  lastResolved = resolved;
  return resolved;
}

/**
 * Told when a session started by {@link AgiSession.accept} has its environment, or failed before it had one. Called
 * from the socket's data (or error, close, timer) handler, with the context given to `accept`: a server passes one
 * starter for every connection, so a call costs no promise and no closure to learn that its session is ready.
 */
export interface AgiSessionStarter<C> {
  /**
   * The environment is parsed (the bytes that came after it in the same read, if any, are already handled: a
   * `HANGUP` among them has set {@link AgiSession.hungUp}). Commands may be sent at once.
   */
  sessionStarted(session: AgiSession, context: C): void;
  /** The session ended before its environment was complete; the socket is destroyed. */
  sessionFailed(error: AgiSessionError, context: C): void;
}

interface PromiseResolvers {
  readonly resolve: (session: AgiSession) => void;
  readonly reject: (error: AgiSessionError) => void;
}

/** {@link AgiSession.start}'s starter: settles the promise whose resolving functions are the context. */
const PROMISE_STARTER: AgiSessionStarter<PromiseResolvers> = {
  sessionStarted: (session, context) => context.resolve(session),
  sessionFailed: (error, context) => context.reject(error),
};

const DIGITS = /^[0-9*#]*$/;
const NO_COMMANDS: readonly PendingCommand[] = Object.freeze([]);
const NO_ARGS: readonly string[] = Object.freeze([]);

/**
 * One FastAGI connection: parses the environment, then runs commands strictly one at a time.
 *
 * Never more than one command is on the wire: res_agi.c answers only the first of several commands that
 * arrive in one read (fixture agi-05-pipelined-commands.json) and a new command aborts a running STREAM
 * FILE / GET DATA, which then never answers. Further calls queue.
 *
 * `HANGUP` lines only set {@link hungUp}: Asterisk keeps executing the commands allowed on a dead channel
 * and answers 511 to the others, and those answers are returned like any other response.
 * Any timeout, protocol error or socket error ends the whole session (an answer that arrives late would
 * be taken for the next command's).
 */
export class AgiSession {
  readonly env: AgiEnvironment;
  private readonly core: SessionCore;

  private constructor(core: SessionCore, env: AgiEnvironment) {
    this.core = core;
    this.env = env;
  }

  /** Wraps an accepted socket; resolves once the environment block is parsed. On failure the socket is destroyed. */
  static start(socket: Duplex, options: AgiSessionOptions = {}): Promise<AgiSession> {
    const answer = new Promise<AgiSession>(takeResolvers);
    AgiSession.accept(socket, options, PROMISE_STARTER, { resolve: takeResolve(), reject: takeReject() });
    return answer;
  }

  /**
   * {@link start} without a promise: `starter` is told, with `context`, when the environment is parsed (the
   * session) or the session failed before that (the error; the socket is then destroyed). For servers that take
   * many calls a second: the call path runs from the socket's read, with no promise and no turn of the microtask
   * queue in between. `options` are resolved once per object: pass the same one for every connection.
   */
  static accept<C>(socket: Duplex, options: AgiSessionOptions, starter: AgiSessionStarter<C>, context: C): void {
    new SessionCore(socket, options, AgiSession.create, starter as AgiSessionStarter<unknown>, context);
  }

  private static create(this: void, core: SessionCore, env: AgiEnvironment): AgiSession {
    return new AgiSession(core, env);
  }

  /** Set once Asterisk wrote `HANGUP` (the channel hung up, or the AGI ended). */
  get hungUp(): boolean {
    return this.core.hungUp;
  }

  /** Whether the session is over (closed by us, by Asterisk, or failed). */
  get closed(): boolean {
    return this.core.isFinished;
  }

  /** Called on each `HANGUP` line. Returns an unsubscribe function. */
  onHangup(listener: () => void): () => void {
    return subscribe((this.core.hangupListeners ??= new Set()), listener);
  }

  /** Called once when the socket is closed; `reason` is undefined for an orderly close. */
  onClose(listener: (reason: AgiSessionError | undefined) => void): () => void {
    return subscribe((this.core.closeListeners ??= new Set()), listener);
  }

  /** Called with lines that are neither responses nor `HANGUP` (they are otherwise ignored). */
  onUnknownLine(listener: (line: string) => void): () => void {
    return subscribe((this.core.unknownListeners ??= new Set()), listener);
  }

  /**
   * Sends one command (arguments are quoted, see {@link formatAgiCommand}) and resolves with its final
   * response - any code, 510/511/520 included. Rejects with {@link AgiSessionError} on timeout or when
   * the session ends, and with {@link AgiCommandError} (before sending) for an unsendable command.
   */
  command(verb: string, args: readonly string[] = NO_ARGS, options?: AgiCommandOptions): Promise<AgiResponse> {
    const sink = new PromiseSink<AgiResponse>(false);
    this.commandTo(sink, verb, args, options);
    return sink.promise;
  }

  /** {@link command}, its outcome told to `sink` (see {@link AgiCommandSink}). */
  commandTo(sink: AgiCommandSink, verb: string, args: readonly string[] = NO_ARGS, options?: AgiCommandOptions): void {
    let line: string;
    try {
      line = formatAgiCommand(verb, args);
    } catch (error) {
      return sink.commandFailed(asError(error));
    }
    this.core.enqueue(line, options?.timeoutMs, sink);
  }

  /** `EXEC <app> <data>`. Build `data` with the whitelisting builders (dialData, mixMonitorData): applications re-split it. */
  exec(application: string, data?: string, options?: AgiCommandOptions): Promise<AgiResponse> {
    const sink = new PromiseSink<AgiResponse>(false);
    this.execTo(sink, application, data, options);
    return sink.promise;
  }

  /** {@link exec}, its outcome told to `sink`. */
  execTo(sink: AgiCommandSink, application: string, data?: string, options?: AgiCommandOptions): void {
    try {
      assertApplicationName(application);
    } catch (error) {
      return sink.commandFailed(asError(error));
    }
    this.commandTo(sink, 'EXEC', data === undefined ? [application] : [application, data], options);
  }

  /**
   * Sends an EXEC line its caller joined (`execLinePrefix(app)` + data + `EXEC_LINE_END`, see agi-command.ts), as
   * {@link exec} would have sent it: refused (AgiCommandError, nothing written) unless it is exactly such a line with
   * data that needs no escaping. For data built from many pieces on every call: the line is made in one join.
   */
  execLine(line: string, options?: AgiCommandOptions): Promise<AgiResponse> {
    const sink = new PromiseSink<AgiResponse>(false);
    this.execLineTo(sink, line, options);
    return sink.promise;
  }

  /** {@link execLine}, its outcome told to `sink`. */
  execLineTo(sink: AgiCommandSink, line: string, options?: AgiCommandOptions): void {
    if (!isReadyExecLine(line)) return sink.commandFailed(notReadyExecLine());
    this.core.enqueue(line, options?.timeoutMs, sink);
  }

  /**
   * {@link execThenGetVariableTo} with the EXEC line joined by its caller (as for {@link execLine}): the application's
   * data is not made a string of its own first and then copied into the line (the agent's Dial, on every call).
   */
  execLineThenGetVariableTo(sink: AgiCommandSink, line: string, name: string, options?: AgiCommandOptions): void {
    if (!isReadyExecLine(line)) return sink.commandFailed(notReadyExecLine());
    let get: string;
    try {
      get = getVariableLine(name);
    } catch (error) {
      return sink.commandFailed(asError(error));
    }
    this.core.enqueueThen(line, options?.timeoutMs, get, sink);
  }

  /** `GET VARIABLE`: the raw value (Asterisk truncates it to 1023 bytes), or undefined when not set. */
  getVariable(name: string, options?: AgiCommandOptions): Promise<string | undefined> {
    const sink = new PromiseSink<string | undefined>(true);
    this.getVariableTo(sink, name, options);
    return sink.promise;
  }

  /** {@link getVariable}, its answer told to `sink`: read the value with {@link agiVariableValue}. */
  getVariableTo(sink: AgiCommandSink, name: string, options?: AgiCommandOptions): void {
    let line: string;
    try {
      line = getVariableLine(name);
    } catch (error) {
      return sink.commandFailed(asError(error));
    }
    this.core.enqueue(line, options?.timeoutMs, sink);
  }

  /**
   * `EXEC <app> <data>`, then `GET VARIABLE <name>` the moment the application returns: resolves with the variable
   * (as {@link getVariable}), for an application whose outcome is a channel variable (Dial and DIALSTATUS). The
   * application's own answer is not returned. Both commands are queued at once, so the second goes out from the
   * read that brought the first's answer - the same bytes in the same order as two awaited calls, without a promise
   * and a turn of the event loop in between. Rejects with the first failure (the application's, when it fails).
   */
  execThenGetVariable(application: string, data: string | undefined, name: string, options?: AgiCommandOptions): Promise<string | undefined> {
    const sink = new PromiseSink<string | undefined>(true);
    this.execThenGetVariableTo(sink, application, data, name, options);
    return sink.promise;
  }

  /**
   * {@link execThenGetVariable}, told to `sink` once: the `GET VARIABLE`'s answer (read it with
   * {@link agiVariableValue}), or the first failure.
   */
  execThenGetVariableTo(sink: AgiCommandSink, application: string, data: string | undefined, name: string, options?: AgiCommandOptions): void {
    let exec: string;
    let get: string;
    try {
      assertApplicationName(application);
      exec = formatAgiCommand('EXEC', data === undefined ? [application] : [application, data]);
      get = getVariableLine(name);
    } catch (error) {
      return sink.commandFailed(asError(error));
    }
    this.core.enqueueThen(exec, options?.timeoutMs, get, sink);
  }

  /**
   * `GET FULL VARIABLE`: evaluates an expression such as `${CALLERID(name)}` (not truncated).
   * A missing variable gives `''` (Asterisk answers `200 result=1 ()`). For values that may hold a newline
   * ask for `${BASE64_ENCODE(...)}` and decode.
   */
  async getFullVariable(expression: string, channel?: string, options?: AgiCommandOptions): Promise<string | undefined> {
    const args = channel === undefined ? [expression] : [expression, channel];
    return variableValue('GET FULL VARIABLE', await this.command('GET FULL VARIABLE', args, options));
  }

  setVariable(name: string, value: string, options?: AgiCommandOptions): Promise<AgiResponse> {
    return this.command('SET VARIABLE', [name, value], options);
  }

  /** {@link setVariable}, its outcome told to `sink`. */
  setVariableTo(sink: AgiCommandSink, name: string, value: string, options?: AgiCommandOptions): void {
    this.commandTo(sink, 'SET VARIABLE', [name, value], options);
  }

  verbose(message: string, level = 1, options?: AgiCommandOptions): Promise<AgiResponse> {
    if (!Number.isInteger(level) || level < 1 || level > 4) {
      return Promise.reject(new AgiCommandError('BAD_ARGUMENT', 'VERBOSE level must be 1-4'));
    }
    return this.command('VERBOSE', [message, String(level)], options);
  }

  answer(options?: AgiCommandOptions): Promise<AgiResponse> {
    return this.command('ANSWER', NO_ARGS, options);
  }

  /** `HANGUP [channel]`: hangs the channel up (the session stays open until closed). */
  hangup(channel?: string, options?: AgiCommandOptions): Promise<AgiResponse> {
    return this.command('HANGUP', channel === undefined ? NO_ARGS : [channel], options);
  }

  /** `STREAM FILE <file> <escapeDigits> [offset]`: plays a sound file; a pressed escape digit interrupts it. */
  async streamFile(file: string, escapeDigits = '', offsetSamples?: number, options?: AgiCommandOptions): Promise<AgiPlaybackResult> {
    assertDigits(escapeDigits);
    const args = [file, escapeDigits];
    if (offsetSamples !== undefined) args.push(String(assertNonNegativeInteger(offsetSamples, 'offset')));
    const response = await this.command('STREAM FILE', args, options);
    const result = response.code === 200 ? response.resultNumber : undefined;
    if (result === undefined || result < 0) return { kind: 'failed', response };
    if (result === 0) return { kind: 'completed', endpos: response.endpos };
    return { kind: 'digit', digit: String.fromCharCode(result), endpos: response.endpos };
  }

  /** `WAIT FOR DIGIT <timeoutMs>` (-1 waits for ever). */
  async waitForDigit(timeoutMs: number, options?: AgiCommandOptions): Promise<AgiDigitResult> {
    if (!Number.isInteger(timeoutMs) || timeoutMs < -1) {
      throw new AgiCommandError('BAD_ARGUMENT', 'WAIT FOR DIGIT timeout must be an integer >= -1');
    }
    const response = await this.command('WAIT FOR DIGIT', [String(timeoutMs)], options);
    const result = response.code === 200 ? response.resultNumber : undefined;
    if (result === undefined || result < 0) return { kind: 'failed', response };
    if (result === 0) return { kind: 'timeout' };
    return { kind: 'digit', digit: String.fromCharCode(result) };
  }

  /**
   * `GET DATA <file> [timeoutMs [maxDigits]]`: plays a prompt and collects digits. Asterisk answers
   * `200 result=<digits>` or `200 result=<digits> (timeout)`; the digits are text (leading zeros kept).
   */
  async getData(file: string, timeoutMs?: number, maxDigits?: number, options?: AgiCommandOptions): Promise<AgiGetDataResult> {
    const args = [file];
    if (timeoutMs !== undefined) args.push(String(assertNonNegativeInteger(timeoutMs, 'timeout')));
    if (maxDigits !== undefined) {
      if (timeoutMs === undefined) throw new AgiCommandError('BAD_ARGUMENT', 'GET DATA maxDigits needs a timeout');
      args.push(String(assertNonNegativeInteger(maxDigits, 'maxDigits')));
    }
    const response = await this.command('GET DATA', args, options);
    const digits = response.result;
    if (response.code !== 200 || digits === undefined || !DIGITS.test(digits)) return { kind: 'failed', response };
    return { kind: 'digits', digits, timedOut: response.data === 'timeout' };
  }

  /**
   * Ends the session: pending and queued commands are rejected with SESSION_CLOSED and the socket is
   * half-closed (Asterisk then writes `HANGUP` and closes); destroyed after `closeGraceMs` otherwise.
   * Resolves once the socket is closed; never rejects.
   */
  close(): Promise<void> {
    return this.core.close();
  }

  /**
   * Ends the session as {@link close} does, for a caller that does not wait for the socket to close: no promise is
   * made (a server ends a session per call and learns of the socket's close from the socket).
   */
  end(): void {
    this.core.shutdown(false);
  }

  /**
   * Ends the session as {@link end} does, but closes the socket at once instead of half-closing it and waiting for
   * Asterisk to close its side: Asterisk reads the end of the stream and ends the AGI as after a half-close
   * (AGISTATUS=SUCCESS, or HANGUP when the channel is gone; Asterisk 22 was seen to do so for a server that closes
   * without a command, see the protocol reference). Its last `HANGUP` notification, written after that, finds the
   * socket closed and is answered with a reset by the kernel; nothing waits for it. For a server that ends a
   * session per call and needs nothing more from it: no shutdown, no read of that `HANGUP` and of Asterisk's FIN,
   * none of the stream's end-of-stream steps (bench:agi: 7-15% less CPU per call).
   */
  endNow(): void {
    this.core.shutdown(true);
  }
}

/**
 * Connection listener for `net.createServer`: starts an {@link AgiSession}, runs `handler`, and always
 * closes the session afterwards. Errors (environment, handler, socket) go to `onError`.
 */
export function createAgiConnectionHandler(
  handler: (session: AgiSession) => Promise<void>,
  options: AgiSessionOptions & { readonly onError: (error: unknown, session: AgiSession | undefined) => void },
): (socket: Duplex) => void {
  return (socket) => {
    let session: AgiSession | undefined;
    const run = async (): Promise<void> => {
      session = await AgiSession.start(socket, options);
      try {
        await handler(session);
      } finally {
        await session.close();
      }
    };
    run().catch((error: unknown) => options.onError(error, session));
  };
}

/** `GET VARIABLE` lines by name: the agent reads DIALSTATUS after every Dial. */
const getVariableLines = new Map<string, string>();
const MAX_GET_VARIABLE_LINES = 32;

function getVariableLine(name: string): string {
  let line = getVariableLines.get(name);
  if (line === undefined) {
    line = formatAgiCommand('GET VARIABLE', [name]);
    if (getVariableLines.size < MAX_GET_VARIABLE_LINES) getVariableLines.set(name, line);
  }
  return line;
}

/**
 * A `GET VARIABLE` answer's value: the raw value, or undefined when the variable is not set. Throws
 * {@link AgiCommandRejectedError} for any other answer (e.g. 511 on a dead channel).
 */
export function agiVariableValue(response: AgiResponse): string | undefined {
  return variableValue('GET VARIABLE', response);
}

function variableValue(command: string, response: AgiResponse): string | undefined {
  if (response.code === 200 && response.result === '1') return response.data ?? '';
  if (response.code === 200 && response.result === '0') return undefined;
  throw new AgiCommandRejectedError(command, response);
}

function assertDigits(value: string): void {
  if (!DIGITS.test(value)) throw new AgiCommandError('BAD_ARGUMENT', 'escape digits must be [0-9*#]');
}

function assertNonNegativeInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0) throw new AgiCommandError('BAD_ARGUMENT', `${what} must be a non-negative integer`);
  return value;
}

function notReadyExecLine(): AgiCommandError {
  return new AgiCommandError('BAD_ARGUMENT', 'not an EXEC line with data that needs no escaping');
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function subscribe<T>(set: Set<T>, listener: T): () => void {
  set.add(listener);
  return () => {
    set.delete(listener);
  };
}

/**
 * Session bounds at least this long are watched by {@link SESSION_BOUNDS} (every default bound: environment 5 s,
 * close grace 2 s, command 60 s, idle 120 s); shorter ones have a timer of their own.
 */
const SWEPT_BOUND_MS = 1_000;
/** One sweep for the bounds of every session: a bound fires at most 100 ms late (10% of the shortest swept). */
const SESSION_BOUNDS = new DeadlineSweep(100);

/** Socket-facing state machine behind {@link AgiSession}. */
class SessionCore implements Swept {
  // Created on first subscription: most sessions never subscribe.
  hangupListeners: Set<() => void> | undefined;
  closeListeners: Set<(reason: AgiSessionError | undefined) => void> | undefined;
  unknownListeners: Set<(line: string) => void> | undefined;
  hungUp = false;

  private readonly socket: Duplex;
  private readonly options: typeof DEFAULTS;
  private readonly envParser: AgiEnvParser;
  /** Made on the first answer (see {@link onResponseBytes}): not on the way from accept to the first command. */
  private responseParser: AgiResponseParser | undefined;
  private readonly responseLimits: Partial<AgiResponseLimits> | undefined;
  private phase: 'env' | 'commands' | 'closing' | 'closed' = 'env';
  private failure: AgiSessionError | undefined;
  /**
   * The sink of the command in flight (undefined: none), and whether that command is the first of a pair (its answer
   * dropped, see {@link enqueueThen}). Kept here, as {@link followLine}'s are: a command costs no object of its own
   * unless it has to wait in {@link queue}.
   */
  private inFlightSink: AgiCommandSink | undefined;
  private inFlightChained = false;
  /** Commands sent so far: tells {@link send} whether the command it wrote is still the one in flight. */
  private sent = 0;
  /** An answer waiting for the end of its read, and the sink it goes to (see {@link holdAnswer}). */
  private heldSink: AgiCommandSink | undefined;
  private heldAnswer: AgiResponse | undefined;
  /** The command that goes right after the one in flight, ahead of {@link queue}: a pair's second (see {@link enqueueThen}). */
  private followLine: string | undefined;
  private followSink: AgiCommandSink | undefined;
  /** Commands waiting behind those; made on first use (callers nearly always wait for each answer). */
  private queue: PendingCommand[] | undefined;
  /** A bound shorter than {@link SWEPT_BOUND_MS} runs on a timer of the session's own (see {@link arm}). */
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  /** The current bound's length. */
  private boundMs = 0;
  /** What the bound is for: the environment, the command in flight, an idle session, or Asterisk's close after ours. */
  private deadlineKind: 'env' | 'command' | 'idle' | 'grace' = 'env';
  // The bound as the shared sweep watches it (see Swept): its fields, so that arming it allocates nothing.
  sweepAt = 0;
  sweepState: Swept['sweepState'] = 0;
  sweepPrev: Swept | undefined = undefined;
  sweepNext: Swept | undefined = undefined;
  private envPending = true;
  /** Commands go straight to the TCP handle (see writeLine); false: through `socket.write` (other streams). */
  private readonly directWrite: boolean;
  private readonly createSession: (core: SessionCore, env: AgiEnvironment) => AgiSession;
  /** Told once: the session, or its failure while {@link envPending}. */
  private readonly starter: AgiSessionStarter<unknown>;
  private readonly context: unknown;
  /** Made by the first close(). */
  private closedPromise: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;

  constructor(
    socket: Duplex,
    options: AgiSessionOptions,
    createSession: (core: SessionCore, env: AgiEnvironment) => AgiSession,
    starter: AgiSessionStarter<unknown>,
    context: unknown,
  ) {
    this.socket = socket;
    this.createSession = createSession;
    this.starter = starter;
    this.context = context;
    this.options = resolveOptions(options);
    this.envParser = new AgiEnvParser(options.envLimits);
    this.responseLimits = options.responseLimits;
    // Commands are small and latency matters (HANGUP races): no Nagle delay.
    if (socket instanceof Socket) socket.setNoDelay(true);
    // The same four functions for every session, which they find on the socket: no closures made per call.
    (socket as CoreSocket)[SESSION_CORE] = this;
    // An accepted TCP socket reads into one buffer shared by every session (no Buffer, stream bookkeeping and
    // tick per read); other streams (tests' doubles) keep 'data'.
    if (!readIntoSharedBuffer(socket, onSocketRead)) socket.on('data', onSocketData);
    // And writes to its handle, past the Writable stream (no stream state, WriteWrap or tick per command).
    this.directWrite = canWriteDirect(socket);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    this.arm('env', this.options.envTimeoutMs);
  }

  get isFinished(): boolean {
    return this.phase === 'closing' || this.phase === 'closed';
  }

  enqueue(line: string, timeoutMs: number | undefined, sink: AgiCommandSink): void {
    const refusal = this.refusal(1);
    if (refusal !== undefined) return sink.commandFailed(refusal);
    const ms = timeoutMs ?? this.options.commandTimeoutMs;
    try {
      // Nothing in flight (the usual case: callers wait for each answer): on the wire at once, the queue unused.
      if (this.idle) this.send(line, ms, sink, false);
      else {
        (this.queue ??= []).push({ line, timeoutMs: ms, sink, chained: false });
        this.pump();
      }
    } catch (error) {
      sink.commandFailed(toSessionError(error));
    }
  }

  /**
   * `first` (its answer dropped) and then `second`, a `GET VARIABLE`, queued together: `sink` hears the answer to
   * `second`, or the first failure of either. The second is sent from {@link onEvent} as soon as the first is
   * answered; it waits in {@link followLine}, not in the queue, when nothing else is queued (the usual Dial).
   */
  enqueueThen(first: string, firstTimeoutMs: number | undefined, second: string, sink: AgiCommandSink): void {
    const refusal = this.refusal(2);
    if (refusal !== undefined) return sink.commandFailed(refusal);
    const ms = firstTimeoutMs ?? this.options.commandTimeoutMs;
    try {
      if (this.idle) {
        this.followLine = second;
        this.followSink = sink;
        this.send(first, ms, sink, true);
      } else {
        (this.queue ??= []).push({ line: first, timeoutMs: ms, sink, chained: true }, { line: second, timeoutMs: this.options.commandTimeoutMs, sink, chained: false });
        this.pump();
      }
    } catch (error) {
      sink.commandFailed(toSessionError(error));
    }
  }

  /** Why `count` more commands cannot be queued now, if they cannot. */
  private refusal(count: number): AgiSessionError | undefined {
    if (this.isFinished) return this.failure ?? new AgiSessionError('SESSION_CLOSED', 'AGI session is closed');
    if (this.queued + count > this.options.maxQueuedCommands) return new AgiSessionError('QUEUE_FULL', 'too many AGI commands queued');
    return undefined;
  }

  /** Ready for a command, with none in flight or waiting. */
  private get idle(): boolean {
    return this.phase === 'commands' && this.inFlightSink === undefined && this.queued === 0;
  }

  close(): Promise<void> {
    if (this.phase === 'closed') return Promise.resolve();
    if (this.closedPromise === undefined) {
      this.closedPromise = new Promise<void>(takeResolvers);
      this.resolveClosed = takeResolve<void>();
      takeReject(); // never rejects: only cleared
    }
    this.shutdown(false);
    return this.closedPromise;
  }

  /**
   * close() without its promise: pending commands rejected, then the socket half-closed and the close grace armed,
   * or (`now`: {@link AgiSession.endNow}) the socket destroyed at once.
   */
  shutdown(now: boolean): void {
    if (this.phase === 'closed' || this.phase === 'closing') return;
    this.phase = 'closing';
    // Errors carry a stack trace: build one only when a command is actually waiting (not on every call).
    if (this.hasPending) this.rejectAll(new AgiSessionError('SESSION_CLOSED', 'AGI session closed'));
    if (now) {
      // The idle bound goes now: 'close' (onClosed) comes a turn later.
      this.clearTimer();
      this.socket.destroy();
      return;
    }
    this.socket.end();
    this.arm('grace', this.options.closeGraceMs);
  }

  /** Bytes from the socket: `chunk`'s first `byteCount` (a shared read buffer is lent for this call only). */
  onData(chunk: Buffer, byteCount: number): void {
    if (this.phase === 'closed') return;
    try {
      if (this.phase === 'env') {
        const done = this.envParser.push(chunk, byteCount);
        if (!done) return;
        this.phase = 'commands';
        this.envPending = false;
        const session = this.createSession(this, done.env);
        this.armIdle();
        if (done.leftover.length > 0) {
          try {
            this.onResponseBytes(done.leftover);
          } catch (error) {
            // The session exists: its owner still gets it (and finds it failed), as with a promise resolved first.
            this.fail(toSessionError(error));
          }
        }
        this.starter.sessionStarted(session, this.context);
        return;
      }
      this.onResponseBytes(chunk, byteCount);
    } catch (error) {
      this.fail(toSessionError(error));
    }
  }

  private onResponseBytes(bytes: Buffer, byteCount = bytes.length): void {
    // One list for every session, refilled per chunk: a chunk nearly always holds a single answer. A test double
    // may answer synchronously from inside onEvent (write -> data): that nested chunk gets a list of its own.
    const nested = sharedEventsBusy;
    const events = nested ? new EventList() : SHARED_EVENTS;
    try {
      (this.responseParser ??= new AgiResponseParser(this.responseLimits)).pushInto(bytes, events, byteCount);
    } catch (error) {
      // As before: a chunk that breaks a limit delivers none of its events.
      events.clear();
      throw error;
    }
    if (nested) {
      try {
        for (let i = 0; i < events.count; i++) this.onEvent(events.items[i] as AgiResponseEvent);
      } finally {
        this.tellAnswer();
      }
      return;
    }
    sharedEventsBusy = true;
    try {
      for (let i = 0; i < events.count; i++) this.onEvent(events.items[i] as AgiResponseEvent);
    } finally {
      sharedEventsBusy = false;
      events.clear();
      this.tellAnswer();
    }
  }

  /**
   * Keeps an answer for its sink until the read's events are all handled (see {@link AgiCommandSink}): the sink may
   * send its next command at once, and must find a `HANGUP` that came in the same read already counted.
   */
  private holdAnswer(sink: AgiCommandSink, response: AgiResponse): void {
    // Only a peer answering commands it was never sent gets here twice in one read: the earlier answer goes first.
    if (this.heldSink !== undefined) this.tellAnswer();
    this.heldSink = sink;
    this.heldAnswer = response;
  }

  private tellAnswer(): void {
    const sink = this.heldSink;
    if (sink === undefined) return;
    const response = this.heldAnswer as AgiResponse;
    this.heldSink = undefined;
    this.heldAnswer = undefined;
    sink.commandAnswered(response);
  }

  private onEvent(event: AgiResponseEvent): void {
    switch (event.type) {
      case 'hangup':
        this.hungUp = true;
        if (this.hangupListeners) for (const listener of [...this.hangupListeners]) listener();
        return;
      case 'unknown':
        if (this.unknownListeners) for (const listener of [...this.unknownListeners]) listener(event.line);
        return;
      case 'intermediate':
        if (this.phase === 'commands' && this.inFlightSink === undefined) this.protocolError(`intermediate response without a command: ${event.response.raw}`);
        return;
      case 'response': {
        if (this.phase !== 'commands') return; // closing: answers to rejected commands are dropped
        const sink = this.inFlightSink;
        if (sink === undefined) {
          this.protocolError(`response without a command in flight: ${event.response.raw}`);
          return;
        }
        this.inFlightSink = undefined;
        if (!this.inFlightChained) this.holdAnswer(sink, event.response);
        this.pump(); // re-arms the timer: for the next command, or the idle bound
        return;
      }
    }
  }

  /** Commands waiting behind the one in flight. */
  private get queued(): number {
    return (this.queue?.length ?? 0) + (this.followSink === undefined ? 0 : 1);
  }

  private pump(): void {
    if (this.phase !== 'commands' || this.inFlightSink !== undefined) return;
    const followSink = this.followSink;
    if (followSink !== undefined) {
      const line = this.followLine as string;
      this.followLine = undefined;
      this.followSink = undefined;
      return this.send(line, this.options.commandTimeoutMs, followSink, false);
    }
    const next = this.queue?.shift();
    if (next === undefined) {
      this.armIdle();
      return;
    }
    this.send(next.line, next.timeoutMs, next.sink, next.chained);
  }

  /**
   * Puts the command on the wire, then bounds it: the write is what Asterisk waits for (the first command's is the
   * call's time to first command), the timer's bookkeeping can follow it. A test double that answers from inside the
   * write has already moved on (the next command sent and bounded, or the session idle or closing): its bound stays.
   */
  private send(line: string, timeoutMs: number, sink: AgiCommandSink, chained: boolean): void {
    this.inFlightSink = sink;
    this.inFlightChained = chained;
    const sent = ++this.sent;
    try {
      if (this.directWrite) writeLine(this.socket, line);
      else this.socket.write(line);
    } finally {
      if (this.sent === sent && this.inFlightSink !== undefined && this.phase === 'commands') this.arm('command', timeoutMs);
    }
  }

  private armIdle(): void {
    this.arm('idle', this.options.idleTimeoutMs);
  }

  /**
   * The session's bound for this phase, counted from now (the one before it is dropped). A bound of
   * {@link SWEPT_BOUND_MS} or more - every default one - is watched by the sweep all sessions share (fired at most
   * its period late, never early): no timer per session, which a call would make and clear while arming a bound
   * per command and reaching almost none. A shorter one gets a timer of the session's own, to the millisecond.
   * Waiting for Asterisk's close after ours (`grace`) does not keep the process alive.
   */
  private arm(kind: SessionCore['deadlineKind'], ms: number): void {
    this.deadlineKind = kind;
    this.boundMs = ms;
    if (ms >= SWEPT_BOUND_MS) {
      if (this.timer !== undefined) this.clearTimer();
      SESSION_BOUNDS.watch(this, ms, kind !== 'grace');
      return;
    }
    SESSION_BOUNDS.unwatch(this);
    if (this.timer !== undefined && this.timerMs === ms) this.timer.refresh();
    else {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timerMs = ms;
      this.timer = setTimeout(onSessionDeadline, ms, this);
    }
    if (kind === 'grace') this.timer.unref();
    else if (!this.timer.hasRef()) this.timer.ref();
  }

  onSweptDeadline(): void {
    this.onDeadline();
  }

  onDeadline(): void {
    this.timer = undefined;
    switch (this.deadlineKind) {
      case 'env':
        return this.fail(new AgiSessionError('ENV_TIMEOUT', 'no complete AGI environment in time'));
      case 'command':
        return this.fail(new AgiSessionError('COMMAND_TIMEOUT', `no answer within ${this.boundMs} ms`));
      case 'idle':
        return this.fail(new AgiSessionError('IDLE_TIMEOUT', 'AGI session idle for too long'));
      case 'grace':
        this.socket.destroy();
        return;
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    SESSION_BOUNDS.unwatch(this);
  }

  private protocolError(message: string): void {
    this.fail(new AgiSessionError('PROTOCOL_ERROR', message));
  }

  onPeerEnd(): void {
    if (this.isFinished) return;
    this.fail(new AgiSessionError('SOCKET_CLOSED', 'Asterisk closed the AGI connection'));
  }

  /** Ends the session because of `error`: everything pending is rejected and the socket destroyed. */
  private fail(error: AgiSessionError): void {
    if (this.phase === 'closed') return;
    this.failure ??= error;
    this.phase = 'closing';
    this.clearTimer();
    this.rejectAll(error);
    this.socket.destroy();
    if (this.envPending) this.startFailed(error);
  }

  private startFailed(error: AgiSessionError): void {
    this.envPending = false;
    this.starter.sessionFailed(error, this.context);
  }

  private get hasPending(): boolean {
    return this.inFlightSink !== undefined || this.queued > 0;
  }

  private rejectAll(reason: AgiSessionError): void {
    const inFlightSink = this.inFlightSink;
    const inFlightChained = this.inFlightChained;
    this.inFlightSink = undefined;
    const followSink = this.followSink;
    this.followLine = undefined;
    this.followSink = undefined;
    const queued = this.queue === undefined || this.queue.length === 0 ? NO_COMMANDS : this.queue.splice(0);
    // A pair's second command is not told again: its sink heard the failure with the first.
    let pairTail = false;
    if (inFlightSink !== undefined) {
      inFlightSink.commandFailed(reason);
      pairTail = inFlightChained;
    }
    if (followSink !== undefined) {
      if (!pairTail) followSink.commandFailed(new AgiSessionError('SESSION_CLOSED', 'AGI session ended before the command was sent', { cause: reason }));
      pairTail = false;
    }
    for (const command of queued) {
      if (!pairTail) command.sink.commandFailed(new AgiSessionError('SESSION_CLOSED', 'AGI session ended before the command was sent', { cause: reason }));
      pairTail = !pairTail && command.chained;
    }
  }

  onSocketError(error: Error): void {
    this.fail(new AgiSessionError('SOCKET_ERROR', `AGI socket error: ${error.message}`, { cause: error }));
  }

  onClosed(): void {
    if (this.phase === 'closed') return;
    // The socket no longer leads to the session: a closed socket lingers until its native handle lets go of it (it
    // is often promoted), and must not keep the session, its parsers, environment and promises alive with it.
    (this.socket as CoreSocket)[SESSION_CORE] = undefined;
    const wasOrderly = this.phase === 'closing' && this.failure === undefined;
    if (!wasOrderly) this.failure ??= new AgiSessionError('SOCKET_CLOSED', 'AGI connection closed');
    this.phase = 'closed';
    this.clearTimer();
    if (this.envPending) this.startFailed(this.failure ?? new AgiSessionError('SOCKET_CLOSED', 'AGI connection closed'));
    if (this.hasPending) this.rejectAll(this.failure ?? new AgiSessionError('SESSION_CLOSED', 'AGI session closed'));
    this.resolveClosed?.();
    if (this.closeListeners) for (const listener of [...this.closeListeners]) listener(this.failure);
  }
}

/**
 * A chunk's response events, in slots reused from chunk to chunk: an array emptied with `length = 0` gets a new
 * backing store at its next push (~150 bytes per read).
 */
class EventList {
  readonly items: (AgiResponseEvent | undefined)[] = [];
  count = 0;

  push(event: AgiResponseEvent): void {
    if (this.count < this.items.length) this.items[this.count] = event;
    else this.items.push(event);
    this.count += 1;
  }

  /** Empties the list (its slots let go of the events, and stay). */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.items[i] = undefined;
    this.count = 0;
  }
}

/** The list {@link SessionCore.onResponseBytes} fills, shared by every session; busy while its events are handled. */
const SHARED_EVENTS = new EventList();
let sharedEventsBusy = false;

/** Where a session's socket keeps its {@link SessionCore} for the shared listeners below (until it closes). */
const SESSION_CORE = Symbol('agiSessionCore');
type CoreSocket = Duplex & { [SESSION_CORE]?: SessionCore | undefined };

function onSocketData(this: CoreSocket, chunk: Buffer | string): void {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  this[SESSION_CORE]?.onData(bytes, bytes.length);
}

/** A read into the shared buffer (see readIntoSharedBuffer): its first `byteCount` bytes, lent for this call. */
function onSocketRead(this: CoreSocket, byteCount: number, buffer: Buffer): void {
  this[SESSION_CORE]?.onData(buffer, byteCount);
}

function onSocketEnd(this: CoreSocket): void {
  this[SESSION_CORE]?.onPeerEnd();
}

function onSocketError(this: CoreSocket, error: Error): void {
  this[SESSION_CORE]?.onSocketError(error);
}

function onSocketClose(this: CoreSocket): void {
  this[SESSION_CORE]?.onClosed();
}

function onSessionDeadline(core: SessionCore): void {
  core.onDeadline();
}

function toSessionError(error: unknown): AgiSessionError {
  if (error instanceof AgiSessionError) return error;
  if (error instanceof AgiEnvError || error instanceof AgiResponseParseError) {
    switch (error.code) {
      case 'ENV_LINE_TOO_LONG':
      case 'ENV_TOO_MANY_LINES':
      case 'ENV_TOO_LARGE':
      case 'RESPONSE_LINE_TOO_LONG':
      case 'RESPONSE_BLOCK_TOO_LARGE':
        return new AgiSessionError('INPUT_TOO_LARGE', error.message, { cause: error });
      case 'ENV_MALFORMED_LINE':
      case 'ENV_DUPLICATE_KEY':
      case 'ENV_MISSING_FIELD':
      case 'ENV_ALREADY_COMPLETE':
        return new AgiSessionError('PROTOCOL_ERROR', error.message, { cause: error });
    }
  }
  if (error instanceof AsteriskProtocolError) return new AgiSessionError('PROTOCOL_ERROR', error.message, { cause: error });
  // Not ours (e.g. a listener threw): still end the session rather than leave it half-updated.
  return new AgiSessionError('PROTOCOL_ERROR', error instanceof Error ? error.message : String(error), { cause: error });
}
