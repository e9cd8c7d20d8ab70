/** Properties that hold credentials, in any object the API writes. */
export const SECRET_PROPERTIES: ReadonlySet<string> = new Set(['sipSecret', 'voicemailPin', 'secret', 'password', 'passwordHash', 'token', 'tokenHash']);

export const MASK = '***';

/** A deep copy with every credential replaced by a mask (present) - the audit log never holds a secret. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_PROPERTIES.has(k) && v !== undefined && v !== null ? MASK : maskSecrets(v);
  return out;
}
