/**
 * Whitelists applied to every value at the moment it is written into config text.
 *
 * The rules are the contracts' own (`@fedpbx/contracts` config-values.ts and primitives.ts, which cite what breaks
 * Asterisk's config parser): the API refuses at write time exactly what a renderer would refuse here. The renderers
 * check again because a renderer cannot know that its input went through that parse (a test, a migration, a
 * future caller), and because a single CR/LF, `;` or `[` in pjsip.conf, or a `,`/`&`/`(` in dialplan application
 * data, turns data into configuration (asterisk-protocols.md, "EXEC"). Each check returns the value unchanged or
 * throws a RenderError naming the object and field - never the value.
 */
import {
  AsteriskName,
  CallerIdName,
  Codec,
  Digits,
  EmailAddress,
  HostName,
  Secret,
  SipUser,
  SiteId,
  TimeZoneName,
  VoicemailPin,
  WireguardKey,
} from '@fedpbx/contracts';
import { parseIp } from './net.js';
import { RenderError } from './render-errors.js';

/** Which object and field a value belongs to, for the error message. */
export interface ValueSite {
  readonly object: string;
  readonly field: string;
}

function refuse(where: ValueSite, reason: string): never {
  throw new RenderError('UNSAFE_VALUE', where.object, where.field, reason);
}

/** What this module needs of a contracts schema (a zod schema). */
interface Rule {
  safeParse(value: unknown): { readonly success: true } | { readonly success: false; readonly error: { readonly issues: readonly { readonly message: string }[] } };
}

/** The value checked against a contracts schema; refused with the schema's first message (never the value). */
function byRule(schema: Rule, value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  const result = schema.safeParse(text);
  if (!result.success) refuse(where, result.error.issues[0]?.message ?? 'not accepted');
  return text;
}

function requireString(value: unknown, where: ValueSite): string {
  if (typeof value !== 'string') {
    throw new RenderError('MISSING_VALUE', where.object, where.field, 'a text value is required');
  }
  return value;
}

/** A PJSIP object name, dialplan context or endpoint name: `A-Za-z0-9_.-`, starting with a letter or digit. */
export function safeName(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/.test(text)) {
    refuse(where, 'a name is 1-80 characters of A-Z a-z 0-9 _ . - starting with a letter or digit');
  }
  return text;
}

/** A name as the contracts define it (`AsteriskName`, at most 63 characters). */
export function safeAsteriskName(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (!AsteriskName.safeParse(text).success) refuse(where, 'not an Asterisk name (A-Z a-z 0-9 _ . -, at most 63)');
  return text;
}

export function safeSiteId(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (!SiteId.safeParse(text).success) refuse(where, 'not a site id (a-z 0-9 -, starting with a letter)');
  return text;
}

/** An internal number: digits only. */
export function safeDigits(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (!Digits.safeParse(text).success) refuse(where, 'digits only, 1-15 of them');
  return text;
}

export function safeIp(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (parseIp(text) === undefined) refuse(where, 'not an IPv4 or IPv6 address');
  return text;
}

/** A host name or an IPv4/IPv6 address. */
export function safeHost(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (parseIp(text) !== undefined) return text;
  if (!HostName.safeParse(text).success) refuse(where, 'not a host name or IP address');
  return text;
}

/** A host name or IPv4 address (no IPv6: its `[...]` and `:` would be read by dialplan argument parsing). */
export function safeHostNoV6(value: unknown, where: ValueSite): string {
  const text = safeHost(value, where);
  if (parseIp(text)?.version === 6) refuse(where, 'IPv6 literals are not accepted here');
  return text;
}

export function safePort(value: unknown, where: ValueSite): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    refuse(where, 'a port is an integer 1-65535');
  }
  return value;
}

/** An integer within bounds (timeouts, intervals). */
export function safeInt(value: unknown, min: number, max: number, where: ValueSite): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    refuse(where, `an integer ${min}-${max}`);
  }
  return value;
}

/**
 * A password for a PJSIP `auth` object: the contracts' `Secret` (printable ASCII without spaces, no leading `>`).
 * `;` is allowed and escaped by the ini writer (`\;`, which Asterisk's config parser turns back into `;`).
 */
export function safeSecret(value: unknown, where: ValueSite): string {
  return byRule(Secret, value, where);
}

/** A SIP user part we write ourselves (trunk username, from_user): the contracts' `SipUser`. */
export function safeSipUser(value: unknown, where: ValueSite): string {
  return byRule(SipUser, value, where);
}

/** A voicemail PIN (the contracts' `VoicemailPin`: digits). */
export function safeVoicemailPin(value: unknown, where: ValueSite): string {
  return byRule(VoicemailPin, value, where);
}

/** An e-mail address for voicemail.conf (the contracts' `EmailAddress`: no `,` `|` `;` quotes or spaces). */
export function safeEmail(value: unknown, where: ValueSite): string {
  return byRule(EmailAddress, value, where);
}

export function safeCodec(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (!Codec.safeParse(text).success) refuse(where, `not a known codec (${Codec.options.join(', ')})`);
  return text;
}

/** A caller-ID display name we set ourselves: letters, digits, space . _ ' - (no quotes, no `<`). */
export function safeCallerIdName(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (!CallerIdName.safeParse(text).success) refuse(where, "a display name is letters, digits, space . _ ' - (at most 40)");
  return text;
}

/** An IANA time zone name as STRFTIME and Intl take it (the contracts' `TimeZoneName`). */
export function safeTimeZone(value: unknown, where: ValueSite): string {
  return byRule(TimeZoneName, value, where);
}

/**
 * An absolute file-system path that is also safe in dialplan application data and in a shell command line
 * (wg-quick runs `PostUp` through bash): `/` separated segments of `A-Za-z0-9_.-`, no `.`/`..` segments.
 */
export function safeAbsolutePath(value: unknown, where: ValueSite): string {
  const text = requireString(value, where);
  if (text.length > 200 || !/^(?:\/[A-Za-z0-9_.-]+)+$/.test(text)) {
    refuse(where, 'an absolute path of / separated A-Z a-z 0-9 _ . - segments (at most 200 characters)');
  }
  if (text.split('/').some((segment) => segment === '.' || segment === '..')) refuse(where, 'a path must not contain . or .. segments');
  return text;
}

/** A WireGuard key: base64 of exactly 32 bytes (the contracts' `WireguardKey`). */
export function safeWireguardKey(value: unknown, where: ValueSite): string {
  return byRule(WireguardKey, value, where);
}
