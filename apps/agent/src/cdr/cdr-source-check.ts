/**
 * Asks Asterisk whether the CDR backends the agent reads are running (AMI `ModuleCheck`, manager.c
 * manager_modulecheck: `Response: Error` / `Module not loaded` for a module that is not), after every AMI connect
 * and every `intervalMs`. Observed on 22.10.1: cdr_manager declines to load at boot when cdr_manager.conf is missing
 * and stays unloaded after the file appears until `module load cdr_manager.so` - Asterisk keeps running calls and
 * no CDR reaches the agent. So:
 * - with the CDR file configured, `cdr_custom` is required (it writes the file; res_cdrel_custom comes with it):
 *   alarm `cdr-source-not-loaded` (critical) while it is not loaded; cdr_manager (the live events) missing only
 *   delays CDRs to the next read of the file: logged, no alarm;
 * - without it, `cdr_manager` is the only source: the same alarm while it is not loaded.
 * The alarm says the command that fixes it (deploy/asterisk/README.md).
 */
import { AmiClientError } from '../ami/ami-errors.js';
import type { Logger } from '../logger.js';
import type { CdrAlarmSink } from './cdr-file-source.js';

export const CDR_SOURCE_ALARM = 'cdr-source-not-loaded';

export interface ModuleChecker {
  action(name: string, fields: Readonly<Record<string, string>>): Promise<unknown>;
  onConnected(listener: () => void): () => void;
  readonly connected: boolean;
}

export interface CdrSourceCheckOptions {
  readonly ami: ModuleChecker;
  readonly alarms: CdrAlarmSink;
  readonly log: Logger;
  /** Whether the agent reads the CDR file (FEDPBX_CDR_FILE set). */
  readonly fileConfigured: boolean;
  /** Default 5 minutes. */
  readonly intervalMs?: number;
  /** Called with each module's state after a check (metrics). */
  readonly onChecked?: (modules: ReadonlyMap<string, boolean>) => void;
}

export class CdrSourceCheck {
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private checking: Promise<void> | undefined;
  private warnedLive = false;

  constructor(private readonly opts: CdrSourceCheckOptions) {}

  start(): void {
    this.unsubscribe = this.opts.ami.onConnected(() => void this.check());
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs ?? 5 * 60_000);
    this.timer.unref();
    if (this.opts.ami.connected) void this.check();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** One check now; never rejects (an AMI failure leaves the alarm as it was). */
  check(): Promise<void> {
    this.checking ??= this.run().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async run(): Promise<void> {
    if (!this.opts.ami.connected) return;
    const modules = new Map<string, boolean>();
    try {
      for (const name of ['cdr_custom', 'cdr_manager']) modules.set(name, await this.loaded(name));
    } catch (error) {
      this.opts.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'ModuleCheck failed; CDR source alarm left as it was');
      return;
    }
    this.opts.onChecked?.(modules);
    const required = this.opts.fileConfigured ? 'cdr_custom' : 'cdr_manager';
    if (modules.get(required) === true) this.opts.alarms.clear(CDR_SOURCE_ALARM);
    else {
      this.opts.alarms.raise(
        CDR_SOURCE_ALARM,
        'critical',
        `${required}.so is not loaded in Asterisk: calls leave no CDR for the agent. Fix: ${required === 'cdr_custom' ? 'install deploy/asterisk/cdr_custom.conf and create /var/log/asterisk/cdr-custom' : 'install deploy/asterisk/cdr_manager.conf'}, then asterisk -rx 'module load ${required}.so'`,
      );
    }
    if (this.opts.fileConfigured && modules.get('cdr_manager') !== true && !this.warnedLive) {
      this.warnedLive = true;
      this.opts.log.warn("cdr_manager.so is not loaded: CDRs come from the CDR file only (up to a second later); asterisk -rx 'module load cdr_manager.so' for live ones");
    }
    if (modules.get('cdr_manager') === true) this.warnedLive = false;
  }

  /** ModuleCheck: Success = running; `Module not loaded` = not; anything else throws. */
  private async loaded(name: string): Promise<boolean> {
    try {
      await this.opts.ami.action('ModuleCheck', { Module: `${name}.so` });
      return true;
    } catch (error) {
      if (error instanceof AmiClientError && error.code === 'ACTION_FAILED' && /module not loaded/i.test(error.response?.headers.get('Message') ?? '')) return false;
      throw error;
    }
  }
}
