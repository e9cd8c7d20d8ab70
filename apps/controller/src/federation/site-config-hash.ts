import { createHash } from 'node:crypto';
import type { Extension, Federation } from '@fedpbx/contracts';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { SiteConfigJson } from './site-config-json.js';

/** A site's extensions without a pass over all of them (a ValidatedFederation keeps them by site). */
export type ExtensionsAt = (siteId: string) => readonly Extension[];

/** The site configs' canonical JSON, assembled from parts shared between sites and writes (site-config-json.ts). */
const CONFIG_JSON = new SiteConfigJson();

/**
 * `contentHash(buildSiteConfig(fed, siteId))` - the hash the agent verifies - without re-serializing at every
 * write what did not change: at 1,000 sites a site's config carries the whole numbering plan and every route
 * that applies to it (~500 KB of JSON, ~30 ms to serialize), and a write changes a few objects of one site.
 * `extensionsAt`, when given, must return exactly the site's extensions in federation order: buildSiteConfig
 * reads extensions only through that filter, so it is handed just those instead of all 100,000.
 * site-config-hash.spec.ts holds this to contentHash(buildSiteConfig(...)) as the federation changes.
 */
export function siteConfigHash(fed: Federation, siteId: string, extensionsAt?: ExtensionsAt): string {
  const view = extensionsAt === undefined ? fed : { ...fed, extensions: [...extensionsAt(siteId)] };
  return `sha256:${createHash('sha256').update(CONFIG_JSON.of(view, buildSiteConfig(view, siteId))).digest('hex')}`;
}
