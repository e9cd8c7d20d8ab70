import { EXEC_LINE_END, dialData, execLinePrefix, mixMonitorData, type AgiSession } from '@fedpbx/asterisk';
import { ROUTE_ENTRIES, isFederationCallId, type Attempt, type RouteEntry, type RoutePlan } from '@fedpbx/contracts';
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
} from '@fedpbx/dialplan';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { RoutingState } from '../state/routing-state.js';
import type { ActiveCalls } from './active-calls.js';
import { AgiCallChannel, LONG_COMMAND, TRANSFER_OPTIONS, TRUNK_DIAL_OPTIONS, dialStatusOf, voicemailData, type PreDial } from './agi-call-channel.js';
import { toAsteriskTarget } from './dial-target.js';
import { CallLegBook, FEDPBX_LEGS, isDialAttempt, legOf, type CallLeg } from './call-legs.js';

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
/** A PJSIP channel's name: Asterisk names channels `PJSIP/<endpoint>-<8 hex>`. */
const PJSIP_CHANNEL = /^PJSIP\/.+-[0-9a-f]{8}$/;
/** Values of the CDR tags pass through MSet's comma-split: only ids made of these characters. */
const TAG_VALUE = /^[A-Za-z0-9_.:/-]*$/;
/** `PJSIP_HEADER(read,X-Fedpbx-Call)`: the federation call id a calling site put on the INVITE. */
const CALL_HEADER_READ = `PJSIP_HEADER(read,${FEDPBX_CALL_HEADER})`;
/** `EXEC "MSet" "`: the first MSet's line is joined whole from its pieces (see firstTagsLine). */
const MSET_LINE_START = execLinePrefix('MSet');

/**
 * The call path: from the AGI environment to Asterisk commands, served from the routing state in memory - no
 * database, network or disk. Built once; `handle` runs per call.
 */
export class CallHandler {
  private readonly interpreter = new FlowInterpreter();

  constructor(
    private readonly state: RoutingState,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly now: () => Date = systemNow,
    /** Where the calls in progress are counted (reported to the controller for the console). */
    private readonly activeCalls?: ActiveCalls,
  ) {}

