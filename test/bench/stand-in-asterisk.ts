// What Asterisk's res_agi.c writes to a FastAGI server, for benches that drive the agent's call path without a
// socket (bench:agi-callpath, bench:agi-ttfc-cold): one call's environment block and the answer to each command the
// call mix sends.
import type { CallTemplate } from './call-mix.js';

/** What Asterisk answers to each command the mix sends (res_agi.c's texts; the IVR's caller presses 1). */
const ANSWERS: readonly [prefix: string, answer: Buffer][] = [
  ['GET VARIABLE "DIALSTATUS"', Buffer.from('200 result=1 (ANSWER)\n')],
  ['GET VARIABLE', Buffer.from('200 result=0\n')],
  ['STREAM FILE', Buffer.from('200 result=49 endpos=8000\n')],
  ['WAIT FOR DIGIT', Buffer.from('200 result=49\n')],
  ['HANGUP', Buffer.from('200 result=1\n')],
];
const DEFAULT_ANSWER = Buffer.from('200 result=0\n');

/** Asterisk's answer to the command `line` (the shared Buffer: not to be written into). */
export function answerTo(line: string): Buffer {
  for (const [prefix, answer] of ANSWERS) if (line.startsWith(prefix)) return answer;
  return DEFAULT_ANSWER;
}

/** The environment block res_agi.c sends for call number `n` of `template` (fastagi-peer.ts's lines). */
export function envBlock(template: CallTemplate, n: number): Buffer {
  const channel = template.extra?.channel ?? `PJSIP/${template.callerNum}-00000001`;
  const lines: [string, string][] = [
    ['agi_network', 'yes'],
    ['agi_network_script', template.script],
    ['agi_request', `agi://127.0.0.1:4573/${template.script}`],
    ['agi_channel', channel],
    ['agi_language', 'en'],
    ['agi_type', 'PJSIP'],
    ['agi_uniqueid', `1733000000.${n}`],
    ['agi_version', '22.10.1'],
    ['agi_callerid', template.callerNum],
    ['agi_calleridname', template.callerName ?? 'unknown'],
    ['agi_callingpres', '0'],
    ['agi_callingani2', '0'],
    ['agi_callington', '0'],
    ['agi_callingtns', '0'],
    ['agi_dnid', template.extension],
    ['agi_rdnis', 'unknown'],
    ['agi_context', template.context],
    ['agi_extension', template.extension],
    ['agi_priority', '1'],
    ['agi_enhanced', '0.0'],
    ['agi_accountcode', ''],
    ['agi_threadid', String(140_000_000_000 + n * 512)],
  ];
  let text = '';
  for (const [key, value] of lines) text += `${key}: ${value}\n`;
  return Buffer.from(`${text}\n`, 'utf8');
}
