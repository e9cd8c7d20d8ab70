import { createHash } from 'node:crypto';
import type { Extension, Federation, SiteConfig } from '@fedpbx/contracts';
import { SiteViews } from '@fedpbx/dialplan';
import { SiteConfigJson } from './site-config-json.js';

/** A site's extensions without a pass over all of them (a ValidatedFederation keeps them by site). */
export type ExtensionsAt = (siteId: string) => readonly Extension[];

/** The site configs' canonical JSON, assembled from parts shared between sites and writes (site-config-json.ts). */
const CONFIG_JSON = new SiteConfigJson();

/** Per federation (writer and publisher see the same objects): its site views, and the hashes worked out so far. */
const FEDERATIONS = new WeakMap<Federation, { views: SiteViews; hashes: Map<string, string> }>();

function of(fed: Federation, extensionsAt?: ExtensionsAt): { views: SiteViews; hashes: Map<string, string> } {
  let entry = FEDERATIONS.get(fed);
  if (entry === undefined) FEDERATIONS.set(fed, (entry = { views: new SiteViews(fed, extensionsAt), hashes: new Map() }));
  return entry;
}

/**
 * A site's config (`buildSiteConfig(fed, siteId)`) and its canonical JSON, whole and in pieces - what the publisher
 * signs and sends.
 * `extensionsAt`, when given, must return exactly the site's extensions in federation order (it is used for the
 * federation's views only if none exist yet).
 */
export function siteConfigText(fed: Federation, siteId: string, extensionsAt?: ExtensionsAt): { config: SiteConfig; json: string; pieces: readonly string[] } {
  const config = of(fed, extensionsAt).views.of(siteId);
  const pieces = CONFIG_JSON.pieces(config);
  return { config, json: pieces.join(''), pieces };
}

/**
 * `contentHash(buildSiteConfig(fed, siteId))` - the hash the agent verifies - without re-serializing at every
 * write what did not change: at 1,000 sites a site's config carries the whole numbering plan and every route
 * that applies to it (~500 KB of JSON, ~30 ms to serialize), and a write changes a few objects of one site.
 * Remembered per federation object, so the publisher signs the text the writer hashed without hashing it again.
 * site-config-hash.spec.ts holds this to contentHash(buildSiteConfig(...)) as the federation changes.
 */
export function siteConfigHash(fed: Federation, siteId: string, extensionsAt?: ExtensionsAt): string {
  const entry = of(fed, extensionsAt);
  let hash = entry.hashes.get(siteId);
  if (hash === undefined) {
    hash = sha256(CONFIG_JSON.of(entry.views.of(siteId)));
    entry.hashes.set(siteId, hash);
  }
  return hash;
}

/** The hash siteConfigHash worked out for this federation object and site, if it did. */
export function knownSiteConfigHash(fed: Federation, siteId: string): string | undefined {
  return FEDERATIONS.get(fed)?.hashes.get(siteId);
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
