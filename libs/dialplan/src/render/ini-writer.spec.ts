import { describe, expect, it } from 'vitest';
import { escaped, IniWriter } from './ini-writer.js';
import { RenderError } from './render-errors.js';
import { parseIniStrict } from './render-fixtures.test.js';

const schema = { endpoint: new Set(['context', 'allow']), auth: new Set(['username', 'password']) };

function refusal(fn: () => unknown): RenderError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RenderError) return error;
    throw error;
  }
  throw new Error('expected a RenderError');
}

describe('IniWriter', () => {
  it('writes type= first, one option per line, booleans as yes/no', () => {
    const text = new IniWriter(schema)
      .comment('generated')
      .section('a', 'endpoint', [['context', 'ctx'], false, undefined, ['allow', 'alaw,ulaw']])
      .section('a', 'auth', [['username', 'u'], ['password', escaped('p;w\\;d')]])
      .toString();
    expect(text).toBe('; generated\n\n[a]\ntype=endpoint\ncontext=ctx\nallow=alaw,ulaw\n\n[a]\ntype=auth\nusername=u\npassword=p\\;w\\\\;d\n');
    const sections = parseIniStrict(text);
    expect(sections.map((s) => `${s.name}/${s.type}`)).toEqual(['a/endpoint', 'a/auth']);
    // config.c drops the backslash before each escaped `;` and nothing else.
    expect(sections[1]?.options.get('password')).toBe('p;w\\;d');
  });

  it.each([
    ['line feed', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['NUL', 'a\u0000b'],
    ['unescaped ;', 'a;b'],
    ['leading >', '>a'],
    ['leading space', ' a'],
    ['empty', ''],
  ])('refuses a value with %s', (_label, value) => {
    const error = refusal(() => new IniWriter(schema).section('a', 'endpoint', [['context', value]]));
    expect(error.object).toBe('endpoint a');
    expect(error.field).toBe('context');
  });

  it('refuses bad section names, unknown types and options, duplicates', () => {
    expect(refusal(() => new IniWriter(schema).section('a]\n[b', 'endpoint', [])).code).toBe('UNSAFE_VALUE');
    expect(refusal(() => new IniWriter(schema).section('a', 'phone', [])).code).toBe('UNKNOWN_OPTION');
    expect(refusal(() => new IniWriter(schema).section('a', 'endpoint', [['contexts', 'x']])).code).toBe('UNKNOWN_OPTION');
    expect(refusal(() => new IniWriter(schema).section('a', 'endpoint', [['context', 'x'], ['context', 'y']])).code).toBe('DUPLICATE_OBJECT');
    expect(refusal(() => new IniWriter(schema).section('a', 'endpoint', []).section('a', 'endpoint', [])).code).toBe('DUPLICATE_OBJECT');
    // One name for sections of different types is how a phone is written (endpoint, auth and aor named alike).
    expect(() => new IniWriter(schema).section('a', 'endpoint', []).section('a', 'auth', []).section('b', 'endpoint', [])).not.toThrow();
    expect(refusal(() => new IniWriter(schema).section('a', 'endpoint', []).section('a', 'auth', []).section('a', 'auth', [])).code).toBe('DUPLICATE_OBJECT');
    expect(refusal(() => new IniWriter(schema).comment('x\n[evil]')).code).toBe('UNSAFE_VALUE');
  });

  it('never puts the refused value into the error message', () => {
    const error = refusal(() => new IniWriter(schema).section('a', 'auth', [['password', 'TOPSECRET\nx']]));
    expect(error.message).not.toContain('TOPSECRET');
  });
});
