import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { LiveTraceRequest, Subjects, type Health, type LiveHealth, type LiveTraceResponse } from '@fedpbx/contracts';
import { traceRoute } from '@fedpbx/dialplan';
import type { Logger } from '../logger.js';
import type { RoutingState } from '../state/routing-state.js';

/**
 * The agent's side of the controller's live requests, speaking the wire format of @nestjs/microservices' NATS
 * transport (the controller calls `ClientProxy.send(pattern, data)`), without Nest in the agent:
 * - request (NatsRecordSerializer): JSON `{"pattern": <subject>, "data": <payload>, "id": <uuid>}`, no headers,
 *   with a reply subject on the controller's inbox;
 * - reply (ServerNats.getPublisher + Server.send for a single value): JSON `{"response": <value>,
 *   "isDisposed": true, "id": <same id>}`, or on failure `{"err": {"status": "error", "message": ...},
 *   "isDisposed": true, "id": ...}` - the shape BaseRpcExceptionFilter gives an RpcException, which
 *   ClientProxy.send rejects with. A message without `id` is a Nest event: it gets no reply.
 * A request that is not JSON or not valid gets an error reply; nothing here can take the agent down.
 */
export interface LiveView {
  readonly siteId: string;
  readonly state: Pick<RoutingState, 'ready' | 'site' | 'snapshot' | 'revision' | 'health'>;
  agiSessionsActive(): number;
  amiConnected(): boolean;
  natsConnected(): boolean;
  cdrBacklog(): number;
}

export class RpcRequestError extends Error {
  override readonly name = 'RpcRequestError';
  constructor(
    readonly code: 'bad-request' | 'no-snapshot',
    message: string,
  ) {
    super(message);
  }
}

/** Nest's request packet, as far as the agent relies on it. */
const NestRequest = z.object({ id: z.string().min(1).max(200).optional(), data: z.unknown() });

export class LiveResponder {
  private readonly subs: Subscription[] = [];

  constructor(
    private readonly view: LiveView,
    private readonly log: Logger,
  ) {}

  /** Subscribes once; the client re-subscribes by itself after each reconnect. */
  attach(nc: NatsConnection): void {
    if (this.subs.length > 0) return;
    const { siteId } = this.view;
    this.subs.push(
      nc.subscribe(Subjects.rpcTrace(siteId), { callback: (err, msg) => this.onMessage(err, msg, (data) => this.trace(data)) }),
      nc.subscribe(Subjects.rpcHealth(siteId), { callback: (err, msg) => this.onMessage(err, msg, () => this.health()) }),
    );
  }

  detach(): void {
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  /** LiveTraceRequest -> LiveTraceResponse: the request's what-ifs on top of the live link/trunk health. */
  trace(data: unknown): LiveTraceResponse {
    const parsed = LiveTraceRequest.safeParse(data);
    if (!parsed.success) throw new RpcRequestError('bad-request', `invalid trace request: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
    const { state, siteId } = this.view;
    if (!state.ready) throw new RpcRequestError('no-snapshot', `site ${siteId} has no snapshot in force`);
    const req = parsed.data;
    const health: Health = {
      links: { ...state.health.links, ...req.health?.links },
      trunks: { ...state.health.trunks, ...req.health?.trunks },
    };
    const result = traceRoute(state.site, { entry: req.entry, caller: req.caller, dialled: req.number, fromSiteId: req.fromSiteId, health });
    return { siteId, revision: state.revision, health, result };
  }

  health(): LiveHealth {
    const { state, siteId } = this.view;
    const generatedAt = state.snapshot !== undefined ? Date.parse(state.snapshot.generatedAt) : undefined;
    return {
      siteId,
      revision: state.revision,
      snapshotAgeSec: generatedAt !== undefined ? Math.max(0, (Date.now() - generatedAt) / 1000) : null,
      uptimeSec: process.uptime(),
      agiSessionsActive: this.view.agiSessionsActive(),
      natsConnected: this.view.natsConnected(),
      amiConnected: this.view.amiConnected(),
      health: state.health,
      cdrBacklog: this.view.cdrBacklog(),
    };
  }

  private onMessage(err: Error | null, msg: Msg, handle: (data: unknown) => unknown): void {
    if (err !== null) {
      this.log.warn({ err: err.message }, 'live request subscription error');
      return;
    }
    let packet: z.infer<typeof NestRequest>;
    try {
      const parsed = NestRequest.safeParse(msg.json());
      if (!parsed.success) throw new RpcRequestError('bad-request', 'not a request packet {pattern, data, id}');
      packet = parsed.data;
    } catch (error) {
      this.reply(msg, { err: rpcError(error), isDisposed: true });
      return;
    }
    if (packet.id === undefined) return; // a Nest event: no answer expected
    let out: Record<string, unknown>;
    try {
      out = { response: handle(packet.data), isDisposed: true, id: packet.id };
    } catch (error) {
      if (!(error instanceof RpcRequestError)) this.log.error({ err: error, subject: msg.subject }, 'live request failed');
      out = { err: rpcError(error), isDisposed: true, id: packet.id };
    }
    this.reply(msg, out);
  }

  private reply(msg: Msg, packet: Record<string, unknown>): void {
    if (msg.reply === undefined || msg.reply === '') return;
    try {
      msg.respond(JSON.stringify(packet));
    } catch (error) {
      this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'live reply not sent');
    }
  }
}

function rpcError(error: unknown): { status: 'error'; code: string; message: string } {
  if (error instanceof RpcRequestError) return { status: 'error', code: error.code, message: error.message };
  if (error instanceof SyntaxError) return { status: 'error', code: 'bad-request', message: 'request is not JSON' };
  return { status: 'error', code: 'internal', message: 'the agent could not answer' };
}
