// How res_agi.c reads FastAGI commands, modelled without a socket so that it can be tested chunk by chunk.
//
// run_agi() polls the socket, then calls fgets(buf, 8192) on a stdio FILE until it has a `\n` or 8191 bytes
// (`while (len > 1)` loop): so
// - a line longer than 8191 bytes is cut there and the rest is read as the next command;
// - one poll wake-up executes ONE line. Lines that one read() pulled into the stdio buffer wait there until
//   the socket becomes readable again (new bytes or EOF): pipelined commands stall (agi-05-pipelined-commands);
// - a partial line blocks fgets until its `\n` arrives (or EOF, which yields the partial line as a command).
// glibc sizes the FILE buffer from st_blksize (4096 for a socket), so each read() takes at most 4096 bytes.
// That reproduces agi-05-long-command.json: an 8191-byte line + `\n` leaves the `\n` in the stdio buffer as
// an empty command that is only answered (510) when the next bytes arrive.

export const AGI_FGETS_MAX = 8191;
export const STDIO_BUFFER_SIZE = 4096;

export type FgetsResult =
  | { readonly kind: 'line'; readonly bytes: Buffer }
  | { readonly kind: 'blocked' }
  | { readonly kind: 'eof' };

const EMPTY = Buffer.alloc(0);

export class AgiLineReader {
  /** Bytes received from the peer and not yet read(): the kernel socket buffer. */
  private kernel: Buffer[] = [];
  private kernelBytes = 0;
  /** The stdio FILE buffer and the read position in it. */
  private stdio: Buffer = EMPTY;
  private stdioPos = 0;
  /** The line fgets is assembling (kept across a "blocked" return). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private eofSeen = false;

  constructor(
    private readonly fgetsMax = AGI_FGETS_MAX,
    private readonly stdioSize = STDIO_BUFFER_SIZE,
  ) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.kernel.push(chunk);
    this.kernelBytes += chunk.length;
  }

  end(): void {
    this.eofSeen = true;
  }

  get ended(): boolean {
    return this.eofSeen;
  }

  /** What poll() reports: unread bytes in the socket, or EOF. Bytes already in the stdio buffer do not count. */
  get readable(): boolean {
    return this.kernelBytes > 0 || this.eofSeen;
  }

  /** Bytes received but not yet consumed by a command (socket + stdio buffer + partial line). */
  get pendingBytes(): number {
    return this.kernelBytes + (this.stdio.length - this.stdioPos) + this.partialBytes;
  }

  /** Does the stdio buffer already hold the start of another line (bytes the server sent before our answer)? */
  get stdioHasData(): boolean {
    return this.stdio.length - this.stdioPos > 0;
  }

  fgets(): FgetsResult {
    while (this.partialBytes < this.fgetsMax) {
      if (this.stdioPos >= this.stdio.length) {
        if (this.kernelBytes === 0) {
          if (this.eofSeen) break;
          return { kind: 'blocked' };
        }
        this.readIntoStdio();
      }
      const want = this.fgetsMax - this.partialBytes;
      const limit = Math.min(this.stdio.length, this.stdioPos + want);
      const nl = this.stdio.indexOf(10, this.stdioPos);
      if (nl !== -1 && nl < limit) {
        this.take(nl + 1);
        return this.finish();
      }
      this.take(limit);
    }
    if (this.partialBytes === 0) return { kind: 'eof' };
    return this.finish();
  }

  private take(end: number): void {
    if (end > this.stdioPos) {
      this.partial.push(this.stdio.subarray(this.stdioPos, end));
      this.partialBytes += end - this.stdioPos;
    }
    this.stdioPos = end;
  }

  private finish(): FgetsResult {
    const bytes = this.partial.length === 1 ? (this.partial[0] as Buffer) : Buffer.concat(this.partial, this.partialBytes);
    this.partial = [];
    this.partialBytes = 0;
    return { kind: 'line', bytes };
  }

  /** One read(2) into the stdio buffer: at most stdioSize bytes of whatever the socket holds. */
  private readIntoStdio(): void {
    const n = Math.min(this.stdioSize, this.kernelBytes);
    const first = this.kernel[0] as Buffer;
    if (first.length === n) {
      this.stdio = first;
      this.kernel.shift();
    } else if (first.length > n) {
      this.stdio = first.subarray(0, n);
      this.kernel[0] = first.subarray(n);
    } else {
      const parts: Buffer[] = [];
      let got = 0;
      while (got < n) {
        const head = this.kernel[0] as Buffer;
        const need = n - got;
        if (head.length <= need) {
          parts.push(head);
          got += head.length;
          this.kernel.shift();
        } else {
          parts.push(head.subarray(0, need));
          this.kernel[0] = head.subarray(need);
          got += need;
        }
      }
      this.stdio = Buffer.concat(parts, n);
    }
    this.kernelBytes -= n;
    this.stdioPos = 0;
  }
}
