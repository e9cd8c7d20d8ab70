import { useState, type ReactNode } from 'react';
import type { AgentCredential, AgentCredentialsPage, AgentCredentialsRevocation, DecommissionOutcome, RevocationPushState } from '../api/types';
import { navigate } from '../router';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { Banner, ErrorBanner, IssueList, LoadState } from '../ui/feedback';
import { DataTable, type Column } from '../ui/data-table';
import { useLoad } from '../ui/use-load';

const when = (iso: string): string => new Date(iso).toLocaleString();
const shortKey = (k: string): string => `${k.slice(0, 8)}…${k.slice(-4)}`;
const PILL: Record<AgentCredential['state'], string> = { active: 'pill-ok', expired: 'pill-unknown', revoked: 'pill-bad' };

/** Where the hub stands with revocations, in words (what an admin must know after revoking). */
function revocationText(r: RevocationPushState): { kind: 'ok' | 'warning' | 'error'; text: string } {
  switch (r.state) {
    case 'current':
      return { kind: 'ok', text: `The NATS hub has every revocation${r.lastPushedAt !== undefined ? ` (last sent ${when(r.lastPushedAt)})` : ''}.` };
    case 'pending':
      return { kind: 'warning', text: 'Revocations are being sent to the NATS hub.' };
    case 'failing':
      return { kind: 'error', text: `The NATS hub has not taken the latest revocations yet (retrying): ${r.lastError ?? 'unknown error'}. Revoked agents can connect until it does.` };
    case 'unavailable':
      return { kind: 'warning', text: `This controller cannot revoke at the NATS hub: ${r.reason ?? ''}. Revoked credentials end when they expire.` };
  }
}

/**
 * The site agent's NATS credentials: short-lived, renewed by the agent itself, listed by public key (never a
 * secret). Head office revokes them all when the office's box is replaced or lost: the old box is cut off at
 * once and the site's link secrets are replaced; the new box enrolls with a new token.
 */
export function AgentCredentialsPanel({ siteId }: { siteId: string }) {
  const api = useApi();
  const { headOffice } = useSession();
  const path = `/sites/${encodeURIComponent(siteId)}/agent-credentials`;
  const [page, reload] = useLoad(async () => api.get<AgentCredentialsPage>(path), [api, path]);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<AgentCredentialsRevocation | undefined>(undefined);

  const revoke = async (): Promise<void> => {
    if (!window.confirm(`Revoke every NATS credential of ${siteId}'s agent? The box is disconnected at once and must be enrolled again with a new token; the secrets of ${siteId}'s links are replaced.`)) return;
    setError(undefined);
    try {
      setDone(await api.post<AgentCredentialsRevocation>(`${path}/revoke`));
    } catch (e) {
      setError(e);
    }
    reload();
  };

  const columns: Column<AgentCredential>[] = [
    { header: 'Key', cell: (c) => <code title={c.userKey}>{shortKey(c.userKey)}</code> },
    { header: 'From', cell: (c) => c.origin },
    { header: 'Issued', cell: (c) => when(c.issuedAt) },
    { header: 'Expires', cell: (c) => when(c.expiresAt) },
    { header: 'State', cell: (c) => <span className={`pill ${PILL[c.state]}`}>{c.state}</span> },
    { header: 'Details', cell: (c) => (c.revokedAt !== undefined ? `revoked ${when(c.revokedAt)} by ${c.revokedBy ?? 'head office'}` : '') },
  ];
  return (
    <section className="card" aria-labelledby="agent-creds-title">
      <h2 id="agent-creds-title">Agent credentials</h2>
      <LoadState loaded={page} what="agent credentials">
        {(p) => {
          const hub = revocationText(p.revocation);
          return (
            <>
              <p className="help">
                The agent’s NATS credentials last {Math.round(p.lifetimeSec / 3600)} h and the agent renews them itself halfway. An office offline for longer keeps
                routing calls, then needs a new enrollment token.
              </p>
              {p.alarm !== undefined && (
                <Banner kind={p.alarm.severity === 'critical' ? 'error' : 'warning'} title={p.alarm.code}>
                  <p data-alarm={p.alarm.code}>{p.alarm.message}</p>
                </Banner>
              )}
              {p.items.length === 0 ? <p>No credentials issued yet: the agent has not enrolled.</p> : <DataTable label="Agent credentials of this site" columns={columns} rows={p.items} rowKey={(c) => c.userKey} rowAttributes={(c) => ({ 'data-credential-state': c.state })} />}
              {p.revocation.revokedKeys > 0 || p.revocation.state !== 'current' ? <Banner kind={hub.kind}>{hub.text}</Banner> : null}
            </>
          );
        }}
      </LoadState>
      {error !== undefined && <ErrorBanner error={error} />}
      {done !== undefined && (
        <Banner kind="ok" title="Credentials revoked">
          <p>
            {done.revokedKeys.length} credential(s) revoked; {done.rotatedLinks.length} link secret(s) replaced ({done.changedSites.join(', ')} get new configuration). Enroll the new
            box with a new token.
          </p>
        </Banner>
      )}
      {headOffice && (
        <button type="button" className="danger" onClick={() => void revoke()}>
          Box replaced or lost: revoke its credentials
        </button>
      )}
    </section>
  );
}

