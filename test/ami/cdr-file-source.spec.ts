// The agent's durable CDR source against the faithful cdr_custom writer: catch-up after downtime, a crash between
// storing and the cursor, rotation by rename (while running and while stopped), copytruncate, the live AMI event of
// the same CDR, a missing cdr-custom directory; and the ModuleCheck alarm against the AMI peer.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AmiClient } from '../../apps/agent/src/ami/ami-client.js';
import { CdrFileSource, CDR_FILE_ALARM, type CdrAlarmSink } from '../../apps/agent/src/cdr/cdr-file-source.js';
import { CDR_SOURCE_ALARM, CdrSourceCheck } from '../../apps/agent/src/cdr/cdr-source-check.js';
import { cdrFromFileRecord } from '../../apps/agent/src/cdr/cdr-record.js';
import { parseCdrFileRecords } from '../../apps/agent/src/cdr/cdr-file-parser.js';
import { CdrOutbox } from '../../apps/agent/src/state/cdr-outbox.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { CdrCustomWriter, type PeerCdr } from '../support/asterisk/cdr-custom-writer.js';
import { until } from '../support/until.js';

const CONF = join(import.meta.dirname, '..', '..', 'deploy', 'asterisk', 'cdr_custom.conf');
const silent = pino({ level: 'silent' });

class Alarms implements CdrAlarmSink {
  readonly raised = new Map<string, string>();
  raise(code: string, _severity: string, message: string): void {
    this.raised.set(code, message);
  }
  clear(code: string): void {
    this.raised.delete(code);
  }
}

interface Site {
  readonly logDir: string;
  readonly stateDir: string;
  readonly writer: CdrCustomWriter;
  readonly path: string;
  readonly outbox: CdrOutbox;
  readonly alarms: Alarms;
  source: CdrFileSource | undefined;
}

const sources: CdrFileSource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
});

function site(): Site {
  const logDir = mkdtempSync(join(tmpdir(), 'fedpbx-astlog-'));
  mkdirSync(join(logDir, 'cdr-custom'));
  const writer = CdrCustomWriter.fromFile(CONF, logDir);
  const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-state-'));
  return { logDir, stateDir, writer, path: writer.paths[0]!, outbox: new CdrOutbox(stateDir), alarms: new Alarms(), source: undefined };
}

async function start(s: Site, pollMs = 20, cursorIntervalMs?: number): Promise<CdrFileSource> {
  const source = new CdrFileSource({ path: s.path, stateDir: s.stateDir, outbox: s.outbox, log: silent, alarms: s.alarms, pollMs, renamedGraceMs: 200, ...(cursorIntervalMs === undefined ? {} : { cursorIntervalMs }) });
  sources.push(source);
  s.source = source;
  await source.start();
  return source;
}

async function stop(s: Site): Promise<void> {
  await s.source?.stop();
  sources.splice(sources.indexOf(s.source!), 1);
  s.source = undefined;
}

/** The outbox as the publisher and `fedpbx-agent cdrs` see it: every stored line's cdrId. */
function stored(s: Site): string[] {
  const dir = join(s.stateDir, 'cdr');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== ''))
    .map((l) => (JSON.parse(l) as { cdrId: string }).cdrId);
}

let seq = 0;
const t0 = Date.UTC(2026, 11, 6, 20, 0, 0);
function cdr(i = ++seq): PeerCdr {
  return { uniqueid: `moscow-1796500000.${i}`, start: t0 + i * 1000, answer: t0 + i * 1000 + 500, end: t0 + i * 1000 + 5000, src: '101', dst: '301', disposition: 'ANSWERED', sequence: i, vars: { FEDPBX_ROUTE: 'site', FEDPBX_TARGET: 'piter' } };
}
const idOf = (c: PeerCdr): string => `${c.uniqueid}:${c.sequence}`;

