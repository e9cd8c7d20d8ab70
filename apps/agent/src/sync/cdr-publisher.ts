import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { z } from 'zod';
import type { NatsConnection } from '@nats-io/transport-node';
import { CDR_BATCH_MAX_BYTES, CDR_BATCH_MAX_CDRS, Subjects, type CdrEvent } from '@fedpbx/contracts';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { cdrDir, listCdrFiles, type StoredLine } from '../state/cdr-outbox.js';
import { Backoff, sleep } from './backoff.js';
import { envelopeText, eventId } from './event-envelope.js';
import type { NatsLink } from './nats-link.js';
import { PubAcks, type JsMessage } from './pub-acks.js';

export interface CdrPublisherOptions {
  readonly stateDir: string;
  readonly siteId: string;
  readonly link: NatsLink;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** PubAcks awaited together before the cursor moves (bounds in-flight messages). Default 256. */
  readonly batchSize?: number;
  /**
   * After new CDRs wake it from idle, how long it waits for more before reading a batch (ms, default
   * {@link DEFAULT_PUBLISH_LINGER_MS}: none). The batch window is the outbox's: it writes the CDRs of calls ending
   * one at a time together (cdr-outbox.ts `lingerMs`) and wakes the publisher once per write, so each such write
   * is one read of the outbox, one round of PubAcks, and at most one cursor write a second. A full batch (a
   * backlog) is followed at once by the next.
   */
  readonly lingerMs?: number;
  /**
   * The cursor file is written at most this often (ms, default {@link DEFAULT_CURSOR_INTERVAL_MS}, as the CDR file
   * source's): after a batch once the interval since the last write is over, when caught up at the end of it, and at
   * stop. Each write is an atomic replace with two fsyncs (~1.4 ms of CPU here, most of it the kernel's); a cursor
   * behind the PubAcks only re-publishes after a crash what JetStream's duplicate window and the controller's unique
   * key drop anyway (at 200 calls/s: up to 1,000 CDRs sent again once).
   */
  readonly cursorIntervalMs?: number;
  /**
   * Send a batch's CDRs as ONE message on `fedpbx.cdrs.<site>` (default true). Where that is refused - no stream
   * takes it (a 503: the controllers predate batches, or were downgraded and the stream removed), the credentials
   * do not allow it (minted by such a controller), or no PubAck within 5 s - the batch goes one CDR per message on
   * `fedpbx.events.<site>.cdr` as before, and batches are tried again after `batchRetryMs` or a reconnect.
   */
  readonly batchMessages?: boolean;
  /** How long after a refused batch the publisher sends one CDR per message before trying a batch again (ms). */
  readonly batchRetryMs?: number;
}

export const DEFAULT_PUBLISH_LINGER_MS = 0;
export const DEFAULT_CURSOR_INTERVAL_MS = 5000;
export const DEFAULT_BATCH_RETRY_MS = 10 * 60_000;

const CursorFile = z.strictObject({ v: z.literal(1), files: z.record(z.string(), z.number().int().min(0)) });
/** Bytes read from a day file at a time; a CDR line is well under 2 KB. */
const CHUNK = 1 << 20;
/**
 * The publisher's reusable read buffer: a batch at 50 calls/s is ~10 KB, a full batch of 256 CDRs ~150 KB (a few
 * reads). A line that does not fit is read again whole into a CHUNK of its own.
 */
const READ_SIZE = 64 * 1024;
const NL = 0x0a;
/** How long a batch's PubAcks may take before it is sent again (nats.js's JetStream default). */
const PUBACK_TIMEOUT_MS = 5000;
/** Lines written and not yet read kept for {@link CdrPublisher.written} (~2.5 MB of CDR text at most). */
const MAX_WRITTEN = 4096;

interface Line {
  readonly file: string;
  /** Byte offset just past the line's newline: where the cursor goes once it is acknowledged. */
  readonly end: number;
  /** Undefined for a line that is not a CDR (skipped, counted, logged). */
  readonly env: Envelope | undefined;
}

/** An outbox line's envelope: its id (the per-CDR msg-id) and JSON text. */
interface Envelope {
  readonly id: string;
  readonly text: string;
}

/**
 * Publishes the CDR outbox (`<state>/cdr/<day>.jsonl`, appended in order) to JetStream exactly once, in order:
 * a batch of lines is published - as one message on `fedpbx.cdrs.<site>` (see {@link CdrPublisherOptions.batchMessages}),
 * or one per CDR with `Nats-Msg-Id` = `cdr:<site>:<cdrId>` - every PubAck is awaited, and only then
 * does the durable cursor (`<state>/sync/cdr-cursor.json`: byte offset per day file, written atomically, at most
 * once per `cursorIntervalMs`, and at stop) move past them. A crash before the
 * cursor write re-publishes what was acknowledged since the last one, which JetStream's duplicate window and the
 * controller's unique key absorb. While NATS is down nothing moves; after hours offline the backlog
 * drains in order, one bounded batch at a time.
 */
