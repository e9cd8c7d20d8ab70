import { useState, type ReactNode } from 'react';
import { itemsOf } from '../api/client';
import type { AgentStatus, ClassOfService, NumberRange, Page, Site } from '../api/types';
import { Link, useLocation } from '../router';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { Banner, LoadState } from '../ui/feedback';
import { ResourceForm, type FieldDef } from '../ui/resource-form';
import { useLoad, valueOr } from '../ui/use-load';
import { EnrollmentPanel } from './enrollment';
import { AgentCredentialsPanel, DecommissionPanel } from './site-decommission';
import { siteFormFields, watchToText } from './site-fields';

const RANGE_FIELDS: FieldDef[] = [
  { name: 'from', label: 'First number', kind: 'text', inputMode: 'numeric', required: true, placeholder: '600', help: 'Digits only.' },
  { name: 'to', label: 'Last number', kind: 'text', inputMode: 'numeric', required: true, placeholder: '699', help: 'Same number of digits as the first.' },
  { name: 'pstnPrefix', label: 'PSTN prefix (optional)', kind: 'text', inputMode: 'tel', help: 'If these phones have direct-dial numbers: prefix + extension reaches them from outside.' },
  { name: 'description', label: 'Description (optional)', kind: 'text' },
];

/** What a site without a presence setting does (contracts PresenceSettings defaults). */
const DEFAULT_PRESENCE: NonNullable<Site['presence']> = { share: 'all', sharedNumbers: [], remoteHints: 'none', watch: [] };

function presenceText(site: Site): string {
  const p = site.presence ?? DEFAULT_PRESENCE;
  const shared = p.share === 'all' ? 'shares every extension' : p.share === 'none' ? 'shares none' : `shares ${p.sharedNumbers.join(', ') || 'none'}`;
  const shown = p.remoteHints === 'none' ? 'shows no other office' : p.remoteHints === 'all' ? 'shows every office it reaches' : `shows ${p.watch.map(watchToText).join(', ') || 'no other office'}`;
  return `${shared}; ${shown}`;
}

/** One office: its settings, its number ranges, its agent, and the way to everything else it owns. */
export function SitePageScreen({ siteId }: { siteId: string }) {
  const api = useApi();
  const { headOffice, canWrite } = useSession();
  const { reload: reloadSites } = useSites();
  const { search } = useLocation();
  const [site, reloadSite] = useLoad(async () => (await api.get<{ data: Site }>(`/sites/${encodeURIComponent(siteId)}`)).data, [api, siteId], { topics: ['config'], siteId, kinds: ['site'] });
  const [classes] = useLoad(async () => (await api.get<Page<ClassOfService>>('/classes-of-service', { limit: 1000 })).items, [api]);
  const [editing, setEditing] = useState(false);
  const [message, setMessage] = useState<string | undefined>(search.get('created') !== null ? 'Site created. Next: give it a number range, then connect its agent.' : undefined);

  return (
    <section aria-labelledby="site-title">
      <LoadState loaded={site} what="the site">
        {(s) => (
          <>
            <h1 id="site-title">
              {s.name} <span className="muted">{s.id}</span>
            </h1>
            {message !== undefined && <Banner kind="ok">{message}</Banner>}
            {editing ? (
              <ResourceForm<Site>
                title={`Settings of ${s.name}`}
                path="/sites"
                fields={siteFormFields('edit', headOffice, valueOr(classes, []))}
                existing={{ ...s, presence: s.presence ?? DEFAULT_PRESENCE }}
                onSaved={() => {
                  setEditing(false);
                  setMessage('Saved the site’s settings.');
                  reloadSite();
                  reloadSites();
                }}
                onCancel={() => setEditing(false)}
              />
            ) : (
              <SiteSummary site={s} classes={valueOr(classes, [])} {...(canWrite(s.id) ? { onEdit: () => { setMessage(undefined); setEditing(true); } } : {})} headOffice={headOffice} />
            )}
            <SiteRanges siteId={s.id} />
            <AgentPanel siteId={s.id} />
            <nav className="card" aria-label="This site">
              <h2>Everything else at {s.name}</h2>
              <ul className="next-steps">
                <li><Link to={`/sites/${s.id}/extensions`}>Extensions</Link> — the office’s phones.</li>
                <li><Link to={`/sites/${s.id}/trunks`}>Trunks</Link> — its connections to a telephone carrier.</li>
                <li><Link to={`/sites/${s.id}/inbound`}>Inbound numbers (DIDs)</Link> — where calls from outside go.</li>
                <li><Link to={`/sites/${s.id}/flows`}>Call flows</Link> — menus, ring groups, office hours.</li>
                <li><Link to={`/sites/${s.id}/revisions`}>Revisions</Link> — every saved configuration: compare and roll back.</li>
                <li><Link to={`/sites/${s.id}/survivability`}>Survivability</Link> — what keeps working when the centre, a link, a trunk or the agent fails.</li>
              </ul>
            </nav>
            <DecommissionPanel siteId={s.id} siteName={s.name} />
          </>
        )}
      </LoadState>
    </section>
  );
}

