// Test support: Asterisk's CDR engine handing each finished CDR to its backends, as observed on 22.10.1:
// - cdr.conf `unanswered` (default no): what reaches the backends is decided by the one model both peers use,
//   cdr-post.ts (main/cdr.c post_cdr(): an unanswered record without a far-end channel is skipped, an unanswered
//   Dial record with its party B is not);
// - cdr_manager (when running, ModuleCheck-visible in the AMI peer's module set): an `Event: Cdr` to the AMI sessions
//   logged in at that moment - nobody else ever sees it (AMI does not replay); its `[mappings]` (read from the
//   shipped deploy/asterisk/cdr_manager.conf) add `${CDR(x)}` headers after the standard ones (cdr_manager.c);
// - cdr_custom (when running): the record appended to its file by the faithful CdrCustomWriter.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AmiPeer } from './ami-peer.js';
import type { CdrCustomWriter, PeerCdr } from './cdr-custom-writer.js';
import { CDR_CONF_DEFAULTS, postedToBackends, type CdrConf } from './cdr-post.js';

const CDR_MANAGER_CONF = join(import.meta.dirname, '..', '..', '..', 'deploy', 'asterisk', 'cdr_manager.conf');

export class PeerCdrEngine {
  /** CDRs dispatched to at least one backend. */
  dispatched = 0;
  private readonly mappings: readonly (readonly [string, string])[];

  constructor(
    private readonly ami: AmiPeer,
    private readonly writer: CdrCustomWriter | undefined,
    private readonly conf: CdrConf = CDR_CONF_DEFAULTS,
  ) {
    const text = readFileSync(CDR_MANAGER_CONF, 'utf8');
    this.mappings = [...text.slice(text.indexOf('[mappings]')).matchAll(/^([A-Za-z_]+)\s*=>\s*([A-Za-z_]+)\s*$/gm)].map((m) => [m[1]!, m[2]!] as const);
  }

  dispatch(cdr: PeerCdr): void {
    if (!postedToBackends({ disposition: cdr.disposition ?? 'ANSWERED', channel: cdr.channel ?? '', dstChannel: cdr.dstchannel ?? '' }, this.conf)) return;
    this.dispatched++;
    if (this.ami.moduleLoaded('cdr_custom')) this.writer?.write(cdr);
    if (this.ami.moduleLoaded('cdr_manager')) this.ami.event('Cdr', this.eventFields(cdr));
  }

  /** cdr_manager.c manager_log: the standard headers, then one per mapping. */
  eventFields(cdr: PeerCdr): [string, string][] {
    const t = (ms: number | undefined): string => (ms === undefined ? '' : localTime(new Date(ms)));
    const builtIn: Record<string, string> = { linkedid: cdr.linkedid ?? cdr.uniqueid, sequence: String(cdr.sequence) };
    return [
      ['AccountCode', cdr.accountcode ?? ''],
      ['Source', cdr.src ?? ''],
      ['Destination', cdr.dst ?? ''],
      ['DestinationContext', cdr.dcontext ?? ''],
      ['CallerID', cdr.clid ?? ''],
      ['Channel', cdr.channel ?? ''],
      ['DestinationChannel', cdr.dstchannel ?? ''],
      ['LastApplication', cdr.lastapp ?? ''],
      ['LastData', cdr.lastdata ?? ''],
      ['StartTime', t(cdr.start)],
      ['AnswerTime', t(cdr.answer)],
      ['EndTime', t(cdr.end)],
      ['Duration', String(cdr.duration ?? Math.round((cdr.end - cdr.start) / 1000))],
      ['BillableSeconds', String(cdr.billsec ?? (cdr.answer === undefined ? 0 : Math.round((cdr.end - cdr.answer) / 1000)))],
      ['Disposition', cdr.disposition ?? 'ANSWERED'],
      ['AMAFlags', 'DOCUMENTATION'],
      ['UniqueID', cdr.uniqueid],
      ['UserField', cdr.userfield ?? ''],
      ...this.mappings.map(([variable, header]) => [header, builtIn[variable.toLowerCase()] ?? cdr.vars?.[variable] ?? ''] as [string, string]),
    ];
  }
}

function localTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
