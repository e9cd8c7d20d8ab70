import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { importPublicKey } from '@fedpbx/signing';
import { AlarmBoard } from './alarms/alarm-board.js';
import { AgiServer } from './agi/agi-server.js';
import { AmiClient } from './ami/ami-client.js';
import { AsteriskStatus } from './ami/asterisk-status.js';
import { DeadLinkLegs } from './ami/dead-link-legs.js';
import { LocalPresence } from './presence/local-presence.js';
import type { PresenceBus } from './presence/presence-ports.js';
import { RemoteLamps } from './presence/remote-lamps.js';
import { AsteriskConfigWriter } from './asterisk-config/config-writer.js';
import { FEDERATION_TRANSPORT } from '@fedpbx/dialplan';
import { workerRunner } from './asterisk-config/render-in-worker.js';
import type { SnapshotText } from './asterisk-config/include-files.js';
import { CdrFileSource } from './cdr/cdr-file-source.js';
import { CdrSourceCheck } from './cdr/cdr-source-check.js';
import { ActiveCalls } from './call/active-calls.js';
import { CallHandler } from './call/call-handler.js';
import type { AgentConfig } from './config.js';
import type { Logger } from './logger.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { startMetricsServer } from './metrics/metrics-server.js';
import { RecordingRetentionSweeper, siteRecordingsDir } from './recording/retention-sweeper.js';
import { CdrOutbox } from './state/cdr-outbox.js';
import { compactHeap } from './state/heap.js';
import { workerExtensionReader, type ExtensionReader } from './state/extension-reader.js';
import { RoutingState, type SnapshotInForce } from './state/routing-state.js';
import { CONFIG_APPLY_ALARM, SnapshotApplier } from './state/snapshot-applier.js';
import { SnapshotStore } from './state/snapshot-store.js';
import type { SyncClient } from './sync/sync-client.js';
import { AGENT_VERSION } from './version.js';
import { siteKeyDir, siteKeyPath } from './wireguard/site-key.js';
import { DryRunWgRunner, ExecWgRunner } from './wireguard/wg-runner.js';
import { WireguardManager } from './wireguard/wireguard-manager.js';
import { WireguardMesh } from './wireguard/wireguard-mesh.js';

export interface AgentStartOptions {
  /** A listening FastAGI socket inherited from the supervisor (file descriptor) instead of FEDPBX_AGI_LISTEN. */
  readonly agiListenFd?: number | undefined;
  /** false: serve FastAGI only, until `startIo()` (see `start`). Default true. */
  readonly startIo?: boolean | undefined;
  /** `prepare` for a standby: no bootstrap file applied (no state dir writes while another agent serves). */
  readonly standby?: boolean | undefined;
}

/** Asterisk runs without fedpbx-transport (AMI: `Unable to retrieve transport`). */
export const TRANSPORT_FAILED_ALARM = 'pjsip-transport-failed';

/**
 * Wires the agent once: local state first (so calls are served from disk with no network at all), then the
 * FastAGI listener and metrics; sync, AMI and WireGuard attach to the same state.
 */
