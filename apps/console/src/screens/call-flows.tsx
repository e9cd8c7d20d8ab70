import { useState } from 'react';
import type { CallFlow, Page } from '../api/types';
import { Link } from '../router';
import { useApi, useSession } from '../session';
import { useDeleteWithPreview } from '../ui/delete-preview';
import { Banner, LoadState } from '../ui/feedback';
import { useLoad } from '../ui/use-load';

/** A site's call flows (IVRs, ring groups, office hours), each opened as a diagram. */
export function CallFlowsScreen({ siteId }: { siteId: string }) {
  const api = useApi();
  const { canWrite } = useSession();
  const [flows, reload] = useLoad(async () => (await api.get<Page<CallFlow>>('/call-flows', { siteId, limit: 1000 })).items, [api, siteId]);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const deletion = useDeleteWithPreview((m) => {
    setMessage(m);
    reload();
  });
  return (
    <section aria-labelledby="cf-title">
      <h1 id="cf-title">
        Call flows <span className="muted">at {siteId}</span>
      </h1>
      <p className="help">What happens to a call, drawn as steps: menus (“press 1 for sales”), ring groups, office hours, voicemail. Give a flow an internal number, or send a DID to it from an inbound route.</p>
      {message !== undefined && <Banner kind="ok">{message}</Banner>}
      {deletion.dialog}
      {canWrite(siteId) && (
        <p>
          <Link className="button primary" to={`/sites/${siteId}/flows/new`}>
            New call flow
          </Link>
        </p>
      )}
      <LoadState loaded={flows} what="call flows">
        {(list) =>
          list.length === 0 ? (
            <p>No call flows at this site yet.</p>
          ) : (
            <ul className="cards">
              {list.map((f) => (
                <li key={f.id} className="card">
                  <Link to={`/sites/${siteId}/flows/${f.id}`}>
                    <strong>{f.name}</strong>
                  </Link>
                  <div className="muted">
                    {f.number !== undefined ? `number ${f.number} · ` : ''}
                    {f.nodes.length} steps · starts at {f.entry}
                  </div>
                  {canWrite(siteId) && (
                    <button type="button" className="danger" onClick={() => { setMessage(undefined); deletion.ask({ path: `/call-flows/${encodeURIComponent(f.id)}`, label: `call flow ${f.name}`, id: f.id }); }} aria-label={`Delete call flow ${f.name}`}>
                      Delete
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </LoadState>
    </section>
  );
}
