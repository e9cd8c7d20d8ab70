import { createAccount, createOperator, createUser, decode, encodeAccount, encodeOperator, encodeUser, fmtCreds, fromPublic, fromSeed, type Account, type Permissions } from '@nats-io/jwt';
import { renewalChallenge, Subjects } from '@fedpbx/contracts';

/**
 * NATS decentralized ("operator mode") auth, the way fedpbx adds sites without touching nats-server:
 * the server trusts one operator and preloads two accounts (system and FEDPBX); every user - the controller
 * and one per site's agent - is a JWT signed by the FEDPBX account's signing key, carrying its own subject
 * permissions. Minting an agent's credentials is pure computation in the controller; the server learns of the
 * user when it connects. (nats-server 2.9: no auth callout, so JWT is the way to add users without a reload.)
 *
 * Ending a user: agent JWTs expire (the controller renews them), and a user is revoked by listing its public key
 * in the account JWT's `revocations`, re-signed with the operator's signing key and pushed by a system-account
 * user to `$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE`. The hub runs the `full` (directory) resolver so that push
 * is accepted and kept across restarts; nats-server then closes every connection of a revoked user
 * ("User Authentication Revoked", server/accounts.go updateAccountClaimsWithRefresh) and refuses it at connect.
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
  /** The operator's signing key: re-signs the FEDPBX account JWT when its revocations change. */
  readonly operatorSigner: NkeyIdentity;
  /** The system account's signing key: mints the short-lived system user that pushes account updates. */
  readonly systemSigner: NkeyIdentity;
}

/** Which account a user belongs to and the key that signs its JWT. */
export interface UserIssuer {
  readonly accountPublicKey: string;
  readonly signerSeed: string;
  /** What revoking users takes; absent in issuer files written before revocation existed. */
  readonly revocation?: RevocationAuthority;
}

/** The keys that let the controller publish a new FEDPBX account JWT (with revocations) to the hub. */
export interface RevocationAuthority {
  /** The FEDPBX account JWT as nats:init made it: the claims every update starts from. */
  readonly accountJwt: string;
  /** Seed of a signing key listed in the operator JWT. Secret. */
  readonly operatorSignerSeed: string;
  readonly systemAccountPublicKey: string;
  /** Seed of the system account's signing key. Secret. */
  readonly systemSignerSeed: string;
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
  const operatorSigner = createOperator();
  const systemSigner = createAccount();
  const operatorJwt = await encodeOperator(name, operator, { system_account: system.getPublicKey(), signing_keys: [operatorSigner.getPublicKey()] });
  const systemJwt = await encodeAccount('SYS', system, { limits: UNLIMITED_ACCOUNT, signing_keys: [systemSigner.getPublicKey()] }, { signer: operator });
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
    operatorSigner: identity(operatorSigner),
    systemSigner: identity(systemSigner),
  };
}

/** What the controller holds (FEDPBX_NATS_ISSUER_FILE): never the operator or account identity keys. */
export function issuerOf(trust: NatsTrust): UserIssuer {
  return {
    accountPublicKey: trust.account.publicKey,
    signerSeed: trust.accountSigner.seed,
    revocation: {
      accountJwt: trust.account.jwt,
      operatorSignerSeed: trust.operatorSigner.seed,
      systemAccountPublicKey: trust.system.publicKey,
      systemSignerSeed: trust.systemSigner.seed,
    },
  };
}

/**
 * The hub's JetStream domain. Clients on the hub use the plain `$JS.API` prefix; a branch leaf node without
 * JetStream maps its local `$JS.API` to `$JS.<domain>.API`, which is what crosses the leaf connection.
 */
export const JS_DOMAIN = 'fedpbx';

/** The JetStream stream behind the shared part's bucket (what every site may know). */
export const SHARED_STREAM = `KV_${Subjects.SHARED_BUCKET}`;

/** The JetStream stream behind a site's config bucket. */
export function configStreamOf(siteId: string): string {
  return `KV_${Subjects.configBucket(siteId)}`;
}

/**
 * An agent's permissions: watch and read its own site's config bucket (never write it), publish its own
 * site's events, CDR batches and calls in progress, receive on its own inbox prefix and live-request subjects, and answer the requests it got.
 * Busy lamps: publish its own site's presence changes and answer requests for its state; subscribe to the changes
 * of, and ask the state of, only the `presencePeers` (the sites whose lamps its snapshot shows) - plain subjects per
 * site, enforceable on nats-server 2.9 without multi-subject filters. `'all'` (a site whose setting shows every
 * reachable site's lamps, a head office) is one wildcard per direction instead: a user JWT travels in the CONNECT line,
 * which nats-server limits to 4 KB (max_control_line), and 199 sites' subjects would not fit.
 * Everything else - other sites' buckets, events, presence and inboxes, the JetStream admin API - is denied.
 */
