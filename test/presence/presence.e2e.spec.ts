// Busy lamps across sites, end to end over a real nats-server (operator mode, the agents' own credentials) and the
// faithful AMI peer of each site's Asterisk: piter's phone device states (DeviceStateChange, DeviceStateList) reach
// moscow's Asterisk as DEVICE_STATE(Custom:fedpbx-piter-<n>) writes; outages turn them UNAVAILABLE; recovery resyncs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_STATES, Federation, Subjects, type PresenceBatch, type SiteConfig } from '@fedpbx/contracts';
import { buildSiteConfig, ExtensionTable, foundingScenarioInput } from '@fedpbx/dialplan';
import { AlarmBoard } from '../../apps/agent/src/alarms/alarm-board.js';
import { AmiClient, type AmiEvent } from '../../apps/agent/src/ami/ami-client.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { AMI_RIGHTS_ALARM, type LampAlarms } from '../../apps/agent/src/presence/lamp-rights.js';
import { LocalPresence } from '../../apps/agent/src/presence/local-presence.js';
import { RemoteLamps } from '../../apps/agent/src/presence/remote-lamps.js';
import { NatsLink } from '../../apps/agent/src/sync/nats-link.js';
import { AmiPeer, type AmiPeerOptions, type AmiPeerUser } from '../support/asterisk/ami-peer.js';
import { deployedAmiUser } from '../support/asterisk/deployed-ami-user.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';

const silent = pino({ level: 'silent' });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function federation(): Federation {
  const input = foundingScenarioInput();
  for (const s of input.sites) if (s.id === 'moscow') s.presence = { remoteHints: 'listed', watch: [{ siteId: 'piter' }] };
  return Federation.parse(input);
}

interface Site {
  readonly peer: AmiPeer;
  readonly ami: AmiClient;
  readonly link: NatsLink;
  readonly local: LocalPresence;
  readonly remote: RemoteLamps;
  config: SiteConfig;
}

let nats: TestNatsServer;
let moscow: Site;
let piter: Site;
let watcher: NatsConnection;
const dir = mkdtempSync(join(tmpdir(), 'fedpbx-presence-'));
// Every Asterisk here has the AMI user fedpbx ships (deploy/asterisk/manager_fedpbx.conf): its classes and eventfilters.
const DEPLOYED = deployedAmiUser();
const deployedUser: AmiPeerOptions = { users: { [DEPLOYED.name]: DEPLOYED.user } };

async function startSite(siteId: string, config: SiteConfig, presencePeers: string[], prepare?: (peer: AmiPeer) => void, peerOpts: AmiPeerOptions = deployedUser, extra: { alarms?: LampAlarms; log?: Logger } = {}): Promise<Site> {
  const peer = await AmiPeer.start({ systemName: siteId, ...peerOpts });
  prepare?.(peer);
  const credsFile = join(dir, `${siteId}.creds`);
  writeFileSync(credsFile, await nats.agentCreds(siteId, presencePeers), { mode: 0o600 });
  const link = new NatsLink({ siteId, servers: [nats.url], credsFile, metrics: new AgentMetrics(false), log: silent });
  const ami = new AmiClient({ host: '127.0.0.1', port: peer.port, username: DEPLOYED.name, secret: DEPLOYED.user.secret, log: silent, keepaliveMs: 0, backoff: { initialMs: 50, maxMs: 200, jitter: 0 } });
  const log = extra.log ?? silent;
  const local = new LocalPresence({ siteId, ami, bus: link, log, coalesceMs: 10, alarms: extra.alarms });
  const remote = new RemoteLamps({ siteId, ami, bus: link, log, requestTimeoutMs: 1000, recheckMs: 0, alarms: extra.alarms });
  local.configure(config, tableOf(config));
  remote.configure(config);
  local.start();
  remote.start();
  ami.start();
  link.start();
  return { peer, ami, link, local, remote, config };
}

const lamp = (n: string): string | undefined => moscow.peer.deviceStates.get(`Custom:fedpbx-piter-${n}`);

beforeAll(async () => {
  nats = await startNatsServer();
  const fed = federation();
  const moscowConfig = buildSiteConfig(fed, 'moscow');
  expect(moscowConfig.remotePresence).toEqual([{ siteId: 'piter', numbers: ['301', '302'] }]);
  // piter's Asterisk already knows its phones when the agent connects: the initial state comes from DeviceStateList.
  piter = await startSite('piter', buildSiteConfig(fed, 'piter'), [], (peer) => {
    peer.deviceStates.set('PJSIP/301', 'INUSE');
    peer.deviceStates.set('PJSIP/302', 'NOT_INUSE');
  });
  moscow = await startSite('moscow', moscowConfig, ['piter']);
  watcher = await connect({ servers: nats.url, authenticator: credsAuthenticator(encoder.encode(await nats.controllerCreds())) });
}, 60_000);

