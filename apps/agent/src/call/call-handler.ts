import { DialLineBuilder, EXEC_LINE_END, LinePieces, agiVariableValue, execLinePrefix, mixMonitorData, type AgiCommandSink, type AgiResponse, type AgiSession } from '@fedpbx/asterisk';
import { ROUTE_ENTRIES, isFederationCallId, type Attempt, type CallFlow, type RouteEntry, type RoutePlan } from '@fedpbx/contracts';
import {
  FEDPBX_CALL_HEADER,
  FEDPBX_CONTEXTS,
  DIAL_STATUSES,
  FEDPBX_HANDLED_VARIABLE,
  FlowInterpreter,
  recordingFileName,
  resolveRoute,
  type CompiledSite,
  type DialStatus,
  type DialTarget,
  type FlowContext,
  type FlowRunResult,
} from '@fedpbx/dialplan';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { RoutingState } from '../state/routing-state.js';
import type { ActiveCalls } from './active-calls.js';
import { AgiCallChannel, LONG_COMMAND, TRANSFER_OPTIONS, TRUNK_DIAL_OPTIONS, dialStatusOf, voicemailData, type PreDial } from './agi-call-channel.js';
import { addDialTarget } from './dial-target.js';
import { CallLegBook, FEDPBX_LEGS, isDialAttempt, legOf, type CallLeg } from './call-legs.js';
import { isPjsipChannel, isTagValue } from './char-checks.js';

const ENTRIES = new Set<string>(ROUTE_ENTRIES);
const systemNow = (): Date => new Date();
/** The call's outcome (`fedpbx_calls_total{outcome}`) after a Dial: its status in lower case, `answered` for ANSWER. */
const OUTCOME_OF_STATUS = Object.fromEntries(DIAL_STATUSES.map((s) => [s, s === 'ANSWER' ? 'answered' : s.toLowerCase()])) as Record<DialStatus, string>;

/** Told by {@link CallHandler.handle} when a call is over: `failed` with the error it ended with. */
export interface CallDone<C> {
  callDone(session: AgiSession, failed: boolean, error: unknown, context: C): void;
}
/** Dial statuses after which the next alternative is tried: the route failed, not the callee. */
const ROUTE_FAILURES = new Set(['CHANUNAVAIL', 'CONGESTION']);
const DENY_SOUNDS: Record<string, string> = { unassigned: 'ss-noservice', 'invalid-number': 'ss-noservice' };
/** `PJSIP_HEADER(read,X-Fedpbx-Call)`: the federation call id a calling site put on the INVITE. */
const CALL_HEADER_READ = `PJSIP_HEADER(read,${FEDPBX_CALL_HEADER})`;
/** `EXEC "MSet" "`: the first MSet's line is joined whole from its pieces (see firstTagsLine). */
const MSET_LINE_START = execLinePrefix('MSet');

/**
 * The call path: from the AGI environment to Asterisk commands, served from the routing state in memory - no
 * database, network or disk. Built once; `handle` runs per call (a {@link CallRun}).
 */
export class CallHandler {
  private readonly interpreter = new FlowInterpreter();

  constructor(
    readonly state: RoutingState,
    readonly metrics: AgentMetrics,
    readonly log: Logger,
    readonly now: () => Date = systemNow,
    /** Where the calls in progress are counted (reported to the controller for the console). */
    readonly activeCalls?: ActiveCalls,
  ) {}

  /**
   * One call, from its parsed environment to its last command; `done` is told when it is over (with the error, if
   * the call failed). `acceptedAt`: `performance.now()` when the connection was accepted.
   */
  handle<C>(session: AgiSession, acceptedAt: number, done: CallDone<C>, context: C): void {
    new CallRun(this, session, done, context).start(acceptedAt);
  }

  /** The X-Fedpbx-Call header's value, when it is a call id of a site this snapshot knows. */
  callIdFrom(header: string | undefined, site: CompiledSite): string | undefined {
    if (header === undefined || header === '') return undefined;
    const slash = header.indexOf('/');
    if (isFederationCallId(header) && site.directory.has(header.slice(0, slash))) return header;
    this.metrics.rejectedInputs.inc({ reason: 'call-header' });
    return undefined;
  }

