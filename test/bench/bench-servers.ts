// The FastAGI servers agi-bench.ts can measure. Each is a small config object: how to spawn it and on which
// port it answers FastAGI. The agent's is built from env (it needs a signed bootstrap snapshot and the
// controller's public key); floor and ding-dong are the comparison baselines in ./servers.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

export interface ServerUnderTest {
  /** Label in the report; 'agent' figures are reported unprefixed. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Added to a minimal environment (PATH, HOME, NODE_ENV=production). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly agiHost: string;
  readonly agiPort: number;
  /** How long to wait for the AGI port to accept connections. */
  readonly readyTimeoutMs?: number;
}

export interface ServerContext {
  readonly repoRoot: string;
  /** A fresh directory for this server (state dir, transpiled scripts...). */
  readonly tmpDir: string;
  readonly agiPort: number;
  readonly metricsPort: number;
}

export interface ServerFactory {
  readonly name: string;
  /** null when it can run, else why not (the bench then skips it and reports null figures). */
  unavailable(repoRoot: string): string | null;
  create(ctx: ServerContext): ServerUnderTest;
}

/** Our own TypeScript baselines run as plain JS (no tsx loader in their RSS), transpiled on the fly. */
export function transpile(repoRoot: string, tmpDir: string, file: string): string {
  const source = readFileSync(join(repoRoot, 'test', 'bench', 'servers', file), 'utf8');
  const out = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: file,
  });
  mkdirSync(tmpDir, { recursive: true });
  const target = join(tmpDir, file.replace(/\.ts$/, '.mjs'));
  writeFileSync(target, out.outputText);
  return target;
}

/**
 * The agent's own command sequence per dialled number, recorded from one probe call per mix template before the
 * comparison servers run: floor and ding-dong then replay exactly the lines the agent sent ("the same command
 * sequence per call, with no routing logic"). Unset when the agent is not part of the run: they fall back to a
 * fixed local-call sequence.
 */
export const recordedSequences: { file: string | undefined } = { file: undefined };

const sequenceEnv = (): Record<string, string> => (recordedSequences.file !== undefined ? { BENCH_SEQUENCES: recordedSequences.file } : {});

export const floorServer: ServerFactory = {
  name: 'floor',
  unavailable: () => null,
  create: (ctx) => ({
    name: 'floor',
    command: process.execPath,
    args: [transpile(ctx.repoRoot, ctx.tmpDir, 'floor-server.ts')],
    env: { BENCH_AGI_LISTEN: `127.0.0.1:${ctx.agiPort}`, ...sequenceEnv() },
    agiHost: '127.0.0.1',
    agiPort: ctx.agiPort,
  }),
};

export const dingDongServer: ServerFactory = {
  name: 'dingdong',
  unavailable: (repoRoot) => (existsSync(join(repoRoot, 'node_modules', 'ding-dong')) ? null : 'ding-dong is not installed'),
  create: (ctx) => ({
    name: 'dingdong',
    command: process.execPath,
    args: [transpile(ctx.repoRoot, ctx.tmpDir, 'dingdong-server.ts')],
    env: {
      BENCH_AGI_LISTEN: `127.0.0.1:${ctx.agiPort}`,
      BENCH_REQUIRE_FROM: join(ctx.repoRoot, 'package.json'),
      ...sequenceEnv(),
    },
    agiHost: '127.0.0.1',
    agiPort: ctx.agiPort,
  }),
};

export interface AgentBenchConfig {
  readonly siteId: string;
  /** The agent entry point, relative to the repo root (or absolute: another checkout's build). */
  readonly main: string;
  /** A signed bootstrap snapshot file (FEDPBX_BOOTSTRAP_SNAPSHOT). */
  readonly snapshotFile: string | undefined;
  /** The controller's public key, PEM text (FEDPBX_CONTROLLER_PUBLIC_KEY). */
  readonly controllerPublicKeyPem: string | undefined;
  /** Anything else the agent needs. */
  readonly extraEnv: Readonly<Record<string, string>>;
  /** Node options before the entry point (BENCH_AGENT_NODE_ARGS, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'). */
  readonly nodeArgs?: readonly string[];
}

/**
 * Env: BENCH_AGENT_MAIN (default apps/agent/dist/main.js), BENCH_AGENT_SITE (default site1),
 * BENCH_AGENT_SNAPSHOT (file), BENCH_AGENT_PUBLIC_KEY_FILE (PEM file) or BENCH_AGENT_PUBLIC_KEY (PEM text),
 * BENCH_AGENT_NODE_ARGS (space-separated Node options for the agent process).
 */
export function agentConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AgentBenchConfig {
  const keyFile = env.BENCH_AGENT_PUBLIC_KEY_FILE;
  return {
    siteId: env.BENCH_AGENT_SITE ?? 'site1',
    main: env.BENCH_AGENT_MAIN ?? 'apps/agent/dist/main.js',
    snapshotFile: env.BENCH_AGENT_SNAPSHOT,
    controllerPublicKeyPem: keyFile ? readFileSync(keyFile, 'utf8') : env.BENCH_AGENT_PUBLIC_KEY,
    extraEnv: {},
    nodeArgs: agentNodeArgs(env),
  };
}

export function agentNodeArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}

export function agentServer(cfg: AgentBenchConfig): ServerFactory {
  return {
    name: 'agent',
    unavailable: (repoRoot) => {
      if (!existsSync(resolve(repoRoot, cfg.main))) return `${cfg.main} not built (npx nx build agent)`;
      if (!cfg.snapshotFile) return 'BENCH_AGENT_SNAPSHOT (signed bootstrap snapshot file) not set';
      if (!cfg.controllerPublicKeyPem) return 'BENCH_AGENT_PUBLIC_KEY_FILE / BENCH_AGENT_PUBLIC_KEY not set';
      return null;
    },
    create: (ctx) => ({
      name: 'agent',
      command: process.execPath,
      args: [...(cfg.nodeArgs ?? []), resolve(ctx.repoRoot, cfg.main)],
      cwd: ctx.repoRoot,
      env: {
        FEDPBX_SITE_ID: cfg.siteId,
        FEDPBX_AGI_LISTEN: `127.0.0.1:${ctx.agiPort}`,
        FEDPBX_STATE_DIR: join(ctx.tmpDir, 'state'),
        FEDPBX_BOOTSTRAP_SNAPSHOT: cfg.snapshotFile ?? '',
        FEDPBX_CONTROLLER_PUBLIC_KEY: cfg.controllerPublicKeyPem ?? '',
        FEDPBX_METRICS_LISTEN: `127.0.0.1:${ctx.metricsPort}`,
        // No FEDPBX_EVENT_LOOP_STALL_MS: the watchdog's default (1.5 s) is judged in the loop's own CPU time since
        // session 11, so a loaded machine (a loop waiting seconds for a CPU) no longer trips it, as the wall-clock
        // watchdog once did mid-run here; the bench runs the agent as deployed.
        ...cfg.extraEnv,
      },
      agiHost: '127.0.0.1',
      agiPort: ctx.agiPort,
      // Booting the 100,000-extension snapshot on one pinned CPU of a loaded machine took over 20 s.
      readyTimeoutMs: 90_000,
    }),
  };
}
