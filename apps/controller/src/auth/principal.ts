import type { Scope } from '../access/scope.js';

/** Who is calling, resolved once per request by the auth guard. */
export interface Principal {
  readonly userId: string;
  readonly username: string;
  /** How they proved it. API tokens act with their user's grants. */
  readonly via: 'password' | 'api-token';
  readonly tokenId?: string;
  readonly scope: Scope;
}

/** The audit log's name for a principal. */
export const actorName = (p: Principal): string => (p.via === 'api-token' ? `${p.username} (api token ${p.tokenId ?? '?'})` : p.username);
