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

  it('refuses an event on the subject of another event type', () => {
    expect(decodeEvent('fedpbx.events.moscow.heartbeat', bytes(cdrEnvelope('moscow', 1)))).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
