import { describe, expect, it } from 'vitest';
import { AgiResponseParseError } from '../errors.js';
import { AgiResponseParser, parseAgiResponseLine } from './agi-response-parser.js';

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AgiResponseParseError);
    return (error as AgiResponseParseError).code;
  }
  return undefined;
}

describe('parseAgiResponseLine', () => {
  it('data is everything from the first " (" to the last ")" before an optional endpos', () => {
    expect(parseAgiResponseLine('200 result=1 (a (b) c) d)')).toMatchObject({ result: '1', data: 'a (b) c) d', text: undefined });
    expect(parseAgiResponseLine('200 result=1 (x) endpos=1234')).toMatchObject({ data: 'x', endpos: 1234 });
    expect(parseAgiResponseLine('200 result=1 (x) endpos=5)')).toMatchObject({ data: 'x) endpos=5', endpos: undefined });
    expect(parseAgiResponseLine('200 result=1 ()')).toMatchObject({ data: '' });
    expect(parseAgiResponseLine('200 result=0 (timeout) endpos=80')).toMatchObject({ data: 'timeout', endpos: 80 });
  });

  it('keeps result as text: GET DATA digits with leading zeros, or nothing', () => {
    expect(parseAgiResponseLine('200 result=0042 (timeout)')).toMatchObject({ result: '0042', resultNumber: 42, data: 'timeout' });
    expect(parseAgiResponseLine('200 result= (timeout)')).toMatchObject({ result: '', resultNumber: undefined, data: 'timeout' });
    expect(parseAgiResponseLine('200 result=12*#')).toMatchObject({ result: '12*#', resultNumber: undefined });
  });

  it('text after the result, 5xx lines, and non-responses', () => {
    expect(parseAgiResponseLine('503 result=-2 Memory allocation failure')).toMatchObject({ code: 503, resultNumber: -2, text: 'Memory allocation failure' });
    expect(parseAgiResponseLine('511 Command Not Permitted on a dead channel or intercept routine')).toMatchObject({ code: 511, result: undefined });
    expect(parseAgiResponseLine('200 result=1 (unterminated')).toMatchObject({ data: undefined, text: '(unterminated' });
    expect(parseAgiResponseLine('HANGUP')).toBeUndefined();
    expect(parseAgiResponseLine('520-Invalid')).toBeUndefined();
  });
});

describe('AgiResponseParser', () => {
  it('HANGUP is an event of its own, wherever it falls', () => {
    const parser = new AgiResponseParser();
    expect(parser.push(Buffer.from('HANGUP\n200 result=0\nHANG'))).toEqual([
      { type: 'hangup' },
      { type: 'response', response: expect.objectContaining({ code: 200, result: '0' }) },
    ]);
    expect(parser.push(Buffer.from('UP\n'))).toEqual([{ type: 'hangup' }]);
  });

  it('a single-line 520 is a response; a 520- block ends only at "520 "', () => {
    const parser = new AgiResponseParser();
    expect(parser.push(Buffer.from('520 Invalid command syntax.  Proper usage not available.\n'))[0]).toMatchObject({
      type: 'response',
      response: { code: 520, usage: undefined, text: 'Invalid command syntax.  Proper usage not available.' },
    });
    expect(parser.push(Buffer.from('520-Invalid\nHANGUP\n200 result=1\n'))).toEqual([]);
    expect(parser.inBlock).toBe(true);
    const [event] = parser.push(Buffer.from('520 End of proper usage.\n'));
    expect(event).toMatchObject({ type: 'response', response: { code: 520, usage: ['HANGUP', '200 result=1'] } });
    expect(parser.inBlock).toBe(false);
  });

  it('100 is intermediate; unknown lines are reported, not dropped', () => {
    expect(new AgiResponseParser().push(Buffer.from('100 result=0 Trying...\nfoo\n\n'))).toEqual([
      { type: 'intermediate', response: expect.objectContaining({ code: 100, text: 'Trying...' }) },
      { type: 'unknown', line: 'foo' },
      { type: 'unknown', line: '' },
    ]);
  });

  it('bounds a partial line and a 520 block', () => {
    const parser = new AgiResponseParser({ maxLineBytes: 100 });
    expect(parser.push(Buffer.alloc(100, 0x41))).toEqual([]);
    expect(errorCode(() => parser.push(Buffer.from('A')))).toBe('RESPONSE_LINE_TOO_LONG');
    expect(errorCode(() => parser.push(Buffer.from('\n')))).toBe('RESPONSE_LINE_TOO_LONG');

    expect(errorCode(() => new AgiResponseParser().push(Buffer.from(`200 result=1 (${'A'.repeat(16 * 1024)})\n`)))).toBe('RESPONSE_LINE_TOO_LONG');
    expect(new AgiResponseParser().push(Buffer.from(`200 result=1 (${'A'.repeat(8169)})\n`))).toHaveLength(1);

    const block = `520-x\n${'line\n'.repeat(70)}520 end\n`;
    expect(errorCode(() => new AgiResponseParser().push(Buffer.from(block)))).toBe('RESPONSE_BLOCK_TOO_LARGE');
    const bytes = new AgiResponseParser({ maxBlockBytes: 50 });
    expect(errorCode(() => bytes.push(Buffer.from(`520-x\n${'y'.repeat(60)}`)))).toBe('RESPONSE_BLOCK_TOO_LARGE');
  });

  it('answers given again are the same frozen event; the set of them stays bounded whatever the peer sends', () => {
    const parser = new AgiResponseParser();
    const [first] = parser.push(Buffer.from('200 result=1 (ANSWER)\n'));
    const [again] = new AgiResponseParser().push(Buffer.from('200 result=1 (ANSWER)\r\n'));
    expect(again).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first?.type === 'response' && Object.isFrozen(first.response)).toBe(true);
    expect(first).toEqual({ type: 'response', response: parseAgiResponseLine('200 result=1 (ANSWER)') });
    // 1,000 distinct answers, then the first again: still parsed right.
    const many = Array.from({ length: 1000 }, (_, i) => `200 result=${i}\n`).join('');
    const events = parser.push(Buffer.from(many));
    expect(events.map((e) => (e.type === 'response' ? e.response.resultNumber : -1))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(parser.push(Buffer.from('100 result=0 Trying...\n200 result=1 (ANSWER)\n'))).toEqual([
      { type: 'intermediate', response: parseAgiResponseLine('100 result=0 Trying...') },
      first,
    ]);
    const long = `200 result=1 (${'x'.repeat(80)})`;
    const [a] = parser.push(Buffer.from(`${long}\n`));
    const [b] = parser.push(Buffer.from(`${long}\n`));
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
  });
});
