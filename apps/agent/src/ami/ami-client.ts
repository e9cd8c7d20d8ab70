/**
 * The agent's AMI adapter: typed, promise-based actions over the npm package `asterisk-manager` 0.2.0.
 *
 * Why a wrapper and not the package's own API (asterisk-protocols.md, "asterisk-manager quirks"):
 * - it logs in at construction when given a port: we construct it without one and call connect()/login();
 * - `keepConnected()` re-arms only before the first connect, with 10 s steps: we never call it. Each connection
 *   attempt gets a FRESH instance, so its internal "held" queue, its lost callbacks and its reconnect state die
 *   with the connection; reconnection is ours (capped exponential backoff with jitter, forever);
 * - action callbacks never time out and are lost on disconnect, and list actions call back on the first response
 *   only: we never use its callbacks for actions; we route every message ourselves by our own ActionID
 *   (unique per client: random prefix + counter), with a timeout per action, list items collected until the
 *   `EventList: Complete` event, and every in-flight action rejected with DISCONNECTED when the socket closes;
 * - it pre-installs a no-op `error` listener: ours turns socket errors into typed AmiClientError reports;
 * - it does no CR/LF escaping: every action is serialised with @fedpbx/asterisk `formatAmiAction`, which
 *   throws AmiFormatError on CR/LF/NUL in any key or value, bad keys and over-long lines, so nothing that could
 *   inject a header or a second action (fixture ami-10-crlf-injection.json) is ever written;
 * - it sends `Event: on` instead of `Events:` at login, which Asterisk ignores: events then follow the AMI user's
 *   `read=` classes, which is why deploy/asterisk/manager_fedpbx.conf grants only system,call,reporting(,cdr).
 *
 * The package connects and logs in; after the Login answer the stream is ours (ami-stream.ts): actions are written
 * on its socket, all those of one tick in ONE write (a lamp resync is hundreds of Setvar: the package writes each
 * with its own syscall), and what Asterisk sends is read by @fedpbx/asterisk's bounded AmiParser instead of the
 * package's unbounded one (which also re-splits its whole backlog per chunk). Asterisk answers pipelined actions of
 * one session in order, each with its ActionID (manager.c reads and runs one action at a time per session).
 *
 * Event filters (ami-filter.ts): {@link AmiClient.addEventFilter} asks Asterisk not to send events nobody here wants;
 * they are sent with `Action: Filter` after every Login, before the connected listeners run (so before anything they
 * send), and a refusal only costs the saving.
 *
 * Secrets: the AMI secret lives only in the package's options object and is never logged. Field values of
 * actions are never logged (only action names). Events may carry passwords (AuthDetail): use
 * {@link loggableHeaders} before logging any message.
 */
// The package is untyped CommonJS: its ambient declaration must reach every program that compiles this file
// (test/tsconfig.json too), and a module file cannot augment an untyped module - hence a reference, not an import.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./asterisk-manager.d.ts" />
import { randomBytes } from 'node:crypto';
import { AmiHeaders, formatAmiAction, type AmiHeader, type AmiMessage } from '@fedpbx/asterisk';
import Manager, { type ManagerInstance, type RawAmiItem } from 'asterisk-manager';
import type { Logger } from '../logger.js';
import { AmiClientError } from './ami-errors.js';
import { checkFilter, filterActionFields, filterConfLine, type AmiEventFilter } from './ami-filter.js';
import { AmiStream } from './ami-stream.js';

export type AmiEvent = Extract<AmiMessage, { kind: 'event' }>;
export type AmiResponse = Extract<AmiMessage, { kind: 'response' }>;
export type AmiFields = Readonly<Record<string, string>>;

export interface AmiListResult {
  readonly response: AmiResponse;
  /** The list's items in order (every event with our ActionID before the Complete event). */
  readonly items: readonly AmiEvent[];
  /** The `<Name>Complete` event (`EventList: Complete`, `ListItems`, counters); absent for a list-less Success. */
  readonly complete: AmiEvent | undefined;
}

