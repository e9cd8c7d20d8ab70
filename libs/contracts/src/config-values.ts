import { z } from 'zod';

/**
 * The one rule for every value fedpbx writes into Asterisk (pjsip.conf, extensions.conf, voicemail.conf includes)
 * or WireGuard config text. The API validates writes with these schemas, the snapshot carries values that passed
 * them, and the renderers' `safe-values` checks call the same schemas: what the API accepts, a renderer renders.
 *
 * What breaks a `key=value` line, from Asterisk's config parser (main/config.c, `config_text_file_load` and
 * `process_text_line`, Asterisk 22):
 * - a line is read with `fgets` into an 8192-byte buffer; a longer line is skipped whole ("Line %d too long,
 *   skipping"), so a line may hold at most {@link MAX_CONFIG_LINE_BYTES} bytes before its newline;
 * - `;` starts a comment to the end of the line unless the character before it is `\` (which is then removed);
 *   `;--` opens and `--;` closes a block comment (a stray `--;` makes every later line a comment): values holding
 *   `;` are written with `\;`, and only where the field allows `;` at all (secrets);
 * - the whole line and then the value are `ast_strip`ped: leading and trailing white space is lost;
 * - after `=`, a `>` is eaten as the object form `=>`: a value starting with `>` loses it;
 * - `[` or `#` matter only as a line's first character (a category header, a directive): never for a value
 *   written after `key=`, but never at the start of a line we write;
 * - the parser works on bytes, and CR/LF end the line: control characters are never allowed; non-ASCII text is
 *   written as UTF-8 and only in display names (Asterisk passes the bytes through).
 * Dialplan application data (`Dial(...)`, `VoiceMail(...)`) adds `,` `|` `(` `)` `$` `[` `]` `"` `\` and `&`
 * (asterisk-protocols.md "EXEC"), and voicemail.conf's `mailbox => pin,name,email,pager,options` (app_voicemail.c
 * `append_mailbox`: fields split with `strsep(",")`) adds `,` and `|`: the values that reach those places are
 * digits, names and addresses whose alphabets exclude them.
 */

/** config.c reads lines into `char buf[8192]` with fgets: 8190 bytes, the newline and the terminating NUL. */
export const MAX_CONFIG_LINE_BYTES = 8190;

/**
 * A password of a PJSIP `auth` object (trunk, link, phone): 8-128 printable ASCII characters without white space.
 * `;` is allowed (written as `\;`). A leading `>` is refused: `password=>x` is read as the object form and the
 * password becomes `x` (config.c: "Ignore > in =>").
 */
export const Secret = z
  .string()
  .min(8, 'a secret is at least 8 characters')
  .max(128, 'a secret is at most 128 characters')
  .regex(/^[\x21-\x7e]+$/, 'a secret is printable ASCII without spaces')
  .regex(/^[^>]/, 'a secret must not start with > (Asterisk reads "password=>x" as the object form "=>" and drops the >)');

/**
 * A SIP user part fedpbx writes (trunk `username`, `from_user`, registration `contact_user`): `A-Za-z0-9_.+-`,
 * starting with a letter, digit or `+`. A registering trunk's calls may arrive on its contact_user, so the user is
 * also an extension name in `fedpbx-from-pstn`: pbx.c reads a leading `_` as a pattern and ignores `-` anywhere.
 */
export const SipUser = z.string().regex(/^[A-Za-z0-9+][A-Za-z0-9_.+-]{0,63}$/, 'a SIP user is 1-64 characters of A-Z a-z 0-9 _ . + -, starting with a letter, digit or +');

/**
 * Prefixes of the PJSIP object names fedpbx generates (`site-<id>`, `trunk-<name>`, `fedpbx-transport`): a phone's
 * endpoint name may not take one (the pjsip renderer would refuse it as RESERVED_NAME).
 */
export const RESERVED_ENDPOINT_PREFIXES = ['site-', 'trunk-', 'fedpbx-'] as const;

/** A phone's PJSIP endpoint name: an Asterisk name that is none of fedpbx's own objects. */
export const PhoneEndpointName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a name is 1-63 characters of A-Z a-z 0-9 _ . - (starts with a letter or digit)')
  .regex(/^(?!(?:site|trunk|fedpbx)-)/i, 'a phone endpoint name must not start with site-, trunk- or fedpbx- (fedpbx names its own objects so)');

/**
 * A voicemail PIN: 4-16 digits. voicemail.conf holds it as the first `,`-separated field of `mailbox => pin,...`,
 * and app_voicemail treats a PIN starting with `*` as invalid; digits only is what a phone keypad can enter.
 */
export const VoicemailPin = z.string().regex(/^[0-9]{4,16}$/, 'a voicemail PIN is 4-16 digits');

/**
 * An e-mail address voicemail.conf can hold (the third field of `mailbox => pin,name,email`): no `,` (field
 * separator), `|` (option separator), `;` (comment), quotes or white space.
 */
export const EmailAddress = z
  .string()
  .max(254)
  .regex(
    /^[A-Za-z0-9._%+-]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/,
    'an e-mail address of A-Z a-z 0-9 . _ % + - before the @ and a host name after it',
  );

/** An IANA time zone name as STRFTIME and Intl take it: `UTC`, `Europe/Moscow`, `America/Argentina/Buenos_Aires`. */
export const TimeZoneName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_+-]{0,30}(?:\/[A-Za-z0-9_+-]{1,30}){0,3}$/, 'a time zone name such as UTC or Europe/Moscow');

/** A WireGuard key: base64 of exactly 32 bytes (44 characters, the last one `=`, the one before it one of 16). */
export const WireguardKey = z.string().regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, 'a WireGuard key is 32 bytes of base64');
