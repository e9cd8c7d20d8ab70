import type {
  CallFlow,
  ClassOfService,
  Extension,
  InboundRoute,
  InterSiteLink,
  NumberRange,
  OutboundRoute,
  Site,
  Trunk,
} from '@fedpbx/contracts';
import {
  CallFlowEntity,
  ClassOfServiceEntity,
  ExtensionEntity,
  InboundRouteEntity,
  LinkEntity,
  NumberRangeEntity,
  OutboundRouteEntity,
  OutboundRouteTrunkEntity,
  SiteEntity,
  TrunkEntity,
} from '../database/entities/index.js';

/**
 * Entity <-> domain object, one pair per collection. Entities stay in the data layer: everything above it sees
 * the contracts' shapes. NULL columns become absent properties, as the contracts' optional fields are.
 */
const opt = <K extends string, V>(key: K, v: V | null): { [P in K]?: V } => (v === null ? {} : ({ [key]: v } as { [P in K]: V }));

export const siteMapper = {
  toDomain: (e: SiteEntity): Site => ({
    id: e.id,
    name: e.name,
    ...opt('prefix', e.prefix),
    prefixRequired: e.prefixRequired,
    timezone: e.timezone,
    ...opt('defaultClassOfServiceId', e.defaultClassOfServiceId),
    classOfServiceCeiling: e.classOfServiceCeiling,
    emergencyNumbers: e.emergencyNumbers,
    ...opt('mainNumber', e.mainNumber),
    network: e.network,
    recording: e.recording,
    ringTimeoutSec: e.ringTimeoutSec,
    ...opt('presence', e.presence),
  }),
  toEntity: (s: Site): Partial<SiteEntity> => ({
    id: s.id,
    name: s.name,
    prefix: s.prefix ?? null,
    prefixRequired: s.prefixRequired,
    timezone: s.timezone,
    defaultClassOfServiceId: s.defaultClassOfServiceId ?? null,
    classOfServiceCeiling: s.classOfServiceCeiling,
    emergencyNumbers: s.emergencyNumbers,
    mainNumber: s.mainNumber ?? null,
    network: s.network,
    recording: s.recording,
    ringTimeoutSec: s.ringTimeoutSec,
    presence: s.presence ?? null,
  }),
};

export const numberRangeMapper = {
  toDomain: (e: NumberRangeEntity): NumberRange => ({
    id: e.id,
    siteId: e.siteId,
    from: e.fromNumber,
    to: e.toNumber,
    ...opt('pstnPrefix', e.pstnPrefix),
    ...opt('description', e.description),
  }),
  toEntity: (r: NumberRange): Partial<NumberRangeEntity> => ({
    id: r.id,
    siteId: r.siteId,
    fromNumber: r.from,
    toNumber: r.to,
    pstnPrefix: r.pstnPrefix ?? null,
    description: r.description ?? null,
  }),
};

export const extensionMapper = {
  toDomain: (e: ExtensionEntity): Extension => ({
    id: e.id,
    siteId: e.siteId,
    number: e.number,
    displayName: e.displayName,
    ...opt('classOfServiceId', e.classOfServiceId),
    ...opt('endpoint', e.endpoint),
    ...opt('sipSecret', e.sipSecret),
    voicemail: e.voicemail,
    ...opt('voicemailPin', e.voicemailPin),
    ...opt('email', e.email),
    ringTimeoutSec: e.ringTimeoutSec,
  }),
  toEntity: (x: Extension): Partial<ExtensionEntity> => ({
    id: x.id,
    siteId: x.siteId,
    number: x.number,
    displayName: x.displayName,
    classOfServiceId: x.classOfServiceId ?? null,
    endpoint: x.endpoint ?? null,
    sipSecret: x.sipSecret ?? null,
    voicemail: x.voicemail,
    voicemailPin: x.voicemailPin ?? null,
    email: x.email ?? null,
    ringTimeoutSec: x.ringTimeoutSec,
  }),
};