  /**
   * One call, from its parsed environment to its last command. `acceptedAt`: `performance.now()` when the connection
   * was accepted. With `done`, the call's end is told to it (with the error, if the call failed) and the returned
   * promise never rejects: the server's bookkeeping runs from here rather than from a second async function that
   * awaits this one.
   *
   * One async function for the whole plan (route, first MSet, each attempt's Dial): every `async` frame and `await`
   * costs allocations on each call (a frame holding the function's registers, a promise, the await's reaction and
   * closures), and the common call - one Dial - needs no more than this frame and two awaits. Flows, refusals and
   * the caller-ID read of calls from other sites keep functions of their own.
   */
  async handle<C>(session: AgiSession, acceptedAt: number, done?: CallDone<C>, context?: C): Promise<void> {
    let failure: unknown;
    let failed = false;
    let active: number | undefined;
    try {
      const env = session.env;
      const entry = env.entry;
      if (entry === undefined || !ENTRIES.has(entry)) {
        this.metrics.rejectedInputs.inc({ reason: 'unknown-entry' });
        this.log.warn({ script: env.networkScript, channel: env.channel }, 'AGI request for an unknown entry; leaving the call to the dialplan fallback');
        return;
      }
      if (!this.state.ready) {
        this.log.error('no snapshot in force; leaving the call to the dialplan fallback');
        return;
      }
      const site = this.state.site;
      const endpoint = pjsipEndpoint(env.channel);
      const fromSiteId = entry === 'from-sites' && endpoint?.startsWith('site-') ? endpoint.slice(5) : undefined;
      // Which call this is across the federation. From another site: the id it sent (read only on calls from a
      // site-* endpoint, never from a trunk or phone, and only if it names a known site); started here: this site
      // and the channel's uniqueid (the call's linkedid: phones and trunks enter the fedpbx contexts directly).
      const callId = fromSiteId !== undefined ? this.callIdFrom(await session.getVariable(CALL_HEADER_READ), site) : entry === 'from-sites' ? undefined : ownCallId(site.siteId, env.uniqueId);
      const plan = resolveRoute(site, {
        entry: entry as RouteEntry,
        caller: env.callerIdNumber ?? '',
        dialled: env.extension ?? '',
        fromSiteId,
        originSiteId: fromSiteId !== undefined ? callId?.slice(0, callId.indexOf('/')) : undefined,
        trunkId: entry === 'from-pstn' ? trunkIdOf(site, endpoint) : undefined,
        health: this.state.health,
      });

      // The recording's name travels with the first MSet (one command less per recorded call).
      const recording = plan.record ? this.recordingName(session, site) : undefined;
      // exec writes the command before it returns: observed after, so the metric's bookkeeping is not on the path.
      // Every leg the call dials is registered in its book before its Dial: the plan's now, a flow's when it rings.
      const dialLegs = planLegs(site.siteId, plan);
      const legs = new CallLegBook(dialLegs);
      // The first attempt's leg, when it dials, is the plan's first leg: not worked out a second time for the tags.
      const firstAttempt = plan.attempts[0];
      const firstLeg = firstAttempt !== undefined && isDialAttempt(firstAttempt) ? dialLegs[0] : undefined;
      const first = session.execLine(firstTagsLine(plan, firstLeg, callId, legs.encoded, recording));
      this.metrics.observeTimeToFirstCommand((performance.now() - acceptedAt) / 1000);
      await first;
      // In progress from its plan until the session ends (a refused call only hears why, and is not counted).
      active =
        plan.outcome === 'denied' || this.activeCalls === undefined
          ? undefined
          : this.activeCalls.begin(
              {
                callId: callId ?? `${site.siteId}/${env.uniqueId}`,
                caller: env.callerIdNumber ?? '',
                callee: env.extension ?? '',
                routeKind: plan.routeKind,
                originSiteId: fromSiteId !== undefined ? plan.tags.originSiteId : undefined,
                targetSiteId: plan.tags.targetSiteId,
              },
              this.nowMs(),
            );
      let outcome = 'failed';
      if (plan.outcome === 'denied') outcome = await this.deny(session, plan);
      else {
        // The plan's attempts in order; the next one only when an attempt fails as a route.
        if (recording !== undefined) await session.exec('MixMonitor', mixMonitorData(recording, ['b']));
        walk: for (let i = 0; i < plan.attempts.length; i++) {
          const attempt = plan.attempts[i] as Attempt;
          if (session.hungUp) {
            outcome = 'caller-hangup';
            break;
          }
          switch (attempt.kind) {
            case 'endpoint':
            case 'site':
            case 'trunk': {
              // Channel variables only: a CDR variable set now would land on the previous leg's record (see call-legs.ts).
              if (i > 0) {
                await session.exec('MSet', attemptTags(site, plan, attempt));
                if (session.hungUp) {
                  outcome = 'caller-hangup';
                  break walk;
                }
              }
              // dialAndWait's steps, in this frame: a leg list that grew is written first, then Dial and DIALSTATUS.
              const update = legs.takeUpdate();
              if (update !== undefined) await session.setVariable(`CDR(${FEDPBX_LEGS})`, update);
              const data = dialData({
                targets: [toAsteriskTarget(attempt)],
                timeoutSec: attempt.timeoutSec,
                options: attempt.kind === 'trunk' ? TRUNK_DIAL_OPTIONS : TRANSFER_OPTIONS,
                preDial: attempt.endpoint.startsWith('site-') ? preDialFor(callId) : undefined,
              });
              const status = dialStatusOf(await session.execThenGetVariable('Dial', data, 'DIALSTATUS', LONG_COMMAND));
              outcome = OUTCOME_OF_STATUS[status];
              if (session.hungUp) {
                if (status !== 'ANSWER') outcome = 'caller-hangup';
                break walk;
              }
              const next = plan.attempts[i + 1];
              if (next?.kind === 'voicemail' && status !== 'ANSWER') continue;
              if (!ROUTE_FAILURES.has(status)) break walk;
              break;
            }
            case 'voicemail': {
              const greeting = outcome === 'busy' ? 'b' : 'u';
              await session.exec('VoiceMail', voicemailData(attempt.mailbox, greeting), LONG_COMMAND);
              outcome = 'voicemail';
              break walk;
            }
            case 'flow':
              outcome = await this.runFlow(session, site, attempt.flowId, preDialFor(callId), legs);
              break walk;
          }
        }
      }
      this.metrics.callEnded(entry, plan.routeKind, outcome);
    } catch (error) {
      if (done === undefined) throw error;
      failed = true;
      failure = error;
    } finally {
      if (active !== undefined) this.activeCalls?.end(active);
      done?.callDone(session, failed, failure, context as C);
    }
  }

  /** The X-Fedpbx-Call header's value, when it is a call id of a site this snapshot knows. */
  private callIdFrom(header: string | undefined, site: CompiledSite): string | undefined {
    if (header === undefined || header === '') return undefined;
    const slash = header.indexOf('/');
    if (isFederationCallId(header) && site.directory.has(header.slice(0, slash))) return header;
    this.metrics.rejectedInputs.inc({ reason: 'call-header' });
    return undefined;
  }

