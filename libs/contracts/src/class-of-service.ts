import { z } from 'zod';
import { AsteriskName, ObjectId } from './primitives.js';

/**
 * What a call is, for class-of-service decisions. Ordered from least to most privileged; `emergency` is
 * always allowed and never restricted by a class of service.
 */
export const CALL_CLASSES = ['internal', 'local', 'national', 'international', 'premium', 'emergency'] as const;
export const CallClass = z.enum(CALL_CLASSES);
export type CallClass = z.infer<typeof CallClass>;

/** Classes a class of service can grant (emergency is not grantable: it is always allowed). */
export const RestrictableCallClass = z.enum(['internal', 'local', 'national', 'international', 'premium']);
export type RestrictableCallClass = z.infer<typeof RestrictableCallClass>;

export const ClassOfService = z.strictObject({
  id: ObjectId,
  name: AsteriskName,
  /** The call classes members of this class may place. */
  allow: z.array(RestrictableCallClass).min(1),
});
export type ClassOfService = z.infer<typeof ClassOfService>;
