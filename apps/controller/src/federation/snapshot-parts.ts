import { createHash, type Hash } from 'node:crypto';
import { canonicalJson, type Federation, type RemoteTrunk, type SiteConfig } from '@fedpbx/contracts';
import type { SiteViews } from '@fedpbx/dialplan';
import { chunkedContentHash, isSharedRoute, sharedChunks, type SharedPart } from '@fedpbx/signing';

/**
 * The shared part of a federation's snapshots, chunked (libs/signing chunked-shared.ts): its chunk texts, their
 * hashes, and the content hash over those (what the site parts name).
 */
export interface SharedPartText {
  readonly chunks: readonly string[];
  readonly chunkHashes: readonly string[];
  readonly contentHash: string;
  /** Ids of the trunk entries it lists (a site part leaves them out). */
  readonly trunkIds: ReadonlySet<string>;
}

/** A site part: the site's config (for the value checks), its canonical JSON in pieces, and the hash of that JSON. */
export interface SitePartText {
  readonly config: SiteConfig;
  readonly pieces: readonly string[];
  readonly contentHash: string;
}

/**
 * Builds the two parts of format-2 snapshots (libs/signing split-snapshot.ts) from a federation's site views:
 * the shared part once per federation object, each site part from its view. The site part is the view minus what
 * the shared part holds, so a change to the numbering plan makes one new shared text (serialized and hashed once)
 * and, per site, a small text whose only change is the shared hash it names. Objects are serialized once and
 * remembered (a federation is never mutated: a change makes new objects), as SiteConfigJson does.
 */
export class SnapshotParts {
  private readonly shared = new WeakMap<Federation, SharedPartText>();
  private readonly objects = new WeakMap<object, string>();
  /** Per site: its part's text before `"shared"`, what it was built from, and the hash state after it. */
  private readonly sites = new Map<string, SiteMemo>();

  sharedOf(fed: Federation, views: SiteViews): SharedPartText {
    let out = this.shared.get(fed);
    if (out !== undefined) return out;
    this.forgetSitesOtherThan(fed);
    // Every view of a federation holds the same directory, ranges and classes; the shared routes come from the
    // federation itself (a federation without sites has no snapshots, so any view will do for the rest: one view,
    // which lists every route for all sites - at 1,000 sites not a view to build twice).
    const any = fed.sites[0] !== undefined ? views.of(fed.sites[0].id) : undefined;
    const federation = any?.federation ?? { sites: [], numberRanges: [] };
    const classesOfService = any?.classesOfService ?? [];
    const outboundRoutes = byId(fed.outboundRoutes.filter(isSharedRoute));
    const trunks = new Map(fed.trunks.map((t) => [t.id, t]));
    const remoteTrunks = new Map<string, RemoteTrunk>();
    for (const r of outboundRoutes) {
      for (const p of r.trunks) {
        const t = trunks.get(p.trunkId);
        if (t !== undefined) remoteTrunks.set(t.id, { id: t.id, siteId: t.siteId, name: t.name });
      }
    }
    const part: SharedPart = {
      sites: federation.sites,
      numberRanges: federation.numberRanges,
      ...(federation.hubSiteId !== undefined ? { hubSiteId: federation.hubSiteId } : {}),
      outboundRoutes,
      remoteTrunks: byId([...remoteTrunks.values()]),
      classesOfService,
    };
    const chunks = sharedChunks(part as unknown as Record<string, unknown>, (v) => (typeof v === 'object' && v !== null ? this.json(v) : canonicalJson(v)));
    const chunkHashes = chunks.map(sha256);
    out = { chunks, chunkHashes, contentHash: chunkedContentHash(chunkHashes), trunkIds: new Set(remoteTrunks.keys()) };
    this.shared.set(fed, out);
    return out;
  }

