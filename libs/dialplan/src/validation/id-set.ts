/** Once the ids added and removed since the base outnumber this, the next derived set is rebuilt whole. */
const REBUILD_AFTER = 4096;

/**
 * A set of ids that successive validations derive from one another without copying: a large base that is
 * never modified, plus the ids added and removed since. Deriving the next set costs the size of those
 * edits (rebuilt whole now and then), not the size of the federation.
 * Invariant: `added` and `base` are disjoint, `removed` is a subset of `base`.
 */
export class IdSet {
  private constructor(
    private readonly base: ReadonlySet<string>,
    private readonly added: ReadonlySet<string>,
    private readonly removed: ReadonlySet<string>,
  ) {}

  static of(ids: ReadonlySet<string>): IdSet {
    return new IdSet(ids, new Set(), new Set());
  }

  has(id: string): boolean {
    return this.added.has(id) || (this.base.has(id) && !this.removed.has(id));
  }

  /** This set without `remove`, then with `add`. */
  edited(remove: Iterable<string>, add: Iterable<string>): IdSet {
    const added = new Set(this.added);
    const removed = new Set(this.removed);
    for (const id of remove) {
      added.delete(id);
      if (this.base.has(id)) removed.add(id);
    }
    for (const id of add) {
      if (this.base.has(id)) removed.delete(id);
      else added.add(id);
    }
    if (added.size + removed.size <= REBUILD_AFTER) return new IdSet(this.base, added, removed);
    const all = new Set(added);
    for (const id of this.base) if (!removed.has(id)) all.add(id);
    return IdSet.of(all);
  }
}
