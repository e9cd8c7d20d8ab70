import type { Grant, Scope } from '../access/scope.js';

/** Who is calling, resolved once per request by the auth guard. */
export interface Principal {
  readonly userId: string;
  readonly username: string;
  /** How they proved it. API tokens act with their user's grants, narrowed by the token's scope. */
  readonly via: 'password' | 'api-token';
  readonly tokenId?: string;
  /** The session of a password sign-in (access tokens name it). */
  readonly sessionId?: string;
  /** The grants in force for this request (an API token's: the user's, narrowed to the token's). */
  readonly grants: readonly Grant[];
  /** A read-only API token: only reading routes answer. */
  readonly readOnly: boolean;
  /** Head office reset the password: the session may only change it (and read who it is, and sign out). */
  readonly mustChangePassword: boolean;
  readonly scope: Scope;
}

/** The audit log's name for a principal. */
export const actorName = (p: Principal): string => (p.via === 'api-token' ? `${p.username} (api token ${p.tokenId ?? '?'})` : p.username);
