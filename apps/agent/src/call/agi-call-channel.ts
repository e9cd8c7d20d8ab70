import { dialData, mixMonitorData, type AgiCommandOptions, type AgiSession, type DialOption } from '@fedpbx/asterisk';
import { DIAL_STATUSES, voicemailMailbox, type CallChannel, type CallerId, type DialOptions, type DialResult, type DialStatus, type DialTarget } from '@fedpbx/dialplan';
import { FEDPBX_LEGS, type CallLegBook } from './call-legs.js';
import { toAsteriskTarget } from './dial-target.js';

/** A Dial runs for the whole conversation once answered: its answer may take hours. */
export const DIAL_COMMAND_TIMEOUT_MS = 12 * 3600 * 1000;
/** Options of the commands bounded by {@link DIAL_COMMAND_TIMEOUT_MS}, and Dial's option sets: made once, not per call. */
export const LONG_COMMAND: AgiCommandOptions = Object.freeze({ timeoutMs: DIAL_COMMAND_TIMEOUT_MS });
export const TRANSFER_OPTIONS: readonly DialOption[] = Object.freeze(['t', 'T']);
export const TRUNK_DIAL_OPTIONS: readonly DialOption[] = Object.freeze(['T']);
const NO_OPTIONS: readonly DialOption[] = Object.freeze([]);
const DIGITS = '0123456789*#';
const statuses = new Set<string>(DIAL_STATUSES);

/** The pre-dial handler for Dials to other sites (Dial option `b()`, libs/dialplan FEDPBX_CONTEXTS.preDial). */
export interface PreDial {
  readonly context: string;
  readonly args: readonly string[];
}

/**
 * The flow engine's channel port over one FastAGI session. Every value that reaches application data is
 * whitelisted (dialData / mixMonitorData / contract-validated sound names and mailboxes).
 */
export class AgiCallChannel implements CallChannel {
  private answered = false;
  private hungUpLocally = false;
  private current: CallerId;

  constructor(
    private readonly session: AgiSession,
    callerId: CallerId,
    private readonly recordingFile: () => string,
    private readonly preDial?: PreDial,
    private readonly legs?: CallLegBook,
  ) {
    this.current = callerId;
  }

  async answer(): Promise<void> {
    if (this.answered || this.isHungUp()) return;
    await this.session.answer();
    this.answered = true;
  }

  async dial(targets: readonly DialTarget[], timeoutSec: number, opts: DialOptions = {}): Promise<DialResult> {
    // The call id goes along when the flow rings another site (the handler runs on each outgoing channel).
    const toSite = targets.some((t) => t.kind !== 'endpoint' && t.endpoint.startsWith('site-'));
    return dialAndWait(this.session, targets, timeoutSec, opts.allowTransfer === false ? NO_OPTIONS : TRANSFER_OPTIONS, toSite ? this.preDial : undefined, this.legs);
  }

  async playback(sound: string): Promise<void> {
    await this.answer();
    if (this.isHungUp()) return;
    await this.session.streamFile(sound, '');
  }

  async readDigit(prompt: string, timeoutSec: number): Promise<string | 'timeout'> {
    await this.answer();
    if (this.isHungUp()) return 'timeout';
    const played = await this.session.streamFile(prompt, DIGITS);
    if (played.kind === 'digit') return played.digit;
    if (this.isHungUp()) return 'timeout';
    const waited = await this.session.waitForDigit(timeoutSec * 1000, { timeoutMs: timeoutSec * 1000 + 5000 });
    return waited.kind === 'digit' ? waited.digit : 'timeout';
  }

  async voicemail(mailbox: string): Promise<void> {
    if (this.isHungUp()) return;
    await this.session.exec('VoiceMail', voicemailData(mailbox, 'u'), LONG_COMMAND);
  }

  async startRecording(): Promise<void> {
    if (this.isHungUp()) return;
    await this.session.exec('MixMonitor', mixMonitorData(this.recordingFile(), ['b']));
  }

  async setCallerId(callerId: CallerId): Promise<void> {
    if (callerId.name !== undefined) await this.session.setVariable('CALLERID(name)', callerId.name);
    if (callerId.number !== undefined) await this.session.setVariable('CALLERID(num)', callerId.number);
    this.current = { ...this.current, ...callerId };
  }

  callerId(): CallerId {
    return this.current;
  }

  async hangup(): Promise<void> {
    this.hungUpLocally = true;
    if (!this.session.hungUp && !this.session.closed) await this.session.hangup();
  }

  isHungUp(): boolean {
    return this.hungUpLocally || this.session.hungUp;
  }
}

/**
 * EXEC Dial, then DIALSTATUS (still readable on a dead channel). With `legs`, the call's leg list is written to
 * the CDR first when it grew (a flow's leg), so the CDR this Dial opens finds its own leg (call-legs.ts).
 */
export async function dialAndWait(
  session: AgiSession,
  targets: readonly DialTarget[],
  timeoutSec: number,
  options: readonly DialOption[],
  preDial?: PreDial,
  legs?: CallLegBook,
): Promise<DialResult> {
  if (session.hungUp) return { status: 'CANCEL', callerHungUp: true };
  const update = legs?.takeUpdate();
  if (update !== undefined) await session.setVariable(`CDR(${FEDPBX_LEGS})`, update);
  const data = dialData({ targets: targets.map(toAsteriskTarget), timeoutSec, options, preDial });
  // DIALSTATUS is asked the moment Dial returns (still readable on a dead channel).
  const raw = await session.execThenGetVariable('Dial', data, 'DIALSTATUS', LONG_COMMAND);
  return { status: dialStatusOf(raw), callerHungUp: session.hungUp };
}

/** DIALSTATUS as read after a Dial: anything not a known status (unset included) counts as CHANUNAVAIL. */
export function dialStatusOf(raw: string | undefined): DialStatus {
  return raw !== undefined && statuses.has(raw) ? (raw as DialStatus) : 'CHANUNAVAIL';
}

/**
 * VoiceMail data: mailbox digits in fedpbx's voicemail context (`<n>@fedpbx`, the `[fedpbx]` of the rendered
 * voicemail_fedpbx.conf, as the fallback dialplan uses it); `u` unavailable or `b` busy greeting.
 */
export function voicemailData(mailbox: string, greeting: 'u' | 'b'): string {
  if (!/^[0-9]{1,15}$/.test(mailbox)) throw new Error(`mailbox ${JSON.stringify(mailbox)} is not digits`);
  return `${voicemailMailbox(mailbox)},${greeting}`;
}