export class CdrPublisher {
  private readonly cursorPath: string;
  private cursor = new Map<string, number>();
  private backlogCount = 0;
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly cursorIntervalMs: number;
  private syncDirMade = false;
  /** The cursor moved past acknowledged CDRs and the file does not say so yet. */
  private cursorDirty = false;
  private cursorWrittenAt = 0;
  /** The day file read last, kept open between batches (opening it for each one was a third of the CPU per CDR). */
  private reading: { readonly path: string; readonly handle: FileHandle } | undefined;
  /**
   * The outbox's day files (sorted, oldest first), listed once and again only when the outbox writes a day not in it
   * or after a quiet spell; and those read to their end with nothing stored in them since. Without these every
   * batch listed the directory and opened and stat'ed every day file the site ever had.
   */
  private files: string[] | undefined;
  private readonly finished = new Set<string>();
  /** Counts the outbox's writes: a file is only marked finished when none came while it was being read. */
  private storedWrites = 0;
  /** Ends a linger early (stop). A plain timer: the abort signal's removeEventListener took ~2 ms a call in a CPU profile (bench:cdr-trickle). */
  private endLinger: (() => void) | undefined;
  /** Each batch's PubAcks, on one subscription (not a nats.js request per CDR). */
  private readonly acks: PubAcks;
  private readonly subject: string;
  private readonly batchSubject: string;
  private readonly batchRetryMs: number;
  /**
   * The lines this process's outbox wrote and the publisher has not read yet, by their text: a line read back that
   * is one of them is not parsed again (JSON.parse of each CDR was the publisher's largest cost per CDR). Bounded:
   * past {@link MAX_WRITTEN} (a backlog while NATS is down) it is emptied, and those lines are parsed as any.
   */
  private readonly written = new Map<string, StoredLine>();
  /** What each read of the outbox goes into (one buffer, not one allocation per batch). */
  private readonly readBuffer = Buffer.allocUnsafe(READ_SIZE);
  /** Until when CDRs go one per message (a batch was refused); 0: batches. Infinity: batches are off. */
  private singlesUntil: number;

  constructor(private readonly opts: CdrPublisherOptions) {
    this.cursorPath = join(opts.stateDir, 'sync', 'cdr-cursor.json');
    this.acks = new PubAcks(Subjects.inboxPrefix(opts.siteId));
    this.subject = Subjects.eventSubject(opts.siteId, 'cdr');
    this.batchSubject = Subjects.cdrBatch(opts.siteId);
    this.batchRetryMs = opts.batchRetryMs ?? DEFAULT_BATCH_RETRY_MS;
    this.singlesUntil = opts.batchMessages === false ? Infinity : 0;
    this.batchSize = opts.batchSize ?? 256;
    this.lingerMs = opts.lingerMs ?? DEFAULT_PUBLISH_LINGER_MS;
    this.cursorIntervalMs = opts.cursorIntervalMs ?? DEFAULT_CURSOR_INTERVAL_MS;
    opts.metrics.cdrBacklog.set(0);
  }

  /** CDRs stored at the site and not yet acknowledged by JetStream. */
  get backlog(): number {
    return this.backlogCount;
  }

  /** Reads the cursor and counts the backlog (lines after it). */
  async init(): Promise<void> {
    this.cursor = await this.readCursor();
    const files = await listCdrFiles(this.opts.stateDir);
    // A day file gone (pruned: cdr-outbox-pruner.ts): a late CDR of that day makes a new one, read from its start.
    for (const file of this.cursor.keys()) {
      if (files.includes(file)) continue;
      this.cursor.delete(file);
      this.cursorDirty = true;
    }
    let count = 0;
    for (const file of files) {
      count += await countLines(join(cdrDir(this.opts.stateDir), file), this.cursor.get(file) ?? 0);
    }
    this.setBacklog(count);
  }

  start(): void {
    this.opts.link.onConnected(() => {
      // New credentials (renewed by a newer controller) or another server: worth a batch again.
      if (this.singlesUntil !== Infinity) this.singlesUntil = 0;
      this.notify();
    });
    // A permission violation comes on the connection, not as a reply: fail the batch now, not after the timeout.
    this.opts.link.onPublishDenied((subject) => {
      if (subject === this.batchSubject) this.acks.fail(new Error(`publishing to ${subject} is not permitted (credentials from before CDR batches)`));
    });
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    this.endLinger?.();
    await this.running;
    this.acks.close();
    await this.flushCursor();
    const reading = this.reading;
    this.reading = undefined;
    await reading?.handle.close().catch(() => undefined);
  }

