import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNatsTrust, issuerOf, mintAgentCreds, mintControllerCreds, renderHubConfig, routeUrls, type NatsTrust, type UserIssuer } from '@fedpbx/nats-auth';
import { freePort, NATS_SERVER_BINARY, natsProcess, type NatsProcess } from './nats-server.js';

export interface TestNatsNode extends NatsProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly leafPort: number | undefined;
}

export interface TestNatsCluster {
  readonly nodes: readonly TestNatsNode[];
  /** Every node's client URL, comma-separated (FEDPBX_NATS_URL). */
  readonly urls: string;
  readonly trust: NatsTrust;
  readonly issuer: UserIssuer;
  node(name: string): TestNatsNode;
  controllerCreds(): Promise<string>;
  agentCreds(siteId: string): Promise<string>;
  /** Stops every node still running (SIGTERM). */
  stop(): Promise<void>;
}

/**
 * A private JetStream cluster of `size` nats-servers (the installed binary, as deploy/nats runs them: operator mode,
 * full resolver, route credentials) on free loopback ports, each with its own store; node names carry the first
 * client port so two runs never mix. Nodes may be killed and started again.
 */
export async function startNatsCluster(options: { size?: number; leafnodes?: boolean } = {}): Promise<TestNatsCluster> {
  if (!existsSync(NATS_SERVER_BINARY)) throw new Error(`${NATS_SERVER_BINARY} not found: install the Debian package nats-server`);
  const size = options.size ?? 3;
  const trust = await createNatsTrust();
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort(), leaf: options.leafnodes === true ? await freePort() : undefined })));
  const clusterName = `fedpbx-test-${ports[0]!.client}`;
  const routes = routeUrls(ports.map((p) => ({ host: '127.0.0.1', port: p.route })));
  const routePassword = randomBytes(18).toString('base64url');
  const nodes = ports.map((p, i): TestNatsNode => {
    const name = `${clusterName}-n${i + 1}`;
    const configFile = join(dir, `${name}.conf`);
    writeFileSync(
      configFile,
      renderHubConfig(trust, {
        port: p.client,
        serverName: name,
        storeDir: join(dir, name, 'jetstream'),
        resolverDir: join(dir, name, 'jwt'),
        ...(p.leaf !== undefined ? { leafPort: p.leaf } : {}),
        cluster: { name: clusterName, host: '127.0.0.1', port: p.route, routes, routeUser: 'route', routePassword },
      }),
      { mode: 0o600 },
    );
    return Object.assign(natsProcess(configFile, p.client), { name, url: `nats://127.0.0.1:${p.client}`, port: p.client, leafPort: p.leaf });
  });
  await Promise.all(nodes.map((n) => n.start()));
  const issuer = issuerOf(trust);
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(','),
    trust,
    issuer,
    node: (name) => {
      const n = nodes.find((x) => x.name === name);
      if (n === undefined) throw new Error(`no node ${name} in ${clusterName}`);
      return n;
    },
    controllerCreds: () => mintControllerCreds(issuer),
    agentCreds: (siteId) => mintAgentCreds(issuer, siteId),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
