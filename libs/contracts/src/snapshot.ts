import { z } from 'zod';
import { nameOf } from './names.js';
import { CallFlow } from './call-flow.js';
import { ClassOfService } from './class-of-service.js';
import {
  Extension,
  InboundRoute,
  InterSiteLink,
  NumberRange,
  OutboundRoute,
  RemoteTrunk,
  Site,
  SiteNetwork,
  SitePrefix,
  Trunk,
} from './federation.js';
import { DialString, ObjectId, SiteId } from './primitives.js';
import { RemotePresence } from './presence.js';

/**
 * The per-site snapshot: everything one site needs to route its calls alone, and nothing it may not know
 * (ARCHITECTURE.md "Snapshot: what a site may know"). Bump the format when a change is not backward compatible;
 * agents refuse formats they do not know.
 */
export const SNAPSHOT_FORMAT_VERSION = 1 as const;

/** What every site knows of every other site: the federation numbering plan and how to reach it. */
export const SiteDirectoryEntry = z.strictObject({
  id: SiteId,
  name: nameOf(80),
  prefix: SitePrefix.optional(),
  prefixRequired: z.boolean().default(false),
  mainNumber: DialString.optional(),
  /** How to reach the site: SIP, and its side of the WireGuard mesh (public data: endpoint and public key only). */
  network: SiteNetwork.pick({ vpnAddress: true, sipHost: true, sipPort: true, wireguardEndpoint: true, wireguardPublicKey: true }).optional(),
  ringTimeoutSec: z.number().int().min(5).max(300).default(30),
});
export type SiteDirectoryEntry = z.infer<typeof SiteDirectoryEntry>;

export const SiteConfig = z.strictObject({
  site: Site,
  federation: z.strictObject({
    sites: z.array(SiteDirectoryEntry),
    numberRanges: z.array(NumberRange),
    /** Hub-and-spoke: sites without a direct link are reached through this site. */
    hubSiteId: SiteId.optional(),
  }),
  extensions: z.array(Extension),
  trunks: z.array(Trunk),
  remoteTrunks: z.array(RemoteTrunk).default([]),
  links: z.array(InterSiteLink),
  outboundRoutes: z.array(OutboundRoute),
  inboundRoutes: z.array(InboundRoute),
  callFlows: z.array(CallFlow),
  classesOfService: z.array(ClassOfService),
  /**
   * The other sites' extensions that get a busy-lamp hint here (the site's presence setting, limited to sites it can
   * reach and extensions they share), by site id. Absent when there are none.
   */
  remotePresence: z.array(RemotePresence).optional(),
});
export type SiteConfig = z.infer<typeof SiteConfig>;
export type SiteConfigInput = z.input<typeof SiteConfig>;

export const SnapshotSignature = z.strictObject({
  alg: z.literal('ed25519'),
  /** Which controller key signed it (key rotation). */
  keyId: ObjectId,
  /** base64 signature over `snapshotSigningPayload(snapshot)`. */
  value: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
});
export type SnapshotSignature = z.infer<typeof SnapshotSignature>;

export const SiteSnapshot = z.strictObject({
  format: z.literal(SNAPSHOT_FORMAT_VERSION),
  siteId: SiteId,
  revision: z.number().int().min(1),
  generatedAt: z.iso.datetime(),
  /** `sha256:<hex>` of `canonicalJson(config)`. */
  contentHash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  signature: SnapshotSignature,
  config: SiteConfig,
});
export type SiteSnapshot = z.infer<typeof SiteSnapshot>;

/**
 * JSON with object keys sorted at every depth and no insignificant white space: the bytes the content hash
 * is computed over. Arrays keep their order (order is meaning: route preferences, flow nodes). Built on the
 * native serializer (a replacer that re-creates only objects whose keys are out of order): a 100,000-extension
 * snapshot is hashed at every apply and every boot. (Integer-like keys would follow JavaScript's property order;
 * no contract uses them.)
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, sortKeys) ?? 'null';
}

function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return record;
  keys.sort();
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = record[k];
  return out;
}

/** The exact bytes the controller signs: binds site, revision, time and content together. */
export function snapshotSigningPayload(s: Pick<SiteSnapshot, 'format' | 'siteId' | 'revision' | 'generatedAt' | 'contentHash'>): string {
  return `fedpbx-snapshot\n${s.format}\n${s.siteId}\n${s.revision}\n${s.generatedAt}\n${s.contentHash}`;
}
