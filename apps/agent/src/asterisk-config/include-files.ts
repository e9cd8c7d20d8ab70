/**
 * The heavy half of {@link AsteriskConfigWriter.apply}: render fedpbx's Asterisk include files from one snapshot
 * and write those whose text changed. For a head office it is heavy indeed - 100,000 phones make a 45 MB
 * `pjsip_fedpbx.conf` and take ~2 s to render - so the agent runs it in a worker thread (render-worker.ts), and the
 * event loop that answers FastAGI never waits for it; the files are rendered straight to disk, a chunk at a time.
 * Tests and tools may run it in-process.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { SiteConfig } from '@fedpbx/contracts';
import {
  EXTENSIONS_FILE_NAME,
  FEDERATION_TRANSPORT,
  PJSIP_FILE_NAME,
  renderExtensionsTo,
  renderPjsipTo,
  renderVoicemailTo,
  VOICEMAIL_FILE_NAME,
  type ExtensionsRenderOptions,
  type PjsipRenderOptions,
  type TextSink,
  type VoicemailRenderOptions,
} from '@fedpbx/dialplan';
import { configOfStoredText } from '@fedpbx/signing';

/**
 * A snapshot's JSON as one string, or as pieces whose concatenation is it (a stored pair: site part, newline, shared
 * part). A head office's pair joined is a 20 MB string, and joining or first reading it copies it in one piece on the
 * event loop (~15 ms quiet); its pieces are each already flat and are encoded as they are.
 */
export type SnapshotText = string | readonly string[];

/** The text `pieces` make. */
export function joinedText(text: SnapshotText): string {
  return typeof text === 'string' ? text : text.join('');
}

