const LF = 0x0a;
const INITIAL_CAPACITY = 1024;
const RETAINED_CAPACITY = 64 * 1024;
const EMPTY = Buffer.alloc(0);
/** What peekFieldLine shows, one for every reader: read at once by its caller (no object per line). */
const FIELD_LINE: { buffer: Buffer; from: number; end: number; separator: number } = { buffer: EMPTY, from: 0, end: 0, separator: -1 };
const COLON = 0x3a;
const SPACE = 0x20;

/**
 * Splits a byte stream into LF-terminated lines without ever decoding a partial line: TCP may cut a
 * multi-byte UTF-8 character in two, so text is decoded only once a whole line is here.
 *
 * Amortised O(1) per byte whatever the chunking (a line arriving one byte per chunk is not quadratic):
 * bytes live in one growable buffer and the search for LF resumes where it last stopped.
 * The reader itself has no limit; its owners check {@link bufferedBytes} once {@link peekLineLength} returned -1,
 * and the length of each line, against theirs.
 */
export class ByteLineReader {
  private buf: Buffer = EMPTY;
  /** False while `buf` is a caller's chunk lent by {@link appendBorrowed} (never written to). */
  private owned = false;
  private start = 0;
  private end = 0;
  /** Absolute index in `buf` from which no LF has been seen yet. */
  private scanFrom = 0;

  /** Bytes held: after `peekLineLength()` returned -1, this is the length of the incomplete line. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /** Copies in `chunk`'s first `length` bytes (default: all of it). */
  append(chunk: Uint8Array, length = chunk.length): void {
    if (length === 0) return;
    if (!this.owned || this.end + length > this.buf.length) this.makeRoom(length);
    this.buf.set(length === chunk.length ? chunk : chunk.subarray(0, length), this.end);
    this.end += length;
  }

  /**
   * Like {@link append}, but when nothing is held the lines are read from `chunk` itself, without a copy.
   * The caller must call {@link retainRest} before it returns (the chunk is only lent for the call). `length`: how
   * many of the chunk's bytes are data (a socket's reused read buffer holds the read's bytes at its start).
   */
  appendBorrowed(chunk: Uint8Array, length = chunk.length): void {
    if (length === 0) return;
    if (this.start !== this.end) {
      this.append(chunk, length);
      return;
    }
    this.buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.owned = false;
    this.start = 0;
    this.end = length;
    this.scanFrom = 0;
  }

  /** Copies the bytes still held out of a borrowed chunk (an incomplete line), so that the chunk is let go. */
  retainRest(): void {
    if (this.owned) return;
    if (this.start === this.end) {
      this.release();
      return;
    }
    this.makeRoom(0);
  }

  /**
   * Length in bytes (LF excluded, a CR before it included) of the next complete line, or -1 when no line is
   * complete. Does not consume it: follow with {@link takeLineText} or {@link skipLine}. Lets owners check a
   * line against their limits without allocating a view of it.
   */
  peekLineLength(): number {
    const lf = this.scanFrom < this.end ? this.buf.indexOf(LF, this.scanFrom) : -1;
    if (lf < 0 || lf >= this.end) {
      this.scanFrom = this.end;
      return -1;
    }
    // The LF stays the first one at or after scanFrom: takeLineText / skipLine find it again at once.
    this.scanFrom = lf;
    return lf - this.start;
  }

  /**
   * Consumes the next complete line (call only after {@link peekLineLength} returned >= 0) and returns it
   * decoded as UTF-8, one trailing CR removed. Decodes straight from the buffer: no intermediate view.
   */
  takeLineText(): string {
    const lf = this.scanFrom;
    let stop = lf;
    if (stop > this.start && this.buf[stop - 1] === 0x0d) stop -= 1;
    const text = stop === this.start ? '' : this.buf.toString('utf8', this.start, stop);
    this.start = lf + 1;
    this.scanFrom = this.start;
    if (this.start === this.end) {
      this.release();
    }
    return text;
  }