export type AmiConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'stopped';

export interface AmiClientOptions {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly secret: string;
  readonly log: Logger;
  /** Default timeout of an action (for a list: of its response and of each next item). Default 10 s. */
  readonly actionTimeoutMs?: number;
  /** TCP connect plus Login must finish within this. Default 10 s (a failed Login alone takes Asterisk 1 s). */
  readonly loginTimeoutMs?: number;
  /** Reconnect backoff: first delay, cap, and +-jitter fraction. Defaults 500 ms, 30 s, 0.2. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number; readonly jitter?: number };
  /** A Ping every this many ms detects a hung Asterisk (no answer -> reconnect). 0 turns it off. Default 30 s. */
  readonly keepaliveMs?: number;
  /** Most items one list action may return. Default 100 000. */
  readonly maxListItems?: number;
  /**
   * Events coming densely are read together, at most this long after they came (ms; ami-stream.ts): a wake-up per
   * read was most of the agent's CPU per call at 50 calls/s. A function is asked at every read (the busy lamps want
   * their events at once while some site watches them). Default 0: every event is read at once.
   */
  readonly readHoldMs?: number | (() => number);
}

interface Pending {
  readonly action: string;
  readonly list: boolean;
  readonly timeoutMs: number;
  /** Date.now() after which it times out (for a list: without its next item). */
  deadline: number;
  response: AmiResponse | undefined;
  /** A list's items so far (a shared empty array for other actions: nothing is added to it). */
  readonly items: AmiEvent[];
  /**
   * Called once with the outcome and `tag`: for action()/listAction() {@link settlePromise} with the promise's settle
   * pair; for post() the caller's own function and tag, given `undefined` for a success (`post` set).
   */
  readonly done: Done;
  readonly tag: unknown;
  readonly post: boolean;
}

type Outcome = Error | AmiResponse | AmiListResult;
type Done = (outcome: Outcome | undefined, tag: never) => void;

interface PromiseSettle {
  readonly resolve: (value: AmiResponse | AmiListResult) => void;
  readonly reject: (error: Error) => void;
}

/** The `done` of a promise-returning action: its tag is the promise's resolve and reject. */
function settlePromise(outcome: Outcome | undefined, tag: PromiseSettle): void {
  if (outcome instanceof Error) tag.reject(outcome);
  else if (outcome !== undefined) tag.resolve(outcome);
}

const NO_ITEMS: AmiEvent[] = [];

interface Connection {
  readonly generation: number;
  readonly manager: ManagerInstance;
  /** The socket's messages and our writes (set right after the package opens the socket). */
  stream: AmiStream | undefined;
  loggedIn: boolean;
}

type Listener<A extends unknown[]> = (...args: A) => void;

const SECRET_KEYS = new Set(['secret', 'password', 'md5cred', 'passworddigest', 'oauthsecret', 'refreshtoken', 'oauthclientid']);

/** A message's headers as a plain object for logs, with every password-like value replaced. */
export function loggableHeaders(message: AmiMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of message.headers) out[key] = SECRET_KEYS.has(key.toLowerCase()) ? '[redacted]' : value;
  return out;
}

