import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PeerCdrRecord } from './fastagi-peer.js';

/** What one call's `Cdr` AMI event carries (cdr_manager with the fedpbx route tags in [mappings]). */
export interface CdrCall {
  readonly uniqueId: string;
  readonly sequence?: number;
  readonly src?: string;
  readonly dst?: string;
  readonly channel?: string;
  readonly destinationChannel?: string;
  readonly lastData?: string;
  readonly route?: string;
  readonly origin?: string;
  readonly target?: string;
  readonly trunk?: string;
  readonly revision?: number;
  readonly recordingFile?: string;
}

/** The fields of a `Cdr` event in the order Asterisk 22's cdr_manager writes them (an answered call of 62 s). */
export function cdrEventFields(c: CdrCall): [string, string][] {
  const src = c.src ?? '101';
  const dst = c.dst ?? '102';
  return [
    ['AccountCode', ''],
    ['Source', src],
    ['Destination', dst],
    ['DestinationContext', 'fedpbx-internal'],
    ['CallerID', `"Ivan" <${src}>`],
    ['Channel', c.channel ?? `PJSIP/${src}-0000000c`],
    ['DestinationChannel', c.destinationChannel ?? `PJSIP/${dst}-0000000d`],
    ['LastApplication', 'Dial'],
    ['LastData', c.lastData ?? `PJSIP/${dst},20,tT`],
    ['StartTime', '2026-11-26 12:28:27'],
    ['AnswerTime', '2026-11-26 12:28:29'],
    ['EndTime', '2026-11-26 12:29:29'],
    ['Duration', '62'],
    ['BillableSeconds', '60'],
    ['Disposition', 'ANSWERED'],
    ['AMAFlags', 'DOCUMENTATION'],
    ['UniqueID', c.uniqueId],
    ['UserField', ''],
    ['FEDPBX_ROUTE', c.route ?? 'local'],
    ['FEDPBX_ORIGIN', c.origin ?? 'moscow'],
    ['FEDPBX_TARGET', c.target ?? ''],
    ['FEDPBX_TRUNK', c.trunk ?? ''],
    ['FEDPBX_REVISION', String(c.revision ?? 1)],
    ['FEDPBX_REC_FILE', c.recordingFile ?? ''],
    ['LinkedID', c.uniqueId],
    ['Sequence', String(c.sequence ?? 1)],
  ];
}

/** cdr_manager.conf `[mappings]` as deploy/ ships them: `<CDR variable> => <header>`, in file order. */
export function deployedCdrMappings(): [string, string][] {
  const text = readFileSync(fileURLToPath(new URL('../../../deploy/asterisk/cdr_manager.conf', import.meta.url)), 'utf8');
  const section = text.slice(text.indexOf('[mappings]') + '[mappings]'.length);
  const out: [string, string][] = [];
  for (const line of section.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith(';') || t.startsWith('[')) continue;
    const [name, header] = t.split('=>').map((x) => x.trim());
    if (name && header) out.push([name, header]);
  }
  return out;
}

/**
 * The `Cdr` event cdr_manager would send for one record the peer's CDR chain dispatched: the standard fields,
 * then one header per deployed mapping, evaluated as `${CDR(<name>)}` on that record (its own variables, or the
 * built-in linkedid / sequence).
 */
export function cdrEventFromPeer(rec: PeerCdrRecord, call: { readonly src: string; readonly dst: string; readonly linkedId?: string }): [string, string][] {
  const builtin: Record<string, string> = { linkedid: call.linkedId ?? rec.uniqueId, sequence: String(rec.sequence), uniqueid: rec.uniqueId };
  const answered = rec.disposition === 'ANSWERED';
  return [
    ['AccountCode', ''],
    ['Source', call.src],
    ['Destination', call.dst],
    ['DestinationContext', 'fedpbx-internal'],
    ['CallerID', `"" <${call.src}>`],
    ['Channel', rec.channel],
    ['DestinationChannel', rec.dstChannel],
    ['LastApplication', rec.lastData === '' ? 'AGI' : 'Dial'],
    ['LastData', rec.lastData],
    ['StartTime', '2026-11-26 12:28:27'],
    ['AnswerTime', answered ? '2026-11-26 12:28:29' : ''],
    ['EndTime', '2026-11-26 12:29:29'],
    ['Duration', '62'],
    ['BillableSeconds', answered ? '60' : '0'],
    ['Disposition', rec.disposition],
    ['AMAFlags', 'DOCUMENTATION'],
    ['UniqueID', rec.uniqueId],
    ['UserField', ''],
    ...deployedCdrMappings().map(([name, header]): [string, string] => [header, builtin[name.toLowerCase()] ?? rec.variables[name] ?? '']),
  ];
}
