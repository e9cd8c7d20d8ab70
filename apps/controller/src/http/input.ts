import type { z } from 'zod';
import { InvalidInputError } from '../errors.js';

/** Parses a request body (strict: unknown properties are rejected) or throws a 400 naming every problem. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, what = 'body'): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new InvalidInputError(
    `invalid ${what}`,
    r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message, code: i.code })),
  );
}

/** `?dryRun=true` on any write. */
export const isDryRun = (v: string | undefined): boolean => v === 'true' || v === '1';

/** Page size from `?limit=` (1-1000, default 100). */
export function pageLimit(v: string | undefined): number {
  if (v === undefined) return 100;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidInputError('invalid query', [{ path: 'limit', message: 'an integer from 1 to 1000' }]);
  return n;
}
