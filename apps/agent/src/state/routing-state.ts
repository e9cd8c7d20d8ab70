import type { Health, HealthState, SiteSnapshot } from '@fedpbx/contracts';
import { compileSite, type CompiledSite } from '@fedpbx/dialplan';

/**
 * What the call path reads: the compiled snapshot in force and the health of links and trunks. Both are
 * immutable values replaced as a whole, so a call in progress keeps a consistent view and a reader never waits.
 */
export class RoutingState {
  private current: { readonly snapshot: SiteSnapshot; readonly site: CompiledSite } | undefined;
  private healthValue: Health = { links: {}, trunks: {} };
  private readonly listeners = new Set<() => void>();

  get ready(): boolean {
    return this.current !== undefined;
  }

  get site(): CompiledSite {
    if (this.current === undefined) throw new Error('no snapshot applied yet');
    return this.current.site;
  }

  get snapshot(): SiteSnapshot | undefined {
    return this.current?.snapshot;
  }

  get revision(): number {
    return this.current?.snapshot.revision ?? 0;
  }

  get health(): Health {
    return this.healthValue;
  }

  /** Compiles and swaps in a verified snapshot (all lookup structures are built before the swap). */
  apply(snapshot: SiteSnapshot): void {
    const site = compileSite(snapshot.config, snapshot.revision);
    this.current = { snapshot, site };
    this.emit();
  }

  setLink(peerSiteId: string, state: HealthState): void {
    if ((this.healthValue.links[peerSiteId] ?? 'up') === state) return;
    this.healthValue = { ...this.healthValue, links: { ...this.healthValue.links, [peerSiteId]: state } };
    this.emit();
  }

  setTrunk(trunkId: string, state: HealthState): void {
    if ((this.healthValue.trunks[trunkId] ?? 'up') === state) return;
    this.healthValue = { ...this.healthValue, trunks: { ...this.healthValue.trunks, [trunkId]: state } };
    this.emit();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}
