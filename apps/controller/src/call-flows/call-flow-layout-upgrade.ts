import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { CallFlowLayoutEntity } from '../database/entities/index.js';
import type { FederationChange } from '../federation/federation-change.js';
import { FederationWriter } from '../federation/federation-writer.js';

/**
 * Once after the upgrade that took node positions out of the flows: the sites of those flows get a revision
 * without them (their head revision's snapshot still has them, and today's agents refuse it), written through the
 * one write path like any change, so it is validated, audited and published. Nothing to do on every later start.
 */
@Injectable()
export class CallFlowLayoutUpgrade implements OnApplicationBootstrap {
  private readonly log = pino({ name: 'fedpbx-controller', level: process.env.FEDPBX_LOG_LEVEL ?? 'info' }).child({ component: 'call-flow-layouts' });

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly writer: FederationWriter,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.republish();
    } catch (error) {
      // The mark stays: the next start tries again. Until then the sites keep the revision they have.
      this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'sites whose flows lost their positions not republished yet');
    }
  }

  /** Writes the marked flows' sites a revision (when their snapshot changes) and clears the marks; the sites written. */
  async republish(): Promise<readonly string[]> {
    const marked = await this.ds.manager.find(CallFlowLayoutEntity, { where: { movedFromSnapshot: true }, select: { flowId: true } });
    if (marked.length === 0) return [];
    const ids = new Set(marked.map((l) => l.flowId));
    const outcome = await this.writer.write(
      {
        actor: 'controller',
        reason: 'call-flow layouts left the snapshot',
        dryRun: false,
        alsoInTransaction: async (m) => {
          await m.update(CallFlowLayoutEntity, { movedFromSnapshot: true }, { movedFromSnapshot: false });
        },
      },
      // The flows as they are: the write only makes the sites' snapshots (now without positions) a revision.
      (fed) => fed.callFlows.filter((f) => ids.has(f.id)).map((f): FederationChange => ({ collection: 'callFlows', op: 'upsert', value: f })),
    );
    const sites = outcome.revisions.map((r) => r.siteId);
    if (sites.length > 0) this.log.info({ sites }, 'sites whose flows lost their positions get a revision without them');
    return sites;
  }
}
