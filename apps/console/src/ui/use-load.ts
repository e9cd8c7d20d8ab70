import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';
import { interested, useLive, type LiveInterest } from '../api/live';

/**
 * Events arriving together (a batch of CDRs, a rollout reaching many sites) cause one read at once and at most
 * one more at the end of this window, not one each.
 */
const LIVE_COALESCE_MS = 200;

export type Loaded<T> =
  | { readonly state: 'loading' }
  | { readonly state: 'ok'; readonly value: T }
  /** The endpoint is not there (yet) or its service is down: show an explanation, not an error. */
  | { readonly state: 'unavailable'; readonly error: ApiError }
  | { readonly state: 'error'; readonly error: Error };

/**
 * Runs `load` when its dependencies change (showing loading again) and on `reload()` (keeping the current value
 * meanwhile); the last answer wins. With `live`, it also reloads (coalesced, keeping the value) when the
 * controller's event stream tells of a change of those topics, and after the stream was lost and is back.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[], live?: LiveInterest): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  // The caller lists what `load` depends on, as with useEffect.
  const run = useCallback(load, deps);
  const lastRun = useRef(run);
  useEffect(() => {
    let live = true;
    // New inputs (another site, another flow): never show the previous answer as if it were theirs.
    if (lastRun.current !== run) {
      lastRun.current = run;
      setResult({ state: 'loading' });
    }
    run().then(
      (value) => live && setResult({ state: 'ok', value }),
      (e: unknown) => {
        if (!live) return;
        if (e instanceof ApiError && e.unavailable) setResult({ state: 'unavailable', error: e });
        else setResult({ state: 'error', error: e instanceof Error ? e : new Error(String(e)) });
      },
    );
    return () => {
      live = false;
    };
  }, [run, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useLiveReload(live, reload);
  return [result, reload];
}

/** Calls `reload` (coalesced) for each event of the stream that `live` is interested in. */
export function useLiveReload(live: LiveInterest | undefined, reload: () => void): void {
  const { subscribe } = useLive();
  // Screens pass the interest inline: compare it by value, or every render would subscribe again.
  const key = live === undefined ? undefined : JSON.stringify(live);
  useEffect(() => {
    if (key === undefined) return;
    const interest = JSON.parse(key) as LiveInterest;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let again = false;
    const quiet = (): void => {
      timer = undefined;
      if (!again) return;
      again = false;
      reload();
      timer = setTimeout(quiet, LIVE_COALESCE_MS);
    };
    const off = subscribe((signal) => {
      if (!interested(interest, signal)) return;
      if (timer !== undefined) {
        again = true;
        return;
      }
      reload();
      timer = setTimeout(quiet, LIVE_COALESCE_MS);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [key, subscribe, reload]);
}

/** The value when loaded, else the fallback. */
export const valueOr = <T,>(l: Loaded<T>, fallback: T): T => (l.state === 'ok' ? l.value : fallback);
