import type { NatsConnection } from '@nats-io/transport-node';
import { AmiHeaders } from '@fedpbx/asterisk';
import type { PresenceBatch, SiteConfig } from '@fedpbx/contracts';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AmiEvent } from '../ami/ami-client.js';
import { LocalPresence } from './local-presence.js';
import type { PresenceAmi } from './presence-ports.js';

const log = pino({ level: 'silent' });

/** A site sharing 101..105 (phones PJSIP/101..105), an AMI that is not connected (no DeviceStateList) and a bus that is. */
function setup(coalesceMs: number): { phone: (n: number, state: string) => void; batches: PresenceBatch[]; local: LocalPresence } {
  const listeners: ((e: AmiEvent) => void)[] = [];
  const ami = { connected: false, onEvent: (l: (e: AmiEvent) => void) => (listeners.push(l), () => undefined), onConnected: () => () => undefined } as unknown as PresenceAmi;
  const batches: PresenceBatch[] = [];
  const nc = {
    subscribe: () => ({ unsubscribe: () => undefined }),
    publish: (_subject: string, data: Uint8Array) => void batches.push(JSON.parse(new TextDecoder().decode(data)) as PresenceBatch),
  } as unknown as NatsConnection;
  const bus = { connected: true, onConnected: (l: (c: NatsConnection) => void) => l(nc), onDisconnected: () => undefined };
  const local = new LocalPresence({ siteId: 'kazan', ami, bus, log, coalesceMs });
  const numbers = ['101', '102', '103', '104', '105'];
  local.configure({ site: { id: 'kazan' }, extensions: numbers.map((n) => ({ siteId: 'kazan', number: n })) } as unknown as SiteConfig);
  local.start();
  const phone = (n: number, state: string): void => {
    const event: AmiEvent = { kind: 'event', event: 'DeviceStateChange', actionId: undefined, headers: new AmiHeaders([{ key: 'Device', value: `PJSIP/${n}` }, { key: 'State', value: state }]) };
    for (const l of listeners) l(event);
  };
  return { phone, batches, local };
}

const changes = (batches: PresenceBatch[]): Record<string, string>[] => batches.filter((b) => !b.full).map((b) => b.states);

describe('LocalPresence: when a change goes out', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('after a quiet spell at once, with what else changed in the same turn; what follows waits for the window', () => {
    const { phone, batches, local } = setup(25);
    expect(batches.map((b) => b.full)).toEqual([true]); // the bus connect sends the full state
    vi.advanceTimersByTime(100); // quiet
    phone(101, 'RINGING');
    phone(102, 'INUSE'); // same turn (one AMI read)
    vi.advanceTimersByTime(1);
    expect(changes(batches)).toEqual([{ '101': 'RINGING', '102': 'INUSE' }]);

    // Under way: 5 ms after that batch, a change waits until 25 ms after it, and a later state replaces an earlier one.
    vi.advanceTimersByTime(4);
    phone(103, 'RINGING');
    vi.advanceTimersByTime(10);
    phone(103, 'INUSE');
    vi.advanceTimersByTime(9); // 24 ms after the first batch
    expect(changes(batches)).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(changes(batches)).toEqual([{ '101': 'RINGING', '102': 'INUSE' }, { '103': 'INUSE' }]);

    // Quiet again: the next one goes at once.
    vi.advanceTimersByTime(30);
    phone(104, 'BUSY');
    vi.advanceTimersByTime(1);
    expect(changes(batches).at(-1)).toEqual({ '104': 'BUSY' });
    expect(batches.map((b) => b.seq)).toEqual([1, 2, 3, 4]); // one sequence: a receiver sees no gap
    local.stop();
  });

  it('under a steady stream of changes, at most one batch per window', () => {
    const { phone, batches, local } = setup(25);
    vi.advanceTimersByTime(100);
    const states = ['INUSE', 'NOT_INUSE'];
    for (let t = 0; t < 200; t++) {
      phone(101 + (t % 5), states[t % 2]!);
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(25);
    // 200 changes over 200 ms: the first at once, then one batch per 25 ms.
    const sent = changes(batches).length;
    expect(sent).toBeGreaterThanOrEqual(8);
    expect(sent).toBeLessThanOrEqual(10);
    local.stop();
  });
});
