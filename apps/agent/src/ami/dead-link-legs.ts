/**
 * When a link goes down, the calls already in `Dial(PJSIP/...@site-<peer>)` must not wait for an INVITE that will
 * never be answered: with the far side silently gone, chan_pjsip waits for SIP timer B (64 x T1 = 32 s) and app_dial
 * ends `Everyone is busy/congested` (observed on 22.10.1). So the agent hangs up the outgoing legs towards that peer
 * that are not answered yet; app_dial sees the leg hang up with cause 38 (network out of order), counts it as "no
 * channel" (handle_cause: default) and returns DIALSTATUS=CHANUNAVAIL at once, and the call handler tries the next
 * alternative. A Dial timeout could not do this: the far phone may legitimately ring for a long time.
 *
 * Which legs: CoreShowChannels (manager.c, EVENT_FLAG_SYSTEM|REPORTING) lists every channel; Dial's outgoing
 * channels are named `PJSIP/site-<peer>-<8 hex>` and carry Application `AppDial` / `(Outgoing Line)` (app_dial.c
 * sets them), which tells them from a call that arrived FROM the peer (same name prefix, running AGI or Dial). A leg
 * already Up (ChannelState 6) is a conversation and is left alone. `Hangup` is EVENT_FLAG_SYSTEM|CALL: the deploy/
 * AMI user's `write = system` allows both actions.
 */
import { siteEndpointName } from '@fedpbx/dialplan';
import type { Logger } from '../logger.js';
import type { AmiClient } from './ami-client.js';

/** AST_CAUSE_NETWORK_OUT_OF_ORDER: app_dial's handle_cause() counts it as "no channel" -> CHANUNAVAIL. */
export const DEAD_LINK_HANGUP_CAUSE = '38';
/** AST_STATE_UP. */
const STATE_UP = '6';

export class DeadLinkLegs {
  constructor(
    private readonly ami: Pick<AmiClient, 'listAction' | 'action' | 'connected'>,
    private readonly log: Logger,
  ) {}

  /** Hangs up the unanswered outgoing legs towards `peerSiteId`; resolves with their names. Never rejects. */
  async hangUp(peerSiteId: string): Promise<string[]> {
    if (!this.ami.connected) return [];
    const prefix = `PJSIP/${siteEndpointName(peerSiteId)}-`;
    let legs: string[];
    try {
      const list = await this.ami.listAction('CoreShowChannels');
      legs = list.items
        .filter((i) => i.event === 'CoreShowChannel')
        .filter((i) => {
          const name = i.headers.get('Channel') ?? '';
          return name.startsWith(prefix) && /^[0-9a-f]{8}$/.test(name.slice(prefix.length)) && i.headers.get('Application') === 'AppDial' && i.headers.get('ChannelState') !== STATE_UP;
        })
        .map((i) => i.headers.get('Channel') ?? '');
    } catch (error) {
      this.log.warn({ peerSite: peerSiteId, err: error instanceof Error ? error.message : String(error) }, 'could not list the channels towards a dead link; their Dials end at SIP timer B');
      return [];
    }
    const done: string[] = [];
    await Promise.all(
      legs.map(async (channel) => {
        try {
          await this.ami.action('Hangup', { Channel: channel, Cause: DEAD_LINK_HANGUP_CAUSE });
          done.push(channel);
        } catch (error) {
          // `No such channel`: it ended meanwhile (answered and hung up, or its Dial gave up) - nothing to do.
          const message = error instanceof Error ? error.message : String(error);
          if (!/No such channel/.test(message)) this.log.warn({ channel, err: message }, 'could not hang up a leg towards a dead link');
        }
      }),
    );
    if (done.length > 0) this.log.info({ peerSite: peerSiteId, channels: done }, 'link down: unanswered calls towards it hung up, their callers go to the next route');
    return done;
  }
}
