import { useState } from 'react';
import type { EnrollmentTokenIssued } from '../api/types';
import { useApi, useSession } from '../session';
import { Banner, ErrorBanner } from '../ui/feedback';
import { CopyBox } from '../ui/copy-box';

/** The command a branch box runs to join: the controller is the one serving this console. */
export const enrollCommand = (controllerUrl: string, token: string): string => `fedpbx-agent enroll --controller ${controllerUrl} --token ${token}`;

/**
 * Connecting a site's agent (the fedpbx-agent service next to the office's Asterisk): head office issues a
 * one-time token and sees it once, as the exact command to run on the branch box. Site admins are told whom
 * to ask, so the page is never a dead end.
 */
export function EnrollmentPanel({ siteId }: { siteId: string }) {
  const api = useApi();
  const { headOffice } = useSession();
  const [issued, setIssued] = useState<EnrollmentTokenIssued | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const issue = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      setIssued(await api.post<EnrollmentTokenIssued>(`/sites/${encodeURIComponent(siteId)}/enrollment-tokens`));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
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
    </section>
  );
}
