import type { Extension, Federation } from '@fedpbx/contracts';
import { SiteViews } from '@fedpbx/dialplan';
import { chunkedContentHash, isSharedRoute, sharedChunks } from '@fedpbx/signing';
import { createHash } from 'node:crypto';
import { SnapshotParts, type SharedPartText, type SitePartText } from './snapshot-parts.js';

/** A site's extensions without a pass over all of them (a ValidatedFederation keeps them by site). */
export type ExtensionsAt = (siteId: string) => readonly Extension[];

/** The snapshot parts' canonical JSON, assembled from objects serialized once (snapshot-parts.ts). */
const PARTS = new SnapshotParts();

/** Per federation (writer and publisher see the same objects): its site views, and the site parts worked out so far. */
const FEDERATIONS = new WeakMap<Federation, Entry>();

interface Entry {
  readonly views: SiteViews;
  /**
   * Views of the federation without its shared routes (those every site has: the shared part carries them): a site
   * part is cut from one of these, so a site's part costs its own routes and trunk entries, not the ~1,000 shared
   * routes and their trunks every whole view lists at 1,000 sites (~0.4-0.6 ms per site, the bulk of a plan-wide write).
   */
  readonly partViews: SiteViews;
  /** The site parts worked out so far: the writer hashes them, the publisher signs the same text. */
  readonly parts: Map<string, SiteConfigText>;
  /** The same in the paired format (site parts that name no shared part), worked out by the publisher when it uses it. */
  readonly pairedParts: Map<string, SitePartText>;
  /** The paired shared part (its site list needs every site's paired part): built once, when first published. */
  paired?: PairedSharedText;
}

/**
 * The paired format's shared part at a federation version: the shared part's chunks with the `siteParts` list
 * (every site's paired part hash) among them, and `baseHash`, the shared part's content hash WITHOUT the list -
 * what decides whether it must be put again (a write that changes only site parts leaves it as it is).
 */
export interface PairedSharedText {
  readonly chunks: readonly string[];
  readonly chunkHashes: readonly string[];
  readonly contentHash: string;
  readonly baseHash: string;
  /** Each site's part hash as the list names it. */
  readonly listed: ReadonlyMap<string, string>;
}

/** A site's part as published: its text in pieces, hash and view (SitePartText), the whole text, the shared part. */
export type SiteConfigText = SitePartText & { readonly json: string; readonly shared: SharedPartText };

function of(fed: Federation, extensionsAt?: ExtensionsAt): Entry {
  let entry = FEDERATIONS.get(fed);
  if (entry === undefined) {
    const withoutShared: Federation = { ...fed, outboundRoutes: fed.outboundRoutes.filter((r) => !isSharedRoute(r)) };
    entry = { views: new SiteViews(fed, extensionsAt), partViews: new SiteViews(withoutShared, extensionsAt), parts: new Map(), pairedParts: new Map() };
    FEDERATIONS.set(fed, entry);
  }
  return entry;
}

/** The federation's shared part (format 2): built, serialized and hashed once per federation object. */
export function sharedPartText(fed: Federation, extensionsAt?: ExtensionsAt): SharedPartText {
  return PARTS.sharedOf(fed, of(fed, extensionsAt).views);
}

/**
 * A site's snapshot content as published (format 2): its view without the shared routes (for the value
 * checks), the site part's canonical JSON in pieces and its hash, and the shared part it names. `extensionsAt`,
 * when given, must return exactly the site's extensions in federation order (it is used for the federation's
 * views only if none exist yet).
 */
export function siteConfigText(fed: Federation, siteId: string, extensionsAt?: ExtensionsAt): SiteConfigText {
  const entry = of(fed, extensionsAt);
  let out = entry.parts.get(siteId);
  if (out === undefined) {
    const shared = PARTS.sharedOf(fed, entry.views);
    const part = PARTS.sitePart(entry.partViews.of(siteId), shared);
    let json: string | undefined;
    out = {
      ...part,
      shared,
      // Joined only when asked (tests, tools): the publisher signs and sends the pieces.
      get json() {
        return (json ??= part.pieces.join(''));
      },
    };
    entry.parts.set(siteId, out);
  }
  return out;
}