afterAll(async () => {
  for (const s of [moscow, piter]) {
    s?.local.stop();
    s?.remote.stop();
    await s?.ami.stop();
    await s?.link.stop();
    await s?.peer.close();
  }
  await watcher?.close();
  await nats?.stop();
});

describe('busy lamps across sites', () => {
  it('the initial state at connect reaches the other site as Setvar of DEVICE_STATE(Custom:...)', async () => {
    await until('moscow shows piter 301 INUSE and 302 NOT_INUSE', () => lamp('301') === 'INUSE' && lamp('302') === 'NOT_INUSE');
    // Before piter's state arrives the lamp may be written UNAVAILABLE (nothing known yet), then INUSE; no Channel:
    // the function is written with no channel (manager.c action_setvar).
    const writes = moscow.peer.actions('Setvar').filter((a) => a.get('Variable') === 'DEVICE_STATE(Custom:fedpbx-piter-301)');
    expect(writes.at(-1)?.get('Value')).toBe('INUSE');
    expect(writes.every((w) => ['UNAVAILABLE', 'INUSE'].includes(w.get('Value') ?? ''))).toBe(true);
    expect(writes.every((w) => w.get('Channel') === undefined)).toBe(true);
  });

  it('every state maps one to one, and a state Asterisk cannot be given (UNKNOWN) arrives as UNAVAILABLE', async () => {
    for (const state of [...DEVICE_STATES, 'NOT_INUSE']) {
      piter.peer.setDeviceState('PJSIP/301', state);
      await until(`moscow shows ${state}`, () => lamp('301') === state);
    }
    piter.peer.setDeviceState('PJSIP/301', 'UNKNOWN');
    await until('UNKNOWN arrives as UNAVAILABLE', () => lamp('301') === 'UNAVAILABLE');
    expect(moscow.peer.actions('Setvar').every((a) => a.get('Value') !== 'UNKNOWN')).toBe(true);
    piter.peer.setDeviceState('PJSIP/301', 'NOT_INUSE');
    await until('back to NOT_INUSE', () => lamp('301') === 'NOT_INUSE');
  });

  it('only shared extensions leave the site, and the lamps moscow sets itself never go back out', async () => {
    const seen: PresenceBatch[] = [];
    const sub = watcher.subscribe('fedpbx.presence.*.changes', { callback: (_e, m) => void seen.push(JSON.parse(decoder.decode(m.data)) as PresenceBatch) });
    const input = foundingScenarioInput();
    for (const s of input.sites) if (s.id === 'piter') s.presence = { share: 'listed', sharedNumbers: ['302'] };
    const listed = buildSiteConfig(Federation.parse(input), 'piter');
    piter.local.configure(listed, tableOf(listed));
    piter.peer.setDeviceState('PJSIP/301', 'BUSY');
    piter.peer.setDeviceState('PJSIP/302', 'RINGING');
    await until('302 RINGING published', () => seen.some((b) => b.states['302'] === 'RINGING'));
    expect(seen.every((b) => b.siteId === 'piter' && b.states['301'] === undefined)).toBe(true);
    sub.unsubscribe();
    piter.local.configure(piter.config, tableOf(piter.config));
    piter.peer.setDeviceState('PJSIP/302', 'NOT_INUSE');
    await until('moscow sees both again', () => lamp('301') === 'BUSY' && lamp('302') === 'NOT_INUSE');
  });

  it('a link going down shows the site UNAVAILABLE at once; when it is back the full state is read again', async () => {
    moscow.remote.setLink('piter', 'down');
    await until('UNAVAILABLE while the link is down', () => lamp('301') === 'UNAVAILABLE' && lamp('302') === 'UNAVAILABLE');
    piter.peer.setDeviceState('PJSIP/301', 'ONHOLD');
    await new Promise((r) => setTimeout(r, 100));
    expect(lamp('301')).toBe('UNAVAILABLE');
    const requests = await countStateRequests(async () => {
      moscow.remote.setLink('piter', 'up');
      await until('state back after the link', () => lamp('301') === 'ONHOLD' && lamp('302') === 'NOT_INUSE');
    });
    expect(requests).toBeGreaterThanOrEqual(1);
  });

  it('the bus going down shows UNAVAILABLE; after it, the owner sends its full state and changes made meanwhile show', async () => {
    await nats.kill();
    await until('UNAVAILABLE with the bus down', () => lamp('301') === 'UNAVAILABLE' && lamp('302') === 'UNAVAILABLE', 30_000);
    piter.peer.setDeviceState('PJSIP/302', 'INUSE');
    await nats.start();
    await until('resynced after the bus came back', () => lamp('301') === 'ONHOLD' && lamp('302') === 'INUSE', 30_000);
    await watcher.close();
    watcher = await connect({ servers: nats.url, authenticator: credsAuthenticator(encoder.encode(await nats.controllerCreds())) });
  }, 90_000);

  it('a batch out of sequence (lost messages, another epoch) makes the watcher ask the owner for the whole state', async () => {
    await until('links up on the new server', () => piter.link.connected && moscow.link.connected);
    const forged: PresenceBatch = { siteId: 'piter', epoch: 'not-the-owner', seq: 99, full: false, states: { '302': 'BUSY' } };
    const requests = await countStateRequests(async () => {
      watcher.publish(Subjects.presenceChanges('piter'), encoder.encode(JSON.stringify(forged)));
      await until('the owner truth wins again', async () => {
        await new Promise((r) => setTimeout(r, 20));
        return lamp('302') === 'INUSE';
      });
    });
    expect(requests).toBeGreaterThanOrEqual(1);
  });
});

