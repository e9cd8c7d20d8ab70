import { describe, expect, it } from 'vitest';
import { AgiEnvParser, type AgiEnvironment } from './agi-env-parser.js';
import { AgiResponseParser, type AgiResponseEvent } from './agi-response-parser.js';
import { chunksFrom, loadFixture, loadFixtures, rechunkings, type Fixture } from '../testing/asterisk-fixtures.js';

interface Replay {
  readonly env: AgiEnvironment | undefined;
  readonly events: AgiResponseEvent[];
  readonly maxBuffered: number;
  readonly finalBuffered: number;
}

/** Feeds Asterisk's side of a recording into the env parser, then the response parser (leftover first). */
function replay(chunks: readonly Buffer[]): Replay {
  const envParser = new AgiEnvParser();
  const responses = new AgiResponseParser();
  let env: AgiEnvironment | undefined;
  const events: AgiResponseEvent[] = [];
  let maxBuffered = 0;
  for (const chunk of chunks) {
    if (env === undefined) {
      const done = envParser.push(chunk);
      maxBuffered = Math.max(maxBuffered, envParser.bufferedBytes);
      if (done === undefined) continue;
      env = done.env;
      events.push(...responses.push(done.leftover));
    } else {
      events.push(...responses.push(chunk));
    }
    maxBuffered = Math.max(maxBuffered, responses.bufferedBytes);
  }
  return { env, events, maxBuffered, finalBuffered: env === undefined ? envParser.bufferedBytes : responses.bufferedBytes };
}

function serialize(r: Replay): string {
  return JSON.stringify({ env: r.env && { ...r.env, raw: [...r.env.raw] }, events: r.events, finalBuffered: r.finalBuffered });
}

/** One line per event, to assert sequences compactly: `200 1 (data) endpos=0 [text]`. */
function summary(event: AgiResponseEvent): string {
  switch (event.type) {
    case 'hangup':
      return 'HANGUP';
    case 'unknown':
      return `? ${event.line}`;
    case 'intermediate':
    case 'response': {
      const r = event.response;
      const parts = [event.type === 'intermediate' ? `(${r.code})` : String(r.code)];
      if (r.result !== undefined) parts.push(r.result);
      if (r.data !== undefined) parts.push(`(${r.data})`);
      if (r.endpos !== undefined) parts.push(`endpos=${r.endpos}`);
      if (r.text !== undefined) parts.push(`[${r.text}]`);
      return parts.join(' ');
    }
  }
}

function replayFixture(file: string): Replay {
  return replay(chunksFrom(loadFixture(file), 'asterisk->server'));
}

describe('AGI fixtures replayed through the parsers', () => {
  const fixtures = loadFixtures('agi-');

  it('covers every recorded agi-*.json', () => {
    expect(fixtures.length).toBe(20);
  });

  describe.each(fixtures.map((f): [string, Fixture] => [f.file, f]))('%s', (_file, fixture) => {
    it('gives identical results however the bytes are chunked (recorded, every split offset, byte by byte)', () => {
      const inbound = chunksFrom(fixture, 'asterisk->server');
      const reference = serialize(replay(inbound));
      const mismatches: string[] = [];
      let runs = 0;
      for (const { label, chunks } of rechunkings(inbound)) {
        runs += 1;
        if (serialize(replay(chunks)) !== reference) mismatches.push(label);
      }
      expect(mismatches).toEqual([]);
      expect(runs).toBe(Buffer.concat(inbound).length + 3);
    });

    it('keeps buffered bytes within the limits and consumes every complete line', () => {
      const inbound = chunksFrom(fixture, 'asterisk->server');
      const byteByByte = [...rechunkings(inbound)].at(-1)?.chunks ?? [];
      const result = replay(byteByByte);
      // Byte by byte, the longest partial line is the 8185-byte GET FULL VARIABLE answer.
      expect(result.maxBuffered).toBeLessThanOrEqual(8185);
      // Each recording ends on a line end: nothing is left half-parsed.
      expect(result.finalBuffered).toBe(0);
    });
  });
});

