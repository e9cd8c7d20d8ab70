/**
 * The heavy half of {@link AsteriskConfigWriter.apply}: render fedpbx's Asterisk include files from one snapshot
 * and write those whose text changed. For a head office it is heavy indeed - 100,000 phones make a 45 MB
 * `pjsip_fedpbx.conf` and take ~2 s to render - so the agent runs it in a worker thread (render-worker.ts), and the
 * event loop that answers FastAGI never waits for it. Tests and tools may run it in-process.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SiteConfig } from '@fedpbx/contracts';
import {
  EXTENSIONS_FILE_NAME,
  FEDERATION_TRANSPORT,
  PJSIP_FILE_NAME,
  renderExtensions,
  renderPjsip,
  renderVoicemail,
  VOICEMAIL_FILE_NAME,
  type ExtensionsRenderOptions,
  type PjsipRenderOptions,
  type VoicemailRenderOptions,
} from '@fedpbx/dialplan';
import { configOfStoredText } from '@fedpbx/signing';
import { writeFileAtomic } from '../state/atomic-file.js';

export interface IncludeFilesJob {
  /**
   * The snapshot's JSON, as the applier verified and stored it. It crosses to a worker as UTF-8 bytes in shared
   * memory (render-in-worker.ts); a parsed head-office snapshot (100,000 extension objects) would take the event
   * loop ~150 ms to clone.
   */
  readonly snapshotText: string;
  /** Where the files are written (FEDPBX_ASTERISK_INCLUDE_DIR, or the config dir). */
  readonly outDir: string;
  readonly pjsip?: PjsipRenderOptions;
  readonly extensions: ExtensionsRenderOptions;
  readonly voicemail?: VoicemailRenderOptions;
}

export interface IncludeFilesResult {
  /** The files whose text changed and were written. */
  readonly written: readonly string[];
  /** `[fedpbx-transport]` differs from the pjsip file written before (transports are not reloaded). */
  readonly transportChanged: boolean;
}

/** Runs an {@link IncludeFilesJob}: {@link writeIncludeFiles} here, or `workerRunner()` in a worker thread. */
export type IncludeFilesRunner = (job: IncludeFilesJob) => Promise<IncludeFilesResult>;

/** A file could not be written (or read to compare): which one, and the system error. */
export class IncludeFileWriteError extends Error {
  override readonly name = 'IncludeFileWriteError';
  constructor(
    readonly file: string,
    readonly code: string,
    /** The system error's message. */
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/**
 * Renders every file before touching the disk (all files of one snapshot, or none: a RenderError writes nothing),
 * then writes each one whose text changed, atomically (temp file + fsync + rename), mode 0640. A failure to read or
 * write a file is an {@link IncludeFileWriteError} naming it.
 */
export async function writeIncludeFiles(job: IncludeFilesJob): Promise<IncludeFilesResult> {
  const config = configOf(job.snapshotText);
  const rendered = [
    { name: PJSIP_FILE_NAME, text: renderPjsip(config, job.pjsip) },
    { name: EXTENSIONS_FILE_NAME, text: renderExtensions(config, job.extensions) },
    { name: VOICEMAIL_FILE_NAME, text: renderVoicemail(config, job.voicemail) },
  ];
  const written: string[] = [];
  let transportChanged = false;
  for (const { name, text } of rendered) {
    const path = join(job.outDir, name);
    const current = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw writeError(path, error);
    });
    if (current === text) continue;
    if (name === PJSIP_FILE_NAME && current !== undefined && sectionOptions(current, FEDERATION_TRANSPORT) !== sectionOptions(text, FEDERATION_TRANSPORT)) {
      transportChanged = true;
    }
    try {
      if (written.length === 0) await mkdir(job.outDir, { recursive: true, mode: 0o750 });
      await writeFileAtomic(path, text);
    } catch (error) {
      throw writeError(path, error as NodeJS.ErrnoException);
    }
    written.push(name);
  }
  return { written, transportChanged };
}

function writeError(path: string, error: NodeJS.ErrnoException): IncludeFileWriteError {
  return new IncludeFileWriteError(path, error.code ?? 'EIO', error.message);
}

/**
 * The config of a snapshot text the applier verified (every part validated against the schema); not validated
 * again: the renderers are the last gate for what the schema lets through. A text may leave out a part that has a
 * default (verification fills it in); the only such part, `remoteTrunks`, is not rendered.
 */
function configOf(snapshotText: string): SiteConfig {
  // A format-2 snapshot's text is its stored pair (site part and shared part), assembled as the applier did.
  return configOfStoredText(snapshotText);
}

/**
 * The options of every `[name]` section with that name, header to the next section's header, without comment and
 * blank lines (for change detection only: the renderer puts the comment that introduces the NEXT object - e.g.
 * `; Link l-mp to site piter (ip)` - just before its header, so a link's mode change used to count as a transport
 * change). Found with indexOf: a head office's pjsip file has a million lines, and splitting it into them held
 * ~100 MB while the worker compared old and new; a section's own few lines are split.
 */
export function sectionOptions(text: string, name: string): string {
  const out: string[] = [];
  const header = `[${name}]`;
  for (let at = text.indexOf(header); at >= 0; at = text.indexOf(header, at + 1)) {
    if (at > 0 && text.charCodeAt(at - 1) !== 0x0a /* \n */) continue;
    const next = text.indexOf('\n[', at + header.length);
    const body = text.slice(at, next < 0 ? text.length : next);
    // config.c: `;` starts a comment (`\;` is a literal one); leading/trailing blanks do not matter.
    for (const line of body.split('\n')) {
      const option = line.replace(/(?<!\\);.*$/, '').trim();
      if (option !== '') out.push(option);
    }
  }
  return out.join('\n');
}
