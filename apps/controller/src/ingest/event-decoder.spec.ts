import { describe, expect, it } from 'vitest';
import { CDR_BATCH_MAX_BYTES, CDR_BATCH_MAX_CDRS } from '@fedpbx/contracts';
import { decodeCdrBatch, decodeEvent, parseEventSubject } from './event-decoder.js';
import { cdrEnvelope } from './testing/cdr-envelopes.js';

const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('decodeEvent', () => {
  it('accepts an envelope published under its own site and type', () => {
    const env = cdrEnvelope('moscow', 1);
    const d = decodeEvent('fedpbx.events.moscow.cdr', bytes(env));
    expect(d).toEqual({ ok: true, envelope: env });
  });

  it('takes the type after the site, dots included', () => {
    expect(parseEventSubject('fedpbx.events.moscow.snapshot.applied')).toEqual({ site: 'moscow', type: 'snapshot.applied' });
    expect(parseEventSubject('fedpbx.events.moscow')).toBeUndefined();
    expect(parseEventSubject('fedpbx.other.moscow.cdr')).toBeUndefined();
  });

  it('calls an envelope naming another site than its subject spoofed', () => {
    const d = decodeEvent('fedpbx.events.piter.cdr', bytes(cdrEnvelope('moscow', 1)));
    expect(d).toMatchObject({ ok: false, reason: 'spoofed', subjectSite: 'piter' });
  });

  it.each([
    ['garbage bytes', Uint8Array.of(0xff, 0xfe, 0x00, 0x41)],
    ['JSON that is not an envelope', bytes({ hello: 'world' })],
    ['truncated JSON', bytes('{"v":1,"id":')],
    ['an unknown property', bytes({ ...cdrEnvelope('moscow', 1), extra: true })],
    ['a NUL character PostgreSQL cannot store', bytes(cdrEnvelope('moscow', 1, { src: 'a\u0000b' }))],
  ])('refuses %s as malformed', (_, data) => {
    expect(decodeEvent('fedpbx.events.moscow.cdr', data)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it.each([
    ['a negative duration', { durationSec: -1 }, 'event.durationSec'],
    ['an unknown disposition', { disposition: 'MAYBE' as 'ANSWERED' }, 'event.disposition'],
    ['a site id that is not a slug', { targetSiteId: 'Piter!' }, 'event.targetSiteId'],
    ['a time with an offset', { answer: '2026-01-01T12:00:05+03:00' }, 'event.answer'],
    ['a source too long', { src: '1'.repeat(81) }, 'event.src'],
  ])('refuses a CDR with %s and says where (zod words it)', (_, change, path) => {
    const d = decodeEvent('fedpbx.events.moscow.cdr', bytes(cdrEnvelope('moscow', 1, change)));
    expect(d).toMatchObject({ ok: false, reason: 'malformed' });
    expect(d.ok ? '' : d.detail).toMatch(new RegExp(`^not an AgentEventEnvelope: ${path.replace('.', '\\.')} `));
  });

  it('refuses an event on the subject of another event type', () => {
    expect(decodeEvent('fedpbx.events.moscow.heartbeat', bytes(cdrEnvelope('moscow', 1)))).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('decodeCdrBatch', () => {
  const batch = (...lines: unknown[]): Uint8Array => bytes(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));

  it('takes every CDR envelope of its own site, one per line, in order', () => {
    const envs = [1, 2, 3].map((n) => cdrEnvelope('moscow', n, { src: `1${n} "Иван"` }));
    expect(decodeCdrBatch('fedpbx.cdrs.moscow', batch(...envs))).toEqual({ ok: true, envelopes: envs, refused: [] });
  });

  it('refuses a bad CDR alone and keeps the others: malformed JSON, not a CDR, another site (spoofed), a NUL', () => {
    const good = [1, 2, 3].map((n) => cdrEnvelope('moscow', n));
    const heartbeat = { v: 1, id: 'hb', siteId: 'moscow', at: '2026-01-01T00:00:00.000Z', event: { type: 'heartbeat', agentVersion: '1', appliedRevision: 1, uptimeSec: 1, agiSessionsActive: 0, amiConnected: true } };
    const d = decodeCdrBatch('fedpbx.cdrs.moscow', batch(good[0], '{"v":1,"id":', good[1], cdrEnvelope('piter', 9), heartbeat, cdrEnvelope('moscow', 4, { src: 'a\u0000b' }), '', good[2]));
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.envelopes).toEqual(good);
    expect(d.refused.map((r) => r.reason)).toEqual(['malformed', 'spoofed', 'malformed', 'malformed', 'malformed']);
    expect(d.refused[1]?.detail).toBe('envelope says site piter, subject says moscow');
    expect(d.refused[2]?.detail).toBe('a heartbeat event on subject type cdr');
  });

  it.each([
    ['another subject', 'fedpbx.cdrs.moscow.x', batch(cdrEnvelope('moscow', 1)), /is not fedpbx.cdrs.<site>/],
    ['no site', 'fedpbx.cdrs.', batch(cdrEnvelope('moscow', 1)), /is not fedpbx.cdrs.<site>/],
    ['more bytes than a batch may hold', 'fedpbx.cdrs.moscow', new Uint8Array(CDR_BATCH_MAX_BYTES + 1).fill(0x20), /of 524289 bytes \(at most 524288\)/],
    ['more lines than a batch may hold', 'fedpbx.cdrs.moscow', new Uint8Array(CDR_BATCH_MAX_CDRS).fill(0x0a), /of 1001 lines \(at most 1000\)/],
    ['bytes that are not UTF-8', 'fedpbx.cdrs.moscow', Uint8Array.of(0xff, 0xfe, 0x0a, 0x41), /not UTF-8/],
  ])('refuses the whole message for %s, with the reason', (_what, subject, data, detail) => {
    const d = decodeCdrBatch(subject, data);
    expect(d).toMatchObject({ ok: false, reason: 'malformed' });
    if (!d.ok) expect(d.detail).toMatch(detail);
  });

  it('never throws on hostile bytes (seeded random mutations of a batch)', () => {
    const base = batch(...[1, 2, 3].map((n) => cdrEnvelope('moscow', n)));
    let seed = 21;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 1000; round++) {
      const m = Uint8Array.from(base);
      for (let k = 0; k < 1 + rand(8); k++) m[rand(m.length)] = rand(256);
      const d = decodeCdrBatch('fedpbx.cdrs.moscow', m);
      if (d.ok) for (const e of d.envelopes) expect(e.siteId).toBe('moscow');
    }
  });
});
