import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { Answered, OutboundRoute, Page, Trunk, TrunkPreference, WriteResponse } from '../api/types';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { DataTable } from '../ui/data-table';
import { useDeleteWithPreview } from '../ui/delete-preview';
import { Banner, ErrorBanner, ImpactPreview, LoadState } from '../ui/feedback';
import { Field, problemsByField } from '../ui/field';
import { useLoad, valueOr } from '../ui/use-load';
import { TrunkOrder, type TrunkLabel } from './trunk-order';

const CALL_CLASSES = ['local', 'national', 'international', 'premium', 'emergency'] as const;

/** Outbound routes: which dialled numbers leave through which trunks, in order of preference, across sites. */
export function OutboundRoutesScreen() {
  const api = useApi();
  const { headOffice } = useSession();
  const [routes, reload] = useLoad(async () => (await api.get<Page<OutboundRoute>>('/outbound-routes', { limit: 1000 })).items, [api], { topics: ['config'], kinds: ['outboundRoute'] });
  const [trunks] = useLoad(async () => (await api.get<Page<Answered<Trunk, 'secret'>>>('/trunks', { limit: 1000 })).items, [api]);
  const [editing, setEditing] = useState<OutboundRoute | 'new' | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const deletion = useDeleteWithPreview((m) => {
    setMessage(m);
    reload();
  });
  const labels: TrunkLabel[] = valueOr(trunks, []).map((t) => ({ id: t.id, label: `${t.name} at ${t.siteId}` }));

  return (
    <section aria-labelledby="or-title">
      <h1 id="or-title">Outbound routes</h1>
      <p className="help">
        A route matches dialled numbers by pattern (<code>_8812XXXXXXX</code>: X is any digit, <code>_X.</code> one or more) and tries its trunks in order. A trunk at another site is reached over the link (tail-end hop-off).
        {!headOffice && ' Only head office changes routes; you see the ones that apply to your sites.'}
      </p>
      {message !== undefined && <Banner kind="ok">{message}</Banner>}
      {deletion.dialog}
      {headOffice && editing === undefined && (
        <div className="actions">
          <button type="button" className="primary" onClick={() => { setMessage(undefined); setEditing('new'); }}>Add a route</button>
        </div>
      )}
      {editing !== undefined && (
        <RouteForm
          key={editing === 'new' ? 'new' : editing.id}
          route={editing === 'new' ? undefined : editing}
          trunks={labels}
          onDone={(m) => { setEditing(undefined); setMessage(m); reload(); }}
          onCancel={() => setEditing(undefined)}
        />
      )}
      <LoadState loaded={routes} what="outbound routes">
        {(list) => (
          <DataTable
            label="Outbound routes"
            columns={[
              { header: 'Route', rowHeader: true, cell: (r) => r.name },
              { header: 'Patterns', cell: (r) => <code>{r.patterns.join(' ')}</code> },
              { header: 'Class', cell: (r) => r.callClass },
              { header: 'From sites', cell: (r) => (r.sites.length === 0 ? 'all' : r.sites.join(', ')) },
              {
                header: 'Trunks, in order',
                cell: (r) => (
                  <ol className="compact">
                    {r.trunks.map((t, i) => <li key={i}>{labels.find((l) => l.id === t.trunkId)?.label ?? t.trunkId}</li>)}
                  </ol>
                ),
              },
              {
                header: 'Actions',
                hideHeader: true,
                cell: (r) =>
                  headOffice && (
                    <>
                      <button type="button" onClick={() => { setMessage(undefined); setEditing(r); }} aria-label={`Edit route ${r.name}`}>Edit</button>
                      <button type="button" className="danger" onClick={() => { setMessage(undefined); deletion.ask({ path: `/outbound-routes/${encodeURIComponent(r.id)}`, label: `route ${r.name}`, id: r.id }); }} aria-label={`Delete route ${r.name}`}>
                        Delete
                      </button>
                    </>
                  ),
              },
            ]}
            rows={list}
            rowKey={(r) => r.id}
          />
        )}
      </LoadState>
    </section>
  );
}

function RouteForm({ route, trunks, onDone, onCancel }: { route: OutboundRoute | undefined; trunks: readonly TrunkLabel[]; onDone: (message: string) => void; onCancel: () => void }) {
  const api = useApi();
  const { sites } = useSites();
  const [name, setName] = useState(route?.name ?? '');
  const [patterns, setPatterns] = useState(route?.patterns.join(', ') ?? '');
  const [callClass, setCallClass] = useState<string>(route?.callClass ?? 'national');
  const [originSites, setOriginSites] = useState<string[]>(route?.sites ?? []);
  const [order, setOrder] = useState<TrunkPreference[]>(route?.trunks.map((t) => ({ ...t })) ?? []);
  const [error, setError] = useState<unknown>(undefined);
  const [preview, setPreview] = useState<WriteResponse | undefined>(undefined);
  const problems = error instanceof ApiError ? problemsByField(error.problems) : {};

  const send = async (dryRun: boolean): Promise<void> => {
    setError(undefined);
    setPreview(undefined);
    const body = { ...(route !== undefined ? { id: route.id } : {}), name: name.trim(), patterns: patterns.split(',').map((p) => p.trim()).filter(Boolean), callClass, sites: originSites, trunks: order };
    try {
      const q = dryRun ? { dryRun: true } : undefined;
      const answer = route === undefined ? await api.post<WriteResponse>('/outbound-routes', body, q) : await api.put<WriteResponse>(`/outbound-routes/${encodeURIComponent(route.id)}`, body, q);
      if (dryRun) setPreview(answer);
      else onDone(`Saved route ${body.name}.`);
    } catch (e) {
      setError(e);
    }
  };
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void send(false);
  };

  return (
    <form className="card form" onSubmit={submit} aria-label={route === undefined ? 'New outbound route' : `Edit route ${route.name}`} noValidate>
      <h3>{route === undefined ? 'New outbound route' : `Edit ${route.name}`}</h3>
      <div className="form-grid">
        <Field label="Name" {...(problems['name'] !== undefined ? { error: problems['name'] } : {})}>{(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Patterns" help="Comma-separated, e.g. _8812XXXXXXX, _810X." {...(problems['patterns'] !== undefined ? { error: problems['patterns'] } : {})}>
          {(p) => <input {...p} value={patterns} onChange={(e) => setPatterns(e.target.value)} />}
        </Field>
        <Field label="Call class" help="Decides who may use the route (class of service)." {...(problems['callClass'] !== undefined ? { error: problems['callClass'] } : {})}>
          {(p) => (
            <select {...p} value={callClass} onChange={(e) => setCallClass(e.target.value)}>
              {CALL_CLASSES.map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          )}
        </Field>
      </div>
      <fieldset>
        <legend>Used by calls from (none ticked: every site)</legend>
        {sites.map((s) => (
          <label key={s.id} className="check">
            <input type="checkbox" checked={originSites.includes(s.id)} onChange={(e) => setOriginSites((old) => (e.target.checked ? [...old, s.id] : old.filter((x) => x !== s.id)))} /> {s.name}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Trunk preferences</legend>
        <TrunkOrder value={order} onChange={setOrder} trunks={trunks} />
        {problems['trunks'] !== undefined && <small className="field-error" role="alert">{problems['trunks']}</small>}
      </fieldset>
      {error !== undefined && <ErrorBanner error={error} />}
      {preview !== undefined && <ImpactPreview preview={preview} />}
      <div className="actions">
        <button type="button" onClick={() => void send(true)}>Preview impact</button>
        <button type="submit" className="primary">{route === undefined ? 'Create' : 'Save'}</button>
        <button type="button" className="link" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
