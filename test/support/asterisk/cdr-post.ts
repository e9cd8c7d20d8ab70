// Test support: which finished CDRs Asterisk hands to its backends - ONE model, used by both peers (the AMI peer's
// PeerCdrEngine and the FastAGI peer's CdrChain), written from main/cdr.c (Asterisk 22):
// - cdr_object_dispatch() -> cdr_object_create_public_records() -> cdr_detach() -> post_cdr();
// - cdr_object_create_public_records() leaves out a record whose party A is a dialled channel (an outgoing leg's own
//   CDR) with no party B: the outgoing leg is accounted for on the caller's record. The peers model party A as the
//   calling channel only, so this never applies to what they hand here;
// - post_cdr(): with cdr.conf `unanswered` off, a record is skipped when
//   `disposition < AST_CDR_ANSWERED && (channel empty || dstchannel empty)` - an unanswered record WITHOUT a far-end
//   channel (no Dial, or a Dial that never created its outgoing channel). An unanswered Dial record with its party B
//   (NO ANSWER, BUSY, FAILED towards `PJSIP/site-piter-...`) is posted: "Unanswered calls which get offered to an
//   outgoing line will always receive log entries regardless of this option" (cdr.c's configOption docs);
// - enum ast_cdr_disposition (include/asterisk/cdr.h): NOANSWER 0, NULL 1, FAILED 2, BUSY 4, ANSWERED 8,
//   CONGESTION 16 - CONGESTION (only with cdr.conf `congestion = yes`) is above ANSWERED, so never skipped;
// - the defaults: DEFAULT_UNANSWERED "0", DEFAULT_CONGESTION "0" (cdr.c), i.e. a stock cdr.conf.

/** cdr.conf `[general]` settings that decide what reaches the backends. */
export interface CdrConf {
  readonly unanswered: boolean;
  readonly congestion: boolean;
}

/** main/cdr.c DEFAULT_UNANSWERED "0", DEFAULT_CONGESTION "0". */
export const CDR_CONF_DEFAULTS: CdrConf = Object.freeze({ unanswered: false, congestion: false });

export type CdrDisposition = 'NO ANSWER' | 'FAILED' | 'BUSY' | 'ANSWERED' | 'CONGESTION';

/** enum ast_cdr_disposition (include/asterisk/cdr.h), by the name ast_cdr_disp2str gives it. */
const DISPOSITION_VALUE: Readonly<Record<CdrDisposition, number>> = { 'NO ANSWER': 0, FAILED: 1 << 1, BUSY: 1 << 2, ANSWERED: 1 << 3, CONGESTION: 1 << 4 };

/** What post_cdr() looks at. */
export interface PostedRecord {
  readonly disposition: CdrDisposition;
  /** Party A's channel name. */
  readonly channel: string;
  /** Party B's channel name, '' when the record has none. */
  readonly dstChannel: string;
}

/** post_cdr(): whether this record reaches the backends (cdr_custom, cdr_manager, ...). */
export function postedToBackends(record: PostedRecord, conf: CdrConf = CDR_CONF_DEFAULTS): boolean {
  if (conf.unanswered) return true;
  return !(DISPOSITION_VALUE[record.disposition] < DISPOSITION_VALUE.ANSWERED && (record.channel === '' || record.dstChannel === ''));
}
