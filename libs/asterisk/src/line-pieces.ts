/**
 * A string joined from pieces in one array kept from call to call, for the text every call builds (the first MSet's
 * line, the leg list): an array literal of ~30 pieces is ~140 bytes of garbage per call, and `+` or a template makes
 * a new string per piece. Each instance serves one synchronous function, which adds its pieces and joins.
 */
export class LinePieces {
  private readonly pieces: string[] = [];
  private count = 0;

  add(piece: string): this {
    if (this.count < this.pieces.length) this.pieces[this.count] = piece;
    else this.pieces.push(piece);
    this.count += 1;
    return this;
  }

  /** Puts `piece` in place of the `index`th piece added since the last join (a start known only at the end). */
  set(index: number, piece: string): this {
    if (index < this.count) this.pieces[index] = piece;
    return this;
  }

  /** The pieces added since the last join, as one flat string; the array lets go of them. */
  join(): string {
    const pieces = this.pieces;
    for (let i = this.count; i < pieces.length; i += 1) pieces[i] = '';
    const line = pieces.join('');
    for (let i = 0; i < this.count; i += 1) pieces[i] = '';
    this.count = 0;
    return line;
  }
}
