import type { FastifyInstance } from 'fastify';
import type { ControllerConfig } from '../config.js';

/** The routes anyone may call without signing in: their bodies are a few short strings. */
const PUBLIC_BODY_ROUTES = new Set(['/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/enroll']);
/** Largest body a public route reads; anything larger is answered 413 before it is parsed. */
export const PUBLIC_BODY_LIMIT = 8 * 1024;

/**
 * The Fastify server's options from the configuration. `trustProxy` takes the X-Forwarded-For hops added by the
 * listed proxies (FEDPBX_TRUSTED_PROXIES) and no others, so `req.ip` is the client, not the proxy, and a client
 * cannot pick its own address by sending the header itself.
 */
export const fastifyOptions = (config: ControllerConfig): { bodyLimit: number; trustProxy: string[] | false } => ({
  // Imports of whole federations come as one JSON body.
  bodyLimit: 64 * 1024 * 1024,
  trustProxy: config.FEDPBX_TRUSTED_PROXIES.length > 0 ? [...config.FEDPBX_TRUSTED_PROXIES] : false,
});

/** Must run before the routes are registered (before `app.init()`/`listen()`): small body limits on public routes. */
export function limitPublicBodies(server: FastifyInstance): void {
  server.addHook('onRoute', (route) => {
    if (PUBLIC_BODY_ROUTES.has(route.url)) route.bodyLimit = PUBLIC_BODY_LIMIT;
  });
}
