import type { FederationChange, CollectionName, ObjectOf } from './federation-change.js';

/** The sites an object belongs to: what rights and the audit log are scoped by. Empty = federation-wide. */
export function sitesOfObject<C extends CollectionName>(collection: C, o: ObjectOf<C>): string[] {
  switch (collection) {
    case 'sites':
      return [o.id];
    case 'links': {
      const l = o as ObjectOf<'links'>;
      return [l.a, l.b];
    }
    case 'outboundRoutes':
      return [...(o as ObjectOf<'outboundRoutes'>).sites];
    case 'classesOfService':
      return [];
    case 'numberRanges':
    case 'trunks':
    case 'extensions':
    case 'inboundRoutes':
    case 'callFlows':
      return [(o as { siteId: string }).siteId];
  }
  return [];
}

export const OBJECT_TYPE: Record<CollectionName, string> = {
  sites: 'site',
  classesOfService: 'classOfService',
  numberRanges: 'numberRange',
  trunks: 'trunk',
  extensions: 'extension',
  links: 'link',
  outboundRoutes: 'outboundRoute',
  inboundRoutes: 'inboundRoute',
  callFlows: 'callFlow',
};

export type { FederationChange };
