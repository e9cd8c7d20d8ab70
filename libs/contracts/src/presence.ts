import { z } from 'zod';
import { Digits, isDigits, isSiteId, SiteId } from './primitives.js';

/**
 * Busy lamps (BLF) across sites. A site shares the device state of its extensions' phones; other sites show them
 * on `Custom:` device states their phones subscribe to through a hint (funcs/func_devstate.c).
 */

/**
 * The device states that travel between sites: Asterisk's names (main/devicestate.c `devstatestring`), the values
 * `DEVICE_STATE(Custom:...)` accepts. UNKNOWN and INVALID are not among them: func_devstate.c devstate_write refuses
 * a value `ast_devstate_val` maps to AST_DEVICE_UNKNOWN, so the sending agent reports them as UNAVAILABLE.
 */
export const DEVICE_STATES = ['NOT_INUSE', 'INUSE', 'BUSY', 'RINGING', 'RINGINUSE', 'ONHOLD', 'UNAVAILABLE'] as const;
export const DeviceState = z.enum(DEVICE_STATES);
export type DeviceState = z.infer<typeof DeviceState>;

/** The most remote extensions one site may list by number (a head office lists sites instead). */
export const MAX_WATCHED_NUMBERS = 10_000;

export const PresenceWatch = z.strictObject({
  siteId: SiteId,
  /** Only these extensions of that site; absent: every extension it shares. */
  numbers: z.array(Digits).max(MAX_WATCHED_NUMBERS).optional(),
});
export type PresenceWatch = z.infer<typeof PresenceWatch>;

/**
 * A site's presence setting (absent on a site: it shares every extension and shows no remote lamp).
 * - `share`: whose state other sites may see: every extension, none, or `sharedNumbers`.
 * - `remoteHints`: which other sites' extensions get a hint here: none (the default, so a head office does not get
 *   100,000 hints by accident), every shared extension of every site this site can reach, or those of `watch`.
 */
export const PresenceSettings = z.strictObject({
  share: z.enum(['all', 'none', 'listed']).default('all'),
  sharedNumbers: z.array(Digits).max(100_000).default([]),
  remoteHints: z.enum(['none', 'all', 'listed']).default('none'),
  watch: z.array(PresenceWatch).max(1_000).default([]),
});
export type PresenceSettings = z.infer<typeof PresenceSettings>;
export type PresenceSettingsInput = z.input<typeof PresenceSettings>;

/** In a site's snapshot: the remote extensions that get a hint at this site, per site (numbers sorted). */
export const RemotePresence = z.strictObject({
  siteId: SiteId,
  numbers: z.array(Digits),
});
export type RemotePresence = z.infer<typeof RemotePresence>;

/**
 * `fedpbx.presence.<site>.changes`: the state changes of one site's shared extensions, coalesced over a few
 * milliseconds (a later change of the same extension replaces an earlier one). `seq` counts messages per sender run
 * (`epoch`): a receiver that sees a gap asks for the full state. `full`: the message holds every shared extension
 * (sent when the owner (re)connects to Asterisk or the bus, and as the answer to a state request).
 */
export const PresenceBatch = z.strictObject({
  siteId: SiteId,
  epoch: z.string().min(1).max(64),
  seq: z.number().int().min(0),
  full: z.boolean(),
  /** extension number -> state. */
  states: z.record(Digits, DeviceState),
  /** Milliseconds since the epoch when the oldest change in this batch was seen (latency figures). */
  firstChangeAt: z.number().int().min(0).optional(),
});
export type PresenceBatch = z.infer<typeof PresenceBatch>;

const BATCH_KEYS = new Set(['siteId', 'epoch', 'seq', 'full', 'states', 'firstChangeAt']);
const STATE_NAMES = new Set<string>(DEVICE_STATES);

/**
 * {@link PresenceBatch}'s check written out, for the watcher's hot path: a head office takes thousands of batches a
 * second, and the schema's parse (a copy of the object, a check object per key) was a tenth of its CPU. Accepts
 * exactly what `PresenceBatch.safeParse` accepts (presence.spec.ts compares them) but for an extension named
 * `__proto__`, which the schema drops silently and this refuses, and returns the value itself, not a copy. Bounded like the parse: one pass over the keys JSON.parse produced.
 */
export function readPresenceBatch(value: unknown): PresenceBatch | undefined {
  if (!isPlainObject(value)) return undefined;
  for (const key in value) if (!BATCH_KEYS.has(key)) return undefined;
  const { siteId, epoch, seq, full, states, firstChangeAt } = value;
  if (!isSiteId(siteId) || typeof epoch !== 'string' || epoch.length < 1 || epoch.length > 64) return undefined;
  if (!isCount(seq) || typeof full !== 'boolean' || !isPlainObject(states)) return undefined;
  if (firstChangeAt !== undefined && !isCount(firstChangeAt)) return undefined;
  for (const n in states) if (!isDigits(n) || !STATE_NAMES.has(states[n] as string)) return undefined;
  return value as PresenceBatch;
}

/** zod's `.int().min(0)`: a safe integer, not negative. */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** An object as JSON.parse makes them (zod's object and record checks refuse arrays and other classes). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
