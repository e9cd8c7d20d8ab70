/**
 * Compressed members remembered by their text, the most recently used up to `maxCachedChars` of text: the pieces of
 * a snapshot value that recur from one value to the next are compressed once. A text longer than the whole budget is
 * compressed and not kept.
 */
export class MemberCache {
  /** Text -> its member, least recently used first. */
  private readonly members = new Map<string, Buffer>();
  private cachedChars = 0;

  constructor(
    private readonly compress: (text: string) => Buffer,
    private readonly maxCachedChars: number,
  ) {}

  member(text: string): Buffer {
    let member = this.members.get(text);
    if (member !== undefined) {
      this.members.delete(text);
      this.members.set(text, member);
      return member;
    }
    member = this.compress(text);
    if (text.length > this.maxCachedChars) return member;
    this.members.set(text, member);
    this.cachedChars += text.length;
    for (const [old] of this.members) {
      if (this.cachedChars <= this.maxCachedChars) break;
      this.members.delete(old);
      this.cachedChars -= old.length;
    }
    return member;
  }
}