export const trunkMapper = {
  toDomain: (e: TrunkEntity): Trunk => ({
    id: e.id,
    siteId: e.siteId,
    name: e.name,
    host: e.host,
    port: e.port,
    transport: e.transport,
    register: e.register,
    ...opt('username', e.username),
    ...opt('secret', e.secret),
    ...opt('fromDomain', e.fromDomain),
    ...opt('fromUser', e.fromUser),
    codecs: e.codecs,
    ...opt('callerIdNumber', e.callerIdNumber),
    emergency: e.emergency,
    ...opt('maxChannels', e.maxChannels),
  }),
  toEntity: (t: Trunk): Partial<TrunkEntity> => ({
    id: t.id,
    siteId: t.siteId,
    name: t.name,
    host: t.host,
    port: t.port,
    transport: t.transport,
    register: t.register,
    username: t.username ?? null,
    secret: t.secret ?? null,
    fromDomain: t.fromDomain ?? null,
    fromUser: t.fromUser ?? null,
    codecs: t.codecs,
    callerIdNumber: t.callerIdNumber ?? null,
    emergency: t.emergency,
    maxChannels: t.maxChannels ?? null,
  }),
};

export const linkMapper = {
  toDomain: (e: LinkEntity): InterSiteLink => ({
    id: e.id,
    a: e.siteA,
    b: e.siteB,
    mode: e.mode,
    ...opt('registrant', e.registrant),
    ...opt('secret', e.secret),
    codecs: e.codecs,
  }),
  toEntity: (l: InterSiteLink): Partial<LinkEntity> => ({
    id: l.id,
    siteA: l.a,
    siteB: l.b,
    mode: l.mode,
    registrant: l.registrant ?? null,
    secret: l.secret ?? null,
    codecs: l.codecs,
  }),
};

export const outboundRouteMapper = {
  toDomain: (e: OutboundRouteEntity, trunks: readonly OutboundRouteTrunkEntity[]): OutboundRoute => ({
    id: e.id,
    name: e.name,
    patterns: e.patterns,
    callClass: e.callClass,
    sites: e.sites,
    trunks: [...trunks].sort((a, b) => a.position - b.position).map((t) => ({ trunkId: t.trunkId, strip: t.strip, prepend: t.prepend })),
  }),
  toEntity: (r: OutboundRoute): Partial<OutboundRouteEntity> => ({ id: r.id, name: r.name, patterns: r.patterns, callClass: r.callClass, sites: r.sites }),
  trunksToEntities: (r: OutboundRoute): Partial<OutboundRouteTrunkEntity>[] =>
    r.trunks.map((t, position) => ({ routeId: r.id, position, trunkId: t.trunkId, strip: t.strip, prepend: t.prepend })),
};

export const inboundRouteMapper = {
  toDomain: (e: InboundRouteEntity): InboundRoute => ({
    id: e.id,
    siteId: e.siteId,
    did: e.did,
    ...opt('trunkId', e.trunkId),
    destination: e.destination,
  }),
  toEntity: (r: InboundRoute): Partial<InboundRouteEntity> => ({
    id: r.id,
    siteId: r.siteId,
    did: r.did,
    trunkId: r.trunkId ?? null,
    destination: r.destination,
  }),
};

export const callFlowMapper = {
  toDomain: (e: CallFlowEntity): CallFlow => ({
    id: e.id,
    siteId: e.siteId,
    name: e.name,
    ...opt('number', e.number),
    entry: e.entry,
    nodes: e.nodes,
  }),
  toEntity: (f: CallFlow): Partial<CallFlowEntity> => ({
    id: f.id,
    siteId: f.siteId,
    name: f.name,
    number: f.number ?? null,
    entry: f.entry,
    nodes: f.nodes,
  }),
};

export const classOfServiceMapper = {
  toDomain: (e: ClassOfServiceEntity): ClassOfService => ({ id: e.id, name: e.name, allow: e.allow }),
  toEntity: (c: ClassOfService): Partial<ClassOfServiceEntity> => ({ id: c.id, name: c.name, allow: c.allow }),
};
