import { useState } from 'react';
import type { ClassOfService, NumberingPlanView, Page, Site } from '../api/types';
import { Link, navigate, useLocation } from '../router';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { DataTable, type Column } from '../ui/data-table';
import { Banner, LoadState } from '../ui/feedback';
import { NoAccess, useHasNoAccess } from '../ui/no-access';
import { ResourceForm } from '../ui/resource-form';
import { useLoad, valueOr } from '../ui/use-load';
import { newSiteDefaults, siteFormFields } from './site-fields';

/** A table's first column: the site's name, linking to its page, and its id. */
export const siteColumn: Column<Site> = {
  header: 'Site',
  rowHeader: true,
  cell: (s) => (
    <>
      <Link to={`/sites/${s.id}`}>{s.name}</Link> <span className="muted">{s.id}</span>
    </>
  ),
};

/** The offices of the federation; head office adds new ones here (a site admin sees only theirs). */
export function SitesScreen() {
  const api = useApi();
  const { headOffice } = useSession();
  const { loaded, sites, reload } = useSites();
  const [classes] = useLoad(async () => (await api.get<Page<ClassOfService>>('/classes-of-service', { limit: 1000 })).items, [api]);
  const [plan] = useLoad(() => api.get<NumberingPlanView>('/numbering-plan'), [api]);
  const [adding, setAdding] = useState(false);
  const decommissioned = useLocation().search.get('decommissioned');
  const noAccess = useHasNoAccess();

  return (
    <section aria-labelledby="sites-title">
      <h1 id="sites-title">Sites</h1>
      {decommissioned !== null && (
        <Banner kind="ok" title={`${decommissioned} was decommissioned`}>
          <p>Its objects are removed, its agent is cut off and its configuration is deleted from the bus; the offices it was linked to get new configuration.</p>
        </Banner>
      )}
      <p className="help">
        A site is one office with its own PBX. After creating it: give it a number range, connect its agent with an enrollment token, then add its
        phones and trunks.{!headOffice && ' Head office creates sites; you see the ones you manage.'}
      </p>
      {headOffice && !adding && (
        <div className="actions">
          <button type="button" className="primary" onClick={() => setAdding(true)}>
            Add a site
          </button>
        </div>
      )}
      {headOffice && adding && plan.state !== 'loading' && loaded.state !== 'loading' && (
        <ResourceForm<Site>
          title="New site"
          path="/sites"
          fields={siteFormFields('create', true, valueOr(classes, []))}
          defaults={newSiteDefaults(sites as Site[], valueOr(plan, undefined)?.numberRanges ?? [])}
          onSaved={(s) => {
            reload();
            setAdding(false);
            if (s !== undefined) navigate(`/sites/${encodeURIComponent(s.id)}?created=1`);
          }}
          onCancel={() => setAdding(false)}
        />
      )}
      {noAccess && <NoAccess />}
      <LoadState loaded={loaded} what="sites">
        {(list) => (
          <DataTable
            label="Sites"
            columns={[
              siteColumn,
              { header: 'Prefix', cell: (s) => `${s.prefix ?? '—'}${s.prefixRequired ? ' (private numbering)' : ''}` },
              { header: 'Time zone', cell: (s) => s.timezone },
              { header: 'Emergency numbers', cell: (s) => s.emergencyNumbers.join(', ') },
            ]}
            rows={list}
            rowKey={(s) => s.id}
            rowAttributes={(s) => ({ 'data-site-row': s.id })}
            empty={noAccess ? 'No site is open to your account.' : `No sites yet.${headOffice ? ' Add the first one: usually head office itself.' : ' Head office creates them.'}`}
          />
        )}
      </LoadState>
    </section>
  );
}
