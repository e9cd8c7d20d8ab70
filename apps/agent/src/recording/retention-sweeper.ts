/**
 * Per-site recording retention: deletes recordings under `<recordings dir>/fedpbx/<site>/` (where the agent's
 * dialplan has MixMonitor write them) once they are older than the site's `recording.retentionDays` in the
 * snapshot in force. Runs at start and then hourly; off the call path entirely.
 *
 * It stays inside that subtree: symbolic links are never followed nor deleted (a link found anywhere - the
 * subtree's root included - is left alone and counted as skipped), and only regular files are removed (age by
 * mtime, which MixMonitor last touches when the call ends). Directories are kept: Asterisk may be writing into them.
 *
 * Deleting a file needs write permission on its directory. Observed on Asterisk 22.10.1: MixMonitor creates a
 * missing folder itself with Asterisk's umask (022: `drwxr-sr-x asterisk`), so the agent - user fedpbx, group
 * asterisk - then fails every unlink there with EACCES. So at start the agent makes the site's folder itself,
 * group-writable (0770; setgid too where systemd's RestrictSUIDSGID allows), before Asterisk needs it, and says
 * (alarm `recordings-not-deletable`) when the folder is there but not writable for it; deploy/ also gives Asterisk
 * `UMask=0002`. A pass that cannot delete an expired recording raises `recordings-sweep-failed` until a pass
 * deletes everything it should; both are in the agent status, the log and `fedpbx_alarm`, and the files are
 * counted in `fedpbx_recordings_sweep_failures_total`.
 */
