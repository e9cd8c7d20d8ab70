import type { AgentEventEnvelope } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { groupEvents } from './event-batch.js';
import { cdrEnvelope } from './testing/cdr-envelopes.js';

const heartbeat = (siteId: string, at: string, appliedRevision: number): AgentEventEnvelope => ({
  v: 1,
  id: `${siteId}-hb-${at}`,
  siteId,
  at,
  event: { type: 'heartbeat', agentVersion: '1.0.0', appliedRevision, uptimeSec: 5, agiSessionsActive: 0, amiConnected: true },
});

describe('groupEvents', () => {
  it('keeps only the newest status per key, whatever the arrival order', () => {
    const b = groupEvents([heartbeat('moscow', '2026-01-01T10:00:10Z', 3), heartbeat('moscow', '2026-01-01T10:00:00Z', 2), heartbeat('piter', '2026-01-01T09:00:00Z', 7)]);
    expect(b.heartbeats.map((h) => [h.site_id, h.applied_revision, h.at])).toEqual([
      ['moscow', 3, '2026-01-01T10:00:10.000Z'],
      ['piter', 7, '2026-01-01T09:00:00.000Z'],
    ]);
  });

  it('compares status times with offsets by the instant they name', () => {
    const b = groupEvents([heartbeat('moscow', '2026-01-01T12:00:05+03:00', 9), heartbeat('moscow', '2026-01-01T09:00:04.999Z', 8)]);
    expect(b.heartbeats).toMatchObject([{ applied_revision: 9, at: '2026-01-01T09:00:05.000Z' }]);
  });

  it('maps a CDR to its row with the envelope id', () => {
    const b = groupEvents([cdrEnvelope('moscow', 1)]);
    expect(b.cdrs[0]).toMatchObject({ site_id: 'moscow', cdr_id: 'moscow-1700000000.1', event_id: 'moscow-cdr-1', route_kind: 'site', trunk_id: null, recording_file: null });
  });

  it('orders snapshot outcomes by the agent\'s time', () => {
    const b = groupEvents([
      { v: 1, id: 'r', siteId: 'moscow', at: '2026-01-01T10:00:05Z', event: { type: 'snapshot.refused', revision: 4, reason: 'bad signature' } },
      { v: 1, id: 'a', siteId: 'moscow', at: '2026-01-01T10:00:00Z', event: { type: 'snapshot.applied', revision: 3, contentHash: 'h' } },
    ]);
    expect(b.snapshots.map((s) => [s.revision, s.refusedReason])).toEqual([
      [3, undefined],
      [4, 'bad signature'],
    ]);
  });
});
