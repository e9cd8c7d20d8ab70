/**
 * The CDR fields the agent reads from Asterisk, in ONE list: the order and names of the records that cdr_custom
 * writes to the durable CDR file (deploy/asterisk/cdr_custom.conf is rendered from it, and a test holds the shipped
 * file to {@link renderCdrCustomConf}), the headers of the live AMI `Cdr` event (deploy/asterisk/cdr_manager.conf
 * `[mappings]` are checked against {@link cdrManagerMappings}), and the parser of both. A new CDR variable is one
 * more entry here (a `uservar` column), then `npx vitest run test/ami/deploy-files.spec.ts` names the two deploy
 * files' lines to update.
 *
 * Format (Asterisk 22.10 res/cdrel_custom, read from its source): an "advanced" `format = json` category writes
 * one record per CDR as `{"<name>":<value>,...}` + LF, opening the file with fopen("a") and closing it again for
 * every record (writers.c write_record_to_file), so a rename-rotated file is left alone and the next record
 * creates the path anew. JSON mode forces quoting_method non_numeric (config.c): string fields are always in
 * double quotes, numeric ones (int64 times, int32 sequence, durations) never. The only escaping is a backslash
 * inserted before each `"` of a value (formatters.c quote_escaper): backslashes, CR, LF and control characters
 * go out raw, so a record is NOT valid JSON in general and may span lines - see {@link CdrRecordParser}.
 */

/** What a column's value is in the file: a quoted string, or an unquoted number. */
export type CdrColumnType = 'string' | 'int';

export interface CdrColumn {
  /** Our name for the value (what the mapper asks for). */
  readonly key: CdrColumnKey;
  /** The JSON name Asterisk writes: the registered field's name (registry.c), or the variable's for a uservar. */
  readonly file: string;
  /** The field as written in cdr_custom.conf `fields =`. */
  readonly conf: string;
  readonly type: CdrColumnType;
  /** The header of the same value in the AMI `Cdr` event (cdr_manager.c), matched case-insensitively. */
  readonly ami: string;
  /** The `[mappings]` left side when the default Cdr event lacks the value (`${CDR(<this>)}` => ami). */
  readonly amiMapping?: string;
}

export type CdrColumnKey =
  | 'uniqueId'
  | 'linkedId'
  | 'start'
  | 'answer'
  | 'end'
  | 'duration'
  | 'billsec'
  | 'src'
  | 'dst'
  | 'disposition'
  | 'dstChannel'
  | 'lastData'
  | 'route'
  | 'origin'
  | 'target'
  | 'trunk'
  | 'revision'
  | 'recording'
  | 'call'
  | 'legs'
  | 'sequence';

/** A CDR variable the agent sets (AGI `SET VARIABLE CDR(<name>)`), carried as a uservar / mapped header. */
function uservar(key: CdrColumnKey, name: string): CdrColumn {
  return { key, file: name, conf: `${name}(uservar)`, type: 'string', ami: name, amiMapping: name };
}

/**
 * The columns, in file order. The last one is numeric (unquoted digits), so a record's end - `}` + LF right after
 * it - can never be mistaken for text inside a value. Times are epoch seconds (`start(int64)`: unquoted, no time
 * zone to guess, 0 for "never answered"); the AMI event prints the same instant as local `YYYY-MM-DD HH:MM:SS`.
 */
