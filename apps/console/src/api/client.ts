import type { ApiErrorBody, FederationIssue, InputProblem } from './types';

/** A refused or failed API call, with the server's machine-readable details (problems for 400, issues for 409). */
export class ApiError extends Error {
  readonly code: string;
  readonly problems: readonly InputProblem[];
  readonly issues: readonly FederationIssue[];
  readonly warnings: readonly FederationIssue[];
  readonly retryAfterSec: number | undefined;

  constructor(
    readonly status: number,
    body: ApiErrorBody | undefined,
  ) {
    super(body?.error.message ?? (status === 0 ? 'the controller cannot be reached' : `the server answered ${status}`));
    this.name = 'ApiError';
    this.code = body?.error.code ?? (status === 0 ? 'network' : `http-${status}`);
    this.problems = body?.error.problems ?? [];
    this.issues = body?.error.issues ?? [];
    this.warnings = body?.error.warnings ?? [];
    this.retryAfterSec = body?.error.retryAfterSec;
  }

  /** The endpoint does not exist (yet) on this controller, or its backing service is down. */
  get unavailable(): boolean {
    return this.status === 404 || this.status === 501 || this.status === 503;
  }
}

type Query = Record<string, string | number | boolean | undefined>;

/** The session's side of the client: the current access token, renewing it, and noticing that the session ended. */
export interface ApiAuth {
  token(): string | undefined;
  /** Renews the access token with the refresh token; false when the server ended the session. */
  refresh(): Promise<boolean>;
  ended(): void;
}

/**
 * A small typed client of the controller's REST API (/api/v1), authenticated with the session's bearer token. A
 * 401 is answered by one refresh and one retry (the access token may have expired while the tab was idle); a
 * second 401 ends the session.
 */
export class ApiClient {
  constructor(private readonly auth?: ApiAuth) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body?: unknown, query?: Query): Promise<T> {
    return this.request<T>('POST', path, body, query);
  }

  put<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('PUT', path, body, query);
  }

  delete<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('DELETE', path, undefined, query);
  }

  /**
   * Opens a long-lived GET (the event stream) with the session's bearer token in the Authorization header - never
   * in the URL, where proxies and logs keep it. A 401 is answered as for any request (one refresh, one retry);
   * the caller reads the body and aborts with `signal`. Throws ApiError for a refusal.
   */
  async openStream(path: string, signal: AbortSignal): Promise<Response> {
    const send = (token: string | undefined): Promise<Response> =>
      fetch(`/api/v1${path}`, { headers: { accept: 'text/event-stream', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, cache: 'no-store', signal });
    const token = this.auth?.token();
    let res = await send(token).catch(() => {
      throw new ApiError(0, undefined);
    });
    if (res.status === 401 && token !== undefined && this.auth !== undefined) {
      if (await this.auth.refresh()) res = await send(this.auth.token());
      if (res.status === 401) this.auth.ended();
    }
    if (!res.ok) {
      const json = safeJson(await res.text());
      throw new ApiError(res.status, isErrorBody(json) ? json : undefined);
    }
    return res;
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const send = async (token: string | undefined): Promise<Response> => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      try {
        return await fetch(`/api/v1${path}${queryString(query)}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      } catch {
        throw new ApiError(0, undefined);
      }
    };
    const token = this.auth?.token();
    let res = await send(token);
    if (res.status === 401 && token !== undefined && this.auth !== undefined) {
      if (await this.auth.refresh()) res = await send(this.auth.token());
      if (res.status === 401) this.auth.ended();
    }
    const text = await res.text();
    const json: unknown = text === '' ? undefined : safeJson(text);
    if (!res.ok) throw new ApiError(res.status, isErrorBody(json) ? json : undefined);
    return json as T;
  }
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const isErrorBody = (v: unknown): v is ApiErrorBody =>
  typeof v === 'object' && v !== null && typeof (v as { error?: { message?: unknown } }).error?.message === 'string';

/** Lists come as `{ items }` (paged collections) or, from some status endpoints, as a bare array. */
export function itemsOf<T>(v: { items: T[] } | T[] | undefined): T[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : v.items;
}
