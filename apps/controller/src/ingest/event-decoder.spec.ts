import { describe, expect, it } from 'vitest';
import { decodeEvent, parseEventSubject } from './event-decoder.js';
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
