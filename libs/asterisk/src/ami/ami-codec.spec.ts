import { describe, expect, it } from 'vitest';
import { AmiFormatError, AmiParseError } from '../errors.js';
import { chunksFrom, loadFixture, loadFixtures, rechunkings, type Fixture } from '../testing/asterisk-fixtures.js';
import { AmiHeaders, AmiParser, formatAmiAction, type AmiMessage, type AmiParseEvent } from './ami-codec.js';

function parseAll(chunks: readonly Buffer[]): { events: AmiParseEvent[]; buffered: number; maxBuffered: number } {
  const parser = new AmiParser();
  const events: AmiParseEvent[] = [];
  let maxBuffered = 0;
  for (const chunk of chunks) {
    events.push(...parser.push(chunk));
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
  }
  return { events, buffered: parser.bufferedBytes, maxBuffered };
}

/**
 * Like parseAll, through pushRead with one buffer reused for every read, as a socket's `onread` does: the bytes of
 * each read are overwritten with junk right after the call, so a line kept as a view of them would show it.
 */
function parseReads(chunks: readonly Buffer[]): { events: AmiParseEvent[]; buffered: number } {
  const parser = new AmiParser();
  const events: AmiParseEvent[] = [];
  const shared = Buffer.alloc(Math.max(1, ...chunks.map((c) => c.length)) + 7);
  for (const chunk of chunks) {
    chunk.copy(shared);
    events.push(...parser.pushRead(shared, chunk.length));
    shared.fill(0x41);
  }
  return { events, buffered: parser.bufferedBytes };
}

function messagesOf(file: string): AmiMessage[] {
  return parseAll(chunksFrom(loadFixture(file), 'asterisk->server')).events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
}

function serialize(events: readonly AmiParseEvent[]): string {
  return JSON.stringify(events.map((e) => (e.type === 'message' ? { ...e.message, headers: e.message.headers.list } : e)));
}

function label(m: AmiMessage): string {
  switch (m.kind) {
    case 'response':
      return `R:${m.response}:${m.actionId ?? '-'}`;
    case 'event':
      return `E:${m.event}:${m.actionId ?? '-'}`;
    case 'unknown':
      return `?:${m.actionId ?? '-'}`;
  }
}

function formatCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AmiFormatError);
    return (error as AmiFormatError).code;
  }
  return undefined;
}

describe('AMI fixtures replayed through the parser', () => {
  const fixtures = loadFixtures('ami-');

  it('covers every recorded ami-*.json', () => {
    expect(fixtures.length).toBe(12);
  });

  describe.each(fixtures.map((f): [string, Fixture] => [f.file, f]))('%s', (_file, fixture) => {
    it('gives identical messages at every split offset and byte by byte, starting with the banner', () => {
      const inbound = chunksFrom(fixture, 'asterisk->server');
      const reference = parseAll(inbound);
      expect(reference.events[0]).toEqual({ type: 'banner', version: '11.0.0', line: 'Asterisk Call Manager/11.0.0' });
      expect(reference.buffered).toBe(0);
      const ref = serialize(reference.events);
      const mismatches: string[] = [];
      for (const { label: how, chunks } of rechunkings(inbound)) {
        const replay = parseAll(chunks);
        if (serialize(replay.events) !== ref || replay.buffered !== 0) mismatches.push(how);
      }
      expect(mismatches).toEqual([]);
    });

    it('gives the same messages read through one reused buffer (pushRead), at every split offset and byte by byte', () => {
      const inbound = chunksFrom(fixture, 'asterisk->server');
      const ref = serialize(parseAll(inbound).events);
      const mismatches: string[] = [];
      for (const { label: how, chunks } of [{ label: 'as recorded', chunks: inbound }, ...rechunkings(inbound)]) {
        const replay = parseReads(chunks);
        if (serialize(replay.events) !== ref || replay.buffered !== 0) mismatches.push(how);
      }
      expect(mismatches).toEqual([]);
    });

    it('every message is a response or an event; responses to our actions carry their ActionID', () => {
      const messages = messagesOf(fixture.file);
      expect(messages.every((m) => m.kind !== 'unknown')).toBe(true);
      const sent = chunksFrom(fixture, 'server->asterisk').flatMap((c) => [...c.toString('utf8').matchAll(/ActionID: ([^\n]*?)\r?\n/g)].map((m) => m[1]));
      const answered = new Set(messages.flatMap((m) => (m.kind === 'response' && m.actionId !== undefined ? [m.actionId] : [])));
      for (const id of sent) {
        if (id === undefined || id.startsWith('inj-7')) continue; // the over-long line is answered without ActionID
        expect(answered.has(id), id).toBe(true);
      }
    });
  });
});

