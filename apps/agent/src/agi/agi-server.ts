import { createServer, type Server, type Socket } from 'node:net';
import { AgiSession, AsteriskProtocolError, type AgiSessionOptions } from '@fedpbx/asterisk';
import type { CallHandler } from '../call/call-handler.js';
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

/**
 * The FastAGI listener. Each connection is one call: parse the environment, hand it to the call handler, close
 * the socket (Asterisk has no read timeout of its own). Over `maxSessions` a connection is refused with a
 * `failure` line, which makes Asterisk set AGISTATUS=FAILURE at once and run the dialplan fallback.
 */
export class AgiServer {
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
    void this.run(socket, acceptedAt);
  }

  /** One call, start to end; never rejects (the bookkeeping is in its `finally`: no extra promise per call). */
  private async run(socket: Socket, acceptedAt: number): Promise<void> {
    let session: AgiSession | undefined;
    try {
      session = await AgiSession.start(socket, this.sessionOptions);
      await this.handler.handle(session, acceptedAt);
      this.metrics.sessionEnded(session.hungUp ? 'caller-hangup' : 'completed');
    } catch (error) {
      if (error instanceof AsteriskProtocolError) {
        this.metrics.rejectedInputs.inc({ reason: error.code.toLowerCase() });
        this.metrics.sessionEnded('protocol-error');
        this.log.warn({ code: error.code, reason: error.message, uniqueId: session?.env.uniqueId }, 'FastAGI session ended');
      } else {
        this.metrics.sessionEnded('error');
        this.log.error({ err: error, uniqueId: session?.env.uniqueId }, 'FastAGI session failed');
      }
    } finally {
      // The session ends here: close() half-closes the socket, Asterisk closes its side at once (or the socket is
      // destroyed after the close grace). Not awaited - an await per call for nothing but this bookkeeping - so the
      // session stops counting once its socket is closing. Closed, the socket no longer leads to the session
      // (AgiSession cuts it loose: a closed socket lingers, and is often promoted, until its handle lets go of it).
      if (session !== undefined) void session.close(); // never rejects
      else socket.destroy();
      this.sessions.delete(socket);
      this.metrics.sessionClosed();
    }
  }
}

