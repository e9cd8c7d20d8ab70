import type { LiveEvent } from '@fedpbx/contracts';
import type { Scope } from '../access/scope.js';

/**
 * The event as `scope` may see it: only the sites it may read are named, and an event of none of its sites is
 * not sent at all (a branch admin learns nothing of other sites, not even that they changed). A federation-wide
 * event (no sites: a class of service, the hub) reaches everyone, as those objects are readable by everyone.
 */
export function liveEventFor(scope: Scope, event: LiveEvent): LiveEvent | undefined {
  if (event.siteIds.length === 0 || scope.headOffice) return event;
  const siteIds = event.siteIds.filter((s) => scope.canRead(s));
  return siteIds.length === 0 ? undefined : { ...event, siteIds };
}

/** Merges events of the same topic and kind (one batch of agent events touches many sites): one event each. */
export function mergeLiveEvents(events: readonly LiveEvent[]): LiveEvent[] {
  const merged = new Map<string, { topic: LiveEvent['topic']; kind?: string; sites: Set<string>; wide: boolean }>();
  for (const e of events) {
    const key = `${e.topic}\u0000${e.kind ?? ''}`;
    let m = merged.get(key);
    if (m === undefined) merged.set(key, (m = { topic: e.topic, ...(e.kind !== undefined ? { kind: e.kind } : {}), sites: new Set(), wide: false }));
    if (e.siteIds.length === 0) m.wide = true;
    for (const s of e.siteIds) m.sites.add(s);
  }
  // A federation-wide change and a per-site one of the same kind: the wide one says it all.
  return [...merged.values()].map((m) => ({ topic: m.topic, ...(m.kind !== undefined ? { kind: m.kind } : {}), siteIds: m.wide ? [] : [...m.sites].sort() }));
}