export type PresencePeers = readonly string[] | 'all';

export function agentPermissions(siteId: string, presencePeers: PresencePeers = []): Permissions {
  const peers = presencePeers === 'all' ? ['*'] : [...new Set(presencePeers)].filter((p) => p !== siteId).sort();
  const stream = configStreamOf(siteId);
  // Its own site's bucket, and the shared part every site may know (format-2 snapshots): read and watch only.
  const api = [stream, SHARED_STREAM].flatMap((s) => [
    `STREAM.INFO.${s}`,
    `CONSUMER.CREATE.${s}`,
    `CONSUMER.CREATE.${s}.>`,
    `CONSUMER.INFO.${s}.>`,
    `CONSUMER.DELETE.${s}.>`,
    `DIRECT.GET.${s}.>`,
    `STREAM.MSG.GET.${s}`,
  ]);
  return {
    pub: {
      allow: [
        ...api.map((a) => `$JS.API.${a}`),
        ...api.map((a) => `$JS.${JS_DOMAIN}.API.${a}`),
        `$JS.FC.${stream}.>`,
        `$JS.FC.${SHARED_STREAM}.>`,
        `fedpbx.events.${siteId}.>`,
        // Batches of CDRs (issue #21 §4): credentials minted before this lack it, and the agent then sends one CDR
        // per message on its events subject.
        Subjects.cdrBatch(siteId),
        Subjects.credsRenew(siteId),
        Subjects.activeCalls(siteId),
        Subjects.presenceChanges(siteId),
        ...peers.map((p) => Subjects.presenceState(p)),
      ],
    },
    sub: { allow: [`${Subjects.inboxPrefix(siteId)}.>`, `fedpbx.rpc.${siteId}.>`, Subjects.presenceState(siteId), ...peers.map((p) => Subjects.presenceChanges(p))] },
    resp: { max: 1, ttl: RESPONSE_TTL_NS },
  };
}

export interface MintOptions {
  /** Expiry of the credentials (none when absent). */
  readonly expiresAt?: Date;
  /** Sites whose presence (busy lamps) the agent may read. */
  readonly presencePeers?: PresencePeers;
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
  return mintUserCreds(issuer, `agent-${siteId}`, agentPermissions(siteId, options.presencePeers), options);
}

