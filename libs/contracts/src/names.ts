import { z } from 'zod';

/**
 * The one rule for names and free text people type (site, route, flow and node names, descriptions, API token
 * names): never blank, and never a character that breaks a line or hides text - C0/C1 controls (CR, LF, TAB, NUL,
 * ESC...), the Unicode line and paragraph separators, and the bidirectional overrides and isolates that make a
 * name read differently from what it is. Such names end up in logs, audit entries, CSV exports, the console and
 * Asterisk comments, where a line break forges a line. (Values written into Asterisk configuration have their
 * own, stricter alphabets: display names are `CallerIdName`, object names `AsteriskName`.)
 */
const TEXT_CHAR = '[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]';
const NAME = new RegExp(`^(?=.*\\S)${TEXT_CHAR}*$`);
const TEXT = new RegExp(`^${TEXT_CHAR}*$`);

/** A name: 1-`max` characters, not only white space, no control or line-breaking characters. */
export const nameOf = (max: number) =>
  z
    .string()
    .min(1, 'a name is not empty')
    .max(max)
    .regex(NAME, 'a name is not blank and holds no line breaks, control or text-direction characters');

/** Free text (a description): up to `max` characters, no control or line-breaking characters; may be empty. */
export const textOf = (max: number) => z.string().max(max).regex(TEXT, 'text holds no line breaks, control or text-direction characters');

/**
 * An extension's display name (the caller-ID name of its phone): `CallerIdName`'s alphabet, with at least one
 * letter or digit - an empty or all-blank name would show callers nothing.
 */
export const DisplayName = z
  .string()
  .regex(/^(?=.*[\p{L}\p{N}])[\p{L}\p{N} ._'-]{1,40}$/u, "a display name is 1-40 letters, digits, space . _ ' -, with at least one letter or digit");