  /** The clock in epoch ms: without a Date per call unless a test gave its own clock. */
  nowMs(): number {
    return this.now === systemNow ? Date.now() : this.now().getTime();
  }

  /** An IVR flow, through the flow engine's promise-based channel port: resolves with how the run ended. */
  runFlow(session: AgiSession, site: CompiledSite, flowId: string, preDial: PreDial | undefined, legs: CallLegBook): Promise<FlowRunResult> {
    return this.interpreter.run(flowId, new FlowCall(this, session, site, preDial, legs));
  }

  recordingName(session: AgiSession, site: CompiledSite): string {
    const env = session.env;
    const name = recordingFileName({
      at: this.now(),
      caller: env.callerIdNumber ?? '',
      callee: env.extension ?? '',
      uniqueId: env.uniqueId,
      timeZone: site.site.timezone,
    });
    return `fedpbx/${site.siteId}/${name}`;
  }
}

type DialAttempt = Extract<Attempt, { kind: 'endpoint' | 'site' | 'trunk' }>;

/**
 * What a flow run needs from the call (FlowContext), as one object with methods rather than a context of closures.
 * A flow rings internal numbers as an internal call from this site would: local phone, other site, and on a failed
 * route the same alternatives (the PSTN behind a failed link). Each leg goes in the call's book with that internal
 * decision (route kind, target, trunk), written to the CDR before its Dial.
 */
class FlowCall implements FlowContext {
  readonly channel: AgiCallChannel;
  readonly now: Date;
  /** The links' health when the flow started: every number it rings is routed with it. */
  private readonly health: RoutingState['health'];

  constructor(
    private readonly handler: CallHandler,
    private readonly session: AgiSession,
    private readonly site: CompiledSite,
    preDial: PreDial | undefined,
    private readonly legs: CallLegBook,
  ) {
    const number = session.env.callerIdNumber;
    this.channel = new AgiCallChannel(session, number !== undefined ? { number } : {}, this, preDial, legs);
    this.now = handler.now();
    this.health = handler.state.health;
  }

  getFlow(flowId: string): CallFlow | undefined {
    return this.site.flows.get(flowId);
  }

  resolveExtension(number: string): readonly DialTarget[] | undefined {
    const first = this.dialAttempts(number)[0];
    return first === undefined ? undefined : [toTarget(first)];
  }

  resolveFailover(number: string): readonly DialTarget[] {
    return this.dialAttempts(number).slice(1).map(toTarget);
  }

  /** The name of the call's recording (a flow's record step). */
  recordingFile(): string {
    return this.handler.recordingName(this.session, this.site);
  }

  private dialAttempts(number: string): DialAttempt[] {
    const site = this.site;
    const plan = resolveRoute(site, { entry: 'internal', caller: '', dialled: number, health: this.health });
    const attempts = plan.attempts.filter(isDialAttempt);
    for (const a of attempts) this.legs.add(legOf(site.siteId, plan, a));
    return attempts;
  }
}

/**
 * Where a {@link CallRun} is: the command whose answer it waits for (or `flow`, `over`). What each answer leads to is
 * the table in {@link CallRun.answered}.
 */
type CallStep =
  | 'start'
  /** GET VARIABLE of the X-Fedpbx-Call header, on a call from another site. */
  | 'call-header'
  /** The first MSet: the fallback guard and the route's tags (firstTagsLine). */
  | 'first-tags'
  /** A refused call: Progress, then Playback of why. */
  | 'progress'
  | 'playback'
  /** A recorded call's MixMonitor, before its first attempt. */
  | 'mix-monitor'
  /** A later attempt's MSet (attemptTags), then the leg list when it grew, then Dial with DIALSTATUS. */
  | 'attempt-tags'
  | 'legs'
  | 'dial'
  | 'voicemail'
  /** An IVR flow, run by the flow engine (its own promises). */
  | 'flow'
  /** A failure before the caller heard anything: an MSet clears the fallback guard and the CDR's route (see {@link CallRun.failed}). */
  | 'releasing'
  | 'over';

/**
 * One call as a state machine over the session's callback face ({@link AgiCommandSink}): each step sends one
 * command, and its answer says what comes next. Where an async function costs a frame, a promise per command and
 * an await's reactions, a call is this one object (the call path runs hundreds of times a second).
 *
 * Each step sends its command as its last action: the session may tell this sink from inside the send (a command
 * refused, or a test double that answers at once).
 */
