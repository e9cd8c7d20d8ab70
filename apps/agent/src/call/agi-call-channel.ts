import {
  AgiCommandError,
  DialLineBuilder,
  agiVariableValue,
  mixMonitorData,
  type AgiCommandOptions,
  type AgiCommandSink,
  type AgiResponse,
  type AgiSession,
  type DialOption,
} from '@fedpbx/asterisk';
import { DIAL_STATUSES, voicemailMailbox, type CallChannel, type CallerId, type DialOptions, type DialResult, type DialStatus, type DialTarget } from '@fedpbx/dialplan';
import { FEDPBX_LEGS, type CallLegBook } from './call-legs.js';
import { addDialTarget } from './dial-target.js';

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
 * whitelisted (DialLineBuilder / mixMonitorData / contract-validated sound names and mailboxes).
 *
 * Each step of a flow (answer, play, read a digit, dial, ...) is one {@link ChannelStep} on the session's callback
 * face with the one promise the flow engine awaits: its commands (ANSWER, STREAM FILE, WAIT FOR DIGIT; the leg
 * list, Dial and DIALSTATUS) cost no promise, async frame or result object each.
 */
export class AgiCallChannel implements CallChannel {
  /** ANSWER was sent and answered. */
  answered = false;
  private hungUpLocally = false;
  private current: CallerId;

  constructor(
    readonly session: AgiSession,
    callerId: CallerId,
    /** Names the call's recording when a flow starts one. */
    private readonly recording: { recordingFile(): string },
    private readonly preDial?: PreDial,
    readonly legs?: CallLegBook,
  ) {
    this.current = callerId;
  }

  answer(): Promise<void> {
    if (this.answered || this.isHungUp()) return DONE;
    return new ChannelStep<void>(this, 'answer').start();
  }

