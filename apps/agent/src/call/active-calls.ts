import { ACTIVE_CALLS_LISTED, type ActiveCall, type ActiveCallsReport } from '@fedpbx/contracts';

/** The longest caller or callee number the report carries (ActiveCall's limit). */
const NUMBER_MAX = 80;

/**
 * The calls this site's FastAGI sessions are serving now: a call enters when its route is planned and leaves when
 * its AGI session ends (the session spans the call: the agent's Dial waits for the bridge to end). In memory only;
 * cheap on the call path (a map insert and delete, a listener told).
 */
export class ActiveCalls {
  private readonly calls = new Map<number, ActiveCall>();
  private nextId = 0;
  private readonly listeners: (() => void)[] = [];

  /** Registers a call; the returned function ends it (calling it again does nothing). */
  begin(call: ActiveCall): () => void {
    const id = this.nextId++;
    this.calls.set(id, { ...call, caller: call.caller.slice(0, NUMBER_MAX), callee: call.callee.slice(0, NUMBER_MAX) });
    this.changed();
    return () => {
      if (this.calls.delete(id)) this.changed();
    };
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
    for (const c of this.calls.values()) {
      if (calls.length === ACTIVE_CALLS_LISTED) break;
      calls.push(c);
    }
    return { siteId, at: at.toISOString(), total: this.calls.size, calls };
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
