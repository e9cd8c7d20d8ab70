import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SiteId } from '@fedpbx/contracts';
import { CREDS_FILE, ENROLLMENT_FILE, EnrollmentFileError, readEnrollment, type Enrollment } from './sync/enrollment-file.js';

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

/** One or more NATS server URLs, comma-separated: nats://, tls://, ws://, wss:// or a bare host:port. */
const NatsUrls = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== ''),
  )
  .refine((urls) => urls.length > 0, 'at least one URL')
  .refine((urls) => urls.every((u) => /^(?:(?:nats|tls|ws|wss):\/\/[^\s,]+|[A-Za-z0-9.[\]:-]+:[0-9]{1,5})$/.test(u)), 'nats://host:port (comma-separated for several)');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const AGENT_ENV = {
  FEDPBX_SITE_ID: { schema: SiteId, doc: 'the site this agent serves (required)' },
  FEDPBX_AGI_LISTEN: { schema: HostPort.prefault('127.0.0.1:4573'), doc: 'FastAGI listen address' },
  FEDPBX_AGI_MAX_SESSIONS: { schema: int(1, 100_000).default(2000), doc: 'concurrent FastAGI sessions; more are refused with `failure` (Asterisk then runs the fallback)' },
  FEDPBX_AGI_IDLE_TIMEOUT_MS: { schema: int(100, 3_600_000).default(30_000), doc: 'close a session that sends nothing for this long' },
  FEDPBX_EVENT_LOOP_STALL_MS: {
    schema: int(200, 60_000).default(1500),
    doc: 'a watchdog thread kills the agent when its event loop has had this much of its own time (time waiting for a CPU does not count) without coming back, so Asterisk falls back at once',
  },
  FEDPBX_CONFIG_WATCH_HEARTBEAT_MS: {
    schema: int(500, 30_000).default(2000),
    doc: 'idle heartbeat of the config watches: a watch that misses two in a row (its consumer died with a cluster node) is re-created, so a config change is at most ~3 heartbeats late',
  },
  FEDPBX_SUPERVISOR_HEARTBEAT_TIMEOUT_MS: {
    schema: int(300, 60_000).default(1500),
    doc: '`supervise`: an agent silent for this much of its own time (stopped, hung; time waiting for a CPU does not count) is killed and replaced',
  },
  FEDPBX_SUPERVISOR_START_TIMEOUT_MS: {
    schema: int(1000, 600_000).default(60_000),
    doc: '`supervise`: an agent that has not reported in (serving, or ready as a standby) after this much of its own time since it was spawned (stopped, hung at start; time waiting for a CPU does not count) is killed and replaced',
  },
  FEDPBX_SUPERVISOR_STANDBY: {
    schema: z.enum(['on', 'off']).default('on'),
    doc: '`supervise`: keep a prepared standby agent that takes over in milliseconds when the serving one dies (costs one more agent\'s memory)',
  },
  FEDPBX_RESTART_DRAIN_MS: {
    schema: int(0, 86_400_000).default(3_600_000),
    doc: '`supervise`, planned restart: how long the old agent may finish its calls in progress before they are cut',
  },
  FEDPBX_STATE_DIR: { schema: z.string().min(1).default('/var/lib/fedpbx-agent'), doc: 'applied snapshots (with history) and the CDR outbox' },
  FEDPBX_BOOTSTRAP_SNAPSHOT: { schema: z.string().min(1).optional(), doc: 'a signed snapshot file used when the state dir holds none (first start, offline install)' },
  FEDPBX_CONTROLLER_PUBLIC_KEY: {
    schema: Pem,
    doc: "the controller's ed25519 public key (PEM; literal \\n allowed) that snapshots must be signed with; default: from enrollment",
  },
  FEDPBX_CONTROLLER_KEY_ID: { schema: z.string().min(1).default('controller-1'), doc: 'id of that key; default: from enrollment, else controller-1' },
  FEDPBX_NATS_URL: { schema: NatsUrls.optional(), doc: 'NATS server(s), comma-separated; default: from enrollment; without any the agent runs stand-alone' },
  FEDPBX_NATS_CREDS: { schema: z.string().min(1).optional(), doc: "path to this agent's NATS credentials file; default: <state dir>/nats.creds after enrollment" },
  FEDPBX_NATS_CREDS_RENEW_AT: {
    schema: z.coerce.number().min(0.05).max(0.9).default(0.5),
    doc: 'renew the NATS credentials once this fraction of their lifetime has passed (0.05-0.9): earlier leaves more time to renew across a flaky WAN',
  },
  FEDPBX_AMI_HOST: { schema: z.string().min(1).optional(), doc: 'Asterisk Manager host; without it AMI is not used' },
  FEDPBX_AMI_PORT: { schema: int(1, 65535).default(5038), doc: 'Asterisk Manager port' },
  FEDPBX_AMI_USER: { schema: z.string().min(1).optional(), doc: 'Asterisk Manager user (see deploy/asterisk/manager_fedpbx.conf)' },
  FEDPBX_AMI_SECRET: { schema: z.string().min(1).optional(), doc: 'Asterisk Manager secret (never logged)' },
  FEDPBX_AMI_READ_HOLD_MS: {
    schema: int(0, 500).default(200),
    doc: "AMI events coming less than this apart are read together, each at most this late (0-500 ms; 0: every read at once): a wake-up per call's events was most of the agent's CPU per call at 50 calls/s. Not while some site watches this site's busy lamps",
  },
  FEDPBX_ASTERISK_CONFIG_DIR: {
    schema: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute path').optional(),
    doc: "Asterisk's config dir (pjsip.conf / extensions.conf / voicemail.conf are checked for fedpbx's #include); unset: no Asterisk config is written",
  },
  FEDPBX_ASTERISK_INCLUDE_DIR: {
    schema: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute path').optional(),
    doc: 'where pjsip_fedpbx.conf / extensions_fedpbx.conf / voicemail_fedpbx.conf are written (default: the config dir; deploy/ uses /etc/asterisk/fedpbx)',
  },
  FEDPBX_WIREGUARD: {
    schema: z.enum(['off', 'dry-run', 'on']).default('off'),
    doc: 'the site-to-site WireGuard mesh from the snapshot: off, dry-run (config files written and wg commands recorded, never run) or on (wg-quick / wg syncconf)',
  },
  FEDPBX_WIREGUARD_INTERFACE: {
    schema: z.string().regex(/^[A-Za-z0-9_=+.-]{1,15}$/, 'an interface name: 1-15 of A-Z a-z 0-9 _ = + . -').default('fedpbx0'),
    doc: 'the WireGuard interface fedpbx owns',
  },
  FEDPBX_WIREGUARD_CONFIG_DIR: {
    schema: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute path').optional(),
    doc: 'where <interface>.conf is written (default /etc/wireguard; in dry-run <state dir>/wireguard)',
  },
  FEDPBX_RECORDINGS_DIR: {
    schema: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute path').optional(),
    doc: "Asterisk's monitor dir (e.g. /var/spool/asterisk/monitor): recordings under <dir>/fedpbx/<site>/ older than the site's retentionDays are deleted; unset: nothing is deleted",
  },
  FEDPBX_CDR_FILE: {
    schema: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute path').optional(),
    doc: "the file Asterisk's cdr_custom writes (deploy/asterisk/cdr_custom.conf: /var/log/asterisk/cdr-custom/fedpbx-cdr.json): read at start, after AMI reconnects and every second, so calls made while the agent was down keep their CDR; unset: only live AMI Cdr events",
  },
  FEDPBX_CDR_OUTBOX_RETENTION_DAYS: {
    schema: int(1, 3650).default(7),
    doc: "days the CDR outbox's day files (<state dir>/cdr/<day>.jsonl) are kept once every record in them is acknowledged by NATS (the `cdrs` command reads no further back); a file not yet acknowledged is kept however old",
  },
  FEDPBX_METRICS_LISTEN: { schema: HostPort.prefault('127.0.0.1:9464'), doc: 'Prometheus /metrics and /healthz listen address' },
  FEDPBX_METRICS_LOOP_DELAY_MS: {
    schema: int(1, 1000).default(50),
    doc: 'the event-loop delay metrics\' sampling interval (fedpbx_agent_nodejs_eventloop_lag_*): each sample is one timer interval, so the figures read this much at rest and a stall of S ms as S to S + this; sampled only while the loop has work, each interval a wake-up: 50 ms, a fifth of the wake-ups of prom-client\'s default 10 ms',
  },
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

/**
 * Parses the environment; throws ConfigError naming every bad variable (not only the first). Settings that
 * enrollment provides (`fedpbx-agent enroll`: `<state dir>/enrollment.json` and `nats.creds`) are taken from
 * there when unset; a value set in the environment wins.
 */
export function loadAgentConfig(env: NodeJS.ProcessEnv, only?: readonly (keyof Env)[]): AgentConfig {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const { values, from } = withEnrollment(env, problems);
  for (const [name, spec] of Object.entries(AGENT_ENV) as [keyof Env, Env[keyof Env]][]) {
    if (only !== undefined && !only.includes(name)) continue;
    const raw = values[name];
    const parsed = (spec.schema as z.ZodType).safeParse(raw === '' ? undefined : raw);
    const source = from.has(name) ? ` (from ${from.get(name)})` : '';
    if (parsed.success) out[name] = parsed.data;
    else problems.push(`${name}${source}: ${parsed.error.issues.map((i) => (raw === undefined && i.code === 'invalid_type' ? 'required' : i.message)).join('; ')} (${spec.doc})`);
  }
  if (typeof out.FEDPBX_NATS_CREDS === 'string' && !existsSync(out.FEDPBX_NATS_CREDS)) {
    problems.push(`FEDPBX_NATS_CREDS: ${out.FEDPBX_NATS_CREDS} does not exist`);
  }
  if (out.FEDPBX_NATS_CREDS !== undefined && out.FEDPBX_NATS_URL === undefined && (only === undefined || only.includes('FEDPBX_NATS_URL'))) {
    problems.push('FEDPBX_NATS_URL: required when FEDPBX_NATS_CREDS is set');
  }
  if (out.FEDPBX_AMI_HOST !== undefined && (out.FEDPBX_AMI_USER === undefined || out.FEDPBX_AMI_SECRET === undefined)) {
    problems.push('FEDPBX_AMI_USER / FEDPBX_AMI_SECRET: required when FEDPBX_AMI_HOST is set');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as AgentConfig;
}

type Enrolled = 'FEDPBX_SITE_ID' | 'FEDPBX_CONTROLLER_PUBLIC_KEY' | 'FEDPBX_CONTROLLER_KEY_ID' | 'FEDPBX_NATS_URL' | 'FEDPBX_NATS_CREDS';

/** The environment with the unset enrolled settings filled in from the state dir, and where each came from. */
function withEnrollment(env: NodeJS.ProcessEnv, problems: string[]): { values: NodeJS.ProcessEnv; from: Map<string, string> } {
  const from = new Map<string, string>();
  const stateDir = AGENT_ENV.FEDPBX_STATE_DIR.schema.safeParse(env.FEDPBX_STATE_DIR === '' ? undefined : env.FEDPBX_STATE_DIR);
  if (!stateDir.success) return { values: env, from };
  let enrollment: Enrollment | undefined;
  try {
    enrollment = readEnrollment(stateDir.data);
  } catch (error) {
    if (!(error instanceof EnrollmentFileError)) throw error;
    problems.push(`FEDPBX_STATE_DIR: ${error.message} (re-run \`fedpbx-agent enroll\` or remove it)`);
  }
  if (enrollment === undefined) return { values: env, from };
  const file = join(stateDir.data, ENROLLMENT_FILE);
  const credsFile = join(stateDir.data, CREDS_FILE);
  const enrolled: Record<Enrolled, string | undefined> = {
    FEDPBX_SITE_ID: enrollment.siteId,
    FEDPBX_CONTROLLER_PUBLIC_KEY: enrollment.controllerPublicKey,
    FEDPBX_CONTROLLER_KEY_ID: enrollment.controllerKeyId,
    FEDPBX_NATS_URL: enrollment.natsUrls.join(','),
    FEDPBX_NATS_CREDS: existsSync(credsFile) ? credsFile : undefined,
  };
  const values = { ...env };
  for (const [name, value] of Object.entries(enrolled) as [Enrolled, string | undefined][]) {
    if (value === undefined || (env[name] ?? '') !== '') continue;
    values[name] = value;
    from.set(name, name === 'FEDPBX_NATS_CREDS' ? 'enrollment' : file);
  }
  if ((env.FEDPBX_SITE_ID ?? '') !== '' && env.FEDPBX_SITE_ID !== enrollment.siteId) {
    problems.push(`FEDPBX_SITE_ID: ${env.FEDPBX_SITE_ID}, but ${file} enrolls this state dir as site ${enrollment.siteId}`);
  }
  return { values, from };
}