/** An agent credentials file and what the controller records of it (the user key revocation names). */
export interface MintedAgentCreds {
  readonly creds: string;
  readonly userKey: string;
  /** The JWT's `iat`: revocation covers JWTs issued at or before the revocation time. */
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

export async function mintAgentCredentials(issuer: UserIssuer, siteId: string, expiresAt: Date, presencePeers: PresencePeers = []): Promise<MintedAgentCreds> {
  const creds = await mintAgentCreds(issuer, siteId, { expiresAt, presencePeers });
  const jwt = jwtOfCreds(creds);
  const claims = decode(jwt);
  return { creds, userKey: claims.sub, issuedAt: new Date(claims.iat * 1000), expiresAt };
}

/**
 * A user JWT for a key the agent made itself (renewal): the agent keeps the seed, the controller signs only
 * the public key with the site's permissions.
 */
export async function mintAgentJwt(issuer: UserIssuer, siteId: string, userKey: string, expiresAt: Date, presencePeers: PresencePeers = []): Promise<{ jwt: string; issuedAt: Date }> {
  const jwt = await encodeUser(
    `agent-${siteId}`,
    fromPublic(userKey),
    fromSeed(new TextEncoder().encode(issuer.signerSeed)),
    { issuer_account: issuer.accountPublicKey, subs: -1, data: -1, payload: -1, ...agentPermissions(siteId, presencePeers) },
    { exp: Math.floor(expiresAt.getTime() / 1000) },
  );
  return { jwt, issuedAt: new Date(decode(jwt).iat * 1000) };
}

/** The user JWT of a credentials file. */
export function jwtOfCreds(creds: string): string {
  const jwt = /-----BEGIN NATS USER JWT-----\s*\n\s*([A-Za-z0-9_.-]+)\s*\n/.exec(creds)?.[1];
  if (jwt === undefined) throw new Error('not a NATS credentials file: no user JWT');
  return jwt;
}

/** The user nkey seed of a credentials file (a secret). */
export function seedOfCreds(creds: string): string {
  const seed = /-----BEGIN USER NKEY SEED-----\s*\n\s*(SU[A-Z2-7]+)\s*\n/.exec(creds)?.[1];
  if (seed === undefined) throw new Error('not a NATS credentials file: no user seed');
  return seed;
}

/** What a credentials file's JWT says about its user: key and lifetime. */
export function credsInfo(creds: string): { userKey: string; issuedAt: Date; expiresAt: Date | undefined } {
  const claims = decode(jwtOfCreds(creds));
  return { userKey: claims.sub, issuedAt: new Date(claims.iat * 1000), expiresAt: claims.exp !== undefined && claims.exp > 0 ? new Date(claims.exp * 1000) : undefined };
}

/**
 * The sites whose presence a credentials file lets its agent read (the `fedpbx.presence.<site>.changes` it may
 * subscribe to, as agentPermissions grants them): 'all' for the head office's wildcard. An agent whose snapshot
 * watches a site outside it renews at once instead of waiting for half the lifetime.
 */
export function presencePeersOfCreds(creds: string): PresencePeers {
  const claims = decode<{ sub?: { allow?: string[] } }>(jwtOfCreds(creds));
  const peers: string[] = [];
  for (const subject of claims.nats.sub?.allow ?? []) {
    const m = /^fedpbx\.presence\.([^.]+)\.changes$/.exec(subject);
    if (m === null) continue;
    if (m[1] === '*') return 'all';
    peers.push(m[1]!);
  }
  return peers;
}

/** A credentials file for a JWT and a seed the agent made itself. */
export function credsFile(jwt: string, seed: string): string {
  return textDecoder.decode(fmtCreds(jwt, fromSeed(new TextEncoder().encode(seed))));
}

/** A fresh user key pair for renewal: the seed stays with the agent. */
export function newUserKey(): NkeyIdentity {
  return identity(createUser());
}

/** base64url signature of the renewal challenge by the current user key (seed from its credentials). */
export function signRenewal(currentSeed: string, siteId: string, newUserKey: string, at: string): string {
  const kp = fromSeed(new TextEncoder().encode(currentSeed));
  return Buffer.from(kp.sign(new TextEncoder().encode(renewalChallenge(siteId, newUserKey, at)))).toString('base64url');
}

export function verifyRenewal(userKey: string, sig: string, siteId: string, newUserKey: string, at: string): boolean {
  try {
    return fromPublic(userKey).verify(new TextEncoder().encode(renewalChallenge(siteId, newUserKey, at)), Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

/**
 * The FEDPBX account JWT with these revocations (user public key -> unix seconds: JWTs of that user issued at
 * or before it are refused), signed by the operator's signing key. nats-server checks the issuer against the
 * operator JWT's `signing_keys`.
 */
export async function encodeAccountWithRevocations(authority: RevocationAuthority, revocations: Readonly<Record<string, number>>): Promise<string> {
  const base = decode<Account>(authority.accountJwt);
  const { revocations: _old, ...rest } = base.nats;
  const account: Partial<Account> = Object.keys(revocations).length > 0 ? { ...rest, revocations: { ...revocations } } : rest;
  await untilSecondAfter(Math.max(base.iat, lastAccountIssuedAt));
  const jwt = await encodeAccount(base.name ?? 'FEDPBX', fromPublic(base.sub), account, { signer: fromSeed(new TextEncoder().encode(authority.operatorSignerSeed)) });
  lastAccountIssuedAt = decode<Account>(jwt).iat;
  return jwt;
}

/**
 * The issue time (unix seconds, the JWT's `iat`) of the last account JWT this process encoded. nats-server's
 * directory resolver keeps a stored account JWT when the incoming one is not newer by `iat`
 * (server/dirstore.go saveIfNewer: `existingJWT.IssuedAt > newJWT.IssuedAt` keeps the stored one) and stores the
 * config's `resolver_preload` that way at every start: a push issued in the same second as the preload is
 * replaced by it at the next restart (the revocations are lost), and two pushes in one second leave the order to
 * chance. So each push is issued in a later second than both the preload and the previous push.
 */
let lastAccountIssuedAt = 0;

async function untilSecondAfter(issuedAt: number): Promise<void> {
  const waitMs = (issuedAt + 1) * 1000 - Date.now();
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
}

/** The account update subject of nats-server's full resolver (server/events.go accUpdateEventSubjNew). */
export const accountUpdateSubject = (accountPublicKey: string): string => `$SYS.REQ.ACCOUNT.${accountPublicKey}.CLAIMS.UPDATE`;

/** A short-lived system-account user that may only push account JWT updates. */
export function mintSystemCreds(authority: RevocationAuthority, expiresAt: Date): Promise<string> {
  return mintUserCreds(
    { accountPublicKey: authority.systemAccountPublicKey, signerSeed: authority.systemSignerSeed },
    'fedpbx-controller-sys',
    { pub: { allow: ['$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE'] }, sub: { allow: ['_INBOX.>'] } },
    { expiresAt },
  );
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
  /** Where the full resolver keeps account JWTs (the pushed updates with revocations). */
  readonly resolverDir: string;
  /** One node of a JetStream cluster (3 nodes: streams and buckets then keep 3 replicas); absent: a single hub. */
  readonly cluster?: ClusterNodeOptions;
}

export interface ClusterNodeOptions {
  /** The cluster's name: the same on every node. */
  readonly name: string;
  /** Where this node listens for the other nodes' routes. */
  readonly host?: string;
  readonly port: number;
  /** Every node's route URL (`nats-route://host:6222`; this node's own is ignored by nats-server). */
  readonly routes: readonly string[];
  /**
   * Route credentials (the same on every node): a node that does not present them cannot join. Routes carry
   * every account's traffic unchecked, so without them the cluster port must be unreachable from anything
   * but the other nodes.
   */
  readonly routeUser?: string;
  /** A secret: the config file holding it is written mode 0600. */
  readonly routePassword?: string;
}

/**
 * The `cluster {}` block of one node. Routes are not users of an account (operator mode's JWTs do not apply to
 * them: server/route.go authenticates routes with the cluster's own user/password or TLS), so they get their own
 * credentials. The full resolver's account JWTs travel between nodes over these routes (server/accounts.go
 * DirAccResolver: pushes to `$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE` reach every node, and nodes exchange missing JWTs),
 * so a revocation pushed to one node reaches all three.
 */
function clusterBlock(c: ClusterNodeOptions): string[] {
  const auth = c.routeUser !== undefined && c.routePassword !== undefined ? { user: c.routeUser, password: c.routePassword } : undefined;
  const withAuth = (url: string): string => (auth === undefined ? url : url.replace('://', `://${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@`));
  return [
    `cluster {`,
    `  name: ${JSON.stringify(c.name)}`,
    `  listen: ${JSON.stringify(`${c.host ?? '0.0.0.0'}:${c.port}`)}`,
    ...(auth !== undefined ? [`  authorization {`, `    user: ${JSON.stringify(auth.user)}`, `    password: ${JSON.stringify(auth.password)}`, `  }`] : []),
    `  routes: [`,
    ...c.routes.map((r) => `    ${JSON.stringify(withAuth(r))}`),
    `  ]`,
    `}`,
  ];
}

/** The route URLs of a cluster's nodes (`nats-route://host:port`). */
export function routeUrls(nodes: readonly { host: string; port: number }[]): string[] {
  return nodes.map((n) => `nats-route://${n.host}:${n.port}`);
}

/**
 * nats-server.conf for the hub (or one node of a hub cluster: `cluster`): operator mode with the two accounts
 * preloaded into the `full` resolver, JetStream on (every node in the same domain, so agents and leaf nodes see
 * one JetStream). The full resolver (a directory of account JWTs) accepts account updates pushed by the system account and
 * keeps them across restarts; a preload never replaces a newer stored JWT (server/accounts.go DirAccResolver.Store
 * saves only if newer), so revocations survive a restart with the original config.
 */
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
    ...(o.cluster !== undefined ? clusterBlock(o.cluster) : []),
    `operator: ${trust.operator.jwt}`,
    `system_account: ${trust.system.publicKey}`,
    `resolver: {`,
    `  type: full`,
    `  dir: ${JSON.stringify(o.resolverDir)}`,
    `  allow_delete: false`,
    `}`,
    `resolver_preload: {`,
    `  ${trust.system.publicKey}: ${trust.system.jwt}`,
    `  ${trust.account.publicKey}: ${trust.account.jwt}`,
    `}`,
  ];
  return `${lines.join('\n')}\n`;
}

export interface LeafConfigOptions {
  readonly siteId: string;
  /** The hub's leaf-node URL(s), e.g. nats-leaf://hub.example:7422; on a cluster every node's. */
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
    // One remote with every hub node's URL: the leaf keeps one connection and moves to another node when its node
    // dies. (One remote per node would open a connection to each for the same account: a loop nats-server refuses.)
    `    { urls: ${JSON.stringify(o.hubLeafUrls)}, credentials: ${JSON.stringify(o.credsFile)} }`,
    `  ]`,
    `}`,
  ];
  return `${lines.join('\n')}\n`;
}
