import type { Federation } from '@fedpbx/contracts';

/** The collections of the federation that the API edits object by object. */
export const COLLECTIONS = [
  'sites',
  'classesOfService',
  'numberRanges',
  'trunks',
  'extensions',
  'links',
  'outboundRoutes',
  'inboundRoutes',
  'callFlows',
] as const;
export type CollectionName = (typeof COLLECTIONS)[number];
export type ObjectOf<C extends CollectionName> = Federation[C][number];

/** One edit of the federation. A write is a list of them, applied together or not at all. */
export type FederationChange =
  | { [C in CollectionName]: { readonly collection: C; readonly op: 'upsert'; readonly value: ObjectOf<C> } }[CollectionName]
  | { [C in CollectionName]: { readonly collection: C; readonly op: 'delete'; readonly id: string } }[CollectionName]
  | { readonly collection: 'hub'; readonly op: 'set'; readonly hubSiteId: string | undefined };

export const changedId = (c: FederationChange): string =>
  c.collection === 'hub' ? 'hub' : c.op === 'upsert' ? c.value.id : c.id;

/**
 * The federation after the changes (pure; the input is not modified). Replaces objects in place so the order of
 * everything else is kept; appends new ones.
 */
export function applyChanges(fed: Federation, changes: readonly FederationChange[]): Federation {
  const next: Federation = { ...fed };
  const touched = new Map<CollectionName, Map<string, { id: string } | null>>();
  for (const c of changes) {
    if (c.collection === 'hub') {
      if (c.hubSiteId === undefined) delete next.hubSiteId;
      else next.hubSiteId = c.hubSiteId;
      continue;
    }
    let edits = touched.get(c.collection);
    if (edits === undefined) touched.set(c.collection, (edits = new Map()));
    if (c.op === 'upsert') edits.set(c.value.id, c.value);
    else edits.set(c.id, null);
  }
  for (const [collection, edits] of touched) {
    const items = fed[collection] as readonly { id: string }[];
    const out: { id: string }[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      if (!edits.has(item.id)) {
        out.push(item);
        continue;
      }
      seen.add(item.id);
      const edited = edits.get(item.id);
      if (edited !== null && edited !== undefined) out.push(edited);
    }
    for (const [id, edited] of edits) if (!seen.has(id) && edited !== null) out.push(edited);
    (next as Record<CollectionName, unknown>)[collection] = out;
  }
  return next;
}

/** Lookups so far and, once they are many, an id index, by array (federations are never mutated once built; the length guards anyway). */
const INDEXES = new WeakMap<readonly { id: string }[], { length: number; lookups: number; byId?: Map<string, { id: string }> }>();
/** Scans before an array gets an index: a one-object write scans; a bulk import indexes. */
const SCANS_BEFORE_INDEX = 16;

/**
 * The object with this id in the federation, if any. An array looked up in many times (a bulk import of
 * thousands of objects into 100,000 extensions) is indexed, so such a write stays linear; a few lookups just scan.
 */
export function findObject<C extends CollectionName>(fed: Federation, collection: C, id: string): ObjectOf<C> | undefined {
  const items = fed[collection] as readonly ObjectOf<C>[];
  if (items.length < 64) return items.find((o) => o.id === id);
  let entry = INDEXES.get(items);
  if (entry === undefined || entry.length !== items.length) INDEXES.set(items, (entry = { length: items.length, lookups: 0 }));
  if (entry.byId === undefined) {
    if (++entry.lookups <= SCANS_BEFORE_INDEX) return items.find((o) => o.id === id);
    const byId = new Map<string, { id: string }>();
    for (const o of items) if (!byId.has(o.id)) byId.set(o.id, o);
    entry.byId = byId;
  }
  return entry.byId.get(id) as ObjectOf<C> | undefined;
}
