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