class CallRun<C> implements AgiCommandSink {
  private step: CallStep = 'start';
  /** `performance.now()` at the connection's accept: the time to first command is observed when the first MSet goes out. */
  private acceptedAt = 0;
  private entry!: RouteEntry;
  private site!: CompiledSite;
  private plan!: RoutePlan;
  private callId: string | undefined;
  private fromSiteId: string | undefined;
  private endpoint: string | undefined;
  private recording: string | undefined;
  private legs!: CallLegBook;
  /** The calls-in-progress entry, from the first MSet's answer until the call is over. */
  private active: number | undefined;
  /** The plan's attempt being tried, and the call's outcome so far (`fedpbx_calls_total{outcome}`). */
  private attempt = 0;
  private outcome = 'failed';
  /** The first MSet (which sets the fallback guard) was sent, and whether a command the caller hears has been since. */
  private guarded = false;
  private heard = false;
  /** What the call failed with, while the fallback guard is being cleared. */
  private failure: unknown;
  /** The recorded call's MixMonitor was answered: its file exists, and the CDR keeps its name whatever follows. */
  private recordingStarted = false;
  /** A Dial is on the wire (its answer, DIALSTATUS, not read yet), and whether one ended with the route failed. */
  private dialling = false;
  private routeFailed = false;

  constructor(
    private readonly handler: CallHandler,
    private readonly session: AgiSession,
    private readonly done: CallDone<C>,
    private readonly context: C,
  ) {}

  start(acceptedAt: number): void {
    this.acceptedAt = acceptedAt;
    try {
      const env = this.session.env;
      const entry = env.entry;
      if (entry === undefined || !ENTRIES.has(entry)) {
        this.handler.metrics.rejectedInputs.inc({ reason: 'unknown-entry' });
        this.handler.log.warn({ script: env.networkScript, channel: env.channel }, 'AGI request for an unknown entry; leaving the call to the dialplan fallback');
        return this.finish(false, undefined);
      }
      if (!this.handler.state.ready) {
        this.handler.log.error('no snapshot in force; leaving the call to the dialplan fallback');
        return this.finish(false, undefined);
      }
      this.entry = entry as RouteEntry;
      this.site = this.handler.state.site;
      this.endpoint = pjsipEndpoint(env.channel);
      this.fromSiteId = entry === 'from-sites' && this.endpoint?.startsWith('site-') ? this.endpoint.slice(5) : undefined;
      // Which call this is across the federation. From another site: the id it sent (read only on calls from a
      // site-* endpoint, never from a trunk or phone, and only if it names a known site); started here: this site
      // and the channel's uniqueid (the call's linkedid: phones and trunks enter the fedpbx contexts directly).
      if (this.fromSiteId !== undefined) {
        this.step = 'call-header';
        return this.session.getVariableTo(this, CALL_HEADER_READ);
      }
      this.route(entry === 'from-sites' ? undefined : ownCallId(this.site.siteId, env.uniqueId));
    } catch (error) {
      this.failed(error);
    }
  }

  commandAnswered(response: AgiResponse): void {
    try {
      this.answered(response);
    } catch (error) {
      this.failed(error);
    }
  }

  commandFailed(error: Error): void {
    if (this.step === 'releasing') return this.finish(true, this.failure);
    this.failed(error);
  }

  /** What follows the answer to each step's command. */
  private answered(response: AgiResponse): void {
    const session = this.session;
    switch (this.step) {
      case 'call-header':
        return this.route(this.handler.callIdFrom(agiVariableValue(response), this.site));
      case 'first-tags':
        return this.failure === undefined ? this.routed() : this.failed(this.failure);
      case 'progress':
        if (session.hungUp) return this.end('denied');
        this.step = 'playback';
        return session.execTo(this, 'Playback', `${DENY_SOUNDS[this.plan.deny?.code ?? ''] ?? 'cannot-complete-as-dialed'},noanswer`);
      case 'playback':
        return this.end('denied');
      case 'mix-monitor':
        this.recordingStarted = true;
        return this.tryAttempt();
      case 'attempt-tags':
        return session.hungUp ? this.end('caller-hangup') : this.dial();
      case 'legs':
        return this.sendDial();
      case 'dial':
        this.dialling = false;
        return this.dialled(dialStatusOf(agiVariableValue(response)));
      case 'voicemail':
        return this.end('voicemail');
      case 'releasing':
        return this.finish(true, this.failure);
      case 'start':
      case 'flow':
      case 'over':
        throw new Error(`an AGI answer at call step '${this.step}', which sent no command`);
    }
  }

