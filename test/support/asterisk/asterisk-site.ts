// Test and demo support: one site's Asterisk as the agent meets it, put together from the faithful peers - the AMI
// peer with the user of the shipped deploy/asterisk/manager_fedpbx.conf (its read/write classes), the PJSIP model
// reading the files the agent writes into the site's config dir (contacts qualified, ContactStatus / PeerStatus
// events, Dial served by it), and the CDR engine (cdr_manager's `Cdr` events to whoever is logged in). A call placed
// through {@link AsteriskSite.call} runs the agent's FastAGI script with the FastAGI peer, its Dials go to the PJSIP
// model, and the CDRs the call leaves are dispatched when it hangs up - so the agent reports link health and CDRs
// exactly as it would beside a real Asterisk.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AmiPeer } from './ami-peer.js';
import { deployedAmiUser } from './deployed-ami-user.js';
import { PeerCdrEngine } from './cdr-engine.js';
import { placeCall, type CallRecord, type DialOutcome, type DialRequest, type PlaceCallOptions } from './fastagi-peer.js';
import { PjsipSim } from './pjsip-sim.js';

export interface AsteriskSiteOptions {
  readonly siteId: string;
  /** The site's Asterisk config dir (created): pjsip.conf and extensions.conf include the agent's files. */
  readonly configDir: string;
}

/** One call at the site: who calls what, and (optionally) a far end that answers differently from the model. */
export interface SiteCall {
  readonly caller: string;
  readonly number: string;
  /** Overrides the PJSIP model for a Dial (e.g. a far site that answers CONGESTION); undefined: the model decides. */
  readonly farEnd?: (req: DialRequest) => DialOutcome | undefined;
  readonly extra?: Partial<PlaceCallOptions>;
}

export class AsteriskSite {
  /** What the agent needs to log in (FEDPBX_AMI_* and FEDPBX_ASTERISK_CONFIG_DIR). */
  readonly agentEnv: Readonly<Record<string, string>>;
  private channelSeq = 0x10;

  private constructor(
    readonly siteId: string,
    readonly ami: AmiPeer,
    readonly pjsip: PjsipSim,
    readonly cdrs: PeerCdrEngine,
    secret: string,
    user: string,
    readonly configDir: string,
  ) {
    this.agentEnv = {
      FEDPBX_AMI_HOST: '127.0.0.1',
      FEDPBX_AMI_PORT: String(ami.port),
      FEDPBX_AMI_USER: user,
      FEDPBX_AMI_SECRET: secret,
      FEDPBX_ASTERISK_CONFIG_DIR: configDir,
    };
  }

  /** Asterisk up with the admin's files including fedpbx's (not there yet: the agent writes them, then reloads). */
  static async start(opts: AsteriskSiteOptions): Promise<AsteriskSite> {
    const secret = randomBytes(18).toString('base64url');
    const { name, user } = deployedAmiUser(secret);
    const ami = await AmiPeer.start({ systemName: opts.siteId, users: { [name]: user } });
    mkdirSync(opts.configDir, { recursive: true });
    writeFileSync(join(opts.configDir, 'pjsip.conf'), '; the admin\'s pjsip.conf: fedpbx\'s part is included\n#include pjsip_fedpbx.conf\n');
    writeFileSync(join(opts.configDir, 'extensions.conf'), '[default]\n#include extensions_fedpbx.conf\n');
    const pjsip = new PjsipSim({ ami, configDir: opts.configDir }).start();
    // A stock cdr.conf, as the calls' CDR chains (CallRecord.cdrs) have it: both apply the one post_cdr() model
    // (cdr-post.ts), so every record a chain hands over is posted here too.
    const cdrs = new PeerCdrEngine(ami, undefined);
    return new AsteriskSite(opts.siteId, ami, pjsip, cdrs, secret, name, opts.configDir);
  }

  /** The agent is logged in to AMI. */
  async agentLoggedIn(timeoutMs: number): Promise<void> {
    await this.ami.waitFor(() => this.ami.loggedInSessions.length > 0, timeoutMs);
  }

  /** The aor exists (the agent's pjsip file is loaded). */
  hasAor(aor: string): boolean {
    return this.pjsip.contactStatus(aor).length > 0 || this.ami.pjsip.endpoints.some((e) => (e.aor ?? '').split(',').includes(aor));
  }

  /** A phone of the site calls: the agent's internal script decides, the PJSIP model (or `farEnd`) answers each Dial. */
  async call(agiPort: number, c: SiteCall): Promise<CallRecord> {
    const seq = (this.channelSeq++).toString(16).padStart(8, '0');
    const started = Date.now();
    const record = await placeCall({
      host: '127.0.0.1',
      port: agiPort,
      script: 'internal',
      context: 'fedpbx-internal',
      channel: `PJSIP/${c.caller}-${seq}`,
      uniqueid: `${Math.floor(started / 1000)}.${this.channelSeq}`,
      callerId: { num: c.caller, name: c.caller },
      extension: c.number,
      onDialAsync: (req) => Promise.resolve(c.farEnd?.(req)).then((o) => o ?? this.pjsip.dial(req)),
      timeoutMs: 60_000,
      ...c.extra,
    });
    const ended = Date.now();
    // main/cdr.c hands each finished record to the backends when the channel hangs up.
    for (const r of record.cdrs) {
      this.cdrs.dispatch({
        uniqueid: r.uniqueId,
        linkedid: r.uniqueId,
        start: started,
        ...(r.disposition === 'ANSWERED' ? { answer: Math.min(ended, started + 10) } : {}),
        end: ended,
        src: c.caller,
        dst: c.number,
        dcontext: 'fedpbx-internal',
        clid: `"${c.caller}" <${c.caller}>`,
        channel: r.channel,
        dstchannel: r.dstChannel,
        lastapp: r.lastData === '' ? 'AGI' : 'Dial',
        lastdata: r.lastData,
        disposition: r.disposition,
        sequence: r.sequence,
        vars: r.variables,
      });
    }
    return record;
  }

  /** The far side at `host` stops (or starts again) answering anything: the link to it dies silently. */
  setHostAlive(host: string, alive: boolean): void {
    this.pjsip.setHostAlive(host, alive);
  }

  async stop(): Promise<void> {
    this.pjsip.stop();
    await this.ami.close();
  }
}