export class Agent {
  readonly metrics: AgentMetrics;
  readonly alarms: AlarmBoard;
  readonly state = new RoutingState();
  readonly store: SnapshotStore;
  readonly applier: SnapshotApplier;
  /** A head office's extension reader, which keeps a worker started for the next read (stopped with the agent). */
  private readonly extensionReader: ExtensionReader;
  readonly cdrOutbox: CdrOutbox;
  /** The calls the FastAGI sessions serve now (reported to the controller, shown in the console). */
  readonly activeCalls = new ActiveCalls();
  private agi: AgiServer | undefined;
  private metricsServer: Server | undefined;
  private ami: AmiClient | undefined;
  private asteriskStatus: AsteriskStatus | undefined;
  private localPresence: LocalPresence | undefined;
  private remoteLamps: RemoteLamps | undefined;
  private sync: SyncClient | undefined;
  private wireguard: WireguardMesh | undefined;
  private recordings: RecordingRetentionSweeper | undefined;
  private cdrFile: CdrFileSource | undefined;
  private configWriter: AsteriskConfigWriter | undefined;
  private cdrSourceCheck: CdrSourceCheck | undefined;
  /**
   * The whole snapshot in force while `start` wires the parts that render from it (Asterisk config, WireGuard
   * mesh); dropped once started - the routing state keeps no extensions, later snapshots reach them through the
   * applier's hooks and listeners. With its JSON text, which is what the Asterisk config renderer's worker gets.
   */
  private startupSnapshot: { readonly snapshot: SnapshotInForce; readonly text: SnapshotText } | undefined;
  private starting = false;
  private fromDisk = false;
  private rendersAtStart = false;
  private ioStarted = false;
  private bootstrapTried = false;
  /** A bootstrap file's apply left running while calls are served (from disk): awaited before the state dir is released. */
  private bootstrapApply: Promise<void> | undefined;
  private released: Promise<void> | undefined;
  private agiPort: number | undefined;
  private metricsPort: number | undefined;

  constructor(
    readonly config: AgentConfig,
    readonly log: Logger,
  ) {
    this.metrics = new AgentMetrics(true, config.FEDPBX_METRICS_LOOP_DELAY_MS);
    const keys = [importPublicKey(config.FEDPBX_CONTROLLER_KEY_ID, config.FEDPBX_CONTROLLER_PUBLIC_KEY)];
    this.store = new SnapshotStore(config.FEDPBX_STATE_DIR, config.FEDPBX_SITE_ID, keys);
    this.alarms = new AlarmBoard(log.child({ component: 'alarms' }), this.metrics.registry);
    // A head office's extensions are read in a worker thread: the event loop answers FastAGI meanwhile.
    this.extensionReader = workerExtensionReader({ alarms: this.alarms });
    this.applier = new SnapshotApplier(config.FEDPBX_SITE_ID, keys, this.store, this.state, this.metrics, log, this.extensionReader);
    this.cdrOutbox = new CdrOutbox(config.FEDPBX_STATE_DIR, { alarms: this.alarms });
    // The controller sees an alarm come and go now, not with the next heartbeat up to 10 s later.
    this.alarms.onChange(() => this.sync?.heartbeatNow());
    this.applier.onApplied((snapshot, text) => {
      if (this.starting) this.startupSnapshot = { snapshot, text: text() };
      // Whichever path could not apply one (a bootstrap file, the bucket's watch): a snapshot in force now is saved.
      this.alarms.clear(CONFIG_APPLY_ALARM);
    });
  }

  /**
   * Serves FastAGI from the state dir at once; then (unless `startIo` is false) the parts that do IO on the state
   * dir, the network and Asterisk: metrics, bootstrap file, sync, AMI and config files, WireGuard, recordings. A
   * supervised agent taking over from another one (planned restart) starts with `startIo: false` and calls
   * `startIo()` once the old agent has released them: never two writers of the outbox, cursor or snapshot files.
   */
  async start(opts: AgentStartOptions = {}): Promise<{ agiPort: number; metricsPort: number | undefined }> {
    const started = process.hrtime.bigint();
    await this.prepare(opts);
    return this.serve(opts.startIo !== false, started);
  }

