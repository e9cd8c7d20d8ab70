import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ActiveCallsReport, Subjects, type ActiveCallView, type ActiveCallsView } from '@fedpbx/contracts';
import type { Subscription } from '@nats-io/transport-node';
import { pino } from 'pino';
import type { Scope } from '../access/scope.js';
import { ONLINE_WITHIN_MS } from '../agents/agent-status.repository.js';
import { NatsBus } from '../nats/nats-bus.js';
import { LiveHub } from './live-hub.js';

/** How often reports are checked for having gone stale (the agent stopped reporting: its calls are unknown). */
const SWEEP_MS = 5000;

interface Held {
  readonly report: ActiveCallsReport;
  readonly receivedAt: number;
  /** The report's content, to tell consoles only of changes. */
  readonly content: string;
}

/**
 * The calls in progress at each site, as the agents report them on core NATS (`fedpbx.live.<site>.calls`, when
 * they change and every 10 s). Held in memory, newest report per site, never stored: every controller replica
 * subscribes and holds the same. A report counts while younger than an agent's online window; a site without one
 * has no known calls. Consoles hear `calls` when a site's calls change or its report goes stale.
 */
@Injectable()
export class ActiveCallsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly held = new Map<string, Held>();
  private subscription: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'active-calls' });

  constructor(
    @Inject(NatsBus) private readonly bus: NatsBus,
    @Inject(LiveHub) private readonly hub: LiveHub,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.bus.enabled) return;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    void this.bus.connection().then((nc) => {
      this.subscription = nc.subscribe(Subjects.ACTIVE_CALLS_WILDCARD, {
        callback: (error, msg) => {
          if (error !== null) return this.log.warn({ err: error.message }, 'calls-in-progress subscription failed');
          this.receive(msg.subject, msg.string());
        },
      });
    });
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.sweeper);
    this.subscription?.unsubscribe();
  }

  /** One report from the bus: the subject names the site (only its agent may publish there), and so must the report. */
  receive(subject: string, text: string, now = Date.now()): void {
    const siteId = subject.split('.')[2] ?? '';
    let report: ActiveCallsReport;
    try {
      report = ActiveCallsReport.parse(JSON.parse(text));
    } catch {
      this.log.warn({ subject }, 'malformed calls-in-progress report ignored');
      return;
    }
    if (report.siteId !== siteId) {
      this.log.warn({ subject, siteId: report.siteId }, 'calls-in-progress report naming another site ignored');
      return;
    }
    const content = JSON.stringify([report.total, report.calls]);
    const before = this.held.get(siteId);
    this.held.set(siteId, { report, receivedAt: now, content });
    // Every replica hears the report itself: local events only.
    if (before?.content !== content || now - before.receivedAt > ONLINE_WITHIN_MS) this.hub.emit([{ topic: 'calls', siteIds: [siteId] }], { localOnly: true });
  }

  /** Drops reports that went stale, telling consoles. */
  sweep(now = Date.now()): void {
    const stale: string[] = [];
    for (const [siteId, h] of this.held) {
      if (now - h.receivedAt <= ONLINE_WITHIN_MS) continue;
      this.held.delete(siteId);
      stale.push(siteId);
    }
    if (stale.length > 0) this.hub.emit([{ topic: 'calls', siteIds: stale }], { localOnly: true });
  }

  /** The calls in progress at the sites `scope` may read, a call across sites as one. */
  view(scope: Scope, now = Date.now()): ActiveCallsView {
    const sites: { siteId: string; total: number; reportedAt: string }[] = [];
    const byCall = new Map<string, (ActiveCallView['legs'][number])[]>();
    for (const [siteId, h] of [...this.held].sort(([a], [b]) => a.localeCompare(b))) {
      if (!scope.canRead(siteId) || now - h.receivedAt > ONLINE_WITHIN_MS) continue;
      sites.push({ siteId, total: h.report.total, reportedAt: h.report.at });
      for (const c of h.report.calls) {
        const legs = byCall.get(c.callId);
        if (legs === undefined) byCall.set(c.callId, [{ ...c, siteId }]);
        else legs.push({ ...c, siteId });
      }
    }
    const calls = [...byCall].map(([callId, legs]): ActiveCallView => {
      const ordered = [...legs].sort((a, b) => a.since.localeCompare(b.since));
      const originSite = callId.slice(0, callId.indexOf('/'));
      const first = ordered.find((l) => l.siteId === originSite) ?? (ordered[0] as ActiveCallView['legs'][number]);
      return {
        callId,
        caller: first.caller,
        callee: first.callee,
        ...(first.routeKind !== undefined ? { routeKind: first.routeKind } : {}),
        since: (ordered[0] as ActiveCallView['legs'][number]).since,
        sites: [...new Set(ordered.map((l) => l.siteId))],
        legs: ordered,
      };
    });
    calls.sort((a, b) => a.since.localeCompare(b.since));
    return { sites, calls };
  }
}