describe('what Asterisk already shows (AstDB keeps Custom: states across a restart)', () => {
  it('a lamp already showing the owner\'s state is not written again, and none is written UNAVAILABLE before the first answer', async () => {
    await until('piter settled', () => lamp('301') !== undefined && lamp('302') !== undefined);
    const p301 = lamp('301')!;
    const p302 = lamp('302')!;
    // A second Asterisk for moscow whose AstDB brought back 301 as piter has it now and 302 as something stale.
    const stale = p302 === 'BUSY' ? 'ONHOLD' : 'BUSY';
    const again = await startSite('moscow', moscow.config, ['piter'], (peer) => {
      peer.deviceStates.set('Custom:fedpbx-piter-301', p301);
      peer.deviceStates.set('Custom:fedpbx-piter-302', stale);
    });
    try {
      await until('the stale lamp corrected', () => again.peer.deviceStates.get('Custom:fedpbx-piter-302') === p302);
      await new Promise((r) => setTimeout(r, 100));
      const writes = again.peer.actions('Setvar').map((a) => [a.get('Variable'), a.get('Value')]);
      expect(writes).toEqual([['DEVICE_STATE(Custom:fedpbx-piter-302)', p302]]);
    } finally {
      again.local.stop();
      again.remote.stop();
      await again.ami.stop();
      await again.link.stop();
      await again.peer.close();
    }
  });

  it("Asterisk keeps the echo of the agent's own lamp writes away from it (Filter at Login); refused, the lamps work the same", async () => {
    const echoes = (events: AmiEvent[]): number =>
      events.filter((e) => (e.event === 'DeviceStateChange' || e.event === 'ExtensionStatus') && (e.headers.get('Device') ?? e.headers.get('Hint') ?? '').startsWith('Custom:')).length;
    const hints = (events: AmiEvent[]): number => events.filter((e) => e.event === 'ExtensionStatus').length;
    const seen: AmiEvent[] = [];
    const off = moscow.ami.onEvent((e) => seen.push(e));
    // Write class `call` only: Setvar and DeviceStateList are allowed, Filter (system) is not.
    const callOnly: AmiPeerOptions = { users: { [DEPLOYED.name]: { secret: DEPLOYED.user.secret, read: ['all'], write: ['call'] } } };
    // Each lamp has its hint in fedpbx-hints (extensions_fedpbx.conf): its state changes raise ExtensionStatus too.
    const withHints = (peer: AmiPeer): void => {
      for (const n of ['301', '302']) peer.addHint('fedpbx-hints', n, `Custom:fedpbx-piter-${n}`);
    };
    withHints(moscow.peer);
    const plain = await startSite('moscow', moscow.config, ['piter'], withHints, callOnly);
    const seenPlain: AmiEvent[] = [];
    plain.ami.onEvent((e) => seenPlain.push(e));
    try {
      expect(moscow.peer.actions('Filter').map((a) => [a.get('MatchCriteria'), a.get('Filter')])).toEqual([
        ['action(exclude),name(DeviceStateChange),header(Device),method(starts_with)', '!Custom:fedpbx-'],
        ['action(exclude),name(ExtensionStatus),header(Hint),method(starts_with)', '!Custom:fedpbx-'],
      ]);
      await until('the second moscow shows piter', () => plain.peer.deviceStates.get('Custom:fedpbx-piter-302') !== undefined);
      for (const state of ['BUSY', 'NOT_INUSE'] as const) {
        piter.peer.setDeviceState('PJSIP/302', state);
        await until(`both moscows show 302 ${state}`, () => lamp('302') === state && plain.peer.deviceStates.get('Custom:fedpbx-piter-302') === state);
      }
      // A marker after the writes: once it is in, every echo the writes raised would be too.
      moscow.peer.setDeviceState('PJSIP/101', 'INUSE');
      plain.peer.setDeviceState('PJSIP/101', 'INUSE');
      await until('the markers arrive', () => [seen, seenPlain].every((list) => list.some((e) => e.headers.get('Device') === 'PJSIP/101')));
      expect(echoes(seen)).toBe(0);
      expect(plain.peer.actions('Filter')).toHaveLength(2); // asked, refused: Permission denied
      expect(echoes(seenPlain)).toBeGreaterThanOrEqual(4);
      expect(hints(seenPlain)).toBeGreaterThanOrEqual(2);
      expect(hints(seen)).toBe(0);
    } finally {
      off();
      plain.local.stop();
      plain.remote.stop();
      await plain.ami.stop();
      await plain.link.stop();
      await plain.peer.close();
    }
  });

  it('an AMI user without class call (manager_fedpbx.conf before presence): one alarm naming the class and the file, no warning per refused lamp; cleared once the user may write', async () => {
    // The classes the file granted before: Setvar and DeviceStateList answer Permission denied (manager.c).
    const users: Record<string, AmiPeerUser> = { [DEPLOYED.name]: { secret: DEPLOYED.user.secret, read: ['system', 'cdr'], write: ['system'] } };
    const registry = new Registry();
    const board = new AlarmBoard(silent, registry);
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const old = await startSite('moscow', moscow.config, ['piter'], undefined, { users }, { alarms: board, log });
    try {
      await until('the connect DeviceStateList is refused', () => board.get(AMI_RIGHTS_ALARM) !== undefined);
      const states = ['BUSY', 'RINGING', 'NOT_INUSE', 'INUSE'] as const;
      for (const state of states) {
        piter.peer.setDeviceState('PJSIP/302', state);
        await until(`the first moscow shows 302 ${state}`, () => lamp('302') === state);
      }
      await until('the second moscow tried each write', () => old.peer.actions('Setvar').length >= states.length);
      const alarm = board.get(AMI_RIGHTS_ALARM)!;
      expect(alarm.severity).toBe('warning');
      expect(alarm.message).toContain('lacks class call');
      expect(alarm.message).toContain('manager_fedpbx.conf');
      expect(board.list()).toHaveLength(1);
      expect(await registry.getSingleMetricAsString('fedpbx_alarm')).toContain(`fedpbx_alarm{code="${AMI_RIGHTS_ALARM}",severity="warning"} 1`);
      expect(warnings.filter((m) => /lamp not set|DeviceStateList failed/.test(m))).toEqual([]);
      expect(old.peer.deviceStates.get('Custom:fedpbx-piter-302')).toBeUndefined();
      // The admin installs the new file and reloads: the classes hold from the next Login (authenticate copies them).
      users[DEPLOYED.name] = DEPLOYED.user;
      old.peer.dropAll();
      await until('the second moscow shows 302 once it may write', () => old.peer.deviceStates.get('Custom:fedpbx-piter-302') === 'INUSE');
      await until('the alarm is cleared', () => board.get(AMI_RIGHTS_ALARM) === undefined);
      expect(await registry.getSingleMetricAsString('fedpbx_alarm')).toContain(`fedpbx_alarm{code="${AMI_RIGHTS_ALARM}",severity="warning"} 0`);
    } finally {
      old.local.stop();
      old.remote.stop();
      await old.ami.stop();
      await old.link.stop();
      await old.peer.close();
    }
  });

  it('lamps are left as shown while the first bus connect is under way, and UNAVAILABLE once startGraceMs is over', async () => {
    const peer = await AmiPeer.start({ systemName: 'moscow', ...deployedUser });
    peer.deviceStates.set('Custom:fedpbx-piter-301', 'INUSE');
    const ami = new AmiClient({ host: '127.0.0.1', port: peer.port, username: DEPLOYED.name, secret: DEPLOYED.user.secret, log: silent, keepaliveMs: 0 });
    const noBus = { connected: false, onConnected: () => undefined, onDisconnected: () => undefined };
    const remote = new RemoteLamps({ siteId: 'moscow', ami, bus: noBus, log: silent, recheckMs: 0, startGraceMs: 600 });
    remote.configure(moscow.config);
    remote.start();
    ami.start();
    try {
      await until('AMI connected', () => ami.connected);
      const started = Date.now();
      await new Promise((r) => setTimeout(r, 200));
      expect(peer.actions('Setvar')).toEqual([]);
      await until('UNAVAILABLE after the grace', () => ['301', '302'].every((n) => peer.deviceStates.get(`Custom:fedpbx-piter-${n}`) === 'UNAVAILABLE'));
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      remote.stop();
      await ami.stop();
      await peer.close();
    }
  });
});