describe('AMI facts recorded from Asterisk 22.10.1', () => {
  it('login, FullyBooted, Ping and CoreSettings', () => {
    const messages = messagesOf('ami-06-login-ping-coresettings.json');
    expect(messages.map(label)).toEqual([
      'R:Success:login-1',
      'E:FullyBooted:-',
      'E:SuccessfulAuth:-',
      'R:Success:ping-1',
      'R:Success:cs-1',
      'R:Success:cst-1',
      'R:Goodbye:bye-1',
    ]);
    expect(messages[0]?.headers.get('message')).toBe('Authentication accepted');
    expect(messages[3]?.headers.get('Ping')).toBe('Pong');
    expect(messages[4]?.headers.get('AsteriskVersion')).toBe('22.10.1');
  });

  it('list actions: EventList start, items with the ActionID, then <Name>Complete', () => {
    const messages = messagesOf('ami-07-pjsip-lists-site1.json');
    const eps = messages.filter((m) => m.actionId === 'eps-1');
    expect(eps[0]).toMatchObject({ kind: 'response', response: 'Success' });
    expect(eps[0]?.headers.get('EventList')).toBe('start');
    const last = eps.at(-1);
    expect(last).toMatchObject({ kind: 'event', event: 'EndpointListComplete' });
    expect(last?.headers.get('EventList')).toBe('Complete');
    const items = eps.filter((m) => m.kind === 'event' && m.event === 'EndpointList');
    expect(String(items.length)).toBe(last?.headers.get('ListItems'));
    expect(items[0]?.headers.get('Contacts')).toBe('deadend/sip:127.0.0.1:5099,');
    expect(items[0]?.headers.get('Auths')).toBe('');
    const aors = messages.filter((m) => m.actionId === 'aors-1');
    expect(aors.at(-1)).toMatchObject({ kind: 'event', event: 'AorListComplete' });
    expect(aors.at(-1)?.headers.get('ListItems')).toBe('4');
    const empty = messages.filter((m) => m.actionId === 'regs-1').map(label);
    expect(empty).toEqual(['R:Success:regs-1', 'E:OutboundRegistrationDetailComplete:regs-1']);
  });

  it('"Message: No Contacts found\\n\\r\\n\\r\\n": the stray LF ends the message, the extra empty line is skipped', () => {
    const messages = messagesOf('ami-07-pjsip-registrations-outbound-site2.json');
    const error = messages.find((m) => m.actionId === 'cts-2');
    expect(error).toMatchObject({ kind: 'response', response: 'Error' });
    expect(error?.headers.get('Message')).toBe('No Contacts found');
    expect(messages.map(label).slice(-1)).toEqual(['R:Goodbye:bye-4']);
    const regs = messages.filter((m) => m.actionId === 'regs-2');
    expect(regs.map(label)).toEqual(['R:Success:regs-2', 'E:OutboundRegistrationDetail:regs-2', 'E:AuthDetail:regs-2', 'E:OutboundRegistrationDetailComplete:regs-2']);
    expect(regs.at(-1)?.headers.get('Registered')).toBe('1');
  });

  it('Reload responses and events; Command output lines kept in order as repeated keys', () => {
    const messages = messagesOf('ami-08-reload.json');
    const reloads = messages.filter((m) => m.kind === 'event' && m.event === 'Reload');
    expect(reloads.map((m) => `${m.headers.get('Module')}=${m.headers.get('Status')}`)).toEqual([
      'res_pjsip.so=0',
      'pbx_config.so=0',
      'no_such_module.so=2',
      'res_pjsip.so=0',
    ]);
    expect(messages.find((m) => m.actionId === 'rl-3')?.headers.get('Message')).toBe('No such module');
    const uptime = messages.find((m) => m.actionId === 'cmd-3');
    expect(uptime?.headers.getAll('Output')).toEqual(['System uptime: 3 minutes, 12 seconds', 'Last reload: 6 seconds']);
    expect(messages.find((m) => m.actionId === 'cmd-4')).toMatchObject({ kind: 'response', response: 'Error' });
  });

  it('Cdr event with AMI-escaped caller ID', () => {
    const cdr = messagesOf('ami-09-events-call-cdr.json').find((m) => m.kind === 'event' && m.event === 'Cdr');
    expect(cdr?.headers.get('Disposition')).toBe('ANSWERED');
    expect(cdr?.headers.get('UniqueID')).toBe('site1-1795696107.36');
    expect(cdr?.headers.get('CallerID')).toBe(String.raw`"Ivan \\\"The\\\" Petrov, Jr; x\\\\y" <1001>`);
    expect(cdr?.headers.get('DestinationChannel')).toBe('');
    expect(cdr?.headers.get('BillableSeconds')).toBe('1');
  });

  it('ContactStatus and Registry events', () => {
    const contact = messagesOf('ami-09-events-contactstatus.json').filter((m) => m.kind === 'event' && m.event === 'ContactStatus');
    expect(contact.map((m) => m.headers.get('ContactStatus'))).toEqual(['Unreachable', 'Reachable']);
    const registry = messagesOf('ami-09-events-registry-rejected.json').filter((m) => m.kind === 'event' && m.event === 'Registry');
    expect(registry.map((m) => m.headers.get('Status'))).toEqual(['Rejected', 'Rejected', 'Unregistered', 'Registered']);
  });

  it('injection recording: a bare CR is kept in the value; the over-long line is answered without ActionID', () => {
    const messages = messagesOf('ami-10-crlf-injection.json');
    expect(messages.some((m) => m.actionId === 'inj-2\rX-Injected: yes')).toBe(true);
    expect(messages.map(label)).toContain('R:Success:inj-3b');
    const tooLong = messages.find((m) => m.headers.get('Message') === 'Failed to parse message: line too long');
    expect(tooLong).toMatchObject({ kind: 'response', response: 'Error', actionId: undefined });
  });
});

