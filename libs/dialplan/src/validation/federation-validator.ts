import type { Federation } from '@fedpbx/contracts';
import type { ValidationResult } from './federation-issues.js';
import { ValidatedFederation, type ValidateOptions } from './validated-federation.js';

export type { CallFlowValidator, ValidateOptions } from './validated-federation.js';

/**
 * Validates the whole federation, as every API write must be before it commits: overlapping ranges, prefixes,
 * ranges shadowed by outbound patterns, DIDs owned twice, numbers used twice or outside every range, references
 * that point at nothing. Errors block a write; warnings are shown to the admin. A caller that validates one
 * federation after another keeps the {@link ValidatedFederation} instead, and revalidates only what changed.
 */
export function validateFederation(fed: Federation, options: ValidateOptions = {}): ValidationResult {
  return ValidatedFederation.validate(fed, options).result;
}