  private async deny(session: AgiSession, plan: RoutePlan): Promise<string> {
    const sound = DENY_SOUNDS[plan.deny?.code ?? ''] ?? 'cannot-complete-as-dialed';
    await session.exec('Progress');
    if (!session.hungUp) await session.exec('Playback', `${sound},noanswer`);
    return 'denied';
  }

  /** The clock in epoch ms: without a Date per call unless a test gave its own clock. */
  private nowMs(): number {
    return this.now === systemNow ? Date.now() : this.now().getTime();
  }

  private async runFlow(session: AgiSession, site: CompiledSite, flowId: string, preDial: PreDial | undefined, legs: CallLegBook): Promise<string> {
    const env = session.env;
    const channel = new AgiCallChannel(
      session,
      { ...(env.callerIdNumber !== undefined ? { number: env.callerIdNumber } : {}) },
      () => this.recordingName(session, site),
      preDial,
      legs,
    );
    const health = this.state.health;
    // A flow rings internal numbers as an internal call from this site would: local phone, other site, and on a
    // failed route the same alternatives (the PSTN behind a failed link). Each leg goes in the call's book with
    // that internal decision (route kind, target, trunk), written to the CDR before its Dial.
    const dialAttempts = (number: string): Extract<Attempt, { kind: 'endpoint' | 'site' | 'trunk' }>[] => {
      const p = resolveRoute(site, { entry: 'internal', caller: '', dialled: number, health });
      const attempts = p.attempts.filter(isDialAttempt);
      for (const a of attempts) legs.add(legOf(site.siteId, p, a));
      return attempts;
    };
    const ctx: FlowContext = {
      channel,
      now: this.now(),
      getFlow: (id) => site.flows.get(id),
      resolveExtension: (number) => {
        const first = dialAttempts(number)[0];
        return first === undefined ? undefined : [toTarget(first)];
      },
      resolveFailover: (number) => dialAttempts(number).slice(1).map(toTarget),
    };
    const result = await this.interpreter.run(flowId, ctx);
    return `flow-${result.end}`;
  }

  private recordingName(session: AgiSession, site: CompiledSite): string {
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

function toTarget(a: Extract<Attempt, { kind: 'endpoint' | 'site' | 'trunk' }>): DialTarget {
  const { timeoutSec: _ignored, ...target } = a;
  return target;
}

/** `PJSIP/site-piter-0000001a` -> `site-piter`: the endpoint a channel belongs to (no match array on the call path). */
function pjsipEndpoint(channel: string): string | undefined {
  return PJSIP_CHANNEL.test(channel) ? channel.slice('PJSIP/'.length, -'-0000001a'.length) : undefined;
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
  // Every value is a safeTag, a leg list of FIELD characters or a checked caller ID: nothing to quote or refuse.
  return [
    MSET_LINE_START, FEDPBX_HANDLED_VARIABLE, '=1,FEDPBX_ROUTE=', route, ',FEDPBX_ORIGIN=', origin, ',FEDPBX_TARGET=', tgt, ',FEDPBX_TRUNK=', trk,
    ',FEDPBX_REVISION=', revision, ',FEDPBX_DENY=', safeTag(plan.deny?.code ?? ''), rec === undefined ? '' : `,FEDPBX_REC_FILE=${rec}`,
    ',CDR(FEDPBX_ROUTE)=', route, ',CDR(FEDPBX_ORIGIN)=', origin, ',CDR(FEDPBX_TARGET)=', tgt, ',CDR(FEDPBX_TRUNK)=', trk,
    ',CDR(FEDPBX_REVISION)=', revision, rec === undefined ? '' : `,CDR(FEDPBX_REC_FILE)=${rec}`,
    call === '' ? '' : `,CDR(FEDPBX_CALL)=${call}`, legs === '' ? '' : `,CDR(${FEDPBX_LEGS})=${legs}`,
    // A dial string from the numbering plan (DialString): digits, * # and a leading +, nothing MSet splits on.
    plan.callerId === undefined || !/^\+?[0-9*#]{1,32}$/.test(plan.callerId) ? '' : `,CALLERID(num)=${plan.callerId}`,
    EXEC_LINE_END,
  ].join('');
}

/** MSet data before a later attempt's Dial: the channel variables of that leg (no CDR variables, see firstTagsLine). */
function attemptTags(site: CompiledSite, plan: RoutePlan, attempt: Extract<Attempt, { kind: 'endpoint' | 'site' | 'trunk' }>): string {
  const leg = legOf(site.siteId, plan, attempt);
  return [
    'FEDPBX_ROUTE=', safeTag(leg.routeKind), ',FEDPBX_TARGET=', safeTag(leg.targetSiteId ?? ''), ',FEDPBX_TRUNK=', safeTag(leg.trunkId ?? ''),
  ].join('');
}

function safeTag(value: string): string {
  return TAG_VALUE.test(value) ? value : '';
}