export class AmiClient {
  private readonly opts: Required<Omit<AmiClientOptions, 'backoff' | 'readHoldMs'>> & { backoff: { initialMs: number; maxMs: number; jitter: number } };
  private readonly readHoldMs: () => number;
  private readonly idPrefix = `fedpbx-${randomBytes(4).toString('hex')}-`;
  private nextId = 0;
  private readonly pending = new Map<string, Pending>();
  /**
   * One timer for every action in flight, armed for the earliest deadline, instead of a timer per action: at
   * thousands of Setvar a second a Timeout object each (created, linked, cleared) was a good part of the garbage.
   */
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Number.POSITIVE_INFINITY;
  private conn: Connection | undefined;
  private generation = 0;
  private attempt = 0;
  private stateValue: AmiConnectionState = 'idle';
  private reconnectTimer: NodeJS.Timeout | undefined;
  private loginTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastLoginError: string | undefined;
  private readonly eventListeners = new Set<Listener<[AmiEvent]>>();
  private readonly connectedListeners = new Set<Listener<[]>>();
  private readonly stateListeners = new Set<Listener<[AmiConnectionState]>>();
  private readonly errorListeners = new Set<Listener<[AmiClientError]>>();
  /** Event filters for every session, by their manager.conf line (the same filter asked twice is sent once). */
  private readonly eventFilters = new Map<string, AmiEventFilter>();
  /** Filters Asterisk refused, with its answer: said once per filter and answer, not at every reconnect. */
  private readonly refusedFilters = new Set<string>();

  constructor(options: AmiClientOptions) {
    this.opts = {
      actionTimeoutMs: 10_000,
      loginTimeoutMs: 10_000,
      keepaliveMs: 30_000,
      maxListItems: 100_000,
      ...options,
      backoff: { initialMs: 500, maxMs: 30_000, jitter: 0.2, ...options.backoff },
    };
    const hold = options.readHoldMs ?? 0;
    this.readHoldMs = typeof hold === 'function' ? hold : () => hold;
  }

  get state(): AmiConnectionState {
    return this.stateValue;
  }

  get connected(): boolean {
    return this.stateValue === 'connected';
  }

  /** Every unsolicited event (anything that is not an item of one of our list actions). */
  onEvent(listener: (event: AmiEvent) => void): () => void {
    return add(this.eventListeners, listener);
  }

  /** After each successful Login (first and every reconnect): the place to re-read state. */
  onConnected(listener: () => void): () => void {
    return add(this.connectedListeners, listener);
  }

  onStateChange(listener: (state: AmiConnectionState) => void): () => void {
    return add(this.stateListeners, listener);
  }

  /** Connection-level failures (socket errors, failed logins, unmatched error responses); already logged. */
  onError(listener: (error: AmiClientError) => void): () => void {
    return add(this.errorListeners, listener);
  }

  /**
   * Asks Asterisk not to send the events this filter excludes (or, for an include filter: only those it includes, once
   * any include filter is set) - for this session if logged in, and after every later Login. Throws for a filter
   * Asterisk would refuse or that is unsafe on an older Asterisk (ami-filter.ts checkFilter). Callers must still
   * ignore the events they do not want: an Asterisk without filters, or a user without `write = system`, sends all.
   */
  addEventFilter(filter: AmiEventFilter): void {
    checkFilter(filter);
    const line = filterConfLine(filter);
    if (this.eventFilters.has(line)) return;
    this.eventFilters.set(line, filter);
    if (this.stateValue === 'connected') this.sendFilter(line, filter);
  }

  /** The filters asked for, as manager.conf lines (status, tests). */
  get eventFilterLines(): string[] {
    return [...this.eventFilters.keys()];
  }

  private sendFilter(line: string, filter: AmiEventFilter): void {
    this.action('Filter', filterActionFields(filter)).then(
      () => this.opts.log.debug({ filter: line }, 'AMI event filter set'),
      (error: unknown) => {
        if (!(error instanceof AmiClientError) || error.code !== 'ACTION_FAILED') return; // connection gone: sent again at the next Login
        const key = `${line}\n${error.message}`;
        if (this.refusedFilters.has(key)) return;
        this.refusedFilters.add(key);
        this.opts.log.warn({ filter: line, reason: filter.reason, answer: error.message }, 'Asterisk refused an AMI event filter: those events still come (and are ignored)');
      },
    );
  }

  /** Starts connecting; from now on the client reconnects forever until stop(). */
  start(): void {
    if (this.stateValue !== 'idle') return;
    this.connect();
  }

