/**
 * Keeps the fedpbx-owned Asterisk include files in step with the snapshot in force, and nothing else:
 * `pjsip_fedpbx.conf`, `extensions_fedpbx.conf` and `voicemail_fedpbx.conf` in the Asterisk config dir (or the
 * include dir), rendered by libs/dialplan.
 *
 * - Runs after each applied snapshot (SnapshotApplier hook). Renders every file first: if one refuses to render
 *   (RenderError - e.g. a value that could inject a section or an application argument), nothing is written and
 *   nothing reloaded; the files of the last good snapshot stay in force. The outcome - files written, or the
 *   failure with the object and field a renderer refused, or the file that could not be written - goes to
 *   `onOutcome` (the agent reports it to the controller: `config.written` / `config.failed`, the site's rollout
 *   then reads `config-failed`, never in-sync).
 * - Writes a file only when its text changed, atomically (temp file + fsync + rename), mode 0640.
 * - Then one `Action: Reload` per changed file's module (`res_pjsip.so` for pjsip, `pbx_config.so` for the
 *   dialplan, `app_voicemail.so` for the mailboxes: its `reload` re-reads voicemail.conf), none when nothing changed.
 * - Each file's header names the exact `#include` line for the configured include dir (relative to the config
 *   dir, as config.c resolves a relative include against astetcdir, or absolute when outside it). A reload that could not be sent (AMI down) is owed and sent on the next
 *   AMI connect ({@link AsteriskConfigWriter.flushReloads}); Asterisk also reads the files when it starts.
 * - Never edits the admin's files. It reads pjsip.conf and extensions.conf only to see whether they include ours,
 *   and says once, in the log, exactly which line to add where it is missing.
 * - Transports are not reloaded by `module reload res_pjsip.so` (allow_reload=no): a changed
 *   `[fedpbx-transport]` section is logged as needing an Asterisk restart.
 * - Rendering and writing (include-files.ts) run where `runner` says: in the agent, a worker thread.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { DEFAULT_SIP_PORT, type ConfigFailedEvent, type SiteSnapshot } from '@fedpbx/contracts';
import type { SnapshotInForce } from '../state/routing-state.js';
import {
  EXTENSIONS_FILE_NAME,
  FEDERATION_TRANSPORT,
  PJSIP_FILE_NAME,
  RenderError,
  VOICEMAIL_FILE_NAME,
  type ExtensionsRenderOptions,
  type PjsipRenderOptions,
} from '@fedpbx/dialplan';
import type { Logger } from '../logger.js';
import { federationBind, formatBind, readAdminTransports, transportProblems, type TransportProblems } from './admin-transports.js';
import { IncludeFileWriteError, writeIncludeFiles, type IncludeFilesRunner, type SnapshotText } from './include-files.js';

/** Why the include files of a revision were not written, as the `config.failed` event carries it. */
export type ConfigFailure = Omit<ConfigFailedEvent, 'type' | 'revision'>;

/** What became of one apply: the files written (maybe none), or why nothing was. */
export type ConfigOutcome =
  | { readonly revision: number; readonly ok: true; readonly written: readonly string[] }
  | { readonly revision: number; readonly ok: false; readonly failure: ConfigFailure };

/** The one thing this module needs from AMI (AmiClient satisfies it). */
export interface AsteriskReloader {
  action(name: string, fields: Readonly<Record<string, string>>): Promise<unknown>;
}

