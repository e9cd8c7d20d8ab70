import type { ReactNode } from 'react';
import type { Site } from '../api/types';
import { useApi } from '../session';
import { ErrorBanner } from '../ui/feedback';
import { useLoad } from '../ui/use-load';
import { NotFound } from './not-found';

/**
 * Renders a site's pages only when the API shows the caller that site: a site outside their grants answers 404,
 * exactly as for a site that does not exist, so a typed or shared URL reveals nothing.
 */
export function SiteGate({ siteId, children }: { siteId: string; children: ReactNode }) {
  const api = useApi();
  const [loaded] = useLoad(() => api.get<{ data: Site }>(`/sites/${encodeURIComponent(siteId)}`), [api, siteId]);
  switch (loaded.state) {
    case 'loading':
      return <p className="muted" aria-busy="true">Loading site {siteId}…</p>;
    case 'unavailable':
      return <NotFound what={`No site “${siteId}”`} />;
    case 'error':
      return <ErrorBanner error={loaded.error} />;
    case 'ok':
      return <>{children}</>;
  }
}
