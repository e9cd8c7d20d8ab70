import type { FederationIssue } from '@fedpbx/dialplan';

/** Every way a request can fail on purpose. Mapped to HTTP once, at the edge (http/domain-error.filter.ts). */
export type DomainErrorCode =
  | 'invalid-input'
  | 'unauthenticated'
  | 'forbidden'
  | 'property-forbidden'
  | 'not-found'
  | 'already-exists'
  | 'validation-conflict'
  | 'state-conflict'
  | 'rate-limited'
  | 'invariant-violated'
  | 'password-change-required';

export interface InputProblem {
  readonly path: string;
  readonly message: string;
  readonly code?: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class InvalidInputError extends DomainError {
  constructor(
    message: string,
    readonly problems: readonly InputProblem[],
  ) {
    super('invalid-input', message, { problems });
  }
}

export class NotFoundError extends DomainError {
  constructor(objectType: string, id: string) {
    super('not-found', `${objectType} ${id} not found`, { objectType, id });
  }
}

export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/** A property the caller's role may not set (site prefix, class-of-service ceiling: head office only). */
export class PropertyForbiddenError extends DomainError {
  constructor(readonly properties: readonly string[]) {
    super('property-forbidden', `only head office may set ${properties.join(', ')}`, { properties });
  }
}

export class AlreadyExistsError extends DomainError {
  constructor(objectType: string, id: string) {
    super('already-exists', `${objectType} ${id} already exists`, { objectType, id });
  }
}

/** The object is in a state that does not allow the request (an enrollment token already used cannot be revoked). */
export class StateConflictError extends DomainError {
  constructor(objectType: string, id: string, state: string, message: string) {
    super('state-conflict', message, { objectType, id, state });
  }
}

/** Rules no write may break, whoever makes it (#17 §1). */
export type Invariant = 'last-head-office-admin';

/** The write would break an invariant of the federation; the rule is named in `rule` and in the message. */
export class InvariantViolatedError extends DomainError {
  constructor(
    readonly rule: Invariant,
    message: string,
  ) {
    super('invariant-violated', message, { rule });
  }
}

/** The change would leave the federation invalid: the issues name every party of each conflict. */
export class ValidationConflictError extends DomainError {
  constructor(
    readonly issues: readonly FederationIssue[],
    readonly warnings: readonly FederationIssue[],
  ) {
    super('validation-conflict', `the change conflicts with the federation: ${issues.map((i) => i.message).join('; ')}`);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'authentication required') {
    super('unauthenticated', message);
  }
}

export class RateLimitedError extends DomainError {
  constructor(readonly retryAfterSec: number) {
    super('rate-limited', `too many attempts; retry in ${retryAfterSec} s`, { retryAfterSec });
  }
}

/** Head office reset the password: until the user sets a new one, the session may only do that. */
export class PasswordChangeRequiredError extends DomainError {
  constructor() {
    super('password-change-required', 'your password was reset: set a new one first (POST /api/v1/auth/password)');
  }
}