export interface AsteriskConfigWriterOptions {
  /** FEDPBX_ASTERISK_CONFIG_DIR, normally /etc/asterisk: where pjsip.conf and extensions.conf are. */
  readonly configDir: string;
  /**
   * Where fedpbx's files are written (FEDPBX_ASTERISK_INCLUDE_DIR); default `configDir`. A directory of its own
   * (deploy/: /etc/asterisk/fedpbx, owned by the agent, group asterisk) means the agent needs no write access to
   * /etc/asterisk itself. The include line then names the path relative to `configDir`.
   */
  readonly includeDir?: string;
  /** Where Asterisk reaches the agent's FastAGI server (a wildcard listen address means 127.0.0.1). */
  readonly agiHost: string;
  readonly agiPort: number;
  /** Absent when the agent has no AMI: files are still written and the log says to reload by hand. */
  readonly reloader?: AsteriskReloader;
  readonly log: Logger;
  readonly pjsip?: PjsipRenderOptions;
  readonly extensions?: Omit<ExtensionsRenderOptions, 'agiHost' | 'agiPort'>;
  /** After reloads went through (e.g. AsteriskStatus.resync: the PJSIP objects changed). */
  readonly onReloaded?: (modules: readonly string[]) => void;
  /**
   * Where rendering and writing run: in-process by default; the agent passes `workerRunner()`, because a head
   * office's files take seconds to render and calls must not wait for them.
   */
  readonly runner?: IncludeFilesRunner;
  /** Told of each apply's outcome (also when nothing changed): the agent reports it to the controller. */
  readonly onOutcome?: (outcome: ConfigOutcome) => void;
  /**
   * Where the transport check raises its alarms (the agent's AlarmBoard): `pjsip-transport-conflict` when a
   * transport of the admin's pjsip.conf takes fedpbx-transport's UDP port and address, `pjsip-transport-shared-port`
   * when one uses the same port at another address (admin-transports.ts).
   */
  readonly alarms?: AlarmSink;
}

export interface AlarmSink {
  raise(code: string, severity: 'critical' | 'warning', message: string): void;
  clear(code: string): void;
}

export const TRANSPORT_CONFLICT_ALARM = 'pjsip-transport-conflict';
export const TRANSPORT_SHARED_PORT_ALARM = 'pjsip-transport-shared-port';

export type AsteriskModule = 'res_pjsip.so' | 'pbx_config.so' | 'app_voicemail.so';

interface OwnedFile {
  readonly name: string;
  readonly module: AsteriskModule;
  /** The admin's file that must include it. */
  readonly includer: string;
}

const FILES: readonly OwnedFile[] = [
  { name: PJSIP_FILE_NAME, module: 'res_pjsip.so', includer: 'pjsip.conf' },
  { name: EXTENSIONS_FILE_NAME, module: 'pbx_config.so', includer: 'extensions.conf' },
  { name: VOICEMAIL_FILE_NAME, module: 'app_voicemail.so', includer: 'voicemail.conf' },
];

export interface ConfigApplyResult {
  readonly revision: number;
  /** Files whose text changed and were written. */
  readonly written: readonly string[];
  /** Modules reloaded now (owed reloads of earlier applies included). */
  readonly reloaded: readonly AsteriskModule[];
  /** Modules whose reload could not be sent yet. */
  readonly owed: readonly AsteriskModule[];
}

export class AsteriskConfigWriter {
  private readonly outDir: string;
  private readonly agiHost: string;
  private readonly run: IncludeFilesRunner;
  private readonly owed = new Set<AsteriskModule>();
  private readonly includeWarned = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private problems: TransportProblems = {};

  constructor(private readonly opts: AsteriskConfigWriterOptions) {
    this.outDir = opts.includeDir ?? opts.configDir;
    this.agiHost = opts.agiHost === '0.0.0.0' || opts.agiHost === '::' || opts.agiHost === '' ? '127.0.0.1' : opts.agiHost;
    this.run = opts.runner ?? writeIncludeFiles;
  }

  /**
   * Renders, writes what changed, reloads what was written. Serialised with {@link flushReloads}. `text` is the
   * snapshot's JSON as the applier stored it (made from `snapshot` when absent).
   */
  apply(snapshot: SiteSnapshot, text?: SnapshotText): Promise<ConfigApplyResult>;
  /** A snapshot in force (its extensions are in `text` only). */
  apply(snapshot: SnapshotInForce, text: SnapshotText): Promise<ConfigApplyResult>;
  apply(snapshot: SiteSnapshot | SnapshotInForce, text?: SnapshotText): Promise<ConfigApplyResult> {
    const { site } = snapshot.config;
    return this.serial(async () => {
      // Before the reload: what AMI then shows (a missing transport) is explained by what this finds.
      await this.checkTransports(site.id, site.network);
      return this.applyNow(snapshot.revision, text ?? JSON.stringify(snapshot));
    });
  }

