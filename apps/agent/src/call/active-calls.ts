import { ACTIVE_CALLS_LISTED, type ActiveCall, type ActiveCallsReport } from '@fedpbx/contracts';

/** The longest caller or callee number the report carries (ActiveCall's limit). */
const NUMBER_MAX = 80;

/** A call as the call path registers it: `since` as a clock reading, turned into text only when reported. */
export type ActiveCallStart = Omit<ActiveCall, 'since'>;

interface Entry {
  readonly call: ActiveCallStart;
  readonly sinceMs: number;
}

/**
 * The calls this site's FastAGI sessions are serving now: a call enters when its route is planned and leaves when
 * its AGI session ends (the session spans the call: the agent's Dial waits for the bridge to end). In memory only;
 * cheap on the call path: a map insert and delete and a listener told - the call's object is kept as given (no
 * copy, no date text, no closure per call); the report, a few times a second at most, builds what it sends.
 */
export class ActiveCalls {
  private readonly calls = new Map<number, Entry>();
  private nextId = 0;
  private readonly listeners: (() => void)[] = [];

  /** Registers a call that began at `sinceMs` (epoch ms); returns its id for {@link end}. */
  begin(call: ActiveCallStart, sinceMs: number = Date.now()): number {
    const id = this.nextId++;
    this.calls.set(id, { call, sinceMs });
    this.changed();
    return id;
  }

  /** Ends the call `id` (ending it again does nothing). */
  end(id: number): void {
    if (this.calls.delete(id)) this.changed();
  }

  get count(): number {
    return this.calls.size;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Every call counted, the oldest ACTIVE_CALLS_LISTED listed (a Map keeps insertion order: oldest first). */
  report(siteId: string, at: Date): ActiveCallsReport {
    const calls: ActiveCall[] = [];
    for (const { call, sinceMs } of this.calls.values()) {
      if (calls.length === ACTIVE_CALLS_LISTED) break;
      calls.push(listed(call, sinceMs));
    }
    return { siteId, at: at.toISOString(), total: this.calls.size, calls };
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

/** The call as reported: numbers cut to the contract's length, fields not known left out, `since` as ISO text. */
function listed(call: ActiveCallStart, sinceMs: number): ActiveCall {
  const out: ActiveCall = { callId: call.callId, caller: call.caller.slice(0, NUMBER_MAX), callee: call.callee.slice(0, NUMBER_MAX), since: new Date(sinceMs).toISOString() };
  if (call.routeKind !== undefined) out.routeKind = call.routeKind;
  if (call.originSiteId !== undefined) out.originSiteId = call.originSiteId;
  if (call.targetSiteId !== undefined) out.targetSiteId = call.targetSiteId;
  return out;
}