  /**
   * The site part of `config` (the site's view), naming `shared` (not in the paired format: `paired`). Its canonical JSON lists the members in key
   * order, and `shared` sorts after every member that holds the site's objects but `site` and `trunks`: the text
   * before it (~12 KB at 50 extensions a site) is kept per site with the SHA-256 state after hashing it, and
   * reused while the site's objects are the very same ones. A plan-wide change then costs a site part the
   * comparison of its objects by identity and the hash of the few hundred bytes from `"shared"` on, not the
   * serialization and hash of the whole part.
   */
  sitePart(config: SiteConfig, shared: SharedPartText, paired = false): SitePartText {
    const part: Record<string, unknown> = {
      site: config.site,
      // The paired format's site part names no shared part (split-snapshot.ts PAIRED_FORMAT): only its text after
      // the memo differs, so both formats share the per-site memo.
      ...(paired ? {} : { shared: { contentHash: shared.contentHash } }),
      extensions: config.extensions,
      trunks: config.trunks,
      remoteTrunks: (config.remoteTrunks ?? []).filter((t) => !shared.trunkIds.has(t.id)),
      links: config.links,
      outboundRoutes: config.outboundRoutes.filter((r) => !isSharedRoute(r)),
      inboundRoutes: config.inboundRoutes,
      callFlows: config.callFlows,
      ...(config.remotePresence !== undefined ? { remotePresence: config.remotePresence } : {}),
    };
    const keys = Object.keys(part).sort();
    const before = keys.filter((k) => k < 'shared');
    let memo = this.sites.get(config.site.id);
    if (memo === undefined || !sameMembers(memo.values, part, before, (o) => this.json(o))) {
      const prefix = this.members(part, before, true);
      memo = { values: new Map(before.map((k) => [k, part[k]])), prefix, prefixHash: createHash('sha256').update(prefix) };
      this.sites.set(config.site.id, memo);
    }
    const suffix = [this.members(part, keys.filter((k) => k >= 'shared'), before.length === 0), '}'];
    const hash = memo.prefixHash.copy();
    for (const p of suffix) hash.update(p);
    return { config, pieces: [memo.prefix, ...suffix], contentHash: `sha256:${hash.digest('hex')}` };
  }

  /** Forgets the site parts of sites `fed` does not have (deleted ones). */
  private forgetSitesOtherThan(fed: Federation): void {
    if (this.sites.size <= fed.sites.length) return;
    const ids = new Set(fed.sites.map((s) => s.id));
    for (const id of this.sites.keys()) if (!ids.has(id)) this.sites.delete(id);
  }

  /** The members `keys` of `part` as canonical JSON: `"key":value` joined by commas (`{` first when `first`). */
  private members(part: Record<string, unknown>, keys: readonly string[], first: boolean): string {
    let out = '';
    for (const key of keys) {
      const value = part[key];
      if (value === undefined) continue;
      out += `${first && out === '' ? '{' : ','}${JSON.stringify(key)}:${this.valueJson(value)}`;
    }
    return out;
  }

  private valueJson(value: unknown): string {
    return Array.isArray(value) ? `[${(value as object[]).map((v) => this.json(v)).join(',')}]` : typeof value === 'object' && value !== null ? this.json(value) : canonicalJson(value);
  }

  /** `canonicalJson(part)` in pieces: `{"key":`, the value's JSON, ... `}`; arrays from their elements' cached JSON. */
  private pieces(part: Record<string, unknown>): string[] {
    const pieces: string[] = [];
    for (const key of Object.keys(part).sort()) {
      const value = part[key];
      if (value === undefined) continue;
      pieces.push(`${pieces.length === 0 ? '{' : ','}${JSON.stringify(key)}:`);
      pieces.push(this.valueJson(value));
    }
    pieces.push(pieces.length === 0 ? '{}' : '}');
    return pieces;
  }

  private json(item: object): string {
    let json = this.objects.get(item);
    if (json === undefined) this.objects.set(item, (json = canonicalJson(item)));
    return json;
  }
}

interface SiteMemo {
  readonly values: ReadonlyMap<string, unknown>;
  readonly prefix: string;
  readonly prefixHash: Hash;
}

/**
 * Whether `part`'s members `keys` serialize as what `values` held: arrays of the same objects (a site's own objects
 * are the federation's, unchanged until edited), or of small objects a view makes anew (remote trunk entries,
 * presence lists) whose JSON is the same.
 */
function sameMembers(values: ReadonlyMap<string, unknown>, part: Record<string, unknown>, keys: readonly string[], json: (o: object) => string): boolean {
  if (values.size !== keys.length) return false;
  for (const key of keys) {
    const a = values.get(key);
    const b = part[key];
    if (a === b) continue;
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && json(a[i] as object) !== json(b[i] as object)) return false;
  }
  return true;
}

function byId<T extends { readonly id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
