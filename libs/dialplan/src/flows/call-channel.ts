import type { AttemptOf, CallFlow, TraceStep } from '@fedpbx/contracts';

/**
 * Asterisk's `DIALSTATUS` after `Dial()` returns (app_dial.c). `DONTCALL` and `TORTURE` come from privacy
 * screening, `INVALIDARGS` from bad application data.
 */
export const DIAL_STATUSES = ['ANSWER', 'BUSY', 'NOANSWER', 'CANCEL', 'CONGESTION', 'CHANUNAVAIL', 'DONTCALL', 'TORTURE', 'INVALIDARGS'] as const;
export type DialStatus = (typeof DIAL_STATUSES)[number];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Whom to ring, as a plain value: a phone at this site, an extension at another site over the inter-site link,
 * or a number through a trunk. These are the route resolver's dialable attempts (`Attempt` in
 * `@fedpbx/contracts`) without their own ring time: a flow node sets the ring time. The flow engine never builds
 * Asterisk dial strings; the channel adapter does, from these whitelisted values.
 */
export type DialTarget = DistributiveOmit<AttemptOf<'endpoint' | 'site' | 'trunk'>, 'timeoutSec'>;

export interface DialOptions {
  /** Let the called (`t`) and the calling (`T`) party transfer, as the founding scenario's `Dial(...,15,Tt)`. */
  readonly allowTransfer?: boolean;
}

export interface DialResult {
  readonly status: DialStatus;
  /**
   * The caller hung up while the dial was in progress. Asterisk answers `result=-1` both when the caller hangs
   * up and when the far end does after an answer (asterisk-protocols.md), so the adapter must report this
   * separately rather than have it inferred from the result code.
   */
  readonly callerHungUp: boolean;
}

export interface CallerId {
  readonly name?: string;
  readonly number?: string;
}

/**
 * The port through which the flow engine drives one call. The agent implements it over FastAGI; tests use
 * `InMemoryCallChannel`. Every method that talks to Asterisk is async; none of them throws because the caller
 * hung up: after a hang-up they resolve without effect (`dial` -> `CANCEL` with `callerHungUp`, `readDigit` ->
 * `'timeout'`) and `isHungUp()` turns true, which the engine checks after every step. Errors of the transport
 * itself (socket gone, protocol violation) are thrown and end the run.
 */
export interface CallChannel {
  /** Answer the channel if it is not answered yet; a no-op after that (media steps call it before playing). */
  answer(): Promise<void>;
  /** Ring all `targets` at once for up to `timeoutSec`; resolves when Dial returns (after the bridged call, if answered). */
  dial(targets: readonly DialTarget[], timeoutSec: number, opts?: DialOptions): Promise<DialResult>;
  /** Play a sound to the caller (Asterisk `Playback`/`STREAM FILE`, no digits accepted). */
  playback(sound: string): Promise<void>;
  /** Play `prompt` and wait up to `timeoutSec` for one DTMF digit (`0`-`9`, `*`, `#`); `'timeout'` when none came. */
  readDigit(prompt: string, timeoutSec: number): Promise<string | 'timeout'>;
  /** Leave-a-message voicemail for `mailbox` (Asterisk `VoiceMail(mailbox,u)`). */
  voicemail(mailbox: string): Promise<void>;
  /** Start recording the call (Asterisk `MixMonitor`); the recording's name and place are the adapter's business. */
  startRecording(): Promise<void>;
  /** Set the caller ID shown to the parties rung from now on; an absent field is left as it is. */
  setCallerId(callerId: CallerId): Promise<void>;
  /** The caller ID as it is now (from the AGI environment and any `setCallerId` since). */
  callerId(): CallerId;
  hangup(): Promise<void>;
  /** True once the caller has hung up (or `hangup()` was called). Synchronous: the adapter tracks AGI `HANGUP`. */
  isHungUp(): boolean;
}

/** What a flow run needs from the world, injected by the agent (or a test) per call. */
export interface FlowContext {
  readonly channel: CallChannel;
  /** The time the call is judged at (time conditions). The library never reads the clock. */
  readonly now: Date;
  /**
   * Whom to ring for an internal number: local phone, another site's extension, ... as the route resolver
   * decides. The targets returned are rung together. `undefined` or `[]` means the number leads nowhere, which
   * a flow treats as `unavailable`.
   */
  resolveExtension(number: string): Promise<readonly DialTarget[] | undefined> | readonly DialTarget[] | undefined;
  /**
   * Where to ring `number` next, one after another, when ringing it alone failed as a route (DIALSTATUS
   * CONGESTION or CHANUNAVAIL: the link or trunk, not the callee) - the alternatives a phone dialling the number
   * would be given (another site's extension over the PSTN when the link fails). Absent or empty: none.
   */
  resolveFailover?(number: string): readonly DialTarget[] | undefined;
  /** A flow of this site by id (for `goto-flow` and the start of a run). */
  getFlow(flowId: string): CallFlow | undefined;
  /** Receives each step of the run as it happens, to explain a call step by step. */
  trace?(step: TraceStep): void;
}
