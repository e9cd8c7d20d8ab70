import { describe, expect, it } from 'vitest';
import { AgiEnvError } from '../errors.js';
import { AgiEnvParser, parseAgiEnvironment } from './agi-env-parser.js';

const MINIMAL = 'agi_request: agi://h/x\nagi_channel: PJSIP/a-1\nagi_uniqueid: 1.1\n';

function expectEnvError(fn: () => unknown, code: AgiEnvError['code']): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(AgiEnvError);
  expect((caught as AgiEnvError).code).toBe(code);
}

describe('AgiEnvParser', () => {
  it('splits at the first ": " only, accepts "key:" and strips a trailing CR', () => {
    const result = parseAgiEnvironment(Buffer.from(`${MINIMAL}agi_dnid: a: b\r\nagi_rdnis:\nagi_arg_1: x\n\n`));
    expect(result?.env.dnid).toBe('a: b');
    expect(result?.env.rdnis).toBe('');
    expect(result?.env.request).toBe('agi://h/x');
    expect(result?.env.args).toEqual(['x']);
  });

  it('gives each call its own values where the last call had values of the same length', () => {
    // Short values equal to the last block's are that string again: one that differs, even by a byte, is its own.
    const block = (language: string, context: string): Buffer => Buffer.from(`${MINIMAL}agi_language: ${language}\nagi_context: ${context}\n\n`);
    expect(parseAgiEnvironment(block('en', 'fedpbx-internal'))?.env).toMatchObject({ language: 'en', context: 'fedpbx-internal' });
    expect(parseAgiEnvironment(block('en', 'fedpbx-internal'))?.env).toMatchObject({ language: 'en', context: 'fedpbx-internal' });
    expect(parseAgiEnvironment(block('de', 'fedpbx-internam'))?.env).toMatchObject({ language: 'de', context: 'fedpbx-internam' });
    const long = 'x'.repeat(100);
    expect(parseAgiEnvironment(block('en', long))?.env.context).toBe(long);
    expect(parseAgiEnvironment(block('en', `${'x'.repeat(99)}y`))?.env.context).toBe(`${'x'.repeat(99)}y`);
  });

  it('reads ASCII lines in place and decodes a UTF-8 line among them, in one chunk or byte by byte alike', () => {
    const block = Buffer.from(`${MINIMAL}agi_calleridname: Иван "И" Петров\r\nagi_x_custom: v: w\nagi_extension: 101\nagi_arg_1: Ё\n\n200 result=0\n`);
    const whole = parseAgiEnvironment(block);
    const parser = new AgiEnvParser();
    let byByte: ReturnType<AgiEnvParser['push']>;
    for (let i = 0; i < block.length && byByte === undefined; i++) byByte = parser.push(block.subarray(i, i + 1));
    for (const result of [whole, byByte]) {
      expect(result?.env).toMatchObject({ callerIdName: 'Иван "И" Петров', extension: '101', args: ['Ё'], uniqueId: '1.1' });
      expect(result?.env.raw.get('agi_x_custom')).toBe('v: w');
      expect([...(result?.env.raw.keys() ?? [])]).toEqual(['agi_request', 'agi_channel', 'agi_uniqueid', 'agi_calleridname', 'agi_x_custom', 'agi_extension', 'agi_arg_1']);
    }
    expect(whole?.leftover.toString()).toBe('200 result=0\n');
  });

  it('refuses a bad key or a line without a separator, whether the line is ASCII or not', () => {
    expectEnvError(() => parseAgiEnvironment(Buffer.from(`${MINIMAL}agi-bad: x\n\n`)), 'ENV_MALFORMED_LINE');
    expectEnvError(() => parseAgiEnvironment(Buffer.from(`${MINIMAL}agi_bäd: x\n\n`)), 'ENV_MALFORMED_LINE');
    expectEnvError(() => parseAgiEnvironment(Buffer.from(`${MINIMAL}agi_dnid x\n\n`)), 'ENV_MALFORMED_LINE');
    expectEnvError(() => parseAgiEnvironment(Buffer.from(`${MINIMAL}agi_dnid Ж\n\n`)), 'ENV_MALFORMED_LINE');
    expectEnvError(() => parseAgiEnvironment(Buffer.from(`${MINIMAL}agi_dnid: 1\nagi_dnid: 2\n\n`)), 'ENV_DUPLICATE_KEY');
  });

  it('returns the bytes after the empty line as leftover, even a partial response', () => {
    const result = parseAgiEnvironment(Buffer.from(`${MINIMAL}\nHANGUP\n200 res`));
    expect(result?.leftover.toString()).toBe('HANGUP\n200 res');
  });

  it('returns undefined until the empty line, then refuses further input', () => {
    const parser = new AgiEnvParser();
    expect(parser.push(Buffer.from(MINIMAL))).toBeUndefined();
    expect(parser.push(Buffer.from('\n'))?.leftover.length).toBe(0);
    expectEnvError(() => parser.push(Buffer.from('x')), 'ENV_ALREADY_COMPLETE');
  });

  it('args stop at the first missing index; callerIdNumber hides "unknown" and empty', () => {
    const env = parseAgiEnvironment(Buffer.from(`${MINIMAL}agi_arg_1: a\nagi_arg_3: c\nagi_callerid: \n\n`))?.env;
    expect(env?.args).toEqual(['a']);
    expect(env?.callerId).toBe('');
    expect(env?.callerIdNumber).toBeUndefined();
  });

  it('raw holds every line in the order received, whether or not it is setup_env order', () => {
    const asterisk = parseAgiEnvironment(Buffer.from(`agi_network: yes\n${MINIMAL}agi_callerid: 101\nagi_arg_1: a\n\n`))?.env;
    expect([...(asterisk?.raw ?? [])]).toEqual([
      ['agi_network', 'yes'],
      ['agi_request', 'agi://h/x'],
      ['agi_channel', 'PJSIP/a-1'],
      ['agi_uniqueid', '1.1'],
      ['agi_callerid', '101'],
      ['agi_arg_1', 'a'],
    ]);
    const shuffled = 'agi_uniqueid: 1.1\nagi_x: 1\nagi_channel: c\nagi_arg_1: a\nagi_request: r\n\n';
    const env = parseAgiEnvironment(Buffer.from(shuffled))?.env;
    expect([...(env?.raw.keys() ?? [])]).toEqual(['agi_uniqueid', 'agi_x', 'agi_channel', 'agi_arg_1', 'agi_request']);
    expect(env?.raw).toBe(env?.raw);
    expect(parseAgiEnvironment(Buffer.from('agi_channel: c\nagi_request: r\nagi_uniqueid: 1\n\n'))?.env.raw.get('agi_request')).toBe('r');
  });

  it('refuses a repeated key that is not one of res_agi.c\'s', () => {
    expectEnvError(() => parseAgiEnvironment(Buffer.from(`${MINIMAL}agi_arg_1: a\nagi_x: 1\nagi_arg_1: b\n\n`)), 'ENV_DUPLICATE_KEY');
  });

  it('keys like __proto__ cannot pollute anything (raw is a Map)', () => {
    const env = parseAgiEnvironment(Buffer.from(`${MINIMAL}__proto__: x\n\n`))?.env;
    expect(env?.raw.get('__proto__')).toBe('x');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  it('refuses a line longer than the limit, whether it comes whole or in pieces', () => {
    const long = `agi_x: ${'a'.repeat(100)}\n`;
    expectEnvError(() => new AgiEnvParser({ maxLineBytes: 64 }).push(Buffer.from(long)), 'ENV_LINE_TOO_LONG');
    const parser = new AgiEnvParser({ maxLineBytes: 64 });
    expect(parser.push(Buffer.from(long.slice(0, 60)))).toBeUndefined();
    expectEnvError(() => parser.push(Buffer.from(long.slice(60, 70))), 'ENV_LINE_TOO_LONG');
    expect(parser.bufferedBytes).toBeLessThanOrEqual(70);
    // A failed parser stays failed.
    expectEnvError(() => parser.push(Buffer.from('\n')), 'ENV_LINE_TOO_LONG');
  });

  it('refuses too many lines and too many bytes', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `agi_k${i}: v\n`).join('');
    expectEnvError(() => new AgiEnvParser({ maxLines: 10 }).push(Buffer.from(lines)), 'ENV_TOO_MANY_LINES');
    expectEnvError(() => new AgiEnvParser({ maxTotalBytes: 100 }).push(Buffer.from(lines)), 'ENV_TOO_LARGE');
  });

  it('refuses malformed lines, bad keys, duplicates and a block without request/channel/uniqueid', () => {
    expectEnvError(() => parseAgiEnvironment(Buffer.from('agi_request agi://h\n\n')), 'ENV_MALFORMED_LINE');
    expectEnvError(() => parseAgiEnvironment(Buffer.from('bad key: v\n\n')), 'ENV_MALFORMED_LINE');
    expectEnvError(() => parseAgiEnvironment(Buffer.from(`${MINIMAL}agi_channel: other\n\n`)), 'ENV_DUPLICATE_KEY');
    expectEnvError(() => parseAgiEnvironment(Buffer.from('agi_request: x\n\n')), 'ENV_MISSING_FIELD');
  });

  it('decodes invalid UTF-8 with replacement characters instead of throwing', () => {
    const bytes = Buffer.concat([Buffer.from(`${MINIMAL}agi_calleridname: `), Buffer.from([0xff, 0xd0]), Buffer.from('\n\n')]);
    expect(parseAgiEnvironment(bytes)?.env.callerIdName).toBe('\ufffd\ufffd');
  });
});
