import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LIVE_TOPICS, type LiveEvent } from '@fedpbx/contracts';
import type { Subscription } from '@nats-io/transport-node';
import { pino } from 'pino';
import { NatsBus } from '../nats/nats-bus.js';
import { mergeLiveEvents } from './live-scope.js';

/**
 * Core NATS subject on which controller replicas tell each other about changes (issue #20: several replicas).
 * Only the controller's user may use it: agents may publish and subscribe only under their own site's subjects.
 */
export const LIVE_FANOUT_SUBJECT = 'fedpbx.controller.live';

type Listener = (event: LiveEvent) => void;
interface Stream {
  readonly listener: Listener;
  /** Ends the stream (the controller is stopping: an open response would hold the HTTP server's close). */
  readonly close: () => void;
}

const isLiveEvent = (v: unknown): v is LiveEvent => {
  const e = v as Partial<LiveEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    (LIVE_TOPICS as readonly string[]).includes(e.topic as string) &&
    Array.isArray(e.siteIds) &&
    e.siteIds.every((s) => typeof s === 'string') &&
    (e.kind === undefined || typeof e.kind === 'string')
  );
};

/**
 * Where the controller says that something the console shows changed: the code that changes state (federation
 * writes after their commit, event ingest after its commit, the snapshot publisher, the agent presence watch)
 * emits here, and every open console stream hears it.
 *
 * Several replicas: a change is committed by one replica, and agent events are ingested by whichever replica's
 * pull consumer took the batch, so each replica delivers its own events at once and publishes them on core NATS
 * (fire and forget, no JetStream write) for the other replicas' streams, ignoring its own echo. Without NATS the
 * controller is a single process and local delivery is all there is.
 */
@Injectable()
export class LiveHub implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly listeners = new Set<Stream>();
  private readonly replica = randomUUID();
  private subscription: Subscription | undefined;
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'live' });

  constructor(@Inject(NatsBus) private readonly bus: NatsBus) {}

  onApplicationBootstrap(): void {
    if (!this.bus.enabled) return;
    void this.bus.connection().then((nc) => {
      // nats.js re-subscribes after a reconnect by itself.
      this.subscription = nc.subscribe(LIVE_FANOUT_SUBJECT, {
        callback: (error, msg) => {
          if (error !== null) return this.log.warn({ err: error.message }, 'live fan-out subscription failed');
          try {
            const { origin, events } = msg.json<{ origin: string; events: unknown[] }>();
            if (origin === this.replica || !Array.isArray(events)) return;
            for (const e of events) if (isLiveEvent(e)) this.deliver(e);
          } catch {
            this.log.warn('malformed live fan-out message ignored');
          }
        },
      });
    });
  }

  /** Before the HTTP server closes: it waits for open responses, and a stream never ends by itself. */
  beforeApplicationShutdown(): void {
    for (const s of [...this.listeners]) s.close();
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    this.listeners.clear();
  }

  /** Calls `listener` with every event from now on, and `close` when the controller stops; returns the unsubscribe. */
  subscribe(listener: Listener, close: () => void): () => void {
    const stream = { listener, close };
    this.listeners.add(stream);
    return () => this.listeners.delete(stream);
  }

  get streams(): number {
    return this.listeners.size;
  }

  /**
   * Tells every console stream (of every replica unless `localOnly`: what each replica works out by itself, such
   * as an agent going offline) about changes. Events of the same topic and kind are merged.
   */
  emit(events: readonly LiveEvent[], options: { localOnly?: boolean } = {}): void {
    if (events.length === 0) return;
    const merged = mergeLiveEvents(events);
    for (const e of merged) this.deliver(e);
    if (options.localOnly === true || !this.bus.isConnected()) return;
    void this.bus
      .connection()
      .then((nc) => nc.publish(LIVE_FANOUT_SUBJECT, JSON.stringify({ origin: this.replica, events: merged })))
      .catch((error: unknown) => this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'live fan-out publish failed'));
  }

  private deliver(event: LiveEvent): void {
    for (const { listener } of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'a live listener failed');
      }
    }
  }
}
