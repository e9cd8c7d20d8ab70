import type { RolloutState, SiteRollout } from '@fedpbx/contracts';
import type { RolloutRow } from './rollout.repository.js';

/**
 * Where a site stands, from its head revision, what its bucket holds and what its agent reported:
 * config-failed (the head's Asterisk files could not be made: the agent's render or write failed, or the controller
 * withheld the head because a stored value breaks the value rules - with the object named either way; the site runs
 * its last good revision) > in-sync (applied the head, and its Asterisk files written) > publishing
 * (the bucket is behind the head) > refused (the agent refused the published revision and applied nothing newer)
 * > never-seen (published, never a report) > applying.
 */
export function rolloutState(r: RolloutRow): RolloutState {
  const current = r.currentRevision ?? 0;
  if (r.configFailure !== null && r.configFailure.revision >= current) return 'config-failed';
  if (r.appliedRevision !== null && r.appliedRevision >= current) return r.configFailure !== null ? 'config-failed' : 'in-sync';
  if (r.publishedRevision === null || r.publishedRevision < current) return 'publishing';
  const refused = openRefusal(r);
  if (refused !== null && refused >= r.publishedRevision) return 'refused';
  if (r.appliedRevision === null && r.refusedRevision === null) return 'never-seen';
  return 'applying';
}

/** The revision of a refusal still standing (of a revision newer than the one applied), or null. */
const openRefusal = (r: RolloutRow): number | null => (r.refusedRevision !== null && r.refusedRevision > (r.appliedRevision ?? 0) ? r.refusedRevision : null);

export function toSiteRollout(r: RolloutRow, now: Date): SiteRollout {
  const state = rolloutState(r);
  const behindSince = state === 'in-sync' ? null : r.behindSince;
  const refused = openRefusal(r);
  return {
    siteId: r.siteId,
    currentRevision: r.currentRevision ?? 0,
    currentHash: r.currentHash,
    publishedRevision: r.publishedRevision,
    publishedAt: r.publishedAt?.toISOString() ?? null,
    appliedRevision: r.appliedRevision,
    appliedAt: r.appliedAt?.toISOString() ?? null,
    refused: refused !== null ? { revision: refused, reason: r.refusedReason ?? '', at: (r.refusedAt ?? now).toISOString() } : null,
    configFailure: r.configFailure === null ? null : { ...r.configFailure, at: r.configFailure.at.toISOString() },
    state,
    behindSince: behindSince?.toISOString() ?? null,
    behindSec: behindSince === null ? 0 : Math.max(0, (now.getTime() - behindSince.getTime()) / 1000),
  };
}
