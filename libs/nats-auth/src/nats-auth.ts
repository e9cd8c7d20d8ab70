import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds, fromSeed, type Permissions } from '@nats-io/jwt';
import { Subjects } from '@fedpbx/contracts';

/**
 * NATS decentralized ("operator mode") auth, the way fedpbx adds sites without touching nats-server:
 * the server trusts one operator and preloads two accounts (system and FEDPBX); every user - the controller
 * and one per site's agent - is a JWT signed by the FEDPBX account's signing key, carrying its own subject
 * permissions. Minting an agent's credentials is pure computation in the controller; the server learns of the
 * user when it connects. (nats-server 2.9: no auth callout, so JWT is the way to add users without a reload.)
 */

export interface NkeyIdentity {
  readonly publicKey: string;
  /** The nkey seed: a secret. */
  readonly seed: string;
}

export interface SignedIdentity extends NkeyIdentity {
  readonly jwt: string;
}

/** Everything the hub config is made from, and the signing key the controller mints users with. */
export interface NatsTrust {
  readonly operator: SignedIdentity;
  readonly system: SignedIdentity;
  readonly account: SignedIdentity;
  /** The account's signing key: the only key the controller needs (the account identity key can go offline). */
  readonly accountSigner: NkeyIdentity;
}

/** Which account a user belongs to and the key that signs its JWT. */
export interface UserIssuer {
  readonly accountPublicKey: string;
  readonly signerSeed: string;
}

const textDecoder = new TextDecoder();
const UNLIMITED_ACCOUNT = { subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true } as const;
const UNLIMITED_JETSTREAM = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } as const;
/** How long an agent may take to answer a live request it received (Go duration in the JWT: nanoseconds). */
const RESPONSE_TTL_NS = 60 * 1e9;

function identity(kp: { getPublicKey(): string; getSeed(): Uint8Array }): NkeyIdentity {
  return { publicKey: kp.getPublicKey(), seed: textDecoder.decode(kp.getSeed()) };
}

/** A fresh operator, system account and FEDPBX account (JetStream enabled) with its signing key. */
export async function createNatsTrust(name = 'fedpbx'): Promise<NatsTrust> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const signer = createAccount();
  const operatorJwt = await encodeOperator(name, operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, { limits: UNLIMITED_ACCOUNT }, { signer: operator });
  const accountJwt = await encodeAccount(
    'FEDPBX',
    account,
    { limits: { ...UNLIMITED_ACCOUNT, ...UNLIMITED_JETSTREAM }, signing_keys: [signer.getPublicKey()] },
    { signer: operator },
  );
  return {
    operator: { ...identity(operator), jwt: operatorJwt },
    system: { ...identity(system), jwt: systemJwt },
    account: { ...identity(account), jwt: accountJwt },
    accountSigner: identity(signer),
  };
}

export function issuerOf(trust: NatsTrust): UserIssuer {
  return { accountPublicKey: trust.account.publicKey, signerSeed: trust.accountSigner.seed };
}

/**
 * The hub's JetStream domain. Clients on the hub use the plain `$JS.API` prefix; a branch leaf node without
 * JetStream maps its local `$JS.API` to `$JS.<domain>.API`, which is what crosses the leaf connection.
 */
export const JS_DOMAIN = 'fedpbx';

/** The JetStream stream behind a site's config bucket. */
export function configStreamOf(siteId: string): string {
  return `KV_${Subjects.configBucket(siteId)}`;
}

/**
 * An agent's permissions: watch and read its own site's config bucket (never write it), publish its own
 * site's events, receive on its own inbox prefix and live-request subjects, and answer the requests it got.
 * Everything else - other sites' buckets, events and inboxes, the JetStream admin API - is denied.
 */
export function agentPermissions(siteId: string): Permissions {
  const stream = configStreamOf(siteId);
  const api = [
    `STREAM.INFO.${stream}`,
    `CONSUMER.CREATE.${stream}`,
    `CONSUMER.CREATE.${stream}.>`,
    `CONSUMER.INFO.${stream}.>`,
    `CONSUMER.DELETE.${stream}.>`,
    `DIRECT.GET.${stream}.>`,
    `STREAM.MSG.GET.${stream}`,
  ];
  return {
    pub: {
      allow: [...api.map((a) => `$JS.API.${a}`), ...api.map((a) => `$JS.${JS_DOMAIN}.API.${a}`), `$JS.FC.${stream}.>`, `fedpbx.events.${siteId}.>`],
    },
    sub: { allow: [`${Subjects.inboxPrefix(siteId)}.>`, `fedpbx.rpc.${siteId}.>`] },
    resp: { max: 1, ttl: RESPONSE_TTL_NS },
  };
}