  /**
   * Everything before serving: the state dir's snapshot loaded and compiled, the FastAGI server built but not
   * listening. A supervisor's standby agent stops here until it is told to take over (`serve`).
   */
  async prepare(opts: AgentStartOptions = {}): Promise<void> {
    this.starting = true;
    await this.store.init();
    await this.loadLocalSnapshot();
    // With a snapshot in force, calls are served at once and a bootstrap file is only checked afterwards.
    this.fromDisk = this.state.ready;
    if (!this.fromDisk && opts.startIo !== false && opts.standby !== true) await this.applyBootstrap();
    // Only the Asterisk config writer and the WireGuard mesh render from the whole snapshot at start; without them
    // it goes now, so that this compaction frees its extensions.
    this.rendersAtStart = this.config.FEDPBX_ASTERISK_CONFIG_DIR !== undefined || this.config.FEDPBX_WIREGUARD !== 'off';
    if (!this.rendersAtStart) this.releaseStartupSnapshot();
    await compactHeap();

    const handler = new CallHandler(this.state, this.metrics, this.log, undefined, this.activeCalls);
    this.agi = new AgiServer(
      {
        host: this.config.FEDPBX_AGI_LISTEN.host,
        port: this.config.FEDPBX_AGI_LISTEN.port,
        maxSessions: this.config.FEDPBX_AGI_MAX_SESSIONS,
        idleTimeoutMs: this.config.FEDPBX_AGI_IDLE_TIMEOUT_MS,
        listenFd: opts.agiListenFd,
      },
      handler,
      this.metrics,
      this.log,
    );
  }

  /**
   * Listens for FastAGI (after `prepare`); with `io`, the IO parts follow. `refresh`: a standby taking over reads
   * the state dir again first, for a snapshot the agent before it applied since.
   */
  async serve(io: boolean, started = process.hrtime.bigint(), refresh = false): Promise<{ agiPort: number; metricsPort: number | undefined }> {
    if (this.agi === undefined) throw new Error('serve() before prepare()');
    if (refresh) {
      await this.loadLocalSnapshot(true);
      if (!this.rendersAtStart) this.releaseStartupSnapshot();
      this.fromDisk = this.state.ready;
    }
    const agi = await this.agi.start();
    this.agiPort = agi.port;
    if (io) await this.startMetrics();
    this.log.info(
      {
        agi: `${agi.host}:${agi.port}`,
        metrics: this.metricsPort,
        revision: this.state.revision,
        startMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
        uptimeMs: Math.round(process.uptime() * 1000),
        waitedForCpuMs: mainThreadWaitedForCpuMs(),
        rssMb: Math.round(process.memoryUsage.rss() / 1e6),
        heapMb: Math.round(process.memoryUsage().heapUsed / 1e6),
        ...(io ? {} : { io: 'waiting for the agent before it to release the state dir' }),
      },
      'agent serving FastAGI',
    );
    if (io) await this.startIoParts();
    return { agiPort: agi.port, metricsPort: this.metricsPort };
  }

  /** The IO parts of a `start({ startIo: false })` agent, once the agent before it has released them. */
  async startIo(): Promise<void> {
    if (this.ioStarted) return;
    await this.startMetrics();
    this.log.info({ metrics: this.metricsPort }, 'agent took over sync, AMI and the state dir');
    await this.startIoParts();
  }

  private async startMetrics(): Promise<void> {
    const m = await startMetricsServer(this.config.FEDPBX_METRICS_LISTEN.host, this.config.FEDPBX_METRICS_LISTEN.port, this.metrics, () => ({
      ok: this.state.ready,
      detail: { site: this.config.FEDPBX_SITE_ID, revision: this.state.revision, agiSessions: this.agi?.activeSessions ?? 0, alarms: this.alarms.list() },
    }));
    this.metricsServer = m.server;
    this.metricsPort = m.port;
  }

  private async startIoParts(): Promise<void> {
    this.ioStarted = true;
    if (!this.bootstrapTried) {
      if (this.fromDisk) this.bootstrapApply = this.applyBootstrap();
      else await this.applyBootstrap();
    }
    if (!this.state.ready) this.log.error('no snapshot: calls go to the dialplan fallback until one arrives');
    // Calls are served from here on; sync (its NATS libraries load on demand) and Asterisk follow.
    await this.startSync();
    await this.startAsterisk(this.agiPort ?? this.config.FEDPBX_AGI_LISTEN.port);
    this.startCdrFile();
    this.startWireguard();
    this.startRecordingRetention();
    if (this.rendersAtStart) {
      this.releaseStartupSnapshot();
      // Its extensions are garbage in the old space now: one more compaction (a ~20 MB heap: a few ms, once) rather
      // than carrying them until V8's next full collection, whose limit they would raise.
      await compactHeap();
    }
  }

