import type { SurvivabilityChange, SurvivabilityRow, SurvivabilityStatus } from '../api/types';
import { DataTable } from './data-table';

const STATUS_LABEL: Record<SurvivabilityStatus, string> = {
  'red-flag': 'Red flag',
  degraded: 'Degraded',
  works: 'Works',
  'not-available': 'Not available',
};

export const AREA_LABEL: Record<SurvivabilityRow['area'], string> = {
  emergency: 'Emergency',
  numbers: 'Numbers',
  outbound: 'Outbound',
  inbound: 'Inbound (DID)',
  'call-flow': 'Call flow',
  cdrs: 'Call records',
  presence: 'Presence',
};

export function StatusTag({ status }: { status: SurvivabilityStatus }) {
  return <span className={`surv-status surv-${status}`}>{STATUS_LABEL[status]}</span>;
}

/** A dry run's survivability section: what the pending change does to what the sites keep when things fail. */
export function SurvivabilityChanges({ changes, sitesNotCompared }: { changes: readonly SurvivabilityChange[]; sitesNotCompared: readonly string[] }) {
  if (changes.length === 0 && sitesNotCompared.length === 0) return <p data-testid="surv-changes">Survivability: nothing changes.</p>;
  return (
    <div data-testid="surv-changes">
      <p>Survivability: what this change does when things fail{sitesNotCompared.length > 0 ? ` (not compared: ${sitesNotCompared.join(', ')})` : ''}.</p>
      <DataTable<SurvivabilityChange>
        label="Survivability changes"
        rows={changes}
        rowKey={(c) => `${c.siteId}|${c.scenarioId}|${c.area}|${c.subject}`}
        rowAttributes={(c) => ({ 'data-status': c.after?.status ?? 'gone' })}
        columns={[
          { header: 'Site', cell: (c) => c.siteId },
          { header: 'Scenario', cell: (c) => c.scenarioTitle },
          { header: 'Subject', rowHeader: true, cell: (c) => `${AREA_LABEL[c.area]}: ${c.subject}` },
          { header: 'Before', cell: (c) => (c.before === undefined ? '—' : <><StatusTag status={c.before.status} /> {c.before.path}</>) },
          { header: 'After', cell: (c) => (c.after === undefined ? '— (gone)' : <><StatusTag status={c.after.status} /> {c.after.path === '' ? c.after.reason : c.after.path}</>) },
        ]}
      />
    </div>
  );
}
