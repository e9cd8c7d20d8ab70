import { canonicalJson } from '@fedpbx/contracts';
import type { CollectionName } from '../federation/federation-change.js';
import type { SiteOwnedConfig } from '../federation/site-owned-config.js';
import { RESOURCE_KINDS, toResponse } from '../resources/resource-kinds.js';

export type OwnedCollection = Exclude<keyof SiteOwnedConfig, 'site'> & CollectionName;
export const OWNED_COLLECTIONS: readonly OwnedCollection[] = ['numberRanges', 'extensions', 'trunks', 'inboundRoutes', 'callFlows'];

/** One object present in both revisions whose properties differ. */
export interface ObjectChange {
  readonly id: string;
  /** Top-level properties that differ, credentials included by name (their values are never shown). */
  readonly fields: readonly string[];
  readonly before: Record<string, unknown>;
  readonly after: Record<string, unknown>;
}

export interface CollectionDiff {
  readonly added: readonly Record<string, unknown>[];
  readonly removed: readonly Record<string, unknown>[];
  readonly changed: readonly ObjectChange[];
}

export interface OwnedConfigDiff {
  /** The site's own settings, when they differ. */
  readonly site: Omit<ObjectChange, 'id'> | null;
  readonly collections: Record<OwnedCollection, CollectionDiff>;
}

type Kind = (typeof RESOURCE_KINDS)[CollectionName];
type Obj = { readonly id: string } & Record<string, unknown>;

/** Properties whose values differ (compared canonically: key order inside nested objects does not count). */
function changedFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null)).sort();
}

const shown = (kind: Kind, o: Obj): Record<string, unknown> => toResponse(kind as never, o as never);

function diffCollection(kind: Kind, from: readonly Obj[], to: readonly Obj[]): CollectionDiff {
  const before = new Map(from.map((o) => [o.id, o]));
  const after = new Map(to.map((o) => [o.id, o]));
  const added: Record<string, unknown>[] = [];
  const changed: ObjectChange[] = [];
  for (const [id, b] of [...after].sort(([x], [y]) => x.localeCompare(y))) {
    const a = before.get(id);
    if (a === undefined) {
      added.push(shown(kind, b));
      continue;
    }
    const fields = changedFields(a, b);
    if (fields.length > 0) changed.push({ id, fields, before: shown(kind, a), after: shown(kind, b) });
  }
  const removed = [...before]
    .filter(([id]) => !after.has(id))
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([, o]) => shown(kind, o));
  return { added, removed, changed };
}

/**
 * What changed in the objects a site owns between two revisions, by collection and id: added, removed, changed
 * (with the properties that differ). Shown the way the API shows objects: credentials removed, a `<name>Set`
 * flag in their place; a changed credential is named in `fields` without its value.
 */
export function diffOwnedConfig(from: SiteOwnedConfig, to: SiteOwnedConfig): OwnedConfigDiff {
  const siteFields = changedFields(from.site as Obj, to.site as Obj);
  const collections = Object.fromEntries(
    OWNED_COLLECTIONS.map((c) => [c, diffCollection(RESOURCE_KINDS[c], from[c] as readonly Obj[], to[c] as readonly Obj[])]),
  ) as Record<OwnedCollection, CollectionDiff>;
  return {
    site: siteFields.length === 0 ? null : { fields: siteFields, before: shown(RESOURCE_KINDS.sites, from.site as Obj), after: shown(RESOURCE_KINDS.sites, to.site as Obj) },
    collections,
  };
}
