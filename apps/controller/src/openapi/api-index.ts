import type { RouteInfo } from './route-catalog.js';

export interface ApiIndex {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  /** Where to read about the API and how to sign in. */
  readonly links: {
    readonly docs: string;
    readonly openapi: string;
    readonly health: string;
    readonly login: string;
    readonly me: string;
  };
  /**
   * Every GET route without a path parameter (the collections, and `auth/me`, `numbering-plan`, the `events`
   * stream...), by its path under /api/v1.
   */
  readonly resources: Readonly<Record<string, string>>;
}

/**
 * The answer of `GET /api/v1`: links to the documentation and to every resource, taken from the routes Nest
 * registered, so the index never names a route that is not there nor misses a new one.
 */
export function apiIndex(routes: readonly RouteInfo[]): ApiIndex {
  const resources: Record<string, string> = {};
  for (const r of routes) {
    if (r.method !== 'GET' || !r.path.startsWith('/api/v1/') || r.path.includes(':')) continue;
    resources[r.path.slice('/api/v1/'.length)] = r.path;
  }
  return {
    name: 'fedpbx controller',
    version: 'v1',
    description: 'Sites, numbering plan, routes and call flows of the federation. Sign in with POST links.login, then send Authorization: Bearer <accessToken>. Writes take ?dryRun=true to validate and preview without saving.',
    links: { docs: '/api/docs', openapi: '/api/openapi.json', health: '/api/v1/health', login: '/api/v1/auth/login', me: '/api/v1/auth/me' },
    resources,
  };
}