describe('CDR file source', () => {
  it('stores the CDRs written while the agent was down once, and again nothing after a restart', async () => {
    const s = site();
    const down = Array.from({ length: 25 }, () => cdr());
    for (const c of down) s.writer.write(c);
    await start(s);
    expect(stored(s)).toEqual(down.map(idOf));
    await stop(s);
    const more = [cdr(), cdr()];
    for (const c of more) s.writer.write(c);
    await start(s);
    expect(stored(s)).toEqual([...down, ...more].map(idOf));
    const live = cdr();
    s.writer.write(live);
    await until('followed', () => stored(s).length === 28);
    expect(stored(s)).toEqual([...down, ...more, live].map(idOf));
  });

  it('a crash after storing but before the cursor moved: read again, stored once', async () => {
    const s = site();
    const all = Array.from({ length: 10 }, () => cdr());
    for (const c of all) s.writer.write(c);
    await start(s);
    await stop(s);
    rmSync(join(s.stateDir, 'cdr', 'source-cursor.json')); // the cursor write never happened
    const fresh = new Site2(s);
    await start(fresh.site);
    expect(stored(s)).toEqual(all.map(idOf));
  });

  it('writes its cursor at most once per interval while records come, and at stop; a crash in between reads them again, stored once', async () => {
    const s = site();
    const cursor = (): number => (JSON.parse(readFileSync(join(s.stateDir, 'cdr', 'source-cursor.json'), 'utf8')) as { offset: number }).offset;
    const first = Array.from({ length: 5 }, () => cdr());
    for (const c of first) s.writer.write(c);
    await start(s, 20, 60_000);
    const afterFirst = statSync(s.path).size;
    expect(cursor()).toBe(afterFirst); // the first read is saved at once
    const second = Array.from({ length: 5 }, () => cdr());
    for (const c of second) s.writer.write(c);
    await until('stored', () => stored(s).length === 10);
    expect(cursor()).toBe(afterFirst); // within the interval: the outbox has them, the cursor file not yet
    // A crash now (the cursor file behind): the next start reads the second five again and stores nothing twice.
    const crashed = new Site2(s);
    await start(crashed.site, 20, 60_000);
    expect(stored(s)).toEqual([...first, ...second].map(idOf));
    expect(cursor()).toBe(statSync(s.path).size);
    await stop(crashed.site);
    expect(cursor()).toBe(statSync(s.path).size);
  });

  it('the live AMI event and the file record of one CDR are stored once, whichever comes first', async () => {
    const s = site();
    const a = cdr();
    const b = cdr();
    // a: live event first; b: the file first.
    const mapped = (c: PeerCdr) => {
      const r = cdrFromFileRecord(parseCdrFileRecords(Buffer.from(`${s.writer.format(c)[0]}\n`)).records[0]!.record);
      if (!r.ok) throw new Error(r.reason);
      return r.cdr;
    };
    expect(await s.outbox.add(mapped(a))).toBe(true);
    s.writer.write(a);
    s.writer.write(b);
    await start(s);
    expect(await s.outbox.add(mapped(b))).toBe(false);
    expect(stored(s)).toEqual([a, b].map(idOf));
  });

  it('rotation by rename while running: the renamed file is read to its end, the new one from its start', async () => {
    const s = site();
    await start(s);
    const before = Array.from({ length: 5 }, () => cdr());
    for (const c of before) s.writer.write(c);
    await until('read', () => stored(s).length === 5);
    const unread = [cdr(), cdr()];
    for (const c of unread) s.writer.write(c);
    renameSync(s.path, `${s.path}.1`); // logrotate (no copytruncate): the agent had not read the last two yet
    const late = cdr();
    s.writer.write(late); // Asterisk opens the path anew: a new file
    const after = [cdr(), cdr()];
    for (const c of after) s.writer.write(c);
    await until('all read', () => stored(s).length === 10);
    expect(new Set(stored(s))).toEqual(new Set([...before, ...unread, late, ...after].map(idOf)));
    expect(stored(s)).toHaveLength(10);
  });

  it('rotation by rename while the agent was down: the renamed file is found by its inode and finished first', async () => {
    const s = site();
    const first = [cdr(), cdr()];
    for (const c of first) s.writer.write(c);
    await start(s);
    await stop(s);
    const missed = [cdr(), cdr(), cdr()];
    for (const c of missed) s.writer.write(c);
    renameSync(s.path, `${s.path}.1`);
    const next = [cdr(), cdr()];
    for (const c of next) s.writer.write(c);
    await start(s);
    expect(stored(s)).toEqual([...first, ...missed, ...next].map(idOf));
  });

  it('rotated twice while the agent was down (logrotate numbering: .1 -> .2): both files and the new one, each CDR once', async () => {
    const s = site();
    const first = [cdr()];
    for (const c of first) s.writer.write(c);
    await start(s);
    await stop(s);
    const a = [cdr(), cdr()];
    for (const c of a) s.writer.write(c);
    renameSync(s.path, `${s.path}.1`);
    const b = [cdr(), cdr()];
    for (const c of b) s.writer.write(c);
    renameSync(`${s.path}.1`, `${s.path}.2`);
    renameSync(s.path, `${s.path}.1`);
    const c3 = [cdr()];
    for (const c of c3) s.writer.write(c);
    await start(s);
    expect(stored(s)).toEqual([...first, ...a, ...b, ...c3].map(idOf));
  });

  it('copytruncate: read again from the start, nothing doubled (records written in between would be lost)', async () => {
    const s = site();
    const first = [cdr(), cdr()];
    for (const c of first) s.writer.write(c);
    await start(s);
    truncateSync(s.path, 0);
    const after = [cdr()];
    for (const c of after) s.writer.write(c);
    await until('read', () => stored(s).length === 3);
    expect(stored(s)).toEqual([...first, ...after].map(idOf));
  });

  it('raises cdr-file-unreadable while <astlogdir>/cdr-custom is missing (cdr_custom cannot write), clears it when it is back', async () => {
    const s = site();
    rmSync(join(s.logDir, 'cdr-custom'), { recursive: true });
    s.writer.write(cdr());
    expect(s.writer.errors[0]).toBe(`Unable to write CDR to file ${s.path} : No such file or directory`);
    await start(s);
    expect(s.alarms.raised.get(CDR_FILE_ALARM)).toContain('ENOENT');
    mkdirSync(join(s.logDir, 'cdr-custom'));
    const c = cdr();
    s.writer.write(c);
    await until('cleared', () => !s.alarms.raised.has(CDR_FILE_ALARM) && stored(s).length === 1);
    expect(stored(s)).toEqual([idOf(c)]);
  });

  it('an outbox that cannot be written (disk full) is not blamed on the CDR file: no cdr-file-unreadable, the records wait', async () => {
    // The file read fine: the admin is sent to the outbox's own alarm (cdr-outbox-write-failed), not to Asterisk's
    // log dir; the cursor stays, so the records are stored once the outbox works again.
    const s = site();
    const c = cdr();
    const dayFile = join(s.stateDir, 'cdr', `${new Date(c.end).toISOString().slice(0, 10)}.jsonl`);
    mkdirSync(dayFile, { recursive: true }); // the outbox's day file cannot be read or appended to (EISDIR), as root too
    s.writer.write(c);
    await start(s);
    expect(s.alarms.raised.has(CDR_FILE_ALARM)).toBe(false);
    rmSync(dayFile, { recursive: true });
    await until('stored', () => stored(s).length === 1);
    expect(stored(s)).toEqual([idOf(c)]);
  });
});

