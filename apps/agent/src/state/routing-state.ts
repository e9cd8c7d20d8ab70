import type { Health, HealthState, SiteConfig, SiteSnapshot } from '@fedpbx/contracts';
import { compileSite, compileSiteInSlices, type CompiledSite, type PreviousCompile, type SiteConfigToCompile } from '@fedpbx/dialplan';

/** The site config in force without its extensions (the call path reads those from the compiled site). */
export type ConfigInForce = Omit<SiteConfig, 'extensions'>;

/**
 * What stays in memory of the snapshot in force: its identity (revision, hash, signature, time) and its config
 * without the extensions. A head office's 100,000 parsed extensions - ids, names, SIP secrets - were two thirds of
 * the agent's heap, and only the Asterisk config writer reads them, when a snapshot is applied: it gets the whole
 * snapshot then (apply hooks, or the snapshot loaded at start).
 */
export type SnapshotInForce = Omit<SiteSnapshot, 'config'> & { readonly config: ConfigInForce };

/**
 * A verified snapshot to compile: a whole one, or one whose extensions were read into their table elsewhere (a
 * head office's, in a worker thread: SiteConfigToCompile's `extensionTable`).
 */
export type SnapshotToApply = Omit<SiteSnapshot, 'config'> & { readonly config: SiteConfigToCompile };

/**
 * What the call path reads: the compiled snapshot in force and the health of links and trunks. Both are
 * immutable values replaced as a whole, so a call in progress keeps a consistent view and a reader never waits.
 */
export class RoutingState {
  private current: { readonly snapshot: SnapshotInForce; readonly site: CompiledSite } | undefined;
  private healthValue: Health = { links: {}, trunks: {} };
  private readonly listeners = new Set<() => void>();
  /** Whether applyInSlices is between its first slice and its swap. */
  private compiling = false;

  get ready(): boolean {
    return this.current !== undefined;
  }

  get site(): CompiledSite {
    if (this.current === undefined) throw new Error('no snapshot applied yet');
    return this.current.site;
  }

  get snapshot(): SnapshotInForce | undefined {
    return this.current?.snapshot;
  }

  get revision(): number {
    return this.current?.snapshot.revision ?? 0;
  }

  get health(): Health {
    return this.healthValue;
  }

  /**
   * Compiles and swaps in a verified snapshot (all lookup structures are built before the swap), at once: for the
   * snapshot loaded at start, before calls are taken. The extensions are kept only in the compiled site's compact
   * table: the caller's `snapshot` may be dropped afterwards.
   */
  apply(snapshot: SiteSnapshot): void {
    this.assertIdle();
    this.swapIn(snapshot, compileSite(snapshot.config, snapshot.revision, this.previous()));
  }

  /**
   * {@link apply} with the compile in slices, awaiting `pause` (a turn of the event loop) between them: calls keep
   * routing on the compiled site in force until the new one is complete, then it is swapped in as a whole - no
   * call ever sees a half-built table. A compile that throws leaves the site in force (last-known-good). One at a
   * time: the applier serialises its offers, and a second one meanwhile is refused.
   */
  async applyInSlices(snapshot: SnapshotToApply, pause: () => Promise<void>): Promise<void> {
    this.assertIdle();
    this.compiling = true;
    try {
      const site = await compileSiteInSlices(snapshot.config, snapshot.revision, this.previous(), pause);
      this.swapIn(snapshot, site);
    } finally {
      this.compiling = false;
    }
  }

  /** The compile in force, for the next one to take over what did not change (parts that are the same objects). */
  private previous(): PreviousCompile | undefined {
    return this.current !== undefined ? { config: this.current.snapshot.config, site: this.current.site } : undefined;
  }

  private swapIn(snapshot: SnapshotToApply, site: CompiledSite): void {
    this.current = { snapshot: { ...snapshot, config: withoutExtensions(snapshot.config) }, site };
    this.emit();
  }

  private assertIdle(): void {
    if (this.compiling) throw new Error('a snapshot is being compiled: applies must be serialised');
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

/** A config to compile without its extensions, as a list or a table (those are in the compiled site's table). */
function withoutExtensions(config: SiteConfigToCompile): ConfigInForce {
  const { extensions: _list, extensionTable: _table, ...rest } = config as SiteConfigToCompile & { readonly extensions?: unknown; readonly extensionTable?: unknown };
  return rest;
}
