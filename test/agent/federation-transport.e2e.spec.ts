// Issue #15 §1 and §3 through the faithful peers: the agent process writes its include files into an Asterisk
// config dir whose pjsip.conf is the admin's, the PJSIP model (PjsipSim) behind the AMI peer loads them as
// res_pjsip would, and calls are placed through the FastAGI peer with Dial served by the model.
// - a stock admin transport (0.0.0.0:5060) and a site on 5060: the observed bind conflict, reported as alarms that
//   name the conflicting bind; the default port (5070) works beside it with Via, Contact, SDP and RTP on the
//   federation address;
// - a link that dies silently while a call waits in Dial: the call reaches its next alternative within 6 s (not after
//   timer B's 32 s); death and recovery are seen within 6 s;
// - right after an Asterisk restart (contacts not yet qualified) the link is tried, not denied.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Federation } from '@fedpbx/contracts';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer, type AmiClass, type AmiPeerUser } from '../support/asterisk/ami-peer.js';
import { placeCall, type CallRecord, type DialRequest } from '../support/asterisk/fastagi-peer.js';
import { PjsipSim } from '../support/asterisk/pjsip-sim.js';
import { TestController } from '../support/signed-snapshots.js';
import { until } from '../support/until.js';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '../support/agent-process.js';

const STOCK_PJSIP = "; the admin's own pjsip.conf, as shipped\n[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n\n[transport-udp6]\ntype=transport\nprotocol=udp\nbind=[::]\n\n#include pjsip_fedpbx.conf\n";

/** The AMI user of deploy/asterisk/manager_fedpbx.conf, read from the file itself. */
function deployedAmiUser(): { name: string; user: AmiPeerUser } {
  const text = readFileSync(join(REPO_ROOT, 'deploy', 'asterisk', 'manager_fedpbx.conf'), 'utf8');
  const name = /^\[([a-z0-9_-]+)\]/m.exec(text)![1]!;
  const classes = (key: string): AmiClass[] => new RegExp(`^${key}\\s*=\\s*(.+)$`, 'm').exec(text)![1]!.split(',').map((c) => c.trim() as AmiClass);
  return { name, user: { secret: 'test-ami-secret', read: classes('read'), write: classes('write') } };
}

/** The founding scenario with every site's federation transport on `port`. */
function federationOnPort(port: number): Federation {
  const fed = foundingScenario();
  return { ...fed, sites: fed.sites.map((s) => ({ ...s, network: { ...s.network, sipPort: port } })) };
}

interface Site {
  readonly ami: AmiPeer;
  sim: PjsipSim;
  readonly agent: AgentProcess;
  readonly etc: string;
}

async function moscow(fed: Federation, opts: { random?: () => number } = {}): Promise<Site> {
  const { name, user } = deployedAmiUser();
  const ami = await AmiPeer.start({ users: { [name]: user } });
  const etc = mkdtempSync(join(tmpdir(), 'fedpbx-etc-asterisk-'));
  writeFileSync(join(etc, 'pjsip.conf'), STOCK_PJSIP);
  writeFileSync(join(etc, 'extensions.conf'), '[default]\n#include extensions_fedpbx.conf\n');
  // Asterisk is up with the admin's own config; the agent's files arrive with its first reload.
  const sim = new PjsipSim({ ami, configDir: etc, ...(opts.random !== undefined ? { random: opts.random } : {}) }).start();
  const c = new TestController();
  const agent = await startAgent({
    ...c.agentEnv('moscow', ''),
    FEDPBX_STATE_DIR: '',
    FEDPBX_BOOTSTRAP_SNAPSHOT: c.writeSnapshot(fed, 'moscow', 1),
    FEDPBX_AMI_HOST: '127.0.0.1',
    FEDPBX_AMI_PORT: String(ami.port),
    FEDPBX_AMI_USER: name,
    FEDPBX_AMI_SECRET: user.secret,
    FEDPBX_ASTERISK_CONFIG_DIR: etc,
  });
  return { ami, sim, agent, etc };
}

/** What a Dial dialled (its options, e.g. a pre-dial handler, are other suites' business). */
const target = (d: { rawData: string } | undefined): string | undefined => d?.rawData.split(',')[0];

