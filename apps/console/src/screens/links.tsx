import { useState } from 'react';
import type { Answered, InterSiteLink, NumberingPlanView, Page, WriteResponse } from '../api/types';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { DataTable } from '../ui/data-table';
import { useDeleteWithPreview } from '../ui/delete-preview';
import { Banner, ErrorBanner, ImpactPreview, LoadState } from '../ui/feedback';
import { useLoad } from '../ui/use-load';

type LinkRow = Answered<InterSiteLink, 'secret'>;
type Topology = 'full-mesh' | 'hub-and-spoke';

/**
 * Inter-site links: the SIP trunks between offices that carry calls from one to another (over the VPN). Head
 * office generates them from the sites, as a full mesh or as hub and spokes; everyone sees the ones they touch.
 */
export function LinksScreen() {
  const api = useApi();
  const { headOffice } = useSession();
  const { sites } = useSites();
  const [links, reloadLinks] = useLoad(async () => (await api.get<Page<LinkRow>>('/links', { limit: 1000 })).items, [api], { topics: ['config', 'health'], kinds: ['link', 'site'] });
  const [plan, reloadPlan] = useLoad(() => api.get<NumberingPlanView>('/numbering-plan'), [api], { topics: ['config'], kinds: ['federation', 'site', 'numberRange'] });
  const [message, setMessage] = useState<string | undefined>(undefined);
  const deletion = useDeleteWithPreview((m) => {
    setMessage(m);
    reloadLinks();
  });
  const hub = plan.state === 'ok' ? plan.value.hubSiteId : undefined;
  const name = (id: string): string => sites.find((s) => s.id === id)?.name ?? id;

  return (
    <section aria-labelledby="links-title">
      <h1 id="links-title">Links between sites</h1>
      <p className="help">
        A link is the direct connection between two offices’ PBXs (a SIP trunk through the VPN) that carries calls between them. Its password is
        generated and only the two offices get it. Link health is on the <a href="/">federation overview</a>.
      </p>
      {hub !== undefined && <p>Hub: <strong>{name(hub)}</strong> — offices without a direct link call each other through it.</p>}
      {message !== undefined && <Banner kind="ok">{message}</Banner>}
      {deletion.dialog}
      {headOffice && (
        <GenerateLinks
          hubDefault={hub ?? sites[0]?.id}
          onDone={(m) => {
            setMessage(m);
            reloadLinks();
            reloadPlan();
          }}
        />
      )}
      <LoadState loaded={links} what="links">
        {(list) => (
          <DataTable
            label="Links"
            columns={[
              { header: 'Between', rowHeader: true, cell: (l) => `${name(l.a)} ⇄ ${name(l.b)}` },
              { header: 'How the two ends recognise each other', cell: (l) => (l.mode === 'ip' ? 'by VPN address' : `${name(l.registrant ?? '?')} registers to the other`) },
              { header: 'Codecs', cell: (l) => l.codecs.join(', ') },
              { header: 'Password', cell: (l) => (l.secretSet ? 'set' : 'not set') },
              ...(headOffice
                ? [
                    {
                      header: 'Actions',
                      hideHeader: true,
                      cell: (l: LinkRow) => (
                        <button
                          type="button"
                          className="danger"
                          onClick={() => { setMessage(undefined); deletion.ask({ path: `/links/${encodeURIComponent(l.id)}`, label: `link ${l.a} ⇄ ${l.b}`, id: l.id }); }}
                          aria-label={`Delete link ${l.a} ⇄ ${l.b}`}
                        >
                          Delete
                        </button>
                      ),
                    },
                  ]
                : []),
            ]}
            rows={list}
            rowKey={(l) => l.id}
            rowAttributes={(l) => ({ 'data-link': l.id })}
            empty={`No links yet: offices cannot call each other until they are linked.${headOffice ? ' Generate them above.' : ' Head office creates them.'}`}
          />
        )}
      </LoadState>
    </section>
  );
}

function GenerateLinks({ hubDefault, onDone }: { hubDefault: string | undefined; onDone: (m: string) => void }) {
  const api = useApi();
  const { sites } = useSites();
  const [topology, setTopology] = useState<Topology>('full-mesh');
  const [hubSiteId, setHub] = useState(hubDefault ?? '');
  const [preview, setPreview] = useState<WriteResponse | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const send = async (dryRun: boolean): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setPreview(undefined);
    try {
      const body = topology === 'full-mesh' ? { topology } : { topology, hubSiteId };
      const answer = await api.post<WriteResponse>('/links/generate', body, dryRun ? { dryRun: true } : undefined);
      if (dryRun) setPreview(answer);
      else onDone(answer.changedSites.length === 0 ? 'Every link was already there: nothing changed.' : `Links generated. Sites being updated: ${answer.changedSites.join(', ')}.`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card form"
      aria-label="Generate links"
      onSubmit={(e) => {
        e.preventDefault();
        void send(false);
      }}
    >
      <h3>Generate links</h3>
      <p className="help">Links that already exist are kept; missing ones are created with fresh passwords.</p>
      <fieldset>
        <legend>Shape</legend>
        <label className="check">
          <input type="radio" name="topology" value="full-mesh" checked={topology === 'full-mesh'} onChange={() => { setTopology('full-mesh'); setPreview(undefined); }} /> Full mesh
        </label>
        <small className="help">Every office links to every other: calls go direct, and one office being down affects only its own calls. Best for a few offices ({sites.length} now: {(sites.length * (sites.length - 1)) / 2} links).</small>
        <label className="check">
          <input type="radio" name="topology" value="hub-and-spoke" checked={topology === 'hub-and-spoke'} onChange={() => { setTopology('hub-and-spoke'); setPreview(undefined); }} /> Hub and spoke
        </label>
        <small className="help">Every office links only to the hub (usually head office), and offices call each other through it. Fewer links for many offices, but the hub must be up.</small>
        {topology === 'hub-and-spoke' && (
          <div className="inline">
            <label htmlFor="hub-site">Hub</label>
            <select id="hub-site" value={hubSiteId} onChange={(e) => { setHub(e.target.value); setPreview(undefined); }}>
              {sites.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </div>
        )}
      </fieldset>
      {error !== undefined && <ErrorBanner error={error} />}
      {preview !== undefined && <ImpactPreview preview={preview} />}
      <div className="actions">
        <button type="button" onClick={() => void send(true)} disabled={busy}>
          Preview impact
        </button>
        <button type="submit" className="primary" disabled={busy}>
          Generate links
        </button>
      </div>
    </form>
  );
}
