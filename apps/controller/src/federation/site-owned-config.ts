import type { CallFlow, Extension, InboundRoute, NumberRange, Site, Trunk } from '@fedpbx/contracts';

/** The objects a site owns: what a revision records and a rollback restores. */
export interface SiteOwnedConfig {
  readonly site: Site;
  readonly numberRanges: readonly NumberRange[];
  readonly extensions: readonly Extension[];
  readonly trunks: readonly Trunk[];
  readonly inboundRoutes: readonly InboundRoute[];
  readonly callFlows: readonly CallFlow[];
}
