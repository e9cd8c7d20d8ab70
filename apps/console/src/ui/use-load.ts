import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';

export type Loaded<T> =
  | { readonly state: 'loading' }
  | { readonly state: 'ok'; readonly value: T }
  /** The endpoint is not there (yet) or its service is down: show an explanation, not an error. */
  | { readonly state: 'unavailable'; readonly error: ApiError }
  | { readonly state: 'error'; readonly error: Error };

/** Runs `load` when its dependencies change (showing loading again) and on `reload()` (keeping the current value meanwhile); the last answer wins. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): [Loaded<T>, () => void] {
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
  return [result, useCallback(() => setTick((t) => t + 1), [])];
}

/** The value when loaded, else the fallback. */
export const valueOr = <T,>(l: Loaded<T>, fallback: T): T => (l.state === 'ok' ? l.value : fallback);
