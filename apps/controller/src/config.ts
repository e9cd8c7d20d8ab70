import { TunnelAddressPool } from '@fedpbx/dialplan';
import { isIP } from 'node:net';
import { z } from 'zod';

/** The controller's configuration from environment variables, validated at start; errors name the variable. */
export const CONTROLLER_ENV = {
  FEDPBX_HTTP_LISTEN: { schema: z.string().regex(/^[A-Za-z0-9.:[\]-]+:[0-9]{1,5}$/).default('127.0.0.1:8080'), doc: 'REST API and console listen address' },
  FEDPBX_CONSOLE_DIR: {
    schema: z.string().min(1).optional(),
    doc: 'directory of the built web console served at / (default: apps/console/dist beside the controller); without a built console only the API is served',
  },
  DATABASE_URL: { schema: z.url().optional(), doc: 'PostgreSQL URL; without it an embedded database is used' },
  FEDPBX_DATABASE_CONNECT_TIMEOUT_MS: {
    schema: z.coerce.number().int().min(100).max(60_000).default(3000),
    doc: 'PostgreSQL: how long a request waits for a database connection before it is answered 503 (database-unavailable) instead of waiting for the database to come back',
  },
  FEDPBX_DATA_DIR: {
    schema: z.string().min(1).default('./fedpbx-data'),
    doc: 'directory of the embedded database (used only without DATABASE_URL); "memory://" keeps it in memory',
  },
  FEDPBX_NATS_URL: { schema: z.string().min(1).optional(), doc: 'NATS server(s) for sync with agents, comma-separated; without it nothing is published or ingested' },
  FEDPBX_NATS_ISSUER_FILE: {
    schema: z.string().min(1).optional(),
    doc: 'JSON file {"accountPublicKey","signerSeed"} of the NATS account signing key (npm run nats:init writes it): the controller mints its own and every enrolled agent\'s credentials with it; without it the controller connects without credentials and cannot enroll agents',
  },
  FEDPBX_AGENT_CREDS_TTL_SEC: {
    schema: z.coerce.number().int().min(60).max(30 * 86_400).default(3 * 86_400),
    doc: 'lifetime of the NATS credentials an agent gets at enrollment and at each renewal, in seconds; the agent renews after half of it. An agent offline for longer must be re-enrolled with a new token',
  },
  FEDPBX_NATS_REPLICAS: {
    schema: z.coerce.number().int().min(1, 'at least 1').max(5, 'at most 5 (JetStream keeps up to 5 copies)').optional(),
    doc: 'copies JetStream keeps of each config bucket and of the events stream (1-5); unset: 3 when the NATS server is part of a cluster, 1 on a single server. Streams and buckets made with another count are brought to this one at start',
  },
  FEDPBX_SNAPSHOT_FORMAT: {
    schema: z.enum(['split', 'paired'], { message: "'split' or 'paired'" }).default('split'),
    doc: "how site snapshots are published: 'split' (format 2/3: every site part names the shared part, so a numbering-plan change re-signs every site part; agents of any version) or 'paired' (format 4: a plan-only write is one shared part, a site-only write one site part; agents of session 12 or later only - older ones refuse it and keep their last-known-good)",
  },
  FEDPBX_NATS_AGENT_URLS: { schema: z.string().min(1).optional(), doc: 'NATS URL(s) handed to agents at enrollment, comma-separated; FEDPBX_NATS_URL when absent' },
  FEDPBX_SIGNING_KEY_FILE: {
    schema: z.string().min(1).optional(),
    doc: 'PEM (PKCS#8) ed25519 private key that signs site snapshots; without it <FEDPBX_DATA_DIR>/signing-key.pem, created (mode 0600) on the first start that syncs with agents; every replica must have the same key (checked at start against the public key the database recorded)',
  },
  FEDPBX_SIGNING_KEY_ID: {
    schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, '1-64 characters of A-Z a-z 0-9 _ . : -').optional(),
    doc: 'id of the signing key that agents are told at enrollment; "ctl-" and the first 16 hex digits of the public key\'s SHA-256 when absent',
  },
  FEDPBX_EVENTS_DUPLICATE_WINDOW_SEC: {
    schema: z.coerce.number().int().min(60).max(30 * 86_400).default(86_400),
    doc: 'JetStream dedupe window of agent events in seconds: an agent re-publishing an event (same msg-id) within it is stored once by NATS; longer outages fall back on the database\'s unique keys',
  },
  FEDPBX_EVENTS_MAX_AGE_SEC: {
    schema: z.coerce.number().int().min(3600).max(365 * 86_400).default(14 * 86_400),
    doc: 'how long agent events stay in the JetStream stream in seconds: the longest controller outage whose backlog is still ingested',
  },
  FEDPBX_EVENTS_ACK_WAIT_SEC: {
    schema: z.coerce.number().int().min(1).max(3600).default(60),
    doc: 'seconds before NATS redelivers events the controller took but did not acknowledge (it crashed mid-batch)',
  },
  FEDPBX_INGEST_HEARTBEAT_MS: {
    schema: z.coerce.number().int().min(500).max(30_000).default(2000),
    doc: 'idle heartbeat of the event ingest\'s pulls: two missed in a row (the consumer\'s leader died with a cluster node) and the pull is made again at once, not after the client default of 30-45 s',
  },
  FEDPBX_VPN_POOL: {
    schema: z
      .string()
      .default('10.77.0.0/16')
      .transform((text, ctx) => {
        try {
          return TunnelAddressPool.parse(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
          return z.NEVER;
        }
      }),
    doc: 'the block WireGuard tunnel addresses are assigned from: a site without a vpnAddress gets the lowest free one when its agent enrolls with a WireGuard key',
  },
  FEDPBX_RPC_TIMEOUT_MS: { schema: z.coerce.number().int().min(100).max(60_000).default(3000), doc: 'how long live requests to an agent (live trace, live health) wait for its answer' },
  FEDPBX_LIVE_HEARTBEAT_SEC: {
    schema: z.coerce.number().int().min(1).max(300).default(15),
    doc: 'seconds between keep-alive comments on the console event stream (GET /api/v1/events); the caller\'s token and rights are checked again at each',
  },
  FEDPBX_LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'), doc: 'log level' },
  FEDPBX_TOKEN_SECRET: {
    schema: z.string().min(32, 'at least 32 characters').optional(),
    doc: 'HMAC key of access tokens, the same on every controller replica; without it the replicas share a random key kept in the database (whoever can read the database could then mint access tokens for live sessions)',
  },
  FEDPBX_ACCESS_TOKEN_TTL_SEC: { schema: z.coerce.number().int().min(60).max(86_400).default(900), doc: 'lifetime of access tokens in seconds' },
  FEDPBX_BOOTSTRAP_ADMIN_USER: {
    schema: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, '1-64 of A-Z a-z 0-9 _ . @ -').optional(),
    doc: 'head-office admin created on first start (when no user exists yet)',
  },
  FEDPBX_BOOTSTRAP_ADMIN_PASSWORD: { schema: z.string().min(12, 'at least 12 characters').max(256).optional(), doc: 'password of the bootstrap admin' },
  FEDPBX_LOGIN_MAX_ATTEMPTS: {
    schema: z.coerce.number().int().min(1).max(1000).default(5),
    doc: 'failed logins allowed per account and client address before each further attempt waits (1 s, doubling, up to FEDPBX_LOGIN_BACKOFF_MAX_SEC)',
  },
  FEDPBX_LOGIN_SOURCE_MAX_ATTEMPTS: {
    schema: z.coerce.number().int().min(1).max(100_000).default(50),
    doc: 'failed logins allowed per client address across all accounts before it backs off the same way (except for accounts that signed in from it before)',
  },
  FEDPBX_LOGIN_ACCOUNT_MAX_ATTEMPTS: {
    schema: z.coerce.number().int().min(1).max(100_000).default(20),
    doc: 'failed logins allowed per account from all addresses before addresses the account never signed in from back off; addresses it signed in from are not held back',
  },
  FEDPBX_LOGIN_BACKOFF_FIRST_SEC: { schema: z.coerce.number().int().min(1).max(3600).default(1), doc: 'first wait once a login counter backs off, in seconds; each further failure doubles it' },
  FEDPBX_LOGIN_BACKOFF_MAX_SEC: { schema: z.coerce.number().int().min(1).max(86_400).default(900), doc: 'longest wait between login attempts once backing off, in seconds' },
  FEDPBX_LOGIN_WINDOW_SEC: { schema: z.coerce.number().int().min(1).max(30 * 86_400).default(900), doc: 'failed-login counters are forgotten after this many seconds without a failure' },
  FEDPBX_TRUSTED_PROXIES: {
    schema: z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return [] as string[];
        const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
        for (const e of entries) {
          const problem = proxyEntryProblem(e);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `"${e}": ${problem}` });
        }
        return entries;
      }),
    doc: 'comma-separated addresses or CIDR blocks of reverse proxies whose X-Forwarded-For is believed (client address for login throttling and sessions); empty: X-Forwarded-For is ignored',
  },
  FEDPBX_SESSION_IDLE_SEC: { schema: z.coerce.number().int().min(60).max(30 * 86_400).default(3600), doc: 'a session ends after this many seconds without a request or refresh' },
  FEDPBX_SESSION_MAX_SEC: { schema: z.coerce.number().int().min(300).max(365 * 86_400).default(43_200), doc: 'a session ends this many seconds after sign-in, however active (absolute lifetime)' },
  FEDPBX_PASSWORD_MIN_LENGTH: { schema: z.coerce.number().int().min(8).max(128).default(12), doc: 'shortest password accepted when a password is set, changed or reset' },
  FEDPBX_API_TOKEN_MAX_DAYS: { schema: z.coerce.number().int().min(1).max(3650).default(365), doc: 'longest lifetime of an API token in days (a token without an expiry is refused)' },
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
  const user = out['FEDPBX_BOOTSTRAP_ADMIN_USER'];
  const password = out['FEDPBX_BOOTSTRAP_ADMIN_PASSWORD'];
  if ((user === undefined) !== (password === undefined)) {
    problems.push(
      `${user === undefined ? 'FEDPBX_BOOTSTRAP_ADMIN_USER' : 'FEDPBX_BOOTSTRAP_ADMIN_PASSWORD'}: required when ${user === undefined ? 'FEDPBX_BOOTSTRAP_ADMIN_PASSWORD' : 'FEDPBX_BOOTSTRAP_ADMIN_USER'} is set`,
    );
  }
  const dedupe = out['FEDPBX_EVENTS_DUPLICATE_WINDOW_SEC'];
  const maxAge = out['FEDPBX_EVENTS_MAX_AGE_SEC'];
  if (typeof dedupe === 'number' && typeof maxAge === 'number' && dedupe > maxAge) {
    problems.push(`FEDPBX_EVENTS_DUPLICATE_WINDOW_SEC: ${dedupe} is longer than FEDPBX_EVENTS_MAX_AGE_SEC (${maxAge}); JetStream requires the window to fit in the stream's age`);
  }
  const idle = out['FEDPBX_SESSION_IDLE_SEC'];
  const max = out['FEDPBX_SESSION_MAX_SEC'];
  if (typeof idle === 'number' && typeof max === 'number' && idle > max) problems.push(`FEDPBX_SESSION_IDLE_SEC: ${idle} is longer than FEDPBX_SESSION_MAX_SEC (${max})`);
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ControllerConfig;
}

/** Nest injection token of the validated {@link ControllerConfig}. */
export const CONTROLLER_CONFIG = Symbol('CONTROLLER_CONFIG');

/** Why an FEDPBX_TRUSTED_PROXIES entry is not an address or CIDR block, or undefined when it is one. */
function proxyEntryProblem(entry: string): string | undefined {
  const [address, bits, extra] = entry.split('/');
  if (extra !== undefined || address === undefined) return 'not an address or CIDR block';
  const family = isIP(address);
  if (family === 0) return 'not an IPv4 or IPv6 address';
  if (bits === undefined) return undefined;
  const n = Number(bits);
  return /^[0-9]{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128) ? undefined : `prefix length must be 0-${family === 4 ? 32 : 128}`;
}