  /** The route's plan, and its first MSet on the wire. */
  private route(callId: string | undefined): void {
    const env = this.session.env;
    const site = this.site;
    const fromSiteId = this.fromSiteId;
    this.callId = callId;
    const plan = resolveRoute(site, {
      entry: this.entry,
      caller: env.callerIdNumber ?? '',
      dialled: env.extension ?? '',
      fromSiteId,
      originSiteId: fromSiteId !== undefined ? callId?.slice(0, callId.indexOf('/')) : undefined,
      trunkId: this.entry === 'from-pstn' ? trunkIdOf(site, this.endpoint) : undefined,
      health: this.handler.state.health,
    });
    this.plan = plan;
    // The recording's name travels with the first MSet (one command less per recorded call).
    const recording = plan.record ? this.handler.recordingName(this.session, site) : undefined;
    this.recording = recording;
    // Every leg the call dials is registered in its book before its Dial: the plan's now, a flow's when it rings.
    const dialLegs = planLegs(site.siteId, plan);
    this.legs = new CallLegBook(dialLegs);
    // The first attempt's leg, when it dials, is the plan's first leg: not worked out a second time for the tags.
    const firstAttempt = plan.attempts[0];
    const firstLeg = firstAttempt !== undefined && isDialAttempt(firstAttempt) ? dialLegs[0] : undefined;
    this.step = 'first-tags';
    this.guarded = true;
    this.session.execLineTo(this, firstTagsLine(plan, firstLeg, callId, this.legs.encoded, recording));
    // The command is written before execLineTo returns: observed after, so the metric's bookkeeping is not on the path.
    // A throw here comes with the first MSet in flight: the failure waits for its answer, and the release goes out
    // then (routedOrReleased) - never queued behind it, with the first MSet's answer taken for the release's.
    try {
      this.handler.metrics.observeTimeToFirstCommand((performance.now() - this.acceptedAt) / 1000);
    } catch (error) {
      if (this.step === 'first-tags') this.failure = error;
      else this.failed(error);
    }
  }

  /** The first MSet is answered: the call is in progress; a refusal is told why, a route's attempts are tried. */
  private routed(): void {
    const plan = this.plan;
    if (plan.outcome === 'denied') {
      // Refused: it only hears why, and is not counted as in progress.
      this.step = 'progress';
      this.heard = true;
      return this.session.execTo(this, 'Progress');
    }
    const activeCalls = this.handler.activeCalls;
    if (activeCalls !== undefined) {
      const env = this.session.env;
      this.active = activeCalls.begin(
        {
          callId: this.callId ?? `${this.site.siteId}/${env.uniqueId}`,
          caller: env.callerIdNumber ?? '',
          callee: env.extension ?? '',
          routeKind: plan.routeKind,
          originSiteId: this.fromSiteId !== undefined ? plan.tags.originSiteId : undefined,
          targetSiteId: plan.tags.targetSiteId,
        },
        this.handler.nowMs(),
      );
    }
    if (this.recording === undefined) return this.tryAttempt();
    this.step = 'mix-monitor';
    this.session.execTo(this, 'MixMonitor', mixMonitorData(this.recording, ['b']));
  }

  /** The plan's attempt at {@link attempt}, unless the plan or the caller is done. */
  private tryAttempt(): void {
    const attempt = this.plan.attempts[this.attempt];
    if (attempt === undefined) return this.end(this.outcome);
    if (this.session.hungUp) return this.end('caller-hangup');
    switch (attempt.kind) {
      case 'endpoint':
      case 'site':
      case 'trunk':
        if (this.attempt === 0) return this.dial();
        // Channel variables only: a CDR variable set now would land on the previous leg's record (see call-legs.ts).
        this.step = 'attempt-tags';
        return this.session.execTo(this, 'MSet', attemptTags(this.site, this.plan, attempt));
      case 'voicemail':
        this.step = 'voicemail';
        this.heard = true;
        return this.session.execTo(this, 'VoiceMail', voicemailData(attempt.mailbox, this.outcome === 'busy' ? 'b' : 'u'), LONG_COMMAND);
      case 'flow':
        this.step = 'flow';
        this.heard = true;
        void this.handler.runFlow(this.session, this.site, attempt.flowId, preDialFor(this.callId), this.legs).then(
          (result) => this.flowEnded(`flow-${result.end}`),
          (error: unknown) => this.failed(error),
        );
        return;
    }
  }

