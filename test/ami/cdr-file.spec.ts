// The durable CDR file: what Asterisk 22.10's cdr_custom (res_cdrel_custom, json format) writes for the shipped
// deploy/asterisk/cdr_custom.conf, read back by the agent's parser - hostile values, every split point, torn records.
import { mkdtempSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AmiHeaders } from '@fedpbx/asterisk';
import { describe, expect, it } from 'vitest';
import { mapCdr } from '../../apps/agent/src/ami/cdr-mapper.js';
import { CDR_COLUMNS } from '../../apps/agent/src/cdr/cdr-columns.js';
import { MAX_RECORD_BYTES, parseCdrFileRecords } from '../../apps/agent/src/cdr/cdr-file-parser.js';
import { cdrFromFileRecord } from '../../apps/agent/src/cdr/cdr-record.js';
import { CdrCustomWriter, type PeerCdr } from '../support/asterisk/cdr-custom-writer.js';
import { cdrEventFields } from '../support/asterisk/cdr-event.js';

const CONF = join(import.meta.dirname, '..', '..', 'deploy', 'asterisk', 'cdr_custom.conf');

function writer(): { w: CdrCustomWriter; path: string } {
  const logDir = mkdtempSync(join(tmpdir(), 'fedpbx-cdrfile-'));
  mkdirSync(join(logDir, 'cdr-custom'));
  const w = CdrCustomWriter.fromFile(CONF, logDir);
  return { w, path: w.paths[0]! };
}

const start = new Date(2026, 10, 26, 12, 28, 27).getTime();
function call(over: Partial<PeerCdr> = {}): PeerCdr {
  return {
    uniqueid: 'moscow-1795696107.36',
    linkedid: 'moscow-1795696107.36',
    start,
    answer: start + 2000,
    end: start + 62_000,
    src: '101',
    dst: '102',
    disposition: 'ANSWERED',
    sequence: 3,
    vars: { FEDPBX_ROUTE: 'local', FEDPBX_ORIGIN: 'moscow', FEDPBX_REVISION: '1' },
    ...over,
  };
}