/**
 * The content hash of a site's snapshot - the site part's, which names the shared part's hash, so it changes
 * whenever anything the site's config is assembled from changes - without serializing again what did not change.
 * A plan-wide change hashes the plan once (the shared part) and, per site, only its small site part: at 1,000
 * sites a whole config is ~500 KB of JSON, a site part of the generated federation ~12 KB. Remembered per
 * federation object, so the publisher signs what the writer hashed without hashing it again.
 * site-config-hash.spec.ts holds the parts to buildSiteConfig as the federation changes.
 */
export function siteConfigHash(fed: Federation, siteId: string, extensionsAt?: ExtensionsAt): string {
  return siteConfigText(fed, siteId, extensionsAt).contentHash;
}

/** The hash siteConfigHash worked out for this federation object and site, if it did. */
export function knownSiteConfigHash(fed: Federation, siteId: string): string | undefined {
  return FEDERATIONS.get(fed)?.parts.get(siteId)?.contentHash;
}

/**
 * A site's part in the paired format (split-snapshot.ts PAIRED_FORMAT): format 2's without the shared part's hash,
 * so a plan-only write leaves it (and its hash) as it was. Cut from the same per-site memo as siteConfigText, or
 * taken over from the federation before (carryPairedParts).
 */
export function pairedSitePartText(fed: Federation, siteId: string, extensionsAt?: ExtensionsAt): SitePartText {
  const entry = of(fed, extensionsAt);
  let out = entry.pairedParts.get(siteId);
  if (out === undefined) {
    out = PARTS.sitePart(entry.partViews.of(siteId), PARTS.sharedOf(fed, entry.views), true);
    entry.pairedParts.set(siteId, out);
  }
  return out;
}

/**
 * A site's head hash in the paired format: over its paired site part's hash and the shared part's without the
 * site list. It moves when either does - a plan-wide write moves every site's head (its agent must apply the new
 * shared part: the rollout follows heads) without a site part built again - and not when only another site's part
 * changed (which changes the shared part's list alone). Not the hash an agent reports (that one names the shared
 * part with its list, pairedContentHash): a head hash only tells a site's revisions apart.
 */
export function pairedSiteHash(fed: Federation, siteId: string, extensionsAt?: ExtensionsAt): string {
  return sha256(`fedpbx-paired-head\n${pairedSitePartText(fed, siteId, extensionsAt).contentHash}\n${sharedPartText(fed, extensionsAt).contentHash}`);
}

/**
 * Hands the paired site parts worked out for `from` on to `to` (the federation a write made from it) for every site
 * but `changed`: those whose site part the write may change (candidateSites with scope 'site-part', a superset), so
 * the others' parts are the same text. A plan-wide write then builds no site part, and the paired shared part's
 * list of every site's part hash is 1,000 lookups, not 1,000 site views.
 */
export function carryPairedParts(from: Federation, to: Federation, changed: ReadonlySet<string> | 'all', extensionsAt?: ExtensionsAt): void {
  const known = FEDERATIONS.get(from)?.pairedParts;
  if (changed === 'all' || known === undefined || from === to) return;
  const parts = of(to, extensionsAt).pairedParts;
  for (const [siteId, part] of known) if (!changed.has(siteId) && !parts.has(siteId)) parts.set(siteId, part);
}

/**
 * The paired shared part of a federation: format 3's chunks with `siteParts` (each site's paired part hash, in id
 * order) inserted where its key sorts (between `remoteTrunks` and `sites`), as libs/signing sharedChunks makes them.
 */
export function pairedSharedText(fed: Federation): PairedSharedText {
  const entry = of(fed);
  if (entry.paired !== undefined) return entry.paired;
  const base = PARTS.sharedOf(fed, entry.views);
  const siteParts = [...fed.sites]
    .map((s) => s.id)
    .sort()
    .map((id) => ({ contentHash: pairedSitePartText(fed, id).contentHash, id }));
  const list = sharedChunks({ siteParts }, (v) => JSON.stringify(v));
  const at = firstIndex(base.chunks, (c) => c.startsWith('["sites",'));
  const chunks = [...base.chunks.slice(0, at), ...list, ...base.chunks.slice(at)];
  const chunkHashes = [...base.chunkHashes.slice(0, at), ...list.map(sha256), ...base.chunkHashes.slice(at)];
  entry.paired = { chunks, chunkHashes, contentHash: chunkedContentHash(chunkHashes), baseHash: base.contentHash, listed: new Map(siteParts.map((r) => [r.id, r.contentHash])) };
  return entry.paired;
}

function firstIndex(items: readonly string[], match: (s: string) => boolean): number {
  const i = items.findIndex(match);
  return i < 0 ? items.length : i;
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
