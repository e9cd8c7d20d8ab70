import { useState } from 'react';
import { ApiError } from '../api/client';
import type { EnrollmentToken, EnrollmentTokenIssued, EnrollmentTokenPage, EnrollmentTokenState } from '../api/types';
import { useApi, useSession } from '../session';
import { Banner, ErrorBanner, LoadState } from '../ui/feedback';
import { CopyBox } from '../ui/copy-box';
import { DataTable, type Column } from '../ui/data-table';
import { useLoad } from '../ui/use-load';

/** The command a branch box runs to join: the controller is the one serving this console. */
export const enrollCommand = (controllerUrl: string, token: string): string => `fedpbx-agent enroll --controller ${controllerUrl} --token ${token}`;

/** How many of the site's tokens the panel lists (newest first). */
const LISTED = 20;

/**
 * Connecting a site's agent (the fedpbx-agent service next to the office's Asterisk): head office issues a
 * one-time token and sees it once, as the exact command to run on the branch box. Site admins are told whom
 * to ask, so the page is never a dead end. Everyone who reads the site sees its tokens' states; head office can
 * revoke a token that is still pending (leaked, or issued by mistake).
 */
export function EnrollmentPanel({ siteId }: { siteId: string }) {
  const api = useApi();
  const { headOffice } = useSession();
  const [issued, setIssued] = useState<EnrollmentTokenIssued | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [message, setMessage] = useState<{ kind: 'ok' | 'warning'; text: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const path = `/sites/${encodeURIComponent(siteId)}/enrollment-tokens`;
  const [tokens, reloadTokens] = useLoad(async () => api.get<EnrollmentTokenPage>(path, { limit: LISTED }), [api, path]);

  const issue = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setMessage(undefined);
    try {
      setIssued(await api.post<EnrollmentTokenIssued>(path));
      reloadTokens();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (t: EnrollmentToken): Promise<void> => {
    if (!window.confirm(`Revoke the enrollment token issued ${when(t.createdAt)} by ${t.createdBy}? The agent command with this token will no longer work.`)) return;
    setError(undefined);
    setMessage(undefined);
    try {
      await api.delete(`/enrollment-tokens/${encodeURIComponent(t.id)}`);
      // The token shown above is this one: its command is dead now.
      if (issued?.id === t.id) setIssued(undefined);
      setMessage({ kind: 'ok', text: `Revoked the token issued ${when(t.createdAt)}: it can no longer be used.` });
    } catch (e) {
      if (e instanceof ApiError && e.code === 'state-conflict') setMessage({ kind: 'warning', text: 'That token was used in the meantime: the office’s agent has enrolled with it, so there is nothing to revoke.' });
      else setError(e);
    }
    reloadTokens();
  };

  return (
    <section className="card" aria-labelledby="enroll-title">
      <h2 id="enroll-title">Connect this office’s agent</h2>
      <p className="help">
        The agent (<code>fedpbx-agent</code>) runs on the office’s PBX box: it receives this site’s configuration, keeps calls working when the
        office is cut off, and reports calls back. To connect it, run one command on that box with a one-time token.
      </p>
      {!headOffice ? (
        <p>Head office issues the enrollment token for this office’s agent: ask them for the command to run.</p>
      ) : (
        <>
          {error !== undefined && <ErrorBanner error={error} />}
          {issued !== undefined && (
            <div data-testid="enrollment-token">
              <Banner kind="warning" title="Shown only now: copy it before leaving this page">
                <p>Run this on the office’s PBX box (as root, with the agent installed). The token works once and expires {new Date(issued.expiresAt).toLocaleString()}.</p>
              </Banner>
              <CopyBox label="Enrollment command" value={enrollCommand(window.location.origin, issued.token)} rows={2} />
              <p className="help">
                To keep the token out of the process list, set it in the environment instead:{' '}
                <code>FEDPBX_ENROLL_TOKEN=… fedpbx-agent enroll --controller {window.location.origin}</code>. A lost or expired token is harmless: issue a new one.
                One that may have been seen by someone else: revoke it below.
              </p>
            </div>
          )}
          <div className="actions">
            <button type="button" className={issued === undefined ? 'primary' : undefined} onClick={() => void issue()} disabled={busy}>
              {issued === undefined ? 'Issue an enrollment token' : 'Issue another token'}
            </button>
          </div>
        </>
      )}
      {message !== undefined && <Banner kind={message.kind}>{message.text}</Banner>}
      <h3>Enrollment tokens</h3>
      <LoadState loaded={tokens} what="enrollment tokens">
        {(page) => <TokenTable tokens={page.items} more={page.next !== undefined} {...(headOffice ? { onRevoke: (t: EnrollmentToken) => void revoke(t) } : {})} />}
      </LoadState>
    </section>
  );
}

const when = (iso: string): string => new Date(iso).toLocaleString();

const PILL: Record<EnrollmentTokenState, string> = { pending: 'pill-warn', used: 'pill-ok', expired: 'pill-unknown', revoked: 'pill-bad' };

/** What happened to a token, in words: when it was used, revoked (by whom) or expired, or until when it works. */
function outcome(t: EnrollmentToken): string {
  switch (t.state) {
    case 'pending':
      return `usable once until ${when(t.expiresAt)}`;
    case 'used':
      return t.usedAt !== null ? `the agent enrolled ${when(t.usedAt)}` : 'the agent enrolled';
    case 'expired':
      return `expired ${when(t.expiresAt)} unused`;
    case 'revoked':
      return t.revokedAt !== null ? `revoked ${when(t.revokedAt)} by ${t.revokedBy ?? 'head office'}` : 'revoked';
  }
}

/** The site's tokens, newest first; `onRevoke` absent (not head office) leaves the Revoke buttons out. */
function TokenTable({ tokens, more, onRevoke }: { tokens: readonly EnrollmentToken[]; more: boolean; onRevoke?: (t: EnrollmentToken) => void }) {
  if (tokens.length === 0) return <p>No enrollment token has been issued for this office yet.</p>;
  const columns: Column<EnrollmentToken>[] = [
    { header: 'Issued', cell: (t) => when(t.createdAt) },
    { header: 'By', cell: (t) => t.createdBy },
    { header: 'State', cell: (t) => <span className={`pill ${PILL[t.state]}`}>{t.state}</span> },
    { header: 'Details', cell: outcome },
  ];
  if (onRevoke !== undefined) {
    columns.push({
      header: 'Actions',
      hideHeader: true,
      cell: (t) =>
        t.state === 'pending' && (
          <button type="button" className="danger" onClick={() => onRevoke(t)} aria-label={`Revoke the token issued ${when(t.createdAt)}`}>
            Revoke
          </button>
        ),
    });
  }
  return (
    <>
      <DataTable
        label="Enrollment tokens of this site"
        columns={columns}
        rows={tokens}
        rowKey={(t) => t.id}
        rowAttributes={(t) => ({ 'data-enrollment-token': t.id, 'data-state': t.state })}
      />
      {more && <p className="help">Showing the {LISTED} newest tokens.</p>}
    </>
  );
}
