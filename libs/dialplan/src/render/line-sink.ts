/**
 * Where a renderer's text goes: a chunk at a time, each chunk whole lines, each line ending in `\n`. The chunks
 * joined are the file. A head office's `pjsip_fedpbx.conf` is 45 MB: as one array of a million lines and then one
 * string it held ~150 MB of the render worker's heap; written to the file as it is rendered, a chunk's worth.
 */
export type TextSink = (chunk: string) => void;

/**
 * Characters of joined lines held before they go to the sink. Under V8's large-object size (128 KB, even as two-byte
 * text): a chunk dies young, in a scavenge, where a larger one stays until a full collection.
 */
const CHUNK_CHARS = 1 << 15;

/** Lines kept until they make a chunk, then handed to the sink; `end` hands over the rest. */
export class LineBuffer {
  private lines: string[] = [];
  private chars = 0;
  private lastLine: string | undefined;

  constructor(private readonly sink: TextSink) {}

  /** The last line pushed (undefined before the first), whether or not it went to the sink already. */
  get last(): string | undefined {
    return this.lastLine;
  }

  push(...lines: string[]): void {
    for (const line of lines) {
      this.lines.push(line);
      this.chars += line.length + 1;
      this.lastLine = line;
    }
    if (this.chars >= CHUNK_CHARS) this.flush();
  }

  /** The lines not yet handed over; call once, after the last line. */
  end(): void {
    this.flush();
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    const chunk = `${this.lines.join('\n')}\n`;
    this.lines = [];
    this.chars = 0;
    this.sink(chunk);
  }
}

/** What a renderer that writes to a sink gives as one string (the chunks joined). */
export function collected(render: (sink: TextSink) => void): string {
  const chunks: string[] = [];
  render((chunk) => chunks.push(chunk));
  return chunks.join('');
}