/**
 * Decommissioning an office (head office): a preview of everything that goes, what still needs the office
 * elsewhere (to fix first), and a confirmation typed as the site id before anything is removed.
 */
export function DecommissionPanel({ siteId, siteName }: { siteId: string; siteName: string }) {
  const api = useApi();
  const { headOffice } = useSession();
  const { reload: reloadSites } = useSites();
  const [preview, setPreview] = useState<DecommissionOutcome | undefined>(undefined);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  if (!headOffice) return null;
  const path = `/sites/${encodeURIComponent(siteId)}/decommission`;

  const load = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      setPreview(await api.post<DecommissionOutcome>(path, {}, { dryRun: true }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const run = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await api.post<DecommissionOutcome>(path, { confirm: typed });
      reloadSites();
      navigate(`/sites?decommissioned=${encodeURIComponent(siteId)}`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <section className="card danger-zone" aria-labelledby="decommission-title">
      <h2 id="decommission-title">Decommission this office</h2>
      {preview === undefined ? (
        <>
          <p className="help">Removes {siteName} from the federation with everything it owns, cuts off its agent and deletes its configuration from the bus. You see what goes before anything happens.</p>
          <button type="button" className="danger" onClick={() => void load()} disabled={busy}>
            Decommission {siteName}…
          </button>
        </>
      ) : (
        <DecommissionPreview preview={preview} siteId={siteId} typed={typed} setTyped={setTyped} busy={busy} onRun={() => void run()} onCancel={() => { setPreview(undefined); setTyped(''); }} />
      )}
      {error !== undefined && <ErrorBanner error={error} />}
    </section>
  );
}

function DecommissionPreview(props: { preview: DecommissionOutcome; siteId: string; typed: string; setTyped: (v: string) => void; busy: boolean; onRun: () => void; onCancel: () => void }) {
  const { preview, siteId, typed, setTyped, busy, onRun, onCancel } = props;
  const r = preview.removes;
  const line = (label: string, items: readonly string[]): ReactNode =>
    items.length === 0 ? null : (
      <li data-removes={label}>
        <strong>{label}</strong> ({items.length}): {items.slice(0, 30).join(', ')}
        {items.length > 30 ? ` and ${items.length - 30} more` : ''}
      </li>
    );
  const blocked = preview.blockers.length > 0 || !preview.validation.ok;
  return (
    <div data-testid="decommission-preview">
      <h3>What goes</h3>
      <ul>
        {line('Number ranges', r.numberRanges)}
        {line('Extensions', r.extensions.map((e) => e.number))}
        {line('Trunks', r.trunks)}
        {line('Links', r.links)}
        {line('Inbound routes', r.inboundRoutes)}
        {line('Call flows', r.callFlows)}
        {line('Outbound routes removed', r.outboundRoutesRemoved)}
        {line('Outbound routes changed', r.outboundRoutesChanged)}
        {line('Link secrets replaced', r.rotatedLinks)}
        {line('Agent credentials revoked', preview.revokedKeys.map(shortKey))}
        <li>
          <strong>Configuration bucket</strong> <code>{preview.bucket}</code> deleted from NATS
        </li>
        {r.hubCleared && <li>The federation loses its hub ({siteId}): offices without a direct link no longer reach each other.</li>}
      </ul>
      {r.peers.length > 0 && <p>Offices that lose their link to {siteId} and get new configuration: {r.peers.join(', ')}.</p>}
      {blocked ? (
        <Banner kind="error" title="Fix these first">
          <p>Other offices still need {siteId}; they are not changed behind their backs:</p>
          <ul aria-label="Decommission blockers">
            {preview.blockers.map((b, i) => (
              <li key={i} data-blocker={b.id}>
                {b.type} <code>{b.id}</code>
                {b.siteId !== undefined ? ` at ${b.siteId}` : ''}: {b.message}
              </li>
            ))}
          </ul>
          {preview.blockers.length === 0 && <IssueList issues={preview.validation.errors} />}
        </Banner>
      ) : (
        <>
          <label htmlFor="decommission-confirm">
            Type <code>{siteId}</code> to confirm
          </label>
          <input id="decommission-confirm" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} />
        </>
      )}
      <div className="actions">
        <button type="button" className="danger-fill" disabled={blocked || typed !== siteId || busy} onClick={onRun}>
          Decommission {siteId} now
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </div>
  );
}
