import type { ReactNode } from 'react';
import { ApiError } from '../api/client';
import type { FederationIssue, WriteResponse } from '../api/types';
import { SurvivabilityChanges } from './survivability-table';
import type { Loaded } from './use-load';

/** A message box; `role=alert` for errors so screen readers announce them. */
export function Banner({ kind, title, children }: { kind: 'error' | 'warning' | 'info' | 'ok'; title?: string; children?: ReactNode }) {
  return (
    <div className={`banner banner-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {title !== undefined && <strong>{title}</strong>}
      {children !== undefined && <div>{children}</div>}
    </div>
  );
}

/** Loading / error / "not available" states of a loaded value; renders `children` with the value. */
export function LoadState<T>({ loaded, what, children }: { loaded: Loaded<T>; what: string; children: (value: T) => ReactNode }) {
  switch (loaded.state) {
    case 'loading':
      return <p className="muted" aria-busy="true">Loading {what}…</p>;
    case 'unavailable':
      return <NotAvailable what={what} />;
    case 'error':
      return <ErrorBanner error={loaded.error} />;
    case 'ok':
      return <>{children(loaded.value)}</>;
  }
}

export function NotAvailable({ what }: { what: string }) {
  return (
    <p className="not-available">
      {what[0]?.toUpperCase()}
      {what.slice(1)}: not available from this controller yet (the service may be off or still starting). The rest of the console works without it.
    </p>
  );
}

/** An API error in plain words: the message, each input problem, each conflict with the objects it names. */
export function ErrorBanner({ error }: { error: unknown }) {
  if (!(error instanceof ApiError)) return <Banner kind="error" title="Something went wrong">{error instanceof Error ? error.message : String(error)}</Banner>;
  const title =
    error.status === 409 ? 'The change conflicts with the federation' : error.status === 400 ? 'Some values need fixing' : error.status === 403 ? 'Not allowed' : error.status === 404 ? 'Not found' : error.status === 0 ? 'No connection' : 'The change was refused';
  return (
    <Banner kind="error" title={title}>
      {error.issues.length === 0 && error.problems.length === 0 && <p>{error.message}</p>}
      {error.problems.length > 0 && (
        <ul>
          {error.problems.map((p, i) => (
            <li key={i}>
              {p.path !== '' && <code>{p.path}</code>} {p.message}
            </li>
          ))}
        </ul>
      )}
      <IssueList issues={error.issues} />
      <p className="muted">Nothing was saved.</p>
    </Banner>
  );
}

export function IssueList({ issues }: { issues: readonly FederationIssue[] }) {
  if (issues.length === 0) return null;
  return (
    <ul className="issues">
      {issues.map((i, n) => (
        <li key={n} className={`issue issue-${i.severity}`}>
          <span className="tag">{i.severity}</span> {i.message}
          {i.objects.length > 0 && <span className="muted"> ({i.objects.map((o) => `${o.type} ${o.id}`).join(', ')})</span>}
        </li>
      ))}
    </ul>
  );
}

/** The answer to a `?dryRun=true` write: would it pass, which sites' configuration would change. */
export function ImpactPreview({ preview }: { preview: WriteResponse }) {
  const { validation, changedSites } = preview;
  return (
    <section className="impact" aria-label="Impact preview" data-testid="impact-preview">
      <Banner kind={validation.ok ? 'ok' : 'error'} title={validation.ok ? 'Preview: this change is valid (not saved yet)' : 'Preview: this change would be refused'}>
        <p>
          {changedSites.length === 0 ? 'No site’s configuration changes.' : `Sites whose configuration changes: ${changedSites.join(', ')}.`}
        </p>
        <IssueList issues={[...validation.errors, ...validation.warnings]} />
        {preview.survivability !== undefined && <SurvivabilityChanges changes={preview.survivability.changes} sitesNotCompared={preview.survivability.sitesNotCompared} />}
      </Banner>
    </section>
  );
}