export interface IncludeFilesJob {
  /**
   * The snapshot's JSON, as the applier verified and stored it. It crosses to a worker as UTF-8 bytes in shared
   * memory (render-in-worker.ts); a parsed head-office snapshot (100,000 extension objects) would take the event
   * loop ~150 ms to clone.
   */
  readonly snapshotText: SnapshotText;
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

/** A file's mode (the pjsip file holds SIP secrets): created so, never briefly wider. */
const FILE_MODE = 0o640;

/**
 * Renders every file first (all files of one snapshot, or none: a RenderError writes nothing), then puts in place
 * each one whose text changed, atomically (temp file + fsync + rename, then the directory synced), mode 0640. A
 * failure to read or write a file is an {@link IncludeFileWriteError} naming it.
 *
 * Each file is rendered straight into its temp file beside the target, a chunk at a time (TextSink), hashed as it
 * goes: a head office's 45 MB pjsip file as one string, and the file before read back whole to compare, were
 * ~300 MB of the render worker's heap. The file before is compared by its hash, read a MB at a time. A RenderError
 * removes the temp files written so far. The IO is synchronous: this runs in a worker thread of its own.
 */
export async function writeIncludeFiles(job: IncludeFilesJob): Promise<IncludeFilesResult> {
  const { snapshotText, ...options } = job;
  return writeIncludeFilesOf(configOf(snapshotText), options);
}

/** An {@link IncludeFilesJob} without its text: where the files go and how they are rendered. */
export type IncludeFilesOptions = Omit<IncludeFilesJob, 'snapshotText'>;

/**
 * {@link writeIncludeFiles} from the config the snapshot's text gives (configOfStoredText). The render worker reads
 * the text and lets it go before rendering: a head office's is 20 MB, held through seconds of rendering beside
 * what it parsed to. `beforeEachFile` runs before each file is rendered (the worker collects its garbage there).
 */
export async function writeIncludeFilesOf(config: SiteConfig, job: IncludeFilesOptions, beforeEachFile?: () => void): Promise<IncludeFilesResult> {
  const files: readonly { name: string; render: (sink: TextSink) => void }[] = [
    { name: PJSIP_FILE_NAME, render: (sink) => renderPjsipTo(config, sink, job.pjsip) },
    { name: EXTENSIONS_FILE_NAME, render: (sink) => renderExtensionsTo(config, sink, job.extensions) },
    { name: VOICEMAIL_FILE_NAME, render: (sink) => renderVoicemailTo(config, sink, job.voicemail) },
  ];
  const createdDir = await mkdir(job.outDir, { recursive: true, mode: 0o750 }).catch((error: NodeJS.ErrnoException) => {
    throw writeError(join(job.outDir, PJSIP_FILE_NAME), error);
  });
  const staged: StagedFile[] = [];
  try {
    for (const { name, render } of files) {
      beforeEachFile?.();
      staged.push(stageFile(join(job.outDir, name), render, name === PJSIP_FILE_NAME ? FEDERATION_TRANSPORT : undefined));
    }
    return putInPlace(job.outDir, staged);
  } catch (error) {
    for (const file of staged) rmSync(file.tmp, { force: true });
    // Nothing was written into a directory made for this job: none is left behind.
    if (createdDir !== undefined && staged.every((f) => !f.placed)) await removeEmptyDirs(job.outDir, createdDir);
    throw error;
  }
}

/** `dir` and its parents up to `top` (the first one mkdir made), each only if empty. */
async function removeEmptyDirs(dir: string, top: string): Promise<void> {
  for (let d = resolve(dir); d.length >= resolve(top).length; d = dirname(d)) {
    if (!(await rmdir(d).then(() => true, () => false))) return;
  }
}

/** A file rendered into its temp file, synced, not yet in place. */
interface StagedFile {
  readonly path: string;
  readonly tmp: string;
  readonly hash: string;
  readonly bytes: number;
  /** `[fedpbx-transport]`'s options in the new text (the pjsip file only). */
  readonly transport: string | undefined;
  placed: boolean;
}

/** Bytes of the buffer a file's chunks are encoded into: a renderer's chunk (LineBuffer: 32K characters) and a line or so more. */
const ENCODE_BYTES = 3 * (1 << 15) + (1 << 14);

/** Renders into a temp file beside `path` (created with its final mode, `wx`: never an existing file) and syncs it. */
function stageFile(path: string, render: (sink: TextSink) => void, section: string | undefined): StagedFile {
  const tmp = join(path, '..', `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const hash = createHash('sha256');
  const options = section === undefined ? undefined : new SectionOptionsScanner(section);
  let bytes = 0;
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', FILE_MODE);
  } catch (error) {
    throw writeError(path, error as NodeJS.ErrnoException);
  }
  const file: StagedFile = { path, tmp, hash: '', bytes: 0, transport: undefined, placed: false };
  // One buffer the chunks are encoded into in turn (3 bytes a UTF-16 unit at most), not a new one per chunk: a head
  // office's 45 MB pjsip file was ~1,400 buffers of 32 KB malloc'd in the worker's arena, freed only as its scavenges
  // found them.
  let encoded = Buffer.allocUnsafe(ENCODE_BYTES);
  try {
    render((chunk) => {
      if (chunk.length * 3 > encoded.length) encoded = Buffer.allocUnsafe(chunk.length * 3);
      const data = encoded.subarray(0, encoded.write(chunk, 0, 'utf8'));
      hash.update(data);
      options?.feed(chunk);
      try {
        for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
      } catch (error) {
        throw writeError(path, error as NodeJS.ErrnoException);
      }
      bytes += data.length;
    });
    try {
      fsyncSync(fd);
    } catch (error) {
      throw writeError(path, error as NodeJS.ErrnoException);
    }
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  } finally {
    closeSync(fd);
  }
  return Object.assign(file, { hash: hash.digest('hex'), bytes, transport: options?.end() });
}

/**
 * Renames over its target each staged file whose bytes differ from the file there, removes the others' temp
 * files, and syncs the directory once when anything was renamed.
 */
function putInPlace(dir: string, staged: StagedFile[]): IncludeFilesResult {
  const written: string[] = [];
  let transportChanged = false;
  for (const file of staged) {
    const current = readCurrent(file.path, file.transport !== undefined ? FEDERATION_TRANSPORT : undefined);
    if (current !== undefined && current.bytes === file.bytes && current.hash === file.hash) {
      rmSync(file.tmp, { force: true });
      file.placed = true; // nothing to do: the same bytes are in place
      continue;
    }
    if (file.transport !== undefined && current !== undefined && current.transport !== file.transport) transportChanged = true;
    try {
      chmodSync(file.tmp, FILE_MODE); // in case a umask or ACL widened it
      renameSync(file.tmp, file.path);
    } catch (error) {
      throw writeError(file.path, error as NodeJS.ErrnoException);
    }
    file.placed = true;
    written.push(basename(file.path));
  }
  if (written.length > 0) {
    try {
      const dh = openSync(dir, 'r');
      try {
        fsyncSync(dh);
      } finally {
        closeSync(dh);
      }
    } catch (error) {
      throw writeError(join(dir, written[0] as string), error as NodeJS.ErrnoException);
    }
  }
  return { written, transportChanged };
}

/** Bytes read from the file before per step of its hash. */
const READ_BYTES = 1 << 20;

/**
 * The file in place now: its size, its hash, and (with `section`) that section's options - read a MB at a time,
 * never held whole. Undefined when there is none.
 */
function readCurrent(path: string, section: string | undefined): { bytes: number; hash: string; transport: string | undefined } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw writeError(path, error as NodeJS.ErrnoException);
  }
  try {
    const hash = createHash('sha256');
    const options = section === undefined ? undefined : new SectionOptionsScanner(section);
    const decoder = new StringDecoder('utf8');
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    let bytes = 0;
    for (let n = readSync(fd, buffer, 0, READ_BYTES, null); n > 0; n = readSync(fd, buffer, 0, READ_BYTES, null)) {
      const data = buffer.subarray(0, n);
      hash.update(data);
      options?.feed(decoder.write(data));
      bytes += n;
    }
    options?.feed(decoder.end());
    return { bytes, hash: hash.digest('hex'), transport: options?.end() };
  } catch (error) {
    throw error instanceof IncludeFileWriteError ? error : writeError(path, error as NodeJS.ErrnoException);
  } finally {
    closeSync(fd);
  }
}

function writeError(path: string, error: NodeJS.ErrnoException): IncludeFileWriteError {
  return new IncludeFileWriteError(path, error.code ?? 'EIO', error.message);
}

/**
 * The config of a snapshot text the applier verified (every part validated against the schema); not validated
 * again: the renderers are the last gate for what the schema lets through. A text may leave out a part that has a
 * default (verification fills it in); the only such part, `remoteTrunks`, is not rendered.
 */
function configOf(snapshotText: SnapshotText): SiteConfig {
  // A format-2 snapshot's text is its stored pair (site part and shared part), assembled as the applier did.
  return configOfStoredText(joinedText(snapshotText));
}

/**
 * The options of every `[name]` section with that name, header to the next section's header, without comment and
 * blank lines (for change detection only: the renderer puts the comment that introduces the NEXT object - e.g.
 * `; Link l-mp to site piter (ip)` - just before its header, so a link's mode change used to count as a transport
 * change).
 */
export function sectionOptions(text: string, name: string): string {
  const scanner = new SectionOptionsScanner(name);
  scanner.feed(text);
  return scanner.end();
}

/**
 * {@link sectionOptions} over a text that comes in chunks (split anywhere): a head office's pjsip file has a
 * million lines, so the header is found with indexOf and only a section's own lines are split.
 */
export class SectionOptionsScanner {
  private readonly header: string;
  private readonly out: string[] = [];
  /** The chunks' text after their last newline (a line not complete yet). */
  private carry = '';
  private inside = false;

  constructor(name: string) {
    this.header = `[${name}]`;
  }

  feed(chunk: string): void {
    const text = this.carry + chunk;
    const end = text.lastIndexOf('\n') + 1;
    this.carry = text.slice(end);
    this.lines(text, end);
  }

  /** The options found (the last line needs no newline). */
  end(): string {
    const rest = this.carry;
    this.carry = '';
    this.lines(`${rest}\n`, rest.length + 1);
    return this.out.join('\n');
  }

  /** The complete lines of text[0, end): `text` starts at a line's start. */
  private lines(text: string, end: number): void {
    let at = 0;
    while (at < end) {
      if (!this.inside) {
        let header = text.indexOf(this.header, at);
        while (header >= 0 && header > 0 && text.charCodeAt(header - 1) !== 0x0a /* \n */) header = text.indexOf(this.header, header + 1);
        if (header < 0 || header >= end) return;
        this.inside = true;
        at = this.option(text, header);
      }
      // Inside the section: its lines until one starts another section.
      while (at < end && this.inside) {
        if (text.charCodeAt(at) === 0x5b /* [ */) this.inside = false;
        else at = this.option(text, at);
      }
    }
  }

  /** The line at `at` as an option, if it is one; where the next line starts. */
  private option(text: string, at: number): number {
    const next = text.indexOf('\n', at) + 1;
    // config.c: `;` starts a comment (`\;` is a literal one); leading/trailing blanks do not matter.
    const option = text.slice(at, next - 1).replace(/(?<!\\);.*$/, '').trim();
    if (option !== '') this.out.push(option);
    return next;
  }
}