describe('NATS permissions of presence (real nats-server, operator mode)', () => {
  async function agent(siteId: string, peers: string[] = []): Promise<NatsConnection> {
    return connect({ servers: nats.url, authenticator: credsAuthenticator(encoder.encode(await nats.agentCreds(siteId, peers))), inboxPrefix: Subjects.inboxPrefix(siteId), maxReconnectAttempts: 0 });
  }
  async function firstError(nc: NatsConnection, act: () => void, ms = 2000): Promise<string> {
    const done = (async () => {
      for await (const s of nc.status()) if (s.type === 'error') return s.error.message;
      return '';
    })();
    act();
    const timer = setTimeout(() => void nc.close(), ms);
    const message = await done;
    clearTimeout(timer);
    return message;
  }

  it('a site reads the presence of the sites it shows, and asks their state', async () => {
    const nc = await agent('moscow', ['piter']);
    const got = new Promise<PresenceBatch>((resolve) => nc.subscribe(Subjects.presenceChanges('piter'), { max: 1, callback: (_e, m) => resolve(JSON.parse(decoder.decode(m.data)) as PresenceBatch) }));
    await nc.flush();
    piter.peer.setDeviceState('PJSIP/302', 'RINGING');
    expect((await got).states['302']).toBe('RINGING');
    const state = JSON.parse(decoder.decode((await nc.request(Subjects.presenceState('piter'), undefined, { timeout: 2000 })).data)) as PresenceBatch;
    expect(state.full).toBe(true);
    expect(Object.keys(state.states).sort()).toEqual(['301', '302']);
    await nc.close();
  });

  it('a site cannot subscribe to the presence of a site it may not see, nor ask its state', async () => {
    const kazan = await agent('kazan');
    expect(await firstError(kazan, () => kazan.subscribe(Subjects.presenceChanges('piter')))).toMatch(/Permissions Violation for Subscription to "fedpbx.presence.piter.changes"/);
    const again = await agent('kazan');
    expect(await firstError(again, () => again.subscribe('fedpbx.presence.>'))).toMatch(/Permissions Violation for Subscription to "fedpbx.presence.>"/);
    const asker = await agent('kazan');
    expect(await firstError(asker, () => asker.publish(Subjects.presenceState('piter')))).toMatch(/Permissions Violation for Publish to "fedpbx.presence.piter.state"/);
    expect(nats.log.some((l) => l.includes('Violation') && l.includes('fedpbx.presence.piter'))).toBe(true);
  });

  it('a site cannot publish another site\'s presence, nor answer for it', async () => {
    const nc = await agent('moscow', ['piter']);
    expect(await firstError(nc, () => nc.publish(Subjects.presenceChanges('piter'), encoder.encode('{}')))).toMatch(/Permissions Violation for Publish to "fedpbx.presence.piter.changes"/);
    const responder = await agent('moscow', ['piter']);
    expect(await firstError(responder, () => responder.subscribe(Subjects.presenceState('piter')))).toMatch(/Permissions Violation for Subscription to "fedpbx.presence.piter.state"/);
  });
});

/** How many state requests for piter the server saw while `body` ran (a subscriber with the controller's rights). */
async function countStateRequests(body: () => Promise<void>): Promise<number> {
  let n = 0;
  const sub = watcher.subscribe(Subjects.presenceState('piter'), { callback: () => void (n += 1) });
  await watcher.flush();
  try {
    await body();
  } finally {
    sub.unsubscribe();
  }
  return n;
}

/** The site's extension table, as the agent compiles it (LocalPresence reads the shared numbers from it). */
function tableOf(config: SiteConfig): ExtensionTable {
  return ExtensionTable.of(config.extensions, { siteId: config.site.id });
}
