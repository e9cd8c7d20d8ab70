import { describe, expect, it } from 'vitest';
import { Extension, Site } from '@fedpbx/contracts';
import { csvObjects, parseCsv, scalarFields } from './csv.js';

describe('CSV import parsing', () => {
  it('parses quoted cells with commas, quotes and line breaks, CRLF or LF, and numbers records by line', () => {
    const text = 'a,b\r\n"x, y","say ""hi"""\n\n"multi\nline",2\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['x, y', 'say "hi"'] },
      { line: 4, cells: ['multi\nline', '2'] },
    ]);
    expect(() => parseCsv('a\n"open')).toThrow(/line 2/);
  });

  it('takes the scalar properties of a contract as its columns', () => {
    expect([...scalarFields(Extension).keys()]).toEqual(['id', 'siteId', 'number', 'displayName', 'classOfServiceId', 'endpoint', 'sipSecret', 'voicemail', 'voicemailPin', 'email', 'ringTimeoutSec']);
    expect(scalarFields(Site).has('network')).toBe(false);
    expect(scalarFields(Site).get('prefixRequired')).toBe('boolean');
  });

  it('converts cells to the property types and reports bad cell counts', () => {
    const r = csvObjects('extensions', Extension, 'number,voicemail,ringTimeoutSec\n101,yes,30\n102,false\n');
    expect(r.rows[0]?.value).toEqual({ number: '101', voicemail: true, ringTimeoutSec: 30 });
    expect(r.problems).toEqual([{ kind: 'extensions', row: 3, path: '', message: '2 cells, the header has 3' }]);
  });
});