describe('facts recorded from Asterisk 22.10.1', () => {
  it('agi_network_script carries sub-path and query verbatim; an empty argument is kept', () => {
    const { env } = replayFixture('agi-01-env-args-tricky.json');
    expect(env?.networkScript).toBe('args2/sub/path?x=1&y=a%20b&z=');
    expect(env?.scriptPath).toBe('args2/sub/path');
    expect(env?.scriptQuery).toBe('x=1&y=a%20b&z=');
    expect(env?.entry).toBe('args2');
    expect(env?.request).toBe('agi://127.0.0.1:4573/args2/sub/path?x=1&y=a%20b&z=');
    expect(env?.raw.get('agi_arg_2')).toBe('');
    expect(env?.args).toEqual(['first', '', 'quoted, comma', 'last arg  ']);
  });

  it('query on a one-segment script, arguments with spaces', () => {
    const { env } = replayFixture('agi-01-env-args-query.json');
    expect(env?.networkScript).toBe('args?x=1');
    expect(env?.entry).toBe('args');
    expect(env?.scriptQuery).toBe('x=1');
    expect(env?.args).toEqual(['arg1', 'arg with space']);
  });

  it('no script part: agi_network_script is absent', () => {
    const { env, events } = replayFixture('agi-01-env-no-script.json');
    expect(env?.raw.has('agi_network_script')).toBe(false);
    expect(env?.networkScript).toBeUndefined();
    expect(env?.scriptPath).toBeUndefined();
    expect(env?.entry).toBeUndefined();
    expect(env?.request).toBe('agi://127.0.0.1:4573');
    expect(events.map(summary)).toEqual(['200 0', 'HANGUP']);
  });

  it('a Local channel without caller ID: "unknown" kept raw, callerIdNumber undefined, empty accountcode', () => {
    const { env, events } = replayFixture('agi-01-env-local-originate.json');
    expect(env?.channel).toBe('Local/env-local@fx-00000000;2');
    expect(env?.uniqueId).toBe('site1-1795695866.1');
    expect(env?.callerId).toBe('unknown');
    expect(env?.callerIdName).toBe('unknown');
    expect(env?.callerIdNumber).toBeUndefined();
    expect(env?.dnid).toBe('unknown');
    expect(env?.rdnis).toBe('unknown');
    expect(env?.accountCode).toBe('');
    expect(env?.raw.get('agi_callingpres')).toBe('67');
    expect(events.map(summary)).toEqual(['200 1', 'HANGUP']);
  });

  it('caller ID name keeps its SIP escapes; values with quotes and ")" come back raw', () => {
    const { env, events } = replayFixture('agi-01-env-pjsip-special-callerid.json');
    const name = String.raw`Ivan \"The\" Petrov, Jr; x\\y`;
    expect(env?.callerIdName).toBe(name);
    expect(env?.callerIdNumber).toBe('1001');
    expect(env?.type).toBe('PJSIP');
    expect(events.map(summary)).toEqual([
      `200 1 (${name})`,
      '200 1 (SXZhbiBcIlRoZVwiIFBldHJvdiwgSnI7IHhcXHk=)',
      `200 1 (${name})`,
      '200 1 (1001)',
      `200 1 ("${name}" <sip:1001@127.0.0.2>;tag=29650SIPpTag001)`,
      '200 0',
      'HANGUP',
    ]);
    expect(Buffer.from('SXZhbiBcIlRoZVwiIFBldHJvdiwgSnI7IHhcXHk=', 'base64').toString('utf8')).toBe(name);
  });

  it('a UTF-8 caller name survives a chunk boundary inside a multi-byte character', () => {
    const inbound = chunksFrom(loadFixture('agi-01-env-pjsip-utf8-callerid.json'), 'asterisk->server');
    const all = Buffer.concat(inbound);
    const nameAt = all.indexOf(Buffer.from('Иван', 'utf8'));
    expect(nameAt).toBeGreaterThan(0);
    for (const k of [nameAt + 1, nameAt + 3, nameAt + 5]) {
      const { env, events } = replay([all.subarray(0, k), all.subarray(k)]);
      expect(env?.callerIdName).toBe('Иван Петров');
      expect(events.map(summary)[0]).toBe('200 1 (Иван Петров)');
    }
    const responseAt = all.indexOf(Buffer.from('(Иван', 'utf8')) + 2;
    const { events } = replay([all.subarray(0, responseAt), all.subarray(responseAt)]);
    expect(events.map(summary).slice(0, 2)).toEqual(['200 1 (Иван Петров)', '200 1 (0JjQstCw0L0g0J/QtdGC0YDQvtCy)']);
  });

  it('agi-02-commands: every kind of answer, 520 blocks as one response, GOSUB intermediate then final', () => {
    const { events } = replayFixture('agi-02-commands.json');
    expect(events.map(summary)).toEqual([
      '200 1',
      '200 1',
      '200 1 (hello world)',
      '200 0',
      '200 1 (Fixture Caller)',
      '200 1 (Rml4dHVyZSBDYWxsZXI=)',
      '200 1 ()',
      '510 [Invalid or unknown command]',
      '520 [End of proper usage.]',
      '520 [End of proper usage.]',
      '200 -2',
      '200 0',
      '200 1 (CHANUNAVAIL)',
      '200 0',
      '200 1 (NOANSWER)',
      '200 0',
      '200 -1 endpos=0',
      '200 -1 endpos=0',
      '(100) 0 [Trying...]',
      '200 0 [Gosub complete]',
      '200 1 (sub-ok)',
      '200 -1 [Gosub label not found]',
      '200 6',
      '200 0',
      '200 0',
      'HANGUP',
    ]);
    const blocks = events.flatMap((e) => (e.type === 'response' && e.response.code === 520 ? [e.response] : []));
    expect(blocks[0]?.usage).toEqual([
      'Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set. Returns <literal>1</literal> if <replaceable>variablename</replaceable> is set and returns the variable in parentheses.',
      'Example return code: 200 result=1 (testvariable)',
    ]);
    expect(blocks[0]?.raw.split('\n')[0]).toBe('520-Invalid command syntax.  Proper usage follows:');
    expect(blocks[1]?.usage).toEqual(['Sets a variable to the current channel.']);
    const exec = events[10];
    expect(exec?.type === 'response' && exec.response.resultNumber).toBe(-2);
  });

  it.each(['agi-03-hangup-during-dial-local.json', 'agi-03-hangup-during-dial-pjsip.json'])(
    '%s: Dial answers 200 result=-1, then HANGUP, then dead-channel answers',
    (file) => {
      expect(replayFixture(file).events.map(summary)).toEqual(['200 0', '200 -1', 'HANGUP', '200 1 (CANCEL)', expect.stringMatching(/^511 /), 'HANGUP']);
    },
  );

  it('the two hangup-during-dial recordings differ only in chunking of "200 result=-1\\nHANGUP\\n"', () => {
    const local = loadFixture('agi-03-hangup-during-dial-local.json').exchange.map((c) => c.data);
    const pjsip = loadFixture('agi-03-hangup-during-dial-pjsip.json').exchange.map((c) => c.data);
    expect(local).toContain('200 result=-1\nHANGUP\n');
    expect(pjsip).toContain('200 result=-1\n');
    expect(pjsip).toContain('HANGUP\n');
  });

  it('WAIT FOR DIGIT interrupted by hangup; later WAIT FOR DIGIT gets 511', () => {
    expect(replayFixture('agi-03-hangup-during-wait-for-digit.json').events.map(summary)).toEqual([
      '200 0',
      '200 -1',
      'HANGUP',
      '200 0',
      '511 [Command Not Permitted on a dead channel or intercept routine]',
      'HANGUP',
    ]);
  });

  it('HANGUP arrives between a NOOP and its answer (race), and is not taken for the answer', () => {
    const fixture = loadFixture('agi-03-hangup-race-command-in-flight.json');
    const hangupIndex = fixture.exchange.findIndex((c) => c.data === 'HANGUP\n');
    const commandsBeforeHangup = fixture.exchange.slice(0, hangupIndex).filter((c) => c.dir === 'server->asterisk').length;
    expect(fixture.exchange[hangupIndex - 1]?.data).toBe('NOOP\n');
    expect(fixture.exchange[hangupIndex + 1]?.data).toBe('200 result=0\n');
    const labels = replayFixture(fixture.file).events.map(summary);
    // Every command before the HANGUP but the last one was answered before it.
    expect(labels.indexOf('HANGUP')).toBe(commandsBeforeHangup - 1);
    expect(labels.slice(commandsBeforeHangup - 1)).toEqual(['HANGUP', '200 0', '200 0', '200 0', 'HANGUP']);
    expect(labels.filter((l) => l !== 'HANGUP').length).toBe(fixture.exchange.filter((c) => c.dir === 'server->asterisk').length);
  });

  it('unsolicited HANGUP while idle; dead channel answers 511 to ANSWER/STREAM FILE/CHANNEL STATUS only', () => {
    expect(replayFixture('agi-02-after-caller-hangup.json').events.map(summary)).toEqual([
      '200 0',
      'HANGUP',
      '200 0',
      '511 [Command Not Permitted on a dead channel or intercept routine]',
      '511 [Command Not Permitted on a dead channel or intercept routine]',
      '200 1',
      '200 1',
      '200 1 (0)',
      '200 0',
      '511 [Command Not Permitted on a dead channel or intercept routine]',
      '200 0',
      '510 [Invalid or unknown command]',
      '520 [End of proper usage.]',
      'HANGUP',
    ]);
  });

  it('Dial answered then far end hangs up: 200 result=-1 with no HANGUP', () => {
    expect(replayFixture('agi-02-dial-answered-farend-hangup.json').events.map(summary)).toEqual([
      '200 -1',
      '200 1 (ANSWER)',
      '200 1 (2)',
      '200 1 (16)',
      '200 6',
      'HANGUP',
    ]);
  });

  it('STREAM FILE of a missing file: 200 result=-1 endpos=0', () => {
    expect(replayFixture('agi-02-agistatus-after-failed-command.json').events.map(summary)).toEqual(['200 0', '200 -1 endpos=0', '200 0', 'HANGUP']);
  });

  it('a CR stored in a variable comes back raw inside the parentheses', () => {
    const labels = replayFixture('agi-05-crlf-line-endings.json').events.map(summary);
    expect(labels).toContain('200 1 (value\r)');
    expect(labels).toContain('200 1 (6)');
  });

  it('long lines: 8185-byte GET FULL VARIABLE answer, 1023-byte GET VARIABLE truncation, two answers in one chunk', () => {
    const { events } = replayFixture('agi-05-long-command.json');
    const data = events.flatMap((e) => (e.type === 'response' && e.response.data !== undefined ? [e.response.data] : []));
    expect(data).toEqual(['8169', 'A'.repeat(1023), 'A'.repeat(8169), '8169']);
    const full = events.find((e) => e.type === 'response' && e.response.data?.length === 8169);
    expect(full?.type === 'response' && Buffer.byteLength(full.response.raw)).toBe(8184);
    expect(events.map(summary).slice(-4)).toEqual(['200 1', '200 0', '200 1 (8169)', 'HANGUP']);
    expect(events.map(summary)).toContain('510 [Invalid or unknown command]');
  });

  it('pipelined commands: late answers arrive together and are parsed in order', () => {
    expect(replayFixture('agi-05-pipelined-commands.json').events.map(summary)).toEqual([
      '200 1',
      '200 1 (one)',
      '200 1 (Local/pipeline@fx-00000009;2)',
      '200 0',
      '200 1 (one)',
      '200 0',
      '200 1',
      '200 0',
      '200 0',
      'HANGUP',
    ]);
  });

  it('"failure" line: Asterisk only answers HANGUP', () => {
    expect(replayFixture('agi-05-failure-line.json').events.map(summary)).toEqual(['200 0', 'HANGUP']);
  });

  it.each(['agi-04-connect-refused.json', 'agi-04-connect-timeout.json'])('%s: no bytes, no environment', (file) => {
    const { env, events } = replayFixture(file);
    expect(env).toBeUndefined();
    expect(events).toEqual([]);
  });
});
