import { Inject, Injectable } from '@nestjs/common';
import type { SiteRollout } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import type { Principal } from '../auth/principal.js';
import { NotFoundError } from '../errors.js';
import { toSiteRollout } from './rollout-state.js';
import { RolloutRepository } from './rollout.repository.js';

/** Rollout status per site, scoped like every read: sites outside the caller's grants do not exist. */
@Injectable()
export class RolloutService {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly rollout: RolloutRepository,
  ) {}

  async list(caller: Principal): Promise<SiteRollout[]> {
    const sites = caller.scope.readableSites();
    if (sites !== 'all' && sites.length === 0) return [];
    const now = new Date();
    return (await this.rollout.rows(this.ds.manager, sites)).map((r) => toSiteRollout(r, now));
  }

  async get(caller: Principal, siteId: string): Promise<SiteRollout> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    const [row] = await this.rollout.rows(this.ds.manager, [siteId]);
    if (row === undefined) throw new NotFoundError('site', siteId);
    return toSiteRollout(row, new Date());
  }
}
