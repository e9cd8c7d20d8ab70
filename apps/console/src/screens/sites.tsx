import { useState } from 'react';
import type { ClassOfService, NumberingPlanView, Page, Site } from '../api/types';
import { Link, navigate } from '../router';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { LoadState } from '../ui/feedback';
import { ResourceForm } from '../ui/resource-form';
import { useLoad, valueOr } from '../ui/use-load';
import { newSiteDefaults, siteFormFields } from './site-fields';

/** The offices of the federation; head office adds new ones here (a site admin sees only theirs). */
export function SitesScreen() {
  const api = useApi();
  const { headOffice } = useSession();
  const { loaded, sites, reload } = useSites();
  const [classes] = useLoad(async () => (await api.get<Page<ClassOfService>>('/classes-of-service', { limit: 1000 })).items, [api]);
  const [plan] = useLoad(() => api.get<NumberingPlanView>('/numbering-plan'), [api]);
  const [adding, setAdding] = useState(false);

  return (
    <section aria-labelledby="sites-title">
      <h1 id="sites-title">Sites</h1>
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
      <LoadState loaded={loaded} what="sites">
        {(list) =>
          list.length === 0 ? (
            <p>No sites yet.{headOffice ? ' Add the first one: usually head office itself.' : ''}</p>
          ) : (
            <div className="table-wrap">
              <table aria-label="Sites">
                <thead>
                  <tr>
                    <th scope="col">Site</th>
                    <th scope="col">Prefix</th>
                    <th scope="col">Time zone</th>
                    <th scope="col">Emergency numbers</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((s) => (
                    <tr key={s.id} data-site-row={s.id}>
                      <th scope="row">
                        <Link to={`/sites/${s.id}`}>{s.name}</Link> <span className="muted">{s.id}</span>
                      </th>
                      <td>
                        {s.prefix ?? '—'}
                        {s.prefixRequired ? ' (private numbering)' : ''}
                      </td>
                      <td>{s.timezone}</td>
                      <td>{s.emergencyNumbers.join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </LoadState>
    </section>
  );
}
