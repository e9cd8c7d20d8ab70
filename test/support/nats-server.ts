import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNatsTrust, issuerOf, mintAgentCreds, mintControllerCreds, renderHubConfig, type NatsTrust, type UserIssuer } from '@fedpbx/nats-auth';
import { spawnOwned } from './owned-process.js';

export const NATS_SERVER_BINARY = process.env.FEDPBX_NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** A free TCP port on loopback (bound and released; fine for tests that start the listener right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  readonly leafPort: number | undefined;
  readonly trust: NatsTrust;
  readonly issuer: UserIssuer;
  readonly storeDir: string;
  readonly configFile: string;
  pid(): number | undefined;
  /** Is the process running (started and not stopped/killed)? */
  running(): boolean;
  /** Credentials files for the controller and for one site's agent, minted from this server's trust. */
  controllerCreds(): Promise<string>;
  agentCreds(siteId: string, presencePeers?: readonly string[] | 'all'): Promise<string>;
  /** SIGKILL (an outage), then `start()` again brings it back on the same port with the same JetStream store. */
  kill(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Server log lines (stderr), for asserting on permission violations. */
  readonly log: string[];
}

export interface StartNatsOptions {
  readonly trust?: NatsTrust;
  readonly leafnodes?: boolean;
  /** Listen here instead of on a free port (a test that had clients waiting on it before the server existed). */
  readonly port?: number;
}

/**
 * A private nats-server (the installed binary) in operator mode on a free port with its own JetStream store:
 * tests may kill and restart it; the shared server on 4222 is never touched.
 */
export async function startNatsServer(options: StartNatsOptions = {}): Promise<TestNatsServer> {
  if (!existsSync(NATS_SERVER_BINARY)) throw new Error(`${NATS_SERVER_BINARY} not found: install the Debian package nats-server`);
  const trust = options.trust ?? (await createNatsTrust());
  const port = options.port ?? (await freePort());
  const leafPort = options.leafnodes === true ? await freePort() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-nats-'));
  const storeDir = join(dir, 'jetstream');
  const configFile = join(dir, 'nats-server.conf');
  writeFileSync(configFile, renderHubConfig(trust, { port, storeDir, resolverDir: join(dir, 'jwt'), serverName: `fedpbx-test-${port}`, ...(leafPort !== undefined ? { leafPort } : {}) }));
  const proc = natsProcess(configFile, port);
  await proc.start();
  const issuer = issuerOf(trust);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    leafPort,
    trust,
    issuer,
    storeDir,
    configFile,
    log: proc.log,
    pid: proc.pid,
    running: proc.running,
    controllerCreds: () => mintControllerCreds(issuer),
    agentCreds: (siteId, presencePeers = []) => mintAgentCreds(issuer, siteId, { presencePeers }),
    kill: proc.kill,
    stop: proc.stop,
    start: proc.start,
  };
}

/** One nats-server process of a config file, listening on `port` once started; restartable. */
export interface NatsProcess {
  readonly log: string[];
  pid(): number | undefined;
  running(): boolean;
  start(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export function natsProcess(configFile: string, port: number): NatsProcess {
  const log: string[] = [];
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const c = spawnOwned(NATS_SERVER_BINARY, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    c.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line !== '') log.push(line);
      if (log.length > 5000) log.splice(0, log.length - 5000);
    });
    c.once('exit', () => {
      if (child === c) child = undefined;
    });
    try {
      await waitForPort(port, 10_000);
    } catch (err) {
      await terminate('SIGKILL'); // a server that never listened is ended here: the caller has no handle to stop
      throw err;
    }
  };
  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (c === undefined) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
    child = undefined;
  };
  return { log, pid: () => child?.pid, running: () => child !== undefined, start, kill: () => terminate('SIGKILL'), stop: () => terminate('SIGTERM') };
}