  async stop(graceMs = 5000): Promise<void> {
    const closed = this.agi?.stopAccepting();
    await this.step('AGI calls draining', () => this.agi?.drain(graceMs));
    await this.step('AGI listener closing (connections still open)', () => closed);
    await this.releaseIo();
  }

  /** The step of `stop` under way (a stop that does not end says where it hangs: main.ts). */
  stopping: string | undefined;

  private async step(name: string, f: () => Promise<unknown> | undefined): Promise<void> {
    this.stopping = name;
    await f();
    this.stopping = undefined;
  }

  /**
   * Planned restart, old side: stop accepting (the listening socket stays open in the supervisor and the new
   * agent, which already serves), release every IO part so the new agent can take them (`onReleased`), then let
   * the calls in progress finish for up to `drainMs`.
   */
  async handOver(drainMs: number, onReleased: () => void): Promise<void> {
    const closed = this.agi?.stopAccepting();
    await this.releaseIo();
    onReleased();
    await this.agi?.drain(drainMs);
    await closed;
  }

  private releaseIo(): Promise<void> {
    this.released ??= this.releaseIoOnce();
    return this.released;
  }

  private async releaseIoOnce(): Promise<void> {
    this.wireguard?.stop();
    await this.step('recording sweep', () => this.recordings?.stop());
    this.asteriskStatus?.stop();
    this.localPresence?.stop();
    this.remoteLamps?.stop();
    this.cdrSourceCheck?.stop();
    await this.step('CDR file source', () => this.cdrFile?.stop());
    await this.step('AMI', () => this.ami?.stop());
    // The last CDRs on disk before another agent may open the outbox (a planned restart), or before exit.
    await this.step('CDR outbox writes', () => this.cdrOutbox.settled());
    await this.step('sync (NATS drain)', () => this.sync?.stop());
    // Sync is stopped; a bootstrap file's apply still running would save after the next agent took the state dir
    // (two writers of one journal): it ends first (it never throws: a refusal is logged).
    await this.step('bootstrap file apply', () => this.bootstrapApply);
    // No apply can come now: the worker waiting for the next one goes (in a handover, before the calls drain).
    this.extensionReader.stop?.();
    await this.step('state dir', () => this.store.close());
    await this.step('metrics listener', () => new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve())));
    this.metricsServer = undefined;
  }

  /**
   * Federation sync over NATS (when FEDPBX_NATS_URL is set, directly or from enrollment): returns once the
   * durable sync state is loaded; connecting happens in the background, so calls never wait for NATS.
   */
  private async startSync(): Promise<void> {
    const c = this.config;
    if (c.FEDPBX_NATS_URL === undefined) {
      this.log.info('FEDPBX_NATS_URL not set: running stand-alone (no config updates, events stay in the state dir)');
      return;
    }
    const { SyncClient } = await import('./sync/sync-client.js');
    this.sync = new SyncClient({
      siteId: c.FEDPBX_SITE_ID,
      stateDir: c.FEDPBX_STATE_DIR,
      servers: c.FEDPBX_NATS_URL,
      ...(c.FEDPBX_NATS_CREDS !== undefined ? { credsFile: c.FEDPBX_NATS_CREDS } : {}),
      credsRenewAt: c.FEDPBX_NATS_CREDS_RENEW_AT,
      configWatchHeartbeatMs: c.FEDPBX_CONFIG_WATCH_HEARTBEAT_MS,
      agentVersion: AGENT_VERSION,
      state: this.state,
      applier: this.applier,
      cdrOutbox: this.cdrOutbox,
      cdrOutboxRetentionDays: c.FEDPBX_CDR_OUTBOX_RETENTION_DAYS,
      metrics: this.metrics,
      log: this.log,
      agiSessionsActive: () => this.agi?.activeSessions ?? 0,
      amiConnected: () => this.ami?.connected ?? false,
      alarms: () => this.alarms.list(),
      alarmBoard: this.alarms,
      activeCalls: this.activeCalls,
    });
    await this.sync.start();
  }

  /**
   * AMI (when configured): link/trunk health into the routing state at once, CDRs into the outbox; and the
   * fedpbx-owned Asterisk config files, rewritten after each applied snapshot (only those whose text changed,
   * then one reload per module).
   */
  private async startAsterisk(agiPort: number): Promise<void> {
    const c = this.config;
    if (c.FEDPBX_AMI_HOST !== undefined && c.FEDPBX_AMI_USER !== undefined && c.FEDPBX_AMI_SECRET !== undefined) {
      const ami = new AmiClient({
        host: c.FEDPBX_AMI_HOST,
        port: c.FEDPBX_AMI_PORT,
        username: c.FEDPBX_AMI_USER,
        secret: c.FEDPBX_AMI_SECRET,
        log: this.log.child({ component: 'ami' }),
        // Watched lamps go out at once after a quiet spell (LocalPresence): their events are not held then.
        readHoldMs: () => (this.localPresence?.watched === true ? 0 : c.FEDPBX_AMI_READ_HOLD_MS),
      });
      let amiUp = false;
      ami.onStateChange((s) => {
        const up = s === 'connected';
        this.metrics.connectionUp.set({ peer: 'ami' }, up ? 1 : 0);
        if (up === amiUp) return; // reconnect attempts while AMI is down change nothing the controller sees
        amiUp = up;
        // The heartbeat carries amiConnected: the controller learns of the change now, not up to 10 s later.
        this.sync?.heartbeatNow();
      });
      const deadLegs = new DeadLinkLegs(ami, this.log.child({ component: 'dead-link-legs' }));
      this.asteriskStatus = new AsteriskStatus({
        ami,
        state: this.state,
        metrics: this.metrics,
        log: this.log.child({ component: 'asterisk-status' }),
        onLinkStatus: (event) => {
          this.sync?.status.link(event);
          this.remoteLamps?.setLink(event.peerSiteId, event.state);
        },
        onTrunkStatus: (event) => this.sync?.status.trunk(event),
        onLinkDown: (peer) => void deadLegs.hangUp(peer),
        onTransportCheck: (missing) => this.transportAlarm(missing),
        onCdr: (cdr) => void this.cdrOutbox.add(cdr).catch((err: unknown) => this.log.error({ err, cdrId: cdr.cdrId }, 'CDR not stored')),
      });
      this.asteriskStatus.start();
      this.ami = ami;
      if (this.sync !== undefined) this.startPresence(ami, this.sync.link);
      this.cdrSourceCheck = new CdrSourceCheck({
        ami,
        alarms: this.alarms,
        log: this.log.child({ component: 'cdr-source' }),
        fileConfigured: c.FEDPBX_CDR_FILE !== undefined,
        onChecked: (modules) => {
          for (const [module, loaded] of modules) this.metrics.cdrSourceLoaded.set({ module }, loaded ? 1 : 0);
        },
      });
      this.cdrSourceCheck.start();
      if (c.FEDPBX_CDR_FILE === undefined) {
        this.log.warn('FEDPBX_CDR_FILE not set: CDRs come from live AMI events only, and calls made while the agent or AMI is down leave none (deploy/asterisk/cdr_custom.conf)');
      }
    }
    const status = this.asteriskStatus;
    if (status !== undefined && c.FEDPBX_ASTERISK_CONFIG_DIR === undefined) {
      // With no config writer (whose reload triggers the re-read), a new snapshot's links and trunks are read now.
      this.applier.onApplied(() => void status.resync());
    }
    if (c.FEDPBX_ASTERISK_CONFIG_DIR !== undefined) {
      const writer = new AsteriskConfigWriter({
        configDir: c.FEDPBX_ASTERISK_CONFIG_DIR,
        ...(c.FEDPBX_ASTERISK_INCLUDE_DIR !== undefined ? { includeDir: c.FEDPBX_ASTERISK_INCLUDE_DIR } : {}),
        agiHost: c.FEDPBX_AGI_LISTEN.host === '0.0.0.0' ? '127.0.0.1' : c.FEDPBX_AGI_LISTEN.host,
        agiPort,
        ...(c.FEDPBX_RECORDINGS_DIR !== undefined ? { extensions: { recordingDir: siteRecordingsDir(c.FEDPBX_RECORDINGS_DIR, c.FEDPBX_SITE_ID) } } : {}),
        ...(this.ami !== undefined ? { reloader: this.ami } : {}),
        log: this.log.child({ component: 'asterisk-config' }),
        onReloaded: () => void this.asteriskStatus?.resync(),
        // A head office's files take seconds to render: never on the event loop that answers FastAGI.
        runner: workerRunner(),
        // The controller shows the site's rollout as config-failed (with the object) until a later revision writes.
        onOutcome: (o) => (o.ok ? this.sync?.status.config(o.revision, undefined, o.written) : this.sync?.status.config(o.revision, o.failure)),
        alarms: this.alarms,
      });
      this.configWriter = writer;
      this.applier.addHook(async (snapshot, text) => {
        await writer.apply(snapshot, text);
      });
      this.ami?.onConnected(() => {
        writer.flushReloads().catch((err: unknown) => this.log.error({ err }, 'owed reloads failed'));
      });
      // The snapshot loaded from disk did not pass through the applier's hooks.
      const current = this.startupSnapshot;
      if (current !== undefined) await writer.apply(current.snapshot, current.text).catch((err: unknown) => this.log.error({ err }, 'Asterisk config not written'));
    }
    this.ami?.start();
  }

  /**
   * The durable CDR source (FEDPBX_CDR_FILE): the file Asterisk's cdr_custom appends every CDR to, caught up at
   * start and after each AMI reconnect, then followed; each CDR stored once with the live AMI events.
   */
  private startCdrFile(): void {
    const path = this.config.FEDPBX_CDR_FILE;
    if (path === undefined) return;
    const source = new CdrFileSource({
      path,
      stateDir: this.config.FEDPBX_STATE_DIR,
      outbox: this.cdrOutbox,
      log: this.log.child({ component: 'cdr-file' }),
      alarms: this.alarms,
      onRead: ({ stored, duplicates, rejected, unreadable }) => {
        const m = this.metrics.cdrFileRecords;
        if (stored > 0) m.inc({ result: 'stored' }, stored);
        if (duplicates > 0) m.inc({ result: 'duplicate' }, duplicates);
        if (rejected > 0) m.inc({ result: 'rejected' }, rejected);
        if (unreadable > 0) m.inc({ result: 'unusable' }, unreadable);
      },
    });
    this.cdrFile = source;
    this.ami?.onConnected(() => void source.readNow());
    source.start().catch((err: unknown) => this.log.error({ err }, 'CDR file source not started'));
  }

  /**
   * `pjsip-transport-failed`: Asterisk has no fedpbx-transport (seen over AMI after each reload and connect), with the
   * conflicting bind of the admin's pjsip.conf when the config check found one. Cleared when a read finds none missing.
   */
  private transportAlarm(missing: { readonly endpoint: string; readonly message: string } | undefined): void {
    if (missing === undefined) {
      this.alarms.clear(TRANSPORT_FAILED_ALARM);
      return;
    }
    const conflict = this.configWriter?.transportProblems.conflict;
    const cause =
      conflict !== undefined
        ? `transport '${conflict.name}' of ${conflict.file}:${conflict.line} binds ${conflict.bindText}, which takes the same UDP port and address ("Address already in use" in the Asterisk log). Set the site's sipPort to a port no transport of pjsip.conf uses (default 5070), then restart Asterisk.`
        : 'see the Asterisk log (res_pjsip/config_transport.c: "Transport ... could not be started") for the cause; transports start only when Asterisk starts.';
    this.alarms.raise(TRANSPORT_FAILED_ALARM, 'critical', `Asterisk has no ${FEDERATION_TRANSPORT} (${missing.endpoint}: ${missing.message}): no inter-site call can work. Cause: ${cause}`);
  }

  /**
   * Busy lamps across sites (AMI and NATS both configured): this site's phones' device states out to the sites that
   * watch them, the watched sites' states in as Custom: device states (presence/local-presence.ts, remote-lamps.ts).
   */
  private startPresence(ami: AmiClient, bus: PresenceBus): void {
    const log = this.log.child({ component: 'presence' });
    const siteId = this.config.FEDPBX_SITE_ID;
    const local = new LocalPresence({ siteId, ami, bus, log, alarms: this.alarms });
    const remote = new RemoteLamps({ siteId, ami, bus, log, alarms: this.alarms });
    const configure = (snapshot: SnapshotInForce): void => {
      // The extensions from the compiled table of the snapshot just applied (it is in force when listeners run).
      local.configure(snapshot.config, this.state.site.extensions);
      remote.configure(snapshot.config);
      // A newly watched site is readable at once, not at the next scheduled renewal of the credentials.
      void this.sync?.renewer?.coverPresence((snapshot.config.remotePresence ?? []).map((r) => r.siteId));
    };
    this.applier.onApplied((snapshot) => configure(snapshot));
    const current = this.startupSnapshot;
    if (current !== undefined) configure(current.snapshot);
    local.start();
    remote.start();
    this.localPresence = local;
    this.remoteLamps = remote;
  }

  /**
   * The WireGuard mesh (FEDPBX_WIREGUARD on or dry-run): re-rendered and applied after every applied snapshot,
   * off the applier's path (a slow or failing `wg` never delays the Asterisk config or the apply report). The
   * private key is the one enrollment made (`<state>/wireguard/fedpbx0.key`; made here if enrollment was skipped).
   * Handshake ages feed link health only when the tunnels are real (on): a dry run has none, and its "no
   * handshake" would send every inter-site call to the alternate route. With AMI they join the link's other
   * signals (one combined link.status); without it they are the link's only signal and are reported as is.
   */
  private startWireguard(): void {
    const c = this.config;
    if (c.FEDPBX_WIREGUARD === 'off') return;
    const log = this.log.child({ component: 'wireguard' });
    const dryRun = c.FEDPBX_WIREGUARD === 'dry-run';
    const configDir = c.FEDPBX_WIREGUARD_CONFIG_DIR ?? (dryRun ? siteKeyDir(c.FEDPBX_STATE_DIR) : '/etc/wireguard');
    let manager: WireguardManager;
    try {
      const runner = dryRun ? new DryRunWgRunner({ journal: join(configDir, `${c.FEDPBX_WIREGUARD_INTERFACE}.dry-run.jsonl`) }) : new ExecWgRunner();
      manager = new WireguardManager({ runner, log, interfaceName: c.FEDPBX_WIREGUARD_INTERFACE, configDir, privateKeyPath: siteKeyPath(c.FEDPBX_STATE_DIR) });
    } catch (error) {
      log.error({ err: error }, 'WireGuard mesh disabled (FEDPBX_STATE_DIR / FEDPBX_WIREGUARD_CONFIG_DIR must be plain absolute paths)');
      return;
    }
    const mesh = new WireguardMesh({
      manager,
      log,
      ...(dryRun
        ? {}
        : {
            monitor: {
              onSignal: (peer, signal) => {
                if (this.asteriskStatus !== undefined) this.asteriskStatus.setLinkSignal('wireguard', peer, signal);
                else this.state.setLink(peer, signal ?? 'up');
              },
              onLinkStatus: (event) => {
                if (this.asteriskStatus === undefined) this.sync?.status.link(event);
              },
            },
          }),
    });
    this.applier.onApplied((s) => void mesh.apply(s));
    const current = this.startupSnapshot;
    if (current !== undefined) void mesh.apply(current.snapshot);
    mesh.start();
    this.wireguard = mesh;
    log.info({ mode: c.FEDPBX_WIREGUARD, interface: manager.interfaceName, config: manager.configPath }, 'WireGuard mesh follows the snapshot');
  }

  /**
   * Deletes the site's recordings older than its retention (FEDPBX_RECORDINGS_DIR set): now, hourly, and after a
   * snapshot that changes the retention.
   */
  private startRecordingRetention(): void {
    const dir = this.config.FEDPBX_RECORDINGS_DIR;
    if (dir === undefined) return;
    this.recordings = new RecordingRetentionSweeper({
      recordingsDir: dir,
      siteId: this.config.FEDPBX_SITE_ID,
      retentionDays: () => this.state.snapshot?.config.site.recording.retentionDays,
      log: this.log.child({ component: 'recordings' }),
      registry: this.metrics.registry,
      alarms: this.alarms,
    });
    const recordings = this.recordings;
    this.applier.onApplied(() => void recordings.sweepIfRetentionChanged());
    recordings.start();
  }

  private releaseStartupSnapshot(): void {
    this.starting = false;
    this.startupSnapshot = undefined;
  }

  /** Last-known-good from the state dir (verified: hash and signature); `onlyNewer`: only if newer than in force. */
  private async loadLocalSnapshot(onlyNewer = false): Promise<void> {
    const loaded = await this.store.loadLastKnownGood();
    for (const s of loaded?.skipped ?? []) this.log.warn(s, 'stored snapshot skipped');
    if (loaded === undefined) return;
    if (onlyNewer && this.state.ready && loaded.snapshot.revision <= this.state.revision) return;
    this.startupSnapshot = { snapshot: loaded.snapshot, text: loaded.text };
    this.state.apply(loaded.snapshot);
    if (loaded.pair !== undefined) this.applier.resume(loaded.pair, loaded.text);
    this.metrics.snapshotApplied(loaded.snapshot);
    this.log.info({ revision: loaded.snapshot.revision }, 'serving the last applied snapshot from the state dir');
  }

  /**
   * The bootstrap file (first start, offline install, or a newer file dropped in and a SIGHUP restart): fully
   * verified by the applier. A file that is unreadable or refused is logged (the file's fault); one that verifies but
   * cannot be applied (the store's write throws: the state dir full) raises the critical config-apply-failed too,
   * until a snapshot is applied (from the bucket, or this file at the next restart).
   */
  private async applyBootstrap(): Promise<void> {
    this.bootstrapTried = true;
    const file = this.config.FEDPBX_BOOTSTRAP_SNAPSHOT;
    if (file === undefined) return;
    let raw: unknown;
    try {
      raw = await this.store.readExternal(file);
    } catch (error) {
      this.log.error({ file, reason: error instanceof Error ? error.message : String(error) }, 'bootstrap snapshot refused');
      return;
    }
    const claimed = typeof raw === 'object' && raw !== null && 'revision' in raw ? raw.revision : undefined;
    if (this.state.ready && typeof claimed === 'number' && claimed <= this.state.revision) return;
    try {
      const result = await this.applier.offer(raw, `bootstrap ${file}`);
      if (!result.applied) this.log.warn(result, 'bootstrap snapshot not applied');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log.error({ file, reason }, 'bootstrap snapshot could not be applied');
      const inForce = this.state.ready ? `revision ${this.state.revision} stays in force and calls keep routing` : 'no snapshot in force: calls go to the dialplan fallback';
      this.alarms.raise(CONFIG_APPLY_ALARM, 'critical', `the bootstrap snapshot ${file} could not be applied (${reason}): ${inForce}; cleared when a snapshot is applied (from sync, or this file at the next restart)`);
    }
  }
}

/**
 * How long the main thread has waited, runnable, for a CPU since the process started (Linux schedstat's second field;
 * undefined where /proc does not tell it): on a loaded host a start's uptime is mostly this, not the agent's doing.
 */
function mainThreadWaitedForCpuMs(): number | undefined {
  try {
    return Math.round(Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'latin1').split(' ')[1]) / 1e6);
  } catch {
    return undefined;
  }
}
