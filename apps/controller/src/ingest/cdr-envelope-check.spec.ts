import { AgentEventEnvelope } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { isPlainCdrEnvelope } from './cdr-envelope-check.js';
import { cdrEnvelope } from './testing/cdr-envelopes.js';

/** A small seeded generator, so a failure names a case that can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
}

const HOSTILE_VALUES: unknown[] = [
  null, true, 0, -1, 1.5, 2 ** 53, Number.MAX_VALUE, '', 'x'.repeat(81), 'x'.repeat(129), 'x'.repeat(161), 'x'.repeat(256),
  'Moscow', 'a b', '9site', 'ANSWERED', 'answered', 'teho', 'nope', 'moscow/1700000000.1', 'moscow/', '/1.2',
  '2026-01-01T09:00:00Z', '2026-01-01T09:00:00.123456Z', '2026-01-01T09:00:00+03:00', '2026-02-30T09:00:00Z',
  '2026-01-01 09:00:00Z', [], {}, ['cdr'], { type: 'cdr' }, 'cdr', 'heartbeat', 1, '__proto__', 'constructor',
];
const KEYS = ['v', 'id', 'siteId', 'at', 'event', 'extra', '__proto__'];
const EVENT_KEYS = [
  'type', 'cdrId', 'uniqueId', 'linkedId', 'start', 'answer', 'end', 'durationSec', 'billSec', 'src', 'dst', 'disposition',
  'routeKind', 'targetSiteId', 'trunkId', 'originSiteId', 'callId', 'snapshotRevision', 'recordingFile', 'extra', 'toString',
];

/** One to three changes to a valid envelope: a value replaced, a key removed, or a key added (nested too). */
function mutate(next: () => number, n: number): unknown {
  const env = JSON.parse(JSON.stringify(cdrEnvelope('moscow', n, { callId: 'moscow/1700000000.1', trunkId: 't-1', originSiteId: 'moscow' }))) as Record<string, unknown>;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  for (let changes = 1 + Math.floor(next() * 3); changes > 0; changes--) {
    const event = env.event;
    const target = next() < 0.7 && typeof event === 'object' && event !== null ? (event as Record<string, unknown>) : env;
    const key = pick(target === env ? KEYS : EVENT_KEYS);
    if (next() < 0.2) delete target[key];
    else Object.defineProperty(target, key, { value: pick(HOSTILE_VALUES), enumerable: true, configurable: true, writable: true });
  }
  // As it comes off the wire: JSON text parsed again (a `__proto__` key then is an own property, as JSON.parse makes it).
  return JSON.parse(JSON.stringify(env));
}

describe('isPlainCdrEnvelope', () => {
  it('takes a CDR envelope as agents send it, with and without its optional fields', () => {
    expect(isPlainCdrEnvelope(JSON.parse(JSON.stringify(cdrEnvelope('moscow', 1))))).toBe(true);
    const bare = cdrEnvelope('moscow', 2, { answer: undefined, routeKind: undefined, targetSiteId: undefined, snapshotRevision: undefined });
    expect(isPlainCdrEnvelope(JSON.parse(JSON.stringify(bare)))).toBe(true);
  });

  it('leaves every other event type to zod', () => {
    const heartbeat = { v: 1, id: 'h1', siteId: 'moscow', at: '2026-01-01T09:00:00.000Z', event: { type: 'heartbeat', agentVersion: '1', appliedRevision: 1, uptimeSec: 1, agiSessionsActive: 0, amiConnected: true } };
    expect(AgentEventEnvelope.safeParse(heartbeat).success).toBe(true);
    expect(isPlainCdrEnvelope(heartbeat)).toBe(false);
  });

  it('never takes an envelope zod refuses (5,000 mutated envelopes), and takes most of those zod takes', () => {
    const next = rng(21);
    let zodAccepted = 0;
    let bothAccepted = 0;
    for (let n = 0; n < 5000; n++) {
      const json = mutate(next, n);
      const zodSays = AgentEventEnvelope.safeParse(json).success;
      const quickSays = isPlainCdrEnvelope(json);
      if (quickSays && !zodSays) expect.fail(`quick check took what zod refuses: ${JSON.stringify(json)}`);
      if (zodSays) zodAccepted += 1;
      if (zodSays && quickSays) bothAccepted += 1;
    }
    // The mutations leave some envelopes valid (an optional key removed, a value swapped for another valid one).
    expect(zodAccepted).toBeGreaterThan(50);
    expect(bothAccepted).toBe(zodAccepted);
  });
});
