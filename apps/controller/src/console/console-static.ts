import { stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pino } from 'pino';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { findConsoleDir } from './console-dir.js';

/** Vite puts content-hashed bundles here: they never change under their name. */
const ASSETS = 'assets/';

/**
 * Serves the web console (apps/console, a single-page app) at `/`: its files, and index.html for every other
 * non-API path so that a reloaded or shared console URL opens the right screen. Registered straight on Fastify
 * rather than as a Nest controller: the console is public static content, not an API route, so it stays out of
 * the auth guard, the OpenAPI document and the rights matrix. Unknown `/api/...` paths still answer the API's
 * JSON 404. Without a built console the controller serves the API only and says so once.
 */
@Injectable()
export class ConsoleStatic implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
  ) {}

  onModuleInit(): void {
    const log = pino({ name: 'fedpbx-controller', level: this.config.FEDPBX_LOG_LEVEL }).child({ component: 'console' });
    const { dir, found } = findConsoleDir(this.config.FEDPBX_CONSOLE_DIR);
    if (!found) {
      log.info({ dir }, 'no built console there (npx nx run @fedpbx/console:build, or set FEDPBX_CONSOLE_DIR): serving the API only');
      return;
    }
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    // Registered, not awaited: awaiting a register starts Fastify's plugin loading here, and the API routes Nest
    // adds afterwards would be bound to Fastify's default error handler instead of Nest's filter (malformed JSON
    // would answer in Fastify's shape, not the API's). Queued, it loads at ready(), after Nest's routes.
    void fastify.register(async (scope) => {
      await scope.register(fastifyStatic, { root: dir, serve: false });
      scope.get('/*', (req, reply) => serve(dir, req, reply));
    });
    log.info({ dir }, 'serving the console at /');
  }
}

async function serve(root: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const path = pathOf(req.url);
  if (path === undefined) return reply.code(400).send({ error: { code: 'invalid-input', message: 'malformed path' } });
  if (path === '/api' || path.startsWith('/api/')) {
    reply.callNotFound();
    return reply;
  }
  const rel = path.slice(1);
  if (rel !== '' && (await isFileInside(root, rel))) {
    return rel.startsWith(ASSETS) ? reply.sendFile(rel, { maxAge: '365d', immutable: true }) : reply.sendFile(rel, { cacheControl: false });
  }
  // A missing bundle or image must not turn into an HTML page (the browser would try to run it).
  if (rel.startsWith(ASSETS) || extname(rel) !== '') return reply.code(404).type('text/plain').send('not found');
  return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
}

function pathOf(url: string): string | undefined {
  try {
    return decodeURIComponent(url.split('?', 1)[0] ?? '/');
  } catch {
    return undefined;
  }
}

async function isFileInside(root: string, rel: string): Promise<boolean> {
  const full = resolve(root, rel);
  if (!full.startsWith(root.endsWith(sep) ? root : root + sep)) return false;
  try {
    return (await stat(full)).isFile();
  } catch {
    return false;
  }
}
