import type { AgentAlarm } from '@fedpbx/contracts';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';

/**
 * The site's alarms: conditions an admin must act on (a fedpbx transport Asterisk could not start, ...). One per
 * code; raising it again with another message replaces the message and keeps `since`. Each change is logged once,
 * shown as `fedpbx_alarm{code,severity}` (1 while raised) and reported to the controller with the next heartbeat,
 * which the agent sends at once (`onChange`).
 */
export class AlarmBoard {
  private readonly alarms = new Map<string, AgentAlarm>();
  private readonly listeners = new Set<() => void>();
  private readonly gauge: Gauge<'code' | 'severity'>;

  constructor(
    private readonly log: Logger,
    registry: Registry,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.gauge = new Gauge({ name: 'fedpbx_alarm', help: 'Alarms in force at the site (1 while raised)', labelNames: ['code', 'severity'] as const, registers: [registry] });
  }

  raise(code: string, severity: AgentAlarm['severity'], message: string): void {
    const current = this.alarms.get(code);
    if (current !== undefined && current.message === message && current.severity === severity) return;
    if (current !== undefined && current.severity !== severity) this.gauge.remove({ code, severity: current.severity });
    this.alarms.set(code, { code, severity, message: message.slice(0, 1000), since: current?.since ?? this.now().toISOString() });
    this.gauge.set({ code, severity }, 1);
    this.log[severity === 'critical' ? 'error' : 'warn']({ alarm: code }, message);
    this.emit();
  }

  clear(code: string): void {
    const current = this.alarms.get(code);
    if (current === undefined) return;
    this.alarms.delete(code);
    this.gauge.set({ code, severity: current.severity }, 0);
    this.log.info({ alarm: code }, `cleared: ${current.message}`);
    this.emit();
  }

  get(code: string): AgentAlarm | undefined {
    return this.alarms.get(code);
  }

  /** The alarms in force, oldest first. */
  list(): AgentAlarm[] {
    return [...this.alarms.values()];
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}
