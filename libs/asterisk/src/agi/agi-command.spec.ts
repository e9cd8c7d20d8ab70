import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgiAppDataError, AgiCommandError } from '../errors.js';
import { chunksFrom, loadFixtures } from '../testing/asterisk-fixtures.js';
import {
  assertAsteriskName,
  assertDialNumber,
  dialData,
  DialLineBuilder,
  EXEC_LINE_END,
  execLinePrefix,
  formatAgiCommand,
  isReadyExecLine,
  mixMonitorData,
  quoteAgiArg,
  splitAgiCommandLine,
} from './agi-command.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof AgiCommandError || error instanceof AgiAppDataError) return error.code;
    throw error;
  }
  return undefined;
}

/** What res_agi.c would see for one of our lines: the LF is removed, then parse_args(). */
function asteriskArgv(line: string): string[] {
  expect(line.endsWith('\n')).toBe(true);
  expect(line.indexOf('\n')).toBe(line.length - 1);
  return splitAgiCommandLine(line.slice(0, -1));
}

describe('splitAgiCommandLine (res_agi.c parse_args)', () => {
  it('splits on spaces and tabs, quotes group, backslash escapes, "" is an empty argument', () => {
    expect(splitAgiCommandLine('GET  VARIABLE\tX')).toEqual(['GET', 'VARIABLE', 'X']);
    expect(splitAgiCommandLine('VERBOSE "a b" 1')).toEqual(['VERBOSE', 'a b', '1']);
    expect(splitAgiCommandLine('STREAM FILE beep ""')).toEqual(['STREAM', 'FILE', 'beep', '']);
    expect(splitAgiCommandLine(String.raw`SET VARIABLE X "a\"b\\c"`)).toEqual(['SET', 'VARIABLE', 'X', String.raw`a"b\c`]);
    expect(splitAgiCommandLine(String.raw`NOOP a\ b`)).toEqual(['NOOP', 'a b']);
    expect(splitAgiCommandLine('x"y z"w')).toEqual(['xy zw']);
  });

  it('starts at most 127 words from unquoted text', () => {
    expect(splitAgiCommandLine(Array.from({ length: 200 }, (_, i) => `a${i}`).join(' '))).toHaveLength(127);
  });
});

