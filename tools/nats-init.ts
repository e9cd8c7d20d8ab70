/**
 * `npm run nats:init -- --out DIR [--port 4222] [--leaf-port 7422] [--store DIR] [--resolver-dir DIR] [--host 0.0.0.0] [--monitor-port 8222]`
 *   Makes a new NATS trust (operator, system account, FEDPBX account and its signing key) and writes:
 *   - DIR/nats-server.conf  the hub config (operator mode, accounts preloaded into the full resolver, JetStream, optional leaf-node port)
 *   - DIR/issuer.json       for the controller (FEDPBX_NATS_ISSUER_FILE), mode 0600: the account signing key (mints users)
 *                           and the operator and system signing keys (push account updates that revoke users)
 *   - DIR/trust.json        every seed (operator, accounts): keep it offline; it re-creates the hub config, mode 0600
 *
 * `npm run nats:init -- --out DIR --cluster n1=HOST1,n2=HOST2,n3=HOST3 [--cluster-port 6222] [--host 0.0.0.0] ...`
 *   The same trust for a 3-node JetStream cluster: DIR/nats-server-n1.conf ... one per node (mode 0600: they hold
 *   the route password the nodes join each other with), issuer.json and trust.json as above. HOSTn is the address
 *   the other nodes reach node n on. Start each node with its file; the controller connects to all three.
 *
 * `npm run nats:init -- --leaf SITE --hub nats-leaf://HUB:7422 --creds /etc/fedpbx/nats.creds --out DIR [--port 4222]`
 *   Writes DIR/nats-leaf-SITE.conf: a leaf node for one branch (the agent connects to it on loopback; it carries
 *   only what that site's agent credentials allow).
 *
 * Adding a site later needs nothing here: the controller mints the agent's credentials at enrollment.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createNatsTrust, issuerOf, renderHubConfig, renderLeafConfig, routeUrls, type HubConfigOptions } from '@fedpbx/nats-auth';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    port: { type: 'string', default: '4222' },
    host: { type: 'string', default: '127.0.0.1' },
    'leaf-port': { type: 'string' },
    'monitor-port': { type: 'string' },
    store: { type: 'string', default: '/var/lib/fedpbx-nats' },
    'resolver-dir': { type: 'string' },
    leaf: { type: 'string' },
    hub: { type: 'string', multiple: true, default: [] },
    creds: { type: 'string' },
    cluster: { type: 'string' },
    'cluster-port': { type: 'string', default: '6222' },
    'cluster-name': { type: 'string', default: 'fedpbx' },
    force: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(`nats:init: ${message}`);
  process.exit(2);
}

function port(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) fail(`--${name} must be a TCP port, got ${JSON.stringify(value)}`);
  return n;
}

function write(file: string, text: string, secret: boolean): void {
  if (existsSync(file) && !values.force) fail(`${file} exists (use --force to overwrite)`);
  writeFileSync(file, text, { mode: secret ? 0o600 : 0o644 });
  if (secret) chmodSync(file, 0o600);
  console.log(`wrote ${file}${secret ? ' (secret, mode 0600)' : ''}`);
}

const out = values.out ?? fail('--out DIR is required');
mkdirSync(out, { recursive: true });

if (values.leaf !== undefined) {
  if (values.hub.length === 0) fail('--hub nats-leaf://HUB:PORT is required with --leaf');
  const creds = values.creds ?? fail('--creds FILE (the site agent\'s credentials) is required with --leaf');
  const text = renderLeafConfig({ siteId: values.leaf, hubLeafUrls: values.hub, credsFile: resolve(creds), port: port('port', values.port) ?? 4222 });
  write(join(out, `nats-leaf-${values.leaf}.conf`), text, false);
} else {
  const trust = await createNatsTrust();
  const leafPort = port('leaf-port', values['leaf-port']);
  const monitorPort = port('monitor-port', values['monitor-port']);
  const clientPort = port('port', values.port) ?? 4222;
  const base: HubConfigOptions = {
    host: values.host,
    port: clientPort,
    storeDir: values.store,
    resolverDir: values['resolver-dir'] ?? join(values.store, 'jwt'),
    ...(leafPort !== undefined ? { leafPort } : {}),
    ...(monitorPort !== undefined ? { monitorPort } : {}),
  };
  if (values.cluster === undefined) {
    write(join(out, 'nats-server.conf'), renderHubConfig(trust, base), false);
  } else {
    const nodes = clusterNodes(values.cluster);
    const routePort = port('cluster-port', values['cluster-port']) ?? 6222;
    const routes = routeUrls(nodes.map((n) => ({ host: n.host, port: routePort })));
    const routePassword = randomBytes(24).toString('base64url');
    for (const n of nodes) {
      const text = renderHubConfig(trust, {
        ...base,
        serverName: `fedpbx-${n.name}`,
        cluster: { name: values['cluster-name'], port: routePort, routes, routeUser: 'fedpbx-route', routePassword },
      });
      write(join(out, `nats-server-${n.name}.conf`), text, true);
    }
  }
  write(join(out, 'issuer.json'), `${JSON.stringify(issuerOf(trust), null, 2)}\n`, true);
  write(join(out, 'trust.json'), `${JSON.stringify(trust, null, 2)}\n`, true);
  if (values.cluster === undefined) {
    console.log(`start the hub:   nats-server -c ${join(out, 'nats-server.conf')}`);
  } else {
    const nodes = clusterNodes(values.cluster);
    console.log(`start each node on its host:  nats-server -c ${join(out, 'nats-server-<node>.conf')}  (${nodes.map((n) => `${n.name} on ${n.host}`).join(', ')})`);
    console.log(`controller env:  FEDPBX_NATS_URL=${nodes.map((n) => `nats://${n.host}:${clientPort}`).join(',')}`);
  }
  console.log(`controller env:  FEDPBX_NATS_ISSUER_FILE=${resolve(out, 'issuer.json')}`);
}

/** `n1=10.0.0.1,n2=10.0.0.2,n3=10.0.0.3`: each node's name (its config file and server name) and the address other nodes reach it on. */
function clusterNodes(spec: string): { name: string; host: string }[] {
  const nodes = spec.split(',').map((entry) => {
    const m = /^([a-z0-9][a-z0-9-]{0,30})=([A-Za-z0-9.:[\]-]+)$/.exec(entry.trim());
    if (m === null) fail(`--cluster: "${entry}" is not NAME=HOST (e.g. n1=10.0.0.1)`);
    return { name: m[1]!, host: m[2]! };
  });
  if (new Set(nodes.map((n) => n.name)).size !== nodes.length) fail('--cluster: node names must differ');
  // JetStream's Raft needs a majority: 3 nodes survive the loss of one, 2 nodes survive none.
  if (nodes.length !== 3 && nodes.length !== 5) fail(`--cluster: ${nodes.length} nodes; a JetStream cluster that survives losing a node needs 3 (or 5)`);
  return nodes;
}
