import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * The passwords of zxcvbn-ts's common list (about 49,000 from public breach corpora, most-used first), lower
 * case. A set: one lookup per candidate.
 */
const COMMON = new Set<string>((dictionary['passwords-common'] as readonly string[]).map((p) => p.toLowerCase()));

/**
 * The forms of a password an attacker's list tries first: as typed, lower case, without the digits and symbols
 * people put around a word ("Password2024!" is "password"), and the unit of a repetition ("abcabcabcabc").
 */
function guessableForms(password: string): string[] {
  const lower = password.toLowerCase();
  const core = lower.replace(/^[^a-z]+|[^a-z]+$/g, '');
  const forms = [lower, core];
  const unit = /^(.+?)\1+$/.exec(lower)?.[1];
  if (unit !== undefined) forms.push(unit);
  return forms.filter((f) => f !== '');
}

/**
 * Why a new password is refused, or an empty list: at least `minLength` characters (FEDPBX_PASSWORD_MIN_LENGTH),
 * at most 256, not the user name or built on it, not a common password in any of the forms above, and more
 * than three distinct characters.
 */
export function passwordProblems(password: string, username: string, minLength: number): string[] {
  const problems: string[] = [];
  if ([...password].length < minLength) problems.push(`at least ${minLength} characters`);
  if (password.length > 256) problems.push('at most 256 characters');
  const lower = password.toLowerCase();
  if (username !== '' && lower.includes(username.toLowerCase())) problems.push('must not contain the user name');
  if (guessableForms(password).some((f) => COMMON.has(f))) problems.push('is a common password (found in breach lists)');
  if (new Set(password).size <= 3) problems.push('uses too few different characters');
  return problems;
}
