// The WireGuard mesh and recording retention end to end: a real agent process (apps/agent/dist) in
// FEDPBX_WIREGUARD=dry-run, fed signed snapshots over a private nats-server as the controller would publish them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Federation, Site } from '@fedpbx/contracts';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { startNatsServer } from '../support/nats-server.js';
import { TestController } from '../support/signed-snapshots.js';
import { controllerSide, writeAgentCreds } from '../sync/agent-harness.js';
import { x25519PublicKey } from '../../apps/agent/src/wireguard/wg-runner.js';

const controller = new TestController();
const KEY = { piter: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=', kazan: 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=' };
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The founding scenario with piter (public endpoint) and kazan (behind NAT) in the mesh. */
function federation(moscowKey: string, piterEndpoint = '203.0.113.2:51820', retentionDays = 90): Federation {
  const fed = foundingScenario();
  const edit = (s: Site): Site => {
    if (s.id === 'piter') return { ...s, network: { ...s.network, wireguardEndpoint: piterEndpoint, wireguardPublicKey: KEY.piter } };
    if (s.id === 'kazan') return { ...s, network: { ...s.network, wireguardPublicKey: KEY.kazan } };
    return { ...s, network: { ...s.network, wireguardEndpoint: '198.51.100.1:51820', wireguardPublicKey: moscowKey }, recording: { ...s.recording, retentionDays } };
  };
  return { ...fed, sites: fed.sites.map(edit) };
}

interface Recorded {
  readonly tool: string;
  readonly args: string[];
}
const journal = (file: string): Recorded[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Recorded)
        .map(({ tool, args }) => ({ tool, args }))
    : [];

describe('agent WireGuard mesh (dry-run) and recording retention', () => {
  it('renders both peers without the private key, runs `wg-quick up` once and `wg syncconf` on a changed snapshot; deletes expired recordings', async () => {
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const ctl = await controllerSide(nats);
    cleanups.push(() => ctl.close());
    await ctl.eventsStream();

    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-wg-e2e-'));
    const monitor = mkdtempSync(join(tmpdir(), 'fedpbx-monitor-'));
    const recordings = join(monitor, 'fedpbx', 'moscow');
    mkdirSync(recordings, { recursive: true });
    const recording = (name: string, ageDays: number): string => {
      const path = join(recordings, name);
      writeFileSync(path, 'RIFF');
      const t = new Date(Date.now() - ageDays * 24 * 3600 * 1000);
      utimesSync(path, t, t);
      return path;
    };
    const expired = recording('20260101-090000-101-301-1.wav', 40);
    const recent = recording('20261101-090000-101-301-2.wav', 10);

    // The key pair `fedpbx-agent enroll` made (its public key is what the controller stored on the site).
    const dir = join(stateDir, 'wireguard');
    mkdirSync(dir, { mode: 0o700 });
    const privateKey = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
    writeFileSync(join(dir, 'fedpbx0.key'), `${privateKey}\n`, { mode: 0o600 });
    const ownKey = x25519PublicKey(privateKey);

    await ctl.put('moscow', controller.snapshot(federation(ownKey), 'moscow', 1));
    const creds = await writeAgentCreds(nats, 'moscow', stateDir);
    const agent: AgentProcess = await startAgent(
      controller.agentEnv('moscow', stateDir, { FEDPBX_NATS_URL: nats.url, FEDPBX_NATS_CREDS: creds, FEDPBX_WIREGUARD: 'dry-run', FEDPBX_RECORDINGS_DIR: monitor }),
    );
    cleanups.push(() => agent.stop('SIGKILL'));

    const conf = join(dir, 'fedpbx0.conf');
    const commands = join(dir, 'fedpbx0.dry-run.jsonl');
    await expect.poll(() => journal(commands), { timeout: 10_000 }).toEqual([{ tool: 'wg-quick', args: ['up', conf] }]);
    const text = readFileSync(conf, 'utf8');
    expect(text).toContain('[Interface]\nAddress = 10.77.0.1/32\nListenPort = 51820\n');
    expect(text).toContain(`PostUp = wg set %i private-key ${join(dir, 'fedpbx0.key')}`);
    expect(text).toContain(`[Peer]\nPublicKey = ${KEY.kazan}\nAllowedIPs = 10.77.0.3/32\nPersistentKeepalive = 25\n`);
    expect(text).toContain(`[Peer]\nPublicKey = ${KEY.piter}\nAllowedIPs = 10.77.0.2/32\nEndpoint = 203.0.113.2:51820\n`);
    expect(text).not.toContain(privateKey);
    expect(text).not.toMatch(/PrivateKey/);

    // An unchanged revision changes nothing; a moved peer is synced without taking the interface down.
    await ctl.put('moscow', controller.snapshot(federation(ownKey), 'moscow', 2));
    await expect.poll(() => agent.logs.some((l) => l.msg === 'snapshot applied' && l.revision === 2)).toBe(true);
    await ctl.put('moscow', controller.snapshot(federation(ownKey, '203.0.113.9:51820', 30), 'moscow', 3));
    await expect.poll(() => journal(commands), { timeout: 10_000 }).toEqual([
      { tool: 'wg-quick', args: ['up', conf] },
      { tool: 'wg', args: ['syncconf', 'fedpbx0', join(dir, 'fedpbx0.setconf')] },
    ]);
    expect(readFileSync(conf, 'utf8')).toContain('Endpoint = 203.0.113.9:51820');
    expect(readFileSync(join(dir, 'fedpbx0.setconf'), 'utf8')).toContain('Endpoint = 203.0.113.9:51820');
    for (const text of [readFileSync(join(dir, 'fedpbx0.setconf'), 'utf8'), readFileSync(commands, 'utf8'), JSON.stringify(agent.logs)]) expect(text).not.toContain(privateKey);
    // The tunnel uses the enrolled key: no new pair, no warning that the controller lacks it.
    expect(readFileSync(join(dir, 'fedpbx0.key'), 'utf8').trim()).toBe(privateKey);
    expect(agent.logs.filter((l) => l.component === 'wireguard' && Number(l.level) >= 40)).toEqual([]);

    // Retention 90 days kept both recordings; revision 3 shortened it to 30, which expires the 40-day-old one.
    await expect.poll(() => existsSync(expired), { timeout: 5000 }).toBe(false);
    expect(existsSync(recent)).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^fedpbx_recordings_deleted_total 1$/m);
  });
});
