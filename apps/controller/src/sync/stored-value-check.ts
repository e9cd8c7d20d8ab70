import { Extension, InterSiteLink, RemoteTrunk, Site, Trunk, type SiteConfig } from '@fedpbx/contracts';

export interface InvalidValue {
  readonly object: string;
  readonly field: string;
  readonly reason: string;
}

/**
 * Objects that passed their contract, by schema. The federation's objects are never mutated (a change makes new
 * ones), so an object checked once need not be parsed again: a plan-wide change re-publishes every site with the
 * very same extensions, and parsing them all again cost ~150 ms at 1,000 sites of 50.
 */
const PASSED = new WeakMap<object, WeakSet<object>>();

/** Parses each item with its contract; the first refusal, with the object (`trunk t-x`) and field named. */
function firstInvalid<T extends { readonly id: string }>(kind: string, items: readonly T[], schema: { safeParse(v: unknown): { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } }): InvalidValue | undefined {
  let passed = PASSED.get(schema);
  if (passed === undefined) PASSED.set(schema, (passed = new WeakSet()));
  for (const item of items) {
    if (passed.has(item)) continue;
    const parsed = schema.safeParse(item);
    const issue = parsed.success ? undefined : parsed.error?.issues[0];
    if (issue !== undefined) return { object: `${kind} ${item.id}`, field: issue.path.map(String).join('.'), reason: issue.message };
    if (parsed.success) passed.add(item);
  }
  return undefined;
}

/**
 * The first value of the site's own objects - those its agent renders into Asterisk files (the site, its phones,
 * trunks, links) - that today's contracts refuse. Every API write checks these rules, so only data stored around
 * them fails here; the check parses the site's own objects, not the whole snapshot (a head office's is 20 MB).
 * No value is quoted back: a secret's refusal names the field only.
 */
export function invalidStoredValue(config: SiteConfig): InvalidValue | undefined {
  const siteId = config.site.id;
  return (
    firstInvalid('site', [config.site], Site) ??
    firstInvalid('extension', config.extensions.filter((e) => e.siteId === siteId), Extension) ??
    firstInvalid('trunk', config.trunks, Trunk) ??
    firstInvalid('remote trunk', config.remoteTrunks, RemoteTrunk) ??
    firstInvalid('link', config.links, InterSiteLink)
  );
}
