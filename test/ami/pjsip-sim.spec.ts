// The PJSIP model behind the faithful AMI peer reproduces what was observed on Asterisk 22.10.1
// (asterisk-protocols.md, "Observed in the field"): transport bind conflicts, the same-port Via/SDP mix, Dial to a
// silently dead link waiting for timer B, qualify timing, contacts not yet qualified after a start or mode switch.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AmiClient } from '../../apps/agent/src/ami/ami-client.js';
import { AmiPeer, DEFAULT_AMI_USER, type AmiPeerUser } from '../support/asterisk/ami-peer.js';
import { PjsipSim } from '../support/asterisk/pjsip-sim.js';
import type { DialRequest } from '../support/asterisk/fastagi-peer.js';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(files: Record<string, string>, opts: { t1Ms?: number; random?: () => number; users?: Record<string, AmiPeerUser> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-pjsip-sim-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const ami = await AmiPeer.start(opts.users !== undefined ? { users: opts.users } : {});
  const sim = new PjsipSim({ ami, configDir: dir, ...(opts.t1Ms !== undefined ? { t1Ms: opts.t1Ms } : {}), random: opts.random ?? (() => 0.5) }).start();
  const [user, secret] = opts.users !== undefined ? [Object.keys(opts.users)[0]!, Object.values(opts.users)[0]!.secret] : [DEFAULT_AMI_USER.name, DEFAULT_AMI_USER.secret];
  const client = new AmiClient({ host: '127.0.0.1', port: ami.port, username: user, secret, log: silent, keepaliveMs: 0 });
  const events: { event: string; headers: Map<string, string> }[] = [];
  client.onEvent((e) => events.push({ event: e.event, headers: new Map([...e.headers].map((h) => [h.key.toLowerCase(), h.value])) }));
  client.start();
  cleanups.push(async () => {
    sim.stop();
    await client.stop();
    await ami.close();
  });
  await until(() => client.connected);
  return { dir, ami, sim, client, events };
}

async function until(predicate: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const dialReq = (target: string): DialRequest => ({ targets: [target], peers: [], timeoutSec: 30, options: [], rawOptions: '', rawData: `${target},30` });

const linkTo = (peer: string, host: string, transport = 'fedpbx-transport', extra = '') =>
  `[site-${peer}]\ntype=endpoint\ntransport=${transport}\ncontext=fedpbx-from-sites\naors=site-${peer}\n${extra}\n[site-${peer}]\ntype=aor\ncontact=sip:${host}\nqualify_frequency=1\nqualify_timeout=0.5\n`;

describe('PjsipSim: transports beside the admin’s', () => {
  it('admin bind 0.0.0.0:5090 + fedpbx bind 127.0.10.3:5090: the observed errors, no transport, endpoints without one', async () => {
    const { sim, client } = await setup({
      'pjsip.conf': '[admin-udp]\ntype=transport\nprotocol=udp\nbind = 0.0.0.0:5090\n\n#include pjsip_fedpbx.conf\n',
      'pjsip_fedpbx.conf': `[fedpbx-transport]\ntype=transport\nprotocol=udp\nbind=127.0.10.3:5090\n\n${linkTo('piter', '127.0.10.2:5090')}`,
    });
    expect(sim.log).toEqual([
      "ERROR res_pjsip/config_transport.c: Transport 'fedpbx-transport' could not be started: Address already in use",
      "ERROR res_sorcery_config.c: Could not create an object of type 'transport' with id 'fedpbx-transport' from configuration file 'pjsip.conf'",
    ]);
    expect([...sim.transports.keys()]).toEqual(['admin-udp']);
    await expect(client.listAction('PJSIPShowEndpoint', { Endpoint: 'site-piter' })).rejects.toMatchObject({ code: 'ACTION_FAILED', message: expect.stringContaining('Unable to retrieve transport fedpbx-transport') });
    const t0 = performance.now();
    expect(await sim.dial(dialReq('PJSIP/301@site-piter'))).toEqual({ status: 'CHANUNAVAIL' });
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it('the stock 0.0.0.0:5060 takes every address on 5060; [::]:5060 (V6ONLY) and other ports leave an IPv4 bind alone', async () => {
    const stock = await setup({
      'pjsip.conf': '[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n[transport-udp6]\ntype=transport\nprotocol=udp\nbind=[::]:5060\n#include pjsip_fedpbx.conf\n',
      'pjsip_fedpbx.conf': '[fedpbx-transport]\ntype=transport\nprotocol=udp\nbind=10.77.0.1:5060\n[fed-2]\ntype=transport\nprotocol=udp\nbind=10.77.0.1:5070\n',
    });
    expect([...stock.sim.transports.keys()]).toEqual(['transport-udp', 'transport-udp6', 'fed-2']);
    expect(stock.sim.log[0]).toContain("Transport 'fedpbx-transport' could not be started: Address already in use");
  });

  it('same port, other address: Via, Contact and SDP carry the admin transport’s address while RTP binds the federation one; distinct ports do not', async () => {
    const mixed = await setup({
      'pjsip.conf': '[admin-udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:5060\n#include pjsip_fedpbx.conf\n',
      'pjsip_fedpbx.conf': `[fedpbx-transport]\ntype=transport\nprotocol=udp\nbind=127.0.10.1:5060\n${linkTo('piter', '127.0.10.2:5060')}`,
    });
    expect(mixed.sim.log).toEqual([]);
    // Observed: left from 127.0.10.1, `Via` and `c=IN IP4 127.0.0.1`, RTP bound to 127.0.10.1 (one-way audio).
    expect(mixed.sim.outgoingInvite('site-piter')).toEqual({ source: '127.0.10.1', via: '127.0.0.1:5060', contact: '127.0.0.1:5060', sdpConnection: '127.0.0.1', rtpBind: '127.0.10.1' });

    const registering = await setup({
      'pjsip.conf': '[admin-udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:5061\n#include pjsip_fedpbx.conf\n',
      'pjsip_fedpbx.conf': '[fedpbx-transport]\ntype=transport\nprotocol=udp\nbind=127.0.10.1:5061\n[site-piter]\ntype=registration\ntransport=fedpbx-transport\nserver_uri=sip:127.0.10.2:5061\nclient_uri=sip:site-moscow@127.0.10.2:5061\n',
    });
    // Observed: a registration-mode link registered with contact 127.0.0.1:5061.
    expect(registering.sim.outgoingRegister('site-piter')?.contact).toBe('127.0.0.1:5061');

    const distinct = await setup({
      'pjsip.conf': '[admin-udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:5060\n#include pjsip_fedpbx.conf\n',
      'pjsip_fedpbx.conf': `[fedpbx-transport]\ntype=transport\nprotocol=udp\nbind=127.0.10.1:5070\n${linkTo('piter', '127.0.10.2:5070')}`,
    });
    expect(distinct.sim.outgoingInvite('site-piter')).toEqual({ source: '127.0.10.1', via: '127.0.10.1:5070', contact: '127.0.10.1:5070', sdpConnection: '127.0.10.1', rtpBind: '127.0.10.1' });
  });
});

describe('PjsipSim: a link that dies', () => {
  it('Dial to a contact believed reachable whose host is silently gone waits timer B (64 x T1), then CHANUNAVAIL', async () => {
    const t1Ms = 20;
    const { sim } = await setup({ 'pjsip.conf': `[t]\ntype=transport\nbind=127.0.10.1:5070\n${linkTo('piter', '127.0.10.2:5070', 't').replace('qualify_frequency=1', 'qualify_frequency=0')}` }, { t1Ms });
    sim.setHostAlive('127.0.10.2', false);
    const t0 = performance.now();
    expect(await sim.dial(dialReq('PJSIP/301@site-piter'))).toEqual({ status: 'CHANUNAVAIL' });
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(64 * t1Ms - 5);
    expect(waited).toBeLessThan(64 * t1Ms + 300);
    expect(sim.log).toContain('VERBOSE app_dial.c: Everyone is busy/congested at this time (1:0/0/1)');
    expect(64 * sim.t1Ms).toBe(64 * t1Ms); // with Asterisk's default T1 (500 ms): the observed 32 s
  });

  it('qualify: first OPTIONS within the frequency, Unreachable within frequency + timeout of the cut, Reachable within a frequency of the repair', async () => {
    const { sim, events } = await setup({ 'pjsip.conf': `[t]\ntype=transport\nbind=127.0.10.1:5070\n${linkTo('piter', '127.0.10.2:5070', 't')}` }, { random: () => 0.2 });
    const status = () => events.filter((e) => e.event === 'ContactStatus').map((e) => e.headers.get('contactstatus'));
    // A fresh start: the contact exists (Created) and the endpoint is OFFLINE until the first qualify answers.
    expect(status()).toEqual([]); // emitted before the AMI client logged in
    expect(sim.contactStatus('site-piter')).toEqual(['Created']);
    await until(() => sim.contactStatus('site-piter')[0] === 'Reachable', 1500);
    sim.setHostAlive('127.0.10.2', false);
    const cut = performance.now();
    await until(() => status().at(-1) === 'Unreachable', 3000);
    const detected = performance.now() - cut;
    expect(detected).toBeLessThanOrEqual(1000 + 500 + 100);
    expect(events.some((e) => e.event === 'PeerStatus' && e.headers.get('peerstatus') === 'Unreachable')).toBe(true);
    sim.setHostAlive('127.0.10.2', true);
    const repair = performance.now();
    await until(() => status().at(-1) === 'Reachable', 3000);
    expect(performance.now() - repair).toBeLessThanOrEqual(1000 + 100);
  });

  it('a mode switch removes the static contact (PeerStatus Unreachable); the contact registered then is qualified at once, not at the next round', async () => {
    // The aor's rounds come every 30 s (first at 0.99 x 30 s after the reload): only the registration's own
    // qualify (sip_options_contact_add_task) can make the new contact Reachable within the test.
    const { dir, sim, client, events } = await setup({ 'pjsip.conf': `[t]\ntype=transport\nbind=127.0.10.1:5070\n${linkTo('kazan', '127.0.10.3:5070', 't')}` }, { random: () => 0.99 });
    await until(() => sim.contactStatus('site-kazan')[0] === 'Reachable', 5000);
    writeFileSync(join(dir, 'pjsip.conf'), '[t]\ntype=transport\nbind=127.0.10.1:5070\n[site-kazan]\ntype=endpoint\ntransport=t\naors=site-kazan\n[site-kazan]\ntype=aor\nmax_contacts=1\nqualify_frequency=30\n');
    await client.action('Reload', { Module: 'res_pjsip.so' });
    await until(() => events.some((e) => e.event === 'ContactStatus' && e.headers.get('contactstatus') === 'Removed'));
    await until(() => events.some((e) => e.event === 'PeerStatus' && e.headers.get('peerstatus') === 'Unreachable'));
    const list = await client.listAction('PJSIPShowEndpoint', { Endpoint: 'site-kazan' });
    expect(list.items.filter((i) => i.event === 'ContactStatusDetail')).toEqual([]);
    const registered = events.length;
    sim.register('site-kazan', 'sip:site-moscow@127.0.10.3:5070');
    expect(sim.contactStatus('site-kazan')).toEqual(['Created']);
    await until(() => events.slice(registered).filter((e) => e.event === 'ContactStatus').length >= 2, 5000);
    expect(events.slice(registered).filter((e) => e.event === 'ContactStatus').map((e) => e.headers.get('contactstatus'))).toEqual(['Created', 'Reachable']);
  });

  it('AMI Hangup of the unanswered outgoing leg ends Dial at once (cause 38 -> CHANUNAVAIL), for the deploy/ user (write = system)', async () => {
    const users = { 'fedpbx-agent': { secret: 's', read: ['system', 'cdr'], write: ['system'] } } satisfies Record<string, AmiPeerUser>;
    const { sim, client } = await setup({ 'pjsip.conf': `[t]\ntype=transport\nbind=127.0.10.1:5070\n${linkTo('piter', '127.0.10.2:5070', 't').replace('qualify_frequency=1', 'qualify_frequency=0')}` }, { users });
    sim.setHostAlive('127.0.10.2', false);
    const inbound = sim.addChannel({ name: 'PJSIP/site-piter-00000001', uniqueid: 'in.1', state: 4, application: 'AGI', applicationData: 'agi://127.0.0.1/from-sites', context: 'fedpbx-from-sites', exten: '101' });
    const t0 = performance.now();
    const dial = sim.dial(dialReq('PJSIP/301@site-piter'));
    await until(() => sim.channels.length === 2);
    const channels = (await client.listAction('CoreShowChannels')).items.filter((i) => i.event === 'CoreShowChannel');
    const leg = channels.find((c) => c.headers.get('Application') === 'AppDial');
    expect(leg?.headers.get('Channel')).toMatch(/^PJSIP\/site-piter-[0-9a-f]{8}$/);
    expect(leg?.headers.get('ChannelState')).toBe('0');
    expect(channels.find((c) => c.headers.get('Channel') === inbound.name)?.headers.get('ApplicationData')).toBe('agi://127.0.0.1/from-sites');
    await client.action('Hangup', { Channel: leg!.headers.get('Channel')!, Cause: '38' });
    expect(await dial).toEqual({ status: 'CHANUNAVAIL' });
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(client.action('Hangup', { Channel: leg!.headers.get('Channel')! })).rejects.toMatchObject({ message: expect.stringContaining('No such channel') });
  });
});