  /** What the last check found in the admin's pjsip.conf against fedpbx-transport. */
  get transportProblems(): TransportProblems {
    return this.problems;
  }

  /**
   * Reads the admin's transports (pjsip.conf and its includes) and raises or clears the alarms. Never rejects: an
   * unreadable pjsip.conf leaves the alarms as they were.
   */
  async checkTransports(siteId: string, network: SiteSnapshot['config']['site']['network']): Promise<TransportProblems> {
    const own = federationBind(network);
    if (own === undefined) return this.problems;
    const admin = await readAdminTransports(this.opts.configDir).catch(() => undefined);
    if (admin === undefined) return this.problems;
    this.problems = transportProblems(own, admin);
    const { conflict, sharedPort } = this.problems;
    const alarms = this.opts.alarms;
    const ours = `${FEDERATION_TRANSPORT} (${formatBind(own)})`;
    const fix = `Set site ${siteId}'s sipPort to a UDP port no transport of pjsip.conf uses (the default is ${DEFAULT_SIP_PORT}), then restart Asterisk (transports are not reloaded)`;
    if (conflict !== undefined) {
      alarms?.raise(
        TRANSPORT_CONFLICT_ALARM,
        'critical',
        `${ours} cannot start: transport '${conflict.name}' (${conflict.file}:${conflict.line}, bind = ${conflict.bindText}) already takes UDP ${formatBind(conflict.bind)}, so Asterisk logs "Address already in use" and no inter-site call works. ${fix}.`,
      );
    } else alarms?.clear(TRANSPORT_CONFLICT_ALARM);
    if (sharedPort !== undefined) {
      alarms?.raise(
        TRANSPORT_SHARED_PORT_ALARM,
        'warning',
        `${ours} shares UDP port ${own.port} with transport '${sharedPort.name}' (${sharedPort.file}:${sharedPort.line}, bind = ${sharedPort.bindText}): requests to a peer reached from ${sharedPort.bind.host} carry that address in Via/Contact (res_pjsip pjsip_message_filter.c). ${fix}.`,
      );
    } else alarms?.clear(TRANSPORT_SHARED_PORT_ALARM);
    return this.problems;
  }

  /** Sends the reloads still owed (call it on every AMI connect). Resolves with what was reloaded. */
  flushReloads(): Promise<readonly AsteriskModule[]> {
    return this.serial(() => this.reloadOwed());
  }

  /** Modules whose reload is owed. */
  get pendingReloads(): readonly AsteriskModule[] {
    return [...this.owed];
  }

  /**
   * Checks that pjsip.conf and extensions.conf include our files; logs once per file exactly which line to add.
   * Returns the files that lack it.
   */
  async checkIncludes(): Promise<string[]> {
    const missing: string[] = [];
    for (const f of FILES) {
      const includer = join(this.opts.configDir, f.includer);
      const target = this.includeTarget(f.name);
      let text: string | undefined;
      try {
        text = await readFile(includer, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') {
          // Unreadable (permissions): we cannot tell; say so once, never fail the apply for it.
          if (!this.includeWarned.has(f.includer)) this.opts.log.warn({ file: includer, code }, `cannot read ${includer} to check that it has "#include ${target}"`);
          this.includeWarned.add(f.includer);
          continue;
        }
      }
      if (text !== undefined && includes(text, f.name)) continue;
      missing.push(f.includer);
      if (this.includeWarned.has(f.includer)) continue;
      this.includeWarned.add(f.includer);
      this.opts.log.warn(
        { file: includer, add: `#include ${target}`, exists: text !== undefined },
        `Asterisk does not load ${f.name}: add the line "#include ${target}" at the end of ${includer} (fedpbx never edits that file), then reload`,
      );
    }
    return missing;
  }

