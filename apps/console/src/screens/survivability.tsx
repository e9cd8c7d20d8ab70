import type { SurvivabilityReport, SurvivabilityRow, SurvivabilityScenario } from '../api/types';
import { Link } from '../router';
import { useApi } from '../session';
import { DataTable } from '../ui/data-table';
import { LoadState } from '../ui/feedback';
import { AREA_LABEL, StatusTag } from '../ui/survivability-table';
import { useLoad } from '../ui/use-load';

/**
 * "What keeps working when things break" (GET /sites/:siteId/survivability): one table per failure scenario -
 * the centre, each link, all links, each trunk, the agent - red flags first, scenarios with red flags first.
 */
export function SurvivabilityScreen({ siteId }: { siteId: string }) {
  const api = useApi();
  // Any configuration change may change the report (another site's range, a route, a link); health does not: the
  // scenarios are what-ifs, whatever is up right now.
  const [loaded] = useLoad(() => api.get<SurvivabilityReport>(`/sites/${encodeURIComponent(siteId)}/survivability`), [api, siteId], { topics: ['config'] });
  return (
    <section aria-labelledby="surv-title">
      <h1 id="surv-title">Survivability of {siteId}</h1>
      <p>
        What this office can still do when the centre, a link, a trunk or its agent fails: computed by the routing engine from the site’s
        current configuration, as its agent would decide. Try a single call in the <Link to="/trace">tracer</Link>.
      </p>
      <LoadState loaded={loaded} what="the survivability report">
        {(report) => <Report report={report} />}
      </LoadState>
    </section>
  );
}

function Report({ report }: { report: SurvivabilityReport }) {
  // Scenarios with red flags first (most first), the rest in the report's order.
  const scenarios = report.scenarios
    .map((s, i) => ({ s, i }))
    .sort((a, b) => b.s.redFlags - a.s.redFlags || a.i - b.i)
    .map(({ s }) => s);
  return (
    <>
      <p data-testid="surv-summary">
        Revision {report.revision}: <strong>{report.redFlags === 0 ? 'no red flags' : `${report.redFlags} red flag${report.redFlags === 1 ? '' : 's'}`}</strong> over{' '}
        {report.scenarios.length} scenarios.
      </p>
      {scenarios.map((s) => (
        <Scenario key={s.id} scenario={s} />
      ))}
    </>
  );
}

function Scenario({ scenario }: { scenario: SurvivabilityScenario }) {
  const headingId = `surv-${scenario.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <section className="surv-scenario" data-scenario={scenario.id} aria-labelledby={headingId}>
      <h2 id={headingId}>
        {scenario.title} {scenario.redFlags > 0 ? <StatusTag status="red-flag" /> : null}
        <span className="muted"> — {scenario.redFlags === 0 ? 'no red flags' : `${scenario.redFlags} red flag${scenario.redFlags === 1 ? '' : 's'}`}</span>
      </h2>
      <p className="muted">Assumes {scenario.assumes}.</p>
      <DataTable<SurvivabilityRow>
        label={scenario.title}
        rows={scenario.rows}
        rowKey={(r) => `${r.area}|${r.key}`}
        rowAttributes={(r) => ({ className: `surv-row-${r.status}`, 'data-status': r.status, 'data-area': r.area })}
        columns={[
          { header: 'Status', cell: (r) => <StatusTag status={r.status} /> },
          { header: 'What', cell: (r) => AREA_LABEL[r.area] },
          { header: 'Subject', rowHeader: true, cell: (r) => r.subject },
          { header: 'How', cell: (r) => (r.path === '' ? <span className="muted">—</span> : r.path) },
          { header: 'Why', cell: (r) => r.reason },
        ]}
      />
    </section>
  );
}
