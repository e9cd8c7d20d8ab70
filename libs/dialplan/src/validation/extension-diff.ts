import type { Extension } from '@fedpbx/contracts';

/**
 * How one list of extensions became another, by object identity: `next` is `prev` with the `deleted` objects
 * taken out, some objects replaced in place by one with the same id (`replaced`), and `appended` added at
 * the end, in order. Such a description exists for any two lists (in the worst case everything is deleted
 * and appended again); it is small for what a write does (replace in place, delete, append: applyChanges).
 */
export interface ExtensionDiff {
  readonly deleted: readonly Extension[];
  readonly replaced: readonly { readonly before: Extension; readonly after: Extension }[];
  readonly appended: readonly Extension[];
}

/** One walk over both lists: a pointer comparison per extension. */
export function diffExtensions(prev: readonly Extension[], next: readonly Extension[]): ExtensionDiff {
  const deleted: Extension[] = [];
  const replaced: { before: Extension; after: Extension }[] = [];
  let i = 0;
  let j = 0;
  while (i < prev.length && j < next.length) {
    const before = prev[i] as Extension;
    const after = next[j] as Extension;
    if (before === after) {
      i++;
      j++;
    } else if (before.id === after.id) {
      replaced.push({ before, after });
      i++;
      j++;
    } else {
      deleted.push(before);
      i++;
    }
  }
  for (; i < prev.length; i++) deleted.push(prev[i] as Extension);
  return { deleted, replaced, appended: next.slice(j) };
}