describe('AmiParser limits and edge cases', () => {
  it('refuses a stream that does not start with the banner, unless told there is none', () => {
    expect(() => new AmiParser().push(Buffer.from('Response: Success\r\n\r\n'))).toThrow(AmiParseError);
    const [event] = new AmiParser({ expectBanner: false }).push(Buffer.from('Response: Success\r\nActionID: a\r\n\r\n'));
    expect(event).toMatchObject({ type: 'message', message: { kind: 'response', actionId: 'a' } });
  });

  it('splits at the first colon, keeps colon-less lines under an empty key, looks keys up case-insensitively', () => {
    const [event] = new AmiParser({ expectBanner: false }).push(Buffer.from('Event: X\nURI: sip:a@b:5060\nKey:nospace\nno colon\nactionid: z\n\n'));
    expect(event?.type === 'message' && event.message.headers.list).toEqual([
      { key: 'Event', value: 'X' },
      { key: 'URI', value: 'sip:a@b:5060' },
      { key: 'Key', value: 'nospace' },
      { key: '', value: 'no colon' },
      { key: 'actionid', value: 'z' },
    ]);
    expect(event?.type === 'message' && event.message.actionId).toBe('z');
  });

  it('bounds line length, header count and message size', () => {
    const line = new AmiParser({ expectBanner: false, limits: { maxLineBytes: 100 } });
    expect(() => line.push(Buffer.alloc(101, 0x41))).toThrow(expect.objectContaining({ code: 'AMI_LINE_TOO_LONG' }));
    expect(() => line.push(Buffer.from('\r\n'))).toThrow(expect.objectContaining({ code: 'AMI_LINE_TOO_LONG' }));
    const many = new AmiParser({ expectBanner: false });
    expect(() => many.push(Buffer.from('A: b\r\n'.repeat(1025)))).toThrow(expect.objectContaining({ code: 'AMI_TOO_MANY_HEADERS' }));
    const big = new AmiParser({ expectBanner: false, limits: { maxMessageBytes: 1000 } });
    expect(() => big.push(Buffer.from(`A: ${'b'.repeat(500)}\r\n`.repeat(3)))).toThrow(expect.objectContaining({ code: 'AMI_MESSAGE_TOO_LARGE' }));
  });
});

