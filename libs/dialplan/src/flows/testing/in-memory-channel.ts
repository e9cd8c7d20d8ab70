import type { CallChannel, CallerId, DialOptions, DialResult, DialStatus, DialTarget } from '../call-channel.js';

/** What a scripted dial does: a status, and whether the caller hangs up during it. */
export type DialScriptStep = DialStatus | { readonly status: DialStatus; readonly callerHangsUp?: boolean };

/** What the caller does at a menu prompt: press a key, let it time out, or hang up. */
export type DigitScriptStep = string | 'timeout' | 'hangup';

export interface InMemoryChannelScript {
  readonly callerId?: CallerId;
  /**
   * Dials in order (an array; once used up every further dial is NOANSWER), or a function deciding each dial
   * from its targets (e.g. "ANSWER when 102 is among them").
   */
  readonly dial?: readonly DialScriptStep[] | ((targets: readonly DialTarget[], timeoutSec: number) => DialScriptStep);
  /** Keys at successive `readDigit` prompts; once used up, every prompt times out. */
  readonly digits?: readonly DigitScriptStep[];
  /** Sounds during whose playback the caller hangs up. */
  readonly hangupDuringPlayback?: readonly string[];
  /** The caller hangs up while leaving a voicemail. */
  readonly hangupDuringVoicemail?: boolean;
}

/** One thing the engine asked of the channel, in order. `afterHangup` marks a request made on a dead channel. */
export type ChannelEvent = (
  | { readonly kind: 'answer' }
  | { readonly kind: 'dial'; readonly targets: readonly DialTarget[]; readonly timeoutSec: number; readonly opts?: DialOptions; readonly result: DialResult }
  | { readonly kind: 'playback'; readonly sound: string }
  | { readonly kind: 'read-digit'; readonly prompt: string; readonly timeoutSec: number; readonly result: string }
  | { readonly kind: 'voicemail'; readonly mailbox: string }
  | { readonly kind: 'start-recording' }
  | { readonly kind: 'set-caller-id'; readonly callerId: CallerId }
  | { readonly kind: 'hangup' }
) & { readonly afterHangup: boolean };

/**
 * A `CallChannel` that plays a script instead of talking to Asterisk, for tests of the flow engine and of
 * anything built on it. Behaves as the port promises on a dead channel: requests resolve without effect and
 * are logged with `afterHangup: true`, so a test can assert the engine stopped in time.
 */
export class InMemoryCallChannel implements CallChannel {
  readonly events: ChannelEvent[] = [];
  answered = false;
  recording = false;
  private hungUp = false;
  private current: CallerId;
  private dialIndex = 0;
  private digitIndex = 0;

  constructor(private readonly script: InMemoryChannelScript = {}) {
    this.current = { ...script.callerId };
  }

  /** The events of one kind, typed. */
  eventsOf<K extends ChannelEvent['kind']>(kind: K): Extract<ChannelEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<ChannelEvent, { kind: K }> => e.kind === kind);
  }

  /** The events after the hang-up (should be none but the engine's own `hangup`, which it skips when already hung up). */
  get afterHangup(): ChannelEvent[] {
    return this.events.filter((e) => e.afterHangup);
  }

  /** Simulate the caller hanging up now (e.g. from a test's dial function). */
  callerHangsUp(): void {
    this.hungUp = true;
  }

  answer(): Promise<void> {
    this.log({ kind: 'answer' });
    if (!this.hungUp) this.answered = true;
    return Promise.resolve();
  }

  dial(targets: readonly DialTarget[], timeoutSec: number, opts?: DialOptions): Promise<DialResult> {
    let result: DialResult;
    const dead = this.hungUp;
    if (dead) {
      result = { status: 'CANCEL', callerHungUp: true };
    } else {
      const step = this.nextDialStep(targets, timeoutSec);
      const status = typeof step === 'string' ? step : step.status;
      const hangsUp = typeof step === 'string' ? false : step.callerHangsUp === true;
      if (hangsUp) this.hungUp = true;
      result = { status, callerHungUp: hangsUp || this.hungUp };
    }
    this.log(opts === undefined ? { kind: 'dial', targets, timeoutSec, result } : { kind: 'dial', targets, timeoutSec, opts, result }, dead);
    return Promise.resolve(result);
  }

  playback(sound: string): Promise<void> {
    this.log({ kind: 'playback', sound });
    if (this.script.hangupDuringPlayback?.includes(sound) === true) this.hungUp = true;
    return Promise.resolve();
  }

  readDigit(prompt: string, timeoutSec: number): Promise<string | 'timeout'> {
    let result: string = 'timeout';
    const dead = this.hungUp;
    if (!dead) {
      const step = this.script.digits?.[this.digitIndex++] ?? 'timeout';
      if (step === 'hangup') this.hungUp = true;
      else result = step;
    }
    this.events.push({ kind: 'read-digit', prompt, timeoutSec, result, afterHangup: dead });
    return Promise.resolve(result);
  }

  voicemail(mailbox: string): Promise<void> {
    this.log({ kind: 'voicemail', mailbox });
    if (this.script.hangupDuringVoicemail === true) this.hungUp = true;
    return Promise.resolve();
  }

  startRecording(): Promise<void> {
    this.log({ kind: 'start-recording' });
    if (!this.hungUp) this.recording = true;
    return Promise.resolve();
  }

  setCallerId(callerId: CallerId): Promise<void> {
    this.log({ kind: 'set-caller-id', callerId });
    if (!this.hungUp) this.current = { ...this.current, ...callerId };
    return Promise.resolve();
  }

  callerId(): CallerId {
    return this.current;
  }

  hangup(): Promise<void> {
    this.log({ kind: 'hangup' });
    this.hungUp = true;
    return Promise.resolve();
  }

  isHungUp(): boolean {
    return this.hungUp;
  }

  private nextDialStep(targets: readonly DialTarget[], timeoutSec: number): DialScriptStep {
    const { dial } = this.script;
    if (typeof dial === 'function') return dial(targets, timeoutSec);
    return dial?.[this.dialIndex++] ?? 'NOANSWER';
  }

  private log(event: DistributiveOmitAfterHangup<ChannelEvent>, afterHangup = this.hungUp): void {
    this.events.push({ ...event, afterHangup } as ChannelEvent);
  }
}

type DistributiveOmitAfterHangup<T> = T extends unknown ? Omit<T, 'afterHangup'> : never;
