import { z } from 'zod';
import { SiteId } from '@fedpbx/contracts';

/**
 * The agent's whole configuration, from environment variables, validated once at start. A bad value stops the
 * process with a message that names the variable. Documented in README ("Agent configuration").
 */
const HostPort = z
  .string()
  .regex(/^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'host:port, e.g. 127.0.0.1:4573')
  .transform((s) => {
    const i = s.lastIndexOf(':');
    return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
  })
  .refine((a) => a.port >= 0 && a.port <= 65535, 'port must be 0-65535');

const Pem = z
  .string()
  .transform((s) => s.replace(/\\n/g, '\n').trim())
  .refine((s) => /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----$/.test(s), 'a PEM public key (-----BEGIN PUBLIC KEY-----)');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const AGENT_ENV = {
  FEDPBX_SITE_ID: { schema: SiteId, doc: 'the site this agent serves (required)' },
  FEDPBX_AGI_LISTEN: { schema: HostPort.prefault('127.0.0.1:4573'), doc: 'FastAGI listen address' },
  FEDPBX_AGI_MAX_SESSIONS: { schema: int(1, 100_000).default(2000), doc: 'concurrent FastAGI sessions; more are refused with `failure` (Asterisk then runs the fallback)' },
  FEDPBX_AGI_IDLE_TIMEOUT_MS: { schema: int(100, 3_600_000).default(30_000), doc: 'close a session that sends nothing for this long' },
  FEDPBX_STATE_DIR: { schema: z.string().min(1).default('/var/lib/fedpbx-agent'), doc: 'applied snapshots (with history) and the CDR outbox' },
  FEDPBX_BOOTSTRAP_SNAPSHOT: { schema: z.string().min(1).optional(), doc: 'a signed snapshot file used when the state dir holds none (first start, offline install)' },
  FEDPBX_CONTROLLER_PUBLIC_KEY: { schema: Pem, doc: "the controller's ed25519 public key (PEM; literal \\n allowed) that snapshots must be signed with" },
  FEDPBX_CONTROLLER_KEY_ID: { schema: z.string().min(1).default('controller-1'), doc: 'id of that key' },
  FEDPBX_NATS_URL: { schema: z.string().min(1).optional(), doc: 'NATS server(s), comma-separated; without it the agent runs stand-alone' },
  FEDPBX_NATS_CREDS: { schema: z.string().min(1).optional(), doc: "path to this agent's NATS credentials file" },
  FEDPBX_AMI_HOST: { schema: z.string().min(1).optional(), doc: 'Asterisk Manager host; without it AMI is not used' },
  FEDPBX_AMI_PORT: { schema: int(1, 65535).default(5038), doc: 'Asterisk Manager port' },
  FEDPBX_AMI_USER: { schema: z.string().min(1).optional(), doc: 'Asterisk Manager user (see deploy/asterisk/manager_fedpbx.conf)' },
  FEDPBX_AMI_SECRET: { schema: z.string().min(1).optional(), doc: 'Asterisk Manager secret (never logged)' },
  FEDPBX_ASTERISK_CONFIG_DIR: {
    schema: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute path').optional(),
    doc: "Asterisk's config dir (pjsip.conf / extensions.conf are checked for fedpbx's #include); unset: no Asterisk config is written",
  },
  FEDPBX_ASTERISK_INCLUDE_DIR: {
    schema: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute path').optional(),
    doc: 'where pjsip_fedpbx.conf / extensions_fedpbx.conf are written (default: the config dir; deploy/ uses /etc/asterisk/fedpbx)',
  },
  FEDPBX_METRICS_LISTEN: { schema: HostPort.prefault('127.0.0.1:9464'), doc: 'Prometheus /metrics and /healthz listen address' },
  FEDPBX_LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'), doc: 'log level' },
} as const;

type Env = typeof AGENT_ENV;
export type AgentConfig = { [K in keyof Env]: z.output<Env[K]['schema']> };

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad variable (not only the first). */
export function loadAgentConfig(env: NodeJS.ProcessEnv, only?: readonly (keyof Env)[]): AgentConfig {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(AGENT_ENV) as [keyof Env, Env[keyof Env]][]) {
    if (only !== undefined && !only.includes(name)) continue;
    const raw = env[name];
    const parsed = (spec.schema as z.ZodType).safeParse(raw === '' ? undefined : raw);
    if (parsed.success) out[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues.map((i) => (raw === undefined && i.code === 'invalid_type' ? 'required' : i.message)).join('; ')} (${spec.doc})`);
  }
  if (out.FEDPBX_AMI_HOST !== undefined && (out.FEDPBX_AMI_USER === undefined || out.FEDPBX_AMI_SECRET === undefined)) {
    problems.push('FEDPBX_AMI_USER / FEDPBX_AMI_SECRET: required when FEDPBX_AMI_HOST is set');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as AgentConfig;
}
