import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { LiveEvent } from '@fedpbx/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Caller } from '../auth/auth.guard.js';
import { AuthService } from '../auth/auth.service.js';
import type { Principal } from '../auth/principal.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { LiveHub } from './live-hub.js';
import { liveEventFor } from './live-scope.js';

/** How long a console waits before reconnecting after the stream ended (the SSE `retry:` field, ms). */
const RETRY_MS = 1000;
/** Bytes a stream may have waiting for a slow client before its events are dropped (and a `resync` sent later). */
const MAX_BUFFERED = 64 * 1024;

const bearerOf = (req: FastifyRequest): string | undefined => /^bearer +(\S+)$/i.exec(String(req.headers['authorization'] ?? '').trim())?.[1];

/**
 * The console's live updates: a Server-Sent Events stream (text/event-stream, WHATWG HTML §9.2) of the changes
 * the caller may see, authenticated like every route (a bearer token in the Authorization header: the console
 * reads it with fetch(), never with a token in the URL) and scoped by the caller's sites. Each event is
 * `event: <topic>` and `data: {"topic","siteIds","kind"?}`; the console reads the data again through the API.
 *
 * A comment every FEDPBX_LIVE_HEARTBEAT_SEC keeps proxies from closing an idle stream and lets both ends notice
 * a dead one; at each, the token is checked again (a signed-out session or a revoked token ends the stream, and
 * changed grants take effect). A client too slow to take its events loses them and gets `resync` (read
 * everything again) once it catches up. No Last-Event-ID replay: after a reconnect the console reads its screens
 * again, which is what a replay would lead to anyway.
 */
@Controller('api/v1')
export class LiveController {
  constructor(
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    @Inject(LiveHub) private readonly hub: LiveHub,
    @Inject(AuthService) private readonly auth: AuthService,
  ) {}

  /** Server-Sent Events: `config`, `rollout`, `agents`, `health`, `cdrs`, `calls` of the caller's sites. */
  @Get('events')
  stream(@Caller() caller: Principal, @Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    const token = bearerOf(req);
    let scope = caller.scope;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx and similar proxies buffer responses by default; an event must reach the console at once.
      'x-accel-buffering': 'no',
    });
    raw.write(`retry: ${RETRY_MS}\n: fedpbx live updates\n\n`);
    let missed = false;
    let closed = false;
    const send = (text: string): void => {
      if (closed) return;
      if (raw.writableLength > MAX_BUFFERED) {
        missed = true;
        return;
      }
      if (missed) {
        missed = false;
        raw.write('event: resync\ndata: {}\n\n');
      }
      raw.write(text);
    };
    const unsubscribe = this.hub.subscribe((event: LiveEvent) => {
      const visible = liveEventFor(scope, event);
      if (visible !== undefined) send(`event: ${visible.topic}\ndata: ${JSON.stringify(visible)}\n\n`);
    }, () => end());
    const end = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      raw.end();
    };
    const heartbeat = setInterval(() => {
      if (token === undefined) return end();
      this.auth.authenticate(token).then(
        (p) => {
          scope = p.scope;
          send(': keep-alive\n\n');
        },
        () => {
          send('event: end\ndata: {"reason":"unauthenticated"}\n\n');
          end();
        },
      );
    }, this.config.FEDPBX_LIVE_HEARTBEAT_SEC * 1000);
    raw.on('close', end);
    raw.on('error', end);
  }
}
