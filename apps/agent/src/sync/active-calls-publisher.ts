import { Subjects } from '@fedpbx/contracts';
import type { ActiveCalls } from '../call/active-calls.js';
import type { Logger } from '../logger.js';
import type { NatsLink } from './nats-link.js';

/** Changes within this window go in one report: a burst of calls starting makes one message, not one each. */
const COALESCE_MS = 250;
/** A report also goes this often unchanged, so a controller that (re)started knows the calls in progress. */
const REFRESH_MS = 10_000;

/**
 * Publishes the site's calls in progress on core NATS (`fedpbx.live.<site>.calls`): at most one report per
 * COALESCE_MS while they change, and every REFRESH_MS. Fire and forget, nothing stored (no JetStream write per
 * call: at 1,000 sites a busy hour would be thousands a second); a report lost while NATS is away is replaced by
 * the next. Only this site's agent may publish on its subject (nats-auth agentPermissions).
 */
export class ActiveCallsPublisher {
  private pending: NodeJS.Timeout | undefined;
  private refresh: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: { readonly siteId: string; readonly link: NatsLink; readonly calls: ActiveCalls; readonly log: Logger; readonly refreshMs?: number }) {}

  start(): void {
    this.opts.calls.onChange(() => this.soon());
    this.opts.link.onConnected(() => this.publish());
    this.refresh = setInterval(() => this.publish(), this.opts.refreshMs ?? REFRESH_MS);
    this.refresh.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.pending);
    clearInterval(this.refresh);
  }

  private soon(): void {
    if (this.pending !== undefined || this.stopped) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.publish();
    }, COALESCE_MS);
    this.pending.unref();
  }

  private publish(): void {
    const nc = this.opts.link.connection;
    if (this.stopped || nc === undefined || !this.opts.link.connected) return;
    try {
      nc.publish(Subjects.activeCalls(this.opts.siteId), JSON.stringify(this.opts.calls.report(this.opts.siteId, new Date())));
    } catch (error) {
      this.opts.log.debug({ err: error instanceof Error ? error.message : String(error) }, 'calls in progress not published');
    }
  }
}