async function metrics(agent: AgentProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`)).text();
}

/** A call from moscow's phone 101 to piter's 301, Dial served by the PJSIP model; when each Dial started (ms). */
async function callTo301(site: Site): Promise<{ record: CallRecord; dialStarts: number[] }> {
  const dialStarts: number[] = [];
  const record = await placeCall({
    host: '127.0.0.1',
    port: site.agent.agiPort,
    timeoutMs: 60_000,
    callerId: { num: '101' },
    channel: `PJSIP/101-${Math.floor(Math.random() * 0xffffff).toString(16).padStart(8, '0')}`,
    script: 'internal',
    extension: '301',
    onDialAsync: (req: DialRequest) => {
      dialStarts.push(performance.now());
      return site.sim.dial(req);
    },
  });
  return { record, dialStarts };
}

describe('beside the admin’s stock transports (0.0.0.0:5060 and [::]:5060)', () => {
  let site: Site;
  afterEach(async () => {
    site.sim.stop();
    await site.agent.stop();
    await site.ami.close();
  });

  it('a site on 5060: Asterisk cannot start fedpbx-transport (observed errors), and the agent raises alarms naming the conflicting bind', async () => {
    site = await moscow(federationOnPort(5060));
    await expect.poll(() => site.sim.log.length, { timeout: 10_000 }).toBeGreaterThan(0);
    // (then the qualify of every site contact fails to be sent: "Unable to create request to qualify ...")
    expect(site.sim.log.slice(0, 2)).toEqual([
      "ERROR res_pjsip/config_transport.c: Transport 'fedpbx-transport' could not be started: Address already in use",
      "ERROR res_sorcery_config.c: Could not create an object of type 'transport' with id 'fedpbx-transport' from configuration file 'pjsip.conf'",
    ]);
    await expect.poll(async () => metrics(site.agent), { timeout: 10_000 }).toMatch(/^fedpbx_alarm\{code="pjsip-transport-failed",severity="critical"\} 1$/m);
    expect(await metrics(site.agent)).toMatch(/^fedpbx_alarm\{code="pjsip-transport-conflict",severity="critical"\} 1$/m);
    const alarm = site.agent.logs.findLast((l) => l['alarm'] === 'pjsip-transport-failed');
    expect(String(alarm?.['msg'])).toContain("transport 'transport-udp' of pjsip.conf:2 binds 0.0.0.0");
    // The link cannot work: calls to piter go to the PSTN at once instead of failing on a missing transport.
    await expect.poll(async () => target((await callTo301(site)).record.dials[0]), { timeout: 10_000 }).toBe('PJSIP/88125550301@trunk-moscow-city');
  });

  it('the default port: fedpbx-transport starts, no alarm, and Via, Contact, SDP and RTP all use the federation address', async () => {
    site = await moscow(federationOnPort(5070));
    await expect.poll(() => site.sim.transports.has('fedpbx-transport'), { timeout: 10_000 }).toBe(true);
    expect(site.sim.log).toEqual([]);
    // 10.77.0.2 is reached from 10.77.0.1 (the WireGuard interface's address).
    expect(site.sim.outgoingInvite('site-piter')).toEqual({ source: '10.77.0.1', via: '10.77.0.1:5070', contact: '10.77.0.1:5070', sdpConnection: '10.77.0.1', rtpBind: '10.77.0.1' });
    await expect.poll(async () => metrics(site.agent), { timeout: 10_000 }).toMatch(/^fedpbx_link_up\{peer_site="piter"\} 1$/m);
    expect(await metrics(site.agent)).not.toMatch(/^fedpbx_alarm\{.*\} 1$/m);
    expect((await callTo301(site)).record.dials.map((d) => [target(d), d.status])).toEqual([['PJSIP/301@site-piter', 'ANSWER']]);
  });
});

describe('a link that dies, comes back, and is not known yet', () => {
  let site: Site;
  beforeAll(async () => {
    site = await moscow(federationOnPort(5070));
    await until('piter up', async () => /^fedpbx_link_up\{peer_site="piter"\} 1$/m.test(await metrics(site.agent)), 10_000);
  }, 30_000);
  afterAll(async () => {
    site.sim.stop();
    await site.agent.stop();
    await site.ami.close();
  });

  it('a call placed at the moment the link dies silently reaches its next alternative within 6 s (not after timer B, 32 s); death seen within 6 s', async () => {
    site.sim.setHostAlive('10.77.0.2', false);
    const cut = performance.now();
    const [first, second] = await Promise.all([
      callTo301(site),
      // ... and one placed 1.5 s later, still before Asterisk has seen anything.
      new Promise<Awaited<ReturnType<typeof callTo301>>>((resolve) => setTimeout(() => resolve(callTo301(site)), 1500)),
    ]);
    for (const { record, dialStarts } of [first, second]) {
      expect(record.dials.map((d) => [target(d), d.status])).toEqual([
        ['PJSIP/301@site-piter', 'CHANUNAVAIL'],
        ['PJSIP/88125550301@trunk-moscow-city', 'ANSWER'],
      ]);
      expect(dialStarts[1]! - dialStarts[0]!).toBeLessThan(6000);
      expect(dialStarts[1]! - cut).toBeLessThan(6000);
    }
    expect(site.agent.logs.some((l) => l['msg'] === 'link down: unanswered calls towards it hung up, their callers go to the next route')).toBe(true);
    expect(await metrics(site.agent)).toMatch(/^fedpbx_link_up\{peer_site="piter"\} 0$/m);
    // A call placed now does not try the dead link at all.
    expect((await callTo301(site)).record.dials.map(target)).toEqual(['PJSIP/88125550301@trunk-moscow-city']);
  }, 30_000);

  it('recovery is seen within 6 s and the next call takes the link again', async () => {
    site.sim.setHostAlive('10.77.0.2', true);
    const repair = performance.now();
    await expect.poll(async () => metrics(site.agent), { timeout: 6000, interval: 100 }).toMatch(/^fedpbx_link_up\{peer_site="piter"\} 1$/m);
    expect(performance.now() - repair).toBeLessThan(6000);
    expect((await callTo301(site)).record.dials.map((d) => [target(d), d.status])).toEqual([['PJSIP/301@site-piter', 'ANSWER']]);
  }, 15_000);

  it('right after an Asterisk restart (endpoints OFFLINE, contacts not qualified yet) a call to piter is tried over the link, not denied', async () => {
    // Asterisk restarts: a fresh res_pjsip (first qualify late in its 2 s window), AMI connections cut.
    site.sim.stop();
    site.sim = new PjsipSim({ ami: site.ami, configDir: site.etc, random: () => 0.99 }).start();
    site.ami.dropAll();
    const restarted = performance.now();
    await expect.poll(() => site.ami.loggedInSessions.length, { timeout: 5000 }).toBe(1);
    await expect.poll(() => site.ami.actions('PJSIPShowEndpoint').length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(site.sim.contactStatus('site-piter')).toEqual(['Created']);
    const { record } = await callTo301(site);
    expect(performance.now() - restarted).toBeLessThan(1980); // before the first qualify
    expect(record.dials.map((d) => [target(d), d.status])).toEqual([['PJSIP/301@site-piter', 'ANSWER']]);
    expect(record.variables['FEDPBX_DENY']).toBe('');
  }, 15_000);
});
