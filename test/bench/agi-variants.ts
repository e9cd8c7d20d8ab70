// npm run bench:agi:variants - the agent under several Node/V8 settings, measured side by side by bench:agi's
// interleaved harness (every variant takes its turns in the same rounds, in rotated order), with the floor as the
// yardstick. For choosing the settings deploy/systemd/fedpbx-agent.service runs the agent with: on a 2-core machine
// the run-to-run noise of one bench:agi run is larger than what a GC setting changes, while variants measured in the
// same rounds see the same machine.
//
// BENCH_AGENT_VARIANTS: `name=node args;name=node args` (args space-separated, added after the deployed
// NODE_OPTIONS, so they override them). Default: as deployed, then each candidate setting alone.
// `name@/path/to/checkout=args` runs that checkout's built agent (apps/agent/dist/main.js) instead of this one's:
// two builds side by side, e.g. main against a change (`git worktree add /tmp/base main`, npm ci, npm run build).
// BENCH_BASELINES: comparison servers measured with them (default `floor`; `floor,dingdong`, or empty).
// Every bench:agi knob (BENCH_SECONDS, BENCH_ROUNDS, BENCH_RATE, ...) applies.
// Run: node --conditions=@fedpbx/source --import tsx test/bench/agi-variants.ts
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareAgentBench } from './agent-bench-setup.js';
import { formatTable, optionsFromEnv, ratio, round, runBench, type ServerResult } from './agi-bench.js';
import { agentServer, dingDongServer, floorServer, type ServerFactory } from './bench-servers.js';

export interface AgentVariant {
  readonly name: string;
  readonly nodeArgs: readonly string[];
  /** Another checkout whose built agent this variant runs; undefined: this one's. */
  readonly checkout?: string;
}

const DEFAULT_VARIANTS = 'as-deployed=;young-16mb=--max-semi-space-size=16;single-threaded-gc=--single-threaded-gc;growth-100=--heap-growing-percent=100';

export function parseVariants(spec: string): AgentVariant[] {
  const variants = spec
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const head = (eq < 0 ? part : part.slice(0, eq)).trim();
      const at = head.indexOf('@');
      const name = at < 0 ? head : head.slice(0, at);
      const checkout = at < 0 ? undefined : head.slice(at + 1);
      if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`BENCH_AGENT_VARIANTS: bad variant name ${JSON.stringify(name)} (letters, digits, . _ -)`);
      if (name === 'agent' || name === 'floor' || name === 'dingdong') throw new Error(`BENCH_AGENT_VARIANTS: ${name} is taken by a bench:agi server`);
      if (checkout !== undefined && !isAbsolute(checkout)) throw new Error(`BENCH_AGENT_VARIANTS: ${name}'s checkout must be an absolute path, got ${JSON.stringify(checkout)}`);
      const nodeArgs = eq < 0 ? [] : part.slice(eq + 1).split(' ').filter((a) => a !== '');
      return checkout === undefined ? { name, nodeArgs } : { name, nodeArgs, checkout };
    });
  if (variants.length === 0) throw new Error('BENCH_AGENT_VARIANTS: no variant given');
  const names = new Set<string>();
  for (const v of variants) {
    if (names.has(v.name)) throw new Error(`BENCH_AGENT_VARIANTS: variant ${v.name} given twice`);
    names.add(v.name);
  }
  return variants;
}

function variantServer(base: ReturnType<typeof prepareAgentBench>, variant: AgentVariant): ServerFactory {
  const main = variant.checkout === undefined ? base.main : join(variant.checkout, 'apps', 'agent', 'dist', 'main.js');
  const server = agentServer({ ...base, main, nodeArgs: [...(base.nodeArgs ?? []), ...variant.nodeArgs] });
  return { name: variant.name, unavailable: server.unavailable, create: (ctx) => ({ ...server.create(ctx), name: variant.name }) };
}

export function variantsSummary(results: readonly ServerResult[]): Record<string, unknown> {
  const floor = results.find((r) => r.name === 'floor' && r.skipped === null);
  return Object.fromEntries(
    results
      .filter((r) => r.skipped === null)
      .map((r) => [
        r.name,
        {
          ttfc_p50_ms: round(r.ttfcP50Ms, 3),
          ttfc_p99_ms: round(r.ttfcP99Ms, 3),
          ttfc_p99_vs_floor: ratio(r.ttfcP99Ms, floor?.ttfcP99Ms),
          calls_per_s: round(r.callsPerS, 0),
          cpu_ms_per_call: round(r.cpuMsPerCall, 3),
          rss_mb: round(r.rssMb, 1),
          bad_calls: r.badCalls,
        },
      ]),
  );
}

async function main(): Promise<void> {
  const variants = parseVariants(process.env.BENCH_AGENT_VARIANTS ?? DEFAULT_VARIANTS);
  const baselines = (process.env.BENCH_BASELINES ?? 'floor').split(',').map((s) => s.trim()).filter(Boolean);
  const known: Record<string, ServerFactory> = { floor: floorServer, dingdong: dingDongServer };
  const base = prepareAgentBench(mkdtempSync(join(tmpdir(), 'agi-variants-')));
  const servers = [
    ...variants.map((v) => variantServer(base, v)),
    ...baselines.map((name) => {
      const f = known[name];
      if (!f) throw new Error(`BENCH_BASELINES: unknown server ${name} (known: ${Object.keys(known).join(', ')})`);
      return f;
    }),
  ];
  const opts = { ...optionsFromEnv({ ...process.env, BENCH_SERVERS: 'floor' }), servers, sequenceSource: variants[0]?.name ?? 'agent' };
  const results = await runBench(opts);
  process.stdout.write(`${formatTable(results)}\n`);
  process.stdout.write(`${JSON.stringify(variantsSummary(results))}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`agi-variants failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
