import { Inject, Injectable } from '@nestjs/common';
import type { Federation } from '@fedpbx/contracts';
import { DataSource, type EntityManager } from 'typeorm';
import { RevisionRepository, type SiteHead } from '../revisions/revision.repository.js';
import { FederationRepository, type FederationState } from './federation.repository.js';

export interface FederationView {
  readonly version: number;
  readonly state: FederationState;
  readonly federation: Federation;
  /** Latest revision and snapshot hash of every site. */
  readonly heads: ReadonlyMap<string, SiteHead>;
}

/**
 * The federation as of the last commit, kept in memory and trusted only while the database's federation
 * version matches it: validating a write needs the whole federation, and reading 100,000 rows per write would
 * dominate its cost. Another process's commit (another controller replica's) bumps the version and the next use
 * reloads.
 */
@Injectable()
export class FederationStore {
  private view: FederationView | undefined;
  private readonly listeners: ((view: FederationView) => void)[] = [];

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly repo: FederationRepository,
    private readonly revisions: RevisionRepository,
  ) {}

  /** The current federation inside a transaction that holds the federation lock. */
  async locked(m: EntityManager): Promise<FederationView> {
    return this.fresh(m, await this.repo.lockState(m));
  }

  /** The current federation for a read (no lock). */
  async read(): Promise<FederationView> {
    const state = await this.repo.readState(this.ds.manager);
    if (this.view !== undefined && this.view.version === state.version) return this.view;
    // Reloading: inside one snapshot of the database, so that the rows, the heads and the version are of one commit
    // even while another replica commits (outside a transaction each query would see the database of its moment).
    return this.ds.transaction('REPEATABLE READ', async (m) => this.fresh(m, await this.repo.readState(m)));
  }

  /** Called after a commit with what was committed. */
  committed(view: FederationView): void {
    this.keep(view);
    for (const listener of this.listeners) listener(view);
  }

  /**
   * Runs the commit listeners with the current federation, as after a commit of this process: for commits another
   * replica made and did not get to publish (it died between its commit and its puts).
   */
  async catchUp(): Promise<FederationView> {
    const view = await this.read();
    for (const listener of this.listeners) listener(view);
    return view;
  }

  /** Runs after every commit of this process (the snapshot publisher's trigger). Listeners must not throw. */
  onCommitted(listener: (view: FederationView) => void): void {
    this.listeners.push(listener);
  }

  private async fresh(m: EntityManager, state: FederationState): Promise<FederationView> {
    if (this.view !== undefined && this.view.version === state.version) return this.view;
    const federation = await this.repo.load(m, state);
    const heads = await this.revisions.heads(m);
    const view = { version: state.version, state, federation, heads };
    this.keep(view);
    return view;
  }

  /** A read that finishes after a later commit must not put the older federation back. */
  private keep(view: FederationView): void {
    if (this.view === undefined || view.version >= this.view.version) this.view = view;
  }
}