  /** The outbox appended `count` CDRs to the files of these days (`YYYY-MM-DD`): these `lines`, if given. */
  stored(count = 1, days: Iterable<string> = [], lines: readonly StoredLine[] = []): void {
    this.storedWrites += 1;
    if (this.written.size + lines.length > MAX_WRITTEN) this.written.clear();
    else for (const l of lines) this.written.set(l.text, l);
    for (const day of days) {
      const file = `${day}.jsonl`;
      this.finished.delete(file);
      if (this.files !== undefined && !this.files.includes(file)) this.files = undefined; // a new day: list again
    }
    this.setBacklog(this.backlogCount + count);
    this.notify();
  }

  /** The pruner removes this day file (every line acknowledged): its cursor entry goes, and the files are listed again. */
  forgetFile(file: string): void {
    this.cursor.delete(file);
    this.cursorDirty = true;
    this.forgetFiles();
    if (this.reading?.path === join(cdrDir(this.opts.stateDir), file)) {
      void this.reading.handle.close().catch(() => undefined);
      this.reading = undefined;
    }
  }

  private notify(): void {
    this.wake?.();
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff(500, 30_000);
    while (!this.abort.signal.aborted) {
      const nc = this.opts.link.connected ? this.opts.link.connection : undefined;
      const batch = nc === undefined ? [] : await this.readBatch().catch((error: unknown) => {
        this.opts.log.error({ err: error }, 'CDR outbox unreadable');
        void this.reading?.handle.close().catch(() => undefined);
        this.reading = undefined; // opened afresh next time
        this.forgetFiles();
        return [];
      });
      if (nc !== undefined && batch.length === 0) this.setBacklog(0); // caught up: the count is exact again
      if (nc === undefined || batch.length === 0) {
        // Caught up (or cut off): the file says where once the interval since its last write is over - not after
        // every outbox write, which the publisher follows one by one.
        const cursorDue = this.cursorDirty ? this.cursorWrittenAt + this.cursorIntervalMs - Date.now() : Infinity;
        if (cursorDue <= 0) await this.flushCursor();
        // New CDRs and (re)connects wake this up; the timeout covers anything missed (also lines appended by
        // something else than this process's outbox: the files are looked at afresh) and the cursor's write.
        const woken = await this.idle(Math.min(nc === undefined ? 1000 : 5000, cursorDue > 0 ? cursorDue : Infinity));
        if (!woken) this.forgetFiles();
        if (woken && nc !== undefined && this.lingerMs > 0) await this.linger();
        continue;
      }
      try {
        await this.publish(nc, batch.flatMap((l) => (l.env !== undefined ? [l.env] : [])));
        await this.advance(batch);
        backoff.reset();
        // Not full: what came meanwhile waits for the linger (a backlog's full batches follow one another at once).
        if (batch.length < this.batchSize && this.lingerMs > 0) await this.linger();
        else await yieldToLoop();
      } catch (error) {
        if (backoff.failures === 0) {
          this.opts.log.warn({ err: error instanceof Error ? error.message : String(error), backlog: this.backlogCount }, 'CDRs not acknowledged; retrying the batch');
        }
        await sleep(backoff.next(), this.abort.signal);
      }
    }
  }

  /**
   * Resolves once JetStream holds every envelope: as batch messages, or - where batches are refused - one per
   * message. Either way the envelopes (and so the controller's unique key on each CDR) are the same, so a CDR that
   * reaches the controller both ways (a batch stored but its PubAck lost, then sent alone) is stored once.
   */
  private async publish(nc: NatsConnection, envs: readonly Envelope[]): Promise<void> {
    if (envs.length === 0) return;
    if (Date.now() >= this.singlesUntil) {
      try {
        await this.acks.publishAll(nc, this.batchMessages(envs), PUBACK_TIMEOUT_MS);
        return;
      } catch (error) {
        this.singlesUntil = Date.now() + this.batchRetryMs;
        this.opts.log.info(
          { reason: error instanceof Error ? error.message : String(error), retryInSec: Math.round(this.batchRetryMs / 1000) },
          'CDR batch not taken (controllers or credentials from before CDR batches?); sending one CDR per message',
        );
      }
    }
    await this.acks.publishAll(nc, envs.map((e) => ({ subject: this.subject, text: e.text, msgId: e.id })), PUBACK_TIMEOUT_MS);
  }

