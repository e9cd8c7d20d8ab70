import { useEffect, useState } from 'react';
import type { ActiveCallView, ActiveCallsView } from '../api/types';
import { useApi } from '../session';
import { DataTable } from '../ui/data-table';
import { LoadState } from '../ui/feedback';
import { useLoad } from '../ui/use-load';
import { formatDuration } from './overview';

/** Re-renders every second, for durations that grow while the screen is open. */
function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

/** The calls in progress at the caller's sites, as their agents report them: live, a call across sites as one row. */
export function ActiveCallsScreen() {
  const api = useApi();
  const [view] = useLoad(() => api.get<ActiveCallsView>('/active-calls'), [api], ['calls']);
  const now = useNow();
  return (
    <section aria-labelledby="calls-title">
      <h1 id="calls-title">Calls in progress</h1>
      <p className="help">
        What each site’s agent is serving now, updated as calls start and end. A call that crosses sites (sent over a link) is one row with every site
        it is at that you may see. A site missing from the counts has no recent report from its agent (offline or not connected).
      </p>
      <LoadState loaded={view} what="calls in progress">
        {(v) => (
          <>
            <p role="status" data-testid="calls-per-site">
              {v.sites.length === 0 ? 'No agent reports its calls now.' : v.sites.map((s) => `${s.siteId}: ${s.total}`).join(' · ')}
            </p>
            <DataTable<ActiveCallView>
              caption="Calls in progress"
              columns={[
                { header: 'Caller', rowHeader: true, cell: (c) => c.caller || '—' },
                { header: 'Callee', cell: (c) => c.callee || '—' },
                { header: 'Route', cell: (c) => c.routeKind ?? '—' },
                { header: 'Sites', cell: (c) => c.sites.join(' → ') },
                { header: 'Since', cell: (c) => <span title={new Date(c.since).toLocaleString()}>{formatDuration(Math.max(0, (now - Date.parse(c.since)) / 1000))}</span> },
                { header: 'Call id', className: 'muted', cell: (c) => c.callId },
              ]}
              rows={v.calls}
              rowKey={(c) => c.callId}
              rowAttributes={(c) => ({ 'data-call': c.callId })}
              empty="No calls in progress."
            />
          </>
        )}
      </LoadState>
    </section>
  );
}
