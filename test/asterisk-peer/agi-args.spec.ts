// parse_args() of res_agi.c, as a table.
import { describe, expect, it } from 'vitest';
import { AGI_MAX_ARGS, parseAgiArgs } from '../support/asterisk/agi-args.js';

describe('parseAgiArgs (res_agi.c parse_args)', () => {
  it.each<[string, string[]]>([
    ['NOOP', ['NOOP']],
    ['GET  VARIABLE\tX', ['GET', 'VARIABLE', 'X']],
    ['  leading and trailing  ', ['leading', 'and', 'trailing']],
    ['SET VARIABLE X "hello world"', ['SET', 'VARIABLE', 'X', 'hello world']],
    ['SET VARIABLE X ""', ['SET', 'VARIABLE', 'X', '']],
    ['A "" B', ['A', '', 'B']],
    ['a"b c"d', ['ab cd']],
    ['"a"b', ['ab']],
    ['x \\"quoted\\"', ['x', '"quoted"']],
    ['x "in \\"side\\" q"', ['x', 'in "side" q']],
    ['back\\\\slash', ['back\\slash']],
    ['esc\\ aped space', ['esc aped', 'space']],
    ['\\n is n', ['n', 'is', 'n']],
    ['"unterminated quote', ['unterminated quote']],
    ['NOOP\r', ['NOOP\r']],
    ['GET VARIABLE X \r', ['GET', 'VARIABLE', 'X', '\r']],
    ['', []],
    ['"', ['']],
    ['tab\t"q\tx"', ['tab', 'q\tx']],
    ['Иван "Петров Ф"', ['Иван', 'Петров Ф']],
  ])('%j', (line, argv) => {
    expect(parseAgiArgs(line)).toEqual(argv);
  });

  it(`keeps at most ${AGI_MAX_ARGS - 1} words and drops the rest`, () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    const argv = parseAgiArgs(words.join(' '));
    expect(argv).toHaveLength(AGI_MAX_ARGS - 1);
    expect(argv.at(-1)).toBe(`w${AGI_MAX_ARGS - 2}`);
    expect(parseAgiArgs(`${words.slice(0, 127).join(' ')} "x y"`)).toHaveLength(127);
  });
});
