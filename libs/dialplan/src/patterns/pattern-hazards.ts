/**
 * Extension names that parse but do not do what an admin means by them. Asterisk accepts each of them without
 * complaint (or with only a log line), so the federation checks turn them into refusals or warnings with the
 * reason, before they reach a site's dialplan.
 */

/** Why a name is refused (`error`) or only worth a warning. */
export interface PatternHazard {
  readonly severity: 'error' | 'warning';
  readonly reason: string;
}

/**
 * The hazards of an extension name as it would appear in `exten => NAME,...` (literal names have none).
 * - `_.` / `_!` (a wildcard first): takes every number, internal ones included; main/pbx.c itself warns
 *   "The use of '_.' for an extension is strongly discouraged" (`ast_add_extension2_lockopt`).
 * - `[]`: an empty set; `_extension_match_core` fails any number that reaches it, so the route never matches.
 * - `!` after some digits: an "early match" (`E_MATCHMORE` is answered at once), Asterisk dials as soon as the
 *   digits before it are in, without waiting for the rest of the number.
 */
export function patternHazards(text: string): PatternHazard[] {
  if (!text.startsWith('_')) return [];
  const body = text.slice(1).replaceAll('-', '');
  const out: PatternHazard[] = [];
  if (body.startsWith('.') || body.startsWith('!')) {
    out.push({
      severity: 'error',
      reason: `${text} matches every number, internal numbers and emergency numbers included (use _X. for "any number of at least one digit")`,
    });
  }
  if (body.includes('[]')) out.push({ severity: 'error', reason: `${text} has an empty set []: Asterisk never matches a number at that position` });
  const bang = body.indexOf('!');
  if (bang > 0) out.push({ severity: 'warning', reason: `${text} ends in an early match (!): Asterisk dials as soon as the digits before it are dialled, without waiting for the rest` });
  return out;
}