  dial(targets: readonly DialTarget[], timeoutSec: number, opts: DialOptions = {}): Promise<DialResult> {
    if (this.session.hungUp) return Promise.resolve(CANCELLED);
    // The call id goes along when the flow rings another site (the handler runs on each outgoing channel).
    const toSite = targets.some((t) => t.kind !== 'endpoint' && t.endpoint.startsWith('site-'));
    let line: string;
    try {
      for (const target of targets) addDialTarget(DIAL_LINE, target);
      line = DIAL_LINE.line(timeoutSec, opts.allowTransfer === false ? NO_OPTIONS : TRANSFER_OPTIONS, toSite ? this.preDial : undefined);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new ChannelStep<DialResult>(this, 'dial', line).start();
  }

  playback(sound: string): Promise<void> {
    if (this.isHungUp()) return this.answer();
    return new ChannelStep<void>(this, 'playback', sound).start();
  }

  readDigit(prompt: string, timeoutSec: number): Promise<string | 'timeout'> {
    if (this.isHungUp()) return this.answer().then(timedOut);
    return new ChannelStep<string>(this, 'read-digit', prompt, timeoutSec).start();
  }

  voicemail(mailbox: string): Promise<void> {
    if (this.isHungUp()) return DONE;
    return new ChannelStep<void>(this, 'voicemail', mailbox).start();
  }

  startRecording(): Promise<void> {
    if (this.isHungUp()) return DONE;
    let data: string;
    try {
      data = mixMonitorData(this.recording.recordingFile(), ['b']);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new ChannelStep<void>(this, 'mix-monitor', data).start();
  }

  async setCallerId(callerId: CallerId): Promise<void> {
    if (callerId.name !== undefined) await this.session.setVariable('CALLERID(name)', callerId.name);
    if (callerId.number !== undefined) await this.session.setVariable('CALLERID(num)', callerId.number);
    this.current = { ...this.current, ...callerId };
  }

  callerId(): CallerId {
    return this.current;
  }

  hangup(): Promise<void> {
    this.hungUpLocally = true;
    if (this.session.hungUp || this.session.closed) return DONE;
    return new ChannelStep<void>(this, 'hangup').start();
  }

  isHungUp(): boolean {
    return this.hungUpLocally || this.session.hungUp;
  }
}

const DONE: Promise<void> = Promise.resolve();
const CANCELLED: DialResult = Object.freeze({ status: 'CANCEL', callerHungUp: true });
const timedOut = (): 'timeout' => 'timeout';
/** Dial's line for a flow's Dial (one at a time: joined and sent in the same turn). */
const DIAL_LINE = new DialLineBuilder();

/** What a {@link ChannelStep} does: one flow step of {@link AgiCallChannel}. */
type StepKind = 'answer' | 'playback' | 'read-digit' | 'dial' | 'voicemail' | 'mix-monitor' | 'hangup';

/**
 * One step of a flow on the session's callback face: its commands one after the other, each answer leading to the
 * next (the same commands, in the same order, with the same checks as the promise face's `streamFile`,
 * `waitForDigit`, `execThenGetVariable`), and one promise for the flow engine. `text` is the step's sound, prompt,
 * mailbox, MixMonitor data or Dial line.
 */
class ChannelStep<T> implements AgiCommandSink {
  /** The command whose answer is awaited. */
  private waiting: 'answer' | 'legs' | 'main' | 'wait-digit' = 'answer';
  private resolve!: (value: T) => void;
  private reject!: (error: Error) => void;

  constructor(
    private readonly channel: AgiCallChannel,
    private readonly kind: StepKind,
    private readonly text = '',
    private readonly timeoutSec = 0,
  ) {}

  start(): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    try {
      const channel = this.channel;
      switch (this.kind) {
        case 'answer':
          this.waiting = 'answer';
          channel.session.commandTo(this, 'ANSWER');
          break;
        case 'playback':
        case 'read-digit':
          // Media steps answer the channel first (once per call).
          if (!channel.answered) {
            this.waiting = 'answer';
            channel.session.commandTo(this, 'ANSWER');
          } else this.play();
          break;
        case 'dial': {
          // The leg list first when it grew (a flow's leg): the CDR this Dial opens must find its leg (call-legs.ts).
          const update = channel.legs?.takeUpdate();
          if (update === undefined) this.dial();
          else {
            this.waiting = 'legs';
            channel.session.setVariableTo(this, `CDR(${FEDPBX_LEGS})`, update);
          }
          break;
        }
        case 'voicemail':
          this.waiting = 'main';
          channel.session.execTo(this, 'VoiceMail', voicemailData(this.text, 'u'), LONG_COMMAND);
          break;
        case 'mix-monitor':
          this.waiting = 'main';
          channel.session.execTo(this, 'MixMonitor', this.text);
          break;
        case 'hangup':
          this.waiting = 'main';
          channel.session.commandTo(this, 'HANGUP');
          break;
      }
    } catch (error) {
      // A refused value (a mailbox that is not digits): the step fails, as an async function's throw would.
      this.reject(error as Error);
    }
    return promise;
  }

  commandAnswered(response: AgiResponse): void {
    try {
      this.answered(response);
    } catch (error) {
      this.reject(error as Error);
    }
  }

  commandFailed(error: Error): void {
    this.reject(error);
  }

  private answered(response: AgiResponse): void {
    const channel = this.channel;
    switch (this.waiting) {
      case 'answer':
        channel.answered = true;
        if (this.kind === 'answer') return this.resolve(undefined as T);
        if (channel.isHungUp()) return this.resolve((this.kind === 'read-digit' ? 'timeout' : undefined) as T);
        return this.play();
      case 'legs':
        return this.dial();
      case 'main':
        switch (this.kind) {
          case 'dial':
            return this.resolve({ status: dialStatusOf(agiVariableValue(response)), callerHungUp: channel.session.hungUp } as T);
          case 'read-digit': {
            // STREAM FILE: a digit pressed during the prompt, else wait for one (unless the caller is gone).
            const digit = digitOf(response);
            if (digit !== undefined) return this.resolve(digit as T);
            if (channel.isHungUp()) return this.resolve('timeout' as T);
            const ms = this.timeoutSec * 1000;
            if (!Number.isInteger(ms) || ms < -1) throw new AgiCommandError('BAD_ARGUMENT', 'WAIT FOR DIGIT timeout must be an integer >= -1');
            this.waiting = 'wait-digit';
            return channel.session.commandTo(this, 'WAIT FOR DIGIT', [String(ms)], { timeoutMs: ms + 5000 });
          }
          case 'answer':
          case 'playback':
          case 'voicemail':
          case 'mix-monitor':
          case 'hangup':
            return this.resolve(undefined as T);
        }
        return;
      case 'wait-digit':
        return this.resolve((digitOf(response) ?? 'timeout') as T);
    }
  }

  /** STREAM FILE of the sound (no digits) or of the menu's prompt (any key stops it). */
  private play(): void {
    this.waiting = 'main';
    this.channel.session.commandTo(this, 'STREAM FILE', [this.text, this.kind === 'read-digit' ? DIGITS : '']);
  }

  /** EXEC Dial, then DIALSTATUS the moment it returns (still readable on a dead channel). */
  private dial(): void {
    this.waiting = 'main';
    this.channel.session.execLineThenGetVariableTo(this, this.text, 'DIALSTATUS', LONG_COMMAND);
  }
}

/** The key a STREAM FILE or WAIT FOR DIGIT answer reports (`200 result=<ascii>`), if one was pressed. */
function digitOf(response: AgiResponse): string | undefined {
  const result = response.code === 200 ? response.resultNumber : undefined;
  return result === undefined || result <= 0 ? undefined : String.fromCharCode(result);
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