/** Another agent process on the same state dir (a restart): a fresh outbox, no memory of what was stored. */
class Site2 {
  readonly site: Site;
  constructor(s: Site) {
    this.site = { ...s, outbox: new CdrOutbox(s.stateDir), source: undefined };
  }
}

describe('CDR source check (AMI ModuleCheck)', () => {
  let peer: AmiPeer | undefined;
  let client: AmiClient | undefined;
  afterEach(async () => {
    await client?.stop();
    await peer?.close();
  });

  it('raises cdr-source-not-loaded while cdr_custom is not running, and clears it after `module load` and a reconnect', async () => {
    peer = await AmiPeer.start({ modules: ['res_pjsip', 'cdr_manager'] });
    client = new AmiClient({ host: '127.0.0.1', port: peer.port, username: DEFAULT_AMI_USER.name, secret: DEFAULT_AMI_USER.secret, log: silent, keepaliveMs: 0, backoff: { initialMs: 20, maxMs: 100, jitter: 0 } });
    const alarms = new Alarms();
    const seen: Record<string, boolean>[] = [];
    const check = new CdrSourceCheck({ ami: client, alarms, log: silent, fileConfigured: true, onChecked: (m) => seen.push(Object.fromEntries(m)) });
    check.start();
    client.start();
    await until('alarm', () => alarms.raised.has(CDR_SOURCE_ALARM));
    expect(alarms.raised.get(CDR_SOURCE_ALARM)).toContain("module load cdr_custom.so");
    expect(seen.at(-1)).toEqual({ cdr_custom: false, cdr_manager: true });
    peer.modules.add('cdr_custom');
    peer.dropAll();
    await until('cleared', () => !alarms.raised.has(CDR_SOURCE_ALARM) && seen.length >= 2);
    expect(seen.at(-1)).toEqual({ cdr_custom: true, cdr_manager: true });
    check.stop();
  });

  it('without the CDR file, cdr_manager is the source the alarm is about (observed: unloaded at boot without its conf)', async () => {
    peer = await AmiPeer.start({ modules: ['res_pjsip', 'cdr_custom'] });
    client = new AmiClient({ host: '127.0.0.1', port: peer.port, username: DEFAULT_AMI_USER.name, secret: DEFAULT_AMI_USER.secret, log: silent, keepaliveMs: 0, backoff: { initialMs: 20, maxMs: 100, jitter: 0 } });
    const alarms = new Alarms();
    const check = new CdrSourceCheck({ ami: client, alarms, log: silent, fileConfigured: false });
    check.start();
    client.start();
    await until('alarm', () => alarms.raised.has(CDR_SOURCE_ALARM));
    expect(alarms.raised.get(CDR_SOURCE_ALARM)).toContain("module load cdr_manager.so");
    check.stop();
  });
});