describe('quoteAgiArg / formatAgiCommand', () => {
  it('quotes every argument and ends the line with LF only', () => {
    expect(formatAgiCommand('NOOP')).toBe('NOOP\n');
    expect(formatAgiCommand('GET VARIABLE', ['DIALSTATUS'])).toBe('GET VARIABLE "DIALSTATUS"\n');
    expect(formatAgiCommand('SET VARIABLE', ['X', String.raw`a "b" \c`])).toBe(String.raw`SET VARIABLE "X" "a \"b\" \\c"` + '\n');
    expect(quoteAgiArg('')).toBe('""');
  });

  it('refuses CR, LF, NUL and lone surrogates in arguments', () => {
    for (const bad of ['a\rb', 'a\nb', 'a\0b', 'value\r', '\ud800']) expect(codeOf(() => quoteAgiArg(bad))).toBe('ARG_FORBIDDEN_CHAR');
    expect(codeOf(() => formatAgiCommand('SET VARIABLE', ['X', 'v\nEXEC Dial x']))).toBe('ARG_FORBIDDEN_CHAR');
    expect(quoteAgiArg('emoji 😀')).toBe('"emoji 😀"');
  });

  it('refuses bad verbs, too many words and lines of 8000 bytes or more', () => {
    for (const verb of ['noop', 'NOOP ', ' NOOP', 'GET  VARIABLE', 'NOOP\n', 'EXEC"', '']) expect(codeOf(() => formatAgiCommand(verb))).toBe('BAD_VERB');
    expect(codeOf(() => formatAgiCommand('NOOP', Array.from({ length: 126 }, () => 'a')))).toBeUndefined();
    expect(codeOf(() => formatAgiCommand('NOOP', Array.from({ length: 127 }, () => 'a')))).toBe('TOO_MANY_ARGS');
    const fits = 8000 - 'VERBOSE ""\n'.length - 1;
    expect(Buffer.byteLength(formatAgiCommand('VERBOSE', ['a'.repeat(fits)]))).toBe(7999);
    expect(codeOf(() => formatAgiCommand('VERBOSE', ['a'.repeat(fits + 1)]))).toBe('COMMAND_TOO_LONG');
    // Multi-byte characters count as bytes, not UTF-16 units.
    expect(codeOf(() => formatAgiCommand('VERBOSE', ['Ж'.repeat(4000)]))).toBe('COMMAND_TOO_LONG');
  });

  it('property: for any string without CR/LF/NUL, parse_args(quoteAgiArg(s)) is exactly [s]', () => {
    const safe = fc.string({ unit: 'binary', maxLength: 300 }).filter((s) => !/[\r\n\0]/.test(s) && !/[\uD800-\uDFFF]/u.test(s));
    const tricky = fc.stringMatching(/^[ \t"\\a-z]{0,40}$/);
    fc.assert(
      fc.property(fc.oneof(safe, tricky), (s) => {
        expect(splitAgiCommandLine(quoteAgiArg(s))).toEqual([s]);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(safe, tricky), { maxLength: 10 }), (args) => {
        expect(asteriskArgv(formatAgiCommand('SET VARIABLE', args))).toEqual(['SET', 'VARIABLE', ...args]);
      }),
      { numRuns: 500 },
    );
  });
});

/** Verbs of the commands sent in the recordings (longest first, so GET FULL VARIABLE wins over GET). */
const KNOWN_VERBS = ['GET FULL VARIABLE', 'GET VARIABLE', 'SET VARIABLE', 'STREAM FILE', 'WAIT FOR DIGIT', 'CHANNEL STATUS', 'GET DATA', 'EXEC', 'NOOP', 'ANSWER', 'VERBOSE', 'GOSUB', 'HANGUP', 'FOO'];

describe('our serializer against the commands in the recordings', () => {
  const lines = loadFixtures('agi-').flatMap((fixture) =>
    chunksFrom(fixture, 'server->asterisk').flatMap((chunk) =>
      chunk
        .toString('utf8')
        .split(/(?<=\n)/)
        .map((line) => ({ file: fixture.file, line })),
    ),
  );

  it('finds the recorded commands', () => {
    expect(lines.length).toBeGreaterThan(100);
  });

  it('reproduces every expressible command line as Asterisk would parse it', () => {
    let compared = 0;
    for (const { file, line } of lines) {
      const body = line.endsWith('\n') ? line.slice(0, -1) : line;
      if (body.includes('\r') || Buffer.byteLength(line) >= 8000 || body === '' || body === 'failure') continue;
      const argv = splitAgiCommandLine(body);
      const verb = KNOWN_VERBS.find((v) => argv.slice(0, v.split(' ').length).join(' ') === v);
      expect(verb, `${file}: ${body}`).toBeDefined();
      const words = (verb ?? '').split(' ').length;
      expect(asteriskArgv(formatAgiCommand(verb ?? '', argv.slice(words))), `${file}: ${body}`).toEqual(argv);
      compared += 1;
    }
    expect(compared).toBeGreaterThan(90);
  });

  it('refuses what the recordings show going wrong: CR in arguments, lines of 8 KiB and more', () => {
    const crlf = lines.filter(({ line }) => line.includes('\r'));
    expect(crlf.length).toBeGreaterThan(5);
    for (const { line } of crlf) {
      const argv = splitAgiCommandLine(line.slice(0, -1));
      // The CR sits in the last argument (or is the whole command word); we cannot send it.
      expect(() => formatAgiCommand('NOOP', argv)).toThrow(AgiCommandError);
    }
    const long = lines.filter(({ line }) => Buffer.byteLength(line) >= 8000);
    expect(long).toHaveLength(4);
    for (const { line } of long) {
      const argv = splitAgiCommandLine(line.slice(0, -1));
      const verb = argv[0] === 'SET' ? 'SET VARIABLE' : 'VERBOSE';
      expect(codeOf(() => formatAgiCommand(verb, argv.slice(verb.split(' ').length)))).toBe('COMMAND_TOO_LONG');
    }
  });
});

describe('application data builders', () => {
  it('dialData builds targets, timeout and whitelisted options', () => {
    expect(dialData({ targets: [{ tech: 'PJSIP', resource: '101' }] })).toBe('PJSIP/101');
    expect(dialData({ targets: [{ tech: 'PJSIP', resource: '305', host: 'site-piter' }], timeoutSec: 30 })).toBe('PJSIP/305@site-piter,30');
    expect(
      dialData({
        targets: [
          { tech: 'PJSIP', resource: '+74951234567', host: 'trunk.msk' },
          { tech: 'Local', resource: '101', host: 'fedpbx-internal' },
        ],
        options: ['t', 'T', 't'],
      }),
    ).toBe('PJSIP/+74951234567@trunk.msk&Local/101@fedpbx-internal,,tT');
  });

  it('refuses caller-controlled text that would inject Dial options or targets', () => {
    const attacks = ['x,,U(sub)', '101&PJSIP/evil', '101,5,G(ctx^s^1)', '1 01', '101)', 'a|b', '"101"', '${EVIL}', '', 'a'.repeat(65)];
    for (const resource of attacks) {
      expect(codeOf(() => dialData({ targets: [{ tech: 'PJSIP', resource }] })), resource).toBe('INVALID_DIAL_TARGET');
      expect(codeOf(() => dialData({ targets: [{ tech: 'PJSIP', resource: '101', host: resource }] })), resource).toBe('INVALID_NAME');
    }
    expect(codeOf(() => dialData({ targets: [{ tech: 'Local', resource: '101' }] }))).toBe('INVALID_DIAL_TARGET');
    expect(codeOf(() => dialData({ targets: [] }))).toBe('INVALID_DIAL_TARGET');
    expect(codeOf(() => dialData({ targets: [{ tech: 'PJSIP', resource: '1' }], timeoutSec: 0 }))).toBe('INVALID_TIMEOUT');
    expect(codeOf(() => dialData({ targets: [{ tech: 'PJSIP', resource: '1' }], timeoutSec: 1.5 }))).toBe('INVALID_TIMEOUT');
    const unsafeOption = 'U' as unknown as 't';
    expect(codeOf(() => dialData({ targets: [{ tech: 'PJSIP', resource: '1' }], options: [unsafeOption] }))).toBe('INVALID_OPTION');
  });

  it('dialData adds a pre-dial handler b(context^s^1(args)) from whitelisted parts only', () => {
    const target = { tech: 'PJSIP' as const, resource: '301', host: 'site-piter' };
    expect(dialData({ targets: [target], timeoutSec: 30, options: ['t', 'T'], preDial: { context: 'fedpbx-predial', args: ['moscow/1732600000.12'] } })).toBe(
      'PJSIP/301@site-piter,30,tTb(fedpbx-predial^s^1(moscow/1732600000.12))',
    );
    expect(dialData({ targets: [target], preDial: { context: 'fedpbx-predial', args: [] } })).toBe('PJSIP/301@site-piter,,b(fedpbx-predial^s^1)');
    for (const arg of ['a^b', 'x,U(sub)', 'a)b', '${X}', 'a b', '', 'a'.repeat(101)]) {
      expect(codeOf(() => dialData({ targets: [target], preDial: { context: 'fedpbx-predial', args: [arg] } })), arg).toBe('INVALID_OPTION');
    }
    expect(codeOf(() => dialData({ targets: [target], preDial: { context: 'a^b', args: [] } }))).toBe('INVALID_NAME');
  });

  it('DialLineBuilder makes the EXEC line formatAgiCommand makes from dialData, and is whole again after a refusal', () => {
    const builder = new DialLineBuilder();
    const preDial = { context: 'fedpbx-predial', args: ['moscow/1732600000.12', 'x'] };
    const cases: { targets: { tech: 'PJSIP' | 'Local'; resource: string; host?: string }[]; timeoutSec?: number; options?: ('t' | 'T' | 'r')[]; preDial?: typeof preDial }[] = [
      { targets: [{ tech: 'PJSIP', resource: '101' }] },
      { targets: [{ tech: 'PJSIP', resource: '305', host: 'site-piter' }], timeoutSec: 30, options: ['t', 'T', 't'], preDial },
      { targets: [{ tech: 'PJSIP', resource: '+7495', host: 'trunk.msk' }, { tech: 'Local', resource: '101', host: 'fedpbx-internal' }], options: ['r'] },
      { targets: [{ tech: 'PJSIP', resource: '301', host: 'site-piter' }], preDial: { context: 'fedpbx-predial', args: [] } },
    ];
    for (const input of cases) {
      for (const target of input.targets) builder.target(target);
      const expected = formatAgiCommand('EXEC', ['Dial', dialData(input)]);
      expect(builder.line(input.timeoutSec, input.options, input.preDial)).toBe(expected);
      expect(isReadyExecLine(expected)).toBe(true);
      // The target without its object gives the same.
      const first = input.targets[0];
      if (input.targets.length === 1 && first?.tech === 'PJSIP') {
        expect(builder.pjsip(first.resource, first.host).line(input.timeoutSec, input.options, input.preDial)).toBe(expected);
      }
    }
    // Refused at the target, at the timeout, at an option and at the pre-dial handler: nothing of it is left behind.
    expect(codeOf(() => builder.pjsip('101', undefined).pjsip('x,,U(sub)', undefined))).toBe('INVALID_DIAL_TARGET');
    expect(codeOf(() => builder.pjsip('101', undefined).line(0))).toBe('INVALID_TIMEOUT');
    expect(codeOf(() => builder.pjsip('101', undefined).line(30, ['U' as unknown as 't']))).toBe('INVALID_OPTION');
    expect(codeOf(() => builder.pjsip('101', undefined).line(30, ['t'], { context: 'fedpbx-predial', args: ['a^b'] }))).toBe('INVALID_OPTION');
    expect(codeOf(() => builder.line(30))).toBe('INVALID_DIAL_TARGET');
    expect(builder.pjsip('102', undefined).line(20, ['t'])).toBe('EXEC "Dial" "PJSIP/102,20,t"\n');
    expect(builder.pjsip('102', undefined).data()).toBe('PJSIP/102');
    for (let i = 0; i < 16; i++) builder.pjsip(String(100 + i), undefined);
    expect(codeOf(() => builder.pjsip('117', undefined))).toBe('INVALID_DIAL_TARGET');
    expect(builder.pjsip('103', undefined).data(5)).toBe('PJSIP/103,5');
  });

  it('assertDialNumber / assertAsteriskName', () => {
    expect(assertDialNumber('*#+0123456789')).toBe('*#+0123456789');
    expect(codeOf(() => assertDialNumber('1'.repeat(33)))).toBe('INVALID_DIAL_NUMBER');
    expect(codeOf(() => assertDialNumber('12a'))).toBe('INVALID_DIAL_NUMBER');
    expect(assertAsteriskName('site-piter_2.x')).toBe('site-piter_2.x');
    expect(codeOf(() => assertAsteriskName('site/piter'))).toBe('INVALID_NAME');
  });

  it('mixMonitorData accepts safe relative audio paths only', () => {
    expect(mixMonitorData('site1/2026/call-1795696107.36.wav')).toBe('site1/2026/call-1795696107.36.wav');
    expect(mixMonitorData('call.wav', ['b', 'a', 'b'])).toBe('call.wav,ba');
    for (const bad of ['/etc/passwd.wav', '../x.wav', 'a/../x.wav', 'x.wav,b', 'x.wav|y', 'x(y).wav', 'x.txt', 'x wav.wav', '.hidden.wav', 'x.wav\n']) {
      expect(codeOf(() => mixMonitorData(bad)), bad).toBe('INVALID_FILENAME');
    }
    const unsafeOption = 'r' as unknown as 'a';
    expect(codeOf(() => mixMonitorData('x.wav', [unsafeOption]))).toBe('INVALID_OPTION');
  });

  it('property: dialData output never contains separators beyond its own', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (resource, host) => {
        let data: string;
        try {
          data = dialData({ targets: [{ tech: 'PJSIP', resource, host }], timeoutSec: 10 });
        } catch (error) {
          expect(error).toBeInstanceOf(AgiAppDataError);
          return;
        }
        expect(data.split(',')).toHaveLength(2);
        expect(data).not.toMatch(/[&|()[\]"'\\$\s{}^]/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('EXEC lines joined by their caller', () => {
  const line = (app: string, data: string): string => `${execLinePrefix(app)}${data}${EXEC_LINE_END}`;

  it('is the line formatAgiCommand makes from the same application and data', () => {
    expect(line('MSet', 'FEDPBX_ROUTE=local,CDR(FEDPBX_CALL)=s1/1.2')).toBe(formatAgiCommand('EXEC', ['MSet', 'FEDPBX_ROUTE=local,CDR(FEDPBX_CALL)=s1/1.2']));
    expect(isReadyExecLine(line('MSet', 'A=1,B=Иван'))).toBe(true);
    expect(isReadyExecLine(line('MSet', ''))).toBe(true);
    expect(codeOf(() => execLinePrefix('MSet"'))).toBe('INVALID_APPLICATION');
  });

  it('is refused with anything formatAgiCommand would escape or refuse, a second line, or past the length bound', () => {
    for (const data of ['a"b', 'a\\b', 'a\nb', 'a\rb', 'a\0b', 'a\uD800b', 'x" "y']) expect(isReadyExecLine(line('MSet', data))).toBe(false);
    expect(isReadyExecLine(`${line('MSet', 'A=1')}EXEC "Dial" "x"\n`)).toBe(false);
    expect(isReadyExecLine(line('MSet', 'A=1').slice(0, -1))).toBe(false);
    expect(isReadyExecLine('EXEC "1Set" "A=1"\n')).toBe(false);
    expect(isReadyExecLine('SET VARIABLE "A" "1"\n')).toBe(false);
    expect(isReadyExecLine(line('MSet', 'x'.repeat(7900)))).toBe(true);
    expect(isReadyExecLine(line('MSet', 'x'.repeat(8000)))).toBe(false);
    expect(isReadyExecLine(line('MSet', 'я'.repeat(4000)))).toBe(false);
  });
});

describe('isReadyExecLine', () => {
  /** The expression its shape check replaced. */
  const READY_EXEC_LINE = /^EXEC "[A-Za-z][A-Za-z0-9_]{0,63}" "[^\r\n\0\\"\uD800-\uDFFF]*"\n$/;

  it('accepts exactly the lines the regular expression it replaced accepts (under the length bound)', () => {
    const appChar = fc.constantFrom(...'aZz09_-" ');
    const dataChar = fc.constantFrom(...'ab,=()/|&0 "\\\r\n\0é', '\uD800', '\uDC00', '\uD83D\uDE00');
    const line = fc
      .tuple(
        fc.constantFrom('EXEC "', 'EXEC  "', 'exec "', 'EXEC ', ''),
        fc.string({ unit: appChar, maxLength: 70 }),
        fc.constantFrom('" "', '""', '" ', ' "', ''),
        fc.string({ unit: dataChar, maxLength: 40 }),
        fc.constantFrom('"\n', '"', '\n', '"\n\n', '" \n', ''),
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(line, fc.string({ maxLength: 60 })), (s) => {
        expect(isReadyExecLine(s)).toBe(READY_EXEC_LINE.test(s));
      }),
      { numRuns: 20000 },
    );
    for (const app of ['A', 'a'.repeat(64), 'a'.repeat(65), '9a', 'a-b']) {
      const s = `EXEC "${app}" "x"\n`;
      expect(isReadyExecLine(s)).toBe(READY_EXEC_LINE.test(s));
    }
  });
});
