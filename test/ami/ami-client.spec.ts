// The agent's AMI adapter (asterisk-manager wrapped) against the faithful AMI peer on loopback.
import { Writable } from 'node:stream';
import { AmiFormatError, AmiParser } from '@fedpbx/asterisk';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
// test/ is the cross-app tier: it reaches agent internals, which have no package export.
import { AmiClient, isEmptyListError, loggableHeaders, type AmiClientOptions, type AmiEvent } from '../../apps/agent/src/ami/ami-client.js';
import { AmiClientError } from '../../apps/agent/src/ami/ami-errors.js';
import { filterActionFields, filterConfLine, type AmiEventFilter } from '../../apps/agent/src/ami/ami-filter.js';
import { AmiPeer, DEFAULT_AMI_USER, formatMessage, loadAmiFixture, type AmiPeerOptions } from '../support/asterisk/ami-peer.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log: Logger = pino({ level: 'debug' }, stream);
  return { log, lines };
}

async function setup(peerOpts: AmiPeerOptions = {}, clientOpts: Partial<AmiClientOptions> = {}) {
  const peer = await AmiPeer.start(peerOpts);
  const { log, lines } = capturingLogger();
  const client = new AmiClient({
    host: '127.0.0.1',
    port: peer.port,
    username: DEFAULT_AMI_USER.name,
    secret: DEFAULT_AMI_USER.secret,
    log,
    actionTimeoutMs: 1000,
    backoff: { initialMs: 20, maxMs: 200, jitter: 0 },
    keepaliveMs: 0,
    ...clientOpts,
  });
  const errors: AmiClientError[] = [];
  client.onError((e) => errors.push(e));
  cleanups.push(async () => {
    await client.stop();
    await peer.close();
  });
  return { peer, client, lines, errors };
}