/** The site's settings; `onEdit` absent (a caller who may not write the site) leaves the edit button out. */
function SiteSummary({ site, classes, onEdit, headOffice }: { site: Site; classes: readonly ClassOfService[]; onEdit?: () => void; headOffice: boolean }) {
  const row = (label: string, value: ReactNode): ReactNode => (
    <>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </>
  );
  const cos = classes.find((c) => c.id === site.defaultClassOfServiceId);
  return (
    <div className="card">
      <h2>Settings</h2>
      <dl className="summary-list">
        {row('Prefix', site.prefix === undefined ? '— (other offices cannot dial in with a prefix)' : `${site.prefix}${site.prefixRequired ? ' — private numbering: other offices must dial it' : ''}`)}
        {row('Time zone', site.timezone)}
        {row('Default class of service', cos !== undefined ? cos.name : site.defaultClassOfServiceId ?? 'none')}
        {row('Dialling ceiling', site.classOfServiceCeiling.join(', '))}
        {row('Emergency numbers', site.emergencyNumbers.join(', '))}
        {row('Main number', site.mainNumber ?? '—')}
        {row('Recording', `${site.recording.interSite ? 'calls between offices' : 'not between offices'}; ${site.recording.external ? 'outside calls' : 'not outside calls'}; kept ${site.recording.retentionDays} days`)}
        {row('Busy lamps', presenceText(site))}
        {row('Network', site.network.vpnAddress === undefined && site.network.sipHost === undefined ? `no VPN address yet (SIP port ${site.network.sipPort})` : `VPN ${site.network.vpnAddress ?? '—'} · SIP ${site.network.sipHost ?? site.network.vpnAddress ?? ''}:${site.network.sipPort}`)}
      </dl>
      {onEdit !== undefined && !headOffice && <p className="help">Head office sets the prefix and the dialling ceiling.</p>}
      {onEdit !== undefined && (
        <button type="button" onClick={onEdit}>
          Edit settings
        </button>
      )}
    </div>
  );
}

/** The site's number ranges, with add/edit in place (the numbering plan shows every site's together). */
function SiteRanges({ siteId }: { siteId: string }) {
  const api = useApi();
  const writable = useSession().canWrite(siteId);
  const [ranges, reload] = useLoad(async () => (await api.get<Page<NumberRange>>('/number-ranges', { siteId, limit: 1000 })).items, [api, siteId], { topics: ['config'], siteId, kinds: ['numberRange'] });
  const [editing, setEditing] = useState<NumberRange | 'new' | undefined>(undefined);
  return (
    <section className="card" aria-labelledby="ranges-title">
      <h2 id="ranges-title">Number ranges</h2>
      <p className="help">
        The internal numbers this office’s phones use, e.g. 600–699. See them beside every other office’s in the <Link to="/numbering">numbering plan</Link>.
      </p>
      <LoadState loaded={ranges} what="number ranges">
        {(list) =>
          list.length === 0 ? (
            <p>No number range yet{writable ? ': add one before adding phones' : ''}.</p>
          ) : (
            <ul aria-label="Number ranges of this site">
              {list.map((r) => (
                <li key={r.id} data-range={r.id}>
                  {r.from}–{r.to} {r.description !== undefined && <span className="muted">{r.description}</span>}{' '}
                  {writable && (
                    <button type="button" className="link" onClick={() => setEditing(r)} aria-label={`Edit range ${r.from}–${r.to}`}>
                      Edit
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </LoadState>
      {!writable ? null : editing === undefined ? (
        <button type="button" onClick={() => setEditing('new')}>
          Add a number range
        </button>
      ) : (
        <ResourceForm<NumberRange>
          key={editing === 'new' ? 'new' : editing.id}
          title={editing === 'new' ? 'New number range' : `Edit range ${editing.from}–${editing.to}`}
          path="/number-ranges"
          fields={RANGE_FIELDS}
          {...(editing !== 'new' ? { existing: editing } : {})}
          fixed={{ siteId }}
          onSaved={() => {
            setEditing(undefined);
            reload();
          }}
          onCancel={() => setEditing(undefined)}
        />
      )}
    </section>
  );
}

function AgentPanel({ siteId }: { siteId: string }) {
  const api = useApi();
  const [agents] = useLoad(async () => itemsOf(await api.get<{ items: AgentStatus[] } | AgentStatus[]>('/agents')), [api], { topics: ['agents', 'health', 'rollout'], siteId });
  const agent = valueOr(agents, []).find((a) => a.siteId === siteId);
  return (
    <>
      {agents.state === 'ok' && (
        <p>
          Agent:{' '}
          {agent === undefined || agent.lastSeenAt === null ? (
            <span className="pill pill-unknown">never connected</span>
          ) : (
            <>
              <span className={`pill ${agent.online ? 'pill-ok' : 'pill-bad'}`}>{agent.online ? 'online' : 'offline'}</span>{' '}
              <span className="muted">
                {agent.agentVersion !== null ? `version ${agent.agentVersion}, ` : ''}running revision {agent.appliedRevision ?? 'none'}
                {agent.lastSeenAt !== null ? `, last seen ${new Date(agent.lastSeenAt).toLocaleString()}` : ''}
              </span>
            </>
          )}
        </p>
      )}
      {agent !== undefined && agent.alarms.length > 0 && (
        <ul className="alarms" aria-label="agent alarms">
          {agent.alarms.map((a) => (
            <li key={a.code} data-alarm={a.code}>
              <span className={`pill ${a.severity === 'critical' ? 'pill-bad' : 'pill-unknown'}`}>{a.severity}</span> <strong>{a.code}</strong>: {a.message}{' '}
              <span className="muted">since {new Date(a.since).toLocaleString()}</span>
            </li>
          ))}
        </ul>
      )}
      <EnrollmentPanel siteId={siteId} />
      <AgentCredentialsPanel siteId={siteId} />
    </>
  );
}