export const CDR_COLUMNS: readonly CdrColumn[] = [
  { key: 'uniqueId', file: 'uniqueid', conf: 'uniqueid', type: 'string', ami: 'UniqueID' },
  { key: 'linkedId', file: 'linkedid', conf: 'linkedid', type: 'string', ami: 'LinkedID', amiMapping: 'linkedid' },
  { key: 'start', file: 'start', conf: 'start(int64)', type: 'int', ami: 'StartTime' },
  { key: 'answer', file: 'answer', conf: 'answer(int64)', type: 'int', ami: 'AnswerTime' },
  { key: 'end', file: 'end', conf: 'end(int64)', type: 'int', ami: 'EndTime' },
  { key: 'duration', file: 'duration', conf: 'duration', type: 'int', ami: 'Duration' },
  { key: 'billsec', file: 'billsec', conf: 'billsec', type: 'int', ami: 'BillableSeconds' },
  { key: 'src', file: 'src', conf: 'src', type: 'string', ami: 'Source' },
  { key: 'dst', file: 'dst', conf: 'dst', type: 'string', ami: 'Destination' },
  { key: 'disposition', file: 'disposition', conf: 'disposition', type: 'string', ami: 'Disposition' },
  // Which Dial the record is (main/cdr.c makes one per Dial): matched against FEDPBX_LEGS (call/call-legs.ts).
  { key: 'dstChannel', file: 'dstchannel', conf: 'dstchannel', type: 'string', ami: 'DestinationChannel' },
  { key: 'lastData', file: 'lastdata', conf: 'lastdata', type: 'string', ami: 'LastData' },
  uservar('route', 'FEDPBX_ROUTE'),
  uservar('origin', 'FEDPBX_ORIGIN'),
  uservar('target', 'FEDPBX_TARGET'),
  uservar('trunk', 'FEDPBX_TRUNK'),
  uservar('revision', 'FEDPBX_REVISION'),
  uservar('recording', 'FEDPBX_REC_FILE'),
  // The call across sites (<origin site>/<linkedid there>) and the plan's Dial attempts, set once before the first Dial.
  uservar('call', 'FEDPBX_CALL'),
  uservar('legs', 'FEDPBX_LEGS'),
  { key: 'sequence', file: 'sequence', conf: 'sequence', type: 'int', ami: 'Sequence', amiMapping: 'sequence' },
];

/** The cdr_custom output category (a relative name lands in `<astlogdir>/cdr-custom/`). */
export const CDR_CUSTOM_FILE_NAME = 'fedpbx-cdr.json';
/** Where Asterisk writes it with the default astlogdir; FEDPBX_CDR_FILE's documented value. */
export const DEFAULT_CDR_CUSTOM_PATH = `/var/log/asterisk/cdr-custom/${CDR_CUSTOM_FILE_NAME}`;

/** The `[mappings]` lines cdr_manager.conf needs for the live `Cdr` event to carry every column. */
export function cdrManagerMappings(): string[] {
  return CDR_COLUMNS.flatMap((c) => (c.amiMapping === undefined ? [] : [`${c.amiMapping} => ${c.ami}`]));
}

/** deploy/asterisk/cdr_custom.conf, exactly. */
export function renderCdrCustomConf(): string {
  return `; cdr_custom.conf - every CDR Asterisk makes, appended to a file the fedpbx agent reads (generated from
; apps/agent/src/cdr/cdr-columns.ts; test/ami/deploy-files.spec.ts keeps the two equal).
;
; Install: /etc/asterisk/cdr_custom.conf (root:asterisk 0640). If the site already has one, add the category
; below to it. Needs Asterisk 22.10+ (res_cdrel_custom: the "advanced" json format), cdr.conf [general]
; enable = yes (the default), cdr_custom.so loaded (the agent checks with AMI ModuleCheck and raises the alarm
; cdr-source-not-loaded otherwise), and the directory /var/log/asterisk/cdr-custom (res_cdrel_custom does not
; create it: "No such file or directory"; setup-asterisk-user.sh makes it, group asterisk, mode 2750).
;
; Why a file as well as AMI Cdr events: AMI does not replay events, so the CDRs of calls made while the agent
; was down or reconnecting exist only here. The agent reads this file at start, after every AMI reconnect and
; every second, from where it stopped (<state dir>/cdr/source-cursor.json), and stores each CDR once (key:
; uniqueid + sequence, the same as the live event's). Rotate it by rename only (logrotate.d/asterisk-fedpbx-cdr):
; Asterisk opens and closes the file for every record, and the agent reads a renamed file to its end.
;
; Fields: uservar = a CDR variable the agent sets (SET VARIABLE CDR(FEDPBX_...)); times as epoch seconds.
; JSON mode quotes text and escapes only '"' (not '\\' or line breaks): the agent's parser reads exactly that.

[${CDR_CUSTOM_FILE_NAME}]
format = json
fields = ${CDR_COLUMNS.map((c) => c.conf).join(', ')}
`;
}
