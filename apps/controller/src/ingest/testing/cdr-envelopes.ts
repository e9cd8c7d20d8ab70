import type { AgentEventEnvelope, CdrEvent } from '@fedpbx/contracts';

/**
 * A valid CDR envelope for tests and benchmarks: `n` makes the call leg unique at the site, `start` is when the
 * call began (the API pages newest first on it).
 */
export function cdrEnvelope(siteId: string, n: number, overrides: Partial<CdrEvent> & { id?: string; at?: string } = {}): AgentEventEnvelope {
  const { id, at, ...event } = overrides;
  const start = event.start ?? new Date(Date.UTC(2026, 0, 1, 9, 0, 0) + n * 1000).toISOString();
  const end = event.end ?? new Date(Date.parse(start) + 30_000).toISOString();
  return {
    v: 1,
    id: id ?? `${siteId}-cdr-${n}`,
    siteId,
    at: at ?? end,
    event: {
      type: 'cdr',
      cdrId: `${siteId}-1700000000.${n}`,
      uniqueId: `1700000000.${n}`,
      linkedId: `1700000000.${n}`,
      start,
      answer: new Date(Date.parse(start) + 5000).toISOString(),
      end,
      durationSec: 30,
      billSec: 25,
      src: '101',
      dst: '302',
      disposition: 'ANSWERED',
      routeKind: 'site',
      targetSiteId: 'piter',
      snapshotRevision: 1,
      ...event,
    },
  };
}