  private async applyNow(revision: number, snapshotText: SnapshotText): Promise<ConfigApplyResult> {
    const { extensions, pjsip } = this.opts;
    let outcome: { written: readonly string[]; transportChanged: boolean };
    try {
      outcome = await this.run({
        snapshotText,
        outDir: this.outDir,
        pjsip: { ...pjsip, include: this.includeTarget(PJSIP_FILE_NAME) },
        extensions: { ...extensions, agiHost: this.agiHost, agiPort: this.opts.agiPort, include: this.includeTarget(EXTENSIONS_FILE_NAME) },
        voicemail: { include: this.includeTarget(VOICEMAIL_FILE_NAME) },
      });
    } catch (error) {
      const failure = configFailure(error);
      // Never the value: a RenderError names the object and field only (it may be a secret).
      this.opts.log.error({ revision, ...failure }, 'Asterisk include files not written; Asterisk keeps the files of the last good revision');
      this.opts.onOutcome?.({ revision, ok: false, failure });
      throw error;
    }
    const { written, transportChanged } = outcome;
    this.opts.onOutcome?.({ revision, ok: true, written });
    if (transportChanged) {
      const path = join(this.outDir, PJSIP_FILE_NAME);
      this.opts.log.warn({ file: path }, `[${FEDERATION_TRANSPORT}] changed: PJSIP transports are not reloaded, restart Asterisk to apply it`);
    }
    for (const f of FILES) if (written.includes(f.name)) this.owed.add(f.module);
    if (written.length > 0) this.opts.log.info({ revision, written }, 'Asterisk include files written');
    await this.checkIncludes();
    const reloaded = await this.reloadOwed();
    return { revision, written, reloaded, owed: [...this.owed] };
  }

  private async reloadOwed(): Promise<AsteriskModule[]> {
    if (this.owed.size === 0) return [];
    const { reloader, log } = this.opts;
    if (reloader === undefined) {
      log.warn({ modules: [...this.owed] }, 'no AMI configured: reload these Asterisk modules by hand (asterisk -rx "module reload <module>")');
      this.owed.clear();
      return [];
    }
    const done: AsteriskModule[] = [];
    for (const module of [...this.owed]) {
      try {
        await reloader.action('Reload', { Module: module });
        this.owed.delete(module);
        done.push(module);
      } catch (error) {
        const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
        if (code === 'ACTION_FAILED') {
          // Asterisk refused (module not loaded): retrying will not help; the admin has to act.
          this.owed.delete(module);
          log.error({ module, err: error }, 'Asterisk refused the reload; the new configuration is written but not in force');
        } else {
          log.warn({ module, code }, 'Asterisk reload not sent; it will be sent when AMI is back');
        }
      }
    }
    if (done.length > 0) {
      log.info({ modules: done }, 'Asterisk modules reloaded');
      this.opts.onReloaded?.(done);
    }
    return done;
  }

  /** What the admin's `#include` names: our file relative to the config dir (absolute when outside it). */
  private includeTarget(fileName: string): string {
    const rel = relative(this.opts.configDir, join(this.outDir, fileName));
    return rel.startsWith('..') || isAbsolute(rel) ? join(this.outDir, fileName) : rel;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.chain.then(task);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** The report of a failed apply: a renderer's refusal, a file that could not be written, or anything else. */
export function configFailure(error: unknown): ConfigFailure {
  if (error instanceof RenderError) return { kind: 'render', code: error.code, object: error.object, field: error.field, reason: error.reason.slice(0, 500) };
  if (error instanceof IncludeFileWriteError) return { kind: 'write', code: error.code.slice(0, 40), object: error.file.slice(0, 200), field: 'file', reason: error.detail.slice(0, 500) };
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'ERROR';
  return { kind: 'write', code: code.slice(0, 40), object: 'include files', field: 'render', reason: (error instanceof Error ? error.message : String(error)).slice(0, 500) };
}

/**
 * config.c: `#include` and `#tryinclude` take a file name, optionally quoted, relative to the config dir or absolute;
 * a line commented out with `;` does not count.
 */
function includes(text: string, fileName: string): boolean {
  return text.split(/\r?\n/).some((line) => {
    const m = /^\s*#\s*(?:try)?include\s+"?([^"\s;]+)"?\s*(?:;.*)?$/.exec(line);
    if (m === null) return false;
    const target = m[1]!;
    return target === fileName || target.endsWith(`/${fileName}`);
  });
}
