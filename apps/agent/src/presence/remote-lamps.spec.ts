import type { NatsConnection } from '@nats-io/transport-node';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AmiClient } from '../ami/ami-client.js';
import { OWN_LAMP_ECHO, OWN_LAMP_HINTS, RemoteLamps } from './remote-lamps.js';

const log = pino({ level: 'silent' });

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

/**
 * moscow watching piter's lamp 301 (no periodic requests), started on a bus that is up: `request` answers its state
 * requests, `deliver` hands it a batch published by piter.
 */
function watchingPiter(request: () => Promise<unknown>): { lamps: RemoteLamps; deliver: (data: Uint8Array) => void } {
  const config = { ...buildSiteConfig(foundingScenario(), 'moscow'), remotePresence: [{ siteId: 'piter', numbers: ['301'] }] };
  let onBatch: ((err: Error | null, msg: { data: Uint8Array }) => void) | undefined;
  const nc = {
    subscribe: (_subject: string, opts: { callback: typeof onBatch }) => ((onBatch = opts.callback), { unsubscribe: () => undefined }),
    request,
  } as unknown as NatsConnection;
  const bus = { connected: true, onConnected: (l: (c: NatsConnection) => void) => l(nc), onDisconnected: () => undefined };
  const ami = new AmiClient({ host: '127.0.0.1', port: 1, username: 'u', secret: 's', log });
  const lamps = new RemoteLamps({ siteId: 'moscow', ami, bus, log, recheckMs: 0 });
  lamps.configure(config);
  lamps.start();
  const deliver = (data: Uint8Array): void => {
    if (onBatch === undefined) throw new Error('not subscribed to piter');
    onBatch(null, { data });
  };
  return { lamps, deliver };
}

describe('RemoteLamps', () => {
  it('asks the watched sites for their state one after the other over recheckMs, not all at once', async () => {
    // moscow reaches kazan and piter directly (founding scenario) and shows one lamp of each.
    const config = { ...buildSiteConfig(foundingScenario(), 'moscow'), remotePresence: [{ siteId: 'piter', numbers: ['301'] }, { siteId: 'kazan', numbers: ['201'] }] };
    const asked: { site: string; at: number }[] = [];
    const nc = {
      subscribe: () => ({ unsubscribe: () => undefined }),
      request: (subject: string) => {
        asked.push({ site: subject.split('.')[2]!, at: performance.now() });
        return Promise.reject(new Error('503'));
      },
    } as unknown as NatsConnection;
    const bus = { connected: true, onConnected: (l: (c: NatsConnection) => void) => l(nc), onDisconnected: () => undefined };
    // Never started: the lamps it would write wait for an AMI connection that does not come.
    const ami = new AmiClient({ host: '127.0.0.1', port: 1, username: 'u', secret: 's', log });
    const lamps = new RemoteLamps({ siteId: 'moscow', ami, bus, log, recheckMs: 600 });
    lamps.configure(config);
    lamps.start();
    try {
      await new Promise((r) => setTimeout(r, 1900));
    } finally {
      lamps.stop();
    }
    // At the bus connect both at once (a resync, as after any outage); then one site per 300 ms, taking turns.
    expect(asked.slice(0, 2).map((a) => a.site).sort()).toEqual(['kazan', 'piter']);
    const rechecks = asked.slice(2);
    expect(rechecks.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < rechecks.length; i++) {
      expect(rechecks[i]!.site).not.toBe(rechecks[i - 1]!.site);
      expect(rechecks[i]!.at - rechecks[i - 1]!.at).toBeGreaterThanOrEqual(280);
    }
    // And it asked its AMI session to drop the echo of its own lamp writes.
    expect(ami.eventFilterLines).toEqual([
      'eventfilter(action(exclude),name(DeviceStateChange),header(Device),method(starts_with)) = Custom:fedpbx-',
      'eventfilter(action(exclude),name(ExtensionStatus),header(Hint),method(starts_with)) = Custom:fedpbx-',
    ]);
    expect([OWN_LAMP_ECHO.pattern, OWN_LAMP_HINTS.pattern]).toEqual(['Custom:fedpbx-', 'Custom:fedpbx-']);
  });

  it('asks again at once when an owner that did not answer sends a batch (it is back), not at the next periodic request', async () => {
    const encode = (b: object): Uint8Array => new TextEncoder().encode(JSON.stringify({ siteId: 'piter', epoch: 'e1', full: false, ...b }));
    // The owner answers the first state request, then one times out (a busy owner), then it answers again.
    const answers = [() => Promise.resolve({ data: encode({ seq: 1, full: true, states: { '301': 'NOT_INUSE' } }) }), () => Promise.reject(new Error('TIMEOUT'))];
    let asked = 0;
    const { lamps, deliver } = watchingPiter(() => answers[asked++]?.() ?? new Promise(() => undefined));
    try {
      await settle();
      expect(asked).toBe(1); // at the bus connect, answered
      deliver(encode({ seq: 3, states: { '301': 'INUSE' } })); // seq 2 lost: asked again, and that request times out
      await settle();
      expect([asked, lamps.stats.gaps]).toEqual([2, 1]);
      deliver(encode({ seq: 4, states: { '301': 'BUSY' } })); // in sequence, but from an owner whose lamps are dark
      await settle();
      expect([asked, lamps.stats.gaps]).toEqual([3, 1]);
    } finally {
      lamps.stop();
    }
  });

  it('asks for the state when a full batch comes from a new run of the owner (it publishes only to sites that asked), not for a repeat of the same run', async () => {
    const encode = (b: object): Uint8Array => new TextEncoder().encode(JSON.stringify({ siteId: 'piter', full: true, ...b }));
    const answers = [encode({ epoch: 'e1', seq: 1, states: { '301': 'NOT_INUSE' } }), encode({ epoch: 'e2', seq: 1, states: { '301': 'INUSE' } })];
    let asked = 0;
    const { lamps, deliver } = watchingPiter(() => Promise.resolve({ data: answers[asked++] }));
    try {
      await settle();
      expect(asked).toBe(1); // at the bus connect
      deliver(encode({ epoch: 'e1', seq: 2, states: { '301': 'NOT_INUSE' } })); // the owner's AMI reconnect: same run
      await settle();
      expect(asked).toBe(1);
      deliver(encode({ epoch: 'e2', seq: 1, states: { '301': 'INUSE' } })); // the owner restarted
      await settle();
      expect([asked, lamps.stats.gaps]).toEqual([2, 0]);
    } finally {
      lamps.stop();
    }
  });
});
