import { describe, expect, it } from 'vitest';
import type { RolloutRow } from './rollout.repository.js';
import { rolloutState, toSiteRollout } from './rollout-state.js';

const base: RolloutRow = {
  siteId: 'piter',
  currentRevision: 5,
  currentHash: 'sha256:x',
  publishedRevision: 5,
  publishedAt: new Date('2026-11-26T10:00:00Z'),
  appliedRevision: null,
  appliedAt: null,
  refusedRevision: null,
  refusedReason: null,
  refusedAt: null,
  behindSince: new Date('2026-11-26T09:59:00Z'),
  configFailure: null,
};
const row = (r: Partial<RolloutRow>): RolloutRow => ({ ...base, ...r });

describe('rollout state of a site', () => {
  const failure = {
    revision: 5,
    kind: 'render' as const,
    code: 'UNSAFE_VALUE',
    object: 'trunk t-moscow-city',
    field: 'secret',
    reason: 'a secret must not start with >',
    at: new Date('2026-11-26T10:00:02Z'),
  };

  it('is config-failed, not publishing, when the controller withheld the head for a stored value the rules refuse', () => {
    const withheld = { ...failure, code: 'invalid-stored-value' };
    const r = row({ publishedRevision: 4, appliedRevision: 4, configFailure: withheld });
    expect(rolloutState(r)).toBe('config-failed');
    expect(toSiteRollout(r, new Date('2026-11-26T10:00:10Z')).configFailure).toMatchObject({ revision: 5, object: 'trunk t-moscow-city', field: 'secret' });
    // An older controller shipped it and the agent refused it for that value (its config.failed names the object):
    // config-failed too, not refused.
    expect(rolloutState(row({ appliedRevision: 4, refusedRevision: 5, refusedReason: 'malformed: ...', refusedAt: new Date('2026-11-26T10:00:01Z'), configFailure: { ...failure, code: 'invalid-value' } }))).toBe('config-failed');
    // Fixed: the next revision is published and its failure no longer stands.
    expect(rolloutState(row({ currentRevision: 6, publishedRevision: 6, appliedRevision: 4, configFailure: withheld }))).toBe('applying');
  });

  it('is config-failed, never in-sync, when the agent applied the head but could not write its Asterisk files', () => {
    expect(rolloutState(row({ appliedRevision: 5, configFailure: failure }))).toBe('config-failed');
    const shown = toSiteRollout(row({ appliedRevision: 5, configFailure: failure }), new Date('2026-11-26T10:00:10Z'));
    expect(shown.state).toBe('config-failed');
    expect(shown.configFailure).toEqual({ ...failure, at: '2026-11-26T10:00:02.000Z' });
    // A newer head than the failed revision, not applied yet, reads as before (the failure stays on show).
    expect(rolloutState(row({ appliedRevision: 4, configFailure: { ...failure, revision: 4 } }))).toBe('applying');
    expect(rolloutState(row({ appliedRevision: 5 }))).toBe('in-sync');
  });

  it('is in-sync once the head revision is applied, whatever happened before', () => {
    expect(rolloutState(row({ appliedRevision: 5, refusedRevision: 4, refusedReason: 'bad' }))).toBe('in-sync');
  });

  it('is publishing while the bucket is behind the head (or empty)', () => {
    expect(rolloutState(row({ publishedRevision: null }))).toBe('publishing');
    expect(rolloutState(row({ publishedRevision: 4, appliedRevision: 4 }))).toBe('publishing');
  });

  it('is never-seen when published but the agent never reported, applying when it reported an older one', () => {
    expect(rolloutState(row({}))).toBe('never-seen');
    expect(rolloutState(row({ appliedRevision: 3 }))).toBe('applying');
  });

  it('is refused when the agent refused the published revision; a refusal of an older one no longer counts', () => {
    expect(rolloutState(row({ appliedRevision: 3, refusedRevision: 5, refusedReason: 'bad-signature' }))).toBe('refused');
    expect(rolloutState(row({ appliedRevision: 3, refusedRevision: 4, refusedReason: 'bad-signature' }))).toBe('applying');
    expect(toSiteRollout(row({ appliedRevision: 5, refusedRevision: 4, refusedReason: 'x' }), new Date()).refused).toBeNull();
  });

  it('says for how long a site has been behind, and nothing when in sync', () => {
    const now = new Date('2026-11-26T10:01:30Z');
    expect(toSiteRollout(row({ appliedRevision: 3 }), now)).toMatchObject({ behindSince: '2026-11-26T09:59:00.000Z', behindSec: 150 });
    expect(toSiteRollout(row({ appliedRevision: 5 }), now)).toMatchObject({ behindSince: null, behindSec: 0, state: 'in-sync' });
  });
});