  /** Fails every action in flight with STOPPED and closes the connection. */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    clearTimeout(this.reconnectTimer);
    const conn = this.conn;
    this.dropConnection(new AmiClientError('STOPPED', 'AMI client stopped'));
    this.setState('stopped');
    if (conn !== undefined) await new Promise<void>((resolve) => conn.manager.disconnect(resolve));
  }

  /**
   * Sends one action and resolves with its `Response: Success` (or `Goodbye`). Rejects with AmiFormatError
   * (nothing sent) for CR/LF/NUL or bad keys, AmiClientError NOT_CONNECTED / TIMEOUT / DISCONNECTED /
   * ACTION_FAILED (Asterisk's `Response: Error`, attached).
   */
  action(name: string, fields: AmiFields = {}, opts: { timeoutMs?: number } = {}): Promise<AmiResponse> {
    return new Promise<AmiResponse | AmiListResult>((resolve, reject) => {
      this.send(name, fields, false, opts.timeoutMs ?? this.opts.actionTimeoutMs, settlePromise, { resolve, reject }, false);
    }) as Promise<AmiResponse>;
  }

  /**
   * Sends a list action (PJSIPShowEndpoints, ...) and collects its items until the event with
   * `EventList: Complete`. A `Response: Success` without `EventList: start` resolves with no items.
   * Asterisk answers some empty lists with `Response: Error` (`No Contacts found`): that rejects with
   * ACTION_FAILED like any error; see {@link isEmptyListError}.
   */
  listAction(name: string, fields: AmiFields = {}, opts: { timeoutMs?: number } = {}): Promise<AmiListResult> {
    return new Promise<AmiResponse | AmiListResult>((resolve, reject) => {
      this.send(name, fields, true, opts.timeoutMs ?? this.opts.actionTimeoutMs, settlePromise, { resolve, reject }, false);
    }) as Promise<AmiListResult>;
  }

  /**
   * Sends one action like {@link action}, without a promise: `done(error, tag)` is called once, with `undefined` for
   * `Response: Success` (the answer itself is not kept) or the same errors action() rejects with - never
   * synchronously. For bulk pipelined writes (busy lamps: thousands of Setvar a second, where a promise, its two
   * settle functions and a closure per action were most of the garbage): `done` can be one function for all of
   * them, `tag` says which action it is.
   */
  post<T>(name: string, fields: AmiFields, done: (error: Error | undefined, tag: T) => void, tag: T): void {
    this.send(name, fields, false, this.opts.actionTimeoutMs, done as Done, tag, true);
  }

  private send(name: string, fields: AmiFields, list: boolean, timeoutMs: number, done: Done, tag: unknown, post: boolean): void {
    const actionId = `${this.idPrefix}${++this.nextId}`;
    let text: string;
    try {
      // The gate that refuses injection and limits; what it returns is exactly what is written.
      text = formatAmiAction(name, fields, actionId);
    } catch (error) {
      failLater(done, tag, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const conn = this.conn;
    const stream = conn?.stream;
    if (conn === undefined || stream === undefined || !conn.loggedIn || this.stateValue !== 'connected') {
      failLater(done, tag, new AmiClientError(this.stateValue === 'stopped' ? 'STOPPED' : 'NOT_CONNECTED', `AMI not connected (${name} not sent)`, { action: name }));
      return;
    }
    const deadline = Date.now() + timeoutMs;
    this.pending.set(actionId, { action: name, list, timeoutMs, deadline, response: undefined, items: list ? [] : NO_ITEMS, done, tag, post });
    this.armSweep(deadline);
    stream.write(text);
  }

  /** Makes sure a sweep runs by `deadline` (an earlier one, once done, re-arms itself for the rest). */
  private armSweep(deadline: number): void {
    if (deadline >= this.sweepAt) return;
    clearTimeout(this.sweepTimer);
    this.sweepAt = deadline;
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(1, deadline - Date.now()));
  }

  /** Times out every action past its deadline and re-arms for the earliest of the others. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    // Deleting the entry being visited is allowed while iterating a Map.
    for (const [actionId, p] of this.pending) {
      if (p.deadline <= now) this.timeout(actionId);
      else if (p.deadline < next) next = p.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.armSweep(next);
  }

  private timeout(actionId: string): void {
    const p = this.pending.get(actionId);
    if (p === undefined) return;
    const what = p.list && p.response !== undefined ? `the next ${p.action} item (${p.items.length} so far)` : `the answer to ${p.action}`;
    this.settle(actionId, new AmiClientError('TIMEOUT', `no AMI answer: waited ${p.timeoutMs} ms for ${what}`, { action: p.action }));
  }

  private settle(actionId: string, outcome: Error | AmiResponse | AmiListResult): void {
    const p = this.pending.get(actionId);
    if (p === undefined) return;
    this.pending.delete(actionId);
    if (this.pending.size === 0) {
      // Nothing left to time out: no timer keeps the process up.
      clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
      this.sweepAt = Number.POSITIVE_INFINITY;
    }
    const done = p.done as (outcome: Outcome | undefined, tag: unknown) => void;
    done(p.post && !(outcome instanceof Error) ? undefined : outcome, p.tag);
  }

  // ------------------------------------------------------------------------------------------------------
  // Connection lifecycle
  // ------------------------------------------------------------------------------------------------------

  private connect(): void {
    const generation = ++this.generation;
    const manager = Manager();
    manager.options.username = this.opts.username;
    manager.options.password = this.opts.secret;
    manager.options.events = true;
    const conn: Connection = { generation, manager, stream: undefined, loggedIn: false };
    this.conn = conn;
    this.setState('connecting');
    const current = (): boolean => this.conn === conn && this.generation === generation;

    manager.on('error', (error) => {
      if (!current()) return;
      this.report(new AmiClientError('SOCKET_ERROR', `AMI socket error: ${error.message}`, { cause: error }), conn.loggedIn ? 'warn' : 'debug');
    });
    manager.on('close', () => {
      if (!current()) return;
      this.lost(conn.loggedIn ? 'AMI connection closed' : 'AMI connection closed before login');
    });
    this.loginTimer = setTimeout(() => {
      if (current()) this.lost(`AMI connect and login took longer than ${this.opts.loginTimeoutMs} ms`);
    }, this.opts.loginTimeoutMs);

    const onConnect = (): void => {
      if (!current()) return;
      manager.login((error) => {
        if (!current()) return;
        if (error !== undefined) {
          const message = typeof error.message === 'string' ? error.message : 'Authentication failed';
          const report = new AmiClientError('LOGIN_FAILED', `AMI login as ${this.opts.username} refused: ${message}`, { response: toMessage(error) });
          // Logged at error once per failure streak; Asterisk closes the socket itself after ~1 s.
          this.report(report, this.lastLoginError === message ? 'debug' : 'error');
          this.lastLoginError = message;
          return;
        }
        this.lastLoginError = undefined;
        clearTimeout(this.loginTimer);
        conn.loggedIn = true;
        this.attempt = 0;
        this.setState('connected');
        this.opts.log.info({ host: this.opts.host, port: this.opts.port, user: this.opts.username }, 'AMI connected');
        this.armKeepalive(conn);
        // Before the listeners: Asterisk runs a session's actions in order, so nothing they cause comes back unfiltered.
        for (const [line, filter] of this.eventFilters) this.sendFilter(line, filter);
        for (const l of this.connectedListeners) safely(() => l(), this.opts.log);
      });
    };
    conn.stream = AmiStream.open(manager, this.opts.port, this.opts.host, this.readHoldMs, onConnect, {
      message: (message) => {
        if (current()) this.dispatch(message);
      },
      failed: (error) => {
        if (!current()) return;
        this.report(new AmiClientError('STREAM_UNREADABLE', `AMI stream unreadable: ${error.message}`, { cause: error }), 'error');
        this.lost('AMI stream unreadable');
      },
      answerAwaited: () => this.pending.size > 0,
    });
  }

  /** The current connection is gone (closed, or abandoned after a timeout): fail in-flight actions, reconnect. */
  private lost(reason: string): void {
    const wasUp = this.conn?.loggedIn === true;
    this.dropConnection(new AmiClientError('DISCONNECTED', `${reason}; the action may or may not have run`));
    if (this.stateValue === 'stopped') return;
    this.setState('disconnected');
    const delay = this.nextDelay();
    if (wasUp) this.opts.log.warn({ reason, retryInMs: delay }, 'AMI disconnected; reconnecting');
    // Unreachable from the start or still away: said at the first failure of a streak and every 20th, not per retry.
    else if (this.attempt === 1 || this.attempt % 20 === 0) this.opts.log.warn({ reason, attempts: this.attempt, retryInMs: delay }, 'AMI not reachable; retrying');
    else this.opts.log.debug({ reason, attempts: this.attempt, retryInMs: delay }, 'AMI not reachable; retrying');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private dropConnection(failure: AmiClientError): void {
    clearTimeout(this.loginTimer);
    clearTimeout(this.keepaliveTimer);
    const conn = this.conn;
    this.conn = undefined;
    if (conn !== undefined) {
      // Abandon the instance: our listeners go (the package keeps its own no-op `error` listener, so a late
      // socket error cannot crash the process); a still-open socket is ended.
      conn.stream?.detach();
      conn.manager.removeAllListeners('close');
      conn.manager.disconnect();
    }
    for (const [id, p] of [...this.pending]) {
      this.settle(id, new AmiClientError(failure.code, `${p.action}: ${failure.message}`, { action: p.action }));
    }
  }

  private nextDelay(): number {
    const { initialMs, maxMs, jitter } = this.opts.backoff;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.max(0, Math.round(base * (1 + jitter * (2 * Math.random() - 1))));
  }

  private armKeepalive(conn: Connection): void {
    if (this.opts.keepaliveMs <= 0) return;
    this.keepaliveTimer = setTimeout(() => {
      if (this.conn !== conn) return;
      this.action('Ping', {}, { timeoutMs: Math.min(this.opts.actionTimeoutMs, this.opts.keepaliveMs) }).then(
        () => {
          if (this.conn === conn) this.armKeepalive(conn);
        },
        (error: unknown) => {
          if (this.conn !== conn) return;
          if (error instanceof AmiClientError && error.code === 'TIMEOUT') this.lost('AMI keepalive Ping unanswered');
          else this.armKeepalive(conn);
        },
      );
    }, this.opts.keepaliveMs);
  }

  private setState(state: AmiConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    for (const l of this.stateListeners) safely(() => l(state), this.opts.log);
  }

  private report(error: AmiClientError, level: 'error' | 'warn' | 'debug'): void {
    this.opts.log[level]({ code: error.code, action: error.action }, error.message);
    for (const l of this.errorListeners) safely(() => l(error), this.opts.log);
  }

  // ------------------------------------------------------------------------------------------------------
  // Incoming messages
  // ------------------------------------------------------------------------------------------------------

  private dispatch(message: AmiMessage): void {
    const pending = message.actionId === undefined ? undefined : this.pending.get(message.actionId);
    switch (message.kind) {
      case 'response':
        if (pending !== undefined && message.actionId !== undefined) this.onResponse(message.actionId, pending, message);
        else if (message.actionId === undefined && message.response.toLowerCase() === 'error') {
          // Asterisk drops the ActionID only when it could not parse what we sent (`line too long`).
          // Responses with a foreign ActionID are the package's own Login, answered through its callback.
          const text = (message.headers.get('Message') ?? '').trim();
          this.report(new AmiClientError('UNMATCHED_RESPONSE', `AMI error without ActionID: ${text}`, { response: message }), 'warn');
        }
        return;
      case 'event':
        if (pending !== undefined && message.actionId !== undefined && pending.list) {
          this.onListEvent(message.actionId, pending, message);
          return;
        }
        // A late item of a list we already gave up on carries our prefix: not an unsolicited event.
        if (message.actionId !== undefined && message.actionId.startsWith(this.idPrefix)) return;
        for (const l of this.eventListeners) safely(() => l(message), this.opts.log);
        return;
      case 'unknown':
        return;
    }
  }

  private onResponse(actionId: string, p: Pending, message: AmiResponse): void {
    if (message.response.toLowerCase() === 'error') {
      const text = (message.headers.get('Message') ?? '').trim();
      this.settle(actionId, new AmiClientError('ACTION_FAILED', `${p.action} failed: ${text}`, { action: p.action, response: message }));
      return;
    }
    if (!p.list) {
      this.settle(actionId, message);
      return;
    }
    if ((message.headers.get('EventList') ?? '').toLowerCase() !== 'start') {
      this.settle(actionId, { response: message, items: [], complete: undefined });
      return;
    }
    p.response = message;
    this.restartTimer(p);
  }

  private onListEvent(actionId: string, p: Pending, event: AmiEvent): void {
    if ((event.headers.get('EventList') ?? '').toLowerCase() === 'complete') {
      const response = p.response ?? syntheticResponse(actionId);
      this.settle(actionId, { response, items: p.items, complete: event });
      return;
    }
    if (p.items.length >= this.opts.maxListItems) {
      this.settle(actionId, new AmiClientError('LIST_TOO_LARGE', `${p.action} returned more than ${this.opts.maxListItems} items`, { action: p.action }));
      return;
    }
    p.items.push(event);
    this.restartTimer(p);
  }

  private restartTimer(p: Pending): void {
    p.deadline = Date.now() + p.timeoutMs;
    this.armSweep(p.deadline);
  }
}

/** `Response: Error` that Asterisk uses for an empty list (`No Contacts found`, `No endpoints found`, ...). */
export function isEmptyListError(error: unknown): boolean {
  return error instanceof AmiClientError && error.code === 'ACTION_FAILED' && /^No .* found\s*$/i.test(error.response?.headers.get('Message') ?? '');
}

/** Maps the package's parsed item (the Login answer) onto @fedpbx/asterisk's AmiMessage (keys lower-cased; lookups ignore case). */
function toMessage(item: RawAmiItem): AmiMessage | undefined {
  const list: AmiHeader[] = [];
  for (const [key, value] of Object.entries(item)) {
    if (value === undefined) continue;
    if (typeof value === 'string') list.push({ key, value });
    else if (Array.isArray(value)) for (const v of value) list.push({ key, value: v });
    else for (const [name, v] of Object.entries(value)) list.push({ key, value: `${name}=${v}` });
  }
  if (list.length === 0) return undefined; // the package turns Asterisk's stray empty lines into `{}`
  const headers = new AmiHeaders(list);
  const actionId = headers.get('ActionID');
  const response = headers.get('Response');
  if (response !== undefined) return { kind: 'response', response, actionId, headers };
  const event = headers.get('Event');
  if (event !== undefined) return { kind: 'event', event, actionId, headers };
  return { kind: 'unknown', actionId, headers };
}

/** An action refused before it was sent fails like one that was sent: asynchronously. */
function failLater(done: Done, tag: unknown, error: Error): void {
  queueMicrotask(() => (done as (outcome: Error, tag: unknown) => void)(error, tag));
}

function syntheticResponse(actionId: string): AmiResponse {
  return { kind: 'response', response: 'Success', actionId, headers: new AmiHeaders([{ key: 'Response', value: 'Success' }]) };
}

function add<T>(set: Set<T>, item: T): () => void {
  set.add(item);
  return () => set.delete(item);
}

function safely(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (error) {
    log.error({ err: error }, 'AMI listener threw');
  }
}