describe('cdr_custom json records (faithful writer, shipped config)', () => {
  it('writes the record laid out as res_cdrel_custom does: quoted text, bare numbers, epoch times, sequence last', () => {
    const { w } = writer();
    const epoch = Math.floor(start / 1000);
    expect(w.format(call())).toEqual([
      `{"uniqueid":"moscow-1795696107.36","linkedid":"moscow-1795696107.36","start":${epoch},"answer":${epoch + 2},"end":${epoch + 62},"duration":62,"billsec":60,"src":"101","dst":"102","disposition":"ANSWERED","dstchannel":"","lastdata":"","FEDPBX_ROUTE":"local","FEDPBX_ORIGIN":"moscow","FEDPBX_TARGET":"","FEDPBX_TRUNK":"","FEDPBX_REVISION":"1","FEDPBX_REC_FILE":"","FEDPBX_CALL":"","FEDPBX_LEGS":"","sequence":3}`,
    ]);
    // A call never answered: answer is 0 (tv_sec 0), billsec 0.
    expect(w.format(call({ answer: undefined, disposition: 'NO ANSWER' }))[0]).toContain(`"answer":0,"end":${epoch + 62},"duration":62,"billsec":0,`);
  });

  it('escapes only the quote, so a hostile value is not JSON - and the parser still reads it exactly', () => {
    const { w } = writer();
    const hostile = ['x"y', 'ends with \\', '\\', 'a\\"b', 'line\nbreak', 'cr\rhere', 'brace"}\n{"uniqueid":"fake', '","dst":"999', 'Иван ☎', ''];
    const text = hostile.map((h, i) => w.format(call({ src: h, sequence: i }))[0]).join('\n') + '\n';
    expect(() => JSON.parse(w.format(call({ src: 'ends with \\' }))[0]!)).toThrow();
    const parsed = parseCdrFileRecords(Buffer.from(text));
    expect(parsed.rejected).toEqual([]);
    expect(parsed.consumed).toBe(Buffer.byteLength(text));
    expect(parsed.records.map((r) => r.record.get('src'))).toEqual(hostile);
    expect(parsed.records.map((r) => r.record.get('dst'))).toEqual(hostile.map(() => '102'));
  });

  it('reads the same records whatever the byte at which the file is read', () => {
    const { w } = writer();
    const text = Buffer.from([call({ src: 'a"b\\' }), call({ sequence: 4, dst: 'x\ny' }), call({ sequence: 5 })].map((c) => `${w.format(c)[0]}\n`).join(''));
    const whole = parseCdrFileRecords(text).records.map((r) => [...r.record]);
    expect(whole).toHaveLength(3);
    for (let cut = 0; cut <= text.length; cut++) {
      const first = parseCdrFileRecords(text.subarray(0, cut));
      expect(first.rejected).toEqual([]);
      const second = parseCdrFileRecords(text.subarray(first.consumed));
      expect(second.rejected).toEqual([]);
      expect([...first.records, ...second.records].map((r) => [...r.record])).toEqual(whole);
    }
  });

  it('passes over the records `skip` names by their raw ids, and reads the others as it would without, wherever the read is cut', () => {
    const { w } = writer();
    // Values that look like the column boundaries the quick look searches for (escaped quotes make them harmless).
    const hostile = ['","sequence":7}\n', '","linkedid":"', '{"uniqueid":"fake', 'x"y\\', 'Иван'];
    const cdrs = hostile.flatMap((h, i) => [call({ uniqueid: `moscow-"${i}"`, src: h, sequence: 10 + i }), call({ uniqueid: `piter-${i}`, lastdata: h, sequence: 20 + i })]);
    const text = Buffer.from(cdrs.map((c) => `${w.format(c)[0]}\n`).join(''));
    const asked: string[] = [];
    const skip = (uniqueId: string, sequence: string): boolean => (asked.push(`${uniqueId}:${sequence}`), uniqueId.startsWith('moscow-'));
    const whole = parseCdrFileRecords(text);
    const quick = parseCdrFileRecords(text, { skip });
    expect(asked).toEqual(cdrs.map((c) => `${c.uniqueid}:${c.sequence}`));
    expect(quick.skipped).toBe(hostile.length);
    expect(quick.rejected).toEqual([]);
    expect(quick.consumed).toBe(text.length);
    expect(quick.records.map((r) => [...r.record])).toEqual(whole.records.filter((r) => r.record.get('uniqueId')!.startsWith('piter-')).map((r) => [...r.record]));
    for (let cut = 0; cut <= text.length; cut += 7) {
      const first = parseCdrFileRecords(text.subarray(0, cut), { skip });
      const second = parseCdrFileRecords(text.subarray(first.consumed), { skip });
      expect([...first.rejected, ...second.rejected]).toEqual([]);
      expect(first.skipped + second.skipped).toBe(hostile.length);
      expect([...first.records, ...second.records].map((r) => [...r.record])).toEqual(quick.records.map((r) => [...r.record]));
    }
  });

  it('does not pass over a torn record on the ids of the record after it', () => {
    const { w, path } = writer();
    w.write(call({ sequence: 1 }));
    w.writeTorn(call({ sequence: 2 }), 40);
    w.write(call({ sequence: 3 }));
    const parsed = parseCdrFileRecords(readFileSync(path), { skip: () => true });
    expect(parsed.skipped).toBe(2);
    expect(parsed.rejected).toHaveLength(1);
    expect(parsed.rejected[0]!.end - parsed.rejected[0]!.start).toBe(40);
  });

  it('skips a record torn by a crash, with its byte range, and reads the next one', () => {
    const { w, path } = writer();
    w.write(call({ sequence: 1 }));
    w.writeTorn(call({ sequence: 2 }), 40);
    w.write(call({ sequence: 3 }));
    const buf = readFileSync(path);
    const parsed = parseCdrFileRecords(buf);
    expect(parsed.records.map((r) => r.record.get('sequence'))).toEqual(['1', '3']);
    expect(parsed.rejected).toHaveLength(1);
    expect(parsed.rejected[0]!.end - parsed.rejected[0]!.start).toBe(40);
    expect(parsed.consumed).toBe(buf.length);
  });

  it('holds back an unfinished tail, but never more than MAX_RECORD_BYTES of bytes that are no record', () => {
    const partial = parseCdrFileRecords(Buffer.from('{"uniqueid":"a","linkedid":"a","start":17'));
    expect(partial).toEqual({ records: [], rejected: [], consumed: 0, skipped: 0 });
    const junk = parseCdrFileRecords(Buffer.alloc(MAX_RECORD_BYTES + 1, 0x41));
    expect(junk.consumed).toBe(MAX_RECORD_BYTES + 1);
    expect(junk.rejected).toHaveLength(1);
    const long = parseCdrFileRecords(Buffer.concat([Buffer.from('{"uniqueid":"'), Buffer.alloc(MAX_RECORD_BYTES, 0x41)]));
    expect(long.consumed).toBe(MAX_RECORD_BYTES + 13);
  });

  it('gives the same CdrEvent (id and content) as the live AMI Cdr event of the same CDR', () => {
    const { w } = writer();
    const record = parseCdrFileRecords(Buffer.from(`${w.format(call())[0]}\n`)).records[0]!.record;
    const fromFile = cdrFromFileRecord(record);
    const fromAmi = mapCdr(new AmiHeaders(cdrEventFields({ uniqueId: 'moscow-1795696107.36', sequence: 3, route: 'local', origin: 'moscow', revision: 1 }).map(([key, value]) => ({ key, value }))));
    expect(fromFile).toEqual(fromAmi);
    expect(fromFile).toMatchObject({ ok: true, cdr: { cdrId: 'moscow-1795696107.36:3', routeKind: 'local', snapshotRevision: 1, disposition: 'ANSWERED', durationSec: 62, billSec: 60 } });
  });

  it('reads the Cdr event\'s headers whatever their case, the first of a repeated one winning (as AmiHeaders.get)', () => {
    const fields = cdrEventFields({ uniqueId: 'moscow-1795696107.36', sequence: 3, route: 'local', origin: 'moscow', revision: 1 }).map(([key, value]) => ({ key, value }));
    const plain = mapCdr(new AmiHeaders(fields));
    const cased = mapCdr(new AmiHeaders([...fields.map((h, i) => ({ key: i % 2 === 0 ? h.key.toLowerCase() : h.key.toUpperCase(), value: h.value })), { key: 'UniqueID', value: 'later' }]));
    expect(cased).toEqual(plain);
    expect(plain).toMatchObject({ ok: true, cdr: { cdrId: 'moscow-1795696107.36:3' } });
  });

  it('names every column once, and ends with a numeric one', () => {
    expect(new Set(CDR_COLUMNS.map((c) => c.key)).size).toBe(CDR_COLUMNS.length);
    expect(new Set(CDR_COLUMNS.map((c) => c.file.toLowerCase())).size).toBe(CDR_COLUMNS.length);
    expect(CDR_COLUMNS.at(-1)!.type).toBe('int');
  });
});
