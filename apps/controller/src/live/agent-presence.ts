import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { AgentAlarm, LiveEvent } from '@fedpbx/contracts';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { ONLINE_WITHIN_MS } from '../agents/agent-status.repository.js';
import type { HeartbeatRow } from '../ingest/event-batch.js';
import { LiveHub } from './live-hub.js';

/** How often the stored heartbeats are looked at for agents that went silent (offline is the absence of events). */
const POLL_MS = 2000;

interface StatusRow {
  site_id: string;
  at: Date | string;
  received_at: Date | string;
  agent_version: string;
  applied_revision: number;
  ami_connected: boolean;
  alarms: readonly AgentAlarm[] | null;
}

/** What the console shows of an agent, except times: a change of any of it is an `agents` event. */
const fingerprint = (online: boolean, version: string, revision: number, ami: boolean, alarms: readonly AgentAlarm[]): string =>
  JSON.stringify([online, version, revision, ami, alarms.map((a) => [a.code, a.severity, a.message])]);

/**
 * Tells consoles when an agent goes online or offline, or its alarms, AMI connection or applied revision change -
 * not at every heartbeat (1,000 sites heartbeat 100 times a second, and a console would read its agents list again
 * for each). A heartbeat this replica ingests is compared at once; a periodic look at the stored heartbeats
 * notices agents that went silent, and changes another replica ingested.
 */
@Injectable()
export class AgentPresenceWatch implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** Fingerprint per site, as last told; empty until the first look (which tells nothing: nobody listened before). */
  private readonly known = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private looked = false;
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'agent-presence' });

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(LiveHub) private readonly hub: LiveHub,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Heartbeats just committed by this replica's ingest. */
  heartbeats(rows: readonly HeartbeatRow[], now = new Date()): void {
    const changed: string[] = [];
    for (const r of rows) {
      const online = now.getTime() - new Date(r.at).getTime() <= ONLINE_WITHIN_MS;
      const f = fingerprint(online, r.agent_version, r.applied_revision, r.ami_connected, r.alarms);
      if (this.known.get(r.site_id) === f) continue;
      this.known.set(r.site_id, f);
      changed.push(r.site_id);
    }
    if (changed.length > 0) this.hub.emit([{ topic: 'agents', siteIds: changed }]);
  }

  /** Compares the stored heartbeats with what was last told (each replica on its own: the events stay local). */
  async poll(now = new Date()): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const rows: StatusRow[] = await this.ds.query('SELECT site_id, at, received_at, agent_version, applied_revision, ami_connected, alarms FROM agent_status');
      const first = !this.looked;
      this.looked = true;
      const events: LiveEvent[] = [];
      for (const r of rows) {
        const online = now.getTime() - new Date(r.at).getTime() <= ONLINE_WITHIN_MS && now.getTime() - new Date(r.received_at).getTime() <= ONLINE_WITHIN_MS;
        const f = fingerprint(online, r.agent_version, r.applied_revision, r.ami_connected, r.alarms ?? []);
        if (this.known.get(r.site_id) === f) continue;
        this.known.set(r.site_id, f);
        if (!first) events.push({ topic: 'agents', siteIds: [r.site_id] });
      }
      this.hub.emit(events, { localOnly: true });
    } catch (error) {
      this.log.debug({ err: error instanceof Error ? error.message : String(error) }, 'agent status not readable now');
    } finally {
      this.polling = false;
    }
  }
}