  /** The envelopes as batch messages of at most CDR_BATCH_MAX_CDRS and CDR_BATCH_MAX_BYTES each (in order). */
  private batchMessages(envs: readonly Envelope[]): JsMessage[] {
    const out: JsMessage[] = [];
    let start = 0;
    let bytes = 0;
    envs.forEach((e, i) => {
      const size = Buffer.byteLength(e.text) + 1;
      if (i > start && (bytes + size > CDR_BATCH_MAX_BYTES || i - start >= CDR_BATCH_MAX_CDRS)) {
        out.push(this.batchMessage(envs.slice(start, i)));
        start = i;
        bytes = 0;
      }
      bytes += size;
    });
    out.push(this.batchMessage(envs.slice(start)));
    return out;
  }

  /**
   * One batch: the envelopes' texts, one per line. Its msg-id names its first and last CDR and their count, so the
   * same batch sent again (a lost PubAck) is a JetStream duplicate. Batch boundaries are NOT stable across a crash
   * or a retry (a batch is whatever follows the cursor when it is read), so exactly-once rests on the controller's
   * unique key per CDR, as for a re-publish of single CDRs; the msg-id only saves it the work for exact repeats.
   */
  private batchMessage(envs: readonly Envelope[]): JsMessage {
    const first = envs[0] as Envelope;
    const last = envs[envs.length - 1] as Envelope;
    const hash = createHash('sha256').update(`${first.id}\n${last.id}`).digest('base64url');
    return { subject: this.batchSubject, text: envs.map((e) => e.text).join('\n'), msgId: `cdrs:${this.opts.siteId}:${envs.length}:${hash}` };
  }

