import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { LiveEvent, LiveTopic } from '@fedpbx/contracts';
import { ApiError, type ApiClient } from './client';
import { SseParser } from './sse-parser';

/** `connecting` until the first stream opens; `lost` while a broken stream is being reopened. */
export type LiveStatus = 'connecting' | 'live' | 'lost';

/** An event of the stream, or `resync`: events may have been missed (a reconnect, a slow tab), read everything again. */
export type LiveSignal = LiveEvent | 'resync';

const TOPICS: readonly string[] = ['config', 'rollout', 'agents', 'health', 'cdrs', 'calls'] satisfies readonly LiveTopic[];
/** The server sends a keep-alive comment every 15 s by default: a stream silent for much longer is dead (a half-open TCP). */
const SILENT_MS = 45_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;

const isLiveEvent = (v: unknown): v is LiveEvent => {
  const e = v as Partial<LiveEvent> | null;
  return typeof e === 'object' && e !== null && TOPICS.includes(e.topic as string) && Array.isArray(e.siteIds);
};

/**
 * The tab's one connection to the controller's event stream (GET /api/v1/events), read with fetch() so the bearer
 * token goes in the Authorization header (EventSource cannot send headers). A broken stream is reopened with
 * backoff (0.5 s doubling to 10 s, with jitter so a restarted controller is not hit by every console at once); a
 * stream the server ended for an expired token is reopened at once with a renewed one. After every reopening the
 * listeners hear `resync`, since events of the gap are gone.
 */
export class LiveConnection {
  private readonly listeners = new Set<(s: LiveSignal) => void>();
  private readonly statusListeners = new Set<(s: LiveStatus) => void>();
  private abort: AbortController | undefined;
  private stopped = true;
  status: LiveStatus = 'connecting';

  constructor(private readonly api: ApiClient) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  on(listener: (s: LiveSignal) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: (s: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private setStatus(s: LiveStatus): void {
    if (this.status === s) return;
    this.status = s;
    for (const l of this.statusListeners) l(s);
  }

  private signal(s: LiveSignal): void {
    for (const l of this.listeners) l(s);
  }

  private async run(): Promise<void> {
    let failures = 0;
    let opened = false;
    while (!this.stopped) {
      const abort = (this.abort = new AbortController());
      let endedByServer = false;
      try {
        const res = await this.api.openStream('/events', abort.signal);
        if (res.body === null) throw new ApiError(0, undefined);
        this.setStatus('live');
        if (opened) this.signal('resync');
        opened = true;
        failures = 0;
        endedByServer = await this.read(res.body, abort);
      } catch (e) {
        // A refusal other than an ended session (which signs the tab out) is retried like a network failure.
        if (this.stopped || (e instanceof ApiError && e.status === 401)) break;
      }
      if (this.stopped) break;
      if (endedByServer) continue;
      this.setStatus('lost');
      const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** failures++) * (0.75 + Math.random() * 0.5);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Reads until the stream breaks; true when the server ended it on purpose (`end`: reopen with a new token). */
  private async read(body: ReadableStream<Uint8Array>, abort: AbortController): Promise<boolean> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    let watchdog = setTimeout(() => abort.abort(), SILENT_MS);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return false;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => abort.abort(), SILENT_MS);
        for (const e of parser.push(decoder.decode(value, { stream: true }))) {
          if (e.event === 'end') return true;
          if (e.event === 'resync') this.signal('resync');
          else if (TOPICS.includes(e.event)) {
            const parsed = safeParse(e.data);
            if (isLiveEvent(parsed)) this.signal(parsed);
          }
        }
      }
    } finally {
      clearTimeout(watchdog);
      reader.cancel().catch(() => undefined);
    }
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

interface Live {
  readonly status: LiveStatus | 'off';
  subscribe(listener: (s: LiveSignal) => void): () => void;
}

const LiveContext = createContext<Live>({ status: 'off', subscribe: () => () => undefined });

/** Opens the tab's event stream while signed in; screens below hear it through useLive/useLoad. */
export function LiveProvider({ api, children }: { api: ApiClient; children: ReactNode }) {
  const connection = useMemo(() => new LiveConnection(api), [api]);
  const [status, setStatus] = useState<LiveStatus>(connection.status);
  useEffect(() => {
    const off = connection.onStatus(setStatus);
    connection.start();
    return () => {
      off();
      connection.stop();
    };
  }, [connection]);
  const subscribe = useCallback((l: (s: LiveSignal) => void) => connection.on(l), [connection]);
  const value = useMemo<Live>(() => ({ status, subscribe }), [status, subscribe]);
  return createElement(LiveContext.Provider, { value }, children);
}

export const useLive = (): Live => useContext(LiveContext);

/**
 * What a screen wants to hear: topics, optionally only those naming one site (federation-wide events always
 * count) and, for `config`, only some object kinds (`site`, `extension`, `link`... as the audit log names them).
 */
export type LiveInterest = readonly LiveTopic[] | { readonly topics: readonly LiveTopic[]; readonly siteId?: string; readonly kinds?: readonly string[] };

export function interested(interest: LiveInterest, s: LiveSignal): boolean {
  if (s === 'resync') return true;
  const { topics, siteId, kinds } = Array.isArray(interest) ? { topics: interest as readonly LiveTopic[], siteId: undefined, kinds: undefined } : (interest as Exclude<LiveInterest, readonly LiveTopic[]>);
  if (!topics.includes(s.topic)) return false;
  if (siteId !== undefined && s.siteIds.length > 0 && !s.siteIds.includes(siteId)) return false;
  if (kinds !== undefined && s.topic === 'config' && s.kind !== undefined && !kinds.includes(s.kind)) return false;
  return true;
}