  /** A Dial attempt: the leg list first when it grew (the CDR this Dial opens must find its leg), then Dial. */
  private dial(): void {
    const update = this.legs.takeUpdate();
    if (update === undefined) return this.sendDial();
    this.step = 'legs';
    this.session.setVariableTo(this, `CDR(${FEDPBX_LEGS})`, update);
  }

  private sendDial(): void {
    const attempt = this.plan.attempts[this.attempt] as DialAttempt;
    const line = addDialTarget(DIAL_LINE, attempt).line(
      attempt.timeoutSec,
      attempt.kind === 'trunk' ? TRUNK_DIAL_OPTIONS : TRANSFER_OPTIONS,
      attempt.endpoint.startsWith('site-') ? preDialFor(this.callId) : undefined,
    );
    this.step = 'dial';
    this.heard = true;
    this.dialling = true;
    this.session.execLineThenGetVariableTo(this, line, 'DIALSTATUS', LONG_COMMAND);
  }

  /** After a Dial: the next attempt when the route failed (or voicemail follows an unanswered call), else the end. */
  private dialled(status: DialStatus): void {
    this.outcome = OUTCOME_OF_STATUS[status];
    if (this.session.hungUp) return this.end(status === 'ANSWER' ? this.outcome : 'caller-hangup');
    const next = this.plan.attempts[this.attempt + 1];
    const toVoicemail = next?.kind === 'voicemail' && status !== 'ANSWER';
    if (!toVoicemail && !ROUTE_FAILURES.has(status)) return this.end(this.outcome);
    if (ROUTE_FAILURES.has(status)) this.routeFailed = true;
    this.attempt += 1;
    this.tryAttempt();
  }

  private flowEnded(outcome: string): void {
    try {
      this.end(outcome);
    } catch (error) {
      this.failed(error);
    }
  }

  /**
   * The call failed (a command failed, or a step threw). Once the first MSet has set the fallback guard, the
   * dialplan takes the call as the agent's and hangs it up after AGI() (extensions-renderer.ts entrySteps): while
   * the caller has heard nothing yet - no Progress, Dial, VoiceMail or flow - the guard is cleared first, so the
   * fallback dialplan still serves the call rather than it being dropped. The same MSet clears the route the first
   * one put on the CDR: the fallback's Dial makes the call's one record (main/cdr.c), and it must say what the
   * fallback did, not the route the agent had planned (a leg it never dialled, a revision, a recording never made -
   * kept when the MixMonitor already runs). On a session already gone the command fails at once and the call simply ends.
   */
  private failed(error: unknown): void {
    if (this.step === 'over' || this.step === 'releasing') return;
    if (!this.guarded) return this.finish(true, error);
    if (this.heard) {
      if (!this.emergencyToRetry()) return this.finish(true, error);
      // Only the guard: the CDR variables set now would land on the failed Dial's record too (call-legs.ts), and the
      // fallback dials the plan's own trunks, which the leg list already names.
      this.failure = error;
      this.step = 'releasing';
      return this.session.execTo(this, 'MSet', RELEASE_GUARD);
    }
    this.failure = error;
    this.step = 'releasing';
    this.session.execTo(this, 'MSet', this.recordingStarted ? RELEASE_DATA : `${RELEASE_DATA},CDR(FEDPBX_REC_FILE)=`);
  }

