import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiClient } from './api/client';
import type { LoginAnswer, Me } from './api/types';

const STORAGE_KEY = 'fedpbx.session';

interface Stored {
  readonly token: string;
  readonly expiresAt: string;
}

export interface Session {
  readonly api: ApiClient;
  /** A token is held; `me` may still be loading. */
  readonly signedIn: boolean;
  readonly me: Me | undefined;
  /** Set when the session ended by itself (token expired), to tell the user why they see the login again. */
  readonly endedReason: string | undefined;
  login(username: string, password: string): Promise<void>;
  logout(reason?: string): void;
  /** May the caller read this site (head office reads every site). */
  canRead(siteId: string): boolean;
  /**
   * May the caller change this site's objects (head office everywhere, a site admin at their sites, a viewer
   * nowhere). Every screen asks this before offering a write control, so a read-only role sees a read-only console.
   */
  canWrite(siteId: string): boolean;
  /** Head office: the only role that changes federation-wide things (sites, routes, classes, links, users). */
  readonly headOffice: boolean;
}

const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (s === undefined) throw new Error('useSession outside <SessionProvider>');
  return s;
}

/** The API client is the session's: one place holds the token; a 401 anywhere ends the session. */
export const useApi = (): ApiClient => useSession().api;

function load(): Stored | undefined {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Stored | null;
    return s !== null && Date.parse(s.expiresAt) > Date.now() ? s : undefined;
  } catch {
    return undefined;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [stored, setStored] = useState<Stored | undefined>(load);
  const [me, setMe] = useState<Me | undefined>(undefined);
  const [endedReason, setEndedReason] = useState<string | undefined>(undefined);

  const logout = useCallback((reason?: string) => {
    sessionStorage.removeItem(STORAGE_KEY);
    setStored(undefined);
    setMe(undefined);
    setEndedReason(reason);
  }, []);

  const api = useMemo(() => new ApiClient(stored?.token, () => logout('Your session has ended. Please sign in again.')), [stored, logout]);

  useEffect(() => {
    if (stored === undefined) return;
    let live = true;
    api.get<Me>('/auth/me').then(
      (m) => live && setMe(m),
      () => live && logout('Your session has ended. Please sign in again.'),
    );
    // Access tokens are short-lived and not refreshed: end the session when it expires rather than on a failed save.
    const timer = setTimeout(() => logout('Your session has expired. Please sign in again.'), Math.max(0, Date.parse(stored.expiresAt) - Date.now()));
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, stored, logout]);

  const login = useCallback(async (username: string, password: string) => {
    const answer = await new ApiClient(undefined).post<LoginAnswer>('/auth/login', { username, password });
    const s = { token: answer.accessToken, expiresAt: answer.expiresAt };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    setEndedReason(undefined);
    setStored(s);
  }, []);

  const canRead = useCallback((siteId: string) => me !== undefined && (me.readableSites === 'all' || me.readableSites.includes(siteId)), [me]);
  const canWrite = useCallback((siteId: string) => me !== undefined && (me.writableSites === 'all' || me.writableSites.includes(siteId)), [me]);
  const headOffice = me?.headOffice === true;

  const value = useMemo<Session>(
    () => ({ api, signedIn: stored !== undefined, me: stored === undefined ? undefined : me, endedReason, login, logout, canRead, canWrite, headOffice }),
    [api, me, stored, endedReason, login, logout, canRead, canWrite, headOffice],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