describe('formatAmiAction', () => {
  it('reproduces the recorded actions byte for byte', () => {
    let compared = 0;
    for (const fixture of loadFixtures('ami-')) {
      for (const chunk of chunksFrom(fixture, 'server->asterisk')) {
        const text = chunk.toString('utf8');
        if (fixture.file === 'ami-10-crlf-injection.json' && /inj-/.test(text)) continue;
        const lines = text.slice(0, -4).split('\r\n');
        const pairs = lines.map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)] as const);
        const action = pairs.find(([k]) => k === 'Action')?.[1];
        const actionId = pairs.find(([k]) => k === 'ActionID')?.[1];
        if (action === undefined || actionId === undefined) continue; // "ActionID: noaction-1" alone
        const fields = Object.fromEntries(pairs.filter(([k]) => k !== 'Action' && k !== 'ActionID'));
        expect(formatAmiAction(action, fields, actionId)).toBe(text);
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(40);
  });

  it('repeats a key for an array value', () => {
    expect(formatAmiAction('Originate', { Channel: 'Local/1@x', Variable: ['A=1', 'B=2'] }, 'o-1')).toBe(
      'Action: Originate\r\nChannel: Local/1@x\r\nVariable: A=1\r\nVariable: B=2\r\nActionID: o-1\r\n\r\n',
    );
  });

  it('refuses every injection the recording shows working', () => {
    const injected = [
      'inj-1\nX-Injected: yes',
      'inj-2\rX-Injected: yes',
      'inj-3\n\nAction: Command\nCommand: core show uptime seconds\nActionID: inj-3b',
      'inj-4\r\n\r\nAction: Command\r\nCommand: core show uptime seconds\r\nActionID: inj-4b',
      'inj-5\nAction: CoreStatus',
      'x\0y',
    ];
    for (const value of injected) {
      expect(formatCode(() => formatAmiAction('Ping', {}, value))).toBe('AMI_FORBIDDEN_CHAR');
      expect(formatCode(() => formatAmiAction('Command', { Command: value }, 'id'))).toBe('AMI_FORBIDDEN_CHAR');
      expect(formatCode(() => formatAmiAction('Originate', { Variable: ['ok=1', value] }, 'id'))).toBe('AMI_FORBIDDEN_CHAR');
    }
    expect(formatCode(() => formatAmiAction('Ping', { 'X\r\nAction': 'Command' }, 'id'))).toBe('AMI_FORBIDDEN_CHAR');
  });

  it('refuses bad keys, reserved keys, long lines and too many headers', () => {
    expect(formatCode(() => formatAmiAction('Ping', { 'Bad Key': 'v' }, 'id'))).toBe('AMI_BAD_KEY');
    expect(formatCode(() => formatAmiAction('Ping', { 'Key:': 'v' }, 'id'))).toBe('AMI_BAD_KEY');
    expect(formatCode(() => formatAmiAction('Ping Pong', {}, 'id'))).toBe('AMI_BAD_KEY');
    expect(formatCode(() => formatAmiAction('Ping', { actionid: 'other' }, 'id'))).toBe('AMI_RESERVED_KEY');
    expect(formatCode(() => formatAmiAction('Ping', { Action: 'Command' }, 'id'))).toBe('AMI_RESERVED_KEY');
    expect(formatCode(() => formatAmiAction('Ping', {}, `inj-7-${'x'.repeat(1100)}`))).toBe('AMI_LINE_TOO_LONG');
    expect(formatCode(() => formatAmiAction('Ping', { K: 'x'.repeat(1024 - 'K: \r\n'.length) }, 'id'))).toBeUndefined();
    expect(formatCode(() => formatAmiAction('Ping', { K: 'x'.repeat(1025 - 'K: \r\n'.length) }, 'id'))).toBe('AMI_LINE_TOO_LONG');
    expect(formatCode(() => formatAmiAction('Ping', { V: Array.from({ length: 126 }, () => 'v') }, 'id'))).toBeUndefined();
    expect(formatCode(() => formatAmiAction('Ping', { V: Array.from({ length: 127 }, () => 'v') }, 'id'))).toBe('AMI_TOO_MANY_HEADERS');
  });
});

describe('AmiHeaders.get', () => {
  it('finds the first header whose name lower-cases to the asked one, whatever the names hold (Kelvin sign, dotted I, astral)', () => {
    const NAMES = ['Device', 'device', 'DEVICE', 'Devic', 'Devices', '\u212Aey', 'key', 'KEY', 'ke', '\u0130d', 'i\u0307d', 'id', 'ID', '\u{1F600}x', 'x', 'State', 'st\u0041te', 'Σa', 'σa', ''];
    let seed = 11;
    const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let i = 0; i < 5000; i++) {
      const list = Array.from({ length: 1 + next(8) }, (_, j) => ({ key: NAMES[next(NAMES.length)]!, value: String(j) }));
      const headers = new AmiHeaders(list);
      const asked = NAMES[next(NAMES.length)]!;
      const reference = list.find((h) => h.key.toLowerCase() === asked.toLowerCase())?.value;
      expect(headers.get(asked), `${JSON.stringify(list)} ${asked}`).toBe(reference);
    }
  });
});
