import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordingFileName, recordingFileNameExpression, recordingNamePart } from './recording.js';
import { RenderError } from './render-errors.js';

describe('recordingFileName', () => {
  const at = new Date('2026-03-05T07:08:09Z');

  it('names a file by date, caller, callee and unique id', () => {
    expect(recordingFileName({ at, caller: '101', callee: '301', uniqueId: '1732600000.12' })).toBe('20260305-070809-101-301-1732600000.12.wav');
    expect(recordingFileName({ at, caller: '101', callee: '301', uniqueId: '1732600000.12', timeZone: 'Europe/Moscow' })).toBe(
      '20260305-100809-101-301-1732600000.12.wav',
    );
  });

  it('keeps only whitelisted characters of caller-controlled text', () => {
    const name = recordingFileName({ at, caller: '"evil" <+7 (999) ../../etc/passwd;rm -rf>', callee: '30,1&x', uniqueId: 'pbx-1/../2.3' });
    // No `/` can survive, so `..` is just two dots inside one file name.
    expect(name).toBe('20260305-070809-7999-301-pbx1..2.3.wav');
    expect(name).toMatch(/^[0-9]{8}-[0-9]{6}-[0-9]*-[0-9]*-[0-9A-Za-z.]*\.wav$/);
    expect(recordingFileName({ at, caller: '9'.repeat(100), callee: '', uniqueId: '' })).toBe(`20260305-070809-${'9'.repeat(32)}--.wav`);
  });

  it('refuses an invalid date or time zone', () => {
    expect(() => recordingFileName({ at: new Date('nope'), caller: '1', callee: '2', uniqueId: '3' })).toThrow(RenderError);
    expect(() => recordingFileName({ at, caller: '1', callee: '2', uniqueId: '3', timeZone: 'Mars/Olympus' })).toThrow(RenderError);
    expect(() => recordingFileName({ at, caller: '1', callee: '2', uniqueId: '3', timeZone: 'UTC,x' })).toThrow(RenderError);
  });

  it('the dialplan expression computes the same name (evaluated here the way Asterisk would)', () => {
    const expression = recordingFileNameExpression('Europe/Moscow', '${ARG1}');
    const channel = { caller: '+7 (916) 101', callee: '3-01', uniqueId: 'pbx-1732600000.12' };
    const evaluated = expression
      .replace('${STRFTIME(${EPOCH},Europe/Moscow,%Y%m%d-%H%M%S)}', '20260305-100809')
      .replace('${FILTER(0-9,${CALLERID(num)}):0:32}', channel.caller.replace(/[^0-9]/g, '').slice(0, 32))
      .replace('${FILTER(0-9,${ARG1}):0:32}', channel.callee.replace(/[^0-9]/g, '').slice(0, 32))
      .replace('${FILTER(0-9A-Za-z.,${UNIQUEID}):0:64}', channel.uniqueId.replace(/[^0-9A-Za-z.]/g, '').slice(0, 64));
    expect(evaluated).toBe(recordingFileName({ at, ...channel, timeZone: 'Europe/Moscow' }));
  });
});

describe('recordingNamePart', () => {
  it('keeps what the regular expressions it replaced keep, up to the same length', () => {
    const text = fc.oneof(fc.string({ maxLength: 90 }), fc.string({ unit: fc.constantFrom(...'09azAZ.+-_ /é\n'), maxLength: 90 }));
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 70 }), (s, max) => {
        expect(recordingNamePart(s, false, max)).toBe(s.replace(/[^0-9]/g, '').slice(0, max));
        expect(recordingNamePart(s, true, max)).toBe(s.replace(/[^0-9A-Za-z.]/g, '').slice(0, max));
      }),
      { numRuns: 5000 },
    );
  });
});
