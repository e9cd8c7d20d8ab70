// How applications re-split EXEC data (ast_app_separate_args, app_dial, ast_app_parse_options).
import { describe, expect, it } from 'vitest';
import { parseAppOptions, parseDialData, separateAppArgs } from '../support/asterisk/app-args.js';

describe('separateAppArgs', () => {
  it.each<[string, string[]]>([
    ['a,b,c', ['a', 'b', 'c']],
    ['a,,b', ['a', '', 'b']],
    ['a,', ['a']],
    ['"a,b",c', ['a,b', 'c']],
    ['a\\,b,c', ['a,b', 'c']],
    ['U(sub,x),y', ['U(sub,x)', 'y']],
    ['[a,b],c', ['[a,b]', 'c']],
  ])('%j', (data, args) => {
    expect(separateAppArgs(data)).toEqual(args);
  });
});

describe('parseDialData', () => {
  it('splits peers, timeout and options like app_dial', () => {
    const d = parseDialData('PJSIP/101&PJSIP/102@trunk,20,tTU(sub^a)');
    expect(d.targets).toEqual(['PJSIP/101', 'PJSIP/102@trunk']);
    expect(d.peers).toEqual([
      { tech: 'PJSIP', resource: '101' },
      { tech: 'PJSIP', resource: '102@trunk' },
    ]);
    expect(d.timeoutSec).toBe(20);
    expect(d.options).toEqual([{ flag: 't' }, { flag: 'T' }, { flag: 'U', arg: 'sub^a' }]);
  });

  it('shows what an unquoted caller-ID name would inject', () => {
    const d = parseDialData('PJSIP/101,20,tTx,,U(sub)');
    expect(d.rawOptions).toBe('tTx');
    expect(d.args).toEqual(['PJSIP/101', '20', 'tTx', '', 'U(sub)']);
    const amp = parseDialData('PJSIP/1&Local/evil@ctx,20');
    expect(amp.targets).toEqual(['PJSIP/1', 'Local/evil@ctx']);
  });

  it('skips peers without a technology and has no timeout when it is empty', () => {
    const d = parseDialData('101&PJSIP/102,,g');
    expect(d.invalidPeers).toEqual(['101']);
    expect(d.targets).toEqual(['PJSIP/102']);
    expect(d.timeoutSec).toBeNull();
    expect(d.options).toEqual([{ flag: 'g' }]);
  });

  it('parses option arguments with nested parentheses', () => {
    expect(parseAppOptions('L(60000:30000)m(x(y))r')).toEqual([
      { flag: 'L', arg: '60000:30000' },
      { flag: 'm', arg: 'x(y)' },
      { flag: 'r' },
    ]);
  });
});
