import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { foundingScenarioRequests } from '../../apps/controller/src/testing/scenario.js';
import { seedEmbeddedDataDir } from '../../apps/controller/src/testing/test-database.js';
import { REPO_ROOT } from './agent-process.js';
import { freePort } from './nats-server.js';
import { spawnOwned } from './owned-process.js';

/** The controller as it is installed: the built entry point (CI builds before testing). */
export const CONTROLLER_MAIN = join(REPO_ROOT, 'apps', 'controller', 'dist', 'main.js');
export const TEST_ADMIN = { username: 'admin', password: 'admin-password-123' } as const;

export interface ApiAnswer<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
}

export interface ControllerProcess {
  readonly url: string;
  readonly port: number;
  pid(): number | undefined;
  running(): boolean;
  /** Every line it wrote (stdout and stderr). */
  readonly output: string[];
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token?: string): Promise<ApiAnswer<T>>;
  /** An access token of the bootstrap admin (logs in again after a restart). */
  adminToken(): Promise<string>;
  /** SIGTERM and wait; `start()` brings it back on the same port and database. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

/**
 * A real controller process (`node apps/controller/dist/main.js`) on a port of its own, with the bootstrap admin
 * {@link TEST_ADMIN}; `env` adds DATABASE_URL / FEDPBX_DATA_DIR, NATS settings and so on; `nodeArgs` go to
 * node before the entry point (`--cpu-prof`, which NODE_OPTIONS refuses). A controller not serving within
 * `startTimeoutMs` is killed and the start fails.
 */
export async function startController(env: Record<string, string>, nodeArgs: readonly string[] = [], startTimeoutMs = 60_000): Promise<ControllerProcess> {
  if (!existsSync(CONTROLLER_MAIN)) throw new Error(`${CONTROLLER_MAIN} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  let child: ChildProcess | undefined;
  let token: string | undefined;

  const api: ControllerProcess['api'] = async (method, path, body, bearer) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: parseBody(text) as never };
  };

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    // An embedded database's data dir starts as a copy of the run's initdb'd template (test-database.ts).
    const dataDir = env['FEDPBX_DATA_DIR'];
    if (env['DATABASE_URL'] === undefined && dataDir !== undefined && dataDir !== 'memory://') seedEmbeddedDataDir(dataDir);
    const c = spawnOwned(process.execPath, [...nodeArgs, CONTROLLER_MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        FEDPBX_HTTP_LISTEN: `127.0.0.1:${port}`,
        FEDPBX_BOOTSTRAP_ADMIN_USER: TEST_ADMIN.username,
        FEDPBX_BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN.password,
        FEDPBX_TOKEN_SECRET: 'test-secret-test-secret-test-secret-123',
        FEDPBX_LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    token = undefined;
    const collect = (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line !== '') output.push(line);
      if (output.length > 20_000) output.splice(0, output.length - 20_000);
    };
    c.stdout?.on('data', collect);
    c.stderr?.on('data', collect);
    c.once('exit', () => {
      if (child === c) child = undefined;
    });
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (child === undefined) throw new Error(`controller exited at start:\n${output.slice(-30).join('\n')}`);
      const ok = await api('GET', '/api/v1/health').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) {
        // Nobody holds a handle to a controller that failed to start: it is ended here, not left running.
        await stop('SIGKILL');
        throw new Error(`controller not serving within ${startTimeoutMs} ms:\n${output.slice(-30).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const c = child;
    if (c === undefined) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
    child = undefined;
  };

  await start();
  return {
    url,
    port,
    output,
    pid: () => child?.pid,
    running: () => child !== undefined,
    api,
    async adminToken() {
      if (token !== undefined) return token;
      const r = await api<{ accessToken: string }>('POST', '/api/v1/auth/login', TEST_ADMIN);
      if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
      token = r.body.accessToken;
      return token;
    },
    stop,
    start,
  };
}

/** Builds the founding scenario through the controller's REST API as the bootstrap admin. */
export async function seedFoundingScenario(controller: ControllerProcess): Promise<void> {
  const token = await controller.adminToken();
  for (const [path, items] of foundingScenarioRequests()) {
    for (const body of items) {
      const r = await controller.api('POST', `/api/v1/${path}`, body, token);
      if (r.status !== 201) throw new Error(`POST /api/v1/${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  }
}

function parseBody(text: string): unknown {
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}