import type { Dirent } from 'node:fs';
import { constants } from 'node:fs';
import { access, chmod, lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export const RECORDINGS_NOT_DELETABLE_ALARM = 'recordings-not-deletable';
export const RECORDINGS_SWEEP_ALARM = 'recordings-sweep-failed';

/** Where the sweeper reports conditions an admin must act on (the site's AlarmBoard). */
export interface RecordingAlarmSink {
  raise(code: string, severity: 'critical' | 'warning', message: string): void;
  clear(code: string): void;
}

/** Where the site's dialplan records (the config writer's `recordingDir`) and the sweeper looks. */
export function siteRecordingsDir(recordingsDir: string, siteId: string): string {
  return join(recordingsDir, 'fedpbx', siteId);
}

export interface RetentionSweeperOptions {
  /** Asterisk's monitor dir (FEDPBX_RECORDINGS_DIR), e.g. /var/spool/asterisk/monitor. */
  readonly recordingsDir: string;
  readonly siteId: string;
  /** The site's retention from the snapshot in force; 0 or undefined keeps everything. */
  readonly retentionDays: () => number | undefined;
  readonly log: Logger;
  /** Where fedpbx_recordings_deleted_total is registered (the agent's metrics registry). */
  readonly registry?: Registry;
  /** Default hourly. */
  readonly intervalMs?: number;
  /** Clock (tests). */
  readonly now?: () => Date;
  readonly alarms?: RecordingAlarmSink;
}

export interface SweepResult {
  readonly deleted: number;
  /** Recordings younger than the retention. */
  readonly kept: number;
  /** Symbolic links and other non-files left alone. */
  readonly skipped: number;
  /** Files that could not be deleted (logged with the first reason). */
  readonly failed: number;
}

export class RecordingRetentionSweeper {
  readonly root: string;
  private readonly deletedTotal: Counter;
  private readonly failuresTotal: Counter;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult | undefined> | undefined;
  private readonly now: () => Date;
  /** The retention of the last pass (0 = none yet, or keep everything). */
  private lastDays = 0;

  constructor(private readonly opts: RetentionSweeperOptions) {
    this.root = siteRecordingsDir(opts.recordingsDir, opts.siteId);
    this.now = opts.now ?? (() => new Date());
    this.deletedTotal = new Counter({
      name: 'fedpbx_recordings_deleted_total',
      help: "Call recordings deleted because they were older than the site's retention",
      registers: opts.registry === undefined ? [] : [opts.registry],
    });
    this.failuresTotal = new Counter({
      name: 'fedpbx_recordings_sweep_failures_total',
      help: 'Expired call recordings the retention sweep could not delete (EACCES: see alarm recordings-sweep-failed)',
      registers: opts.registry === undefined ? [] : [opts.registry],
    });
  }

  /**
   * Makes the site's folder (`<dir>/fedpbx/<site>`) if it is missing, group-writable, so that Asterisk writes into a
   * folder the agent can delete from; checks that an existing one is writable for the agent. Never rejects.
   */
  async prepare(): Promise<void> {
    const dir = this.root;
    try {
      let made = false;
      try {
        await mkdir(dir, { mode: 0o770 });
        made = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (made) {
        // mkdir's mode went through the agent's umask (the unit's 0027): set it again. Setgid keeps group asterisk
        // for what Asterisk makes inside; systemd's RestrictSUIDSGID refuses it (EPERM), 0770 is enough then.
        await chmod(dir, 0o2770).catch(() => chmod(dir, 0o770));
        this.opts.log.info({ dir }, "made the site's recordings folder (group-writable, so the agent can delete what Asterisk writes there)");
      }
      if ((await kindOf(dir)) !== 'directory') return; // a link: the sweep refuses it and says so
      await access(dir, constants.W_OK | constants.X_OK);
      this.opts.alarms?.clear(RECORDINGS_NOT_DELETABLE_ALARM);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      this.opts.alarms?.raise(
        RECORDINGS_NOT_DELETABLE_ALARM,
        'warning',
        `${dir}: the agent cannot ${e.code === 'EACCES' || e.code === 'EPERM' ? 'delete recordings in it' : `prepare it (${e.code ?? e.message})`}; expired recordings stay. ` +
          'Likely made by Asterisk with umask 022: chmod 2770 it (deploy/asterisk/setup-asterisk-user.sh does) and give Asterisk UMask=0002 (deploy/asterisk/asterisk.service.d)',
      );
    }
  }

  /** Prepares the site's folder, sweeps, then sweeps every interval (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    void this.prepare().then(() => this.sweep());
    this.timer = setInterval(() => void this.sweep(), this.opts.intervalMs ?? 60 * 60 * 1000);
    this.timer.unref();
  }

  stop(): Promise<unknown> {
    clearInterval(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }

  /**
   * A pass when the retention in force differs from the last pass's (a first snapshot after start, or the
   * admin shortened it): called after each applied snapshot, so a change does not wait for the hourly pass.
   */
  sweepIfRetentionChanged(): Promise<SweepResult | undefined> {
    return (this.opts.retentionDays() ?? 0) === this.lastDays ? Promise.resolve(undefined) : this.sweep();
  }

  /**
   * One pass; undefined when retention is off or a pass is already running. Never rejects: trouble is logged.
   */
  sweep(): Promise<SweepResult | undefined> {
    if (this.running !== undefined) return Promise.resolve(undefined);
    const days = this.opts.retentionDays() ?? 0;
    this.lastDays = days;
    if (days <= 0) return Promise.resolve(undefined);
    const started = Date.now();
    this.running = this.pass(this.now().getTime() - days * DAY_MS)
      .then(({ counts: result, firstFailure }) => {
        const level = result.failed > 0 ? 'warn' : 'info';
        this.opts.log[level]({ dir: this.root, retentionDays: days, ...result, ms: Date.now() - started }, 'recording retention sweep');
        if (result.failed > 0) {
          this.failuresTotal.inc(result.failed);
          const reason = firstFailure instanceof Error ? firstFailure.message : String(firstFailure);
          this.opts.alarms?.raise(
            RECORDINGS_SWEEP_ALARM,
            'warning',
            `${result.failed} expired recording(s) in ${this.root} could not be deleted (${reason}); ` +
              'the folder must be group-writable for the agent: chmod 2770 (deploy/asterisk/setup-asterisk-user.sh) and UMask=0002 for Asterisk',
          );
        } else this.opts.alarms?.clear(RECORDINGS_SWEEP_ALARM);
        return result;
      })
      .catch((error: unknown) => {
        this.opts.log.error({ err: error, dir: this.root }, 'recording retention sweep failed');
        const e = error as NodeJS.ErrnoException;
        this.opts.alarms?.raise(RECORDINGS_SWEEP_ALARM, 'warning', `recording retention sweep of ${this.root} failed: ${e.code ?? e.message}`);
        return undefined;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async pass(cutoffMs: number): Promise<{ counts: SweepResult; firstFailure: unknown }> {
    const counts = { deleted: 0, kept: 0, skipped: 0, failed: 0 };
    let firstFailure: unknown;
    // Neither `<dir>/fedpbx` nor `<dir>/fedpbx/<site>` may be a link to somewhere else.
    for (const dir of [join(this.opts.recordingsDir, 'fedpbx'), this.root]) {
      const kind = await kindOf(dir);
      if (kind === 'missing') return { counts, firstFailure };
      if (kind !== 'directory') {
        this.opts.log.warn({ dir }, 'recordings dir is not a plain directory (a link?); nothing deleted');
        return { counts: { ...counts, skipped: 1 }, firstFailure };
      }
    }
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          // Re-checked without following links right before descending.
          if ((await kindOf(path)) === 'directory') await walk(path);
          else counts.skipped++;
          continue;
        }
        if (!entry.isFile()) {
          counts.skipped++;
          continue;
        }
        const stats = await lstat(path).catch(() => undefined);
        if (stats === undefined || !stats.isFile()) continue;
        if (stats.mtimeMs >= cutoffMs) {
          counts.kept++;
          continue;
        }
        try {
          await unlink(path);
          counts.deleted++;
          this.deletedTotal.inc();
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          counts.failed++;
          firstFailure ??= error;
        }
      }
    };
    await walk(this.root);
    if (firstFailure !== undefined) this.opts.log.warn({ err: firstFailure, failed: counts.failed }, 'some expired recordings could not be deleted');
    return { counts, firstFailure };
  }
}

async function kindOf(path: string): Promise<'missing' | 'directory' | 'other'> {
  try {
    return (await lstat(path)).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}
