import type { NatsConnection } from '@nats-io/transport-node';
import { AmiHeaders } from '@fedpbx/asterisk';
import type { Extension, PresenceBatch, SiteConfig } from '@fedpbx/contracts';
import { ExtensionTable } from '@fedpbx/dialplan';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AmiEvent } from '../ami/ami-client.js';
import { LocalPresence } from './local-presence.js';
import type { PresenceAmi } from './presence-ports.js';

const log = pino({ level: 'silent' });

interface Setup {
  readonly phone: (n: number, state: string) => void;
  readonly batches: PresenceBatch[];
  readonly local: LocalPresence;
  /** A watcher's state request (`fedpbx.presence.kazan.state`): the answer. */
  readonly ask: () => PresenceBatch;
}

/**
 * A site sharing 101..105 (phones PJSIP/101..105), an AMI that is not connected (no DeviceStateList) and a bus that is;
 * `watched`: a watcher asks for the state right away (as a site that starts watching does).
 */
function setup(coalesceMs: number, watched = true): Setup {
  const listeners: ((e: AmiEvent) => void)[] = [];
  const ami = { connected: false, onEvent: (l: (e: AmiEvent) => void) => (listeners.push(l), () => undefined), onConnected: () => () => undefined } as unknown as PresenceAmi;
  const batches: PresenceBatch[] = [];
  let requests: ((err: null, msg: { respond: (data: Uint8Array) => boolean }) => void) | undefined;
  const nc = {
    subscribe: (_subject: string, opts: { callback: typeof requests }) => ((requests = opts.callback), { unsubscribe: () => undefined }),
    publish: (_subject: string, data: Uint8Array) => void batches.push(JSON.parse(new TextDecoder().decode(data)) as PresenceBatch),
  } as unknown as NatsConnection;
  const bus = { connected: true, onConnected: (l: (c: NatsConnection) => void) => l(nc), onDisconnected: () => undefined };
  const local = new LocalPresence({ siteId: 'kazan', ami, bus, log, coalesceMs, watcherTimeoutMs: 1000 });
  const numbers = ['101', '102', '103', '104', '105'];
  local.configure({ site: { id: 'kazan' } } as SiteConfig, ExtensionTable.of(numbers.map((n) => ({ siteId: 'kazan', number: n, displayName: n, voicemail: false, ringTimeoutSec: 20 }) as Extension)));
  local.start();
  const phone = (n: number, state: string): void => {
    const event: AmiEvent = { kind: 'event', event: 'DeviceStateChange', actionId: undefined, headers: new AmiHeaders([{ key: 'Device', value: `PJSIP/${n}` }, { key: 'State', value: state }]) };
    for (const l of listeners) l(event);
  };
  const ask = (): PresenceBatch => {
    let answer: PresenceBatch | undefined;
    requests?.(null, { respond: (data) => ((answer = JSON.parse(new TextDecoder().decode(data)) as PresenceBatch), true) });
    if (answer === undefined) throw new Error('state request not answered');
    return answer;
  };
  if (watched) ask();
  return { phone, batches, local, ask };
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

describe('LocalPresence: only while watched', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('publishes no change while no site has asked for its state, and answers a request with the state now', () => {
    const { phone, batches, local, ask } = setup(25, false);
    expect(batches.map((b) => b.full)).toEqual([true]); // the bus connect's full state: a restarted owner's sign
    expect(local.watched).toBe(false);
    phone(101, 'INUSE');
    phone(101, 'NOT_INUSE');
    phone(102, 'RINGING');
    expect(vi.getTimerCount()).toBe(0); // not even a timer armed
    vi.advanceTimersByTime(100);
    expect(changes(batches)).toEqual([]);
    expect(batches).toHaveLength(1);
    // A site starts watching: it asks, and is answered with every change made meanwhile.
    const answer = ask();
    expect(answer).toMatchObject({ full: true, seq: 1, states: { '101': 'NOT_INUSE', '102': 'RINGING', '103': 'UNAVAILABLE' } });
    expect(local.watched).toBe(true);
    // From then on its changes go out, in sequence after the answer (the watcher sees no gap).
    phone(103, 'INUSE');
    vi.advanceTimersByTime(1);
    expect(batches.at(-1)).toMatchObject({ full: false, seq: 2, states: { '103': 'INUSE' } });
    local.stop();
  });

  it('stops publishing watcherTimeoutMs after the last state request, and starts again at the next', () => {
    const { phone, batches, local, ask } = setup(25);
    vi.advanceTimersByTime(600);
    phone(101, 'INUSE');
    vi.advanceTimersByTime(1);
    expect(changes(batches)).toEqual([{ '101': 'INUSE' }]);
    ask(); // a periodic request keeps it watched
    vi.advanceTimersByTime(999);
    phone(101, 'NOT_INUSE');
    vi.advanceTimersByTime(1);
    expect(changes(batches)).toHaveLength(2);
    vi.advanceTimersByTime(1); // 1,001 ms after the last request: nobody is watching any more
    phone(101, 'BUSY');
    vi.advanceTimersByTime(100);
    expect(changes(batches)).toHaveLength(2);
    expect(ask().states['101']).toBe('BUSY');
    phone(101, 'NOT_INUSE');
    vi.advanceTimersByTime(1);
    expect(changes(batches).at(-1)).toEqual({ '101': 'NOT_INUSE' });
    local.stop();
  });

  it('drops a change that was waiting for the window when the last watcher went away meanwhile', () => {
    const { phone, batches, local } = setup(25);
    vi.advanceTimersByTime(990);
    phone(101, 'INUSE');
    vi.advanceTimersByTime(1);
    phone(102, 'INUSE'); // waits until 25 ms after the first batch, past the watcher's timeout
    vi.advanceTimersByTime(30);
    expect(changes(batches)).toEqual([{ '101': 'INUSE' }]);
    local.stop();
  });
});
