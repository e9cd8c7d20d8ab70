import { createServer, type Server, type Socket } from 'node:net';
import { AgiSession, AsteriskProtocolError, type AgiSessionError, type AgiSessionOptions, type AgiSessionStarter } from '@fedpbx/asterisk';
import type { CallDone, CallHandler } from '../call/call-handler.js';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';

export interface AgiServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxSessions: number;
  readonly idleTimeoutMs: number;
  /**
   * A listening socket inherited from the supervisor (its file descriptor): listen on it instead of binding
   * host:port. The supervisor keeps it open while agents come and go, so connections wait in its backlog.
   */
  readonly listenFd?: number | undefined;
}

/** A connection from its accept: what the session's start and the call's end are told along with it. */
interface Connection {
  readonly socket: Socket;
  /** `performance.now()` at accept. */
  readonly acceptedAt: number;
}

/**
 * The FastAGI listener. Each connection is one call: parse the environment, hand it to the call handler, close
 * the socket (Asterisk has no read timeout of its own). Over `maxSessions` a connection is refused with a
 * `failure` line, which makes Asterisk set AGISTATUS=FAILURE at once and run the dialplan fallback.
 */
export class AgiServer implements AgiSessionStarter<Connection>, CallDone<Connection> {
  private server: Server | undefined;
  private readonly sessions = new Set<Socket>();
  private draining = false;
  /** Commands that return at once get the idle timeout as their bound; Dial and the like pass their own. */
  private readonly sessionOptions: AgiSessionOptions;

  constructor(
    private readonly options: AgiServerOptions,
    private readonly handler: CallHandler,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
  ) {
    this.sessionOptions = { envTimeoutMs: 5000, idleTimeoutMs: options.idleTimeoutMs, commandTimeoutMs: options.idleTimeoutMs };
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  start(): Promise<{ host: string; port: number }> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.maxConnections = this.options.maxSessions * 2;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const listening = (): void => {
        server.off('error', reject);
        server.on('error', (error) => this.log.error({ err: error }, 'FastAGI listener error'));
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : this.options.port;
        const host = typeof address === 'object' && address !== null ? address.address : this.options.host;
        resolve({ host, port });
      };
      if (this.options.listenFd !== undefined) server.listen({ fd: this.options.listenFd }, listening);
      else server.listen(this.options.port, this.options.host, listening);
    });
  }

  /** Stops accepting, lets calls in progress finish for up to `graceMs`, then cuts the rest. */
  async stop(graceMs: number): Promise<void> {
    const closed = this.stopAccepting();
    await this.drain(graceMs);
    await closed;
  }

  /**
   * Stops accepting new connections (the socket of an inherited listener stays open in the supervisor and the
   * agent taking over: nothing queued is refused). Resolves when the listener is closed.
   */
  stopAccepting(): Promise<void> {
    this.draining = true;
    return new Promise<void>((resolve) => (this.server?.listening === true ? this.server.close(() => resolve()) : resolve()));
  }

  /** Waits up to `graceMs` for the calls in progress to end, then cuts the rest. */
  async drain(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sessions) s.destroy();
  }

  private accept(socket: Socket): void {
    const acceptedAt = performance.now();
    socket.setNoDelay(true);
    if (this.draining || this.sessions.size >= this.options.maxSessions) {
      this.metrics.rejectedInputs.inc({ reason: this.draining ? 'draining' : 'session-limit' });
      this.metrics.agiSessionsTotal.inc({ result: 'refused' });
      socket.on('error', () => socket.destroy());
      socket.end('failure\n');
      return;
    }
    this.sessions.add(socket);
    this.metrics.sessionOpened();
    // No promise or async function per call for the start: the session tells this server (sessionStarted or
    // sessionFailed) from the socket's read, and the handler tells it when the call is over (callDone).
    AgiSession.accept(socket, this.sessionOptions, this, { socket, acceptedAt });
  }

  /** The session's environment is in: the call runs (internal: the sessions' starter). */
  sessionStarted(session: AgiSession, connection: Connection): void {
    this.handler.handle(session, connection.acceptedAt, this, connection);
  }

  /** The session failed before its environment was complete (its socket is destroyed). */
  sessionFailed(error: AgiSessionError, connection: Connection): void {
    this.failed(error, undefined);
    connection.socket.destroy();
    this.ended(connection);
  }

  /** The call is over (internal: the handler's `done`). */
  callDone(session: AgiSession, failed: boolean, error: unknown, connection: Connection): void {
    if (failed) this.failed(error, session);
    else this.metrics.sessionEnded(session.hungUp ? 'caller-hangup' : 'completed');
    // The session ends here: endNow() closes the socket at once. Asterisk reads the end of the stream and ends the
    // AGI as it does after a half-close (AGISTATUS=SUCCESS); its last HANGUP notification, which we would only read
    // to close after it, meets a closed socket. A half-close (end()) would cost a shutdown, that read and Asterisk's
    // FIN, and the stream's end-of-stream steps: 7-15% of a call's CPU in bench:agi. Closed, the socket no longer
    // leads to the session (AgiSession cuts it loose: a closed socket lingers until its handle lets go of it).
    session.endNow();
    this.ended(connection);
  }

  private failed(error: unknown, session: AgiSession | undefined): void {
    if (error instanceof AsteriskProtocolError) {
      this.metrics.rejectedInputs.inc({ reason: error.code.toLowerCase() });
      this.metrics.sessionEnded('protocol-error');
      this.log.warn({ code: error.code, reason: error.message, uniqueId: session?.env.uniqueId }, 'FastAGI session ended');
    } else {
      this.metrics.sessionEnded('error');
      this.log.error({ err: error, uniqueId: session?.env.uniqueId }, 'FastAGI session failed');
    }
  }

  private ended(connection: Connection): void {
    this.sessions.delete(connection.socket);
    this.metrics.sessionClosed();
  }
}
