import { lazy, Suspense, useEffect, useRef, type ReactNode } from 'react';
import { LiveProvider, useLive } from './api/live';
import { Link, match, navigate, useLocation } from './router';
import { AccountScreen, ChangePasswordForm } from './screens/account';
import { ActiveCallsScreen } from './screens/active-calls';
import { ApiTokensScreen } from './screens/api-tokens';
import { AuditScreen } from './screens/audit';
import { CallFlowsScreen } from './screens/call-flows';
import { CdrScreen } from './screens/cdrs';
import { ClassesOfServiceScreen } from './screens/classes-of-service';
import { ExtensionsScreen } from './screens/extensions';
import { InboundRoutesScreen } from './screens/inbound-routes';
import { LinksScreen } from './screens/links';
import { LoginScreen } from './screens/login';
import { NotFound } from './screens/not-found';
import { NumberingPlanScreen } from './screens/numbering-plan';
import { OutboundRoutesScreen } from './screens/outbound-routes';
import { OverviewScreen } from './screens/overview';
import { SiteGate } from './screens/site-gate';
import { SitePageScreen } from './screens/site-page';
import { SitesScreen } from './screens/sites';
import { SurvivabilityScreen } from './screens/survivability';
import { TracerScreen } from './screens/tracer';
import { TrunksScreen } from './screens/trunks';
import { UsersScreen } from './screens/users';
import { SessionProvider, useSession } from './session';
import { SitesProvider, useSites } from './sites';

// The diagram editor carries @xyflow/react: loaded when a flow is opened, not on first load.
const FlowEditorScreen = lazy(() => import('./flow/flow-editor-screen').then((m) => ({ default: m.FlowEditorScreen })));
// Revisions and their diffs are visited rarely: their code loads on the first visit.
const RevisionsScreen = lazy(() => import('./screens/revisions').then((m) => ({ default: m.RevisionsScreen })));

export function App() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}

function Shell() {
  const session = useSession();
  const { path } = useLocation();
  if (!session.signedIn) {
    if (path !== '/login') navigate(`/login?next=${encodeURIComponent(path + window.location.search)}`, { replace: true });
    return <LoginScreen />;
  }
  if (session.me === undefined) return <p className="muted center" aria-busy="true">Signing in…</p>;
  if (session.me.mustChangePassword === true) {
    return (
      <main className="login" id="main">
        <div>
          <ChangePasswordForm forced />
          <button type="button" className="link" onClick={() => void session.logout()}>
            Sign out
          </button>
        </div>
      </main>
    );
  }
  if (path === '/login') {
    navigate('/', { replace: true });
    return null;
  }
  return (
    <LiveProvider api={session.api}>
      <SitesProvider>
        <Layout>
          <Screen path={path} />
        </Layout>
      </SitesProvider>
    </LiveProvider>
  );
}

/** The screen for a path; site pages pass through SiteGate, which shows not-found for a site outside the caller's scope. */
function Screen({ path }: { path: string }) {
  const site = (pattern: string, render: (p: Record<string, string>) => ReactNode): ReactNode | undefined => {
    const m = match(pattern, path);
    return m === undefined ? undefined : <SiteGate siteId={m['siteId'] ?? ''}>{render(m)}</SiteGate>;
  };
  const plain: Record<string, () => ReactNode> = {
    '/': () => <OverviewScreen />,
    '/sites': () => <SitesScreen />,
    '/numbering': () => <NumberingPlanScreen />,
    '/routes': () => <OutboundRoutesScreen />,
    '/classes-of-service': () => <ClassesOfServiceScreen />,
    '/links': () => <LinksScreen />,
    '/api-tokens': () => <ApiTokensScreen />,
    '/account': () => <AccountScreen />,
    '/trace': () => <TracerScreen />,
    '/cdrs': () => <CdrScreen />,
    '/calls': () => <ActiveCallsScreen />,
    '/audit': () => <AuditScreen />,
    '/users': () => <UsersScreen />,
  };
  const screen =
    plain[path]?.() ??
    site('/sites/:siteId', (p) => <SitePageScreen siteId={p['siteId'] ?? ''} />) ??
    site('/sites/:siteId/inbound', (p) => <InboundRoutesScreen siteId={p['siteId'] ?? ''} />) ??
    site('/sites/:siteId/survivability', (p) => <SurvivabilityScreen siteId={p['siteId'] ?? ''} />) ??
    site('/sites/:siteId/revisions', (p) => (
      <Suspense fallback={<p className="muted">Loading revisions…</p>}>
        <RevisionsScreen siteId={p['siteId'] ?? ''} />
      </Suspense>
    )) ??
    site('/sites/:siteId/extensions', (p) => <ExtensionsScreen siteId={p['siteId'] ?? ''} />) ??
    site('/sites/:siteId/trunks', (p) => <TrunksScreen siteId={p['siteId'] ?? ''} />) ??
    site('/sites/:siteId/flows', (p) => <CallFlowsScreen siteId={p['siteId'] ?? ''} />) ??
    site('/sites/:siteId/flows/:flowId', (p) => (
      <Suspense fallback={<p className="muted">Loading the diagram editor…</p>}>
        <FlowEditorScreen siteId={p['siteId'] ?? ''} flowId={p['flowId'] ?? 'new'} />
      </Suspense>
    )) ?? <NotFound />;
  return <>{screen}</>;
}