async function until(predicate: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function connected(client: AmiClient): Promise<void> {
  await until(() => client.connected);
}

describe('AmiClient', () => {
  it('logs in without being asked to at construction, and answers actions by our own ActionIDs', async () => {
    const { peer, client } = await setup();
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.connections).toBe(0); // constructing it did not connect
    let connects = 0;
    client.onConnected(() => (connects += 1));
    client.start();
    await connected(client);
    expect(connects).toBe(1);
    const [a, b] = await Promise.all([client.action('Ping'), client.action('Ping')]);
    expect(a.headers.get('Ping')).toBe('Pong');
    expect(a.actionId).not.toBe(b.actionId);
    const pings = peer.actions('Ping');
    expect(pings.map((p) => p.actionId)).toEqual([a.actionId, b.actionId]);
    expect(pings[0]!.actionId).toMatch(/^fedpbx-[0-9a-f]{8}-\d+$/);
    expect(peer.actions('Login')[0]!.get('Username')).toBe(DEFAULT_AMI_USER.name);
  });

  it('writes the actions of one tick in one write; Asterisk answers the pipeline in order, each by its ActionID', async () => {
    const { peer, client } = await setup();
    client.start();
    await connected(client);
    let chunks = 0;
    [...peer.sessions][0]!.socket.on('data', () => (chunks += 1));
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.action('Setvar', { Variable: `DEVICE_STATE(Custom:lamp-${i})`, Value: i % 2 === 1 ? 'INUSE' : 'NOT_INUSE' })),
    );
    // ~17 KB in one write reaches the peer in one read (or a few): one write per action would be 200.
    expect(chunks).toBeLessThanOrEqual(3);
    expect(peer.actions('Setvar').map((a) => a.actionId)).toEqual(answers.map((a) => a.actionId));
    expect(answers.every((a) => a.headers.get('Message') === 'Variable Set')).toBe(true);
    expect(peer.deviceStates.get('Custom:lamp-7')).toBe('INUSE');
    expect(peer.deviceStates.get('Custom:lamp-8')).toBe('NOT_INUSE');
  });

  it('post(): one callback for many actions, told each one by its tag - success, Error answers, and what cannot be sent, never synchronously', async () => {
    const { peer, client } = await setup();
    const seen: [string, string | undefined][] = [];
    const done = (error: Error | undefined, tag: string): void => void seen.push([tag, error === undefined ? undefined : (error as AmiClientError).code]);
    client.post('Ping', {}, done, 'before connect');
    expect(seen).toEqual([]); // not synchronously, even when it cannot be sent
    await until(() => seen.length === 1);
    expect(seen).toEqual([['before connect', 'NOT_CONNECTED']]);
    client.start();
    await connected(client);
    seen.length = 0;
    for (let i = 0; i < 50; i++) client.post('Setvar', { Variable: `DEVICE_STATE(Custom:lamp-${i})`, Value: 'INUSE' }, done, `lamp-${i}`);
    client.post('Setvar', { Variable: 'DEVICE_STATE(Custom:lamp-x)', Value: 'UNKNOWN' }, done, 'refused by Asterisk'); // func_devstate refuses UNKNOWN
    client.post('Setvar', { Variable: 'DEVICE_STATE(Custom:lamp-y)\r\nAction: Reload', Value: 'INUSE' }, done, 'not sent (CR LF)');
    expect(seen).toEqual([]);
    await until(() => seen.length === 52);
    expect(seen.filter(([, code]) => code === undefined).map(([tag]) => tag)).toEqual(Array.from({ length: 50 }, (_, i) => `lamp-${i}`));
    expect(seen.find(([tag]) => tag === 'refused by Asterisk')?.[1]).toBe('ACTION_FAILED');
    expect(seen.find(([tag]) => tag === 'not sent (CR LF)')?.[1]).toBe('AMI_FORBIDDEN_CHAR'); // AmiFormatError, as action() rejects
    expect(peer.deviceStates.get('Custom:lamp-49')).toBe('INUSE');
    expect(peer.actions('Setvar')).toHaveLength(51); // the CR LF one never left
    // The connection dropping fails what is in flight, by tag.
    seen.length = 0;
    peer.handle('Setvar', () => undefined);
    client.post('Setvar', { Variable: 'DEVICE_STATE(Custom:lamp-z)', Value: 'BUSY' }, done, 'in flight');
    await until(() => peer.actions('Setvar').length === 52);
    peer.dropAll();
    await until(() => seen.length === 1);
    expect(seen).toEqual([['in flight', 'DISCONNECTED']]);
  });

  it('hands on an event that came with the Login answer, once (the package read that packet too)', async () => {
    const { peer, client } = await setup();
    peer.handle('Login', (ctx) => {
      ctx.fallthrough();
      ctx.write(formatMessage([['Event', 'DeviceStateChange'], ['Privilege', 'call,all'], ['SystemName', 'site1'], ['Device', 'PJSIP/101'], ['State', 'INUSE']]));
    });
    const events: AmiEvent[] = [];
    client.onEvent((e) => events.push(e));
    client.start();
    await connected(client);
    await client.action('Ping'); // answered after the event: it has been read
    expect(events.filter((e) => e.event === 'DeviceStateChange').map((e) => e.headers.get('State'))).toEqual(['INUSE']);
  });

  it('drops a connection whose stream breaks the parser limits (a 100 KB line), says why, and reconnects', async () => {
    const { peer, client, errors } = await setup();
    client.start();
    await connected(client);
    peer.sendRaw(`Event: Junk\r\nData: ${'x'.repeat(100_000)}\r\n\r\n`);
    await until(() => errors.some((e) => e.code === 'STREAM_UNREADABLE' && /longer than/.test(e.message)));
    await until(() => peer.connections >= 2);
    await connected(client);
    await expect(client.action('Ping')).resolves.toMatchObject({ response: 'Success' });
  });

  it('collects a list until its Complete event, whatever the chunking', async () => {
    const { peer, client } = await setup({ chunking: 'bytewise' });
    peer.pjsip.endpoints = [
      { name: 'site-moscow', aor: 'site-moscow', contacts: ['sip:10.77.0.1:5060'] },
      { name: 'trunk-piter-city', aor: 'trunk-piter-city' },
    ];
    client.start();
    await connected(client);
    const list = await client.listAction('PJSIPShowEndpoints');
    expect(list.items.map((i) => [i.event, i.headers.get('ObjectName')])).toEqual([
      ['EndpointList', 'site-moscow'],
      ['EndpointList', 'trunk-piter-city'],
    ]);
    expect(list.complete?.headers.get('ListItems')).toBe('2');
    expect(list.response.headers.get('EventList')).toBe('start');
  });

  it('reports an empty PJSIPShowContacts (Response: Error "No Contacts found\\n") as a typed, recognisable error', async () => {
    const { client } = await setup();
    client.start();
    await connected(client);
    const error = await client.listAction('PJSIPShowContacts').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AmiClientError);
    expect((error as AmiClientError).code).toBe('ACTION_FAILED');
    expect(isEmptyListError(error)).toBe(true);
  });

  it('times an unanswered action out and stays usable', async () => {
    const { peer, client } = await setup();
    peer.handle('CoreStatus', () => undefined);
    client.start();
    await connected(client);
    const started = Date.now();
    await expect(client.action('CoreStatus', {}, { timeoutMs: 150 })).rejects.toMatchObject({ code: 'TIMEOUT', action: 'CoreStatus' });
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(client.action('Reload', { Module: 'res_pjsip.so' })).resolves.toMatchObject({ response: 'Success' });
  });

  it('times each action out by its own deadline, a later short one before an earlier long one, answered ones never', async () => {
    const { peer, client } = await setup();
    peer.handle('CoreStatus', () => undefined);
    client.start();
    await connected(client);
    const started = Date.now();
    const took = (p: Promise<unknown>): Promise<number> =>
      p.then(
        () => Number.NaN,
        (e: unknown) => ((e as AmiClientError).code === 'TIMEOUT' ? Date.now() - started : Number.NaN),
      );
    const long = took(client.action('CoreStatus', {}, { timeoutMs: 1200 }));
    const answered = client.action('Ping', {}, { timeoutMs: 100 });
    const short = took(client.action('CoreStatus', {}, { timeoutMs: 300 }));
    await expect(answered).resolves.toMatchObject({ response: 'Success' });
    const [shortMs, longMs] = await Promise.all([short, long]);
    expect(shortMs).toBeGreaterThanOrEqual(290);
    expect(shortMs).toBeLessThan(1100);
    expect(longMs).toBeGreaterThanOrEqual(1190);
    // A list's deadline moves with each item: items 250 ms apart (1 s in all) outlive a 500 ms timeout.
    peer.pjsip.endpoints = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
    peer.handle('PJSIPShowEndpoints', async (ctx) => {
      ctx.respond('Success', [['EventList', 'start'], ['Message', 'A listing of Endpoints follows, presented as EndpointList events']]);
      for (const name of ['a', 'b', 'c']) {
        await new Promise((r) => setTimeout(r, 250));
        ctx.write(`Event: EndpointList\r\nActionID: ${ctx.actionId}\r\nObjectType: endpoint\r\nObjectName: ${name}\r\n\r\n`);
      }
      await new Promise((r) => setTimeout(r, 250));
      ctx.write(`Event: EndpointListComplete\r\nActionID: ${ctx.actionId}\r\nEventList: Complete\r\nListItems: 3\r\n\r\n`);
    });
    const list = await client.listAction('PJSIPShowEndpoints', {}, { timeoutMs: 500 });
    expect(list.items.map((i) => i.headers.get('ObjectName'))).toEqual(['a', 'b', 'c']);
  });

  it('fails in-flight actions when the connection drops mid-list, then reconnects and resyncs', async () => {
    const { peer, client } = await setup();
    peer.pjsip.endpoints = [{ name: 'a' }, { name: 'b' }];
    let cut = true;
    peer.handle('PJSIPShowEndpoints', (ctx) => {
      if (!cut) return ctx.fallthrough();
      ctx.respond('Success', [['EventList', 'start'], ['Message', 'A listing of Endpoints follows, presented as EndpointList events']]);
      ctx.write(`Event: EndpointList\r\nActionID: ${ctx.actionId}\r\nObjectType: endpoint\r\nObjectName: a\r\n`); // half an item
      ctx.destroy();
    });
    let connects = 0;
    client.onConnected(() => (connects += 1));
    client.start();
    await connected(client);
    peer.handle('Ping', () => undefined); // also in flight when the socket goes
    const inFlight = [client.listAction('PJSIPShowEndpoints'), client.action('Ping')];
    for (const p of inFlight) await expect(p).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(client.action('Ping')).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    cut = false;
    peer.handle('Ping', undefined);
    await until(() => connects === 2);
    const list = await client.listAction('PJSIPShowEndpoints');
    expect(list.items).toHaveLength(2);
  });

  it('reconnects forever with growing, capped delays while Asterisk is away', async () => {
    const { peer, client } = await setup({}, { backoff: { initialMs: 20, maxMs: 80, jitter: 0 } });
    const states: string[] = [];
    client.onStateChange((s) => states.push(s));
    client.start();
    await connected(client);
    peer.stopListening();
    peer.dropAll();
    await until(() => client.state === 'disconnected');
    await new Promise((r) => setTimeout(r, 400)); // 20 + 40 + 80 + 80 + ... : several refused attempts
    const attempts = states.filter((s) => s === 'connecting').length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThan(12); // capped at 80 ms, not a busy loop
    await peer.listen();
    await connected(client);
  });

  it('reports a refused Login once, keeps retrying, and never logs the secret', async () => {
    // Asterisk's real 1 s delay on the first client; a 30 ms one on a second peer to see the retries.
    const { client, errors, lines } = await setup({}, { secret: 'wrong-secret-value', backoff: { initialMs: 10, maxMs: 20, jitter: 0 } });
    const small = await AmiPeer.start({ loginFailureDelayMs: 30 });
    cleanups.push(() => small.close());
    const c2 = new AmiClient({
      host: '127.0.0.1',
      port: small.port,
      username: DEFAULT_AMI_USER.name,
      secret: 'wrong-secret-value',
      log: pino({ level: 'silent' }),
      backoff: { initialMs: 10, maxMs: 20, jitter: 0 },
      keepaliveMs: 0,
    });
    cleanups.push(() => c2.stop());
    c2.start();
    await until(() => small.connections >= 3);
    expect(c2.connected).toBe(false);

    client.start();
    await until(() => errors.some((e) => e.code === 'LOGIN_FAILED'));
    expect(client.connected).toBe(false);
    const logged = lines.join('');
    expect(logged).toContain('LOGIN_FAILED');
    expect(logged).not.toContain('wrong-secret-value');
    expect(errors.find((e) => e.code === 'LOGIN_FAILED')!.response?.headers.get('Message')).toBe('Authentication failed');
  });

  it('refuses CR, LF and bad keys before anything is sent (header and action injection)', async () => {
    const { peer, client } = await setup();
    client.start();
    await connected(client);
    const attempts: [string, Record<string, string>][] = [
      ['Reload', { Module: 'res_pjsip.so\r\nAction: Command\r\nCommand: core stop now' }],
      ['Reload', { Module: 'res_pjsip.so\n\nAction: Originate' }],
      ['Reload', { Module: 'x\rActionID: stolen' }],
      ['Reload', { 'Module\r\nAction': 'Command' }],
      ['Reload', { 'Bad Key': 'x' }],
      ['Reload', { ActionID: 'chosen-by-caller' }],
      ['Ping\r\nAction: Command', {}],
    ];
    for (const [name, fields] of attempts) {
      await expect(client.action(name, fields)).rejects.toBeInstanceOf(AmiFormatError);
    }
    await client.action('Ping');
    expect(peer.received.map((r) => r.action.toLowerCase())).toEqual(['login', 'ping']);
    expect(peer.rawReceived).not.toMatch(/Command|Originate|stolen/);
  });

  it('hands unsolicited events to listeners, never the items of its own lists', async () => {
    const { peer, client } = await setup();
    const events: AmiEvent[] = [];
    client.onEvent((e) => events.push(e));
    client.start();
    await connected(client);
    peer.pjsip.endpoints = [{ name: 'site-moscow' }];
    await client.listAction('PJSIPShowEndpoints');
    peer.replayEvents('ami-09-events-contactstatus.json');
    await until(() => events.some((e) => e.event === 'ContactStatus' && e.headers.get('ContactStatus') === 'Reachable'));
    expect(events.some((e) => e.event === 'EndpointList' || e.event === 'EndpointListComplete')).toBe(false);
    const contacts = events.filter((e) => e.event === 'ContactStatus');
    expect(contacts.map((e) => [e.headers.get('AOR'), e.headers.get('ContactStatus')])).toEqual([
      ['peer', 'Unreachable'],
      ['peer', 'Reachable'],
    ]);
  });

  describe.each(['ami-09-events-call-cdr.json', 'ami-09-events-contactstatus.json', 'ami-09-events-registry-rejected.json', 'ami-09-events-registry-site1-registrar.json', 'ami-09-events-registry-site2.json'])(
    'recorded events of %s',
    (file) => {
      /** What Asterisk sent after the Login answer, in the reads it was recorded in. */
      const recordedReads = (): string[] => {
        const ex = loadAmiFixture(file).exchange;
        const login = ex.findIndex((c) => c.dir === 'server->asterisk' && (c.data ?? '').startsWith('Action: Login'));
        const reads = ex.slice(login + 1).filter((c) => c.dir === 'asterisk->server').map((c) => c.data ?? '');
        const answerEnd = reads[0]!.indexOf('\r\n\r\n') + 4; // the Login answer: the peer sends its own
        return [reads[0]!.slice(answerEnd), ...reads.slice(1)].filter((r) => r !== '');
      };
      const expected = (): string[] =>
        new AmiParser({ expectBanner: false })
          .push(Buffer.from(recordedReads().join(''), 'utf8'))
          .flatMap((e) => (e.type === 'message' && e.message.kind === 'event' ? [JSON.stringify(e.message.headers.list)] : []));

      it.each(['whole', 'bytewise'] as const)('reach the listeners exactly as the parser reads them, chunked %s', async (chunking) => {
        const { peer, client, errors } = await setup({ chunking });
        client.start();
        await connected(client);
        await client.action('Ping'); // the peer's own events at Login are read by now
        const events: string[] = [];
        client.onEvent((e) => events.push(JSON.stringify(e.headers.list)));
        for (const read of recordedReads()) {
          peer.sendRaw(read); // 'whole': one socket write per recorded read, each in a tick of its own
          await new Promise((r) => setImmediate(r));
        }
        const want = expected();
        expect(want.length).toBeGreaterThan(0);
        await until(() => events.length >= want.length);
        await client.action('Ping');
        expect(events).toEqual(want);
        expect(errors.filter((e) => e.code === 'STREAM_UNREADABLE')).toEqual([]);
      });
    },
  );

  it('drops a connection that sends bytes that are not AMI text (NUL, invalid UTF-8, a bare CR flood), never hangs, and reconnects', async () => {
    const { peer, client, errors } = await setup();
    const events: AmiEvent[] = [];
    client.onEvent((e) => events.push(e));
    client.start();
    await connected(client);
    // Odd bytes inside a message are text to the parser (kept, replaced or split as UTF-8 decoding does), not a failure.
    peer.sendRaw('Event: Odd\r\nData: a\u0000b\rx\r\n\r\n');
    for (const session of peer.sessions) session.socket.write(Buffer.concat([Buffer.from('Event: Bytes\r\nData: '), Buffer.of(0xff, 0xfe, 0xc3), Buffer.from('\r\n\r\n')]));
    await until(() => events.some((e) => e.event === 'Bytes'));
    expect(events.find((e) => e.event === 'Odd')?.headers.get('Data')).toBe('a\u0000b\rx');
    expect(events.find((e) => e.event === 'Bytes')?.headers.get('Data')).toBe('\ufffd\ufffd\ufffd');
    // A line of CRs with no LF grows until the line limit: the connection is dropped, not the process.
    for (const session of peer.sessions) session.socket.write(Buffer.alloc(70 * 1024, 0x0d));
    await until(() => errors.some((e) => e.code === 'STREAM_UNREADABLE'));
    await until(() => peer.connections >= 2);
    await connected(client);
    await expect(client.action('Ping')).resolves.toMatchObject({ response: 'Success' });
  });

  it('keeps passwords of AuthDetail events out of loggable headers', async () => {
    const { peer, client } = await setup();
    peer.pjsip.registrations = [
      { name: 'site-moscow', serverUri: 'sip:10.77.0.1', clientUri: 'sip:site-kazan@10.77.0.1', status: 'Registered', auth: { name: 'site-moscow-out', username: 'site-kazan', password: 'link-mk-SECRET' } },
    ];
    client.start();
    await connected(client);
    const list = await client.listAction('PJSIPShowRegistrationsOutbound');
    const auth = list.items.find((i) => i.event === 'AuthDetail')!;
    expect(auth.headers.get('Password')).toBe('link-mk-SECRET');
    expect(JSON.stringify(loggableHeaders(auth))).not.toContain('link-mk-SECRET');
  });

  describe('reads held in time (readHoldMs)', () => {
    const HOLD_MS = 1000;
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

    /** A client whose events are timed on arrival; `hold` is what readHoldMs answers at each read. */
    async function timedEvents() {
      const hold = { ms: 0 };
      const ctx = await setup({}, { readHoldMs: () => hold.ms });
      const arrived = new Map<string, number>();
      ctx.client.onEvent((e) => arrived.set(e.headers.get('UserEvent') ?? '', performance.now()));
      ctx.client.start();
      await connected(ctx.client);
      const send = (name: string): number => {
        ctx.peer.event('UserEvent', [['UserEvent', name]]);
        return performance.now();
      };
      return { ...ctx, hold, arrived, send };
    }

    it('reads a lone event at once and events that come densely together, each at most the hold late', async () => {
      const { hold, arrived, send } = await timedEvents();
      // No hold (a watched site's lamps): dense events are each read at once.
      const sentAt0 = send('x1');
      await sleep(30);
      send('x2');
      await sleep(30);
      send('x3');
      await until(() => arrived.has('x3'));
      expect(arrived.get('x3')! - sentAt0).toBeLessThan(HOLD_MS / 2);

      hold.ms = HOLD_MS;
      await sleep(HOLD_MS + 100); // quiet: the next event is a lone one
      const sentA = send('a');
      await until(() => arrived.has('a'));
      expect(arrived.get('a')! - sentA).toBeLessThan(HOLD_MS / 2);
      await sleep(30);
      send('b'); // read at once, soon after a: reads stop for the hold
      await until(() => arrived.has('b'));
      const readB = arrived.get('b')!;
      send('c');
      await sleep(30);
      send('d');
      await until(() => arrived.has('d'), HOLD_MS * 4);
      // c and d waited in the socket for the rest of the hold, then came in one read.
      expect(arrived.get('c')! - readB).toBeGreaterThanOrEqual(HOLD_MS - 50);
      expect(arrived.get('d')! - arrived.get('c')!).toBeLessThan(5);
    });

    it('never holds an answer: an action sent during a hold is read at once, with the events held before it', async () => {
      const { client, hold, arrived, send } = await timedEvents();
      hold.ms = HOLD_MS;
      await sleep(100);
      send('a');
      await until(() => arrived.has('a'));
      send('b'); // dense: a hold starts after its read
      await until(() => arrived.has('b'));
      send('c');
      await sleep(50);
      const asked = performance.now();
      const pong = await client.action('Ping');
      const answered = performance.now();
      expect(pong.headers.get('Ping')).toBe('Pong');
      expect(answered - asked).toBeLessThan(HOLD_MS / 2);
      expect(arrived.get('c')).toBeLessThanOrEqual(answered);
    });

    it('a client stopped during a hold lets its socket close: a paused socket would never read the end', async () => {
      const { client, hold, arrived, send } = await timedEvents();
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
      hold.ms = HOLD_MS;
      send('a');
      await until(() => arrived.has('a'));
      send('b'); // dense: a hold starts after its read
      await until(() => arrived.has('b'));
      const open = sockets();
      await client.stop();
      // Ours and the peer's side of the connection both go, well within the hold that was under way.
      await until(() => sockets() <= open - 2, HOLD_MS / 2);
    });

    it('reads a backlog through: a full read is not held, so a burst is read within a hold, not one buffer per hold', async () => {
      const { hold, arrived, send, peer } = await timedEvents();
      hold.ms = 300;
      send('a');
      await until(() => arrived.has('a'));
      send('b'); // dense: a hold starts after its read
      await until(() => arrived.has('b'));
      // ~1 MB of events while reads are held: sixteen reads' worth of the 64 KB read buffer.
      const padding = 'x'.repeat(500);
      for (let i = 0; i < 2000; i += 1) peer.event('UserEvent', [['UserEvent', `burst${i}`], ['Padding', padding]]);
      const sentAt = performance.now(); // the peer's writes are queued (formatting 2,000 events is its own time)
      await until(() => arrived.has('burst1999'), 10_000);
      expect(arrived.get('burst1999')! - sentAt).toBeLessThan(hold.ms * 3);
    });
  });

  it('drops a hung connection when the keepalive Ping goes unanswered', async () => {
    const { peer, client } = await setup({}, { keepaliveMs: 100, actionTimeoutMs: 100 });
    client.start();
    await connected(client);
    peer.handle('Ping', () => undefined);
    await until(() => peer.connections >= 2, 3000);
    peer.handle('Ping', undefined);
    await connected(client);
  });

  it('stop() fails what is in flight with STOPPED and does not reconnect', async () => {
    const { peer, client } = await setup();
    peer.handle('CoreStatus', () => undefined);
    client.start();
    await connected(client);
    const pending = client.action('CoreStatus').catch((e: unknown) => e);
    await client.stop();
    expect(await pending).toMatchObject({ code: 'STOPPED' });
    await expect(client.action('Ping')).rejects.toMatchObject({ code: 'STOPPED' });
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.connections).toBe(1);
  });

  it('survives Asterisk vanishing mid-Login and right after a Reload answer, before its event', async () => {
    const { peer, client, lines } = await setup();
    let logins = 0;
    peer.handle('Login', (ctx) => {
      logins += 1;
      if (logins > 1) return ctx.fallthrough();
      ctx.write(`Response: Success\r\nActionID: ${ctx.actionId ?? ''}\r\nMessage: Authent`); // cut mid-answer
      ctx.destroy();
    });
    client.start();
    await connected(client);
    expect(logins).toBe(2);
    expect(lines.join('')).toContain('AMI not reachable; retrying'); // the first failure is said, at warn
    peer.handle('Reload', (ctx) => {
      ctx.respond('Success', [['Message', 'Module Reloaded']]);
      ctx.destroy();
    });
    await expect(client.action('Reload', { Module: 'res_pjsip.so' })).resolves.toMatchObject({ response: 'Success' });
    await until(() => !client.connected);
    peer.handle('Reload', undefined);
    await connected(client);
    await expect(client.action('Reload', { Module: 'pbx_config.so' })).resolves.toMatchObject({ response: 'Success' });
  });

  describe('event filters (Action: Filter after every Login)', () => {
    const OWN_LAMPS: AmiEventFilter = { action: 'exclude', event: 'DeviceStateChange', header: 'Device', method: 'starts_with', pattern: 'Custom:fedpbx-', reason: 'test' };

    it('sends each filter after every Login before what the connected listeners send, and Asterisk then keeps those events away', async () => {
      const { peer, client } = await setup();
      client.addEventFilter(OWN_LAMPS);
      client.addEventFilter({ ...OWN_LAMPS }); // the same filter twice is sent once
      const events: AmiEvent[] = [];
      client.onEvent((e) => events.push(e));
      let connects = 0;
      client.onConnected(() => {
        connects += 1;
        void client.action('Setvar', { Variable: 'DEVICE_STATE(Custom:fedpbx-piter-301)', Value: connects === 1 ? 'INUSE' : 'BUSY' });
      });
      client.start();
      await until(() => peer.deviceStates.get('Custom:fedpbx-piter-301') === 'INUSE');
      peer.setDeviceState('PJSIP/101', 'RINGING');
      await until(() => events.some((e) => e.headers.get('Device') === 'PJSIP/101'));
      expect(events.filter((e) => e.event === 'DeviceStateChange').map((e) => e.headers.get('Device'))).toEqual(['PJSIP/101']);
      expect(peer.received.map((r) => r.action.toLowerCase())).toEqual(['login', 'filter', 'setvar']);
      const filter = peer.actions('Filter')[0]!;
      expect([filter.get('Operation'), filter.get('MatchCriteria'), filter.get('Filter')]).toEqual([
        'Add',
        'action(exclude),name(DeviceStateChange),header(Device),method(starts_with)',
        '!Custom:fedpbx-',
      ]);
      // A new session has no filters: the client sends them again.
      peer.dropAll();
      await until(() => peer.deviceStates.get('Custom:fedpbx-piter-301') === 'BUSY');
      peer.setDeviceState('PJSIP/101', 'NOT_INUSE');
      await until(() => events.some((e) => e.headers.get('State') === 'NOT_INUSE'));
      expect(peer.received.map((r) => r.action.toLowerCase())).toEqual(['login', 'filter', 'setvar', 'login', 'filter', 'setvar']);
      expect(events.some((e) => (e.headers.get('Device') ?? '').startsWith('Custom:'))).toBe(false);
      // Added while connected: sent at once.
      client.addEventFilter({ action: 'exclude', event: 'ContactStatus', method: 'none', reason: 'test' });
      await until(() => peer.actions('Filter').length === 3);
      expect(client.eventFilterLines).toEqual([
        'eventfilter(action(exclude),name(DeviceStateChange),header(Device),method(starts_with)) = Custom:fedpbx-',
        'eventfilter(action(exclude),name(ContactStatus),method(none)) =',
      ]);
    });

    it('works on without the filter when Asterisk refuses it (no write = system), and says so once', async () => {
      const { peer, client, lines } = await setup({ users: { [DEFAULT_AMI_USER.name]: { secret: DEFAULT_AMI_USER.secret, read: ['all'], write: ['call'] } } });
      client.addEventFilter(OWN_LAMPS);
      const events: AmiEvent[] = [];
      client.onEvent((e) => events.push(e));
      client.start();
      await connected(client);
      await client.action('Setvar', { Variable: 'DEVICE_STATE(Custom:fedpbx-piter-301)', Value: 'INUSE' });
      await until(() => events.some((e) => e.headers.get('Device') === 'Custom:fedpbx-piter-301'));
      peer.dropAll();
      await until(() => peer.actions('Filter').length === 2 && client.connected);
      await client.action('Ping');
      const refused = lines.filter((l) => l.includes('Asterisk refused an AMI event filter'));
      expect(refused).toHaveLength(1);
      expect(refused[0]).toContain('Permission denied');
    });

    it('refuses filters Asterisk would refuse or that an Asterisk before 22.1 would misread', () => {
      const client = new AmiClient({ host: '127.0.0.1', port: 1, username: 'u', secret: 's', log: pino({ level: 'silent' }) });
      const bad: AmiEventFilter[] = [
        { ...OWN_LAMPS, method: 'none' },
        { ...OWN_LAMPS, pattern: undefined },
        { action: 'exclude', method: 'none', reason: 'test' },
        { ...OWN_LAMPS, event: 'Device StateChange' },
        { ...OWN_LAMPS, header: 'Device)' },
        { ...OWN_LAMPS, pattern: '!x' },
        { action: 'include', event: 'Cdr', header: 'Source', method: 'exact', pattern: '101', reason: 'test' },
      ];
      for (const f of bad) expect(() => client.addEventFilter(f), JSON.stringify(f)).toThrow(/AMI event filter \(test\)/);
      expect(client.eventFilterLines).toEqual([]);
      // An include filter by name only is fine (its legacy reading, an empty regex, matches every event).
      client.addEventFilter({ action: 'include', event: 'Cdr', method: 'none', reason: 'test' });
      expect(filterActionFields({ action: 'include', event: 'Cdr', method: 'none', reason: 'test' })).toEqual({ Operation: 'Add', MatchCriteria: 'action(include),name(Cdr),method(none)', Filter: '' });
      expect(filterConfLine(OWN_LAMPS)).toBe('eventfilter(action(exclude),name(DeviceStateChange),header(Device),method(starts_with)) = Custom:fedpbx-');
    });
  });
});