  /**
   * {@link peekLineLength} for `key: value` lines (a FastAGI environment), and the line shown in place when all its
   * bytes are ASCII: one pass over the line finds its end, checks every byte and notes its first `": "`, where three
   * would (the LF, the ASCII check, the separator). The line is in {@link fieldLine} until {@link skipLine}, or
   * undefined there when not all ASCII (decode it with {@link takeLineText}).
   */
  peekFieldLine(): number {
    const buf = this.buf;
    const end = this.end;
    const from = this.start;
    // A line cut by a chunk boundary: its LF is looked for in the new bytes only, then the line checked whole.
    if (this.scanFrom !== from) {
      const length = this.peekLineLength();
      if (length >= 0) this.showFieldLine(this.scanFrom, this.asciiSeparator(from, this.scanFrom));
      return length;
    }
    let separator = -1;
    let ascii = true;
    for (let i = from; i < end; i += 1) {
      const c = buf[i] as number;
      if (c === LF) {
        this.scanFrom = i;
        this.showFieldLine(i, ascii ? separator : -2);
        return i - from;
      }
      if (c >= 0x80) ascii = false;
      else if (c === COLON && separator < 0 && i + 1 < end && buf[i + 1] === SPACE) separator = i;
    }
    this.scanFrom = end;
    return -1;
  }

  /** The line peekFieldLine showed: its bytes `buffer[from, end)` (a trailing CR excluded) and its first `": "` (or -1). */
  get fieldLine(): { readonly buffer: Buffer; readonly from: number; readonly end: number; readonly separator: number } | undefined {
    return FIELD_LINE.buffer === EMPTY ? undefined : FIELD_LINE;
  }

  /** The first `": "` in the ASCII bytes `[from, lf)`, -1 if none; -2 when not all ASCII. */
  private asciiSeparator(from: number, lf: number): number {
    const buf = this.buf;
    let separator = -1;
    for (let i = from; i < lf; i += 1) {
      const c = buf[i] as number;
      if (c >= 0x80) return -2;
      if (c === COLON && separator < 0 && i + 1 < lf && buf[i + 1] === SPACE) separator = i;
    }
    return separator;
  }

  /** Shows the line that ends at `lf` in FIELD_LINE; `separator` -2: not all ASCII, nothing shown. */
  private showFieldLine(lf: number, separator: number): void {
    if (separator === -2) {
      FIELD_LINE.buffer = EMPTY;
      return;
    }
    const buf = this.buf;
    FIELD_LINE.buffer = buf;
    FIELD_LINE.from = this.start;
    FIELD_LINE.end = lf > this.start && buf[lf - 1] === 0x0d ? lf - 1 : lf;
    FIELD_LINE.separator = separator;
  }

  /** Consumes the line {@link peekFieldLine} showed. */
  skipLine(): void {
    FIELD_LINE.buffer = EMPTY;
    this.start = this.scanFrom + 1;
    this.scanFrom = this.start;
    if (this.start === this.end) this.release();
  }

  /** Removes and returns (as a copy) every byte still held. */
  takeRest(): Buffer {
    if (this.start === this.end) {
      this.release();
      // Zero bytes: nothing can be written through it, so one shared instance serves every caller.
      return EMPTY;
    }
    const rest = Buffer.from(this.buf.subarray(this.start, this.end));
    this.release();
    return rest;
  }

  /**
   * Everything consumed: rewind. A borrowed chunk is let go, and a buffer grown by one big chunk is released.
   */
  private release(): void {
    this.start = 0;
    this.end = 0;
    this.scanFrom = 0;
    if (!this.owned) this.buf = EMPTY;
    else if (this.buf.length > RETAINED_CAPACITY) this.buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
  }

  private makeRoom(extra: number): void {
    const held = this.end - this.start;
    const needed = held + extra;
    const scanOffset = this.scanFrom - this.start;
    if (this.owned && needed <= this.buf.length && this.start > 0 && held <= this.buf.length / 2) {
      this.buf.copy(this.buf, 0, this.start, this.end);
    } else {
      let capacity = Math.max(INITIAL_CAPACITY, this.owned ? this.buf.length : 0);
      while (capacity < needed) capacity *= 2;
      const next = Buffer.allocUnsafe(capacity);
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.owned = true;
    }
    this.start = 0;
    this.end = held;
    this.scanFrom = scanOffset;
  }
}