/** Whether the screens follow the controller by themselves: "live", or a warning while the stream is being reopened. */
function LiveBadge() {
  const { status } = useLive();
  if (status === 'off') return null;
  return (
    <span role="status" aria-live="polite" className={`live-badge live-${status}`} data-live={status}>
      {status === 'live' ? 'live' : status === 'lost' ? 'live updates lost, reconnecting…' : 'connecting…'}
    </span>
  );
}

function Layout({ children }: { children: ReactNode }) {
  const { me, logout, headOffice } = useSession();
  const { sites } = useSites();
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const siteInPath = /^\/sites\/([^/]+)/.exec(path)?.[1];
  const currentSite = siteInPath ?? sites[0]?.id;

  // Move focus to the new screen's content after navigation, so keyboard and screen-reader users follow along.
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [path]);

  return (
    <div className="layout">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          fedpbx
        </Link>
        <span className="muted">
          <Link to="/account">{me?.username}</Link> · {headOffice ? 'head office' : me?.readableSites.length === 0 ? 'no site access yet' : `sites: ${me?.readableSites === 'all' ? 'all' : (me?.readableSites.join(', ') ?? '')}`}
        </span>
        <LiveBadge />
        <button type="button" className="link" onClick={() => void logout()}>
          Sign out
        </button>
      </header>
      <nav className="sidebar" aria-label="Main">
        <ul>
          <li><Link to="/">Federation overview</Link></li>
          <li><Link to="/sites">Sites</Link></li>
          <li><Link to="/numbering">Numbering plan</Link></li>
        </ul>
        {sites.length > 0 && currentSite !== undefined && (
          <div className="site-nav">
            <label htmlFor="site-picker">Site</label>
            <select id="site-picker" value={currentSite} onChange={(e) => navigate(`/sites/${e.target.value}${siteInPath !== undefined && path.split('/')[3] !== undefined ? `/${path.split('/')[3]}` : ''}`)}>
              {sites.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
            <ul>
              <li><Link to={`/sites/${currentSite}`}>Site settings and agent</Link></li>
              <li><Link to={`/sites/${currentSite}/extensions`}>Extensions</Link></li>
              <li><Link to={`/sites/${currentSite}/trunks`}>Trunks</Link></li>
              <li><Link to={`/sites/${currentSite}/inbound`}>Inbound numbers</Link></li>
              <li><Link to={`/sites/${currentSite}/flows`}>Call flows</Link></li>
              <li><Link to={`/sites/${currentSite}/revisions`}>Revisions</Link></li>
              <li><Link to={`/sites/${currentSite}/survivability`}>Survivability</Link></li>
            </ul>
          </div>
        )}
        <ul>
          <li><Link to="/routes">Outbound routes</Link></li>
          <li><Link to="/classes-of-service">Classes of service</Link></li>
          <li><Link to="/links">Inter-site links</Link></li>
          <li><Link to="/trace">Route tracer</Link></li>
          <li><Link to="/calls">Calls in progress</Link></li>
          <li><Link to="/cdrs">Call records</Link></li>
          <li><Link to="/audit">Audit log</Link></li>
          <li><Link to="/api-tokens">API tokens</Link></li>
          {headOffice && <li><Link to="/users">Users and grants</Link></li>}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
