import { createContext, useContext, type ReactNode } from 'react';
import type { Page, Site } from './api/types';
import { useApi } from './session';
import { useLoad, type Loaded } from './ui/use-load';

interface SitesValue {
  /** The sites the caller can read (the API's scope: a site admin gets only theirs). */
  readonly loaded: Loaded<Site[]>;
  readonly sites: readonly Site[];
  readonly reload: () => void;
}

const SitesContext = createContext<SitesValue>({ loaded: { state: 'loading' }, sites: [], reload: () => undefined });

export function SitesProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const [loaded, reload] = useLoad(async () => (await api.get<Page<Site>>('/sites', { limit: 1000 })).items, [api], { topics: ['config'], kinds: ['site'] });
  return <SitesContext.Provider value={{ loaded, sites: loaded.state === 'ok' ? loaded.value : [], reload }}>{children}</SitesContext.Provider>;
}

export const useSites = (): SitesValue => useContext(SitesContext);

export const siteOptions = (sites: readonly Site[]): { value: string; label: string }[] => sites.map((s) => ({ value: s.id, label: `${s.name} (${s.id})` }));