  private linger(): Promise<void> {
    if (this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.endLinger = undefined;
        resolve();
      }, this.lingerMs);
      this.endLinger = () => {
        clearTimeout(timer);
        this.endLinger = undefined;
        resolve();
      };
    });
  }

  /** Waits for a wake-up (resolves true) or `ms` (false). */
  private idle(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woken: boolean): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(woken);
      };
      const timer = setTimeout(() => done(false), ms);
      this.wake = () => done(true);
    });
  }

  /** Up to `batchSize` complete lines after the cursor, oldest day file first. */
  private async readBatch(): Promise<Line[]> {
    const out: Line[] = [];
    const dir = cdrDir(this.opts.stateDir);
    const writes = this.storedWrites;
    const files = (this.files ??= await listCdrFiles(this.opts.stateDir));
    for (const file of files) {
      if (this.finished.has(file)) continue;
      const path = join(dir, file);
      let offset = this.cursor.get(file) ?? 0;
      const handle = await this.handleOf(path);
      // No fstat per batch: the file is read until a read comes back short, which for a regular file means its end.
      let atEnd = false;
      let whole = false; // read again at the same offset with room for a line of up to CHUNK
      while (out.length < this.batchSize) {
        const buf = whole ? Buffer.allocUnsafe(CHUNK) : this.readBuffer;
        const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
        const chunk = buf.subarray(0, bytesRead);
        const short = bytesRead < buf.length;
        let start = 0;
        let nl: number;
        while (out.length < this.batchSize && (nl = chunk.indexOf(NL, start)) >= 0) {
          // The lines become strings here: the reusable buffer is free again for the next read.
          out.push({ file, end: offset + nl + 1, env: this.parse(chunk.toString('utf8', start, nl), file, offset + start) });
          start = nl + 1;
        }
        if (start === 0 && !short) {
          // No newline in a full read: a line longer than the reusable buffer (read it whole), or longer than 1 MiB.
          if (!whole) {
            whole = true;
            continue;
          }
          this.opts.log.error({ file, offset }, 'CDR outbox line longer than 1 MiB; skipped');
          out.push({ file, end: offset + chunk.length, env: undefined });
          start = chunk.length;
        }
        whole = false;
        offset += start;
        if (short) {
          // The file's end: every byte read is a complete line (none being written, no torn line left).
          atEnd = start === bytesRead;
          break;
        }
      }
      if (out.length >= this.batchSize) break;
      // Read to its end, and the outbox wrote nothing meanwhile: not opened again until it stores into that day.
      if (atEnd && this.storedWrites === writes && file !== files.at(-1)) this.finished.add(file);
    }
    return out;
  }

  private forgetFiles(): void {
    this.files = undefined;
    this.finished.clear();
  }

  private async handleOf(path: string): Promise<FileHandle> {
    if (this.reading?.path === path) return this.reading.handle;
    const previous = this.reading;
    this.reading = undefined;
    await previous?.handle.close().catch(() => undefined);
    const handle = await open(path, 'r');
    this.reading = { path, handle };
    return handle;
  }

  /**
   * The envelope of an outbox line, its text built around the line as stored. The CDR was validated when it was
   * made (cdr-record.ts) and the controller validates every envelope it takes, so a line is only checked here for
   * what the envelope needs (JSON, a CDR with an id and an end): a schema pass and a second encoding per CDR were
   * most of the publisher's CPU (bench:cdr-trickle profile).
   */
  private parse(text: string, file: string, offset: number): Line['env'] {
    const written = this.written.get(text);
    if (written !== undefined) {
      // Exactly the text the outbox wrote for this CDR (made and validated in cdr-record.ts): no parse.
      this.written.delete(text);
      const end = new Date(written.end);
      if (written.cdrId !== '' && !Number.isNaN(end.getTime())) {
        const id = eventId('cdr', this.opts.siteId, written.cdrId);
        return { id, text: envelopeText(this.opts.siteId, id, text, end) };
      }
    }
    let reason: string;
    try {
      const cdr = JSON.parse(text) as Partial<Record<keyof CdrEvent, unknown>> | null;
      const end = typeof cdr?.end === 'string' ? new Date(cdr.end) : undefined;
      if (cdr?.type === 'cdr' && typeof cdr.cdrId === 'string' && cdr.cdrId !== '' && end !== undefined && !Number.isNaN(end.getTime())) {
        const id = eventId('cdr', this.opts.siteId, cdr.cdrId);
        return { id, text: envelopeText(this.opts.siteId, id, text, end) };
      }
      reason = 'not a CDR with a cdrId and an end';
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    // A torn line after a power loss, or a hand edit: it cannot be sent; it stays in the file for a human.
    this.opts.metrics.rejectedInputs.inc({ reason: 'cdr-outbox-line' });
    this.opts.log.error({ file, offset, err: reason }, 'CDR outbox line is not a valid CDR; skipped');
    return undefined;
  }

  /** The batch is acknowledged: the cursor moves past it, and its file follows at most every `cursorIntervalMs`. */
  private async advance(batch: readonly Line[]): Promise<void> {
    for (const l of batch) this.cursor.set(l.file, l.end);
    this.cursorDirty = true;
    this.setBacklog(Math.max(0, this.backlogCount - batch.length));
    if (Date.now() - this.cursorWrittenAt >= this.cursorIntervalMs) await this.flushCursor();
  }

  /** Writes the cursor if it moved since the last write; a failure is logged and tried again later. */
  private async flushCursor(): Promise<void> {
    if (!this.cursorDirty) return;
    await this.writeCursor().catch((error: unknown) => this.opts.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'CDR cursor not written; trying again later'));
  }

  private async writeCursor(): Promise<void> {
    if (!this.syncDirMade) {
      await mkdir(join(this.opts.stateDir, 'sync'), { recursive: true, mode: 0o750 });
      this.syncDirMade = true;
    }
    this.cursorDirty = false;
    try {
      await writeFileAtomic(this.cursorPath, JSON.stringify({ v: 1, files: Object.fromEntries(this.cursor) }));
    } catch (error) {
      this.cursorDirty = true;
      throw error;
    }
    this.cursorWrittenAt = Date.now();
  }

  private async readCursor(): Promise<Map<string, number>> {
    let text: string;
    try {
      text = await readFile(this.cursorPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
    let parsed;
    try {
      parsed = CursorFile.safeParse(JSON.parse(text));
    } catch {
      parsed = { success: false } as const;
    }
    // Refusing to start is safer than re-sending or skipping days of CDRs on a guess.
    if (!parsed.success) throw new Error(`${this.cursorPath} is not a CDR cursor file: fix or remove it (removing re-publishes every CDR; duplicates are dropped)`);
    return new Map(Object.entries(parsed.data.files));
  }

  private setBacklog(n: number): void {
    this.backlogCount = n;
    this.opts.metrics.cdrBacklog.set(n);
  }
}

async function readChunk(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    return await readChunkOf(fh, offset, length);
  } finally {
    await fh.close();
  }
}

async function readChunkOf(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

/** Complete lines in `path` after byte `offset`. */
async function countLines(path: string, offset: number): Promise<number> {
  const size = (await stat(path)).size;
  let count = 0;
  for (let at = offset; at < size; at += CHUNK) {
    const chunk = await readChunk(path, at, Math.min(CHUNK, size - at));
    for (let i = chunk.indexOf(NL); i >= 0; i = chunk.indexOf(NL, i + 1)) count += 1;
  }
  return count;
}
