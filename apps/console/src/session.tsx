import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiClient } from './api/client';
import type { LoginAnswer, Me } from './api/types';

const STORAGE_KEY = 'fedpbx.session';

/** What the tab keeps of its session (sessionStorage: it ends with the tab). */
interface Stored {
  readonly accessToken: string;
  readonly expiresAt: string;
  readonly refreshToken: string;
  readonly sessionExpiresAt: string;
}

export interface Session {
  readonly api: ApiClient;
  /** A session is held; `me` may still be loading. */
  readonly signedIn: boolean;
  readonly me: Me | undefined;
  /** Set when the session ended by itself (expired, revoked), to tell the user why they see the login again. */
  readonly endedReason: string | undefined;
  login(username: string, password: string): Promise<void>;
  /** Signs out on the server (the tokens stop working there), then here. */
  logout(): Promise<void>;
  /** Asks the server again who we are (after a password change ends the forced-change state). */
  reloadMe(): void;
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

/** The API client is the session's: one place holds the tokens; it refreshes them and notices when the session ends. */
export const useApi = (): ApiClient => useSession().api;

const storedOf = (a: LoginAnswer): Stored => ({ accessToken: a.accessToken, expiresAt: a.expiresAt, refreshToken: a.refreshToken, sessionExpiresAt: a.sessionExpiresAt });

function load(): Stored | undefined {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Stored | null;
    // An expired access token is fine: the refresh token renews it while the session lasts.
    return s !== null && typeof s.refreshToken === 'string' && Date.parse(s.sessionExpiresAt) > Date.now() ? s : undefined;
  } catch {
    return undefined;
  }
}

/** How long before the access token expires the console renews it. */
const RENEW_BEFORE_MS = 60_000;

export function SessionProvider({ children }: { children: ReactNode }) {
  const stored = useRef<Stored | undefined>(load());
  const [signedIn, setSignedIn] = useState(stored.current !== undefined);
  /** Bumped whenever the tokens change, to plan the next renewal. */
  const [generation, setGeneration] = useState(0);
  const [me, setMe] = useState<Me | undefined>(undefined);
  const [meTick, setMeTick] = useState(0);
  const [endedReason, setEndedReason] = useState<string | undefined>(undefined);
  // The user's own input (not the screens' polling) is what keeps a session from going idle.
  const lastInput = useRef(Date.now());
  const lastRenewal = useRef(Date.now());
  const renewing = useRef<Promise<boolean> | undefined>(undefined);

  const keep = useCallback((s: Stored | undefined) => {
    stored.current = s;
    if (s === undefined) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
  }, []);

  const end = useCallback(
    (reason?: string) => {
      keep(undefined);
      setSignedIn(false);
      setMe(undefined);
      setEndedReason(reason);
    },
    [keep],
  );

  /** One renewal at a time: concurrent 401s wait for the same one (a second use of the refresh token would end the session). */
  const refresh = useCallback((): Promise<boolean> => {
    if (renewing.current !== undefined) return renewing.current;
    const s = stored.current;
    if (s === undefined) return Promise.resolve(false);
    const p = new ApiClient().post<LoginAnswer>('/auth/refresh', { refreshToken: s.refreshToken }).then(
      (a) => {
        keep(storedOf(a));
        lastRenewal.current = Date.now();
        setGeneration((g) => g + 1);
        return true;
      },
      () => false,
    );
    renewing.current = p;
    void p.finally(() => {
      renewing.current = undefined;
    });
    return p;
  }, [keep]);

  const api = useMemo(
    () => new ApiClient({ token: () => stored.current?.accessToken, refresh, ended: () => end('Your session has ended. Please sign in again.') }),
    [refresh, end],
  );

  useEffect(() => {
    const input = (): void => {
      lastInput.current = Date.now();
    };
    window.addEventListener('pointerdown', input, true);
    window.addEventListener('keydown', input, true);
    return () => {
      window.removeEventListener('pointerdown', input, true);
      window.removeEventListener('keydown', input, true);
    };
  }, []);

  useEffect(() => {
    if (!signedIn) return;
    let live = true;
    api.get<Me>('/auth/me').then(
      (m) => live && setMe(m),
      () => live && end('Your session has ended. Please sign in again.'),
    );
    return () => {
      live = false;
    };
  }, [api, signedIn, meTick, end]);

  // Renew the access token shortly before it expires if the user did something since the last renewal; an idle tab
  // lets it expire (the server's idle lifetime decides whether the next request can still renew it).
  useEffect(() => {
    const s = stored.current;
    if (!signedIn || s === undefined) return;
    // With the shortest server lifetime (60 s) this is due at once; the input check keeps it from looping.
    const renewAt = Date.parse(s.expiresAt) - RENEW_BEFORE_MS;
    const renew = setTimeout(() => {
      if (lastInput.current <= lastRenewal.current) return;
      void refresh().then((ok) => {
        if (!ok) end('Your session has ended. Please sign in again.');
      });
    }, Math.max(0, renewAt - Date.now()));
    const over = setTimeout(() => end('Your session reached its maximum length. Please sign in again.'), Math.max(0, Math.min(Date.parse(s.sessionExpiresAt) - Date.now(), 2 ** 31 - 1)));
    return () => {
      clearTimeout(renew);
      clearTimeout(over);
    };
  }, [signedIn, generation, refresh, end]);

  const login = useCallback(
    async (username: string, password: string) => {
      const answer = await new ApiClient().post<LoginAnswer>('/auth/login', { username, password });
      keep(storedOf(answer));
      lastRenewal.current = Date.now();
      setEndedReason(undefined);
      setMe(undefined);
      setSignedIn(true);
      setGeneration((g) => g + 1);
    },
    [keep],
  );

  const logout = useCallback(async () => {
    const token = stored.current?.accessToken;
    if (token !== undefined) {
      // The server ends the session (its tokens stop working everywhere); signing out here does not wait on it.
      await fetch('/api/v1/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    }
    end(undefined);
  }, [end]);

  const reloadMe = useCallback(() => setMeTick((t) => t + 1), []);
  const canRead = useCallback((siteId: string) => me !== undefined && (me.readableSites === 'all' || me.readableSites.includes(siteId)), [me]);
  const canWrite = useCallback((siteId: string) => me !== undefined && (me.writableSites === 'all' || me.writableSites.includes(siteId)), [me]);
  const headOffice = me?.headOffice === true;

  const value = useMemo<Session>(
    () => ({ api, signedIn, me: signedIn ? me : undefined, endedReason, login, logout, reloadMe, canRead, canWrite, headOffice }),
    [api, me, signedIn, endedReason, login, logout, reloadMe, canRead, canWrite, headOffice],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