export interface MintOptions {
  /** Expiry of the credentials (none when absent). */
  readonly expiresAt?: Date;
}

/** A NATS credentials file (user JWT + user nkey seed) for a new user of the FEDPBX account. */
export async function mintUserCreds(issuer: UserIssuer, name: string, permissions: Permissions, options: MintOptions = {}): Promise<string> {
  const user = createUser();
  const jwt = await encodeUser(
    name,
    user,
    fromSeed(new TextEncoder().encode(issuer.signerSeed)),
    { issuer_account: issuer.accountPublicKey, subs: -1, data: -1, payload: -1, ...permissions },
    options.expiresAt !== undefined ? { exp: Math.floor(options.expiresAt.getTime() / 1000) } : {},
  );
  return textDecoder.decode(fmtCreds(jwt, user));
}

export function mintAgentCreds(issuer: UserIssuer, siteId: string, options: MintOptions = {}): Promise<string> {
  return mintUserCreds(issuer, `agent-${siteId}`, agentPermissions(siteId), options);
}

/** The controller owns the account's data: no subject restrictions. */
export function mintControllerCreds(issuer: UserIssuer, options: MintOptions = {}): Promise<string> {
  return mintUserCreds(issuer, 'controller', {}, options);
}

export interface HubConfigOptions {
  readonly host?: string;
  readonly port: number;
  readonly storeDir: string;
  readonly serverName?: string;
  /** Accept leaf nodes (one per branch that keeps a local bus) on this port. */
  readonly leafPort?: number;
  /** HTTP monitoring port (/varz, /connz, /jsz). */
  readonly monitorPort?: number;
}

/** nats-server.conf for the hub: operator mode with the two accounts preloaded (MEMORY resolver), JetStream on. */
export function renderHubConfig(trust: NatsTrust, o: HubConfigOptions): string {
  const lines = [
    `# fedpbx NATS hub - generated; users are JWTs minted by the controller, no per-site entries here.`,
    `server_name: ${JSON.stringify(o.serverName ?? 'fedpbx-hub')}`,
    `host: ${JSON.stringify(o.host ?? '127.0.0.1')}`,
    `port: ${o.port}`,
    ...(o.monitorPort !== undefined ? [`http_port: ${o.monitorPort}`] : []),
    `max_payload: 8MB`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(o.storeDir)}`,
    `  domain: ${JS_DOMAIN}`,
    `}`,
    ...(o.leafPort !== undefined ? [`leafnodes {`, `  port: ${o.leafPort}`, `}`] : []),
    `operator: ${trust.operator.jwt}`,
    `system_account: ${trust.system.publicKey}`,
    `resolver: MEMORY`,
    `resolver_preload: {`,
    `  ${trust.system.publicKey}: ${trust.system.jwt}`,
    `  ${trust.account.publicKey}: ${trust.account.jwt}`,
    `}`,
  ];
  return `${lines.join('\n')}\n`;
}

export interface LeafConfigOptions {
  readonly siteId: string;
  /** The hub's leaf-node URL, e.g. nats-leaf://hub.example:7422. */
  readonly hubLeafUrls: readonly string[];
  /** The site's agent credentials file: the hub applies that agent's permissions to everything the leaf carries. */
  readonly credsFile: string;
  readonly host?: string;
  readonly port: number;
}

/**
 * nats-server.conf for an optional leaf node at a branch: local clients (the agent) connect to it on loopback;
 * it connects to the hub with the site's agent credentials, so it can carry nothing the agent may not.
 * No JetStream here: JetStream API calls travel to the hub, which keeps the site's bucket and the events stream.
 */
export function renderLeafConfig(o: LeafConfigOptions): string {
  const lines = [
    `# fedpbx NATS leaf node for site ${o.siteId} - generated.`,
    `server_name: ${JSON.stringify(`fedpbx-leaf-${o.siteId}`)}`,
    `host: ${JSON.stringify(o.host ?? '127.0.0.1')}`,
    `port: ${o.port}`,
    `max_payload: 8MB`,
    `# no JetStream here: the local account's JetStream API is the hub's domain`,
    `default_js_domain: { "$G": ${JS_DOMAIN} }`,
    `leafnodes {`,
    `  remotes: [`,
    ...o.hubLeafUrls.map((url) => `    { url: ${JSON.stringify(url)}, credentials: ${JSON.stringify(o.credsFile)} }`),
    `  ]`,
    `}`,
  ];
  return `${lines.join('\n')}\n`;
}