  /**
   * After a Dial the caller has heard ringing at most; whether a failure then still gives the call to the fallback
   * depends on what that fallback would do (extensions-renderer.ts):
   * - an emergency number: it dials every emergency trunk of the site, so a trunk the agent had not reached yet is
   *   a working path - released when every Dial so far failed on the route (CHANUNAVAIL, CONGESTION) and none is on
   *   the wire (one that may be connected to the emergency centre is never followed by a second call there);
   * - another site's number (internal, from a trunk's DID): one Dial over the hop the agent uses too (nextHop and
   *   viaOf pick the same link or hub), the one that has just failed or that the agent skipped as down - a second
   *   try of it only delays the hang-up (32 s of SIP timer B on a link that died silently), and the PSTN attempt the
   *   agent lost is in no fallback;
   * - an external number (PSTN, TEHO, hop-off for another site): no fallback has outbound routes (`i` hangs up);
   * - a phone here, then its voicemail: the fallback rings the same phone, no voicemail.
   * So only the emergency call is released; agent-fallback.e2e pins both the emergency and the inter-site case.
   */
  private emergencyToRetry(): boolean {
    return this.plan.routeKind === 'emergency' && this.routeFailed && !this.dialling && !this.session.hungUp;
  }

  /** The call ran its course: counted with its outcome. */
  private end(outcome: string): void {
    this.handler.metrics.callEnded(this.entry, this.plan.routeKind, outcome);
    this.finish(false, undefined);
  }

  /**
   * Once per call: out of the calls in progress, and the server told - always, or the session would stay open until
   * its idle bound (the caller in silence): a throw on the way out is the call's failure.
   */
  private finish(failed: boolean, error: unknown): void {
    if (this.step === 'over') return;
    this.step = 'over';
    let failure = { failed, error };
    try {
      if (this.active !== undefined) this.handler.activeCalls?.end(this.active);
    } catch (endError) {
      if (!failed) failure = { failed: true, error: endError };
    }
    this.done.callDone(this.session, failure.failed, failure.error, this.context);
  }
}

/** The pre-dial handler that carries the call id to another site: made only for a Dial that goes to one. */
function preDialFor(callId: string | undefined): PreDial | undefined {
  return callId === undefined ? undefined : { context: FEDPBX_CONTEXTS.preDial, args: [callId] };
}

/** The legs of the plan's Dial attempts, in order. */
function planLegs(siteId: string, plan: RoutePlan): CallLeg[] {
  const legs: CallLeg[] = [];
  for (const attempt of plan.attempts) if (isDialAttempt(attempt)) legs.push(legOf(siteId, plan, attempt));
  return legs;
}

function toTarget(a: DialAttempt): DialTarget {
  const { timeoutSec: _ignored, ...target } = a;
  return target;
}

/** `PJSIP/site-piter-0000001a` -> `site-piter`: the endpoint a channel belongs to (no match array on the call path). */
function pjsipEndpoint(channel: string): string | undefined {
  // Asterisk names PJSIP channels `PJSIP/<endpoint>-<8 hex>`.
  return isPjsipChannel(channel) ? channel.slice('PJSIP/'.length, -'-0000001a'.length) : undefined;
}

function trunkIdOf(site: CompiledSite, endpoint: string | undefined): string | undefined {
  if (endpoint === undefined || !endpoint.startsWith('trunk-')) return undefined;
  return site.localTrunksByName.get(endpoint.slice(6))?.id;
}

/** This site and the call's uniqueid, when the uniqueid reads as one (`[systemname-]epoch.seq`). */
function ownCallId(siteId: string, uniqueId: string): string | undefined {
  const id = `${siteId}/${uniqueId}`;
  return isFederationCallId(id) ? id : undefined;
}

/**
 * The first MSet's EXEC line, before any Dial: the fallback guard, the route decision both as channel variables (for the
 * admin's own dialplan, e.g. hangup handlers) and as CDR variables - cdr_manager `[mappings]` read `${CDR(...)}`,
 * and plain channel variables are not CDR variables in Asterisk 12+ (deploy/asterisk/cdr_manager.conf) - and the
 * presented caller ID when the plan changes it. The CDR variables are set here only: main/cdr.c copies them to
 * every later Dial's record, and FEDPBX_LEGS lets each record be matched to its own leg (call-legs.ts).
 * FEDPBX_ROUTE/TARGET/TRUNK on the CDR are the call's first choice.
 */
