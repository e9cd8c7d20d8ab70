import { z } from 'zod';

/** The controller's configuration from environment variables, validated at start; errors name the variable. */
export const CONTROLLER_ENV = {
  FEDPBX_HTTP_LISTEN: { schema: z.string().regex(/^[A-Za-z0-9.:[\]-]+:[0-9]{1,5}$/).default('127.0.0.1:8080'), doc: 'REST API and console listen address' },
  DATABASE_URL: { schema: z.url().optional(), doc: 'PostgreSQL URL; without it an embedded database is used' },
  FEDPBX_NATS_URL: { schema: z.string().min(1).optional(), doc: 'NATS server(s) for sync with agents' },
  FEDPBX_LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'), doc: 'log level' },
} as const;

type Env = typeof CONTROLLER_ENV;
export type ControllerConfig = { [K in keyof Env]: z.output<Env[K]['schema']> };

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function loadControllerConfig(env: NodeJS.ProcessEnv): ControllerConfig {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(CONTROLLER_ENV)) {
    const raw = env[name];
    const parsed = (spec.schema as z.ZodType).safeParse(raw === '' ? undefined : raw);
    if (parsed.success) out[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues.map((i) => i.message).join('; ')} (${spec.doc})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ControllerConfig;
}
