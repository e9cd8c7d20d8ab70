import { z } from 'zod';

/**
 * Identifiers and value formats shared by every shape. Anything that can end up in Asterisk config text or in
 * AGI application data is restricted here to a whitelist, so that no caller- or admin-supplied text can ever
 * inject options into pjsip.conf, extensions.conf or an `EXEC Dial` (asterisk-protocols.md, "EXEC").
 */

/** A site id doubles as part of PJSIP object names (`site-<id>`) and NATS subjects: lower-case slug. */
const SITE_ID = /^[a-z][a-z0-9-]{0,30}$/;
export const SiteId = z.string().regex(SITE_ID, 'a site id is 1-31 characters: a lower-case letter, then a-z, 0-9 or -');
export type SiteId = z.infer<typeof SiteId>;

/** {@link SiteId}'s check as a plain test (hot paths that check by hand: readPresenceBatch). */
export function isSiteId(value: unknown): value is SiteId {
  return typeof value === 'string' && SITE_ID.test(value);
}

/**
 * One call across the federation: `<origin site>/<the call's linkedid at the origin site>` (an Asterisk uniqueid,
 * `[systemname-]epoch.sequence`). Travels between sites in the SIP header X-Fedpbx-Call.
 */
const FEDERATION_CALL_ID = /^[a-z][a-z0-9-]{0,30}\/[A-Za-z0-9_.-]{1,64}$/;
export const FederationCallId = z.string().regex(FEDERATION_CALL_ID, 'a call id is <site id>/<Asterisk linkedid>');
export type FederationCallId = z.infer<typeof FederationCallId>;

/**
 * {@link FederationCallId}'s check as a plain test: the agent's call path asks it on every call, before its first
 * command (no parse result). Exactly `FEDERATION_CALL_ID.test(value)`, as a loop over the characters: a regular
 * expression's test costs several times a loop's on a call path whose caches went cold (primitives.spec.ts).
 */
export function isFederationCallId(value: string): boolean {
  const slash = value.indexOf('/');
  // A site id of 1-31 characters, its first a-z, then a-z 0-9 -; after the slash 1-64 of A-Z a-z 0-9 _ . -.
  if (slash < 1 || slash > 31 || value.length - slash - 1 < 1 || value.length - slash - 1 > 64) return false;
  const first = value.charCodeAt(0);
  if (first < 97 || first > 122) return false;
  for (let i = 1; i < slash; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) return false;
  }
  for (let i = slash + 1; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45)) return false;
  }
  return true;
}

/** Object ids chosen by the controller (uuids or slugs); never shown to Asterisk. */
export const ObjectId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'an id is 1-64 characters of A-Z a-z 0-9 _ . : -');
export type ObjectId = z.infer<typeof ObjectId>;

/** A name Asterisk accepts as a PJSIP object / context / file part. */
export const AsteriskName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a name is 1-63 characters of A-Z a-z 0-9 _ . - (starts with a letter or digit)');

/** An internal number: digits only (an extension, a range bound). */
const DIGITS = /^[0-9]{1,15}$/;
export const Digits = z.string().regex(DIGITS, 'digits only, 1-15 of them');

/** {@link Digits}' check as a plain test. */
export function isDigits(value: string): boolean {
  return DIGITS.test(value);
}

/** A dialable string as Asterisk may see it: digits, `*`, `#`, leading `+`. */
export const DialString = z.string().regex(/^\+?[0-9*#]{1,32}$/, 'a dial string is up to 32 of 0-9 * # with an optional leading +');

/** An Asterisk extension pattern (`_NXX`, `_[34]XX`, `_8812XXXXXXX`, `_X.`) or a literal number. */
export const ExtensionPatternText = z
  .string()
  .regex(/^(?:_[0-9A-Za-z*#+\-[\].!]{1,79}|\+?[0-9*#-]{1,32})$/, 'an Asterisk pattern (_...) or a literal number');

export const IpAddress = z.union([z.ipv4(), z.ipv6()]);

export const HostName = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'a host name or IP address');

export const Port = z.number().int().min(1).max(65535);

export const Codec = z.enum(['alaw', 'ulaw', 'g722', 'g729', 'opus', 'gsm']);
export type Codec = z.infer<typeof Codec>;

/** Caller-ID name text we set ourselves (never caller-supplied): printable, no quotes or separators. */
export const CallerIdName = z.string().regex(/^[\p{L}\p{N} ._'-]{0,40}$/u, 'letters, digits, space . _ \' - (at most 40)');