function firstTagsLine(plan: RoutePlan, leg: CallLeg | undefined, callId: string | undefined, legs: string, recording?: string): string {
  const route = safeTag(leg?.routeKind ?? plan.tags.routeKind);
  const origin = safeTag(plan.tags.originSiteId);
  const tgt = safeTag(leg === undefined ? (plan.tags.targetSiteId ?? '') : (leg.targetSiteId ?? ''));
  const trk = safeTag(leg === undefined ? (plan.tags.trunkId ?? '') : (leg.trunkId ?? ''));
  const revision = safeTag(String(plan.tags.revision));
  const rec = recording === undefined ? undefined : safeTag(recording);
  const call = callId === undefined ? '' : safeTag(callId);
  // The variables, then the same ones as CDR variables except the fallback guard and FEDPBX_DENY. One join of
  // constant pieces and values (this runs on every call) makes the whole EXEC line flat at once, where
  // concatenation would build a rope of ~30 pieces, and data joined first would be copied again into the line.
  // Every value is a safeTag, a leg list of isLegField characters or a checked caller ID: nothing to quote or refuse.
  return FIRST_TAGS.add(MSET_LINE_START).add(FEDPBX_HANDLED_VARIABLE).add('=1,FEDPBX_ROUTE=').add(route)
    .add(',FEDPBX_ORIGIN=').add(origin).add(',FEDPBX_TARGET=').add(tgt).add(',FEDPBX_TRUNK=').add(trk)
    .add(',FEDPBX_REVISION=').add(revision).add(',FEDPBX_DENY=').add(safeTag(plan.deny?.code ?? ''))
    .add(rec === undefined ? '' : `,FEDPBX_REC_FILE=${rec}`)
    .add(',CDR(FEDPBX_ROUTE)=').add(route).add(',CDR(FEDPBX_ORIGIN)=').add(origin).add(',CDR(FEDPBX_TARGET)=').add(tgt)
    .add(',CDR(FEDPBX_TRUNK)=').add(trk).add(',CDR(FEDPBX_REVISION)=').add(revision)
    .add(rec === undefined ? '' : `,CDR(FEDPBX_REC_FILE)=${rec}`)
    .add(call === '' ? '' : `,CDR(FEDPBX_CALL)=${call}`)
    .add(legs === '' ? '' : `,CDR(${FEDPBX_LEGS})=${legs}`)
    // A dial string from the numbering plan (DialString): digits, * # and a leading +, nothing MSet splits on.
    .add(plan.callerId === undefined || !/^\+?[0-9*#]{1,32}$/.test(plan.callerId) ? '' : `,CALLERID(num)=${plan.callerId}`)
    .add(EXEC_LINE_END)
    .join();
}

/** MSet data before a later attempt's Dial: the channel variables of that leg (no CDR variables, see firstTagsLine). */
function attemptTags(site: CompiledSite, plan: RoutePlan, attempt: DialAttempt): string {
  const leg = legOf(site.siteId, plan, attempt);
  return [
    'FEDPBX_ROUTE=', safeTag(leg.routeKind), ',FEDPBX_TARGET=', safeTag(leg.targetSiteId ?? ''), ',FEDPBX_TRUNK=', safeTag(leg.trunkId ?? ''),
  ].join('');
}

/**
 * MSet data that gives a call back to the dialplan's fallback ({@link CallRun.failed}): the guard and the first MSet's
 * CDR route tags cleared (FEDPBX_CALL and FEDPBX_ORIGIN stay: the fallback sets the same call id and origin).
 */
const RELEASE_DATA = `${FEDPBX_HANDLED_VARIABLE}=,CDR(FEDPBX_ROUTE)=,CDR(FEDPBX_TARGET)=,CDR(FEDPBX_TRUNK)=,CDR(FEDPBX_REVISION)=,CDR(${FEDPBX_LEGS})=`;

/** MSet data that gives an emergency call back to the fallback after a failed Dial: the guard alone ({@link CallRun.emergencyToRetry}). */
const RELEASE_GUARD = `${FEDPBX_HANDLED_VARIABLE}=`;

/** The first MSet's line (firstTagsLine). */
const FIRST_TAGS = new LinePieces();
/** Dial's EXEC line (sendDial), joined once from its checked pieces: no target object, data or option string first. */
const DIAL_LINE = new DialLineBuilder();

/** Values of the CDR tags pass through MSet's comma-split: only ids made of A-Z a-z 0-9 _ . : / - (isTagValue). */
function safeTag(value: string): string {
  return isTagValue(value) ? value : '';
}
