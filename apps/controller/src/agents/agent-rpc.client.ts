import { HttpException, HttpStatus, Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { EmptyResponseException } from '@nestjs/microservices/errors/empty-response.exception.js';
import { credsAuthenticator } from '@nats-io/transport-node';
import { mintControllerCreds } from '@fedpbx/nats-auth';
import { pino } from 'pino';
import { firstValueFrom, timeout, TimeoutError } from 'rxjs';
import type { z } from 'zod';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { NatsBus, splitUrls } from '../nats/nats-bus.js';

/** 503: NATS is not configured, or the controller is not connected to it right now. */
export class NatsUnavailableError extends HttpException {
  constructor(message: string) {
    super(message, HttpStatus.SERVICE_UNAVAILABLE);
  }
}

/** 504: the site's agent did not answer in time (or no agent of the site is connected). */
export class AgentDidNotAnswerError extends HttpException {
  constructor(message: string) {
    super(message, HttpStatus.GATEWAY_TIMEOUT);
  }
}

/** 502: the agent answered, but with an error or a reply that is not the contract's shape. */
export class AgentBadReplyError extends HttpException {
  constructor(message: string) {
    super(message, HttpStatus.BAD_GATEWAY);
  }
}

/**
 * Live request/reply to one site's agent through Nest's NATS transport (`ClientProxy.send`), on a connection of
 * its own that reconnects forever.
 *
 * Wire format (@nestjs/microservices 12.1.1: client/client-nats.js, serializers/nats-record.serializer.js,
 * deserializers/nats-response-json.deserializer.js, server/server-nats.js), which the agent answers without Nest:
 *
 * - Request: a core NATS publish (not JetStream) on the pattern as subject - `fedpbx.rpc.<site>.health` or
 *   `fedpbx.rpc.<site>.trace` - with a reply subject `_INBOX.<nuid>` (a fresh inbox per request) and no
 *   headers. Payload, UTF-8 JSON: `{"pattern":"fedpbx.rpc.<site>.trace","data":<LiveTraceRequest>,"id":"<uuid>"}`
 *   (`data` is `{}` for health).
 * - Reply: exactly one message to the request's reply subject, UTF-8 JSON, echoing `id`:
 *   success `{"id":"<same uuid>","response":<LiveHealth | LiveTraceResponse>,"isDisposed":true}`;
 *   failure `{"id":"<same uuid>","err":<string or {"status":"error","message":...}>,"isDisposed":true}`.
 *   A reply whose `id` differs is ignored; an empty payload (also what nats-server's no-responders status
 *   carries) fails the request at once. The agent's NATS permissions allow exactly one reply per request.
 */
@Injectable()
export class AgentRpcClient implements OnApplicationBootstrap, OnApplicationShutdown {
  private client: ClientProxy | undefined;
  private connected = false;
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'agent-rpc' });

  constructor(
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    @Inject(NatsBus) private readonly bus: NatsBus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.bus.enabled) return;
    const creds = this.bus.issuer !== undefined ? await mintControllerCreds(this.bus.issuer) : undefined;
    const client = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: {
        servers: splitUrls(this.config.FEDPBX_NATS_URL ?? ''),
        name: 'fedpbx-controller-rpc',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        waitOnFirstConnect: true,
        ...(creds !== undefined ? { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) } : {}),
      },
    });
    this.client = client;
    client.status.subscribe((s) => (this.connected = s === 'connected'));
    // Connecting never blocks start-up: the first connect waits for NATS as long as it takes.
    client.connect().catch((error: unknown) => this.log.error({ err: error instanceof Error ? error.message : String(error) }, 'NATS connection for live requests failed'));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client?.close();
  }

  /** Sends `data` to `subject` and validates the reply against `schema`; HTTP errors say what went wrong. */
  async request<T>(siteId: string, subject: string, data: object, schema: z.ZodType<T>): Promise<T> {
    if (this.client === undefined) throw new NatsUnavailableError('live requests need NATS: FEDPBX_NATS_URL is not configured');
    if (!this.connected) throw new NatsUnavailableError('the controller is not connected to NATS right now; it keeps retrying');
    const ms = this.config.FEDPBX_RPC_TIMEOUT_MS;
    let reply: unknown;
    try {
      reply = await firstValueFrom(this.client.send<unknown>(subject, data).pipe(timeout(ms)));
    } catch (error) {
      if (error instanceof TimeoutError) throw new AgentDidNotAnswerError(`agent did not answer: site ${siteId} sent no reply within ${ms} ms`);
      if (error instanceof EmptyResponseException) throw new AgentDidNotAnswerError(`agent did not answer: no agent of site ${siteId} is connected to NATS`);
      if (!this.connected) throw new NatsUnavailableError('the controller lost its NATS connection during the request; it keeps retrying');
      throw new AgentBadReplyError(`agent of site ${siteId} answered with an error: ${errorText(error)}`);
    }
    const parsed = schema.safeParse(reply);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AgentBadReplyError(`agent of site ${siteId} sent a malformed reply: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
    }
    return parsed.data;
  }
}

function errorText(error: unknown): string {
  if (typeof error === 'string') return error.slice(0, 300);
  if (error instanceof Error) return error.message.slice(0, 300);
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') return (error as { message: string }).message.slice(0, 300);
  return JSON.stringify(error)?.slice(0, 300) ?? 'unknown error';
}
