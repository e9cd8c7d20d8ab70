// The fgets/poll model of res_agi.c: 8191-byte cut, stalls on pipelined lines, CR kept.
import { describe, expect, it } from 'vitest';
import { AgiLineReader } from '../support/asterisk/agi-line-reader.js';

const lineOf = (r: ReturnType<AgiLineReader['fgets']>): string | null => (r.kind === 'line' ? r.bytes.toString('latin1') : null);

describe('AgiLineReader', () => {
  it('returns one line per fgets and keeps \\r as data', () => {
    const r = new AgiLineReader();
    r.push(Buffer.from('NOOP\r\n'));
    expect(r.readable).toBe(true);
    expect(lineOf(r.fgets())).toBe('NOOP\r\n');
    expect(r.readable).toBe(false);
  });

  it('two lines in one read: the second waits in the stdio buffer and the socket is not readable', () => {
    const r = new AgiLineReader();
    r.push(Buffer.from('GET VARIABLE A\nGET VARIABLE B\n'));
    expect(lineOf(r.fgets())).toBe('GET VARIABLE A\n');
    expect(r.readable).toBe(false); // stall: poll() sees nothing new
    r.push(Buffer.from('NOOP\n'));
    expect(r.readable).toBe(true);
    expect(lineOf(r.fgets())).toBe('GET VARIABLE B\n');
    expect(r.readable).toBe(true); // NOOP still in the socket
    expect(lineOf(r.fgets())).toBe('NOOP\n');
  });

  it('cuts a line at 8191 bytes and runs the rest as the next command', () => {
    const r = new AgiLineReader();
    const long = `SET VARIABLE X "${'A'.repeat(9000)}"\n`;
    r.push(Buffer.from(long));
    const first = r.fgets();
    expect(first.kind === 'line' && first.bytes.length).toBe(8191);
    expect(r.readable).toBe(true);
    expect(lineOf(r.fgets())).toBe(long.slice(8191));
  });

  it('an exactly 8191-byte line leaves its \\n behind as a stalled empty command', () => {
    const r = new AgiLineReader();
    r.push(Buffer.from(`${'B'.repeat(8191)}\n`));
    expect(r.fgets().kind).toBe('line');
    expect(r.readable).toBe(false);
    r.push(Buffer.from('NOOP\n'));
    expect(lineOf(r.fgets())).toBe('\n');
    expect(lineOf(r.fgets())).toBe('NOOP\n');
  });

  it('blocks in a partial line, whatever the chunking, and yields a partial line at EOF', () => {
    const r = new AgiLineReader();
    for (const ch of 'VERBOSE "x" 1\nNO') {
      r.push(Buffer.from(ch));
    }
    expect(lineOf(r.fgets())).toBe('VERBOSE "x" 1\n');
    expect(r.fgets().kind).toBe('blocked');
    r.push(Buffer.from('OP'));
    expect(r.fgets().kind).toBe('blocked');
    r.end();
    expect(lineOf(r.fgets())).toBe('NOOP');
    expect(r.fgets().kind).toBe('eof');
  });
});
