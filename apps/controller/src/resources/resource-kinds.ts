import {
  CallFlow,
  ClassOfService,
  Extension,
  InboundRoute,
  InterSiteLink,
  NumberRange,
  OutboundRoute,
  Site,
  Trunk,
  type PublishedSchemaName,
} from '@fedpbx/contracts';
import type { z } from 'zod';
import type { CollectionName, ObjectOf } from '../federation/federation-change.js';

/** Who may do a kind of write: anyone with write rights at the object's sites, or head office only. */
export type WriteLevel = 'site' | 'head-office';

export interface ResourceKind<C extends CollectionName = CollectionName> {
  readonly collection: C;
  /** URL segment under /api/v1. */
  readonly path: string;
  readonly objectType: string;
  readonly schema: z.ZodType<ObjectOf<C>>;
  /** Name of the schema in the contracts' published JSON Schemas (OpenAPI). */
  readonly schemaName: PublishedSchemaName;
  readonly idPrefix: string;
  readonly create: WriteLevel;
  readonly update: WriteLevel;
  readonly delete: WriteLevel;
  /** Credentials: accepted on write, never returned; kept when an update omits them. */
  readonly secretFields: readonly string[];
  /** Credentials the controller generates when a create omits them. */
  readonly generatedSecrets: readonly string[];
  /**
   * Properties only head office may set or change (ARCHITECTURE.md "Rights"), as dotted paths
   * (`network.vpnAddress`): a site admin's write that changes one is refused with 403 naming it.
   */
  readonly headOfficeFields: readonly string[];
}

const kind = <C extends CollectionName>(k: ResourceKind<C>): ResourceKind<C> => k;

export const RESOURCE_KINDS = {
  sites: kind({
    collection: 'sites',
    path: 'sites',
    objectType: 'site',
    schema: Site,
    schemaName: 'Site',
    idPrefix: 'site',
    create: 'head-office',
    update: 'site',
    delete: 'head-office',
    secretFields: [],
    generatedSecrets: [],
    // Emergency numbers decide where a call to emergency services goes (#17): head office's. The tunnel
    // identity is federation infrastructure, and a site admin probing it with dry runs would learn which
    // addresses and keys other sites hold.
    headOfficeFields: ['prefix', 'prefixRequired', 'classOfServiceCeiling', 'emergencyNumbers', 'network.vpnAddress', 'network.wireguardPublicKey'],
  }),
  numberRanges: kind({
    collection: 'numberRanges',
    path: 'number-ranges',
    objectType: 'numberRange',
    schema: NumberRange,
    schemaName: 'NumberRange',
    idPrefix: 'r',
    create: 'site',
    update: 'site',
    delete: 'site',
    secretFields: [],
    generatedSecrets: [],
    headOfficeFields: [],
  }),
  extensions: kind({
    collection: 'extensions',
    path: 'extensions',
    objectType: 'extension',
    schema: Extension,
    schemaName: 'Extension',
    idPrefix: 'e',
    create: 'site',
    update: 'site',
    delete: 'site',
    secretFields: ['sipSecret', 'voicemailPin'],
    generatedSecrets: ['sipSecret', 'voicemailPin'],
    headOfficeFields: [],
  }),
  trunks: kind({
    collection: 'trunks',
    path: 'trunks',
    objectType: 'trunk',
    schema: Trunk,
    schemaName: 'Trunk',
    idPrefix: 't',
    create: 'site',
    update: 'site',
    delete: 'site',
    secretFields: ['secret'],
    generatedSecrets: [],
    headOfficeFields: [],
  }),
  links: kind({
    collection: 'links',
    path: 'links',
    objectType: 'link',
    schema: InterSiteLink,
    schemaName: 'InterSiteLink',
    idPrefix: 'l',
    create: 'head-office',
    update: 'head-office',
    delete: 'head-office',
    secretFields: ['secret'],
    generatedSecrets: ['secret'],
    headOfficeFields: [],
  }),
  outboundRoutes: kind({
    collection: 'outboundRoutes',
    path: 'outbound-routes',
    objectType: 'outboundRoute',
    schema: OutboundRoute,
    schemaName: 'OutboundRoute',
    idPrefix: 'or',
    create: 'head-office',
    update: 'head-office',
    delete: 'head-office',
    secretFields: [],
    generatedSecrets: [],
    headOfficeFields: [],
  }),
  inboundRoutes: kind({
    collection: 'inboundRoutes',
    path: 'inbound-routes',
    objectType: 'inboundRoute',
    schema: InboundRoute,
    schemaName: 'InboundRoute',
    idPrefix: 'ir',
    create: 'site',
    update: 'site',
    delete: 'site',
    secretFields: [],
    generatedSecrets: [],
    headOfficeFields: [],
  }),
  callFlows: kind({
    collection: 'callFlows',
    path: 'call-flows',
    objectType: 'callFlow',
    schema: CallFlow,
    schemaName: 'CallFlow',
    idPrefix: 'f',
    create: 'site',
    update: 'site',
    delete: 'site',
    secretFields: [],
    generatedSecrets: [],
    headOfficeFields: [],
  }),
  classesOfService: kind({
    collection: 'classesOfService',
    path: 'classes-of-service',
    objectType: 'classOfService',
    schema: ClassOfService,
    schemaName: 'ClassOfService',
    idPrefix: 'cos',
    create: 'head-office',
    update: 'head-office',
    delete: 'head-office',
    secretFields: [],
    generatedSecrets: [],
    headOfficeFields: [],
  }),
} as const satisfies { [C in CollectionName]: ResourceKind<C> };

/** The API shape of an object: credentials removed, with a `<name>Set` flag saying whether one is stored. */
export function toResponse<C extends CollectionName>(k: ResourceKind<C>, o: ObjectOf<C>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  for (const f of k.secretFields) {
    out[`${f}Set`] = out[f] !== undefined;
    delete out[f];
  }
  return out;
}

/** The head-office properties (dotted paths) whose value differs between `before` and `after`. */
export function headOfficeChanges(k: ResourceKind, before: unknown, after: unknown): string[] {
  return k.headOfficeFields.filter((f) => JSON.stringify(valueAt(before, f)) !== JSON.stringify(valueAt(after, f)));
}

function valueAt(o: unknown, path: string): unknown {
  let v: unknown = o;
  for (const key of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}
